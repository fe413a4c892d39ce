//! A small, read-only HDF5 reader (std only, no dependencies) for Keras
//! model files (`.h5`/`.hdf5` legacy saves, `.weights.h5`, and the
//! `model.weights.h5` inside a `.keras` zip).
//!
//! ```no_run
//! # fn main() -> Result<(), lrp_import::hdf5::Hdf5Error> {
//! let file = lrp_import::hdf5::File::from_bytes(std::fs::read("model.h5").unwrap())?;
//! let names = file.group("/model_weights")?.attribute("layer_names")?;
//! let kernel = file.dataset("/model_weights/dense/dense/kernel")?;
//! let values: Vec<f64> = kernel.read_f64()?; // row-major, shape kernel.shape()
//! # let _ = (names, values); Ok(()) }
//! ```
//!
//! # Supported
//! - Superblock versions 0-3, found at offset 0, 512, 1024, ... (user
//!   block); 2-, 4- and 8-byte offsets/lengths.
//! - Object headers v1 and v2 (`OHDR`/`OCHK`) with continuation chunks.
//! - Groups: old-style symbol tables (v1 B-tree, `SNOD`, local heap),
//!   compact link messages, dense links (fractal heap + v2 B-tree); hard
//!   and soft links (soft links are followed, at most 16 per path).
//! - Attributes: messages v1-v3, compact and dense storage; values that are
//!   integers, IEEE floats (16/32/64 bit, bfloat16), fixed-length strings
//!   (null-terminated/null-padded/space-padded) and variable-length strings
//!   (global heap), scalar, array, empty or null dataspaces.
//! - Datasets: dataspace v1/v2, compact and contiguous layouts, chunked
//!   layouts without filters indexed by a v1 B-tree (layout v1-v3) or by a
//!   single chunk, implicit or (unpaged) fixed array index (layout v4/v5);
//!   fill value for never-written data; committed (shared) datatypes.
//! - Metadata checksums (Jenkins lookup3) are verified.
//!
//! # Not supported (an [`Hdf5Error::Unsupported`] names the feature)
//! Filters (deflate, shuffle, ... - the filter is named), extensible-array
//! and v2-B-tree chunk indexes, paged fixed arrays, virtual datasets,
//! external links, huge objects or I/O filters in fractal heaps, the shared
//! object header message table, compound/array/reference/opaque values.
//!
//! # Robustness
//! Every read is bounds-checked, all sizes from the file use checked
//! arithmetic, traversals refuse revisited nodes and are bounded by the file
//! size, and nothing is allocated from a declared size before the bytes
//! backing it are known to exist (dataset reads larger than the file fail
//! with [`Hdf5Error::TooLarge`]). Malformed input yields an error, never a
//! panic; the lints below enforce this outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]
#![warn(missing_docs)]

mod attribute;
mod btree;
mod checksum;
mod dataset;
mod dataspace;
mod datatype;
mod error;
mod file;
mod group;
mod heap;
mod layout;
mod object_header;
mod reader;
mod superblock;

#[cfg(test)]
mod tests;

pub use attribute::AttrValue;
pub use dataset::Dataset;
pub use datatype::ScalarType;
pub use error::{Hdf5Error, Result};
pub use file::File;
pub use group::{Group, MemberKind};
