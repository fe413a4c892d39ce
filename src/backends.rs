//! The compute backends compiled into this build, chosen by cargo feature, and selection by
//! name (the CLI's `--device`).
//!
//! | name | cargo feature | precisions |
//! |---|---|---|
//! | `cpu` | `flex` or `ndarray` | f64, f32 |
//! | `ndarray` | `ndarray` (default) | f64, f32 |
//! | `flex` | `flex` (default) | f64, f32 |
//! | `wgpu` | `wgpu` | f32 |
//! | `tch` | `tch` (LibTorch CPU) | f64, f32 |
//! | `tch-cuda:N` | `tch` (LibTorch CUDA device N) | f64, f32 |
//!
//! Every name parses in every build; [`device`] then answers [`BackendError::NotCompiled`] for a
//! backend this build lacks, [`BackendError::Unavailable`] for one that cannot start on this
//! machine, and [`device_for`] also [`BackendError::Precision`] for a precision the backend
//! cannot compute (f64 on wgpu).

use burn::tensor::Device;
use lrp_core::{Precision, burn};
use thiserror::Error;

/// A device by name.
///
/// Parsed from the CLI's `--device` names and printed back the same way:
///
/// ```
/// use lstm_lrp::backends::{BackendError, DeviceChoice};
///
/// let choice: DeviceChoice = "tch-cuda:1".parse()?;
/// assert_eq!(choice, DeviceChoice::TchCuda(1));
/// assert_eq!(choice.to_string(), "tch-cuda:1");
/// assert_eq!("ndarray".parse::<DeviceChoice>()?, DeviceChoice::NdArray);
/// // Names are case-sensitive; an unknown one is a typed error.
/// let err = "GPU".parse::<DeviceChoice>().unwrap_err();
/// assert_eq!(err, BackendError::Unknown("GPU".into()));
/// # Ok::<(), BackendError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The fastest CPU backend compiled in ([`default_device`]).
    Cpu,
    /// burn's NdArray backend (feature `ndarray`).
    NdArray,
    /// burn's Flex backend (feature `flex`).
    Flex,
    /// burn's wgpu backend on the default adapter (feature `wgpu`), f32 only.
    Wgpu,
    /// burn's LibTorch backend on the CPU (feature `tch`).
    Tch,
    /// burn's LibTorch backend on CUDA device `N` (feature `tch`; name `tch-cuda:N`).
    TchCuda(usize),
}

/// A device that cannot be had in this build or on this machine.
///
/// ```
/// use lstm_lrp::Precision;
/// use lstm_lrp::backends::{BackendError, DeviceChoice, device_for};
///
/// let err = "gpu".parse::<DeviceChoice>().unwrap_err();
/// assert!(err.to_string().starts_with("unknown device `gpu` (available: cpu"));
/// // f64 on wgpu is refused before any GPU is looked for, whatever the build.
/// let err = device_for(DeviceChoice::Wgpu, Precision::F64).unwrap_err();
/// assert!(matches!(&err, BackendError::Precision { supported, .. } if supported == "f32"));
/// assert_eq!(err.to_string(), "device `wgpu` does not support f64 (supported: f32)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackendError {
    /// The name is not a device this crate knows.
    #[error("unknown device `{0}` (available: {available})", available = available_devices().join(", "))]
    Unknown(String),
    /// The backend exists but this build does not include it.
    #[error("device `{name}` needs lstm-lrp built with `--features {feature}`")]
    NotCompiled {
        /// The device asked for.
        name: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// The backend is built in but cannot start on this machine (no GPU adapter, no CUDA).
    #[error("device `{name}` is not available: {reason}")]
    Unavailable {
        /// The device asked for.
        name: String,
        /// The backend's explanation.
        reason: String,
    },
    /// The backend does not compute this precision correctly.
    #[error("device `{name}` does not support {precision} (supported: {supported})")]
    Precision {
        /// The device asked for.
        name: String,
        /// The precision asked for.
        precision: Precision,
        /// The precisions it supports, e.g. `f32`.
        supported: String,
    },
}

impl core::str::FromStr for DeviceChoice {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "ndarray" => Ok(DeviceChoice::NdArray),
            "flex" => Ok(DeviceChoice::Flex),
            "wgpu" => Ok(DeviceChoice::Wgpu),
            "tch" => Ok(DeviceChoice::Tch),
            other => match other.strip_prefix("tch-cuda:").map(str::parse) {
                Some(Ok(index)) => Ok(DeviceChoice::TchCuda(index)),
                _ => Err(BackendError::Unknown(other.to_string())),
            },
        }
    }
}

impl core::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::NdArray => f.write_str("ndarray"),
            DeviceChoice::Flex => f.write_str("flex"),
            DeviceChoice::Wgpu => f.write_str("wgpu"),
            DeviceChoice::Tch => f.write_str("tch"),
            DeviceChoice::TchCuda(index) => write!(f, "tch-cuda:{index}"),
        }
    }
}

impl DeviceChoice {
    /// The precisions this backend computes correctly.
    ///
    /// ```
    /// use lstm_lrp::Precision;
    /// use lstm_lrp::backends::DeviceChoice;
    ///
    /// assert_eq!(DeviceChoice::Cpu.precisions(), &[Precision::F64, Precision::F32]);
    /// assert_eq!(DeviceChoice::Wgpu.precisions(), &[Precision::F32]);
    /// ```
    pub fn precisions(self) -> &'static [Precision] {
        match self {
            DeviceChoice::Wgpu => &[Precision::F32],
            _ => &[Precision::F64, Precision::F32],
        }
    }
}

/// The device names this build accepts (`tch-cuda:N` stands for every CUDA index).
///
/// ```
/// use lstm_lrp::backends::{DeviceChoice, available_devices};
///
/// let names = available_devices();
/// assert_eq!(names[0], "cpu"); // always there
/// for name in names.iter().filter(|n| **n != "tch-cuda:N") {
///     let choice: DeviceChoice = name.parse()?;
///     assert_eq!(choice.to_string(), *name);
/// }
/// # Ok::<(), lstm_lrp::backends::BackendError>(())
/// ```
pub fn available_devices() -> Vec<&'static str> {
    let mut names = vec!["cpu"];
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "tch") {
        names.extend(["tch", "tch-cuda:N"]);
    }
    names
}

/// The device for a choice.
///
/// # Errors
/// [`BackendError::NotCompiled`] when this build lacks the backend,
/// [`BackendError::Unavailable`] when it cannot start here (wgpu without an adapter, a CUDA
/// index libtorch does not see).
///
/// ```
/// use lstm_lrp::backends::{self, BackendError, DeviceChoice};
/// use lstm_lrp::burn::tensor::Tensor;
///
/// let device = backends::device(DeviceChoice::Cpu)?;
/// let x = Tensor::<2>::ones([2, 3], &device);
/// assert_eq!(x.sum().into_scalar::<f64>(), 6.0);
/// // A backend left out of this build names the feature that brings it.
/// if !backends::available_devices().contains(&"wgpu") {
///     let err = backends::device(DeviceChoice::Wgpu).unwrap_err();
///     assert!(matches!(err, BackendError::NotCompiled { feature: "wgpu", .. }));
/// }
/// # Ok::<(), BackendError>(())
/// ```
pub fn device(choice: DeviceChoice) -> Result<Device, BackendError> {
    match choice {
        DeviceChoice::Cpu => Ok(default_device()),
        DeviceChoice::NdArray => ndarray_device(),
        DeviceChoice::Flex => flex_device(),
        DeviceChoice::Wgpu => wgpu_device(),
        DeviceChoice::Tch => tch_device(),
        DeviceChoice::TchCuda(index) => tch_cuda_device(index),
    }
}

/// [`check_precision`], then [`device`]: the device for a model of this precision.
///
/// # Errors
/// As [`device`], and [`BackendError::Precision`] for f64 on wgpu.
///
/// ```
/// use lstm_lrp::backends::{self, BackendError};
/// use lstm_lrp::{LstmModel, Precision};
///
/// let params = lstm_lrp::load_model("examples/sentiment/model.safetensors")?;
/// let device = backends::device_for("cpu".parse()?, Precision::F32)?;
/// let model = LstmModel::new(&params, &device, Precision::F32)?;
/// assert_eq!((model.precision(), model.num_classes()), (Precision::F32, 2));
/// let err = backends::device_for("wgpu".parse()?, Precision::F64).unwrap_err();
/// assert!(matches!(err, BackendError::Precision { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn device_for(choice: DeviceChoice, precision: Precision) -> Result<Device, BackendError> {
    check_precision(choice, precision)?;
    device(choice)
}

/// `Ok` when the backend computes `precision` correctly.
///
/// # Errors
/// [`BackendError::Precision`] otherwise (f64 on wgpu: drivers may claim f64 support and still
/// return garbage).
///
/// ```
/// use lstm_lrp::Precision;
/// use lstm_lrp::backends::{DeviceChoice, check_precision};
///
/// assert_eq!(check_precision(DeviceChoice::TchCuda(0), Precision::F64), Ok(()));
/// assert_eq!(check_precision(DeviceChoice::Wgpu, Precision::F32), Ok(()));
/// assert!(check_precision(DeviceChoice::Wgpu, Precision::F64).is_err());
/// ```
pub fn check_precision(choice: DeviceChoice, precision: Precision) -> Result<(), BackendError> {
    let supported = choice.precisions();
    if supported.contains(&precision) {
        return Ok(());
    }
    Err(BackendError::Precision {
        name: choice.to_string(),
        precision,
        supported: supported
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// What a choice runs on, in words: for wgpu the adapter and graphics API wgpu picked (e.g.
/// `wgpu: llvmpipe (LLVM 15.0.6, 256 bits) (Cpu) on Vulkan`), for the others the backend.
///
/// ```
/// use lstm_lrp::backends::{DeviceChoice, describe};
///
/// let text = describe(DeviceChoice::Cpu)?; // "cpu: burn Flex" in the default build
/// assert!(text.starts_with("cpu: burn "), "{text}");
/// # Ok::<(), lstm_lrp::backends::BackendError>(())
/// ```
///
/// # Errors
/// As [`device`].
pub fn describe(choice: DeviceChoice) -> Result<String, BackendError> {
    device(choice)?;
    Ok(match choice {
        DeviceChoice::Cpu if cfg!(feature = "flex") => "cpu: burn Flex".to_string(),
        DeviceChoice::Cpu => "cpu: burn NdArray".to_string(),
        DeviceChoice::NdArray => "ndarray: burn NdArray (CPU)".to_string(),
        DeviceChoice::Flex => "flex: burn Flex (CPU)".to_string(),
        DeviceChoice::Wgpu => format!("wgpu: {}", wgpu_adapter()?),
        DeviceChoice::Tch => "tch: LibTorch CPU".to_string(),
        DeviceChoice::TchCuda(index) => format!("tch-cuda:{index}: LibTorch CUDA device {index}"),
    })
}

/// The fastest CPU backend in this build: Flex when the `flex` feature is on (the default),
/// otherwise NdArray.
///
/// # Panics
/// When the crate is built without any CPU backend feature.
///
/// ```
/// use lstm_lrp::backends::default_device;
/// use lstm_lrp::burn::tensor::{Tensor, TensorData};
///
/// let device = default_device();
/// let x = Tensor::<2>::from_data(TensorData::new(vec![1.0, 2.0, 3.0, 4.0], [2, 2]), &device);
/// // (2, 2) · (2, 2): [[1, 2], [3, 4]]² = [[7, 10], [15, 22]].
/// let y = x.clone().matmul(x).try_into_vec_as::<f64>()?;
/// assert_eq!(y, vec![7.0, 10.0, 15.0, 22.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn default_device() -> Device {
    flex_device()
        .or_else(|_| ndarray_device())
        .expect("lstm-lrp needs the `flex` or `ndarray` feature for a CPU device")
}

// Unused in a build with every backend feature on.
#[cfg_attr(
    all(
        feature = "ndarray",
        feature = "flex",
        feature = "wgpu",
        feature = "tch"
    ),
    allow(dead_code)
)]
fn not_compiled(name: &str, feature: &'static str) -> BackendError {
    BackendError::NotCompiled {
        name: name.into(),
        feature,
    }
}

fn ndarray_device() -> Result<Device, BackendError> {
    #[cfg(feature = "ndarray")]
    {
        Ok(lrp_ndarray::device())
    }
    #[cfg(not(feature = "ndarray"))]
    {
        Err(not_compiled("ndarray", "ndarray"))
    }
}

fn flex_device() -> Result<Device, BackendError> {
    #[cfg(feature = "flex")]
    {
        Ok(lrp_flex::device())
    }
    #[cfg(not(feature = "flex"))]
    {
        Err(not_compiled("flex", "flex"))
    }
}

fn wgpu_device() -> Result<Device, BackendError> {
    #[cfg(feature = "wgpu")]
    {
        lrp_wgpu::device().map_err(|e| BackendError::Unavailable {
            name: "wgpu".into(),
            reason: e.to_string(),
        })
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(not_compiled("wgpu", "wgpu"))
    }
}

fn wgpu_adapter() -> Result<String, BackendError> {
    #[cfg(feature = "wgpu")]
    {
        lrp_wgpu::open(
            lrp_wgpu::DeviceKind::DefaultDevice,
            lrp_wgpu::GraphicsApi::Auto,
        )
        .map(|d| d.adapter.to_string())
        .map_err(|e| BackendError::Unavailable {
            name: "wgpu".into(),
            reason: e.to_string(),
        })
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(not_compiled("wgpu", "wgpu"))
    }
}

fn tch_device() -> Result<Device, BackendError> {
    #[cfg(feature = "tch")]
    {
        Ok(lrp_tch::device())
    }
    #[cfg(not(feature = "tch"))]
    {
        Err(not_compiled("tch", "tch"))
    }
}

fn tch_cuda_device(index: usize) -> Result<Device, BackendError> {
    #[cfg(feature = "tch")]
    {
        lrp_tch::cuda(index).map_err(|e| BackendError::Unavailable {
            name: format!("tch-cuda:{index}"),
            reason: e.to_string(),
        })
    }
    #[cfg(not(feature = "tch"))]
    {
        Err(not_compiled(&format!("tch-cuda:{index}"), "tch"))
    }
}

#[cfg(test)]
mod agreement;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_prints_back() {
        for (name, choice) in [
            ("cpu", DeviceChoice::Cpu),
            ("ndarray", DeviceChoice::NdArray),
            ("flex", DeviceChoice::Flex),
            ("wgpu", DeviceChoice::Wgpu),
            ("tch", DeviceChoice::Tch),
            ("tch-cuda:0", DeviceChoice::TchCuda(0)),
            ("tch-cuda:3", DeviceChoice::TchCuda(3)),
        ] {
            assert_eq!(name.parse::<DeviceChoice>(), Ok(choice), "{name}");
            assert_eq!(choice.to_string(), name);
        }
        for bad in [
            "gpu",
            "tch-cuda",
            "tch-cuda:",
            "tch-cuda:x",
            "tch-cuda:-1",
            "Wgpu",
        ] {
            assert_eq!(
                bad.parse::<DeviceChoice>(),
                Err(BackendError::Unknown(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn backends_not_built_in_are_named_with_their_feature() {
        for (choice, feature, built) in [
            (DeviceChoice::Wgpu, "wgpu", cfg!(feature = "wgpu")),
            (DeviceChoice::Tch, "tch", cfg!(feature = "tch")),
            (DeviceChoice::TchCuda(0), "tch", cfg!(feature = "tch")),
            (DeviceChoice::Flex, "flex", cfg!(feature = "flex")),
            (DeviceChoice::NdArray, "ndarray", cfg!(feature = "ndarray")),
        ] {
            match device(choice) {
                Err(BackendError::NotCompiled { name, feature: f }) => {
                    assert!(!built, "{choice} is built in");
                    assert_eq!((name.as_str(), f), (choice.to_string().as_str(), feature));
                }
                // Built in: a device, or (no GPU, no CUDA) a typed error; never NotCompiled.
                Ok(_) | Err(BackendError::Unavailable { .. }) => {
                    assert!(built, "{choice} is not built in")
                }
                Err(other) => panic!("{choice}: {other}"),
            }
        }
    }

    #[test]
    fn f64_on_wgpu_is_refused_before_any_device_starts() {
        let err = device_for(DeviceChoice::Wgpu, Precision::F64).unwrap_err();
        assert_eq!(
            err,
            BackendError::Precision {
                name: "wgpu".into(),
                precision: Precision::F64,
                supported: "f32".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "device `wgpu` does not support f64 (supported: f32)"
        );
        for choice in [
            DeviceChoice::Cpu,
            DeviceChoice::Flex,
            DeviceChoice::Tch,
            DeviceChoice::TchCuda(0),
        ] {
            assert_eq!(check_precision(choice, Precision::F64), Ok(()));
        }
        assert_eq!(check_precision(DeviceChoice::Wgpu, Precision::F32), Ok(()));
    }

    #[test]
    fn a_cuda_index_libtorch_does_not_see_is_unavailable() {
        // No machine has 1000 CUDA devices; without the feature it is NotCompiled.
        let err = device(DeviceChoice::TchCuda(1000)).unwrap_err();
        if cfg!(feature = "tch") {
            assert!(
                matches!(&err, BackendError::Unavailable { name, .. } if name == "tch-cuda:1000"),
                "{err:?}"
            );
        } else {
            assert!(matches!(
                err,
                BackendError::NotCompiled { feature: "tch", .. }
            ));
        }
    }

    #[test]
    fn the_default_cpu_device_is_described() {
        let text = describe(DeviceChoice::Cpu).unwrap();
        assert!(text.starts_with("cpu: burn "), "{text}");
    }
}
