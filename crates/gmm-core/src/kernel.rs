//! Per-chunk kernels: the fused E-step and sufficient-statistics accumulation.
//!
//! For a chunk of `m` rows `X` (widened to `f64`) and each component `k`:
//!
//! ```text
//! C      = X - 1 mu_k^T                       (m x D, centred on the current mean)
//! Y      = C U_k                              (m x D, whitened)
//! lp_ik  = log w_k + log|U_k| - 1/2 (D log 2 pi + ||Y_i||^2)
//! ll_i   = logsumexp_k lp_ik                  (log-likelihood of row i)
//! r_ik   = exp(lp_ik - ll_i)                  (responsibilities)
//! N_k   += sum_i r_ik
//! s_k   += sum_i r_ik C_i
//! S_k   += C^T diag(r_k) C                 (lower triangle)
//! ```
//!
//! Drivers (see [`crate::stats`]) call these on fixed-size chunks inside
//! fixed-size blocks, so the floating-point summation order never depends on
//! the number of threads.

use crate::data::{DataView, Scalar};
use crate::model::GaussianMixture;
use crate::stats::SufficientStats;

/// Rows per chunk: the unit of the per-chunk kernels. A constant, never derived
/// from the thread count.
pub const CHUNK_ROWS: usize = 256;

/// Rows per block: the unit of parallel work. Each block reduces its chunks
/// sequentially; block results are merged in index order.
pub const BLOCK_ROWS: usize = 8192;

/// `log(2 pi)`.
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// Scratch buffers of one worker, sized for one chunk.
pub(crate) struct Scratch {
    /// The chunk widened to f64, `m x D`.
    pub x: Vec<f64>,
    /// One centred row, `D`.
    pub c: Vec<f64>,
    /// One whitened row, `D`.
    pub y: Vec<f64>,
    /// Weighted log-probabilities, then responsibilities, `m x K`.
    pub lp: Vec<f64>,
    /// Per-row log-likelihood, `m`.
    pub ll: Vec<f64>,
}

impl Scratch {
    pub fn new(k: usize, d: usize) -> Self {
        Self {
            x: vec![0.0; CHUNK_ROWS * d],
            c: vec![0.0; d],
            y: vec![0.0; d],
            lp: vec![0.0; CHUNK_ROWS * k],
            ll: vec![0.0; CHUNK_ROWS],
        }
    }

    /// Copies `rows` (at most [`CHUNK_ROWS`]) into `self.x` as f64; returns `m`.
    #[inline]
    pub fn load<T: Scalar>(&mut self, rows: DataView<'_, T>) -> usize {
        let m = rows.n_samples();
        debug_assert!(m <= CHUNK_ROWS);
        for (dst, src) in self.x.iter_mut().zip(rows.as_slice()) {
            *dst = src.to_f64();
        }
        m
    }
}

/// Fills `s.lp[i*K + k] = log w_k + log N(x_i | mu_k, Sigma_k)` for the `m`
/// rows loaded in `s.x`.
///
/// The whitening `y = (x - mu_k) U_k` uses only the upper triangle of `U_k`
/// (`D (D + 1) / 2` multiply-adds per row) in a fixed loop order, so the
/// result does not depend on memory alignment or on the thread that runs it.
pub(crate) fn weighted_log_prob(model: &GaussianMixture, m: usize, s: &mut Scratch) {
    let k_total = model.n_components();
    let d = model.n_features();
    let const_term = d as f64 * LN_2PI;
    for k in 0..k_total {
        let mu = model.mean(k);
        let u = model.precision_cholesky(k);
        let offset = model.log_weights[k] + model.log_det_precision_cholesky[k];
        let y = &mut s.y[..d];
        for (i, xr) in s.x[..m * d].chunks_exact(d).enumerate() {
            y.fill(0.0);
            for a in 0..d {
                let ca = xr[a] - mu[a];
                let urow = &u[a * d + a..(a + 1) * d];
                for (yb, ub) in y[a..].iter_mut().zip(urow) {
                    *yb += ca * ub;
                }
            }
            let sq: f64 = y.iter().map(|v| v * v).sum();
            s.lp[i * k_total + k] = offset - 0.5 * (const_term + sq);
        }
    }
}

/// Turns `s.lp` (first `m` rows, `K` columns) into responsibilities in place and
/// writes each row's log-likelihood `logsumexp_k lp_ik` into `s.ll`.
///
/// A row whose log-probabilities are all `-inf` (only possible when every
/// component has weight zero there) gets log-likelihood `-inf` and zero
/// responsibilities instead of NaN.
pub(crate) fn normalise_rows(m: usize, k: usize, s: &mut Scratch) {
    for (row, ll) in s.lp[..m * k].chunks_exact_mut(k).zip(s.ll.iter_mut()) {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            *ll = f64::NEG_INFINITY;
            row.fill(0.0);
            continue;
        }
        let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        *ll = lse;
        for v in row.iter_mut() {
            *v = (*v - lse).exp();
        }
    }
}

/// Adds the chunk's statistics, centred on `means` (`K x D`), to `stats`,
/// with responsibilities `resp` (`m x K`, row-major) for the rows in `s.x`.
///
/// Only the lower triangle of each scatter matrix is accumulated (row by row,
/// in a fixed order); `SufficientStats::mirror` fills the upper triangle
/// once a pass is complete.
pub(crate) fn accumulate(
    stats: &mut SufficientStats,
    means: &[f64],
    resp: &[f64],
    m: usize,
    s: &mut Scratch,
) {
    let k_total = stats.n_components();
    let d = stats.n_features();
    let c = &mut s.c[..d];
    for k in 0..k_total {
        let mu = &means[k * d..(k + 1) * d];
        let mut nk = 0.0;
        let sk = &mut stats.s[k * d..(k + 1) * d];
        let sc = &mut stats.scatter[k * d * d..(k + 1) * d * d];
        for (i, xr) in s.x[..m * d].chunks_exact(d).enumerate() {
            let r = resp[i * k_total + k];
            if r == 0.0 {
                continue;
            }
            nk += r;
            for j in 0..d {
                c[j] = xr[j] - mu[j];
                sk[j] += r * c[j];
            }
            for a in 0..d {
                let wa = r * c[a];
                for (dst, cb) in sc[a * d..a * d + a + 1].iter_mut().zip(&c[..=a]) {
                    *dst += wa * cb;
                }
            }
        }
        stats.nk[k] += nk;
    }
}
