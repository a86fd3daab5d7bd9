//! Sample weights: integer weights equal repeated rows, for every covariance
//! type; weighted initialisation ignores rows of weight zero; scaling every
//! weight by any normal double changes nothing; bad weights are clear errors.

use gmm::{
    CovarianceType, DataView, ErrorKind, GaussianMixture, GaussianMixtureParams, Init,
    SufficientStats,
};

use crate::common::*;

/// A model with the given means, unit covariances of type `ct`, equal weights.
pub fn unit_model(ct: CovarianceType, means: Vec<f64>, k: usize, d: usize) -> GaussianMixture {
    let cov = match ct {
        CovarianceType::Full => (0..k * d * d)
            .map(|i| {
                if (i % (d * d)).is_multiple_of(d + 1) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect(),
        CovarianceType::Tied => (0..d * d)
            .map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 })
            .collect(),
        CovarianceType::Diag => vec![1.0; k * d],
        _ => vec![1.0; k],
    };
    GaussianMixture::from_parameters(ct, k, d, vec![1.0 / k as f64; k], means, cov).unwrap()
}

/// Weights 0, 1, 2, 3 in turn, and the data with each row repeated that often.
fn weighted_and_repeated(x: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / d;
    let weights: Vec<f64> = (0..n).map(|i| ((i * 7) % 4) as f64).collect();
    let mut repeated = Vec::new();
    for (row, w) in x.chunks_exact(d).zip(&weights) {
        for _ in 0..*w as usize {
            repeated.extend_from_slice(row);
        }
    }
    (weights, repeated)
}

#[test]
fn integer_weights_equal_repeated_rows_for_every_covariance_type() {
    let n = 2500;
    let (x, d) = problem(31, n);
    let (weights, repeated) = weighted_and_repeated(&x, d);
    let data = DataView::new(&x, n, d).unwrap();
    let rep = DataView::new(&repeated, repeated.len() / d, d).unwrap();
    let k = 3;
    let means: Vec<f64> = x[..k * d].iter().map(|v| v + 0.5).collect();
    for ct in CovarianceType::ALL {
        let params = GaussianMixtureParams::new(k)
            .covariance_type(ct)
            .init(Init::Given(unit_model(ct, means.clone(), k, d)))
            .max_iter(30)
            .tol(0.0);
        let w = params.fit_weighted(data, &weights).unwrap();
        let r = params.fit(rep).unwrap();
        let (a, b) = (&w.model, &r.model);
        assert!(max_rel_err(a.weights(), b.weights(), 1e-3) < 1e-10, "{ct}");
        assert!(max_rel_err(a.means(), b.means(), 1e-3) < 1e-10, "{ct}");
        assert!(
            max_rel_err(a.covariances(), b.covariances(), 1e-3) < 1e-10,
            "{ct}"
        );
        assert!(
            max_rel_err(&w.report.lower_bounds, &r.report.lower_bounds, 1.0) < 1e-12,
            "{ct}: the lower bound is the weighted mean log-likelihood"
        );
        // Not a vacuous comparison: the unweighted fit is different.
        let plain = params.fit(data).unwrap();
        assert!(max_rel_err(plain.model.means(), b.means(), 1e-3) > 1e-6);
    }
    // The statistics seam weighs the same way.
    let model = unit_model(CovarianceType::Full, means, k, d);
    let sw = SufficientStats::compute_weighted(&model, data, &weights).unwrap();
    let sr = SufficientStats::compute(&model, rep).unwrap();
    assert_eq!(sw.n_samples(), sr.n_samples());
    assert!(max_rel_err(sw.nk(), sr.nk(), 1.0) < 1e-12);
    assert!(
        ((sw.mean_log_likelihood() - sr.mean_log_likelihood()) / sr.mean_log_likelihood()).abs()
            < 1e-12
    );
}

#[test]
fn weighted_initialisation_never_uses_rows_of_weight_zero() {
    let n = 3000;
    let (x, d) = problem(32, n);
    let data = DataView::new(&x, n, d).unwrap();
    let k = 4;
    // Only k rows count: every one-point initialisation must pick exactly them.
    let chosen = [17usize, 900, 1500, 2999];
    let mut weights = vec![0.0; n];
    for &i in &chosen {
        weights[i] = 1.5;
    }
    for init in [Init::KMeansPlusPlus, Init::RandomFromData, Init::KMeans] {
        for seed in 0..4 {
            let m = GaussianMixtureParams::new(k)
                .init(init.clone())
                .max_iter(0)
                .seed(seed)
                .fit_weighted(data, &weights)
                .unwrap()
                .model;
            // Every initial mean is one of the weighted rows (to the
            // rounding of the M-step's `N_k + 10 eps`), each used once.
            let mut used = vec![false; chosen.len()];
            for mean in m.means().chunks_exact(d) {
                let hit = chosen
                    .iter()
                    .position(|&i| max_rel_err(mean, &x[i * d..(i + 1) * d], 1e-3) < 1e-12);
                let hit = hit.unwrap_or_else(|| panic!("{init:?} seed {seed}: {mean:?}"));
                assert!(
                    !used[hit],
                    "{init:?} seed {seed}: row {} twice",
                    chosen[hit]
                );
                used[hit] = true;
            }
        }
    }
    // And a weighted k-means fit of all rows runs and is deterministic.
    let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
    let p = GaussianMixtureParams::new(k).seed(3);
    let a = p.fit_weighted(data, &w).unwrap();
    let b = p.fit_weighted(data, &w).unwrap();
    assert_eq!(a.model, b.model);
    assert!(
        a.report
            .lower_bounds
            .windows(2)
            .all(|v| v[1] >= v[0] - 1e-12 * v[0].abs())
    );
}

#[test]
fn bad_sample_weights_are_clear_errors() {
    let n = 200;
    let (x, d) = problem(33, n);
    let data = DataView::new(&x, n, d).unwrap();
    let params = GaussianMixtureParams::new(3);
    let mut few = vec![0.0; n];
    few[3] = 1.0;
    few[8] = 2.0;
    let mut neg = vec![1.0; n];
    neg[5] = -1.0;
    let mut nan = vec![1.0; n];
    nan[7] = f64::NAN;
    let mut inf = vec![1.0; n];
    inf[9] = f64::INFINITY;
    let cases: Vec<(Vec<f64>, &str)> = vec![
        (vec![1.0; n - 1], "199 weights for 200 rows"),
        (neg, "row 5 is -1"),
        (nan, "row 7 is NaN"),
        (inf, "row 9 is inf"),
        (vec![0.0; n], "all weights are zero"),
        (few, "only 2 rows have a positive weight"),
    ];
    for (w, needle) in cases {
        let e = params.fit_weighted(data, &w).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidSampleWeights { .. }),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
}

/// `c * w` fits as `w` for every `c` from 1e-300 to 1e300 (tiny weights used
/// to fall under the absolute `10 eps` floor of `N_k`: weights of 1e-20 gave
/// a lower bound of -221.8 instead of -3.53), and weights that sum past the
/// largest double are accepted.
#[test]
fn scaled_sample_weights_give_the_same_model() {
    let n = 600;
    let (x, d) = problem(41, n);
    let data = DataView::new(&x, n, d).unwrap();
    let w: Vec<f64> = (0..n).map(|i| 0.25 + ((i * 13) % 7) as f64 / 3.0).collect();
    for ct in CovarianceType::ALL {
        let params = GaussianMixtureParams::new(3)
            .covariance_type(ct)
            .seed(5)
            .tol(1e-10);
        let base = params.fit_weighted(data, &w).unwrap();
        for c in [1e-300, 1e-200, 1e-20, 1e-15, 0.37, 3.0, 1e15, 1e200, 1e300] {
            let scaled: Vec<f64> = w.iter().map(|v| v * c).collect();
            let fit = params.fit_weighted(data, &scaled).unwrap();
            let close = |a: &[f64], b: &[f64], what: &str| {
                for (p, q) in a.iter().zip(b) {
                    assert!(
                        (p - q).abs() <= 1e-12 * q.abs().max(1.0),
                        "{ct} c={c:e} {what}: {p} vs {q}"
                    );
                }
            };
            close(
                &[fit.report.lower_bound],
                &[base.report.lower_bound],
                "lower bound",
            );
            close(fit.model.weights(), base.model.weights(), "weights");
            close(fit.model.means(), base.model.means(), "means");
            close(
                fit.model.covariances(),
                base.model.covariances(),
                "covariances",
            );
            assert_eq!(fit.report.n_iter, base.report.n_iter, "{ct} c={c:e}");
        }
    }
    let huge = vec![f64::MAX; n];
    let ones = vec![1.0; n];
    let params = GaussianMixtureParams::new(3).seed(2);
    let (a, b) = (
        params.fit_weighted(data, &huge).unwrap(),
        params.fit_weighted(data, &ones).unwrap(),
    );
    assert!((a.report.lower_bound - b.report.lower_bound).abs() < 1e-12);
}
