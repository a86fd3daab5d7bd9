//! Weighted log-probabilities of a chunk under every component:
//!
//! ```text
//! Y      = (X' - 1 mu'_k^T) U_k                (m x D; X' the shifted chunk)
//! lp_ik  = log w_k + log|U_k| - 1/2 (D log 2 pi + ||Y_i||^2)
//! ```

use pulp::Simd;

use super::layout::{lanes, padded_features, padded_rows, strip_len};
use super::{CH, Chunk, L, LogProbs, NB, Prepared};
use crate::covariance::CovarianceType;

/// Fills `probs.lp[k * CHUNK_ROWS + i] = log w_k + log N(x_i | mu_k, Sigma_k)` for
/// the `m` rows loaded in `chunk` (and finite values in the padding rows).
///
/// Full and tied: the whitening `y = (x - mu_k) U_k` (see [`whiten`] for the
/// two forms) runs over tiles of rows (32 on AVX-512, 8 on AVX2) and 4 columns of `Y` held in registers; column
/// block `b0..b0+4` needs rows `a < b0 + 4` of the triangular `U_k` only, and
/// `||y||^2` is accumulated as each block completes. Diag and spherical:
/// `y_j = (x_j - mu_kj) p_kj`, `D` multiplies per row. Every row is computed
/// by the same sequence of operations whatever the tile, so the tile size
/// does not change the bits.
#[inline(always)]
pub(crate) fn weighted_log_prob<S: Simd>(
    simd: S,
    p: &Prepared,
    m: usize,
    chunk: &Chunk,
    probs: &mut LogProbs,
) {
    match S::F64_LANES {
        8 => log_prob_tiles::<S, 1, 4>(simd, p, m, chunk, probs),
        4 => log_prob_tiles::<S, 2, 1>(simd, p, m, chunk, probs),
        2 => log_prob_tiles::<S, 4, 1>(simd, p, m, chunk, probs),
        _ => log_prob_tiles::<S, 8, 1>(simd, p, m, chunk, probs),
    }
}

/// [`weighted_log_prob`] with `G` vectors per strip of 8 rows and tiles of `TS`
/// strips.
#[inline(always)]
fn log_prob_tiles<S: Simd, const G: usize, const TS: usize>(
    simd: S,
    p: &Prepared,
    m: usize,
    chunk: &Chunk,
    probs: &mut LogProbs,
) {
    let (d, dp) = (p.d, p.dp);
    let mp = padded_rows(m);
    let (panel, stride) = (dp * L, strip_len(dp));
    let xt = &chunk.xt;
    let zero = simd.splat_f64s(0.0);
    let minus_half = simd.splat_f64s(-0.5);
    for k in 0..p.k {
        let mu = &p.centres[k * d..(k + 1) * d];
        let off = simd.splat_f64s(p.offsets[k]);
        let (lp, _) = S::as_mut_simd_f64s(&mut probs.lp[k * CH..k * CH + mp]);
        match p.covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let u = &p.factors[p.covariance_type.matrix_start(k, d * dp)..][..d * dp];
                let start = &p.start[k * dp..(k + 1) * dp];
                if p.centred[k] {
                    whiten::<S, G, TS, true>(simd, xt, lp, u, mu, start, off, d);
                } else {
                    whiten::<S, G, TS, false>(simd, xt, lp, u, mu, start, off, d);
                }
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                let pr = &p.factors[k * d..(k + 1) * d];
                for (t, out) in lp.chunks_exact_mut(G).enumerate() {
                    let x = S::as_simd_f64s(&xt[t * stride..t * stride + panel]).0;
                    let mut sq = [zero; G];
                    for a in 0..d {
                        let mua = simd.splat_f64s(mu[a]);
                        let pa = simd.splat_f64s(pr[a]);
                        for g in 0..G {
                            let y = simd.mul_f64s(simd.sub_f64s(x[a * G + g], mua), pa);
                            sq[g] = simd.mul_add_f64s(y, y, sq[g]);
                        }
                    }
                    for g in 0..G {
                        out[g] = simd.mul_add_f64s(minus_half, sq[g], off);
                    }
                }
            }
        }
    }
}

/// `lp_i = off - 1/2 ||y_i||^2` with `y_i = (x'_i - mu') U` for the strips
/// of `xt` (one component, full or tied), in tiles of `TS` strips by 4 columns
/// of `y`. `CENTRE`: each `x'_i - mu'` is formed before it is multiplied
/// (exact for rows at the mean); otherwise `y = x'_i U - mu' U`, starting from
/// `start = -mu' U`, which saves a subtraction per multiply-add and is used
/// when `|mu' U|` is small (see [`Prepared`]).
///
/// Column block `b0..b0+4` takes every column from the rows `a < b0` of `U`
/// and, from the rows of its diagonal block, only the columns on or above the
/// diagonal (`U` is upper triangular), and stops at the last feature: the
/// multiply-adds left out would add `c * 0`, a signed zero, last, which could
/// change only the sign of a zero `y` and not `y^2`, so the bits are those of
/// the whole rectangle.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn whiten<S: Simd, const G: usize, const TS: usize, const CENTRE: bool>(
    simd: S,
    xt: &[f64],
    lp: &mut [S::f64s],
    u: &[f64],
    mu: &[f64],
    start: &[f64],
    off: S::f64s,
    d: usize,
) {
    let dp = padded_features(d);
    let (panel, stride) = (dp * L, strip_len(dp));
    let zero = simd.splat_f64s(0.0);
    let minus_half = simd.splat_f64s(-0.5);
    for (ti, out) in lp.chunks_exact_mut(G * TS).enumerate() {
        let t0 = ti * TS;
        let x: [&[S::f64s]; TS] = std::array::from_fn(|st| {
            S::as_simd_f64s(&xt[(t0 + st) * stride..(t0 + st) * stride + panel]).0
        });
        let mut sq = [[zero; G]; TS];
        for b0 in (0..dp).step_by(NB) {
            let y0 = lanes::<NB>(start, b0);
            let mut y: [[[S::f64s; G]; TS]; NB] = std::array::from_fn(|j| {
                [[if CENTRE { zero } else { simd.splat_f64s(y0[j]) }; G]; TS]
            });
            let tile = Tile { simd, x, u, mu, dp };
            for a in 0..b0 {
                tile.add_row::<G, CENTRE>(a, b0, (0, NB), &mut y);
            }
            match d - b0 {
                1 => tile.diagonal::<G, CENTRE, 1>(b0, &mut y, &mut sq),
                2 => tile.diagonal::<G, CENTRE, 2>(b0, &mut y, &mut sq),
                3 => tile.diagonal::<G, CENTRE, 3>(b0, &mut y, &mut sq),
                _ => tile.diagonal::<G, CENTRE, 4>(b0, &mut y, &mut sq),
            }
        }
        for st in 0..TS {
            for g in 0..G {
                out[st * G + g] = simd.mul_add_f64s(minus_half, sq[st][g], off);
            }
        }
    }
}

/// What [`whiten`] multiplies in one tile: the strips `x`, the factor `u`
/// (`D x Dp`) and the mean `mu`.
struct Tile<'a, S: Simd, const TS: usize> {
    simd: S,
    x: [&'a [S::f64s]; TS],
    u: &'a [f64],
    mu: &'a [f64],
    dp: usize,
}

impl<S: Simd, const TS: usize> Tile<'_, S, TS> {
    /// Feature `a` of the tile's rows, centred on `mu` if `CENTRE`.
    #[inline(always)]
    fn feature<const G: usize, const CENTRE: bool>(&self, a: usize) -> [[S::f64s; G]; TS] {
        let simd = self.simd;
        // One bounds check per strip (and none for the mean unless it is
        // subtracted), not one per vector.
        let mua = simd.splat_f64s(if CENTRE { self.mu[a] } else { 0.0 });
        std::array::from_fn(|st| {
            let xa = &self.x[st][a * G..a * G + G];
            std::array::from_fn(|g| {
                if CENTRE {
                    simd.sub_f64s(xa[g], mua)
                } else {
                    xa[g]
                }
            })
        })
    }

    /// Adds feature `a` times `U[a, b0 + j]` to column `j` of `y`, for
    /// `j0 <= j < j1`.
    #[inline(always)]
    fn add_row<const G: usize, const CENTRE: bool>(
        &self,
        a: usize,
        b0: usize,
        (j0, j1): (usize, usize),
        y: &mut [[[S::f64s; G]; TS]; NB],
    ) {
        let simd = self.simd;
        let c = self.feature::<G, CENTRE>(a);
        let ub = lanes::<NB>(self.u, a * self.dp + b0);
        for j in j0..j1 {
            let uj = simd.splat_f64s(ub[j]);
            for st in 0..TS {
                for g in 0..G {
                    y[j][st][g] = simd.mul_add_f64s(c[st][g], uj, y[j][st][g]);
                }
            }
        }
    }

    /// The diagonal block of column block `b0`, with `JN` features left:
    /// row `b0 + i` of `U` feeds columns `i..JN` of the block; then adds the
    /// squares of those columns to `sq`.
    #[inline(always)]
    fn diagonal<const G: usize, const CENTRE: bool, const JN: usize>(
        &self,
        b0: usize,
        y: &mut [[[S::f64s; G]; TS]; NB],
        sq: &mut [[S::f64s; G]; TS],
    ) {
        let simd = self.simd;
        for i in 0..JN {
            self.add_row::<G, CENTRE>(b0 + i, b0, (i, JN), y);
        }
        for yj in &y[..JN] {
            for st in 0..TS {
                for g in 0..G {
                    sq[st][g] = simd.mul_add_f64s(yj[st][g], yj[st][g], sq[st][g]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::covariance::LN_2PI;

    /// Both whitening forms agree with a direct evaluation of
    /// `log w + log N(x | mu, Sigma)`; a component with a tiny covariance far
    /// from the mixture's centre puts the whole model in the exact form
    /// (no shift, every component centred).
    #[test]
    fn whitening_forms_agree_and_far_tiny_components_are_centred() {
        use crate::data::DataView;
        use crate::kernel::ModelRef;
        use crate::kernel::{ChunkPass, for_each_chunk};
        let (k, d, n) = (3, 7, 100);
        let mut covariances = Vec::new();
        for c in 0..k {
            let scale = if c == 2 { 1e-12 } else { 1.0 + 0.3 * c as f64 };
            for a in 0..d {
                for b in 0..d {
                    covariances.push(scale * if a == b { 2.0 } else { 0.3 });
                }
            }
        }
        let means: Vec<f64> = (0..k * d).map(|i| 1e4 + ((i * 5) % 9) as f64).collect();
        let weights = [0.5, 0.3, 0.2];
        let log_weights: Vec<f64> = weights.iter().map(|w: &f64| w.ln()).collect();
        let (u, log_det) =
            crate::covariance::precisions(CovarianceType::Full, &covariances, k, d).unwrap();
        let x: Vec<f64> = (0..n * d)
            .map(|i| 1e4 + ((i * 2_654_435_761usize) % 1000) as f64 / 120.0)
            .collect();
        let data = DataView::new(&x, n, d).unwrap();
        let mut p = Prepared::new(ModelRef {
            covariance_type: CovarianceType::Full,
            k,
            d,
            weights: &weights,
            log_weights: &log_weights,
            means: &means,
            precisions_cholesky: &u,
            log_det_precision_cholesky: &log_det,
        });
        assert_eq!(p.centred, [true, true, true]);
        assert!(p.shift.iter().all(|s| *s == 0.0));
        struct Pass<'a> {
            p: &'a Prepared,
            data: DataView<'a, f64>,
            chunk: Chunk,
            probs: LogProbs,
        }
        impl ChunkPass for Pass<'_> {
            #[inline(always)]
            fn chunk<S: Simd>(&mut self, simd: S, lo: usize, hi: usize) {
                let m = self.chunk.load(&self.data, lo, hi, &self.p.shift);
                weighted_log_prob(simd, self.p, m, &self.chunk, &mut self.probs);
            }
        }
        let mut lp = |centred: bool| {
            p.centred = vec![centred; k];
            let mut pass = Pass {
                p: &p,
                data,
                chunk: Chunk::new(d),
                probs: LogProbs::new(k),
            };
            for_each_chunk(pulp::Arch::new(), 0, n, &mut pass);
            pass.probs.lp
        };
        let (exact, fast) = (lp(true), lp(false));
        for c in 0..2 {
            for i in 0..n {
                let mut sq = 0.0;
                for b in 0..d {
                    let y: f64 = (0..=b)
                        .map(|a| (x[i * d + a] - means[c * d + a]) * u[c * d * d + a * d + b])
                        .sum();
                    sq += y * y;
                }
                let direct = log_weights[c] + log_det[c] - 0.5 * (d as f64 * LN_2PI + sq);
                for got in [exact[c * CH + i], fast[c * CH + i]] {
                    assert!(
                        (got - direct).abs() <= 1e-11 * direct.abs().max(1.0),
                        "component {c}, row {i}: {got} vs {direct}"
                    );
                }
            }
        }
    }
}
