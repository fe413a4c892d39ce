//! Truncated and bit-flipped checkpoints must give `Ok` or `Err`, never a panic.
//! Deterministic pseudo-random mutations (xorshift), a few thousand in all, each written to a
//! file of its own (the reader takes paths).

mod common;
#[path = "pytorch_common/mod.rs"]
mod torch_common;

use common::{TempDir, XorShift};
use lrp_import::formats::torch::read_state_dict;
use lrp_import::{LoadOptions, read_model};
use torch_common::{ZipOpts, fixture, stored_entries, write_zip};

const FILES: &[&str] = &[
    "p1_bilstm_linear.state_dict.pt",
    "p1_bilstm_linear.legacy.pt",
    "p1_bilstm_linear.full_module.pt",
    "p2_embed_2layer_bilstm_packed.state_dict.pt",
    "p3_lstm_timemajor.state_dict.pt",
];

/// Runs the readers on `bytes`; a panic fails the test (the harness reports it). Whether the
/// checkpoint reader accepted it.
fn exercise(tmp: &TempDir, bytes: &[u8], with_model: bool) -> bool {
    let path = tmp.file("pt", bytes);
    let ok = read_state_dict(&path).is_ok();
    if with_model {
        let _ = read_model(&path, &LoadOptions::default());
    }
    let _ = std::fs::remove_file(&path);
    ok
}

#[test]
fn truncations_never_panic_and_are_refused() {
    let tmp = TempDir::new("torch-truncations");
    let mut runs = 0;
    for f in FILES {
        let b = fixture(f);
        // Every length near both ends, then a stride through the middle.
        let mut lens: Vec<usize> = (0..200.min(b.len())).collect();
        lens.extend(b.len().saturating_sub(120)..b.len());
        lens.extend((0..b.len()).step_by(b.len() / 150 + 1));
        for n in lens {
            // A zip's directory is at its end, and a legacy file's last storage ends the file:
            // no truncation may be accepted.
            let ok = exercise(&tmp, &b[..n], n % 7 == 0);
            assert!(!ok, "{f} truncated to {n} bytes was accepted");
            runs += 1;
        }
    }
    assert!(runs > 1400, "{runs}");
}

#[test]
fn byte_flips_never_panic() {
    let tmp = TempDir::new("torch-flips");
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0;
    for f in FILES {
        let orig = fixture(f);
        for i in 0..300 {
            let mut b = orig.clone();
            // 1-3 mutated bytes: a bit flip, a random byte or a 0xff.
            for _ in 0..=(i % 3) {
                let pos = rng.below(b.len());
                b[pos] = match rng.below(3) {
                    0 => b[pos] ^ (1 << rng.below(8)),
                    1 => rng.next() as u8,
                    _ => 0xff,
                };
            }
            exercise(&tmp, &b, i % 5 == 0);
            runs += 1;
        }
    }
    assert!(runs >= 1500, "{runs}");
}

/// Mutates `data.pkl` and rebuilds a valid archive around it, so that the pickle readers (ours
/// and the crate's), not the CRC check, see the damage.
#[test]
fn pickle_mutations_never_panic() {
    let tmp = TempDir::new("torch-pickle-mutations");
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut runs = 0;
    let mut accepted = 0;
    for f in FILES.iter().filter(|f| !f.contains("legacy")) {
        let entries = stored_entries(&fixture(f));
        let pkl = entries
            .iter()
            .position(|(n, _)| n.ends_with("/data.pkl"))
            .expect("data.pkl");
        // The untouched rebuild reads like the original (the full module refused).
        let same = write_zip(&entries, ZipOpts::torch());
        assert_eq!(
            exercise(&tmp, &same, false),
            !f.contains("full_module"),
            "{f}"
        );
        for i in 0..300 {
            let mut e = entries.clone();
            let p = &mut e[pkl].1;
            match i % 4 {
                0 => {
                    let n = rng.below(p.len());
                    p.truncate(n);
                }
                1 => {
                    let pos = rng.below(p.len());
                    p[pos] ^= 1 << rng.below(8);
                }
                2 => {
                    let pos = rng.below(p.len());
                    p[pos] = rng.next() as u8;
                }
                _ => {
                    // Duplicate or drop a short run of opcodes/bytes.
                    let pos = rng.below(p.len());
                    let len = 1 + rng.below(8).min(p.len() - pos - 1);
                    if rng.below(2) == 0 {
                        let run: Vec<u8> = p[pos..pos + len].to_vec();
                        p.splice(pos..pos, run);
                    } else {
                        p.drain(pos..pos + len);
                    }
                }
            }
            if exercise(&tmp, &write_zip(&e, ZipOpts::torch()), i % 5 == 0) {
                accepted += 1;
            }
            runs += 1;
        }
    }
    assert_eq!(runs, 1200);
    // Some mutations (e.g. of a float's value or a name) still read fine.
    assert!(accepted > 0);
}

#[test]
fn legacy_pickle_region_mutations_never_panic() {
    let tmp = TempDir::new("torch-legacy-mutations");
    let orig = fixture("p1_bilstm_linear.legacy.pt");
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    // The pickles occupy the first 1456 bytes (README); mutate only there.
    for i in 0..400 {
        let mut b = orig.clone();
        let pos = rng.below(1456);
        b[pos] = rng.next() as u8;
        exercise(&tmp, &b, i % 5 == 0);
    }
}
