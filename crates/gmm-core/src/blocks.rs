//! The fixed partition of the rows: chunks inside blocks, blocks in groups.
//!
//! ```text
//! chunk b.j = rows [b * BLOCK_ROWS + j * CHUNK_ROWS, ...)   (the kernels' unit)
//! block b   = rows [b * BLOCK_ROWS, (b + 1) * BLOCK_ROWS)  (the unit of parallel work)
//! ```
//!
//! Every pass over the data maps the blocks in parallel and folds their
//! results in block order ([`ordered_blocks`]), each block folding its chunks
//! in order: the sequence of additions, and so every bit of the result, is
//! the same whatever the number of threads. Both sizes are constants, never
//! derived from the thread count.

use rayon::prelude::*;

use crate::data::Rows;

/// Rows per chunk: the unit of the per-chunk kernels. A constant, never derived
/// from the thread count.
pub const CHUNK_ROWS: usize = 256;

/// Rows per block: the unit of parallel work. Each block reduces its chunks
/// sequentially; block results are merged in index order.
pub const BLOCK_ROWS: usize = 8192;

/// Blocks processed in parallel before their results are merged. Bounds the
/// memory held by unmerged block results; does not affect the results.
pub(crate) const GROUP_BLOCKS: usize = 64;

/// Blocks the E-step folds into one partial before it folds the partials in
/// order: the unit a spread fit exchanges (see `distributed.rs`). A constant.
pub(crate) const MERGE_GROUP_BLOCKS: usize = 16;

/// Number of blocks of `n` rows.
pub(crate) fn n_blocks(n: usize) -> usize {
    n.div_ceil(BLOCK_ROWS)
}

/// Rows `start..end` of block `b` of `n` rows.
pub(crate) fn block_range(b: usize, n: usize) -> (usize, usize) {
    (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n))
}

/// Maps every fixed block of `BLOCK_ROWS` rows of `n` in parallel
/// (`map(block, start, end)`) and folds the results in block order. The fold
/// sees the same sequence of values whatever the number of threads.
pub(crate) fn ordered_blocks<A: Send>(
    n: usize,
    map: impl Fn(usize, usize, usize) -> A + Sync,
    mut fold: impl FnMut(A),
) {
    let r: Result<(), std::convert::Infallible> = try_ordered_blocks(n, GROUP_BLOCKS, map, |a| {
        fold(a);
        Ok(())
    });
    let Ok(()) = r;
}

/// [`ordered_blocks`] with `group` blocks mapped in parallel between folds
/// (a bound on the unmerged results held at once; it changes no result), and
/// a fold that may stop the pass with an error.
pub(crate) fn try_ordered_blocks<A: Send, E>(
    n: usize,
    group: usize,
    map: impl Fn(usize, usize, usize) -> A + Sync,
    fold: impl FnMut(A) -> Result<(), E>,
) -> Result<(), E> {
    try_ordered_block_range(0, n_blocks(n), n, group, map, fold)
}

/// [`try_ordered_blocks`] over the blocks `first..last` of `n` rows.
pub(crate) fn try_ordered_block_range<A: Send, E>(
    first: usize,
    last: usize,
    n: usize,
    group: usize,
    map: impl Fn(usize, usize, usize) -> A + Sync,
    mut fold: impl FnMut(A) -> Result<(), E>,
) -> Result<(), E> {
    let mut first = first;
    while first < last {
        let end = (first + group.max(1)).min(last);
        let parts: Vec<A> = (first..end)
            .into_par_iter()
            .map(|b| {
                let (start, end) = block_range(b, n);
                map(b, start, end)
            })
            .collect();
        parts.into_iter().try_for_each(&mut fold)?;
        first = end;
    }
    Ok(())
}

/// Maps every block of `data` held in this process (`map(block, start,
/// end)`, in parallel) and hands the values of every block, of every
/// process, to `fold` in block order: [`ordered_blocks`] when the rows are
/// all here; for a spread fit the blocks' values are exchanged first, so
/// every process folds the same sequence.
pub(crate) fn fold_blocks<D: Rows + ?Sized>(
    data: &D,
    map: impl Fn(usize, usize, usize) -> Vec<f64> + Sync,
    mut fold: impl FnMut(&[f64]),
) {
    let scope = data.scope();
    let n = data.n_samples();
    if !scope.is_spread() {
        ordered_blocks(n, map, |v| fold(&v));
        return;
    }
    let mut local = Vec::new();
    for v in local_blocks(data, map) {
        local.push(v.len() as f64);
        local.extend_from_slice(&v);
    }
    let all = scope.gather(local);
    let mut rest = &all[..];
    while let Some((&len, tail)) = rest.split_first() {
        let (values, tail) = tail.split_at(len as usize);
        fold(values);
        rest = tail;
    }
}

/// Maps every block of `data` held in this process (`map(block, start,
/// end)`, in parallel) and folds the values of every block, of every
/// process, onto `acc` in block order (`fold(acc, values)`): along the chain
/// of processes when the fit is spread (see `distributed.rs`), so that each
/// process sends and receives `acc` once.
pub(crate) fn fold_blocks_into<D: Rows + ?Sized>(
    data: &D,
    acc: &mut [f64],
    map: impl Fn(usize, usize, usize) -> Vec<f64> + Sync,
    fold: impl Fn(&mut [f64], &[f64]),
) {
    let scope = data.scope();
    let n = data.n_samples();
    if !scope.is_spread() {
        ordered_blocks(n, map, |v| fold(acc, &v));
        return;
    }
    let local = local_blocks(data, map);
    scope.chain(acc, |acc| local.iter().for_each(|v| fold(acc, v)));
}

/// The values of the blocks of `data` held in this process, in block order
/// (mapped in parallel, [`GROUP_BLOCKS`] at a time).
fn local_blocks<D: Rows + ?Sized>(
    data: &D,
    map: impl Fn(usize, usize, usize) -> Vec<f64> + Sync,
) -> Vec<Vec<f64>> {
    let (first, last) = data.scope().local_blocks();
    let mut local = Vec::with_capacity(last - first);
    let r: Result<(), std::convert::Infallible> =
        try_ordered_block_range(first, last, data.n_samples(), GROUP_BLOCKS, map, |v| {
            local.push(v);
            Ok(())
        });
    let Ok(()) = r;
    local
}

/// Blocks mapped at once by the passes that hand per-row results to a sink
/// (predictions, responsibilities): 16 blocks of 8192 rows, whatever `N`.
pub(crate) const STREAM_GROUP_BLOCKS: usize = 16;

/// A well-mixed 64-bit seed for stream `stream` of `seed` (SplitMix64
/// finaliser): every random draw of the engine comes from a seed derived from
/// the user's seed and a fixed index (a restart, a block's first row), never
/// from the thread that draws it.
pub(crate) fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
