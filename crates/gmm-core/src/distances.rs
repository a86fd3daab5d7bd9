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
    pub(crate) fn load<D: Rows>(&mut self, data: &D, lo: usize, hi: usize) {
        debug_assert!(hi - lo <= CHUNK_ROWS);
        let (d, xt) = (self.d, &mut self.xt);
        let mut i = 0;
        let mut put = |p: Piece<'_, D::Elem>| {
            let m = p.n_samples();
            for (a, col) in xt.chunks_exact_mut(CHUNK_ROWS).enumerate() {
                let out = &mut col[i..i + m];
                match p {
                    Piece::Rows(v) => {
                        let values = v.as_slice().iter().skip(a).step_by(d);
                        for (c, x) in out.iter_mut().zip(values) {
                            *c = x.to_f64();
                        }
                    }
                    Piece::Columns(v) => {
                        for (c, x) in out.iter_mut().zip(v.column(a)) {
                            *c = x.to_f64();
                        }
                    }
                }
            }
            i += m;
        };
        if let Some(v) = data.contiguous(lo, hi) {
            put(Piece::Rows(v))
        } else if let Some(v) = data.column_view(lo, hi) {
            put(Piece::Columns(v))
        } else {
            data.for_each_piece(lo, hi, &mut put)
        }
        self.len = hi - lo;
    }

    /// `out[i] = |x_i - c|^2` for the loaded rows.
    #[inline]
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
    #[inline]
    pub(crate) fn at(&self, i: usize, a: usize) -> f64 {
        self.xt[a * CHUNK_ROWS + i]
    }

    /// The nearest of `centres` (`K x D`) to each loaded row (ties: the lowest
    /// index), into `best`; `dist` is scratch.
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

/// One-hot responsibilities (`m x K`, zeroed) of rows `row0..row0 + m` for
/// their nearest centre, with a per-thread scratch (no allocation per call).
pub(crate) fn assign_nearest<D: Rows>(
    data: &D,
    centres: &[f64],
    k: usize,
    row0: usize,
    m: usize,
    resp: &mut [f64],
) {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Option<Columns>> =
            const { std::cell::RefCell::new(None) };
    }
    let d = data.n_features();
    SCRATCH.with_borrow_mut(|scratch| {
        let cols = match scratch {
            Some(c) if c.d == d => c,
            _ => scratch.insert(Columns::new(d)),
        };
        let (mut best, mut best_d, mut dist) =
            ([0; CHUNK_ROWS], [0.0; CHUNK_ROWS], [0.0; CHUNK_ROWS]);
        for lo in (0..m).step_by(CHUNK_ROWS) {
            let hi = (lo + CHUNK_ROWS).min(m);
            cols.load(data, row0 + lo, row0 + hi);
            cols.nearest(centres, &mut best, &mut best_d, &mut dist);
            for i in 0..hi - lo {
                resp[(lo + i) * k + best[i]] = 1.0;
            }
        }
    });
}
