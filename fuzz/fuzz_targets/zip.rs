//! Parses the bytes as a zip archive with `formats::zip::Archive` (over the `zip` crate, entry
//! sizes capped) and reads (inflates, CRC-checks) every entry; then the same bytes as a
//! `.keras` archive through `read_model` (config.json + model.weights.h5).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use lrp_import::formats::zip::Archive;
use lrp_import::{LoadOptions, ModelFormat, read_model};

#[path = "tmpfile.rs"]
mod tmpfile;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut archive) = Archive::new(Cursor::new(data)) {
        for name in archive.names() {
            let _ = archive.contains(&name);
            let _ = archive.read(&name);
        }
        let _ = archive.read("no/such/entry");
    }
    let path = tmpfile::write("input.keras", data);
    let options = LoadOptions {
        format: Some(ModelFormat::Keras),
        ..LoadOptions::default()
    };
    let _ = read_model(&path, &options);
});
