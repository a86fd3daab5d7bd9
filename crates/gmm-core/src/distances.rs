//! Squared distances of a chunk of rows to centres, by column, and the
//! passes of the initialisation built on them (k-means++, Lloyd, the final
//! assignment), each a `ChunkPass` compiled inside the SIMD dispatch.

use crate::blocks::CHUNK_ROWS;
use crate::data::{Piece, Rows, Scalar};
use crate::kernel::ChunkPass;

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

/// One chunk's weighted squared distances to the closest of `centres`,
/// `min_c w |x - c|^2` (the bits of `w min_c |x - c|^2`), into `out`; with
/// `keep`, the minimum with what `out` holds already. Compiled inside the
/// chunk's SIMD dispatch.
pub(crate) struct Closest<'a, D> {
    pub(crate) data: &'a D,
    pub(crate) weights: Option<&'a [f64]>,
    pub(crate) centres: &'a [f64],
    pub(crate) out: &'a mut [f64],
    pub(crate) keep: bool,
    pub(crate) cols: Columns,
    pub(crate) dist: [f64; CHUNK_ROWS],
}

impl<'a, D: Rows> Closest<'a, D> {
    pub(crate) fn new(
        data: &'a D,
        weights: Option<&'a [f64]>,
        centres: &'a [f64],
        out: &'a mut [f64],
    ) -> Self {
        let d = data.n_features();
        Self {
            data,
            weights,
            centres,
            out,
            keep: false,
            cols: Columns::new(d),
            dist: [0.0; CHUNK_ROWS],
        }
    }
}

impl<D: Rows> ChunkPass for Closest<'_, D> {
    #[inline(always)]
    fn chunk<S: pulp::Simd>(&mut self, _: S, lo: usize, hi: usize) {
        let m = hi - lo;
        self.cols.load(self.data, lo, hi);
        let out = &mut self.out[..m];
        if !self.keep {
            out.fill(f64::INFINITY);
        }
        for c in self.centres.chunks_exact(self.cols.d) {
            self.cols.sq_dists(c, &mut self.dist);
            match self.weights {
                None => {
                    for (o, &t) in out.iter_mut().zip(&self.dist[..m]) {
                        *o = (1.0 * t).min(*o);
                    }
                }
                Some(w) => {
                    for ((o, &t), &w) in out.iter_mut().zip(&self.dist[..m]).zip(&w[lo..hi]) {
                        *o = (w * t).min(*o);
                    }
                }
            }
        }
    }
}

/// One block's k-means++ potentials of the candidates:
/// `sum_n min(closest_n, w_n |x_n - cand|^2)` per candidate, rows in order
/// (as the search for a drawn row assumes). `closest` is the buffer of
/// closest distances (and its first row), or `None` to recompute them from
/// `centres`. Compiled inside the block's SIMD dispatch.
pub(crate) struct Potentials<'a, D> {
    pub(crate) data: &'a D,
    pub(crate) weights: Option<&'a [f64]>,
    pub(crate) closest: Option<(&'a [f64], usize)>,
    pub(crate) centres: &'a [f64],
    pub(crate) candidates: &'a [f64],
    pub(crate) sums: Vec<f64>,
    pub(crate) cols: Columns,
    pub(crate) dist: Vec<f64>,
    pub(crate) near: [f64; CHUNK_ROWS],
}

impl<D: Rows> ChunkPass for Potentials<'_, D> {
    #[inline(always)]
    fn chunk<S: pulp::Simd>(&mut self, _: S, lo: usize, hi: usize) {
        let (d, m) = (self.cols.d, hi - lo);
        self.cols.load(self.data, lo, hi);
        match self.closest {
            Some((c, ls)) => self.near[..m].copy_from_slice(&c[lo - ls..hi - ls]),
            None => {
                let near = &mut self.near[..m];
                near.fill(f64::INFINITY);
                let dist = &mut self.dist[..CHUNK_ROWS];
                for c in self.centres.chunks_exact(d) {
                    self.cols.sq_dists(c, dist);
                    for i in 0..m {
                        let w = self.weights.map_or(1.0, |w| w[lo + i]);
                        near[i] = (w * dist[i]).min(near[i]);
                    }
                }
            }
        }
        for (t, out) in self.dist.chunks_exact_mut(CHUNK_ROWS).enumerate() {
            self.cols
                .sq_dists(&self.candidates[t * d..(t + 1) * d], out);
        }
        let (p, dist, near) = (&mut self.sums, &self.dist, &self.near);
        match self.weights {
            None => {
                for i in 0..m {
                    for (t, pt) in p.iter_mut().enumerate() {
                        *pt += (1.0 * dist[t * CHUNK_ROWS + i]).min(near[i]);
                    }
                }
            }
            Some(w) => {
                for (i, &w) in w[lo..hi].iter().enumerate() {
                    for (t, pt) in p.iter_mut().enumerate() {
                        *pt += (w * dist[t * CHUNK_ROWS + i]).min(near[i]);
                    }
                }
            }
        }
    }
}

/// One block of a Lloyd iteration: each row's nearest centre, then the
/// (weighted) sums of each cluster's rows and their weights (`K x D`, then
/// `K`), rows in order; compiled inside the block's SIMD dispatch.
pub(crate) struct LloydBlock<'a, D> {
    pub(crate) data: &'a D,
    pub(crate) weights: Option<&'a [f64]>,
    pub(crate) centres: &'a [f64],
    pub(crate) sums: Vec<f64>,
    pub(crate) cols: Columns,
    pub(crate) best: [usize; CHUNK_ROWS],
    pub(crate) best_d: [f64; CHUNK_ROWS],
    pub(crate) dist: [f64; CHUNK_ROWS],
}

impl<D: Rows> ChunkPass for LloydBlock<'_, D> {
    #[inline(always)]
    fn chunk<S: pulp::Simd>(&mut self, _simd: S, lo: usize, hi: usize) {
        let d = self.cols.d;
        let k = self.centres.len() / d;
        self.cols.load(self.data, lo, hi);
        self.cols.nearest(
            self.centres,
            &mut self.best,
            &mut self.best_d,
            &mut self.dist,
        );
        let (s, c) = self.sums.split_at_mut(k * d);
        for i in 0..hi - lo {
            let (b, w) = (self.best[i], self.weights.map_or(1.0, |w| w[lo + i]));
            c[b] += w;
            for (a, v) in s[b * d..(b + 1) * d].iter_mut().enumerate() {
                *v += w * self.cols.at(i, a);
            }
        }
    }
}
