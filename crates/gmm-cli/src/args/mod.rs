//! Command-line arguments (the contract of `docs/design.md` §3): every flag
//! declared once ([`flags`]: groups shared by the verbs through
//! `#[command(flatten)]`), the verbs' own arguments ([`verbs`]), and the one
//! place where raw values become typed settings ([`settings`]).

mod flags;
mod settings;
mod verbs;

pub use flags::{ColumnsFlag, EmFlags, ThreadsFlag};
pub use settings::{parse_components, parse_covariances, parse_init};
pub use verbs::*;

use clap::{Parser, Subcommand};

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
    /// Fit a mixture to a dataset (.npy, Parquet, Arrow) and write the model JSON.
    #[command(
        after_help = "Example:\n  gmm fit x.npy --components 3 --out model.json --report report.json\n  \
        gmm fit features.parquet -k 3 --columns a,b,c --animate fit.gif --out model.json\n  \
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
        gmm predict model.json x.npy --proba --out proba.npy\n  \
        gmm predict model.json features.parquet --out labels.parquet"
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
    /// parameters, writes the model JSON, a picture and an animation.
    #[command(after_help = "Example:\n  gmm demo\n  gmm demo --out-dir demo --n 100000")]
    Demo(DemoArgs),
    /// Describe a dataset: rows, columns (and their types), dtype, layout,
    /// whether it is read in place or decoded.
    #[command(after_help = "Example:\n  gmm info x.npy\n  gmm info features.parquet")]
    Info(InfoArgs),
    /// Convert between .npy, Parquet, Arrow and numeric CSV (by extension).
    #[command(
        after_help = "Example:\n  gmm convert data.csv data.npy\n  gmm convert data.tsv data.npy --delimiter tab --no-header\n  \
        gmm convert features.parquet x.npy --columns a,b,c\n  gmm convert x.npy x.arrow"
    )]
    Convert(ConvertArgs),
    /// Generate a seeded synthetic dataset (a benchmark workload) as .npy (or Parquet, Arrow).
    #[command(
        after_help = "Example:\n  gmm generate --preset seed2d --n 100000 --seed 1 --out x.npy"
    )]
    Generate(GenerateArgs),
}
