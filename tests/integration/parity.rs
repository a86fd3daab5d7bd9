//! Parity with scikit-learn: fixtures made by datasets/make_fixtures.py.

use gmm::{CovarianceType, DataView, GaussianMixtureParams, Init};

use crate::common::*;

/// EM from the same initial state for 50 iterations: tolerance 1e-8 relative
/// (rounding differs between our one-pass centred statistics and scikit-learn's
/// two-pass NumPy code; observed differences are ~1e-12). Entries smaller than
/// 1e-3 in magnitude (near-zero covariances) are compared absolutely at 1e-11.
#[test]
fn matches_scikit_learn_after_50_iterations() {
    for (data_name, ct) in FIXTURES
        .iter()
        .flat_map(|n| CovarianceType::ALL.map(|t| (*n, t)))
    {
        let name = &stem(data_name, ct);
        let (x, n, d) = load_data(data_name);
        let e = load_expected(name);
        assert_eq!(e["covariance_type"].as_str(), Some(ct.as_str()));
        let init = gmm::io::load_model(&fixture_path(&format!("{name}.init.json"))).unwrap();
        assert_eq!(init.covariance_type(), ct);
        let k = init.n_components();
        let data = DataView::new(&x, n, d).unwrap();
        let fit = GaussianMixtureParams::new(k)
            .covariance_type(ct)
            .init(Init::Given(init))
            .max_iter(50)
            .tol(0.0)
            .reg_covar(1e-6)
            .fit(data)
            .unwrap();
        let m = &fit.model;
        assert_eq!(
            fit.report.n_iter,
            e["n_iter"].as_u64().unwrap() as usize,
            "{name}"
        );
        assert_eq!(
            fit.report.converged,
            e["converged"].as_bool().unwrap(),
            "{name}"
        );
        let tol = 1e-8;
        let err = max_rel_err(m.weights(), &flat(&e["weights"]), 1e-3);
        assert!(err < tol, "{name}: weights {err:e}");
        let err = max_rel_err(m.means(), &flat(&e["means"]), 1e-3);
        assert!(err < tol, "{name}: means {err:e}");
        let err = max_rel_err(m.covariances(), &flat(&e["covariances"]), 1e-3);
        assert!(err < tol, "{name}: covariances {err:e}");
        let err = max_rel_err(
            m.precisions_cholesky(),
            &flat(&e["precisions_cholesky"]),
            1e-3,
        );
        assert!(err < tol, "{name}: precisions_cholesky {err:e}");
        let lb = e["lower_bound"].as_f64().unwrap();
        assert!(
            ((fit.report.lower_bound - lb) / lb).abs() < tol,
            "{name}: lower bound"
        );
        if let Some(lbs) = e.get("lower_bounds") {
            let err = max_rel_err(&fit.report.lower_bounds, &flat(lbs), 1.0);
            assert!(err < tol, "{name}: lower bounds per iteration {err:e}");
        }
        // Predictions from the fitted model.
        let labels: Vec<usize> = e["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(m.predict(data).unwrap(), labels, "{name}: labels");
        let err = max_rel_err(
            &m.predict_proba(data).unwrap(),
            &flat(&e["predict_proba"]),
            1.0,
        );
        assert!(err < tol, "{name}: predict_proba {err:e}");
        let err = max_rel_err(
            &m.score_samples(data).unwrap(),
            &flat(&e["score_samples"]),
            1.0,
        );
        assert!(err < tol, "{name}: score_samples {err:e}");
        for (key, ours) in [
            ("score", m.score(data).unwrap()),
            ("bic", m.bic(data).unwrap()),
            ("aic", m.aic(data).unwrap()),
        ] {
            let theirs = e[key].as_f64().unwrap();
            assert!(
                ((ours - theirs) / theirs).abs() < tol,
                "{name}: {key} {ours} vs {theirs}"
            );
        }
    }
}

/// The naive reference (the seed algorithm, scikit-learn conventions) reaches
/// the same fixtures: an oracle independent of the fast path's linear algebra.
#[test]
fn reference_matches_scikit_learn() {
    for name in FIXTURES {
        let (x, n, d) = load_data(name);
        let e = load_expected(name);
        let init = gmm::io::load_model(&fixture_path(&format!("{name}.init.json"))).unwrap();
        let data = DataView::new(&x, n, d).unwrap();
        let (m, lbs) = gmm::reference::ReferenceModel::from(&init).fit(data, 50, 0.0, 1e-6);
        assert_eq!(lbs.len(), 50);
        assert!(
            max_rel_err(&m.means, &flat(&e["means"]), 1e-3) < 1e-8,
            "{name}"
        );
        assert!(
            max_rel_err(&m.covariances, &flat(&e["covariances"]), 1e-3) < 1e-8,
            "{name}"
        );
        assert!(
            max_rel_err(&m.weights, &flat(&e["weights"]), 1e-3) < 1e-8,
            "{name}"
        );
    }
}
