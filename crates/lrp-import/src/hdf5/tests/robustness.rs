//! Truncated and bit-flipped variants of every file must give `Ok` or
//! `Err`, never a panic, when walking everything (deterministic, fast).

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{HDF5_FIXTURES, SYNTHETIC, fixture, walk};
use crate::hdf5::File;

/// xorshift64* pseudo-random generator (deterministic).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Parses and walks `bytes`; returns a description if that panicked.
fn survives(bytes: Vec<u8>) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| {
        if let Ok(f) = File::from_bytes(bytes) {
            let _ = walk(&f);
        }
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Applies one of several mutation kinds at a pseudo-random position,
/// biased towards the first 4 KiB where most metadata lives.
fn mutate(bytes: &mut [u8], rng: &mut Rng) -> String {
    let len = bytes.len();
    let pos = if rng.below(2) == 0 {
        rng.below(len.min(4096))
    } else {
        rng.below(len)
    };
    let kind = rng.below(5);
    match kind {
        0 => bytes[pos] ^= 1 << rng.below(8),
        1 => bytes[pos] = 0xff,
        2 => bytes[pos] = 0,
        3 => bytes[pos] = rng.next() as u8,
        _ => {
            // an 8-byte field: undefined address or random value
            let v = if rng.below(2) == 0 {
                u64::MAX
            } else {
                rng.next()
            };
            let end = (pos + 8).min(len);
            bytes[pos..end].copy_from_slice(&v.to_le_bytes()[..end - pos]);
        }
    }
    format!("kind {kind} at {pos}")
}

fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = HDF5_FIXTURES
        .iter()
        .map(|r| (r.to_string(), fixture(r)))
        .collect();
    files.extend(SYNTHETIC.iter().map(|(n, b)| (n.to_string(), b.to_vec())));
    files
}

#[test]
fn truncated_files_do_not_panic() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, bytes) in all_files() {
        let len = bytes.len();
        let mut cuts: Vec<usize> = vec![
            0, 1, 8, 9, 40, 95, 96, 97, 100, 128, 200, 511, 512, 600, 700, 800, 1000, 1024, 2048,
            4096,
        ];
        cuts.extend((1..24).map(|i| len * i / 24));
        cuts.extend([len.saturating_sub(1), len.saturating_sub(8)]);
        for cut in cuts.into_iter().filter(|&c| c <= len) {
            count += 1;
            if let Err(msg) = survives(bytes[..cut].to_vec()) {
                failures.push(format!("{name} truncated to {cut}: {msg}"));
            }
        }
    }
    assert!(count > 400, "{count}");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn mutated_files_do_not_panic() {
    let mut failures = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut count = 0;
    for (name, bytes) in all_files() {
        // The synthetic files are slower to walk (hundreds of links), so
        // they get fewer rounds; the Keras fixtures get most of them.
        let rounds = match name.as_str() {
            "dense_deep.h5" => 15,
            n if n.starts_with("sb") => 60,
            _ => 250,
        };
        for round in 0..rounds {
            let mut m = bytes.clone();
            // one to three mutations per variant
            let n = 1 + round % 3;
            let what: Vec<String> = (0..n).map(|_| mutate(&mut m, &mut rng)).collect();
            count += 1;
            if let Err(msg) = survives(m) {
                failures.push(format!("{name} round {round} ({what:?}): {msg}"));
            }
        }
    }
    assert!(count >= 2500, "{count}");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Longer run for manual use:
/// `MINI_HDF5_SOAK=20000 cargo test --release soak -- --ignored --nocapture`
#[test]
#[ignore = "long-running soak test"]
fn soak() {
    let rounds: usize = std::env::var("MINI_HDF5_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("MINI_HDF5_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut failures = Vec::new();
    for (name, bytes) in all_files() {
        let t = std::time::Instant::now();
        let mut slowest = std::time::Duration::ZERO;
        for round in 0..rounds {
            let mut m = bytes.clone();
            let n = 1 + rng.below(4);
            let what: Vec<String> = (0..n).map(|_| mutate(&mut m, &mut rng)).collect();
            let t1 = std::time::Instant::now();
            if let Err(msg) = survives(m) {
                failures.push(format!("{name} round {round} ({what:?}): {msg}"));
            }
            let el = t1.elapsed();
            if el > slowest {
                slowest = el;
            }
            if el.as_secs() >= 1 {
                println!("SLOW {name} round {round} {what:?} {el:?}");
            }
        }
        println!("{name}: {:?} total, slowest {slowest:?}", t.elapsed());
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
