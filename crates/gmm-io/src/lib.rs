//! # gmm-io
//!
//! Datasets and models on disk for the gmm engine:
//!
//! - [`Dataset`]: a NumPy `.npy` file, memory-mapped and read in place
//!   (little-endian `float64`/`float32`, C order, 1-D or 2-D), or converted
//!   (big-endian, Fortran order, unaligned, float16, integers, bool);
//! - [`ColumnarFile`]: an Arrow IPC (Feather v2) file, memory-mapped with its
//!   float64/float32 columns read in place, or a Parquet file decoded into a
//!   temporary mapped file; columns chosen by name, nulls refused;
//! - [`DataSource`]: a `.npy`, Arrow or Parquet file, or a directory of shards
//!   of one of them, read as one dataset;
//! - [`write_columnar`]: streamed Parquet and Arrow output;
//! - [`write_npy`]: atomic `.npy` output (a temporary file renamed into place);
//! - [`csv_to_npy`]: numeric CSV to `.npy`, streamed, with errors naming line and column;
//! - [`save_model`] / [`load_model`]: the model JSON schema, validated on load.
//!
//! All `unsafe` code of the workspace is the file mapping in one private module.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod columnar;
mod convert;
mod csv_import;
mod error;
#[allow(unsafe_code)]
mod mmap;
mod model_file;
mod npy;
mod output;
mod source;

pub use columnar::{
    ColumnInfo, ColumnarFile, ColumnarParts, ColumnarWriter, Format, write_columnar, write_streamed,
};
pub use convert::{check_data_output, convert_source, csv_convert, is_csv};
pub use csv_import::{CsvOptions, CsvSummary, csv_to_npy};
pub use error::{Error, ErrorKind, Result};
pub use mmap::remove_temporary_files;
pub use model_file::{
    MODEL_FORMAT, MODEL_VERSION, load_model, model_to_json, parse_model, save_model, save_model_to,
    stage_model,
};
pub use npy::{
    Dataset, DatasetInfo, DatasetView, Dtype, NpyElement, NpyHeader, header_bytes, npy_bytes,
    parse_header, write_npy, write_npy_streamed, write_view,
};
pub use output::{
    Output, OutputWriter, STDOUT, Staged, check_outputs, check_space, commit, write_atomically,
};
pub use source::{DataFile, DataSource, SourceRows};
