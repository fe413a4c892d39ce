//! The golden cases: reference results copied into the repository's `fixtures/golden/`.
//!
//! Each file holds a model in the canonical layout (`w_x`, `w_h`, `b`, optional `*_bw`,
//! `w_dense`, `b_dense`), the input `x (B, T, E)`, and the reference's `target (B)`,
//! `logits (B, C)`, `relevance (B, T, E)` and `rest (B)`; its safetensors metadata records `eps`,
//! `bias_factor` and `target_mode` (`predicted` or `explicit`). Provenance:
//! `fixtures/README.md`.

use std::path::{Path, PathBuf};

use lrp_core::{ExplainConfig, ModelParams, Target};
use lrp_import::formats::safetensors::{float_array, int_array, parse};
use lrp_import::{HostArray, read_canonical};

/// One reference result.
#[derive(Debug, Clone)]
pub struct GoldenCase {
    /// File stem, e.g. `tiny`.
    pub name: String,
    /// The model.
    pub params: ModelParams,
    /// `(B, T, E)`.
    pub x: HostArray<f64>,
    /// `(B)` explained class.
    pub target: Vec<i64>,
    /// `(B, C)`.
    pub logits: Vec<f64>,
    /// `(B, T, E)`.
    pub relevance: Vec<f64>,
    /// `(B)`.
    pub rest: Vec<f64>,
    /// The settings the reference ran with.
    pub config: ExplainConfig,
}

/// Golden cases checked in f64 only. `seed_test_config` (the seed's own test: N(0, 1) weights,
/// H = 300, `eps = 0`) has relevances of ±1e3 that cancel to totals of ±1e2; f32 rounding there
/// leaves single relevances wrong by up to 40 % (measured on NdArray), so comparing f32 to the
/// reference says nothing about a backend. Its f64 result is compared to 1e-9 like every case.
pub const F64_ONLY: &[&str] = &["seed_test_config"];

/// The repository's `fixtures/` directory, or `LRP_FIXTURES_DIR` when set (test binaries
/// copied to another machine, as `scripts/gpu-check.sh` does, find the fixtures there).
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("LRP_FIXTURES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"),
    }
}

/// Every golden case, sorted by name. Panics when the directory is missing or a file is broken:
/// a conformance suite with no cases must not pass.
pub fn cases() -> Vec<GoldenCase> {
    let dir = fixtures_dir().join("golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 12,
        "expected the golden cases in {}",
        dir.display()
    );
    files.iter().map(|p| load(p)).collect()
}

/// Loads one golden case file.
pub fn load(path: &Path) -> GoldenCase {
    let name = path
        .file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let params = read_canonical(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let st = parse(&bytes).expect("parsed above");
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("parsed above");
    let meta = meta.metadata().clone().unwrap_or_default();
    let setting = |key: &str| -> f64 {
        meta.get(key)
            .unwrap_or_else(|| panic!("{name}: metadata `{key}` missing"))
            .parse()
            .unwrap_or_else(|e| panic!("{name}: metadata `{key}`: {e}"))
    };
    let target = int_array(&st, "target").expect("target").data;
    let explicit = meta.get("target_mode").map(String::as_str) == Some("explicit");
    let config = ExplainConfig::new()
        .with_eps(setting("eps"))
        .with_bias_factor(setting("bias_factor"))
        .with_target(if explicit {
            Target::PerSample(target.iter().map(|&t| t as usize).collect())
        } else {
            Target::Predicted
        });
    GoldenCase {
        name,
        params,
        x: float_array(&st, "x").expect("x"),
        target,
        logits: float_array(&st, "logits").expect("logits").data,
        relevance: float_array(&st, "relevance").expect("relevance").data,
        rest: float_array(&st, "rest").expect("rest").data,
        config,
    }
}
