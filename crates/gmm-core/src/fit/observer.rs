//! Watching a fit: progress of the initialisation and of every iteration.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::init::InitPhase;
use crate::model::GaussianMixture;

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
    /// steps of `_phase` (k-means++: centres chosen; Lloyd: iterations, which
    /// may stop before `_total` when they converge).
    fn on_init_progress(
        &mut self,
        _restart: usize,
        _phase: InitPhase,
        _done: usize,
        _total: usize,
    ) {
    }
    /// Polled during the initialisation (after every k-means++ centre and
    /// every Lloyd iteration, so within about a second on large data):
    /// `true` stops the fit there. The best model of an earlier restart is
    /// then returned as stopped; before any model exists the fit fails with
    /// [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted).
    fn stop_requested(&mut self) -> bool {
        false
    }
    /// A flag that stops the fit inside a pass: the E-step reads it before
    /// every block of 8192 rows, so a request (set from another thread, such
    /// as a signal watcher) ends even a pass over billions of rows within
    /// milliseconds. The pass is abandoned and the fit ends as if stopped
    /// after the last complete iteration (best model so far, `stopped`
    /// set); during the first iteration of the first restart the fit fails
    /// with [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted).
    /// Default `None`: passes always complete and
    /// [`FitObserver::on_iteration`] alone stops the fit. Not honoured inside
    /// a pass of a spread fit (its processes must finish the same passes).
    fn stop_flag(&self) -> Option<Arc<AtomicBool>> {
        None
    }
    /// The restart's initialisation finished after `_seconds`.
    fn on_initialised(&mut self, _restart: usize, _seconds: f64) {}
    /// The restart's model at `_iteration`: the initial model at 0, then the
    /// model each M-step made (before [`FitObserver::on_iteration`] of the
    /// same iteration). Called outside the iteration's timing; an observer
    /// that keeps models (to draw the fit as it goes, as `gmm fit --animate`
    /// does) leaves the fit's numbers unchanged.
    fn on_model(&mut self, _restart: usize, _iteration: usize, _model: &GaussianMixture) {}
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
