//! Accuracy far from the origin and between far-apart components: every
//! log-density is as accurate as a direct per-component evaluation of
//! `(x - mu_k) U_k` (the oracle below), whatever the translation of the data
//! and the separation of the components.

use gmm::{CovarianceType, DataView, GaussianMixture, GaussianMixtureParams, Init};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `log p(x_i)` for every row by direct evaluation: `y = (x - mu_k) U_k` for
/// each component, then a log-sum-exp.
fn direct_log_density(m: &GaussianMixture, x: &[f64]) -> Vec<f64> {
    let (k, d) = (m.n_components(), m.n_features());
    let u = m.precisions_cholesky();
    let ct = m.covariance_type();
    x.chunks_exact(d)
        .map(|row| {
            let lps: Vec<f64> = (0..k)
                .map(|c| {
                    let mu = m.mean(c);
                    let diff: Vec<f64> = row.iter().zip(mu).map(|(a, b)| a - b).collect();
                    let (sq, log_det) = match ct {
                        CovarianceType::Full | CovarianceType::Tied => {
                            let uk = if ct == CovarianceType::Full {
                                &u[c * d * d..(c + 1) * d * d]
                            } else {
                                &u[..d * d]
                            };
                            let sq: f64 = (0..d)
                                .map(|b| {
                                    let y: f64 = (0..=b).map(|a| diff[a] * uk[a * d + b]).sum();
                                    y * y
                                })
                                .sum();
                            (sq, (0..d).map(|a| uk[a * d + a].ln()).sum::<f64>())
                        }
                        CovarianceType::Diag => {
                            let p = &u[c * d..(c + 1) * d];
                            (
                                diff.iter().zip(p).map(|(v, p)| (v * p).powi(2)).sum(),
                                p.iter().map(|p| p.ln()).sum::<f64>(),
                            )
                        }
                        _ => (
                            diff.iter().map(|v| (v * u[c]).powi(2)).sum(),
                            d as f64 * u[c].ln(),
                        ),
                    };
                    m.weights()[c].ln() + log_det - 0.5 * (d as f64 * LN_2PI + sq)
                })
                .collect();
            let top = lps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            top + lps.iter().map(|l| (l - top).exp()).sum::<f64>().ln()
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: row {i}: {g} vs direct {w} (relative error {:e})",
            ((g - w) / w).abs()
        );
    }
}

/// The reported case: weights (0.01, 0.99), means (1e18, 1e18) and (0, 0),
/// identity covariances, 1000 N(0, 1) rows: the exact mean log-likelihood is
/// about -2.82 (it was -3.11).
#[test]
fn a_far_component_does_not_spoil_the_near_one() {
    let n = 1000;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let x: Vec<f64> = (0..2 * n)
        .map(|_| rng.sample::<f64, _>(rand_distr_normal()))
        .collect();
    let data = DataView::new(&x, n, 2).unwrap();
    let m = GaussianMixture::from_parameters(
        CovarianceType::Full,
        2,
        2,
        vec![0.01, 0.99],
        vec![1e18, 1e18, 0.0, 0.0],
        vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
    )
    .unwrap();
    let direct = direct_log_density(&m, &x);
    assert_close(
        &m.score_samples(data).unwrap(),
        &direct,
        1e-13,
        "score_samples",
    );
    let exact = direct.iter().sum::<f64>() / n as f64;
    let score = m.score(data).unwrap();
    assert!((score - exact).abs() < 1e-12, "{score} vs {exact}");
    assert!((-2.9..-2.7).contains(&score), "{score}");
}

/// For every covariance type, components 1e3 to 1e300 apart, data and means
/// translated up to 1e8 (and 1e15): `score_samples` agrees with the direct
/// evaluation to 1e-12.
#[test]
fn far_apart_components_and_far_offsets_are_exact() {
    for ct in CovarianceType::ALL {
        for separation in [1e3, 1e6, 1e12, 1e16, 1e100, 1e300] {
            for offset in [0.0, 1e8, -1e15] {
                let d = 3;
                let means = vec![
                    offset,
                    offset + 1.0,
                    offset - 2.0,
                    offset + separation,
                    offset,
                    offset - 0.5 * separation,
                    offset - 3.0,
                    offset + 2.0,
                    offset,
                ];
                let m = model(ct, means, d, &[0.2, 0.3, 0.5], 7);
                let (x, _) = m.sample(600, 3);
                let got = m.score_samples(DataView::new(&x, 600, d).unwrap()).unwrap();
                let what = format!("{ct}, separation {separation:e}, offset {offset:e}");
                assert_close(&got, &direct_log_density(&m, &x), 1e-12, &what);
                let p = m.predict_proba(DataView::new(&x, 600, d).unwrap()).unwrap();
                for row in p.chunks_exact(3) {
                    assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{what}");
                }
            }
        }
    }
}

/// Random well-posed mixtures (K 1..5, D 1..6, every covariance type) with
/// random separations (10^0 .. 10^12 in units of the spread) and a random
/// translation (up to 1e8): `score_samples` agrees with direct evaluation.
#[test]
fn property_random_mixtures_translated_and_separated() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    for case in 0..120 {
        let ct = CovarianceType::ALL[case % 4];
        let k = rng.random_range(1..=5);
        let d = rng.random_range(1..=6);
        let shift: Vec<f64> = (0..d)
            .map(|_| rng.random_range(-1.0..1.0) * 10f64.powf(rng.random_range(0.0..8.0)))
            .collect();
        let mut means = Vec::with_capacity(k * d);
        for _ in 0..k {
            let sep = 10f64.powf(rng.random_range(0.0..12.0));
            for s in &shift {
                means.push(s + sep * rng.random_range(-1.0..1.0));
            }
        }
        let mut w: Vec<f64> = (0..k).map(|_| rng.random_range(0.05..1.0)).collect();
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= total);
        let m = model(ct, means, d, &w, case as u64);
        let n = 300;
        let (x, _) = m.sample(n, case as u64);
        let got = m.score_samples(DataView::new(&x, n, d).unwrap()).unwrap();
        let what = format!("case {case}: {ct}, K={k}, D={d}");
        assert_close(&got, &direct_log_density(&m, &x), 1e-12, &what);
    }
}

/// 9,900 N(0, 1) rows beside 100 rows near 1e16: the near cluster's fitted
/// mean and variance are its sample mean and variance (plus `reg_covar`;
/// they were wrong in the third decimal).
#[test]
fn fitting_beside_a_far_cluster_keeps_the_near_one_exact() {
    let (near, far) = (9_900, 100);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let mut x: Vec<f64> = (0..near)
        .map(|_| rng.sample::<f64, _>(rand_distr_normal()))
        .collect();
    x.extend((0..far).map(|i| 1e16 + 2.0 * (i % 5) as f64));
    let data = DataView::new(&x, near + far, 1).unwrap();
    let init = GaussianMixture::from_parameters(
        CovarianceType::Full,
        2,
        1,
        vec![0.5, 0.5],
        vec![0.5, 1e16],
        vec![2.0, 1.0],
    )
    .unwrap();
    for init in [Init::Given(init), Init::KMeans] {
        let fit = GaussianMixtureParams::new(2)
            .init(init)
            .tol(1e-12)
            .fit(data)
            .unwrap();
        let c = if fit.model.mean(0)[0] < 1e8 { 0 } else { 1 };
        let mean = x[..near].iter().sum::<f64>() / near as f64;
        // The fitted variance includes reg_covar (1e-6 by default).
        let var = x[..near].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / near as f64 + 1e-6;
        let (got_mean, got_var) = (fit.model.mean(c)[0], fit.model.covariances()[c]);
        assert!((got_mean - mean).abs() < 1e-10, "mean {got_mean} vs {mean}");
        assert!(
            (got_var - var).abs() < 1e-8 * var,
            "variance {got_var} vs {var}"
        );
        assert!((fit.model.weights()[c] - 0.99).abs() < 1e-12);
    }
}

fn rand_distr_normal() -> impl rand::distr::Distribution<f64> {
    struct BoxMuller;
    impl rand::distr::Distribution<f64> for BoxMuller {
        fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
            let (u, v): (f64, f64) = (rng.random(), rng.random());
            (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }
    BoxMuller
}

/// A model with the given means, weights and random well-conditioned
/// covariances (eigenvalues between 0.25 and 4) of type `ct`.
fn model(ct: CovarianceType, means: Vec<f64>, d: usize, w: &[f64], seed: u64) -> GaussianMixture {
    let k = w.len();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xA5A5);
    let mut spd = || -> Vec<f64> {
        // A = L L^T + 0.25 I with L lower triangular, entries in [-0.8, 0.8].
        let mut l = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                l[i * d + j] = rng.random_range(-0.8..0.8);
            }
        }
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|t| l[i * d + t] * l[j * d + t]).sum::<f64>()
                    + if i == j { 0.25 } else { 0.0 };
            }
        }
        a
    };
    let cov: Vec<f64> = match ct {
        CovarianceType::Full => (0..k).flat_map(|_| spd()).collect(),
        CovarianceType::Tied => spd(),
        CovarianceType::Diag => (0..k * d).map(|_| rng.random_range(0.25..4.0)).collect(),
        _ => (0..k).map(|_| rng.random_range(0.25..4.0)).collect(),
    };
    GaussianMixture::from_parameters(ct, k, d, w.to_vec(), means, cov).unwrap()
}
