//! Per-chunk kernels: the fused E-step and sufficient-statistics accumulation.
//!
//! For a chunk of `m` rows `X` (widened to `f64`) and each component `k`:
//!
//! ```text
//! C      = X - 1 mu_k^T                       (m x D, centred on the current mean)
//! Y      = C U_k                              (m x D, whitened; U_k upper triangular)
//! lp_ik  = log w_k + log|U_k| - 1/2 (D log 2 pi + ||Y_i||^2)
//! ll_i   = logsumexp_k lp_ik                  (log-likelihood of row i)
//! r_ik   = exp(lp_ik - ll_i)                  (responsibilities)
//! N_k   += sum_i r_ik
//! s_k   += sum_i r_ik C_i
//! S_k   += C^T diag(r_k) C                    (lower triangle)
//! ```
//!
//! The chunk is held transposed (`D x m`, one contiguous row of `m` values per
//! feature), so every inner loop runs over the `m` rows of the chunk: several
//! points per SIMD lane. Reductions over rows use eight independent partial
//! sums combined in a fixed order. Nothing depends on memory alignment or on
//! the thread that runs a chunk, and drivers (see [`crate::stats`]) merge chunks
//! and blocks in a fixed order, so results are bit-identical for any number of
//! threads.
//!
//! The drivers run these kernels inside `pulp` dispatch, which compiles them for
//! the best instruction set the CPU has (AVX2/FMA when present, detected at run
//! time) and lets the compiler vectorise the row loops. Floating-point
//! operations are never fused or reordered by that, so every instruction set
//! gives the same bits.

use crate::covariance::CovarianceType;
use crate::data::{Rows, Scalar};
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

const CH: usize = CHUNK_ROWS;

/// Scratch buffers of one worker, sized for one chunk.
pub(crate) struct Scratch {
    /// The chunk, transposed and widened to f64: `D x CH`.
    xt: Vec<f64>,
    /// The chunk centred on one mean: `D x CH`.
    ct: Vec<f64>,
    /// One row of `CH` temporaries.
    tmp: Vec<f64>,
    /// Squared norms, then row maxima: `CH`.
    acc: Vec<f64>,
    /// Weighted log-probabilities, then responsibilities: `K x CH`
    /// (component-major: `lp[k * CHUNK_ROWS + i]`).
    pub lp: Vec<f64>,
    /// Per-row log-likelihood: `CH`.
    pub ll: Vec<f64>,
}

impl Scratch {
    pub fn new(k: usize, d: usize) -> Self {
        Self {
            xt: vec![0.0; d * CH],
            ct: vec![0.0; d * CH],
            tmp: vec![0.0; CH],
            acc: vec![0.0; CH],
            lp: vec![0.0; k * CH],
            ll: vec![0.0; CH],
        }
    }

    /// Copies rows `lo..hi` (at most [`CHUNK_ROWS`]) of `data` into the
    /// transposed chunk as f64; returns `m = hi - lo`.
    #[inline(always)]
    pub fn load<D: Rows>(&mut self, data: &D, lo: usize, hi: usize) -> usize {
        debug_assert!(hi - lo <= CH);
        let d = data.n_features();
        let xt = &mut self.xt;
        let mut i0 = 0;
        data.for_each_piece(lo, hi, &mut |piece| {
            for (i, row) in piece.as_slice().chunks_exact(d).enumerate() {
                for (a, v) in row.iter().enumerate() {
                    xt[a * CH + i0 + i] = v.to_f64();
                }
            }
            i0 += piece.n_samples();
        });
        hi - lo
    }

    /// `ct[a] = xt[a] - mu[a]` for the first `m` rows.
    #[inline(always)]
    fn centre(&mut self, mu: &[f64], m: usize) {
        for (a, &mua) in mu.iter().enumerate() {
            let src = &self.xt[a * CH..a * CH + m];
            let dst = &mut self.ct[a * CH..a * CH + m];
            for (o, x) in dst.iter_mut().zip(src) {
                *o = x - mua;
            }
        }
    }
}

/// `sum_i a_i b_i` with eight partial sums combined in a fixed order.
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut p = [0.0f64; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            p[l] += x[l] * y[l];
        }
    }
    let mut s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

/// `sum_i a_i` with eight partial sums combined in a fixed order.
#[inline(always)]
fn sum(a: &[f64]) -> f64 {
    let mut p = [0.0f64; 8];
    let c = a.chunks_exact(8);
    let r = c.remainder();
    for x in c {
        for l in 0..8 {
            p[l] += x[l];
        }
    }
    let mut s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    for x in r {
        s += x;
    }
    s
}

/// Fills `s.lp[k * CHUNK_ROWS + i] = log w_k + log N(x_i | mu_k, Sigma_k)` for
/// the `m` rows loaded in `s`.
///
/// Full and tied: the whitening `y = (x - mu_k) U_k` uses only the upper
/// triangle of `U_k` (shared by all components when tied): `D (D + 1) / 2`
/// multiply-adds per row, each column of `Y` accumulated over the `m` rows at
/// once. Diag and spherical: `y_j = (x_j - mu_kj) p_kj`, `D` multiplies per row.
#[inline(always)]
pub(crate) fn weighted_log_prob(model: &GaussianMixture, m: usize, s: &mut Scratch) {
    let k_total = model.n_components();
    let d = model.n_features();
    let const_term = d as f64 * LN_2PI;
    let ct = model.covariance_type();
    let prec = model.precisions_cholesky();
    for k in 0..k_total {
        match ct {
            CovarianceType::Full | CovarianceType::Tied => {
                s.centre(model.mean(k), m);
                let u = if ct == CovarianceType::Full {
                    &prec[k * d * d..(k + 1) * d * d]
                } else {
                    prec
                };
                let sq = &mut s.acc[..m];
                sq.fill(0.0);
                let y = &mut s.tmp[..m];
                for b in 0..d {
                    // y = sum_{a <= b} C[:, a] U[a, b]
                    let u0 = u[b];
                    for (o, c) in y.iter_mut().zip(&s.ct[..m]) {
                        *o = c * u0;
                    }
                    for a in 1..=b {
                        let uab = u[a * d + b];
                        for (o, c) in y.iter_mut().zip(&s.ct[a * CH..a * CH + m]) {
                            *o += c * uab;
                        }
                    }
                    for (q, v) in sq.iter_mut().zip(y.iter()) {
                        *q += v * v;
                    }
                }
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                let sq = &mut s.acc[..m];
                sq.fill(0.0);
                for (a, &mua) in model.mean(k).iter().enumerate() {
                    let p = if ct == CovarianceType::Diag {
                        prec[k * d + a]
                    } else {
                        prec[k]
                    };
                    for (q, x) in sq.iter_mut().zip(&s.xt[a * CH..a * CH + m]) {
                        let y = (x - mua) * p;
                        *q += y * y;
                    }
                }
            }
        }
        let offset = model.log_weights[k] + model.log_det_precision_cholesky[k];
        for (o, q) in s.lp[k * CH..k * CH + m].iter_mut().zip(s.acc[..m].iter()) {
            *o = offset - 0.5 * (const_term + q);
        }
    }
}

/// Turns `s.lp` (first `m` rows, `K` components) into responsibilities in place
/// and writes each row's log-likelihood `logsumexp_k lp_ik` into `s.ll`:
///
/// ```text
/// M_i = max_k lp_ik,  e_ik = exp(lp_ik - M_i),  ll_i = M_i + ln sum_k e_ik,  r_ik = e_ik / sum_k e_ik
/// ```
///
/// A row whose log-probabilities are all `-inf` (only possible when every
/// component has weight zero there) gets log-likelihood `-inf` and zero
/// responsibilities instead of NaN.
#[inline(always)]
pub(crate) fn normalise_rows(m: usize, k: usize, s: &mut Scratch) {
    let mx = &mut s.acc[..m];
    mx.fill(f64::NEG_INFINITY);
    for c in 0..k {
        for (o, v) in mx.iter_mut().zip(&s.lp[c * CH..c * CH + m]) {
            *o = o.max(*v);
        }
    }
    let total = &mut s.tmp[..m];
    total.fill(0.0);
    for c in 0..k {
        for ((v, t), x) in s.lp[c * CH..c * CH + m]
            .iter_mut()
            .zip(total.iter_mut())
            .zip(mx.iter())
        {
            *v = crate::expf::exp(*v - x);
            *t += *v;
        }
    }
    for ((ll, t), x) in s.ll[..m].iter_mut().zip(total.iter_mut()).zip(mx.iter()) {
        if *x == f64::NEG_INFINITY {
            *ll = f64::NEG_INFINITY;
            *t = f64::INFINITY; // responsibilities become 0
        } else {
            *ll = x + t.ln();
            *t = 1.0 / *t;
        }
    }
    for c in 0..k {
        for (v, inv) in s.lp[c * CH..c * CH + m].iter_mut().zip(total.iter()) {
            *v = if inv.is_finite() { *v * inv } else { 0.0 };
        }
    }
}

/// Weighs the `m` rows of the chunk after [`normalise_rows`]: multiplies each
/// row's responsibilities by its weight `w[i]` and returns `sum_i w_i ll_i`
/// (rows of weight zero contribute nothing, even where `ll_i = -inf`).
#[inline(always)]
pub(crate) fn weigh_rows(w: &[f64], m: usize, k: usize, s: &mut Scratch) -> f64 {
    let w = &w[..m];
    for c in 0..k {
        for (r, wi) in s.lp[c * CH..c * CH + m].iter_mut().zip(w) {
            *r *= wi;
        }
    }
    let mut total = 0.0;
    for (ll, wi) in s.ll[..m].iter().zip(w) {
        if *wi > 0.0 {
            total += wi * ll;
        }
    }
    total
}

/// Copies row `i`'s responsibilities (after [`normalise_rows`]) into `out` (`K`).
#[inline]
pub(crate) fn responsibilities_of_row(s: &Scratch, i: usize, out: &mut [f64]) {
    for (c, o) in out.iter_mut().enumerate() {
        *o = s.lp[c * CH + i];
    }
}

/// Transposes row-major `m x K` responsibilities into the component-major
/// layout that [`accumulate`] reads.
pub(crate) fn responsibilities_from_rows(rows: &[f64], m: usize, k: usize, out: &mut [f64]) {
    for i in 0..m {
        for c in 0..k {
            out[c * CH + i] = rows[i * k + c];
        }
    }
}

/// Adds the chunk's statistics, centred on `means` (`K x D`), to `stats`,
/// with responsibilities `resp` (component-major, `resp[k * CHUNK_ROWS + i]`)
/// for the `m` rows loaded in `s`.
///
/// The scatter kept depends on the covariance type: the lower triangle of each
/// component's matrix (full), of their sum (tied), or the diagonals (diag and
/// spherical). `SufficientStats::mirror` fills upper triangles once a pass is
/// complete.
#[inline(always)]
pub(crate) fn accumulate(
    stats: &mut SufficientStats,
    means: &[f64],
    resp: &[f64],
    m: usize,
    s: &mut Scratch,
) {
    let k_total = stats.n_components();
    let d = stats.n_features();
    let ct = stats.covariance_type();
    for k in 0..k_total {
        let r = &resp[k * CH..k * CH + m];
        stats.nk[k] += sum(r);
        s.centre(&means[k * d..(k + 1) * d], m);
        let w = &mut s.tmp[..m];
        for a in 0..d {
            let ca = &s.ct[a * CH..a * CH + m];
            for ((o, ri), c) in w.iter_mut().zip(r).zip(ca) {
                *o = ri * c;
            }
            stats.s[k * d + a] += sum(w);
            match ct {
                CovarianceType::Full | CovarianceType::Tied => {
                    let base = if ct == CovarianceType::Full {
                        k * d * d
                    } else {
                        0
                    };
                    let sc = &mut stats.scatter[base..base + d * d];
                    for b in 0..=a {
                        sc[a * d + b] += dot(w, &s.ct[b * CH..b * CH + m]);
                    }
                }
                CovarianceType::Diag | CovarianceType::Spherical => {
                    stats.scatter[k * d + a] += dot(w, ca);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_order_sums_are_exact_on_integers() {
        let a: Vec<f64> = (0..37).map(|i| i as f64).collect();
        assert_eq!(sum(&a), (0..37).sum::<i32>() as f64);
        assert_eq!(dot(&a, &a), (0..37).map(|i| i * i).sum::<i32>() as f64);
        assert_eq!(sum(&[]), 0.0);
    }
}
