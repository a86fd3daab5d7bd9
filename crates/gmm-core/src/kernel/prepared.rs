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

/// The largest `|(mu_k - shift) U_k|` (in any coordinate) for which the
/// whitening may use `y = x' U - mu' U`. Its rounding error in `y` is about
/// `D eps |mu' U|` (as in scikit-learn, which computes `y` this way without a
/// shift), at most `1e-10` here; a component further from the shift in its own
/// units (a tiny covariance far from the mixture's centre) is whitened from
/// `x' - mu'`, exact for rows at its mean.
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
    /// `x' U_k - mu'_k U_k`, because `|mu'_k U_k|` exceeds [`UNCENTRED_MAX`].
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
        let centres: Vec<f64> = means
            .chunks_exact(d)
            .flat_map(|mu| mu.iter().zip(&shift).map(|(m, s)| m - s))
            .collect();
        let mut start = vec![0.0; k * dp];
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
                for c in 0..k {
                    let u = &f[ct.matrix_start(c, d * dp)..][..d * dp];
                    for b in 0..d {
                        let mut y = 0.0;
                        for a in 0..=b {
                            y += centres[c * d + a] * u[a * dp + b];
                        }
                        start[c * dp + b] = -y;
                    }
                }
                f
            }
            CovarianceType::Diag => prec.to_vec(),
            CovarianceType::Spherical => (0..k * d).map(|i| prec[i / d]).collect(),
        };
        let centred = start
            .chunks_exact(dp)
            .map(|v| !v.iter().all(|y| y.abs() <= UNCENTRED_MAX))
            .collect();
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
