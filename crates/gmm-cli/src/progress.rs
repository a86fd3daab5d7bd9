//! What a fit shows while it runs (indicatif bars on a terminal); a Ctrl-C
//! (see `signals`) stops it after the current iteration.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gmm_core::{FitObserver, InitPhase, IterationProgress};
use indicatif::{ProgressBar, ProgressStyle};

pub(crate) use crate::signals::INTERRUPTED;

/// Progress bars on stderr (indicatif) when it is a terminal and not
/// `--quiet`: a spinner while initialising, then a bar per restart with the
/// lower bound, its change, iterations per second and elapsed time. Also
/// turns a Ctrl-C into a stop after the current iteration.
pub(crate) struct Progress {
    enabled: bool,
    max_iter: usize,
    init: &'static str,
    bar: Option<ProgressBar>,
    init_phase: Option<InitPhase>,
}

impl Progress {
    pub(crate) fn new(enabled: bool, max_iter: usize, init: &'static str) -> Self {
        Self {
            enabled,
            max_iter,
            init,
            bar: None,
            init_phase: None,
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl FitObserver for Progress {
    fn on_restart(&mut self, restart: usize, n_init: usize) {
        self.finish();
        if !self.enabled {
            return;
        }
        let prefix = if n_init > 1 {
            format!("restart {}/{n_init}", restart + 1)
        } else {
            "fit".to_string()
        };
        let spinner = ProgressBar::new_spinner().with_prefix(prefix).with_style(
            ProgressStyle::with_template("{prefix} {spinner} {msg} {elapsed}")
                .expect("a valid template"),
        );
        spinner.set_message(format!("initialising ({})", self.init));
        spinner.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(spinner);
    }

    fn on_init_progress(&mut self, _restart: usize, phase: InitPhase, done: usize, total: usize) {
        let Some(bar) = &self.bar else {
            return;
        };
        if self.init_phase != Some(phase) {
            self.init_phase = Some(phase);
            bar.disable_steady_tick();
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_length(total as u64);
            bar.set_message(match phase {
                InitPhase::Lloyd => "k-means: Lloyd iterations (stops when converged)".to_string(),
                other => format!("{}: centres chosen", other.as_str()),
            });
        }
        bar.set_position(done as u64);
    }

    fn stop_requested(&mut self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }

    fn on_initialised(&mut self, _restart: usize, seconds: f64) {
        self.init_phase = None;
        let Some(spinner) = self.bar.take() else {
            return;
        };
        let prefix = spinner.prefix();
        spinner.finish_and_clear();
        let bar = ProgressBar::new(self.max_iter as u64)
            .with_prefix(prefix)
            .with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} {elapsed}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
        bar.set_message(format!("initialised in {seconds:.2} s"));
        self.bar = Some(bar);
    }

    fn on_iteration(&mut self, p: &IterationProgress) -> ControlFlow<()> {
        if let Some(bar) = &self.bar {
            bar.set_position(p.iteration as u64);
            bar.set_message(format!(
                "lower bound {:.8} change {:.2e}",
                p.lower_bound, p.change
            ));
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}
