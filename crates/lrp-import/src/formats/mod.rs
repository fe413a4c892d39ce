//! The container formats, each behind a small module with our own typed errors and limits.
//!
//! | module | format | implementation |
//! |---|---|---|
//! | [`hdf5`] | HDF5 (Keras `.h5`, `.weights.h5`) | the `hdf5-reader` crate, reads bounded by the file size |
//! | [`zip`] | zip (`.keras`) | the `zip` crate, entry sizes capped |
//! | [`torch`] | PyTorch checkpoints (`.pt`, `.pth`) | burn's `pytorch-reader` (no pickle code is run), whole modules refused |
//! | [`npy`] | NumPy `.npy` | our own: both maintained npy crates allocate from untrusted header fields |
//! | [`safetensors`] | safetensors | the `safetensors` crate |
//!
//! [`dtype`] holds the one decoder from stored element types to `f64`/`i64` that all of them
//! share.

pub mod dtype;
pub mod hdf5;
pub mod npy;
pub mod safetensors;
pub mod torch;
pub mod zip;
