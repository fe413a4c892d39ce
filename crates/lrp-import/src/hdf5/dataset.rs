//! The public [`Dataset`] handle: shape, element type and raw data reading
//! (compact, contiguous and unfiltered chunked layouts).

use std::collections::HashSet;

use crate::hdf5::attribute::{self, AttrValue, decode_floats, ints_as_f64};
use crate::hdf5::btree::{self, V1_CHUNK};
use crate::hdf5::checksum;
use crate::hdf5::dataspace::Dataspace;
use crate::hdf5::datatype::{Datatype, ScalarType};
use crate::hdf5::error::{Hdf5Error, Result, corrupt, unsupported};
use crate::hdf5::file::File;
use crate::hdf5::layout::{
    ChunkIndex, Layout, filter_name, parse_fill_value, parse_fill_value_old, parse_filters,
};
use crate::hdf5::object_header::{ObjectHeader, ObjectKind, msg};
use crate::hdf5::reader::{Ctx, Cursor, add, mul, mul_usize, to_u64, to_usize};

/// A dataset of an open [`File`].
#[derive(Clone, Debug)]
pub struct Dataset<'f> {
    file: &'f File,
    path: String,
    header: ObjectHeader<'f>,
    space: Dataspace,
    shape: Vec<usize>,
    dtype: Datatype,
    layout: Layout<'f>,
    filters: Vec<u16>,
    fill: Option<&'f [u8]>,
}

impl<'f> Dataset<'f> {
    pub(crate) fn from_header(
        file: &'f File,
        path: String,
        header: ObjectHeader<'f>,
    ) -> Result<Self> {
        if header.kind() != ObjectKind::Dataset {
            return Err(Hdf5Error::WrongKind {
                path,
                expected: "dataset",
            });
        }
        Self::parse_parts(file, &path, header).map_err(|e| e.in_object(&path))
    }

    fn parse_parts(file: &'f File, path: &str, header: ObjectHeader<'f>) -> Result<Self> {
        let ctx = file.ctx();
        let m = header
            .first(msg::DATASPACE)
            .ok_or_else(|| corrupt("dataset without dataspace message"))?;
        if m.flags & crate::hdf5::object_header::FLAG_SHARED != 0 {
            return Err(unsupported("shared dataspace message"));
        }
        let space = Dataspace::parse(&ctx, m.data)?;
        let m = header
            .first(msg::DATATYPE)
            .ok_or_else(|| corrupt("dataset without datatype message"))?;
        let dtype = Datatype::from_message(&ctx, m.data, m.flags)?;
        let m = header
            .first(msg::LAYOUT)
            .ok_or_else(|| corrupt("dataset without layout message"))?;
        let layout = Layout::parse(&ctx, m.data)?;
        let filters = match header.first(msg::FILTER_PIPELINE) {
            Some(m) if m.flags & crate::hdf5::object_header::FLAG_SHARED != 0 => {
                return Err(unsupported("shared filter pipeline message"));
            }
            Some(m) => parse_filters(m.data)?,
            None => Vec::new(),
        };
        let fill = match (
            header.first(msg::FILL_VALUE),
            header.first(msg::FILL_VALUE_OLD),
        ) {
            (Some(m), _) if m.flags & crate::hdf5::object_header::FLAG_SHARED == 0 => {
                parse_fill_value(m.data).unwrap_or(None)
            }
            (None, Some(m)) if m.flags & crate::hdf5::object_header::FLAG_SHARED == 0 => {
                parse_fill_value_old(m.data).unwrap_or(None)
            }
            _ => None,
        }
        .filter(|f| f.len() == dtype.size());
        let shape = space
            .dims
            .iter()
            .map(|&d| to_usize(d, "dataset dimension"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Dataset {
            file,
            path: path.to_string(),
            header,
            space,
            shape,
            dtype,
            layout,
            filters,
            fill,
        })
    }

    /// Absolute path of this dataset as it was opened.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// File address of the dataset's object header (identifies the object).
    pub fn object_id(&self) -> u64 {
        self.header.addr
    }

    /// Dimensions, slowest-varying first (empty for a scalar dataset and
    /// for a null dataspace, which holds no elements).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Element type.
    pub fn dtype(&self) -> ScalarType {
        self.dtype.scalar_type()
    }

    /// All elements converted to f64, row-major (C order). Floats of 2, 4
    /// and 8 bytes and integers of 1-8 bytes in either byte order are
    /// converted (integers beyond 2^53 lose precision). Never-written data
    /// reads as the fill value (zero if none is defined). Fails with
    /// `WrongKind` for strings and `Unsupported` for other types, filtered
    /// (compressed) data, and extensible-array/v2-B-tree chunk indexes.
    pub fn read_f64(&self) -> Result<Vec<f64>> {
        match &self.dtype {
            Datatype::Float { .. } | Datatype::Int { .. } => {}
            Datatype::FixedString { .. } | Datatype::VarString { .. } => {
                return Err(Hdf5Error::WrongKind {
                    path: self.path.clone(),
                    expected: "numeric dataset",
                });
            }
            Datatype::Other { .. } => {
                return Err(unsupported(format!(
                    "reading {} data as f64",
                    self.dtype.class_name()
                ))
                .in_object(&self.path));
            }
        }
        let raw = self.read_raw().map_err(|e| e.in_object(&self.path))?;
        match &self.dtype {
            Datatype::Float { .. } => decode_floats(&raw, &self.dtype),
            _ => ints_as_f64(&raw, &self.dtype),
        }
        .map_err(|e| e.in_object(&self.path))
    }

    /// The value of attribute `name`, `Ok(None)` if there is none.
    pub fn attribute(&self, name: &str) -> Result<Option<AttrValue>> {
        attribute::read(&self.file.ctx(), &self.header, name)
            .map_err(|e| e.in_object(&format!("{}@{name}", self.path)))
    }

    /// Attribute names: creation order when tracked, else byte-wise name order.
    pub fn attribute_names(&self) -> Result<Vec<String>> {
        attribute::names(&self.file.ctx(), &self.header).map_err(|e| e.in_object(&self.path))
    }

    /// A buffer of `total` bytes filled with the fill value (or zeros).
    fn filled(&self, total: usize) -> Vec<u8> {
        match self.fill {
            Some(f) if f.iter().any(|&b| b != 0) => f.iter().copied().cycle().take(total).collect(),
            _ => vec![0u8; total],
        }
    }

    /// The raw bytes of all elements, row-major.
    fn read_raw(&self) -> Result<Vec<u8>> {
        let ctx = self.file.ctx();
        let esize = self.dtype.size();
        let total = mul(self.space.element_count()?, to_u64(esize), "dataset size")?;
        if total > to_u64(ctx.file_len()) {
            // Nothing readable here (no compression) can exceed the file.
            return Err(Hdf5Error::TooLarge {
                what: "dataset size",
            });
        }
        let total = to_usize(total, "dataset size")?;
        if total == 0 {
            return Ok(Vec::new());
        }
        if self.header.first(msg::EXTERNAL_FILES).is_some() {
            return Err(unsupported("raw data in external files"));
        }
        match &self.layout {
            Layout::Compact(data) => Ok(data
                .get(..total)
                .ok_or(Hdf5Error::Truncated {
                    what: "compact dataset data",
                })?
                .to_vec()),
            Layout::Contiguous { addr: None } => Ok(self.filled(total)),
            Layout::Contiguous { addr: Some(a) } => Ok(ctx
                .slice(*a, to_u64(total), "contiguous dataset data")?
                .to_vec()),
            Layout::Chunked { chunk, index } => {
                if let Some(&id) = self.filters.first() {
                    return Err(unsupported(format!(
                        "filter '{}' (id {id}) on chunked dataset",
                        filter_name(id)
                    )));
                }
                let mut out = self.filled(total);
                self.read_chunked(&ctx, chunk, index, &mut out)?;
                Ok(out)
            }
            Layout::Virtual => Err(unsupported("virtual dataset layout")),
        }
    }

    fn read_chunked(
        &self,
        ctx: &Ctx<'f>,
        chunk: &[u64],
        index: &ChunkIndex,
        out: &mut [u8],
    ) -> Result<()> {
        let dims = &self.space.dims;
        if dims.is_empty() || chunk.len() != dims.len() || chunk.contains(&0) {
            return Err(corrupt("chunk dimensions do not match the dataspace"));
        }
        let esize = self.dtype.size();
        let chunk_elems = chunk
            .iter()
            .try_fold(1u64, |acc, &d| mul(acc, d, "chunk size"))?;
        let chunk_bytes = mul(chunk_elems, to_u64(esize), "chunk size")?;
        let mut copier = ChunkCopier {
            dims,
            chunk,
            esize,
            chunk_bytes,
            seen: HashSet::new(),
            out,
        };
        // Grid of chunks for indexes that linearize chunk positions (uses the
        // maximum dimensions when they are fixed, as HDF5 does).
        let grid_dims: Vec<u64> = match &self.space.max_dims {
            Some(m) if m.len() == dims.len() && !m.contains(&u64::MAX) => m.clone(),
            _ => dims.clone(),
        };
        let grid: Vec<u64> = grid_dims
            .iter()
            .zip(chunk)
            .map(|(&d, &c)| d.div_ceil(c))
            .collect();
        let nchunks = grid
            .iter()
            .try_fold(1u64, |acc, &g| mul(acc, g, "number of chunks"))?;
        match index {
            ChunkIndex::BTreeV1 { addr: None }
            | ChunkIndex::Single { addr: None, .. }
            | ChunkIndex::Implicit { addr: None }
            | ChunkIndex::FixedArray { addr: None } => Ok(()),
            ChunkIndex::BTreeV1 { addr: Some(a) } => {
                let rank = dims.len();
                let key_len = 8usize.saturating_add(rank.saturating_add(1).saturating_mul(8));
                btree::v1_leaves(ctx, *a, V1_CHUNK, key_len, |key, child| {
                    let what = "chunk B-tree key";
                    let mut c = Cursor::new(key);
                    let _size = c.u32(what)?;
                    let _mask = c.u32(what)?;
                    let mut offset = Vec::with_capacity(rank);
                    for _ in 0..rank {
                        offset.push(c.u64(what)?);
                    }
                    copier.copy(ctx, &offset, child)
                })
            }
            ChunkIndex::Single { addr: Some(a), .. } => copier.copy(ctx, &vec![0; dims.len()], *a),
            ChunkIndex::Implicit { addr: Some(a) } => {
                // All chunks must exist before looping over them.
                ctx.slice(
                    *a,
                    mul(nchunks, chunk_bytes, "chunk storage")?,
                    "implicit chunk storage",
                )?;
                for i in 0..nchunks {
                    let addr = add(*a, mul(i, chunk_bytes, "chunk address")?, "chunk address")?;
                    copier.copy(ctx, &chunk_offset(i, &grid, chunk)?, addr)?;
                }
                Ok(())
            }
            ChunkIndex::FixedArray { addr: Some(a) } => {
                let addrs = fixed_array(ctx, *a, nchunks)?;
                for (i, addr) in addrs.into_iter().enumerate() {
                    if let Some(addr) = addr {
                        copier.copy(ctx, &chunk_offset(to_u64(i), &grid, chunk)?, addr)?;
                    }
                }
                Ok(())
            }
            ChunkIndex::Unsupported(what) => Err(unsupported(*what)),
        }
    }
}

/// Element offset of the chunk with row-major linear index `i`.
fn chunk_offset(i: u64, grid: &[u64], chunk: &[u64]) -> Result<Vec<u64>> {
    let mut rem = i;
    let mut out = vec![0u64; grid.len()];
    for ((slot, &g), &c) in out.iter_mut().zip(grid).zip(chunk).rev() {
        let pos = rem.checked_rem(g).unwrap_or(0);
        rem = rem.checked_div(g).unwrap_or(0);
        *slot = mul(pos, c, "chunk offset")?;
    }
    Ok(out)
}

/// Reads a fixed array chunk index ("FAHD" header + "FADB" data block)
/// of unfiltered chunks; returns one address per chunk.
fn fixed_array(ctx: &Ctx<'_>, addr: u64, nchunks: u64) -> Result<Vec<Option<u64>>> {
    let what = "fixed array header";
    let mut c = ctx.cursor_at(addr, what)?;
    c.signature(b"FAHD", what)?;
    let version = c.u8(what)?;
    let client = c.u8(what)?;
    let entry_size = usize::from(c.u8(what)?);
    let page_bits = c.u8(what)?;
    let n = ctx.length(&mut c, what)?;
    let block = ctx.addr(&mut c, what)?;
    let covered_len = c.pos();
    let stored = c.u32(what)?;
    checksum::verify(
        c.data()
            .get(..covered_len)
            .ok_or(Hdf5Error::Truncated { what })?,
        stored,
        what,
    )?;
    if version != 0 || client != 0 || entry_size != ctx.offset_size {
        return Err(corrupt("fixed array header (version/client/entry size)"));
    }
    if n < nchunks {
        return Err(corrupt("fixed array has fewer entries than chunks"));
    }
    let Some(block) = block else {
        return Ok(Vec::new());
    };
    if page_bits < 64 && n > 1u64.checked_shl(u32::from(page_bits)).unwrap_or(u64::MAX) {
        return Err(unsupported("paged fixed array chunk index"));
    }
    let what = "fixed array data block";
    let nentries = to_usize(n, what)?;
    let prefix = 6usize.saturating_add(ctx.offset_size);
    let body_len = mul_usize(nentries, entry_size, what)?
        .checked_add(prefix)
        .ok_or(Hdf5Error::TooLarge { what })?;
    let data = ctx.slice(block, to_u64(body_len).saturating_add(4), what)?;
    let mut c = Cursor::new(data);
    c.signature(b"FADB", what)?;
    c.skip(prefix.saturating_sub(4), what)?;
    let mut out = Vec::with_capacity(nentries);
    for _ in 0..nentries {
        out.push(ctx.addr(&mut c, what)?);
    }
    let stored = c.u32(what)?;
    checksum::verify(
        data.get(..body_len).ok_or(Hdf5Error::Truncated { what })?,
        stored,
        what,
    )?;
    out.truncate(to_usize(nchunks, what)?);
    Ok(out)
}

/// Copies chunks into the row-major output buffer.
struct ChunkCopier<'o> {
    dims: &'o [u64],
    chunk: &'o [u64],
    esize: usize,
    chunk_bytes: u64,
    seen: HashSet<Vec<u64>>,
    out: &'o mut [u8],
}

impl ChunkCopier<'_> {
    /// Copies the chunk at element `offset` stored at file address `addr`.
    fn copy(&mut self, ctx: &Ctx<'_>, offset: &[u64], addr: u64) -> Result<()> {
        let rank = self.dims.len();
        if offset.len() != rank {
            return Err(corrupt("chunk offset rank"));
        }
        for ((&o, &d), &c) in offset.iter().zip(self.dims).zip(self.chunk) {
            if o.checked_rem(c) != Some(0) {
                return Err(corrupt("chunk offset is not a multiple of the chunk size"));
            }
            if o >= d {
                return Ok(()); // chunk outside the current extent
            }
        }
        if !self.seen.insert(offset.to_vec()) {
            return Err(corrupt("chunk stored twice"));
        }
        let data = ctx.slice(addr, self.chunk_bytes, "chunk data")?;
        // extent of this chunk inside the dataset
        let extent: Vec<u64> = offset
            .iter()
            .zip(self.dims)
            .zip(self.chunk)
            .map(|((&o, &d), &c)| c.min(d.saturating_sub(o)))
            .collect();
        // strides in elements
        let mut dset_stride = vec![1u64; rank];
        let mut chunk_stride = vec![1u64; rank];
        for i in (0..rank.saturating_sub(1)).rev() {
            let next = i.saturating_add(1);
            let (ds, cs) = (
                dset_stride.get(next).copied().unwrap_or(1),
                chunk_stride.get(next).copied().unwrap_or(1),
            );
            let (dd, cd) = (
                self.dims.get(next).copied().unwrap_or(1),
                self.chunk.get(next).copied().unwrap_or(1),
            );
            if let Some(s) = dset_stride.get_mut(i) {
                *s = mul(ds, dd, "dataset stride")?;
            }
            if let Some(s) = chunk_stride.get_mut(i) {
                *s = mul(cs, cd, "chunk stride")?;
            }
        }
        let last = rank.saturating_sub(1);
        let run_elems = extent.get(last).copied().unwrap_or(0);
        let run = to_usize(
            mul(run_elems, to_u64(self.esize), "chunk row")?,
            "chunk row",
        )?;
        let esize = to_u64(self.esize);
        // odometer over all but the last dimension
        let mut idx = vec![0u64; last];
        loop {
            let mut src = 0u64;
            let mut dst = offset.get(last).copied().unwrap_or(0);
            for (k, &i) in idx.iter().enumerate() {
                let cs = chunk_stride.get(k).copied().unwrap_or(0);
                let ds = dset_stride.get(k).copied().unwrap_or(0);
                let o = offset.get(k).copied().unwrap_or(0);
                src = add(src, mul(i, cs, "chunk index")?, "chunk index")?;
                dst = add(
                    dst,
                    mul(add(o, i, "chunk index")?, ds, "chunk index")?,
                    "chunk index",
                )?;
            }
            let src = to_usize(mul(src, esize, "chunk index")?, "chunk index")?;
            let dst = to_usize(mul(dst, esize, "chunk index")?, "chunk index")?;
            let from = data
                .get(src..src.saturating_add(run))
                .ok_or(Hdf5Error::Truncated { what: "chunk data" })?;
            let to = self
                .out
                .get_mut(dst..dst.saturating_add(run))
                .ok_or_else(|| corrupt("chunk outside the dataset"))?;
            to.copy_from_slice(from);
            // advance the odometer
            let mut k = last;
            loop {
                if k == 0 {
                    return Ok(());
                }
                k = k.saturating_sub(1);
                let lim = extent.get(k).copied().unwrap_or(0);
                if let Some(v) = idx.get_mut(k) {
                    *v = v.saturating_add(1);
                    if *v < lim {
                        break;
                    }
                    *v = 0;
                }
            }
        }
    }
}
