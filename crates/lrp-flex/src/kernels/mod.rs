//! Fused LSTM and GRU step kernels for burn's Flex backend
//! ([`lrp_core::kernels::StepKernels`]).
//!
//! Flex runs each tensor operation as its own pass with its own output buffer and calls libm's
//! scalar `exp` per element; an LSTM step's element-wise work — four gates, the cell update,
//! `tanh`, and on the way back the ε-rule's two quotients — is ~20 passes over `(B, H)` values,
//! a GRU step's (`reset_after`: two gates, the reset product, the candidate, the update; three
//! quotients back) as many. Here each is one pass, vectorised (see [`lstm`], [`gru`]), reading
//! the tensors' buffers in place through burn's extension API (`Tensor::into_dispatch`) and
//! writing new Flex tensors. Anything else — another
//! backend's tensor, an autodiff tensor, a dtype other than f32/f64 — is handed back to the
//! tensor path.
//!
//! Large enough steps run in blocks of rows on rayon's threads, and the products choose their
//! own threading ([`threading`]): in a unidirectional layer nothing else runs beside a step, so
//! a step on one thread leaves the other cores waiting.

mod elementwise;
mod gru;
mod lstm;
mod real;

use std::ops::Range;
use std::sync::OnceLock;

use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind};
use burn::tensor::{Bytes, DType, Device, Shape, Tensor};
use lrp_core::kernels::{
    GruKept, GruRelevanceInputs, GruRelevanceOutputs, GruStepInputs, GruStepOutputs,
    LstmRelevanceInputs, LstmStepInputs, LstmStepOutputs, StepKernels, Unfused,
};

use rayon::prelude::*;

use elementwise::{Isa, Out};
use lstm::{RelevanceInputs, StepInputs, StepOutputs};
use real::Real;

/// How often each kernel ran on this thread (tests only): `[lstm_step, lstm_relevance_step,
/// gru_step, gru_relevance_step]`. The core calls a unidirectional layer's steps on the thread
/// that explains, so a test can tell which steps took the fused path.
#[cfg(test)]
mod calls {
    use std::cell::Cell;

    thread_local! {
        pub(super) static RAN: Cell<[usize; 4]> = const { Cell::new([0; 4]) };
    }

    pub(super) fn count(kernel: usize) {
        RAN.with(|ran| {
            let mut counts = ran.get();
            counts[kernel] += 1;
            ran.set(counts);
        });
    }
}

/// Counts a kernel's run in tests; nothing otherwise.
#[inline(always)]
fn ran(_kernel: usize) {
    #[cfg(test)]
    calls::count(_kernel);
}

/// The kernels, for [`lrp_core::kernels::register_step_kernels`].
pub(crate) static FLEX_KERNELS: FlexKernels = FlexKernels;

/// Flex's implementation of [`StepKernels`].
#[derive(Debug)]
pub(crate) struct FlexKernels;

fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(Isa::detect)
}

impl StepKernels for FlexKernels {
    fn name(&self) -> &'static str {
        "flex-fused"
    }

    fn parallel_samples(&self) -> bool {
        true
    }

    fn supports(&self, device: &Device, dtype: DType) -> bool {
        matches!(dtype, DType::F64 | DType::F32) && *device == Device::flex()
    }

    fn lstm_step(
        &self,
        step: LstmStepInputs,
        keep: bool,
    ) -> Result<LstmStepOutputs, Unfused<LstmStepInputs>> {
        let [rows, width] = step.pre_x.dims();
        let hidden = width / 4;
        let shape = [rows, hidden];
        let fits = width == 4 * hidden
            && step.c_prev.dims() == shape
            && step
                .pre_h
                .as_ref()
                .is_none_or(|p| p.dims() == [rows, width])
            && step.bias.dims() == [1, width];
        if !fits {
            return Err(Box::new(step));
        }
        let LstmStepInputs {
            pre_h,
            pre_x,
            bias,
            c_prev,
        } = step;
        // One conversion for both cases: without a recurrent half, `pre_x` stands in for it
        // (another handle on the same buffer) and is dropped after the check.
        let recurrent = pre_h.is_some();
        let third = pre_h.unwrap_or_else(|| pre_x.clone());
        let ([pre_x, c_prev, third, bias], dtype) = flex_floats([pre_x, c_prev, third, bias])
            .map_err(|inputs| {
                let [pre_x, c_prev, third, bias] = *inputs;
                Box::new(LstmStepInputs {
                    pre_h: recurrent.then_some(third),
                    pre_x,
                    bias,
                    c_prev,
                })
            })?;
        let pre_h = recurrent.then_some(third);
        ran(0);
        let inputs = (&pre_x, pre_h.as_ref(), &bias, &c_prev);
        let outputs = match dtype {
            DType::F64 => step_typed::<f64>(inputs, hidden, keep),
            _ => step_typed::<f32>(inputs, hidden, keep),
        };
        let mut outputs = outputs.into_iter().map(|b| wrap(tensor(b, shape, dtype)));
        let mut next = || outputs.next().expect("one buffer per output");
        let (h, c) = (next(), next());
        let kept = keep.then(|| (next(), next(), next()));
        Ok(LstmStepOutputs { h, c, kept })
    }

    fn lstm_relevance_step(
        &self,
        step: LstmRelevanceInputs,
        eps: f64,
    ) -> Result<(Tensor<2>, Tensor<2>), Unfused<LstmRelevanceInputs>> {
        let shape = step.r_h.dims();
        let LstmRelevanceInputs {
            r_h,
            r_c,
            fc,
            ig,
            c,
            g_pre,
        } = step;
        let all = [r_h, r_c, fc, ig, c, g_pre];
        let give_back = |inputs: Box<[Tensor<2>; 6]>| {
            let [r_h, r_c, fc, ig, c, g_pre] = *inputs;
            Box::new(LstmRelevanceInputs {
                r_h,
                r_c,
                fc,
                ig,
                c,
                g_pre,
            })
        };
        if all.iter().any(|t| t.dims() != shape) {
            return Err(give_back(Box::new(all)));
        }
        let (t, dtype) = flex_floats(all).map_err(give_back)?;
        ran(1);
        let outputs = match dtype {
            DType::F64 => relevance_typed::<f64>(&t, eps),
            _ => relevance_typed::<f32>(&t, eps),
        };
        let mut outputs = outputs.into_iter().map(|b| wrap(tensor(b, shape, dtype)));
        let mut next = || outputs.next().expect("one buffer per output");
        Ok((next(), next()))
    }

    fn gru_step(
        &self,
        step: GruStepInputs,
        keep: bool,
    ) -> Result<GruStepOutputs, Unfused<GruStepInputs>> {
        let [rows, width] = step.gx.dims();
        let hidden = width / 3;
        let shape = [rows, hidden];
        let fits = width == 3 * hidden
            && step.gh.dims() == [rows, width]
            && step.h_prev.dims() == shape
            && step.b_x.dims() == [1, width]
            && step.b_h.dims() == [1, width];
        if !fits {
            return Err(Box::new(step));
        }
        let GruStepInputs {
            gx,
            gh,
            b_x,
            b_h,
            h_prev,
        } = step;
        let ([gx, gh, b_x, b_h, h_prev], dtype) =
            flex_floats([gx, gh, b_x, b_h, h_prev]).map_err(|inputs| {
                let [gx, gh, b_x, b_h, h_prev] = *inputs;
                Box::new(GruStepInputs {
                    gx,
                    gh,
                    b_x,
                    b_h,
                    h_prev,
                })
            })?;
        ran(2);
        let inputs = (&gx, &gh, (&b_x, &b_h), &h_prev);
        let outputs = match dtype {
            DType::F64 => gru_step_typed::<f64>(inputs, hidden, keep),
            _ => gru_step_typed::<f32>(inputs, hidden, keep),
        };
        let mut outputs = outputs.into_iter().map(|b| wrap(tensor(b, shape, dtype)));
        let mut next = || outputs.next().expect("one buffer per output");
        let h = next();
        let kept = keep.then(|| GruKept {
            keep: next(),
            update: next(),
            a_n: next(),
            reset_product: next(),
            m: next(),
        });
        Ok(GruStepOutputs { h, kept })
    }

    fn gru_relevance_step(
        &self,
        step: GruRelevanceInputs,
        eps: f64,
    ) -> Result<GruRelevanceOutputs, Unfused<GruRelevanceInputs>> {
        let shape = step.r_h.dims();
        let GruRelevanceInputs {
            r_h,
            h,
            keep,
            update,
            a_n,
            reset_product,
            m,
        } = step;
        let all = [r_h, h, keep, update, a_n, reset_product, m];
        let give_back = |inputs: Box<[Tensor<2>; 7]>| {
            let [r_h, h, keep, update, a_n, reset_product, m] = *inputs;
            Box::new(GruRelevanceInputs {
                r_h,
                h,
                keep,
                update,
                a_n,
                reset_product,
                m,
            })
        };
        if all.iter().any(|t| t.dims() != shape) {
            return Err(give_back(Box::new(all)));
        }
        let (t, dtype) = flex_floats(all).map_err(give_back)?;
        ran(3);
        let outputs = match dtype {
            DType::F64 => gru_relevance_typed::<f64>(&t, eps),
            _ => gru_relevance_typed::<f32>(&t, eps),
        };
        let mut outputs = outputs.into_iter().map(|b| wrap(tensor(b, shape, dtype)));
        let mut next = || outputs.next().expect("one buffer per output");
        Ok(GruRelevanceOutputs {
            r_keep: next(),
            q_n: next(),
            q_m: next(),
        })
    }

    fn matmul_add(
        &self,
        a: Tensor<2>,
        b: Tensor<2>,
        c: Tensor<2>,
    ) -> Result<Tensor<2>, Unfused<[Tensor<2>; 3]>> {
        let ([m, k], [k_b, n], [c_rows, c_cols]) = (a.dims(), b.dims(), c.dims());
        if k != k_b || c_cols != n || (c_rows != m && c_rows != 1) {
            return Err(Box::new([a, b, c]));
        }
        let ([a, b, c], dtype) = flex_floats([a, b, c])?;
        Ok(product(&a, &b, Some(&c), dtype))
    }

    fn matmul(&self, a: Tensor<2>, b: Tensor<2>) -> Result<Tensor<2>, Unfused<[Tensor<2>; 2]>> {
        if a.dims()[1] != b.dims()[0] {
            return Err(Box::new([a, b]));
        }
        let ([a, b], dtype) = flex_floats([a, b])?;
        Ok(product(&a, &b, None, dtype))
    }
}

/// `a · b (+ c)` as a new Flex tensor, for contiguous Flex tensors of `dtype` (f64 or f32) whose
/// shapes fit (see [`StepKernels::matmul_add`]).
fn product(a: &FlexTensor, b: &FlexTensor, c: Option<&FlexTensor>, dtype: DType) -> Tensor<2> {
    let (m, n) = (a.layout().shape()[0], b.layout().shape()[1]);
    let out = match dtype {
        DType::F64 => gemm_into::<f64>(a, b, c, m),
        _ => gemm_into::<f32>(a, b, c, m),
    };
    wrap(tensor(out, [m, n], dtype))
}

/// `a · b`, plus `c` (its one row repeated when it has one) when given, by the `gemm` crate —
/// the kernels Flex's own `matmul` calls — into a new buffer. Flex's `matmul` allocates its
/// output zero-filled and then copies it to realign it (`FlexTensor::empty`), and an addition
/// after it is another pass; together they were ~15 % of an explanation's time. Here the
/// product accumulates onto `c` (`read_dst`, `alpha = beta = 1`) or is written into an
/// uninitialised buffer.
fn gemm_into<E: Elements>(
    a: &FlexTensor,
    b: &FlexTensor,
    c: Option<&FlexTensor>,
    m: usize,
) -> Bytes {
    let (k, n) = (a.layout().shape()[1], b.layout().shape()[1]);
    let len = m * n;
    let mut out: Vec<E> = match c.map(elements::<E>) {
        Some(c) if c.len() == len => c.to_vec(),
        Some(row) => {
            let mut rows = Vec::with_capacity(len);
            for _ in 0..m {
                rows.extend_from_slice(row);
            }
            rows
        }
        None if k == 0 => vec![E::ZERO; len],
        None => Vec::with_capacity(len),
    };
    let read_dst = c.is_some();
    let (a_elements, b_elements) = (elements::<E>(a), elements::<E>(b));
    if len > 0 && k > 0 {
        let dst = SharedOut(out.as_mut_ptr());
        let product = |columns: Range<usize>, parallelism| {
            // SAFETY: `dst` has room for the m·n elements written with row stride n (with
            // `read_dst` they are initialised, without it `gemm` only writes them);
            // `a_elements` holds the m·k elements of `a` and `b_elements` the k·n of `b`,
            // row-major and contiguous (`dense`), as the strides given say; `columns` lies
            // within 0..n, so the offsets stay inside `b` and `dst`; the buffers do not overlap
            // (`out` is new), and concurrent calls write disjoint column blocks. `E` is f32 or
            // f64, which `gemm` supports.
            unsafe {
                gemm::gemm(
                    m,
                    columns.len(),
                    k,
                    dst.at(columns.start),
                    1,
                    n as isize,
                    read_dst,
                    a_elements.as_ptr(),
                    1,
                    k as isize,
                    b_elements.as_ptr().add(columns.start),
                    1,
                    n as isize,
                    E::ONE,
                    E::ONE,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        };
        match threading(m, k, n) {
            Threading::One => product(0..n, gemm::Parallelism::None),
            Threading::Gemm => product(0..n, gemm::Parallelism::Rayon(0)),
            Threading::ColumnBlocks(blocks) => {
                (0..blocks).into_par_iter().for_each(|block| {
                    product(column_block(n, blocks, block), gemm::Parallelism::None)
                });
            }
        }
        if !read_dst {
            // SAFETY: with k > 0 and `read_dst` false, `gemm` wrote every one of the m·n
            // elements (dst = beta · a · b), the column blocks together covering 0..n.
            unsafe { out.set_len(len) };
        }
    }
    Bytes::from_elems(out)
}

/// The smallest product (`m · n · k` multiply-adds) spread over threads. Flex's own `matmul`
/// waits for 192³ ≈ 7.1 M; at batch 10 the step products are below that — `(10, 300) × (300,
/// 300)` is 0.9 M and ran at 36 (f64) / 73 (f32) GFLOP/s on one thread against 68 / 130 in two
/// column blocks, `(10, 300) × (300, 1200)` at 56 / 111 against 106 / 211 split by `gemm` — and
/// with this threshold a unidirectional explanation at batch 10 took 10–15 % (f64) and 4–6 %
/// (f32) less time, a bidirectional one the same (2-core AMD EPYC with AVX-512).
const PARALLEL_THRESHOLD: usize = 1 << 19;

/// How a product is spread over rayon's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threading {
    /// On the calling thread (below [`PARALLEL_THRESHOLD`]).
    One,
    /// By `gemm` itself (`Parallelism::Rayon`).
    Gemm,
    /// As this many single-threaded products of column blocks, in parallel.
    ColumnBlocks(usize),
}

/// The narrowest column block worth a thread of its own.
const MIN_BLOCK_COLUMNS: usize = 128;

/// From this many output columns on, `gemm`'s own split is kept.
const WIDE_COLUMNS: usize = 1024;

/// The threading of an `(m, k) × (k, n)` product. `gemm`'s own multi-threaded split of a
/// product alone on the pool is poor for some output widths with its AVX-512 kernels: at the
/// recurrent relevance's `(100, 300) × (300, 300)` it ran at 67 (f64) and 120–138 (f32)
/// GFLOP/s on two cores, where two single-threaded products of half the columns each run at
/// 105 and 188–197, and at `(10, 300) × (300, 300)` at 17–20 against 68 (f64) (measured on a
/// 2-core AMD EPYC with AVX-512 against `gemm` 0.19 directly, `benches/README.md` §7). Column
/// blocks of at least [`MIN_BLOCK_COLUMNS`] were as fast or faster (0.95–2.5×) for every
/// width below [`WIDE_COLUMNS`] measured (m 10–256, k 128–600), and as fast (0.92–1.19×) with
/// the AVX2 kernels; from 1024 columns on `gemm`'s split was better at small m, so it stays.
/// When the product runs beside others (both directions of a layer at once) the two ways
/// measured alike.
fn threading(m: usize, k: usize, n: usize) -> Threading {
    if m.saturating_mul(n).saturating_mul(k) < PARALLEL_THRESHOLD {
        return Threading::One;
    }
    let blocks = rayon::current_num_threads().min(n / MIN_BLOCK_COLUMNS);
    if n >= WIDE_COLUMNS || blocks < 2 {
        Threading::Gemm
    } else {
        Threading::ColumnBlocks(blocks)
    }
}

/// The columns of block `block` of `blocks` over `n` columns (see [`block_boundary`]).
fn column_block(n: usize, blocks: usize, block: usize) -> Range<usize> {
    block_boundary(n, blocks, block)..block_boundary(n, blocks, block + 1)
}

/// Where block `b` of `blocks` near-equal blocks of `n` elements starts (`b = blocks`: `n`), the
/// inner boundaries on multiples of 16 elements (whole cache lines of f32, pairs of f64's).
/// Shared by the products' column blocks and the relevance kernel's blocks.
fn block_boundary(n: usize, blocks: usize, b: usize) -> usize {
    match b {
        0 => 0,
        b if b >= blocks => n,
        b => (n * b / blocks).next_multiple_of(16).min(n),
    }
}

/// The output buffer of a product, written by several threads at once in disjoint column
/// blocks ([`Threading::ColumnBlocks`]).
#[derive(Clone, Copy)]
struct SharedOut<E>(*mut E);

impl<E> SharedOut<E> {
    /// The pointer `offset` elements on. A method, so that closures capture the wrapper (which
    /// is `Sync`) rather than its pointer field.
    ///
    /// # Safety
    /// `offset` lies within the buffer.
    unsafe fn at(self, offset: usize) -> *mut E {
        // SAFETY: the caller keeps `offset` within the buffer.
        unsafe { self.0.add(offset) }
    }
}

// SAFETY: the pointer is only written through in disjoint column blocks, one thread each, while
// the buffer it points into outlives the parallel loop (see `gemm_into`).
unsafe impl<E: Send> Send for SharedOut<E> {}
unsafe impl<E: Send> Sync for SharedOut<E> {}

/// The element type's slice of a contiguous Flex tensor.
trait Elements: Real + burn::tensor::Element + bytemuck::Pod {}
impl Elements for f64 {}
impl Elements for f32 {}

/// One step from `(pre_x, pre_h, bias, c_prev)`: the buffers of `h`, `c` and, with `keep`, the
/// kept `(fc, ig, z_g)`.
fn step_typed<E: Elements>(
    (pre_x, pre_h, bias, c_prev): (&FlexTensor, Option<&FlexTensor>, &FlexTensor, &FlexTensor),
    hidden: usize,
    keep: bool,
) -> Vec<Bytes> {
    let inputs = StepInputs::<E> {
        pre_x: elements(pre_x),
        pre_h: pre_h.map(elements),
        bias: elements(bias),
        c_prev: elements(c_prev),
        hidden,
    };
    let n = c_prev.layout().num_elements();
    kernel_outputs(if keep { 5 } else { 2 }, n, |outs| {
        let mut outs = outs.into_iter();
        let mut next = || outs.next().expect("counted above");
        let (h, c) = (next(), next());
        let kept = keep.then(|| (next(), next(), next()));
        lstm::step(isa(), &inputs, &mut StepOutputs { h, c, kept });
    })
}

/// One GRU step from `(gx, gh, (b_x, b_h), h_prev)`: the buffers of `h` and, with `keep`, of the
/// kept `(keep, update, a_n, reset_product, m)`.
fn gru_step_typed<E: Elements>(
    (gx, gh, (b_x, b_h), h_prev): (
        &FlexTensor,
        &FlexTensor,
        (&FlexTensor, &FlexTensor),
        &FlexTensor,
    ),
    hidden: usize,
    keep: bool,
) -> Vec<Bytes> {
    let inputs = gru::StepInputs::<E> {
        gx: elements(gx),
        gh: elements(gh),
        b_x: elements(b_x),
        b_h: elements(b_h),
        h_prev: elements(h_prev),
        hidden,
    };
    let n = h_prev.layout().num_elements();
    kernel_outputs(if keep { 6 } else { 1 }, n, |outs| {
        let mut outs = outs.into_iter();
        let mut next = || outs.next().expect("counted above");
        let h = next();
        let kept = keep.then(|| [next(), next(), next(), next(), next()]);
        gru::step(isa(), &inputs, gru::StepOutputs { h, kept });
    })
}

/// One GRU relevance step: the buffers of `(r_keep, q_n, q_m)`.
fn gru_relevance_typed<E: Elements>(t: &[FlexTensor; 7], eps: f64) -> Vec<Bytes> {
    let [r_h, h, keep, update, a_n, reset_product, m] = t;
    let inputs = gru::RelevanceInputs {
        r_h: elements(r_h),
        h: elements(h),
        keep: elements(keep),
        update: elements(update),
        a_n: elements(a_n),
        reset_product: elements(reset_product),
        m: elements(m),
        eps: E::from_f64(eps),
    };
    kernel_outputs(3, r_h.layout().num_elements(), |outs| {
        let mut outs = outs.into_iter();
        let mut next = || outs.next().expect("counted above");
        gru::relevance(isa(), &inputs, [next(), next(), next()]);
    })
}

fn relevance_typed<E: Elements>(t: &[FlexTensor; 6], eps: f64) -> Vec<Bytes> {
    let [r_h, r_c, fc, ig, c, g_pre] = t;
    let inputs = RelevanceInputs {
        r_h: elements(r_h),
        r_c: elements(r_c),
        fc: elements(fc),
        ig: elements(ig),
        c: elements(c),
        g_pre: elements(g_pre),
        eps: E::from_f64(eps),
    };
    kernel_outputs(2, r_h.layout().num_elements(), |outs| {
        let mut outs = outs.into_iter();
        let mut next = || outs.next().expect("counted above");
        lstm::relevance(isa(), &inputs, next(), next());
    })
}

/// `count` new buffers of `n` elements each, handed to `kernel` uninitialised as its outputs
/// (in order), then as bytes: the one place where the kernels' outputs are allocated and
/// declared written ([`written`]).
fn kernel_outputs<E: Elements>(
    count: usize,
    n: usize,
    kernel: impl FnOnce(Vec<Out<'_, E>>),
) -> Vec<Bytes> {
    let mut bufs: Vec<Vec<E>> = (0..count).map(|_| Vec::with_capacity(n)).collect();
    kernel(
        bufs.iter_mut()
            .map(|b| &mut b.spare_capacity_mut()[..n])
            .collect(),
    );
    bufs.into_iter().map(|b| written(b, n)).collect()
}

/// The buffer whose first `n` elements a kernel has just written (into its spare capacity), as
/// bytes.
fn written<E: Elements>(mut buf: Vec<E>, n: usize) -> Bytes {
    assert!(
        buf.is_empty() && buf.capacity() >= n,
        "an unused output buffer"
    );
    // SAFETY: the kernels (`step` and `relevance` of `lstm` and `gru`) write every element of
    // the outputs they are given — they check the slices' lengths against the inputs' and cover
    // every row — and here they were given the first `n` elements of this buffer's spare
    // capacity.
    unsafe { buf.set_len(n) };
    Bytes::from_elems(buf)
}

/// A Flex float tensor without autodiff, or the tensor back.
fn flex(t: Tensor<2>) -> Result<FlexTensor, Unfused<Tensor<2>>> {
    match t.into_dispatch() {
        DispatchTensor {
            kind: DispatchTensorKind::Flex(BackendTensor::Float(t)),
            autodiff: DispatchAutodiffContext::Disabled,
        } => Ok(t),
        other => Err(Box::new(Tensor::from_dispatch(other))),
    }
}

/// `tensors` as contiguous ([`dense`]) Flex tensors and their dtype, when every one is a Flex
/// float tensor without autodiff and all share one dtype, f64 or f32; else the tensors back,
/// unchanged. `N ≥ 1`.
fn flex_floats<const N: usize>(
    tensors: [Tensor<2>; N],
) -> Result<([FlexTensor; N], DType), Unfused<[Tensor<2>; N]>> {
    let all = tensors.map(flex);
    let dtype = all[0].as_ref().ok().map(FlexTensor::dtype);
    let runs = matches!(dtype, Some(DType::F64 | DType::F32))
        && all
            .iter()
            .all(|t| t.as_ref().is_ok_and(|t| Some(t.dtype()) == dtype));
    match dtype {
        Some(dtype) if runs => Ok((all.map(|t| dense(t.expect("checked above"))), dtype)),
        _ => Err(Box::new(all.map(back))),
    }
}

/// The tensor again, from what [`flex`] returned.
fn back(t: Result<FlexTensor, Unfused<Tensor<2>>>) -> Tensor<2> {
    t.map_or_else(|t| *t, wrap)
}

fn wrap(t: FlexTensor) -> Tensor<2> {
    Tensor::from_dispatch(DispatchTensor {
        kind: DispatchTensorKind::Flex(BackendTensor::Float(t)),
        autodiff: DispatchAutodiffContext::Disabled,
    })
}

fn tensor(bytes: Bytes, shape: [usize; 2], dtype: DType) -> FlexTensor {
    FlexTensor::new(bytes, Layout::contiguous(Shape::new(shape)), dtype)
}

/// The tensor itself if its elements are one contiguous run of its buffer, else a copy that is.
fn dense(t: FlexTensor) -> FlexTensor {
    if t.layout().contiguous_offsets().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The elements of a contiguous tensor, in row-major order.
fn elements<E: Elements>(t: &FlexTensor) -> &[E] {
    let (start, end) = t
        .layout()
        .contiguous_offsets()
        .expect("made contiguous by `dense`");
    &t.storage::<E>()[start..end]
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;

    fn t(values: &[f64], shape: [usize; 2], dtype: DType) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), shape),
            (&crate::device(), dtype),
        )
    }

    fn values(t: Tensor<2>) -> Vec<f64> {
        t.try_into_vec_as::<f64>().expect("read back")
    }

    fn ramp(n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|k| ((k * 37 % 23) as f64 - 11.0) * scale)
            .collect()
    }

    /// A product from the kernels against burn's: 1e-12 (f64) or 1e-4 (f32) relative to the
    /// larger of the value and 1 (the partial sums may be added in another order).
    fn assert_close(got: Tensor<2>, want: Tensor<2>, dtype: DType) {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-4 };
        for (g, w) in values(got).iter().zip(values(want)) {
            assert!((g - w).abs() <= tol * w.abs().max(1.0), "{g} vs {w}");
        }
    }

    #[test]
    fn products_match_burns_matmul_with_and_without_an_addend() {
        let (m, k, n) = (37, 300, 29);
        for dtype in [DType::F64, DType::F32] {
            let a = t(&ramp(m * k, 0.01), [m, k], dtype);
            let b = t(&ramp(k * n, 0.02), [k, n], dtype);
            let full = t(&ramp(m * n, 0.5), [m, n], dtype);
            let row = t(&ramp(n, 0.25), [1, n], dtype);
            // A transposed view as the left factor: not contiguous, copied first.
            let a_t = t(&ramp(m * k, 0.01), [k, m], dtype).transpose();
            let close = |got, want| assert_close(got, want, dtype);
            let kernels = &FLEX_KERNELS;
            let got = kernels.matmul(a.clone(), b.clone()).expect("runs");
            close(got, a.clone().matmul(b.clone()));
            let got = kernels
                .matmul_add(a.clone(), b.clone(), full.clone())
                .expect("runs");
            close(got, a.clone().matmul(b.clone()).add(full.clone()));
            let got = kernels
                .matmul_add(a.clone(), b.clone(), row.clone())
                .expect("runs");
            close(got, a.clone().matmul(b.clone()).add(row.clone()));
            let got = kernels.matmul(a_t.clone(), b.clone()).expect("runs");
            close(got, a_t.matmul(b.clone()));
        }
    }

    #[test]
    fn products_split_into_column_blocks_match_burns_matmul() {
        // Above the threshold, widths in the split's range (one not a multiple of 16), and
        // each with the addend that the blocks read back (`read_dst`).
        for (m, k, n) in [
            (100, 300, 300),
            (10, 300, 300),
            (64, 300, 517),
            (4, 2000, 1100),
        ] {
            assert_eq!(
                threading(m, k, n),
                match (n, rayon::current_num_threads()) {
                    (1100, _) => Threading::Gemm,
                    (_, 1) => Threading::Gemm,
                    (n, threads) => Threading::ColumnBlocks(threads.min(n / 128)),
                }
            );
            for dtype in [DType::F64, DType::F32] {
                let a = t(&ramp(m * k, 0.01), [m, k], dtype);
                let b = t(&ramp(k * n, 0.02), [k, n], dtype);
                let c = t(&ramp(m * n, 0.5), [m, n], dtype);
                let close = |got, want| assert_close(got, want, dtype);
                let got = FLEX_KERNELS.matmul(a.clone(), b.clone()).expect("runs");
                close(got, a.clone().matmul(b.clone()));
                let got = FLEX_KERNELS
                    .matmul_add(a.clone(), b.clone(), c.clone())
                    .expect("runs");
                close(got, a.matmul(b).add(c));
            }
        }
    }

    #[test]
    fn column_blocks_cover_the_columns_once_on_aligned_boundaries() {
        for (n, blocks) in [(300, 2), (517, 4), (256, 2), (1023, 7)] {
            let ranges: Vec<_> = (0..blocks).map(|b| column_block(n, blocks, b)).collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[blocks - 1].end, n);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(pair[0].end % 16, 0);
            }
            assert!(ranges.iter().all(|r| r.len() >= 16), "{ranges:?}");
        }
        assert_eq!(threading(10, 10, 10), Threading::One);
    }

    #[test]
    fn inputs_the_kernels_do_not_run_come_back_unchanged() {
        let a = t(&ramp(6, 1.0), [2, 3], DType::F64);
        let b32 = t(&ramp(12, 1.0), [3, 4], DType::F32);
        let [a2, b2] = *FLEX_KERNELS
            .matmul(a.clone(), b32.clone())
            .expect_err("mixed dtypes");
        assert_eq!(values(a2), values(a.clone()));
        assert_eq!(values(b2), values(b32));
        // Shapes that do not fit are refused, not panicked on.
        let b = t(&ramp(8, 1.0), [4, 2], DType::F64);
        assert!(FLEX_KERNELS.matmul(a.clone(), b).is_err());
        let c = t(&ramp(3, 1.0), [3, 1], DType::F64);
        let b = t(&ramp(12, 1.0), [3, 4], DType::F64);
        assert!(FLEX_KERNELS.matmul_add(a.clone(), b, c).is_err());
        // An autodiff tensor goes back to the tensor path.
        let grad = a.clone().autodiff().require_grad();
        let c_prev = t(&[0.0; 2], [2, 1], DType::F64);
        let pre_x = t(&ramp(8, 0.1), [2, 4], DType::F64)
            .autodiff()
            .require_grad();
        let step = LstmStepInputs {
            pre_h: None,
            pre_x,
            bias: t(&[0.0; 4], [1, 4], DType::F64),
            c_prev,
        };
        assert!(FLEX_KERNELS.lstm_step(step, true).is_err());
        let b = t(&ramp(12, 1.0), [3, 4], DType::F64);
        assert!(FLEX_KERNELS.matmul(grad, b).is_err());
    }

    /// The core takes the fused path for what the kernels cover: the steps of LSTM and GRU
    /// (`reset_after`) layers with logistic gates, forward and backward under the default rule,
    /// and none of the GRU's for `reset_after = false`.
    #[test]
    fn explanations_run_the_kernels_they_cover() {
        use lrp_conformance::random::{Cell, Rng, architectures};
        use lrp_core::params::GateActivation;
        use lrp_core::{ExplainConfig, Input, Precision};

        let device = crate::device();
        let mut rng = Rng::new(5);
        let mut seen = [false; 3];
        let (b, steps) = (3, 5);
        // Each architecture, and each GRU one again with the other reset variant.
        let variants = architectures().into_iter().flat_map(|arch| {
            let mut other = arch.clone();
            for layer in &mut other.layers {
                if let Cell::Gru { reset_after } = &mut layer.cell {
                    *reset_after = !*reset_after;
                }
            }
            [Some(arch.clone()), (other != arch).then_some(other)]
        });
        for arch in variants.flatten() {
            // One unidirectional layer with logistic gates: its steps run on this thread.
            let [layer] = arch.layers[..] else { continue };
            if layer.bidirectional || arch.gates != GateActivation::Sigmoid {
                continue;
            }
            let which = match layer.cell {
                Cell::Lstm => 0,
                Cell::Gru { reset_after: true } => 1,
                Cell::Gru { reset_after: false } => 2,
            };
            let params = arch.random(&mut rng);
            // One task: shards would run the steps on other threads.
            let model = arch
                .model(&params, &device, Precision::F64)
                .with_parallel_samples(false);
            let input = match arch.embedding {
                Some((vocabulary, _)) => {
                    let ids = (0..b * steps).map(|k| 1 + (k % (vocabulary - 1)) as i64);
                    Input::tokens(Tensor::from_data(
                        TensorData::new(ids.collect::<Vec<_>>(), [b, steps]),
                        &device,
                    ))
                }
                None => Input::features(
                    t(
                        &ramp(b * steps * arch.e, 0.1),
                        [b * steps, arch.e],
                        DType::F64,
                    )
                    .reshape([b, steps, arch.e]),
                ),
            };
            let before = calls::RAN.with(|r| r.get());
            model
                .explain(input, &ExplainConfig::new())
                .expect("explain");
            let after = calls::RAN.with(|r| r.get());
            let ran: Vec<usize> = (0..4).map(|k| after[k] - before[k]).collect();
            let want = match which {
                0 => [steps, steps, 0, 0],
                1 => [0, 0, steps, steps],
                _ => [0; 4],
            };
            assert_eq!(ran, want, "{:?}", layer.cell);
            seen[which] = true;
        }
        assert_eq!(
            seen, [true; 3],
            "the conformance architectures cover all three"
        );
    }

    #[test]
    fn the_kernels_support_flex_float_tensors_only() {
        let device = crate::device();
        assert!(FLEX_KERNELS.supports(&device, DType::F64));
        assert!(FLEX_KERNELS.supports(&device, DType::F32));
        assert!(!FLEX_KERNELS.supports(&device, DType::F16));
    }
}
