//! A small deterministic pseudo-random generator (SplitMix64), so that a seed reproduces the
//! task, the initial weights and the batch order on every platform and burn version.

/// SplitMix64 (Steele, Lea & Flood 2014): 64-bit state, passes BigCrush, trivially seedable.
///
/// ```
/// use lrp_demo::rng::Rng;
///
/// // SplitMix64's published first output for seed 0.
/// assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
/// let (mut a, mut b) = (Rng::new(2019), Rng::new(2019));
/// let draws: Vec<usize> = (0..5).map(|_| a.range(1, 6)).collect(); // dice
/// assert_eq!(draws, (0..5).map(|_| b.range(1, 6)).collect::<Vec<_>>());
/// assert!(draws.iter().all(|d| (1..=6).contains(d)));
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from a seed (any value, 0 included).
    ///
    /// ```
    /// use lrp_demo::rng::Rng;
    ///
    /// assert_eq!(Rng::new(7).next_u64(), Rng::new(7).next_u64());
    /// assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    /// ```
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// use lrp_demo::rng::Rng;
    ///
    /// let mut rng = Rng::new(0);
    /// assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    /// assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    ///
    /// ```
    /// use lrp_demo::rng::Rng;
    ///
    /// let mut rng = Rng::new(3);
    /// let mean = (0..10_000).map(|_| rng.next_f64()).sum::<f64>() / 10_000.0;
    /// assert!((mean - 0.5).abs() < 0.02);
    /// ```
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `lo..=hi` (`lo <= hi`).
    ///
    /// ```
    /// use lrp_demo::rng::Rng;
    ///
    /// let mut rng = Rng::new(1);
    /// let mut seen = [false; 4];
    /// for _ in 0..1000 {
    ///     seen[rng.range(2, 5) - 2] = true; // both ends included
    /// }
    /// assert_eq!(seen, [true; 4]);
    /// assert_eq!(rng.range(9, 9), 9);
    /// ```
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        debug_assert!(lo <= hi);
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Uniform in `[-a, a)`.
    ///
    /// ```
    /// use lrp_demo::rng::Rng;
    ///
    /// let mut rng = Rng::new(5);
    /// let w: Vec<f64> = (0..100).map(|_| rng.symmetric(0.5)).collect(); // e.g. initial weights
    /// assert!(w.iter().all(|v| (-0.5..0.5).contains(v)));
    /// assert!(w.iter().any(|v| *v < 0.0) && w.iter().any(|v| *v > 0.0));
    /// ```
    pub fn symmetric(&mut self, a: f64) -> f64 {
        (2.0 * self.next_f64() - 1.0) * a
    }

    /// Fisher–Yates shuffle.
    ///
    /// ```
    /// use lrp_demo::rng::Rng;
    ///
    /// let mut batches: Vec<usize> = (0..10).collect();
    /// Rng::new(42).shuffle(&mut batches);
    /// let mut again: Vec<usize> = (0..10).collect();
    /// Rng::new(42).shuffle(&mut again);
    /// assert_eq!(batches, again); // same seed, same order
    /// batches.sort();
    /// assert_eq!(batches, (0..10).collect::<Vec<_>>()); // a permutation
    /// ```
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.range(0, i);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_ranges_hold() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut r = Rng::new(1);
        let mut seen = [false; 4];
        for _ in 0..1000 {
            let v = r.range(2, 5);
            assert!((2..=5).contains(&v));
            seen[v - 2] = true;
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert!(
            seen.iter().all(|&s| s),
            "every value of a small range occurs"
        );
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
