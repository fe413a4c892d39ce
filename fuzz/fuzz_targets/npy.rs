//! Reads the bytes as a NumPy `.npy` array, as floats and as integers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lrp_import::npy::is_npy(data);
    let _ = lrp_import::npy::holds_floats(data);
    let _ = lrp_import::npy::read_f64(data);
    let _ = lrp_import::npy::read_i64(data);
});
