//! Faithfulness and sparsity metrics for explanations of sequence classifiers.
//!
//! - [`deletion_curve`]: remove time steps (tokens) one by one in the order an explanation gives
//!   and record the target logit and the accuracy after each removal; its area over the
//!   perturbation curve ([`DeletionCurve::aopc`], Samek et al. 2017, "Evaluating the
//!   visualization of what a deep neural network has learned", IEEE TNNLS) is large when the
//!   steps the explanation ranks first matter most to the model.
//! - Descriptive accuracy `DA_k` and descriptive sparsity `MAZ` after Warnecke, Arp, Wressnegger
//!   and Rieck (2020), "Evaluating Explanation Methods for Deep Learning in Security", IEEE
//!   EuroS&P, §III: `DA_k` is the model's score for the originally predicted class after the `k`
//!   most relevant features (here: time steps) are removed — low values mean the explanation
//!   found what the decision rests on; the sparsity measure normalises the relevance to
//!   `[−1, 1]` by its largest magnitude, takes the mass around zero `MAZ(r) = ∫_{−r}^{r} h(x) dx`
//!   of the histogram `h` of the normalised values for `r ∈ [0, 1]`, and reports the area under
//!   `MAZ` — large when most relevance values are near zero (a sparse explanation).
//!
//! ```
//! use lstm_lrp::evaluation::{DeletionCurve, maz_area};
//!
//! // A logit that falls from 1 to 0 after one removal: AOPC = (0 + 1) / 2.
//! let curve = DeletionCurve {
//!     logit: vec![1.0, 0.0],
//!     score: vec![0.7, 0.5],
//!     accuracy: vec![1.0, 0.0],
//! };
//! assert_eq!(curve.aopc(), 0.5);
//! // Relevance on one of two tokens: half the mass is at zero.
//! assert_eq!(maz_area(&[2.0, 0.0]), 0.5);
//! ```

mod curves;
mod sparsity;

pub use curves::{DeletionCurve, DeletionSettings, Order, deletion_curve};
pub use sparsity::{maz_area, maz_curve};
