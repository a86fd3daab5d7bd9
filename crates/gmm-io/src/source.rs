//! A dataset on disk as the CLI and pipelines name it: one `.npy` file, or a
//! directory of `.npy` shards read as their concatenation.

use std::path::{Path, PathBuf};

use gmm_core::{Part, Shards};

use crate::error::{Error, Result};
use crate::npy::{Dataset, DatasetView, Dtype};

/// One `.npy` file or a directory of shards (same width and dtype, read in
/// file-name order), each memory-mapped or converted as [`Dataset`] does.
#[derive(Debug)]
pub struct DataSource {
    shards: Vec<(PathBuf, Dataset)>,
}

/// The rows of a [`DataSource`], typed.
#[derive(Debug, Clone)]
pub enum SourceRows<'a> {
    /// `float64` shards.
    F64(Shards<'a, f64>),
    /// `float32` shards.
    F32(Shards<'a, f32>),
}

impl DataSource {
    /// Opens `path`: a `.npy` file, or a directory whose `*.npy` files (other
    /// files are ignored) are the shards, in name order.
    pub fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(e, path))?;
        if !meta.is_dir() {
            return Ok(Self {
                shards: vec![(path.to_path_buf(), Dataset::open(path)?)],
            });
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(e, path))? {
            let p = entry.map_err(|e| Error::io(e, path))?.path();
            if p.extension().is_none_or(|x| x != "npy") {
                continue;
            }
            match std::fs::metadata(&p) {
                Ok(m) if m.is_file() => files.push(p),
                Ok(_) => {
                    return Err(Error::unsupported(
                        "this shard is not a regular file: shards must be .npy files",
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
        if files.is_empty() {
            return Err(Error::unsupported(
                "the directory holds no .npy files: put the shards in it as *.npy",
                path,
            ));
        }
        let mut shards = Vec::with_capacity(files.len());
        for f in files {
            let ds = Dataset::open(&f)?;
            if let Some((first_path, first)) = shards.first() {
                let first: &Dataset = first;
                if ds.n_features() != first.n_features() || ds.dtype() != first.dtype() {
                    return Err(Error::unsupported(
                        format!(
                            "shard {} has {} columns of {}, but {} has {} of {}: all shards need the same width and dtype",
                            f.display(),
                            ds.n_features(),
                            ds.dtype().name(),
                            Path::new(first_path).display(),
                            first.n_features(),
                            first.dtype().name()
                        ),
                        path,
                    ));
                }
            }
            shards.push((f, ds));
        }
        Ok(Self { shards })
    }

    /// [`Dataset::check_unchanged`] for every shard.
    pub fn check_unchanged(&self) -> Result<()> {
        self.shards
            .iter()
            .try_for_each(|(_, d)| d.check_unchanged())
    }

    /// The shards and their paths (one for a single file).
    pub fn shards(&self) -> impl Iterator<Item = (&Path, &Dataset)> {
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

    /// The rows, borrowed from the mappings (or converted copies).
    pub fn rows(&self) -> SourceRows<'_> {
        let views = self.shards.iter().map(|(_, d)| d.view());
        match self.dtype() {
            Dtype::F64 => SourceRows::F64(
                Shards::from_parts(
                    views
                        .map(|v| match v {
                            DatasetView::F64(v) => Part::Rows(v),
                            DatasetView::ColumnsF64(c) => Part::Columns(c),
                            _ => unreachable!("dtypes checked at open"),
                        })
                        .collect(),
                )
                .expect("widths checked at open"),
            ),
            Dtype::F32 => SourceRows::F32(
                Shards::from_parts(
                    views
                        .map(|v| match v {
                            DatasetView::F32(v) => Part::Rows(v),
                            DatasetView::ColumnsF32(c) => Part::Columns(c),
                            _ => unreachable!("dtypes checked at open"),
                        })
                        .collect(),
                )
                .expect("widths checked at open"),
            ),
        }
    }
}
