//! Hand-built pickles and archives: views, dtypes, nesting, zip variants,
//! legacy details and refusals.

#[path = "pytorch_common/mod.rs"]
mod common;

use common::{
    Pk, TensorDesc, ZipOpts, f32_bytes, legacy_file, state_dict_pickle, torch_zip, write_zip,
};
use lrp_import::pytorch::{DType, PtError, read_state_dict};

fn seq(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.5 - 1.0).collect()
}

fn zip_sd(tensors: &[TensorDesc<'_>], storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    torch_zip(
        &state_dict_pickle(tensors),
        storages,
        Some("little"),
        ZipOpts::torch(),
    )
}

#[test]
fn os_system_is_refused_at_global() {
    // GLOBAL os.system, then 'echo pwned', TUPLE1, REDUCE, STOP.
    let mut p = Pk::new(2);
    p.global("os", "system").str("echo pwned").op(0x85).op(b'R');
    let pickle = p.stop();
    let expected = PtError::ForbiddenGlobal {
        module: "os".into(),
        name: "system".into(),
    };
    let file = torch_zip(&pickle, &[], Some("little"), ZipOpts::torch());
    assert_eq!(read_state_dict(&file).unwrap_err(), expected);

    // Refused at the GLOBAL itself: the bytes after it are never looked at.
    let mut cut = pickle[..2 + "cos\nsystem\n".len()].to_vec();
    cut.extend([0xff; 4]);
    let file = torch_zip(&cut, &[], None, ZipOpts::torch());
    assert_eq!(read_state_dict(&file).unwrap_err(), expected);

    // Same inside a state dict, and via STACK_GLOBAL (protocol 4).
    let mut p = Pk::new(4);
    p.empty_ordered_dict()
        .mark()
        .str("w")
        .stack_global("builtins", "exec");
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert_eq!(
        read_state_dict(&file).unwrap_err(),
        PtError::ForbiddenGlobal {
            module: "builtins".into(),
            name: "exec".into()
        }
    );

    // And in the legacy format.
    let mut p = Pk::new(2);
    p.global("subprocess", "Popen");
    let file = legacy_file(&p.stop(), &[]);
    assert!(
        matches!(read_state_dict(&file), Err(PtError::ForbiddenGlobal { module, .. }) if module == "subprocess")
    );
}

#[test]
fn transposed_view_with_storage_offset() {
    // Storage of 10 floats; "t" is the transpose (3x2) of the 2x3 block at
    // offset 2; "c" a contiguous 2x2 at offset 5; "s" a 0-dim scalar at 9;
    // "r" a strided row selection [[0, 2], [6, 8]] (shape 2x2, strides 6, 2).
    let data = seq(10);
    let file = zip_sd(
        &[
            ("t", "FloatStorage", "0", 10, 2, &[3, 2], &[1, 3]),
            ("c", "FloatStorage", "0", 10, 5, &[2, 2], &[2, 1]),
            ("s", "FloatStorage", "0", 10, 9, &[], &[]),
            ("r", "FloatStorage", "0", 10, 0, &[2, 2], &[6, 2]),
        ],
        &[("0", f32_bytes(&data))],
    );
    let sd = read_state_dict(&file).expect("read");
    let v = |i: usize| f64::from(data[i]);
    let t = sd.get("t").unwrap();
    assert_eq!(t.shape, vec![3, 2]);
    assert_eq!(t.data, vec![v(2), v(5), v(3), v(6), v(4), v(7)]);
    let c = sd.get("c").unwrap();
    assert_eq!(c.data, vec![v(5), v(6), v(7), v(8)]);
    let s = sd.get("s").unwrap();
    assert!(s.shape.is_empty());
    assert_eq!(s.data, vec![v(9)]);
    assert_eq!(sd.get("r").unwrap().data, vec![v(0), v(2), v(6), v(8)]);
    assert_eq!(sd.names().collect::<Vec<_>>(), ["t", "c", "s", "r"]);
}

#[test]
fn view_outside_storage_is_refused() {
    let file = zip_sd(
        &[("t", "FloatStorage", "0", 6, 1, &[3, 2], &[1, 3])],
        &[("0", f32_bytes(&seq(6)))],
    );
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Layout { .. })
    ));
    // Storage entry shorter than the persistent id says.
    let file = zip_sd(
        &[("t", "FloatStorage", "0", 6, 0, &[6], &[1])],
        &[("0", f32_bytes(&seq(5)))],
    );
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Truncated { .. })
    ));
    // Storage entry absent.
    let file = zip_sd(
        &[("t", "FloatStorage", "7", 6, 0, &[6], &[1])],
        &[("0", f32_bytes(&seq(6)))],
    );
    assert_eq!(
        read_state_dict(&file).unwrap_err(),
        PtError::MissingStorage { key: "7".into() }
    );
}

#[test]
fn all_dtypes_convert() {
    let f64s: Vec<u8> = [1.25f64, -3.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let f16s = vec![0x00, 0x3c, 0x00, 0xc1]; // 1.0, -2.5
    let bf16s = vec![0x80, 0x3f, 0x40, 0xc0]; // 1.0, -3.0
    let i64s: Vec<u8> = [-5i64, 1 << 40]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let i32s: Vec<u8> = [-7i32, 70000]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let i16s: Vec<u8> = [-300i16, 300]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let file = zip_sd(
        &[
            ("f64", "DoubleStorage", "a", 2, 0, &[2], &[1]),
            ("f16", "HalfStorage", "b", 2, 0, &[2], &[1]),
            ("bf16", "BFloat16Storage", "c", 2, 0, &[2], &[1]),
            ("i64", "LongStorage", "d", 2, 0, &[2], &[1]),
            ("i32", "IntStorage", "e", 2, 0, &[2], &[1]),
            ("i16", "ShortStorage", "f", 2, 0, &[2], &[1]),
            ("i8", "CharStorage", "g", 2, 0, &[2], &[1]),
            ("u8", "ByteStorage", "h", 2, 0, &[2], &[1]),
            ("bool", "BoolStorage", "i", 2, 0, &[2], &[1]),
        ],
        &[
            ("a", f64s),
            ("b", f16s),
            ("c", bf16s),
            ("d", i64s),
            ("e", i32s),
            ("f", i16s),
            ("g", vec![0xfe, 0x05]),
            ("h", vec![0xfe, 0x05]),
            ("i", vec![1, 0]),
        ],
    );
    let sd = read_state_dict(&file).expect("read");
    let expect: &[(&str, DType, [f64; 2])] = &[
        ("f64", DType::F64, [1.25, -3.0]),
        ("f16", DType::F16, [1.0, -2.5]),
        ("bf16", DType::BF16, [1.0, -3.0]),
        ("i64", DType::I64, [-5.0, (1u64 << 40) as f64]),
        ("i32", DType::I32, [-7.0, 70000.0]),
        ("i16", DType::I16, [-300.0, 300.0]),
        ("i8", DType::I8, [-2.0, 5.0]),
        ("u8", DType::U8, [254.0, 5.0]),
        ("bool", DType::Bool, [1.0, 0.0]),
    ];
    for (name, dt, vals) in expect {
        let t = sd.get(name).unwrap();
        assert_eq!(t.dtype, *dt, "{name}");
        assert_eq!(t.data, vals.to_vec(), "{name}");
    }
}

#[test]
fn unsupported_dtype_is_named() {
    let file = zip_sd(
        &[("z", "ComplexFloatStorage", "0", 1, 0, &[1], &[1])],
        &[("0", vec![0; 8])],
    );
    let err = read_state_dict(&file).unwrap_err();
    assert_eq!(
        err,
        PtError::UnsupportedDType {
            what: "torch.ComplexFloatStorage".into()
        }
    );
    assert!(err.to_string().contains("ComplexFloatStorage"));
}

#[test]
fn big_endian_archive_is_converted() {
    let vals = [1.5f32, -2.0, 3.25];
    let be: Vec<u8> = vals.iter().flat_map(|x| x.to_be_bytes()).collect();
    let pickle = state_dict_pickle(&[("w", "FloatStorage", "0", 3, 0, &[3], &[1])]);
    let file = torch_zip(&pickle, &[("0", be)], Some("big"), ZipOpts::torch());
    let sd = read_state_dict(&file).expect("read");
    assert_eq!(sd.get("w").unwrap().data, vec![1.5, -2.0, 3.25]);
    let file = torch_zip(
        &pickle,
        &[("0", vec![0; 12])],
        Some("middle"),
        ZipOpts::torch(),
    );
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Layout { .. })
    ));
    // No byteorder entry: little-endian (older archives).
    let file = torch_zip(&pickle, &[("0", f32_bytes(&vals))], None, ZipOpts::torch());
    assert_eq!(
        read_state_dict(&file).expect("read").get("w").unwrap().data,
        vec![1.5, -2.0, 3.25]
    );
}

#[test]
fn zip_variants_read_the_same() {
    let data = seq(40);
    let pickle = state_dict_pickle(&[
        ("a", "FloatStorage", "0", 40, 0, &[5, 8], &[8, 1]),
        ("b", "FloatStorage", "0", 40, 3, &[4], &[2]),
    ]);
    let storages = [("0", f32_bytes(&data))];
    let reference = read_state_dict(&torch_zip(
        &pickle,
        &storages,
        Some("little"),
        ZipOpts::torch(),
    ))
    .expect("torch layout");
    assert_eq!(reference.get("b").unwrap().data, vec![0.5, 1.5, 2.5, 3.5]);
    for o in [
        ZipOpts::default(),
        ZipOpts {
            deflate: true,
            ..ZipOpts::default()
        },
        ZipOpts {
            deflate: true,
            zip64_extras: true,
            zip64_eocd: true,
            descriptor: true,
            align: false,
        },
        ZipOpts {
            zip64_extras: true,
            ..ZipOpts::torch()
        },
    ] {
        let file = torch_zip(&pickle, &storages, Some("little"), o);
        assert_eq!(read_state_dict(&file).expect("variant"), reference);
    }
}

#[test]
fn corrupted_zip_entry_fails_crc() {
    let pickle = state_dict_pickle(&[("a", "FloatStorage", "0", 4, 0, &[4], &[1])]);
    let mut file = torch_zip(
        &pickle,
        &[("0", f32_bytes(&seq(4)))],
        None,
        ZipOpts::default(),
    );
    // The storage bytes are the last entry data before "archive/version".
    let pos = file
        .windows(16)
        .position(|w| w == f32_bytes(&seq(4)).as_slice())
        .unwrap();
    file[pos] ^= 1;
    let err = read_state_dict(&file).unwrap_err();
    assert!(
        matches!(&err, PtError::Zip { what } if what.contains("CRC")),
        "{err}"
    );
}

#[test]
fn archive_without_data_pkl_is_not_torch() {
    let file = write_zip(
        &[("x/other.txt".to_string(), b"hi".to_vec())],
        ZipOpts::default(),
    );
    assert!(!lrp_import::pytorch::is_torch_file(&file));
    assert_eq!(read_state_dict(&file).unwrap_err(), PtError::NotTorchFile);
}

#[test]
fn nested_checkpoint_is_flattened_with_dotted_keys() {
    // {"model": OrderedDict(w=..., b=...), "epoch": 3, "lr": 0.1, "note": None,
    //  "optimizer": {"state": {0: {"exp_avg": tensor, "step": 7}}, "param_groups": [{"params": [0]}]}}
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    p.str("model").empty_ordered_dict().mark();
    p.str("w")
        .tensor("FloatStorage", "0", 6, 0, &[2, 3], &[3, 1]);
    p.str("b").tensor("FloatStorage", "1", 2, 0, &[2], &[1]);
    p.op(b'u');
    p.str("epoch").int(3);
    p.str("lr").op(b'G');
    p.b.extend(0.1f64.to_be_bytes());
    p.str("note").op(b'N');
    p.str("optimizer").op(b'}').mark();
    p.str("state").op(b'}').int(0).op(b'}').mark();
    p.str("exp_avg")
        .tensor("FloatStorage", "2", 2, 0, &[2], &[1]);
    p.str("step").int(7);
    p.op(b'u').op(b's');
    p.str("param_groups")
        .op(b']')
        .op(b'}')
        .str("params")
        .op(b']')
        .int(0)
        .op(b'a')
        .op(b's')
        .op(b'a');
    p.op(b'u');
    p.op(b'u');
    let file = torch_zip(
        &p.stop(),
        &[
            ("0", f32_bytes(&seq(6))),
            ("1", f32_bytes(&[7.0, 8.0])),
            ("2", f32_bytes(&[9.0, 10.0])),
        ],
        Some("little"),
        ZipOpts::torch(),
    );
    let sd = read_state_dict(&file).expect("read");
    assert_eq!(
        sd.names().collect::<Vec<_>>(),
        ["model.w", "model.b", "optimizer.state.0.exp_avg"]
    );
    assert_eq!(sd.get("model.b").unwrap().data, vec![7.0, 8.0]);
    assert_eq!(
        sd.get("optimizer.state.0.exp_avg").unwrap().data,
        vec![9.0, 10.0]
    );
}

#[test]
fn duplicate_flattened_names_are_refused() {
    // {"a.b": t, "a": {"b": t}}
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    p.str("a.b").tensor("FloatStorage", "0", 1, 0, &[1], &[1]);
    p.str("a")
        .op(b'}')
        .str("b")
        .tensor("FloatStorage", "0", 1, 0, &[1], &[1])
        .op(b's');
    p.op(b'u');
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0]))],
        None,
        ZipOpts::torch(),
    );
    assert!(
        matches!(read_state_dict(&file), Err(PtError::Layout { what }) if what.contains("a.b"))
    );
}

#[test]
fn top_level_must_be_a_dict() {
    let mut p = Pk::new(2);
    p.tensor("FloatStorage", "0", 1, 0, &[1], &[1]);
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0]))],
        None,
        ZipOpts::torch(),
    );
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Layout { .. })
    ));
    let mut p = Pk::new(2);
    p.op(b']');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Layout { .. })
    ));
    // An empty state dict is fine.
    let file = torch_zip(&state_dict_pickle(&[]), &[], None, ZipOpts::torch());
    assert!(read_state_dict(&file).expect("empty").is_empty());
}

#[test]
fn protocol4_parameters_and_metadata() {
    // Protocol 4 with FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL,
    // _rebuild_parameter(_rebuild_tensor_v2(..., metadata), True, OrderedDict()),
    // a dtype global in the metadata, and the `_metadata` BUILD.
    let mut p = Pk::new(4);
    p.op(0x95);
    p.b.extend(0u64.to_le_bytes());
    p.stack_global("collections", "OrderedDict")
        .op(0x94)
        .op(b')')
        .op(b'R')
        .op(0x94);
    p.mark().short_str("weight");
    p.stack_global("torch._utils", "_rebuild_parameter");
    p.mark();
    p.stack_global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    p.mark()
        .short_str("storage")
        .stack_global("torch", "HalfStorage")
        .short_str("0")
        .short_str("cpu")
        .int(2)
        .tuple();
    p.op(b'Q').int(0).int_tuple(&[2]).int_tuple(&[1]).op(0x89);
    p.get(0).op(b')').op(b'R'); // backward hooks = OrderedDict()
    p.op(b'}')
        .short_str("dtype")
        .stack_global("torch", "float16")
        .op(b's'); // metadata
    p.tuple().op(b'R');
    p.op(0x88).get(0).op(b')').op(b'R');
    p.tuple().op(b'R');
    p.op(b'u');
    p.op(b'}')
        .short_str("_metadata")
        .get(0)
        .op(b')')
        .op(b'R')
        .op(b's')
        .op(b'b');
    let file = torch_zip(
        &p.stop(),
        &[("0", vec![0x00, 0x3c, 0x00, 0xbc])],
        Some("little"),
        ZipOpts::torch(),
    );
    let sd = read_state_dict(&file).expect("read");
    let w = sd.get("weight").unwrap();
    assert_eq!(w.dtype, DType::F16);
    assert_eq!(w.data, vec![1.0, -1.0]);
}

#[test]
fn large_memo_indices_and_ints() {
    // More than 256 memo entries (LONG_BINPUT/LONG_BINGET) and BININT sizes.
    let mut p = Pk::new(2);
    p.empty_ordered_dict();
    p.put();
    p.mark();
    for i in 0..300 {
        p.str(&format!("filler{i}"));
        p.put();
        p.op(b'0'); // POP
    }
    p.str("w");
    p.global("torch._utils", "_rebuild_tensor_v2");
    let f = p.put();
    p.mark()
        .mark()
        .str("storage")
        .global("torch", "FloatStorage")
        .str("0")
        .str("cpu")
        .int(70000)
        .tuple();
    p.op(b'Q')
        .int(69998)
        .int_tuple(&[2])
        .int_tuple(&[1])
        .op(0x89)
        .empty_ordered_dict()
        .tuple()
        .op(b'R');
    p.str("v").get(f);
    p.mark()
        .mark()
        .str("storage")
        .global("torch", "FloatStorage")
        .str("0")
        .str("cpu")
        .int(70000)
        .tuple();
    p.op(b'Q')
        .int(0)
        .int_tuple(&[1])
        .int_tuple(&[1])
        .op(0x89)
        .empty_ordered_dict()
        .tuple()
        .op(b'R');
    p.op(b'u');
    let data: Vec<f32> = (0..70000).map(|i| i as f32).collect();
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&data))],
        None,
        ZipOpts::torch(),
    );
    let sd = read_state_dict(&file).expect("read");
    assert_eq!(sd.get("w").unwrap().data, vec![69998.0, 69999.0]);
    assert_eq!(sd.get("v").unwrap().data, vec![0.0]);
}

#[test]
fn broadcast_views_are_bounded() {
    // A stride-0 view of one element claiming 10^9 elements: refused as too large.
    let file = zip_sd(
        &[("x", "FloatStorage", "0", 1, 0, &[1_000_000_000], &[0])],
        &[("0", f32_bytes(&[1.0]))],
    );
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::TooLarge { .. })
    ));
    // A modest one is read.
    let file = zip_sd(
        &[("x", "FloatStorage", "0", 1, 0, &[2, 3], &[0, 0])],
        &[("0", f32_bytes(&[4.0]))],
    );
    assert_eq!(
        read_state_dict(&file).expect("read").get("x").unwrap().data,
        vec![4.0; 6]
    );
}

#[test]
fn shared_containers_cannot_explode() {
    // d0 = {"a": t, "b": t}; d_{k+1} = {"a": d_k, "b": d_k}: 2^40 paths from a few hundred bytes.
    let mut p = Pk::new(2);
    p.op(b'}')
        .str("a")
        .tensor("FloatStorage", "0", 1, 0, &[1], &[1]);
    let t = p.put();
    p.op(b's').str("b").get(t).op(b's');
    let mut prev = p.put();
    for _ in 0..40 {
        p.op(b'}')
            .str("a")
            .get(prev)
            .op(b's')
            .str("b")
            .get(prev)
            .op(b's');
        prev = p.put();
    }
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0]))],
        None,
        ZipOpts::torch(),
    );
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::TooLarge { .. })
    ));
}

#[test]
fn deep_nesting_does_not_overflow() {
    // 100k nested lists and tuples: no recursion anywhere, so no stack overflow.
    let mut p = Pk::new(2);
    p.op(b'}').str("x");
    for _ in 0..100_000 {
        p.op(b']');
    }
    for _ in 0..99_999 {
        p.op(b'a');
    }
    p.op(b's');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::TooLarge { .. })
    ));
    let mut p = Pk::new(2);
    p.op(b'}').str("x");
    for _ in 0..100_000 {
        p.mark();
    }
    for _ in 0..100_000 {
        p.tuple();
    }
    p.op(b's');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(read_state_dict(&file).is_err());
}

#[test]
fn non_whitelisted_reduce_targets_are_refused() {
    // NEWOBJ on a whitelisted but non-class global; REDUCE on a storage class.
    let mut p = Pk::new(2);
    p.global("torch._utils", "_rebuild_tensor_v2")
        .op(b')')
        .op(0x81);
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Pickle { .. })
    ));
    let mut p = Pk::new(2);
    p.global("torch", "FloatStorage").op(b')').op(b'R');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Pickle { .. })
    ));
    // BUILD on a tensor.
    let mut p = Pk::new(2);
    p.op(b'}')
        .str("w")
        .tensor("FloatStorage", "0", 1, 0, &[1], &[1])
        .op(b'}')
        .op(b'b')
        .op(b's');
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0]))],
        None,
        ZipOpts::torch(),
    );
    let err = read_state_dict(&file).unwrap_err();
    assert!(
        matches!(
            err,
            PtError::Pickle {
                opcode: Some(b'b'),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("opcode 0x62 'b'"), "{err}");
}

/// `_rebuild_tensor_v2` with the legacy 6-tuple persistent id.
fn legacy_tensor(
    p: &mut Pk,
    key: &str,
    numel: usize,
    view: Option<(&str, usize, usize)>,
    off: usize,
    size: &[usize],
    stride: &[usize],
) {
    p.global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark()
        .str("storage")
        .global("torch", "FloatStorage")
        .str(key)
        .str("cpu")
        .int(numel as i64);
    match view {
        None => {
            p.op(b'N');
        }
        Some((k, o, n)) => {
            p.str(k).int(o as i64).int(n as i64).op(0x87);
        }
    }
    p.tuple().op(b'Q');
    p.int(off as i64)
        .int_tuple(size)
        .int_tuple(stride)
        .op(0x89)
        .empty_ordered_dict()
        .tuple()
        .op(b'R');
}

#[test]
fn legacy_views_and_errors() {
    let a = seq(8);
    let b = [5.0f32, 6.0];
    let mut p = Pk::new(2);
    p.empty_ordered_dict().mark();
    p.str("x");
    legacy_tensor(&mut p, "140", 8, None, 0, &[2, 4], &[4, 1]);
    p.str("y");
    legacy_tensor(&mut p, "140", 8, Some(("141", 4, 4)), 1, &[2], &[2]);
    p.str("z");
    legacy_tensor(&mut p, "99", 2, None, 0, &[2, 1], &[1, 1]);
    p.op(b'u');
    let main = p.stop();
    let file = legacy_file(
        &main,
        &[("140", 8, f32_bytes(&a)), ("99", 2, f32_bytes(&b))],
    );
    let sd = read_state_dict(&file).expect("legacy");
    assert_eq!(
        sd.get("x").unwrap().data,
        a.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()
    );
    assert_eq!(
        sd.get("y").unwrap().data,
        vec![f64::from(a[5]), f64::from(a[7])]
    );
    assert_eq!(sd.get("z").unwrap().shape, vec![2, 1]);

    // Count in the file differs from the pickle.
    let bad = legacy_file(
        &main,
        &[("140", 7, f32_bytes(&a[..7])), ("99", 2, f32_bytes(&b))],
    );
    assert!(matches!(read_state_dict(&bad), Err(PtError::Layout { .. })));
    // A storage never stored.
    let bad = legacy_file(&main, &[("140", 8, f32_bytes(&a))]);
    assert_eq!(
        read_state_dict(&bad).unwrap_err(),
        PtError::MissingStorage { key: "99".into() }
    );
    // Data cut short.
    let mut bad = file.clone();
    bad.truncate(file.len() - 1);
    assert!(matches!(
        read_state_dict(&bad),
        Err(PtError::Truncated { .. })
    ));
    // Wrong protocol version.
    let mut bad = file.clone();
    let at = 15 + 3; // BININT2 payload of the second pickle
    assert_eq!(&bad[15..18], &[0x80, 2, b'M']);
    bad[at] ^= 1;
    assert!(matches!(read_state_dict(&bad), Err(PtError::Layout { .. })));
}

#[test]
fn error_messages_read_well() {
    let e = PtError::Pickle {
        offset: 12,
        opcode: Some(0x93),
        what: "stack underflow".into(),
    };
    assert_eq!(
        e.to_string(),
        "invalid pickle at offset 12 (opcode 0x93): stack underflow"
    );
    assert!(
        PtError::NotTorchFile
            .to_string()
            .contains("not a PyTorch file")
    );
    assert!(
        PtError::MissingStorage { key: "3".into() }
            .to_string()
            .contains("`3`")
    );
    let boxed: Box<dyn std::error::Error> = Box::new(PtError::TooLarge { what: "x".into() });
    assert_eq!(boxed.to_string(), "too large: x");
}

#[test]
fn shared_arguments_are_not_copied_quadratically() {
    // A 10k-item tuple used as REDUCE arguments: refused by its length,
    // before anything is copied.
    let mut p = Pk::new(2);
    p.mark();
    for _ in 0..10_000 {
        p.op(b'N');
    }
    p.tuple();
    let t = p.put();
    for _ in 0..10_000 {
        p.global("collections", "OrderedDict")
            .get(t)
            .op(b'R')
            .op(b'0');
    }
    p.op(b'}');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::Pickle { .. })
    ));

    // OrderedDict(pairs) with one shared 10k-pair list, rebuilt 1000 times.
    let mut p = Pk::new(2);
    p.str("k").op(b'N').op(0x86);
    let pair = p.put();
    p.op(b'0').op(b']').mark();
    for _ in 0..10_000 {
        p.get(pair);
    }
    p.op(b'e');
    let list = p.put();
    p.op(b'0');
    for _ in 0..1000 {
        p.global("collections", "OrderedDict")
            .get(list)
            .op(0x85)
            .op(b'R')
            .op(b'0');
    }
    p.op(b'}');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::TooLarge { .. })
    ));

    // One 10k-entry dict referenced 10k times from a list.
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    for i in 0..10_000 {
        p.str(&i.to_string()).op(b'N');
    }
    p.op(b'u');
    let d = p.put();
    p.op(b'0').op(b'}').str("x").op(b']').mark();
    for _ in 0..10_000 {
        p.get(d);
    }
    p.op(b'e').op(b's');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert!(matches!(
        read_state_dict(&file),
        Err(PtError::TooLarge { .. })
    ));
}
