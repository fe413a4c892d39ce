//! Numeric comparison with the suite's tolerances.

use lrp_core::Precision;

/// Tolerances of the suite, per precision: `|actual - expected| <= tol · max(1, |expected|)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// For logits (forward pass).
    pub logits: f64,
    /// For relevance and rest against a reference result, with a stabiliser `eps > 0`.
    pub relevance: f64,
    /// For relevance and rest with `eps = 0`: no stabiliser bounds the quotients, so rounding
    /// errors of small pre-activations are amplified.
    pub relevance_eps0: f64,
    /// For properties computed within one run (conservation), relative to the size of the
    /// quantities involved.
    pub property: f64,
    /// For logits, relevance and rest against the plain-Rust f64 oracle
    /// ([`crate::oracle`]) on random models, with a stabiliser `eps > 0`.
    pub oracle: f64,
    /// As [`oracle`](Self::oracle), with `eps = 0`.
    pub oracle_eps0: f64,
    /// For one sequence of a batch (padded, packed, bucketed) against the same sequence
    /// explained alone, with `eps > 0`. Backends whose matrix products block by the number of
    /// rows (LibTorch's MKL) round a batch and a single row differently, and the recurrence and
    /// the ε-rule amplify that like any rounding; burn's CPU backends give identical results.
    /// LibTorch CPU measured, worst over the suite: 4.7e-14 (f64), 2.2e-4 (f32, eps = 1e-3, on
    /// the bucketed batch's sequences of up to 30 steps; ≤ 3.5e-5 on the shorter ones).
    pub alone: f64,
    /// As [`alone`](Self::alone), with `eps = 0`: no stabiliser bounds the ε-rule's quotients,
    /// so a batch and a single row that round differently differ as much as any two roundings
    /// ([`relevance_eps0`](Self::relevance_eps0) in f32; LibTorch CPU measured 6.7e-4 there
    /// and 1.1e-11 in f64).
    pub alone_eps0: f64,
}

impl Tolerance {
    /// The tolerances every backend must meet.
    ///
    /// f64: the references ran in f64; we demand 1e-9 of every value and 1e-10 for properties.
    /// f32: rounding of ~6e-8 per operation, amplified by the recurrence and, above all, by the
    /// ε-rule's division by small pre-activations, which `eps = 0` leaves unbounded. The bounds
    /// below hold on every golden case with at least 3× margin on burn's CPU backends, except
    /// [`F64_ONLY`](crate::golden::F64_ONLY).
    pub fn for_precision(precision: Precision) -> Self {
        match precision {
            Precision::F64 => Tolerance {
                logits: 1e-9,
                relevance: 1e-9,
                relevance_eps0: 1e-9,
                property: 1e-10,
                oracle: 1e-10,
                oracle_eps0: 1e-10,
                alone: 1e-12,
                alone_eps0: 1e-10,
            },
            Precision::F32 => Tolerance {
                logits: 5e-6,
                relevance: 1e-4,
                relevance_eps0: 1e-2,
                property: 1e-4,
                oracle: 1e-4,
                oracle_eps0: 1e-2,
                alone: 1e-3,
                alone_eps0: 1e-2,
            },
        }
    }
}

impl Tolerance {
    /// The relevance tolerance against a reference result for a given `eps`.
    pub fn relevance_for(&self, eps: f64) -> f64 {
        if eps == 0.0 {
            self.relevance_eps0
        } else {
            self.relevance
        }
    }

    /// The tolerance against the oracle for a given `eps`.
    pub fn oracle_for(&self, eps: f64) -> f64 {
        if eps == 0.0 {
            self.oracle_eps0
        } else {
            self.oracle
        }
    }

    /// The tolerance of a sequence in a batch against it alone for a given `eps`.
    pub fn alone_for(&self, eps: f64) -> f64 {
        if eps == 0.0 {
            self.alone_eps0
        } else {
            self.alone
        }
    }
}

/// The worst violation of `|a - e| <= tol · max(1, |e|)` over two equally long slices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Worst {
    /// Flat index of the worst element.
    pub index: usize,
    /// `|a - e| / max(1, |e|)` there.
    pub scaled_error: f64,
    /// Actual value there.
    pub actual: f64,
    /// Expected value there.
    pub expected: f64,
}

/// The element with the largest scaled error `|a - e| / max(1, |e|)` (NaN counts as infinite).
pub fn worst(actual: &[f64], expected: &[f64]) -> Worst {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    let mut w = Worst {
        index: 0,
        scaled_error: 0.0,
        actual: f64::NAN,
        expected: f64::NAN,
    };
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let err = (a - e).abs() / e.abs().max(1.0);
        let err = if err.is_nan() { f64::INFINITY } else { err };
        if i == 0 || err > w.scaled_error {
            w = Worst {
                index: i,
                scaled_error: err,
                actual: a,
                expected: e,
            };
        }
    }
    w
}

/// Panics with a precise message when `actual` is not within `tol` of `expected`.
#[track_caller]
pub fn assert_close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    let w = worst(actual, expected);
    assert!(
        w.scaled_error <= tol,
        "{what}: element {} is {} but expected {} (scaled error {:.3e} > tolerance {tol:.1e})",
        w.index,
        w.actual,
        w.expected,
        w.scaled_error
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_finds_the_largest_scaled_error() {
        let w = worst(&[1.0, 10.5, 0.2], &[1.0, 10.0, 0.0]);
        assert_eq!(w.index, 2);
        assert!((w.scaled_error - 0.2).abs() < 1e-15);
        assert_eq!(worst(&[f64::NAN], &[0.0]).scaled_error, f64::INFINITY);
    }

    #[test]
    #[should_panic(expected = "scaled error")]
    fn assert_close_fails_loudly() {
        assert_close("x", &[1.0], &[1.1], 1e-3);
    }
}
