//! `lstm_lrp._native`: the native half of the `lstm_lrp` Python package.
//!
//! A thin layer over the `lstm-lrp` library: reading model files ([`lstm_lrp::import`]),
//! explaining borrowed numpy arrays batch by batch ([`lstm_lrp::batched`] over
//! [`lstm_lrp::io::InputView`]), rendering the heatmap ([`lstm_lrp::io::html`]). The public API,
//! its docstrings and argument normalisation live in `lstm_lrp/__init__.py`; everything here is
//! private to the package.
//!
//! Every call into the library runs with the GIL released and inside [`guarded`], so a panic
//! becomes a `RuntimeError` instead of aborting the interpreter; bad input is a `ValueError`,
//! `TypeError` or `OSError` carrying the library's one-line message.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use lstm_lrp::backends::{self, DeviceChoice};
use lstm_lrp::batched;
use lstm_lrp::import::{
    ImportError, ImportedModel, LoadOptions, ModelFormat, TorchModules, keras_config_from_file,
    parse_head,
};
use lstm_lrp::io::{FeatureSlice, InputView, Row, TokenSlice, ValuesView, html, html_fragment};
use lstm_lrp::{
    ExplainConfig, GateRule, InputLayer, LrpError, LstmModel, Method, Precision, Readout, Step,
    Target,
};
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{
    Element, IntoPyArray, PyArrayDescrMethods, PyReadonlyArray, PyUntypedArray,
    PyUntypedArrayMethods, dtype,
};
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError, PyRuntimeError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

// The CLI's allocator set-up (see `lstm_lrp::alloc`): burn allocates a fresh ~1 MB buffer for
// most operations, which glibc's allocator serves from freshly zeroed pages.
#[global_allocator]
static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;

/// Panics caught at the boundary since the module was loaded (the tests check it stays 0).
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// What goes wrong, by the Python exception it becomes.
#[derive(Debug)]
enum Failure {
    /// Bad values: a wrong shape, NaN, an unknown option value, a malformed or unsupported file.
    Value(String),
    /// An argument of the wrong kind (dtype, object type).
    Type(String),
    /// The operating system refused a file.
    Os(std::io::ErrorKind, String),
    /// A panic or a device failure: a bug or the machine, not the caller's input.
    Runtime(String),
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        use std::io::ErrorKind;
        match f {
            Failure::Value(m) => PyValueError::new_err(m),
            Failure::Type(m) => PyTypeError::new_err(m),
            Failure::Os(ErrorKind::NotFound, m) => PyFileNotFoundError::new_err(m),
            Failure::Os(ErrorKind::PermissionDenied, m) => PyPermissionError::new_err(m),
            Failure::Os(ErrorKind::IsADirectory, m) => PyIsADirectoryError::new_err(m),
            Failure::Os(_, m) => PyOSError::new_err(m),
            Failure::Runtime(m) => PyRuntimeError::new_err(m),
        }
    }
}

type Res<T> = Result<T, Failure>;

fn lrp(e: LrpError) -> Failure {
    match e {
        LrpError::Device(_) => Failure::Runtime(e.to_string()),
        other => Failure::Value(other.to_string()),
    }
}

/// A model file's error, named by the file (`ImportError::Io` names it already).
fn import(path: &str, e: ImportError) -> Failure {
    match e {
        ImportError::Io { ref source, .. } => Failure::Os(source.kind(), e.to_string()),
        other => Failure::Value(format!("{path}: {other}")),
    }
}

/// Runs `f`, turning a panic into a `RuntimeError`: nothing the library does may abort Python.
fn guarded<T>(what: &str, f: impl FnOnce() -> Res<T>) -> Res<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            PANICS.fetch_add(1, Ordering::Relaxed);
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Failure::Runtime(format!(
                "internal error in lstm-lrp ({what}): {message}; please report it"
            )))
        }
    }
}

/// Runs `f` with the GIL released, [`guarded`].
fn compute<T: Send>(py: Python<'_>, what: &str, f: impl FnOnce() -> Res<T> + Send) -> PyResult<T> {
    Ok(py.detach(|| guarded(what, f))?)
}

// ---------------------------------------------------------------------------------------------
// Arrays in

/// A numpy array's values in C order: borrowed when the array is C-contiguous, else copied once.
fn c_order<'a, T: Element + Copy, D: numpy::ndarray::Dimension>(
    array: &'a PyReadonlyArray<'_, T, D>,
) -> Cow<'a, [T]> {
    if array.is_c_contiguous()
        && let Ok(slice) = array.as_slice()
    {
        return Cow::Borrowed(slice);
    }
    Cow::Owned(array.as_array().iter().copied().collect())
}

/// The values of `x`: float32/float64 `(B, T, E)` or int32/int64 `(B, T)`.
enum Values<'a> {
    F64(Cow<'a, [f64]>, [usize; 3]),
    F32(Cow<'a, [f32]>, [usize; 3]),
    I64(Cow<'a, [i64]>, [usize; 2]),
    I32(Cow<'a, [i32]>, [usize; 2]),
}

impl Values<'_> {
    fn view(&self) -> Res<ValuesView<'_>> {
        match self {
            Values::F64(d, s) => ValuesView::features(FeatureSlice::F64(d), *s),
            Values::F32(d, s) => ValuesView::features(FeatureSlice::F32(d), *s),
            Values::I64(d, s) => ValuesView::tokens(TokenSlice::I64(d), *s),
            Values::I32(d, s) => ValuesView::tokens(TokenSlice::I32(d), *s),
        }
        .map_err(Failure::Value)
    }
}

fn shape_text(shape: &[usize]) -> String {
    let inner: Vec<String> = shape.iter().map(ToString::to_string).collect();
    if shape.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

/// Holds the readonly borrows of the input arrays for as long as their slices are used.
enum Borrowed<'py> {
    F64(PyReadonlyArray<'py, f64, numpy::Ix3>),
    F32(PyReadonlyArray<'py, f32, numpy::Ix3>),
    I64(PyReadonlyArray<'py, i64, numpy::Ix2>),
    I32(PyReadonlyArray<'py, i32, numpy::Ix2>),
}

impl<'py> Borrowed<'py> {
    /// `x` as a numpy array of a supported dtype and rank (`name` for messages).
    fn new(x: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        let array = x.cast::<PyUntypedArray>().map_err(|_| {
            Failure::Type(format!(
                "{name} must be a numpy array, not {}",
                x.get_type().name().map_or("?".into(), |n| n.to_string())
            ))
        })?;
        let py = x.py();
        let dt = array.dtype();
        let shape = array.shape().to_vec();
        let rank_error = |expected: &str| {
            Failure::Value(format!(
                "{name} has shape {}, expected {expected}",
                shape_text(&shape)
            ))
        };
        let is = |d: Bound<'py, numpy::PyArrayDescr>| dt.is_equiv_to(&d);
        if is(dtype::<f64>(py)) || is(dtype::<f32>(py)) {
            if shape.len() != 3 {
                return Err(rank_error(
                    "3 dimensions (batch, time, features) for float input, or an integer array \
                     (batch, time) of token ids",
                )
                .into());
            }
            return Ok(if is(dtype::<f64>(py)) {
                Borrowed::F64(x.extract()?)
            } else {
                Borrowed::F32(x.extract()?)
            });
        }
        if is(dtype::<i64>(py)) || is(dtype::<i32>(py)) {
            if shape.len() != 2 {
                return Err(rank_error(
                    "2 dimensions (batch, time) for token ids, or a float array (batch, time, \
                     features)",
                )
                .into());
            }
            return Ok(if is(dtype::<i64>(py)) {
                Borrowed::I64(x.extract()?)
            } else {
                Borrowed::I32(x.extract()?)
            });
        }
        Err(Failure::Type(format!(
            "{name} has dtype {}, expected float32/float64 feature vectors or int32/int64 token ids",
            dt.str().map_or("?".into(), |s| s.to_string())
        ))
        .into())
    }

    fn values(&self) -> Values<'_> {
        let dims3 = |s: &[usize]| [s[0], s[1], s[2]];
        let dims2 = |s: &[usize]| [s[0], s[1]];
        match self {
            Borrowed::F64(a) => Values::F64(c_order(a), dims3(a.shape())),
            Borrowed::F32(a) => Values::F32(c_order(a), dims3(a.shape())),
            Borrowed::I64(a) => Values::I64(c_order(a), dims2(a.shape())),
            Borrowed::I32(a) => Values::I32(c_order(a), dims2(a.shape())),
        }
    }
}

/// Lengths as given (int64 `(B,)`), checked non-negative.
fn lengths_of(lengths: Option<PyReadonlyArray<'_, i64, numpy::Ix1>>) -> Res<Option<Vec<usize>>> {
    let Some(lengths) = lengths else {
        return Ok(None);
    };
    lengths
        .as_array()
        .iter()
        .enumerate()
        .map(|(b, &l)| {
            usize::try_from(l)
                .map_err(|_| Failure::Value(format!("lengths[{b}] is {l}; lengths must be >= 1")))
        })
        .collect::<Res<Vec<_>>>()
        .map(Some)
}

/// The padding arguments checked against `[B, T]`, so that slicing them per batch cannot fail.
fn check_padding(
    lengths: Option<&[usize]>,
    mask: Option<(&[bool], Vec<usize>)>,
    [batch, steps]: [usize; 2],
) -> Res<()> {
    if let Some(l) = lengths
        && l.len() != batch
    {
        return Err(Failure::Value(format!(
            "lengths has {} values for {batch} sequences (give one length per sequence)",
            l.len()
        )));
    }
    if let Some((_, shape)) = mask
        && shape != [batch, steps]
    {
        return Err(Failure::Value(format!(
            "mask has shape {}, expected (batch, time) = ({batch}, {steps})",
            shape_text(&shape)
        )));
    }
    Ok(())
}

/// The LRP settings of `explain`, `explain_every_step` and `attribute(method="lrp")`, the gate
/// rule parsed (the callers add the target and validate).
fn lrp_config(eps: f64, bias_factor: f64, gate_rule: &str) -> PyResult<ExplainConfig> {
    Ok(ExplainConfig::new()
        .with_eps(eps)
        .with_bias_factor(bias_factor)
        .with_gate_rule(parse::<GateRule>("gate_rule", gate_rule)?))
}

/// `target`: `None` (the predicted class), an int, or an int64 array `(B,)`.
fn target_of(target: Option<&Bound<'_, PyAny>>) -> PyResult<Target> {
    let Some(target) = target else {
        return Ok(Target::Predicted);
    };
    if let Ok(class) = target.extract::<i64>() {
        return Ok(Target::Class(usize::try_from(class).map_err(|_| {
            Failure::Value(format!(
                "target {class} is negative (give a class index 0..C)"
            ))
        })?));
    }
    let array: PyReadonlyArray<'_, i64, numpy::Ix1> = target.extract().map_err(|_| {
        Failure::Type(
            "target must be None (the predicted class), an int, or a 1-D integer array".into(),
        )
    })?;
    let classes = array
        .as_array()
        .iter()
        .enumerate()
        .map(|(b, &c)| {
            usize::try_from(c).map_err(|_| {
                Failure::Value(format!(
                    "target[{b}] is {c}, a negative class (give class indices 0..C)"
                ))
            })
        })
        .collect::<Res<Vec<_>>>()?;
    Ok(Target::PerSample(classes))
}

fn parse<T: core::str::FromStr>(what: &str, value: &str) -> Res<T>
where
    T::Err: core::fmt::Display,
{
    value
        .parse()
        .map_err(|e| Failure::Value(format!("{what}={value:?}: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Arrays out

fn array3<'py>(py: Python<'py>, v: Vec<f64>, [a, b, c]: [usize; 3]) -> PyResult<Bound<'py, PyAny>> {
    let array = Array3::from_shape_vec((a, b, c), v)
        .map_err(|e| Failure::Runtime(format!("internal error: {e}")))?;
    Ok(array.into_pyarray(py).into_any())
}

fn array4<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    [a, b, c, d]: [usize; 4],
) -> PyResult<Bound<'py, PyAny>> {
    let array = numpy::ndarray::Array4::from_shape_vec((a, b, c, d), v)
        .map_err(|e| Failure::Runtime(format!("internal error: {e}")))?;
    Ok(array.into_pyarray(py).into_any())
}

fn array2<'py, T: Element>(
    py: Python<'py>,
    v: Vec<T>,
    [a, b]: [usize; 2],
) -> PyResult<Bound<'py, PyAny>> {
    let array = Array2::from_shape_vec((a, b), v)
        .map_err(|e| Failure::Runtime(format!("internal error: {e}")))?;
    Ok(array.into_pyarray(py).into_any())
}

fn array1<'py, T: Element>(py: Python<'py>, v: Vec<T>) -> Bound<'py, PyAny> {
    Array1::from_vec(v).into_pyarray(py).into_any()
}

// ---------------------------------------------------------------------------------------------
// The model

/// The one place `readout=` is read: how the head of a PyTorch state dict reads the last
/// recurrent module (`final`, `last`, `mean`, `max`, `per-step`); Keras files say it
/// themselves, so it is refused for them after reading (as the CLI's `--readout`).
fn readout_option(readout: Option<&str>) -> Res<Option<Readout>> {
    readout
        .map(|r| {
            r.parse::<Readout>()
                .map_err(|e| Failure::Value(format!("readout={r:?}: {e}")))
        })
        .transpose()
}

/// `step=` for a per-step model: `None`, `"last"` or a position `"K"` (the Python layer passes
/// ints as text).
fn step_option(step: Option<&str>) -> Res<Option<Step>> {
    step.map(|s| match s {
        "last" => Ok(Step::Last),
        k => k.parse::<usize>().map(Step::At).map_err(|_| {
            Failure::Value(format!(
                "step={k:?}: give \"last\" or a position 0..T-1 of the output sequence"
            ))
        }),
    })
    .transpose()
}

/// The model as explained: a per-step model at `step`.
fn at_step(model: Arc<LstmModel>, step: Option<Step>) -> Res<Arc<LstmModel>> {
    match step {
        None => Ok(model),
        Some(step) => Ok(Arc::new(model.at_step(step).map_err(lrp)?)),
    }
}

/// A model read from a file, placed on devices on demand.
#[pyclass(frozen, module = "lstm_lrp._native", name = "NativeModel")]
struct NativeModel {
    path: String,
    imported: ImportedModel,
    /// The model on each (device, precision) used so far, created on first use.
    on_device: Mutex<Vec<(DeviceChoice, Precision, Arc<LstmModel>)>>,
}

impl NativeModel {
    /// The model on `device` in `precision`, created the first time.
    fn on(&self, device: &str, precision: &str) -> Res<Arc<LstmModel>> {
        let choice: DeviceChoice = parse("device", device)?;
        let precision: Precision = parse("precision", precision)?;
        // Held while a model is created: a second thread asking for it waits instead of
        // building its own copy. Released-GIL code only, so no deadlock with Python.
        let mut cache = self
            .on_device
            .lock()
            .map_err(|_| Failure::Runtime("the model cache was poisoned by a panic".into()))?;
        if let Some((_, _, model)) = cache
            .iter()
            .find(|(c, p, _)| *c == choice && *p == precision)
        {
            return Ok(Arc::clone(model));
        }
        let on = backends::device_for(choice, precision)
            .map_err(|e| Failure::Value(format!("device={device:?}: {e}")))?;
        let model = Arc::new(LstmModel::new(&self.imported.params, &on, precision).map_err(lrp)?);
        cache.push((choice, precision, Arc::clone(&model)));
        Ok(model)
    }
}

/// Per-call input: the borrowed values and padding of one `explain`/`forward`/`attribute` call.
struct CallInput<'py> {
    x: Borrowed<'py>,
    lengths: Option<Vec<usize>>,
    mask: Option<PyReadonlyArray<'py, bool, numpy::Ix2>>,
}

impl<'py> CallInput<'py> {
    fn new(
        x: &Bound<'py, PyAny>,
        lengths: Option<PyReadonlyArray<'py, i64, numpy::Ix1>>,
        mask: Option<PyReadonlyArray<'py, bool, numpy::Ix2>>,
    ) -> PyResult<Self> {
        Ok(Self {
            x: Borrowed::new(x, "x")?,
            lengths: lengths_of(lengths)?,
            mask,
        })
    }
}

/// Runs `f` on the input's view with the GIL released.
fn with_view<T: Send>(
    py: Python<'_>,
    input: &CallInput<'_>,
    what: &str,
    f: impl FnOnce(&InputView<'_>) -> Res<T> + Send,
) -> PyResult<T> {
    let values = input.x.values();
    let mask = input
        .mask
        .as_ref()
        .map(|m| (c_order(m), m.shape().to_vec()));
    let lengths = input.lengths.as_deref();
    compute(py, what, move || {
        let view = values.view()?;
        check_padding(
            lengths,
            mask.as_ref().map(|(m, s)| (m.as_ref(), s.clone())),
            view.batch_and_steps(),
        )?;
        let input = InputView {
            values: view,
            lengths,
            mask: mask.as_ref().map(|(m, _)| m.as_ref()),
        };
        f(&input)
    })
}

#[pymethods]
impl NativeModel {
    /// What was read: format, layers, conversions and notes, one per line.
    #[getter]
    fn report(&self) -> String {
        self.imported.report.to_string()
    }

    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Sizes and input kind as a dict.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = &self.imported.params;
        let d = PyDict::new(py);
        d.set_item("format", &self.imported.report.format)?;
        d.set_item("layers", &self.imported.report.layers)?;
        d.set_item("conversions", &self.imported.report.conversions)?;
        d.set_item("notes", &self.imported.report.notes)?;
        d.set_item("num_classes", p.num_classes())?;
        d.set_item("num_parameters", p.num_parameters())?;
        d.set_item("recurrent_layers", p.recurrent().len())?;
        d.set_item(
            "cells",
            p.recurrent().iter().map(|l| l.kind()).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "hidden_sizes",
            p.recurrent()
                .iter()
                .map(|l| l.hidden_size())
                .collect::<Vec<_>>(),
        )?;
        d.set_item(
            "bidirectional",
            p.recurrent()
                .iter()
                .map(|l| l.backward.is_some())
                .collect::<Vec<_>>(),
        )?;
        d.set_item("readout", p.readout().to_string())?;
        d.set_item("warnings", &self.imported.report.warnings)?;
        match p.input() {
            InputLayer::Features { size, mask_value } => {
                d.set_item("reads_tokens", false)?;
                d.set_item("input_size", *size)?;
                d.set_item("vocab_size", py.None())?;
                d.set_item("mask_zero", false)?;
                d.set_item("mask_value", *mask_value)?;
            }
            InputLayer::Embedding { table, mask_zero } => {
                d.set_item("reads_tokens", true)?;
                d.set_item("input_size", table.cols())?;
                d.set_item("vocab_size", table.rows())?;
                d.set_item("mask_zero", *mask_zero)?;
                d.set_item("mask_value", py.None())?;
            }
        }
        Ok(d)
    }

    /// LRP for every sample; see `lstm_lrp.Model.explain`.
    #[pyo3(signature = (x, *, eps, bias_factor, gate_rule, target, lengths, mask, batch_size, device, precision, step))]
    #[allow(clippy::too_many_arguments)]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        eps: f64,
        bias_factor: f64,
        gate_rule: &str,
        target: Option<&Bound<'py, PyAny>>,
        lengths: Option<PyReadonlyArray<'py, i64, numpy::Ix1>>,
        mask: Option<PyReadonlyArray<'py, bool, numpy::Ix2>>,
        batch_size: usize,
        device: &str,
        precision: &str,
        step: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let config = lrp_config(eps, bias_factor, gate_rule)?.with_target(target_of(target)?);
        config.validate().map_err(lrp)?;
        let input = CallInput::new(x, lengths, mask)?;
        let out = with_view(py, &input, "explain", |view| {
            let model = at_step(self.on(device, precision)?, step_option(step)?)?;
            check_kind(&model, view)?;
            batched::explain(&model, view, &config, batch_size).map_err(lrp)
        })?;
        let d = PyDict::new(py);
        let [b, t, e] = [out.batch, out.steps, out.features];
        let steps = out.step_relevance();
        d.set_item("step_relevance", array2(py, steps, [b, t])?)?;
        d.set_item("relevance", array3(py, out.relevance, [b, t, e])?)?;
        d.set_item("rest", array1(py, out.rest))?;
        d.set_item("logits", array2(py, out.logits, [b, out.classes])?)?;
        d.set_item("target", array1(py, out.target))?;
        Ok(d)
    }

    /// LRP for every output position of a per-step model; see
    /// `lstm_lrp.Model.explain_every_step`.
    #[pyo3(signature = (x, *, eps, bias_factor, gate_rule, target, lengths, mask, batch_size, device, precision))]
    #[allow(clippy::too_many_arguments)]
    fn explain_every_step<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        eps: f64,
        bias_factor: f64,
        gate_rule: &str,
        target: Option<&Bound<'py, PyAny>>,
        lengths: Option<PyReadonlyArray<'py, i64, numpy::Ix1>>,
        mask: Option<PyReadonlyArray<'py, bool, numpy::Ix2>>,
        batch_size: usize,
        device: &str,
        precision: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let config = lrp_config(eps, bias_factor, gate_rule)?.with_target(target_of(target)?);
        config.validate().map_err(lrp)?;
        let input = CallInput::new(x, lengths, mask)?;
        let out = with_view(py, &input, "explain_every_step", |view| {
            let model = self.on(device, precision)?;
            check_kind(&model, view)?;
            batched::explain_every_step(&model, view, &config, batch_size).map_err(lrp)
        })?;
        let d = PyDict::new(py);
        let [b, t, e, c] = [out.batch, out.steps, out.features, out.classes];
        let steps = out.step_relevance();
        d.set_item("step_relevance", array3(py, steps, [b, t, t])?)?;
        d.set_item("relevance", array4(py, out.relevance, [b, t, t, e])?)?;
        d.set_item("rest", array2(py, out.rest, [b, t])?)?;
        d.set_item("logits", array3(py, out.logits, [b, t, c])?)?;
        d.set_item("target", array2(py, out.target, [b, t])?)?;
        d.set_item("valid", array2(py, out.valid, [b, t])?)?;
        Ok(d)
    }

    /// The logits `(B, C)`; see `lstm_lrp.Model.forward`.
    #[pyo3(signature = (x, *, lengths, mask, batch_size, device, precision, step))]
    #[allow(clippy::too_many_arguments)]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        lengths: Option<PyReadonlyArray<'py, i64, numpy::Ix1>>,
        mask: Option<PyReadonlyArray<'py, bool, numpy::Ix2>>,
        batch_size: usize,
        device: &str,
        precision: &str,
        step: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let input = CallInput::new(x, lengths, mask)?;
        let (logits, batch, classes) = with_view(py, &input, "forward", |view| {
            let model = at_step(self.on(device, precision)?, step_option(step)?)?;
            check_kind(&model, view)?;
            let logits = batched::forward(&model, view, batch_size).map_err(lrp)?;
            Ok((logits, view.batch_and_steps()[0], model.num_classes()))
        })?;
        array2(py, logits, [batch, classes])
    }

    /// A baseline attribution; see `lstm_lrp.Model.attribute`.
    #[pyo3(signature = (x, method, *, target, lengths, mask, steps, baseline, eps, bias_factor, gate_rule, batch_size, device, precision, step))]
    #[allow(clippy::too_many_arguments)]
    fn attribute<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        method: &str,
        target: Option<&Bound<'py, PyAny>>,
        lengths: Option<PyReadonlyArray<'py, i64, numpy::Ix1>>,
        mask: Option<PyReadonlyArray<'py, bool, numpy::Ix2>>,
        steps: usize,
        baseline: Option<&Bound<'py, PyAny>>,
        eps: f64,
        bias_factor: f64,
        gate_rule: &str,
        batch_size: usize,
        device: &str,
        precision: &str,
        step: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let method = match method {
            "lrp" => {
                let config = lrp_config(eps, bias_factor, gate_rule)?;
                config.validate().map_err(lrp)?;
                Method::Lrp(config)
            }
            "gradient" => Method::Gradient,
            "gxi" | "gradient_x_input" => Method::GradientTimesInput,
            "ig" | "integrated_gradients" => Method::IntegratedGradients {
                steps,
                baseline: None,
            },
            "occlusion" => Method::Occlusion,
            other => {
                return Err(Failure::Value(format!(
                    "method={other:?}: unknown attribution method (lrp, gradient, gxi, ig, \
                     occlusion)"
                ))
                .into());
            }
        };
        let target = target_of(target)?;
        let input = CallInput::new(x, lengths, mask)?;
        let baseline = match baseline {
            Some(b) => match Borrowed::new(b, "baseline")? {
                f @ (Borrowed::F64(_) | Borrowed::F32(_)) => Some(f),
                _ => {
                    return Err(Failure::Type(
                        "baseline must be a float array (batch, time, features)".into(),
                    )
                    .into());
                }
            },
            None => None,
        };
        let baseline_values = baseline.as_ref().map(Borrowed::values);
        let out = with_view(py, &input, "attribute", |view| {
            let model = at_step(self.on(device, precision)?, step_option(step)?)?;
            check_kind(&model, view)?;
            let baseline = match &baseline_values {
                Some(Values::F64(d, _)) => Some(FeatureSlice::F64(d)),
                Some(Values::F32(d, _)) => Some(FeatureSlice::F32(d)),
                _ => None,
            };
            let out = batched::attribute(&model, view, &method, &target, baseline, batch_size)
                .map_err(lrp)?;
            Ok((out, model.num_classes()))
        })?;
        let (out, classes) = out;
        let [b, t, e] = out.shape;
        let step_scores: Vec<f64> = out
            .scores
            .chunks(e.max(1))
            .map(|c| c.iter().sum())
            .collect();
        let d = PyDict::new(py);
        d.set_item("step_scores", array2(py, step_scores, [b, t])?)?;
        d.set_item("scores", array3(py, out.scores, [b, t, e])?)?;
        d.set_item("logits", array2(py, out.logits, [b, classes])?)?;
        d.set_item(
            "target",
            array1(py, out.target.iter().map(|&c| c as i64).collect::<Vec<_>>()),
        )?;
        match out.completeness_error {
            Some(c) => d.set_item("completeness_error", array1(py, c))?,
            None => d.set_item("completeness_error", py.None())?,
        }
        Ok(d)
    }

    /// Times the Rust library alone on `x` (float64 `(B, T, E)`): `repeats` runs of
    /// `LstmModel::explain` + `to_host` over the samples in batches of `batch_size`, the tensor
    /// built from a `Vec` as a Rust program holding the data would; seconds per run. For
    /// `python/bench/overhead.py`, side by side with the same calls through Python.
    #[pyo3(signature = (x, *, batch_size, repeats, device, precision))]
    fn _time_rust_explain(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray<'_, f64, numpy::Ix3>,
        batch_size: usize,
        repeats: usize,
        device: &str,
        precision: &str,
    ) -> PyResult<Vec<f64>> {
        use lstm_lrp::burn::tensor::{Tensor, TensorData};
        let shape = [x.shape()[0], x.shape()[1], x.shape()[2]];
        // Owned, as a Rust program's data would be (not timed).
        let data: Vec<f64> = c_order(&x).into_owned();
        compute(py, "timing", move || {
            let model = self.on(device, precision)?;
            let config = ExplainConfig::new();
            let [b, t, e] = shape;
            let mut times = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                let start = std::time::Instant::now();
                for s in (0..b).step_by(batch_size.max(1)) {
                    let n = batch_size.max(1).min(b - s);
                    let part = data[s * t * e..(s + n) * t * e].to_vec();
                    let x: Tensor<3> = Tensor::from_data(
                        TensorData::new(part, [n, t, e]),
                        (model.device(), model.precision().dtype()),
                    );
                    let host = model.explain(x, &config).and_then(|r| r.to_host());
                    std::hint::black_box(host.map_err(lrp)?);
                }
                times.push(start.elapsed().as_secs_f64());
            }
            Ok(times)
        })
    }
}

/// The input's kind (token ids or feature vectors) is the one the model reads.
fn check_kind(model: &LstmModel, view: &InputView<'_>) -> Res<()> {
    match (view.values.is_tokens(), model.reads_tokens()) {
        (true, false) => Err(Failure::Value(format!(
            "x holds token ids (batch, time), but the model reads feature vectors (batch, time, \
             {}): pass a float array",
            model.feature_size()
        ))),
        (false, true) => Err(Failure::Value(
            "x holds feature vectors (batch, time, features), but the model starts with an \
             embedding and reads token ids: pass an integer array (batch, time)"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// Reads a model file; see `lstm_lrp.load`.
#[pyfunction]
#[pyo3(signature = (path, *, format, keras_config, keras_config_json, rnn, head, embedding, readout))]
#[allow(clippy::too_many_arguments)]
fn load(
    py: Python<'_>,
    path: PathBuf,
    format: Option<String>,
    keras_config: Option<PathBuf>,
    keras_config_json: Option<String>,
    rnn: Option<Vec<String>>,
    head: Option<Vec<String>>,
    embedding: Option<String>,
    readout: Option<String>,
) -> PyResult<NativeModel> {
    let readout_given = readout.is_some();
    let readout = readout_option(readout.as_deref())?;
    let format = format
        .as_deref()
        .map(|f| {
            f.parse::<ModelFormat>()
                .map_err(|e| Failure::Value(format!("format={f:?}: {e}")))
        })
        .transpose()?;
    let head = parse_head(&head.unwrap_or_default()).map_err(Failure::Value)?;
    let name = path.display().to_string();
    compute(py, "load", move || {
        let keras_config = match (keras_config, keras_config_json) {
            (Some(file), _) => Some(
                keras_config_from_file(&file)
                    .map_err(|e| import(&file.display().to_string(), e))?,
            ),
            (None, json) => json,
        };
        let options = LoadOptions {
            format,
            keras_config,
            torch: TorchModules {
                rnn: rnn.unwrap_or_default(),
                head,
                embedding,
                readout,
            },
        };
        let imported =
            lstm_lrp::import::read_model(&path, &options).map_err(|e| import(&name, e))?;
        let torch = matches!(
            imported.format,
            Some(ModelFormat::TorchPt | ModelFormat::TorchSafetensors)
        );
        if readout_given && !torch {
            return Err(Failure::Value(format!(
                "{name}: readout= is for PyTorch state dicts, which do not record how the head \
                 reads the recurrent module; this file says it itself (see the model's repr)"
            )));
        }
        Ok(NativeModel {
            path: name,
            imported,
            on_device: Mutex::new(Vec::new()),
        })
    })
}

/// The heatmap of `rows` (`(words, relevance, target, predicted, logit, rest)` per sequence):
/// a notebook fragment, or with `title` a whole page.
#[pyfunction]
#[pyo3(signature = (rows, *, title=None))]
#[allow(clippy::type_complexity)]
fn render_html(
    rows: Vec<(Vec<String>, Vec<f64>, usize, usize, f64, f64)>,
    title: Option<String>,
) -> PyResult<String> {
    Ok(guarded("render_html", || {
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|(words, relevance, target, predicted, logit, rest)| Row {
                words,
                relevance,
                target,
                predicted,
                logit,
                rest,
            })
            .collect();
        Ok(match title {
            Some(title) => html(&rows, &title),
            None => html_fragment(&rows),
        })
    })?)
}

/// The device names this build accepts.
#[pyfunction]
fn available_devices() -> Vec<&'static str> {
    backends::available_devices()
}

/// Panics inside the boundary guard (for the tests: a panic must become a RuntimeError).
#[pyfunction]
fn _panic_inside_guard(py: Python<'_>) -> PyResult<()> {
    compute(py, "test", || -> Res<()> {
        panic!("deliberate panic for the tests")
    })
}

/// How many panics the boundary guard has caught since the module was loaded.
#[pyfunction]
fn _panics_caught() -> usize {
    PANICS.load(Ordering::Relaxed)
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Before any model allocates: keep freed memory for the next batch, as the CLI does. (Not
    // `no_transparent_huge_pages`: its flag is the whole process's, and this is a guest in it.)
    lstm_lrp::alloc::keep_freed_memory();
    m.add_class::<NativeModel>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(render_html, m)?)?;
    m.add_function(wrap_pyfunction!(available_devices, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_inside_guard, m)?)?;
    m.add_function(wrap_pyfunction!(_panics_caught, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
