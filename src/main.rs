//! The `lstm-lrp` command-line tool.

mod cli;

use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    {
        lstm_lrp::alloc::keep_freed_memory();
        lstm_lrp::alloc::no_transparent_huge_pages();
    }
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
