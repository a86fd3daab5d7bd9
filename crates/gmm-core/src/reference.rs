//! The naive reference implementation: the seed algorithm, kept as a test
//! oracle and as the benchmark baseline.
//!
//! It is the NumPy `gmm(X, K, max_itr, smoothing)` the project started from,
//! with scikit-learn's conventions so it can be compared with the fast path:
//! densities in probability space, one component at a time, an `N x K` matrix
//! of responsibilities, two passes (E then M), one thread, and its own scalar
//! linear algebra (Gauss-Jordan inverse and LU determinant), so it shares no
//! numerical code with the fast path.
//!
//! ```text
//! p_nk = w_k N(x_n | mu_k, Sigma_k)          (probability space: underflows in high D)
//! r_nk = p_nk / sum_j p_nj
//! lower bound = mean_n log sum_k p_nk
//! n_k = sum_n r_nk + 10 eps,  w_k = n_k / sum n,  mu_k = sum_n r_nk x_n / n_k
//! Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / n_k + reg_covar I
//! ```
//!
//! On well-conditioned low-dimensional data it agrees with the fast path to
//! rounding; in 64 dimensions the densities underflow to zero and the lower
//! bound becomes `-inf` or NaN.

use crate::covariance::LN_2PI;
use crate::data::DataView;
use crate::model::GaussianMixture;
use crate::mstep::NK_EPS;

/// Parameters of the reference EM (plain vectors, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceModel {
    /// `K`.
    pub n_components: usize,
    /// `D`.
    pub n_features: usize,
    /// Weights (`K`).
    pub weights: Vec<f64>,
    /// Means (`K x D`).
    pub means: Vec<f64>,
    /// Full covariances (`K x D x D`; the reference always fits full
    /// covariances, a model of another type is converted to dense matrices).
    pub covariances: Vec<f64>,
}

impl From<&GaussianMixture> for ReferenceModel {
    fn from(m: &GaussianMixture) -> Self {
        Self {
            n_components: m.n_components(),
            n_features: m.n_features(),
            weights: m.weights().to_vec(),
            means: m.means().to_vec(),
            covariances: (0..m.n_components())
                .flat_map(|c| m.covariance_matrix(c))
                .collect(),
        }
    }
}

/// Inverse and determinant of a `d x d` row-major matrix by Gauss-Jordan
/// elimination with partial pivoting.
fn inverse_and_det(a: &[f64], d: usize) -> (Vec<f64>, f64) {
    let mut m = a.to_vec();
    let mut inv = vec![0.0; d * d];
    for i in 0..d {
        inv[i * d + i] = 1.0;
    }
    let mut det = 1.0;
    for col in 0..d {
        let pivot = (col..d)
            .max_by(|&x, &y| m[x * d + col].abs().total_cmp(&m[y * d + col].abs()))
            .unwrap_or(col);
        if pivot != col {
            for j in 0..d {
                m.swap(col * d + j, pivot * d + j);
                inv.swap(col * d + j, pivot * d + j);
            }
            det = -det;
        }
        let p = m[col * d + col];
        det *= p;
        for j in 0..d {
            m[col * d + j] /= p;
            inv[col * d + j] /= p;
        }
        for r in 0..d {
            if r != col {
                let f = m[r * d + col];
                if f != 0.0 {
                    for j in 0..d {
                        m[r * d + j] -= f * m[col * d + j];
                        inv[r * d + j] -= f * inv[col * d + j];
                    }
                }
            }
        }
    }
    (inv, det)
}

/// Density `N(x | mu, Sigma)` in probability space, as `scipy.stats.multivariate_normal.pdf`.
fn pdf(x: &[f64], mu: &[f64], inv: &[f64], det: f64, d: usize) -> f64 {
    let mut maha = 0.0;
    for i in 0..d {
        for j in 0..d {
            maha += (x[i] - mu[i]) * inv[i * d + j] * (x[j] - mu[j]);
        }
    }
    (-0.5 * maha).exp() / ((d as f64 * LN_2PI).exp() * det).sqrt()
}

impl ReferenceModel {
    /// One EM iteration on `data`: returns the next parameters and the lower
    /// bound (mean log-likelihood) of this iteration's E-step.
    pub fn step(&self, data: DataView<'_, f64>, reg_covar: f64) -> (ReferenceModel, f64) {
        let (n, d, k) = (data.n_samples(), self.n_features, self.n_components);
        // E-step: weighted densities, one component at a time.
        let mut r = vec![0.0; n * k];
        for c in 0..k {
            let (inv, det) = inverse_and_det(&self.covariances[c * d * d..(c + 1) * d * d], d);
            let mu = &self.means[c * d..(c + 1) * d];
            for i in 0..n {
                r[i * k + c] = self.weights[c] * pdf(data.row(i), mu, &inv, det, d);
            }
        }
        let mut ll = 0.0;
        for i in 0..n {
            let row = &mut r[i * k..(i + 1) * k];
            let total: f64 = row.iter().sum();
            ll += total.ln();
            for v in row.iter_mut() {
                *v /= total;
            }
        }
        // M-step: second pass per component.
        let mut next = ReferenceModel {
            n_components: k,
            n_features: d,
            weights: vec![0.0; k],
            means: vec![0.0; k * d],
            covariances: vec![0.0; k * d * d],
        };
        for c in 0..k {
            let nk: f64 = (0..n).map(|i| r[i * k + c]).sum::<f64>() + NK_EPS;
            next.weights[c] = nk;
            let mu = &mut next.means[c * d..(c + 1) * d];
            for i in 0..n {
                for (m, x) in mu.iter_mut().zip(data.row(i)) {
                    *m += r[i * k + c] * x;
                }
            }
            mu.iter_mut().for_each(|m| *m /= nk);
            let mu = mu.to_vec();
            let cov = &mut next.covariances[c * d * d..(c + 1) * d * d];
            for i in 0..n {
                let x = data.row(i);
                let w = r[i * k + c];
                for a in 0..d {
                    for b in 0..d {
                        cov[a * d + b] += w * (x[a] - mu[a]) * (x[b] - mu[b]);
                    }
                }
            }
            cov.iter_mut().for_each(|v| *v /= nk);
            for a in 0..d {
                cov[a * d + a] += reg_covar;
            }
        }
        let total: f64 = next.weights.iter().sum();
        next.weights.iter_mut().for_each(|w| *w /= total);
        (next, ll / n as f64)
    }

    /// `max_iter` iterations (stopping early when the lower bound changes by
    /// less than `tol`); returns the final parameters and every lower bound.
    pub fn fit(
        &self,
        data: DataView<'_, f64>,
        max_iter: usize,
        tol: f64,
        reg_covar: f64,
    ) -> (ReferenceModel, Vec<f64>) {
        let mut model = self.clone();
        let mut bounds: Vec<f64> = Vec::new();
        for _ in 0..max_iter {
            let (next, lb) = model.step(data, reg_covar);
            model = next;
            let prev = bounds.last().copied().unwrap_or(f64::NEG_INFINITY);
            bounds.push(lb);
            if (lb - prev).abs() < tol {
                break;
            }
        }
        (model, bounds)
    }
}
