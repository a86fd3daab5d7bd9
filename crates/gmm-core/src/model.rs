//! The fitted model: parameters, their precision factors, and what can be
//! computed from them.

use rand::SeedableRng;
use rand_distr::{Binomial, Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::covariance::{self, CovarianceType};
use crate::data::{Rows, validate, validate_sample_weights};
use crate::error::{Error, ErrorKind, Result};
use crate::estep::{e_step, map_rows, map_rows_streamed};
use crate::kernel::{ModelRef, Prepared};
use crate::mstep::{self, Factored, Parameters};
use crate::stats::SufficientStats;

/// What a fit recorded about how the model was reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitInfo {
    /// Whether EM met the tolerance.
    pub converged: bool,
    /// EM iterations run in the kept restart.
    pub n_iter: usize,
    /// Lower bound (mean log-likelihood per sample) of the last iteration.
    pub lower_bound: f64,
}

/// A Gaussian mixture: weights `w_k`, means `mu_k` and covariances `Sigma_k`,
/// with the precision Cholesky factors used to evaluate densities.
///
/// Build one with [`GaussianMixture::from_parameters`], or get one from
/// [`crate::GaussianMixtureParams::fit`]. Immutable.
///
/// Matrices are row-major `f64` slices: means `K x D`, full covariances
/// `K x D x D`.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    covariance_type: CovarianceType,
    n_components: usize,
    n_features: usize,
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    means: Vec<f64>,
    covariances: Vec<f64>,
    precisions_cholesky: Vec<f64>,
    log_det_precision_cholesky: Vec<f64>,
    fit_info: Option<FitInfo>,
}

impl GaussianMixture {
    /// A mixture from its parameters, validated: shapes, finiteness, weights
    /// non-negative summing to 1 (within `1e-6`; renormalised unless they sum to 1
    /// up to rounding, so a fitted model written and read back keeps its bits), covariances
    /// symmetric positive definite.
    ///
    /// ```
    /// use gmm_core::{CovarianceType, GaussianMixture};
    /// let m = GaussianMixture::from_parameters(
    ///     CovarianceType::Full, 2, 1,
    ///     vec![0.25, 0.75], vec![-1.0, 1.0], vec![1.0, 0.5],
    /// ).unwrap();
    /// assert_eq!(m.predict(gmm_core::DataView::new(&[-3.0, 3.0], 2, 1).unwrap()).unwrap(), vec![0, 1]);
    /// ```
    pub fn from_parameters(
        covariance_type: CovarianceType,
        n_components: usize,
        n_features: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> Result<Self> {
        if n_components == 0 {
            return Err(Error::invalid("n_components", 0, "at least 1"));
        }
        if n_features == 0 {
            return Err(ErrorKind::NoFeatures.into());
        }
        let (k, d) = (n_components, n_features);
        if weights.len() != k {
            return Err(Error::dimension("number of weights", k, weights.len()));
        }
        if means.len() != k * d {
            return Err(Error::dimension(
                "number of mean values (K * D)",
                k * d,
                means.len(),
            ));
        }
        let expected_cov = covariance_type.covariances_len(k, d);
        if covariances.len() != expected_cov {
            return Err(Error::dimension(
                format!(
                    "number of covariance values ({}) for covariance type '{covariance_type}'",
                    covariance_type.shape_words()
                ),
                expected_cov,
                covariances.len(),
            ));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(ErrorKind::NonFiniteParameter {
                what: "the weights".into(),
            }
            .into());
        }
        for c in 0..k {
            if means[c * d..(c + 1) * d].iter().any(|v| !v.is_finite()) {
                return Err(ErrorKind::NonFiniteParameter {
                    what: format!("the means of component {c}"),
                }
                .into());
            }
        }
        let per = expected_cov
            / if covariance_type == CovarianceType::Tied {
                1
            } else {
                k
            };
        for (c, cov) in covariances.chunks_exact(per).enumerate() {
            if cov.iter().any(|v| !v.is_finite()) {
                return Err(ErrorKind::NonFiniteParameter {
                    what: if covariance_type == CovarianceType::Tied {
                        "the tied covariance".to_string()
                    } else {
                        format!("the covariances of component {c}")
                    },
                }
                .into());
            }
        }
        if let Some(w) = weights.iter().find(|w| **w < 0.0) {
            return Err(ErrorKind::InvalidWeights {
                reason: format!("{w} is negative: weights must be >= 0 and sum to 1"),
            }
            .into());
        }
        let sum: f64 = weights.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(ErrorKind::InvalidWeights {
                reason: format!("they sum to {sum}, not 1 (tolerance 1e-6)"),
            }
            .into());
        }
        if matches!(covariance_type, CovarianceType::Full | CovarianceType::Tied) {
            for (c, cov) in covariances.chunks_exact(d * d).enumerate() {
                if !covariance::is_symmetric(cov, d) {
                    return Err(ErrorKind::NotPositiveDefinite { component: c }.into());
                }
            }
        }
        // Weights that already sum to 1 up to rounding (every fitted model's)
        // are kept as they are, so that a model written and read back (a
        // model file, a pickle) has the same bits; others are normalised.
        let weights = if (sum - 1.0).abs() <= k as f64 * f64::EPSILON {
            weights
        } else {
            weights.iter().map(|w| w / sum).collect()
        };
        Self::assemble(covariance_type, k, d, weights, means, covariances)
            .map_err(|component| ErrorKind::NotPositiveDefinite { component }.into())
    }

    /// Builds the model and its precision factors; `Err(component)` names the
    /// first covariance that is not positive definite.
    pub(crate) fn assemble(
        covariance_type: CovarianceType,
        k: usize,
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> std::result::Result<Self, usize> {
        let p = Parameters {
            k,
            d,
            weights,
            means,
            covariances,
        };
        Ok(Self::from_factored(
            covariance_type,
            p.factor(covariance_type)?,
        ))
    }

    /// The model of parameters already factored (an M-step's result).
    pub(crate) fn from_factored(covariance_type: CovarianceType, f: Factored) -> Self {
        let Factored {
            params: p,
            precisions_cholesky,
            log_det_precision_cholesky,
        } = f;
        Self {
            covariance_type,
            n_components: p.k,
            n_features: p.d,
            log_weights: p.weights.iter().map(|w: &f64| w.ln()).collect(),
            weights: p.weights,
            means: p.means,
            covariances: p.covariances,
            precisions_cholesky,
            log_det_precision_cholesky,
            fit_info: None,
        }
    }

    /// The model laid out for the kernels.
    pub(crate) fn prepared(&self) -> Prepared {
        Prepared::new(ModelRef {
            covariance_type: self.covariance_type,
            k: self.n_components,
            d: self.n_features,
            weights: &self.weights,
            log_weights: &self.log_weights,
            means: &self.means,
            precisions_cholesky: &self.precisions_cholesky,
            log_det_precision_cholesky: &self.log_det_precision_cholesky,
        })
    }

    /// The model with `info` recorded (as a fit records it, and as the model
    /// file carries it): for fits driven from outside the engine's loop.
    pub fn with_fit_info(mut self, info: FitInfo) -> Self {
        self.fit_info = Some(info);
        self
    }

    /// The M-step: the model that maximises the expected log-likelihood given
    /// the statistics `stats` of an E-step of `self` (scikit-learn semantics):
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
    /// exactly). A covariance that is not positive definite is an
    /// [`ErrorKind::SingularCovariance`] naming the component and `iteration`.
    /// `iteration` is only used to name the iteration in a singular-covariance error.
    pub fn m_step(
        &self,
        stats: &SufficientStats,
        reg_covar: f64,
        iteration: usize,
    ) -> Result<Self> {
        if stats.n_components() != self.n_components || stats.n_features() != self.n_features {
            return Err(Error::dimension(
                "statistics shape (n_components * n_features) vs. the model",
                self.n_components * self.n_features,
                stats.n_components() * stats.n_features(),
            ));
        }
        Error::check_reg_covar(reg_covar)?;
        let f = mstep::m_step(
            self.covariance_type,
            &self.means,
            stats,
            reg_covar,
            iteration,
        )?;
        Ok(Self::from_factored(self.covariance_type, f))
    }

    /// Covariance structure.
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }

    /// Number of components `K`.
    pub fn n_components(&self) -> usize {
        self.n_components
    }

    /// Number of features `D`.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Mixture weights (`K`, summing to 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Means (`K x D`, row-major).
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// Mean of component `k` (`D`).
    #[track_caller]
    pub fn mean(&self, k: usize) -> &[f64] {
        &self.means[k * self.n_features..(k + 1) * self.n_features]
    }

    /// Covariances, shaped as scikit-learn's `covariances_` for the
    /// covariance type (row-major): full `K x D x D`, tied `D x D`, diag
    /// `K x D`, spherical `K`.
    pub fn covariances(&self) -> &[f64] {
        &self.covariances
    }

    /// The dense covariance matrix of component `k` (`D x D`, row-major),
    /// whatever the covariance type.
    #[track_caller]
    pub fn covariance_matrix(&self, k: usize) -> Vec<f64> {
        assert!(k < self.n_components, "component {k} out of range");
        covariance::dense_covariance(self.covariance_type, &self.covariances, k, self.n_features)
    }

    /// Precision Cholesky factors, shaped as scikit-learn's
    /// `precisions_cholesky_`: upper-triangular `U_k` with
    /// `Sigma_k^{-1} = U_k U_k^T` for full (`K x D x D`) and tied (`D x D`),
    /// `1 / sqrt(variance)` for diag (`K x D`) and spherical (`K`).
    pub fn precisions_cholesky(&self) -> &[f64] {
        &self.precisions_cholesky
    }

    /// How the model was fitted, if it came from a fit.
    pub fn fit_info(&self) -> Option<FitInfo> {
        self.fit_info
    }

    /// Number of free parameters (scikit-learn's `_n_parameters`):
    /// covariance parameters + `K D` means + `K - 1` weights.
    pub fn n_parameters(&self) -> usize {
        let (k, d) = (self.n_components, self.n_features);
        self.covariance_type.n_covariance_parameters(k, d) + k * d + k - 1
    }

    fn check_data<D: Rows>(&self, data: &D) -> Result<()> {
        if data.n_features() != self.n_features {
            return Err(Error::dimension(
                "number of data columns vs. the model's n_features",
                self.n_features,
                data.n_features(),
            ));
        }
        // In a spread fit every process checks its rows, and all agree.
        data.scope().agree(validate(data))
    }

    /// `log p(x_n)` for every row (scikit-learn's `score_samples`).
    pub fn score_samples<D: Rows>(&self, data: D) -> Result<Vec<f64>> {
        self.check_data(&data)?;
        Ok(map_rows(&self.prepared(), &data, 1, |_, ll, o| o[0] = ll))
    }

    /// [`GaussianMixture::score_samples`] handed to `sink` in pieces, in row
    /// order, as [`GaussianMixture::predict_proba_streamed`] hands its
    /// responsibilities: an error from `sink` (a caller's stop request, a
    /// failed write) stops the pass and is returned.
    pub fn score_samples_streamed<D: Rows, E: From<Error>>(
        &self,
        data: D,
        sink: impl FnMut(&[f64]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.check_data(&data)?;
        map_rows_streamed(&self.prepared(), &data, 1, |_, ll, o| o[0] = ll, sink)
    }

    /// Mean log-likelihood per row (scikit-learn's `score`).
    pub fn score<D: Rows>(&self, data: D) -> Result<f64> {
        self.check_data(&data)?;
        Ok(self.score_checked(&data))
    }

    /// [`GaussianMixture::score`] of data already checked against the model.
    pub(crate) fn score_checked<D: Rows>(&self, data: &D) -> f64 {
        e_step(&self.prepared(), data, None).mean_log_likelihood()
    }

    /// Responsibilities `p(k | x_n)` (`N x K`, row-major; rows sum to 1).
    pub fn predict_proba<D: Rows>(&self, data: D) -> Result<Vec<f64>> {
        self.check_data(&data)?;
        let k = self.n_components;
        Ok(map_rows(&self.prepared(), &data, k, |r, _, o| {
            o.copy_from_slice(r)
        }))
    }

    /// Most probable component of each row (ties: the lowest index).
    pub fn predict<D: Rows>(&self, data: D) -> Result<Vec<usize>> {
        self.check_data(&data)?;
        Ok(map_rows(&self.prepared(), &data, 1, |r, _, o| {
            o[0] = argmax(r)
        }))
    }

    /// [`GaussianMixture::predict_proba`] handed to `sink` in pieces, in row
    /// order (each piece whole rows of `K` values), so that the
    /// responsibilities of any number of rows can be written out with memory
    /// for 131,072 rows at a time. The data are checked first; an error from
    /// `sink` stops the pass and is returned.
    ///
    /// ```
    /// use gmm_core::{DataView, GaussianMixtureParams};
    /// let x: Vec<f64> = (0..200).map(|i| (i % 2) as f64 * 10.0 + (i as f64 * 0.37).sin()).collect();
    /// let data = DataView::new(&x, 200, 1).unwrap();
    /// let model = GaussianMixtureParams::new(2).fit(data).unwrap().model;
    /// let mut rows = 0;
    /// model
    ///     .predict_proba_streamed(data, |p| {
    ///         rows += p.len() / 2;
    ///         Ok::<(), gmm_core::Error>(())
    ///     })
    ///     .unwrap();
    /// assert_eq!(rows, 200);
    /// ```
    pub fn predict_proba_streamed<D: Rows, E: From<Error>>(
        &self,
        data: D,
        sink: impl FnMut(&[f64]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.check_data(&data)?;
        let k = self.n_components;
        map_rows_streamed(
            &self.prepared(),
            &data,
            k,
            |r, _, o| o.copy_from_slice(r),
            sink,
        )
    }

    /// [`GaussianMixture::predict`] handed to `sink` in pieces, in row order
    /// (as [`GaussianMixture::predict_proba_streamed`]).
    pub fn predict_streamed<D: Rows, E: From<Error>>(
        &self,
        data: D,
        sink: impl FnMut(&[usize]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.check_data(&data)?;
        map_rows_streamed(&self.prepared(), &data, 1, |r, _, o| o[0] = argmax(r), sink)
    }

    /// Bayesian information criterion: `-2 N score + n_parameters ln N`.
    pub fn bic<D: Rows>(&self, data: D) -> Result<f64> {
        let n = data.n_samples() as f64;
        Ok(-2.0 * self.score(&data)? * n + self.n_parameters() as f64 * n.ln())
    }

    /// Akaike information criterion: `-2 N score + 2 n_parameters`.
    pub fn aic<D: Rows>(&self, data: D) -> Result<f64> {
        let n = data.n_samples() as f64;
        Ok(-2.0 * self.score(&data)? * n + 2.0 * self.n_parameters() as f64)
    }

    /// Draws `n` rows from the mixture, seeded. Returns the rows (`n x D`,
    /// row-major) and the component of each, grouped by component in order
    /// (as scikit-learn's `sample`).
    pub fn sample(&self, n: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
        // Reserve up front only what surely exists; beyond, the vectors grow.
        let cap = n.min((1 << 27) / self.n_features.max(1));
        let mut x = Vec::with_capacity(cap * self.n_features);
        let mut labels = Vec::with_capacity(cap);
        let r: std::result::Result<(), std::convert::Infallible> =
            self.sample_streamed(n, seed, |rows, l| {
                x.extend_from_slice(rows);
                labels.extend_from_slice(l);
                Ok(())
            });
        let Ok(()) = r;
        (x, labels)
    }

    /// [`GaussianMixture::sample`] handed to `sink` in pieces of at most
    /// 65,536 rows (`rows`, row-major, and their components), in order: the
    /// same values as `sample` for any `n`, with memory for one piece.
    /// An error from `sink` stops the draws and is returned.
    pub fn sample_streamed<E>(
        &self,
        n: usize,
        seed: u64,
        mut sink: impl FnMut(&[f64], &[usize]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        const PIECE: usize = 65_536;
        let (k, d) = (self.n_components, self.n_features);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // Multinomial counts by a chain of binomials.
        let mut counts = vec![0usize; k];
        let mut left = n as u64;
        let mut mass = 1.0f64;
        for c in 0..k {
            if left == 0 {
                break;
            }
            let p = if c + 1 == k {
                1.0
            } else {
                (self.weights[c] / mass).clamp(0.0, 1.0)
            };
            let draw = Binomial::new(left, p)
                .map(|b| b.sample(&mut rng))
                .unwrap_or(left);
            counts[c] = draw as usize;
            left -= draw;
            mass -= self.weights[c];
        }
        let mut x = Vec::with_capacity(PIECE.min(n) * d);
        let mut labels = Vec::with_capacity(PIECE.min(n));
        let mut z = vec![0.0; d];
        for c in 0..k {
            let l = covariance::cholesky_lower(&self.covariance_matrix(c), d)
                .expect("a model's covariances are positive definite");
            let mu = self.mean(c);
            for _ in 0..counts[c] {
                for v in z.iter_mut() {
                    *v = StandardNormal.sample(&mut rng);
                }
                for i in 0..d {
                    let lz: f64 = (0..=i).map(|j| l[i * d + j] * z[j]).sum();
                    x.push(mu[i] + lz);
                }
                labels.push(c);
                if labels.len() == PIECE {
                    sink(&x, &labels)?;
                    x.clear();
                    labels.clear();
                }
            }
        }
        if !labels.is_empty() {
            sink(&x, &labels)?;
        }
        Ok(())
    }
}

fn argmax(r: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in r.iter().enumerate() {
        if *v > r[best] {
            best = i;
        }
    }
    best
}

/// The E-step as a public operation: the statistics a shard contributes
/// (see the `stats` module docs for the formulas and an example).
impl SufficientStats {
    /// Runs the E-step of `model` over `data` and returns its statistics.
    ///
    /// One parallel pass over fixed-size blocks; the result is bit-identical
    /// whatever the size of the rayon thread pool.
    pub fn compute<D: Rows>(model: &GaussianMixture, data: D) -> Result<Self> {
        model.check_data(&data)?;
        Ok(e_step(&model.prepared(), &data, None))
    }

    /// Runs the E-step of `model` over `data` with one weight per row: every
    /// row's responsibilities and log-likelihood count `weight` times, and
    /// [`SufficientStats::n_samples`] is the sum of the weights. Integer
    /// weights give the statistics of the data with rows repeated (to rounding).
    ///
    /// Weights must be finite and non-negative with at least one positive.
    pub fn compute_weighted<D: Rows>(
        model: &GaussianMixture,
        data: D,
        weights: &[f64],
    ) -> Result<Self> {
        model.check_data(&data)?;
        validate_sample_weights(weights, data.n_samples(), 1)?;
        Ok(e_step(&model.prepared(), &data, Some(weights)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataView;
    use crate::estep::e_step_on;

    /// A model of each covariance type with distinct, well-conditioned parameters.
    fn model(ct: CovarianceType, k: usize, d: usize) -> GaussianMixture {
        let weights = (0..k).map(|c| (c + 1) as f64).collect::<Vec<_>>();
        let total: f64 = weights.iter().sum();
        let weights = weights.iter().map(|w| w / total).collect();
        let means = (0..k * d).map(|i| ((i * 7) % 11) as f64 / 3.0).collect();
        let full = |c: usize| -> Vec<f64> {
            (0..d * d)
                .map(|i| {
                    if i / d == i % d {
                        1.0 + 0.1 * c as f64
                    } else {
                        0.05
                    }
                })
                .collect()
        };
        let covariances = match ct {
            CovarianceType::Full => (0..k).flat_map(full).collect(),
            CovarianceType::Tied => full(0),
            CovarianceType::Diag => (0..k * d).map(|i| 1.0 + 0.01 * i as f64).collect(),
            CovarianceType::Spherical => (0..k).map(|c| 1.0 + 0.1 * c as f64).collect(),
        };
        GaussianMixture::from_parameters(ct, k, d, weights, means, covariances).unwrap()
    }

    /// Every instruction set the CPU has gives the same bits as the scalar
    /// code: sums over rows keep one partial per row index modulo 8 whatever the
    /// vector width. Covers the small-D and tiled paths, padding of rows and
    /// features, all covariance types, weighted rows, and responsibilities
    /// sparse enough to be gathered (see `kernel::gather`).
    #[test]
    fn instruction_sets_agree_bit_for_bit() {
        let archs = crate::kernel::test_archs();
        let n = 1000; // not a multiple of 16 or of a chunk
        for d in [1, 2, 3, 4, 7, 16] {
            let x: Vec<f64> = (0..n * d)
                .map(|i| ((i * 2_654_435_761usize) % 1000) as f64 / 150.0)
                .collect();
            let w: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.5).collect();
            // One row in five: responsibilities sparse enough to be gathered.
            let sparse: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 5 == 2))).collect();
            let data = DataView::new(&x, n, d).unwrap();
            for ct in CovarianceType::ALL {
                let m = model(ct, 3, d);
                for weights in [None, Some(&w[..]), Some(&sparse[..])] {
                    let p = m.prepared();
                    let reference = e_step_on(&p, &data, weights, archs[0]);
                    assert!(reference.sum_log_likelihood().is_finite());
                    for &arch in &archs[1..] {
                        let got = e_step_on(&p, &data, weights, arch);
                        assert_eq!(
                            got,
                            reference,
                            "{arch:?}, d = {d}, {ct:?}, weighted: {}",
                            weights.is_some()
                        );
                    }
                }
            }
        }
    }
}
