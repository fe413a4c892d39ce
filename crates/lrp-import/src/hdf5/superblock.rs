//! Superblock (versions 0-3) and the signature search through a user block.

use crate::hdf5::checksum;
use crate::hdf5::error::{Hdf5Error, Result, corrupt, unsupported};
use crate::hdf5::reader::{Ctx, Cursor, to_u64};

const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// What the reader needs from the superblock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Superblock {
    /// Superblock version (0-3).
    pub(crate) version: u8,
    /// Absolute position of the superblock = base of all file addresses.
    pub(crate) base: u64,
    /// Size of file addresses in bytes.
    pub(crate) offset_size: usize,
    /// Size of lengths in bytes.
    pub(crate) length_size: usize,
    /// Address of the root group's object header.
    pub(crate) root_addr: u64,
}

/// Finds the signature at 0, 512, 1024, 2048, ... and parses the superblock.
pub(crate) fn find(data: &[u8]) -> Result<Superblock> {
    let mut pos: usize = 0;
    loop {
        let end = pos.checked_add(SIGNATURE.len()).ok_or(Hdf5Error::NotHdf5)?;
        match data.get(pos..end) {
            None => return Err(Hdf5Error::NotHdf5),
            Some(sig) if sig == SIGNATURE => return parse_at(data, pos),
            Some(_) => {}
        }
        pos = if pos == 0 {
            512
        } else {
            pos.checked_mul(2).ok_or(Hdf5Error::NotHdf5)?
        };
    }
}

fn size_field(v: u8, what: &'static str) -> Result<usize> {
    match v {
        2 | 4 | 8 => Ok(usize::from(v)),
        _ => Err(corrupt(format!("{what} of {v} bytes"))),
    }
}

/// Parses the superblock that starts at absolute position `pos`.
fn parse_at(data: &[u8], pos: usize) -> Result<Superblock> {
    let what = "superblock";
    let slice = data.get(pos..).ok_or(Hdf5Error::Truncated { what })?;
    let mut c = Cursor::new(slice);
    c.skip(SIGNATURE.len(), what)?;
    let version = c.u8(what)?;
    let base = to_u64(pos);
    match version {
        0 | 1 => {
            let _free_space_version = c.u8(what)?;
            let _root_stab_version = c.u8(what)?;
            c.skip(1, what)?;
            let _shared_header_version = c.u8(what)?;
            let offset_size = size_field(c.u8(what)?, "size of offsets")?;
            let length_size = size_field(c.u8(what)?, "size of lengths")?;
            c.skip(1, what)?;
            let _leaf_k = c.u16(what)?;
            let _internal_k = c.u16(what)?;
            let _flags = c.u32(what)?;
            if version == 1 {
                let _istore_k = c.u16(what)?;
                c.skip(2, what)?;
            }
            let ctx = Ctx {
                data,
                base,
                offset_size,
                length_size,
            };
            let _stored_base = ctx.addr(&mut c, what)?;
            let _free_space = ctx.addr(&mut c, what)?;
            check_end_of_file(ctx.addr(&mut c, what)?, base, data.len())?;
            let _driver = ctx.addr(&mut c, what)?;
            // Root group symbol table entry.
            let _link_name = ctx.addr(&mut c, what)?;
            let root_addr = ctx.addr_required(&mut c, "root group object header address")?;
            Ok(Superblock {
                version,
                base,
                offset_size,
                length_size,
                root_addr,
            })
        }
        2 | 3 => {
            let offset_size = size_field(c.u8(what)?, "size of offsets")?;
            let length_size = size_field(c.u8(what)?, "size of lengths")?;
            let _flags = c.u8(what)?;
            let ctx = Ctx {
                data,
                base,
                offset_size,
                length_size,
            };
            let _stored_base = ctx.addr(&mut c, what)?;
            let _extension = ctx.addr(&mut c, what)?;
            check_end_of_file(ctx.addr(&mut c, what)?, base, data.len())?;
            let root_addr = ctx.addr_required(&mut c, "root group object header address")?;
            let covered_len = c.pos();
            let stored = c.u32(what)?;
            let covered = slice
                .get(..covered_len)
                .ok_or(Hdf5Error::Truncated { what })?;
            checksum::verify(covered, stored, what)?;
            Ok(Superblock {
                version,
                base,
                offset_size,
                length_size,
                root_addr,
            })
        }
        v => Err(unsupported(format!("superblock version {v}"))),
    }
}

/// A file shorter than the end-of-file address its superblock records has been cut off, even
/// when the missing bytes happen not to be needed for what is read. (h5py writes the address
/// counted from the start of the file, user block included; counting it from the superblock
/// instead could only make the check stricter, so `base` is not added.)
fn check_end_of_file(eof: Option<u64>, _base: u64, len: usize) -> Result<()> {
    match eof {
        Some(end) if end > to_u64(len) => Err(Hdf5Error::Truncated {
            what: "the file (it ends before the end-of-file address in its superblock)",
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built version 1 superblock (4-byte offsets/lengths) behind a
    /// 512-byte user block; v1 is not producible with h5py.
    #[test]
    fn version1_superblock_in_user_block() {
        let mut f = vec![0u8; 512];
        f.extend_from_slice(&SIGNATURE);
        f.extend_from_slice(&[1, 0, 0, 0, 0, 4, 4, 0]); // versions, sizes
        f.extend_from_slice(&[4, 0, 16, 0]); // leaf K, internal K
        f.extend_from_slice(&[0, 0, 0, 0]); // flags
        f.extend_from_slice(&[32, 0, 0, 0]); // istore K + reserved
        f.extend_from_slice(&[0, 0, 0, 0]); // base address
        f.extend_from_slice(&[0xff; 4]); // free space
        f.extend_from_slice(&[0, 3, 0, 0]); // eof: 768, counted from the start of the file
        f.extend_from_slice(&[0xff; 4]); // driver
        f.extend_from_slice(&[0, 0, 0, 0]); // root entry: link name offset
        f.extend_from_slice(&[0x48, 0, 0, 0]); // root entry: object header
        f.resize(512 + 256, 0); // up to the end-of-file address
        let sb = find(&f).unwrap();
        assert_eq!(
            sb,
            Superblock {
                version: 1,
                base: 512,
                offset_size: 4,
                length_size: 4,
                root_addr: 0x48
            }
        );
        // Truncating anywhere inside the superblock or before the end-of-file address is an
        // error, not a panic.
        for n in 512..f.len() {
            assert!(find(&f[..n]).is_err());
        }
    }

    #[test]
    fn not_hdf5() {
        assert_eq!(find(b"hello"), Err(Hdf5Error::NotHdf5));
        assert_eq!(find(&[0u8; 5000]), Err(Hdf5Error::NotHdf5));
    }
}
