//! Truncated and bit-flipped inputs must give `Ok` or `Err`, never a panic.
//! Deterministic pseudo-random mutations (xorshift), a few thousand in all.

#[path = "pytorch_common/mod.rs"]
mod common;

use common::{ZipOpts, fixture, stored_entries, write_zip};
use lrp_import::pytorch::{is_torch_file, read_state_dict};

const FILES: &[&str] = &[
    "p1_bilstm_linear.state_dict.pt",
    "p1_bilstm_linear.legacy.pt",
    "p1_bilstm_linear.full_module.pt",
    "p2_embed_2layer_bilstm_packed.state_dict.pt",
    "p3_lstm_timemajor.state_dict.pt",
];

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs the reader; a panic fails the test (the harness reports it).
fn exercise(bytes: &[u8]) -> bool {
    let _ = is_torch_file(bytes);
    read_state_dict(bytes).is_ok()
}

#[test]
fn truncations_never_panic() {
    let mut runs = 0;
    for f in FILES {
        let b = fixture(f);
        // Every length near both ends, then a stride through the middle.
        let mut lens: Vec<usize> = (0..200.min(b.len())).collect();
        lens.extend(b.len().saturating_sub(120)..b.len());
        lens.extend((0..b.len()).step_by(b.len() / 150 + 1));
        for n in lens {
            let ok = exercise(&b[..n]);
            // Only the zip files have their directory at the end: any
            // truncation of them must fail. (Legacy files may tolerate
            // losing nothing but trailing bytes, and there are none.)
            assert!(!ok, "{f} truncated to {n} bytes was accepted");
            runs += 1;
        }
    }
    assert!(runs > 1400, "{runs}");
}

#[test]
fn byte_flips_never_panic() {
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
            exercise(&b);
            runs += 1;
        }
    }
    assert!(runs >= 1500, "{runs}");
}

/// Mutates `data.pkl` and rebuilds a valid archive around it, so that the
/// unpickler (not the CRC check) sees the damage.
#[test]
fn pickle_mutations_never_panic() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut runs = 0;
    let mut accepted = 0;
    for f in FILES.iter().filter(|f| !f.contains("legacy")) {
        let entries = stored_entries(&fixture(f));
        let pkl = entries
            .iter()
            .position(|(n, _)| n.ends_with("/data.pkl"))
            .expect("data.pkl");
        // The untouched rebuild reads like the original.
        let same = write_zip(&entries, ZipOpts::torch());
        assert_eq!(
            read_state_dict(&same).is_ok(),
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
            if exercise(&write_zip(&e, ZipOpts::torch())) {
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
    let orig = fixture("p1_bilstm_linear.legacy.pt");
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    // The pickles occupy the first 1456 bytes (README); mutate only there.
    for _ in 0..400 {
        let mut b = orig.clone();
        let pos = rng.below(1456);
        b[pos] = rng.next() as u8;
        exercise(&b);
    }
}
