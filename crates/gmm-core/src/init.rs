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

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::covariance::CovarianceType;
use crate::data::{Rows, Scalar};
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::BLOCK_ROWS;
use crate::model::{GaussianMixture, m_step_from};
use crate::stats::{SufficientStats, from_responsibilities, ordered_blocks};

/// Lloyd iterations at most, and relative tolerance on the centre shift
/// (scikit-learn's `KMeans` defaults).
const KMEANS_MAX_ITER: usize = 300;
const KMEANS_TOL: f64 = 1e-4;

/// A well-mixed 64-bit seed for stream `stream` of `seed` (SplitMix64 finaliser).
pub(crate) fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn row_f64<D: Rows>(data: &D, i: usize, out: &mut [f64]) {
    for (o, v) in out.iter_mut().zip(data.row(i)) {
        *o = v.to_f64();
    }
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
    let mut stats = SufficientStats::zeros(k, d);
    stats.nk.fill(1.0);
    stats.n_samples = k as f64;
    singular_at_init(
        m_step_from(covariance_type, &centres, &stats, reg_covar),
        reg_covar,
    )
}

fn singular_at_init(
    r: std::result::Result<GaussianMixture, usize>,
    reg_covar: f64,
) -> Result<GaussianMixture> {
    r.map_err(|component| {
        Error::new(ErrorKind::SingularCovariance {
            component,
            iteration: 0,
            reg_covar,
        })
    })
}

/// The M-step from responsibilities produced by `fill` (see
/// [`from_responsibilities`]).
fn from_assignment<D: Rows>(
    data: &D,
    k: usize,
    covariance_type: CovarianceType,
    reg_covar: f64,
    fill: impl Fn(usize, usize, &mut [f64]) + Sync,
) -> Result<GaussianMixture> {
    let (stats, centres) = from_responsibilities(data, k, fill);
    singular_at_init(
        m_step_from(covariance_type, &centres, &stats, reg_covar),
        reg_covar,
    )
}

/// Random responsibilities: each row gets `K` uniform numbers, normalised.
pub(crate) fn random_responsibilities<D: Rows>(
    data: &D,
    k: usize,
    covariance_type: CovarianceType,
    reg_covar: f64,
    seed: u64,
) -> Result<GaussianMixture> {
    from_assignment(data, k, covariance_type, reg_covar, |row0, m, resp| {
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
    })
}

/// `K` distinct rows drawn uniformly.
pub(crate) fn random_rows(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    rand::seq::index::sample(&mut rng, n, k).into_vec()
}

/// k-means++ seeding (the greedy variant of scikit-learn: `2 + ln K` candidates
/// per step, keeping the one that lowers the potential most). Returns row indices.
pub(crate) fn kmeans_plus_plus<D: Rows>(data: &D, k: usize, seed: u64) -> Vec<usize> {
    let n = data.n_samples();
    let d = data.n_features();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let trials = 2 + (k as f64).ln() as usize;
    let mut chosen = Vec::with_capacity(k);
    let first = rng.random_range(0..n);
    chosen.push(first);
    let mut centre = vec![0.0; d];
    row_f64(data, first, &mut centre);
    let mut closest = vec![0.0f64; n];
    closest
        .par_chunks_mut(BLOCK_ROWS)
        .enumerate()
        .for_each(|(b, out)| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = sq_dist(data.row(b * BLOCK_ROWS + i), &centre);
            }
        });
    let mut block_sums = block_sums(&closest);
    let mut candidates = vec![0.0; trials * d];
    while chosen.len() < k {
        let potential: f64 = block_sums.iter().sum();
        let ids: Vec<usize> = (0..trials)
            .map(|_| {
                if potential > 0.0 {
                    search_cumulative(&closest, &block_sums, rng.random::<f64>() * potential)
                } else {
                    rng.random_range(0..n)
                }
            })
            .collect();
        for (t, &id) in ids.iter().enumerate() {
            row_f64(data, id, &mut candidates[t * d..(t + 1) * d]);
        }
        // Potential of each candidate: sum_n min(closest_n, |x_n - cand|^2), per block in order.
        let mut pots = vec![0.0; trials];
        ordered_blocks(
            n,
            |_, start, end| {
                let mut p = vec![0.0; trials];
                for i in start..end {
                    let x = data.row(i);
                    for (t, pt) in p.iter_mut().enumerate() {
                        *pt += sq_dist(x, &candidates[t * d..(t + 1) * d]).min(closest[i]);
                    }
                }
                p
            },
            |p| {
                for (a, b) in pots.iter_mut().zip(p) {
                    *a += b;
                }
            },
        );
        let mut best = 0;
        for t in 1..trials {
            if pots[t] < pots[best] {
                best = t;
            }
        }
        let cand = &candidates[best * d..(best + 1) * d];
        closest
            .par_chunks_mut(BLOCK_ROWS)
            .enumerate()
            .for_each(|(b, out)| {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = o.min(sq_dist(data.row(b * BLOCK_ROWS + i), cand));
                }
            });
        block_sums = self::block_sums(&closest);
        chosen.push(ids[best]);
    }
    chosen
}

fn block_sums(v: &[f64]) -> Vec<f64> {
    v.par_chunks(BLOCK_ROWS).map(|c| c.iter().sum()).collect()
}

/// The first index whose cumulative weight exceeds `target` (blocks summed in
/// order, then rows within the block); the last positive-weight row if rounding
/// puts `target` past the end.
fn search_cumulative(weights: &[f64], block_sums: &[f64], target: f64) -> usize {
    let mut acc = 0.0;
    let mut last_positive = 0;
    for (b, &bs) in block_sums.iter().enumerate() {
        if bs > 0.0 {
            let block = &weights[b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(weights.len())];
            if acc + bs > target {
                let mut inner = acc;
                for (i, w) in block.iter().enumerate() {
                    inner += w;
                    if inner > target && *w > 0.0 {
                        return b * BLOCK_ROWS + i;
                    }
                }
            }
            if let Some(i) = block.iter().rposition(|w| *w > 0.0) {
                last_positive = b * BLOCK_ROWS + i;
            }
        }
        acc += bs;
    }
    last_positive
}

fn nearest(x: &[impl Scalar], centres: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centres.chunks_exact(d).enumerate() {
        let dist = sq_dist(x, centre);
        if dist < best.1 {
            best = (c, dist);
        }
    }
    best
}

/// Lloyd's algorithm from `centres` until the squared centre shift is below
/// `KMEANS_TOL` times the mean column variance, or `KMEANS_MAX_ITER`.
/// An empty cluster keeps its centre.
pub(crate) fn lloyd<D: Rows>(data: &D, mut centres: Vec<f64>, k: usize) -> Vec<f64> {
    let n = data.n_samples();
    let d = data.n_features();
    let tol = KMEANS_TOL * mean_column_variance(data);
    for _ in 0..KMEANS_MAX_ITER {
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0.0; k];
        ordered_blocks(
            n,
            |_, start, end| {
                let mut s = vec![0.0; k * d];
                let mut c = vec![0.0; k];
                for i in start..end {
                    let x = data.row(i);
                    let (best, _) = nearest(x, &centres, d);
                    c[best] += 1.0;
                    for (a, v) in s[best * d..(best + 1) * d].iter_mut().zip(x) {
                        *a += v.to_f64();
                    }
                }
                (s, c)
            },
            |(s, c)| {
                for (a, b) in sums.iter_mut().zip(s) {
                    *a += b;
                }
                for (a, b) in counts.iter_mut().zip(c) {
                    *a += b;
                }
            },
        );
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
        if shift <= tol {
            break;
        }
    }
    centres
}

fn mean_column_variance<D: Rows>(data: &D) -> f64 {
    let (n, d) = (data.n_samples(), data.n_features());
    let mut sum = vec![0.0; d];
    ordered_blocks(
        n,
        |_, start, end| {
            let mut s = vec![0.0; d];
            for i in start..end {
                for (a, v) in s.iter_mut().zip(data.row(i)) {
                    *a += v.to_f64();
                }
            }
            s
        },
        |s| sum.iter_mut().zip(s).for_each(|(a, b)| *a += b),
    );
    let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
    let mut sq = vec![0.0; d];
    ordered_blocks(
        n,
        |_, start, end| {
            let mut s = vec![0.0; d];
            for i in start..end {
                for ((a, v), m) in s.iter_mut().zip(data.row(i)).zip(&mean) {
                    let t = v.to_f64() - m;
                    *a += t * t;
                }
            }
            s
        },
        |s| sq.iter_mut().zip(s).for_each(|(a, b)| *a += b),
    );
    sq.iter().sum::<f64>() / (n as f64 * d as f64)
}

/// k-means initialisation: k-means++ seeding, Lloyd, then the M-step from the
/// hard assignment of every row to its nearest centre.
pub(crate) fn kmeans<D: Rows>(
    data: &D,
    k: usize,
    covariance_type: CovarianceType,
    reg_covar: f64,
    seed: u64,
) -> Result<GaussianMixture> {
    let d = data.n_features();
    let seeds = kmeans_plus_plus(data, k, seed);
    let mut centres = vec![0.0; k * d];
    for (c, &r) in seeds.iter().enumerate() {
        row_f64(data, r, &mut centres[c * d..(c + 1) * d]);
    }
    let centres = lloyd(data, centres, k);
    from_assignment(data, k, covariance_type, reg_covar, |row0, m, resp| {
        resp.fill(0.0);
        for i in 0..m {
            let (best, _) = nearest(data.row(row0 + i), &centres, d);
            resp[i * k + best] = 1.0;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_search_finds_the_right_row() {
        let mut w = vec![0.0; BLOCK_ROWS + 10];
        w[3] = 1.0;
        w[BLOCK_ROWS + 5] = 2.0;
        let bs = block_sums(&w);
        assert_eq!(search_cumulative(&w, &bs, 0.5), 3);
        assert_eq!(search_cumulative(&w, &bs, 1.5), BLOCK_ROWS + 5);
        assert_eq!(search_cumulative(&w, &bs, 3.0), BLOCK_ROWS + 5);
    }

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(0, 0), derive_seed(0, 1));
        assert_ne!(derive_seed(0, 0), derive_seed(1, 0));
    }
}
