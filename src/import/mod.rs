//! Model files into the canonical model: every format of [`lrp_import`], and live burn modules
//! ([`burn_modules`], here because it is the one importer that needs burn).

pub mod burn_modules;

pub use lrp_import::*;
