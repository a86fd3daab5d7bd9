//! Fitting: hyper-parameters (a builder, checked once into [`ValidParams`]),
//! the observer that watches a fit, the EM loop and its report.
//!
//! ```text
//! for each restart r (seed derived from the user's seed and r):
//!     model <- init
//!     repeat: stats <- E-step(model); model <- M-step(stats)    (one pass over the data)
//!     until |lower bound - previous| < tol, max_iter, or the observer stops it
//! keep the restart with the best lower bound
//! ```

mod observer;
mod report;
mod run;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

pub use crate::init::InitPhase;
pub use observer::{FitObserver, IterationProgress, NoObserver};
pub use report::{Fit, FitReport, RestartReport};

use crate::covariance::CovarianceType;
use crate::data::{Rows, validate, validate_sample_weights};
use crate::error::{Error, ErrorKind, Result};
use crate::model::GaussianMixture;

/// How EM is started.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Init {
    /// k-means++ seeding, then Lloyd's algorithm; the initial model is the
    /// M-step from the k-means assignment (scikit-learn's default).
    #[default]
    KMeans,
    /// k-means++ seeding only: one-point components at the seeds.
    KMeansPlusPlus,
    /// One-point components at `K` rows drawn uniformly without replacement.
    RandomFromData,
    /// Uniform random responsibilities for every row.
    Random,
    /// Start from exactly these parameters (shapes must match the data and `K`).
    /// All restarts would be identical, so `n_init` is ignored.
    Given(GaussianMixture),
}

impl Init {
    /// The method, without the parameters of [`Init::Given`].
    pub fn method(&self) -> InitMethod {
        match self {
            Init::KMeans => InitMethod::KMeans,
            Init::KMeansPlusPlus => InitMethod::KMeansPlusPlus,
            Init::RandomFromData => InitMethod::RandomFromData,
            Init::Random => InitMethod::Random,
            Init::Given(_) => InitMethod::Given,
        }
    }

    /// The name used on the command line (`kmeans`, `k-means++`, ...).
    pub fn name(&self) -> &'static str {
        self.method().as_str()
    }
}

/// An initialisation method by name, as the report records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum InitMethod {
    /// k-means++ seeding, then Lloyd.
    #[serde(rename = "kmeans")]
    KMeans,
    /// k-means++ seeding only.
    #[serde(rename = "k-means++")]
    KMeansPlusPlus,
    /// `K` rows drawn uniformly.
    #[serde(rename = "random-from-data")]
    RandomFromData,
    /// Uniform random responsibilities.
    #[serde(rename = "random")]
    Random,
    /// Given parameters.
    #[serde(rename = "given")]
    Given,
}

impl InitMethod {
    /// The name used on the command line and in the report (`"kmeans"`,
    /// `"k-means++"`, `"random-from-data"`, `"random"`, `"given"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            InitMethod::KMeans => "kmeans",
            InitMethod::KMeansPlusPlus => "k-means++",
            InitMethod::RandomFromData => "random-from-data",
            InitMethod::Random => "random",
            InitMethod::Given => "given",
        }
    }
}

impl fmt::Display for InitMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InitMethod {
    type Err = Error;

    /// Parses a method name (not `"given"`: given parameters come from a model).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "kmeans" => InitMethod::KMeans,
            "k-means++" => InitMethod::KMeansPlusPlus,
            "random-from-data" => InitMethod::RandomFromData,
            "random" => InitMethod::Random,
            _ => {
                return Err(Error::invalid(
                    "init",
                    s,
                    "one of kmeans, k-means++, random-from-data, random",
                ));
            }
        })
    }
}

impl From<InitMethod> for Option<Init> {
    /// The [`Init`] of a method (`None` for [`InitMethod::Given`], which needs
    /// parameters).
    fn from(m: InitMethod) -> Self {
        Some(match m {
            InitMethod::KMeans => Init::KMeans,
            InitMethod::KMeansPlusPlus => Init::KMeansPlusPlus,
            InitMethod::RandomFromData => Init::RandomFromData,
            InitMethod::Random => Init::Random,
            InitMethod::Given => return None,
        })
    }
}

/// Hyper-parameters of a Gaussian mixture fit (builder; scikit-learn's
/// `GaussianMixture` defaults).
///
/// ```
/// use gmm_core::{DataView, GaussianMixtureParams};
/// // Two well-separated groups of points on a line.
/// let x: Vec<f64> = (0..200).map(|i| if i < 100 { i as f64 * 0.01 } else { 10.0 + i as f64 * 0.01 }).collect();
/// let data = DataView::new(&x, 200, 1).unwrap();
/// let fit = GaussianMixtureParams::new(2).seed(7).fit(data).unwrap();
/// let mut means = fit.model.means().to_vec();
/// means.sort_by(f64::total_cmp);
/// assert!((means[0] - 0.495).abs() < 1e-6 && (means[1] - 11.495).abs() < 1e-6);
/// assert!(fit.report.converged);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtureParams {
    n_components: usize,
    covariance_type: CovarianceType,
    init: Init,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    reg_covar: f64,
    seed: u64,
    reseed_collapsed: bool,
    start_lower_bound: f64,
}

/// The default seed: fixed, so two identical runs give identical models.
pub const DEFAULT_SEED: u64 = 0;

impl GaussianMixtureParams {
    /// Parameters for `n_components` components and the defaults: full
    /// covariances, k-means init, 1 restart, 100 iterations, `tol = 1e-3`,
    /// `reg_covar = 1e-6`, seed [`DEFAULT_SEED`].
    pub fn new(n_components: usize) -> Self {
        Self {
            n_components,
            covariance_type: CovarianceType::Full,
            init: Init::KMeans,
            n_init: 1,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            seed: DEFAULT_SEED,
            reseed_collapsed: false,
            start_lower_bound: f64::NEG_INFINITY,
        }
    }

    /// Covariance structure.
    pub fn covariance_type(mut self, covariance_type: CovarianceType) -> Self {
        self.covariance_type = covariance_type;
        self
    }

    /// Initialisation method.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Number of restarts (each with its own derived seed); the one with the
    /// best final lower bound is kept.
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Maximum EM iterations per restart (`0` only initialises).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Convergence threshold on the change of the lower bound (mean
    /// log-likelihood per sample) between iterations; `0` runs `max_iter`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Non-negative value added to every covariance diagonal.
    pub fn reg_covar(mut self, reg_covar: f64) -> Self {
        self.reg_covar = reg_covar;
        self
    }

    /// Seed of every random choice.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The initialisation method.
    pub fn init_method(&self) -> &Init {
        &self.init
    }

    pub(crate) fn with_components(mut self, n_components: usize) -> Self {
        self.n_components = n_components;
        self
    }

    /// Opt-in recovery of collapsed components (default off: scikit-learn's
    /// behaviour, where `reg_covar` keeps an empty component finite and a
    /// singular covariance is an error naming the component).
    ///
    /// When on, after each E-step a component holding less than one row's
    /// worth of responsibility (`N_k` below the mean row weight), or whose
    /// new covariance is not positive definite, is re-seeded at the row with
    /// the lowest log-likelihood under the current model (the next lowest for
    /// a second component...): its mean becomes that row, its covariance the
    /// average variance of the healthy components (diagonal), its weight
    /// `1/K` before renormalising. Each event is listed in
    /// [`FitReport::reseeds`]; an iteration that re-seeds never counts as
    /// converged. A singular tied covariance cannot be fixed this way and
    /// stays an error.
    pub fn reseed_collapsed(mut self, on: bool) -> Self {
        self.reseed_collapsed = on;
        self
    }

    /// The lower bound the given initial model ([`Init::Given`]) reached in
    /// the fit it comes from: the first iteration's change is measured from
    /// it, so a warm start that changes the lower bound by less than `tol`
    /// converges at once, as scikit-learn's `warm_start` does. Default
    /// `-inf` (the first iteration never converges); ignored for the other
    /// initialisations.
    pub fn start_lower_bound(mut self, lower_bound: f64) -> Self {
        self.start_lower_bound = lower_bound;
        self
    }

    /// `K`.
    pub fn n_components(&self) -> usize {
        self.n_components
    }

    /// Checks the hyper-parameters on their own (linfa's `ParamGuard`): `K`
    /// and `n_init` at least 1, `tol` and `reg_covar` finite and `>= 0`.
    /// Every `fit` runs it; the data are checked against the result once per
    /// call.
    pub fn check(&self) -> Result<ValidParams<'_>> {
        if self.n_components == 0 {
            return Err(Error::invalid("n_components", 0, "at least 1"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(Error::invalid("tol", self.tol, "a finite number >= 0"));
        }
        Error::check_reg_covar(self.reg_covar)?;
        if self.n_init == 0 {
            return Err(Error::invalid("n_init", 0, "at least 1"));
        }
        Ok(ValidParams(self))
    }
}

/// Hyper-parameters that passed [`GaussianMixtureParams::check`].
#[derive(Debug, Clone, Copy)]
pub struct ValidParams<'a>(&'a GaussianMixtureParams);

impl std::ops::Deref for ValidParams<'_> {
    type Target = GaussianMixtureParams;
    fn deref(&self) -> &GaussianMixtureParams {
        self.0
    }
}

impl ValidParams<'_> {
    /// Checks `data` (and the initial model, if given) against the
    /// parameters, scanning the data once; the data must not be scanned again.
    ///
    /// In a spread fit each process checks the rows it holds, and all fail
    /// with the first failing process's error.
    fn check_data<D: Rows>(&self, data: &D) -> Result<()> {
        let local = self
            .check_memory(data)
            .and_then(|()| validate(data))
            .and_then(|()| self.check_shape(data));
        data.scope().agree(local)
    }

    /// Refuses a fit whose working set exceeds the memory available.
    fn check_memory<D: Rows>(&self, data: &D) -> Result<()> {
        crate::memory::check_fit_memory(
            self.covariance_type,
            self.n_components,
            data.n_features(),
            data.n_samples(),
        )
    }

    /// The shape checks of [`ValidParams::check_data`], for data already
    /// scanned for non-finite values.
    pub(crate) fn check_shape<D: Rows>(&self, data: &D) -> Result<()> {
        self.check_memory(data)?;
        if data.n_samples() < self.n_components {
            return Err(ErrorKind::TooFewSamples {
                n_samples: data.n_samples(),
                n_components: self.n_components,
            }
            .into());
        }
        if let Init::Given(m) = &self.init {
            if m.n_components() != self.n_components {
                return Err(Error::dimension(
                    "components of the initial model vs. n_components",
                    self.n_components,
                    m.n_components(),
                ));
            }
            if m.n_features() != data.n_features() {
                return Err(Error::dimension(
                    "features of the initial model vs. data columns",
                    data.n_features(),
                    m.n_features(),
                ));
            }
            if m.covariance_type() != self.covariance_type {
                return Err(ErrorKind::Unsupported {
                    what: format!(
                        "the initial model has covariance type '{}' but the fit asks for '{}': \
                         use the same type",
                        m.covariance_type(),
                        self.covariance_type
                    ),
                }
                .into());
            }
        }
        Ok(())
    }
}

impl GaussianMixtureParams {
    /// Fits the mixture to `data` (`f64` or `f32` rows).
    ///
    /// `data` is any [`Rows`]: a [`crate::DataView`] (by value), or
    /// [`crate::Shards`] (by reference).
    pub fn fit<D: Rows>(&self, data: D) -> Result<Fit> {
        self.fit_with_observer(data, &mut NoObserver)
    }

    /// Fits, calling `observer` after every iteration (it may stop the fit).
    pub fn fit_with_observer<D: Rows>(
        &self,
        data: D,
        observer: &mut dyn FitObserver,
    ) -> Result<Fit> {
        self.fit_impl(data, None, observer)
    }

    /// Fits with one non-negative weight per row: a row of weight `w` counts
    /// as `w` rows in `N_k`, the means, the covariances, the lower bound (the
    /// weighted mean log-likelihood) and the initialisation (weighted
    /// k-means++ and Lloyd; `random-from-data` draws rows in proportion to
    /// their weight). Integer weights give the fit on the data with rows
    /// repeated, to rounding.
    ///
    /// ```
    /// use gmm_core::{DataView, GaussianMixtureParams};
    /// let x = [0.0, 0.1, 0.2, 5.0, 5.1, 5.3];
    /// let w = [1.0, 2.0, 1.0, 0.5, 3.0, 1.0];
    /// let fit = GaussianMixtureParams::new(2)
    ///     .fit_weighted(DataView::new(&x, 6, 1).unwrap(), &w)
    ///     .unwrap();
    /// assert!((fit.model.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    /// ```
    ///
    /// Weights of the wrong length, negative, not finite, all zero, or fewer
    /// positive than `n_components` are an [`ErrorKind::InvalidSampleWeights`].
    pub fn fit_weighted<D: Rows>(&self, data: D, weights: &[f64]) -> Result<Fit> {
        self.fit_weighted_with_observer(data, weights, &mut NoObserver)
    }

    /// [`GaussianMixtureParams::fit_weighted`] with an observer.
    pub fn fit_weighted_with_observer<D: Rows>(
        &self,
        data: D,
        weights: &[f64],
        observer: &mut dyn FitObserver,
    ) -> Result<Fit> {
        self.fit_impl(data, Some(weights), observer)
    }

    /// The initial model that restart `restart` of [`fit`](Self::fit) (or
    /// of [`fit_weighted`](Self::fit_weighted) with the same `weights`)
    /// starts its EM iterations from: the same data checks, the same
    /// derived seed, the same bits. For fits driven from outside (statistics
    /// of shards merged by a scheduler, then [`GaussianMixture::m_step`]),
    /// which may also initialise on a sample of the rows.
    ///
    /// ```
    /// use gmm_core::{DataView, GaussianMixtureParams};
    /// let x: Vec<f64> = (0..400).map(|i| (i % 2) as f64 * 10.0 + (i as f64 * 0.37).sin()).collect();
    /// let data = DataView::new(&x, 200, 2).unwrap();
    /// let params = GaussianMixtureParams::new(2).seed(3).max_iter(0);
    /// let start = params.initial_model(data, None, 0).unwrap();
    /// assert_eq!(start.means(), params.fit(data).unwrap().model.means());
    /// ```
    pub fn initial_model<D: Rows>(
        &self,
        data: D,
        weights: Option<&[f64]>,
        restart: usize,
    ) -> Result<GaussianMixture> {
        self.initial_model_with_observer(data, weights, restart, &mut NoObserver)
    }

    /// [`initial_model`](Self::initial_model) watched by `observer` (its
    /// `on_init_progress` and `stop_requested`; a stop is an
    /// [`ErrorKind::Interrupted`]).
    pub fn initial_model_with_observer<D: Rows>(
        &self,
        data: D,
        weights: Option<&[f64]>,
        restart: usize,
        observer: &mut dyn FitObserver,
    ) -> Result<GaussianMixture> {
        let valid = self.check()?;
        valid.check_data(&data)?;
        let scaled;
        let mut weights = weights;
        if let Some(w) = weights {
            validate_sample_weights(w, data.n_samples(), self.n_components)?;
            if let Some(s) = scaled_to_unit_mean(w) {
                scaled = s;
                weights = Some(&scaled);
            }
        }
        let seed = crate::blocks::derive_seed(self.seed, restart as u64);
        let model = valid.initial_model(&data, weights, seed, &mut |phase, done, total| {
            observer.on_init_progress(restart, phase, done, total);
            if data.scope().any(observer.stop_requested()) {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        model.ok_or_else(|| ErrorKind::Interrupted.into())
    }

    fn fit_impl<D: Rows>(
        &self,
        data: D,
        weights: Option<&[f64]>,
        observer: &mut dyn FitObserver,
    ) -> Result<Fit> {
        let valid = self.check()?;
        valid.check_data(&data)?;
        if let Some(w) = weights {
            validate_sample_weights(w, data.n_samples(), self.n_components)?;
            if let Some(scaled) = scaled_to_unit_mean(w) {
                return valid.fit_checked(&data, Some(&scaled), observer);
            }
        }
        valid.fit_checked(&data, weights, observer)
    }
}

/// `weights` times the power of two that brings their mean into `[1, 2)`, or
/// `None` when it is there already. The fit depends on the weights only
/// through their ratios, except for absolute floors (the `10 eps` added to
/// every `N_k`, as scikit-learn does): scaling makes those floors act alike
/// for `w` and `c w`, so that both give the same model (to rounding), and
/// being a power of two it changes no bit of weights already near 1.
fn scaled_to_unit_mean(weights: &[f64]) -> Option<Vec<f64>> {
    let max = weights.iter().fold(0.0f64, |m, &w| m.max(w));
    if max <= 0.0 || weights.is_empty() {
        return None;
    }
    // The mean as max * (mean of w / max): no overflow for any finite weights.
    let relative = weights.iter().map(|w| w / max).sum::<f64>() / weights.len() as f64;
    let log2_mean = max.log2() + relative.log2();
    let e = -(log2_mean.floor() as i32);
    if e == 0 {
        return None;
    }
    // 2^e in two factors, each a normal double, for |e| up to about 2100.
    let (e1, e2) = (e / 2, e - e / 2);
    let (s1, s2) = (2f64.powi(e1), 2f64.powi(e2));
    Some(weights.iter().map(|w| w * s1 * s2).collect())
}

#[cfg(test)]
mod weight_scale_tests {
    use super::scaled_to_unit_mean;

    #[test]
    fn weights_are_brought_to_a_mean_near_one_by_a_power_of_two() {
        assert_eq!(scaled_to_unit_mean(&[1.0, 1.5, 1.2]), None);
        for c in [1e-300, 1e-20, 3.0, 1e20, 1e300] {
            let w = [c, 2.0 * c, 0.0, 0.5 * c];
            let s = scaled_to_unit_mean(&w).unwrap_or(w.to_vec());
            let mean = s.iter().sum::<f64>() / 4.0;
            assert!((1.0..2.0).contains(&mean), "{c}: {mean}");
            // Ratios exactly kept.
            assert_eq!(s[1] / s[0], 2.0);
            assert_eq!(s[3] / s[0], 0.5);
            assert_eq!(s[2], 0.0);
        }
    }
}
