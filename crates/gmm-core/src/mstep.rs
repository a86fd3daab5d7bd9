//! The M-step: sufficient statistics to the next parameters, and the opt-in
//! recovery of collapsed components.
//!
//! Statistics centred on the current means `mu_k` (see `stats`) give the new
//! parameters by the formulas of [`m_step_parameters`]; [`Parameters::factor`]
//! then computes the precision Cholesky factors, and fails naming the first
//! covariance that is not positive definite.

use serde::Serialize;

use crate::covariance::{self, CovarianceType};
use crate::data::Rows;
use crate::error::{Error, Result};
use crate::stats::SufficientStats;

/// `10 * f64::EPSILON`, added to every `N_k` as scikit-learn does, so an empty
/// component divides by a tiny number instead of zero.
pub(crate) const NK_EPS: f64 = 10.0 * f64::EPSILON;

/// Raw parameters of a mixture before its precision factors are computed.
#[derive(Debug, Clone)]
pub(crate) struct Parameters {
    pub k: usize,
    pub d: usize,
    pub weights: Vec<f64>,
    pub means: Vec<f64>,
    pub covariances: Vec<f64>,
}

/// The M-step (scikit-learn semantics), not yet factored:
///
/// ```text
/// n_k      = N_k + 10 eps
/// w_k      = n_k / sum_j n_j
/// mu_k'    = (s_k + N_k mu_k) / n_k                 (= sum_n r_nk x_n / n_k)
/// e_k      = mu_k' - mu_k
/// Sigma_k' = (S_k - s_k e_k^T - e_k s_k^T + N_k e_k e_k^T) / n_k + reg_covar I
/// ```
///
/// (the last line is `sum_n r_nk (x_n - mu_k')(x_n - mu_k')^T / n_k + reg_covar I`
/// exactly), for statistics centred on `centres` (`mu_k`).
pub(crate) fn m_step_parameters(
    covariance_type: CovarianceType,
    centres: &[f64],
    stats: &SufficientStats,
    reg_covar: f64,
) -> Parameters {
    let (k, d) = (stats.n_components(), stats.n_features());
    debug_assert_eq!(stats.covariance_type(), covariance_type);
    let nk_reg: Vec<f64> = stats.nk().iter().map(|n| n + NK_EPS).collect();
    let total: f64 = nk_reg.iter().sum();
    let weights: Vec<f64> = nk_reg.iter().map(|n| n / total).collect();
    let mut means = vec![0.0; k * d];
    // e_k = mu_k' - mu_k, the shift of each mean (K x D).
    let mut shift = vec![0.0; k * d];
    for c in 0..k {
        let (n_raw, n) = (stats.nk()[c], nk_reg[c]);
        let s = &stats.centred_sums()[c * d..(c + 1) * d];
        for j in 0..d {
            let mu = centres[c * d + j];
            let new = (s[j] + n_raw * mu) / n;
            means[c * d + j] = new;
            shift[c * d + j] = new - mu;
        }
    }
    // sum_n r_nk (x_n - mu_k')(x_n - mu_k')^T entry (i, j) from the statistics
    // centred on mu_k: S_k - s_k e_k^T - e_k s_k^T + N_k e_k e_k^T.
    let recentred = |c: usize, sc_ij: f64, i: usize, j: usize| -> f64 {
        let s = &stats.centred_sums()[c * d..(c + 1) * d];
        let e = &shift[c * d..(c + 1) * d];
        sc_ij - s[i] * e[j] - e[i] * s[j] + stats.nk()[c] * e[i] * e[j]
    };
    let mut covariances = vec![0.0; covariance_type.covariances_len(k, d)];
    match covariance_type {
        CovarianceType::Full => {
            for c in 0..k {
                let sc = &stats.centred_scatter()[c * d * d..(c + 1) * d * d];
                let cov = &mut covariances[c * d * d..(c + 1) * d * d];
                for i in 0..d {
                    for j in 0..=i {
                        let v = recentred(c, sc[i * d + j], i, j) / nk_reg[c];
                        cov[i * d + j] = v;
                        cov[j * d + i] = v;
                    }
                    cov[i * d + i] += reg_covar;
                }
            }
        }
        CovarianceType::Tied => {
            // The pooled scatter about the new means, over the summed n_k.
            let sc = stats.centred_scatter();
            for i in 0..d {
                for j in 0..=i {
                    let mut v = sc[i * d + j];
                    for c in 0..k {
                        v = recentred(c, v, i, j);
                    }
                    let v = v / total;
                    covariances[i * d + j] = v;
                    covariances[j * d + i] = v;
                }
                covariances[i * d + i] += reg_covar;
            }
        }
        CovarianceType::Diag | CovarianceType::Spherical => {
            for c in 0..k {
                let mut sum = 0.0;
                for j in 0..d {
                    let v = recentred(c, stats.centred_scatter()[c * d + j], j, j) / nk_reg[c]
                        + reg_covar;
                    if covariance_type == CovarianceType::Diag {
                        covariances[c * d + j] = v;
                    }
                    sum += v;
                }
                if covariance_type == CovarianceType::Spherical {
                    covariances[c] = sum / d as f64;
                }
            }
        }
    }
    Parameters {
        k,
        d,
        weights,
        means,
        covariances,
    }
}

/// Parameters with their precision Cholesky factors (see [`Parameters::factor`]).
#[derive(Debug, Clone)]
pub(crate) struct Factored {
    pub params: Parameters,
    pub precisions_cholesky: Vec<f64>,
    pub log_det_precision_cholesky: Vec<f64>,
}

impl Parameters {
    /// The precision Cholesky factors of the covariances; `Err(component)`
    /// names the first covariance that is not positive definite.
    pub fn factor(self, covariance_type: CovarianceType) -> std::result::Result<Factored, usize> {
        let (precisions_cholesky, log_det_precision_cholesky) =
            covariance::precisions(covariance_type, &self.covariances, self.k, self.d)?;
        Ok(Factored {
            params: self,
            precisions_cholesky,
            log_det_precision_cholesky,
        })
    }
}

/// The M-step of [`m_step_parameters`], factored; a covariance that is not
/// positive definite is a [`crate::ErrorKind::SingularCovariance`] naming
/// `iteration`.
pub(crate) fn m_step(
    covariance_type: CovarianceType,
    centres: &[f64],
    stats: &SufficientStats,
    reg_covar: f64,
    iteration: usize,
) -> Result<Factored> {
    m_step_parameters(covariance_type, centres, stats, reg_covar)
        .factor(covariance_type)
        .map_err(|component| Error::singular_covariance(component, iteration, reg_covar))
}

/// Why a collapsed component was re-seeded (see [`Reseed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ReseedReason {
    /// It held less than one row's worth of responsibility.
    Empty,
    /// Its covariance was not positive definite.
    Singular,
}

impl ReseedReason {
    /// `"empty"` or `"singular"`, as in the report JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReseedReason::Empty => "empty",
            ReseedReason::Singular => "singular",
        }
    }
}

/// A collapsed component re-seeded during EM (see
/// [`crate::GaussianMixtureParams::reseed_collapsed`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reseed {
    /// Iteration (1-based) whose M-step re-seeded the component.
    pub iteration: usize,
    /// The component.
    pub component: usize,
    /// The row it was re-seeded at: the row with the lowest log-likelihood
    /// under that iteration's model not already used.
    pub row: u64,
    /// Why: empty, or singular.
    pub reason: ReseedReason,
}

/// The M-step, re-seeding empty or singular components (see
/// [`crate::GaussianMixtureParams::reseed_collapsed`]): statistics `stats`
/// of an E-step over `data` centred on `centres`; every re-seed is appended
/// to `reseeds`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn m_step_with_recovery<D: Rows>(
    ct: CovarianceType,
    centres: &[f64],
    stats: &SufficientStats,
    reg_covar: f64,
    data: &D,
    iteration: usize,
    reseeds: &mut Vec<Reseed>,
) -> Result<Factored> {
    let k = stats.n_components();
    let singular = |c: usize| Error::singular_covariance(c, iteration, reg_covar);
    let p = m_step_parameters(ct, centres, stats, reg_covar);
    let mean_row_weight = stats.n_samples() / data.n_samples() as f64;
    let mut collapsed: Vec<usize> = (0..k)
        .filter(|&c| stats.nk()[c] < mean_row_weight)
        .collect();
    let mut reasons = vec![ReseedReason::Empty; collapsed.len()];
    loop {
        if !collapsed.is_empty() {
            let mut q = p.clone();
            reseed(&mut q, ct, &collapsed, stats, data)
                .ok_or_else(|| singular(collapsed[collapsed.len() - 1]))?;
            match q.factor(ct) {
                Ok(m) => {
                    let lowest = stats.lowest_likelihood_rows();
                    for (i, (&component, &reason)) in collapsed.iter().zip(&reasons).enumerate() {
                        reseeds.push(Reseed {
                            iteration,
                            component,
                            row: lowest[i].1,
                            reason,
                        });
                    }
                    return Ok(m);
                }
                Err(c) if ct != CovarianceType::Tied && !collapsed.contains(&c) => {
                    collapsed.push(c);
                    reasons.push(ReseedReason::Singular);
                }
                Err(c) => return Err(singular(c)),
            }
        } else {
            match p.clone().factor(ct) {
                Ok(m) => return Ok(m),
                Err(c) if ct != CovarianceType::Tied => {
                    collapsed.push(c);
                    reasons.push(ReseedReason::Singular);
                }
                Err(c) => return Err(singular(c)),
            }
        }
    }
}

/// Moves each component of `collapsed` (in order) to the next of the rows
/// with the lowest log-likelihood: mean at the row, covariance the mean
/// variance per feature of the other components (diagonal), weight `1/K`,
/// then renormalises the weights. `None` if there are not enough rows.
fn reseed<D: Rows>(
    p: &mut Parameters,
    ct: CovarianceType,
    collapsed: &[usize],
    stats: &SufficientStats,
    data: &D,
) -> Option<()> {
    let (k, d) = (p.k, p.d);
    let lowest = stats.lowest_likelihood_rows();
    if lowest.len() < collapsed.len() {
        return None;
    }
    let healthy: Vec<usize> = (0..k).filter(|c| !collapsed.contains(c)).collect();
    // Mean variance per feature over the healthy components (all if none is).
    let pool = if healthy.is_empty() {
        (0..k).collect()
    } else {
        healthy
    };
    let mut var = vec![0.0; d];
    for &c in &pool {
        let dense = covariance::dense_covariance(ct, &p.covariances, c, d);
        for j in 0..d {
            var[j] += dense[j * d + j] / pool.len() as f64;
        }
    }
    for (i, &c) in collapsed.iter().enumerate() {
        // Sent by the process holding the row, in a spread fit.
        let mean = &mut p.means[c * d..(c + 1) * d];
        data.scope().fetch_row(data, lowest[i].1 as usize, mean);
        match ct {
            CovarianceType::Full => {
                let cov = &mut p.covariances[c * d * d..(c + 1) * d * d];
                cov.fill(0.0);
                for j in 0..d {
                    cov[j * d + j] = var[j];
                }
            }
            CovarianceType::Diag => p.covariances[c * d..(c + 1) * d].copy_from_slice(&var),
            CovarianceType::Spherical => p.covariances[c] = var.iter().sum::<f64>() / d as f64,
            CovarianceType::Tied => {}
        }
        p.weights[c] = 1.0 / k as f64;
    }
    let total: f64 = p.weights.iter().sum();
    p.weights.iter_mut().for_each(|w| *w /= total);
    Some(())
}
