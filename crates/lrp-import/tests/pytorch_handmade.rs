//! Hand-built pickles and archives through `formats::torch::read_state_dict`: refusals of
//! anything but a state dict, views, dtypes, nesting, zip variants and legacy details.
//!
//! Reading the pickle is `pytorch-reader`'s job; what these tests pin down is what a user of
//! our wrapper sees: which files are refused (with which typed error), and that the tensors
//! of the files accepted are the right values.

mod common;
#[path = "pytorch_common/mod.rs"]
mod torch_common;

use common::TempDir;
use lrp_import::formats::torch::TorchError;
use torch_common::{
    Pk, TensorDesc, ZipOpts, f32_bytes, get, legacy_file, names, read_bytes, state_dict_pickle,
    torch_zip, write_zip,
};

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

fn assert_refused_global(result: Result<torch_common::Tensors, TorchError>, global: &str) {
    match result {
        Err(TorchError::NotAStateDict { class }) => assert_eq!(class, global),
        other => panic!("expected {global} to be refused, got {other:?}"),
    }
}

/// `{"w": tensor, "cfg": <class>}` with the object built as `build` writes it after the class's
/// global.
fn beside_a_tensor(module: &str, class: &str, build: impl Fn(&mut Pk)) -> Vec<u8> {
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    p.str("w").tensor("FloatStorage", "0", 2, 0, &[2], &[1]);
    p.str("cfg").global(module, class);
    build(&mut p);
    p.op(b'u');
    torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0, 2.0]))],
        Some("little"),
        ZipOpts::torch(),
    )
}

#[test]
fn plain_objects_beside_a_state_dict_are_read_past_and_calls_are_not() {
    let tmp = TempDir::new("torch-objects");
    // A dataclass as the pickler writes it: `cls ) NEWOBJ {…} BUILD`. Read, the object left out.
    let instance = |p: &mut Pk| {
        p.op(b')')
            .op(0x81)
            .op(b'}')
            .str("hidden")
            .int(8)
            .op(b's')
            .op(b'b');
    };
    let file = beside_a_tensor("__main__", "Config", instance);
    let tensors = read_bytes(&tmp, &file).unwrap();
    assert_eq!(names(&tensors), ["w"]);
    // Called (`REDUCE`) instead, the class is refused, and so is a function.
    let call = |p: &mut Pk| {
        p.str("id").op(0x85).op(b'R');
    };
    assert_refused_global(
        read_bytes(&tmp, &beside_a_tensor("__main__", "Config", call)),
        "__main__.Config",
    );
    assert_refused_global(
        read_bytes(&tmp, &beside_a_tensor("posix", "system", call)),
        "posix.system",
    );
    // A class stored as a value, not instantiated, is refused.
    let as_value = |_: &mut Pk| {};
    assert_refused_global(
        read_bytes(&tmp, &beside_a_tensor("__main__", "Config", as_value)),
        "__main__.Config",
    );
    // Values torch.save writes as calls are read past: a numpy scalar, a torch.device, a set
    // under protocol 2's Python 2 name.
    let device = |p: &mut Pk| {
        p.str("cpu").op(0x85).op(b'R');
    };
    let tensors = read_bytes(&tmp, &beside_a_tensor("torch", "device", device)).unwrap();
    assert_eq!(names(&tensors), ["w"]);
    let set = |p: &mut Pk| {
        p.op(b']').mark().int(1).int(2).op(b'e').op(0x85).op(b'R');
    };
    let tensors = read_bytes(&tmp, &beside_a_tensor("__builtin__", "set", set)).unwrap();
    assert_eq!(names(&tensors), ["w"]);
}

#[test]
fn system_calls_are_refused_at_the_root_and_nested() {
    let tmp = TempDir::new("torch-system");
    // GLOBAL posix.system / os.system, then 'echo pwned', TUPLE1, REDUCE, STOP: at the root.
    for (module, name) in [("posix", "system"), ("os", "system"), ("nt", "system")] {
        let mut p = Pk::new(2);
        p.global(module, name).str("echo pwned").op(0x85).op(b'R');
        let file = torch_zip(&p.stop(), &[], Some("little"), ZipOpts::torch());
        assert_refused_global(read_bytes(&tmp, &file), &format!("{module}.{name}"));
    }

    // Nested inside a state dict, next to a real tensor: {"w": tensor, "x": posix.system(...)}.
    // (pytorch-reader alone loads this as the one tensor, without an error.)
    let mut p = Pk::new(2);
    p.empty_ordered_dict().mark();
    p.str("w").tensor("FloatStorage", "0", 2, 0, &[2], &[1]);
    p.str("x")
        .global("posix", "system")
        .str("echo pwned")
        .op(0x85)
        .op(b'R');
    p.op(b'u');
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0, 2.0]))],
        Some("little"),
        ZipOpts::torch(),
    );
    assert_refused_global(read_bytes(&tmp, &file), "posix.system");
    // The same, nested two dicts deep in a checkpoint.
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    p.str("model").op(b'}').mark();
    p.str("w").tensor("FloatStorage", "0", 2, 0, &[2], &[1]);
    p.str("hook").op(b'}').str("cmd");
    p.global("os", "system")
        .str("id")
        .op(0x85)
        .op(b'R')
        .op(b's');
    p.op(b'u');
    p.str("epoch").int(3);
    p.op(b'u');
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0, 2.0]))],
        Some("little"),
        ZipOpts::torch(),
    );
    assert_refused_global(read_bytes(&tmp, &file), "os.system");

    // Via STACK_GLOBAL (protocol 4), inside a state dict.
    let mut p = Pk::new(4);
    p.empty_ordered_dict()
        .mark()
        .str("w")
        .stack_global("builtins", "exec")
        .str("print(1)")
        .op(0x85)
        .op(b'R')
        .op(b'u');
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert_refused_global(read_bytes(&tmp, &file), "builtins.exec");

    // INST (protocol 0): `i` names the class and calls it.
    let mut p = Pk::new(2);
    p.op(b'(').str("id");
    p.b.extend(b"iposix\nsystem\n");
    let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
    assert_refused_global(read_bytes(&tmp, &file), "posix.system");

    // And in the legacy format.
    let mut p = Pk::new(2);
    p.op(b'}')
        .str("x")
        .global("subprocess", "Popen")
        .op(b')')
        .op(b'R')
        .op(b's');
    let file = legacy_file(&p.stop(), &[]);
    assert_refused_global(read_bytes(&tmp, &file), "subprocess.Popen");

    // A global followed by garbage: refused too (the pickle cannot be walked to its end).
    let mut p = Pk::new(2);
    p.global("os", "system");
    let mut cut = p.b.clone();
    cut.extend([0xff; 4]);
    let file = torch_zip(&cut, &[], None, ZipOpts::torch());
    assert!(
        matches!(
            read_bytes(&tmp, &file),
            Err(TorchError::Pickle(_) | TorchError::NotAStateDict { .. })
        ),
        "garbage after a global"
    );
}

#[test]
fn extension_codes_are_refused() {
    // EXT1/2/4 name a global through copyreg's extension registry: never a state dict's.
    let tmp = TempDir::new("torch-ext");
    for ext in [&[0x82u8, 1][..], &[0x83, 1, 0], &[0x84, 1, 0, 0, 0]] {
        let mut p = Pk::new(2);
        p.op(b'}').str("x");
        p.b.extend(ext);
        p.op(b')').op(b'R').op(b's');
        let file = torch_zip(&p.stop(), &[], None, ZipOpts::torch());
        match read_bytes(&tmp, &file) {
            Err(TorchError::NotAStateDict { class }) => assert!(class.contains("EXT"), "{class}"),
            other => panic!("{ext:?}: {other:?}"),
        }
    }
}

#[test]
fn transposed_view_with_storage_offset() {
    // Storage of 10 floats; "t" is the transpose (3x2) of the 2x3 block at offset 2; "c" a
    // contiguous 2x2 at offset 5; "s" a 0-dim scalar at 9; "r" a strided row selection
    // [[0, 2], [6, 8]] (shape 2x2, strides 6, 2).
    let tmp = TempDir::new("torch-views");
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
    let sd = read_bytes(&tmp, &file).expect("read");
    let v = |i: usize| f64::from(data[i]);
    let t = get(&sd, "t");
    assert_eq!(t.shape, vec![3, 2]);
    assert_eq!(t.data, vec![v(2), v(5), v(3), v(6), v(4), v(7)]);
    assert_eq!(get(&sd, "c").data, vec![v(5), v(6), v(7), v(8)]);
    let s = get(&sd, "s");
    assert!(s.shape.is_empty());
    assert_eq!(s.data, vec![v(9)]);
    assert_eq!(get(&sd, "r").data, vec![v(0), v(2), v(6), v(8)]);
    // Sorted by name.
    assert_eq!(names(&sd), ["c", "r", "s", "t"]);
}

#[test]
fn views_outside_their_storage_are_refused() {
    let tmp = TempDir::new("torch-outside");
    // A view reaching past its storage's declared size.
    let file = zip_sd(
        &[("t", "FloatStorage", "0", 6, 1, &[3, 2], &[1, 3])],
        &[("0", f32_bytes(&seq(6)))],
    );
    assert!(
        matches!(read_bytes(&tmp, &file), Err(TorchError::Reader(_))),
        "view past the storage"
    );
    // A storage entry shorter than the pickle says.
    let file = zip_sd(
        &[("t", "FloatStorage", "0", 6, 0, &[6], &[1])],
        &[("0", f32_bytes(&seq(5)))],
    );
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(
        matches!(&err, TorchError::Reader(_) | TorchError::Tensor { .. }),
        "short storage: {err:?}"
    );
    // A storage entry that is absent.
    let file = zip_sd(
        &[("t", "FloatStorage", "7", 6, 0, &[6], &[1])],
        &[("0", f32_bytes(&seq(6)))],
    );
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(
        matches!(&err, TorchError::Reader(_) | TorchError::Tensor { .. }),
        "absent storage: {err:?}"
    );
    assert!(err.to_string().contains('7'), "{err}");
}

#[test]
fn all_dtypes_convert() {
    let tmp = TempDir::new("torch-dtypes");
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
            ("f32", "FloatStorage", "j", 2, 0, &[2], &[1]),
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
            ("j", f32_bytes(&[0.1, -7.5])),
        ],
    );
    let sd = read_bytes(&tmp, &file).expect("read");
    let expect: &[(&str, [f64; 2])] = &[
        ("f64", [1.25, -3.0]),
        ("f16", [1.0, -2.5]),
        ("bf16", [1.0, -3.0]),
        ("i64", [-5.0, (1u64 << 40) as f64]),
        ("i32", [-7.0, 70000.0]),
        ("i16", [-300.0, 300.0]),
        ("i8", [-2.0, 5.0]),
        ("u8", [254.0, 5.0]),
        ("bool", [1.0, 0.0]),
        ("f32", [f64::from(0.1f32), -7.5]),
    ];
    assert_eq!(sd.len(), expect.len());
    for (name, vals) in expect {
        assert_eq!(get(&sd, name).data, vals.to_vec(), "{name}");
    }
}

#[test]
fn unsupported_dtypes_are_refused() {
    let tmp = TempDir::new("torch-complex");
    let file = zip_sd(
        &[("z", "ComplexFloatStorage", "0", 1, 0, &[1], &[1])],
        &[("0", vec![0; 8])],
    );
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(matches!(err, TorchError::Reader(_)), "{err:?}");
}

#[test]
fn byte_order_entries() {
    let tmp = TempDir::new("torch-byteorder");
    let vals = [1.5f32, -2.0, 3.25];
    let pickle = state_dict_pickle(&[("w", "FloatStorage", "0", 3, 0, &[3], &[1])]);
    // Big-endian archives are refused by pytorch-reader (it reads little-endian only), with
    // its typed error rather than values read in the wrong byte order.
    let be: Vec<u8> = vals.iter().flat_map(|x| x.to_be_bytes()).collect();
    let file = torch_zip(&pickle, &[("0", be)], Some("big"), ZipOpts::torch());
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(matches!(err, TorchError::Reader(_)), "{err:?}");
    assert!(err.to_string().contains("ig-endian"), "{err}");
    // An unknown byte order.
    let file = torch_zip(
        &pickle,
        &[("0", vec![0; 12])],
        Some("middle"),
        ZipOpts::torch(),
    );
    assert!(matches!(
        read_bytes(&tmp, &file),
        Err(TorchError::Reader(_))
    ));
    // No byteorder entry: little-endian (older archives).
    let file = torch_zip(&pickle, &[("0", f32_bytes(&vals))], None, ZipOpts::torch());
    assert_eq!(
        get(&read_bytes(&tmp, &file).expect("read"), "w").data,
        vec![1.5, -2.0, 3.25]
    );
}

#[test]
fn zip_variants_read_the_same() {
    let tmp = TempDir::new("torch-zip-variants");
    let data = seq(40);
    let pickle = state_dict_pickle(&[
        ("a", "FloatStorage", "0", 40, 0, &[5, 8], &[8, 1]),
        ("b", "FloatStorage", "0", 40, 3, &[4], &[2]),
    ]);
    let storages = [("0", f32_bytes(&data))];
    let reference = read_bytes(
        &tmp,
        &torch_zip(&pickle, &storages, Some("little"), ZipOpts::torch()),
    )
    .expect("torch layout");
    assert_eq!(get(&reference, "b").data, vec![0.5, 1.5, 2.5, 3.5]);
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
        assert_eq!(read_bytes(&tmp, &file).expect("variant"), reference);
    }
}

#[test]
fn a_corrupted_zip_entry_fails_its_crc() {
    let tmp = TempDir::new("torch-crc");
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
    let err = read_bytes(&tmp, &file).unwrap_err();
    match &err {
        TorchError::Tensor { name, source } => {
            assert_eq!(name, "a");
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidData, "{source}");
        }
        other => panic!("{other:?}"),
    }
    // A corrupted data.pkl is found by our own read of it (CRC checked at its end).
    let mut file = torch_zip(
        &pickle,
        &[("0", f32_bytes(&seq(4)))],
        None,
        ZipOpts::default(),
    );
    let pos = file
        .windows(b"_rebuild_tensor_v2".len())
        .position(|w| w == b"_rebuild_tensor_v2")
        .unwrap();
    file[pos] ^= 0x20;
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(
        matches!(
            err,
            TorchError::Zip(lrp_import::formats::zip::ZipError::Corrupt { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn an_archive_without_data_pkl_is_not_a_checkpoint() {
    let tmp = TempDir::new("torch-no-pkl");
    let file = write_zip(
        &[("x/other.txt".to_string(), b"hi".to_vec())],
        ZipOpts::default(),
    );
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(
        matches!(&err, TorchError::Pickle(m) if m.contains("data.pkl")),
        "{err:?}"
    );
    // Two pickles: which one is the checkpoint is ambiguous.
    let pickle = state_dict_pickle(&[]);
    let file = write_zip(
        &[
            ("a/data.pkl".to_string(), pickle.clone()),
            ("b/data.pkl".to_string(), pickle),
        ],
        ZipOpts::default(),
    );
    assert!(matches!(
        read_bytes(&tmp, &file),
        Err(TorchError::Pickle(_))
    ));
}

#[test]
fn nested_checkpoint_is_flattened_with_dotted_keys() {
    // {"model": OrderedDict(w=..., b=...), "epoch": 3, "lr": 0.1, "note": None,
    //  "optimizer": {"state": {0: {"exp_avg": tensor, "step": 7}}, "param_groups": [{"params": [0]}]}}
    let tmp = TempDir::new("torch-nested");
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
    let sd = read_bytes(&tmp, &file).expect("read");
    assert_eq!(
        names(&sd),
        ["model.b", "model.w", "optimizer.state.0.exp_avg"]
    );
    assert_eq!(get(&sd, "model.b").data, vec![7.0, 8.0]);
    assert_eq!(get(&sd, "model.w").shape, vec![2, 3]);
    assert_eq!(get(&sd, "optimizer.state.0.exp_avg").data, vec![9.0, 10.0]);
}

#[test]
fn a_checkpoint_dict_around_a_state_dict_reads_as_the_model() {
    // {"model": <p1's state dict>, "epoch": 3}: the tensors come back as `model.lstm.…`, and
    // read_model finds the nn.LSTM under that prefix: the same model as the state dict alone.
    let tmp = TempDir::new("torch-checkpoint");
    let twin =
        torch_common::read_safetensors(&torch_common::fixture("p1_bilstm_linear.safetensors"));
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    p.str("model").empty_ordered_dict().mark();
    let mut storages = Vec::new();
    for (i, (name, t)) in twin.iter().enumerate() {
        assert_eq!(t.dtype, "F32");
        let numel = t.shape.iter().product::<usize>();
        let mut stride = vec![1; t.shape.len()];
        for k in (0..t.shape.len().saturating_sub(1)).rev() {
            stride[k] = stride[k + 1] * t.shape[k + 1];
        }
        p.str(name);
        p.tensor("FloatStorage", &i.to_string(), numel, 0, &t.shape, &stride);
        storages.push((i.to_string(), t.bytes.clone()));
    }
    p.op(b'u');
    p.str("epoch").int(3);
    p.op(b'u');
    let storages: Vec<(&str, Vec<u8>)> = storages
        .iter()
        .map(|(k, b)| (k.as_str(), b.clone()))
        .collect();
    let file = torch_zip(&p.stop(), &storages, Some("little"), ZipOpts::torch());
    let sd = read_bytes(&tmp, &file).expect("read");
    let mut want: Vec<String> = twin.keys().map(|k| format!("model.{k}")).collect();
    want.sort();
    assert_eq!(names(&sd), want);

    let path = tmp.file("pt", &file);
    let options = lrp_import::LoadOptions::default();
    let nested = lrp_import::read_model(&path, &options).expect("read_model");
    let plain = lrp_import::read_model(
        torch_common::fixture_path("p1_bilstm_linear.safetensors"),
        &options,
    )
    .unwrap();
    assert_eq!(nested.params, plain.params);
}

#[test]
fn duplicate_flattened_names_are_refused() {
    // {"a.b": t1, "a": {"b": t2}}: both would be `a.b`.
    let tmp = TempDir::new("torch-duplicate");
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    p.str("a.b").tensor("FloatStorage", "0", 1, 0, &[1], &[1]);
    p.str("a")
        .op(b'}')
        .str("b")
        .tensor("FloatStorage", "1", 1, 0, &[1], &[1])
        .op(b's');
    p.op(b'u');
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0])), ("1", f32_bytes(&[2.0]))],
        None,
        ZipOpts::torch(),
    );
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(
        matches!(&err, TorchError::DuplicateName(name) if name == "a.b"),
        "{err:?}"
    );
    // A list index and a dict key "0" collide the same way: {"l": [t], "l.0": t}.
    let mut p = Pk::new(2);
    p.op(b'}').mark();
    p.str("l")
        .op(b']')
        .tensor("FloatStorage", "0", 1, 0, &[1], &[1])
        .op(b'a');
    p.str("l.0").tensor("FloatStorage", "0", 1, 0, &[1], &[1]);
    p.op(b'u');
    let file = torch_zip(
        &p.stop(),
        &[("0", f32_bytes(&[1.0]))],
        None,
        ZipOpts::torch(),
    );
    assert!(matches!(
        read_bytes(&tmp, &file),
        Err(TorchError::DuplicateName(name)) if name == "l.0"
    ));
}

#[test]
fn the_root_must_be_a_dict() {
    // A tensor or a list of tensors at the root: pytorch-reader's typed refusal.
    let tmp = TempDir::new("torch-root");
    let mut tensor = Pk::new(2);
    tensor.tensor("FloatStorage", "0", 1, 0, &[1], &[1]);
    let mut list = Pk::new(2);
    list.op(b']')
        .mark()
        .tensor("FloatStorage", "0", 1, 0, &[1], &[1])
        .op(b'e');
    for pickle in [tensor.stop(), list.stop()] {
        let file = torch_zip(&pickle, &[("0", f32_bytes(&[1.0]))], None, ZipOpts::torch());
        let err = read_bytes(&tmp, &file).unwrap_err();
        assert!(matches!(err, TorchError::Reader(_)), "{err:?}");
        assert!(err.to_string().contains("dictionary"), "{err}");
    }
}

#[test]
fn a_state_dict_without_tensors_is_refused() {
    let tmp = TempDir::new("torch-empty");
    // An empty OrderedDict, an empty dict, a dict of plain values, a list.
    let mut plain = Pk::new(2);
    plain
        .op(b'}')
        .mark()
        .str("epoch")
        .int(3)
        .str("lr")
        .op(b'N')
        .op(b'u');
    let mut list = Pk::new(2);
    list.op(b']');
    for pickle in [
        state_dict_pickle(&[]),
        Pk::new(2).op(b'}').stop(),
        plain.stop(),
        list.stop(),
    ] {
        let file = torch_zip(&pickle, &[], None, ZipOpts::torch());
        let err = read_bytes(&tmp, &file).unwrap_err();
        assert!(
            matches!(err, TorchError::NoTensors | TorchError::Reader(_)),
            "{err:?}"
        );
    }
    let file = torch_zip(&state_dict_pickle(&[]), &[], None, ZipOpts::torch());
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(matches!(err, TorchError::NoTensors), "{err:?}");
    assert!(err.to_string().contains("no tensors"), "{err}");
    // Through read_model: the typed error.
    let path = tmp.file("pt", &file);
    assert!(matches!(
        lrp_import::read_model(&path, &lrp_import::LoadOptions::default()),
        Err(lrp_import::ImportError::Torch(TorchError::NoTensors))
    ));
}

#[test]
fn protocol4_parameters_and_metadata() {
    // Protocol 4 with FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL,
    // _rebuild_parameter(_rebuild_tensor_v2(..., metadata), True, OrderedDict()),
    // a dtype global in the metadata, and the `_metadata` BUILD.
    let tmp = TempDir::new("torch-proto4");
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
    let sd = read_bytes(&tmp, &file).expect("read");
    assert_eq!(names(&sd), ["weight"]);
    assert_eq!(get(&sd, "weight").data, vec![1.0, -1.0]);
}

#[test]
fn more_than_256_memo_entries() {
    // LONG_BINPUT/LONG_BINGET (memo indices past 255) in a state dict: both tensors read, and
    // our walker follows the global fetched back from the memo.
    let tmp = TempDir::new("torch-memo");
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
    let sd = read_bytes(&tmp, &file).expect("read");
    assert_eq!(get(&sd, "w").data, vec![69998.0, 69999.0]);
    assert_eq!(get(&sd, "v").data, vec![0.0]);
}

#[test]
fn broadcast_views_are_bounded() {
    // A stride-0 view of one element claiming 10^9 elements (4 GB from a few hundred bytes):
    // refused before anything is materialised.
    let tmp = TempDir::new("torch-broadcast");
    let file = zip_sd(
        &[("x", "FloatStorage", "0", 1, 0, &[1_000_000_000], &[0])],
        &[("0", f32_bytes(&[1.0]))],
    );
    let err = read_bytes(&tmp, &file).unwrap_err();
    assert!(
        matches!(&err, TorchError::TooLarge { name, .. } if name == "x"),
        "{err:?}"
    );
    // A modest one is read.
    let file = zip_sd(
        &[("x", "FloatStorage", "0", 1, 0, &[2, 3], &[0, 0])],
        &[("0", f32_bytes(&[4.0]))],
    );
    assert_eq!(
        get(&read_bytes(&tmp, &file).expect("read"), "x").data,
        vec![4.0; 6]
    );
}

#[test]
fn shared_containers_cannot_explode() {
    // d0 = {"a": t, "b": t}; d_{k+1} = {"a": d_k, "b": d_k}: 2^40 paths from a few hundred bytes.
    let tmp = TempDir::new("torch-explode");
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
    let start = std::time::Instant::now();
    assert!(matches!(
        read_bytes(&tmp, &file),
        Err(TorchError::Reader(_))
    ));
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    // 100k nested lists and tuples.
    let tmp = TempDir::new("torch-deep");
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
    assert!(read_bytes(&tmp, &file).is_err());
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
    assert!(read_bytes(&tmp, &file).is_err());
}

#[test]
fn shared_arguments_do_not_take_quadratic_time() {
    let tmp = TempDir::new("torch-quadratic");
    let start = std::time::Instant::now();
    // A 10k-item tuple used 10k times as REDUCE arguments.
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
    assert!(read_bytes(&tmp, &file).is_err());

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
    assert!(read_bytes(&tmp, &file).is_err());

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
    assert!(read_bytes(&tmp, &file).is_err());
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
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
    let tmp = TempDir::new("torch-legacy");
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
    let sd = read_bytes(&tmp, &file).expect("legacy");
    assert_eq!(
        get(&sd, "x").data,
        a.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()
    );
    assert_eq!(get(&sd, "y").data, vec![f64::from(a[5]), f64::from(a[7])]);
    assert_eq!(get(&sd, "z").shape, vec![2, 1]);

    // The element count in the file differs from the pickle's.
    let bad = legacy_file(
        &main,
        &[("140", 7, f32_bytes(&a[..7])), ("99", 2, f32_bytes(&b))],
    );
    assert!(read_bytes(&tmp, &bad).is_err(), "count mismatch");
    // A storage never stored.
    let bad = legacy_file(&main, &[("140", 8, f32_bytes(&a))]);
    assert!(read_bytes(&tmp, &bad).is_err(), "missing storage");
    // Data cut short.
    let mut bad = file.clone();
    bad.truncate(file.len() - 1);
    assert!(read_bytes(&tmp, &bad).is_err(), "truncated");
    // A wrong protocol version.
    let mut bad = file.clone();
    let at = 15 + 3; // BININT2 payload of the second pickle
    assert_eq!(&bad[15..18], &[0x80, 2, b'M']);
    bad[at] ^= 1;
    assert!(read_bytes(&tmp, &bad).is_err(), "protocol version");
}

#[test]
fn error_messages_name_the_problem() {
    let e = TorchError::NotAStateDict {
        class: "m.Net".into(),
    };
    assert!(e.to_string().contains("`m.Net`"), "{e}");
    assert!(TorchError::NoTensors.to_string().contains("no tensors"));
    let e = TorchError::Tensor {
        name: "fc.weight".into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "crc"),
    };
    assert_eq!(e.to_string(), "tensor `fc.weight`: crc");
    assert!(std::error::Error::source(&e).is_some());
    // As the source of an ImportError.
    let outer = lrp_import::ImportError::from(TorchError::NoTensors);
    assert_eq!(outer.to_string(), TorchError::NoTensors.to_string());
}
