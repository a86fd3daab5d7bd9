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
//! The chunk is held in strips of 8 rows: strip `t` holds all (padded) features
//! of rows `8t..8t+8`, each feature's 8 values contiguous, so every inner loop
//! runs over 8 rows at once (one AVX-512 vector, two AVX2 vectors). The data
//! are shifted by a fixed vector as they are loaded (`x' = x - shift`, the
//! mixture's mean), so that the kernels can whiten as `y = x' U - mu' U` for
//! components not far from the shift in their own units (see [`Prepared`]).
//! The products that cost `O(D^2)` per row are register tiles, as in a matrix
//! multiply: the whitening keeps a tile of `Y` (32 rows on AVX-512, 8 on AVX2,
//! by 4 columns) in registers while it walks the triangle of `U_k`, and the
//! scatter keeps an `8 x 2` or `4 x 4` (AVX-512) or `4 x 2` (AVX2) tile of
//! `S_k` as 8-lane partial sums while it walks the strips, so every loaded
//! value feeds several fused multiply-adds; the scatter tiles centre the chunk
//! on `mu_k` as they load it (see [`scatter_full`]). The accumulation skips
//! strips in which a component's responsibilities are all zero (`exp`
//! flushes to zero below `-708`, so far components have many), which changes
//! no bit; when a component's nonzero responsibilities are sparse enough
//! (see [`gather_pays`]), its rows are first gathered, centred, into whole
//! strips, so that the `O(D^2)` scatter runs over them only. Strips are one vector
//! longer than their features, so that they are not a power of two bytes apart. With `D <= 4` (full, tied) all statistics of a
//! component stay in registers for the whole chunk. Feature counts are padded
//! to a multiple of 4 with zeros and row counts to a multiple of 32 with zero
//! responsibilities, so the tiles need no edge cases. `exp` and `ln` are
//! branch-free polynomials ([`crate::expf`]) that vectorise with the rest.
//!
//! Reductions over rows keep 8 partial sums, one per row index modulo 8,
//! combined in a fixed order ([`hsum`]). Nothing depends on memory alignment
//! or on the thread that runs a chunk, and drivers (see [`crate::stats`]) merge
//! chunks and blocks in a fixed order, so results are bit-identical for any
//! number of threads.
//!
//! Each kernel dispatches through `pulp` to code compiled for the best
//! instruction set the CPU has (AVX-512, AVX2 with FMA, or scalar, detected at
//! run time), written with pulp's safe SIMD types. Every operation is explicit
//! (multiply-adds are fused everywhere, in the scalar code too) and the
//! partial sums are the same 8 whatever the vector width, so every instruction
//! set gives the same bits (tested in `stats`). On a CPU without FMA the fused
//! multiply-adds become library calls: correct, the same bits, but slow.

use crate::covariance::CovarianceType;
use crate::data::{Rows, Scalar};
use crate::model::GaussianMixture;
use crate::stats::SufficientStats;
use pulp::Simd;

/// Rows per chunk: the unit of the per-chunk kernels. A constant, never derived
/// from the thread count.
pub const CHUNK_ROWS: usize = 256;

/// Rows per block: the unit of parallel work. Each block reduces its chunks
/// sequentially; block results are merged in index order.
pub const BLOCK_ROWS: usize = 8192;

/// `log(2 pi)`.
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_3;

const CH: usize = CHUNK_ROWS;
/// Lanes of a partial sum.
const L: usize = 8;
/// Rows of a whitening tile (row counts are padded to a multiple of it).
const R: usize = 32;
/// Columns of a tile (feature counts are padded to a multiple of it).
const NB: usize = 4;

/// `m` rounded up to a whole number of whitening tiles.
#[inline(always)]
fn padded_rows(m: usize) -> usize {
    m.div_ceil(R) * R
}

/// `d` rounded up to a whole number of tile columns.
#[inline(always)]
fn padded_features(d: usize) -> usize {
    d.div_ceil(NB) * NB
}

/// Values per strip of 8 rows in the chunk layout: `Dp` features of 8 rows,
/// plus one unused vector so that strips are not a power of two bytes apart
/// (which would map the same feature of every few strips to the same L1 set).
#[inline(always)]
fn strip_len(dp: usize) -> usize {
    (dp + 1) * L
}

/// `((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))`: the fixed order in which
/// lane partial sums are combined.
#[inline(always)]
fn hsum(p: &[f64; L]) -> f64 {
    ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]))
}

/// `sum_i v_i` as 8 partial sums (row index modulo 8) combined by [`hsum`],
/// then the rows after the last multiple of 8 in order.
#[inline(always)]
pub(crate) fn lane_sum(v: &[f64]) -> f64 {
    let mut p = [0.0f64; L];
    let chunks = v.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            p[l] += c[l];
        }
    }
    rest.iter().fold(hsum(&p), |acc, x| acc + x)
}

/// Bytes of a cache line, and of an AVX-512 vector.
const LINE: usize = 64;

/// A zeroed buffer of `f64` whose first value starts a cache line, so that
/// the vectors of a strip (8 values, aligned to 8 from the start) never
/// straddle two lines: a load that does costs two L1 accesses, and the
/// allocator only promises 16-byte alignment (which the chunk buffers used to
/// get by chance, differently from one allocation to the next).
#[derive(Default)]
pub(crate) struct Aligned {
    buf: Vec<f64>,
    /// Values skipped at the start of `buf` to reach a line boundary.
    off: usize,
    len: usize,
}

impl Aligned {
    /// `len` zeros, the first on a cache-line boundary.
    pub fn zeros(len: usize) -> Self {
        let per_line = LINE / std::mem::size_of::<f64>();
        let buf = vec![0.0; len + per_line - 1];
        // Moving the Vec later never moves its heap buffer: the offset stays right.
        let off = (buf.as_ptr() as usize).wrapping_neg() % LINE / std::mem::size_of::<f64>();
        Self { buf, off, len }
    }
}

impl std::ops::Deref for Aligned {
    type Target = [f64];
    #[inline(always)]
    fn deref(&self) -> &[f64] {
        &self.buf[self.off..self.off + self.len]
    }
}

impl std::ops::DerefMut for Aligned {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [f64] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

/// `N` values of `v` from `at` as a fixed-size array.
#[inline(always)]
fn lanes<const N: usize>(v: &[f64], at: usize) -> &[f64; N] {
    v[at..at + N].try_into().expect("N values")
}

/// The largest `|(mu_k - shift) U_k|` (in any coordinate) for which the
/// whitening may use `y = x' U - mu' U`. Its rounding error in `y` is about
/// `D eps |mu' U|` (as in scikit-learn, which computes `y` this way without a
/// shift), at most `1e-10` here; a component further from the shift in its own
/// units (a tiny covariance far from the mixture's centre) is whitened from
/// `x' - mu'`, exact for rows at its mean.
const UNCENTRED_MAX: f64 = 1e3;

/// A model laid out for the kernels, built once per pass over the data.
///
/// The kernels work on data shifted by a fixed vector, `x' = x - shift` with
/// `shift = sum_k w_k mu_k` (applied as a chunk is loaded), so that the means
/// they see, `mu'_k = mu_k - shift`, are small next to the data's offset.
pub(crate) struct Prepared {
    covariance_type: CovarianceType,
    k: usize,
    d: usize,
    dp: usize,
    /// `sum_k w_k mu_k` (`D`).
    pub shift: Vec<f64>,
    /// `mu_k - shift` (`K x D`).
    pub centres: Vec<f64>,
    /// Full: `K` blocks of `D x Dp` (row `a` holds `U_k[a, b]` for `a <= b < D`,
    /// zeros elsewhere); tied: one such block; diag and spherical: `K x D`
    /// per-feature precision factors.
    factors: Vec<f64>,
    /// Full and tied: `-(mu_k - shift) U_k` (`K x Dp`, zero after `D`).
    start: Vec<f64>,
    /// Full and tied, per component: whiten `x' - mu'_k` rather than
    /// `x' U_k - mu'_k U_k`, because `|mu'_k U_k|` exceeds [`UNCENTRED_MAX`].
    centred: Vec<bool>,
    /// `log w_k + log|U_k| - D/2 log(2 pi)`.
    offsets: Vec<f64>,
}

impl Prepared {
    pub fn new(model: &GaussianMixture) -> Self {
        let k = model.n_components();
        let d = model.n_features();
        let dp = padded_features(d);
        let ct = model.covariance_type();
        let prec = model.precisions_cholesky();
        let means = model.means();
        let mut shift = vec![0.0; d];
        for (w, mu) in model.weights().iter().zip(means.chunks_exact(d)) {
            for (s, m) in shift.iter_mut().zip(mu) {
                *s += w * m;
            }
        }
        let centres: Vec<f64> = means
            .chunks_exact(d)
            .flat_map(|mu| mu.iter().zip(&shift).map(|(m, s)| m - s))
            .collect();
        let mut start = vec![0.0; k * dp];
        let factors = match ct {
            CovarianceType::Full | CovarianceType::Tied => {
                let n = if ct == CovarianceType::Full { k } else { 1 };
                let mut f = vec![0.0; n * d * dp];
                for c in 0..n {
                    for a in 0..d {
                        for b in a..d {
                            f[c * d * dp + a * dp + b] = prec[c * d * d + a * d + b];
                        }
                    }
                }
                for c in 0..k {
                    let u = &f[ct.matrix_start(c, d * dp)..][..d * dp];
                    for b in 0..d {
                        let mut y = 0.0;
                        for a in 0..=b {
                            y += centres[c * d + a] * u[a * dp + b];
                        }
                        start[c * dp + b] = -y;
                    }
                }
                f
            }
            CovarianceType::Diag => prec.to_vec(),
            CovarianceType::Spherical => (0..k * d).map(|i| prec[i / d]).collect(),
        };
        let centred = start
            .chunks_exact(dp)
            .map(|v| !v.iter().all(|y| y.abs() <= UNCENTRED_MAX))
            .collect();
        let half_const = 0.5 * (d as f64 * LN_2PI);
        let offsets = (0..k)
            .map(|c| model.log_weights[c] + model.log_det_precision_cholesky[c] - half_const)
            .collect();
        Self {
            covariance_type: ct,
            k,
            d,
            dp,
            shift,
            centres,
            factors,
            start,
            centred,
            offsets,
        }
    }
}

/// Scratch buffers of one worker, sized for one chunk.
pub(crate) struct Scratch {
    /// The instruction set the kernels run with (detected once).
    arch: pulp::Arch,
    d: usize,
    /// The chunk widened to f64 in strips of 8 rows: strip `t` holds features
    /// `0..Dp` of rows `8t..8t+8`, feature-major (`xt[(t * Dp + a) * 8 + l]`);
    /// features `D..Dp` are zero.
    xt: Aligned,
    /// Two blocks of 4 features of the centred chunk times one component's
    /// responsibilities: `w[(j * 8 + p) * 8 + l]` for the `j`-th strip
    /// scattered.
    wb: Aligned,
    /// Per-feature partial sums of the accumulation: `2 x Dp x 8`.
    sums: Aligned,
    /// Indices of the strips of 8 rows in which one component has a nonzero
    /// responsibility (at most `CH / 8`).
    active: Vec<usize>,
    /// Indices of the rows in which one component has a nonzero
    /// responsibility (at most `CH`).
    rows: Vec<usize>,
    /// `0, 1, ..., CH / 8 - 1`: every strip of a gathered chunk.
    every: Vec<usize>,
    /// The rows of `xt` listed in `rows`, centred on one component's mean,
    /// in the layout of `xt` (zeros after them up to a whole strip).
    cx: Aligned,
    /// The responsibilities of the rows in `cx` (zeros after them).
    rc: Aligned,
    /// One row of `CH` temporaries.
    tmp: Aligned,
    /// Row maxima: `CH`.
    acc: Aligned,
    /// Weighted log-probabilities, then responsibilities: `K x CH`
    /// (component-major: `lp[k * CHUNK_ROWS + i]`).
    pub lp: Aligned,
    /// Per-row log-likelihood: `CH`.
    pub ll: Aligned,
}

impl Scratch {
    pub fn new(k: usize, d: usize) -> Self {
        Self::with_arch(k, d, pulp::Arch::new())
    }

    /// Scratch whose kernels run with the instruction set `arch`.
    pub fn with_arch(k: usize, d: usize, arch: pulp::Arch) -> Self {
        let dp = padded_features(d);
        Self {
            arch,
            d,
            xt: Aligned::zeros(strip_len(dp) * CH / L),
            wb: Aligned::zeros(2 * NB * CH),
            sums: Aligned::zeros(2 * dp * L),
            active: vec![0; CH / L],
            rows: vec![0; CH],
            every: (0..CH / L).collect(),
            cx: Aligned::zeros(strip_len(dp) * CH / L),
            rc: Aligned::zeros(CH),
            tmp: Aligned::zeros(CH),
            acc: Aligned::zeros(CH),
            lp: Aligned::zeros(k * CH),
            ll: Aligned::zeros(CH),
        }
    }

    /// Copies rows `lo..hi` (at most [`CHUNK_ROWS`]) of `data`, minus `shift`
    /// (`D`), into the transposed chunk as f64 (zeros in the padding rows up to
    /// a multiple of [`R`]); returns `m = hi - lo`.
    #[inline(always)]
    pub fn load<D: Rows>(&mut self, data: &D, lo: usize, hi: usize, shift: &[f64]) -> usize {
        debug_assert!(hi - lo <= CH);
        let d = data.n_features();
        let panel = strip_len(padded_features(d));
        let xt = &mut self.xt;
        // A contiguous chunk is transposed here, inlined into the kernel that
        // calls `load` and compiled for its instruction set; pieces go through
        // a dynamic call (compiled for the baseline set).
        match data.contiguous(lo, hi) {
            Some(view) => transpose_rows(xt, panel, 0, view.as_slice(), view.n_samples(), d, shift),
            None => {
                let mut i = 0;
                data.for_each_piece(lo, hi, &mut |piece| {
                    transpose_rows(xt, panel, i, piece.as_slice(), piece.n_samples(), d, shift);
                    i += piece.n_samples();
                });
            }
        }
        let m = hi - lo;
        for i in m..padded_rows(m) {
            let at = (i / L) * panel + i % L;
            for a in 0..d {
                xt[at + a * L] = 0.0;
            }
        }
        m
    }
}

/// Writes the `n` rows of `rows` (row-major, `d` columns), minus `shift`, into
/// the strips of `xt` (`panel` values apart) as rows `i0..i0 + n` of the chunk.
#[inline(always)]
fn transpose_rows<T: Scalar>(
    xt: &mut [f64],
    panel: usize,
    i0: usize,
    rows: &[T],
    n: usize,
    d: usize,
    shift: &[f64],
) {
    let (mut i, mut r) = (i0, 0);
    while r < n {
        if i % L == 0 && r + L <= n {
            // A whole strip: 8 rows into 8 lanes of each feature, with common
            // widths known to the compiler (unrolled, no bounds checks).
            let src = &rows[r * d..(r + L) * d];
            let dst = &mut xt[(i / L) * panel..(i / L) * panel + d * L];
            macro_rules! width {
                ($($dd:literal)*) => {
                    match d {
                        $($dd => transpose_strip::<T, $dd>(dst, src, shift),)*
                        _ => transpose_strip::<T, 0>(dst, src, shift),
                    }
                };
            }
            width!(1 2 3 4 5 6 7 8 16);
            r += L;
            i += L;
        } else {
            let at = (i / L) * panel + i % L;
            for (a, v) in rows[r * d..(r + 1) * d].iter().enumerate() {
                xt[at + a * L] = v.to_f64() - shift[a];
            }
            r += 1;
            i += 1;
        }
    }
}

/// One strip of [`transpose_rows`]: `dst[a * 8 + l] = src[l * d + a] - shift[a]`
/// for `d = DD` columns (`DD = 0`: `d = src.len() / 8`).
#[inline(always)]
fn transpose_strip<T: Scalar, const DD: usize>(dst: &mut [f64], src: &[T], shift: &[f64]) {
    let d = if DD > 0 { DD } else { src.len() / L };
    let (dst, src, shift) = (&mut dst[..d * L], &src[..d * L], &shift[..d]);
    for a in 0..d {
        for l in 0..L {
            dst[a * L + l] = src[l * d + a].to_f64() - shift[a];
        }
    }
}

/// Fills `s.lp[k * CHUNK_ROWS + i] = log w_k + log N(x_i | mu_k, Sigma_k)` for
/// the `m` rows loaded in `s` (and finite values in the padding rows).
///
/// Full and tied: the whitening `y = (x - mu_k) U_k` (see [`whiten`] for the
/// two forms) runs over tiles of rows (32 on AVX-512, 8 on AVX2) and 4 columns of `Y` held in registers; column
/// block `b0..b0+4` needs rows `a < b0 + 4` of the triangular `U_k` only, and
/// `||y||^2` is accumulated as each block completes. Diag and spherical:
/// `y_j = (x_j - mu_kj) p_kj`, `D` multiplies per row. Every row is computed
/// by the same sequence of operations whatever the tile, so the tile size
/// does not change the bits.
pub(crate) fn weighted_log_prob(p: &Prepared, m: usize, s: &mut Scratch) {
    struct Op<'a, 'c> {
        p: &'a Prepared,
        m: usize,
        s: &'c mut Scratch,
    }
    impl pulp::WithSimd for Op<'_, '_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let Op { p, m, s } = self;
            match S::F64_LANES {
                8 => log_prob_tiles::<S, 1, 4>(simd, p, m, s),
                4 => log_prob_tiles::<S, 2, 1>(simd, p, m, s),
                2 => log_prob_tiles::<S, 4, 1>(simd, p, m, s),
                _ => log_prob_tiles::<S, 8, 1>(simd, p, m, s),
            }
        }
    }
    let arch = s.arch;
    arch.dispatch(Op { p, m, s });
}

/// [`weighted_log_prob`] with `G` vectors per strip of 8 rows and tiles of `TS`
/// strips.
#[inline(always)]
fn log_prob_tiles<S: Simd, const G: usize, const TS: usize>(
    simd: S,
    p: &Prepared,
    m: usize,
    s: &mut Scratch,
) {
    let (d, dp) = (p.d, p.dp);
    let mp = padded_rows(m);
    let (panel, stride) = (dp * L, strip_len(dp));
    let xt = &s.xt;
    let zero = simd.splat_f64s(0.0);
    let minus_half = simd.splat_f64s(-0.5);
    for k in 0..p.k {
        let mu = &p.centres[k * d..(k + 1) * d];
        let off = simd.splat_f64s(p.offsets[k]);
        let (lp, _) = S::as_mut_simd_f64s(&mut s.lp[k * CH..k * CH + mp]);
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
            for a in 0..(b0 + NB).min(d) {
                let mua = simd.splat_f64s(mu[a]);
                let c: [[S::f64s; G]; TS] = std::array::from_fn(|st| {
                    std::array::from_fn(|g| {
                        if CENTRE {
                            simd.sub_f64s(x[st][a * G + g], mua)
                        } else {
                            x[st][a * G + g]
                        }
                    })
                });
                let ub = lanes::<NB>(u, a * dp + b0);
                for j in 0..NB {
                    let uj = simd.splat_f64s(ub[j]);
                    for st in 0..TS {
                        for g in 0..G {
                            y[j][st][g] = simd.mul_add_f64s(c[st][g], uj, y[j][st][g]);
                        }
                    }
                }
            }
            for yj in &y {
                for st in 0..TS {
                    for g in 0..G {
                        sq[st][g] = simd.mul_add_f64s(yj[st][g], yj[st][g], sq[st][g]);
                    }
                }
            }
        }
        for st in 0..TS {
            for g in 0..G {
                out[st * G + g] = simd.mul_add_f64s(minus_half, sq[st][g], off);
            }
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
/// responsibilities instead of NaN. The padding rows after `m` get zero
/// responsibilities.
pub(crate) fn normalise_rows(m: usize, k: usize, s: &mut Scratch) {
    struct Op<'a> {
        m: usize,
        k: usize,
        s: &'a mut Scratch,
    }
    impl pulp::WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, _simd: S) {
            normalise_rows_body(self.m, self.k, self.s)
        }
    }
    let arch = s.arch;
    arch.dispatch(Op { m, k, s });
}

#[inline(always)]
fn normalise_rows_body(m: usize, k: usize, s: &mut Scratch) {
    let mx = &mut s.acc[..m];
    mx.fill(f64::NEG_INFINITY);
    for c in 0..k {
        for (o, v) in mx.iter_mut().zip(&s.lp[c * CH..c * CH + m]) {
            *o = o.max(*v);
        }
    }
    let total = &mut s.tmp[..m];
    total.fill(0.0);
    // Two components at a time: two independent chains through `exp`'s
    // polynomial in every iteration, which overlap better than one (about 5%
    // faster on a dense mid chunk). The sums still add the components in order.
    let mut pairs = s.lp[..k * CH].chunks_exact_mut(2 * CH);
    for pair in &mut pairs {
        let (a, b) = pair.split_at_mut(CH);
        for (((va, vb), t), x) in a[..m]
            .iter_mut()
            .zip(b[..m].iter_mut())
            .zip(total.iter_mut())
            .zip(mx.iter())
        {
            *va = crate::expf::exp(*va - x);
            *vb = crate::expf::exp(*vb - x);
            *t += *va;
            *t += *vb;
        }
    }
    for last in pairs.into_remainder().chunks_exact_mut(CH) {
        for ((v, t), x) in last[..m].iter_mut().zip(total.iter_mut()).zip(mx.iter()) {
            *v = crate::expf::exp(*v - x);
            *t += *v;
        }
    }
    // The sum is at least 1 (the maximum's own term) unless the row is all -inf.
    for ((ll, t), x) in s.ll[..m].iter_mut().zip(total.iter_mut()).zip(mx.iter()) {
        let empty = *x == f64::NEG_INFINITY;
        let ln_t = crate::expf::ln(if empty { 1.0 } else { *t });
        *ll = if empty { f64::NEG_INFINITY } else { x + ln_t };
        *t = if empty { 0.0 } else { 1.0 / *t };
    }
    let mp = padded_rows(m);
    for c in 0..k {
        for (v, inv) in s.lp[c * CH..c * CH + m].iter_mut().zip(total.iter()) {
            *v *= inv;
        }
        s.lp[c * CH + m..c * CH + mp].fill(0.0);
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
#[inline(always)]
pub(crate) fn responsibilities_of_row(s: &Scratch, i: usize, out: &mut [f64]) {
    for (c, o) in out.iter_mut().enumerate() {
        *o = s.lp[c * CH + i];
    }
}

/// Transposes row-major `m x K` responsibilities into the component-major
/// layout that [`accumulate`] reads (`K x CHUNK_ROWS`, zeros in the padding
/// rows).
pub(crate) fn responsibilities_from_rows(rows: &[f64], m: usize, k: usize, out: &mut [f64]) {
    for c in 0..k {
        for i in 0..m {
            out[c * CH + i] = rows[i * k + c];
        }
        out[c * CH + m..c * CH + padded_rows(m)].fill(0.0);
    }
}

/// Adds the chunk's statistics, centred on `means` (`K x D`, in the shifted
/// coordinates of the loaded chunk: [`Prepared::centres`]), to `stats`,
/// with responsibilities `resp` (component-major, `resp[k * CHUNK_ROWS + i]`,
/// zero in the padding rows) for the `m` rows loaded in `s`.
///
/// The scatter kept depends on the covariance type: the lower triangle of each
/// component's matrix (full), of their sum (tied), or the diagonals (diag and
/// spherical). `SufficientStats::mirror` fills upper triangles once a pass is
/// complete. Full and tied: the lower triangle of `C^T diag(r) C`, `C` the
/// chunk centred on `means`, in tiles (see [`scatter_full`]).
///
/// Every sum over rows keeps 8 partial sums, one per row index modulo 8, in
/// whatever vectors the instruction set has (one AVX-512 vector, two AVX2
/// vectors, eight scalars), and combines them with [`hsum`]: the same bits on
/// every instruction set.
pub(crate) fn accumulate(
    stats: &mut SufficientStats,
    means: &[f64],
    resp: &[f64],
    m: usize,
    s: &mut Scratch,
) {
    struct Op<'a> {
        stats: &'a mut SufficientStats,
        means: &'a [f64],
        resp: &'a [f64],
        m: usize,
        s: &'a mut Scratch,
    }
    impl pulp::WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let Op {
                stats,
                means,
                resp,
                m,
                s,
            } = self;
            let small = matches!(
                stats.covariance_type(),
                CovarianceType::Full | CovarianceType::Tied
            ) && s.d <= NB;
            macro_rules! small {
                ($g:literal) => {
                    match s.d {
                        1 => accumulate_small::<S, $g, 1>(simd, stats, means, resp, m, s),
                        2 => accumulate_small::<S, $g, 2>(simd, stats, means, resp, m, s),
                        3 => accumulate_small::<S, $g, 3>(simd, stats, means, resp, m, s),
                        _ => accumulate_small::<S, $g, 4>(simd, stats, means, resp, m, s),
                    }
                };
            }
            match (S::F64_LANES, small) {
                (8, true) => small!(1),
                (4, true) => small!(2),
                (2, true) => small!(4),
                (_, true) => small!(8),
                (8, false) => accumulate_g::<S, 1, 4, 2>(simd, stats, means, resp, m, s),
                (4, false) => accumulate_g::<S, 2, 2, 0>(simd, stats, means, resp, m, s),
                (2, false) => accumulate_g::<S, 4, 1, 0>(simd, stats, means, resp, m, s),
                (_, false) => accumulate_g::<S, 8, 1, 0>(simd, stats, means, resp, m, s),
            }
        }
    }
    let arch = s.arch;
    arch.dispatch(Op {
        stats,
        means,
        resp,
        m,
        s,
    });
}

/// The 8 partial sums of `G` vectors (`G * lanes = 8`), in row order.
#[inline(always)]
fn partials<S: Simd, const G: usize>(acc: &[S::f64s; G]) -> [f64; L] {
    let mut out = [0.0f64; L];
    let (h, _) = S::as_mut_simd_f64s(&mut out);
    h.copy_from_slice(acc);
    out
}

/// [`hsum`] of 8 partial sums held in `G` vectors (`G * lanes = 8`), with
/// the instruction set's own reduction where it adds in `hsum`'s order:
/// pulp halves a vector and adds the halves until one lane is left, which
/// for 8 lanes (one AVX-512 vector, or the lane-wise sum of two AVX2
/// vectors) is `((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))`. The same
/// bits as `hsum` (tested in `stats`), in a few shuffles instead of a round
/// trip through memory.
#[inline(always)]
fn hsum_simd<S: Simd, const G: usize>(simd: S, acc: &[S::f64s; G]) -> f64 {
    match (G, S::F64_LANES) {
        (1, 8) => simd.reduce_sum_f64s(acc[0]),
        (2, 4) => simd.reduce_sum_f64s(simd.add_f64s(acc[0], acc[1])),
        _ => hsum(&partials::<S, G>(acc)),
    }
}

/// `hsum` of the lane-wise sum of two sets of partial sums.
#[inline(always)]
fn hsum2<S: Simd, const G: usize>(simd: S, acc: &[[S::f64s; G]; 2]) -> f64 {
    let both: [S::f64s; G] = std::array::from_fn(|g| simd.add_f64s(acc[0][g], acc[1][g]));
    hsum_simd::<S, G>(simd, &both)
}

/// [`accumulate`] for full and tied with `DD <= 4` features, `G` vectors per 8
/// rows: every statistic of one component stays in registers while the chunk
/// streams by, and nothing is written back until the end.
#[inline(always)]
fn accumulate_small<S: Simd, const G: usize, const DD: usize>(
    simd: S,
    stats: &mut SufficientStats,
    means: &[f64],
    resp: &[f64],
    m: usize,
    s: &mut Scratch,
) {
    let k_total = stats.n_components();
    let d = s.d;
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
            let x = S::as_simd_f64s(&s.xt[t * panel..t * panel + DD * L]).0;
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
fn accumulate_g<S: Simd, const G: usize, const QB: usize, const Q2: usize>(
    simd: S,
    stats: &mut SufficientStats,
    means: &[f64],
    resp: &[f64],
    m: usize,
    s: &mut Scratch,
) {
    let k_total = stats.n_components();
    let d = s.d;
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
                    let nc = gather(s, na, mu, rk);
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
                        simd, sum, sc, mu, r, &s.xt, &mut s.wb, d, active,
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
                    let x = S::as_simd_f64s(&s.xt[t * stride..t * stride + panel]).0;
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

/// Whether gathering `nr` active rows (spread over `na` strips of 8) into
/// whole strips before the full scatter costs less than scattering the `na`
/// strips in place: a gathered row costs about `D` stores, a strip of the
/// scatter about `Dp^2 / 4 + 2 Dp` cycles (its multiply-adds at two a cycle).
/// Depends on the responsibilities only, never on the machine.
#[inline(always)]
fn gather_pays(d: usize, na: usize, nr: usize) -> bool {
    let dp = padded_features(d);
    let strip = dp * dp / 4 + 2 * dp;
    nr * (L * d + strip) < na * L * strip
}

/// Copies the rows of the chunk with nonzero responsibilities in the `na`
/// active strips of `s.active`, centred on `mu`, into `s.cx` (the `j`-th
/// such row at strip `j / 8`, lane `j % 8`) and their responsibilities
/// `resp` into `s.rc`, filling the last strip with rows of responsibility
/// zero; returns the number of strips. Each value is the same `x - mu` that
/// the scatter would form from `xt`, so only the order of the partial sums
/// differs from scattering the chunk in place.
#[inline(always)]
fn gather(s: &mut Scratch, na: usize, mu: &[f64], resp: &[f64]) -> usize {
    let d = s.d;
    let stride = strip_len(padded_features(d));
    // `rows` holds each row's offset in `xt`, `rc` its responsibility.
    let mut n = 0;
    for &t in &s.active[..na] {
        for l in 0..L {
            let i = t * L + l;
            s.rows[n] = t * stride + l;
            s.rc[n] = resp[i];
            n += usize::from(resp[i] != 0.0);
        }
    }
    let nc = n.div_ceil(L);
    // Rows after the last, up to a whole strip: any finite values with a
    // zero responsibility add zero (the first row's, here).
    for j in n..nc * L {
        s.rows[j] = s.rows[0];
        s.rc[j] = 0.0;
    }
    let (xt, cx) = (&s.xt[..], &mut s.cx[..]);
    for (js, from) in s.rows[..nc * L].chunks_exact(L).enumerate() {
        let mut from: [usize; L] = from.try_into().expect("a strip");
        let strip = &mut cx[js * stride..js * stride + d * L];
        for (dst, m) in strip.chunks_exact_mut(L).zip(mu) {
            let dst: &mut [f64; L] = dst.try_into().expect("a vector");
            for l in 0..L {
                dst[l] = xt[from[l]] - m;
                from[l] += L;
            }
        }
    }
    nc
}

/// One component's full scatter: with `c_i = x_i - mu` and `w_i = r_i c_i`,
/// `sum[a] += sum_i w_ia` and `sc[a, b] += sum_i w_ia c_ib` for `b <= a < d`,
/// over the strips of `xt` listed in `active` (responsibilities `r`, indexed
/// by strip like `xt`). `CENTRE`: `xt` holds the chunk and is centred on `mu`
/// as it is loaded; otherwise it holds rows already centred (see [`gather`]).
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
/// [`hsum`], and computed by the same operations whatever the tile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scatter_full<S: Simd, const G: usize, const QB: usize, const Q2: usize, const CENTRE: bool>(
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

    #[test]
    fn scratch_buffers_start_on_cache_lines() {
        let at_line = |v: &[f64]| v.as_ptr() as usize % LINE == 0;
        for len in [0, 1, 7, 8, 9, 100, 4096, 100_000] {
            let mut b = Aligned::zeros(len);
            assert!(at_line(&b), "len {len}");
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&v| v == 0.0));
            b.iter_mut().for_each(|v| *v = 1.0);
            // Moving the buffer keeps its contents and its alignment.
            let moved = Box::new(b);
            assert!(at_line(&moved[..]) && moved.iter().all(|&v| v == 1.0));
        }
        for (k, d) in [(1, 1), (3, 2), (16, 16), (8, 64), (5, 13)] {
            let s = Scratch::new(k, d);
            for (name, v) in [
                ("xt", &s.xt),
                ("wb", &s.wb),
                ("sums", &s.sums),
                ("cx", &s.cx),
                ("rc", &s.rc),
                ("tmp", &s.tmp),
                ("acc", &s.acc),
                ("lp", &s.lp),
                ("ll", &s.ll),
            ] {
                assert!(at_line(v), "{name} for k={k}, d={d}");
            }
            // Every strip, and every component's row of responsibilities,
            // starts a line too.
            assert_eq!(strip_len(padded_features(d)) * 8 % LINE, 0);
            assert_eq!(CH * 8 % LINE, 0);
        }
    }

    #[test]
    fn chunks_load_the_same_through_either_path_at_every_width() {
        use crate::data::{DataView, Shards};
        // Widths with their own compiled transpose and widths without.
        for d in [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 64] {
            let n = 300;
            let x: Vec<f64> = (0..n * d).map(|i| (i * 37 % 1000) as f64 - 400.5).collect();
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let shift: Vec<f64> = (0..d).map(|a| a as f64 * 0.25 - 1.0).collect();
            let data = DataView::new(&x, n, d).unwrap();
            // Shards cut at odd places: chunks read piece by piece.
            let cuts = [0, 3, 11, 12, 150, 251, n];
            let shards =
                Shards::new(cuts.windows(2).map(|w| data.rows(w[0], w[1])).collect()).unwrap();
            let data32 = DataView::new(&x32, n, d).unwrap();
            for (lo, hi) in [(0, 256), (3, 259), (256, 300), (5, 6)] {
                let mut direct = Scratch::new(2, d);
                let mut pieces = Scratch::new(2, d);
                let mut narrow = Scratch::new(2, d);
                assert!(data.contiguous(lo, hi).is_some());
                let crosses = cuts.iter().any(|&c| lo < c && c < hi);
                assert_eq!(shards.contiguous(lo, hi).is_none(), crosses);
                let m = direct.load(&data, lo, hi, &shift);
                assert_eq!(pieces.load(&shards, lo, hi, &shift), m);
                narrow.load(&data32, lo, hi, &shift);
                let panel = strip_len(padded_features(d));
                for i in 0..padded_rows(m) {
                    for a in 0..padded_features(d) {
                        let at = (i / L) * panel + a * L + i % L;
                        let want = if i < m && a < d {
                            x[(lo + i) * d + a] - shift[a]
                        } else {
                            0.0
                        };
                        let f32_want = if i < m && a < d {
                            x32[(lo + i) * d + a] as f64 - shift[a]
                        } else {
                            0.0
                        };
                        assert_eq!(direct.xt[at], want, "d {d}, rows {lo}..{hi}, i {i}, a {a}");
                        assert_eq!(pieces.xt[at], want, "pieces: d {d}, i {i}, a {a}");
                        assert_eq!(narrow.xt[at], f32_want, "f32: d {d}, i {i}, a {a}");
                    }
                }
            }
        }
    }

    #[test]
    fn lane_sums_are_exact_on_integers() {
        let a: [f64; L] = std::array::from_fn(|i| i as f64);
        assert_eq!(hsum(&a), 28.0);
        assert_eq!(padded_rows(1), 32);
        assert_eq!(padded_rows(256), 256);
        assert_eq!(padded_features(5), 8);
    }

    /// The vector reductions add the 8 partial sums in `hsum`'s order on
    /// every instruction set (values chosen so that another order rounds
    /// differently): `hsum_simd` relies on pulp's halving order.
    #[test]
    fn vector_reductions_add_in_hsum_order() {
        struct Op([f64; L]);
        impl pulp::WithSimd for Op {
            type Output = f64;
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> f64 {
                let p = self.0;
                match S::F64_LANES {
                    8 => hsum_simd::<S, 1>(simd, S::as_simd_f64s(&p).0.try_into().unwrap()),
                    4 => hsum_simd::<S, 2>(simd, S::as_simd_f64s(&p).0.try_into().unwrap()),
                    _ => hsum(&p),
                }
            }
        }
        let p = [1.0, 1e-16, -1.0, 3e-16, 1e16, 1.0, -1e16, 0.5];
        let want = hsum(&p);
        // Another order gives other bits: the test can fail.
        let naive: f64 = p.iter().sum();
        assert_ne!(naive.to_bits(), want.to_bits());
        let mut archs = vec![pulp::Arch::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(v3) = pulp::x86::V3::try_new() {
                archs.push(pulp::Arch::V3(v3));
            }
            if let Some(v4) = pulp::x86::V4::try_new() {
                archs.push(pulp::Arch::V4(v4));
            }
        }
        for arch in archs {
            let got = arch.dispatch(Op(p));
            assert_eq!(got.to_bits(), want.to_bits(), "{arch:?}: {got} vs {want}");
        }
    }

    /// Both whitening forms agree with a direct evaluation of
    /// `log w + log N(x | mu, Sigma)`; a component with a tiny covariance far
    /// from the mixture's centre takes the centred form.
    #[test]
    fn whitening_forms_agree_and_far_tiny_components_are_centred() {
        use crate::data::DataView;
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
        let model = GaussianMixture::from_parameters(
            CovarianceType::Full,
            k,
            d,
            vec![0.5, 0.3, 0.2],
            means.clone(),
            covariances,
        )
        .unwrap();
        let x: Vec<f64> = (0..n * d)
            .map(|i| 1e4 + ((i * 2_654_435_761usize) % 1000) as f64 / 120.0)
            .collect();
        let data = DataView::new(&x, n, d).unwrap();
        let mut p = Prepared::new(&model);
        assert_eq!(p.centred, [false, false, true]);
        let u = model.precisions_cholesky();
        let mut lp = |centred: bool| {
            p.centred = vec![centred; k];
            let mut s = Scratch::new(k, d);
            let m = s.load(&data, 0, n, &p.shift);
            weighted_log_prob(&p, m, &mut s);
            s.lp
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
                let direct = model.log_weights[c] + model.log_det_precision_cholesky[c]
                    - 0.5 * (d as f64 * LN_2PI + sq);
                for got in [exact[c * CH + i], fast[c * CH + i]] {
                    assert!(
                        (got - direct).abs() <= 1e-11 * direct.abs().max(1.0),
                        "component {c}, row {i}: {got} vs {direct}"
                    );
                }
            }
        }
    }

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

    /// The two sparse patterns take the paths they are meant to test.
    #[test]
    fn sparse_responsibilities_are_gathered() {
        for d in [3, 11, 13, 64] {
            // ZeroStrips: 2 of 3 strips active, all their rows.
            assert!(!gather_pays(d, 16, 128), "d = {d}");
            // Sparse: ~1.6 active rows per strip.
            assert!(gather_pays(d, 25, 40), "d = {d}");
        }
    }

    fn scatter_agrees_with_a_direct_sum_at(d: usize, pattern: Pattern) {
        use crate::data::DataView;
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
                    Pattern::ZeroStrips => (i / L + c) % 3 != 0,
                    Pattern::Sparse => (i * 7 + c) % 5 == 0,
                };
                if on {
                    resp[c * CH + i] = ((i * (c + 3) * 31) % 17 + 1) as f64 / 17.0;
                }
            }
        }
        let mut s = Scratch::new(k, d);
        let m = s.load(&data, 0, n, &shift);
        let mut stats = SufficientStats::zeros(CovarianceType::Full, k, d);
        accumulate(&mut stats, &centres, &resp, m, &mut s);
        for c in 0..k {
            let mu: Vec<f64> = (0..d).map(|a| shift[a] + centres[c * d + a]).collect();
            let direct = |a: usize, b: usize| -> f64 {
                (0..n)
                    .map(|i| resp[c * CH + i] * (x[i * d + a] - mu[a]) * (x[i * d + b] - mu[b]))
                    .sum()
            };
            let total: f64 = (0..n).map(|i| resp[c * CH + i]).sum();
            assert!((stats.nk[c] - total).abs() <= 1e-12 * total);
            for a in 0..d {
                let want: f64 = (0..n)
                    .map(|i| resp[c * CH + i] * (x[i * d + a] - mu[a]))
                    .sum();
                let v = stats.s[c * d + a];
                assert!(
                    (v - want).abs() <= 1e-11 * total,
                    "{pattern:?}, component {c}, sum {a}: {v} vs {want}"
                );
                for b in 0..=a {
                    let want = direct(a, b);
                    let scale = (direct(a, a) * direct(b, b)).sqrt();
                    let v = stats.scatter[c * d * d + a * d + b];
                    assert!(
                        (v - want).abs() <= 1e-12 * scale,
                        "{pattern:?}, component {c}, ({a}, {b}): {v} vs {want}"
                    );
                }
            }
        }
    }
}
