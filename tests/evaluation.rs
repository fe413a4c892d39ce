//! `lstm-lrp evaluate` on the Keras example model: the table has one row per method and the
//! deletion plot is well-formed SVG with one polyline per method.

use std::process::Command;

fn evaluate(out_dir: &std::path::Path, removal: &str) -> String {
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
            "--out-dir",
        ])
        .arg(out_dir)
        .output()
        .expect("run lstm-lrp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out_dir.join("evaluation.csv")).expect("csv")
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
        let md = std::fs::read_to_string(dir.join("evaluation.md")).expect("md");
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
