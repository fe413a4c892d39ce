//! Reads the bytes as a `torch.save` checkpoint (zip format or legacy pickle stream) with
//! `formats::torch::read_state_dict`: our pickle walker (refusing any global a state dict does
//! not use), then burn's `pytorch-reader`, then every tensor's bytes. Any input must give a
//! state dict or a `TorchError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "tmpfile.rs"]
mod tmpfile;

fuzz_target!(|data: &[u8]| {
    let path = tmpfile::write("input.pt", data);
    let _ = lrp_import::formats::torch::read_state_dict(&path);
});
