//! # gmm
//!
//! Facade of the gmm workspace: the numerics of [`gmm_core`] and the file
//! formats of [`gmm_io`] under one name. The `gmm` binary is built from this
//! package (`cargo run --release -- fit ...`).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use gmm_core::*;
/// Datasets and model files on disk.
pub use gmm_io as io;
