//! The EM loop: restarts, iterations, the report.

use std::ops::ControlFlow;
use std::time::Instant;

use super::ValidParams;
use super::{Fit, FitObserver, FitReport, Init, InitPhase, IterationProgress, RestartReport};
use crate::blocks::derive_seed;
use crate::data::Rows;
use crate::error::{ErrorKind, Result};
use crate::estep::e_step_until;
use crate::init;
use crate::model::{FitInfo, GaussianMixture};
use crate::mstep::{self, Reseed};

impl ValidParams<'_> {
    /// Fits data already checked against the parameters (`weights` too).
    pub(crate) fn fit_checked<D: Rows>(
        &self,
        data: &D,
        weights: Option<&[f64]>,
        observer: &mut dyn FitObserver,
    ) -> Result<Fit> {
        let start = Instant::now();
        let n_init = if matches!(self.init, Init::Given(_)) {
            1
        } else {
            self.n_init
        };
        let mut best: Option<(GaussianMixture, Run)> = None;
        let mut restarts = Vec::with_capacity(n_init.min(1024));
        let mut best_restart = 0;
        let mut stopped = false;
        for restart in 0..n_init {
            let seed = derive_seed(self.seed, restart as u64);
            observer.on_restart(restart, n_init);
            let Some((model, run)) = self.run(data, weights, seed, restart, n_init, observer)?
            else {
                // Stopped during this restart's initialisation or first pass.
                if best.is_none() {
                    return Err(ErrorKind::Interrupted.into());
                }
                stopped = true;
                break;
            };
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
            covariance_type: self.covariance_type,
            init: self.init.method(),
            threads: rayon::current_num_threads(),
            best_restart,
            restarts,
            stopped,
            reseeds: run.reseeds,
        };
        Ok(Fit { model, report })
    }

    pub(super) fn initial_model<D: Rows>(
        &self,
        data: &D,
        weights: Option<&[f64]>,
        seed: u64,
        progress: &mut dyn FnMut(InitPhase, usize, usize) -> ControlFlow<()>,
    ) -> Result<Option<GaussianMixture>> {
        let (k, ct, reg) = (self.n_components, self.covariance_type, self.reg_covar);
        match &self.init {
            Init::Given(m) => Ok(Some(m.clone())),
            Init::KMeans => init::kmeans(data, weights, k, ct, reg, seed, progress),
            Init::KMeansPlusPlus => {
                match init::kmeans_plus_plus(data, k, weights, seed, progress) {
                    Some(rows) => init::from_rows(data, &rows, ct, reg).map(Some),
                    None => Ok(None),
                }
            }
            Init::RandomFromData => {
                let rows = init::random_rows(data.n_samples(), k, weights, seed);
                init::from_rows(data, &rows, ct, reg).map(Some)
            }
            Init::Random => {
                init::random_responsibilities(data, weights, k, ct, reg, seed).map(Some)
            }
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
    ) -> Result<Option<(GaussianMixture, Run)>> {
        let t0 = Instant::now();
        let model = self.initial_model(data, weights, seed, &mut |phase, done, total| {
            observer.on_init_progress(restart, phase, done, total);
            // Every process of a spread fit stops at the same step.
            if data.scope().any(observer.stop_requested()) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        let Some(mut model) = model else {
            return Ok(None);
        };
        let stop = observer.stop_flag();
        let init_seconds = t0.elapsed().as_secs_f64();
        observer.on_initialised(restart, init_seconds);
        observer.on_model(restart, 0, &model);
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
            let Some(stats) = e_step_until(&model.prepared(), data, weights, stop.as_deref())
            else {
                // Stopped inside the pass: as if after the last iteration.
                if run.lower_bounds.is_empty() {
                    return Ok(None);
                }
                run.stopped = true;
                break;
            };
            let lower_bound = stats.mean_log_likelihood();
            let n_reseeds = run.reseeds.len();
            let (ct, means, reg) = (self.covariance_type, model.means(), self.reg_covar);
            let next = if self.reseed_collapsed {
                let reseeds = &mut run.reseeds;
                mstep::m_step_with_recovery(ct, means, &stats, reg, data, iteration, reseeds)?
            } else {
                mstep::m_step(ct, means, &stats, reg, iteration)?
            };
            model = GaussianMixture::from_factored(ct, next);
            let reseeded = run.reseeds.len() > n_reseeds;
            let previous = match (&self.init, iteration) {
                (Init::Given(_), 1) => self.start_lower_bound,
                _ => run.lower_bound,
            };
            let change = lower_bound - previous;
            let seconds = t.elapsed().as_secs_f64();
            run.lower_bound = lower_bound;
            run.lower_bounds.push(lower_bound);
            run.iteration_seconds.push(seconds);
            observer.on_model(restart, iteration, &model);
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
            if data.scope().any(flow.is_break()) {
                run.stopped = true;
                break;
            }
        }
        Ok(Some((model, run)))
    }
}

/// The kept record of one restart.
struct Run {
    lower_bound: f64,
    lower_bounds: Vec<f64>,
    iteration_seconds: Vec<f64>,
    init_seconds: f64,
    converged: bool,
    stopped: bool,
    reseeds: Vec<Reseed>,
}
