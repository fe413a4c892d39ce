//! # lrp-conformance
//!
//! The shared conformance suite: golden cases from both reference implementations, properties
//! that must hold on any model (conservation, batch = single explanations), and typed errors on
//! bad input. Every backend crate runs it against its own device with
//! [`conformance_tests!`]:
//!
//! ```ignore
//! lrp_conformance::conformance_tests!(lrp_ndarray::device(), [F64, F32]);
//! ```
//!
//! Tolerances are stated once, per precision, in [`Tolerance::for_precision`].

pub mod bucketed;
pub mod checks;
pub mod compare;
pub mod golden;
pub mod oracle;
pub mod random;

pub use compare::Tolerance;

/// Generates one `#[test]` per check and precision for a backend.
///
/// `$device` is an expression giving the backend's [`burn::tensor::Device`]; the list names the
/// precisions the backend supports (`F64`, `F32`).
#[macro_export]
macro_rules! conformance_tests {
    ($device:expr, [$($precision:ident),+ $(,)?]) => {
        $(
            #[allow(non_snake_case)]
            mod $precision {
                use super::*;
                const P: $crate::__Precision = $crate::__Precision::$precision;
                fn device() -> $crate::__Device { $device }

                #[test]
                fn bucketed_batch_equals_single_explanations() {
                    $crate::bucketed::bucketed_batch_equals_singles(&device(), P);
                }
                #[test]
                fn gate_rules_match_the_oracle() {
                    $crate::checks::gate_rules_match_the_oracle(&device(), P);
                }
                #[test]
                fn conservation_under_every_gate_rule() {
                    $crate::checks::conservation_under_every_gate_rule(&device(), P);
                }
                #[test]
                fn golden_cases_match_the_references() {
                    $crate::checks::golden_cases(&device(), P);
                }
                #[test]
                fn conservation_on_random_models() {
                    $crate::checks::conservation_on_random_models(&device(), P);
                }
                #[test]
                fn batch_equals_single_explanations() {
                    $crate::checks::batch_equals_singles(&device(), P);
                }
                #[test]
                fn bad_input_gets_typed_errors() {
                    $crate::checks::bad_input_errors(&device(), P);
                }
                #[test]
                fn zero_denominators_at_eps_zero_are_defined() {
                    $crate::checks::zero_denominators_are_defined(&device(), P);
                }
                #[test]
                fn explicit_targets_are_explained() {
                    $crate::checks::explicit_targets(&device(), P);
                }
                #[test]
                fn architectures_match_the_oracle() {
                    $crate::checks::architectures_match_the_oracle(&device(), P);
                }
                #[test]
                fn conservation_on_random_architectures() {
                    $crate::checks::conservation_on_random_architectures(&device(), P);
                }
                #[test]
                fn padded_batch_equals_unpadded() {
                    $crate::checks::padded_batch_equals_unpadded(&device(), P);
                }
                #[test]
                fn every_step_matches_the_oracle() {
                    $crate::checks::every_step_matches_the_oracle(&device(), P);
                }
            }
        )+
    };
}

#[doc(hidden)]
pub use burn::tensor::Device as __Device;
#[doc(hidden)]
pub use lrp_core::Precision as __Precision;
