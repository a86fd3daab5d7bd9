//! What a fit returns: the model and the report of how it was reached.

use serde::Serialize;

use super::InitMethod;
use crate::covariance::CovarianceType;
use crate::model::GaussianMixture;
use crate::mstep::Reseed;

/// Summary of one restart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestartReport {
    /// The derived seed this restart used.
    pub seed: u64,
    /// EM iterations run.
    pub n_iter: usize,
    /// Whether it met the tolerance.
    pub converged: bool,
    /// Its final lower bound.
    pub lower_bound: f64,
}

/// What happened during a fit. Serialises to the `--report` JSON of the CLI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// Iterations of the kept restart.
    pub n_iter: usize,
    /// Whether the kept restart converged.
    pub converged: bool,
    /// Lower bound of the kept restart's last iteration (`-inf` if it ran none).
    pub lower_bound: f64,
    /// Lower bound of each iteration of the kept restart.
    pub lower_bounds: Vec<f64>,
    /// Wall-clock seconds of the whole fit (all restarts).
    pub fit_seconds: f64,
    /// Seconds of each iteration of the kept restart.
    pub iteration_seconds: Vec<f64>,
    /// Seconds of the kept restart's initialisation.
    pub init_seconds: f64,
    /// Rows of the data.
    pub n_samples: usize,
    /// Columns of the data.
    pub n_features: usize,
    /// `K`.
    pub n_components: usize,
    /// Covariance structure (serialised by its command-line name).
    pub covariance_type: CovarianceType,
    /// Initialisation method (serialised by its command-line name).
    pub init: InitMethod,
    /// Threads of the rayon pool the fit ran in.
    pub threads: usize,
    /// Index of the kept restart.
    pub best_restart: usize,
    /// Every restart run.
    pub restarts: Vec<RestartReport>,
    /// True if an observer stopped the fit early.
    pub stopped: bool,
    /// Components re-seeded in the kept restart (only with
    /// [`GaussianMixtureParams::reseed_collapsed`]).
    pub reseeds: Vec<Reseed>,
}

/// A fitted model and the report of its fit.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The model of the restart with the best lower bound.
    pub model: GaussianMixture,
    /// What happened.
    pub report: FitReport,
}
