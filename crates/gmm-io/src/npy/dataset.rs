//! Opening a `.npy` file: memory-mapped in place, or converted into memory.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use gmm_core::{Columns, DataView, Rows};

use crate::error::{Error, Result};
use crate::mmap::{Mapping, map_readonly};

use super::dtype::{Dtype, ElementType};
use super::header::parse_header;

/// Storage behind a [`Dataset`].
#[derive(Debug)]
enum Storage {
    /// Read in place from the mapping (row-major, or column-major if
    /// `fortran`).
    Mapped {
        map: Mapping,
        offset: usize,
        fortran: bool,
    },
    /// Converted into memory.
    F64(Vec<f64>),
    /// Converted into memory, kept as f32.
    F32(Vec<f32>),
}

/// How a [`Dataset`] was read, for `gmm info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInfo {
    /// `.npy` format version.
    pub version: (u8, u8),
    /// The `descr` of the file.
    pub descr: String,
    /// The file's element type, as NumPy names it (e.g. `int32`).
    pub source_dtype: String,
    /// Byte order of the file's elements: `little`, `big` or `not applicable`.
    pub byte_order: &'static str,
    /// `C` (row-major) or `Fortran` (column-major).
    pub layout: &'static str,
    /// The shape in the file.
    pub shape: Vec<usize>,
    /// Why the data was copied into memory, if it was (`None`: mapped in place).
    pub conversion: Option<String>,
    /// File size in bytes.
    pub file_bytes: u64,
}

/// A dataset opened from a `.npy` file: memory-mapped and used in place when it
/// is little-endian float64/float32 and aligned, in C order (a row-major
/// view) or Fortran order (a column-major [`Columns`] view, bit-identical in
/// every result); otherwise converted (big-endian, unaligned data, float16,
/// integers, bool), which [`Dataset::info`] reports.
///
/// ```no_run
/// use gmm_io::{Dataset, DatasetView};
/// let ds = Dataset::open("x.npy".as_ref()).unwrap();
/// match ds.view() {
///     DatasetView::F64(v) => println!("{} rows of {} f64", v.n_samples(), v.n_features()),
///     DatasetView::F32(v) => println!("{} rows of {} f32", v.n_samples(), v.n_features()),
///     DatasetView::ColumnsF64(c) => println!("{} columns of f64", c.columns().len()),
///     DatasetView::ColumnsF32(c) => println!("{} columns of f32", c.columns().len()),
/// }
/// ```
#[derive(Debug)]
pub struct Dataset {
    storage: Storage,
    dtype: Dtype,
    n_samples: usize,
    n_features: usize,
    info: DatasetInfo,
    path: PathBuf,
    /// Length and modification time at open, for [`Dataset::check_unchanged`].
    stamp: (u64, Option<SystemTime>),
}

/// A typed view of a [`Dataset`].
#[derive(Debug, Clone)]
pub enum DatasetView<'a> {
    /// `float64` rows, row-major.
    F64(DataView<'a, f64>),
    /// `float32` rows, row-major.
    F32(DataView<'a, f32>),
    /// `float64` columns of a Fortran-order file, read in place.
    ColumnsF64(Columns<'a, f64>),
    /// `float32` columns of a Fortran-order file, read in place.
    ColumnsF32(Columns<'a, f32>),
}

impl DatasetView<'_> {
    /// All values as `f64`, row-major (a copy).
    pub fn to_f64_rows(&self) -> Vec<f64> {
        fn copy(r: &impl Rows) -> Vec<f64> {
            let d = r.n_features();
            let mut out = vec![0.0; r.n_samples() * d];
            for (i, row) in out.chunks_exact_mut(d).enumerate() {
                r.copy_row(i, row);
            }
            out
        }
        match self {
            DatasetView::F64(v) => v.as_slice().to_vec(),
            DatasetView::F32(v) => v.as_slice().iter().map(|x| *x as f64).collect(),
            DatasetView::ColumnsF64(c) => copy(c),
            DatasetView::ColumnsF32(c) => copy(c),
        }
    }
}

impl Dataset {
    /// Opens and validates a `.npy` file (format 1.0, 2.0 or 3.0; 1-D arrays are
    /// read as `N x 1`). Never panics and never reads out of bounds on a hostile
    /// file: the header and length are checked before any data is touched.
    pub fn open(path: &Path) -> Result<Self> {
        check_seekable(path)?;
        let file = File::open(path).map_err(|e| Error::io(e, path))?;
        let meta = file.metadata().map_err(|e| Error::io(e, path))?;
        if meta.is_dir() {
            return Err(Error::unsupported(
                "this is a directory: open directories of shards with DataSource::open",
                path,
            ));
        }
        let file_len = meta.len();
        if file_len == 0 {
            return Err(Error::npy("the file is empty", path));
        }
        let map = map_readonly(&file, path).map_err(|e| Error::io(e, path))?;
        let stamp = (file_len, meta.modified().ok());
        let header = parse_header(&map).map_err(|m| Error::npy(m, path))?;
        let et = ElementType::parse(&header.descr).map_err(|m| Error::unsupported(m, path))?;
        let (n_samples, n_features) = match header.shape.as_slice() {
            [n] => (*n, 1),
            [n, d] => (*n, *d),
            s => {
                return Err(Error::unsupported(
                    format!(
                        "a {}-dimensional array of shape {s:?} was found: give a 2-D array (rows x features) or a 1-D one",
                        s.len()
                    ),
                    path,
                ));
            }
        };
        let expected = n_samples
            .checked_mul(n_features)
            .and_then(|c| c.checked_mul(et.size))
            .and_then(|b| b.checked_add(header.data_offset))
            .ok_or_else(|| {
                Error::npy(
                    format!("the shape {:?} is too large to exist", header.shape),
                    path,
                )
            })?;
        let actual = map.len();
        if actual < expected {
            return Err(Error::npy(
                format!(
                    "the file is truncated: shape {:?} of {} needs {expected} bytes, the file has {actual}",
                    header.shape,
                    et.name()
                ),
                path,
            ));
        }
        if actual > expected {
            return Err(Error::npy(
                format!(
                    "{} unexpected bytes follow the data of shape {:?}",
                    actual - expected,
                    header.shape
                ),
                path,
            ));
        }
        if n_features == 0 {
            return Err(Error::new(
                crate::ErrorKind::Core(gmm_core::ErrorKind::NoFeatures.into()),
                path,
            ));
        }
        // Fortran order only matters when both dimensions exceed 1.
        let fortran = header.fortran_order && n_samples > 1 && n_features > 1;
        let offset = header.data_offset;
        let mut info = DatasetInfo {
            version: header.version,
            descr: header.descr.clone(),
            source_dtype: et.name(),
            byte_order: if et.size == 1 {
                "not applicable"
            } else if et.big_endian {
                "big"
            } else {
                "little"
            },
            layout: if header.fortran_order { "Fortran" } else { "C" },
            shape: header.shape.clone(),
            conversion: None,
            file_bytes: file_len,
        };
        let dtype = if et.kind == 'f' && et.size == 4 {
            Dtype::F32
        } else {
            Dtype::F64
        };
        let in_place = et.kind == 'f'
            && (et.size == 8 || et.size == 4)
            && !et.big_endian
            && cfg!(target_endian = "little")
            && offset % et.size == 0;
        let storage = if in_place {
            Storage::Mapped {
                map,
                offset,
                fortran,
            }
        } else {
            let mut reasons = Vec::new();
            if et.big_endian {
                reasons.push("big-endian".to_string());
            }
            if et.kind != 'f' || et.size == 2 {
                reasons.push(format!("{} converted to float64", et.name()));
            }
            if reasons.is_empty() {
                reasons.push("unaligned data".to_string());
            }
            info.conversion = Some(reasons.join(", "));
            let bytes = &map[offset..];
            let (n, d, size) = (n_samples, n_features, et.size);
            // Element (i, j) sits at flat index i*d + j (C) or j*n + i (Fortran).
            let at = |i: usize, j: usize| if fortran { j * n + i } else { i * d + j } * size;
            match dtype {
                Dtype::F32 => {
                    let mut v = Vec::with_capacity(n * d);
                    for i in 0..n {
                        for j in 0..d {
                            v.push(et.read(&bytes[at(i, j)..]) as f32);
                        }
                    }
                    Storage::F32(v)
                }
                Dtype::F64 => {
                    let mut v = Vec::with_capacity(n * d);
                    for i in 0..n {
                        for j in 0..d {
                            v.push(et.read(&bytes[at(i, j)..]));
                        }
                    }
                    Storage::F64(v)
                }
            }
        };
        let ds = Dataset {
            storage,
            dtype,
            n_samples,
            n_features,
            info,
            path: path.to_path_buf(),
            stamp,
        };
        ds.try_view().ok_or_else(|| {
            Error::unsupported(
                "the data cannot be viewed in place: re-save it with numpy.save",
                path,
            )
        })?;
        Ok(ds)
    }

    fn try_view(&self) -> Option<DatasetView<'_>> {
        let (n, d) = (self.n_samples, self.n_features);
        Some(match &self.storage {
            Storage::Mapped {
                map,
                offset,
                fortran,
            } => {
                let bytes = &map[*offset..];
                match (self.dtype, fortran) {
                    (Dtype::F64, false) => DatasetView::F64(
                        DataView::new(bytemuck::try_cast_slice(bytes).ok()?, n, d).ok()?,
                    ),
                    (Dtype::F32, false) => DatasetView::F32(
                        DataView::new(bytemuck::try_cast_slice(bytes).ok()?, n, d).ok()?,
                    ),
                    (Dtype::F64, true) => DatasetView::ColumnsF64(
                        Columns::from_fortran(bytemuck::try_cast_slice(bytes).ok()?, n, d).ok()?,
                    ),
                    (Dtype::F32, true) => DatasetView::ColumnsF32(
                        Columns::from_fortran(bytemuck::try_cast_slice(bytes).ok()?, n, d).ok()?,
                    ),
                }
            }
            Storage::F64(v) => DatasetView::F64(DataView::new(v, n, d).ok()?),
            Storage::F32(v) => DatasetView::F32(DataView::new(v, n, d).ok()?),
        })
    }

    /// The data, typed, borrowed from the mapping or the converted copy.
    pub fn view(&self) -> DatasetView<'_> {
        self.try_view()
            .expect("checked when the dataset was opened")
    }

    /// Element type the engine reads.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Rows.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// True if the data is read in place from a memory map (no copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped { .. })
    }

    /// Checks that the file still has the length and modification time it had
    /// when it was opened: call it after a pass and before writing results,
    /// so that a file rewritten while it was read gives an error rather than
    /// a result computed from a mix of old and new bytes.
    ///
    /// A file *truncated* while mapped cannot be read at all past its new end:
    /// the process ends at the first such read with a one-line error naming the
    /// file and exit code 1, after removing the temporary files of outputs
    /// being written (see the crate documentation). Callers that map files
    /// themselves and hand the bytes to `gmm-core` take on the same contract
    /// as `numpy.memmap`: nobody truncates the file while it is read.
    pub fn check_unchanged(&self) -> Result<()> {
        check_stamp(&self.path, self.stamp)
    }

    /// How the file was laid out and read.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }
}

/// Errors if `path` no longer has the length and modification time `stamp`
/// it had when opened (see [`Dataset::check_unchanged`]).
pub(crate) fn check_stamp(path: &Path, stamp: (u64, Option<SystemTime>)) -> Result<()> {
    let now = std::fs::metadata(path)
        .map(|m| (m.len(), m.modified().ok()))
        .map_err(|e| Error::io(e, path))?;
    if now != stamp {
        return Err(Error::unsupported(
            "the file changed size or was modified while being read: nothing was written; \
             rerun once no other program modifies it",
            path,
        ));
    }
    Ok(())
}

/// Refuses, before opening it, a path that is not a regular file or a
/// directory: opening a FIFO waits for a writer (forever, if none comes),
/// and a FIFO, socket or terminal is read once, where a dataset is mapped or
/// read once per pass. `stat` does not open the file, so this never blocks.
pub(crate) fn check_seekable(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // Opening it says why.
    };
    let t = meta.file_type();
    let what = if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        return Ok(());
    };
    Err(Error::unsupported(
        format!(
            "this is {what}, a stream read once, not a file a dataset can be mapped from or \
             read again: save the data to a file first (e.g. `cat stream > data.npy`)"
        ),
        path,
    ))
}
