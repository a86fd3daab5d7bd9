//! Degenerate data (the seeds' TODO "handle singular covariance matrices"):
//! constant columns, duplicated points, components that lose all their points,
//! with scikit-learn's default behaviour and the opt-in re-seeding.

use gmm::{CovarianceType, DataView, ErrorKind, GaussianMixtureParams, Init};

use crate::common::*;
use crate::weights::unit_model;

#[test]
fn a_constant_column_is_kept_finite_by_reg_covar_for_every_type() {
    let n = 1500;
    let (mut x, d) = problem(51, n);
    for row in x.chunks_exact_mut(d) {
        row[2] = 7.0;
    }
    let data = DataView::new(&x, n, d).unwrap();
    for ct in CovarianceType::ALL {
        let fit = GaussianMixtureParams::new(3)
            .covariance_type(ct)
            .seed(1)
            .fit(data)
            .unwrap();
        let m = &fit.model;
        assert!(fit.report.lower_bound.is_finite(), "{ct}");
        for c in 0..3 {
            assert!((m.mean(c)[2] - 7.0).abs() < 1e-9, "{ct}");
            let cov = m.covariance_matrix(c);
            if ct != CovarianceType::Spherical {
                // The constant column's variance is reg_covar (to rounding).
                assert!(
                    (cov[2 * d + 2] - 1e-6).abs() < 1e-9,
                    "{ct}: {}",
                    cov[2 * d + 2]
                );
            }
        }
        // Without reg_covar the constant column makes the covariances
        // singular (spherical averages it with the other variances).
        if ct == CovarianceType::Spherical {
            continue;
        }
        let e = GaussianMixtureParams::new(3)
            .covariance_type(ct)
            .reg_covar(0.0)
            .seed(1)
            .fit(data)
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::SingularCovariance { .. }),
            "{ct}: {e}"
        );
        assert!(e.to_string().contains("reg_covar"), "{e}");
    }
}

#[test]
fn duplicated_points_collapse_to_reg_covar_not_to_an_error() {
    // 400 copies of one point plus 600 spread rows.
    let (spread, d) = problem(52, 600);
    let mut x: Vec<f64> = (0..400)
        .flat_map(|_| [40.0, -40.0, 40.5, 43.0, 40.0, 41.0, 42.0, -41.0])
        .collect();
    assert_eq!(d, 8);
    x.extend(spread);
    let n = x.len() / d;
    let data = DataView::new(&x, n, d).unwrap();
    for ct in [
        CovarianceType::Full,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let fit = GaussianMixtureParams::new(4)
            .covariance_type(ct)
            .seed(2)
            .fit(data)
            .unwrap();
        let m = &fit.model;
        // One component sits on the duplicates with variance reg_covar.
        let on_dup = (0..4)
            .find(|&c| max_rel_err(m.mean(c), &x[..d], 1e-3) < 1e-9)
            .unwrap_or_else(|| panic!("{ct}: no component on the duplicates"));
        let cov = m.covariance_matrix(on_dup);
        assert!((0..d).all(|j| (cov[j * d + j] - 1e-6).abs() < 1e-9), "{ct}");
        assert!((m.weights()[on_dup] - 0.4).abs() < 1e-6, "{ct}");
        assert!(m.score(data).unwrap().is_finite());
    }
}

#[test]
fn an_emptied_component_stays_empty_by_default_and_is_reseeded_on_request() {
    // Three separated unit clusters of equal size.
    let n = 3000;
    let truth = unit_model(
        CovarianceType::Full,
        vec![0.0, 0.0, 20.0, 0.0, 0.0, 20.0],
        3,
        2,
    );
    let (x, _) = truth.sample(n, 5);
    let data = DataView::new(&x, n, 2).unwrap();
    // Component 1 starts far from every point: it gets no responsibility, and
    // the cluster at (0, 20) is left to the others.
    let means = vec![0.0, 0.0, 1e4, 1e4, 20.0, 0.0];
    for ct in CovarianceType::ALL {
        let params = GaussianMixtureParams::new(3)
            .covariance_type(ct)
            .init(Init::Given(unit_model(ct, means.clone(), 3, 2)))
            .max_iter(60)
            .tol(0.0);
        // scikit-learn's behaviour: the component keeps weight ~0, finite.
        let plain = params.fit(data).unwrap();
        assert!(plain.model.weights()[1] < 1e-12, "{ct}");
        assert!(plain.report.reseeds.is_empty());
        // Opt-in recovery: re-seeded in the first M-step at the worst row.
        let fixed = params.clone().reseed_collapsed(true).fit(data).unwrap();
        let r = &fixed.report.reseeds;
        assert!(!r.is_empty(), "{ct}");
        assert_eq!(
            (r[0].iteration, r[0].component, r[0].reason.as_str()),
            (1, 1, "empty")
        );
        let worst = {
            let ll = plain_model_ll(&params, data);
            (0..n).min_by(|a, b| ll[*a].total_cmp(&ll[*b])).unwrap() as u64
        };
        assert_eq!(r[0].row, worst, "{ct}");
        // The re-seeded component found the third cluster.
        for (w, t) in fixed.model.weights().iter().zip(truth.weights()) {
            assert!((w - t).abs() < 0.05, "{ct}: {:?}", fixed.model.weights());
        }
        assert!(
            fixed.report.lower_bound > plain.report.lower_bound + 0.5,
            "{ct}: {} vs {}",
            fixed.report.lower_bound,
            plain.report.lower_bound
        );
        // Between re-seeds EM still never decreases the lower bound.
        let reseeded: Vec<usize> = r.iter().map(|e| e.iteration).collect();
        for (i, w) in fixed.report.lower_bounds.windows(2).enumerate() {
            // lower_bounds[i + 1] is the E-step after the M-step of iteration i + 1.
            if !reseeded.contains(&(i + 1)) {
                assert!(
                    w[1] >= w[0] - 1e-12 * w[0].abs(),
                    "{ct}: iteration {}",
                    i + 2
                );
            }
        }
    }
}

/// Per-row log-likelihood under the initial model of `params` (the model of
/// the first E-step).
fn plain_model_ll(params: &GaussianMixtureParams, data: DataView<'_, f64>) -> Vec<f64> {
    let init = params.clone().max_iter(0).fit(data).unwrap().model;
    init.score_samples(data).unwrap()
}

#[test]
fn a_singular_component_is_an_error_by_default_and_reseeded_on_request() {
    // Two unit clusters and 50 copies of a far point; no reg_covar.
    let truth = unit_model(CovarianceType::Full, vec![0.0, 0.0, 10.0, 0.0], 2, 2);
    let (mut x, _) = truth.sample(1000, 8);
    for _ in 0..50 {
        x.extend_from_slice(&[30.0, 30.0]);
    }
    let n = x.len() / 2;
    let data = DataView::new(&x, n, 2).unwrap();
    // Component 2 starts on the copies: its covariance becomes exactly zero.
    let init = unit_model(
        CovarianceType::Full,
        vec![0.0, 0.0, 10.0, 0.0, 30.0, 30.0],
        3,
        2,
    );
    let params = GaussianMixtureParams::new(3)
        .init(Init::Given(init))
        .reg_covar(0.0)
        .max_iter(20);
    let e = params.fit(data).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::SingularCovariance {
                component: 2,
                iteration: 1 | 2,
                ..
            }
        ),
        "{e}"
    );
    let fit = params.reseed_collapsed(true).fit(data).unwrap();
    let first = &fit.report.reseeds[0];
    assert!(first.iteration <= 2);
    assert_eq!((first.component, first.reason.as_str()), (2, "singular"));
    assert!(fit.report.lower_bound.is_finite());
    assert!(fit.model.covariances().iter().all(|v| v.is_finite()));
}
