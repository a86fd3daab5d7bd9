//! Flag groups shared by several verbs, each flag declared once.

use clap::Args;
use gmm_core::{GaussianMixtureParams, Init};

/// The EM settings of `fit` and `select`.
#[derive(Debug, Args)]
pub struct EmFlags {
    /// Number of restarts (per candidate, for select); the best lower bound is kept.
    #[arg(long, default_value_t = 1)]
    pub n_init: usize,
    /// Maximum EM iterations per restart (0 only initialises).
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    pub max_iter: usize,
    /// Stop when the mean log-likelihood changes by less than this (0: never).
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub tol: f64,
    /// Added to every covariance diagonal.
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    pub reg_covar: f64,
    /// Seed of all random choices (fixed default: identical runs, identical files).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl EmFlags {
    /// The fit parameters for `k` components started by `init`.
    pub fn params(&self, k: usize, init: Init) -> GaussianMixtureParams {
        GaussianMixtureParams::new(k)
            .init(init)
            .n_init(self.n_init)
            .max_iter(self.max_iter)
            .tol(self.tol)
            .reg_covar(self.reg_covar)
            .seed(self.seed)
    }
}

/// `--columns`, for every verb that reads DATA.
#[derive(Debug, Args, Clone, Default)]
pub struct ColumnsFlag {
    /// Columns of an Arrow or Parquet DATA file to read, by name, in this
    /// order (default: every numeric column, in file order, but a pandas
    /// index).
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
}

impl ColumnsFlag {
    /// Opens `data` (a file or a directory of shards) with these columns.
    pub fn open(&self, data: &std::path::Path) -> gmm_io::Result<gmm_io::DataSource> {
        gmm_io::DataSource::open_columns(data, self.columns.as_deref())
    }
}

/// `--threads`, for every verb that passes over data.
#[derive(Debug, Args, Clone, Copy)]
pub struct ThreadsFlag {
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

impl ThreadsFlag {
    /// Runs `f` in a pool of `--threads` workers, or in the global pool.
    pub fn install<R: Send>(
        self,
        f: impl FnOnce() -> anyhow::Result<R> + Send,
    ) -> anyhow::Result<R> {
        use anyhow::Context;
        match self.threads {
            Some(t) => rayon::ThreadPoolBuilder::new()
                .num_threads(t as usize)
                .build()
                .context("cannot start the thread pool")?
                .install(f),
            None => f(),
        }
    }
}
