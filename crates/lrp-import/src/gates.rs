//! Explicit gate-order and layout conversion for LSTM weights from any framework.
//!
//! The canonical layout ([`LstmWeights`]) stores the four gate blocks along the `4H` axis in
//! Keras order **i, f, c, o** (input gate, forget gate, cell candidate, output gate), kernels as
//! `(inputs, 4H)` and one bias. Other conventions:
//!
//! | order | used by |
//! |---|---|
//! | `ifco` | Keras, TensorFlow (also written `ifgo`: `g` and `c` both name the cell candidate) |
//! | `ifgo` | PyTorch, cuDNN (same order as Keras) |
//! | `iofc` | ONNX (`iofc`: input, output, forget, cell) |
//! | `igfo` | Lua Torch `nn.LSTM`, the numpy reference of Arras et al. |
//! | `fico` | some hand-written implementations |
//!
//! Any permutation of the four letters is accepted (`c` or `g` for the candidate). Kernels may be
//! `(inputs, 4H)` (Keras, `x W`) or `(4H, inputs)` (PyTorch, ONNX, Arras, `W x`); two-bias
//! layouts (input and recurrent bias) are summed.
//!
//! GRU weights ([`GruWeights`]) are canonical in Keras' order **z, r, n**; PyTorch's `nn.GRU`
//! stores r, z, n with `(3H, inputs)` kernels and two biases, which [`gru_from_pytorch`]
//! converts (PyTorch's GRU is Keras' `reset_after` variant).

use lrp_model::{GruWeights, LstmWeights, Matrix};

use crate::error::{ImportError, Result};

/// The four LSTM gates, in canonical position.
const CANONICAL: [Gate; 4] = [Gate::Input, Gate::Forget, Gate::Candidate, Gate::Output];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Input,
    Forget,
    Candidate,
    Output,
}

/// The order of the gate blocks along the `4H` axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateOrder([Gate; 4]);

impl GateOrder {
    /// Keras/TensorFlow: i, f, c, o (the canonical order).
    pub const KERAS: GateOrder = GateOrder(CANONICAL);
    /// PyTorch/cuDNN: i, f, g, o (the same blocks as Keras).
    pub const PYTORCH: GateOrder = GateOrder(CANONICAL);
    /// ONNX: i, o, f, c.
    pub const ONNX: GateOrder =
        GateOrder([Gate::Input, Gate::Output, Gate::Forget, Gate::Candidate]);
    /// Lua Torch and the numpy reference of Arras et al.: i, g, f, o.
    pub const ARRAS: GateOrder =
        GateOrder([Gate::Input, Gate::Candidate, Gate::Forget, Gate::Output]);

    /// Whether this is already the canonical order.
    pub fn is_canonical(self) -> bool {
        self.0 == CANONICAL
    }

    /// Block index (in this order) of each canonical gate.
    fn source_blocks(self) -> [usize; 4] {
        CANONICAL.map(|g| self.0.iter().position(|&x| x == g).expect("a permutation"))
    }
}

impl core::str::FromStr for GateOrder {
    type Err = ImportError;
    /// Four letters, one per gate: `i`, `f`, `o` and `c` or `g` for the cell candidate, e.g.
    /// `ifco`, `ifgo`, `iofc`, `igfo`, `fico`.
    fn from_str(s: &str) -> Result<Self> {
        let gates: Vec<Gate> = s
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                'i' => Ok(Gate::Input),
                'f' => Ok(Gate::Forget),
                'c' | 'g' => Ok(Gate::Candidate),
                'o' => Ok(Gate::Output),
                other => Err(ImportError::Format(format!(
                    "gate order `{s}`: `{other}` is not a gate (use i, f, o and c or g)"
                ))),
            })
            .collect::<Result<_>>()?;
        let order: [Gate; 4] = gates.try_into().map_err(|_| {
            ImportError::Format(format!("gate order `{s}` must name exactly four gates"))
        })?;
        if CANONICAL.iter().any(|g| !order.contains(g)) {
            return Err(ImportError::Format(format!(
                "gate order `{s}` must name each of i, f, o and c/g once"
            )));
        }
        Ok(GateOrder(order))
    }
}

impl core::fmt::Display for GateOrder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for g in self.0 {
            f.write_str(match g {
                Gate::Input => "i",
                Gate::Forget => "f",
                Gate::Candidate => "c",
                Gate::Output => "o",
            })?;
        }
        Ok(())
    }
}

/// How a kernel is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelLayout {
    /// `(inputs, 4H)`, applied as `x W` (Keras, the canonical layout).
    InputsByGates,
    /// `(4H, inputs)`, applied as `W x` (PyTorch, ONNX, Lua Torch, Arras).
    GatesByInputs,
}

/// One LSTM direction in a foreign layout.
#[derive(Clone, Debug, PartialEq)]
pub struct ForeignLstm {
    /// Order of the gate blocks in all arrays below.
    pub order: GateOrder,
    /// How `w_x` and `w_h` are stored.
    pub layout: KernelLayout,
    /// Input kernel.
    pub w_x: Matrix,
    /// Recurrent kernel.
    pub w_h: Matrix,
    /// Zero, one or two biases of length 4H, summed (e.g. PyTorch's `bias_ih` and `bias_hh`).
    pub biases: Vec<Vec<f64>>,
}

/// Converts one direction to the canonical layout; `name` prefixes error messages.
pub fn to_canonical(lstm: &ForeignLstm, name: &str) -> Result<LstmWeights> {
    let (w_x, w_h) = match lstm.layout {
        KernelLayout::InputsByGates => (lstm.w_x.clone(), lstm.w_h.clone()),
        KernelLayout::GatesByInputs => (lstm.w_x.transpose(), lstm.w_h.transpose()),
    };
    let four_h = w_h.cols();
    if four_h % 4 != 0 || four_h == 0 {
        return Err(ImportError::Format(format!(
            "{name}: recurrent kernel has {four_h} gate columns, not a positive multiple of 4"
        )));
    }
    let h = four_h / 4;
    let mut b = vec![0.0; four_h];
    for (k, bias) in lstm.biases.iter().enumerate() {
        if bias.len() != four_h {
            return Err(ImportError::Format(format!(
                "{name}: bias {k} has {} values, expected 4H = {four_h}",
                bias.len()
            )));
        }
        for (acc, v) in b.iter_mut().zip(bias) {
            *acc += v;
        }
    }
    if w_x.cols() != four_h {
        return Err(ImportError::Format(format!(
            "{name}: input kernel has {} gate columns, recurrent kernel {four_h}",
            w_x.cols()
        )));
    }
    let blocks = lstm.order.source_blocks();
    let permute_row = |row: &[f64]| -> Vec<f64> {
        blocks
            .iter()
            .flat_map(|&src| row[src * h..(src + 1) * h].iter().copied())
            .collect()
    };
    let permute = |m: &Matrix| -> Result<Matrix> {
        let data = m.data().chunks(four_h).flat_map(permute_row).collect();
        Ok(Matrix::new(m.rows(), four_h, data)?)
    };
    Ok(LstmWeights {
        w_x: permute(&w_x)?,
        w_h: permute(&w_h)?,
        b: permute_row(&b),
    })
}

/// One PyTorch `nn.GRU` direction (`weight_ih (3H, in)`, `weight_hh (3H, H)`, optional
/// `bias_ih`, `bias_hh (3H)`, rows r, z, n) in the canonical layout: blocks reordered to z, r, n,
/// kernels transposed, the two biases kept apart (the candidate's recurrent bias sits inside the
/// reset product), `reset_after`. `name` prefixes error messages.
///
/// ```
/// use lrp_import::gates::gru_from_pytorch;
/// use lrp_model::Matrix;
///
/// // H = 1, one input; rows r = 1, z = 2, n = 3.
/// let w_ih = Matrix::new(3, 1, vec![1.0, 2.0, 3.0])?;
/// let w_hh = Matrix::new(3, 1, vec![10.0, 20.0, 30.0])?;
/// let w = gru_from_pytorch(&w_ih, &w_hh, Some(vec![0.1, 0.2, 0.3]), None, "gru")?;
/// assert_eq!(w.w_x.data(), &[2.0, 1.0, 3.0]); // z, r, n
/// assert_eq!((w.b_x.clone(), w.b_h.clone()), (vec![0.2, 0.1, 0.3], vec![0.0; 3]));
/// assert!(w.reset_after);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Shapes that are not `(3H, in)`, `(3H, H)` and `(3H)`.
pub fn gru_from_pytorch(
    w_ih: &Matrix,
    w_hh: &Matrix,
    b_ih: Option<Vec<f64>>,
    b_hh: Option<Vec<f64>>,
    name: &str,
) -> Result<GruWeights> {
    let h = w_hh.cols();
    let three_h = w_hh.rows();
    if h == 0 || three_h != 3 * h {
        return Err(ImportError::Format(format!(
            "{name}: recurrent kernel has shape [{three_h}, {h}], expected [3H, H] for a GRU"
        )));
    }
    if w_ih.rows() != three_h {
        return Err(ImportError::Format(format!(
            "{name}: input kernel has {} gate rows, recurrent kernel {three_h}",
            w_ih.rows()
        )));
    }
    // Canonical block b comes from PyTorch block ORDER[b]: z ← 1, r ← 0, n ← 2.
    const ORDER: [usize; 3] = [1, 0, 2];
    let reorder = |v: &[f64]| -> Vec<f64> {
        ORDER
            .iter()
            .flat_map(|&src| v[src * h..(src + 1) * h].iter().copied())
            .collect()
    };
    let bias = |b: Option<Vec<f64>>, which: &str| -> Result<Vec<f64>> {
        match b {
            None => Ok(vec![0.0; three_h]),
            Some(b) if b.len() == three_h => Ok(reorder(&b)),
            Some(b) => Err(ImportError::Format(format!(
                "{name}: {which} has {} values, expected 3H = {three_h}",
                b.len()
            ))),
        }
    };
    // (3H, n) row-major: reorder the row blocks, then transpose to (n, 3H).
    let rows = |m: &Matrix| -> Result<Matrix> {
        let n = m.cols();
        let data: Vec<f64> = ORDER
            .iter()
            .flat_map(|&src| m.data()[src * h * n..(src + 1) * h * n].iter().copied())
            .collect();
        Ok(Matrix::new(three_h, n, data)?.transpose())
    };
    Ok(GruWeights {
        w_x: rows(w_ih)?,
        w_h: rows(w_hh)?,
        b_x: bias(b_ih, "bias_ih")?,
        b_h: bias(b_hh, "bias_hh")?,
        reset_after: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_parse_and_print() {
        assert!("ifco".parse::<GateOrder>().unwrap().is_canonical());
        assert!("ifgo".parse::<GateOrder>().unwrap().is_canonical());
        assert_eq!("igfo".parse::<GateOrder>().unwrap(), GateOrder::ARRAS);
        assert_eq!("iofc".parse::<GateOrder>().unwrap(), GateOrder::ONNX);
        assert_eq!(GateOrder::ARRAS.to_string(), "icfo");
        for bad in ["ifc", "iffo", "ifxo", "ifcoo"] {
            assert!(bad.parse::<GateOrder>().is_err(), "{bad}");
        }
    }

    #[test]
    fn permutes_blocks_transposes_and_sums_biases() {
        // H = 1: gate blocks are single columns. Order f, i, c, o with values naming the gate.
        let order: GateOrder = "fico".parse().unwrap();
        let row = vec![2.0, 1.0, 3.0, 4.0]; // f=2, i=1, c=3, o=4
        let lstm = ForeignLstm {
            order,
            layout: KernelLayout::GatesByInputs,
            w_x: Matrix::new(4, 1, row.clone()).unwrap(),
            w_h: Matrix::new(4, 1, row.clone()).unwrap(),
            biases: vec![row.clone(), vec![10.0; 4]],
        };
        let w = to_canonical(&lstm, "t").unwrap();
        assert_eq!(w.w_x.shape(), [1, 4]);
        assert_eq!(w.w_x.data(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(w.w_h.data(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(w.b, vec![11.0, 12.0, 13.0, 14.0]);
    }

    #[test]
    fn inconsistent_sizes_are_refused() {
        let lstm = ForeignLstm {
            order: GateOrder::KERAS,
            layout: KernelLayout::InputsByGates,
            w_x: Matrix::zeros(3, 8),
            w_h: Matrix::zeros(2, 8),
            biases: vec![vec![0.0; 7]],
        };
        assert!(
            to_canonical(&lstm, "t")
                .unwrap_err()
                .to_string()
                .contains("bias 0")
        );
    }
}
