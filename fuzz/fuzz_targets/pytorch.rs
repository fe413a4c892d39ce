//! Reads the bytes as a `torch.save` state dict (zip format or legacy pickle) with the
//! restricted unpickler. Any input must give a state dict or a `PtError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lrp_import::pytorch::is_torch_file(data);
    let _ = lrp_import::pytorch::read_state_dict(data);
});
