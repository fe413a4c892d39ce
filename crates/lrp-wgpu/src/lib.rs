//! # lrp-wgpu
//!
//! burn's wgpu backend for lstm-lrp: any GPU that wgpu can drive (Vulkan, Metal, DirectX 12,
//! OpenGL), or Mesa's software Vulkan driver ("llvmpipe", lavapipe) on a machine without one.
//!
//! - **f32 only.** A wgpu device may claim f64 support and still compute garbage (lavapipe
//!   returns wrong `exp`/`tanh` in f64), so [`check_precision`] and [`model`] refuse
//!   [`Precision::F64`] with [`WgpuError::Precision`].
//! - **Start-up errors are values.** burn's lazy `Device::wgpu` panics on a worker thread when
//!   there is no adapter; [`device`] and [`open`] initialise the runtime eagerly through
//!   `Device::wgpu_options()…init()` and return [`WgpuError::NoAdapter`] instead.
//! - **The graphics API is reported.** [`open`] returns the adapter wgpu chose
//!   ([`AdapterInfo`]: name, graphics API, device type, driver), read from the wgpu setup burn
//!   initialised (burn's `Device` itself does not say which API it runs on).
//!
//! ```no_run
//! use lrp_core::{LstmModel, Precision};
//! # let params: lrp_core::ModelParams = unimplemented!();
//! let gpu = lrp_wgpu::open(lrp_wgpu::DeviceKind::DefaultDevice, lrp_wgpu::GraphicsApi::Auto)?;
//! println!("running on {}", gpu.adapter); // e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Cpu) on Vulkan, driver llvmpipe"
//! let model = lrp_wgpu::model(&params, &gpu.device, Precision::F32)?;
//! assert!(lrp_wgpu::model(&params, &gpu.device, Precision::F64).is_err());
//! # Ok::<(), lrp_wgpu::WgpuError>(())
//! ```
//!
//! On Linux without a GPU, install the software driver with
//! `apt-get install mesa-vulkan-drivers libvulkan1`. Without `libvulkan` wgpu falls back to
//! OpenGL (reported as such by [`open`]); with no driver at all [`device`] returns
//! [`WgpuError::NoAdapter`].

use std::sync::{Mutex, MutexGuard};

use burn::tensor::Device;
use burn::tensor::wgpu::{WgpuInitError, wgpu};
use lrp_core::{LstmModel, ModelParams, Precision};
use thiserror::Error;

pub use burn::tensor::DeviceKind;
/// A graphics API for wgpu; [`GraphicsApi::Auto`] lets wgpu choose (Vulkan first on Linux).
pub use burn::tensor::wgpu::WgpuBackend as GraphicsApi;

/// Precisions this backend computes correctly.
pub const PRECISIONS: [Precision; 1] = [Precision::F32];

/// Why a wgpu device or model cannot be had.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum WgpuError {
    /// No adapter matches the selection (no GPU, no driver, or an index past the last one).
    #[error(
        "no wgpu adapter for {kind:?} on {api:?}: {message} (without a GPU, install Mesa's \
         software Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1)"
    )]
    NoAdapter {
        /// The adapter asked for.
        kind: DeviceKind,
        /// The graphics API asked for.
        api: GraphicsApi,
        /// wgpu's explanation.
        message: String,
    },
    /// The graphics API is not compiled into this build of wgpu.
    #[error("graphics API {api:?} is not available in this build of wgpu")]
    UnsupportedApi {
        /// The graphics API asked for.
        api: GraphicsApi,
    },
    /// An adapter was found but the runtime could not start on it.
    #[error("wgpu could not start {kind:?} on {api:?}: {message}")]
    Start {
        /// The adapter asked for.
        kind: DeviceKind,
        /// The graphics API asked for.
        api: GraphicsApi,
        /// wgpu's or burn's explanation.
        message: String,
    },
    /// The precision is not one this backend computes correctly.
    #[error("the wgpu backend computes in f32 only; {precision} was asked for")]
    Precision {
        /// The precision asked for.
        precision: Precision,
    },
    /// Building the model failed.
    #[error(transparent)]
    Model(#[from] lrp_core::LrpError),
}

/// The adapter a wgpu device runs on, as wgpu reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterInfo {
    /// The adapter's name, e.g. `NVIDIA H200` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// The graphics API the device runs on (never [`GraphicsApi::Auto`] for a started device).
    pub api: GraphicsApi,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` (a software driver) or `Other`.
    pub device_type: String,
    /// The driver's name and version, as the driver states them (may be empty).
    pub driver: String,
}

impl core::fmt::Display for AdapterInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({}) on {:?}", self.name, self.device_type, self.api)?;
        if !self.driver.is_empty() {
            write!(f, ", driver {}", self.driver)?;
        }
        Ok(())
    }
}

/// A started wgpu device and the adapter it runs on.
#[derive(Debug, Clone)]
pub struct WgpuDevice {
    /// The burn device: clone it freely, it names the same runtime.
    pub device: Device,
    /// The adapter wgpu chose.
    pub adapter: AdapterInfo,
}

type Started = Result<WgpuDevice, WgpuError>;

/// Devices started in this process, by selection: burn's runtime for a selection can be
/// initialised once, so every later request returns the first outcome.
static STARTED: Mutex<Vec<((DeviceKind, GraphicsApi), Started)>> = Mutex::new(Vec::new());

fn started() -> MutexGuard<'static, Vec<((DeviceKind, GraphicsApi), Started)>> {
    // A panic while holding the lock cannot leave the list inconsistent (it is only pushed to).
    STARTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts (once per process) and returns the wgpu device for an adapter selection.
///
/// `kind` picks the adapter ([`DeviceKind::DefaultDevice`]: wgpu's choice, a high-performance
/// GPU first, overridable with `CUBECL_WGPU_DEFAULT_DEVICE`; `DiscreteGpu(i)`,
/// `IntegratedGpu(i)`, `VirtualGpu(i)`: the i-th adapter of that type; `Cpu`: a software
/// adapter). `api` pins the graphics API or leaves it to wgpu ([`GraphicsApi::Auto`]).
///
/// # Errors
/// [`WgpuError::NoAdapter`] when no adapter matches, [`WgpuError::UnsupportedApi`] when the API
/// is not compiled in, [`WgpuError::Start`] when the runtime cannot start (also when burn's
/// runtime for this selection was already started by other code, e.g. a lazy `Device::wgpu`).
pub fn open(kind: DeviceKind, api: GraphicsApi) -> Result<WgpuDevice, WgpuError> {
    let mut started = started();
    if let Some((_, outcome)) = started.iter().find(|((k, a), _)| *k == kind && *a == api) {
        return outcome.clone();
    }
    let outcome = start(&kind, api);
    started.push(((kind, api), outcome.clone()));
    outcome
}

/// The default adapter on the graphics API wgpu prefers: `open(DefaultDevice, Auto)`.
///
/// # Errors
/// As [`open`].
pub fn device() -> Result<Device, WgpuError> {
    open(DeviceKind::DefaultDevice, GraphicsApi::Auto).map(|d| d.device)
}

/// The adapter of a kind and index (e.g. `DeviceKind::DiscreteGpu(1)`) on the graphics API
/// wgpu prefers.
///
/// # Errors
/// As [`open`].
pub fn device_of(kind: DeviceKind) -> Result<Device, WgpuError> {
    open(kind, GraphicsApi::Auto).map(|d| d.device)
}

/// `Ok` for the precisions this backend computes correctly ([`PRECISIONS`]).
///
/// # Errors
/// [`WgpuError::Precision`] for [`Precision::F64`].
pub fn check_precision(precision: Precision) -> Result<(), WgpuError> {
    if PRECISIONS.contains(&precision) {
        Ok(())
    } else {
        Err(WgpuError::Precision { precision })
    }
}

/// An [`LstmModel`] on a wgpu device, refusing precisions the backend cannot compute.
///
/// # Errors
/// [`WgpuError::Precision`] for f64; [`WgpuError::Model`] for what [`LstmModel::new`] refuses.
pub fn model(
    params: &ModelParams,
    device: &Device,
    precision: Precision,
) -> Result<LstmModel, WgpuError> {
    check_precision(precision)?;
    Ok(LstmModel::new(params, device, precision)?)
}

fn start(kind: &DeviceKind, api: GraphicsApi) -> Started {
    let (device, setup) = Device::wgpu_options()
        .device_kind(kind.clone())
        .graphics_api(api)
        .init_with_setup()
        .map_err(|e| match e {
            WgpuInitError::AdapterUnavailable { message, .. } => WgpuError::NoAdapter {
                kind: kind.clone(),
                api,
                message,
            },
            WgpuInitError::UnsupportedGraphicsApi { api } => WgpuError::UnsupportedApi { api },
            other => WgpuError::Start {
                kind: kind.clone(),
                api,
                message: other.to_string(),
            },
        })?;
    let info = setup.adapter.get_info();
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(WgpuDevice {
        device,
        adapter: AdapterInfo {
            name: info.name,
            api: graphics_api(setup.backend),
            device_type: format!("{:?}", info.device_type),
            driver,
        },
    })
}

fn graphics_api(backend: wgpu::Backend) -> GraphicsApi {
    match backend {
        wgpu::Backend::Vulkan => GraphicsApi::Vulkan,
        wgpu::Backend::Metal => GraphicsApi::Metal,
        wgpu::Backend::Dx12 => GraphicsApi::Dx12,
        wgpu::Backend::Gl => GraphicsApi::Gl,
        wgpu::Backend::BrowserWebGpu => GraphicsApi::WebGpu,
        // wgpu's no-op backend (tests) has no graphics API of its own.
        _ => GraphicsApi::Auto,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_is_refused_and_f32_accepted() {
        assert_eq!(check_precision(Precision::F32), Ok(()));
        let err = check_precision(Precision::F64).unwrap_err();
        assert_eq!(
            err,
            WgpuError::Precision {
                precision: Precision::F64
            }
        );
        assert!(err.to_string().contains("f32 only"), "{err}");
    }

    #[test]
    fn adapter_info_names_the_api() {
        let info = AdapterInfo {
            name: "llvmpipe".into(),
            api: GraphicsApi::Vulkan,
            device_type: "Cpu".into(),
            driver: String::new(),
        };
        assert_eq!(info.to_string(), "llvmpipe (Cpu) on Vulkan");
    }
}
