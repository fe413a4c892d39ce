//! Descriptive sparsity (Warnecke et al. 2020): the mass around zero of normalised relevance.

/// `MAZ(r)` at the radii `radii` for one explanation `scores` (e.g. the relevance per token):
/// the fraction of values whose magnitude, divided by the largest magnitude, is at most `r`.
/// All-zero scores are maximally sparse: `MAZ(r) = 1` for every `r`. Empty scores give 1 too.
///
/// ```
/// use lstm_lrp::evaluation::maz_curve;
///
/// // Normalised by the largest magnitude 4: |v| = 1, 0.5, 0, 0.25.
/// let relevance = [4.0, -2.0, 0.0, 1.0];
/// assert_eq!(maz_curve(&relevance, &[0.0, 0.3, 0.5, 1.0]), vec![0.25, 0.5, 0.75, 1.0]);
/// assert_eq!(maz_curve(&[0.0, 0.0], &[0.0]), vec![1.0]);
/// ```
pub fn maz_curve(scores: &[f64], radii: &[f64]) -> Vec<f64> {
    let normalised = normalise(scores);
    radii
        .iter()
        .map(|&r| {
            if normalised.is_empty() {
                return 1.0;
            }
            let inside = normalised.iter().filter(|v| v.abs() <= r).count();
            inside as f64 / normalised.len() as f64
        })
        .collect()
}

/// The area under `MAZ(r)` for `r ∈ [0, 1]`, in `[0, 1]`; exact for the empirical histogram:
/// `∫₀¹ P(|v| ≤ r) dr = mean(1 − |v|)` over the normalised values `v`. 1 for all-zero scores.
///
/// ```
/// use lstm_lrp::evaluation::maz_area;
///
/// // |v| = 1, 0.5, 0, 0.25 → mean(1 − |v|) = (0 + 0.5 + 1 + 0.75) / 4.
/// assert!((maz_area(&[4.0, -2.0, 0.0, 1.0]) - 0.5625).abs() < 1e-15);
/// // One spike among zeros is sparser than a flat explanation.
/// assert_eq!(maz_area(&[1.0, 0.0, 0.0, 0.0]), 0.75);
/// assert_eq!(maz_area(&[1.0, -1.0, 1.0, 1.0]), 0.0);
/// ```
pub fn maz_area(scores: &[f64]) -> f64 {
    let normalised = normalise(scores);
    if normalised.is_empty() {
        return 1.0;
    }
    normalised.iter().map(|v| 1.0 - v.abs()).sum::<f64>() / normalised.len() as f64
}

/// Divides by the largest magnitude; all-zero (or non-finite-free empty) input maps to zeros.
fn normalise(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        return vec![0.0; scores.len()];
    }
    scores.iter().map(|v| v / max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maz_by_hand() {
        // Normalised: [1, -0.5, 0, 0.25] → |v| = 1, .5, 0, .25.
        let s = [4.0, -2.0, 0.0, 1.0];
        assert_eq!(
            maz_curve(&s, &[0.0, 0.3, 0.5, 1.0]),
            vec![0.25, 0.5, 0.75, 1.0]
        );
        assert!((maz_area(&s) - (0.0 + 0.5 + 1.0 + 0.75) / 4.0).abs() < 1e-15);
        assert_eq!(maz_area(&[0.0, 0.0]), 1.0);
        // One spike among zeros is sparser than a flat explanation.
        assert!(maz_area(&[1.0, 0.0, 0.0, 0.0]) > maz_area(&[1.0, 1.0, 1.0, 1.0]));
    }
}
