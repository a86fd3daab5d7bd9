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
//! on `mu_k` as they load it (see [`scatter::scatter_full`]). The accumulation skips
//! strips in which a component's responsibilities are all zero (`exp`
//! flushes to zero below `-708`, so far components have many), which changes
//! no bit; when a component's nonzero responsibilities are sparse enough
//! (see [`gather::gather_pays`]), its rows are first gathered, centred, into whole
//! strips, so that the `O(D^2)` scatter runs over them only. Strips are one vector
//! longer than their features, so that they are not a power of two bytes apart. With `D <= 4` (full, tied) all statistics of a
//! component stay in registers for the whole chunk. Feature counts are padded
//! to a multiple of 4 with zeros and row counts to a multiple of 32 with zero
//! responsibilities, so the tiles need no edge cases. `exp` and `ln` are
//! branch-free polynomials ([`expf`]) that vectorise with the rest.
//!
//! Reductions over rows keep 8 partial sums, one per row index modulo 8,
//! combined in a fixed order ([`reduce::hsum`]). Nothing depends on memory alignment
//! or on the thread that runs a chunk, and drivers (see `estep`) merge
//! chunks and blocks in a fixed order, so results are bit-identical for any
//! number of threads.
//!
//! The kernels are plain functions generic over `S: pulp::Simd`, written with
//! pulp's safe SIMD types and `#[inline(always)]`. A pass enters the best
//! instruction set the CPU has (AVX-512, AVX2 with FMA, or scalar, detected at
//! run time) once per block ([`for_each_chunk`]), and every kernel of every
//! chunk of the block is compiled inside that one entry. Every operation is explicit
//! (multiply-adds are fused everywhere, in the scalar code too) and the
//! partial sums are the same 8 whatever the vector width, so every instruction
//! set gives the same bits (tested in `estep`). On a CPU without FMA the fused
//! multiply-adds become library calls: correct, the same bits, but slow.
//!
//! Files, in the order of a chunk's trip through the kernels:
//! [`layout`] (padding, strips, aligned buffers), [`chunk`] (load and
//! transpose), [`prepared`] (a model laid out for the kernels, from plain
//! slices), [`log_prob`] (whitening), [`normalise`] (log-sum-exp and
//! responsibilities, with [`expf`]), [`accumulate`] (statistics, through a
//! view the caller lends), [`gather`] and [`scatter`] (its full-covariance
//! tiles), [`reduce`] (lane sums in a fixed order).

pub(crate) mod accumulate;
pub(crate) mod chunk;
pub(crate) mod expf;
pub(crate) mod gather;
pub(crate) mod layout;
pub(crate) mod log_prob;
pub(crate) mod normalise;
pub(crate) mod prepared;
pub(crate) mod reduce;
pub(crate) mod scatter;

pub(crate) use accumulate::{AccumulateWork, StatsMut, accumulate};
pub(crate) use chunk::Chunk;
pub(crate) use log_prob::weighted_log_prob;
pub(crate) use normalise::{
    LogProbs, normalise_rows, responsibilities_from_rows, responsibilities_of_row, weigh_rows,
};
pub(crate) use prepared::{ModelRef, Prepared};
pub(crate) use reduce::lane_sum;

use pulp::Simd;

use crate::blocks::CHUNK_ROWS;

/// Rows of a chunk.
const CH: usize = CHUNK_ROWS;
/// Lanes of a partial sum.
const L: usize = 8;
/// Rows of a whitening tile (row counts are padded to a multiple of it).
const R: usize = 32;
/// Columns of a tile (feature counts are padded to a multiple of it).
const NB: usize = 4;

/// The work a pass does on one chunk of rows, with the kernels compiled for
/// the instruction set `S` of the block's one dispatch.
pub(crate) trait ChunkPass {
    /// Processes rows `lo..hi` (at most [`CHUNK_ROWS`]). Implementations are
    /// `#[inline(always)]`, so that they are compiled inside the dispatch.
    fn chunk<S: Simd>(&mut self, simd: S, lo: usize, hi: usize);
}

/// Runs `pass` over the chunks of rows `start..end` in order, inside one
/// dispatch into the instruction set `arch` (`pulp::Arch::new()`: the best
/// the CPU has; tests pick others to compare their bits).
pub(crate) fn for_each_chunk<P: ChunkPass>(
    arch: pulp::Arch,
    start: usize,
    end: usize,
    pass: &mut P,
) {
    struct Block<'a, P> {
        pass: &'a mut P,
        start: usize,
        end: usize,
    }
    impl<P: ChunkPass> pulp::WithSimd for Block<'_, P> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let mut lo = self.start;
            while lo < self.end {
                let hi = (lo + CH).min(self.end);
                self.pass.chunk(simd, lo, hi);
                lo = hi;
            }
        }
    }
    arch.dispatch(Block { pass, start, end });
}

/// Every instruction set this CPU can run, scalar first (tests compare them).
#[cfg(test)]
pub(crate) fn test_archs() -> Vec<pulp::Arch> {
    #[allow(unused_mut)]
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
    archs
}
