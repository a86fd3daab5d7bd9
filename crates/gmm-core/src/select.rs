//! Model selection: fit a range of component counts (and covariance types)
//! and pick the best by an information criterion.
//!
//! ```
//! use gmm_core::{Criterion, DataView, ModelSelection, Preset};
//! let x = Preset::Seed2d.generate(Some(3000), 1);
//! let data = DataView::new(&x, 3000, 2).unwrap();
//! let sel = ModelSelection::new(1..=4).criterion(Criterion::Bic).fit(data).unwrap();
//! for c in &sel.candidates {
//!     println!("K={} {}: BIC {:.1}", c.n_components, c.covariance_type, c.bic);
//! }
//! assert_eq!(sel.best().n_components, 3); // the seeds' data has three clusters
//! ```

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;
use serde::Serialize;

use crate::blocks::BLOCK_ROWS;
use crate::covariance::CovarianceType;
use crate::data::{Rows, validate};
use crate::error::{Error, Result};
use crate::fit::{FitReport, GaussianMixtureParams, Init, NoObserver, ValidParams};
use crate::model::GaussianMixture;

/// The information criterion a selection minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Criterion {
    /// Bayesian information criterion, `-2 log L + p ln N` (the default).
    #[default]
    Bic,
    /// Akaike information criterion, `-2 log L + 2 p`.
    Aic,
}

impl Criterion {
    /// `"bic"` or `"aic"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Criterion::Bic => "bic",
            Criterion::Aic => "aic",
        }
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Criterion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bic" => Ok(Criterion::Bic),
            "aic" => Ok(Criterion::Aic),
            other => Err(Error::invalid(
                "criterion",
                format!("'{other}'"),
                "bic or aic",
            )),
        }
    }
}

/// One fitted candidate of a selection.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// `K`.
    pub n_components: usize,
    /// The covariance type.
    pub covariance_type: CovarianceType,
    /// Mean log-likelihood per row of the fitted model on the data
    /// (scikit-learn's `score`).
    pub mean_log_likelihood: f64,
    /// BIC of the fitted model on the data.
    pub bic: f64,
    /// AIC of the fitted model on the data.
    pub aic: f64,
    /// Free parameters of the model.
    pub n_parameters: usize,
    /// The fit's report (iterations, convergence, timings...).
    pub report: FitReport,
    /// The fitted model.
    #[serde(skip)]
    pub model: GaussianMixture,
}

impl Candidate {
    /// The value of `criterion` for this candidate.
    pub fn criterion(&self, criterion: Criterion) -> f64 {
        match criterion {
            Criterion::Bic => self.bic,
            Criterion::Aic => self.aic,
        }
    }
}

/// The result of [`ModelSelection::fit`]: every candidate, and the best one.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// The criterion minimised.
    pub criterion: Criterion,
    /// Candidates in the order fitted: component counts in the order given,
    /// each with every covariance type in the order given.
    pub candidates: Vec<Candidate>,
    /// Index of the best candidate: the lowest criterion (ties: the first).
    pub best: usize,
}

impl Selection {
    /// The best candidate.
    pub fn best(&self) -> &Candidate {
        &self.candidates[self.best]
    }
}

/// Fits every combination of component counts and covariance types with the
/// same settings (seed, restarts, tolerances...) and keeps the one with the
/// lowest information criterion.
///
/// When the data is small enough that one fit's chunks would leave threads
/// idle (fewer blocks of rows than threads), candidates are fitted in
/// parallel; each fit is deterministic, so the result is the same either way.
#[derive(Debug, Clone)]
pub struct ModelSelection {
    components: Vec<usize>,
    covariance_types: Vec<CovarianceType>,
    criterion: Criterion,
    params: GaussianMixtureParams,
}

impl ModelSelection {
    /// Candidates with these component counts, full covariances, BIC, and
    /// the defaults of [`GaussianMixtureParams`].
    pub fn new(components: impl IntoIterator<Item = usize>) -> Self {
        Self {
            components: components.into_iter().collect(),
            covariance_types: vec![CovarianceType::Full],
            criterion: Criterion::Bic,
            params: GaussianMixtureParams::new(1),
        }
    }

    /// The covariance types to try for every component count.
    pub fn covariance_types(mut self, types: impl IntoIterator<Item = CovarianceType>) -> Self {
        self.covariance_types = types.into_iter().collect();
        self
    }

    /// The criterion to minimise.
    pub fn criterion(mut self, criterion: Criterion) -> Self {
        self.criterion = criterion;
        self
    }

    /// Settings of every fit (their `n_components` and covariance type are
    /// replaced per candidate; the initialisation must be a method, not
    /// given parameters).
    pub fn params(mut self, params: GaussianMixtureParams) -> Self {
        self.params = params;
        self
    }

    /// Fits every candidate and picks the best.
    pub fn fit<D: Rows>(&self, data: D) -> Result<Selection> {
        if self.components.is_empty() {
            return Err(Error::invalid(
                "components",
                "an empty list",
                "at least one component count",
            ));
        }
        if self.covariance_types.is_empty() {
            return Err(Error::invalid(
                "covariance_types",
                "an empty list",
                "at least one covariance type",
            ));
        }
        if matches!(self.params.init_method(), Init::Given(_)) {
            return Err(Error::invalid(
                "init",
                "given parameters",
                "an initialisation method (kmeans, k-means++, random-from-data, random): \
                 the candidates have different numbers of components",
            ));
        }
        validate(&data)?;
        let jobs: Vec<(usize, CovarianceType)> = self
            .components
            .iter()
            .flat_map(|&k| self.covariance_types.iter().map(move |&t| (k, t)))
            .collect();
        // Every candidate is checked (K against the rows, memory...) before
        // the first fit, so that a bad one fails at once rather than after
        // the others' work. The data were scanned once above: shapes only.
        let params: Vec<GaussianMixtureParams> = jobs
            .iter()
            .map(|&(k, ct)| self.params.clone().with_components(k).covariance_type(ct))
            .collect();
        let valid = params
            .iter()
            .map(|p| {
                let valid = p.check()?;
                valid.check_shape(&data)?;
                Ok(valid)
            })
            .collect::<Result<Vec<_>>>()?;
        let fit_one =
            |(&(k, ct), valid): (&(usize, CovarianceType), &ValidParams)| -> Result<Candidate> {
                let fit = valid.fit_checked(&data, None, &mut NoObserver)?;
                let n = data.n_samples() as f64;
                let score = fit.model.score_checked(&data);
                let p = fit.model.n_parameters();
                Ok(Candidate {
                    n_components: k,
                    covariance_type: ct,
                    mean_log_likelihood: score,
                    bic: -2.0 * score * n + p as f64 * n.ln(),
                    aic: -2.0 * score * n + 2.0 * p as f64,
                    n_parameters: p,
                    report: fit.report,
                    model: fit.model,
                })
            };
        let small = data.n_samples().div_ceil(BLOCK_ROWS) < rayon::current_num_threads();
        let results: Vec<Result<Candidate>> = if small {
            jobs.par_iter().zip(&valid).map(fit_one).collect()
        } else {
            jobs.iter().zip(&valid).map(fit_one).collect()
        };
        let candidates = results.into_iter().collect::<Result<Vec<_>>>()?;
        let mut best = 0;
        for (i, c) in candidates.iter().enumerate() {
            if c.criterion(self.criterion) < candidates[best].criterion(self.criterion) {
                best = i;
            }
        }
        Ok(Selection {
            criterion: self.criterion,
            candidates,
            best,
        })
    }
}
