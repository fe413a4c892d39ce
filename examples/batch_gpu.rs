//! Explain many sequences in batches on a device chosen by name:
//! `cargo run --release --example batch_gpu -- [DEVICE [BATCH]]`, e.g. `wgpu` (build with
//! `--features wgpu`, f32 only), `tch-cuda:0` (`--features tch`), or `cpu` (the default).
//!
//! Generates 2 000 random sequences for a random bidirectional model (T = 25, E = 64, H = 128),
//! explains them `BATCH` at a time and reports the throughput.

use std::time::Instant;

use lstm_lrp::backends::{self, DeviceChoice};
use lstm_lrp::burn::tensor::{Tensor, TensorData};
use lstm_lrp::{ExplainConfig, LstmModel, LstmWeights, Matrix, ModelParams, Precision};

/// A small deterministic generator (no dependency), uniform in [-scale, scale).
fn values(n: usize, seed: &mut u64, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn random_model(
    e: usize,
    h: usize,
    c: usize,
    seed: &mut u64,
) -> Result<ModelParams, Box<dyn std::error::Error>> {
    let mut weights = || -> Result<LstmWeights, Box<dyn std::error::Error>> {
        Ok(LstmWeights {
            w_x: Matrix::new(e, 4 * h, values(e * 4 * h, seed, 0.2))?,
            w_h: Matrix::new(h, 4 * h, values(h * 4 * h, seed, 0.2))?,
            b: values(4 * h, seed, 0.1),
        })
    };
    let (forward, backward) = (weights()?, weights()?);
    let w_dense = Matrix::new(2 * h, c, values(2 * h * c, seed, 0.2))?;
    Ok(ModelParams::single_layer(
        forward,
        Some(backward),
        w_dense,
        vec![0.0; c],
    )?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let choice: DeviceChoice = args.next().unwrap_or_else(|| "cpu".into()).parse()?;
    let batch: usize = args.next().map_or(Ok(250), |b| b.parse())?;
    // wgpu computes in f32 only; every other backend in f64.
    let precision = if choice == DeviceChoice::Wgpu {
        Precision::F32
    } else {
        Precision::F64
    };
    let device = backends::device_for(choice, precision)?;
    println!("{}", backends::describe(choice)?);

    let (t, e, h, c, total) = (25, 64, 128, 2, 2000);
    let mut seed = 42;
    let model = LstmModel::new(&random_model(e, h, c, &mut seed)?, &device, precision)?;
    let data = values(total * t * e, &mut seed, 1.0);
    let start = Instant::now();
    let mut explained = 0;
    for first in (0..total).step_by(batch) {
        let n = batch.min(total - first);
        let x: Tensor<3> = Tensor::from_data(
            TensorData::new(data[first * t * e..(first + n) * t * e].to_vec(), [n, t, e]),
            (&device, precision.dtype()),
        );
        let explanation = model.explain(x, &ExplainConfig::new())?.to_host()?;
        explained += explanation.batch;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{explained} sequences in {seconds:.2} s: {:.0} sequences/s ({precision}, batch {batch})",
        explained as f64 / seconds
    );
    Ok(())
}
