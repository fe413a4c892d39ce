//! What the element-wise kernels of every cell share: the instruction sets they are compiled
//! for (and the one macro that compiles a loop for each), their output buffers, how a step is
//! spread over threads, the ε-rule's stabilised denominator, and the sigmoid and `tanh` in the
//! tensor path's forms.

use std::mem::MaybeUninit;

use super::real::Real;

/// A kernel's output: every element is written, none read, so the buffer need not be
/// initialised first (zero-filling five `(B, H)` outputs per step was one more pass over memory
/// for each).
pub(crate) type Out<'a, E> = &'a mut [MaybeUninit<E>];

/// The instruction sets the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Baseline,
}

impl Isa {
    /// The widest the CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }

    /// Whether the kernels compiled for this instruction set use fused multiply-adds (see
    /// [`BASELINE_FUSED`]); copies that do give the same bits as each other (tests only).
    #[cfg(test)]
    pub fn fused(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 | Isa::Avx2 => true,
            Isa::Baseline => BASELINE_FUSED,
        }
    }
}

/// Whether the baseline copy of the kernels may use fused multiply-adds ([`Real::mad`]): where
/// the build's baseline has the instructions (every aarch64 CPU; x86-64 built for a CPU with
/// FMA). Elsewhere the baseline copy runs on x86-64 CPUs without AVX2, and many of those (all
/// before 2012) have no FMA either, where `mul_add` is emulated in software.
pub(crate) const BASELINE_FUSED: bool = cfg!(any(target_arch = "aarch64", target_feature = "fma"));

/// Defines `fn $name<E: Real>(isa: Isa, args…)`, which runs `$body::<E, FUSED>(args…)` compiled
/// for the instruction set `isa` names: `$body` is an `#[inline(always)]` loop over elements,
/// each copy below vectorises it for its own target, and `FUSED` says whether it may use fused
/// multiply-adds (AVX-512 and AVX2 come with FMA). The one place that enables target features,
/// so the one place whose safety rests on [`Isa::detect`].
macro_rules! per_isa {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$doc])*
        fn $name<E: Real>(isa: Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
            fn avx512<E: Real>($($arg: $ty),*) {
                $body::<E, true>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2<E: Real>($($arg: $ty),*) {
                $body::<E, true>($($arg),*)
            }
            match isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Isa::Avx512` is only constructed after detecting AVX-512F at run time.
                Isa::Avx512 => unsafe { avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Isa::Avx2` is only constructed after detecting AVX2 at run time.
                Isa::Avx2 => unsafe { avx2($($arg),*) },
                Isa::Baseline => $body::<E, { $crate::kernels::elementwise::BASELINE_FUSED }>($($arg),*),
            }
        }
    };
}
pub(crate) use per_isa;

/// The fewest elements per block worth handing to another thread. At the reference shape
/// (`(100, 300)` per step, so two blocks on two cores) the blocks made a unidirectional
/// explanation 3 % (f32) and 15 % (f64) faster, and a bidirectional one neither faster nor
/// slower (2-core AMD EPYC with AVX-512, `benches/README.md` §7); at twice this threshold that
/// shape stayed one block and nothing changed.
const MIN_BLOCK_ELEMENTS: usize = 8 * 1024;

/// How many blocks of at least [`MIN_BLOCK_ELEMENTS`] (and of at least one of `units`) to spread
/// `elements` over: one per rayon thread at most. A unidirectional layer's step is otherwise
/// computed on one core while the others wait for the next product; in a bidirectional layer
/// each direction runs in its own task, and the blocks then mostly run one after another on
/// the task's thread (rayon hands a block over only to an idle thread).
pub(crate) fn thread_blocks(elements: usize, units: usize) -> usize {
    rayon::current_num_threads()
        .min(elements / MIN_BLOCK_ELEMENTS)
        .min(units)
        .max(1)
}

/// `z + eps · s(z)`, `s(z) = −1` for `z < 0` and `+1` otherwise (a NaN stays NaN).
#[inline(always)]
pub(crate) fn denominator<E: Real>(z: E, eps: E) -> E {
    if z < E::ZERO { z - eps } else { z + eps }
}

/// `1 / (exp(x) + 1)`, the logistic sigmoid of `−x`, in the tensor path's order of operations
/// (`x.exp().add_scalar(1.0).recip()`).
#[inline(always)]
pub(crate) fn sigmoid_of_negated<E: Real, const FUSED: bool>(x: E) -> E {
    E::ONE / (x.exp::<FUSED>() + E::ONE)
}

/// `tanh(x) = 2 / (exp(−2x) + 1) − 1`, in the tensor path's order (`lrp_core`'s `tanh`).
#[inline(always)]
pub(crate) fn tanh<E: Real, const FUSED: bool>(x: E) -> E {
    sigmoid_of_negated::<E, FUSED>(x * E::NEG_TWO) * E::TWO - E::ONE
}
