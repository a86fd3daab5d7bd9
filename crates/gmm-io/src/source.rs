//! A dataset on disk as the CLI and pipelines name it: one `.npy`, Arrow IPC
//! or Parquet file, or a directory of shards of one of these formats read as
//! their concatenation.

use std::path::{Path, PathBuf};

use gmm_core::{Part, Shards};

use crate::columnar::{ColumnarFile, ColumnarParts, Format};
use crate::error::{Error, Result};
use crate::npy::{Dataset, DatasetView, Dtype};

/// One file of a [`DataSource`].
#[derive(Debug)]
pub enum DataFile {
    /// A `.npy` file.
    Npy(Dataset),
    /// An Arrow IPC or Parquet file.
    Columnar(ColumnarFile),
}

impl DataFile {
    /// Opens `path` by its extension: `.arrow`/`.feather`/`.ipc` and
    /// `.parquet`/`.parq`/`.pq` as [`ColumnarFile`] (with `columns`, see
    /// [`ColumnarFile::open`]), anything else as `.npy`.
    pub fn open(path: &Path, columns: Option<&[String]>) -> Result<Self> {
        if Format::from_path(path).is_some() {
            return Ok(DataFile::Columnar(ColumnarFile::open(path, columns)?));
        }
        if crate::convert::is_csv(path) {
            return Err(Error::unsupported(
                format!(
                    "CSV is not read as data directly: convert it once with \
                     `gmm convert {} data.npy` (or .parquet)",
                    path.display()
                ),
                path,
            ));
        }
        if columns.is_some() {
            return Err(Error::columns(
                "--columns selects columns of Arrow and Parquet files by name, and .npy columns \
                 have no names: select them in NumPy, or convert the file",
                path,
            ));
        }
        Ok(DataFile::Npy(Dataset::open(path)?))
    }

    /// Rows.
    pub fn n_samples(&self) -> usize {
        match self {
            DataFile::Npy(d) => d.n_samples(),
            DataFile::Columnar(c) => c.n_samples(),
        }
    }

    /// Columns read.
    pub fn n_features(&self) -> usize {
        match self {
            DataFile::Npy(d) => d.n_features(),
            DataFile::Columnar(c) => c.n_features(),
        }
    }

    /// Element type the engine reads.
    pub fn dtype(&self) -> Dtype {
        match self {
            DataFile::Npy(d) => d.dtype(),
            DataFile::Columnar(c) => c.dtype(),
        }
    }

    /// Why the values are not read in place from the file (`None`: they are).
    pub fn conversion(&self) -> Option<&str> {
        match self {
            DataFile::Npy(d) => d.info().conversion.as_deref(),
            DataFile::Columnar(c) => c.conversion(),
        }
    }

    /// The names of the columns read (Arrow and Parquet files only).
    pub fn column_names(&self) -> Option<&[String]> {
        match self {
            DataFile::Npy(_) => None,
            DataFile::Columnar(c) => Some(c.column_names()),
        }
    }

    /// The file still has the length and modification time it had when
    /// opened (see [`Dataset::check_unchanged`]).
    pub fn check_unchanged(&self) -> Result<()> {
        match self {
            DataFile::Npy(d) => d.check_unchanged(),
            DataFile::Columnar(c) => c.check_unchanged(),
        }
    }
}

/// One `.npy`, Arrow or Parquet file, or a directory of shards of one format
/// (same columns and dtype, read in file-name order), each memory-mapped or
/// decoded as [`Dataset`] and [`ColumnarFile`] do.
///
/// ```no_run
/// use gmm_io::{DataSource, SourceRows};
/// let cols = ["x".to_string(), "y".to_string()];
/// let src = DataSource::open_columns("features.parquet".as_ref(), Some(&cols)).unwrap();
/// match src.rows() {
///     SourceRows::F64(rows) => println!("{} rows of f64", gmm_core::Rows::n_samples(&rows)),
///     SourceRows::F32(rows) => println!("{} rows of f32", gmm_core::Rows::n_samples(&rows)),
/// }
/// ```
#[derive(Debug)]
pub struct DataSource {
    shards: Vec<(PathBuf, DataFile)>,
}

/// The rows of a [`DataSource`], typed.
#[derive(Debug, Clone)]
pub enum SourceRows<'a> {
    /// `float64` shards.
    F64(Shards<'a, f64>),
    /// `float32` shards.
    F32(Shards<'a, f32>),
}

/// The format of a shard file, by extension (`None`: not a data file).
fn shard_format(p: &Path) -> Option<&'static str> {
    match Format::from_path(p) {
        Some(Format::Arrow) => Some("Arrow"),
        Some(Format::Parquet) => Some("Parquet"),
        None if p.extension().is_some_and(|x| x == "npy") => Some(".npy"),
        None => None,
    }
}

impl DataSource {
    /// Opens `path`: a `.npy`, Arrow IPC (`.arrow`, `.feather`) or Parquet
    /// file, or a directory whose files of one of these formats (other files
    /// are ignored) are the shards, in name order. Arrow and Parquet files
    /// are read for every numeric column.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_columns(path, None)
    }

    /// As [`DataSource::open`], reading the Arrow/Parquet columns named in
    /// `columns`, in that order (`None`: every numeric column in file order).
    pub fn open_columns(path: &Path, columns: Option<&[String]>) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(e, path))?;
        if !meta.is_dir() {
            return Ok(Self {
                shards: vec![(path.to_path_buf(), DataFile::open(path, columns)?)],
            });
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(e, path))? {
            let p = entry.map_err(|e| Error::io(e, path))?.path();
            // Hidden files are not shards: `.DS_Store`, macOS's `._a.parquet`
            // resource forks, editors' and sync tools' scratch files.
            let hidden = p
                .file_name()
                .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
            if hidden || shard_format(&p).is_none() {
                continue;
            }
            match std::fs::metadata(&p) {
                Ok(m) if m.is_file() => files.push(p),
                Ok(_) => {
                    return Err(Error::unsupported(
                        "this shard is not a regular file: shards must be data files",
                        &p,
                    ));
                }
                Err(e) if p.symlink_metadata().is_ok() => {
                    return Err(Error::unsupported(
                        format!(
                            "this shard is a symbolic link to a file that cannot be opened ({e}): \
                             fix or remove the link, or the fit would run on part of the data"
                        ),
                        &p,
                    ));
                }
                Err(e) => return Err(Error::io(e, &p)),
            }
        }
        files.sort();
        let Some(first) = files.first() else {
            return Err(Error::unsupported(
                "the directory holds no .npy, .arrow, .feather or .parquet files: put the shards in it",
                path,
            ));
        };
        let format = shard_format(first);
        if let Some(other) = files.iter().find(|f| shard_format(f) != format) {
            return Err(Error::unsupported(
                format!(
                    "the directory mixes {} shards ({}) and {} shards ({}): keep one format per directory",
                    format.unwrap_or("?"),
                    first.display(),
                    shard_format(other).unwrap_or("?"),
                    other.display()
                ),
                path,
            ));
        }
        let mut shards: Vec<(PathBuf, DataFile)> = Vec::with_capacity(files.len());
        for f in files {
            let ds = DataFile::open(&f, columns)?;
            if let Some((first_path, first)) = shards.first() {
                if ds.n_features() != first.n_features() || ds.dtype() != first.dtype() {
                    return Err(Error::unsupported(
                        format!(
                            "shard {} has {} columns of {}, but {} has {} of {}: all shards need the same width and dtype",
                            f.display(),
                            ds.n_features(),
                            ds.dtype().name(),
                            first_path.display(),
                            first.n_features(),
                            first.dtype().name()
                        ),
                        path,
                    ));
                }
                if ds.column_names() != first.column_names() {
                    return Err(Error::unsupported(
                        format!(
                            "shard {} has the columns {:?}, but {} has {:?}: all shards need the same columns \
                             (or choose them with --columns)",
                            f.display(),
                            ds.column_names().unwrap_or_default(),
                            first_path.display(),
                            first.column_names().unwrap_or_default()
                        ),
                        path,
                    ));
                }
            }
            shards.push((f, ds));
        }
        Ok(Self { shards })
    }

    /// [`DataFile::check_unchanged`] for every shard.
    pub fn check_unchanged(&self) -> Result<()> {
        self.shards
            .iter()
            .try_for_each(|(_, d)| d.check_unchanged())
    }

    /// The shards and their paths (one for a single file).
    pub fn shards(&self) -> impl Iterator<Item = (&Path, &DataFile)> {
        self.shards.iter().map(|(p, d)| (p.as_path(), d))
    }

    /// Total rows.
    pub fn n_samples(&self) -> usize {
        self.shards.iter().map(|(_, d)| d.n_samples()).sum()
    }

    /// Columns.
    pub fn n_features(&self) -> usize {
        self.shards[0].1.n_features()
    }

    /// Element type the engine reads.
    pub fn dtype(&self) -> Dtype {
        self.shards[0].1.dtype()
    }

    /// Names of the columns read, for Arrow and Parquet sources.
    pub fn column_names(&self) -> Option<&[String]> {
        self.shards[0].1.column_names()
    }

    /// The rows, borrowed from the mappings (or converted copies).
    pub fn rows(&self) -> SourceRows<'_> {
        let mut f64_parts = Vec::new();
        let mut f32_parts = Vec::new();
        for (_, file) in &self.shards {
            match file {
                DataFile::Npy(d) => match d.view() {
                    DatasetView::F64(v) => f64_parts.push(Part::Rows(v)),
                    DatasetView::F32(v) => f32_parts.push(Part::Rows(v)),
                    DatasetView::ColumnsF64(c) => f64_parts.push(Part::Columns(c)),
                    DatasetView::ColumnsF32(c) => f32_parts.push(Part::Columns(c)),
                },
                DataFile::Columnar(c) => match c.parts() {
                    ColumnarParts::F64(p) => f64_parts.extend(p.into_iter().map(Part::Columns)),
                    ColumnarParts::F32(p) => f32_parts.extend(p.into_iter().map(Part::Columns)),
                },
            }
        }
        match self.dtype() {
            Dtype::F64 => SourceRows::F64(
                Shards::from_parts(f64_parts).expect("widths and dtypes checked at open"),
            ),
            Dtype::F32 => SourceRows::F32(
                Shards::from_parts(f32_parts).expect("widths and dtypes checked at open"),
            ),
        }
    }
}
