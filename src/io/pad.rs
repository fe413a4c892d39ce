//! Post-padding: the one place sequences of different lengths become one `(B, T)` array.

use lrp_import::HostArray;

use crate::io::arrays::{InputArrays, InputValues};

/// The token id written at padding steps. The model never reads it: the recorded lengths make
/// those steps padding, whatever the id (Keras' `mask_zero` padding id is 0 too).
pub const PAD_ID: i64 = 0;

/// Post-pads sequences of token ids with [`PAD_ID`] to the longest, recording their lengths.
///
/// ```
/// use lstm_lrp::io::pad_tokens;
///
/// let input = pad_tokens(&[vec![4, 5, 6], vec![7]]);
/// assert_eq!(input.batch_and_steps(), [2, 3]);
/// assert_eq!(input.tokens().unwrap().data, [4, 5, 6, 7, 0, 0]);
/// assert_eq!(input.lengths, Some(vec![3, 1]));
/// ```
pub fn pad_tokens(rows: &[Vec<i64>]) -> InputArrays {
    let steps = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut data = Vec::with_capacity(rows.len() * steps);
    for row in rows {
        data.extend_from_slice(row);
        data.extend(std::iter::repeat_n(PAD_ID, steps - row.len()));
    }
    InputArrays {
        values: InputValues::Tokens(HostArray {
            shape: vec![rows.len(), steps],
            data,
        }),
        lengths: Some(rows.iter().map(Vec::len).collect()),
        mask: None,
    }
}
