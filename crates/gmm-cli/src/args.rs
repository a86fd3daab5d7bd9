//! Command-line arguments (the contract of DESIGN.md §3).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Fit Gaussian mixture models by expectation-maximisation, fast and
/// deterministically on many cores.
#[derive(Debug, Parser)]
#[command(name = "gmm", version, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a mixture to a .npy dataset and write the model JSON.
    #[command(
        after_help = "Example:\n  gmm fit x.npy --components 3 --out model.json --report report.json\n  \
        gmm fit x.npy --components 3 --init start.json --tol 0 --max-iter 50 --out model.json"
    )]
    Fit(FitArgs),
    /// Fit a range of component counts (and covariance types), print the
    /// log-likelihood, BIC and AIC of each, and mark the best.
    #[command(after_help = "Example:\n  gmm select x.npy --components 1..10\n  \
        gmm select x.npy --components 2,4,8 --covariance all --criterion aic --out best.json")]
    Select(SelectArgs),
    /// Assign each row to its most probable component (int64 labels), or
    /// write the responsibilities (float64, N x K) with --proba.
    #[command(
        after_help = "Example:\n  gmm predict model.json x.npy --out labels.npy\n  \
        gmm predict model.json x.npy --proba --out proba.npy"
    )]
    Predict(PredictArgs),
    /// Mean log-likelihood per row of the data under a model; --json adds BIC, AIC and n_samples.
    #[command(
        after_help = "Example:\n  gmm score model.json x.npy\n  gmm score model.json x.npy --json"
    )]
    Score(ScoreArgs),
    /// Draw rows from a model (float64, N x D), seeded.
    #[command(
        after_help = "Example:\n  gmm sample model.json --n 1000 --seed 3 --out x.npy --labels z.npy"
    )]
    Sample(SampleArgs),
    /// Draw a model over its data: points coloured by responsibilities, 1, 2
    /// and 3 sigma ellipses, means (PCA projection when D > 2).
    #[command(
        after_help = "Example:\n  gmm plot model.json x.npy --out fit.png\n  gmm plot model.json x.npy --out fit.svg"
    )]
    Plot(PlotArgs),
    /// The main job on its embedded default: the seeds' three-cluster data
    /// (1,000,000 points), fitted with K = 3; prints true against fitted
    /// parameters, writes the model JSON and a picture.
    #[command(after_help = "Example:\n  gmm demo\n  gmm demo --out-dir demo --n 100000")]
    Demo(DemoArgs),
    /// Describe a .npy dataset: rows, columns, dtype, byte order, layout, whether it is mapped or copied.
    #[command(after_help = "Example:\n  gmm info x.npy")]
    Info(InfoArgs),
    /// Convert a numeric CSV file to a float64 .npy file.
    #[command(
        after_help = "Example:\n  gmm convert data.csv data.npy\n  gmm convert data.tsv data.npy --delimiter tab --no-header"
    )]
    Convert(ConvertArgs),
    /// Generate a seeded synthetic dataset (a benchmark workload) as .npy.
    #[command(
        after_help = "Example:\n  gmm generate --preset seed2d --n 100000 --seed 1 --out x.npy"
    )]
    Generate(GenerateArgs),
}

/// Arguments of `gmm fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The data: a .npy file (rows x features; float64/float32 read in place,
    /// other layouts converted) or a directory of .npy shards.
    pub data: PathBuf,
    /// Number of mixture components K.
    #[arg(long, short = 'k')]
    pub components: usize,
    /// Covariance structure: full, tied, diag or spherical [default: full, or
    /// the type of the --init model file].
    #[arg(long)]
    pub covariance: Option<String>,
    /// Initialisation: kmeans, k-means++, random-from-data, random, or a model
    /// JSON file to start from (weights, means, covariances are enough).
    #[arg(long, default_value = "kmeans")]
    pub init: String,
    /// Number of restarts; the best lower bound is kept.
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
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
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
    /// Print nothing on standard error but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Arguments of `gmm generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Workload: seed2d, small, mid, wide or tall.
    #[arg(long)]
    pub preset: String,
    /// Rows (default: the workload's).
    #[arg(long)]
    pub n: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output .npy file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `gmm info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The .npy file or directory of shards.
    pub data: PathBuf,
}

/// Arguments of `gmm convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input CSV file.
    pub input: PathBuf,
    /// Output .npy file (float64).
    pub output: PathBuf,
    /// The first line is data, not a header (default: detected; a header is a
    /// first line with a non-numeric cell).
    #[arg(long, conflicts_with = "header")]
    pub no_header: bool,
    /// The first line is a header even if it looks numeric.
    #[arg(long)]
    pub header: bool,
    /// Field delimiter: one character, or `tab`.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
}

/// Arguments of `gmm select`.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// The data: a .npy file or a directory of .npy shards.
    pub data: PathBuf,
    /// Component counts: a range `1..10` (inclusive), a list `2,4,8`, or one number.
    #[arg(long, short = 'k', default_value = "1..10")]
    pub components: String,
    /// Covariance types: a list such as `full,diag`, or `all`.
    #[arg(long, default_value = "full")]
    pub covariance: String,
    /// The criterion to minimise: bic or aic.
    #[arg(long, default_value = "bic")]
    pub criterion: String,
    /// Initialisation method of every fit: kmeans, k-means++, random-from-data or random.
    #[arg(long, default_value = "kmeans")]
    pub init: String,
    /// Restarts per candidate; the best lower bound is kept.
    #[arg(long, default_value_t = 1)]
    pub n_init: usize,
    /// Maximum EM iterations per fit.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    pub max_iter: usize,
    /// Convergence tolerance on the mean log-likelihood.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub tol: f64,
    /// Added to every covariance diagonal.
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    pub reg_covar: f64,
    /// Seed of all random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
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
    /// The data: a .npy file or a directory of .npy shards.
    pub data: PathBuf,
    /// Write the responsibilities (N x K float64) instead of labels.
    #[arg(long)]
    pub proba: bool,
    /// Output .npy file.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// Arguments of `gmm score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model JSON.
    pub model: PathBuf,
    /// The data: a .npy file or a directory of .npy shards.
    pub data: PathBuf,
    /// Print {"mean_log_likelihood", "bic", "aic", "n_samples"} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
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
    /// The data: a .npy file or a directory of .npy shards.
    pub data: PathBuf,
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
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}
