//! Element types of tensor storages and their conversion to `f64`.

use std::fmt;

use crate::pytorch::error::PtError;

/// Element type of a tensor as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// `torch.float64` (`DoubleStorage`).
    F64,
    /// `torch.float32` (`FloatStorage`).
    F32,
    /// `torch.float16` (`HalfStorage`).
    F16,
    /// `torch.bfloat16` (`BFloat16Storage`).
    BF16,
    /// `torch.int64` (`LongStorage`); values beyond 2^53 lose precision in `f64`.
    I64,
    /// `torch.int32` (`IntStorage`).
    I32,
    /// `torch.int16` (`ShortStorage`).
    I16,
    /// `torch.int8` (`CharStorage`).
    I8,
    /// `torch.uint8` (`ByteStorage`, also untyped storages).
    U8,
    /// `torch.bool` (`BoolStorage`); converted to 0.0 / 1.0.
    Bool,
}

/// Decodes one element (exactly [`DType::size`] bytes) to `f64`.
pub(crate) type Decoder = fn(&[u8]) -> f64;

/// Storage class names in module `torch` that name a type this crate does not convert.
const UNSUPPORTED_STORAGES: &[&str] = &[
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "ComplexHalfStorage",
    "QInt8Storage",
    "QUInt8Storage",
    "QInt32Storage",
    "QUInt4x2Storage",
    "QUInt2x4Storage",
];

/// `torch.<name>` dtype attributes this crate does not convert.
const UNSUPPORTED_DTYPES: &[&str] = &[
    "complex32",
    "complex64",
    "complex128",
    "chalf",
    "cfloat",
    "cdouble",
    "uint16",
    "uint32",
    "uint64",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
];

impl DType {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The PyTorch name of the type (`float32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "float64",
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::I32 => "int32",
            DType::I16 => "int16",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }

    /// Maps a `torch.<Name>Storage` class name (`torch.UntypedStorage` included).
    ///
    /// `Ok(None)`: not a storage class name at all; `Err`: a storage class
    /// of a type this crate does not convert.
    pub(crate) fn from_storage_class(name: &str) -> Result<Option<DType>, PtError> {
        let dt = match name {
            "DoubleStorage" => DType::F64,
            "FloatStorage" => DType::F32,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ShortStorage" => DType::I16,
            "CharStorage" => DType::I8,
            "ByteStorage" | "UntypedStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            _ if UNSUPPORTED_STORAGES.contains(&name) => {
                return Err(PtError::UnsupportedDType {
                    what: format!("torch.{name}"),
                });
            }
            _ => return Ok(None),
        };
        Ok(Some(dt))
    }

    /// Maps a dtype attribute of module `torch` (`float32`, `float`, `long`, ...).
    ///
    /// `Ok(None)`: not a dtype name; `Err`: a dtype this crate does not convert.
    pub(crate) fn from_torch_attr(name: &str) -> Result<Option<DType>, PtError> {
        let dt = match name {
            "float64" | "double" => DType::F64,
            "float32" | "float" => DType::F32,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "int64" | "long" => DType::I64,
            "int32" | "int" => DType::I32,
            "int16" | "short" => DType::I16,
            "int8" => DType::I8,
            "uint8" => DType::U8,
            "bool" => DType::Bool,
            _ if UNSUPPORTED_DTYPES.contains(&name) => {
                return Err(PtError::UnsupportedDType {
                    what: format!("torch.{name}"),
                });
            }
            _ => return Ok(None),
        };
        Ok(Some(dt))
    }

    /// The element decoder for this type and byte order.
    pub(crate) fn decoder(self, big_endian: bool) -> Decoder {
        match (self, big_endian) {
            (DType::F64, false) => |b| arr8(b).map_or(f64::NAN, f64::from_le_bytes),
            (DType::F64, true) => |b| arr8(b).map_or(f64::NAN, f64::from_be_bytes),
            (DType::F32, false) => {
                |b| arr4(b).map_or(f64::NAN, |a| f64::from(f32::from_le_bytes(a)))
            }
            (DType::F32, true) => {
                |b| arr4(b).map_or(f64::NAN, |a| f64::from(f32::from_be_bytes(a)))
            }
            (DType::F16, false) => {
                |b| arr2(b).map_or(f64::NAN, |a| f16_to_f64(u16::from_le_bytes(a)))
            }
            (DType::F16, true) => {
                |b| arr2(b).map_or(f64::NAN, |a| f16_to_f64(u16::from_be_bytes(a)))
            }
            (DType::BF16, false) => {
                |b| arr2(b).map_or(f64::NAN, |a| bf16_to_f64(u16::from_le_bytes(a)))
            }
            (DType::BF16, true) => {
                |b| arr2(b).map_or(f64::NAN, |a| bf16_to_f64(u16::from_be_bytes(a)))
            }
            // i64 -> f64 is the documented (possibly rounding) conversion.
            (DType::I64, false) => |b| arr8(b).map_or(f64::NAN, |a| i64::from_le_bytes(a) as f64),
            (DType::I64, true) => |b| arr8(b).map_or(f64::NAN, |a| i64::from_be_bytes(a) as f64),
            (DType::I32, false) => {
                |b| arr4(b).map_or(f64::NAN, |a| f64::from(i32::from_le_bytes(a)))
            }
            (DType::I32, true) => {
                |b| arr4(b).map_or(f64::NAN, |a| f64::from(i32::from_be_bytes(a)))
            }
            (DType::I16, false) => {
                |b| arr2(b).map_or(f64::NAN, |a| f64::from(i16::from_le_bytes(a)))
            }
            (DType::I16, true) => {
                |b| arr2(b).map_or(f64::NAN, |a| f64::from(i16::from_be_bytes(a)))
            }
            (DType::I8, _) => |b| arr1(b).map_or(f64::NAN, |a| f64::from(i8::from_le_bytes(a))),
            (DType::U8, _) => |b| arr1(b).map_or(f64::NAN, |a| f64::from(a[0])),
            (DType::Bool, _) => |b| arr1(b).map_or(f64::NAN, |a| if a[0] != 0 { 1.0 } else { 0.0 }),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn arr1(b: &[u8]) -> Option<[u8; 1]> {
    b.try_into().ok()
}

fn arr2(b: &[u8]) -> Option<[u8; 2]> {
    b.try_into().ok()
}

fn arr4(b: &[u8]) -> Option<[u8; 4]> {
    b.try_into().ok()
}

fn arr8(b: &[u8]) -> Option<[u8; 8]> {
    b.try_into().ok()
}

/// IEEE 754 binary16 to `f64` (exact).
pub(crate) fn f16_to_f64(h: u16) -> f64 {
    let negative = h & 0x8000 != 0;
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    let magnitude = match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    };
    if negative { -magnitude } else { magnitude }
}

/// bfloat16 (the upper half of an `f32`) to `f64` (exact).
pub(crate) fn bf16_to_f64(h: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(h) << 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_values() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x03ff), 1023.0 * 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x3555), 0.333_251_953_125);
        assert!(f16_to_f64(0x8000).is_sign_negative());
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn bf16_values() {
        assert_eq!(bf16_to_f64(0x3f80), 1.0);
        assert_eq!(bf16_to_f64(0xc040), -3.0);
        assert_eq!(bf16_to_f64(0x7f80), f64::INFINITY);
    }

    #[test]
    fn decoders_and_byte_order() {
        assert_eq!(DType::F32.decoder(false)(&1.5f32.to_le_bytes()), 1.5);
        assert_eq!(DType::F32.decoder(true)(&1.5f32.to_be_bytes()), 1.5);
        assert_eq!(DType::I64.decoder(true)(&(-7i64).to_be_bytes()), -7.0);
        assert_eq!(DType::I16.decoder(false)(&(-300i16).to_le_bytes()), -300.0);
        assert_eq!(DType::I8.decoder(false)(&[0xff]), -1.0);
        assert_eq!(DType::U8.decoder(false)(&[0xff]), 255.0);
        assert_eq!(DType::Bool.decoder(false)(&[1]), 1.0);
        // A wrong-sized chunk never panics.
        assert!(DType::F64.decoder(false)(&[1, 2]).is_nan());
    }

    #[test]
    fn names() {
        assert_eq!(
            DType::from_storage_class("FloatStorage"),
            Ok(Some(DType::F32))
        );
        assert_eq!(
            DType::from_storage_class("UntypedStorage"),
            Ok(Some(DType::U8))
        );
        assert_eq!(DType::from_storage_class("load"), Ok(None));
        assert!(DType::from_storage_class("ComplexFloatStorage").is_err());
        assert_eq!(DType::from_torch_attr("float"), Ok(Some(DType::F32)));
        assert_eq!(DType::from_torch_attr("bfloat16"), Ok(Some(DType::BF16)));
        assert_eq!(DType::from_torch_attr("load"), Ok(None));
        assert!(DType::from_torch_attr("complex64").is_err());
    }
}
