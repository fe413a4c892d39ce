//! Models lstm-lrp cannot explain exactly, saved by the real frameworks
//! (`fixtures/keras3/unsupported`, `fixtures/pytorch/unsupported`; see the fixture READMEs):
//! each is refused with [`ImportError::Unsupported`] naming the layer and its class, and
//! `lstm-lrp explain` on it fails with exactly one `error:` line saying the same (and at most
//! `note:` lines besides).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Io, host};
use lrp_import::{ImportError, LoadOptions, read_model};
use lstm_lrp::burn::tensor::{Tensor, TensorData};
use lstm_lrp::{Activation, LstmModel, ModelParams, Precision, backends};

/// A refused model: its stem, the formats it ships in and what the message must contain
/// (the layer's name in backquotes, its class, and what is wrong).
struct Refused {
    dir: &'static str,
    stem: &'static str,
    forms: &'static [&'static str],
    says: &'static [&'static str],
}

const fn keras(stem: &'static str, says: &'static [&'static str]) -> Refused {
    Refused {
        dir: "keras3",
        stem,
        forms: &["keras", "h5"],
        says,
    }
}

const fn torch(stem: &'static str, says: &'static [&'static str]) -> Refused {
    Refused {
        dir: "pytorch",
        stem,
        forms: &["state_dict.pt", "safetensors"],
        says,
    }
}

const REFUSED: &[Refused] = &[
    keras("u1_conv1d_lstm", &["`conv1d`", "(Conv1D)", "not supported"]),
    keras(
        "u2_lstm_attention",
        &["`attention`", "(Attention)", "not supported"],
    ),
    keras(
        "u3_lstm_mha",
        &[
            "`multi_head_attention`",
            "(MultiHeadAttention)",
            "not supported",
        ],
    ),
    keras(
        "u4_bilstm_mul",
        &["`bidirectional`", "(Bidirectional)", "merge_mode `mul`"],
    ),
    keras("u5_lstm_relu", &["`lstm`", "(LSTM)", "activation `relu`"]),
    keras(
        "u6_simplernn",
        &["`simple_rnn`", "(SimpleRNN)", "not supported"],
    ),
    torch("u1_lstm_proj", &["`lstm`", "nn.LSTM", "proj_size > 0"]),
    torch("u2_rnn_linear", &["`rnn`", "nn.RNN", "not supported"]),
    torch(
        "u3_lstm_linear_linear",
        &["`fc`", "nn.Linear 6 → 2", "--head proj:ACT,fc"],
    ),
    torch(
        "u4_lstm_layernorm_linear",
        &["`norm`", "nn.LayerNorm", "not on the path"],
    ),
    torch(
        "u5_lstmcell_linear",
        &["`cell`", "nn.LSTMCell", "a one-layer nn.LSTM"],
    ),
    torch(
        "u6_grucell_linear",
        &["`cell`", "nn.GRUCell", "a one-layer nn.GRU"],
    ),
];

impl Refused {
    fn path(&self, suffix: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(self.dir)
            .join("unsupported")
            .join(format!("{}.{suffix}", self.stem))
    }
}

#[test]
fn unsupported_framework_models_are_refused_naming_the_layer() {
    for r in REFUSED {
        for form in r.forms {
            let what = format!("{}/unsupported/{}.{form}", r.dir, r.stem);
            let err = match read_model(r.path(form), &LoadOptions::default()) {
                Ok(_) => panic!("{what}: imported, but it must be refused"),
                Err(e) => e,
            };
            let ImportError::Unsupported(msg) = &err else {
                panic!("{what}: expected ImportError::Unsupported, got {err:?}");
            };
            for part in r.says {
                assert!(msg.contains(part), "{what}: `{part}` not in: {msg}");
            }
        }
    }
}

#[test]
fn explain_on_an_unsupported_model_is_one_error_line() {
    for r in REFUSED {
        for form in r.forms {
            let what = format!(
                "lstm-lrp explain on {}/unsupported/{}.{form}",
                r.dir, r.stem
            );
            let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
                .arg("explain")
                .arg("--model")
                .arg(r.path(form))
                .arg("--input")
                .arg(r.path("io.safetensors"))
                .output()
                .expect("run lstm-lrp");
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{what}: succeeded");
            assert!(o.stdout.is_empty(), "{what}: wrote to stdout");
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("error: "))
                .collect();
            assert_eq!(errors.len(), 1, "{what}: one error line expected: {stderr}");
            assert!(
                stderr
                    .lines()
                    .all(|l| l.starts_with("error: ") || l.starts_with("note: ")),
                "{what}: stderr holds more than the error and notes: {stderr}"
            );
            for part in r.says {
                assert!(
                    errors[0].contains(part),
                    "{what}: `{part}` not in: {stderr}"
                );
            }
        }
    }
}

/// The way out the message of `u3_lstm_linear_linear` suggests (`--head proj:ACT,fc`) gives
/// PyTorch's output, through the library and the command line.
#[test]
fn a_second_linear_in_the_head_is_read_when_named() {
    let r = REFUSED
        .iter()
        .find(|r| r.stem == "u3_lstm_linear_linear")
        .unwrap();
    for form in r.forms {
        let mut options = LoadOptions::default();
        options.torch.head = vec![
            ("proj".into(), Activation::Relu),
            ("fc".into(), Activation::Linear),
        ];
        let params = read_model(r.path(form), &options)
            .unwrap_or_else(|e| panic!("{form}: {e}"))
            .params;
        assert_output_matches(&params, &r.path("io.safetensors"), form);
        let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
            .arg("explain")
            .arg("--model")
            .arg(r.path(form))
            .args(["--head", "proj:relu,fc", "--print", "1"])
            .arg("--input")
            .arg(r.path("io.safetensors"))
            .output()
            .expect("run lstm-lrp");
        assert!(
            o.status.success(),
            "{form} --head proj:relu,fc: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// The way out the messages of `u5_lstmcell_linear` and `u6_grucell_linear` suggest (the cell's
/// tensors renamed `…_l0`: a one-layer nn.LSTM or nn.GRU) gives PyTorch's output of the model
/// that loops the cell over the steps.
#[test]
fn a_cell_renamed_as_a_one_layer_module_gives_the_loops_output() {
    use lrp_import::formats::safetensors::{float_array, parse};
    use lrp_import::{TorchModules, read_torch_state_dict};
    for stem in ["u5_lstmcell_linear", "u6_grucell_linear"] {
        let r = REFUSED.iter().find(|r| r.stem == stem).unwrap();
        let bytes = std::fs::read(r.path("safetensors")).unwrap();
        let st = parse(&bytes).unwrap();
        let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
        names.sort();
        let tensors = names
            .iter()
            .map(|name| {
                let renamed = match name.strip_prefix("cell.") {
                    Some(rest) => format!("cell.{rest}_l0"),
                    None => name.clone(),
                };
                (renamed, float_array(&st, name).unwrap())
            })
            .collect();
        let params = read_torch_state_dict(tensors, &TorchModules::default(), "test".into())
            .unwrap_or_else(|e| panic!("{stem}: {e}"))
            .params;
        assert_output_matches(&params, &r.path("io.safetensors"), stem);
    }
}

/// The model of `params` gives the `output` of the io file for its `x` (PyTorch's float32
/// output: within 1e-5).
fn assert_output_matches(params: &ModelParams, io: &Path, what: &str) {
    let io = Io::open(io);
    let (x, expected) = (io.f("x"), io.f("output").data);
    let device = backends::default_device();
    let shape: [usize; 3] = x.shape.clone().try_into().unwrap();
    let model = LstmModel::new(params, &device, Precision::F64).unwrap();
    let input = Tensor::<3>::from_data(
        TensorData::new(x.data.clone(), shape),
        (&device, Precision::F64.dtype()),
    );
    let logits = host(model.forward(input).unwrap());
    assert_eq!(logits.len(), expected.len());
    for (a, e) in logits.iter().zip(&expected) {
        assert!((a - e).abs() <= 1e-5, "{what}: {logits:?} vs {expected:?}");
    }
}

/// Naming the head past a module the path does not hold (`--head fc` on u4, whose LayerNorm
/// sits before `fc`) reads the model, but every run warns that the module was left out: it may
/// be part of the forward pass.
#[test]
fn modules_left_out_by_the_names_given_are_a_warning_on_every_run() {
    let r = REFUSED
        .iter()
        .find(|r| r.stem == "u4_lstm_layernorm_linear")
        .unwrap();
    let mut options = LoadOptions::default();
    options.torch.head = vec![("fc".into(), Activation::Linear)];
    let report = read_model(r.path("state_dict.pt"), &options)
        .unwrap()
        .report;
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("tensors not used: norm.bias, norm.weight")),
        "{:?}",
        report.warnings
    );
    let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .arg("explain")
        .arg("--model")
        .arg(r.path("state_dict.pt"))
        .args(["--head", "fc", "--print", "0"])
        .arg("--input")
        .arg(r.path("io.safetensors"))
        .output()
        .expect("run lstm-lrp");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("tensors not used: norm.bias, norm.weight"),
        "{stderr}"
    );
}
