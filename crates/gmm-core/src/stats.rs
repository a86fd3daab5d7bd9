//! Sufficient statistics of one E-step, mergeable across shards.
//!
//! For responsibilities `r_nk` and the current means `mu_k`:
//!
//! ```text
//! N_k = sum_n r_nk
//! s_k = sum_n r_nk (x_n - mu_k)                     (D)
//! S_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T       (D x D)
//! L   = sum_n log p(x_n)                            (log-likelihood)
//! ```
//!
//! What is kept of `S_k` depends on the covariance type: the matrices of every
//! component (full), their sum (tied), or their diagonals (diag, spherical).
//!
//! Centring on the current means keeps the one-pass covariance as accurate as
//! a two-pass one. Statistics of disjoint shards computed against the same
//! model add up ([`SufficientStats::merge`]); [`GaussianMixture::m_step`]
//! turns the total into the next model. That is the seam for distributing a
//! fit over processes or machines:
//!
//! ```
//! use gmm_core::{DataView, GaussianMixture, SufficientStats, CovarianceType};
//! let x: Vec<f64> = (0..400).map(|i| ((i * 7919) % 101) as f64 / 10.0).collect();
//! let data = DataView::new(&x, 200, 2).unwrap();
//! let model = GaussianMixture::from_parameters(
//!     CovarianceType::Full, 2, 2,
//!     vec![0.5, 0.5], vec![2.0, 2.0, 8.0, 8.0],
//!     vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
//! ).unwrap();
//! // Two shards, as two machines would see them.
//! let mut total = SufficientStats::compute(&model, data.rows(0, 120)).unwrap();
//! total.merge(&SufficientStats::compute(&model, data.rows(120, 200)).unwrap()).unwrap();
//! let next = model.m_step(&total, 1e-6, 1).unwrap();
//! assert!((next.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! ```
//!
//! [`GaussianMixture::m_step`]: crate::GaussianMixture::m_step

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::covariance::CovarianceType;
use crate::data::{Rows, validate, validate_sample_weights};
use crate::error::{Error, Result};
use crate::kernel::{self, BLOCK_ROWS, CHUNK_ROWS, Prepared, Scratch};
use crate::model::GaussianMixture;

/// Blocks processed in parallel before their results are merged. Bounds the
/// memory held by unmerged block statistics; does not affect the results.
const GROUP_BLOCKS: usize = 64;

/// Sufficient statistics of an E-step (see the module docs for the formulas).
///
/// All values are `f64` whatever the data type. Serialisable, so shards
/// computed elsewhere can be shipped and merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SufficientStats {
    covariance_type: CovarianceType,
    n_components: usize,
    n_features: usize,
    pub(crate) nk: Vec<f64>,
    pub(crate) s: Vec<f64>,
    pub(crate) scatter: Vec<f64>,
    pub(crate) sum_log_likelihood: f64,
    pub(crate) n_samples: f64,
    /// The (at most `K`) rows with the lowest log-likelihood, as
    /// `(log-likelihood, row)` sorted ascending (ties: lower row first);
    /// rows of weight zero are not candidates. Used to re-seed collapsed
    /// components.
    #[serde(default)]
    pub(crate) lowest: Vec<(f64, u64)>,
}

impl SufficientStats {
    /// All-zero statistics for `k` components in `d` dimensions.
    pub fn zeros(covariance_type: CovarianceType, k: usize, d: usize) -> Self {
        Self {
            covariance_type,
            n_components: k,
            n_features: d,
            nk: vec![0.0; k],
            s: vec![0.0; k * d],
            scatter: vec![0.0; covariance_type.scatter_len(k, d)],
            sum_log_likelihood: 0.0,
            n_samples: 0.0,
            lowest: Vec::new(),
        }
    }

    /// Runs the E-step of `model` over `data` and returns its statistics.
    ///
    /// One parallel pass over fixed-size blocks; the result is bit-identical
    /// whatever the size of the rayon thread pool.
    pub fn compute<D: Rows>(model: &GaussianMixture, data: D) -> Result<Self> {
        check_data(model, &data)?;
        Ok(e_step(model, &data, None))
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
        check_data(model, &data)?;
        validate_sample_weights(weights, data.n_samples(), 1)?;
        Ok(e_step(model, &data, Some(weights)))
    }

    /// Adds `other` (statistics of disjoint rows, against the same model).
    pub fn merge(&mut self, other: &SufficientStats) -> Result<()> {
        if other.n_components != self.n_components || other.n_features != self.n_features {
            return Err(Error::dimension(
                "statistics to merge (n_components * n_features)",
                self.n_components * self.n_features,
                other.n_components * other.n_features,
            ));
        }
        if other.covariance_type != self.covariance_type {
            return Err(Error::invalid(
                "covariance type of the statistics to merge",
                other.covariance_type,
                "the type of these statistics",
            ));
        }
        add(&mut self.nk, &other.nk);
        add(&mut self.s, &other.s);
        add(&mut self.scatter, &other.scatter);
        self.sum_log_likelihood += other.sum_log_likelihood;
        self.n_samples += other.n_samples;
        for &(ll, row) in &other.lowest {
            self.offer_lowest(ll, row);
        }
        Ok(())
    }

    /// Copies the lower triangle of each scatter matrix onto the upper one
    /// (the kernels accumulate the lower triangle only).
    pub(crate) fn mirror(&mut self) {
        if !matches!(
            self.covariance_type,
            CovarianceType::Full | CovarianceType::Tied
        ) {
            return;
        }
        let d = self.n_features;
        for sc in self.scatter.chunks_exact_mut(d * d) {
            for a in 0..d {
                for b in 0..a {
                    sc[b * d + a] = sc[a * d + b];
                }
            }
        }
    }

    /// The covariance type the statistics are kept for.
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }

    /// Keeps `(ll, row)` if it is among the `K` lowest seen (a total order:
    /// log-likelihood, then row index, so merging order never matters).
    #[inline]
    pub(crate) fn offer_lowest(&mut self, ll: f64, row: u64) {
        let k = self.n_components;
        let key = |a: &(f64, u64)| (a.0, a.1);
        if self.lowest.len() == k {
            let last = key(self.lowest.last().expect("k >= 1"));
            if !(ll < last.0 || (ll == last.0 && row < last.1)) {
                return;
            }
            self.lowest.pop();
        }
        let at = self
            .lowest
            .partition_point(|a| a.0 < ll || (a.0 == ll && a.1 < row));
        self.lowest.insert(at, (ll, row));
    }

    /// The rows with the lowest log-likelihood under the model of the E-step
    /// (at most `K`, lowest first): `(log-likelihood, row index)`.
    pub fn lowest_likelihood_rows(&self) -> &[(f64, u64)] {
        &self.lowest
    }

    /// Number of components `K`.
    pub fn n_components(&self) -> usize {
        self.n_components
    }

    /// Number of features `D`.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// `N_k`, the summed responsibilities of each component (`K`).
    pub fn nk(&self) -> &[f64] {
        &self.nk
    }

    /// `s_k`, the responsibility-weighted sums of `x - mu_k` (`K x D`, row-major).
    pub fn centred_sums(&self) -> &[f64] {
        &self.s
    }

    /// `S_k`, the responsibility-weighted scatter matrices about `mu_k`,
    /// row-major: `K x D x D` (full), their sum `D x D` (tied), or their
    /// diagonals `K x D` (diag, spherical).
    pub fn centred_scatter(&self) -> &[f64] {
        &self.scatter
    }

    /// Number of rows the statistics were computed from (the sum of the
    /// sample weights when rows are weighted).
    pub fn n_samples(&self) -> f64 {
        self.n_samples
    }

    /// Sum of the per-row log-likelihoods under the model of the E-step.
    pub fn sum_log_likelihood(&self) -> f64 {
        self.sum_log_likelihood
    }

    /// Mean log-likelihood per row (weighted mean when rows are weighted):
    /// scikit-learn's lower bound of the iteration.
    pub fn mean_log_likelihood(&self) -> f64 {
        self.sum_log_likelihood / self.n_samples
    }
}

/// The data has the model's width and only finite values.
fn check_data<D: Rows>(model: &GaussianMixture, data: &D) -> Result<()> {
    if data.n_features() != model.n_features() {
        return Err(Error::dimension(
            "number of data columns vs. the model's n_features",
            model.n_features(),
            data.n_features(),
        ));
    }
    validate(data)
}

fn add(a: &mut [f64], b: &[f64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Maps every fixed block of `BLOCK_ROWS` rows of `n` in parallel and folds the
/// results in block order. The fold sees the same sequence of values whatever
/// the number of threads.
pub(crate) fn ordered_blocks<A: Send>(
    n: usize,
    map: impl Fn(usize, usize, usize) -> A + Sync,
    mut fold: impl FnMut(A),
) {
    let n_blocks = n.div_ceil(BLOCK_ROWS);
    let mut first = 0;
    while first < n_blocks {
        let last = (first + GROUP_BLOCKS).min(n_blocks);
        let parts: Vec<A> = (first..last)
            .into_par_iter()
            .map(|b| map(b, b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n)))
            .collect();
        parts.into_iter().for_each(&mut fold);
        first = last;
    }
}

/// The fused E-step pass (inputs already validated), with optional per-row
/// weights (indexed by row of `data`).
pub(crate) fn e_step<D: Rows>(
    model: &GaussianMixture,
    data: &D,
    weights: Option<&[f64]>,
) -> SufficientStats {
    e_step_on(model, data, weights, pulp::Arch::new())
}

/// [`e_step`] with the kernels compiled for `arch` (tests compare instruction
/// sets).
fn e_step_on<D: Rows>(
    model: &GaussianMixture,
    data: &D,
    weights: Option<&[f64]>,
    arch: pulp::Arch,
) -> SufficientStats {
    let k = model.n_components();
    let d = model.n_features();
    let ct = model.covariance_type();
    let mut total = SufficientStats::zeros(ct, k, d);
    let prepared = Prepared::new(model);
    ordered_blocks(
        data.n_samples(),
        |_, start, end| {
            let mut stats = SufficientStats::zeros(ct, k, d);
            let mut s = Scratch::with_arch(k, d, arch);
            pulp::Arch::new().dispatch(EStepBlock {
                model,
                prepared: &prepared,
                data,
                weights,
                start,
                end,
                stats: &mut stats,
                s: &mut s,
            });
            stats
        },
        |part| {
            total
                .merge(&part)
                .expect("block statistics have the model's shape");
        },
    );
    total.mirror();
    total
}

/// The fused E-step over rows `start..end`, chunk by chunk, as a
/// [`pulp::WithSimd`] operation: `with_simd` is instantiated inside a function
/// compiled for the detected instruction set (AVX2/FMA, AVX-512...), and
/// everything it calls is `#[inline(always)]`, so the row loops are vectorised
/// for that set. No operation is fused or reordered: every set gives the same bits.
struct EStepBlock<'a, 'b, D: Rows> {
    model: &'a GaussianMixture,
    prepared: &'a Prepared,
    data: &'a D,
    weights: Option<&'a [f64]>,
    start: usize,
    end: usize,
    stats: &'b mut SufficientStats,
    s: &'b mut Scratch,
}

impl<D: Rows> pulp::WithSimd for EStepBlock<'_, '_, D> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self {
            model,
            prepared,
            data,
            weights,
            start,
            end,
            stats,
            s,
        } = self;
        let k = model.n_components();
        let mut lo = start;
        while lo < end {
            let hi = (lo + CHUNK_ROWS).min(end);
            let m = s.load(data, lo, hi, &prepared.shift);
            kernel::weighted_log_prob(prepared, m, s);
            kernel::normalise_rows(m, k, s);
            match weights {
                None => {
                    stats.sum_log_likelihood += kernel::lane_sum(&s.ll[..m]);
                    stats.n_samples += m as f64;
                }
                Some(w) => {
                    let w = &w[lo..hi];
                    stats.sum_log_likelihood += kernel::weigh_rows(w, m, k, s);
                    stats.n_samples += w.iter().sum::<f64>();
                }
            }
            // Most chunks have no row below the K-th lowest so far: one
            // vectorisable count settles that.
            let full = stats.lowest.len() == k;
            if full {
                let threshold = stats.lowest[k - 1].0;
                if s.ll[..m].iter().filter(|&&ll| ll <= threshold).count() == 0 {
                    let resp = std::mem::take(&mut s.lp);
                    kernel::accumulate(stats, &prepared.centres, &resp, m, s);
                    s.lp = resp;
                    lo = hi;
                    continue;
                }
            }
            for (i, &ll) in s.ll[..m].iter().enumerate() {
                let counts = weights.is_none_or(|w| w[lo + i] > 0.0);
                let threshold = if stats.lowest.len() < k {
                    f64::INFINITY
                } else {
                    stats.lowest[k - 1].0
                };
                if ll <= threshold && counts {
                    stats.offer_lowest(ll, (lo + i) as u64);
                }
            }
            let resp = std::mem::take(&mut s.lp);
            kernel::accumulate(stats, &prepared.centres, &resp, m, s);
            s.lp = resp;
            lo = hi;
        }
    }
}

/// Statistics from given responsibilities, as scikit-learn's initialisation
/// computes parameters from an initial assignment. `fill(row0, m, resp)` writes
/// the responsibilities of rows `row0..row0+m` into `resp` (`m x K`). Two
/// passes: the first finds the weighted means, the second the scatter about them.
pub(crate) fn from_responsibilities<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    covariance_type: CovarianceType,
    k: usize,
    fill: impl Fn(usize, usize, &mut [f64]) + Sync,
) -> (SufficientStats, Vec<f64>) {
    let d = data.n_features();
    let zero_means = vec![0.0; k * d];
    let no_shift = vec![0.0; d];
    let pass = |means: &[f64]| {
        let mut total = SufficientStats::zeros(covariance_type, k, d);
        ordered_blocks(
            data.n_samples(),
            |_, start, end| {
                let mut stats = SufficientStats::zeros(covariance_type, k, d);
                let mut s = Scratch::new(k, d);
                let mut rows = vec![0.0; CHUNK_ROWS * k];
                let mut resp = kernel::Aligned::zeros(CHUNK_ROWS * k);
                // Compiled for the CPU's instruction set, as the E-step.
                pulp::Arch::new().dispatch(|| {
                    let mut lo = start;
                    while lo < end {
                        let hi = (lo + CHUNK_ROWS).min(end);
                        let m = s.load(data, lo, hi, &no_shift);
                        fill(lo, m, &mut rows[..m * k]);
                        match weights {
                            None => stats.n_samples += m as f64,
                            Some(w) => {
                                let w = &w[lo..hi];
                                for (row, wi) in rows[..m * k].chunks_exact_mut(k).zip(w) {
                                    row.iter_mut().for_each(|r| *r *= wi);
                                }
                                stats.n_samples += w.iter().sum::<f64>();
                            }
                        }
                        kernel::responsibilities_from_rows(&rows, m, k, &mut resp);
                        kernel::accumulate(&mut stats, means, &resp, m, &mut s);
                        lo = hi;
                    }
                });
                stats
            },
            |part| total.merge(&part).expect("same shape"),
        );
        total.mirror();
        total
    };
    let first = pass(&zero_means);
    let mut means = vec![0.0; k * d];
    for c in 0..k {
        if first.nk[c] > 0.0 {
            for j in 0..d {
                means[c * d + j] = first.s[c * d + j] / first.nk[c];
            }
        }
    }
    (pass(&means), means)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataView;

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
    /// sparse enough to be gathered (see `kernel::gather_pays`).
    #[test]
    fn instruction_sets_agree_bit_for_bit() {
        let mut archs = vec![("scalar", pulp::Arch::Scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(v3) = pulp::x86::V3::try_new() {
                archs.push(("avx2", pulp::Arch::V3(v3)));
            }
            if let Some(v4) = pulp::x86::V4::try_new() {
                archs.push(("avx512", pulp::Arch::V4(v4)));
            }
        }
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
                    let reference = e_step_on(&m, &data, weights, archs[0].1);
                    assert!(reference.sum_log_likelihood.is_finite());
                    for &(name, arch) in &archs[1..] {
                        let got = e_step_on(&m, &data, weights, arch);
                        assert_eq!(
                            got,
                            reference,
                            "{name}, d = {d}, {ct:?}, weighted: {}",
                            weights.is_some()
                        );
                    }
                }
            }
        }
    }
}
