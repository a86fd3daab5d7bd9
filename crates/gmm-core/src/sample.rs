//! The rows the k-means initialisation seeds and first iterates on when the
//! data are large: whole blocks at a fixed stride through the data, copied
//! once (as `f64`) into a working set of bounded size.
//!
//! k-means++ and Lloyd converge on this sample, then Lloyd continues on all
//! rows from its centres; the full-data iterations start next to the optimum
//! and are few, so the initialisation costs a handful of passes over the data
//! instead of dozens. The sample depends only on the number of rows (block
//! indices), never on threads or processes: in a spread fit each process
//! copies the chosen blocks it holds and every process gathers the same rows.

use crate::blocks::{BLOCK_ROWS, block_range, n_blocks};
use crate::data::Rows;

/// Blocks in a sample (262,144 rows), at most.
pub(crate) const SAMPLE_BLOCKS: usize = 32;

/// Bytes of a sample's rows, at most (fewer blocks for wide data).
const SAMPLE_BYTES: usize = 256 << 20;

/// A sample must hold this many rows per component, or the data are
/// seeded and iterated on whole.
const ROWS_PER_COMPONENT: usize = 64;

/// Rows (row-major `f64`) and their weights, copied from `data`.
pub(crate) struct Sample {
    pub(crate) rows: Vec<f64>,
    pub(crate) weights: Option<Vec<f64>>,
    pub(crate) n: usize,
}

/// The blocks a sample of `n` rows of `d` features for `k` components takes,
/// or `None` when the data should be used whole: fewer than twice the
/// sample's blocks (the sample would save less than half a pass), or too few
/// rows per component in it.
pub(crate) fn sample_blocks(n: usize, d: usize, k: usize) -> Option<Vec<usize>> {
    let total = n_blocks(n);
    let take = SAMPLE_BLOCKS.min(SAMPLE_BYTES / (8 * d.max(1) * BLOCK_ROWS));
    if take == 0 || total < 2 * take || take * BLOCK_ROWS < ROWS_PER_COMPONENT * k {
        return None;
    }
    let stride = total / take;
    Some((0..take).map(|j| j * stride + stride / 2).collect())
}

/// The sample of `data` for a `k`-component initialisation (see
/// [`sample_blocks`]); `None` also when its weights leave fewer than
/// `ROWS_PER_COMPONENT * k` rows of positive weight.
pub(crate) fn block_sample<D: Rows>(data: &D, weights: Option<&[f64]>, k: usize) -> Option<Sample> {
    let (n, d) = (data.n_samples(), data.n_features());
    let chosen = sample_blocks(n, d, k)?;
    let rows_of = |b: usize| {
        let (s, e) = block_range(b, n);
        s..e
    };
    let weights: Option<Vec<f64>> = weights.map(|w| {
        chosen
            .iter()
            .flat_map(|&b| w[rows_of(b)].iter().copied())
            .collect()
    });
    if let Some(w) = &weights
        && w.iter().filter(|&&w| w > 0.0).count() < ROWS_PER_COMPONENT * k
    {
        return None;
    }
    let scope = data.scope();
    let (first, last) = scope.local_blocks();
    let mut local = Vec::new();
    let mut row = vec![0.0; d];
    for &b in chosen.iter().filter(|&&b| (first..last).contains(&b)) {
        for i in rows_of(b) {
            data.copy_row(i, &mut row);
            local.extend_from_slice(&row);
        }
    }
    let rows = scope.gather(local);
    let m = chosen.iter().map(|&b| rows_of(b).len()).sum();
    debug_assert_eq!(rows.len(), m * d);
    Some(Sample {
        rows,
        weights,
        n: m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_whole_blocks_spread_over_the_data() {
        // Small data, or too many components: the data whole.
        assert_eq!(sample_blocks(500_000, 4, 8), None);
        assert_eq!(sample_blocks(10_000_000, 4, 5000), None);
        let b = sample_blocks(10_000_000, 4, 8).unwrap();
        assert_eq!(b.len(), SAMPLE_BLOCKS);
        assert!(b.windows(2).all(|w| w[1] > w[0]));
        assert!(*b.last().unwrap() < n_blocks(10_000_000));
        assert!(b[0] > 0 && *b.last().unwrap() > n_blocks(10_000_000) * 9 / 10);
        // Wide rows: fewer blocks, within the byte bound.
        let w = sample_blocks(10_000_000, 1000, 8).unwrap();
        assert!(w.len() * BLOCK_ROWS * 1000 * 8 <= SAMPLE_BYTES);
    }
}
