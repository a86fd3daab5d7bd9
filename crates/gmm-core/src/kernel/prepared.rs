//! A model laid out for the kernels, built once per pass from plain slices.
//!
//! ```text
//! shift   = sum_k w_k mu_k                     (the data are loaded as x' = x - shift)
//! mu'_k   = mu_k - shift
//! start_k = -mu'_k U_k                         (full, tied: y = x' U_k + start_k)
//! off_k   = log w_k + log|U_k| - D/2 log(2 pi)
//! ```

use super::layout::padded_features;
use crate::covariance::{CovarianceType, LN_2PI};

/// The parameters the kernels read, as the plain slices of a model (shapes as
/// in `GaussianMixture`'s getters).
#[derive(Clone, Copy)]
pub(crate) struct ModelRef<'a> {
    /// Covariance structure.
    pub covariance_type: CovarianceType,
    /// `K`.
    pub k: usize,
    /// `D`.
    pub d: usize,
    /// `w_k` (`K`).
    pub weights: &'a [f64],
    /// `log w_k` (`K`).
    pub log_weights: &'a [f64],
    /// `mu_k` (`K x D`).
    pub means: &'a [f64],
    /// `U_k` as scikit-learn's `precisions_cholesky_`.
    pub precisions_cholesky: &'a [f64],
    /// `log |U_k|` (`K`).
    pub log_det_precision_cholesky: &'a [f64],
}

/// The largest rounding scale `t_k = max_b sum_a |mu'_ka| |U_k[a, b]|` (the
/// size of a component's offset from the shift, in its own units) for which
/// the kernels may work on shifted data. Both the shift of a row,
/// `x' = x - shift`, and the form `y = x' U - mu' U` round by about
/// `eps t_k` in `y`, at most `2e-13` here; beyond it (a component far from
/// the others, or with a tiny covariance far from the mixture's centre) the
/// whole model takes the exact form: rows unshifted, `y = (x - mu_k) U_k`
/// for every component, which is as accurate as a direct per-component
/// evaluation.
const UNCENTRED_MAX: f64 = 1e3;

/// A model laid out for the kernels, built once per pass over the data.
///
/// The kernels work on data shifted by a fixed vector, `x' = x - shift` with
/// `shift = sum_k w_k mu_k` (applied as a chunk is loaded), so that the means
/// they see, `mu'_k = mu_k - shift`, are small next to the data's offset.
pub(crate) struct Prepared {
    pub(super) covariance_type: CovarianceType,
    pub(super) k: usize,
    pub(super) d: usize,
    pub(super) dp: usize,
    /// `sum_k w_k mu_k` (`D`).
    pub shift: Vec<f64>,
    /// `mu_k - shift` (`K x D`).
    pub centres: Vec<f64>,
    /// Full: `K` blocks of `D x Dp` (row `a` holds `U_k[a, b]` for `a <= b < D`,
    /// zeros elsewhere); tied: one such block; diag and spherical: `K x D`
    /// per-feature precision factors.
    pub(super) factors: Vec<f64>,
    /// Full and tied: `-(mu_k - shift) U_k` (`K x Dp`, zero after `D`).
    pub(super) start: Vec<f64>,
    /// Full and tied, per component: whiten `x' - mu'_k` rather than
    /// `x' U_k - mu'_k U_k` (all of them, with no shift, when any component's
    /// rounding scale exceeds [`UNCENTRED_MAX`]).
    pub(crate) centred: Vec<bool>,
    /// `log w_k + log|U_k| - D/2 log(2 pi)`.
    pub(super) offsets: Vec<f64>,
}

impl Prepared {
    /// Covariance type, `K` and `D` of the model.
    pub fn shape(&self) -> (CovarianceType, usize, usize) {
        (self.covariance_type, self.k, self.d)
    }

    /// Lays out `model` for the kernels.
    pub fn new(model: ModelRef<'_>) -> Self {
        let ModelRef {
            covariance_type: ct,
            k,
            d,
            weights,
            log_weights,
            means,
            precisions_cholesky: prec,
            log_det_precision_cholesky: log_det,
        } = model;
        let dp = padded_features(d);
        let mut shift = vec![0.0; d];
        for (w, mu) in weights.iter().zip(means.chunks_exact(d)) {
            for (s, m) in shift.iter_mut().zip(mu) {
                *s += w * m;
            }
        }
        let factors = match ct {
            CovarianceType::Full | CovarianceType::Tied => {
                let n = if ct == CovarianceType::Full { k } else { 1 };
                let mut f = vec![0.0; n * d * dp];
                for c in 0..n {
                    for a in 0..d {
                        for b in a..d {
                            f[c * d * dp + a * dp + b] = prec[c * d * d + a * d + b];
                        }
                    }
                }
                f
            }
            CovarianceType::Diag => prec.to_vec(),
            CovarianceType::Spherical => (0..k * d).map(|i| prec[i / d]).collect(),
        };
        let rounding_scale = |shift: &[f64], c: usize| -> f64 {
            let mu = &means[c * d..(c + 1) * d];
            match ct {
                CovarianceType::Full | CovarianceType::Tied => {
                    let u = &factors[ct.matrix_start(c, d * dp)..][..d * dp];
                    (0..d)
                        .map(|b| {
                            (0..=b)
                                .map(|a| ((mu[a] - shift[a]) * u[a * dp + b]).abs())
                                .sum::<f64>()
                        })
                        .fold(0.0, f64::max)
                }
                CovarianceType::Diag | CovarianceType::Spherical => (0..d)
                    .map(|a| ((mu[a] - shift[a]) * factors[c * d + a]).abs())
                    .fold(0.0, f64::max),
            }
        };
        // NaN (an overflowing offset) counts as too far.
        let exact = !(0..k).all(|c| rounding_scale(&shift, c) <= UNCENTRED_MAX);
        if exact {
            shift.fill(0.0);
        }
        let centres: Vec<f64> = means
            .chunks_exact(d)
            .flat_map(|mu| mu.iter().zip(&shift).map(|(m, s)| m - s))
            .collect();
        let mut start = vec![0.0; k * dp];
        if matches!(ct, CovarianceType::Full | CovarianceType::Tied) {
            for c in 0..k {
                let u = &factors[ct.matrix_start(c, d * dp)..][..d * dp];
                for b in 0..d {
                    let mut y = 0.0;
                    for a in 0..=b {
                        y += centres[c * d + a] * u[a * dp + b];
                    }
                    start[c * dp + b] = -y;
                }
            }
        }
        let centred = vec![exact; k];
        let half_const = 0.5 * (d as f64 * LN_2PI);
        let offsets = (0..k)
            .map(|c| log_weights[c] + log_det[c] - half_const)
            .collect();
        Self {
            covariance_type: ct,
            k,
            d,
            dp,
            shift,
            centres,
            factors,
            start,
            centred,
            offsets,
        }
    }
}
