//! Driving a fit from outside its loop: a stop flag read inside passes,
//! the initial model of each restart, warm starts that carry their lower
//! bound, exact model files, and the k-means init's sample on large data.

use std::ops::ControlFlow;

use gmm::{
    BLOCK_ROWS, CovarianceType, DataView, GaussianMixtureParams, Init, IterationProgress, Preset,
};

use crate::common::*;

/// A stop flag set inside a pass ends the fit there: during the first
/// iteration before any model exists (`Interrupted`), later as if stopped
/// after the last complete iteration (the same model as a fit of that many
/// iterations); blocks after the request are not computed.
#[test]
fn a_stop_flag_set_inside_a_pass_ends_the_fit_there() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Raises the flag once iteration `at - 1` is done (or the init, for
    /// `at == 1`); the pass of iteration `at` reads it before its first block.
    struct StopInPass {
        at: usize,
        flag: Arc<AtomicBool>,
        seen: usize,
    }
    impl gmm::FitObserver for StopInPass {
        fn stop_flag(&self) -> Option<Arc<AtomicBool>> {
            Some(Arc::clone(&self.flag))
        }
        fn on_initialised(&mut self, _: usize, _: f64) {
            if self.at == 1 {
                self.flag.store(true, Ordering::Relaxed);
            }
        }
        fn on_iteration(&mut self, p: &IterationProgress) -> ControlFlow<()> {
            self.seen = p.iteration;
            if p.iteration + 1 == self.at {
                self.flag.store(true, Ordering::Relaxed);
            }
            ControlFlow::Continue(())
        }
    }
    let n = 3 * BLOCK_ROWS + 77;
    let (x, d) = problem(3, n);
    let data = DataView::new(&x, n, d).unwrap();
    let params = GaussianMixtureParams::new(3).tol(0.0).max_iter(20);
    let mut first = StopInPass {
        at: 1,
        flag: Arc::new(AtomicBool::new(false)),
        seen: 0,
    };
    let e = params.fit_with_observer(data, &mut first).unwrap_err();
    assert!(matches!(e.kind(), gmm::ErrorKind::Interrupted), "{e}");
    assert_eq!(first.seen, 0);
    let mut later = StopInPass {
        at: 5,
        flag: Arc::new(AtomicBool::new(false)),
        seen: 0,
    };
    let fit = params.fit_with_observer(data, &mut later).unwrap();
    assert!(fit.report.stopped && !fit.report.converged);
    assert_eq!(fit.report.n_iter, 4);
    assert_eq!(later.seen, 4, "no iteration after the stop");
    let four = params.clone().max_iter(4).fit(data).unwrap();
    assert_eq!(fit.model.means(), four.model.means());
    assert_eq!(fit.report.lower_bounds, four.report.lower_bounds);
    // A flag never set changes nothing.
    let mut never = StopInPass {
        at: usize::MAX,
        flag: Arc::new(AtomicBool::new(false)),
        seen: 0,
    };
    let all = params.fit_with_observer(data, &mut never).unwrap();
    assert_eq!(all.model.means(), params.fit(data).unwrap().model.means());
}

/// `initial_model` gives restart r's starting model of `fit`, bit for bit:
/// a fit from it (given) equals the fit of restart r alone.
#[test]
fn initial_model_is_the_start_of_each_restart() {
    let n = 2 * BLOCK_ROWS + 5;
    let (x, d) = problem(4, n);
    let data = DataView::new(&x, n, d).unwrap();
    let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64 * 1e-3).collect();
    for init in [
        Init::KMeans,
        Init::KMeansPlusPlus,
        Init::Random,
        Init::RandomFromData,
    ] {
        let params = GaussianMixtureParams::new(3)
            .init(init)
            .seed(9)
            .n_init(3)
            .tol(0.0);
        let fit = params.fit_weighted(data, &w).unwrap();
        let best = fit.report.best_restart;
        let start = params.initial_model(data, Some(&w), best).unwrap();
        let again = params
            .clone()
            .init(Init::Given(start))
            .fit_weighted(data, &w)
            .unwrap();
        assert_eq!(again.model.means(), fit.model.means());
        assert_eq!(again.report.lower_bounds, fit.report.lower_bounds);
    }
}

/// A warm start that passes the lower bound it starts from converges at its
/// first iteration when that changes the bound by less than `tol`, as
/// scikit-learn's `warm_start` does; 20 + 30 iterations equal 50 straight.
#[test]
fn a_warm_start_measures_its_first_change_from_the_given_lower_bound() {
    let n = 20_000;
    let (x, d) = problem(3, n);
    let data = DataView::new(&x, n, d).unwrap();
    let done = GaussianMixtureParams::new(3).tol(1e-3).fit(data).unwrap();
    assert!(done.report.converged);
    let warm = GaussianMixtureParams::new(3)
        .tol(1e-3)
        .init(Init::Given(done.model.clone()))
        .start_lower_bound(done.report.lower_bound)
        .fit(data)
        .unwrap();
    assert!(warm.report.converged);
    assert_eq!(warm.report.n_iter, 1);
    let cold = GaussianMixtureParams::new(3)
        .tol(1e-3)
        .init(Init::Given(done.model.clone()))
        .fit(data)
        .unwrap();
    assert!(cold.report.n_iter >= 2, "-inf before the first iteration");
    let straight = GaussianMixtureParams::new(3)
        .tol(0.0)
        .max_iter(50)
        .fit(data)
        .unwrap();
    let first = GaussianMixtureParams::new(3)
        .tol(0.0)
        .max_iter(20)
        .fit(data)
        .unwrap();
    let rest = GaussianMixtureParams::new(3)
        .tol(0.0)
        .max_iter(30)
        .init(Init::Given(first.model))
        .start_lower_bound(first.report.lower_bound)
        .fit(data)
        .unwrap();
    assert_eq!(rest.model.means(), straight.model.means());
    assert_eq!(
        rest.report.lower_bounds[..],
        straight.report.lower_bounds[20..]
    );
}

/// A fitted model written as model JSON and read back has the same bits
/// (weights are not renormalised) and keeps the fit's record.
#[test]
fn a_model_file_round_trip_keeps_every_bit() {
    let n = 30_000;
    let (x, d) = problem(5, n);
    let data = DataView::new(&x, n, d).unwrap();
    for ct in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let fit = GaussianMixtureParams::new(4)
            .covariance_type(ct)
            .fit(data)
            .unwrap();
        let back = gmm::io::parse_model(&gmm::io::model_to_json(&fit.model)).unwrap();
        assert_eq!(back, fit.model, "{ct}");
    }
}

/// The default k-means init on data large enough to seed on a sample (past
/// 64 blocks): the same bits on 1, 2 and 3 threads, and EM from it reaches
/// the optimum EM reaches from the true parameters.
#[test]
fn the_sampled_kmeans_init_is_thread_independent_and_as_good_as_the_truth() {
    let n = 70 * BLOCK_ROWS + 123;
    let x = Preset::Seed2d.generate(Some(n), 3);
    let data = DataView::new(&x, n, 2).unwrap();
    // Run to convergence, so that both fits stop at the optimum they reach.
    let params = GaussianMixtureParams::new(3)
        .seed(5)
        .tol(1e-10)
        .max_iter(1000);
    let fits: Vec<_> = [1, 2, 3]
        .iter()
        .map(|&t| in_pool(t, || params.fit(data).unwrap()))
        .collect();
    for f in &fits[1..] {
        assert_eq!(f.model.means(), fits[0].model.means());
        assert_eq!(f.report.lower_bounds, fits[0].report.lower_bounds);
    }
    let truth = params
        .clone()
        .init(Init::Given(Preset::Seed2d.truth(3)))
        .fit(data)
        .unwrap();
    let ours = &fits[0].report;
    assert!(ours.converged && truth.report.converged);
    assert!(
        ours.lower_bound >= truth.report.lower_bound - 1e-9,
        "{} < {}",
        ours.lower_bound,
        truth.report.lower_bound
    );
}
