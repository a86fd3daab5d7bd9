//! The error type of the I/O crate.

use std::fmt;
use std::path::{Path, PathBuf};

/// Something was wrong with a file: it could not be read or written, or its
/// contents are not what the engine accepts. The message names the file and
/// says what to do.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
}

/// The kinds of [`Error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operating system refused (not found, permission denied, disk full...).
    Io(std::io::Error),
    /// The file is not a valid `.npy` file (bad magic, malformed header, wrong length).
    InvalidNpy(String),
    /// A valid `.npy` file whose contents this version cannot read.
    UnsupportedNpy(String),
    /// A model file that is not valid JSON or does not follow the model schema.
    InvalidModel(String),
    /// A CSV file that cannot be converted (non-numeric cell, ragged row...).
    InvalidCsv(String),
    /// The file is not a valid Arrow IPC file (wrong magic, truncated,
    /// malformed footer or record batch).
    InvalidArrow(String),
    /// The file is not a valid Parquet file (wrong magic, truncated,
    /// metadata that disagrees with the data).
    InvalidParquet(String),
    /// The columns of an Arrow or Parquet file cannot be read as data: an
    /// unknown or non-numeric column in `--columns`, a null value, no rows.
    InvalidColumns(String),
    /// The contents were read but rejected by the numerical checks.
    Core(gmm_core::Error),
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, path: &Path) -> Self {
        Self {
            kind,
            path: Some(path.to_path_buf()),
        }
    }

    pub(crate) fn unsupported_here(msg: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::UnsupportedNpy(msg.into()),
            path: None,
        }
    }

    /// The kind of the error.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True when the error is a closed pipe on the writing side (the reader
    /// went away, as `head` does): the CLI then exits quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(&self.kind, ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The file concerned, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn io(e: std::io::Error, path: &Path) -> Self {
        Self::new(ErrorKind::Io(e), path)
    }

    pub(crate) fn npy(msg: impl Into<String>, path: &Path) -> Self {
        Self::new(ErrorKind::InvalidNpy(msg.into()), path)
    }

    pub(crate) fn unsupported(msg: impl Into<String>, path: &Path) -> Self {
        Self::new(ErrorKind::UnsupportedNpy(msg.into()), path)
    }

    pub(crate) fn csv(msg: impl Into<String>, path: &Path) -> Self {
        Self::new(ErrorKind::InvalidCsv(msg.into()), path)
    }

    pub(crate) fn arrow(msg: impl Into<String>, path: &Path) -> Self {
        Self::new(ErrorKind::InvalidArrow(msg.into()), path)
    }

    pub(crate) fn parquet(msg: impl Into<String>, path: &Path) -> Self {
        Self::new(ErrorKind::InvalidParquet(msg.into()), path)
    }

    pub(crate) fn columns(msg: impl Into<String>, path: &Path) -> Self {
        Self::new(ErrorKind::InvalidColumns(msg.into()), path)
    }

    pub(crate) fn model(msg: impl Into<String>, path: &Path) -> Self {
        Self::new(ErrorKind::InvalidModel(msg.into()), path)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        match &self.kind {
            ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => write!(
                f,
                "{e}: the disk is full; nothing was written: free space or write elsewhere"
            ),
            ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::QuotaExceeded => write!(
                f,
                "{e}: the disk quota is used up; nothing was written: free space or write elsewhere"
            ),
            ErrorKind::Io(e) => write!(f, "{e}"),
            ErrorKind::InvalidNpy(m) => write!(f, "not a valid .npy file: {m}"),
            ErrorKind::UnsupportedNpy(m) => write!(f, "{m}"),
            ErrorKind::InvalidModel(m) => write!(f, "invalid model file: {m}"),
            ErrorKind::InvalidCsv(m) => write!(f, "cannot convert the CSV file: {m}"),
            ErrorKind::InvalidArrow(m) => write!(f, "not a valid Arrow IPC file: {m}"),
            ErrorKind::InvalidParquet(m) => write!(f, "not a valid Parquet file: {m}"),
            ErrorKind::InvalidColumns(m) => write!(f, "{m}"),
            ErrorKind::Core(e) => write!(f, "{e}"),
        }
    }
}

/// The message already includes the underlying I/O or numerical error, so
/// `source` is `None` (cause chains print each message once); use
/// [`Error::kind`] to get at it.
impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
