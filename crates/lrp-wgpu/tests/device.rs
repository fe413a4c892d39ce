//! Start-up and precision behaviour of the wgpu device (needs a wgpu adapter: a GPU, or Mesa's
//! software Vulkan driver).

use lrp_conformance::random::{Rng, SingleLayer};
use lrp_core::Precision;
use lrp_wgpu::{DeviceKind, GraphicsApi, WgpuError};

#[test]
fn the_default_device_starts_and_reports_its_adapter() {
    let gpu = lrp_wgpu::open(DeviceKind::DefaultDevice, GraphicsApi::Auto)
        .unwrap_or_else(|e| panic!("{e}"));
    println!("wgpu adapter: {}", gpu.adapter);
    assert!(!gpu.adapter.name.is_empty());
    assert_ne!(gpu.adapter.api, GraphicsApi::Auto, "the API actually used");
    // `LRP_WGPU_EXPECT_API=Vulkan` (CI) makes a silent fallback to OpenGL a failure.
    if let Ok(expected) = std::env::var("LRP_WGPU_EXPECT_API") {
        assert_eq!(
            format!("{:?}", gpu.adapter.api),
            expected,
            "{}",
            gpu.adapter
        );
    }
    // A second request returns the same device instead of failing to re-initialise burn's runtime.
    let again = lrp_wgpu::device().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, gpu.device);
}

#[test]
fn a_missing_adapter_is_a_typed_error_not_a_panic() {
    let err = lrp_wgpu::device_of(DeviceKind::DiscreteGpu(99)).unwrap_err();
    assert!(
        matches!(
            err,
            WgpuError::NoAdapter {
                kind: DeviceKind::DiscreteGpu(99),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("no wgpu adapter"), "{err}");
    // The outcome is remembered, not retried into a half-initialised runtime.
    assert_eq!(lrp_wgpu::device_of(DeviceKind::DiscreteGpu(99)), Err(err));
}

#[test]
fn f64_models_are_refused_f32_models_run() {
    let device = lrp_wgpu::device().unwrap_or_else(|e| panic!("{e}"));
    let params = SingleLayer {
        e: 3,
        h: 2,
        c: 2,
        bidirectional: true,
    }
    .random(&mut Rng::new(1));
    let err = lrp_wgpu::model(&params, &device, Precision::F64).unwrap_err();
    assert_eq!(
        err,
        WgpuError::Precision {
            precision: Precision::F64
        }
    );
    let model = lrp_wgpu::model(&params, &device, Precision::F32).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.precision(), Precision::F32);
}
