//! The entry points under fuzzing take paths: each input is written to a file in a directory
//! of this process, overwritten for every input. The directory is under
//! `$LRP_IMPORT_FUZZ_TMP` (`scripts/fuzz.sh` makes one in `/dev/shm` and removes it), else
//! under `/dev/shm` (a tmpfs) where it exists, else the system's temporary directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Writes `data` to this process's file called `name` and returns its path.
pub fn write(name: &str, data: &[u8]) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let base = match std::env::var_os("LRP_IMPORT_FUZZ_TMP") {
            Some(dir) => PathBuf::from(dir),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!("lrp-import-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz temp dir");
        dir
    });
    let path = dir.join(name);
    if std::fs::write(&path, data).is_err() {
        // The directory was removed under us (fuzz.sh's exit trap runs before a killed
        // fuzzer has stopped): make it again rather than report a crash of the harness.
        std::fs::create_dir_all(dir).expect("fuzz temp dir");
        std::fs::write(&path, data).expect("fuzz temp file");
    }
    path
}
