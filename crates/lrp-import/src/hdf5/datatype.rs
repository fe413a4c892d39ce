//! Datatype message: the element types this reader can decode.

use crate::hdf5::error::{Result, corrupt};
use crate::hdf5::object_header::{FLAG_SHARED, ObjectHeader, msg, shared_target};
use crate::hdf5::reader::{Ctx, Cursor};

/// Element type of a dataset, as reported by [`crate::hdf5::Dataset::dtype`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarType {
    /// IEEE float of 2 (float16 or bfloat16), 4 or 8 bytes.
    Float {
        /// Element size in bytes.
        bytes: usize,
    },
    /// Two's-complement integer (also HDF5 enums such as h5py booleans,
    /// reported with their base integer type).
    Int {
        /// Element size in bytes.
        bytes: usize,
        /// Whether the integer is signed.
        signed: bool,
    },
    /// Fixed- or variable-length string.
    String,
    /// Anything else (compound, array, reference, opaque, bitfield, time,
    /// variable-length sequences, non-IEEE floats, ...).
    Other,
}

/// Bit layout of a supported float type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatFormat {
    F16,
    BF16,
    F32,
    F64,
}

/// Padding of a fixed-length string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StrPad {
    NullTerm,
    NullPad,
    SpacePad,
}

/// A decoded datatype message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Datatype {
    Int {
        size: usize,
        signed: bool,
        big_endian: bool,
    },
    Float {
        size: usize,
        big_endian: bool,
        format: FloatFormat,
    },
    FixedString {
        size: usize,
        pad: StrPad,
    },
    /// Variable-length string: each element is a global heap reference.
    VarString {
        size: usize,
    },
    Other {
        class: u8,
        size: usize,
    },
}

/// Nesting limit for enum/variable-length base types.
const MAX_DEPTH: u32 = 8;

impl Datatype {
    /// Size of one element in bytes.
    pub(crate) fn size(&self) -> usize {
        match self {
            Datatype::Int { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::FixedString { size, .. }
            | Datatype::VarString { size }
            | Datatype::Other { size, .. } => *size,
        }
    }

    /// The public classification.
    pub(crate) fn scalar_type(&self) -> ScalarType {
        match self {
            Datatype::Int { size, signed, .. } => ScalarType::Int {
                bytes: *size,
                signed: *signed,
            },
            Datatype::Float { size, .. } => ScalarType::Float { bytes: *size },
            Datatype::FixedString { .. } | Datatype::VarString { .. } => ScalarType::String,
            Datatype::Other { .. } => ScalarType::Other,
        }
    }

    /// Human-readable class name for error messages.
    pub(crate) fn class_name(&self) -> &'static str {
        match self {
            Datatype::Int { .. } => "integer",
            Datatype::Float { .. } => "float",
            Datatype::FixedString { .. } => "fixed-length string",
            Datatype::VarString { .. } => "variable-length string",
            Datatype::Other { class, .. } => match class {
                1 => "non-IEEE float",
                0 => "integer with unusual precision/offset",
                2 => "time",
                4 => "bitfield",
                5 => "opaque",
                6 => "compound",
                7 => "reference",
                9 => "variable-length sequence",
                10 => "array",
                11 => "complex",
                _ => "unknown datatype class",
            },
        }
    }

    /// Parses a datatype message body.
    pub(crate) fn parse(data: &[u8]) -> Result<Self> {
        parse_depth(data, 0)
    }

    /// Parses a datatype message, following a shared (committed) datatype
    /// reference when the message flags say so.
    pub(crate) fn from_message(ctx: &Ctx<'_>, data: &[u8], flags: u8) -> Result<Self> {
        if flags & FLAG_SHARED == 0 {
            return Self::parse(data);
        }
        let target: ObjectHeader<'_> = shared_target(ctx, data)?;
        let m = target
            .first(msg::DATATYPE)
            .ok_or_else(|| corrupt("shared datatype target has no datatype message"))?;
        if m.flags & FLAG_SHARED != 0 {
            return Err(corrupt("shared datatype points at another shared datatype"));
        }
        Self::parse(m.data)
    }
}

fn parse_depth(data: &[u8], depth: u32) -> Result<Datatype> {
    let what = "datatype message";
    if depth > MAX_DEPTH {
        return Err(corrupt("datatype nesting too deep"));
    }
    let mut c = Cursor::new(data);
    let class_version = c.u8(what)?;
    let class = class_version & 0x0f;
    let version = class_version >> 4;
    if !(1..=5).contains(&version) {
        return Err(corrupt(format!("datatype version {version}")));
    }
    let b = c.array::<3>(what)?;
    let bits = u32::from_le_bytes([b[0], b[1], b[2], 0]);
    let size = usize::try_from(c.u32(what)?).map_err(|_| corrupt("datatype size"))?;
    if size == 0 {
        return Err(corrupt("datatype of size 0"));
    }
    let other = Datatype::Other { class, size };
    Ok(match class {
        0 => {
            let offset = c.u16(what)?;
            let precision = usize::from(c.u16(what)?);
            let full = matches!(size, 1 | 2 | 4 | 8) && Some(precision) == size.checked_mul(8);
            if offset != 0 || !full {
                other
            } else {
                Datatype::Int {
                    size,
                    signed: bits & 0x08 != 0,
                    big_endian: bits & 0x01 != 0,
                }
            }
        }
        1 => {
            let offset = c.u16(what)?;
            let precision = c.u16(what)?;
            let exp_loc = c.u8(what)?;
            let exp_size = c.u8(what)?;
            let mant_loc = c.u8(what)?;
            let mant_size = c.u8(what)?;
            let _bias = c.u32(what)?;
            // Byte order: bit 0 little/big; bit 6 with bit 0 = VAX order.
            let vax = bits & 0x40 != 0;
            let format = match (size, exp_loc, exp_size, mant_loc, mant_size) {
                (2, 10, 5, 0, 10) => Some(FloatFormat::F16),
                (2, 7, 8, 0, 7) => Some(FloatFormat::BF16),
                (4, 23, 8, 0, 23) => Some(FloatFormat::F32),
                (8, 52, 11, 0, 52) => Some(FloatFormat::F64),
                _ => None,
            };
            let full = Some(usize::from(precision)) == size.checked_mul(8);
            match format {
                Some(format) if offset == 0 && full && !vax => Datatype::Float {
                    size,
                    big_endian: bits & 0x01 != 0,
                    format,
                },
                _ => other,
            }
        }
        3 => Datatype::FixedString {
            size,
            pad: match bits & 0x0f {
                0 => StrPad::NullTerm,
                2 => StrPad::SpacePad,
                _ => StrPad::NullPad,
            },
        },
        8 => {
            // Enumeration: values are stored as the base integer type.
            match parse_depth(c.rest(), depth.saturating_add(1))? {
                Datatype::Int {
                    size: base_size,
                    signed,
                    big_endian,
                } if base_size == size => Datatype::Int {
                    size,
                    signed,
                    big_endian,
                },
                _ => other,
            }
        }
        9 => {
            if bits & 0x0f == 1 {
                Datatype::VarString { size }
            } else {
                other
            }
        }
        _ => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_types() {
        // little-endian IEEE float32
        let f32le = [
            0x11, 0x20, 0x1f, 0x00, 4, 0, 0, 0, 0, 0, 32, 0, 23, 8, 0, 23, 127, 0, 0, 0,
        ];
        assert_eq!(
            Datatype::parse(&f32le).unwrap(),
            Datatype::Float {
                size: 4,
                big_endian: false,
                format: FloatFormat::F32
            }
        );
        // signed big-endian int16
        let i16be = [0x10, 0x09, 0, 0, 2, 0, 0, 0, 0, 0, 16, 0];
        assert_eq!(
            Datatype::parse(&i16be).unwrap(),
            Datatype::Int {
                size: 2,
                signed: true,
                big_endian: true
            }
        );
        for n in 0..f32le.len() {
            assert!(Datatype::parse(&f32le[..n]).is_err());
        }
    }
}
