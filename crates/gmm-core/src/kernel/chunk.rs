//! Loading a chunk: rows `lo..hi` of the data, widened to `f64`, shifted,
//! transposed into strips of 8 rows.
//!
//! ```text
//! xt[(t * (Dp + 1) + a) * 8 + l] = x[lo + 8t + l, a] - shift[a]    (a < D, row < hi)
//!                                 = 0                             (padding)
//! ```
//!
//! A load also asks the CPU to fetch the rows of the next chunk into its L2
//! cache (when they are stored contiguously), so that they arrive while this
//! chunk is worked on: the hardware's prefetchers stop at page boundaries,
//! and a chunk of 4 features is two pages.

use super::layout::{Aligned, padded_features, padded_rows, strip_len};
use super::{CH, L};
use crate::data::{ColumnView, Piece, Rows, Scalar};

/// One chunk of rows in the kernels' layout: the workspace of [`Chunk::load`],
/// read by every kernel after it.
pub(crate) struct Chunk {
    /// Features of the data.
    pub(super) d: usize,
    /// The chunk widened to f64 in strips of 8 rows: strip `t` holds features
    /// `0..Dp` of rows `8t..8t+8`, feature-major (`xt[(t * (Dp + 1) + a) * 8 + l]`);
    /// features `D..Dp` are zero.
    pub(crate) xt: Aligned,
}

impl Chunk {
    /// An empty chunk of `d` features.
    pub fn new(d: usize) -> Self {
        let dp = padded_features(d);
        Self {
            d,
            xt: Aligned::zeros(strip_len(dp) * CH / L),
        }
    }

    /// Copies rows `lo..hi` (at most [`CHUNK_ROWS`]) of `data`, minus `shift`
    /// (`D`), into the transposed chunk as f64 (zeros in the padding rows up to
    /// a multiple of 32); returns `m = hi - lo`.
    #[inline(always)]
    pub fn load<D: Rows>(&mut self, data: &D, lo: usize, hi: usize, shift: &[f64]) -> usize {
        debug_assert!(hi - lo <= CH);
        let d = data.n_features();
        let panel = strip_len(padded_features(d));
        let xt = &mut self.xt;
        // A contiguous chunk is transposed here, inlined into the kernel that
        // calls `load` and compiled for its instruction set; pieces go through
        // a dynamic call (compiled for the baseline set).
        if let Some(view) = data.contiguous(lo, hi) {
            transpose_rows(xt, panel, 0, view.as_slice(), view.n_samples(), d, shift);
        } else if let Some(view) = data.column_view(lo, hi) {
            copy_columns(xt, panel, 0, view, shift);
        } else {
            let mut i = 0;
            data.for_each_piece(lo, hi, &mut |piece| {
                match piece {
                    Piece::Rows(v) => {
                        transpose_rows(xt, panel, i, v.as_slice(), v.n_samples(), d, shift)
                    }
                    Piece::Columns(v) => copy_columns(xt, panel, i, v, shift),
                }
                i += piece.n_samples();
            });
        }
        // The next chunk's rows are fetched while this one is worked on (the
        // hardware's prefetchers stop at page boundaries).
        let next = (hi + (hi - lo)).min(data.scope().local().1);
        if let Some(view) = data.contiguous(hi, next) {
            prefetch(view.as_slice());
        }
        let m = hi - lo;
        for i in m..padded_rows(m) {
            let at = (i / L) * panel + i % L;
            for a in 0..d {
                xt[at + a * L] = 0.0;
            }
        }
        m
    }
}

/// Asks the CPU to fetch the cache lines of `values` into its L2 cache: a
/// hint that no result depends on (nothing off x86-64).
#[inline(always)]
fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v1) = pulp::x86::V1::try_new() {
        use super::layout::LINE;
        let bytes = std::mem::size_of_val(values);
        let start = values.as_ptr().cast::<i8>();
        for at in (0..bytes).step_by(LINE).chain(bytes.checked_sub(1)) {
            v1.sse
                ._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(start.wrapping_add(at));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// Writes the `n` rows of `rows` (row-major, `d` columns), minus `shift`, into
/// the strips of `xt` (`panel` values apart) as rows `i0..i0 + n` of the chunk.
#[inline(always)]
fn transpose_rows<T: Scalar>(
    xt: &mut [f64],
    panel: usize,
    i0: usize,
    rows: &[T],
    n: usize,
    d: usize,
    shift: &[f64],
) {
    let (mut i, mut r) = (i0, 0);
    while r < n {
        if i % L == 0 && r + L <= n {
            // A whole strip: 8 rows into 8 lanes of each feature, with common
            // widths known to the compiler (unrolled, no bounds checks).
            let src = &rows[r * d..(r + L) * d];
            let dst = &mut xt[(i / L) * panel..(i / L) * panel + d * L];
            macro_rules! width {
                ($($dd:literal)*) => {
                    match d {
                        $($dd => transpose_strip::<T, $dd>(dst, src, shift),)*
                        _ => transpose_strip::<T, 0>(dst, src, shift),
                    }
                };
            }
            width!(1 2 3 4 5 6 7 8 16);
            r += L;
            i += L;
        } else {
            let at = (i / L) * panel + i % L;
            for (a, v) in rows[r * d..(r + 1) * d].iter().enumerate() {
                xt[at + a * L] = v.to_f64() - shift[a];
            }
            r += 1;
            i += 1;
        }
    }
}

/// Writes the rows of the column-major `view`, minus `shift`, into the strips
/// of `xt` (`panel` values apart) as rows `i0..` of the chunk: eight
/// consecutive values of a column are one lane group of a strip.
#[inline(always)]
fn copy_columns<T: Scalar>(
    xt: &mut [f64],
    panel: usize,
    i0: usize,
    view: ColumnView<'_, T>,
    shift: &[f64],
) {
    let n = view.n_samples();
    for (a, &s) in shift.iter().enumerate().take(view.n_features()) {
        let col = view.column(a);
        let (mut i, mut r) = (i0, 0);
        while r < n {
            if i % L == 0 && r + L <= n {
                let at = (i / L) * panel + a * L;
                for (x, v) in xt[at..at + L].iter_mut().zip(&col[r..r + L]) {
                    *x = v.to_f64() - s;
                }
                r += L;
                i += L;
            } else {
                xt[(i / L) * panel + a * L + i % L] = col[r].to_f64() - s;
                r += 1;
                i += 1;
            }
        }
    }
}

/// One strip of [`transpose_rows`]: `dst[a * 8 + l] = src[l * d + a] - shift[a]`
/// for `d = DD` columns (`DD = 0`: `d = src.len() / 8`).
#[inline(always)]
fn transpose_strip<T: Scalar, const DD: usize>(dst: &mut [f64], src: &[T], shift: &[f64]) {
    let d = if DD > 0 { DD } else { src.len() / L };
    let (dst, src, shift) = (&mut dst[..d * L], &src[..d * L], &shift[..d]);
    for a in 0..d {
        for l in 0..L {
            dst[a * L + l] = src[l * d + a].to_f64() - shift[a];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Columns, DataView, Part, Shards};

    fn fortran_of(x: &[f64], n: usize, d: usize) -> Vec<f64> {
        (0..d)
            .flat_map(|a| (0..n).map(move |i| x[i * d + a]))
            .collect()
    }

    #[test]
    fn chunks_load_the_same_through_either_path_at_every_width() {
        // Widths with their own compiled transpose and widths without.
        for d in [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 64] {
            let n = 300;
            let x: Vec<f64> = (0..n * d).map(|i| (i * 37 % 1000) as f64 - 400.5).collect();
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let shift: Vec<f64> = (0..d).map(|a| a as f64 * 0.25 - 1.0).collect();
            let data = DataView::new(&x, n, d).unwrap();
            // Shards cut at odd places: chunks read piece by piece.
            let cuts = [0, 3, 11, 12, 150, 251, n];
            let shards =
                Shards::new(cuts.windows(2).map(|w| data.rows(w[0], w[1])).collect()).unwrap();
            let data32 = DataView::new(&x32, n, d).unwrap();
            // The same values column-major, whole and as mixed shards.
            let fortran = fortran_of(&x, n, d);
            let columns = Columns::from_fortran(&fortran, n, d).unwrap();
            let tail = fortran_of(&x[11 * d..], n - 11, d);
            let mixed = Shards::from_parts(vec![
                Part::Rows(data.rows(0, 11)),
                Part::Columns(Columns::from_fortran(&tail, n - 11, d).unwrap()),
            ])
            .unwrap();
            for (lo, hi) in [(0, 256), (3, 259), (256, 300), (5, 6)] {
                let mut direct = Chunk::new(d);
                let mut pieces = Chunk::new(d);
                let mut narrow = Chunk::new(d);
                let mut by_column = Chunk::new(d);
                let mut by_mixed = Chunk::new(d);
                assert!(columns.column_view(lo, hi).is_some());
                by_column.load(&columns, lo, hi, &shift);
                by_mixed.load(&mixed, lo, hi, &shift);
                assert!(data.contiguous(lo, hi).is_some());
                let crosses = cuts.iter().any(|&c| lo < c && c < hi);
                assert_eq!(shards.contiguous(lo, hi).is_none(), crosses);
                let m = direct.load(&data, lo, hi, &shift);
                assert_eq!(pieces.load(&shards, lo, hi, &shift), m);
                narrow.load(&data32, lo, hi, &shift);
                let panel = strip_len(padded_features(d));
                for i in 0..padded_rows(m) {
                    for a in 0..padded_features(d) {
                        let at = (i / L) * panel + a * L + i % L;
                        let want = if i < m && a < d {
                            x[(lo + i) * d + a] - shift[a]
                        } else {
                            0.0
                        };
                        let f32_want = if i < m && a < d {
                            x32[(lo + i) * d + a] as f64 - shift[a]
                        } else {
                            0.0
                        };
                        assert_eq!(direct.xt[at], want, "d {d}, rows {lo}..{hi}, i {i}, a {a}");
                        assert_eq!(pieces.xt[at], want, "pieces: d {d}, i {i}, a {a}");
                        assert_eq!(by_column.xt[at], want, "columns: d {d}, i {i}, a {a}");
                        assert_eq!(by_mixed.xt[at], want, "mixed: d {d}, i {i}, a {a}");
                        assert_eq!(narrow.xt[at], f32_want, "f32: d {d}, i {i}, a {a}");
                    }
                }
            }
        }
    }
}
