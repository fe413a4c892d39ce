//! Opens the bytes as an HDF5 file and walks every reachable group, dataset and attribute,
//! reading each dataset's values. Any input must give `Ok` or an `Hdf5Error`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrp_import::hdf5::{File, Group, MemberKind};

/// Bounds the walk so that a wide (but valid) tree cannot turn one input into a timeout.
const MAX_OBJECTS: usize = 256;

fn walk(group: &Group<'_>, depth: usize, budget: &mut usize) {
    if depth > 16 {
        return;
    }
    if let Ok(names) = group.attribute_names() {
        for name in names {
            let _ = group.attribute(&name);
        }
    }
    let Ok(members) = group.members() else {
        return;
    };
    for (name, kind) in members {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        match kind {
            MemberKind::Group => {
                if let Ok(child) = group.group(&name) {
                    walk(&child, depth + 1, budget);
                }
            }
            MemberKind::Dataset => {
                if let Ok(ds) = group.dataset(&name) {
                    let _ = ds.shape();
                    let _ = ds.dtype();
                    let _ = ds.read_f64();
                    if let Ok(names) = ds.attribute_names() {
                        for a in names {
                            let _ = ds.attribute(&a);
                        }
                    }
                }
            }
            MemberKind::Other => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(file) = File::from_bytes(data.to_vec()) else {
        return;
    };
    // The paths Keras files use, looked up directly (exercises path resolution and soft links).
    for path in ["/model_weights", "/layers", "/vars"] {
        let _ = file.group(path);
    }
    if let Ok(root) = file.root() {
        let mut budget = MAX_OBJECTS;
        walk(&root, 0, &mut budget);
    }
});
