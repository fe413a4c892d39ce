//! The compute backends compiled into this build, chosen by cargo feature, and selection by
//! name (the CLI's `--device`).

use burn::tensor::Device;
use lrp_core::burn;
use thiserror::Error;

/// A device by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The fastest CPU backend compiled in ([`default_device`]).
    Cpu,
    /// burn's NdArray backend (feature `ndarray`).
    NdArray,
    /// burn's Flex backend (feature `flex`).
    Flex,
}

/// A device that cannot be had in this build or on this machine.
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
}

impl core::str::FromStr for DeviceChoice {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "ndarray" => Ok(DeviceChoice::NdArray),
            "flex" => Ok(DeviceChoice::Flex),
            other => Err(BackendError::Unknown(other.to_string())),
        }
    }
}

/// The device names this build accepts.
pub fn available_devices() -> Vec<&'static str> {
    let mut names = vec!["cpu"];
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    names
}

/// The device for a choice.
pub fn device(choice: DeviceChoice) -> Result<Device, BackendError> {
    match choice {
        DeviceChoice::Cpu => Ok(default_device()),
        DeviceChoice::NdArray => ndarray_device(),
        DeviceChoice::Flex => flex_device(),
    }
}

/// The fastest CPU backend in this build: Flex when the `flex` feature is on (the default),
/// otherwise NdArray.
///
/// # Panics
/// When the crate is built without any CPU backend feature.
pub fn default_device() -> Device {
    flex_device()
        .or_else(|_| ndarray_device())
        .expect("lstm-lrp needs the `flex` or `ndarray` feature for a CPU device")
}

fn ndarray_device() -> Result<Device, BackendError> {
    #[cfg(feature = "ndarray")]
    {
        Ok(lrp_ndarray::device())
    }
    #[cfg(not(feature = "ndarray"))]
    {
        Err(BackendError::NotCompiled {
            name: "ndarray".into(),
            feature: "ndarray",
        })
    }
}

fn flex_device() -> Result<Device, BackendError> {
    #[cfg(feature = "flex")]
    {
        Ok(lrp_flex::device())
    }
    #[cfg(not(feature = "flex"))]
    {
        Err(BackendError::NotCompiled {
            name: "flex".into(),
            feature: "flex",
        })
    }
}
