//! The shared conformance suite on burn's wgpu backend, in f32 (the only precision it computes
//! correctly). A machine without a wgpu adapter fails every test here, loudly: CI installs Mesa's
//! software Vulkan driver for it.
lrp_conformance::conformance_tests!(lrp_wgpu::device().unwrap_or_else(|e| panic!("{e}")), [F32]);
