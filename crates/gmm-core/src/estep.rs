//! Passes over the data under one model: the fused E-step (statistics),
//! per-row outputs (log-likelihoods, responsibilities, labels), and the
//! statistics of a given assignment (the initialisations').
//!
//! ```text
//! for each block b (in parallel), for each chunk of b (in order):
//!     load -> weighted log-probabilities -> log-sum-exp -> responsibilities
//!          -> add N_k, s_k, S_k (centred on the current means) to block b's statistics
//! fold the block statistics in block order; mirror the scatter triangles
//! ```
//!
//! Each block enters the instruction set once ([`for_each_chunk`]); the
//! inputs are validated by the public callers, once per call.

use std::sync::atomic::{AtomicBool, Ordering};

use pulp::Simd;

use crate::blocks::{
    CHUNK_ROWS, GROUP_BLOCKS, MERGE_GROUP_BLOCKS, STREAM_GROUP_BLOCKS, try_ordered_block_range,
};
use crate::covariance::CovarianceType;
use crate::data::Rows;
use crate::distances::{Assignment, Columns};
use crate::kernel::layout::Aligned;
use crate::kernel::{self, AccumulateWork, Chunk, ChunkPass, LogProbs, Prepared, for_each_chunk};
use crate::stats::SufficientStats;

/// The fused E-step pass of the model laid out in `prepared` (inputs already
/// validated), with optional per-row weights (indexed by row of `data`).
pub(crate) fn e_step<D: Rows>(
    prepared: &Prepared,
    data: &D,
    weights: Option<&[f64]>,
) -> SufficientStats {
    e_step_on(prepared, data, weights, pulp::Arch::new())
}

/// [`e_step`] that gives up, returning `None`, once `stop` is set: the flag
/// is read before every block (8192 rows), so a long pass ends within
/// milliseconds of a request. Ignored in a spread fit, whose processes must
/// all finish the same passes.
pub(crate) fn e_step_until<D: Rows>(
    prepared: &Prepared,
    data: &D,
    weights: Option<&[f64]>,
    stop: Option<&AtomicBool>,
) -> Option<SufficientStats> {
    let stop = stop.filter(|_| !data.scope().is_spread());
    e_step_pass(prepared, data, weights, pulp::Arch::new(), stop)
}

/// [`e_step`] with the kernels compiled for `arch` (tests compare instruction
/// sets).
pub(crate) fn e_step_on<D: Rows>(
    prepared: &Prepared,
    data: &D,
    weights: Option<&[f64]>,
    arch: pulp::Arch,
) -> SufficientStats {
    e_step_pass(prepared, data, weights, arch, None).expect("no stop flag: the pass completes")
}

fn e_step_pass<D: Rows>(
    prepared: &Prepared,
    data: &D,
    weights: Option<&[f64]>,
    arch: pulp::Arch,
    stop: Option<&AtomicBool>,
) -> Option<SufficientStats> {
    let (ct, k, d) = prepared.shape();
    fold_stats(data, ct, k, d, stop, |start, end| {
        let mut pass = EStep {
            prepared,
            data,
            weights,
            stats: SufficientStats::zeros(ct, k, d),
            chunk: Chunk::new(d),
            probs: LogProbs::new(k),
            work: AccumulateWork::new(d),
        };
        for_each_chunk(arch, start, end, &mut pass);
        pass.stats
    })
}

/// The statistics of every block (`map(start, end)`, the blocks held here
/// in parallel), folded in two levels: the blocks of each group of
/// [`MERGE_GROUP_BLOCKS`] in order into a partial, then the partials in
/// order. A spread fit folds each process's partials onto the fold of the
/// processes before it (`Scope::chain`): every process folds the same
/// sequence, and each sends one set of statistics.
///
/// With a `stop` flag (never in a spread fit), a block that starts after the
/// flag is set is skipped and the pass returns `None`.
fn fold_stats<D: Rows>(
    data: &D,
    ct: CovarianceType,
    k: usize,
    d: usize,
    stop: Option<&AtomicBool>,
    map: impl Fn(usize, usize) -> SufficientStats + Sync,
) -> Option<SufficientStats> {
    let scope = data.scope();
    let n = data.n_samples();
    let (first, last) = scope.local_blocks();
    let zeros = || SufficientStats::zeros(ct, k, d);
    let mut total = zeros();
    let mut partial = zeros();
    let mut local = Vec::new();
    let stopped = || stop.is_some_and(|s| s.load(Ordering::Relaxed));
    let r: Result<(), ()> = try_ordered_block_range(
        first,
        last,
        n,
        GROUP_BLOCKS,
        |b, start, end| (b, (!stopped()).then(|| map(start, end))),
        |(b, part)| {
            let part = part.ok_or(())?;
            partial
                .merge(&part)
                .expect("block statistics have the model's shape");
            if (b + 1) % MERGE_GROUP_BLOCKS == 0 || b + 1 == last {
                if scope.is_spread() {
                    local.push(std::mem::replace(&mut partial, zeros()));
                } else {
                    total.merge(&partial).expect("same shape");
                    partial = zeros();
                }
            }
            Ok(())
        },
    );
    r.ok()?;
    if scope.is_spread() {
        let mut acc = Vec::with_capacity(total.wire_len());
        total.write_wire(&mut acc);
        acc.resize(total.wire_len(), 0.0);
        scope.chain(&mut acc, |acc| {
            total.read_wire(acc);
            for p in &local {
                total.merge(p).expect("same shape");
            }
            let mut out = Vec::with_capacity(acc.len());
            total.write_wire(&mut out);
            acc[..out.len()].copy_from_slice(&out);
        });
        total.read_wire(&acc);
    }
    total.mirror();
    Some(total)
}

/// The fused E-step of one block, chunk by chunk.
struct EStep<'a, D: Rows> {
    prepared: &'a Prepared,
    data: &'a D,
    weights: Option<&'a [f64]>,
    stats: SufficientStats,
    chunk: Chunk,
    probs: LogProbs,
    work: AccumulateWork,
}

impl<D: Rows> ChunkPass for EStep<'_, D> {
    #[inline(always)]
    fn chunk<S: Simd>(&mut self, simd: S, lo: usize, hi: usize) {
        let Self {
            prepared,
            data,
            weights,
            stats,
            chunk,
            probs,
            work,
        } = self;
        let k = probs.lp.len() / CHUNK_ROWS;
        let m = chunk.load(*data, lo, hi, &prepared.shift);
        kernel::weighted_log_prob(simd, prepared, m, chunk, probs);
        kernel::normalise_rows(m, k, probs);
        match weights {
            None => stats.add_rows(kernel::lane_sum(&probs.ll[..m]), m as f64),
            Some(w) => {
                let w = &w[lo..hi];
                let ll = kernel::weigh_rows(w, m, k, probs);
                stats.add_rows(ll, w.iter().sum::<f64>());
            }
        }
        // Most chunks have no row below the K-th lowest so far: one
        // vectorisable count settles that.
        let threshold = stats.lowest_threshold();
        if probs.ll[..m].iter().filter(|&&ll| ll <= threshold).count() > 0 {
            for (i, &ll) in probs.ll[..m].iter().enumerate() {
                let counts = weights.is_none_or(|w| w[lo + i] > 0.0);
                if ll <= stats.lowest_threshold() && counts {
                    stats.offer_lowest(ll, (lo + i) as u64);
                }
            }
        }
        let view = &mut stats.kernel_view();
        kernel::accumulate(simd, view, &prepared.centres, &probs.lp, m, chunk, work);
    }
}

/// `per_row(responsibilities, log-likelihood, out)` for every row of `data`
/// under the model laid out in `prepared`, `width` outputs per row, in row
/// order, collected (inputs already validated).
pub(crate) fn map_rows<D: Rows, O: Copy + Default + Send>(
    prepared: &Prepared,
    data: &D,
    width: usize,
    per_row: impl Fn(&[f64], f64, &mut [O]) + Sync,
) -> Vec<O> {
    let (start, end) = data.scope().local();
    let mut out = Vec::with_capacity((end - start) * width);
    let r: Result<(), std::convert::Infallible> =
        map_rows_streamed(prepared, data, width, per_row, |block| {
            out.extend_from_slice(block);
            Ok(())
        });
    let Ok(()) = r;
    out
}

/// [`map_rows`] handing the outputs to `sink` block by block, in row order:
/// memory for [`STREAM_GROUP_BLOCKS`] blocks of outputs, whatever `N`. An
/// error from `sink` stops the pass.
pub(crate) fn map_rows_streamed<D: Rows, O: Copy + Default + Send, E>(
    prepared: &Prepared,
    data: &D,
    width: usize,
    per_row: impl Fn(&[f64], f64, &mut [O]) + Sync,
    mut sink: impl FnMut(&[O]) -> Result<(), E>,
) -> Result<(), E> {
    let (_, k, d) = prepared.shape();
    let (first, last) = data.scope().local_blocks();
    try_ordered_block_range(
        first,
        last,
        data.n_samples(),
        STREAM_GROUP_BLOCKS,
        |_, start, end| {
            let mut pass = MapRows {
                prepared,
                data,
                per_row: &per_row,
                chunk: Chunk::new(d),
                probs: LogProbs::new(k),
                row: vec![0.0; k],
                width,
                out: vec![O::default(); (end - start) * width],
                start,
            };
            for_each_chunk(pulp::Arch::new(), start, end, &mut pass);
            pass.out
        },
        |block| sink(&block),
    )
}

/// Per-row outputs of one block.
struct MapRows<'a, D: Rows, F, O> {
    prepared: &'a Prepared,
    data: &'a D,
    per_row: &'a F,
    chunk: Chunk,
    probs: LogProbs,
    row: Vec<f64>,
    width: usize,
    out: Vec<O>,
    /// The block's first row.
    start: usize,
}

impl<D: Rows, F: Fn(&[f64], f64, &mut [O]), O> ChunkPass for MapRows<'_, D, F, O> {
    #[inline(always)]
    fn chunk<S: Simd>(&mut self, simd: S, lo: usize, hi: usize) {
        let k = self.row.len();
        let m = self.chunk.load(self.data, lo, hi, &self.prepared.shift);
        kernel::weighted_log_prob(simd, self.prepared, m, &self.chunk, &mut self.probs);
        kernel::normalise_rows(m, k, &mut self.probs);
        let w = self.width;
        for i in 0..m {
            kernel::responsibilities_of_row(&self.probs, i, &mut self.row);
            let at = (lo - self.start + i) * w;
            (self.per_row)(&self.row, self.probs.ll[i], &mut self.out[at..at + w]);
        }
    }
}

/// Statistics from given responsibilities, as scikit-learn's initialisation
/// computes parameters from an initial assignment. `fill(row0, m, resp)` writes
/// the responsibilities of rows `row0..row0+m` into `resp` (`m x K`). Two
/// passes: the first finds the weighted means, the second the scatter about
/// them. Returns the statistics of the second pass and the means they are
/// centred on.
pub(crate) fn from_responsibilities<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    covariance_type: CovarianceType,
    k: usize,
    fill: impl Assignment<D>,
) -> (SufficientStats, Vec<f64>) {
    let d = data.n_features();
    let first = statistics_about(data, weights, covariance_type, &vec![0.0; k * d], &fill);
    let mut means = vec![0.0; k * d];
    for c in 0..k {
        let nk = first.nk()[c];
        if nk > 0.0 {
            for j in 0..d {
                means[c * d + j] = first.centred_sums()[c * d + j] / nk;
            }
        }
    }
    (
        statistics_about(data, weights, covariance_type, &means, &fill),
        means,
    )
}

/// One pass: the statistics of the responsibilities `fill` writes (see
/// [`from_responsibilities`]), centred on `centres` (`K x D`). The M-step
/// from them is exact whatever the centres; centres near the means (the
/// converged centres of k-means) lose nothing to cancellation.
pub(crate) fn statistics_about<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    covariance_type: CovarianceType,
    centres: &[f64],
    fill: &impl Assignment<D>,
) -> SufficientStats {
    let d = data.n_features();
    let k = centres.len() / d;
    let no_shift = vec![0.0; d];
    fold_stats(data, covariance_type, k, d, None, |start, end| {
        let mut pass = Assigned {
            data,
            weights,
            fill,
            means: centres,
            no_shift: &no_shift,
            k,
            stats: SufficientStats::zeros(covariance_type, k, d),
            chunk: Chunk::new(d),
            cols: Columns::new(d),
            work: AccumulateWork::new(d),
            rows: vec![0.0; CHUNK_ROWS * k],
            resp: Aligned::zeros(CHUNK_ROWS * k),
        };
        for_each_chunk(pulp::Arch::new(), start, end, &mut pass);
        pass.stats
    })
    .expect("no stop flag: the pass completes")
}

/// The statistics of one block under given responsibilities.
struct Assigned<'a, D: Rows, F> {
    data: &'a D,
    weights: Option<&'a [f64]>,
    fill: &'a F,
    means: &'a [f64],
    no_shift: &'a [f64],
    k: usize,
    stats: SufficientStats,
    chunk: Chunk,
    /// Scratch of the assignment's distance kernels.
    cols: Columns,
    work: AccumulateWork,
    /// Responsibilities of the chunk's rows, row-major (`m x K`).
    rows: Vec<f64>,
    /// The same, component-major as the kernels read them.
    resp: Aligned,
}

impl<D: Rows, F: Assignment<D>> ChunkPass for Assigned<'_, D, F> {
    #[inline(always)]
    fn chunk<S: Simd>(&mut self, simd: S, lo: usize, hi: usize) {
        let k = self.k;
        let m = self.chunk.load(self.data, lo, hi, self.no_shift);
        self.fill
            .fill(&mut self.cols, self.data, lo, m, &mut self.rows[..m * k]);
        match self.weights {
            None => self.stats.add_rows(0.0, m as f64),
            Some(w) => {
                let w = &w[lo..hi];
                for (row, wi) in self.rows[..m * k].chunks_exact_mut(k).zip(w) {
                    row.iter_mut().for_each(|r| *r *= wi);
                }
                self.stats.add_rows(0.0, w.iter().sum::<f64>());
            }
        }
        kernel::responsibilities_from_rows(&self.rows, m, k, &mut self.resp);
        let view = &mut self.stats.kernel_view();
        kernel::accumulate(
            simd,
            view,
            self.means,
            &self.resp,
            m,
            &self.chunk,
            &mut self.work,
        );
    }
}
