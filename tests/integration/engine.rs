//! Engine behaviour: determinism, invariants, the naive reference, restarts,
//! observers, and the distributed seam.

use std::ops::ControlFlow;

use gmm::reference::ReferenceModel;
use gmm::{
    BLOCK_ROWS, CovarianceType, DataView, GaussianMixture, GaussianMixtureParams, Init,
    IterationProgress, Preset, SufficientStats,
};

use crate::common::*;

#[test]
fn bit_identical_for_1_2_and_4_threads() {
    // 5 blocks of rows, so work really is split between threads.
    let n = 4 * BLOCK_ROWS + 1234;
    let (x, d) = problem(3, n);
    let data = DataView::new(&x, n, d).unwrap();
    for (init, ct) in [
        (Init::KMeans, CovarianceType::Full),
        (Init::Random, CovarianceType::Full),
        (Init::KMeansPlusPlus, CovarianceType::Full),
        (Init::KMeans, CovarianceType::Tied),
        (Init::Random, CovarianceType::Diag),
        (Init::KMeansPlusPlus, CovarianceType::Spherical),
    ] {
        let params = GaussianMixtureParams::new(4)
            .covariance_type(ct)
            .init(init)
            .max_iter(15)
            .tol(0.0)
            .seed(5);
        let fits: Vec<_> = [1, 2, 4]
            .into_iter()
            .map(|t| in_pool(t, || params.fit(data).unwrap()))
            .collect();
        assert_eq!(fits[0].report.threads, 1);
        assert_eq!(fits[2].report.threads, 4);
        for f in &fits[1..] {
            assert_eq!(f.model, fits[0].model, "models differ across thread counts");
            let a: Vec<u64> = f.report.lower_bounds.iter().map(|v| v.to_bits()).collect();
            let b: Vec<u64> = fits[0]
                .report
                .lower_bounds
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(a, b);
        }
        let p1 = in_pool(1, || fits[0].model.predict_proba(data).unwrap());
        let p2 = in_pool(4, || fits[0].model.predict_proba(data).unwrap());
        assert_eq!(p1, p2);
    }
}

#[test]
fn same_seed_same_model_and_different_seeds_differ() {
    let n = 3000;
    let (x, d) = problem(4, n);
    let data = DataView::new(&x, n, d).unwrap();
    for init in [
        Init::KMeans,
        Init::KMeansPlusPlus,
        Init::RandomFromData,
        Init::Random,
    ] {
        let p = GaussianMixtureParams::new(4)
            .init(init.clone())
            .max_iter(3)
            .tol(0.0);
        let a = p.clone().seed(1).fit(data).unwrap();
        let b = p.clone().seed(1).fit(data).unwrap();
        assert_eq!(a.model, b.model, "{init:?}: same seed, different model");
        if init != Init::KMeans {
            // k-means may legitimately converge to the same partition from two seeds.
            let c = p.clone().seed(2).fit(data).unwrap();
            assert_ne!(
                a.model.means(),
                c.model.means(),
                "{init:?}: seeds 1 and 2 gave the same model"
            );
        }
    }
}

#[test]
fn restarts_use_distinct_seeds_and_keep_the_best() {
    let n = 2000;
    let (x, d) = problem(5, n);
    let data = DataView::new(&x, n, d).unwrap();
    let fit = GaussianMixtureParams::new(6)
        .init(Init::RandomFromData)
        .n_init(4)
        .max_iter(20)
        .seed(3)
        .fit(data)
        .unwrap();
    let r = &fit.report.restarts;
    assert_eq!(r.len(), 4);
    let mut seeds: Vec<u64> = r.iter().map(|x| x.seed).collect();
    seeds.dedup();
    assert_eq!(seeds.len(), 4);
    let best = r
        .iter()
        .map(|x| x.lower_bound)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(fit.report.lower_bound, best);
    assert_eq!(r[fit.report.best_restart].lower_bound, best);
    // The kept model is the kept restart's: its info agrees.
    assert_eq!(fit.model.fit_info().unwrap().lower_bound, best);
}

/// Invariants on random well-posed problems (seeded loop).
#[test]
fn em_invariants_hold_on_random_problems() {
    for seed in 0..12u64 {
        let n = 1500 + 500 * (seed as usize % 6);
        let (x, d) = problem(100 + seed, n);
        let data = DataView::new(&x, n, d).unwrap();
        let k = 2 + seed as usize % 4;
        let init = [Init::KMeans, Init::Random, Init::RandomFromData][seed as usize % 3].clone();
        let ct = CovarianceType::ALL[(seed as usize / 3) % 4];
        let fit = GaussianMixtureParams::new(k)
            .covariance_type(ct)
            .init(init)
            .max_iter(40)
            .tol(0.0)
            .seed(seed)
            .fit(data)
            .unwrap();
        let m = &fit.model;
        assert!(
            (m.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12,
            "weights sum"
        );
        assert!(m.weights().iter().all(|w| *w > 0.0));
        // Covariances are symmetric positive definite: they rebuild into a model.
        GaussianMixture::from_parameters(
            m.covariance_type(),
            k,
            d,
            m.weights().to_vec(),
            m.means().to_vec(),
            m.covariances().to_vec(),
        )
        .expect("fitted covariances are SPD");
        let proba = m.predict_proba(data).unwrap();
        for row in proba.chunks_exact(k) {
            let s: f64 = row.iter().sum();
            assert!((s - 1.0).abs() < 1e-12, "responsibilities sum to {s}");
            assert!(row.iter().all(|r| (0.0..=1.0).contains(r)));
        }
        // EM never decreases the lower bound (up to rounding of a mean of n terms).
        for w in fit.report.lower_bounds.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-12 * w[0].abs(),
                "seed {seed}: lower bound fell {} -> {}",
                w[0],
                w[1]
            );
        }
        // predict is the argmax of predict_proba.
        let labels = m.predict(data).unwrap();
        for (row, l) in proba.chunks_exact(k).zip(&labels) {
            assert!(row.iter().all(|r| *r <= row[*l]));
        }
    }
}

#[test]
fn naive_reference_agrees_with_fast_path() {
    let n = 6000;
    let x = Preset::Seed2d.generate(Some(n), 9);
    let data = DataView::new(&x, n, 2).unwrap();
    let init = gmm::fixed_init(data, 3).unwrap();
    let fast = GaussianMixtureParams::new(3)
        .init(Init::Given(init.clone()))
        .max_iter(30)
        .tol(0.0)
        .fit(data)
        .unwrap();
    let (slow, lbs) = ReferenceModel::from(&init).fit(data, 30, 0.0, 1e-6);
    assert!(max_rel_err(fast.model.means(), &slow.means, 1e-3) < 1e-9);
    assert!(max_rel_err(fast.model.covariances(), &slow.covariances, 1e-3) < 1e-9);
    assert!(max_rel_err(fast.model.weights(), &slow.weights, 1e-3) < 1e-9);
    assert!(max_rel_err(&fast.report.lower_bounds, &lbs, 1.0) < 1e-10);
}

#[test]
fn naive_reference_underflows_in_64_dimensions_where_fast_path_does_not() {
    let n = 2000;
    let (_, d, k) = Preset::Wide.shape();
    let x = Preset::Wide.generate(Some(n), 1);
    let data = DataView::new(&x, n, d).unwrap();
    let init = gmm::fixed_init(data, k).unwrap();
    let (_, lbs) = ReferenceModel::from(&init).fit(data, 3, 0.0, 1e-6);
    assert!(
        !lbs[0].is_finite(),
        "the naive lower bound should underflow, got {}",
        lbs[0]
    );
    let fast = GaussianMixtureParams::new(k)
        .init(Init::Given(init))
        .max_iter(3)
        .tol(0.0)
        .fit(data)
        .unwrap();
    assert!(fast.report.lower_bounds.iter().all(|v| v.is_finite()));
    assert!(fast.model.means().iter().all(|v| v.is_finite()));
}

#[test]
fn observer_sees_every_iteration_and_can_stop() {
    let n = 2000;
    let (x, d) = problem(6, n);
    let data = DataView::new(&x, n, d).unwrap();
    let mut seen: Vec<IterationProgress> = Vec::new();
    let mut obs = |p: &IterationProgress| {
        seen.push(*p);
        if p.iteration == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let fit = GaussianMixtureParams::new(3)
        .tol(0.0)
        .n_init(3)
        .fit_with_observer(data, &mut obs)
        .unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen.iter().map(|p| p.iteration).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(fit.report.stopped);
    assert!(!fit.report.converged);
    assert_eq!(fit.report.n_iter, 3);
    assert_eq!(
        fit.report.restarts.len(),
        1,
        "stopping ends the remaining restarts"
    );
    assert_eq!(seen[2].lower_bound, fit.report.lower_bound);
}

#[test]
fn max_iter_zero_only_initialises() {
    let n = 500;
    let (x, d) = problem(7, n);
    let data = DataView::new(&x, n, d).unwrap();
    let init = model(3, d);
    let fit = GaussianMixtureParams::new(3)
        .init(Init::Given(init.clone()))
        .max_iter(0)
        .fit(data)
        .unwrap();
    assert_eq!(fit.report.n_iter, 0);
    assert_eq!(fit.model.means(), init.means());
    assert!(!fit.report.converged);
}

#[test]
fn converges_with_default_tolerance() {
    let n = 20_000;
    let x = Preset::Seed2d.generate(Some(n), 2);
    let data = DataView::new(&x, n, 2).unwrap();
    let fit = GaussianMixtureParams::new(3).fit(data).unwrap();
    assert!(fit.report.converged);
    let lbs = &fit.report.lower_bounds;
    assert!((lbs[lbs.len() - 1] - lbs[lbs.len() - 2]).abs() < 1e-3);
    // The seeds' three clusters are recovered: weights 0.6/0.3/0.1 (sampling error ~1%).
    let mut w = fit.model.weights().to_vec();
    w.sort_by(f64::total_cmp);
    for (got, want) in w.iter().zip([0.1, 0.3, 0.6]) {
        assert!((got - want).abs() < 0.02, "weights {w:?}");
    }
}

#[test]
fn shards_merged_equal_one_pass() {
    let n = 3 * BLOCK_ROWS + 77;
    let (x, d) = problem(8, n);
    let data = DataView::new(&x, n, d).unwrap();
    let m = gmm::fixed_init(data, 4).unwrap();
    let whole = SufficientStats::compute(&m, data).unwrap();
    // Any split agrees to rounding.
    let mut halves = SufficientStats::compute(&m, data.rows(0, 2 * BLOCK_ROWS)).unwrap();
    halves
        .merge(&SufficientStats::compute(&m, data.rows(2 * BLOCK_ROWS, n)).unwrap())
        .unwrap();
    assert!(max_rel_err(halves.centred_scatter(), whole.centred_scatter(), 1.0) < 1e-12);
    assert!(max_rel_err(halves.nk(), whole.nk(), 1.0) < 1e-12);
    // A last shard of one block adds in exactly the order of one pass: bit-identical.
    let mut merged = SufficientStats::compute(&m, data.rows(0, 3 * BLOCK_ROWS)).unwrap();
    merged
        .merge(&SufficientStats::compute(&m, data.rows(3 * BLOCK_ROWS, n)).unwrap())
        .unwrap();
    assert_eq!(merged, whole);
    // And one EM iteration through the public seam equals the fit's first iteration.
    let next = m.m_step(&merged, 1e-6, 1).unwrap();
    let fit = GaussianMixtureParams::new(4)
        .init(Init::Given(m))
        .max_iter(1)
        .tol(0.0)
        .fit(data)
        .unwrap();
    assert_eq!(next.means(), fit.model.means());
    assert_eq!(next.covariances(), fit.model.covariances());
    assert_eq!(merged.mean_log_likelihood(), fit.report.lower_bound);
    // Statistics serialise (for shipping between processes) and come back equal.
    let json = serde_json::to_string(&merged).unwrap();
    assert_eq!(
        serde_json::from_str::<SufficientStats>(&json).unwrap(),
        merged
    );
}

#[test]
fn f32_data_fits_like_f64() {
    let n = 5000;
    let (x, d) = problem(9, n);
    let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
    let x64: Vec<f64> = x32.iter().map(|v| *v as f64).collect();
    let init = gmm::fixed_init(DataView::new(&x64, n, d).unwrap(), 4).unwrap();
    let p = GaussianMixtureParams::new(4)
        .init(Init::Given(init))
        .max_iter(10)
        .tol(0.0);
    let a = p.fit(DataView::new(&x32, n, d).unwrap()).unwrap();
    let b = p.fit(DataView::new(&x64, n, d).unwrap()).unwrap();
    // Same values (f32 widened exactly): identical results.
    assert_eq!(a.model, b.model);
}

#[test]
fn sample_draws_from_the_model() {
    let m = GaussianMixture::from_parameters(
        gmm::CovarianceType::Full,
        2,
        2,
        vec![0.25, 0.75],
        vec![-5.0, 0.0, 5.0, 1.0],
        vec![1.0, 0.5, 0.5, 2.0, 0.5, 0.0, 0.0, 0.5],
    )
    .unwrap();
    let n = 40_000;
    let (x, labels) = m.sample(n, 11);
    assert_eq!(x.len(), n * 2);
    assert_eq!(m.sample(n, 11).0, x, "same seed, same sample");
    let n0 = labels.iter().filter(|l| **l == 0).count() as f64;
    assert!((n0 / n as f64 - 0.25).abs() < 0.015);
    // Component 0's sample covariance ~ [[1, .5], [.5, 2]] (standard error ~2%).
    let rows: Vec<&[f64]> = x
        .chunks_exact(2)
        .zip(&labels)
        .filter(|(_, l)| **l == 0)
        .map(|(r, _)| r)
        .collect();
    let mean = [
        rows.iter().map(|r| r[0]).sum::<f64>() / n0,
        rows.iter().map(|r| r[1]).sum::<f64>() / n0,
    ];
    let c01 = rows
        .iter()
        .map(|r| (r[0] - mean[0]) * (r[1] - mean[1]))
        .sum::<f64>()
        / n0;
    let c11 = rows.iter().map(|r| (r[1] - mean[1]).powi(2)).sum::<f64>() / n0;
    assert!(
        (mean[0] + 5.0).abs() < 0.05 && mean[1].abs() < 0.05,
        "{mean:?}"
    );
    assert!(
        (c01 - 0.5).abs() < 0.06 && (c11 - 2.0).abs() < 0.1,
        "{c01} {c11}"
    );
}

#[test]
fn shards_fit_bit_identically_to_their_concatenation() {
    use gmm::{Rows, Shards};
    let n = 2 * BLOCK_ROWS + 5000;
    let (x, d) = problem(13, n);
    let data = DataView::new(&x, n, d).unwrap();
    // Uneven cuts that cross chunk and block boundaries, with an empty shard.
    let cuts = [0, 100, 100, 8300, 16_000, n];
    let parts: Vec<_> = cuts.windows(2).map(|w| data.rows(w[0], w[1])).collect();
    let shards = Shards::new(parts).unwrap();
    assert_eq!(shards.n_samples(), n);
    for i in [0, 99, 100, 8299, 8300, n - 1] {
        let (mut a, mut b) = (vec![0.0; shards.n_features()], vec![0.0; data.n_features()]);
        shards.copy_row(i, &mut a);
        data.copy_row(i, &mut b);
        assert_eq!(a, b);
    }
    for init in [Init::KMeans, Init::Random, Init::RandomFromData] {
        let p = GaussianMixtureParams::new(4)
            .init(init)
            .max_iter(8)
            .tol(0.0)
            .seed(2);
        let a = p.fit(data).unwrap();
        let b = p.fit(&shards).unwrap();
        assert_eq!(a.model, b.model);
        assert_eq!(a.report.lower_bounds, b.report.lower_bounds);
        assert_eq!(
            a.model.predict_proba(data).unwrap(),
            a.model.predict_proba(&shards).unwrap()
        );
    }
    // A NaN in a later shard is reported at its global row.
    let mut y = x.clone();
    y[(9000 * d) + 3] = f64::NAN;
    let ydata = DataView::new(&y, n, d).unwrap();
    let s2 = Shards::new(vec![ydata.rows(0, 8300), ydata.rows(8300, n)]).unwrap();
    let e = GaussianMixtureParams::new(2).fit(&s2).unwrap_err();
    assert_eq!(
        *e.kind(),
        gmm::ErrorKind::NonFiniteData {
            row: 9000,
            column: 3
        }
    );
    // Shards must agree in width.
    let z = [0.0; 6];
    assert!(
        Shards::new(vec![
            DataView::new(&z, 2, 3).unwrap(),
            DataView::new(&z, 3, 2).unwrap()
        ])
        .is_err()
    );
}

/// Warm start: 20 iterations, then 30 more from the fitted model, equal 50
/// straight (exactly: the second fit starts from the very parameters the
/// straight fit has after 20), for every covariance type; also through a
/// model file, which round-trips the parameters exactly.
#[test]
fn warm_start_continues_exactly_for_every_covariance_type() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000;
    let (x, d) = problem(21, n);
    let data = DataView::new(&x, n, d).unwrap();
    for ct in CovarianceType::ALL {
        let params = GaussianMixtureParams::new(3)
            .covariance_type(ct)
            .tol(0.0)
            .seed(4);
        let straight = params.clone().max_iter(50).fit(data).unwrap();
        let first = params.clone().max_iter(20).fit(data).unwrap();
        let path = dir.path().join(format!("{ct}.json"));
        gmm::io::save_model(&path, &first.model).unwrap();
        for start in [first.model.clone(), gmm::io::load_model(&path).unwrap()] {
            let second = params
                .clone()
                .max_iter(30)
                .init(Init::Given(start))
                .fit(data)
                .unwrap();
            let (a, b) = (&second.model, &straight.model);
            assert_eq!(a.weights(), b.weights(), "{ct}");
            assert_eq!(a.means(), b.means(), "{ct}");
            assert_eq!(a.covariances(), b.covariances(), "{ct}");
            let mut joined = first.report.lower_bounds.clone();
            joined.extend(&second.report.lower_bounds);
            assert_eq!(joined, straight.report.lower_bounds, "{ct}");
        }
    }
}

/// The observer sees the initialisation's progress: k-means++ centres, then
/// Lloyd iterations.
#[test]
fn observer_sees_initialisation_progress() {
    #[derive(Default)]
    struct Log(Vec<(usize, String, usize, usize)>);
    impl gmm::FitObserver for Log {
        fn on_init_progress(
            &mut self,
            restart: usize,
            phase: gmm::InitPhase,
            done: usize,
            total: usize,
        ) {
            self.0
                .push((restart, phase.as_str().to_string(), done, total));
        }
        fn on_iteration(&mut self, _: &IterationProgress) -> ControlFlow<()> {
            ControlFlow::Continue(())
        }
    }
    let n = 3000;
    let (x, d) = problem(61, n);
    let data = DataView::new(&x, n, d).unwrap();
    let mut log = Log::default();
    GaussianMixtureParams::new(5)
        .n_init(2)
        .max_iter(2)
        .fit_with_observer(data, &mut log)
        .unwrap();
    for restart in 0..2 {
        let ev: Vec<_> = log.0.iter().filter(|e| e.0 == restart).collect();
        let pp: Vec<usize> = ev
            .iter()
            .filter(|e| e.1 == "k-means++")
            .map(|e| e.2)
            .collect();
        assert_eq!(pp, vec![2, 3, 4, 5], "restart {restart}");
        let lloyd: Vec<&&(usize, String, usize, usize)> =
            ev.iter().filter(|e| e.1 == "lloyd").collect();
        assert!(!lloyd.is_empty());
        assert!(
            lloyd
                .iter()
                .enumerate()
                .all(|(i, e)| e.2 == i + 1 && e.3 == 300)
        );
        // k-means++ comes first.
        assert_eq!(ev[0].1, "k-means++");
    }
}

/// An observer that asks to stop during the initialisation: before any model
/// exists the fit fails with `Interrupted`; in a later restart the best model
/// so far is returned as stopped.
#[test]
fn a_stop_during_the_initialisation_ends_the_fit_at_once() {
    struct StopAt {
        restart: usize,
        current: usize,
        polls: usize,
    }
    impl gmm::FitObserver for StopAt {
        fn on_restart(&mut self, restart: usize, _: usize) {
            self.current = restart;
        }
        fn stop_requested(&mut self) -> bool {
            self.polls += 1;
            self.current == self.restart
        }
        fn on_iteration(&mut self, _: &gmm::IterationProgress) -> ControlFlow<()> {
            ControlFlow::Continue(())
        }
    }
    let n = 5000;
    let x = gmm::Preset::Small.generate(Some(n), 1);
    let d = gmm::Preset::Small.shape().1;
    let data = gmm::DataView::new(&x, n, d).unwrap();
    for init in [gmm::Init::KMeans, gmm::Init::KMeansPlusPlus] {
        let params = gmm::GaussianMixtureParams::new(6).init(init).n_init(3);
        let mut first = StopAt {
            restart: 0,
            current: 0,
            polls: 0,
        };
        let e = params.fit_with_observer(data, &mut first).unwrap_err();
        assert!(matches!(e.kind(), gmm::ErrorKind::Interrupted), "{e}");
        assert_eq!(first.polls, 1, "the init went on after the stop");
        let mut second = StopAt {
            restart: 1,
            current: 0,
            polls: 0,
        };
        let fit = params.fit_with_observer(data, &mut second).unwrap();
        assert!(fit.report.stopped);
        assert_eq!(fit.report.restarts.len(), 1);
        let alone = params.clone().n_init(1).fit(data).unwrap();
        assert_eq!(fit.model.means(), alone.model.means());
    }
}
