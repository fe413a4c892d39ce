//! A small read-only zip reader: just what `torch.save` archives need.
//!
//! Supports the classic end-of-central-directory record and the ZIP64
//! record + locator, central-directory entries with ZIP64 extra fields,
//! local headers whose sizes live in a data descriptor (flag bit 3; sizes
//! are always taken from the central directory), padding extra fields
//! (skipped by length), and STORED (0) and DEFLATE (8) entries. Every
//! entry read is checked against its CRC-32. Encrypted and multi-disk
//! archives are refused.

use std::borrow::Cow;
use std::collections::HashMap;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;

const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_MIN_LEN: usize = 56;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
const MAX_COMMENT: usize = 0xffff;
const EXTRA_ZIP64: u16 = 0x0001;

/// Largest expansion a DEFLATE stream can achieve is about 1032:1.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Whether the bytes start like a zip archive (a local file header).
pub(crate) fn looks_like_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(&SIG_LOCAL.to_le_bytes())
}

/// One central-directory entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The file name (UTF-8; invalid bytes replaced).
    pub name: String,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    local_offset: u64,
}

/// A parsed zip archive borrowing the file's bytes.
#[derive(Debug)]
pub(crate) struct Archive<'a> {
    bytes: &'a [u8],
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

/// Little-endian field reader over a slice, with bounds checks.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], pos: usize, what: &'static str) -> Self {
        Cursor { data, pos, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ZipError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| truncated(self.what))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| truncated(self.what))?;
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, ZipError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32(&mut self) -> Result<u32, ZipError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&mut self) -> Result<u64, ZipError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
}

fn to_usize(v: u64, what: &str) -> Result<usize, ZipError> {
    usize::try_from(v).map_err(|_| too_large(format!("{what} ({v}) does not fit in memory")))
}

/// Where the central directory is and how many entries it announces.
struct Directory {
    offset: u64,
    size: u64,
    entries: u64,
    /// Offset of the first end-of-directory structure (the central
    /// directory must end at or before it).
    end_limit: u64,
}

impl<'a> Archive<'a> {
    /// Parses the end-of-central-directory structures and the central directory.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, ZipError> {
        let dir = find_directory(bytes)?;
        let cd_end = dir
            .offset
            .checked_add(dir.size)
            .ok_or_else(|| zip_err("central directory offset overflows"))?;
        if cd_end > dir.end_limit {
            return Err(zip_err(format!(
                "central directory ({} bytes at {}) runs past the end-of-directory record",
                dir.size, dir.offset
            )));
        }
        // Every entry needs at least CENTRAL_LEN bytes: bound the count by
        // the bytes before trusting it.
        if dir.entries > dir.size / CENTRAL_LEN as u64 {
            return Err(zip_err(format!(
                "{} entries announced but the central directory has only {} bytes",
                dir.entries, dir.size
            )));
        }
        let cd_start = to_usize(dir.offset, "central directory offset")?;
        let cd_end = to_usize(cd_end, "central directory end")?;
        let cd = bytes
            .get(cd_start..cd_end)
            .ok_or_else(|| truncated("central directory"))?;
        let mut cur = Cursor::new(cd, 0, "central directory entry");
        let mut entries = Vec::new();
        let mut by_name = HashMap::new();
        for _ in 0..dir.entries {
            let entry = parse_central_entry(&mut cur)?;
            if by_name.insert(entry.name.clone(), entries.len()).is_some() {
                return Err(zip_err(format!("duplicate entry name `{}`", entry.name)));
            }
            entries.push(entry);
        }
        Ok(Archive {
            bytes,
            entries,
            by_name,
        })
    }

    /// All entries, in central-directory order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry with exactly this name.
    pub(crate) fn find(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).and_then(|&i| self.entries.get(i))
    }

    /// The uncompressed bytes of an entry (borrowed for STORED entries),
    /// checked against the entry's CRC-32.
    pub(crate) fn read(&self, entry: &Entry) -> Result<Cow<'a, [u8]>, ZipError> {
        let name = &entry.name;
        if entry.flags & 0x0001 != 0 {
            return Err(zip_err(format!("entry `{name}` is encrypted")));
        }
        let start = to_usize(entry.local_offset, "local header offset")?;
        let mut cur = Cursor::new(self.bytes, start, "local file header");
        if cur.u32()? != SIG_LOCAL {
            return Err(zip_err(format!(
                "entry `{name}`: no local file header at {start}"
            )));
        }
        // version, flags, method, time, date, crc, sizes (4 + 22 + 2 + 2 = LOCAL_LEN)
        cur.take(LOCAL_LEN - 8)?;
        let name_len = usize::from(cur.u16()?);
        let extra_len = usize::from(cur.u16()?);
        let local_name = cur.take(name_len)?;
        if local_name != name.as_bytes() {
            return Err(zip_err(format!(
                "entry `{name}`: local header names `{}`",
                String::from_utf8_lossy(local_name)
            )));
        }
        // Extra fields of the local header (ZIP64 sizes, padding) are not
        // needed: sizes come from the central directory.
        cur.take(extra_len)?;
        let csize = to_usize(entry.compressed_size, "compressed size")?;
        let raw = Cursor::new(self.bytes, cur.pos, "entry data").take(csize)?;
        let data: Cow<'a, [u8]> = match entry.method {
            0 => {
                if entry.compressed_size != entry.uncompressed_size {
                    return Err(zip_err(format!(
                        "stored entry `{name}` has compressed size {} but uncompressed size {}",
                        entry.compressed_size, entry.uncompressed_size
                    )));
                }
                Cow::Borrowed(raw)
            }
            8 => {
                let limit = entry
                    .compressed_size
                    .saturating_mul(MAX_DEFLATE_RATIO)
                    .saturating_add(64);
                if entry.uncompressed_size > limit {
                    return Err(too_large(format!(
                        "entry `{name}` claims {} bytes from {} compressed bytes",
                        entry.uncompressed_size, entry.compressed_size
                    )));
                }
                let want = to_usize(entry.uncompressed_size, "uncompressed size")?;
                let out = miniz_oxide::inflate::decompress_to_vec_with_limit(raw, want)
                    .map_err(|e| zip_err(format!("entry `{name}`: deflate error: {e:?}")))?;
                if out.len() != want {
                    return Err(zip_err(format!(
                        "entry `{name}` inflates to {} bytes, directory says {want}",
                        out.len()
                    )));
                }
                Cow::Owned(out)
            }
            m => {
                return Err(zip_err(format!(
                    "entry `{name}` uses unsupported compression method {m}"
                )));
            }
        };
        let crc = crc32(&data);
        if crc != entry.crc32 {
            return Err(zip_err(format!(
                "entry `{name}` fails its CRC-32 check (0x{crc:08x}, directory says 0x{:08x})",
                entry.crc32
            )));
        }
        Ok(data)
    }
}

/// Locates the (ZIP64) end-of-central-directory record.
fn find_directory(bytes: &[u8]) -> Result<Directory, ZipError> {
    if bytes.len() < EOCD_LEN {
        return Err(truncated("zip end-of-central-directory record"));
    }
    let last = bytes.len() - EOCD_LEN;
    let first = last.saturating_sub(MAX_COMMENT);
    let sig = SIG_EOCD.to_le_bytes();
    let mut found = None;
    // `rposition` over the candidate region: the record must end the file
    // (after its comment), so scan backwards from the last possible start.
    let mut end = last + 4;
    while let Some(pos) = bytes
        .get(first..end)
        .and_then(|r| r.windows(4).rposition(|w| w == sig))
        .map(|i| i + first)
    {
        end = pos + 3;
        let comment = bytes.get(pos + 20..pos + 22).map_or(usize::MAX, |c| {
            usize::from(u16::from_le_bytes([c[0], c[1]]))
        });
        if pos
            .checked_add(EOCD_LEN)
            .and_then(|e| e.checked_add(comment))
            == Some(bytes.len())
        {
            found = Some(pos);
            break;
        }
    }
    let eocd = found.ok_or_else(|| zip_err("no end-of-central-directory record"))?;
    let mut cur = Cursor::new(bytes, eocd + 4, "end-of-central-directory record");
    let disk = cur.u16()?;
    let cd_disk = cur.u16()?;
    let entries_disk = cur.u16()?;
    let entries = cur.u16()?;
    let size = cur.u32()?;
    let offset = cur.u32()?;

    let locator = eocd
        .checked_sub(ZIP64_LOCATOR_LEN)
        .filter(|&p| bytes.get(p..p + 4) == Some(&SIG_ZIP64_LOCATOR.to_le_bytes()[..]));
    if let Some(loc) = locator {
        let mut cur = Cursor::new(bytes, loc + 4, "ZIP64 end-of-central-directory locator");
        let z64_disk = cur.u32()?;
        let z64_offset = cur.u64()?;
        let total_disks = cur.u32()?;
        if z64_disk != 0 || total_disks > 1 {
            return Err(zip_err("multi-disk archives are not supported"));
        }
        if z64_offset > loc as u64 {
            return Err(zip_err(
                "ZIP64 end-of-central-directory record is after its locator",
            ));
        }
        let z64 = to_usize(z64_offset, "ZIP64 record offset")?;
        let mut cur = Cursor::new(bytes, z64, "ZIP64 end-of-central-directory record");
        if cur.u32()? != SIG_ZIP64_EOCD {
            return Err(zip_err("bad ZIP64 end-of-central-directory signature"));
        }
        let record_size = cur.u64()?;
        if record_size < (ZIP64_EOCD_MIN_LEN - 12) as u64 {
            return Err(zip_err("ZIP64 end-of-central-directory record too short"));
        }
        cur.take(4)?; // versions
        let disk = cur.u32()?;
        let cd_disk = cur.u32()?;
        let entries_disk = cur.u64()?;
        let entries = cur.u64()?;
        let size = cur.u64()?;
        let offset = cur.u64()?;
        if disk != 0 || cd_disk != 0 || entries_disk != entries {
            return Err(zip_err("multi-disk archives are not supported"));
        }
        return Ok(Directory {
            offset,
            size,
            entries,
            end_limit: z64_offset,
        });
    }
    if entries == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff {
        return Err(zip_err(
            "ZIP64 values in the end-of-central-directory record but no ZIP64 locator",
        ));
    }
    if disk != 0 || cd_disk != 0 || entries_disk != entries {
        return Err(zip_err("multi-disk archives are not supported"));
    }
    Ok(Directory {
        offset: u64::from(offset),
        size: u64::from(size),
        entries: u64::from(entries),
        end_limit: eocd as u64,
    })
}

fn parse_central_entry(cur: &mut Cursor<'_>) -> Result<Entry, ZipError> {
    if cur.u32()? != SIG_CENTRAL {
        return Err(zip_err(format!(
            "bad central directory entry signature at {}",
            cur.pos - 4
        )));
    }
    cur.take(4)?; // version made by, version needed
    let flags = cur.u16()?;
    let method = cur.u16()?;
    cur.take(4)?; // time, date
    let crc32 = cur.u32()?;
    let csize32 = cur.u32()?;
    let usize32 = cur.u32()?;
    let name_len = usize::from(cur.u16()?);
    let extra_len = usize::from(cur.u16()?);
    let comment_len = usize::from(cur.u16()?);
    let disk16 = cur.u16()?;
    cur.take(6)?; // internal, external attributes
    let offset32 = cur.u32()?;
    let name = String::from_utf8_lossy(cur.take(name_len)?).into_owned();
    let extra = cur.take(extra_len)?;
    cur.take(comment_len)?;

    let mut uncompressed_size = u64::from(usize32);
    let mut compressed_size = u64::from(csize32);
    let mut local_offset = u64::from(offset32);
    let mut disk = u32::from(disk16);
    let mut ex = Cursor::new(extra, 0, "central directory extra field");
    while ex.pos < extra.len() {
        let id = ex.u16()?;
        let len = usize::from(ex.u16()?);
        let body = ex.take(len)?;
        if id != EXTRA_ZIP64 {
            continue; // padding and other fields
        }
        // ZIP64 values appear only for the fields that are saturated, in this order.
        let mut z = Cursor::new(body, 0, "ZIP64 extra field");
        if usize32 == 0xffff_ffff {
            uncompressed_size = z.u64()?;
        }
        if csize32 == 0xffff_ffff {
            compressed_size = z.u64()?;
        }
        if offset32 == 0xffff_ffff {
            local_offset = z.u64()?;
        }
        if disk16 == 0xffff {
            disk = z.u32()?;
        }
    }
    if disk != 0 {
        return Err(zip_err("multi-disk archives are not supported"));
    }
    Ok(Entry {
        name,
        flags,
        method,
        crc32,
        compressed_size,
        uncompressed_size,
        local_offset,
    })
}

/// CRC-32 (IEEE, reflected, as used by zip).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = make_crc_table();
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc = TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    !crc
}

const fn make_crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_known_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Archive::parse(b"").is_err());
        assert!(Archive::parse(&[0u8; 100]).is_err());
        let mut eocd = vec![0u8; 22];
        eocd[..4].copy_from_slice(&SIG_EOCD.to_le_bytes());
        let a = Archive::parse(&eocd).expect("empty archive");
        assert!(a.entries().is_empty());
        // 0xffff entries announced in a 0-byte directory.
        eocd[10] = 0xff;
        eocd[11] = 0xff;
        assert!(Archive::parse(&eocd).is_err());
    }
}

/// A malformed, truncated or unsupported zip archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipError {
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for ZipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid zip archive: {}", self.what)
    }
}

impl std::error::Error for ZipError {}

fn zip_err(what: impl Into<String>) -> ZipError {
    ZipError { what: what.into() }
}

fn truncated(what: impl Into<String>) -> ZipError {
    ZipError {
        what: format!("truncated {}", what.into()),
    }
}

fn too_large(what: impl Into<String>) -> ZipError {
    ZipError {
        what: format!("too large: {}", what.into()),
    }
}
