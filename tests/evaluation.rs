//! `lstm-lrp evaluate` on the Keras example model: the table has one row per method and the
//! deletion plot is well-formed SVG with one polyline per method.

use std::process::Command;

fn evaluate(out_dir: &std::path::Path, removal: &str) -> String {
    evaluate_with(out_dir, removal, &[])
}

fn evaluate_with(out_dir: &std::path::Path, removal: &str, extra: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args([
            "evaluate",
            "--model",
            "examples/data/keras2_sentiment_bilstm.safetensors",
            "--input",
            "examples/data/random_embeddings.safetensors",
            "--methods",
            "lrp,gradient,gxi,ig,occlusion",
            "--steps",
            "4",
            "--ig-steps",
            "16",
            "--removal",
            removal,
            "--overwrite",
            "--out-dir",
        ])
        .arg(out_dir)
        .args(extra)
        .output()
        .expect("run lstm-lrp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out_dir.join("table.csv")).expect("csv")
}

#[test]
fn evaluate_writes_table_and_plot() {
    let dir = std::env::temp_dir().join(format!("lstm-lrp-evaluate-{}", std::process::id()));
    for removal in ["zero", "mask"] {
        let csv = evaluate(&dir, removal);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "method,aopc,reverse_aopc,random_aopc,da_k,maz_area"
        );
        assert_eq!(lines.len(), 6, "{csv}");
        for (line, name) in lines[1..]
            .iter()
            .zip(["lrp", "gradient", "gxi", "ig", "occlusion"])
        {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells[0], name);
            let v: Vec<f64> = cells[1..]
                .iter()
                .map(|c| c.parse().expect("number"))
                .collect();
            assert!(v.iter().all(|x| x.is_finite()), "{line}");
            // Removing the most relevant steps first hurts more than least relevant first.
            assert!(v[0] > v[1], "{removal}: {line}");
            assert!(
                (0.0..=1.0).contains(&v[3]) && (0.0..=1.0).contains(&v[4]),
                "{line}"
            );
        }
        let md = std::fs::read_to_string(dir.join("table.md")).expect("md");
        assert!(md.contains("| occlusion |"), "{md}");
        let svg = std::fs::read_to_string(dir.join("deletion.svg")).expect("svg");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 5);
        assert_eq!(svg.matches("</polyline>").count(), 5);
        for name in ["lrp", "gradient", "gxi", "ig", "occlusion"] {
            assert!(svg.contains(&format!("<title>{name}</title>")), "{name}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn batches_give_the_same_table_as_one_batch() {
    // Curves and MAZ are means over samples: batch means weighted by batch size equal the
    // whole set's (the random-order control aside, whose seed depends on the batch).
    let dir = std::env::temp_dir().join(format!("lstm-lrp-evaluate-b-{}", std::process::id()));
    let parse = |csv: &str| -> Vec<Vec<f64>> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').skip(1).map(|c| c.parse().unwrap()).collect())
            .collect()
    };
    let whole = parse(&evaluate_with(&dir, "zero", &["--batch-size", "1000"]));
    let batched = parse(&evaluate_with(&dir, "zero", &["--batch-size", "3"]));
    assert_eq!(whole.len(), 5);
    for (w, b) in whole.iter().zip(&batched) {
        for col in [0, 1, 3, 4] {
            assert!((w[col] - b[col]).abs() <= 1e-9, "{w:?} vs {b:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

mod api {
    //! The deletion curve through the library: each point equals a forward pass on an input
    //! with the ranked steps removed by hand, on a small random f64 model.

    use lrp_conformance::random::{Rng, SingleLayer};
    use lrp_core::Removal;
    use lstm_lrp::burn::tensor::{Bool, Device, Tensor, TensorData};
    use lstm_lrp::evaluation::{DeletionSettings, Order, deletion_curve};
    use lstm_lrp::{Input, LstmModel, Precision};

    const B: usize = 2;
    const T: usize = 4;
    const E: usize = 3;

    #[allow(deprecated)] // f64 on the reference CPU backend
    fn device() -> Device {
        Device::flex()
    }

    fn model() -> LstmModel {
        let params = SingleLayer {
            e: E,
            h: 4,
            c: 3,
            bidirectional: false,
        }
        .random(&mut Rng::new(21));
        LstmModel::new(&params, &device(), Precision::F64).expect("model")
    }

    fn x(v: &[f64]) -> Tensor<3> {
        Tensor::from_data(
            TensorData::new(v.to_vec(), [B, T, E]),
            (&device(), Precision::F64.dtype()),
        )
    }

    fn logits(model: &LstmModel, input: Input) -> Vec<f64> {
        model
            .forward(input)
            .expect("forward")
            .try_into_vec_as::<f64>()
            .expect("host")
    }

    fn softmax(z: &[f64], c: usize) -> f64 {
        let total: f64 = z.iter().map(|v| v.exp()).sum();
        z[c].exp() / total
    }

    /// Scores rank sample 0's steps 2, 0, 3, 1 and sample 1's steps 1, 3, 0, 2 (most relevant
    /// first); after k removals the curve's mean logit, mean probability (DA_k) and accuracy
    /// equal those of the inputs with those k steps zeroed by hand (to 1e-12, f64).
    #[test]
    fn most_relevant_first_matches_hand_zeroing() {
        let model = model();
        let v = Rng::new(4).normals(B * T * E, 1.0);
        let scores = [0.5, -1.0, 2.0, 0.1, /* sample 1 */ 0.0, 3.0, -2.0, 1.0];
        let order = [[2, 0, 3, 1], [1, 3, 0, 2]];
        let targets = [0, 2];
        let input = Input::features(x(&v));
        let settings = DeletionSettings {
            steps: 3,
            removal: Removal::Zero,
        };
        let curve = deletion_curve(
            &model,
            &input,
            &scores,
            &targets,
            Order::MostRelevantFirst,
            settings,
        )
        .expect("curve");
        assert_eq!(curve.logit.len(), 4);
        let original = logits(&model, input.clone());
        let argmax = |z: &[f64]| (0..3).fold(0, |m, c| if z[c] > z[m] { c } else { m });
        for k in 0..=3 {
            let mut w = v.clone();
            for (b, ranked) in order.iter().enumerate() {
                for &t in &ranked[..k] {
                    for e in 0..E {
                        w[(b * T + t) * E + e] = 0.0;
                    }
                }
            }
            let l = logits(&model, Input::features(x(&w)));
            let (mut logit, mut score, mut acc) = (0.0, 0.0, 0.0);
            for b in 0..B {
                let z = &l[b * 3..b * 3 + 3];
                logit += z[targets[b]] / B as f64;
                score += softmax(z, targets[b]) / B as f64;
                let same = argmax(z) == argmax(&original[b * 3..b * 3 + 3]);
                acc += f64::from(u8::from(same)) / B as f64;
            }
            assert!((curve.logit[k] - logit).abs() < 1e-12, "k={k}");
            assert!((curve.score[k] - score).abs() < 1e-12, "k={k}");
            assert_eq!(curve.accuracy[k], acc, "k={k}");
        }
        assert_eq!(curve.accuracy[0], 1.0);
        assert_eq!(curve.descriptive_accuracy(), curve.score[3]);
        let aopc = (0..=3)
            .map(|k| curve.logit[0] - curve.logit[k])
            .sum::<f64>()
            / 4.0;
        assert!((curve.aopc() - aopc).abs() < 1e-12);
    }

    /// Removal by masking equals declaring the removed steps padding, padding steps are never
    /// removed (however high their score), and the reverse order removes the least relevant
    /// real step first.
    #[test]
    fn mask_removal_and_padding() {
        let model = model();
        let v = Rng::new(5).normals(B * T * E, 1.0);
        // Sample 1 has 2 real steps (post-padding).
        let input = Input::features(x(&v)).with_lengths(vec![4, 2]);
        let scores = [0.5, -1.0, 2.0, 0.1, /* sample 1 */ 0.0, 3.0, 9.0, 9.0];
        let targets = [1, 1];
        let curve = deletion_curve(
            &model,
            &input,
            &scores,
            &targets,
            Order::LeastRelevantFirst,
            DeletionSettings {
                steps: 1,
                removal: Removal::Mask,
            },
        )
        .expect("curve");
        // Least relevant: sample 0 step 1, sample 1 step 0 (steps 2, 3 are padding).
        let keep = vec![
            true, false, true, true, /* sample 1 */ false, true, false, false,
        ];
        let mask: Tensor<2, Bool> = Tensor::from_data(TensorData::new(keep, [B, T]), &device());
        let l = logits(&model, Input::features(x(&v)).with_mask(mask));
        let want = (l[1] + l[4]) / 2.0;
        assert!(
            (curve.logit[1] - want).abs() < 1e-12,
            "{} vs {want}",
            curve.logit[1]
        );
    }

    /// Wrong lengths of scores or targets, and classes out of range, are errors, not panics.
    #[test]
    fn bad_lengths_are_errors() {
        let model = model();
        let input = Input::features(x(&[0.0; B * T * E]));
        let settings = DeletionSettings {
            steps: 2,
            removal: Removal::Zero,
        };
        let curve = |scores: &[f64], targets: &[usize]| {
            deletion_curve(&model, &input, scores, targets, Order::Random(1), settings)
        };
        assert!(curve(&[0.0; 3], &[0, 0]).is_err());
        assert!(curve(&[0.0; 8], &[0]).is_err());
        assert!(curve(&[0.0; 8], &[0, 3]).is_err(), "class 3 of 3");
        assert!(curve(&[0.0; 8], &[0, 2]).is_ok());
    }
}
