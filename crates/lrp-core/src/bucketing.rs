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
//! Inside a group sorted this way the real samples of every step are its first ones when the
//! group's spans all start (post-padding) or all end (pre-padding) at the same step, and the
//! recurrences then compute only those rows ([`crate::forward::StepRows`], PyTorch's packed
//! sequences): such a group costs `STEP_OVERHEAD · L + Σ (real steps)`. A batch of one kind of
//! padding is then best explained as one sorted group; a batch mixing both is split.
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

/// Plans the groups for a batch whose samples' real steps span `windows`, for recurrences that
/// compute only the real rows of a sorted group (`packed`) or every row. Returns a single group
/// of every sample (in order) when grouping does not pay.
pub(crate) fn plan(windows: &[Range<usize>], packed: bool) -> Vec<Group> {
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
    let cost =
        |from: usize, to: usize| group_cost(windows, &order[bounds[from]..bounds[to]], packed);
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
    // Only reorder or split when it saves a clear margin over the batch as it is (every row of
    // every step computed, padding masked): a group costs a gather and a scatter.
    let as_is = (STEP_OVERHEAD + batch as f64) * whole.window.len() as f64;
    if best[blocks] > 0.95 * as_is {
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

/// The cost of explaining `members` (in the sort order) as one group: with the rows shrinking
/// when their spans share a start or an end, else every row of every step of their union.
fn group_cost(windows: &[Range<usize>], members: &[usize], packed: bool) -> f64 {
    let Some(&first) = members.first() else {
        return 0.0;
    };
    let start = members.iter().map(|&s| windows[s].start).min().unwrap_or(0);
    let end = members.iter().map(|&s| windows[s].end).max().unwrap_or(0);
    let len = end.saturating_sub(start) as f64;
    let shrinks = packed
        && (members
            .iter()
            .all(|&s| windows[s].start == windows[first].start)
            || members
                .iter()
                .all(|&s| windows[s].end == windows[first].end));
    if shrinks {
        let real: usize = members.iter().map(|&s| windows[s].len()).sum();
        STEP_OVERHEAD * len + real as f64
    } else {
        (STEP_OVERHEAD + members.len() as f64) * len
    }
}

/// Splits `group` into at most `shards` groups of consecutive members (so that a sorted group's
/// shards stay sorted, and their rows shrink as the group's did), of about equal cost: each
/// member costs the steps of its span (`windows`, `None`: every member the group's whole
/// window) plus [`STEP_OVERHEAD`]. Each shard's window is the union of its members' spans.
/// Shards are explained as parallel tasks on the CPU backends (see
/// `LstmModel::with_parallel_samples`).
pub(crate) fn shard(group: &Group, windows: Option<&[Range<usize>]>, shards: usize) -> Vec<Group> {
    let span = |s: usize| windows.map_or(group.window.clone(), |w| w[s].clone());
    let shards = shards.clamp(1, group.samples.len().max(1));
    if shards == 1 {
        return vec![group.clone()];
    }
    let cost = |s: usize| STEP_OVERHEAD + span(s).len() as f64;
    let total: f64 = group.samples.iter().map(|&s| cost(s)).sum();
    let mut pieces: Vec<Vec<usize>> = vec![Vec::new()];
    let mut done = 0.0;
    for (i, &s) in group.samples.iter().enumerate() {
        // A new shard where the running cost passes the next k/shards of the total, while
        // enough members remain to give every later shard one.
        let k = pieces.len();
        let left = group.samples.len() - i;
        let due = done >= total * k as f64 / shards as f64 || left <= shards - k;
        if k < shards && !pieces[k - 1].is_empty() && due {
            pieces.push(Vec::new());
        }
        pieces.last_mut().expect("one piece at least").push(s);
        done += cost(s);
    }
    pieces
        .into_iter()
        .map(|samples| {
            let start = samples.iter().map(|&s| span(s).start).min().unwrap_or(0);
            let end = samples.iter().map(|&s| span(s).end).max().unwrap_or(0);
            Group {
                window: start..end,
                samples,
            }
        })
        .collect()
}

/// How many groups a batch with these real-step spans is explained in (for tests that must
/// know grouping happens).
#[doc(hidden)]
pub fn group_count(windows: &[Range<usize>]) -> usize {
    plan(windows, true).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lengths_stay_one_group() {
        let groups = plan(&vec![0..50; 100], true);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].samples, (0..100).collect::<Vec<_>>());
        assert_eq!(groups[0].window, 0..50);
    }

    fn every_sample_once(groups: &[Group], windows: &[Range<usize>]) {
        let mut seen: Vec<usize> = groups.iter().flat_map(|g| g.samples.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..windows.len()).collect::<Vec<_>>());
        for g in groups {
            for &s in &g.samples {
                assert!(g.window.start <= windows[s].start && windows[s].end <= g.window.end);
            }
        }
    }

    #[test]
    fn post_padded_lengths_are_one_group_longest_first() {
        let windows: Vec<Range<usize>> = (0..100).map(|s| 0..10 + (s * 7) % 41).collect();
        let groups = plan(&windows, true);
        every_sample_once(&groups, &windows);
        // The rows shrink inside one sorted group: splitting would only add per-step overhead.
        assert_eq!(groups.len(), 1, "{groups:?}");
        let ends: Vec<usize> = groups[0].samples.iter().map(|&s| windows[s].end).collect();
        assert!(ends.windows(2).all(|w| w[0] >= w[1]), "{ends:?}");
    }

    #[test]
    fn pre_padded_lengths_are_one_group_earliest_start_first() {
        let windows: Vec<Range<usize>> = (0..100).map(|s| (s * 7) % 41..50).collect();
        let groups = plan(&windows, true);
        every_sample_once(&groups, &windows);
        assert_eq!(groups.len(), 1, "{groups:?}");
        let starts: Vec<usize> = groups[0]
            .samples
            .iter()
            .map(|&s| windows[s].start)
            .collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    }

    #[test]
    fn mixed_padding_is_split_into_groups_that_shrink() {
        // Half post-padded, half pre-padded: no single order makes every step's real rows a
        // prefix, so the kinds are explained apart.
        let windows: Vec<Range<usize>> = (0..100)
            .map(|s| {
                let len = 10 + (s * 7) % 41;
                if s % 2 == 0 { 0..len } else { 50 - len..50 }
            })
            .collect();
        let groups = plan(&windows, true);
        every_sample_once(&groups, &windows);
        assert!(groups.len() >= 2, "{groups:?}");
        // Cuts fall on block boundaries, so one group may straddle the two kinds; nearly every
        // sample is in a group whose rows shrink.
        let shrinking: usize = groups
            .iter()
            .filter(|g| {
                let first = windows[g.samples[0]].clone();
                g.samples.iter().all(|&s| windows[s].start == first.start)
                    || g.samples.iter().all(|&s| windows[s].end == first.end)
            })
            .map(|g| g.samples.len())
            .sum();
        assert!(shrinking >= 80, "{shrinking} of 100: {groups:?}");
    }

    #[test]
    fn shards_are_consecutive_members_of_about_equal_cost() {
        // A post-padded group, longest first (as `plan` orders it).
        let windows: Vec<Range<usize>> = (0..100).map(|s| 0..50 - (s * 40) / 100).collect();
        let group = Group {
            samples: (0..100).collect(),
            window: 0..50,
        };
        for n in [1, 2, 3, 7] {
            let shards = shard(&group, Some(&windows), n);
            assert_eq!(shards.len(), n);
            let members: Vec<usize> = shards.iter().flat_map(|g| g.samples.clone()).collect();
            assert_eq!(members, group.samples, "consecutive, every member once");
            every_sample_once(&shards, &windows);
            let costs: Vec<f64> = shards
                .iter()
                .map(|g| {
                    g.samples
                        .iter()
                        .map(|&s| STEP_OVERHEAD + windows[s].len() as f64)
                        .sum()
                })
                .collect();
            let mean = costs.iter().sum::<f64>() / n as f64;
            assert!(
                costs.iter().all(|c| (c - mean).abs() <= 0.1 * mean),
                "{n} shards: {costs:?}"
            );
            // The shorter members' shards run over fewer steps.
            assert!(
                shards
                    .windows(2)
                    .all(|w| w[0].window.end >= w[1].window.end)
            );
        }
        // Without spans, by count, over the group's window; never an empty shard.
        let group = Group {
            samples: vec![4, 2, 0],
            window: 1..5,
        };
        let shards = shard(&group, None, 5);
        assert_eq!(shards.len(), 3);
        assert!(
            shards
                .iter()
                .all(|g| g.samples.len() == 1 && g.window == (1..5))
        );
    }

    #[test]
    fn small_batches_are_not_split() {
        let one = std::iter::once(0..3).collect::<Vec<_>>();
        assert_eq!(plan(&one, true).len(), 1);
        assert_eq!(plan(&[0..3, 0..50], true).len(), 1);
    }
}
