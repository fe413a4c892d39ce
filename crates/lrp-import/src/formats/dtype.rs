//! Stored element types → `f64` / `i64`: the one decoder every format shares.
//!
//! Floats are converted exactly (every f16, bf16 and f32 value is an f64 value); integers to
//! `i64`, with unsigned values above `i64::MAX` refused rather than wrapped.

use half::{bf16, f16};

/// A stored element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE binary32.
    F32,
    /// IEEE binary64.
    F64,
    /// Signed integers of 1, 2, 4 or 8 bytes.
    Int(u8),
    /// Unsigned integers of 1, 2, 4 or 8 bytes.
    Unsigned(u8),
    /// One byte, 0 or 1.
    Bool,
}

/// Byte order of the stored elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

impl ElementType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ElementType::F16 | ElementType::BF16 => 2,
            ElementType::F32 => 4,
            ElementType::F64 => 8,
            ElementType::Int(n) | ElementType::Unsigned(n) => usize::from(n),
            ElementType::Bool => 1,
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            ElementType::F16 | ElementType::BF16 | ElementType::F32 | ElementType::F64
        )
    }
}

/// One element's bytes as a little-endian 8-byte word (sign-extended for signed integers).
fn word(chunk: &[u8], endian: Endian, signed: bool) -> [u8; 8] {
    let mut w = [0u8; 8];
    match endian {
        Endian::Little => w[..chunk.len()].copy_from_slice(chunk),
        Endian::Big => chunk.iter().rev().enumerate().for_each(|(i, b)| w[i] = *b),
    }
    if signed && chunk.len() < 8 && w[chunk.len() - 1] & 0x80 != 0 {
        w[chunk.len()..].fill(0xff);
    }
    w
}

/// Decodes `bytes` (a whole number of elements) as `f64` values; integers convert exactly up
/// to 2^53.
pub fn to_f64(bytes: &[u8], ty: ElementType, endian: Endian) -> Vec<f64> {
    let size = ty.size();
    bytes
        .chunks_exact(size)
        .map(|c| {
            let signed = matches!(ty, ElementType::Int(_));
            let w = word(c, endian, signed);
            match ty {
                ElementType::F64 => f64::from_le_bytes(w),
                ElementType::F32 => f64::from(f32::from_le_bytes([w[0], w[1], w[2], w[3]])),
                ElementType::F16 => f64::from(f16::from_le_bytes([w[0], w[1]])),
                ElementType::BF16 => f64::from(bf16::from_le_bytes([w[0], w[1]])),
                ElementType::Int(_) => i64::from_le_bytes(w) as f64,
                ElementType::Unsigned(_) | ElementType::Bool => u64::from_le_bytes(w) as f64,
            }
        })
        .collect()
}

/// Decodes `bytes` as `i64` values; floats are not integers (`Err(None)`), and an unsigned
/// value above `i64::MAX` is `Err(Some(value))`.
pub fn to_i64(bytes: &[u8], ty: ElementType, endian: Endian) -> Result<Vec<i64>, Option<u64>> {
    if ty.is_float() {
        return Err(None);
    }
    let signed = matches!(ty, ElementType::Int(_));
    bytes
        .chunks_exact(ty.size())
        .map(|c| {
            let w = word(c, endian, signed);
            if signed {
                Ok(i64::from_le_bytes(w))
            } else {
                let v = u64::from_le_bytes(w);
                i64::try_from(v).map_err(|_| Some(v))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_decode_exactly_in_both_byte_orders() {
        assert_eq!(
            to_f64(&0x3c00u16.to_le_bytes(), ElementType::F16, Endian::Little),
            [1.0]
        );
        assert_eq!(
            to_f64(&0xc000u16.to_be_bytes(), ElementType::F16, Endian::Big),
            [-2.0]
        );
        assert_eq!(
            to_f64(&0x0001u16.to_le_bytes(), ElementType::F16, Endian::Little),
            [2f64.powi(-24)]
        );
        assert!(to_f64(&0x7e00u16.to_le_bytes(), ElementType::F16, Endian::Little)[0].is_nan());
        assert_eq!(
            to_f64(&0x3f80u16.to_le_bytes(), ElementType::BF16, Endian::Little),
            [1.0]
        );
        let v = 0.1f32;
        assert_eq!(
            to_f64(&v.to_be_bytes(), ElementType::F32, Endian::Big),
            [f64::from(v)]
        );
        assert_eq!(
            to_f64(&(-3i16).to_le_bytes(), ElementType::Int(2), Endian::Little),
            [-3.0]
        );
    }

    #[test]
    fn integers_sign_extend_and_refuse_overflow() {
        assert_eq!(
            to_i64(&[0xfe], ElementType::Int(1), Endian::Little),
            Ok(vec![-2])
        );
        assert_eq!(
            to_i64(&[0xfe], ElementType::Unsigned(1), Endian::Little),
            Ok(vec![254])
        );
        assert_eq!(
            to_i64(&(-5i32).to_be_bytes(), ElementType::Int(4), Endian::Big),
            Ok(vec![-5])
        );
        assert_eq!(
            to_i64(
                &u64::MAX.to_le_bytes(),
                ElementType::Unsigned(8),
                Endian::Little
            ),
            Err(Some(u64::MAX))
        );
        assert_eq!(to_i64(&[0; 4], ElementType::F32, Endian::Little), Err(None));
    }
}
