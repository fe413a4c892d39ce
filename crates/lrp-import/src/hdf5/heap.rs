//! Heaps: local heap ("HEAP", link names of old-style groups), global heap
//! collections ("GCOL", variable-length data) and fractal heaps ("FRHP",
//! dense link and attribute storage).

use std::collections::HashMap;

use crate::hdf5::checksum;
use crate::hdf5::error::{Hdf5Error, Result, corrupt, unsupported};
use crate::hdf5::reader::{Ctx, Cursor, add, log2_exact, to_u64, to_usize};

/// The data segment of a local heap.
pub(crate) struct LocalHeap<'a> {
    data: &'a [u8],
}

impl<'a> LocalHeap<'a> {
    /// Parses the local heap header at `addr`.
    pub(crate) fn parse(ctx: &Ctx<'a>, addr: u64) -> Result<Self> {
        let what = "local heap";
        let mut c = ctx.cursor_at(addr, what)?;
        c.signature(b"HEAP", what)?;
        let version = c.u8(what)?;
        if version != 0 {
            return Err(corrupt(format!("local heap version {version}")));
        }
        c.skip(3, what)?;
        let size = ctx.length(&mut c, what)?;
        let _free_list = ctx.length(&mut c, what)?;
        let data_addr = ctx.addr_required(&mut c, what)?;
        Ok(LocalHeap {
            data: ctx.slice(data_addr, size, "local heap data segment")?,
        })
    }

    /// The NUL-terminated string at `offset` (without the NUL).
    pub(crate) fn string_at(&self, offset: u64) -> Result<&'a [u8]> {
        let what = "local heap string";
        let start = to_usize(offset, what)?;
        let tail = self
            .data
            .get(start..)
            .ok_or(Hdf5Error::Truncated { what })?;
        let end = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| corrupt("local heap string without NUL terminator"))?;
        tail.get(..end).ok_or(Hdf5Error::Truncated { what })
    }
}

/// Cache of parsed global heap collections: address -> (index -> object).
#[derive(Default)]
pub(crate) struct GlobalHeaps<'a> {
    collections: HashMap<u64, HashMap<u64, &'a [u8]>>,
}

impl<'a> GlobalHeaps<'a> {
    /// The object `index` of the collection at `addr`.
    pub(crate) fn object(&mut self, ctx: &Ctx<'a>, addr: u64, index: u64) -> Result<&'a [u8]> {
        let objs = match self.collections.entry(addr) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(parse_collection(ctx, addr)?),
        };
        objs.get(&index)
            .copied()
            .ok_or_else(|| corrupt(format!("global heap object {index} not found")))
    }
}

fn parse_collection<'a>(ctx: &Ctx<'a>, addr: u64) -> Result<HashMap<u64, &'a [u8]>> {
    let what = "global heap collection";
    let mut c = ctx.cursor_at(addr, what)?;
    c.signature(b"GCOL", what)?;
    let version = c.u8(what)?;
    if version != 1 {
        return Err(corrupt(format!("global heap version {version}")));
    }
    c.skip(3, what)?;
    let size = ctx.length(&mut c, what)?;
    let block = ctx.slice(addr, size, what)?;
    let mut c = Cursor::new(block);
    // Collection header (signature, version, reserved, size) padded to 8.
    c.skip(8usize.saturating_add(ctx.length_size), what)?;
    c.align(8, what)?;
    // Object header (index, refcount, reserved, size), also padded to 8.
    let object_header_len = 8usize.saturating_add(ctx.length_size).saturating_add(7) & !7;
    let mut objects = HashMap::new();
    while c.remaining() >= object_header_len {
        let start = c.pos();
        let index = c.u16(what)?;
        let _refcount = c.u16(what)?;
        c.skip(4, what)?;
        let osize = to_usize(ctx.length(&mut c, what)?, what)?;
        c.seek(start.saturating_add(object_header_len), what)?;
        if index == 0 {
            break; // free space: the rest of the collection
        }
        let data = c.bytes(osize, what)?;
        // Object data is padded to a multiple of 8 bytes.
        let padding = osize.wrapping_neg() & 7;
        if c.skip(padding, what).is_err() {
            c.seek(block.len(), what)?;
        }
        objects.insert(u64::from(index), data);
    }
    Ok(objects)
}

/// A fractal heap (managed and tiny objects; huge objects and filtered
/// heaps are not supported).
pub(crate) struct FractalHeap<'a> {
    ctx: Ctx<'a>,
    id_len: usize,
    width: u64,
    log2_width: u32,
    start_block: u64,
    max_direct_rows: u64,
    heap_off_size: usize,
    heap_len_size: usize,
    checksum_direct: bool,
    root_addr: Option<u64>,
    root_rows: u64,
}

impl<'a> FractalHeap<'a> {
    /// Parses the fractal heap header at `addr`.
    pub(crate) fn parse(ctx: &Ctx<'a>, addr: u64) -> Result<Self> {
        let what = "fractal heap header";
        let mut c = ctx.cursor_at(addr, what)?;
        c.signature(b"FRHP", what)?;
        let version = c.u8(what)?;
        if version != 0 {
            return Err(corrupt(format!("fractal heap version {version}")));
        }
        let id_len = usize::from(c.u16(what)?);
        let filter_len = c.u16(what)?;
        let flags = c.u8(what)?;
        let max_managed = c.u32(what)?;
        let _next_huge_id = ctx.length(&mut c, what)?;
        let _huge_btree = ctx.addr(&mut c, what)?;
        let _free_space = ctx.length(&mut c, what)?;
        let _free_space_manager = ctx.addr(&mut c, what)?;
        for _ in 0..8 {
            let _stat = ctx.length(&mut c, what)?;
        }
        let width = u64::from(c.u16(what)?);
        let start_block = ctx.length(&mut c, what)?;
        let max_direct = ctx.length(&mut c, what)?;
        let max_heap_bits = c.u16(what)?;
        let _start_root_rows = c.u16(what)?;
        let root_addr = ctx.addr(&mut c, what)?;
        let root_rows = u64::from(c.u16(what)?);
        if filter_len > 0 {
            return Err(unsupported("fractal heap with I/O filters"));
        }
        let covered_len = c.pos();
        let stored = c.u32(what)?;
        let covered = c
            .data()
            .get(..covered_len)
            .ok_or(Hdf5Error::Truncated { what })?;
        checksum::verify(covered, stored, what)?;

        let log2_width = log2_exact(width, "fractal heap table width")?;
        let log2_start = log2_exact(start_block, "fractal heap starting block size")?;
        let log2_max = log2_exact(max_direct, "fractal heap maximum direct block size")?;
        if log2_max < log2_start || max_heap_bits == 0 || max_heap_bits > 64 {
            return Err(corrupt("fractal heap doubling table parameters"));
        }
        let max_direct_rows = u64::from(log2_max.saturating_sub(log2_start)).saturating_add(2);
        let heap_off_size = usize::from(max_heap_bits.div_ceil(8));
        // Length field: bytes for the max direct block offset, capped by the
        // bytes needed for the largest managed object.
        let dir_len = usize::try_from(log2_max.div_ceil(8)).unwrap_or(8);
        let man_len = crate::hdf5::reader::limit_enc_size(u64::from(max_managed));
        let heap_len_size = dir_len.min(man_len);
        Ok(FractalHeap {
            ctx: *ctx,
            id_len,
            width,
            log2_width,
            start_block,
            max_direct_rows,
            heap_off_size,
            heap_len_size,
            checksum_direct: flags & 0x02 != 0,
            root_addr,
            root_rows,
        })
    }

    /// Length of heap IDs in bytes.
    pub(crate) fn id_len(&self) -> usize {
        self.id_len
    }

    /// Size of the blocks in row `row` of the doubling table.
    fn block_size(&self, row: u64) -> Result<u64> {
        if row == 0 {
            return Ok(self.start_block);
        }
        let shift = u32::try_from(row.saturating_sub(1)).unwrap_or(u32::MAX);
        let size = self.start_block.checked_shl(shift).unwrap_or(0);
        if size == 0 || size.checked_shr(shift) != Some(self.start_block) {
            return Err(Hdf5Error::TooLarge {
                what: "fractal heap block size",
            });
        }
        Ok(size)
    }

    /// Size of a direct block header (objects' offsets include it).
    fn direct_header_len(&self) -> usize {
        let n = 5usize
            .saturating_add(self.ctx.offset_size)
            .saturating_add(self.heap_off_size);
        if self.checksum_direct {
            n.saturating_add(4)
        } else {
            n
        }
    }

    /// The object named by heap ID `id`.
    pub(crate) fn get(&self, id: &'a [u8]) -> Result<&'a [u8]> {
        let what = "fractal heap ID";
        let mut c = Cursor::new(id);
        let first = c.u8(what)?;
        if first >> 6 != 0 {
            return Err(corrupt("fractal heap ID version"));
        }
        match (first >> 4) & 0x03 {
            0 => {
                let offset = c.uint(self.heap_off_size, what)?;
                let len = c.uint(self.heap_len_size, what)?;
                self.managed(offset, len)
            }
            1 => Err(unsupported("huge objects in fractal heap")),
            2 => {
                let len = if self.id_len <= 18 {
                    usize::from(first & 0x0f).saturating_add(1)
                } else {
                    let lo = c.u8(what)?;
                    usize::from(u16::from_le_bytes([lo, first & 0x0f])).saturating_add(1)
                };
                // Tiny objects live in the ID itself.
                let rest = c.rest();
                rest.get(..len).ok_or(Hdf5Error::Truncated { what })
            }
            _ => Err(corrupt("fractal heap ID type")),
        }
    }

    /// A managed object at heap-space `offset` of `len` bytes.
    fn managed(&self, offset: u64, len: u64) -> Result<&'a [u8]> {
        let what = "fractal heap block";
        let root = self
            .root_addr
            .ok_or_else(|| corrupt("fractal heap object in an empty heap"))?;
        if self.root_rows == 0 {
            return self.read_direct(root, 0, self.start_block, offset, len);
        }
        let mut block_addr = root;
        let mut block_off = 0u64;
        let mut nrows = self.root_rows;
        // Each level down has strictly fewer rows, so this terminates; the
        // bound is a second guard.
        for _ in 0..64 {
            let entry_len = self.ctx.offset_size;
            let direct_rows = nrows.min(self.max_direct_rows);
            let rel = offset
                .checked_sub(block_off)
                .ok_or_else(|| corrupt("fractal heap offset before its block"))?;
            // Find row and column of `rel`.
            let mut row_start = 0u64;
            let mut found = None;
            for row in 0..nrows {
                let bs = self.block_size(row)?;
                let span = self
                    .width
                    .checked_mul(bs)
                    .ok_or(Hdf5Error::TooLarge { what })?;
                let row_end = add(row_start, span, what)?;
                if rel < row_end {
                    let col = (rel.saturating_sub(row_start)).checked_div(bs).unwrap_or(0);
                    found = Some((row, col, bs, row_start));
                    break;
                }
                row_start = row_end;
            }
            let (row, col, bs, row_start) =
                found.ok_or_else(|| corrupt("fractal heap offset beyond its block"))?;
            // Header of this indirect block, then its entries.
            let hdr_len = 5u64
                .saturating_add(to_u64(self.ctx.offset_size))
                .saturating_add(to_u64(self.heap_off_size));
            let n_entries = nrows.saturating_mul(self.width);
            let entries_len = n_entries.saturating_mul(to_u64(entry_len));
            let body_len = hdr_len.saturating_add(entries_len);
            let block = self
                .ctx
                .slice(block_addr, body_len.saturating_add(4), what)?;
            let mut c = Cursor::new(block);
            c.signature(b"FHIB", what)?;
            let version = c.u8(what)?;
            if version != 0 {
                return Err(corrupt(format!(
                    "fractal heap indirect block version {version}"
                )));
            }
            let body = block
                .get(..to_usize(body_len, what)?)
                .ok_or(Hdf5Error::Truncated { what })?;
            c.seek(body.len(), what)?;
            let stored = c.u32(what)?;
            checksum::verify(body, stored, "fractal heap indirect block")?;
            let entry = row.saturating_mul(self.width).saturating_add(col);
            let pos = hdr_len.saturating_add(entry.saturating_mul(to_u64(entry_len)));
            c.seek(to_usize(pos, what)?, what)?;
            let child_off = add(
                add(block_off, row_start, what)?,
                col.saturating_mul(bs),
                what,
            )?;
            let child = self
                .ctx
                .addr(&mut c, what)?
                .ok_or_else(|| corrupt("fractal heap object in an unallocated block"))?;
            if row < direct_rows {
                return self.read_direct(child, child_off, bs, offset, len);
            }
            // Child indirect block: rows = row - log2(width).
            let child_rows = row.saturating_sub(u64::from(self.log2_width));
            if child_rows == 0 || child_rows >= nrows {
                return Err(corrupt("fractal heap indirect block rows"));
            }
            block_addr = child;
            block_off = child_off;
            nrows = child_rows;
        }
        Err(corrupt("fractal heap nesting too deep"))
    }

    /// Object at heap `offset` inside the direct block at `addr` that starts
    /// at heap offset `block_off` and is `block_size` bytes long.
    fn read_direct(
        &self,
        addr: u64,
        block_off: u64,
        block_size: u64,
        offset: u64,
        len: u64,
    ) -> Result<&'a [u8]> {
        let what = "fractal heap direct block";
        let mut c = self.ctx.cursor_at(addr, what)?;
        c.signature(b"FHDB", what)?;
        let version = c.u8(what)?;
        if version != 0 {
            return Err(corrupt(format!(
                "fractal heap direct block version {version}"
            )));
        }
        let inside = offset
            .checked_sub(block_off)
            .ok_or_else(|| corrupt("fractal heap offset before its block"))?;
        let end = add(inside, len, what)?;
        if inside < to_u64(self.direct_header_len()) || end > block_size {
            return Err(corrupt("fractal heap object outside its direct block"));
        }
        self.ctx.slice(add(addr, inside, what)?, len, what)
    }
}
