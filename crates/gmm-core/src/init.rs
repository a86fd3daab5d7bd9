//! Initialisation of EM: k-means (k-means++ seeding then Lloyd), k-means++
//! seeding alone, random rows, random responsibilities, or given parameters.
//!
//! As in scikit-learn, every method except given parameters produces an initial
//! assignment of rows to components (hard or soft) and the initial model is the
//! M-step from that assignment (`reg_covar` included). Weights are normalised
//! to sum to 1 (scikit-learn leaves them unnormalised for the one-point
//! methods, which only shifts the first lower bound).
//!
//! Every pass is over fixed blocks merged in order, and every random number is
//! drawn from seeds derived from the user's seed and fixed indices, so the result
//! never depends on the number of threads.

use std::ops::ControlFlow;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::blocks::{BLOCK_ROWS, CHUNK_ROWS, fold_blocks, fold_blocks_into};
use crate::covariance::CovarianceType;
use crate::data::{DataView, Piece, Rows, Scalar};
use crate::distances::{Closest, Columns, LloydBlock, Nearest, Potentials};
use crate::distributed::Scope;
use crate::error::Result;
use crate::estep::{from_responsibilities, statistics_about};
use crate::kernel::for_each_chunk;
use crate::model::GaussianMixture;
use crate::mstep;
use crate::sample::block_sample;
use crate::stats::SufficientStats;

pub(crate) use crate::blocks::derive_seed;

/// A phase of an initialisation, as reported to [`FitObserver::on_init_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InitPhase {
    /// k-means++ seeding: steps are centres chosen.
    KMeansPlusPlus,
    /// Lloyd's algorithm (the k-means init): steps are iterations.
    Lloyd,
}

impl InitPhase {
    /// `"k-means++"` or `"lloyd"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            InitPhase::KMeansPlusPlus => "k-means++",
            InitPhase::Lloyd => "lloyd",
        }
    }
}

/// Lloyd iterations at most, and relative tolerance on the centre shift
/// (scikit-learn's `KMeans` defaults).
const KMEANS_MAX_ITER: usize = 300;
const KMEANS_TOL: f64 = 1e-4;

/// Row `i` as `f64`s (sent by the process that holds it, in a spread fit:
/// every process calls this in the same order).
#[inline]
fn row_f64<D: Rows>(data: &D, i: usize, out: &mut [f64]) {
    data.scope().fetch_row(data, i, out);
}

#[inline]
fn sq_dist<T: Scalar>(x: &[T], c: &[f64]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(a, b)| {
            let t = a.to_f64() - b;
            t * t
        })
        .sum()
}

/// The model from one-point components at `rows`: means at those rows,
/// covariances `reg_covar I`, equal weights.
pub(crate) fn from_rows<D: Rows>(
    data: &D,
    rows: &[usize],
    covariance_type: CovarianceType,
    reg_covar: f64,
) -> Result<GaussianMixture> {
    let (k, d) = (rows.len(), data.n_features());
    let mut centres = vec![0.0; k * d];
    for (c, &r) in rows.iter().enumerate() {
        row_f64(data, r, &mut centres[c * d..(c + 1) * d]);
    }
    let stats = SufficientStats::one_point_each(covariance_type, k, d);
    m_step_at_init(covariance_type, &centres, &stats, reg_covar)
}

/// The initial model: the M-step from statistics centred on `centres`; a
/// singular covariance is reported as one of iteration 0.
fn m_step_at_init(
    covariance_type: CovarianceType,
    centres: &[f64],
    stats: &SufficientStats,
    reg_covar: f64,
) -> Result<GaussianMixture> {
    let f = mstep::m_step(covariance_type, centres, stats, reg_covar, 0)?;
    Ok(GaussianMixture::from_factored(covariance_type, f))
}

/// The M-step from responsibilities produced by `fill` (see
/// [`from_responsibilities`]).
fn from_assignment<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    k: usize,
    covariance_type: CovarianceType,
    reg_covar: f64,
    fill: impl Fn(usize, usize, &mut [f64]) + Sync,
) -> Result<GaussianMixture> {
    let (stats, centres) = from_responsibilities(data, weights, covariance_type, k, fill);
    m_step_at_init(covariance_type, &centres, &stats, reg_covar)
}

/// Random responsibilities: each row gets `K` uniform numbers, normalised.
pub(crate) fn random_responsibilities<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    k: usize,
    covariance_type: CovarianceType,
    reg_covar: f64,
    seed: u64,
) -> Result<GaussianMixture> {
    from_assignment(
        data,
        weights,
        k,
        covariance_type,
        reg_covar,
        |row0, m, resp| {
            // Seeded by the chunk's first row: both passes see the same numbers.
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, row0 as u64));
            for row in resp[..m * k].chunks_exact_mut(k) {
                let mut sum = 0.0;
                for v in row.iter_mut() {
                    *v = rng.random::<f64>();
                    sum += *v;
                }
                for v in row.iter_mut() {
                    *v /= sum;
                }
            }
        },
    )
}

/// `K` distinct rows drawn uniformly, or with probability proportional to
/// their weight when rows are weighted (rows of weight zero are never drawn;
/// validation guarantees at least `K` positive weights).
pub(crate) fn random_rows(n: usize, k: usize, weights: Option<&[f64]>, seed: u64) -> Vec<usize> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let Some(w) = weights else {
        return rand::seq::index::sample(&mut rng, n, k).into_vec();
    };
    let sums = weight_block_sums(w);
    let total: f64 = sums.iter().sum();
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    let mut attempts = 0;
    while chosen.len() < k {
        attempts += 1;
        let row = if attempts <= 64 * k {
            draw_weighted(w, &sums, rng.random::<f64>() * total)
        } else {
            // Weights so skewed that draws keep repeating: take the next
            // unchosen positive-weight rows in order.
            (0..n)
                .find(|i| w[*i] > 0.0 && !chosen.contains(i))
                .expect("validation guarantees K positive weights")
        };
        if !chosen.contains(&row) {
            chosen.push(row);
        }
    }
    chosen
}

/// Per-block sums of row weights (rows in order).
fn weight_block_sums(w: &[f64]) -> Vec<f64> {
    w.par_chunks(BLOCK_ROWS).map(|c| c.iter().sum()).collect()
}

/// Weights are whole on every process: the search needs no exchange.
fn draw_weighted(w: &[f64], sums: &[f64], target: f64) -> usize {
    search_cumulative(Scope::whole(w.len()), sums, target, |b| {
        w[b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(w.len())].to_vec()
    })
}

/// Rows up to which k-means++ keeps each row's distance to its closest
/// centre (8 bytes a row: 256 MB at most); beyond, the distances are
/// recomputed from the centres when needed, so memory stays bounded.
const CLOSEST_BUFFER_ROWS: usize = 32 << 20;

/// k-means++ seeding (the greedy variant of scikit-learn: `2 + ln K` candidates
/// per step, keeping the one that lowers the potential most). Returns row indices.
///
/// Keeps each row's (weighted) squared distance to its closest chosen centre,
/// updated as each centre is kept, so a step costs one pass of `2 + ln K`
/// distances per row: `O(N K D log K)` in all, in parallel over the fixed
/// blocks. Past [`CLOSEST_BUFFER_ROWS`] rows the buffer would break the
/// memory bound, and the distances are recomputed from the chosen centres
/// instead (`O(N K^2 D)`, no per-row memory). Both give the same bits:
/// `w min(a, b) = min(w a, w b)` exactly. Per-block sums are summed in row
/// order, so the draws do not depend on the number of threads.
///
/// With sample weights, every row's distance counts `weight` times (the first
/// centre is drawn with probability proportional to the weights), as in
/// scikit-learn's weighted k-means++.
pub(crate) fn kmeans_plus_plus<D: Rows>(
    data: &D,
    k: usize,
    weights: Option<&[f64]>,
    seed: u64,
    progress: &mut dyn FnMut(InitPhase, usize, usize) -> ControlFlow<()>,
) -> Option<Vec<usize>> {
    kmeans_plus_plus_buffered(data, k, weights, seed, progress, CLOSEST_BUFFER_ROWS)
}

/// [`kmeans_plus_plus`] keeping per-row distances up to `buffer_rows` rows.
fn kmeans_plus_plus_buffered<D: Rows>(
    data: &D,
    k: usize,
    weights: Option<&[f64]>,
    seed: u64,
    progress: &mut dyn FnMut(InitPhase, usize, usize) -> ControlFlow<()>,
    buffer_rows: usize,
) -> Option<Vec<usize>> {
    let n = data.n_samples();
    let d = data.n_features();
    let scope = data.scope();
    // The rows held here (all of them unless the fit is spread).
    let (ls, le) = scope.local();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let trials = 2 + (k as f64).ln() as usize;
    let mut chosen = Vec::with_capacity(k);
    let wt = |i: usize| weights.map_or(1.0, |w| w[i]);
    let first = match weights {
        None => rng.random_range(0..n),
        Some(w) => {
            let sums = weight_block_sums(w);
            let total: f64 = sums.iter().sum();
            draw_weighted(w, &sums, rng.random::<f64>() * total)
        }
    };
    chosen.push(first);
    // Centres chosen so far (`c x D`).
    let mut centres = vec![0.0; d];
    row_f64(data, first, &mut centres);
    // Weighted distance of row i to its closest chosen centre, from the centres.
    // (`x` is scratch for the row.)
    let recompute = |i: usize, centres: &[f64], x: &mut [f64]| -> f64 {
        data.copy_row(i, x);
        let x = &*x;
        wt(i)
            * centres
                .chunks_exact(d)
                .map(|c| sq_dist(x, c))
                .fold(f64::INFINITY, f64::min)
    };
    // The same distances, kept per row while they fit the memory bound.
    let mut buffer: Option<Vec<f64>> = (le - ls <= buffer_rows).then(|| {
        let mut b = vec![0.0; le - ls];
        b.par_chunks_mut(CHUNK_ROWS)
            .enumerate()
            .for_each(|(j, out)| {
                let lo = ls + j * CHUNK_ROWS;
                let mut pass = Closest::new(data, weights, &centres, out);
                for_each_chunk(pulp::Arch::new(), lo, lo + pass.out.len(), &mut pass);
            });
        b
    });
    let block_of = |b: usize| b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n);
    // Per block (of every process): sum of the closest distances, rows in order.
    let mut block_sums: Vec<f64> = Vec::with_capacity(n.div_ceil(BLOCK_ROWS));
    fold_blocks(
        data,
        |_, start, end| {
            vec![match &buffer {
                Some(c) => c[start - ls..end - ls].iter().sum(),
                None => {
                    let mut x = vec![0.0; d];
                    (start..end).map(|i| recompute(i, &centres, &mut x)).sum()
                }
            }]
        },
        |v| block_sums.push(v[0]),
    );
    let mut candidates = vec![0.0; trials * d];
    while chosen.len() < k {
        let potential: f64 = block_sums.iter().sum();
        let closest = |i: usize| match &buffer {
            Some(c) => c[i - ls],
            None => recompute(i, &centres, &mut vec![0.0; d]),
        };
        let ids: Vec<usize> = (0..trials)
            .map(|_| {
                if potential > 0.0 {
                    let target = rng.random::<f64>() * potential;
                    search_cumulative(scope, &block_sums, target, |b| {
                        block_of(b).map(closest).collect()
                    })
                } else {
                    rng.random_range(0..n)
                }
            })
            .collect();
        for (t, &id) in ids.iter().enumerate() {
            row_f64(data, id, &mut candidates[t * d..(t + 1) * d]);
        }
        // Potential of each candidate, per block: sum_n min(closest_n, |x_n - cand|^2).
        let mut pots = vec![0.0; trials];
        let mut per_block: Vec<Vec<f64>> = Vec::with_capacity(block_sums.len());
        fold_blocks(
            data,
            |_, start, end| {
                let mut pass = Potentials {
                    data,
                    weights,
                    closest: buffer.as_deref().map(|c| (c, ls)),
                    centres: &centres,
                    candidates: &candidates,
                    sums: vec![0.0; trials],
                    cols: Columns::new(d),
                    dist: vec![0.0; trials * CHUNK_ROWS],
                    near: [0.0; CHUNK_ROWS],
                };
                for_each_chunk(pulp::Arch::new(), start, end, &mut pass);
                pass.sums
            },
            |p| {
                for (a, b) in pots.iter_mut().zip(p) {
                    *a += b;
                }
                per_block.push(p.to_vec());
            },
        );
        let mut best = 0;
        for t in 1..trials {
            if pots[t] < pots[best] {
                best = t;
            }
        }
        let kept = &candidates[best * d..(best + 1) * d];
        if let Some(c) = &mut buffer {
            c.par_chunks_mut(CHUNK_ROWS)
                .enumerate()
                .for_each(|(j, part)| {
                    let lo = ls + j * CHUNK_ROWS;
                    let mut pass = Closest::new(data, weights, kept, part);
                    pass.keep = true;
                    for_each_chunk(pulp::Arch::new(), lo, lo + pass.out.len(), &mut pass);
                });
        }
        centres.extend_from_slice(kept);
        // The new closest distances are the kept candidate's terms above.
        block_sums = per_block.iter().map(|p| p[best]).collect();
        chosen.push(ids[best]);
        if progress(InitPhase::KMeansPlusPlus, chosen.len(), k).is_break() {
            return None;
        }
    }
    Some(chosen)
}

/// The first row whose cumulative weight exceeds `target` (blocks summed in
/// order, then rows within the block); the last positive-weight row if rounding
/// puts `target` past the end. `block_weights(b)` recomputes the weights of
/// block `b`, whose sum (in row order) is `block_sums[b]`; in a spread fit
/// the process holding block `b` does, and sends the row found.
fn search_cumulative(
    scope: Scope<'_>,
    block_sums: &[f64],
    target: f64,
    block_weights: impl Fn(usize) -> Vec<f64>,
) -> usize {
    let mut acc = 0.0;
    let mut last_positive_block = None;
    for (b, &bs) in block_sums.iter().enumerate() {
        if bs > 0.0 {
            if acc + bs > target {
                let found = scope.on_holder(b * BLOCK_ROWS, || {
                    let mut inner = acc;
                    for (i, w) in block_weights(b).iter().enumerate() {
                        inner += w;
                        if inner > target && *w > 0.0 {
                            return b * BLOCK_ROWS + i;
                        }
                    }
                    usize::MAX
                });
                if found != usize::MAX {
                    return found;
                }
            }
            last_positive_block = Some(b);
        }
        acc += bs;
    }
    match last_positive_block {
        Some(b) => scope.on_holder(b * BLOCK_ROWS, || {
            let w = block_weights(b);
            b * BLOCK_ROWS + w.iter().rposition(|w| *w > 0.0).unwrap_or(0)
        }),
        None => 0,
    }
}

/// Lloyd's algorithm from `centres` until the squared centre shift is below
/// `tol` (`KMEANS_TOL` times the mean column variance), or `max_iter` iterations.
/// An empty cluster keeps its centre. Iterations are reported to `progress`
/// numbered from `done + 1` (of `KMEANS_MAX_ITER`, so that a sample's and
/// then the data's iterations make one sequence); returns the centres and
/// the iterations run.
pub(crate) fn lloyd<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    mut centres: Vec<f64>,
    k: usize,
    tol: f64,
    (done, max_iter): (usize, usize),
    progress: &mut dyn FnMut(InitPhase, usize, usize) -> ControlFlow<()>,
) -> Option<(Vec<f64>, usize)> {
    let d = data.n_features();
    let mut ran = 0;
    for iteration in 1..=max_iter {
        ran = iteration;
        // Per block: the sums of each cluster's rows, then their weights.
        let mut acc = vec![0.0; k * d + k];
        fold_blocks_into(
            data,
            &mut acc,
            |_, start, end| {
                let mut pass = LloydBlock {
                    data,
                    weights,
                    centres: &centres,
                    sums: vec![0.0; k * d + k],
                    cols: Columns::new(d),
                    best: [0; CHUNK_ROWS],
                    best_d: [0.0; CHUNK_ROWS],
                    dist: [0.0; CHUNK_ROWS],
                };
                for_each_chunk(pulp::Arch::new(), start, end, &mut pass);
                pass.sums
            },
            |acc, sc| acc.iter_mut().zip(sc).for_each(|(a, b)| *a += b),
        );
        let (sums, counts) = acc.split_at(k * d);
        let mut shift = 0.0;
        for c in 0..k {
            if counts[c] > 0.0 {
                for j in 0..d {
                    let new = sums[c * d + j] / counts[c];
                    let t = new - centres[c * d + j];
                    shift += t * t;
                    centres[c * d + j] = new;
                }
            }
        }
        if progress(InitPhase::Lloyd, done + iteration, KMEANS_MAX_ITER).is_break() {
            return None;
        }
        if shift <= tol {
            break;
        }
    }
    Some((centres, ran))
}

/// Calls `f(&mut acc[a], x, a)` for every value `x` of column `a` of rows
/// `lo..hi`, rows in order within each column.
fn for_each_value<D: Rows>(
    data: &D,
    lo: usize,
    hi: usize,
    acc: &mut [f64],
    f: impl Fn(&mut f64, f64, usize),
) {
    data.for_each_piece(lo, hi, &mut |p| match p {
        Piece::Rows(v) => {
            for i in 0..v.n_samples() {
                for (a, (s, x)) in acc.iter_mut().zip(v.row(i)).enumerate() {
                    f(s, x.to_f64(), a);
                }
            }
        }
        Piece::Columns(v) => {
            for (a, s) in acc.iter_mut().enumerate() {
                for x in v.column(a) {
                    f(s, x.to_f64(), a);
                }
            }
        }
    });
}

fn mean_column_variance<D: Rows>(data: &D) -> f64 {
    let (n, d) = (data.n_samples(), data.n_features());
    let mut sum = vec![0.0; d];
    fold_blocks_into(
        data,
        &mut sum,
        |_, start, end| {
            let mut s = vec![0.0; d];
            for_each_value(data, start, end, &mut s, |acc, x, _| *acc += x);
            s
        },
        |sum, s| sum.iter_mut().zip(s).for_each(|(a, b)| *a += b),
    );
    let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
    let mut sq = vec![0.0; d];
    fold_blocks_into(
        data,
        &mut sq,
        |_, start, end| {
            let mut s = vec![0.0; d];
            for_each_value(data, start, end, &mut s, |acc, x, a| {
                let t = x - mean[a];
                *acc += t * t
            });
            s
        },
        |sq, s| sq.iter_mut().zip(s).for_each(|(a, b)| *a += b),
    );
    sq.iter().sum::<f64>() / (n as f64 * d as f64)
}

/// Lloyd iterations on all rows that a sample's iterations leave at least.
const FULL_LLOYD_MIN_ITER: usize = 20;

/// k-means++ seeding then Lloyd on `data` (all rows, or a sample of them):
/// the centres, and Lloyd's iterations.
fn seed_and_iterate<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    k: usize,
    seed: u64,
    (tol, max_iter): (f64, usize),
    progress: &mut dyn FnMut(InitPhase, usize, usize) -> ControlFlow<()>,
) -> Option<(Vec<f64>, usize)> {
    let d = data.n_features();
    let seeds = kmeans_plus_plus(data, k, weights, seed, progress)?;
    let mut centres = vec![0.0; k * d];
    for (c, &r) in seeds.iter().enumerate() {
        row_f64(data, r, &mut centres[c * d..(c + 1) * d]);
    }
    lloyd(data, weights, centres, k, tol, (0, max_iter), progress)
}

/// k-means initialisation: k-means++ seeding, Lloyd, then the M-step from the
/// hard assignment of every row to its nearest centre.
///
/// On large data (see [`crate::sample`]) the seeding and Lloyd run first on a
/// sample of whole blocks spread through the data, and Lloyd then continues
/// on every row from the sample's centres until it converges by the same
/// rule: a few passes over the data instead of one per Lloyd iteration.
pub(crate) fn kmeans<D: Rows>(
    data: &D,
    weights: Option<&[f64]>,
    k: usize,
    covariance_type: CovarianceType,
    reg_covar: f64,
    seed: u64,
    progress: &mut dyn FnMut(InitPhase, usize, usize) -> ControlFlow<()>,
) -> Result<Option<GaussianMixture>> {
    let d = data.n_features();
    let centres = match block_sample(data, weights, k) {
        None => {
            let tol = KMEANS_TOL * mean_column_variance(data);
            seed_and_iterate(data, weights, k, seed, (tol, KMEANS_MAX_ITER), progress)
        }
        Some(sample) => {
            let view = DataView::new(&sample.rows, sample.n, d)?;
            let w = sample.weights.as_deref();
            // The tolerance from the sample's variance serves both stages
            // (it estimates the data's; two passes over the data saved).
            let tol = KMEANS_TOL * mean_column_variance(&view);
            let first = KMEANS_MAX_ITER - FULL_LLOYD_MIN_ITER;
            seed_and_iterate(&view, w, k, seed, (tol, first), progress).and_then(|(c, ran)| {
                lloyd(
                    data,
                    weights,
                    c,
                    k,
                    tol,
                    (ran, KMEANS_MAX_ITER - ran),
                    progress,
                )
            })
        }
    };
    let Some((centres, _)) = centres else {
        return Ok(None);
    };
    // One pass: the statistics of the assignment to the final centres,
    // centred on those centres (the means of the assignment are within one
    // Lloyd step of them), and the M-step from them.
    let fill = Nearest { centres: &centres };
    let stats = statistics_about(data, weights, covariance_type, &centres, &fill);
    m_step_at_init(covariance_type, &centres, &stats, reg_covar).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_search_finds_the_right_row() {
        let mut w = vec![0.0; BLOCK_ROWS + 10];
        w[3] = 1.0;
        w[BLOCK_ROWS + 5] = 2.0;
        let bs: Vec<f64> = w.chunks(BLOCK_ROWS).map(|c| c.iter().sum()).collect();
        let blocks = |b: usize| w.chunks(BLOCK_ROWS).nth(b).unwrap().to_vec();
        let all = Scope::whole(w.len());
        assert_eq!(search_cumulative(all, &bs, 0.5, blocks), 3);
        assert_eq!(search_cumulative(all, &bs, 1.5, blocks), BLOCK_ROWS + 5);
        assert_eq!(search_cumulative(all, &bs, 3.0, blocks), BLOCK_ROWS + 5);
    }

    /// The kept per-row distances and their recomputation give the same
    /// seeds, with and without weights, on any number of threads.
    #[test]
    fn buffered_and_recomputed_kmeans_plus_plus_agree_bit_for_bit() {
        use crate::data::{DataView, Shards};
        use crate::synthetic::Preset;
        let n = 3 * BLOCK_ROWS + 777;
        let d = Preset::Small.shape().1;
        let x = Preset::Small.generate(Some(n), 3);
        let (a, b) = x.split_at(1000 * d);
        let shards = Shards::new(vec![
            DataView::new(a, 1000, d).unwrap(),
            DataView::new(b, n - 1000, d).unwrap(),
        ])
        .unwrap();
        let w: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64 * 0.5).collect();
        let go = |_: InitPhase, _: usize, _: usize| ControlFlow::Continue(());
        for weights in [None, Some(w.as_slice())] {
            let run = |threads: usize, limit: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        kmeans_plus_plus_buffered(&shards, 24, weights, 11, &mut { go }, limit)
                    })
                    .unwrap()
            };
            let kept = run(2, usize::MAX);
            assert_eq!(kept.len(), 24);
            assert_eq!(kept, run(2, 0), "recomputed distances differ");
            assert_eq!(kept, run(1, usize::MAX), "one thread differs");
            assert_eq!(kept, run(3, 0), "three threads differ");
            if let Some(w) = weights {
                assert!(kept.iter().all(|&r| w[r] > 0.0));
            }
        }
    }

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(0, 0), derive_seed(0, 1));
        assert_ne!(derive_seed(0, 0), derive_seed(1, 0));
    }
}
