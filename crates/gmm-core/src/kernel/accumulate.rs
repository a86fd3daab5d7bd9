//! Sufficient statistics of a chunk, added to a view of the caller's
//! statistics (for responsibilities `r` and means `mu_k` in the shifted
//! coordinates of the chunk):
//!
//! ```text
//! N_k += sum_i r_ik
//! s_k += sum_i r_ik (x_i - mu_k)
//! S_k += sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T     (lower triangle; diagonal for diag/spherical)
//! ```

use pulp::Simd;

use super::gather::{gather, gather_pays};
use super::layout::{Aligned, padded_features, padded_rows, strip_len};
use super::reduce::{hsum_simd, hsum2};
use super::scatter::scatter_full;
use super::{CH, Chunk, L, NB};
use crate::covariance::CovarianceType;

/// The statistics a chunk is added to, lent by their owner (`SufficientStats`)
/// as plain slices: `nk` (`K`), `s` (`K x D`) and `scatter` (shaped by the
/// covariance type).
pub(crate) struct StatsMut<'a> {
    /// Covariance structure: what `scatter` keeps.
    pub covariance_type: CovarianceType,
    /// `N_k`.
    pub nk: &'a mut [f64],
    /// `s_k`.
    pub s: &'a mut [f64],
    /// `S_k` (lower triangles for full and tied).
    pub scatter: &'a mut [f64],
}

impl StatsMut<'_> {
    #[inline(always)]
    fn n_components(&self) -> usize {
        self.nk.len()
    }

    #[inline(always)]
    fn covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }
}

/// The workspace of [`accumulate`], sized for one chunk of `D` features.
pub(crate) struct AccumulateWork {
    /// Two blocks of 4 features of the centred chunk times one component's
    /// responsibilities: `w[(j * 8 + p) * 8 + l]` for the `j`-th strip
    /// scattered.
    pub(super) wb: Aligned,
    /// Per-feature partial sums of the accumulation: `2 x Dp x 8`.
    pub(super) sums: Aligned,
    /// Indices of the strips of 8 rows in which one component has a nonzero
    /// responsibility (at most `CH / 8`).
    pub(super) active: Vec<usize>,
    /// Indices of the rows in which one component has a nonzero
    /// responsibility (at most `CH`).
    pub(super) rows: Vec<usize>,
    /// `0, 1, ..., CH / 8 - 1`: every strip of a gathered chunk.
    pub(super) every: Vec<usize>,
    /// The rows of the chunk listed in `rows`, centred on one component's mean,
    /// in the layout of the chunk (zeros after them up to a whole strip).
    pub(super) cx: Aligned,
    /// The responsibilities of the rows in `cx` (zeros after them).
    pub(super) rc: Aligned,
}

impl AccumulateWork {
    /// The workspace for chunks of `d` features.
    pub fn new(d: usize) -> Self {
        let dp = padded_features(d);
        Self {
            wb: Aligned::zeros(2 * NB * CH),
            sums: Aligned::zeros(2 * dp * L),
            active: vec![0; CH / L],
            rows: vec![0; CH],
            every: (0..CH / L).collect(),
            cx: Aligned::zeros(strip_len(dp) * CH / L),
            rc: Aligned::zeros(CH),
        }
    }

    /// Every buffer, named (tests check their alignment).
    #[cfg(test)]
    pub(crate) fn buffers(&self) -> Vec<(&'static str, &Aligned)> {
        vec![
            ("wb", &self.wb),
            ("sums", &self.sums),
            ("cx", &self.cx),
            ("rc", &self.rc),
        ]
    }
}

/// Adds the chunk's statistics, centred on `means` (`K x D`, in the shifted
/// coordinates of the loaded chunk: `Prepared::centres`), to `stats`,
/// with responsibilities `resp` (component-major, `resp[k * CHUNK_ROWS + i]`,
/// zero in the padding rows) for the `m` rows loaded in `chunk`.
///
/// The scatter kept depends on the covariance type: the lower triangle of each
/// component's matrix (full), of their sum (tied), or the diagonals (diag and
/// spherical). `SufficientStats::mirror` fills upper triangles once a pass is
/// complete. Full and tied: the lower triangle of `C^T diag(r) C`, `C` the
/// chunk centred on `means`, in tiles (see [`scatter_full`]).
///
/// Every sum over rows keeps 8 partial sums, one per row index modulo 8, in
/// whatever vectors the instruction set has (one AVX-512 vector, two AVX2
/// vectors, eight scalars), and combines them with [`super::reduce::hsum`]: the same bits on
/// every instruction set.
#[inline(always)]
pub(crate) fn accumulate<S: Simd>(
    simd: S,
    stats: &mut StatsMut<'_>,
    means: &[f64],
    resp: &[f64],
    m: usize,
    chunk: &Chunk,
    work: &mut AccumulateWork,
) {
    let small = matches!(
        stats.covariance_type(),
        CovarianceType::Full | CovarianceType::Tied
    ) && chunk.d <= NB;
    macro_rules! small {
        ($g:literal) => {
            match chunk.d {
                1 => accumulate_small::<S, $g, 1>(simd, stats, means, resp, m, chunk),
                2 => accumulate_small::<S, $g, 2>(simd, stats, means, resp, m, chunk),
                3 => accumulate_small::<S, $g, 3>(simd, stats, means, resp, m, chunk),
                _ => accumulate_small::<S, $g, 4>(simd, stats, means, resp, m, chunk),
            }
        };
    }
    match (S::F64_LANES, small) {
        (8, true) => small!(1),
        (4, true) => small!(2),
        (2, true) => small!(4),
        (_, true) => small!(8),
        (8, false) => accumulate_g::<S, 1, 4, 2>(simd, stats, means, resp, m, chunk, work),
        (4, false) => accumulate_g::<S, 2, 2, 0>(simd, stats, means, resp, m, chunk, work),
        (2, false) => accumulate_g::<S, 4, 1, 0>(simd, stats, means, resp, m, chunk, work),
        (_, false) => accumulate_g::<S, 8, 1, 0>(simd, stats, means, resp, m, chunk, work),
    }
}

/// [`accumulate`] for full and tied with `DD <= 4` features, `G` vectors per 8
/// rows: every statistic of one component stays in registers while the chunk
/// streams by, and nothing is written back until the end.
#[inline(always)]
fn accumulate_small<S: Simd, const G: usize, const DD: usize>(
    simd: S,
    stats: &mut StatsMut<'_>,
    means: &[f64],
    resp: &[f64],
    m: usize,
    chunk: &Chunk,
) {
    let k_total = stats.n_components();
    let d = chunk.d;
    debug_assert_eq!(d, DD);
    let ct = stats.covariance_type();
    let mp = padded_rows(m);
    let zero = simd.splat_f64s(0.0);
    let panel = strip_len(padded_features(d));
    for k in 0..k_total {
        let r = S::as_simd_f64s(&resp[k * CH..k * CH + mp]).0;
        let mu: [S::f64s; DD] = std::array::from_fn(|a| simd.splat_f64s(means[k * d + a]));
        let mut n = [zero; G];
        let mut sum = [[zero; G]; DD];
        let mut sc = [[[zero; G]; DD]; DD];
        for (t, rt) in r.chunks_exact(G).enumerate() {
            let x = S::as_simd_f64s(&chunk.xt[t * panel..t * panel + DD * L]).0;
            for g in 0..G {
                n[g] = simd.add_f64s(n[g], rt[g]);
                let c: [S::f64s; DD] = std::array::from_fn(|a| simd.sub_f64s(x[a * G + g], mu[a]));
                for a in 0..DD {
                    let w = simd.mul_f64s(rt[g], c[a]);
                    sum[a][g] = simd.add_f64s(sum[a][g], w);
                    for b in 0..=a {
                        sc[a][b][g] = simd.mul_add_f64s(w, c[b], sc[a][b][g]);
                    }
                }
            }
        }
        stats.nk[k] += hsum_simd::<S, G>(simd, &n);
        let base = ct.matrix_start(k, d * d);
        for a in 0..DD {
            stats.s[k * d + a] += hsum_simd::<S, G>(simd, &sum[a]);
            for b in 0..=a {
                stats.scatter[base + a * d + b] += hsum_simd::<S, G>(simd, &sc[a][b]);
            }
        }
    }
}

/// [`accumulate`] for `G` vectors per 8 rows: full and tied in tiles of `4 x QB`
/// (see [`scatter_full`]), diag and spherical in one pass.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accumulate_g<S: Simd, const G: usize, const QB: usize, const Q2: usize>(
    simd: S,
    stats: &mut StatsMut<'_>,
    means: &[f64],
    resp: &[f64],
    m: usize,
    chunk: &Chunk,
    s: &mut AccumulateWork,
) {
    let k_total = stats.n_components();
    let d = chunk.d;
    let xt = &chunk.xt[..];
    let dp = padded_features(d);
    let ct = stats.covariance_type();
    let mp = padded_rows(m);
    let zero = simd.splat_f64s(0.0);
    let one = simd.splat_f64s(1.0);
    let (panel, stride) = (dp * L, strip_len(dp));
    for k in 0..k_total {
        let (r, _) = S::as_simd_f64s(&resp[k * CH..k * CH + mp]);
        // Two sets of partial sums (even and odd strips of 8 rows) halve the
        // dependency chain.
        let mut n = [[zero; G]; 2];
        for (t, rr) in r.chunks_exact(G).enumerate() {
            for g in 0..G {
                n[t % 2][g] = simd.add_f64s(n[t % 2][g], rr[g]);
            }
        }
        stats.nk[k] += hsum2::<S, G>(simd, &n);
        // Strips whose 8 responsibilities are all zero add exactly zero to
        // every sum below (`0 * c` is a signed zero, and adding a zero to a
        // partial sum leaves it unchanged unless both are zeros, which then
        // sum to `+0`): skipping them changes no bit. Far components have
        // many such strips (`exp` flushes below `-708`).
        let rk = &resp[k * CH..k * CH + mp];
        // The list of active strips and the number of active rows, without
        // branches (which rows are active is unpredictable): every index is
        // written, the count moves only past active ones.
        // Counted in vectors: 1 for each value that is not zero (NaN counts).
        let (mut na, mut nr) = (0, 0);
        for (t, rt) in r.chunks_exact(G).enumerate() {
            let mut ones = simd.select_f64s(simd.equal_f64s(rt[0], zero), zero, one);
            for &v in &rt[1..] {
                let o = simd.select_f64s(simd.equal_f64s(v, zero), zero, one);
                ones = simd.add_f64s(ones, o);
            }
            let c = simd.reduce_sum_f64s(ones) as usize;
            s.active[na] = t;
            na += usize::from(c > 0);
            nr += c;
        }
        let active = &s.active[..na];
        let mu = &means[k * d..(k + 1) * d];
        match ct {
            CovarianceType::Full | CovarianceType::Tied => {
                let base = ct.matrix_start(k, d * d);
                let sum = &mut stats.s[k * d..(k + 1) * d];
                let sc = &mut stats.scatter[base..base + d * d];
                if gather_pays(d, na, nr) {
                    let nc = gather(s, xt, d, na, mu, rk);
                    let (rc, _) = S::as_simd_f64s(&s.rc[..nc * L]);
                    scatter_full::<S, G, QB, Q2, false>(
                        simd,
                        sum,
                        sc,
                        mu,
                        rc,
                        &s.cx,
                        &mut s.wb,
                        d,
                        &s.every[..nc],
                    );
                } else {
                    scatter_full::<S, G, QB, Q2, true>(
                        simd, sum, sc, mu, r, xt, &mut s.wb, d, active,
                    );
                }
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                // Per-feature partial sums `sum_i w_ia` and `sum_i w_ia c_ia`,
                // strip after strip through contiguous memory.
                s.sums.fill(0.0);
                let (sum, sq) = s.sums.split_at_mut(panel);
                let sum = S::as_mut_simd_f64s(sum).0;
                let sq = S::as_mut_simd_f64s(sq).0;
                for &t in active {
                    let x = S::as_simd_f64s(&xt[t * stride..t * stride + panel]).0;
                    let rt = &r[t * G..(t + 1) * G];
                    for a in 0..d {
                        let mua = simd.splat_f64s(mu[a]);
                        for g in 0..G {
                            let at = a * G + g;
                            let c = simd.sub_f64s(x[at], mua);
                            let w = simd.mul_f64s(rt[g], c);
                            sum[at] = simd.add_f64s(sum[at], w);
                            sq[at] = simd.mul_add_f64s(w, c, sq[at]);
                        }
                    }
                }
                for a in 0..d {
                    let part =
                        |v: &[S::f64s]| -> [S::f64s; G] { std::array::from_fn(|g| v[a * G + g]) };
                    stats.s[k * d + a] += hsum_simd::<S, G>(simd, &part(sum));
                    stats.scatter[k * d + a] += hsum_simd::<S, G>(simd, &part(sq));
                }
            }
        }
    }
}
