//! NumPy `.npy` files: header parsing, memory-mapped reading, atomic writing.
//!
//! Layout (format versions 1.0, 2.0, 3.0): the magic `\x93NUMPY`, a major and
//! minor version byte, the header length (`u16` little-endian in 1.0, `u32` in
//! 2.0 and 3.0), then an ASCII (3.0: UTF-8) Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }`, padded
//! with spaces and a newline; the raw array data follows.
//!
//! [`header`] parses and writes the header, [`dtype`] reads element types,
//! [`dataset`] opens a file (mapped in place or converted), [`write`] writes
//! arrays atomically.

mod dataset;
mod dtype;
mod header;
mod write;

pub use dataset::{Dataset, DatasetInfo, DatasetView};
pub(crate) use dataset::{check_seekable, check_stamp};
pub use dtype::Dtype;
pub use header::{NpyHeader, parse_header};
pub use write::{NpyElement, header_bytes, npy_bytes, write_npy, write_npy_streamed, write_view};

pub(crate) use write::header_bytes_at_least;

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";
