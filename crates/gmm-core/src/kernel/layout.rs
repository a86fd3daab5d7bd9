//! The chunk layout: padding, strips of 8 rows, buffers on cache lines.
//!
//! ```text
//! Mp = ceil(m / 32) * 32          rows of a chunk, padded to whole whitening tiles
//! Dp = ceil(D / 4) * 4            features, padded to whole tile columns
//! strip t = rows 8t..8t+8: (Dp + 1) * 8 values, feature-major (value [a * 8 + l])
//! ```

use super::{L, NB, R};

/// `m` rounded up to a whole number of whitening tiles.
#[inline(always)]
pub(crate) fn padded_rows(m: usize) -> usize {
    m.div_ceil(R) * R
}

/// `d` rounded up to a whole number of tile columns.
#[inline(always)]
pub(crate) fn padded_features(d: usize) -> usize {
    d.div_ceil(NB) * NB
}

/// Values per strip of 8 rows in the chunk layout: `Dp` features of 8 rows,
/// plus one unused vector so that strips are not a power of two bytes apart
/// (which would map the same feature of every few strips to the same L1 set).
#[inline(always)]
pub(crate) fn strip_len(dp: usize) -> usize {
    (dp + 1) * L
}
/// Bytes of a cache line, and of an AVX-512 vector.
pub(crate) const LINE: usize = 64;

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
pub(crate) fn lanes<const N: usize>(v: &[f64], at: usize) -> &[f64; N] {
    v[at..at + N].try_into().expect("N values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::CHUNK_ROWS;
    use crate::kernel::{AccumulateWork, Chunk, LogProbs};

    #[test]
    fn buffers_start_on_cache_lines() {
        let at_line = |v: &[f64]| (v.as_ptr() as usize).is_multiple_of(LINE);
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
            let chunk = Chunk::new(d);
            let probs = LogProbs::new(k);
            let work = AccumulateWork::new(d);
            let mut buffers = vec![("xt", &chunk.xt)];
            buffers.extend(probs.buffers());
            buffers.extend(work.buffers());
            for (name, v) in buffers {
                assert!(at_line(v), "{name} for k={k}, d={d}");
            }
            // Every strip, and every component's row of responsibilities,
            // starts a line too.
            assert_eq!(strip_len(padded_features(d)) * 8 % LINE, 0);
            assert_eq!(CHUNK_ROWS * 8 % LINE, 0);
        }
    }

    #[test]
    fn padding() {
        assert_eq!(padded_rows(1), 32);
        assert_eq!(padded_rows(256), 256);
        assert_eq!(padded_features(5), 8);
    }
}
