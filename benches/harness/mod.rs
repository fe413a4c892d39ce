//! What the `--bench` harnesses share: command-line values and timing.
//!
//! Each bench includes it with `mod harness;`. Not every bench uses every item.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use lstm_lrp::Precision;
use lstm_lrp::backends::{self, BackendError, DeviceChoice};
use lstm_lrp::burn::tensor::Device;

/// The value after `--name` on the command line (`cargo bench --bench B -- --name value`);
/// `None` when absent. Anything else (such as the `--bench` cargo passes) is ignored.
pub fn value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `--name value` parsed, `default` when absent; a value that does not parse stops the bench
/// with a message showing `example`.
pub fn parsed<T: std::str::FromStr>(name: &str, default: T, example: &str) -> T {
    match value(name) {
        Some(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} {v}: expected e.g. `{name} {example}`")),
        None => default,
    }
}

/// `--name a,b,c` parsed item by item, `default` when absent.
pub fn list<T: std::str::FromStr>(name: &str, default: Vec<T>, example: &str) -> Vec<T> {
    match value(name) {
        Some(v) => v
            .split(',')
            .map(|item| {
                item.parse()
                    .unwrap_or_else(|_| panic!("{name} {v}: expected e.g. `{name} {example}`"))
            })
            .collect(),
        None => default,
    }
}

/// Whether the flag `--name` is present.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Median wall time of `f` over at least 3 runs and `seconds`, after one warm-up run.
pub fn measure(seconds: f64, mut f: impl FnMut()) -> Duration {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// Median wall times of each of `fs`, measured interleaved: one warm-up call of each, then
/// rounds that call each once, until every one has run at least 3 times and the rounds took at
/// least `seconds` per function. A load that comes and goes (other jobs on the machine) then
/// slows every configuration alike, so the ratios between them hold better than with
/// [`measure`] one configuration after the other.
pub fn measure_interleaved(seconds: f64, fs: &mut [Box<dyn FnMut() + '_>]) -> Vec<Duration> {
    for f in fs.iter_mut() {
        f();
    }
    let mut times = vec![Vec::new(); fs.len()];
    let start = Instant::now();
    while times[0].len() < 3 || start.elapsed().as_secs_f64() < seconds * fs.len() as f64 {
        for (f, t) in fs.iter_mut().zip(&mut times) {
            let s = Instant::now();
            f();
            t.push(s.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

/// The median of `times` (the upper one of the middle two for an even count).
pub fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The backend's device (a CLI device name; `tch-cuda` for `tch-cuda:0`) for a model of
/// `precision`, or why there is none; the error names the cargo feature a backend needs when it
/// is not built in.
pub fn device(name: &str, precision: Precision) -> Result<(DeviceChoice, Device), BackendError> {
    let name = if name == "tch-cuda" {
        "tch-cuda:0"
    } else {
        name
    };
    let choice: DeviceChoice = name.parse()?;
    Ok((choice, backends::device_for(choice, precision)?))
}

/// The reference configuration of the TensorFlow port's benchmark (a bidirectional LSTM on
/// 200-dimensional inputs, two classes), shared by the benches that compare against it.
/// Writes `params` (one LSTM layer, either direction count, and a dense head) in the canonical
/// safetensors layout the CLI reads.
pub fn write_canonical_model(params: &lstm_lrp::ModelParams, path: &std::path::Path) {
    use lrp_import::HostArray;
    use lrp_import::formats::safetensors::{OutTensor, serialize};
    let f64s = |shape: &[usize], data: &[f64]| {
        OutTensor::F64(HostArray {
            shape: shape.to_vec(),
            data: data.to_vec(),
        })
    };
    let layer = &params.recurrent()[0];
    let dense = &params.head()[0];
    let weights = |w: &lstm_lrp::LstmWeights, suffix: &str| {
        [
            (format!("w_x{suffix}"), f64s(&w.w_x.shape(), w.w_x.data())),
            (format!("w_h{suffix}"), f64s(&w.w_h.shape(), w.w_h.data())),
            (format!("b{suffix}"), f64s(&[w.b.len()], &w.b)),
        ]
    };
    let mut tensors: Vec<(String, OutTensor)> =
        weights(layer.forward.as_lstm().expect("an LSTM"), "").into();
    if let Some(backward) = &layer.backward {
        tensors.extend(weights(backward.as_lstm().expect("an LSTM"), "_bw"));
    }
    tensors.push(("w_dense".into(), f64s(&dense.w.shape(), dense.w.data())));
    tensors.push(("b_dense".into(), f64s(&[dense.b.len()], &dense.b)));
    let named: Vec<(&str, OutTensor)> = tensors.into_iter().map(|(n, t)| (&*n.leak(), t)).collect();
    std::fs::write(path, serialize(&named, None).expect("serialise")).expect("write model");
}

pub mod reference {
    /// Time steps.
    pub const T: usize = 25;
    /// Hidden units per direction.
    pub const H: usize = 300;
    /// Input features.
    pub const E: usize = 200;
    /// Classes.
    pub const C: usize = 2;
}
