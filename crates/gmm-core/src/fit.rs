//! The EM driver: parameters, restarts, the iteration loop and its report.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::Serialize;

use crate::covariance::CovarianceType;
use crate::data::Scalar;
use crate::data::{Rows, validate, validate_sample_weights};
use crate::error::{Error, ErrorKind, Result};
use crate::init;
use crate::model::{FitInfo, GaussianMixture, Parameters, m_step_from, m_step_parameters};
use crate::stats::SufficientStats;
use crate::stats::e_step;

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
    /// The name used on the command line (`kmeans`, `k-means++`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Init::KMeans => "kmeans",
            Init::KMeansPlusPlus => "k-means++",
            Init::RandomFromData => "random-from-data",
            Init::Random => "random",
            Init::Given(_) => "given",
        }
    }
}

/// Progress of one EM iteration, handed to a [`FitObserver`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationProgress {
    /// Zero-based restart.
    pub restart: usize,
    /// Number of restarts.
    pub n_init: usize,
    /// One-based iteration within the restart.
    pub iteration: usize,
    /// Maximum iterations.
    pub max_iter: usize,
    /// Lower bound (mean log-likelihood) of this iteration.
    pub lower_bound: f64,
    /// Change from the previous iteration (`+inf` at the first).
    pub change: f64,
    /// Seconds this iteration took.
    pub seconds: f64,
}

/// Watches a fit, and can stop it.
///
/// `on_iteration` is called after every EM iteration; returning
/// `ControlFlow::Break(())` stops the fit after that iteration: the best model
/// so far is returned with `converged = false` and [`FitReport::stopped`] set.
/// A closure `FnMut(&IterationProgress) -> ControlFlow<()>` is an observer.
pub trait FitObserver {
    /// A restart begins (before its initialisation).
    fn on_restart(&mut self, _restart: usize, _n_init: usize) {}
    /// Progress of the restart's initialisation: `_done` of at most `_total`
    /// steps of `_phase` (`"k-means++"`: centres chosen; `"lloyd"`: Lloyd
    /// iterations, which may stop before `_total` when they converge).
    fn on_init_progress(&mut self, _restart: usize, _phase: &str, _done: usize, _total: usize) {}
    /// The restart's initialisation finished after `_seconds`.
    fn on_initialised(&mut self, _restart: usize, _seconds: f64) {}
    /// An EM iteration finished.
    fn on_iteration(&mut self, progress: &IterationProgress) -> ControlFlow<()>;
}

impl<F: FnMut(&IterationProgress) -> ControlFlow<()>> FitObserver for F {
    fn on_iteration(&mut self, progress: &IterationProgress) -> ControlFlow<()> {
        self(progress)
    }
}

/// An observer that watches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl FitObserver for NoObserver {
    fn on_iteration(&mut self, _: &IterationProgress) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

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
    /// Covariance structure, as named on the command line.
    pub covariance_type: String,
    /// Initialisation method.
    pub init: String,
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

/// A collapsed component re-seeded during EM (see
/// [`GaussianMixtureParams::reseed_collapsed`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reseed {
    /// Iteration (1-based) whose M-step re-seeded the component.
    pub iteration: usize,
    /// The component.
    pub component: usize,
    /// The row it was re-seeded at: the row with the lowest log-likelihood
    /// under that iteration's model not already used.
    pub row: u64,
    /// `"empty"` (less than one row's worth of responsibility) or
    /// `"singular"` (its covariance was not positive definite).
    pub reason: &'static str,
}

/// A fitted model and the report of its fit.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The model of the restart with the best lower bound.
    pub model: GaussianMixture,
    /// What happened.
    pub report: FitReport,
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

    /// `K`.
    pub fn n_components(&self) -> usize {
        self.n_components
    }

    fn validate<D: Rows>(&self, data: &D) -> Result<()> {
        if self.n_components == 0 {
            return Err(Error::invalid("n_components", 0, "at least 1"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(Error::invalid("tol", self.tol, "a finite number >= 0"));
        }
        if !(self.reg_covar >= 0.0 && self.reg_covar.is_finite()) {
            return Err(Error::invalid(
                "reg_covar",
                self.reg_covar,
                "a finite number >= 0",
            ));
        }
        if self.n_init == 0 {
            return Err(Error::invalid("n_init", 0, "at least 1"));
        }
        validate(data)?;
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

    fn fit_impl<D: Rows>(
        &self,
        data: D,
        weights: Option<&[f64]>,
        observer: &mut dyn FitObserver,
    ) -> Result<Fit> {
        self.validate(&data)?;
        if let Some(w) = weights {
            validate_sample_weights(w, data.n_samples(), self.n_components)?;
        }
        let start = Instant::now();
        let n_init = if matches!(self.init, Init::Given(_)) {
            1
        } else {
            self.n_init
        };
        let mut best: Option<(GaussianMixture, Run)> = None;
        let mut restarts = Vec::with_capacity(n_init);
        let mut best_restart = 0;
        let mut stopped = false;
        for restart in 0..n_init {
            let seed = init::derive_seed(self.seed, restart as u64);
            observer.on_restart(restart, n_init);
            let (model, run) = self.run(&data, weights, seed, restart, n_init, observer)?;
            restarts.push(RestartReport {
                seed,
                n_iter: run.lower_bounds.len(),
                converged: run.converged,
                lower_bound: run.lower_bound,
            });
            let better = match &best {
                None => true,
                Some((_, b)) => run.lower_bound > b.lower_bound,
            };
            stopped = run.stopped;
            if better {
                best_restart = restart;
                best = Some((model, run));
            }
            if stopped {
                break;
            }
        }
        let (model, run) = best.expect("at least one restart ran");
        let model = model.with_fit_info(FitInfo {
            converged: run.converged,
            n_iter: run.lower_bounds.len(),
            lower_bound: run.lower_bound,
        });
        let report = FitReport {
            n_iter: run.lower_bounds.len(),
            converged: run.converged,
            lower_bound: run.lower_bound,
            lower_bounds: run.lower_bounds,
            fit_seconds: start.elapsed().as_secs_f64(),
            iteration_seconds: run.iteration_seconds,
            init_seconds: run.init_seconds,
            n_samples: data.n_samples(),
            n_features: data.n_features(),
            n_components: self.n_components,
            covariance_type: self.covariance_type.to_string(),
            init: self.init.name().to_string(),
            threads: rayon::current_num_threads(),
            best_restart,
            restarts,
            stopped,
            reseeds: run.reseeds,
        };
        Ok(Fit { model, report })
    }

    fn initial_model<D: Rows>(
        &self,
        data: &D,
        weights: Option<&[f64]>,
        seed: u64,
        progress: &mut dyn FnMut(&str, usize, usize),
    ) -> Result<GaussianMixture> {
        let (k, ct, reg) = (self.n_components, self.covariance_type, self.reg_covar);
        match &self.init {
            Init::Given(m) => Ok(m.clone()),
            Init::KMeans => init::kmeans(data, weights, k, ct, reg, seed, progress),
            Init::KMeansPlusPlus => {
                let rows = init::kmeans_plus_plus(data, k, weights, seed, progress);
                init::from_rows(data, &rows, ct, reg)
            }
            Init::RandomFromData => {
                let rows = init::random_rows(data.n_samples(), k, weights, seed);
                init::from_rows(data, &rows, ct, reg)
            }
            Init::Random => init::random_responsibilities(data, weights, k, ct, reg, seed),
        }
    }

    fn run<D: Rows>(
        &self,
        data: &D,
        weights: Option<&[f64]>,
        seed: u64,
        restart: usize,
        n_init: usize,
        observer: &mut dyn FitObserver,
    ) -> Result<(GaussianMixture, Run)> {
        let t0 = Instant::now();
        let mut model = self.initial_model(data, weights, seed, &mut |phase, done, total| {
            observer.on_init_progress(restart, phase, done, total)
        })?;
        let init_seconds = t0.elapsed().as_secs_f64();
        observer.on_initialised(restart, init_seconds);
        let mut run = Run {
            lower_bound: f64::NEG_INFINITY,
            lower_bounds: Vec::new(),
            iteration_seconds: Vec::new(),
            init_seconds,
            converged: false,
            stopped: false,
            reseeds: Vec::new(),
        };
        for iteration in 1..=self.max_iter {
            let t = Instant::now();
            let stats = e_step(&model, data, weights);
            let lower_bound = stats.mean_log_likelihood();
            let n_reseeds = run.reseeds.len();
            model = if self.reseed_collapsed {
                self.m_step_with_recovery(&model, data, &stats, iteration, &mut run.reseeds)?
            } else {
                m_step_from(
                    model.covariance_type(),
                    model.means(),
                    &stats,
                    self.reg_covar,
                )
                .map_err(|component| self.singular(component, iteration))?
            };
            let reseeded = run.reseeds.len() > n_reseeds;
            let change = lower_bound - run.lower_bound;
            let seconds = t.elapsed().as_secs_f64();
            run.lower_bound = lower_bound;
            run.lower_bounds.push(lower_bound);
            run.iteration_seconds.push(seconds);
            let flow = observer.on_iteration(&IterationProgress {
                restart,
                n_init,
                iteration,
                max_iter: self.max_iter,
                lower_bound,
                change,
                seconds,
            });
            if change.abs() < self.tol && !reseeded {
                run.converged = true;
                break;
            }
            if flow.is_break() {
                run.stopped = true;
                break;
            }
        }
        Ok((model, run))
    }
}

impl GaussianMixtureParams {
    fn singular(&self, component: usize, iteration: usize) -> Error {
        Error::new(ErrorKind::SingularCovariance {
            component,
            iteration,
            reg_covar: self.reg_covar,
        })
    }

    /// The M-step, re-seeding empty or singular components (see
    /// [`GaussianMixtureParams::reseed_collapsed`]).
    fn m_step_with_recovery<D: Rows>(
        &self,
        model: &GaussianMixture,
        data: &D,
        stats: &SufficientStats,
        iteration: usize,
        reseeds: &mut Vec<Reseed>,
    ) -> Result<GaussianMixture> {
        let ct = model.covariance_type();
        let (k, d) = (model.n_components(), model.n_features());
        let p = m_step_parameters(ct, model.means(), stats, self.reg_covar);
        let mean_row_weight = stats.n_samples() / data.n_samples() as f64;
        let mut collapsed: Vec<usize> = (0..k)
            .filter(|&c| stats.nk()[c] < mean_row_weight)
            .collect();
        let mut reasons = vec!["empty"; collapsed.len()];
        loop {
            if !collapsed.is_empty() {
                let mut q = p.clone();
                reseed(&mut q, ct, &collapsed, stats, data)
                    .ok_or_else(|| self.singular(collapsed[collapsed.len() - 1], iteration))?;
                match GaussianMixture::assemble(ct, k, d, q.weights, q.means, q.covariances) {
                    Ok(m) => {
                        let lowest = stats.lowest_likelihood_rows();
                        for (i, (&component, reason)) in collapsed.iter().zip(&reasons).enumerate()
                        {
                            reseeds.push(Reseed {
                                iteration,
                                component,
                                row: lowest[i].1,
                                reason,
                            });
                        }
                        return Ok(m);
                    }
                    Err(c) if ct != CovarianceType::Tied && !collapsed.contains(&c) => {
                        collapsed.push(c);
                        reasons.push("singular");
                    }
                    Err(c) => return Err(self.singular(c, iteration)),
                }
            } else {
                match GaussianMixture::assemble(
                    ct,
                    k,
                    d,
                    p.weights.clone(),
                    p.means.clone(),
                    p.covariances.clone(),
                ) {
                    Ok(m) => return Ok(m),
                    Err(c) if ct != CovarianceType::Tied => {
                        collapsed.push(c);
                        reasons.push("singular");
                    }
                    Err(c) => return Err(self.singular(c, iteration)),
                }
            }
        }
    }
}

/// Moves each component of `collapsed` (in order) to the next of the rows
/// with the lowest log-likelihood: mean at the row, covariance the mean
/// variance per feature of the other components (diagonal), weight `1/K`,
/// then renormalises the weights. `None` if there are not enough rows.
fn reseed<D: Rows>(
    p: &mut Parameters,
    ct: CovarianceType,
    collapsed: &[usize],
    stats: &SufficientStats,
    data: &D,
) -> Option<()> {
    let (k, d) = (p.k, p.d);
    let lowest = stats.lowest_likelihood_rows();
    if lowest.len() < collapsed.len() {
        return None;
    }
    let healthy: Vec<usize> = (0..k).filter(|c| !collapsed.contains(c)).collect();
    // Mean variance per feature over the healthy components (all if none is).
    let pool = if healthy.is_empty() {
        (0..k).collect()
    } else {
        healthy
    };
    let mut var = vec![0.0; d];
    for &c in &pool {
        let dense = crate::covariance::dense_covariance(ct, &p.covariances, c, d);
        for j in 0..d {
            var[j] += dense[j * d + j] / pool.len() as f64;
        }
    }
    for (i, &c) in collapsed.iter().enumerate() {
        let row = data.row(lowest[i].1 as usize);
        for j in 0..d {
            p.means[c * d + j] = row[j].to_f64();
        }
        match ct {
            CovarianceType::Full => {
                let cov = &mut p.covariances[c * d * d..(c + 1) * d * d];
                cov.fill(0.0);
                for j in 0..d {
                    cov[j * d + j] = var[j];
                }
            }
            CovarianceType::Diag => p.covariances[c * d..(c + 1) * d].copy_from_slice(&var),
            CovarianceType::Spherical => p.covariances[c] = var.iter().sum::<f64>() / d as f64,
            CovarianceType::Tied => {}
        }
        p.weights[c] = 1.0 / k as f64;
    }
    let total: f64 = p.weights.iter().sum();
    p.weights.iter_mut().for_each(|w| *w /= total);
    Some(())
}

struct Run {
    lower_bound: f64,
    lower_bounds: Vec<f64>,
    iteration_seconds: Vec<f64>,
    init_seconds: f64,
    converged: bool,
    stopped: bool,
    reseeds: Vec<Reseed>,
}
