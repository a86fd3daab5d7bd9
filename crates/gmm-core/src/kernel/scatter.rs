//! One component's full scatter over the strips of a chunk, in register
//! tiles:
//!
//! ```text
//! c_i = x_i - mu,  w_i = r_i c_i,  sum[a] += sum_i w_ia,  sc[a, b] += sum_i w_ia c_ib   (b <= a)
//! ```

use pulp::Simd;

use super::layout::{padded_features, strip_len};
use super::reduce::hsum_simd;
use super::{L, NB};

/// One component's full scatter: with `c_i = x_i - mu` and `w_i = r_i c_i`,
/// `sum[a] += sum_i w_ia` and `sc[a, b] += sum_i w_ia c_ib` for `b <= a < d`,
/// over the strips of `xt` listed in `active` (responsibilities `r`, indexed
/// by strip like `xt`). `CENTRE`: `xt` holds the chunk and is centred on `mu`
/// as it is loaded; otherwise it holds rows already centred (see [`super::gather`]).
///
/// Features are taken in blocks of 4, in pairs. The diagonal tile of a block
/// centres its 4 features, accumulates their sums and the block's lower
/// triangle, and keeps `w` for the block in `wb` (which holds a pair of
/// blocks). The tiles left of the diagonal then read `w` from `wb` and centre
/// the features of `xt` they load: `8 x Q2` tiles for a whole pair (each
/// value loaded from the chunk feeds 8 multiply-adds) if `Q2 > 0` (AVX-512:
/// enough registers), `4 x QB` otherwise.
/// Nothing else is written, so the chunk is the only data streamed (for a
/// component with most rows active, a stored centred copy costs more in
/// memory traffic than the subtractions it saves).
/// Every entry is kept as 8 partial sums (`G` vectors), combined with
/// [`super::reduce::hsum`], and computed by the same operations whatever the tile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn scatter_full<
    S: Simd,
    const G: usize,
    const QB: usize,
    const Q2: usize,
    const CENTRE: bool,
>(
    simd: S,
    sum: &mut [f64],
    sc: &mut [f64],
    mu: &[f64],
    r: &[S::f64s],
    xt: &[f64],
    wb: &mut [f64],
    d: usize,
    active: &[usize],
) {
    let zero = simd.splat_f64s(0.0);
    let panel = strip_len(padded_features(d));
    for a1 in (0..d).step_by(2 * NB) {
        let pair = Q2 > 0 && a1 + NB < d;
        for a0 in [a1, a1 + NB] {
            if a0 >= d {
                break;
            }
            let h = a0 - a1;
            // Padding features are zero in `xt`; centring them on zero keeps
            // them zero.
            let mu4: [S::f64s; NB] =
                std::array::from_fn(|p| simd.splat_f64s(mu.get(a0 + p).copied().unwrap_or(0.0)));
            let mut sums = [[zero; G]; NB];
            let mut tri = [[[zero; G]; NB]; NB];
            for (j, &t) in active.iter().enumerate() {
                let at = t * panel + a0 * L;
                let x = S::as_simd_f64s(&xt[at..at + NB * L]).0;
                let wo = (j * 2 * NB + h) * L;
                let wo = S::as_mut_simd_f64s(&mut wb[wo..wo + NB * L]).0;
                let rt = &r[t * G..(t + 1) * G];
                for g in 0..G {
                    let c: [S::f64s; NB] = std::array::from_fn(|p| {
                        if CENTRE {
                            simd.sub_f64s(x[p * G + g], mu4[p])
                        } else {
                            x[p * G + g]
                        }
                    });
                    for p in 0..NB {
                        let w = simd.mul_f64s(rt[g], c[p]);
                        wo[p * G + g] = w;
                        sums[p][g] = simd.add_f64s(sums[p][g], w);
                        for q in 0..=p {
                            tri[p][q][g] = simd.mul_add_f64s(w, c[q], tri[p][q][g]);
                        }
                    }
                }
            }
            for p in 0..NB {
                let a = a0 + p;
                if a < d {
                    sum[a] += hsum_simd::<S, G>(simd, &sums[p]);
                    for q in 0..=p {
                        sc[a * d + a0 + q] += hsum_simd::<S, G>(simd, &tri[p][q]);
                    }
                }
            }
        }
        if pair {
            // The second block against the first, then the pair against
            // everything left of it.
            for b0 in (a1..a1 + NB).step_by(QB) {
                off_diagonal::<S, G, NB, QB, CENTRE>(
                    simd,
                    sc,
                    mu,
                    xt,
                    wb,
                    NB,
                    a1 + NB,
                    b0,
                    d,
                    active,
                );
            }
            for b0 in (0..a1).step_by(Q2.max(1)) {
                off_diagonal::<S, G, { 2 * NB }, Q2, CENTRE>(
                    simd, sc, mu, xt, wb, 0, a1, b0, d, active,
                );
            }
        } else {
            for h in [0, NB] {
                if a1 + h >= d {
                    break;
                }
                for b0 in (0..a1 + h).step_by(QB) {
                    off_diagonal::<S, G, NB, QB, CENTRE>(
                        simd,
                        sc,
                        mu,
                        xt,
                        wb,
                        h,
                        a1 + h,
                        b0,
                        d,
                        active,
                    );
                }
            }
        }
    }
}

/// `sc[a0 + p, b0 + q] += sum_i w_ip c_iq` for `p < P`, `q < Q` (rows `a >= d`
/// skipped), with `w` the features `h..h + P` of `wb` and `c` features
/// `b0..b0 + Q` of `xt` (centred on `mu` if `CENTRE`), over the strips listed
/// in `active`, in one register tile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn off_diagonal<S: Simd, const G: usize, const P: usize, const Q: usize, const CENTRE: bool>(
    simd: S,
    sc: &mut [f64],
    mu: &[f64],
    xt: &[f64],
    wb: &[f64],
    h: usize,
    a0: usize,
    b0: usize,
    d: usize,
    active: &[usize],
) {
    let zero = simd.splat_f64s(0.0);
    let panel = strip_len(padded_features(d));
    let muq: [S::f64s; Q] = std::array::from_fn(|q| simd.splat_f64s(mu[b0 + q]));
    let mut acc = [[[zero; G]; Q]; P];
    for (j, &t) in active.iter().enumerate() {
        let cb = t * panel + b0 * L;
        let wo = (j * 2 * NB + h) * L;
        let w = S::as_simd_f64s(&wb[wo..wo + P * L]).0;
        let c = S::as_simd_f64s(&xt[cb..cb + Q * L]).0;
        for g in 0..G {
            let cq: [S::f64s; Q] = std::array::from_fn(|q| {
                if CENTRE {
                    simd.sub_f64s(c[q * G + g], muq[q])
                } else {
                    c[q * G + g]
                }
            });
            for p in 0..P {
                for q in 0..Q {
                    acc[p][q][g] = simd.mul_add_f64s(w[p * G + g], cq[q], acc[p][q][g]);
                }
            }
        }
    }
    for p in 0..P {
        let a = a0 + p;
        if a < d {
            for q in 0..Q {
                sc[a * d + b0 + q] += hsum_simd::<S, G>(simd, &acc[p][q]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::CHUNK_ROWS as CH;
    use crate::covariance::CovarianceType;
    use crate::data::DataView;
    use crate::kernel::{AccumulateWork, Chunk, ChunkPass, StatsMut, accumulate, for_each_chunk};

    /// Which responsibilities a scatter test uses.
    #[derive(Clone, Copy, Debug)]
    enum Pattern {
        /// All nonzero.
        Dense,
        /// Whole strips of 8 rows zero, the others dense: skipped in place.
        ZeroStrips,
        /// One row in five nonzero: gathered.
        Sparse,
    }

    /// The tiled scatter (with padding features, several tiles left of the
    /// diagonal and data far from zero) agrees with a direct evaluation of
    /// `sum_i r_i c_i c_i^T` and `sum_i r_i c_i`, in place, skipping strips,
    /// and on gathered rows.
    #[test]
    fn scatter_agrees_with_a_direct_sum() {
        // One block of 4 features; pairs and a single trailing block; pairs only.
        for d in [3, 11, 13] {
            for pattern in [Pattern::Dense, Pattern::ZeroStrips, Pattern::Sparse] {
                scatter_agrees_with_a_direct_sum_at(d, pattern);
            }
        }
    }

    fn scatter_agrees_with_a_direct_sum_at(d: usize, pattern: Pattern) {
        let (k, n) = (2, 200);
        let x: Vec<f64> = (0..n * d)
            .map(|i| 1e4 + ((i * 2_654_435_761usize) % 1000) as f64 / 120.0)
            .collect();
        let data = DataView::new(&x, n, d).unwrap();
        let shift: Vec<f64> = (0..d).map(|a| 1e4 + 4.0 + 0.1 * a as f64).collect();
        // Centres in shifted coordinates; the means themselves are near 1e4 + 4.
        let centres: Vec<f64> = (0..k * d)
            .map(|i| ((i * 5) % 7) as f64 * 0.3 - 1.0)
            .collect();
        let mut resp = vec![0.0; k * CH];
        for c in 0..k {
            for i in 0..n {
                let on = match pattern {
                    Pattern::Dense => true,
                    Pattern::ZeroStrips => !(i / L + c).is_multiple_of(3),
                    Pattern::Sparse => (i * 7 + c) % 5 == 0,
                };
                if on {
                    resp[c * CH + i] = ((i * (c + 3) * 31) % 17 + 1) as f64 / 17.0;
                }
            }
        }
        let mut nk = vec![0.0; k];
        let mut sums = vec![0.0; k * d];
        let mut scatter = vec![0.0; k * d * d];
        struct Pass<'a> {
            data: DataView<'a, f64>,
            shift: &'a [f64],
            centres: &'a [f64],
            resp: &'a [f64],
            stats: StatsMut<'a>,
        }
        impl ChunkPass for Pass<'_> {
            #[inline(always)]
            fn chunk<S: Simd>(&mut self, simd: S, lo: usize, hi: usize) {
                let d = self.data.n_features();
                let mut chunk = Chunk::new(d);
                let mut work = AccumulateWork::new(d);
                let m = chunk.load(&self.data, lo, hi, self.shift);
                let (c, r) = (self.centres, self.resp);
                accumulate(simd, &mut self.stats, c, r, m, &chunk, &mut work);
            }
        }
        let stats = StatsMut {
            covariance_type: CovarianceType::Full,
            nk: &mut nk,
            s: &mut sums,
            scatter: &mut scatter,
        };
        let mut pass = Pass {
            data,
            shift: &shift,
            centres: &centres,
            resp: &resp,
            stats,
        };
        for_each_chunk(pulp::Arch::new(), 0, n, &mut pass);
        for c in 0..k {
            let mu: Vec<f64> = (0..d).map(|a| shift[a] + centres[c * d + a]).collect();
            let direct = |a: usize, b: usize| -> f64 {
                (0..n)
                    .map(|i| resp[c * CH + i] * (x[i * d + a] - mu[a]) * (x[i * d + b] - mu[b]))
                    .sum()
            };
            let total: f64 = (0..n).map(|i| resp[c * CH + i]).sum();
            assert!((nk[c] - total).abs() <= 1e-12 * total);
            for a in 0..d {
                let want: f64 = (0..n)
                    .map(|i| resp[c * CH + i] * (x[i * d + a] - mu[a]))
                    .sum();
                let v = sums[c * d + a];
                assert!(
                    (v - want).abs() <= 1e-11 * total,
                    "{pattern:?}, component {c}, sum {a}: {v} vs {want}"
                );
                for b in 0..=a {
                    let want = direct(a, b);
                    let scale = (direct(a, a) * direct(b, b)).sqrt();
                    let v = scatter[c * d * d + a * d + b];
                    assert!(
                        (v - want).abs() <= 1e-12 * scale,
                        "{pattern:?}, component {c}, ({a}, {b}): {v} vs {want}"
                    );
                }
            }
        }
    }
}
