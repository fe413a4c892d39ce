//! Shared by the integration tests: fixture paths and per-test temporary directories (the
//! entry points take paths, so hand-made and mutated files are written to disk first).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The path of a fixture, `rel` relative to `fixtures/`.
pub fn fixture_path(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// The bytes of a fixture.
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = fixture_path(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of a file under this crate's `tests/data/`.
pub fn test_data(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A directory of its own under `std::env::temp_dir()`, removed when dropped. The name holds
/// the test's label, the process id and a counter, so tests running in parallel (in one
/// process or several) never share one.
pub struct TempDir {
    path: PathBuf,
    files: AtomicUsize,
}

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "lrp-import-test-{label}-{}-{n}",
            std::process::id()
        ));
        // A stale directory of a crashed earlier run with the same pid: start afresh.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self {
            path,
            files: AtomicUsize::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// Writes `bytes` to a fresh file (`<n>.<ext>`) and returns its path.
    pub fn file(&self, ext: &str, bytes: &[u8]) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.write(&format!("{n}.{ext}"), bytes)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Deterministic pseudo-random numbers (xorshift64) for mutation tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A zip archive of `(name, bytes)` entries, written by the `zip` crate (stored or deflated).
pub fn zip_archive(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    use std::io::Write;
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        out.start_file(*name, options).expect("start_file");
        out.write_all(bytes).expect("write");
    }
    out.finish().expect("finish").into_inner()
}
