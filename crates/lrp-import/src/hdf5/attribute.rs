//! Attribute messages (versions 1-3), compact and dense (fractal heap +
//! version 2 B-tree) attribute storage, and decoding of attribute values.

use crate::hdf5::btree::{self, HashFilter};
use crate::hdf5::checksum;
use crate::hdf5::dataspace::Dataspace;
use crate::hdf5::datatype::{Datatype, FloatFormat, StrPad};
use crate::hdf5::error::{Hdf5Error, Result, corrupt, unsupported};
use crate::hdf5::heap::{FractalHeap, GlobalHeaps};
use crate::hdf5::object_header::{FLAG_SHARED, ObjectHeader, msg};
use crate::hdf5::reader::{Ctx, Cursor, mul_usize, to_usize};

/// The value of an attribute. Arrays are flattened in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// Fixed- or variable-length strings; a scalar string gives one
    /// element. Fixed-length strings are cut at the first NUL (null
    /// terminated/padded) or have trailing spaces removed (space padded);
    /// invalid UTF-8 is replaced with U+FFFD.
    Strings(Vec<String>),
    /// Floating-point values (float16/bfloat16/float32/float64) as f64.
    Floats {
        /// Dimensions (empty for a scalar or a null dataspace).
        shape: Vec<usize>,
        /// Values, row-major.
        data: Vec<f64>,
    },
    /// Integer values (any size, signedness or byte order; enums such as
    /// h5py booleans) as i64.
    Ints {
        /// Dimensions (empty for a scalar or a null dataspace).
        shape: Vec<usize>,
        /// Values, row-major.
        data: Vec<i64>,
    },
}

/// An attribute before value decoding.
pub(crate) struct RawAttribute<'a> {
    pub(crate) name: String,
    pub(crate) dtype: Datatype,
    pub(crate) space: Dataspace,
    pub(crate) data: &'a [u8],
    pub(crate) corder: Option<u64>,
}

/// Parses an attribute message body.
pub(crate) fn parse_message<'a>(ctx: &Ctx<'a>, data: &'a [u8]) -> Result<RawAttribute<'a>> {
    let what = "attribute message";
    let mut c = Cursor::new(data);
    let version = c.u8(what)?;
    let flags = c.u8(what)?;
    let name_len = usize::from(c.u16(what)?);
    let dt_len = usize::from(c.u16(what)?);
    let ds_len = usize::from(c.u16(what)?);
    if version == 3 {
        let _charset = c.u8(what)?;
    } else if version != 1 && version != 2 {
        return Err(corrupt(format!("attribute message version {version}")));
    }
    let pad = version == 1;
    let name_bytes = c.bytes(name_len, what)?;
    if pad {
        c.align(8, what)?;
    }
    let dt_bytes = c.bytes(dt_len, what)?;
    if pad {
        c.align(8, what)?;
    }
    let ds_bytes = c.bytes(ds_len, what)?;
    if pad {
        let end = c.data().len();
        c.align(8, what).or_else(|_| c.seek(end, what))?;
    }
    let name_end = name_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name_bytes.len());
    let name = String::from_utf8_lossy(name_bytes.get(..name_end).unwrap_or(&[])).into_owned();
    let shared_dt = version >= 2 && flags & 0x01 != 0;
    let dtype = Datatype::from_message(ctx, dt_bytes, if shared_dt { FLAG_SHARED } else { 0 })?;
    if version >= 2 && flags & 0x02 != 0 {
        return Err(unsupported("shared dataspace in attribute"));
    }
    let space = Dataspace::parse(ctx, ds_bytes)?;
    Ok(RawAttribute {
        name,
        dtype,
        space,
        data: c.rest(),
        corder: None,
    })
}

/// All attributes of an object (only those that may be called `only` when
/// given: dense storage is filtered by name hash): creation order if
/// tracked, else name order.
pub(crate) fn list<'a>(
    ctx: &Ctx<'a>,
    header: &ObjectHeader<'a>,
    only: Option<&str>,
) -> Result<Vec<RawAttribute<'a>>> {
    let mut out = Vec::new();
    for m in header.all(msg::ATTRIBUTE) {
        if m.flags & FLAG_SHARED != 0 {
            return Err(unsupported("shared attribute message"));
        }
        let mut a = parse_message(ctx, m.data)?;
        a.corder = m.corder.map(u64::from);
        out.push(a);
    }
    let mut by_creation = false;
    if let Some(info) = header.first(msg::ATTRIBUTE_INFO) {
        let what = "attribute info message";
        let mut c = Cursor::new(info.data);
        let version = c.u8(what)?;
        if version != 0 {
            return Err(corrupt(format!("attribute info version {version}")));
        }
        let flags = c.u8(what)?;
        by_creation = flags & 0x01 != 0;
        if by_creation {
            let _max_corder = c.u16(what)?;
        }
        let heap_addr = ctx.addr(&mut c, what)?;
        let name_index = ctx.addr(&mut c, what)?;
        if let (Some(heap_addr), Some(name_index)) = (heap_addr, name_index) {
            let heap = FractalHeap::parse(ctx, heap_addr)?;
            let id_len = heap.id_len();
            // record: heap ID, flags (1), creation order (4), name hash (4)
            let filter = only.map(|n| HashFilter {
                hash: checksum::lookup3(n.as_bytes()),
                offset: id_len.saturating_add(5),
            });
            for rec in btree::v2_records(ctx, name_index, 8, filter)? {
                // record: heap ID, flags (1), creation order (4), hash (4)
                let mut rc = Cursor::new(rec);
                let id = rc.bytes(id_len, "attribute name index record")?;
                let rflags = rc.u8("attribute name index record")?;
                let corder = rc.u32("attribute name index record")?;
                if rflags & 0x01 != 0 {
                    return Err(unsupported("shared attribute in dense storage"));
                }
                let mut a = parse_message(ctx, heap.get(id)?)?;
                a.corder = Some(u64::from(corder));
                out.push(a);
            }
        }
    }
    if by_creation {
        out.sort_by(|a, b| {
            a.corder
                .cmp(&b.corder)
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        });
    } else {
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    }
    Ok(out)
}

/// Attribute names in [`list`] order.
pub(crate) fn names(ctx: &Ctx<'_>, header: &ObjectHeader<'_>) -> Result<Vec<String>> {
    Ok(list(ctx, header, None)?
        .into_iter()
        .map(|a| a.name)
        .collect())
}

/// Decodes attribute `name`, `None` if absent.
pub(crate) fn read(
    ctx: &Ctx<'_>,
    header: &ObjectHeader<'_>,
    name: &str,
) -> Result<Option<AttrValue>> {
    match list(ctx, header, Some(name))?
        .into_iter()
        .find(|a| a.name == name)
    {
        Some(a) => decode(ctx, &a).map(Some),
        None => Ok(None),
    }
}

fn shape_of(space: &Dataspace) -> Result<Vec<usize>> {
    space
        .dims
        .iter()
        .map(|&d| to_usize(d, "attribute dimension"))
        .collect()
}

/// Decodes the value of a raw attribute.
pub(crate) fn decode(ctx: &Ctx<'_>, a: &RawAttribute<'_>) -> Result<AttrValue> {
    let what = "attribute data";
    let n = to_usize(a.space.element_count()?, what)?;
    let size = a.dtype.size();
    let total = mul_usize(n, size, what)?;
    let raw = a.data.get(..total).ok_or(Hdf5Error::Truncated { what })?;
    let shape = shape_of(&a.space)?;
    match &a.dtype {
        Datatype::Int { .. } => Ok(AttrValue::Ints {
            shape,
            data: decode_ints(raw, &a.dtype)?,
        }),
        Datatype::Float { .. } => Ok(AttrValue::Floats {
            shape,
            data: decode_floats(raw, &a.dtype)?,
        }),
        Datatype::FixedString { pad, .. } => Ok(AttrValue::Strings(
            raw.chunks_exact(size)
                .map(|s| fixed_string(s, *pad))
                .collect(),
        )),
        Datatype::VarString { .. } => {
            let mut heaps = GlobalHeaps::default();
            raw.chunks_exact(size)
                .map(|e| vl_string(ctx, &mut heaps, e))
                .collect::<Result<Vec<_>>>()
                .map(AttrValue::Strings)
        }
        Datatype::Other { .. } => Err(unsupported(format!(
            "attribute of datatype class {}",
            a.dtype.class_name()
        ))),
    }
}

fn fixed_string(s: &[u8], pad: StrPad) -> String {
    let s = match pad {
        StrPad::NullTerm | StrPad::NullPad => {
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
            s.get(..end).unwrap_or(&[])
        }
        StrPad::SpacePad => {
            let end = s
                .iter()
                .rposition(|&b| b != b' ' && b != 0)
                .map_or(0, |p| p.saturating_add(1));
            s.get(..end).unwrap_or(&[])
        }
    };
    String::from_utf8_lossy(s).into_owned()
}

/// One variable-length string element: length (4), global heap collection
/// address, object index (4).
fn vl_string<'a>(ctx: &Ctx<'a>, heaps: &mut GlobalHeaps<'a>, e: &[u8]) -> Result<String> {
    let what = "variable-length string";
    let mut c = Cursor::new(e);
    let len = to_usize(u64::from(c.u32(what)?), what)?;
    let addr = ctx.addr(&mut c, what)?;
    let index = u64::from(c.u32(what)?);
    let Some(addr) = addr else {
        return Ok(String::new());
    };
    if len == 0 {
        return Ok(String::new());
    }
    let obj = heaps.object(ctx, addr, index)?;
    let bytes = obj.get(..len).ok_or(Hdf5Error::Truncated { what })?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// An integer element as a value that is either signed (sign-extended)
/// or unsigned.
enum IntValue {
    Signed(i64),
    Unsigned(u64),
}

/// Decodes integer elements (1, 2, 4 or 8 bytes, either byte order).
fn int_values(raw: &[u8], dtype: &Datatype) -> Result<Vec<IntValue>> {
    let Datatype::Int {
        size,
        signed,
        big_endian,
    } = *dtype
    else {
        return Err(corrupt("integer decode of a non-integer type"));
    };
    Ok(raw
        .chunks_exact(size)
        .map(|e| {
            let mut b = [0u8; 8];
            for (i, &v) in e.iter().enumerate() {
                let idx = if big_endian {
                    size.saturating_sub(1).saturating_sub(i)
                } else {
                    i
                };
                if let Some(slot) = b.get_mut(idx) {
                    *slot = v;
                }
            }
            let u = u64::from_le_bytes(b);
            if signed {
                // sign-extend from `size` bytes
                let shift =
                    u32::try_from(64usize.saturating_sub(size.saturating_mul(8))).unwrap_or(0);
                IntValue::Signed(
                    i64::from_le_bytes(u.wrapping_shl(shift).to_le_bytes()).wrapping_shr(shift),
                )
            } else {
                IntValue::Unsigned(u)
            }
        })
        .collect())
}

/// Decodes integer elements to i64 (unsigned values above `i64::MAX` fail
/// with `TooLarge`).
pub(crate) fn decode_ints(raw: &[u8], dtype: &Datatype) -> Result<Vec<i64>> {
    int_values(raw, dtype)?
        .into_iter()
        .map(|v| match v {
            IntValue::Signed(s) => Ok(s),
            IntValue::Unsigned(u) => i64::try_from(u).map_err(|_| Hdf5Error::TooLarge {
                what: "unsigned 64-bit value (exceeds i64)",
            }),
        })
        .collect()
}

/// Decodes integer elements to f64 (exact up to 2^53 in magnitude).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn ints_as_f64(raw: &[u8], dtype: &Datatype) -> Result<Vec<f64>> {
    Ok(int_values(raw, dtype)?
        .into_iter()
        .map(|v| match v {
            IntValue::Signed(s) => s as f64,
            IntValue::Unsigned(u) => u as f64,
        })
        .collect())
}

/// Decodes float elements to f64.
pub(crate) fn decode_floats(raw: &[u8], dtype: &Datatype) -> Result<Vec<f64>> {
    let Datatype::Float {
        size,
        big_endian,
        format,
    } = *dtype
    else {
        return Err(corrupt("float decode of a non-float type"));
    };
    let mut out = Vec::with_capacity(raw.len().checked_div(size).unwrap_or(0));
    for e in raw.chunks_exact(size) {
        let mut b = [0u8; 8];
        for (i, &v) in e.iter().enumerate() {
            let idx = if big_endian {
                size.saturating_sub(1).saturating_sub(i)
            } else {
                i
            };
            if let Some(slot) = b.get_mut(idx) {
                *slot = v;
            }
        }
        let v = match format {
            FloatFormat::F16 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
            FloatFormat::BF16 => f64::from(f32::from_le_bytes([0, 0, b[0], b[1]])),
            FloatFormat::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            FloatFormat::F64 => f64::from_le_bytes(b),
        };
        out.push(v);
    }
    Ok(out)
}

/// IEEE binary16 to f64 (exact).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = (h >> 10) & 0x1f;
    let mant = f64::from(h & 0x03ff);
    match exp {
        0 => sign * mant * 2f64.powi(-24),
        31 => {
            if mant == 0.0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => sign * (1.0 + mant / 1024.0) * 2f64.powi(i32::from(e).wrapping_sub(15)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn ints_sign_extend() {
        let t = Datatype::Int {
            size: 2,
            signed: true,
            big_endian: true,
        };
        assert_eq!(
            decode_ints(&[0xff, 0xff, 0x01, 0x2c], &t).unwrap(),
            vec![-1, 300]
        );
        let u = Datatype::Int {
            size: 8,
            signed: false,
            big_endian: false,
        };
        assert!(decode_ints(&[0xff; 8], &u).is_err());
    }

    #[test]
    fn fixed_strings() {
        assert_eq!(fixed_string(b"ab\0\0", StrPad::NullPad), "ab");
        assert_eq!(fixed_string(b"ab  ", StrPad::SpacePad), "ab");
        assert_eq!(fixed_string(b"abcd", StrPad::NullTerm), "abcd");
    }
}
