//! `lstm-lrp evaluate`: compares explanation methods by deletion curves (AOPC), descriptive
//! accuracy and sparsity, and writes a table and an SVG plot.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use lrp_core::attribution::Method;
use lrp_core::{ExplainConfig, LstmModel, Precision, Removal, Target};
use lstm_lrp::evaluation::{DeletionCurve, DeletionSettings, Order, deletion_curve, maz_area};
use lstm_lrp::io::{
    Existing, InputArrays, InputPath, InputSource, ReadAhead, Vocab, check_writable, write_atomic,
};

use super::CliError;
use super::setup::{ModelArgs, Setup};

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input file (or `-` for stdin): safetensors/.npy as for `explain`, or JSON lines of
    /// token ids, or of words with `--vocab`.
    #[arg(long, short)]
    input: PathBuf,
    /// Vocabulary for word input (see `explain --help`).
    #[arg(long)]
    vocab: Option<PathBuf>,
    /// Comma-separated methods: lrp, gradient, gxi, ig, occlusion.
    #[arg(long, default_value = "lrp,gradient,gxi,ig,occlusion")]
    methods: String,
    /// Number of removals K of the deletion curves.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// How a step is removed: `zero` (zero vector) or `mask` (treated as padding).
    #[arg(long, default_value = "zero")]
    removal: String,
    /// Interpolation points of integrated gradients.
    #[arg(long, default_value_t = 64)]
    ig_steps: usize,
    /// Seed of the random-order control (batch k of `--batch-size` uses seed + its first sample).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for `table.md`, `table.csv` and `deletion.svg` (created if needed).
    #[arg(long)]
    out_dir: PathBuf,
    /// Replace `table.md`, `table.csv` and `deletion.svg` if the directory has them already.
    #[arg(long)]
    overwrite: bool,
    /// Compute device: `cpu`, `ndarray` or `flex`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Samples evaluated at once (bounds memory: each deletion curve runs K + 1 copies of a
    /// batch, integrated gradients `--ig-steps` copies).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
}

fn parse_method(name: &str, ig_steps: usize) -> Result<Method, CliError> {
    Ok(match name.trim() {
        "lrp" => Method::Lrp(ExplainConfig::new()),
        "gradient" => Method::Gradient,
        "gxi" => Method::GradientTimesInput,
        "ig" => Method::IntegratedGradients {
            steps: ig_steps,
            baseline: None,
        },
        "occlusion" => Method::Occlusion,
        other => {
            return Err(CliError::usage(format!(
                "--methods: unknown method `{other}` (use lrp, gradient, gxi, ig, occlusion)"
            )));
        }
    })
}

/// One method's results: means over `samples` samples.
struct Row {
    name: &'static str,
    most: DeletionCurve,
    least: DeletionCurve,
    random: DeletionCurve,
    maz: f64,
    samples: usize,
}

impl Row {
    /// Folds in the means of another batch, weighting each by its number of samples.
    fn merge(&mut self, other: Row) {
        let (n, m) = (self.samples as f64, other.samples as f64);
        let mean = |a: &mut f64, b: f64| *a = (*a * n + b * m) / (n + m);
        for (mine, theirs) in [
            (&mut self.most, other.most),
            (&mut self.least, other.least),
            (&mut self.random, other.random),
        ] {
            for (a, b) in [
                (&mut mine.logit, theirs.logit),
                (&mut mine.score, theirs.score),
                (&mut mine.accuracy, theirs.accuracy),
            ] {
                a.iter_mut().zip(b).for_each(|(a, b)| mean(a, b));
            }
        }
        mean(&mut self.maz, other.maz);
        self.samples += other.samples;
    }
}

/// One method on one batch: its deletion curves (most relevant first, least relevant first,
/// random) and mean MAZ area.
fn evaluate_batch(
    model: &LstmModel,
    inputs: &InputArrays,
    method: &Method,
    settings: DeletionSettings,
    seed: u64,
    ctx: &str,
) -> Result<Row, CliError> {
    let [batch, steps] = inputs.batch_and_steps();
    let device = model.device();
    let input = inputs.input_range(0..batch, device, Precision::F64);
    let a = model
        .attribute(input.clone(), method, &Target::Predicted)
        .map_err(|e| CliError::explain(ctx, e))?;
    // Sensitivity ranks steps by the squared gradient norm (as the numpy reference and the
    // literature report it): the signed sum of a gradient has no meaning as a relevance.
    let per_step = match method {
        Method::Gradient => a.step_squared_norms(),
        _ => a.step_scores(),
    };
    let scores: Vec<f64> = per_step
        .try_into_vec_as::<f64>()
        .map_err(|e| CliError::usage(format!("device error: {e:?}")))?;
    let curve = |order| {
        deletion_curve(model, &input, &scores, &a.target, order, settings)
            .map_err(|e| CliError::explain(ctx, e))
    };
    let real = model
        .real_steps(input.clone())
        .map_err(|e| CliError::explain(ctx, e))?;
    let maz = (0..batch)
        .map(|b| {
            let s: Vec<f64> = (0..steps)
                .filter(|&t| real[b * steps + t])
                .map(|t| scores[b * steps + t])
                .collect();
            maz_area(&s)
        })
        .sum::<f64>()
        / batch as f64;
    Ok(Row {
        name: method.name(),
        most: curve(Order::MostRelevantFirst)?,
        least: curve(Order::LeastRelevantFirst)?,
        random: curve(Order::Random(seed))?,
        maz,
        samples: batch,
    })
}

const OUTPUT_FILES: [&str; 3] = ["table.md", "table.csv", "deletion.svg"];

pub fn run(args: EvaluateArgs) -> Result<(), CliError> {
    let removal = match args.removal.as_str() {
        "zero" => Removal::Zero,
        "mask" => Removal::Mask,
        other => {
            return Err(CliError::usage(format!(
                "--removal: `{other}` is not zero or mask"
            )));
        }
    };
    let methods = args
        .methods
        .split(',')
        .map(|m| parse_method(m, args.ig_steps))
        .collect::<Result<Vec<_>, _>>()?;
    let existing = if args.overwrite {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    for name in OUTPUT_FILES {
        check_writable(&args.out_dir.join(name), existing, "--overwrite")?;
    }
    let setup = Setup::new(&args.model, &args.device, Precision::F64)?;
    let vocab = args
        .vocab
        .as_deref()
        .map(Vocab::read)
        .transpose()?
        .map(Arc::new);
    let source = InputSource::open(InputPath::from(args.input.clone()), vocab)?;
    let settings = DeletionSettings {
        steps: args.steps,
        removal,
    };
    let ctx = source.name().to_string();
    let chunk = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
    let mut rows: Vec<Row> = Vec::new();
    // Batch k + 1 is read while batch k is evaluated.
    for ahead in ReadAhead::start(source, chunk)? {
        let batch = ahead?.batch;
        for (m, method) in methods.iter().enumerate() {
            let seed = args.seed.wrapping_add(batch.start as u64);
            let row = evaluate_batch(&setup.model, &batch.inputs, method, settings, seed, &ctx)?;
            match rows.get_mut(m) {
                Some(total) => total.merge(row),
                None => rows.push(row),
            }
        }
    }
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| CliError::usage(format!("{}: {e}", args.out_dir.display())))?;
    let (md, csv) = tables(&rows, args.steps);
    write(&args.out_dir.join("table.md"), &md, existing)?;
    write(&args.out_dir.join("table.csv"), &csv, existing)?;
    write(&args.out_dir.join("deletion.svg"), &svg(&rows), existing)?;
    print!("{md}");
    Ok(())
}

fn write(path: &Path, text: &str, existing: Existing) -> Result<(), CliError> {
    Ok(write_atomic(path, text.as_bytes(), existing)?)
}

fn tables(rows: &[Row], k: usize) -> (String, String) {
    let mut md = format!(
        "| method | AOPC | reverse AOPC | random AOPC | DA_{k} | MAZ area |\n|---|---|---|---|---|---|\n"
    );
    let mut csv = String::from("method,aopc,reverse_aopc,random_aopc,da_k,maz_area\n");
    for r in rows {
        let v = [
            r.most.aopc(),
            r.least.aopc(),
            r.random.aopc(),
            r.most.descriptive_accuracy(),
            r.maz,
        ];
        let _ = writeln!(
            md,
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |",
            r.name, v[0], v[1], v[2], v[3], v[4]
        );
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{}",
            r.name, v[0], v[1], v[2], v[3], v[4]
        );
    }
    (md, csv)
}

/// Mean target logit against the number of removed steps (most relevant first), one polyline
/// per method, with axes and a legend.
fn svg(rows: &[Row]) -> String {
    const COLORS: [&str; 6] = [
        "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let (w, h, m) = (640.0, 400.0, 50.0);
    let all = rows.iter().flat_map(|r| r.most.logit.iter().copied());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (lo.min(0.0), lo.max(0.0) + 1.0)
    };
    let k = rows
        .first()
        .map_or(1, |r| r.most.logit.len().saturating_sub(1).max(1));
    let px = |i: usize| m + (w - 2.0 * m) * i as f64 / k as f64;
    let py = |v: f64| h - m - (h - 2.0 * m) * (v - lo) / (hi - lo);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n\
         <line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">steps removed (most relevant first)</text>\n\
         <text x=\"12\" y=\"{}\" font-size=\"12\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">mean target logit</text>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{hi:.2}</text>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{lo:.2}</text>\n",
        h - m,
        w - m,
        h - m,
        h - m,
        w / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0,
        m - 4.0,
        m + 4.0,
        m - 4.0,
        h - m
    );
    for i in 0..=k {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{i}</text>",
            px(i),
            h - m + 14.0
        );
    }
    for (j, r) in rows.iter().enumerate() {
        let color = COLORS[j % COLORS.len()];
        let points: Vec<String> = r
            .most
            .logit
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{:.2},{:.2}", px(i), py(v)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            points.join(" "),
            r.name
        );
        let y = m + 16.0 * j as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            w - m - 90.0,
            w - m - 70.0,
            w - m - 65.0,
            y + 4.0,
            r.name
        );
    }
    s.push_str("</svg>\n");
    s
}
