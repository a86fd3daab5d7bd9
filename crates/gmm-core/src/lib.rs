//! # gmm-core
//!
//! Gaussian mixture models fitted by expectation-maximisation: one fused,
//! parallel, deterministic pass over the data per iteration.
//!
//! A mixture of `K` Gaussians in `D` dimensions has density
//!
//! ```text
//! p(x) = sum_k w_k N(x | mu_k, Sigma_k)
//! ```
//!
//! Each EM iteration computes, in one pass over fixed-size chunks of rows
//! (in parallel with rayon), the log-densities through the Cholesky factors of
//! the precisions, the log-sum-exp-stabilised responsibilities, and the
//! sufficient statistics centred on the current means; the chunk statistics are
//! merged in a fixed order, so the result is bit-identical for any number of
//! threads. The M-step turns the statistics into the next parameters. No
//! `N x K` matrix is ever held during a fit. Semantics follow scikit-learn's
//! `GaussianMixture` (lower bound, `tol`, `reg_covar`, `n_init`).
//!
//! ```
//! use gmm_core::{DataView, GaussianMixtureParams, Preset};
//! let x = Preset::Seed2d.generate(Some(20_000), 1);
//! let data = DataView::new(&x, 20_000, 2).unwrap();
//! let fit = GaussianMixtureParams::new(3).seed(0).fit(data).unwrap();
//! let model = &fit.model;
//! assert_eq!(model.means().len(), 3 * 2);
//! assert!(fit.report.lower_bounds.windows(2).all(|w| w[1] >= w[0] - 1e-9));
//! let labels = model.predict(data).unwrap();
//! assert_eq!(labels.len(), 20_000);
//! ```
//!
//! Errors are values of [`Error`]; its message says what to do.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Index loops read like the formulas they implement (`S[a][b] += w[a] c[b]`).
#![allow(clippy::needless_range_loop)]

// Imports run one way (no cycle): the leaves `blocks`, `covariance`, `data`,
// `error` -> `distances` (the init's column kernel) and `kernel` (per-chunk
// math on plain slices) -> `stats` -> `estep`
// (passes over blocks) -> `mstep` (statistics -> parameters) -> `model` ->
// `init` (with `sample`, which imports only the leaves) -> `fit` -> `select`;
// `reference` and `synthetic` beside them.
mod blocks;
mod covariance;
mod data;
mod distances;
pub mod distributed;
mod error;
mod estep;
mod fit;
mod init;
mod kernel;
mod memory;
mod model;
mod mstep;
pub mod reference;
mod sample;
mod select;
mod stats;
mod synthetic;

pub use blocks::{BLOCK_ROWS, CHUNK_ROWS};
pub use covariance::CovarianceType;
pub use data::{ColumnView, Columns, DataView, Part, Piece, Rows, Scalar, Shards};
pub use error::{Error, ErrorKind, Result};
pub use fit::{
    DEFAULT_SEED, Fit, FitObserver, FitReport, GaussianMixtureParams, Init, InitMethod, InitPhase,
    IterationProgress, NoObserver, RestartReport, ValidParams,
};
pub use memory::{available_memory, human_bytes};
pub use model::{FitInfo, GaussianMixture};
pub use mstep::{Reseed, ReseedReason};
pub use select::{Candidate, Criterion, ModelSelection, Selection};
pub use stats::SufficientStats;
pub use synthetic::{Preset, fixed_init};
