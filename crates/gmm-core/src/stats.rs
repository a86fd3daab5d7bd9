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
//!
//! [`SufficientStats::compute`] (the E-step that makes them) lives with the
//! model it evaluates (`model.rs`); this file only holds and merges them.

use serde::{Deserialize, Serialize};

use crate::covariance::CovarianceType;
use crate::error::{Error, Result};
use crate::kernel::StatsMut;

/// Sufficient statistics of an E-step (see the module docs for the formulas).
///
/// All values are `f64` whatever the data type. Serialisable, so shards
/// computed elsewhere can be shipped and merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SufficientStats {
    covariance_type: CovarianceType,
    n_components: usize,
    n_features: usize,
    nk: Vec<f64>,
    s: Vec<f64>,
    scatter: Vec<f64>,
    sum_log_likelihood: f64,
    n_samples: f64,
    /// The (at most `K`) rows with the lowest log-likelihood, as
    /// `(log-likelihood, row)` sorted ascending (ties: lower row first);
    /// rows of weight zero are not candidates. Used to re-seed collapsed
    /// components.
    #[serde(default)]
    lowest: Vec<(f64, u64)>,
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

    /// The statistics of one row of weight 1 at each component's mean
    /// (`N_k = 1`, `s_k = 0`, `S_k = 0`): what the one-point initialisations
    /// (k-means++ seeds, random rows) start the M-step from.
    pub(crate) fn one_point_each(covariance_type: CovarianceType, k: usize, d: usize) -> Self {
        let mut stats = Self::zeros(covariance_type, k, d);
        stats.nk.fill(1.0);
        stats.n_samples = k as f64;
        stats
    }

    /// The sums the kernels add a chunk's statistics to.
    #[inline(always)]
    pub(crate) fn kernel_view(&mut self) -> StatsMut<'_> {
        StatsMut {
            covariance_type: self.covariance_type,
            nk: &mut self.nk,
            s: &mut self.s,
            scatter: &mut self.scatter,
        }
    }

    /// Adds the log-likelihood and the (weighted) number of rows of a chunk.
    #[inline(always)]
    pub(crate) fn add_rows(&mut self, sum_log_likelihood: f64, n_samples: f64) {
        self.sum_log_likelihood += sum_log_likelihood;
        self.n_samples += n_samples;
    }

    /// The log-likelihood a row must not exceed to be among the `K` lowest
    /// kept so far (`+inf` while fewer are kept).
    #[inline(always)]
    pub(crate) fn lowest_threshold(&self) -> f64 {
        if self.lowest.len() < self.n_components {
            f64::INFINITY
        } else {
            self.lowest[self.n_components - 1].0
        }
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

    /// Appends the statistics to `out` as `f64`s (row indices below 2^53),
    /// for another process of a spread fit ([`SufficientStats::read_wire`]).
    pub(crate) fn write_wire(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(&self.nk);
        out.extend_from_slice(&self.s);
        out.extend_from_slice(&self.scatter);
        out.push(self.sum_log_likelihood);
        out.push(self.n_samples);
        out.push(self.lowest.len() as f64);
        for &(ll, row) in &self.lowest {
            out.push(ll);
            out.push(row as f64);
        }
    }

    /// The most `f64`s [`SufficientStats::write_wire`] writes for this shape.
    pub(crate) fn wire_len(&self) -> usize {
        self.nk.len() + self.s.len() + self.scatter.len() + 3 + 2 * self.n_components
    }

    /// Reads statistics written by [`SufficientStats::write_wire`] from the
    /// front of `input` into `self` (of the same shape); returns the rest.
    pub(crate) fn read_wire<'i>(&mut self, input: &'i [f64]) -> &'i [f64] {
        let mut rest = input;
        for v in [&mut self.nk, &mut self.s, &mut self.scatter] {
            let (head, tail) = rest.split_at(v.len());
            v.copy_from_slice(head);
            rest = tail;
        }
        let (head, tail) = rest.split_at(3);
        self.sum_log_likelihood = head[0];
        self.n_samples = head[1];
        let (pairs, tail) = tail.split_at(2 * head[2] as usize);
        self.lowest = pairs.chunks_exact(2).map(|p| (p[0], p[1] as u64)).collect();
        tail
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

fn add(a: &mut [f64], b: &[f64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}
