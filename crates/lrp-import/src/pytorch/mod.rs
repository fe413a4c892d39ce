//! A small, safe, pure-Rust reader for PyTorch `torch.save` files holding
//! state dicts, in the zip format (PyTorch >= 1.6) and the legacy format.
//!
//! The pickle inside is read by a restricted unpickler that never executes
//! code: only the opcodes `torch.save` emits for state dicts and a whitelist
//! of globals (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
//! `torch._utils._rebuild_parameter`, `torch.<Type>Storage`, `torch.<dtype>`)
//! are understood; any other global, such as the class of a pickled
//! `nn.Module`, is refused with [`PtError::ForbiddenGlobal`].
//!
//! ```no_run
//! let bytes = std::fs::read("model.pt").unwrap();
//! let sd = lrp_import::pytorch::read_state_dict(&bytes).unwrap();
//! for (name, t) in &sd.tensors {
//!     println!("{name}: {:?} {}", t.shape, t.dtype);
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dtype;
mod error;
mod legacy;
mod load;
mod pickle;
mod state_dict;

pub use dtype::DType;
pub use error::PtError;
pub use load::{is_torch_file, read_state_dict};
pub use state_dict::{StateDict, Tensor};
