//! The arguments of each verb (shared groups from [`super::flags`]).

use std::path::PathBuf;

use clap::Args;

use super::settings::check;
use super::{ColumnsFlag, EmFlags, ThreadsFlag};

/// Arguments of `gmm fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The data: a .npy, .parquet or .arrow/.feather file (rows x features;
    /// float64/float32 read in place where the format allows, other types
    /// converted) or a directory of shards of one of these formats.
    pub data: PathBuf,
    /// Columns to read.
    #[command(flatten)]
    pub columns: ColumnsFlag,
    /// Number of mixture components K.
    #[arg(long, short = 'k')]
    pub components: usize,
    /// Covariance structure: full, tied, diag or spherical [default: full, or
    /// the type of the --init model file].
    #[arg(long, value_parser = check::covariance)]
    pub covariance: Option<String>,
    /// Initialisation: kmeans, k-means++, random-from-data, random, or a model
    /// JSON file to start from (weights, means, covariances are enough).
    #[arg(long, default_value = "kmeans")]
    pub init: String,
    /// EM settings shared with `select`.
    #[command(flatten)]
    pub em: EmFlags,
    /// Worker threads.
    #[command(flatten)]
    pub threads: ThreadsFlag,
    /// Re-seed a component that empties or whose covariance turns singular
    /// at the row with the lowest likelihood (listed under "reseeds" in the
    /// report) instead of keeping it empty or failing.
    #[arg(long)]
    pub reseed_collapsed: bool,
    /// One non-negative weight per row (a .npy of N numbers, N x 1 also
    /// accepted): a row of weight w counts as w rows.
    #[arg(long, value_name = "W.npy")]
    pub sample_weight: Option<PathBuf>,
    /// Where to write the model JSON (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to write a JSON report of the fit (iterations, lower bounds, timings).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Draw the fit and the lower bound per iteration (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Animate the fit as a GIF: one frame per iteration (at most 60, evenly
    /// chosen), the data coloured by responsibilities with the ellipses,
    /// beside the lower bound so far. The fit's numbers are unchanged.
    #[arg(long, value_name = "FILE.gif")]
    pub animate: Option<PathBuf>,
    /// Print nothing on standard error but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Arguments of `gmm generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Workload: seed2d, small, mid, wide or tall.
    #[arg(long, value_parser = check::preset)]
    pub preset: String,
    /// Rows (default: the workload's).
    #[arg(long)]
    pub n: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file: .npy, or .parquet / .arrow (columns x0, x1, ...) by extension.
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `gmm info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The .npy, .parquet or .arrow/.feather file, or a directory of shards.
    pub data: PathBuf,
    /// Columns to read.
    #[command(flatten)]
    pub columns: ColumnsFlag,
}

/// Arguments of `gmm convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input: a CSV file (.csv, .tsv, .txt), or a .npy, .parquet or
    /// .arrow/.feather file or a directory of shards.
    pub input: PathBuf,
    /// Output, by extension: .npy, .parquet, .arrow/.feather, or .csv/.tsv
    /// (CSV is read as float64; other inputs keep float32 as float32).
    pub output: PathBuf,
    /// Columns to read from an Arrow or Parquet input.
    #[command(flatten)]
    pub columns: ColumnsFlag,
    /// The first line is data, not a header (default: detected; a header is a
    /// first line with a non-numeric cell).
    #[arg(long, conflicts_with = "header")]
    pub no_header: bool,
    /// The first line is a header even if it looks numeric.
    #[arg(long)]
    pub header: bool,
    /// Field delimiter: one character, or `tab`.
    #[arg(long, default_value = ",", value_parser = check::delimiter)]
    pub delimiter: u8,
}

/// Arguments of `gmm select`.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// The data: a .npy, .parquet or .arrow/.feather file (rows x features;
    /// float64/float32 read in place where the format allows, other types
    /// converted) or a directory of shards of one of these formats.
    pub data: PathBuf,
    /// Columns to read.
    #[command(flatten)]
    pub columns: ColumnsFlag,
    /// Component counts: a range `1..10` (inclusive), a list `2,4,8`, or one number.
    #[arg(long, short = 'k', default_value = "1..10", value_parser = check::components)]
    pub components: String,
    /// Covariance types: a list such as `full,diag`, or `all`.
    #[arg(long, default_value = "full", value_parser = check::covariances)]
    pub covariance: String,
    /// The criterion to minimise: bic or aic.
    #[arg(long, default_value = "bic", value_parser = check::criterion)]
    pub criterion: String,
    /// Initialisation method of every fit: kmeans, k-means++, random-from-data or random.
    #[arg(long, default_value = "kmeans")]
    pub init: String,
    /// EM settings shared with `fit`.
    #[command(flatten)]
    pub em: EmFlags,
    /// Worker threads.
    #[command(flatten)]
    pub threads: ThreadsFlag,
    /// Where to write the best model's JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to write every candidate's figures and fit report as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Draw the criterion against K, one line per covariance type (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Print nothing on standard error but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Arguments of `gmm predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The model JSON.
    pub model: PathBuf,
    /// The data: a .npy, .parquet or .arrow/.feather file (rows x features;
    /// float64/float32 read in place where the format allows, other types
    /// converted) or a directory of shards of one of these formats.
    pub data: PathBuf,
    /// Columns to read.
    #[command(flatten)]
    pub columns: ColumnsFlag,
    /// Write the responsibilities (N x K float64; columns p0..pK-1 in
    /// Parquet/Arrow) instead of labels (int64; column `label`).
    #[arg(long)]
    pub proba: bool,
    /// Output file: .npy, or .parquet / .arrow / .feather by extension.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads.
    #[command(flatten)]
    pub threads: ThreadsFlag,
}

/// Arguments of `gmm score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model JSON.
    pub model: PathBuf,
    /// The data: a .npy, .parquet or .arrow/.feather file (rows x features;
    /// float64/float32 read in place where the format allows, other types
    /// converted) or a directory of shards of one of these formats.
    pub data: PathBuf,
    /// Columns to read.
    #[command(flatten)]
    pub columns: ColumnsFlag,
    /// Print {"mean_log_likelihood", "bic", "aic", "n_samples"} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Worker threads.
    #[command(flatten)]
    pub threads: ThreadsFlag,
}

/// Arguments of `gmm sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model JSON.
    pub model: PathBuf,
    /// Number of rows to draw.
    #[arg(long)]
    pub n: usize,
    /// Seed (fixed default: identical runs, identical files).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output .npy file (N x D float64), rows grouped by component.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write each row's component (int64) to this .npy file.
    #[arg(long)]
    pub labels: Option<PathBuf>,
}

/// Arguments of `gmm plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The model JSON.
    pub model: PathBuf,
    /// The data: a .npy, .parquet or .arrow/.feather file (rows x features;
    /// float64/float32 read in place where the format allows, other types
    /// converted) or a directory of shards of one of these formats.
    pub data: PathBuf,
    /// Columns to read.
    #[command(flatten)]
    pub columns: ColumnsFlag,
    /// The picture: .png or .svg.
    #[arg(long)]
    pub out: PathBuf,
    /// At most this many points are drawn (evenly spaced rows).
    #[arg(long, default_value_t = 20_000)]
    pub max_points: usize,
}

/// Arguments of `gmm demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for model.json, data.npy-free outputs and fit.png (created if missing).
    #[arg(long, default_value = "gmm-demo")]
    pub out_dir: PathBuf,
    /// Number of points.
    #[arg(long, default_value_t = 1_000_000)]
    pub n: usize,
    /// Seed of the data and of the fit.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads.
    #[command(flatten)]
    pub threads: ThreadsFlag,
}
