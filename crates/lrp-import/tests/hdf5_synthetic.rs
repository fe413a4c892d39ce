//! The synthetic HDF5 files of `tests/data/hdf5/` (made by `generate.py` with h5py for the
//! project's former hand-written reader) read through our `formats::hdf5::Hdf5File` wrapper:
//! every superblock version and layout they cover, with the values `generate.py` wrote.
//!
//! | file | what it is |
//! |---|---|
//! | `sb0_userblock.h5` | superblock 0 behind a 512-byte user block, old-style groups |
//! | `sb0_sizes4.h5` | superblock 0 with 4-byte offsets and lengths |
//! | `sb2_v108.h5` | superblock 2 (libver v108) |
//! | `sb3_latest.h5` | superblock 3 (libver latest) |
//! | `dense_deep.h5` | a group of 1500 links: dense storage, a depth-2 v2 B-tree |
//!
//! One thing hdf5-reader 0.12 gets wrong: variable-length strings in the 4-byte-offset file
//! come back as garbage without an error; the wrapper refuses them (`Unsupported`).

mod common;

use lrp_import::formats::hdf5::{Hdf5ErrorKind, Hdf5File};

const COMMON: [&str; 4] = [
    "sb0_userblock.h5",
    "sb0_sizes4.h5",
    "sb2_v108.h5",
    "sb3_latest.h5",
];

fn open(name: &str) -> Hdf5File {
    Hdf5File::from_bytes(common::test_data(&format!("hdf5/{name}")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn floats(file: &Hdf5File, name: &str, path: &str) -> (Vec<usize>, Vec<f64>) {
    let a = file
        .read_floats(path)
        .unwrap_or_else(|e| panic!("{name} {path}: {e}"));
    (a.shape, a.data)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn every_superblock_version_lists_its_groups() {
    for name in COMMON {
        let file = open(name);
        let root = sorted(file.members("/").unwrap());
        assert_eq!(
            root,
            [
                "chunked",
                "compact",
                "floats",
                "hard_alias",
                "ints",
                "many_attrs",
                "many_links",
                "ordered",
                "ordered_attrs",
                "ordered_dense",
                "soft",
                "strings",
            ],
            "{name}"
        );
        // The external link ("ext", to another file) is no member: it is not followed.
        assert!(!root.iter().any(|m| m == "ext"), "{name}");
        assert_eq!(
            sorted(file.members("/floats").unwrap()),
            [
                "empty",
                "empty2d",
                "f16",
                "f32be",
                "f64be",
                "scalar",
                "unwritten"
            ],
            "{name}"
        );
        assert_eq!(
            sorted(file.members("/ints").unwrap()),
            ["bool", "i16be", "i32", "u64", "u8"],
            "{name}"
        );
        // 120 hard links to one dataset (a multi-level B-tree or dense storage).
        let many = file.members("/many_links").unwrap();
        assert_eq!(many.len(), 120, "{name}");
        assert_eq!(sorted(many)[7], "link007", "{name}");
        // Groups with tracked creation order list in that order, even when dense.
        assert_eq!(
            file.members("/ordered").unwrap(),
            ["zeta", "alpha", "mid"],
            "{name}"
        );
        let dense: Vec<String> = (0..12).rev().map(|i| format!("g{i:02}")).collect();
        assert_eq!(file.members("/ordered_dense").unwrap(), dense, "{name}");
        // Groups, datasets, soft links, absences.
        assert!(file.has_group("/floats").unwrap(), "{name}");
        assert!(
            file.has_group("/soft").unwrap(),
            "{name}: a soft link to /floats"
        );
        assert!(!file.has_group("/floats/f16").unwrap(), "{name}: a dataset");
        assert!(!file.has_group("/ext").unwrap(), "{name}: an external link");
        assert!(!file.has_group("/nope").unwrap(), "{name}");
        assert!(file.members("/nope").is_err(), "{name}");
        assert!(file.members("/many_attrs").unwrap().is_empty(), "{name}");
    }
}

#[test]
fn every_superblock_version_reads_its_float_datasets() {
    for name in COMMON {
        let file = open(name);
        let f = |path| floats(&file, name, path);
        assert_eq!(
            f("/floats/f16"),
            (
                vec![5],
                vec![0.5, -2.0, 65504.0, 2f64.powi(-24), f64::INFINITY]
            ),
            "{name}"
        );
        assert_eq!(
            f("/floats/f64be"),
            (vec![3], vec![1.5, -0.25, 1e300]),
            "{name}"
        );
        assert_eq!(
            f("/floats/f32be"),
            (vec![2, 2], vec![1.5, 2.5, -3.5, 4.5]),
            "{name}"
        );
        assert_eq!(f("/floats/scalar"), (vec![], vec![3.25]), "{name}");
        assert_eq!(f("/floats/empty"), (vec![0], vec![]), "{name}");
        assert_eq!(f("/floats/empty2d"), (vec![3, 0], vec![]), "{name}");
        // Never written: the fill value.
        assert_eq!(
            f("/floats/unwritten"),
            (vec![2, 2], vec![1.25; 4]),
            "{name}"
        );
        // Chunked layouts: 2-D chunks, many chunks, gzip, sparse (fill value), a single chunk,
        // early allocation, unlimited dimensions (extensible arrays, v2 B-trees in sb3).
        let range = |n: usize, step: f64| (0..n).map(|i| i as f64 * step).collect::<Vec<_>>();
        assert_eq!(f("/chunked/c2d"), (vec![5, 7], range(35, 1.0)), "{name}");
        assert_eq!(f("/chunked/many"), (vec![300], range(300, 0.5)), "{name}");
        assert_eq!(f("/chunked/gzip"), (vec![20], range(20, 1.0)), "{name}");
        let mut sparse = vec![7.5; 10];
        sparse[..2].copy_from_slice(&[1.0, 2.0]);
        assert_eq!(f("/chunked/sparse"), (vec![10], sparse), "{name}");
        assert_eq!(f("/chunked/early"), (vec![3, 4], range(12, 1.0)), "{name}");
        assert_eq!(f("/chunked/unlimited"), (vec![8], range(8, 1.0)), "{name}");
        assert_eq!(
            f("/chunked/unlimited2"),
            (vec![2, 4], range(8, 1.0)),
            "{name}"
        );
        // Compact storage, and the same dataset through a soft link, a hard link and the
        // 120 links.
        assert_eq!(f("/compact"), (vec![3], vec![9.0, 8.0, 7.0]), "{name}");
        assert_eq!(f("/soft/f64be"), f("/floats/f64be"), "{name}");
        assert_eq!(f("/hard_alias"), f("/floats/f16"), "{name}");
        assert_eq!(f("/many_links/link119"), f("/compact"), "{name}");
        assert_eq!(f("/strings/ds"), (vec![1], vec![1.0]), "{name}");
    }
}

#[test]
fn integer_datasets_and_absent_paths_are_typed_errors() {
    for name in COMMON {
        let file = open(name);
        for path in [
            "/ints/u8",
            "/ints/i16be",
            "/ints/u64",
            "/ints/i32",
            "/ints/bool",
            "/chunked/single",
        ] {
            let err = file.read_floats(path).unwrap_err();
            assert_eq!(err.object, path);
            assert!(
                matches!(err.kind, Hdf5ErrorKind::NotFloat(_)),
                "{name} {path}: {err:?}"
            );
        }
        for path in ["/nope", "/floats/nope", "/ext", "/floats"] {
            let err = file.read_floats(path).unwrap_err();
            assert!(
                matches!(err.kind, Hdf5ErrorKind::Reader(_)),
                "{name} {path}: {err:?}"
            );
        }
    }
}

#[test]
fn string_attributes_of_every_kind() {
    for name in COMMON {
        let file = open(name);
        let attr = |path: &str, a: &str| file.string_attribute(path, a);
        let some = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        // Fixed-length strings, every padding.
        assert_eq!(
            attr("/strings", "fixed_nullpad").unwrap(),
            some(&["ab", "abcd"]),
            "{name}"
        );
        assert_eq!(
            attr("/strings", "fixed_nullterm").unwrap(),
            some(&["xy", "wxyz"]),
            "{name}"
        );
        assert_eq!(
            attr("/strings", "fixed_spacepad").unwrap(),
            some(&["a", "bb"]),
            "{name}"
        );
        // Empty float arrays are empty lists (Keras' empty weight_names); so is a null
        // dataspace.
        assert_eq!(attr("/strings", "empty_f64").unwrap(), some(&[]), "{name}");
        assert_eq!(attr("/strings", "null_space").unwrap(), some(&[]), "{name}");
        // Not text, or absent: None.
        for a in [
            "int_attr",
            "uint_arr",
            "float_2x2",
            "f32_attr",
            "compound",
            "missing",
        ] {
            assert_eq!(attr("/strings", a).unwrap(), None, "{name} {a}");
        }
        assert_eq!(attr("/many_attrs", "attr03").unwrap(), None, "{name}");
        // Attributes of a dataset are not asked for (the wrapper reads groups' attributes).
        assert!(attr("/strings/ds", "unit").is_err(), "{name}");

        // Variable-length strings: read in the files with 8-byte offsets, refused in the one
        // with 4-byte offsets (see the module documentation).
        let vlen = [
            ("/strings", "vl_scalar", some(&["héllo"])),
            ("/strings", "vl_array", some(&["a", "bc", ""])),
            ("/strings", "vl_ascii", some(&["x", "yz"])),
            ("/many_attrs", "vl", some(&["dense string"])),
            ("/", "root_attr", some(&["root"])),
        ];
        for (path, a, want) in vlen {
            if name == "sb0_sizes4.h5" {
                let err = attr(path, a).unwrap_err();
                assert_eq!(err.object, format!("{path}@{a}"));
                assert!(
                    matches!(&err.kind, Hdf5ErrorKind::Unsupported(m) if m.contains("4-byte offsets")),
                    "{name} {path}@{a}: {err:?}"
                );
            } else {
                assert_eq!(attr(path, a).unwrap(), want, "{name} {path}@{a}");
            }
        }
    }
}

#[test]
fn a_dense_group_with_a_deep_btree() {
    let file = open("dense_deep.h5");
    assert_eq!(sorted(file.members("/").unwrap()), ["g", "target"]);
    let links = sorted(file.members("/g").unwrap());
    let want: Vec<String> = (0..1500).map(|i| format!("l{i:04}")).collect();
    assert_eq!(links, want);
    for path in ["/target", "/g/l0000", "/g/l0777", "/g/l1499"] {
        assert_eq!(
            floats(&file, "dense_deep.h5", path),
            (vec![2], vec![1.0, 2.0]),
            "{path}"
        );
    }
    assert!(file.read_floats("/g/l1500").is_err());
}
