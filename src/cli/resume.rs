//! `--resume`: continue a JSON-lines output that an earlier run left unfinished.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::CliError;

/// The number of complete sequences in the JSON-lines output `path` (0 when it does not exist),
/// after cutting the file back to its last complete, valid line: an interrupted run may have
/// stopped in the middle of a line.
pub fn completed(path: &Path) -> Result<usize, CliError> {
    let io_error = |e: std::io::Error| {
        CliError::usage(format!(
            "{}: {e} (--resume reads and extends the --jsonl file of an earlier run)",
            path.display()
        ))
    };
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error(e)),
    };
    let mut reader = BufReader::new(&file);
    let (mut done, mut valid_bytes, mut line) = (0usize, 0u64, Vec::new());
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io_error)?;
        let complete = line.last() == Some(&b'\n')
            && serde_json::from_slice::<serde_json::Value>(&line).is_ok_and(|v| v.is_object());
        if read == 0 || !complete {
            break;
        }
        done += 1;
        valid_bytes += read as u64;
    }
    drop(reader);
    if file.metadata().map_err(io_error)?.len() != valid_bytes {
        file.set_len(valid_bytes).map_err(io_error)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_last_line_is_cut_off() {
        let dir = std::env::temp_dir().join(format!("lstm-lrp-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        assert_eq!(completed(&path).unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(completed(&dir.join("missing.jsonl")).unwrap(), 0);
    }
}
