//! The shared conformance suite on LibTorch's CUDA device `LRP_TCH_CUDA_INDEX` (default 0), in
//! f64 and f32. Built only with `--features cuda-tests`; fails when the device cannot start.
lrp_conformance::conformance_tests!(
    {
        let index = match std::env::var("LRP_TCH_CUDA_INDEX") {
            Ok(s) => s
                .parse()
                .unwrap_or_else(|_| panic!("LRP_TCH_CUDA_INDEX={s} is not a device index")),
            Err(_) => 0,
        };
        lrp_tch::cuda(index).unwrap_or_else(|e| panic!("{e}"))
    },
    [F64, F32]
);
