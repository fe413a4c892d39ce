//! The two float types the kernels run, and an `exp` the compiler can vectorise.
//!
//! Written by hand because no maintained crate offers it on stable Rust with run-time CPU
//! dispatch: `std`'s `exp` is a call into the platform's libm per element (the largest single
//! cost of a step in burn's Flex backend, `benches/README.md` §7), SLEEF's Rust port needs
//! nightly `portable_simd`, and `wide`'s vector types pick their instructions at compile time
//! (SSE2 for a default x86-64 build). The function below is branch-free arithmetic on one
//! element, so the loops calling it vectorise in whatever instruction set the caller was
//! compiled for (see `super::lstm`, which compiles them for AVX-512 and AVX2 and picks one at
//! run time).
//!
//! Method (Cody & Waite 1980; Muller, "Elementary Functions", 3rd ed., §11.2): `x = n ln 2 + r`
//! with `n = round(x / ln 2)` (by the add-and-subtract-a-magic-number rounding, which also leaves
//! `n` in the low bits of the sum), `ln 2` split in a high part with trailing zeros (so `n ln2_hi`
//! is exact) and a low part, `|r| ≤ ln 2 / 2`; `e^r` by its Taylor polynomial in Horner form, to
//! degree 13 (f64; the truncation error is below 5e-18 relative) or 7 (f32, below 6e-9), and
//! `2^n` built in the exponent bits. Arguments whose result overflows give `+inf`, those whose
//! result is below 3.3e-308 (f64) resp. 1.7e-38 (f32) give 0 where libm gives a number that
//! small (the kernels only form `1 / (e + 1)`, where both give the same result), NaN gives NaN.
//! Where the CPU has fused multiply-adds, the reduction and the polynomial use them (one rounding
//! each; at the reference shape the LSTM's explanations took 5–10 % (f64) and 2–3 % (f32) less
//! time); the baseline copy of the kernels, which runs only on x86-64 CPUs without AVX2, rounds
//! each product and sum instead. Measured against `std` in the tests below: both at most 1 ulp
//! apart over the range the kernels use.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// `f32` or `f64`, with the constants and the `exp` the kernels need.
pub(crate) trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Neg<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Send
    + Sync
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const TWO: Self;
    const NEG_TWO: Self;
    const NEG_HALF: Self;

    /// `e^x`, vectorisable; see the module documentation for its accuracy. With `FUSED` its
    /// multiply-adds are fused (one rounding each: fewer instructions and a little more
    /// accurate), else each is a product and a sum; both are within 1 ulp of `std`'s, but may
    /// round differently.
    fn exp<const FUSED: bool>(self) -> Self;

    /// `self · a + b`, fused with `FUSED`. Only code compiled for a target with fused
    /// multiply-add instructions passes `true`: elsewhere `mul_add` is a call into libm, which
    /// emulates it in software.
    fn mad<const FUSED: bool>(self, a: Self, b: Self) -> Self;

    /// `value` rounded to this type (as burn rounds a scalar operand).
    fn from_f64(value: f64) -> Self;
}

/// The items of [`Real`] that read the same for `f64` and `f32`: the constants (each literal
/// typed by the impl it lands in) and the multiply-add, which a trait default could not write
/// (`mul_add` is each type's inherent method).
macro_rules! same_in_both_types {
    () => {
        const ZERO: Self = 0.0;
        const ONE: Self = 1.0;
        const TWO: Self = 2.0;
        const NEG_TWO: Self = -2.0;
        const NEG_HALF: Self = -0.5;

        #[inline(always)]
        fn mad<const FUSED: bool>(self, a: Self, b: Self) -> Self {
            if FUSED {
                self.mul_add(a, b)
            } else {
                self * a + b
            }
        }
    };
}

impl Real for f64 {
    same_in_both_types!();

    #[inline(always)]
    fn exp<const FUSED: bool>(self) -> Self {
        // 1.5 · 2^52: adding it rounds to an integer and leaves that integer in the low bits.
        const MAGIC: f64 = 6_755_399_441_055_744.0;
        // fdlibm's split of ln 2 (its `ln2HI`, `ln2LO`, by their bits): LN2_HI has 32 trailing
        // zero bits, so n · LN2_HI is exact.
        const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
        const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
        // e^x overflows above ln(f64::MAX); below LOW it is under 3.3e-308, flushed to 0 (the
        // scaling below needs n ≥ −1021).
        const HIGH: f64 = 709.782_712_893_384;
        const LOW: f64 = -708.0;
        let x = self;
        let xc = x.clamp(LOW, HIGH);
        let t = xc.mad::<FUSED>(std::f64::consts::LOG2_E, MAGIC);
        let n = t - MAGIC;
        let r = (-n).mad::<FUSED>(LN2_LO, (-n).mad::<FUSED>(LN2_HI, xc));
        // Σ_{k ≤ 13} r^k / k! as 1 + (r + r² q(r)), q by Horner: the rounding errors of the
        // small terms stay small against the leading 1.
        let mut q: f64 = 1.0 / 6_227_020_800.0;
        q = q.mad::<FUSED>(r, 1.0 / 479_001_600.0);
        q = q.mad::<FUSED>(r, 1.0 / 39_916_800.0);
        q = q.mad::<FUSED>(r, 1.0 / 3_628_800.0);
        q = q.mad::<FUSED>(r, 1.0 / 362_880.0);
        q = q.mad::<FUSED>(r, 1.0 / 40_320.0);
        q = q.mad::<FUSED>(r, 1.0 / 5_040.0);
        q = q.mad::<FUSED>(r, 1.0 / 720.0);
        q = q.mad::<FUSED>(r, 1.0 / 120.0);
        q = q.mad::<FUSED>(r, 1.0 / 24.0);
        q = q.mad::<FUSED>(r, 1.0 / 6.0);
        q = q.mad::<FUSED>(r, 0.5);
        let p = 1.0 + (r * r).mad::<FUSED>(q, r);
        // 2^(n−1) from the integer in the low bits of `t`, placed in the exponent field, then
        // the exact doubling: n reaches 1024 just below HIGH, where 2^n itself would overflow.
        let n_int = t.to_bits().wrapping_sub(MAGIC.to_bits());
        let half_scale = f64::from_bits(n_int.wrapping_add(1022) << 52);
        let e = (p * half_scale) * 2.0;
        if x > HIGH {
            f64::INFINITY
        } else if x < LOW {
            0.0
        } else {
            // NaN passes the clamp and the comparisons, and the polynomial keeps it NaN.
            e
        }
    }

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value
    }
}

impl Real for f32 {
    same_in_both_types!();

    #[inline(always)]
    fn exp<const FUSED: bool>(self) -> Self {
        // 1.5 · 2^23.
        const MAGIC: f32 = 12_582_912.0;
        // Cephes' split of ln 2 for single precision (0.693359375 and −2.12194440e-4).
        const LN2_HI: f32 = f32::from_bits(0x3f31_8000);
        const LN2_LO: f32 = f32::from_bits(0xb95e_8083);
        const HIGH: f32 = 88.722_83;
        // Results below 1.7e-38 flushed to 0 (n ≥ −125 below).
        const LOW: f32 = -86.9;
        let x = self;
        let xc = x.clamp(LOW, HIGH);
        let t = xc.mad::<FUSED>(std::f32::consts::LOG2_E, MAGIC);
        let n = t - MAGIC;
        let r = (-n).mad::<FUSED>(LN2_LO, (-n).mad::<FUSED>(LN2_HI, xc));
        let mut q: f32 = 1.0 / 5_040.0;
        q = q.mad::<FUSED>(r, 1.0 / 720.0);
        q = q.mad::<FUSED>(r, 1.0 / 120.0);
        q = q.mad::<FUSED>(r, 1.0 / 24.0);
        q = q.mad::<FUSED>(r, 1.0 / 6.0);
        q = q.mad::<FUSED>(r, 0.5);
        let p = 1.0 + (r * r).mad::<FUSED>(q, r);
        let n_int = t.to_bits().wrapping_sub(MAGIC.to_bits());
        let half_scale = f32::from_bits(n_int.wrapping_add(126) << 23);
        let e = (p * half_scale) * 2.0;
        if x > HIGH {
            f32::INFINITY
        } else if x < LOW {
            0.0
        } else {
            e
        }
    }

    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value as f32
    }
}

#[cfg(test)]
mod tests {
    use super::Real;

    /// Distance in units in the last place between two finite floats of one sign.
    fn ulps_f64(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    fn ulps_f32(a: f32, b: f32) -> u32 {
        (a.to_bits() as i32 - b.to_bits() as i32).unsigned_abs()
    }

    /// A dense grid over `[lo, hi]` plus the edges: every binade the kernels see.
    fn grid(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f64> {
        (0..=n).map(move |k| lo + (hi - lo) * k as f64 / n as f64)
    }

    /// `exp` with fused and with separate multiply-adds.
    fn both<E: Real>(x: E) -> [E; 2] {
        [x.exp::<true>(), x.exp::<false>()]
    }

    #[test]
    fn f64_exp_is_within_one_ulp_of_std_over_the_normal_range() {
        let mut worst = 0;
        for x in grid(-708.0, 709.78, 2_000_000).chain(grid(-1.0, 1.0, 200_001)) {
            for ours in both(x) {
                worst = worst.max(ulps_f64(ours, x.exp()));
            }
        }
        assert!(worst <= 1, "worst error {worst} ulp");
    }

    #[test]
    fn f32_exp_is_within_one_ulp_of_std_over_the_normal_range() {
        let mut worst = 0;
        for x in grid(-86.9, 88.72, 2_000_000).chain(grid(-1.0, 1.0, 200_001)) {
            let x = x as f32;
            for ours in both(x) {
                worst = worst.max(ulps_f32(ours, x.exp()));
            }
        }
        assert!(worst <= 1, "worst error {worst} ulp");
    }

    #[test]
    fn exp_edges_match_std() {
        for x in [0.0, -0.0, 1e-300, -1e-300, f64::MIN_POSITIVE] {
            assert_eq!(both(x), [1.0; 2], "exp({x})");
        }
        for x in [709.79, 710.0, 1e300, f64::INFINITY] {
            assert_eq!(both(x), [f64::INFINITY; 2], "exp({x})");
        }
        for x in [-746.0, -1e300, f64::NEG_INFINITY] {
            assert_eq!(both(x), [0.0; 2], "exp({x})");
        }
        // Below the range ours is 0 where libm's result is that small.
        for x in [-708.01, -708.5, -720.0, -745.0] {
            let std = f64::exp(x);
            assert!(both(x) == [0.0; 2] && std < 3.3e-308, "exp({x}) vs {std}");
        }
        // The top of the range, where 2^n alone would overflow, stays finite.
        assert!(both(709.78_f64).iter().all(|e| e.is_finite()));
        assert!(both(88.72_f32).iter().all(|e| e.is_finite()));
        assert!(both(f64::NAN).iter().all(|e| e.is_nan()));
        assert!(both(f32::NAN).iter().all(|e| e.is_nan()));
        assert_eq!(both(89.0_f32), [f32::INFINITY; 2]);
        assert_eq!(both(-104.0_f32), [0.0; 2]);
        assert_eq!(both(0.0_f32), [1.0; 2]);
    }
}
