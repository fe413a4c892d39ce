//! Opens the bytes as an HDF5 file with our wrapper (`formats::hdf5::Hdf5File`, over
//! `hdf5-reader` with reads bounded by the file size) and walks every reachable group, reading
//! each dataset's values and the attributes Keras files carry. Any input must give `Ok` or an
//! `Hdf5Error`, never a panic, an abort or an allocation the file does not justify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrp_import::formats::hdf5::Hdf5File;

/// Bounds the walk so that a wide (but valid) tree cannot turn one input into a timeout.
const MAX_OBJECTS: usize = 256;

/// The attributes the Keras importer reads (and a name no file has).
const ATTRIBUTES: [&str; 8] = [
    "model_config",
    "keras_version",
    "backend",
    "layer_names",
    "weight_names",
    "weight_names0",
    "name",
    "no_such_attribute",
];

fn walk(file: &Hdf5File, path: &str, depth: usize, budget: &mut usize) {
    if depth > 16 {
        return;
    }
    for name in ATTRIBUTES {
        let _ = file.string_attribute(path, name);
    }
    let Ok(members) = file.members(path) else {
        return;
    };
    for name in members {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let child = if path == "/" {
            format!("/{name}")
        } else {
            format!("{path}/{name}")
        };
        match file.has_group(&child) {
            Ok(true) => walk(file, &child, depth + 1, budget),
            Ok(false) => {
                let _ = file.read_floats(&child);
            }
            Err(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(file) = Hdf5File::from_bytes(data.to_vec()) else {
        return;
    };
    // The paths Keras files use, looked up directly (path resolution, soft links).
    for path in ["/model_weights", "/layers", "/vars", "/layers/dense/vars/0"] {
        let _ = file.has_group(path);
        let _ = file.read_floats(path);
    }
    let mut budget = MAX_OBJECTS;
    walk(&file, "/", 0, &mut budget);
});
