//! Reads the bytes as a NumPy `.npy` array, as floats and as integers, whole and by rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrp_import::formats::npy;

fuzz_target!(|data: &[u8]| {
    let _ = npy::is_npy(data);
    let _ = npy::holds_floats(data);
    let _ = npy::read_f64(data);
    let _ = npy::read_i64(data);
    // The row reader the CLI streams `.npy` inputs with: two halves, then past the end.
    if let Ok(mut rows) = npy::RowReader::new(std::io::Cursor::new(data)) {
        let n = rows.shape()[0];
        let half = n / 2;
        if rows.holds_floats() {
            let _ = rows.read_f64(0..half);
            let _ = rows.read_f64(half..n);
        } else {
            let _ = rows.read_i64(0..half);
            let _ = rows.read_i64(half..n);
        }
        let _ = rows.read_f64(n..n.saturating_add(1));
    }
});
