//! Squared distances of a chunk of rows to centres, by column: the
//! initialisation's kernel (k-means++, Lloyd, the final assignment).

use crate::blocks::CHUNK_ROWS;
use crate::data::{Piece, Rows, Scalar};

/// Rows of a chunk laid out by column (`xt[a * CHUNK_ROWS + i]`, as f64),
/// so that the distances of all its rows to one centre are one vectorised
/// loop per feature. Each distance is summed over the features in order, so
/// it has the bits of [`sq_dist`].
pub(crate) struct Columns {
    pub(crate) d: usize,
    pub(crate) len: usize,
    xt: Vec<f64>,
}

impl Columns {
    pub(crate) fn new(d: usize) -> Self {
        Self {
            d,
            len: 0,
            xt: vec![0.0; d * CHUNK_ROWS],
        }
    }

    /// Loads rows `lo..hi` (at most `CHUNK_ROWS`).
    #[inline(always)]
    pub(crate) fn load<D: Rows>(&mut self, data: &D, lo: usize, hi: usize) {
        debug_assert!(hi - lo <= CHUNK_ROWS);
        if let Some(v) = data.contiguous(lo, hi) {
            self.put(0, Piece::Rows(v));
        } else if let Some(v) = data.column_view(lo, hi) {
            self.put(0, Piece::Columns(v));
        } else {
            let mut i = 0;
            data.for_each_piece(lo, hi, &mut |p| {
                let m = p.n_samples();
                self.put(i, p);
                i += m;
            });
        }
        self.len = hi - lo;
    }

    /// Writes the rows of `p` as rows `i..` of the chunk, column by column.
    #[inline(always)]
    fn put<T: Scalar>(&mut self, i: usize, p: Piece<'_, T>) {
        let (d, m) = (self.d, p.n_samples());
        for (a, col) in self.xt.chunks_exact_mut(CHUNK_ROWS).enumerate() {
            let out = &mut col[i..i + m];
            match p {
                Piece::Rows(v) => {
                    for (c, row) in out.iter_mut().zip(v.as_slice().chunks_exact(d)) {
                        *c = row[a].to_f64();
                    }
                }
                Piece::Columns(v) => {
                    for (c, x) in out.iter_mut().zip(v.column(a)) {
                        *c = x.to_f64();
                    }
                }
            }
        }
    }

    /// `out[i] = |x_i - c|^2` for the loaded rows.
    #[inline(always)]
    pub(crate) fn sq_dists(&self, c: &[f64], out: &mut [f64]) {
        let out = &mut out[..self.len];
        out.fill(0.0);
        for (a, &ca) in c.iter().enumerate() {
            let col = &self.xt[a * CHUNK_ROWS..a * CHUNK_ROWS + self.len];
            for (o, x) in out.iter_mut().zip(col) {
                let t = x - ca;
                *o += t * t;
            }
        }
    }

    /// Feature `a` of loaded row `i`.
    #[inline(always)]
    pub(crate) fn at(&self, i: usize, a: usize) -> f64 {
        self.xt[a * CHUNK_ROWS + i]
    }

    /// The nearest of `centres` (`K x D`) to each loaded row (ties: the lowest
    /// index), into `best`; `dist` is scratch.
    #[inline(always)]
    pub(crate) fn nearest(
        &self,
        centres: &[f64],
        best: &mut [usize],
        best_d: &mut [f64],
        dist: &mut [f64],
    ) {
        let m = self.len;
        best[..m].fill(0);
        best_d[..m].fill(f64::INFINITY);
        for (c, centre) in centres.chunks_exact(self.d).enumerate() {
            self.sq_dists(centre, dist);
            for i in 0..m {
                if dist[i] < best_d[i] {
                    best_d[i] = dist[i];
                    best[i] = c;
                }
            }
        }
    }
}

/// How an initialisation assigns a chunk's rows to components: `fill` writes
/// the responsibilities of rows `row0..row0 + m` (`m x K`, row-major) into
/// `resp`; `cols` is scratch for distance kernels. Implementations are
/// `#[inline(always)]` so that they run inside the pass's SIMD dispatch.
pub(crate) trait Assignment<D: Rows>: Sync {
    fn fill(&self, cols: &mut Columns, data: &D, row0: usize, m: usize, resp: &mut [f64]);
}

/// Any `fill(row0, m, resp)` closure.
impl<D: Rows, F: Fn(usize, usize, &mut [f64]) + Sync> Assignment<D> for F {
    #[inline(always)]
    fn fill(&self, _: &mut Columns, _: &D, row0: usize, m: usize, resp: &mut [f64]) {
        self(row0, m, resp)
    }
}

/// One-hot responsibilities of each row for its nearest of `centres`
/// (`K x D`; ties: the lowest index).
pub(crate) struct Nearest<'a> {
    pub(crate) centres: &'a [f64],
}

impl<D: Rows> Assignment<D> for Nearest<'_> {
    #[inline(always)]
    fn fill(&self, cols: &mut Columns, data: &D, row0: usize, m: usize, resp: &mut [f64]) {
        let k = self.centres.len() / cols.d;
        resp[..m * k].fill(0.0);
        let (mut best, mut best_d, mut dist) =
            ([0; CHUNK_ROWS], [0.0; CHUNK_ROWS], [0.0; CHUNK_ROWS]);
        for lo in (0..m).step_by(CHUNK_ROWS) {
            let hi = (lo + CHUNK_ROWS).min(m);
            cols.load(data, row0 + lo, row0 + hi);
            cols.nearest(self.centres, &mut best, &mut best_d, &mut dist);
            for i in 0..hi - lo {
                resp[(lo + i) * k + best[i]] = 1.0;
            }
        }
    }
}
