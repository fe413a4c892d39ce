//! Imported Keras and PyTorch models run exactly like the frameworks that saved them: logits and
//! every recorded layer output within 1e-5 of the framework's float32 outputs (f64 here), and
//! LRP relevances equal to the reference's within 1e-9 in f64.

mod common;

use std::path::{Path, PathBuf};

use common::{Io, host, softmax_rows};

use lrp_conformance::compare::assert_close;
use lrp_import::formats::safetensors::{float_array, parse};
use lrp_import::{HostArray, LoadOptions, read_model};
use lstm_lrp::burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use lstm_lrp::{ExplainConfig, Input, LstmModel, ModelParams, Precision, Target, backends};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn load(rel: &str) -> ModelParams {
    read_model(fixture(rel), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .params
}

fn features(a: &HostArray<f64>, device: &Device) -> Tensor<3> {
    let shape: [usize; 3] = a.shape.clone().try_into().unwrap();
    Tensor::from_data(
        TensorData::new(a.data.clone(), shape),
        (device, Precision::F64.dtype()),
    )
}

fn tokens(a: &HostArray<i64>, device: &Device) -> Tensor<2, Int> {
    let shape: [usize; 2] = a.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(a.data.clone(), shape), device)
}

/// Keras 3 fixtures a–d (each from its .keras, .h5 and .weights.h5 forms give identical
/// parameters; see lrp-import's tests): the logits and every recorded layer output.
#[test]
fn keras3_models_match_keras_outputs() {
    let device = backends::default_device();
    let tol = 1e-5;
    for m in [
        "a_bilstm_dense",
        "b_lstm_softmax",
        "c_embed_bilstmseq_lstm",
        "d_masking_bilstm_sum_mlp",
    ] {
        let params = load(&format!("keras3/{m}.keras"));
        let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
        let io = Io::open(fixture(&format!("keras3/{m}.io.safetensors")));
        let input: Input = if model.reads_tokens() {
            tokens(&io.i("x"), &device).into()
        } else {
            features(&io.f("x"), &device).into()
        };
        let out = model.forward_layers(input).unwrap();
        let c = model.num_classes();
        let logits = host(out.logits.clone());
        let keras_output = io.f("output").data;
        let ours = if params.head().last().unwrap().activation == lstm_lrp::Activation::Softmax {
            assert_close(&format!("{m} logits"), &logits, &io.f("logits").data, tol);
            softmax_rows(&logits, c)
        } else {
            logits
        };
        assert_close(&format!("{m} output"), &ours, &keras_output, tol);
        match m {
            "a_bilstm_dense" => assert_close(
                "a bidirectional",
                &host(out.final_state),
                &io.f("layer.bidirectional").data,
                tol,
            ),
            "b_lstm_softmax" => assert_close(
                "b lstm",
                &host(out.final_state),
                &io.f("layer.lstm").data,
                tol,
            ),
            "c_embed_bilstmseq_lstm" => {
                assert_close(
                    "c embedding",
                    &host(out.inputs),
                    &io.f("layer.embedding").data,
                    tol,
                );
                assert_close(
                    "c bidirectional (sequence, 0 at padding)",
                    &host(out.sequences[0].clone()),
                    &io.f("layer.bidirectional").data,
                    tol,
                );
                assert_close(
                    "c lstm_1",
                    &host(out.final_state),
                    &io.f("layer.lstm_1").data,
                    tol,
                );
            }
            "d_masking_bilstm_sum_mlp" => {
                assert_close(
                    "d bidirectional",
                    &host(out.final_state),
                    &io.f("layer.bidirectional").data,
                    tol,
                );
                assert_close(
                    "d dense",
                    &host(out.hidden[0].clone()),
                    &io.f("layer.dense").data,
                    tol,
                );
            }
            _ => unreachable!(),
        }
    }
}

/// The masks the models derive themselves agree with explicit lengths and masks.
#[test]
fn explicit_padding_equals_the_models_own_mask() {
    let device = backends::default_device();
    for m in ["c_embed_bilstmseq_lstm", "d_masking_bilstm_sum_mlp"] {
        let params = load(&format!("keras3/{m}.keras"));
        let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
        let io = Io::open(fixture(&format!("keras3/{m}.io.safetensors")));
        let base = |i: Input| host(model.forward(i).unwrap());
        let make = || -> Input {
            if model.reads_tokens() {
                tokens(&io.i("x"), &device).into()
            } else {
                features(&io.f("x"), &device).into()
            }
        };
        let own = base(make());
        let mask = io.i("mask");
        let shape: [usize; 2] = mask.shape.clone().try_into().unwrap();
        let flags: Vec<bool> = mask.data.iter().map(|&v| v != 0).collect();
        let mask_t: Tensor<2, Bool> = Tensor::from_data(TensorData::new(flags, shape), &device);
        assert_close(
            &format!("{m}: explicit mask"),
            &base(make().with_mask(mask_t)),
            &own,
            1e-12,
        );
        assert!(io.has("lengths"));
    }
}

/// The Keras 2 sentiment model from its .hdf5 reproduces the `real_keras2_*` golden cases.
#[test]
fn keras2_hdf5_reproduces_the_golden_cases() {
    let device = backends::default_device();
    let params = load("keras2/keras2_sentiment_bilstm.hdf5");
    let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
    for case in [
        "real_keras2_sentiment_eps0_bf1",
        "real_keras2_sentiment_eps1e-3_bf0",
    ] {
        let golden = lrp_conformance::golden::load(&fixture(&format!("golden/{case}.safetensors")));
        let e = model
            .explain(features(&golden.x, &device), &golden.config)
            .unwrap()
            .to_host()
            .unwrap();
        assert_close(&format!("{case} logits"), &e.logits, &golden.logits, 1e-9);
        assert_close(
            &format!("{case} relevance"),
            &e.relevance,
            &golden.relevance,
            1e-9,
        );
        assert_close(&format!("{case} rest"), &e.rest, &golden.rest, 1e-9);
    }
}

/// Arras' trained SST model in its own layout (gate order i, g, f, o, kernels (4H, E), two
/// biases, per-direction output matrices) converted with the explicit gate-order conversion
/// reproduces the `real_arras_sst` golden case.
#[test]
fn arras_igfo_layout_reproduces_its_golden_case() {
    use lrp_import::gates::{ForeignLstm, GateOrder, KernelLayout, to_canonical};
    use lstm_lrp::Matrix;
    let bytes = std::fs::read(fixture("arras_sst_bilstm_igfo.safetensors")).unwrap();
    let st = parse(&bytes).unwrap();
    let m = |n: &str| {
        let a = float_array(&st, n).unwrap();
        Matrix::new(a.shape[0], a.shape[1], a.data).unwrap()
    };
    let v = |n: &str| float_array(&st, n).unwrap().data;
    let direction = |side: &str| {
        to_canonical(
            &ForeignLstm {
                order: "igfo".parse::<GateOrder>().unwrap(),
                layout: KernelLayout::GatesByInputs,
                w_x: m(&format!("Wxh_{side}")),
                w_h: m(&format!("Whh_{side}")),
                biases: vec![v(&format!("bxh_{side}")), v(&format!("bhh_{side}"))],
            },
            side,
        )
        .unwrap()
    };
    // y = Why_Left h_left + Why_Right h_right: stack the transposed (C, H) matrices.
    let (left, right) = (m("Why_Left").transpose(), m("Why_Right").transpose());
    let mut dense = left.data().to_vec();
    dense.extend_from_slice(right.data());
    let c = left.cols();
    let params = ModelParams::single_layer(
        direction("Left"),
        Some(direction("Right")),
        Matrix::new(left.rows() + right.rows(), c, dense).unwrap(),
        vec![0.0; c],
    )
    .unwrap();
    let golden = lrp_conformance::golden::load(&fixture("golden/real_arras_sst.safetensors"));
    let device = backends::default_device();
    let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
    let e = model
        .explain(features(&golden.x, &device), &golden.config)
        .unwrap()
        .to_host()
        .unwrap();
    assert_close("arras logits", &e.logits, &golden.logits, 1e-9);
    assert_close("arras relevance", &e.relevance, &golden.relevance, 1e-9);
}

/// PyTorch p1 (BiLSTM + Linear) and p3 (time-major LSTM + Linear) from `.pt` (zip), legacy
/// `.pt` and `.safetensors`: logits within 1e-5 of PyTorch's, relevance within 1e-9 of the
/// reference in f64.
#[test]
fn pytorch_models_match_pytorch_and_the_reference() {
    let device = backends::default_device();
    for (m, forms, time_major) in [
        (
            "p1_bilstm_linear",
            vec!["state_dict.pt", "legacy.pt", "safetensors"],
            false,
        ),
        (
            "p3_lstm_timemajor",
            vec!["state_dict.pt", "safetensors"],
            true,
        ),
    ] {
        let io = Io::open(fixture(&format!("pytorch/{m}.io.safetensors")));
        let mut x = io.f("x");
        if time_major {
            // (T, B, E) → (B, T, E).
            let [t, b, e]: [usize; 3] = x.shape.clone().try_into().unwrap();
            let mut data = vec![0.0; x.data.len()];
            for ti in 0..t {
                for bi in 0..b {
                    let src = (ti * b + bi) * e;
                    let dst = (bi * t + ti) * e;
                    data[dst..dst + e].copy_from_slice(&x.data[src..src + e]);
                }
            }
            x = HostArray {
                shape: vec![b, t, e],
                data,
            };
        }
        let target: Vec<usize> = io
            .i("seed_lrp.target")
            .data
            .iter()
            .map(|&t| t as usize)
            .collect();
        for form in forms {
            let params = load(&format!("pytorch/{m}.{form}"));
            let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
            let logits = host(model.forward(features(&x, &device)).unwrap());
            assert_close(
                &format!("{m}.{form} logits vs PyTorch"),
                &logits,
                &io.f("logits").data,
                1e-5,
            );
            let config = ExplainConfig::new().with_target(Target::PerSample(target.clone()));
            let e = model
                .explain(features(&x, &device), &config)
                .unwrap()
                .to_host()
                .unwrap();
            assert_close(
                &format!("{m}.{form} logits vs reference"),
                &e.logits,
                &io.f("seed_lrp.logits").data,
                1e-9,
            );
            assert_close(
                &format!("{m}.{form} relevance"),
                &e.relevance,
                &io.f("seed_lrp.relevance").data,
                1e-9,
            );
            assert_close(
                &format!("{m}.{form} rest"),
                &e.rest,
                &io.f("seed_lrp.rest").data,
                1e-9,
            );
        }
    }
}

/// PyTorch p2: embedding, two bidirectional layers, packed sequences (lengths).
#[test]
fn pytorch_packed_two_layer_model_matches_pytorch() {
    let device = backends::default_device();
    let io = Io::open(fixture(
        "pytorch/p2_embed_2layer_bilstm_packed.io.safetensors",
    ));
    let lengths: Vec<usize> = io.i("lengths").data.iter().map(|&l| l as usize).collect();
    for form in ["state_dict.pt", "safetensors"] {
        let params = load(&format!("pytorch/p2_embed_2layer_bilstm_packed.{form}"));
        assert_eq!(params.recurrent().len(), 2);
        let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
        let input = Input::tokens(tokens(&io.i("x"), &device)).with_lengths(lengths.clone());
        let logits = host(model.forward(input).unwrap());
        assert_close(
            &format!("p2.{form} logits"),
            &logits,
            &io.f("logits").data,
            1e-5,
        );
        assert_close(
            &format!("p2.{form} logits f64"),
            &logits,
            &io.f("logits_f64").data,
            1e-9,
        );
    }
}
