//! Data layout message (versions 1-5), filter pipeline message and fill
//! value messages: where a dataset's raw bytes live.

use crate::hdf5::error::{Result, corrupt, unsupported};
use crate::hdf5::reader::{Ctx, Cursor};

/// How the chunks of a chunked dataset are indexed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ChunkIndex {
    /// Version 1 B-tree (layout versions 1-3; type 1 nodes).
    BTreeV1 { addr: Option<u64> },
    /// One chunk covering the whole dataset (layout v4).
    Single {
        addr: Option<u64>,
        filtered_size: Option<u64>,
    },
    /// Chunks stored contiguously in row-major chunk order (layout v4).
    Implicit { addr: Option<u64> },
    /// Fixed array index "FAHD"/"FADB" (layout v4).
    FixedArray { addr: Option<u64> },
    /// Extensible array or version 2 B-tree index (not supported).
    Unsupported(&'static str),
}

/// Where the raw data of a dataset is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Layout<'a> {
    /// Data stored inside the object header.
    Compact(&'a [u8]),
    /// One block at `addr` (undefined until written).
    Contiguous { addr: Option<u64> },
    /// Chunked storage; `chunk` excludes the trailing element-size dimension.
    Chunked { chunk: Vec<u64>, index: ChunkIndex },
    /// Virtual dataset (not supported).
    Virtual,
}

const MAX_CHUNK_RANK: u8 = 33;

impl<'a> Layout<'a> {
    /// Parses a data layout message body.
    pub(crate) fn parse(ctx: &Ctx<'a>, data: &'a [u8]) -> Result<Self> {
        let what = "data layout message";
        let mut c = Cursor::new(data);
        let version = c.u8(what)?;
        match version {
            1 | 2 => {
                let ndims = c.u8(what)?;
                let class = c.u8(what)?;
                c.skip(5, what)?;
                if ndims == 0 || ndims > MAX_CHUNK_RANK {
                    return Err(corrupt(format!("layout dimensionality {ndims}")));
                }
                let addr = if class == 0 {
                    None
                } else {
                    ctx.addr(&mut c, what)?
                };
                let mut dims = Vec::with_capacity(usize::from(ndims));
                for _ in 0..ndims {
                    dims.push(u64::from(c.u32(what)?));
                }
                match class {
                    0 => {
                        let size = usize::try_from(c.u32(what)?).map_err(|_| corrupt(what))?;
                        Ok(Layout::Compact(c.bytes(size, what)?))
                    }
                    1 => Ok(Layout::Contiguous { addr }),
                    2 => {
                        let _elem_size = c.u32(what)?;
                        dims.pop();
                        Ok(Layout::Chunked {
                            chunk: dims,
                            index: ChunkIndex::BTreeV1 { addr },
                        })
                    }
                    k => Err(corrupt(format!("layout class {k}"))),
                }
            }
            // Version 5 (HDF5 2.0, filtered chunks) shares the v4 encoding.
            3..=5 => {
                let class = c.u8(what)?;
                match class {
                    0 => {
                        let size = usize::from(c.u16(what)?);
                        Ok(Layout::Compact(c.bytes(size, what)?))
                    }
                    1 => {
                        let addr = ctx.addr(&mut c, what)?;
                        let _size = ctx.length(&mut c, what)?;
                        Ok(Layout::Contiguous { addr })
                    }
                    2 if version == 3 => {
                        let ndims = c.u8(what)?;
                        if !(2..=MAX_CHUNK_RANK).contains(&ndims) {
                            return Err(corrupt(format!("chunk dimensionality {ndims}")));
                        }
                        let addr = ctx.addr(&mut c, what)?;
                        let mut dims = Vec::with_capacity(usize::from(ndims));
                        for _ in 0..ndims {
                            dims.push(u64::from(c.u32(what)?));
                        }
                        dims.pop();
                        Ok(Layout::Chunked {
                            chunk: dims,
                            index: ChunkIndex::BTreeV1 { addr },
                        })
                    }
                    2 => parse_v4_chunked(ctx, &mut c),
                    3 => Ok(Layout::Virtual),
                    k => Err(corrupt(format!("layout class {k}"))),
                }
            }
            v => Err(corrupt(format!("data layout version {v}"))),
        }
    }
}

fn parse_v4_chunked<'a>(ctx: &Ctx<'a>, c: &mut Cursor<'a>) -> Result<Layout<'a>> {
    let what = "data layout message";
    let flags = c.u8(what)?;
    let ndims = c.u8(what)?;
    if !(2..=MAX_CHUNK_RANK).contains(&ndims) {
        return Err(corrupt(format!("chunk dimensionality {ndims}")));
    }
    let enc = usize::from(c.u8(what)?);
    if !(1..=8).contains(&enc) {
        return Err(corrupt(format!("chunk dimension encoding size {enc}")));
    }
    let mut dims = Vec::with_capacity(usize::from(ndims));
    for _ in 0..ndims {
        dims.push(c.uint(enc, what)?);
    }
    dims.pop();
    let index_type = c.u8(what)?;
    let index = match index_type {
        1 => {
            let filtered_size = if flags & 0x02 != 0 {
                let size = ctx.length(c, what)?;
                let _mask = c.u32(what)?;
                Some(size)
            } else {
                None
            };
            ChunkIndex::Single {
                addr: ctx.addr(c, what)?,
                filtered_size,
            }
        }
        2 => ChunkIndex::Implicit {
            addr: ctx.addr(c, what)?,
        },
        3 => {
            let _page_bits = c.u8(what)?;
            ChunkIndex::FixedArray {
                addr: ctx.addr(c, what)?,
            }
        }
        4 => ChunkIndex::Unsupported("extensible array chunk index"),
        5 => ChunkIndex::Unsupported("version 2 B-tree chunk index"),
        t => return Err(corrupt(format!("chunk index type {t}"))),
    };
    Ok(Layout::Chunked { chunk: dims, index })
}

/// Name of a filter for error messages.
pub(crate) fn filter_name(id: u16) -> &'static str {
    match id {
        1 => "deflate",
        2 => "shuffle",
        3 => "fletcher32",
        4 => "szip",
        5 => "nbit",
        6 => "scaleoffset",
        32001 => "blosc",
        32004 => "lz4",
        32015 => "zstd",
        _ => "third-party",
    }
}

/// Filter ids of a filter pipeline message, in pipeline order.
pub(crate) fn parse_filters(data: &[u8]) -> Result<Vec<u16>> {
    let what = "filter pipeline message";
    let mut c = Cursor::new(data);
    let version = c.u8(what)?;
    let n = c.u8(what)?;
    if version == 1 {
        c.skip(6, what)?;
    } else if version != 2 {
        return Err(corrupt(format!("filter pipeline version {version}")));
    }
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = c.u16(what)?;
        let name_len = if version == 1 || id >= 256 {
            usize::from(c.u16(what)?)
        } else {
            0
        };
        let _flags = c.u16(what)?;
        let nvalues = usize::from(c.u16(what)?);
        if version == 1 {
            let padded = name_len
                .checked_add(7)
                .map(|v| v & !7)
                .unwrap_or(usize::MAX);
            c.skip(padded, what)?;
        } else {
            c.skip(name_len, what)?;
        }
        c.skip(nvalues.saturating_mul(4), what)?;
        if version == 1 && nvalues & 1 == 1 {
            c.skip(4, what)?;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// The fill value bytes of a fill value message (type 0x05), if defined.
pub(crate) fn parse_fill_value(data: &[u8]) -> Result<Option<&[u8]>> {
    let what = "fill value message";
    let mut c = Cursor::new(data);
    let version = c.u8(what)?;
    match version {
        1 | 2 => {
            let _alloc_time = c.u8(what)?;
            let _write_time = c.u8(what)?;
            let defined = c.u8(what)?;
            if version == 2 && defined == 0 {
                return Ok(None);
            }
            sized_value(&mut c)
        }
        3 => {
            let flags = c.u8(what)?;
            if flags & 0x20 == 0 {
                return Ok(None);
            }
            sized_value(&mut c)
        }
        v => Err(unsupported(format!("fill value message version {v}"))),
    }
}

/// The fill value of an old-style fill value message (type 0x04).
pub(crate) fn parse_fill_value_old(data: &[u8]) -> Result<Option<&[u8]>> {
    sized_value(&mut Cursor::new(data))
}

fn sized_value<'a>(c: &mut Cursor<'a>) -> Result<Option<&'a [u8]>> {
    let what = "fill value";
    if c.remaining() == 0 {
        return Ok(None);
    }
    let size = usize::try_from(c.u32(what)?).map_err(|_| corrupt(what))?;
    if size == 0 {
        return Ok(None);
    }
    Ok(Some(c.bytes(size, what)?))
}
