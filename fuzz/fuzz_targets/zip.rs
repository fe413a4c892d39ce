//! Parses the bytes as a zip archive and reads (inflates, CRC-checks) every entry.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lrp_import::fuzz_zip(data);
    // The `.keras` archive reader on top of it (config.json + model.weights.h5).
    let _ = lrp_import::keras::read_keras(data);
});
