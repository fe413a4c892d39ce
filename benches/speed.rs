//! Where the CPU time stands, as ratios measured side by side in one run: the machine's matrix
//! rate (burn's own GEMM on the same device, and numpy's — in a Python child process, interleaved
//! with the rest — when a Python with numpy is found),
//! explain and forward at the reference configuration (bidirectional LSTM, T = 25, H = 300,
//! E = 200, C = 2) as GFLOP/s and as a share of that rate, explain/forward, batch 10 against
//! batch 100, a padded batch against the full one, and 1 thread against all of them.
//!
//! ```text
//! cargo bench --bench speed                                  # flex, f64 and f32
//! cargo bench --bench speed -- --backends flex,ndarray --features lstm-lrp/ndarray
//! LIBTORCH=… cargo bench --bench speed --features tch -- --backends flex,tch
//! cargo bench --bench speed -- --python /path/to/python      # numpy's GEMM next to burn's
//! cargo bench --bench speed -- --backends flex,flex-unfused  # fused step kernels vs tensor ops
//! cargo bench --bench speed -- --directions 1                # the reference's forward half alone
//! cargo bench --bench speed -- --cli-samples 0               # without the CLI's run
//! ```
//!
//! The CLI column is the issue's own measure: a whole `lstm-lrp explain` process (start-up,
//! reading the model and a `.npy` of `--cli-samples` sequences, explaining them at
//! `--batch-size 100`, no output file) on the bench's model and device, timed among the other
//! runs, as ms per sequence and as a share of numpy's GEMM rate of the same run.
//!
//! FLOPs are those of the matrix products (2·m·k·n each): per sample, forward
//! `D·T·2·(E+H)·4H` plus the head, explain adds `D·T·2·H·H` (the recurrent relevance under the
//! default gate rule) and `2·T·(D·H)·E` (the input relevance of all steps): 75.0 MFLOP at the
//! reference configuration. The element-wise work between the products is not counted: the
//! share of the GEMM rate says how much of the time the products are not running at it.
//!
//! The thread comparison runs this benchmark again as a child with `RAYON_NUM_THREADS=1`
//! (burn's CPU backends and lrp-core's direction tasks share rayon's global pool, sized once).

mod harness;

#[global_allocator]
static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;

use std::time::Duration;

use lrp_conformance::random::{Rng, SingleLayer};
use lstm_lrp::backends::{self, DeviceChoice};
use lstm_lrp::burn::tensor::{Device, Tensor, TensorData};
use lstm_lrp::{ExplainConfig, Input, LstmModel, ModelParams, Precision};

use harness::reference::{C, E, H, T};

struct Options {
    backends: Vec<String>,
    precisions: Vec<Precision>,
    seconds: f64,
    python: Option<String>,
    /// Set in the single-thread child: print only the one measurement asked for.
    child: Option<String>,
    /// Directions of the LSTM: 2 (the reference, bidirectional) or 1 (its forward half).
    directions: usize,
    /// Sequences of the CLI run (0: none).
    cli_samples: usize,
}

fn options() -> Options {
    Options {
        backends: harness::list("--backends", vec!["flex".into()], "flex,ndarray,tch"),
        precisions: harness::list(
            "--precisions",
            vec![Precision::F64, Precision::F32],
            "f64,f32",
        ),
        seconds: harness::parsed("--seconds", 3.0, "3"),
        python: harness::value("--python"),
        child: harness::value("--child"),
        directions: match harness::parsed("--directions", 2usize, "2") {
            d @ (1 | 2) => d,
            d => panic!("--directions {d}: 1 or 2"),
        },
        cli_samples: harness::parsed("--cli-samples", 1000usize, "1000"),
    }
}

/// `d` directions.
fn forward_flops(d: usize) -> f64 {
    (d * T * 2 * (E + H) * 4 * H + 2 * d * H * C) as f64
}

/// `d` directions.
fn explain_flops(d: usize) -> f64 {
    forward_flops(d) + (d * T * 2 * H * H + 2 * T * d * H * E + 2 * C * d * H) as f64
}

/// The size of the square product that gives a machine's GEMM rate (Flex's and numpy's).
const BIG: usize = 2000;

fn gflops(flops: f64, time: Duration) -> f64 {
    flops / time.as_secs_f64() / 1e9
}

fn random(rng: &mut Rng, shape: [usize; 2], device: &Device, precision: Precision) -> Tensor<2> {
    let n = shape[0] * shape[1];
    Tensor::from_data(
        TensorData::new(rng.normals(n, 1.0), shape),
        (device, precision.dtype()),
    )
}

/// The operands of burn's matrix product `(m, k) × (k, n)` on `device`.
fn gemm_operands(
    device: &Device,
    precision: Precision,
    (m, k, n): (usize, usize, usize),
) -> (Tensor<2>, Tensor<2>) {
    let mut rng = Rng::new(7);
    (
        random(&mut rng, [m, k], device, precision),
        random(&mut rng, [k, n], device, precision),
    )
}

/// burn's matrix product `(m, k) × (k, n)` on `device`, GFLOP/s.
fn gemm_rate(
    device: &Device,
    precision: Precision,
    (m, k, n): (usize, usize, usize),
    seconds: f64,
) -> f64 {
    let (a, b) = gemm_operands(device, precision, (m, k, n));
    let time = harness::measure(seconds, || {
        let _ = a.clone().matmul(b.clone()).into_data();
    });
    gflops((2 * m * k * n) as f64, time)
}

/// numpy's `a @ b` at `n × n` in float64 and float32, run on demand by a Python child process,
/// so that its GEMM rate is measured interleaved with the explanations it is compared with
/// (measured once at the end of a run, it moved by ±20 % between runs while the other
/// ratios held).
struct NumpyGemm {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl NumpyGemm {
    /// Starts `python` with numpy's operands ready; `None` when it cannot run numpy.
    fn start(python: &str, n: usize) -> Option<NumpyGemm> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        // One line in ("float64" or "float32"), one product, one line out. The operands are made
        // once; `a @ b` runs once per dtype before the first request (OpenBLAS's set-up).
        let script = format!(
            "import sys, numpy as np\n\
             ops = {{d: (np.random.rand({n}, {n}).astype(d), np.random.rand({n}, {n}).astype(d)) for d in ('float64', 'float32')}}\n\
             for a, b in ops.values(): a @ b\n\
             print('ready', flush=True)\n\
             for line in sys.stdin:\n    a, b = ops[line.strip()]; a @ b; print('done', flush=True)\n"
        );
        let mut child = Command::new(python)
            .args(["-c", &script])
            // OpenBLAS's threads otherwise spin for ~2^28 cycles after each product, taking a
            // core from the measurement that follows; 2^4 is the least it allows.
            .env("OPENBLAS_THREAD_TIMEOUT", "4")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let input = child.stdin.take()?;
        let mut output = std::io::BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        match output.read_line(&mut line) {
            Ok(_) if line.trim() == "ready" => Some(NumpyGemm {
                child,
                input,
                output,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    /// One product in `precision`, waited for.
    fn product(&mut self, precision: Precision) {
        use std::io::{BufRead, Write};
        let dtype = match precision {
            Precision::F64 => "float64",
            _ => "float32",
        };
        let mut line = String::new();
        let answered = writeln!(self.input, "{dtype}").is_ok()
            && self.input.flush().is_ok()
            && self
                .output
                .read_line(&mut line)
                .is_ok_and(|_| line.trim() == "done");
        assert!(answered, "the numpy child process stopped answering");
    }
}

impl Drop for NumpyGemm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Runs {
    model: LstmModel,
    device: Device,
    precision: Precision,
    seconds: f64,
}

impl Runs {
    fn input(&self, batch: usize, rng: &mut Rng) -> Tensor<3> {
        Tensor::from_data(
            TensorData::new(rng.normals(batch * T * E, 1.0), [batch, T, E]),
            (&self.device, self.precision.dtype()),
        )
    }

    fn explain(&self, input: impl Fn() -> Input) -> Duration {
        harness::measure(self.seconds, || explain_once(&self.model, input()))
    }
}

/// One explanation at the default settings, read back.
fn explain_once(model: &LstmModel, input: Input) {
    let e = model
        .explain(input, &ExplainConfig::new())
        .expect("explain");
    let _ = e.relevance.into_data();
}

/// The bench's model: the reference shape, `--directions` directions, fixed random weights. The
/// library's runs and the CLI's process explain the same one.
fn bench_params(o: &Options) -> ModelParams {
    SingleLayer {
        e: E,
        h: H,
        c: C,
        bidirectional: o.directions == 2,
    }
    .random(&mut Rng::new(1))
}

/// `name` is a device (`flex`, `ndarray`, `tch`, …), or one with `-unfused` appended: the same
/// device with the backend's fused step kernels turned off (every step as tensor operations).
fn model_on(name: &str, precision: Precision, o: &Options) -> Option<Runs> {
    let seconds = o.seconds;
    let (device_name, fused) = match name.strip_suffix("-unfused") {
        Some(device) => (device, false),
        None => (name, true),
    };
    let choice: DeviceChoice = match device_name.parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("--backends {name}: {e}");
            std::process::exit(2);
        }
    };
    let device = match backends::device_for(choice, precision) {
        Ok(d) => d,
        Err(e) => {
            println!("| {name} | {precision} | {e} |");
            return None;
        }
    };
    let model = LstmModel::new(&bench_params(o), &device, precision)
        .expect("model")
        .with_fused_kernels(fused);
    Some(Runs {
        model,
        device,
        precision,
        seconds,
    })
}

/// A whole `lstm-lrp explain` process over `--cli-samples` random sequences of the bench's
/// model, in files written once.
struct CliRun {
    dir: std::path::PathBuf,
    device: String,
    precision: Precision,
}

impl CliRun {
    /// `None` with `--cli-samples 0`, or for a backend the CLI has no device name for.
    fn new(name: &str, precision: Precision, o: &Options) -> Option<Self> {
        // The CLI's device names; `flex-unfused` and the like are the bench's own.
        if o.cli_samples == 0 || name.parse::<DeviceChoice>().is_err() {
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "lstm-lrp-speed-cli-{}-{name}-{precision}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        harness::write_canonical_model(&bench_params(o), &dir.join("model.safetensors"));
        let x = Rng::new(5).normals(o.cli_samples * T * E, 1.0);
        let npy = lrp_import::formats::npy::write_f64(&[o.cli_samples, T, E], &x);
        std::fs::write(dir.join("x.npy"), npy).expect("write the input");
        Some(CliRun {
            dir,
            device: name.to_string(),
            precision,
        })
    }

    /// Runs the process once.
    fn run(&self) {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
            .args(["explain", "--print", "0", "--batch-size", "100"])
            .args(["--device", &self.device])
            .args(["--precision", &self.precision.to_string()])
            .arg("--model")
            .arg(self.dir.join("model.safetensors"))
            .arg("--input")
            .arg(self.dir.join("x.npy"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run lstm-lrp");
        assert!(status.success(), "lstm-lrp explain failed");
    }
}

impl Drop for CliRun {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The single-thread child: one explain measurement at batch 100, printed as ms per sample.
/// `--child BACKEND:PRECISION[:padded|:forward|:bN]`; `padded` explains the post-padded batch
/// of the table's padded column instead, `forward` times the forward pass alone, `bN` explains
/// batches of N (for profiling each on its own).
fn child(o: &Options, what: &str) {
    let mut parts = what.split(':');
    let (Some(name), Some(precision)) = (parts.next(), parts.next()) else {
        panic!("--child BACKEND:PRECISION[:padded|:forward|:bN]");
    };
    let variant = parts.next();
    let padded = variant == Some("padded");
    let precision: Precision = precision.parse().expect("a precision");
    let runs = model_on(name, precision, o).expect("the parent ran this backend");
    let batch = variant
        .and_then(|v| v.strip_prefix('b'))
        .map_or(100, |b| b.parse().expect("a batch size after `b`"));
    let mut rng = Rng::new(3);
    let x = runs.input(batch, &mut rng);
    let lengths: Vec<usize> = (0..batch).map(|_| 5 + rng.below(T - 5 + 1)).collect();
    let time = if variant == Some("forward") {
        harness::measure(o.seconds, || {
            let _ = runs.model.forward(x.clone()).expect("forward").into_data();
        })
    } else {
        runs.explain(|| match padded {
            true => Input::features(x.clone()).with_lengths(lengths.clone()),
            false => Input::features(x.clone()),
        })
    };
    println!("{}", time.as_secs_f64() * 1e3 / batch as f64);
}

/// Explain at batch 100 with one rayon thread, ms per sample (a child process).
fn single_thread(name: &str, precision: Precision, o: &Options) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .env("RAYON_NUM_THREADS", "1")
        .args([
            "--child",
            &format!("{name}:{precision}"),
            "--seconds",
            &o.seconds.to_string(),
            "--directions",
            &o.directions.to_string(),
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

fn main() {
    lstm_lrp::alloc::keep_freed_memory();
    let o = options();
    if let Some(what) = o.child.clone() {
        child(&o, &what);
        return;
    }
    // rayon's global pool: RAYON_NUM_THREADS if set, else one thread per core.
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!(
        "{} LSTM T={T} H={H} E={E} C={C}, eps=1e-3, predicted class; {:.1} MFLOP per \
         sample explained ({:.1} forward); {threads} threads; median of >= 3 runs and >= {}s",
        if o.directions == 2 {
            "bidirectional"
        } else {
            "unidirectional"
        },
        explain_flops(o.directions) / 1e6,
        forward_flops(o.directions) / 1e6,
        o.seconds
    );
    println!();
    let python = o.python.clone().unwrap_or_else(|| "python3".into());
    let mut numpy = NumpyGemm::start(&python, BIG);
    let big_flops = 2.0 * (BIG as f64).powi(3);
    if numpy.is_none() {
        println!(
            "numpy's GEMM not measured: `{python}` has no numpy (give --python PATH to one that has)\n"
        );
    }
    println!(
        "| backend | precision | GEMM 2000² GFLOP/s | numpy's GEMM 2000² GFLOP/s | step GEMMs (100×200·200×1200, 100×300·300×1200, 100×300·300×300) GFLOP/s | explain B=100 ms/sample | explain GFLOP/s | share of GEMM 2000² | share of numpy's | explain/forward | B=10 vs B=100 per sample | padded (lengths 5–25) vs full | 1 thread vs {threads} | fused kernels vs tensor path | CLI, {} sequences at batch 100, start-up included: ms/sequence | CLI's share of numpy's |",
        o.cli_samples
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for name in &o.backends {
        for &precision in &o.precisions {
            let Some(runs) = model_on(name, precision, &o) else {
                continue;
            };
            let steps: Vec<String> = [(100, E, 4 * H), (100, H, 4 * H), (100, H, H)]
                .into_iter()
                .map(|s| format!("{:.1}", gemm_rate(&runs.device, precision, s, o.seconds)))
                .collect();
            let mut rng = Rng::new(3);
            let x100 = runs.input(100, &mut rng);
            let x10 = runs.input(10, &mut rng);
            // Lengths uniform in [5, 25], post-padded.
            let lengths: Vec<usize> = (0..100).map(|_| 5 + rng.below(T - 5 + 1)).collect();
            let real = lengths.iter().sum::<usize>() as f64 / (100 * T) as f64;
            let (a, b) = gemm_operands(&runs.device, precision, (BIG, BIG, BIG));
            let tensor_path = runs.model.clone().with_fused_kernels(false);
            let fused = runs.model.fused_kernels().is_some();
            let model = &runs.model;
            let cli = CliRun::new(name, precision, &o);
            // Everything the ratios compare, interleaved (see `harness::measure_interleaved`),
            // so that a load that comes and goes slows all of them alike.
            let mut runs_of: Vec<Box<dyn FnMut() + '_>> = vec![
                Box::new(|| {
                    let _ = a.clone().matmul(b.clone()).into_data();
                }),
                Box::new(|| explain_once(model, Input::features(x100.clone()))),
                Box::new(|| explain_once(model, Input::features(x10.clone()))),
                Box::new(|| {
                    let _ = model.forward(x100.clone()).expect("forward").into_data();
                }),
                Box::new(|| {
                    let input = Input::features(x100.clone()).with_lengths(lengths.clone());
                    explain_once(model, input)
                }),
            ];
            if fused {
                runs_of.push(Box::new(|| {
                    explain_once(&tensor_path, Input::features(x100.clone()))
                }));
            }
            let cli_at = runs_of.len();
            if let Some(cli) = &cli {
                runs_of.push(Box::new(|| cli.run()));
            }
            let numpy_at = runs_of.len();
            if let Some(numpy) = numpy.as_mut() {
                runs_of.push(Box::new(move || numpy.product(precision)));
            }
            let times = harness::measure_interleaved(o.seconds, &mut runs_of);
            drop(runs_of);
            let (gemm, explain100, explain10, forward100, padded) =
                (times[0], times[1], times[2], times[3], times[4]);
            let big = gflops(big_flops, gemm);
            let kernels = times[5..cli_at].first().map_or("–".to_string(), |unfused| {
                format!("{:.2}×", unfused.as_secs_f64() / explain100.as_secs_f64())
            });
            let numpy_rate = times.get(numpy_at).map(|&t| gflops(big_flops, t));
            let per100 = explain100.as_secs_f64() / 100.0;
            let per10 = explain10.as_secs_f64() / 10.0;
            let rate = gflops(explain_flops(o.directions) * 100.0, explain100);
            let one = single_thread(name, precision, &o).map_or("–".to_string(), |ms| {
                format!("{:.2}×", ms / (per100 * 1e3))
            });
            let (numpy_column, numpy_share) = numpy_rate
                .map_or(("–".into(), "–".into()), |r| {
                    (format!("{r:.1}"), format!("{:.0} %", 100.0 * rate / r))
                });
            let cli_time = times[cli_at..numpy_at].first().copied();
            let cli_column = cli_time.map_or("–".into(), |t| {
                format!("{:.3}", t.as_secs_f64() * 1e3 / o.cli_samples as f64)
            });
            let cli_share = cli_time.zip(numpy_rate).map_or("–".into(), |(t, r)| {
                let cli_rate = gflops(explain_flops(o.directions) * o.cli_samples as f64, t);
                format!("{:.0} %", 100.0 * cli_rate / r)
            });
            println!(
                "| {name} | {precision} | {big:.1} | {numpy_column} | {} | {:.3} | {rate:.1} | {:.0} % | {numpy_share} | {:.2} | {:.2} | {:.2} (ideal {real:.2}) | {one} | {kernels} | {cli_column} | {cli_share} |",
                steps.join(", "),
                per100 * 1e3,
                100.0 * rate / big,
                explain100.as_secs_f64() / forward100.as_secs_f64(),
                per10 / per100,
                padded.as_secs_f64() / explain100.as_secs_f64(),
            );
        }
    }
}
