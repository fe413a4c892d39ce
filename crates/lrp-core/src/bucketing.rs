//! Length bucketing: a padded batch of mixed lengths is explained as a few groups of similar
//! length, each over its own window of time steps.
//!
//! A padded step costs as much as a real one inside a batched recurrence (every row of the
//! step's matrix products is computed, then masked), so one batch of lengths spread over
//! `[T/5, T]` costs a full-length batch. Sorting the samples by the span of their real steps and
//! cutting the order into groups makes each group's recurrence only as long as its longest
//! member, and a group of equal spans needs no masking at all. Smaller groups use the matrix
//! units less well, so the cut is chosen by a cost model: a group of `n` samples over `L` steps
//! costs `(STEP_OVERHEAD + n) · L`, with the per-step overhead (kernel launches, the per-step
//! element-wise work that does not scale with the batch) expressed in samples.
//!
//! Grouping never changes a result beyond rounding: a padded step leaves the state unchanged,
//! so a sample's explanation does not depend on its batch (`padded_batch_equals_unpadded`
//! checks this to 1e-12 in f64).

use core::ops::Range;

/// The per-step cost that does not grow with the batch, in samples. Measured on burn Flex at
/// H = 128…300 (2 cores): a step at batch 10 costs as much as ~8 extra samples at batch 100.
const STEP_OVERHEAD: f64 = 8.0;

/// The sort order is cut only at block boundaries: at most this many blocks, so planning stays
/// `O(BLOCKS²)` for any batch size.
const BLOCKS: usize = 32;

/// A group of samples explained together over `window` (input time steps).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    /// Sample indices of the batch, in the order they are explained.
    pub samples: Vec<usize>,
    /// The union of the members' real-step spans.
    pub window: Range<usize>,
}

/// Plans the groups for a batch whose samples' real steps span `windows`. Returns a single
/// group of every sample (in order) when grouping does not pay.
pub(crate) fn plan(windows: &[Range<usize>]) -> Vec<Group> {
    let batch = windows.len();
    let union = |samples: &[usize]| {
        let start = samples.iter().map(|&s| windows[s].start).min();
        let end = samples.iter().map(|&s| windows[s].end).max();
        start.unwrap_or(0)..end.unwrap_or(0)
    };
    let everyone: Vec<usize> = (0..batch).collect();
    let whole = Group {
        window: union(&everyone),
        samples: everyone,
    };
    if batch < 2 {
        return vec![whole];
    }
    // By start, then by end from the last step down: post-padded spans (all starting at 0)
    // longest first, pre-padded ones (all ending at T) too, and a batch mixing both keeps each
    // kind together. Ties keep batch order.
    let mut order: Vec<usize> = (0..batch).collect();
    order.sort_by_key(|&s| (windows[s].start, core::cmp::Reverse(windows[s].end)));
    let blocks = BLOCKS.min(batch);
    let bounds: Vec<usize> = (0..=blocks).map(|k| k * batch / blocks).collect();
    let cost = |from: usize, to: usize| {
        let members = &order[bounds[from]..bounds[to]];
        (STEP_OVERHEAD + members.len() as f64) * union(members).len() as f64
    };
    // best[j]: the cheapest cut of blocks 0..j; cut[j]: where its last group starts.
    let mut best = vec![f64::INFINITY; blocks + 1];
    let mut cut = vec![0; blocks + 1];
    best[0] = 0.0;
    for j in 1..=blocks {
        for i in 0..j {
            let c = best[i] + cost(i, j);
            if c < best[j] {
                best[j] = c;
                cut[j] = i;
            }
        }
    }
    // Only split when it saves a clear margin over one batch: smaller groups also round
    // differently and cost a gather and a scatter.
    if best[blocks] > 0.95 * cost(0, blocks) {
        return vec![whole];
    }
    let mut groups = Vec::new();
    let mut j = blocks;
    while j > 0 {
        let i = cut[j];
        let samples = order[bounds[i]..bounds[j]].to_vec();
        groups.push(Group {
            window: union(&samples),
            samples,
        });
        j = i;
    }
    groups.reverse();
    groups
}

/// How many groups a batch with these real-step spans is explained in (for tests that must
/// know grouping happens).
#[doc(hidden)]
pub fn group_count(windows: &[Range<usize>]) -> usize {
    plan(windows).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lengths_stay_one_group() {
        let groups = plan(&vec![0..50; 100]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].samples, (0..100).collect::<Vec<_>>());
        assert_eq!(groups[0].window, 0..50);
    }

    #[test]
    fn spread_lengths_are_grouped_and_every_sample_appears_once() {
        let windows: Vec<Range<usize>> = (0..100).map(|s| 0..10 + (s * 7) % 41).collect();
        let groups = plan(&windows);
        assert!(groups.len() > 1, "{groups:?}");
        let mut seen: Vec<usize> = groups.iter().flat_map(|g| g.samples.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        for g in &groups {
            for &s in &g.samples {
                assert!(g.window.start <= windows[s].start && windows[s].end <= g.window.end);
            }
        }
        // The longest group is the full window, shorter groups are shorter.
        assert_eq!(groups[0].window, 0..50);
        assert!(groups.last().unwrap().window.len() < 50);
    }

    #[test]
    fn pre_padded_windows_end_at_the_last_step() {
        let windows: Vec<Range<usize>> = (0..100).map(|s| (s * 7) % 41..50).collect();
        let groups = plan(&windows);
        assert!(groups.len() > 1);
        assert!(groups.iter().all(|g| g.window.end == 50));
    }

    #[test]
    fn small_batches_are_not_split() {
        let one = std::iter::once(0..3).collect::<Vec<_>>();
        assert_eq!(plan(&one).len(), 1);
        assert_eq!(plan(&[0..3, 0..50]).len(), 1);
    }
}
