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

/// One element's bytes as a little-endian 8-byte word (sign-extended for signed integers): the
/// general path, for integer widths other than 1, 2, 4 and 8 bytes (no format produces them).
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

/// Decodes `N`-byte elements with `convert`, which reads little-endian bytes. The type and byte
/// order are settled once per call rather than per element, so the little-endian loop compiles
/// to a straight convert-and-store (a 40 MB `f64` input decodes at memory speed: this runs
/// between batches while the worker threads wait). Trailing bytes short of an element are
/// ignored; callers pass whole elements.
fn decode_each<const N: usize, T>(
    bytes: &[u8],
    endian: Endian,
    convert: impl Fn([u8; N]) -> T,
) -> Vec<T> {
    let (elements, _) = bytes.as_chunks::<N>();
    match endian {
        Endian::Little => elements.iter().map(|e| convert(*e)).collect(),
        Endian::Big => elements
            .iter()
            .map(|e| {
                let mut e = *e;
                e.reverse();
                convert(e)
            })
            .collect(),
    }
}

/// Decodes `bytes` (a whole number of elements) as `f64` values; integers convert exactly up
/// to 2^53.
pub fn to_f64(bytes: &[u8], ty: ElementType, endian: Endian) -> Vec<f64> {
    use ElementType::{BF16, Bool, F16, F32, F64, Int, Unsigned};
    match ty {
        F64 => decode_each(bytes, endian, f64::from_le_bytes),
        F32 => decode_each(bytes, endian, |b| f64::from(f32::from_le_bytes(b))),
        F16 => decode_each(bytes, endian, |b| f64::from(f16::from_le_bytes(b))),
        BF16 => decode_each(bytes, endian, |b| f64::from(bf16::from_le_bytes(b))),
        Int(1) => decode_each(bytes, endian, |b| f64::from(i8::from_le_bytes(b))),
        Int(2) => decode_each(bytes, endian, |b| f64::from(i16::from_le_bytes(b))),
        Int(4) => decode_each(bytes, endian, |b| f64::from(i32::from_le_bytes(b))),
        Int(8) => decode_each(bytes, endian, |b| i64::from_le_bytes(b) as f64),
        Unsigned(1) | Bool => decode_each(bytes, endian, |b| f64::from(u8::from_le_bytes(b))),
        Unsigned(2) => decode_each(bytes, endian, |b| f64::from(u16::from_le_bytes(b))),
        Unsigned(4) => decode_each(bytes, endian, |b| f64::from(u32::from_le_bytes(b))),
        Unsigned(8) => decode_each(bytes, endian, |b| u64::from_le_bytes(b) as f64),
        Int(n) | Unsigned(n) => {
            let signed = matches!(ty, Int(_));
            bytes
                .chunks_exact(usize::from(n))
                .map(|c| {
                    let w = word(c, endian, signed);
                    if signed {
                        i64::from_le_bytes(w) as f64
                    } else {
                        u64::from_le_bytes(w) as f64
                    }
                })
                .collect()
        }
    }
}

/// Decodes `bytes` as `i64` values; floats are not integers (`Err(None)`), and an unsigned
/// value above `i64::MAX` is `Err(Some(value))`.
pub fn to_i64(bytes: &[u8], ty: ElementType, endian: Endian) -> Result<Vec<i64>, Option<u64>> {
    use ElementType::{Bool, Int, Unsigned};
    let unsigned = |v: u64| i64::try_from(v).map_err(|_| Some(v));
    Ok(match ty {
        _ if ty.is_float() => return Err(None),
        Int(1) => decode_each(bytes, endian, |b| i64::from(i8::from_le_bytes(b))),
        Int(2) => decode_each(bytes, endian, |b| i64::from(i16::from_le_bytes(b))),
        Int(4) => decode_each(bytes, endian, |b| i64::from(i32::from_le_bytes(b))),
        Int(8) => decode_each(bytes, endian, i64::from_le_bytes),
        Unsigned(1) | Bool => decode_each(bytes, endian, |b| i64::from(u8::from_le_bytes(b))),
        Unsigned(2) => decode_each(bytes, endian, |b| i64::from(u16::from_le_bytes(b))),
        Unsigned(4) => decode_each(bytes, endian, |b| i64::from(u32::from_le_bytes(b))),
        Unsigned(8) => decode_each(bytes, endian, |b| unsigned(u64::from_le_bytes(b)))
            .into_iter()
            .collect::<Result<_, _>>()?,
        _ => {
            let signed = matches!(ty, Int(_));
            bytes
                .chunks_exact(ty.size())
                .map(|c| {
                    let w = word(c, endian, signed);
                    if signed {
                        Ok(i64::from_le_bytes(w))
                    } else {
                        unsigned(u64::from_le_bytes(w))
                    }
                })
                .collect::<Result<_, _>>()?
        }
    })
}

/// Writes `values` as little-endian bytes, the layout every format here stores, through an
/// 8 KiB buffer on the stack (no copy of the whole array; the per-element loop compiles to a
/// plain copy on little-endian machines).
pub fn write_le<T: Copy, const N: usize>(
    out: &mut dyn std::io::Write,
    values: &[T],
    to_le_bytes: fn(T) -> [u8; N],
) -> std::io::Result<()> {
    const CHUNK_BYTES: usize = 1 << 13;
    let mut buf = [0u8; CHUNK_BYTES];
    for chunk in values.chunks(CHUNK_BYTES / N) {
        let bytes = &mut buf[..chunk.len() * N];
        for (slot, v) in bytes.as_chunks_mut::<N>().0.iter_mut().zip(chunk) {
            *slot = to_le_bytes(*v);
        }
        out.write_all(bytes)?;
    }
    Ok(())
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

    /// The per-element general path (`word`) as the oracle for the per-type loops.
    fn general_f64(bytes: &[u8], ty: ElementType, endian: Endian) -> Vec<f64> {
        bytes
            .chunks_exact(ty.size())
            .map(|c| {
                let w = word(c, endian, matches!(ty, ElementType::Int(_)));
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

    #[test]
    fn per_type_loops_match_the_general_path_bit_for_bit() {
        // 4096 pseudo-random bytes: every width sees sign bits, NaN patterns and subnormals.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[3]
            })
            .collect();
        use ElementType::*;
        let types = [
            F64,
            F32,
            F16,
            BF16,
            Int(1),
            Int(2),
            Int(4),
            Int(8),
            Int(3),
            Unsigned(1),
            Unsigned(2),
            Unsigned(4),
            Unsigned(8),
            Unsigned(3),
            Bool,
        ];
        for ty in types {
            for endian in [Endian::Little, Endian::Big] {
                let whole = &bytes[..bytes.len() / ty.size() * ty.size()];
                let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect::<Vec<_>>();
                assert_eq!(
                    bits(to_f64(whole, ty, endian)),
                    bits(general_f64(whole, ty, endian)),
                    "{ty:?} {endian:?}"
                );
                if !ty.is_float() {
                    let as_f64 = general_f64(whole, ty, endian);
                    match to_i64(whole, ty, endian) {
                        Ok(ints) => assert!(
                            ints.iter().zip(&as_f64).all(|(i, f)| *i as f64 == *f),
                            "{ty:?} {endian:?}"
                        ),
                        // Only 8-byte unsigned values can exceed i64::MAX.
                        Err(big) => {
                            assert_eq!(ty, Unsigned(8));
                            assert!(big.is_some_and(|b| b > i64::MAX as u64));
                        }
                    }
                }
            }
        }
        assert_eq!(
            to_f64(&[0xfe, 0xff, 0xff], ElementType::Int(3), Endian::Little),
            [-2.0]
        );
    }

    #[test]
    fn little_endian_writer_round_trips_across_its_chunks() {
        // More values than one 8 KiB chunk holds, so the last chunk is partial.
        let values: Vec<f64> = (0..10_000).map(|k| f64::from(k) * -0.37).collect();
        let mut bytes = Vec::new();
        write_le(&mut bytes, &values, f64::to_le_bytes).expect("a Vec takes every byte");
        assert_eq!(bytes.len(), values.len() * 8);
        assert_eq!(to_f64(&bytes, ElementType::F64, Endian::Little), values);
        let ints = [-1i64, 0, i64::MAX];
        let mut bytes = Vec::new();
        write_le(&mut bytes, &ints, i64::to_le_bytes).expect("a Vec takes every byte");
        assert_eq!(
            to_i64(&bytes, ElementType::Int(8), Endian::Little),
            Ok(ints.to_vec())
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
