//! The fitted model: parameters, their precision factors, and what can be
//! computed from them.

use rand::SeedableRng;
use rand_distr::{Binomial, Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::covariance::{self, CovarianceType};
use crate::data::{Rows, validate};
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{self, CHUNK_ROWS, Prepared, Scratch};
use crate::stats::{SufficientStats, ordered_blocks};

/// `10 * f64::EPSILON`, added to every `N_k` as scikit-learn does, so an empty
/// component divides by a tiny number instead of zero.
pub(crate) const NK_EPS: f64 = 10.0 * f64::EPSILON;

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
    pub(crate) log_weights: Vec<f64>,
    means: Vec<f64>,
    covariances: Vec<f64>,
    precisions_cholesky: Vec<f64>,
    pub(crate) log_det_precision_cholesky: Vec<f64>,
    fit_info: Option<FitInfo>,
}

impl GaussianMixture {
    /// A mixture from its parameters, validated: shapes, finiteness, weights
    /// non-negative summing to 1 (within `1e-6`, then renormalised), covariances
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
        let weights = weights.iter().map(|w| w / sum).collect();
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
        let (precisions_cholesky, log_det) =
            covariance::precisions(covariance_type, &covariances, k, d)?;
        Ok(Self {
            covariance_type,
            n_components: k,
            n_features: d,
            log_weights: weights.iter().map(|w: &f64| w.ln()).collect(),
            weights,
            means,
            covariances,
            precisions_cholesky,
            log_det_precision_cholesky: log_det,
            fit_info: None,
        })
    }

    pub(crate) fn with_fit_info(mut self, info: FitInfo) -> Self {
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
    /// exactly).
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
        if !(reg_covar >= 0.0 && reg_covar.is_finite()) {
            return Err(Error::invalid(
                "reg_covar",
                reg_covar,
                "a finite number >= 0",
            ));
        }
        m_step_from(self.covariance_type, &self.means, stats, reg_covar).map_err(|component| {
            ErrorKind::SingularCovariance {
                component,
                iteration,
                reg_covar,
            }
            .into()
        })
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
        validate(data)
    }

    /// Runs `per_chunk(row0, m, scratch)` after computing responsibilities
    /// (in `scratch.lp`) and log-likelihoods (in `scratch.ll`) for every chunk,
    /// in parallel, then concatenates the per-block outputs in order.
    fn map_rows<D: Rows, O: Send>(
        &self,
        data: &D,
        per_row: impl Fn(&[f64], f64) -> O + Sync,
    ) -> Vec<O> {
        let k = self.n_components;
        let mut out = Vec::with_capacity(data.n_samples());
        let prepared = Prepared::new(self);
        ordered_blocks(
            data.n_samples(),
            |_, start, end| {
                let mut s = Scratch::new(k, self.n_features);
                let mut row = vec![0.0; k];
                let mut block = Vec::with_capacity(end - start);
                // Compiled for the CPU's instruction set, as the E-step.
                pulp::Arch::new().dispatch(|| {
                    let mut lo = start;
                    while lo < end {
                        let hi = (lo + CHUNK_ROWS).min(end);
                        let m = s.load(data, lo, hi, &prepared.shift);
                        kernel::weighted_log_prob(&prepared, m, &mut s);
                        kernel::normalise_rows(m, k, &mut s);
                        for i in 0..m {
                            kernel::responsibilities_of_row(&s, i, &mut row);
                            block.push(per_row(&row, s.ll[i]));
                        }
                        lo = hi;
                    }
                });
                block
            },
            |block| out.extend(block),
        );
        out
    }

    /// `log p(x_n)` for every row (scikit-learn's `score_samples`).
    pub fn score_samples<D: Rows>(&self, data: D) -> Result<Vec<f64>> {
        self.check_data(&data)?;
        Ok(self.map_rows(&data, |_, ll| ll))
    }

    /// Mean log-likelihood per row (scikit-learn's `score`).
    pub fn score<D: Rows>(&self, data: D) -> Result<f64> {
        self.check_data(&data)?;
        Ok(SufficientStats::compute(self, &data)?.mean_log_likelihood())
    }

    /// Responsibilities `p(k | x_n)` (`N x K`, row-major; rows sum to 1).
    pub fn predict_proba<D: Rows>(&self, data: D) -> Result<Vec<f64>> {
        self.check_data(&data)?;
        Ok(self.map_rows(&data, |r, _| r.to_vec()).concat())
    }

    /// Most probable component of each row (ties: the lowest index).
    pub fn predict<D: Rows>(&self, data: D) -> Result<Vec<usize>> {
        self.check_data(&data)?;
        Ok(self.map_rows(&data, |r, _| argmax(r)))
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
        let mut x = Vec::with_capacity(n * d);
        let mut labels = Vec::with_capacity(n);
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
            }
        }
        (x, labels)
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

/// The M-step formulas of [`GaussianMixture::m_step`] given the means the
/// statistics are centred on. `Err(component)` names a singular covariance.
pub(crate) fn m_step_from(
    covariance_type: CovarianceType,
    centres: &[f64],
    stats: &SufficientStats,
    reg_covar: f64,
) -> std::result::Result<GaussianMixture, usize> {
    let p = m_step_parameters(covariance_type, centres, stats, reg_covar);
    GaussianMixture::assemble(covariance_type, p.k, p.d, p.weights, p.means, p.covariances)
}

/// Raw parameters of a mixture before its precision factors are computed.
#[derive(Debug, Clone)]
pub(crate) struct Parameters {
    pub k: usize,
    pub d: usize,
    pub weights: Vec<f64>,
    pub means: Vec<f64>,
    pub covariances: Vec<f64>,
}

/// The parameters of the M-step (see [`m_step_from`]), not yet factored.
pub(crate) fn m_step_parameters(
    covariance_type: CovarianceType,
    centres: &[f64],
    stats: &SufficientStats,
    reg_covar: f64,
) -> Parameters {
    let (k, d) = (stats.n_components(), stats.n_features());
    debug_assert_eq!(stats.covariance_type(), covariance_type);
    let nk_reg: Vec<f64> = stats.nk.iter().map(|n| n + NK_EPS).collect();
    let total: f64 = nk_reg.iter().sum();
    let weights: Vec<f64> = nk_reg.iter().map(|n| n / total).collect();
    let mut means = vec![0.0; k * d];
    // e_k = mu_k' - mu_k, the shift of each mean (K x D).
    let mut shift = vec![0.0; k * d];
    for c in 0..k {
        let (n_raw, n) = (stats.nk[c], nk_reg[c]);
        let s = &stats.s[c * d..(c + 1) * d];
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
        let s = &stats.s[c * d..(c + 1) * d];
        let e = &shift[c * d..(c + 1) * d];
        sc_ij - s[i] * e[j] - e[i] * s[j] + stats.nk[c] * e[i] * e[j]
    };
    let mut covariances = vec![0.0; covariance_type.covariances_len(k, d)];
    match covariance_type {
        CovarianceType::Full => {
            for c in 0..k {
                let sc = &stats.scatter[c * d * d..(c + 1) * d * d];
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
            let sc = &stats.scatter;
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
                    let v = recentred(c, stats.scatter[c * d + j], j, j) / nk_reg[c] + reg_covar;
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
