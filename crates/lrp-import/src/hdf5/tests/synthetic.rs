//! Synthetic files from `testdata/generate.py` covering format variants
//! the Keras fixtures do not use (expected values are the script's inputs).

use super::{DENSE_DEEP, SB0_SIZES4, SB0_USERBLOCK, SB2_V108, SB3_LATEST, walk};
use crate::hdf5::layout::{ChunkIndex, Layout};
use crate::hdf5::object_header::msg;
use crate::hdf5::reader::Cursor;
use crate::hdf5::{AttrValue, File, Hdf5Error, MemberKind, ScalarType};

fn read(f: &File, path: &str) -> Vec<f64> {
    f.dataset(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .read_f64()
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn attr(f: &File, group: &str, name: &str) -> AttrValue {
    f.group(group).unwrap().attribute(name).unwrap().unwrap()
}

fn strs(v: &[&str]) -> AttrValue {
    AttrValue::Strings(v.iter().map(|s| s.to_string()).collect())
}

/// Content shared by all four variants (see `common_content` in generate.py).
fn check_common(name: &str, bytes: &[u8], extensible_index: bool) {
    let f = File::from_bytes(bytes.to_vec()).unwrap();
    let kinds: Vec<(String, MemberKind)> = f.root().unwrap().members().unwrap();
    let expect: Vec<(&str, MemberKind)> = vec![
        ("chunked", MemberKind::Group),
        ("compact", MemberKind::Dataset),
        ("ext", MemberKind::Other),
        ("floats", MemberKind::Group),
        ("hard_alias", MemberKind::Dataset),
        ("ints", MemberKind::Group),
        ("many_attrs", MemberKind::Group),
        ("many_links", MemberKind::Group),
        ("ordered", MemberKind::Group),
        ("ordered_attrs", MemberKind::Group),
        ("ordered_dense", MemberKind::Group),
        ("soft", MemberKind::Group),
        ("strings", MemberKind::Group),
    ];
    let expect: Vec<(String, MemberKind)> = expect
        .into_iter()
        .map(|(n, k)| (n.to_string(), k))
        .collect();
    assert_eq!(kinds, expect, "{name}");

    // integers of every size/sign/byte order, enum (bool)
    assert_eq!(read(&f, "/ints/u8"), vec![1.0, 2.0, 250.0]);
    assert_eq!(read(&f, "/ints/i16be"), vec![-1.0, 300.0, -32768.0]);
    assert_eq!(read(&f, "/ints/u64"), vec![0.0, 2f64.powi(40), 7.0]);
    // unsigned 64-bit values above i64::MAX still convert to f64
    let big = crate::hdf5::attribute::ints_as_f64(
        &[0xff; 8],
        &crate::hdf5::datatype::Datatype::Int {
            size: 8,
            signed: false,
            big_endian: false,
        },
    )
    .unwrap();
    assert_eq!(big, vec![u64::MAX as f64]);
    assert_eq!(read(&f, "/ints/i32"), vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0]);
    assert_eq!(f.dataset("/ints/i32").unwrap().shape(), &[2, 3]);
    assert_eq!(read(&f, "/ints/bool"), vec![1.0, 0.0, 1.0]);
    assert_eq!(
        f.dataset("/ints/u64").unwrap().dtype(),
        ScalarType::Int {
            bytes: 8,
            signed: false
        }
    );

    // floats: half, big-endian, scalar, empty, never written (fill value)
    assert_eq!(
        read(&f, "/floats/f16"),
        vec![0.5, -2.0, 65504.0, 2f64.powi(-24), f64::INFINITY]
    );
    assert_eq!(
        f.dataset("/floats/f16").unwrap().dtype(),
        ScalarType::Float { bytes: 2 }
    );
    assert_eq!(read(&f, "/floats/f64be"), vec![1.5, -0.25, 1e300]);
    assert_eq!(read(&f, "/floats/f32be"), vec![1.5, 2.5, -3.5, 4.5]);
    let scalar = f.dataset("/floats/scalar").unwrap();
    assert_eq!(scalar.shape(), &[] as &[usize]);
    assert_eq!(scalar.read_f64().unwrap(), vec![3.25]);
    assert_eq!(read(&f, "/floats/empty"), Vec::<f64>::new());
    assert_eq!(f.dataset("/floats/empty2d").unwrap().shape(), &[3, 0]);
    assert_eq!(read(&f, "/floats/empty2d"), Vec::<f64>::new());
    assert_eq!(read(&f, "/floats/unwritten"), vec![1.25; 4]);

    // layouts
    assert_eq!(read(&f, "/compact"), vec![9.0, 8.0, 7.0]);
    let c2d: Vec<f64> = (0..35).map(f64::from).collect();
    assert_eq!(read(&f, "/chunked/c2d"), c2d);
    let many: Vec<f64> = (0..300).map(|i| f64::from(i) * 0.5).collect();
    assert_eq!(read(&f, "/chunked/many"), many);
    assert_eq!(
        read(&f, "/chunked/single"),
        vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    );
    let early: Vec<f64> = (0..12).map(f64::from).collect();
    assert_eq!(read(&f, "/chunked/early"), early);
    let mut sparse = vec![7.5; 10];
    sparse[0] = 1.0;
    sparse[1] = 2.0;
    assert_eq!(read(&f, "/chunked/sparse"), sparse);
    let gz = f.dataset("/chunked/gzip").unwrap();
    assert_eq!(gz.shape(), &[20]);
    match gz.read_f64().unwrap_err().root_cause() {
        Hdf5Error::Unsupported { feature } => assert!(feature.contains("deflate"), "{feature}"),
        e => panic!("{e:?}"),
    }
    let eight: Vec<f64> = (0..8).map(f64::from).collect();
    for p in ["/chunked/unlimited", "/chunked/unlimited2"] {
        let r = f.dataset(p).unwrap().read_f64();
        if extensible_index {
            assert!(
                matches!(
                    r.as_ref().map_err(|e| e.root_cause()),
                    Err(Hdf5Error::Unsupported { .. })
                ),
                "{name} {p}: {r:?}"
            );
        } else {
            assert_eq!(r.unwrap(), eight, "{name} {p}");
        }
    }

    // attributes of every flavour
    let g = "/strings";
    assert_eq!(attr(&f, g, "vl_scalar"), strs(&["héllo"]));
    assert_eq!(attr(&f, g, "vl_array"), strs(&["a", "bc", ""]));
    assert_eq!(attr(&f, g, "vl_ascii"), strs(&["x", "yz"]));
    assert_eq!(attr(&f, g, "fixed_nullpad"), strs(&["ab", "abcd"]));
    assert_eq!(attr(&f, g, "fixed_nullterm"), strs(&["xy", "wxyz"]));
    assert_eq!(attr(&f, g, "fixed_spacepad"), strs(&["a", "bb"]));
    assert_eq!(
        attr(&f, g, "int_attr"),
        AttrValue::Ints {
            shape: vec![],
            data: vec![-42]
        }
    );
    assert_eq!(
        attr(&f, g, "uint_arr"),
        AttrValue::Ints {
            shape: vec![3],
            data: vec![1, 2, 3]
        }
    );
    assert_eq!(
        attr(&f, g, "float_2x2"),
        AttrValue::Floats {
            shape: vec![2, 2],
            data: vec![1.0, 2.0, 3.0, 4.0]
        }
    );
    assert_eq!(
        attr(&f, g, "f32_attr"),
        AttrValue::Floats {
            shape: vec![],
            data: vec![0.5]
        }
    );
    assert_eq!(
        attr(&f, g, "empty_f64"),
        AttrValue::Floats {
            shape: vec![0],
            data: vec![]
        }
    );
    assert_eq!(
        attr(&f, g, "null_space"),
        AttrValue::Floats {
            shape: vec![],
            data: vec![]
        }
    );
    let compound = f.group(g).unwrap().attribute("compound").unwrap_err();
    assert!(matches!(
        compound.root_cause(),
        Hdf5Error::Unsupported { .. }
    ));
    assert!(
        compound.to_string().contains("/strings@compound"),
        "{compound}"
    );
    assert_eq!(
        f.dataset("/strings/ds").unwrap().attribute("unit").unwrap(),
        Some(strs(&["m"]))
    );
    assert_eq!(attr(&f, "/", "root_attr"), strs(&["root"]));

    // links: soft link followed, hard alias, external reported as Other
    assert_eq!(read(&f, "/soft/f16"), read(&f, "/hard_alias"));
    assert_eq!(
        f.dataset("/soft/f16").unwrap().object_id(),
        f.dataset("/floats/f16").unwrap().object_id()
    );
    assert!(matches!(
        f.dataset("/ext").unwrap_err(),
        Hdf5Error::Unsupported { .. }
    ));

    // many links (multi-node symbol table / dense storage), name order
    let links = f.group("/many_links").unwrap().members().unwrap();
    assert_eq!(links.len(), 120);
    for (i, (n, k)) in links.iter().enumerate() {
        assert_eq!(
            (n.as_str(), *k),
            (format!("link{i:03}").as_str(), MemberKind::Dataset)
        );
    }
    assert_eq!(read(&f, "/many_links/link077"), vec![9.0, 8.0, 7.0]);

    // creation-ordered groups (compact and dense) keep creation order
    let names = |p: &str| -> Vec<String> {
        f.group(p)
            .unwrap()
            .members()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    assert_eq!(names("/ordered"), vec!["zeta", "alpha", "mid"]);
    let dense: Vec<String> = (0..12).rev().map(|i| format!("g{i:02}")).collect();
    assert_eq!(names("/ordered_dense"), dense);

    // many attributes (dense storage in new-style files), name order
    let a = f.group("/many_attrs").unwrap();
    let mut expect: Vec<String> = (0..20).map(|i| format!("attr{i:02}")).collect();
    expect.push("vl".into());
    assert_eq!(a.attribute_names().unwrap(), expect);
    assert_eq!(
        a.attribute("attr13").unwrap(),
        Some(AttrValue::Floats {
            shape: vec![],
            data: vec![19.5]
        })
    );
    assert_eq!(a.attribute("vl").unwrap(), Some(strs(&["dense string"])));
    // creation-ordered attributes
    let o = f.group("/ordered_attrs").unwrap();
    let expect: Vec<String> = (0..12).rev().map(|i| format!("z{i:02}")).collect();
    assert_eq!(o.attribute_names().unwrap(), expect);
    assert_eq!(
        o.attribute("z03").unwrap(),
        Some(AttrValue::Ints {
            shape: vec![],
            data: vec![8]
        })
    );

    // nothing else in the file fails
    let errors: Vec<String> = walk(&f)
        .into_iter()
        .filter(|l| l.contains("ERR") || l.contains("Err("))
        .filter(|l| !l.contains("gzip") && !l.contains("compound") && !l.contains("unlimited"))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
}

#[test]
fn superblock_v0_with_user_block() {
    let f = File::from_bytes(SB0_USERBLOCK.to_vec()).unwrap();
    assert_eq!(f.superblock_version(), 0);
    check_common("sb0_userblock", SB0_USERBLOCK, false);
}

#[test]
fn superblock_v0_with_4_byte_offsets() {
    check_common("sb0_sizes4", SB0_SIZES4, false);
}

#[test]
fn superblock_v2() {
    assert_eq!(
        File::from_bytes(SB2_V108.to_vec())
            .unwrap()
            .superblock_version(),
        2
    );
    check_common("sb2_v108", SB2_V108, false);
}

#[test]
fn superblock_v3_latest_format() {
    assert_eq!(
        File::from_bytes(SB3_LATEST.to_vec())
            .unwrap()
            .superblock_version(),
        3
    );
    check_common("sb3_latest", SB3_LATEST, true);
}

/// The latest-format file really exercises the v4 chunk indexes and a
/// multi-level v2 B-tree (guards against silently testing less).
#[test]
fn latest_format_uses_v4_chunk_indexes() {
    let f = File::from_bytes(SB3_LATEST.to_vec()).unwrap();
    let index = |p: &str| {
        let ds = f.dataset(p).unwrap();
        match Layout::parse(&f.ctx(), ds_layout_bytes(&f, p)).unwrap() {
            Layout::Chunked { index, .. } => index,
            other => panic!("{p}: {other:?} ({ds:?})"),
        }
    };
    assert!(matches!(
        index("/chunked/c2d"),
        ChunkIndex::FixedArray { .. }
    ));
    assert!(matches!(
        index("/chunked/many"),
        ChunkIndex::FixedArray { .. }
    ));
    assert!(matches!(
        index("/chunked/single"),
        ChunkIndex::Single { .. }
    ));
    assert!(matches!(
        index("/chunked/early"),
        ChunkIndex::Implicit { .. }
    ));
    assert!(btree_depth(&f, "/many_links") >= 1);
}

fn ds_layout_bytes<'f>(f: &'f File, path: &str) -> &'f [u8] {
    let root = f.root().unwrap();
    let (_, h) = f.open("/", &root.header, path).unwrap();
    h.first(msg::LAYOUT).unwrap().data
}

/// Depth of the dense link name index of group `path`.
fn btree_depth(f: &File, path: &str) -> u16 {
    let g = f.group(path).unwrap();
    let ctx = f.ctx();
    let info = g.header.first(msg::LINK_INFO).unwrap();
    let mut c = Cursor::new(info.data);
    let flags = {
        c.u8("").unwrap();
        c.u8("").unwrap()
    };
    if flags & 1 != 0 {
        c.u64("").unwrap();
    }
    let _heap = ctx.addr(&mut c, "").unwrap();
    let btree = ctx.addr(&mut c, "").unwrap().unwrap();
    let mut b = ctx.cursor_at(btree, "").unwrap();
    b.skip(12, "").unwrap();
    b.u16("").unwrap()
}

#[test]
fn dense_links_depth2_btree() {
    let f = File::from_bytes(DENSE_DEEP.to_vec()).unwrap();
    assert_eq!(f.superblock_version(), 3);
    assert_eq!(btree_depth(&f, "/g"), 2);
    let members = f.group("/g").unwrap().members().unwrap();
    assert_eq!(members.len(), 1500);
    for (i, (n, k)) in members.iter().enumerate() {
        assert_eq!(n, &format!("l{i:04}"));
        assert_eq!(*k, MemberKind::Dataset);
    }
    assert_eq!(read(&f, "/g/l1234"), vec![1.0, 2.0]);
    assert!(matches!(
        f.dataset("/g/l1500").unwrap_err(),
        Hdf5Error::NotFound { .. }
    ));
}

#[test]
fn checksums_are_verified() {
    // flip one bit of the root object header address in the v3 superblock
    let mut b = SB3_LATEST.to_vec();
    b[8 + 4 + 8 * 3] ^= 0x01;
    assert_eq!(
        File::from_bytes(b).unwrap_err(),
        Hdf5Error::ChecksumMismatch { what: "superblock" }
    );
}
