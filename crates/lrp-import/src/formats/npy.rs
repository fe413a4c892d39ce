//! NumPy `.npy` arrays (format versions 1, 2 and 3): reading any numeric dtype into `f64` or
//! `i64` host arrays, whole or by rows, and writing `f64`/`i64` arrays.
//!
//! Written by hand on purpose: the maintained npy crates (`npyz`, `ndarray-npy`) allocate from
//! the header's untrusted length and shape fields (a 160-byte file asked for 512 GiB). Here the
//! byte size the shape implies is computed with overflow checks and compared with the bytes
//! present before anything is allocated, and [`RowReader`] streams rows of arrays larger than
//! memory.

use thiserror::Error;

use crate::HostArray;
use crate::formats::dtype::{self, ElementType, Endian};

/// What can be wrong with a `.npy` file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The header is malformed (magic, version, dict literal, shape entries).
    #[error("invalid .npy file: {0}")]
    Header(String),
    /// The dtype is not a number type we read (complex, strings, objects, …).
    #[error("invalid .npy file: unsupported dtype '{0}' (expected a float, integer or bool type)")]
    Dtype(String),
    /// The shape's element count overflows.
    #[error("invalid .npy file: shape {0:?} overflows")]
    Overflow(Vec<usize>),
    /// The data is shorter than the shape says.
    #[error(
        "invalid .npy file: shape {shape:?} needs {need} bytes of data but the file has {have}"
    )]
    Truncated {
        /// The declared shape.
        shape: Vec<usize>,
        /// Bytes the shape needs.
        need: u64,
        /// Bytes present after the header.
        have: u64,
    },
    /// Integers were asked for, the array holds floats.
    #[error("expected an integer array, found floats")]
    NotIntegers,
    /// An unsigned value does not fit in `i64`.
    #[error("the .npy array holds {0}, which does not fit in a 64-bit signed integer")]
    TooLarge(u64),
    /// A Fortran-ordered array cannot be read by rows.
    #[error("Fortran-ordered arrays cannot be read by rows (save with np.ascontiguousarray)")]
    FortranOrder,
    /// Rows outside the array were asked for.
    #[error("rows {start}..{end} of an array with {rows}")]
    Rows {
        /// First row asked for.
        start: usize,
        /// One past the last row asked for.
        end: usize,
        /// Rows in the array.
        rows: usize,
    },
    /// Reading the file failed.
    #[error("reading the .npy array: {0}")]
    Io(#[from] std::io::Error),
}

type Result<T, E = NpyError> = core::result::Result<T, E>;

const MAGIC: &[u8] = b"\x93NUMPY";

#[derive(Debug, Clone, PartialEq)]
struct Header {
    ty: ElementType,
    endian: Endian,
    fortran_order: bool,
    shape: Vec<usize>,
}

fn format_error(msg: impl Into<String>) -> NpyError {
    NpyError::Header(msg.into())
}

/// Whether the bytes start like a `.npy` file.
pub fn is_npy(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn parse_header(bytes: &[u8]) -> Result<(Header, &[u8])> {
    if !is_npy(bytes) {
        return Err(format_error("missing the \\x93NUMPY magic"));
    }
    let major = *bytes
        .get(6)
        .ok_or_else(|| format_error("truncated header"))?;
    let (len, start): (usize, usize) = match major {
        1 => {
            let b = bytes
                .get(8..10)
                .ok_or_else(|| format_error("truncated header"))?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10)
        }
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| format_error("truncated header"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(format_error(format!("unsupported format version {v}"))),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| format_error("truncated header"))?;
    let text =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| format_error("header is not text"))?;
    let descr = dict_value(text, "descr").ok_or_else(|| format_error("header has no 'descr'"))?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let fortran = dict_value(text, "fortran_order")
        .ok_or_else(|| format_error("header has no 'fortran_order'"))?;
    let shape_text =
        dict_value(text, "shape").ok_or_else(|| format_error("header has no 'shape'"))?;
    let (ty, endian) = parse_descr(descr)?;
    let shape = parse_shape(shape_text)?;
    Ok((
        Header {
            ty,
            endian,
            fortran_order: fortran.trim() == "True",
            shape,
        },
        &bytes[end..],
    ))
}

/// The raw text of a key's value in the header's Python dict literal.
fn dict_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let pos = text
        .find(&format!("'{key}'"))
        .or_else(|| text.find(&format!("\"{key}\"")))?;
    let rest = &text[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    if let Some(inner) = rest.strip_prefix('(') {
        return Some(&inner[..inner.find(')')?]);
    }
    let end = rest
        .find(',')
        .or_else(|| rest.find('}'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn parse_descr(descr: &str) -> Result<(ElementType, Endian)> {
    let unsupported = || NpyError::Dtype(descr.to_string());
    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let (endian, rest) = match order {
        '<' | '|' | '=' => (Endian::Little, chars.as_str()),
        '>' => (Endian::Big, chars.as_str()),
        _ => (Endian::Little, descr),
    };
    let mut rest_chars = rest.chars();
    let code = rest_chars.next().ok_or_else(unsupported)?;
    let size: u8 = rest_chars.as_str().parse().map_err(|_| unsupported())?;
    let ty = match (code, size) {
        ('f', 2) => ElementType::F16,
        ('f', 4) => ElementType::F32,
        ('f', 8) => ElementType::F64,
        ('i', 1 | 2 | 4 | 8) => ElementType::Int(size),
        ('u', 1 | 2 | 4 | 8) => ElementType::Unsigned(size),
        ('b', 1) => ElementType::Bool,
        _ => return Err(unsupported()),
    };
    Ok((ty, endian))
}

fn parse_shape(text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format_error(format!("bad shape entry '{s}'")))
        })
        .collect()
}

/// The element bytes after the header, checked against the shape without allocating.
fn element_bytes<'a>(header: &Header, data: &'a [u8]) -> Result<&'a [u8]> {
    let need = header
        .shape
        .iter()
        .try_fold(header.ty.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| NpyError::Overflow(header.shape.clone()))?;
    if data.len() < need {
        return Err(NpyError::Truncated {
            shape: header.shape.clone(),
            need: need as u64,
            have: data.len() as u64,
        });
    }
    Ok(&data[..need])
}

fn decode(header: &Header, bytes: &[u8]) -> Vec<f64> {
    dtype::to_f64(bytes, header.ty, header.endian)
}

fn decode_int(header: &Header, bytes: &[u8]) -> Result<Vec<i64>> {
    dtype::to_i64(bytes, header.ty, header.endian).map_err(|e| match e {
        Some(big) => NpyError::TooLarge(big),
        None => NpyError::NotIntegers,
    })
}

/// Reorders a column-major (Fortran) array into row-major order.
fn to_row_major<T: Copy>(data: Vec<T>, shape: &[usize]) -> Vec<T> {
    let n = data.len();
    let rank = shape.len();
    if rank < 2 {
        return data;
    }
    let mut out = Vec::with_capacity(n);
    let mut index = vec![0usize; rank];
    for _ in 0..n {
        // Fortran offset of the row-major multi-index.
        let mut offset = 0;
        let mut stride = 1;
        for (i, &d) in index.iter().zip(shape) {
            offset += i * stride;
            stride *= d;
        }
        out.push(data[offset]);
        for k in (0..rank).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

/// Reads a numeric `.npy` array as `f64` (integers converted exactly up to 2^53).
pub fn read_f64(bytes: &[u8]) -> Result<HostArray<f64>> {
    let (header, rest) = parse_header(bytes)?;
    let data = decode(&header, element_bytes(&header, rest)?);
    let data = if header.fortran_order {
        to_row_major(data, &header.shape)
    } else {
        data
    };
    Ok(HostArray {
        shape: header.shape,
        data,
    })
}

/// Reads an integer (or boolean) `.npy` array as `i64`; float arrays are refused.
pub fn read_i64(bytes: &[u8]) -> Result<HostArray<i64>> {
    let (header, rest) = parse_header(bytes)?;
    let data = decode_int(&header, element_bytes(&header, rest)?)?;
    let data = if header.fortran_order {
        to_row_major(data, &header.shape)
    } else {
        data
    };
    Ok(HostArray {
        shape: header.shape,
        data,
    })
}

/// The largest `.npy` header [`RowReader`] accepts (format 2/3 headers can declare up to 4 GiB;
/// NumPy writes a few hundred bytes).
const MAX_HEADER: usize = 1 << 20;

/// Reads a C-ordered `.npy` file a range of rows (first-axis entries) at a time, so that an
/// array larger than memory can be processed in batches. The header is checked against the
/// file's length when it is opened: a shape that needs more bytes than the file holds is an
/// error before anything is read.
///
/// ```
/// use lrp_import::formats::npy::{RowReader, write_f64};
///
/// let bytes = write_f64(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let mut rows = RowReader::new(std::io::Cursor::new(bytes))?;
/// assert_eq!((rows.shape(), rows.holds_floats()), (&[3, 2][..], true));
/// let middle = rows.read_f64(1..3)?;
/// assert_eq!((middle.shape, middle.data), (vec![2, 2], vec![3.0, 4.0, 5.0, 6.0]));
/// # Ok::<(), lrp_import::formats::npy::NpyError>(())
/// ```
#[derive(Debug)]
pub struct RowReader<R> {
    reader: R,
    header: Header,
    /// Byte offset of the first element.
    data_start: u64,
    /// Bytes of one row: the product of the trailing dimensions times the element size.
    row_bytes: usize,
}

impl<R: std::io::Read + std::io::Seek> RowReader<R> {
    /// Parses the header. Fortran-ordered arrays (whose rows are not contiguous), arrays of
    /// rank 0 and data shorter than the shape are refused.
    ///
    /// # Errors
    /// [`NpyError`] naming the problem.
    pub fn new(mut reader: R) -> Result<Self> {
        use std::io::SeekFrom;
        let file_len = reader.seek(SeekFrom::End(0))?;
        reader.seek(SeekFrom::Start(0))?;
        let mut start = [0u8; 12];
        let got = read_up_to(&mut reader, &mut start)?;
        let start = &start[..got];
        if !is_npy(start) || start.len() < 10 {
            return Err(format_error("missing the \\x93NUMPY magic"));
        }
        let header_len = match start[6] {
            1 => usize::from(u16::from_le_bytes([start[8], start[9]])) + 10,
            2 | 3 if start.len() == 12 => {
                u32::from_le_bytes([start[8], start[9], start[10], start[11]]) as usize + 12
            }
            2 | 3 => return Err(format_error("truncated header")),
            v => return Err(format_error(format!("unsupported format version {v}"))),
        };
        if header_len > MAX_HEADER {
            return Err(format_error(format!(
                "a header of {header_len} bytes (more than {MAX_HEADER})"
            )));
        }
        let mut bytes = vec![0u8; header_len];
        reader.seek(SeekFrom::Start(0))?;
        let got = read_up_to(&mut reader, &mut bytes)?;
        let (header, _) = parse_header(&bytes[..got])?;
        if header.fortran_order && header.shape.len() > 1 {
            return Err(NpyError::FortranOrder);
        }
        let Some((&rows, rest)) = header.shape.split_first() else {
            return Err(format_error("a scalar (rank 0) has no rows"));
        };
        let overflow = || NpyError::Overflow(header.shape.clone());
        let row_bytes = rest
            .iter()
            .try_fold(header.ty.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(overflow)?;
        let need = row_bytes.checked_mul(rows).ok_or_else(overflow)?;
        let have = file_len.saturating_sub(header_len as u64);
        if (need as u64) > have {
            return Err(NpyError::Truncated {
                shape: header.shape.clone(),
                need: need as u64,
                have,
            });
        }
        Ok(RowReader {
            reader,
            header,
            data_start: header_len as u64,
            row_bytes,
        })
    }

    /// The array's shape; rows are its first axis.
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }

    /// Whether the array holds floats (as opposed to integers or booleans).
    pub fn holds_floats(&self) -> bool {
        self.header.ty.is_float()
    }

    fn read_rows(&mut self, rows: &std::ops::Range<usize>) -> Result<(Vec<usize>, Vec<u8>)> {
        use std::io::SeekFrom;
        let total = self.header.shape[0];
        if rows.start > rows.end || rows.end > total {
            return Err(NpyError::Rows {
                start: rows.start,
                end: rows.end,
                rows: total,
            });
        }
        // Cannot overflow: the whole array's byte size was checked in `new`.
        let offset = self.data_start + (rows.start * self.row_bytes) as u64;
        let mut bytes = vec![0u8; rows.len() * self.row_bytes];
        self.reader.seek(SeekFrom::Start(offset))?;
        self.reader.read_exact(&mut bytes)?;
        let mut shape = self.header.shape.clone();
        shape[0] = rows.len();
        Ok((shape, bytes))
    }

    /// Rows `rows` as `f64` (integers converted exactly up to 2^53), shape `(rows.len(), …)`.
    ///
    /// # Errors
    /// A range past the last row, or a read failure.
    pub fn read_f64(&mut self, rows: std::ops::Range<usize>) -> Result<HostArray<f64>> {
        let (shape, bytes) = self.read_rows(&rows)?;
        Ok(HostArray {
            shape,
            data: decode(&self.header, &bytes),
        })
    }

    /// Rows `rows` of an integer (or boolean) array as `i64`; float arrays are refused.
    ///
    /// # Errors
    /// A float array, a range past the last row, or a read failure.
    pub fn read_i64(&mut self, rows: std::ops::Range<usize>) -> Result<HostArray<i64>> {
        if self.holds_floats() {
            return Err(NpyError::NotIntegers);
        }
        let (shape, bytes) = self.read_rows(&rows)?;
        Ok(HostArray {
            shape,
            data: decode_int(&self.header, &bytes)?,
        })
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_up_to(reader: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Whether the `.npy` header at the start of `bytes` declares Fortran (column-major) order;
/// `None` when `bytes` do not hold a whole, valid header.
pub fn fortran_order(bytes: &[u8]) -> Option<bool> {
    parse_header(bytes)
        .ok()
        .map(|(h, _)| h.fortran_order && h.shape.len() > 1)
}

/// Whether a `.npy` file holds floats (as opposed to integers or booleans).
pub fn holds_floats(bytes: &[u8]) -> Result<bool> {
    Ok(parse_header(bytes)?.0.ty.is_float())
}

/// The `.npy` (version 1.0) header of a C-ordered array of `descr` (`<f8`, `<i8`, …) and
/// `shape`: everything before the data, which follows row-major. Streaming writers write this,
/// then the values.
pub fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so that the data starts at a multiple of 64 bytes, ending the header with a newline.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

fn write(descr: &str, shape: &[usize], payload: Vec<u8>) -> Vec<u8> {
    let mut out = header(descr, shape);
    out.extend_from_slice(&payload);
    out
}

/// Serialises a row-major `f64` array as `.npy` (`<f8`).
pub fn write_f64(shape: &[usize], data: &[f64]) -> Vec<u8> {
    write(
        "<f8",
        shape,
        data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// Serialises a row-major `i64` array as `.npy` (`<i8`).
pub fn write_i64(shape: &[usize], data: &[i64]) -> Vec<u8> {
    write(
        "<i8",
        shape,
        data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_in_ranges_equal_the_whole_array() {
        use std::io::Cursor;
        let data: Vec<i64> = (0..24).collect();
        let bytes = write_i64(&[4, 3, 2], &data);
        let whole = read_i64(&bytes).unwrap();
        let mut rows = RowReader::new(Cursor::new(bytes.clone())).unwrap();
        assert!(!rows.holds_floats());
        let mut joined = Vec::new();
        for range in [0..1, 1..3, 3..4, 4..4] {
            let part = rows.read_i64(range.clone()).unwrap();
            assert_eq!(part.shape, vec![range.len(), 3, 2]);
            joined.extend(part.data);
        }
        assert_eq!(joined, whole.data);
        // Rows read as floats too; past the end is an error, not a short read.
        assert_eq!(
            rows.read_f64(2..3).unwrap().data,
            [12.0, 13.0, 14.0, 15.0, 16.0, 17.0]
        );
        assert!(
            rows.read_i64(3..5)
                .unwrap_err()
                .to_string()
                .contains("rows 3..5")
        );
        // Truncated data is found when opening, before any read.
        let cut = bytes[..bytes.len() - 1].to_vec();
        let err = RowReader::new(Cursor::new(cut)).unwrap_err().to_string();
        assert!(err.contains("needs 192 bytes"), "{err}");
        // Absurd shapes: overflow or more bytes than present, nothing allocated.
        let huge = write("<f8", &[usize::MAX / 2, 4], vec![0; 8]);
        assert!(RowReader::new(Cursor::new(huge)).is_err());
        let f = write_f64(&[2], &[1.0, 2.0]);
        let mut floats = RowReader::new(Cursor::new(f)).unwrap();
        assert!(
            floats
                .read_i64(0..1)
                .unwrap_err()
                .to_string()
                .contains("floats")
        );
        assert!(RowReader::new(Cursor::new(b"\x93NUMPY".to_vec())).is_err());
        assert!(RowReader::new(Cursor::new(Vec::new())).is_err());
    }

    #[test]
    fn fortran_arrays_are_not_read_by_rows() {
        let mut bytes = write_f64(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let at = bytes.windows(5).position(|w| w == b"False").unwrap();
        bytes[at..at + 5].copy_from_slice(b"True ");
        let err = RowReader::new(std::io::Cursor::new(bytes))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Fortran"), "{err}");
    }

    #[test]
    fn round_trip() {
        let bytes = write_f64(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        assert_eq!(
            (MAGIC.len() + 4 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        let a = read_f64(&bytes).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        let i = read_i64(&write_i64(&[3], &[1, -2, 3])).unwrap();
        assert_eq!(i.data, vec![1, -2, 3]);
        assert!(read_i64(&bytes).is_err());
    }

    #[test]
    fn fortran_order_and_other_dtypes() {
        // A 2x3 int32 array stored column-major: [[1,2,3],[4,5,6]] → 1,4,2,5,3,6.
        let payload: Vec<u8> = [1i32, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut bytes = write("<i4", &[2, 3], payload);
        let at = bytes.windows(5).position(|w| w == b"False").unwrap();
        bytes[at..at + 5].copy_from_slice(b"True ");
        let a = read_f64(&bytes).unwrap();
        assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let big: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let a = read_f64(&write(">f4", &[2], big)).unwrap();
        assert_eq!(a.data, vec![1.5, -2.0]);
    }

    #[test]
    fn malformed_files_are_refused() {
        let good = write_f64(&[2], &[1.0, 2.0]);
        assert!(read_f64(&good[..good.len() - 1]).is_err(), "truncated data");
        assert!(read_f64(&good[..9]).is_err(), "truncated header");
        assert!(read_f64(b"not npy at all").is_err());
        // Absurd dimensions: must fail on the size check, not try to allocate.
        let absurd = write("<f8", &[usize::MAX / 2, 4], vec![]);
        let err = read_f64(&absurd).unwrap_err().to_string();
        assert!(err.contains("overflows"), "{err}");
        let huge = write("<f8", &[1 << 40], vec![]);
        assert!(read_f64(&huge).unwrap_err().to_string().contains("needs"));
        assert!(
            read_f64(&write("<c16", &[1], vec![0; 16])).is_err(),
            "complex"
        );
    }
}
