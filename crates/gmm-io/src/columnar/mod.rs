//! Columnar files of the data pipelines: Arrow IPC (Feather v2) and Parquet,
//! read through the arrow-rs crates into column-major parts of a dataset.
//!
//! - [`arrow_file`]: an Arrow IPC file is memory-mapped; its record batches
//!   are decoded without copying, so uncompressed float64/float32 columns
//!   are read in place from the mapping. Compressed files and other numeric
//!   types are decoded (once) into memory.
//! - [`parquet_file`]: a Parquet file is decoded row group by row group into
//!   an unnamed temporary file in the system's temporary directory, laid out
//!   column by column, which is then memory-mapped: the heap never holds
//!   more than one batch of decoded rows.
//! - [`write`]: Parquet and Arrow output, streamed batch by batch.
//!
//! Both readers select columns the same way ([`select`]): by name with
//! `--columns`, or every numeric column in file order but a pandas index;
//! nulls are refused with the column and row named.

mod arrow_file;
mod parquet_file;
mod parquet_guard;
mod write;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use arrow_array::{Array, ArrayRef, Float32Array, Float64Array};
use arrow_schema::{DataType, Schema};
use gmm_core::Columns;

use crate::error::{Error, Result};
use crate::npy::Dtype;

pub use write::{ColumnarWriter, write_columnar, write_streamed};

/// The columnar formats gmm reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Arrow IPC file format (Feather v2): `.arrow`, `.feather`, `.ipc`;
    /// also the IPC stream format (`.arrows`), read into memory.
    Arrow,
    /// Apache Parquet: `.parquet`, `.parq`, `.pq`.
    Parquet,
}

impl Format {
    /// The format named by a path's extension, if it is a columnar one.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "arrow" | "arrows" | "feather" | "ipc" => Some(Format::Arrow),
            "parquet" | "parq" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The format's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Arrow => "Arrow IPC (Feather v2)",
            Format::Parquet => "Parquet",
        }
    }
}

/// One column of a columnar file, as `gmm info` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// Its Arrow type, as Arrow prints it (`Float64`, `Int32`, `Utf8`...).
    pub data_type: String,
    /// True if gmm reads it as data (selected with `--columns`, or numeric by
    /// default).
    pub selected: bool,
    /// True if pandas stored its index in this column (the file's `pandas`
    /// metadata says so): not read unless named in `--columns`.
    pub pandas_index: bool,
}

/// The typed columns of one record batch (Arrow) or of the whole decoded file
/// (Parquet).
#[derive(Debug)]
enum Batch {
    F64(Vec<Float64Array>),
    F32(Vec<Float32Array>),
}

/// An Arrow IPC or Parquet file opened as a dataset: the selected columns,
/// read in place where the file allows it (see [`ColumnarFile::conversion`]).
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.parquet");
/// let batch = RecordBatch::try_from_iter([
///     ("a", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) as _),
///     ("b", Arc::new(Float64Array::from(vec![4.0, 5.0, 6.0])) as _),
/// ])
/// .unwrap();
/// let mut w = parquet::arrow::ArrowWriter::try_new(
///     std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
/// w.write(&batch).unwrap();
/// w.close().unwrap();
///
/// let f = gmm_io::ColumnarFile::open(&path, None).unwrap();
/// assert_eq!((f.n_samples(), f.n_features()), (3, 2));
/// let only_b = gmm_io::ColumnarFile::open(&path, Some(&["b".to_string()])).unwrap();
/// assert_eq!(only_b.column_names(), ["b"]);
/// ```
#[derive(Debug)]
pub struct ColumnarFile {
    format: Format,
    batches: Vec<Batch>,
    n_samples: usize,
    dtype: Dtype,
    fields: Vec<ColumnInfo>,
    names: Vec<String>,
    conversion: Option<String>,
    file_bytes: u64,
    row_groups: usize,
    path: PathBuf,
    stamp: (u64, Option<SystemTime>),
}

/// The columns chosen from a schema: their indices in file order of the
/// selection, and the element type the engine reads them as.
struct Selection {
    indices: Vec<usize>,
    dtype: Dtype,
    /// Why values are converted, if any column is not of the read type.
    converted: Option<String>,
}

/// The type of a column's values: a dictionary-encoded column
/// (`dictionary<int32, float64>`, as pandas categoricals and some writers
/// store repeated values) holds values of its value type.
fn value_type(t: &DataType) -> &DataType {
    match t {
        DataType::Dictionary(_, values) => value_type(values),
        other => other,
    }
}

fn is_numeric(t: &DataType) -> bool {
    value_type(t).is_numeric()
}

/// The columns in which pandas stored a DataFrame's index (`df.to_parquet()`
/// after filtering or shuffling rows writes `__index_level_0__`): row labels,
/// not features.
fn pandas_index_columns(schema: &Schema) -> Vec<String> {
    schema
        .metadata()
        .get("pandas")
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|v| {
            let cols = v.get("index_columns")?.as_array()?;
            Some(
                cols.iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// Chooses the columns of `schema`: the ones named in `wanted`, in that
/// order, or every numeric column in file order but those pandas stored its
/// index in.
fn select(schema: &Schema, wanted: Option<&[String]>, path: &Path) -> Result<Selection> {
    let fields = schema.fields();
    let indices: Vec<usize> = match wanted {
        Some(names) => {
            if names.is_empty() {
                return Err(Error::columns("--columns names no column", path));
            }
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                if fields.iter().filter(|f| f.name() == name).count() > 1 {
                    return Err(Error::columns(
                        format!(
                            "the file has several columns named '{name}', so naming it is \
                             ambiguous: rename the columns so that each name is unique"
                        ),
                        path,
                    ));
                }
                let Some(i) = fields.iter().position(|f| f.name() == name) else {
                    let have: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                    return Err(Error::columns(
                        format!(
                            "there is no column '{name}': the file has {}",
                            quote_list(&have)
                        ),
                        path,
                    ));
                };
                if out.contains(&i) {
                    return Err(Error::columns(
                        format!("column '{name}' is named twice in --columns"),
                        path,
                    ));
                }
                let t = fields[i].data_type();
                if !is_numeric(t) {
                    return Err(Error::columns(
                        format!(
                            "column '{name}' holds {t}, not numbers: name only numeric columns in --columns"
                        ),
                        path,
                    ));
                }
                out.push(i);
            }
            out
        }
        None => {
            let index = pandas_index_columns(schema);
            (0..fields.len())
                .filter(|&i| is_numeric(fields[i].data_type()) && !index.contains(fields[i].name()))
                .collect()
        }
    };
    if indices.is_empty() {
        let have: Vec<String> = fields
            .iter()
            .map(|f| format!("'{}' ({})", f.name(), f.data_type()))
            .collect();
        return Err(Error::columns(
            format!(
                "the file has no numeric column (it has {}): store the features as numbers",
                if have.is_empty() {
                    "no columns".to_string()
                } else {
                    have.join(", ")
                }
            ),
            path,
        ));
    }
    let types: Vec<&DataType> = indices.iter().map(|&i| fields[i].data_type()).collect();
    let dtype = if types.iter().all(|t| *value_type(t) == DataType::Float32) {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let mut other: Vec<String> = Vec::new();
    for t in &types {
        let read_as = match dtype {
            Dtype::F32 => DataType::Float32,
            Dtype::F64 => DataType::Float64,
        };
        if **t != read_as {
            let s = t.to_string();
            if !other.contains(&s) {
                other.push(s);
            }
        }
    }
    let converted =
        (!other.is_empty()).then(|| format!("{} converted to float64", other.join(", ")));
    Ok(Selection {
        indices,
        dtype,
        converted,
    })
}

fn quote_list(names: &[&str]) -> String {
    if names.is_empty() {
        return "no columns".to_string();
    }
    let shown: Vec<String> = names.iter().take(20).map(|n| format!("'{n}'")).collect();
    let more = names.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The column `array` of the file's column `name`, starting at row `first`,
/// as the read type: converted if it is not, refused if it holds nulls.
fn typed_column(
    array: &ArrayRef,
    name: &str,
    first: usize,
    dtype: Dtype,
    path: &Path,
) -> Result<ArrayRef> {
    if array.null_count() > 0 {
        let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
        return Err(Error::columns(
            format!(
                "column '{name}' has a null at row {}: fill or drop the missing values first",
                first + row
            ),
            path,
        ));
    }
    let target = match dtype {
        Dtype::F64 => DataType::Float64,
        Dtype::F32 => DataType::Float32,
    };
    if *array.data_type() == target {
        return Ok(array.clone());
    }
    arrow_cast::cast(array, &target).map_err(|e| {
        Error::columns(
            format!("column '{name}' cannot be read as {target}: {e}"),
            path,
        )
    })
}

impl Batch {
    fn from_arrays(arrays: Vec<ArrayRef>, dtype: Dtype) -> Self {
        match dtype {
            Dtype::F64 => Batch::F64(
                arrays
                    .iter()
                    .map(|a| {
                        a.as_any()
                            .downcast_ref::<Float64Array>()
                            .expect("cast to Float64")
                            .clone()
                    })
                    .collect(),
            ),
            Dtype::F32 => Batch::F32(
                arrays
                    .iter()
                    .map(|a| {
                        a.as_any()
                            .downcast_ref::<Float32Array>()
                            .expect("cast to Float32")
                            .clone()
                    })
                    .collect(),
            ),
        }
    }

    fn n_samples(&self) -> usize {
        match self {
            Batch::F64(c) => c.first().map_or(0, |a| a.len()),
            Batch::F32(c) => c.first().map_or(0, |a| a.len()),
        }
    }
}

/// Column-major views of a [`ColumnarFile`], one per batch.
#[derive(Debug, Clone)]
pub enum ColumnarParts<'a> {
    /// `float64` columns.
    F64(Vec<Columns<'a, f64>>),
    /// `float32` columns.
    F32(Vec<Columns<'a, f32>>),
}

impl ColumnarFile {
    /// Opens an Arrow IPC or Parquet file (chosen by its extension, see
    /// [`Format::from_path`]), reading the columns named in `columns` (in
    /// that order) or, if `None`, every numeric column in file order (but a
    /// pandas index, see [`ColumnInfo::pandas_index`]).
    ///
    /// Errors, each naming the file and what to do: not an Arrow/Parquet file
    /// (wrong magic, truncated, inconsistent metadata), an unknown or
    /// non-numeric column, a null value (column and row named). A file of no
    /// rows opens (see [`ColumnarFile::n_samples`]).
    pub fn open(path: &Path, columns: Option<&[String]>) -> Result<Self> {
        crate::npy::check_seekable(path)?;
        match Format::from_path(path) {
            Some(Format::Arrow) => arrow_file::open(path, columns),
            Some(Format::Parquet) => parquet_file::open(path, columns),
            None => Err(Error::unsupported(
                "not an Arrow or Parquet file name: use .arrow, .feather or .parquet",
                path,
            )),
        }
    }

    /// Assembles an opened file from its batches.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        format: Format,
        path: &Path,
        schema: &Schema,
        selection: &Selection,
        batches: Vec<Batch>,
        conversion: Option<String>,
        row_groups: usize,
        stamp: (u64, Option<SystemTime>),
    ) -> Result<Self> {
        // A file of no rows opens, as an empty .npy does: a directory of
        // shards may hold one, and a fit of no rows at all is refused by the
        // engine ("the data has no rows").
        let n_samples = batches.iter().map(Batch::n_samples).sum();
        let index = pandas_index_columns(schema);
        let fields = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| ColumnInfo {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                selected: selection.indices.contains(&i),
                pandas_index: index.contains(f.name()),
            })
            .collect();
        let names = selection
            .indices
            .iter()
            .map(|&i| schema.field(i).name().clone())
            .collect();
        Ok(Self {
            format,
            batches: batches.into_iter().filter(|b| b.n_samples() > 0).collect(),
            n_samples,
            dtype: selection.dtype,
            fields,
            names,
            conversion,
            file_bytes: stamp.0,
            row_groups,
            path: path.to_path_buf(),
            stamp,
        })
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Rows.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Columns read (the selection).
    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    /// Element type the engine reads: float32 if every selected column is
    /// float32, float64 otherwise.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Names of the columns read, in the order read.
    pub fn column_names(&self) -> &[String] {
        &self.names
    }

    /// Every column of the file, selected or not.
    pub fn fields(&self) -> &[ColumnInfo] {
        &self.fields
    }

    /// Why the values are not read in place from the file's bytes (`None`:
    /// memory-mapped and read in place).
    pub fn conversion(&self) -> Option<&str> {
        self.conversion.as_deref()
    }

    /// Record batches (Arrow) or row groups (Parquet) in the file.
    pub fn row_groups(&self) -> usize {
        self.row_groups
    }

    /// Size of the file in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// The selected columns, one column-major part per batch (one part of
    /// no rows for a file of no rows).
    pub fn parts(&self) -> ColumnarParts<'_> {
        fn cols<'a, T: gmm_core::Scalar>(v: Vec<&'a [T]>) -> Columns<'a, T> {
            Columns::new(v).expect("equal lengths, checked when decoded")
        }
        let d = self.names.len();
        if self.batches.is_empty() {
            return match self.dtype {
                Dtype::F64 => ColumnarParts::F64(vec![cols(vec![&[][..]; d])]),
                Dtype::F32 => ColumnarParts::F32(vec![cols(vec![&[][..]; d])]),
            };
        }
        match self.dtype {
            Dtype::F64 => ColumnarParts::F64(
                self.batches
                    .iter()
                    .map(|b| match b {
                        Batch::F64(c) => cols(c.iter().map(|a| &a.values()[..]).collect()),
                        Batch::F32(_) => unreachable!("one dtype per file"),
                    })
                    .collect(),
            ),
            Dtype::F32 => ColumnarParts::F32(
                self.batches
                    .iter()
                    .map(|b| match b {
                        Batch::F32(c) => cols(c.iter().map(|a| &a.values()[..]).collect()),
                        Batch::F64(_) => unreachable!("one dtype per file"),
                    })
                    .collect(),
            ),
        }
    }

    /// As [`crate::Dataset::check_unchanged`]: the file still has the length
    /// and modification time it had when opened.
    pub fn check_unchanged(&self) -> Result<()> {
        crate::npy::check_stamp(&self.path, self.stamp)
    }
}

/// The length and modification time of an opened file.
fn stamp_of(file: &std::fs::File, path: &Path) -> Result<(u64, Option<SystemTime>)> {
    let meta = file.metadata().map_err(|e| Error::io(e, path))?;
    if meta.is_dir() {
        return Err(Error::unsupported(
            "this is a directory: open directories of shards with DataSource::open",
            path,
        ));
    }
    Ok((meta.len(), meta.modified().ok()))
}

thread_local! {
    /// Set while this thread runs a decoder under [`guarded`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `decode` (arrow-rs code reading untrusted bytes) and turns a panic
/// into an error message. The arrow-rs decoders validate what they read, but
/// some malformed buffer offsets still reach an assertion; a file must get a
/// one-line error, never a panic. The panic message is not printed for this
/// thread (a panic hook that stays quiet only while the flag is set, and
/// hands every other panic to the previous hook).
fn guarded<R>(decode: impl FnOnce() -> R) -> std::result::Result<R, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    QUIET.with(|q| q.set(false));
    result.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the decoder failed".to_string())
    })
}
