//! A copy of a `torch.save` archive that `pytorch-reader` can open, for the files its zip
//! reader refuses.
//!
//! `pytorch-reader` opens a checkpoint by path with zip 9's default of detecting where the
//! archive starts in the file, which fails on every `torch.save` file whose first entry's
//! header is exactly as long as the ZIP64 records before the end record (see
//! [`crate::formats::zip::AT_START`]): a state dict saved as `model_checkpoint_best.pt`. It takes
//! no option to say where the archive starts, so for those files it reads a copy that leaves out
//! the ZIP64 records. They only repeat the end record's values: `torch.save` writes them whatever
//! the archive's size, and when no field of the end record holds the `0xFFFF…` marker, readers
//! use the end record's values and not the ZIP64 ones. Without them the central directory ends
//! where the end record starts, and the detection finds it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::TorchError;
use crate::formats::zip::Archive;

/// The tail `torch.save` writes: a ZIP64 end record (56 bytes, no extensible data), its locator
/// (20 bytes), then the end record (22 bytes, no comment).
const ZIP64_END: usize = 56;
const ZIP64_LOCATOR: usize = 20;
const END: usize = 22;
const TAIL: usize = ZIP64_END + ZIP64_LOCATOR + END;

/// A copy of `path` without its ZIP64 records if `pytorch-reader`'s zip reader would refuse the
/// file and the copy is one it reads; `None` when the file needs no copy, or the copy would not
/// help (the reader then reports the file's own error). The copy is deleted when dropped; it
/// takes as much temporary disk space as the file.
pub(super) fn readable_copy(path: &Path) -> Result<Option<tempfile::TempPath>, TorchError> {
    if ::zip::ZipArchive::new(File::open(path)?).is_ok() || Archive::new(File::open(path)?).is_err()
    {
        return Ok(None);
    }
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let Some(body) = len.checked_sub(TAIL as u64) else {
        return Ok(None);
    };
    let mut tail = [0u8; TAIL];
    file.seek(SeekFrom::Start(body))?;
    file.read_exact(&mut tail)?;
    let end = &tail[ZIP64_END + ZIP64_LOCATOR..];
    if !is_removable_zip64_tail(&tail) {
        return Ok(None);
    }
    let mut copy = tempfile::Builder::new()
        .prefix("lstm-lrp-checkpoint-")
        .suffix(".pt")
        .tempfile()?;
    file.rewind()?;
    let copied = std::io::copy(&mut (&mut file).take(body), copy.as_file_mut())?;
    if copied != body {
        return Ok(None);
    }
    copy.as_file_mut().write_all(end)?;
    copy.as_file_mut().flush()?;
    let copy = copy.into_temp_path();
    Ok(::zip::ZipArchive::new(File::open(&copy)?)
        .is_ok()
        .then_some(copy))
}

/// Whether `tail` is a ZIP64 end record, its locator and an end record with no comment whose
/// fields hold no ZIP64 marker: the ZIP64 records repeat what the end record says.
fn is_removable_zip64_tail(tail: &[u8; TAIL]) -> bool {
    let u16_at = |at: usize| u16::from_le_bytes([tail[at], tail[at + 1]]);
    let u32_at =
        |at: usize| u32::from_le_bytes([tail[at], tail[at + 1], tail[at + 2], tail[at + 3]]);
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&tail[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let locator = ZIP64_END;
    let end = ZIP64_END + ZIP64_LOCATOR;
    let entries = u16_at(end + 10);
    let cd_size = u32_at(end + 12);
    let cd_offset = u32_at(end + 16);
    u32_at(0) == 0x0606_4b50
        && u64_at(4) == (ZIP64_END - 12) as u64
        && u32_at(locator) == 0x0706_4b50
        && u32_at(end) == 0x0605_4b50
        && u16_at(end + 20) == 0
        && entries != 0xFFFF
        && cd_size != 0xFFFF_FFFF
        && cd_offset != 0xFFFF_FFFF
        // The ZIP64 record says the same: entries, central directory size and offset.
        && u64_at(32) == u64::from(entries)
        && u64_at(40) == u64::from(cd_size)
        && u64_at(48) == u64::from(cd_offset)
}
