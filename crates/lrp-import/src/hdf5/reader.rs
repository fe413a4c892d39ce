//! Bounds-checked little-endian reading: a byte cursor, file-address
//! resolution and checked arithmetic helpers. Every read returns a `Result`.

use crate::hdf5::error::{Hdf5Error, Result, corrupt};

/// A read position inside a byte slice. Reads never go past the slice end.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    /// Current position relative to the start of the slice.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// The whole underlying slice.
    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The next `n` bytes, advancing past them.
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Hdf5Error::Truncated { what })?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or(Hdf5Error::Truncated { what })?;
        self.pos = end;
        Ok(s)
    }

    /// Everything after the current position, advancing to the end.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.data.get(self.pos..).unwrap_or(&[]);
        self.pos = self.data.len();
        s
    }

    /// Skips `n` bytes.
    pub(crate) fn skip(&mut self, n: usize, what: &'static str) -> Result<()> {
        self.bytes(n, what).map(|_| ())
    }

    /// Moves to absolute position `pos` (at most the slice length).
    pub(crate) fn seek(&mut self, pos: usize, what: &'static str) -> Result<()> {
        if pos > self.data.len() {
            return Err(Hdf5Error::Truncated { what });
        }
        self.pos = pos;
        Ok(())
    }

    /// Skips forward to the next multiple of `align` (relative to the slice start).
    pub(crate) fn align(&mut self, align: usize, what: &'static str) -> Result<()> {
        let rem = self.pos.checked_rem(align).unwrap_or(0);
        if rem != 0 {
            self.skip(align.saturating_sub(rem), what)?;
        }
        Ok(())
    }

    /// Reads a fixed-size array.
    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let s = self.bytes(N, what)?;
        <[u8; N]>::try_from(s).map_err(|_| Hdf5Error::Truncated { what })
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array::<1>(what)?))
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array::<2>(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array::<4>(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array::<8>(what)?))
    }

    /// A little-endian unsigned integer of `size` (0..=8) bytes.
    pub(crate) fn uint(&mut self, size: usize, what: &'static str) -> Result<u64> {
        if size > 8 {
            return Err(corrupt(format!("{size}-byte integer field in {what}")));
        }
        Ok(le_uint(self.bytes(size, what)?))
    }

    /// Checks a 4-byte signature.
    pub(crate) fn signature(&mut self, sig: &[u8; 4], what: &'static str) -> Result<()> {
        let got = self.array::<4>(what)?;
        if &got != sig {
            return Err(corrupt(format!("bad signature for {what}")));
        }
        Ok(())
    }
}

/// Little-endian value of up to 8 bytes (extra bytes are ignored).
pub(crate) fn le_uint(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    if let (Some(dst), Some(src)) = (b.get_mut(..n), bytes.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

/// File-level addressing: the file bytes, the base address (where the
/// superblock sits) and the sizes of offsets and lengths.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    /// The whole file.
    pub(crate) data: &'a [u8],
    /// Absolute position that file addresses are relative to.
    pub(crate) base: u64,
    /// Size of file addresses in bytes (2, 4 or 8).
    pub(crate) offset_size: usize,
    /// Size of lengths in bytes (2, 4 or 8).
    pub(crate) length_size: usize,
}

impl<'a> Ctx<'a> {
    /// Reads an address; `None` for the undefined address (all bits set).
    pub(crate) fn addr(&self, c: &mut Cursor<'a>, what: &'static str) -> Result<Option<u64>> {
        let raw = c.bytes(self.offset_size, what)?;
        if raw.iter().all(|&b| b == 0xff) {
            return Ok(None);
        }
        Ok(Some(le_uint(raw)))
    }

    /// Reads an address that must be defined.
    pub(crate) fn addr_required(&self, c: &mut Cursor<'a>, what: &'static str) -> Result<u64> {
        self.addr(c, what)?
            .ok_or_else(|| corrupt(format!("undefined address for {what}")))
    }

    /// Reads a length field.
    pub(crate) fn length(&self, c: &mut Cursor<'a>, what: &'static str) -> Result<u64> {
        c.uint(self.length_size, what)
    }

    /// Absolute position of a file address (must lie inside the file).
    pub(crate) fn abs(&self, addr: u64, what: &'static str) -> Result<usize> {
        let a = self
            .base
            .checked_add(addr)
            .ok_or(Hdf5Error::Truncated { what })?;
        let a = usize::try_from(a).map_err(|_| Hdf5Error::Truncated { what })?;
        if a > self.data.len() {
            return Err(Hdf5Error::Truncated { what });
        }
        Ok(a)
    }

    /// A cursor over the file from `addr` to the end of the file.
    pub(crate) fn cursor_at(&self, addr: u64, what: &'static str) -> Result<Cursor<'a>> {
        let a = self.abs(addr, what)?;
        let s = self.data.get(a..).ok_or(Hdf5Error::Truncated { what })?;
        Ok(Cursor::new(s))
    }

    /// `len` bytes starting at `addr`.
    pub(crate) fn slice(&self, addr: u64, len: u64, what: &'static str) -> Result<&'a [u8]> {
        let a = self.abs(addr, what)?;
        let len = usize::try_from(len).map_err(|_| Hdf5Error::Truncated { what })?;
        let end = a.checked_add(len).ok_or(Hdf5Error::Truncated { what })?;
        self.data.get(a..end).ok_or(Hdf5Error::Truncated { what })
    }

    /// Size of the whole file in bytes (used to bound allocations and loops).
    pub(crate) fn file_len(&self) -> usize {
        self.data.len()
    }
}

/// `a + b`, failing with `TooLarge` on overflow.
pub(crate) fn add(a: u64, b: u64, what: &'static str) -> Result<u64> {
    a.checked_add(b).ok_or(Hdf5Error::TooLarge { what })
}

/// `a * b`, failing with `TooLarge` on overflow.
pub(crate) fn mul(a: u64, b: u64, what: &'static str) -> Result<u64> {
    a.checked_mul(b).ok_or(Hdf5Error::TooLarge { what })
}

/// `a * b` on `usize`, failing with `TooLarge` on overflow.
pub(crate) fn mul_usize(a: usize, b: usize, what: &'static str) -> Result<usize> {
    a.checked_mul(b).ok_or(Hdf5Error::TooLarge { what })
}

/// Converts a file value to `usize`, failing with `TooLarge`.
pub(crate) fn to_usize(v: u64, what: &'static str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Hdf5Error::TooLarge { what })
}

/// Converts a `usize` to `u64` (lossless on all supported targets).
pub(crate) fn to_u64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// Number of bytes needed to encode values up to `max` (at least 1), as
/// HDF5 computes it for B-tree v2 record counts: `floor(log2(max)) / 8 + 1`.
pub(crate) fn limit_enc_size(max: u64) -> usize {
    let log2 = 63usize.saturating_sub(usize::try_from(max.leading_zeros()).unwrap_or(63));
    log2.checked_div(8).unwrap_or(0).saturating_add(1)
}

/// Exact `log2` of a power of two; error otherwise.
pub(crate) fn log2_exact(v: u64, what: &'static str) -> Result<u32> {
    if v == 0 || !v.is_power_of_two() {
        return Err(corrupt(format!("{what} is not a power of two")));
    }
    Ok(v.trailing_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_bounds() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.u16("x").unwrap(), 0x0201);
        assert!(c.u16("x").is_err());
        assert_eq!(c.u8("x").unwrap(), 3);
        assert!(c.u8("x").is_err());
        assert!(c.uint(9, "x").is_err());
        assert!(c.bytes(usize::MAX, "x").is_err());
    }

    #[test]
    fn enc_sizes() {
        assert_eq!(limit_enc_size(0), 1);
        assert_eq!(limit_enc_size(255), 1);
        assert_eq!(limit_enc_size(256), 2);
        assert_eq!(limit_enc_size(u64::MAX), 8);
        assert_eq!(le_uint(&[0x34, 0x12]), 0x1234);
    }
}
