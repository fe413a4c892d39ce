//! The shared conformance suite on burn's LibTorch backend (CPU device), in f64 and f32.
//! Building needs `LIBTORCH`, running needs libtorch on `LD_LIBRARY_PATH`
//! (`eval "$(scripts/setup-libtorch.sh)"`).
lrp_conformance::conformance_tests!(lrp_tch::device(), [F64, F32]);
