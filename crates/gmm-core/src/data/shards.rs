//! Several views read as their concatenation.

use super::{ColumnView, Columns, DataView, Piece, Rows, Scalar};
use crate::error::{Error, ErrorKind, Result};

/// One shard of [`Shards`]: row-major or column-major.
#[derive(Debug, Clone)]
pub enum Part<'a, T: Scalar> {
    /// Row-major rows.
    Rows(DataView<'a, T>),
    /// Column-major rows.
    Columns(Columns<'a, T>),
}

impl<T: Scalar> Part<'_, T> {
    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        match self {
            Part::Rows(v) => v.n_samples(),
            Part::Columns(c) => c.n_samples(),
        }
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        match self {
            Part::Rows(v) => v.n_features(),
            Part::Columns(c) => c.n_features(),
        }
    }

    #[inline(always)]
    fn piece(&self, lo: usize, hi: usize) -> Piece<'_, T> {
        match self {
            Part::Rows(v) => Piece::Rows(v.rows(lo, hi)),
            Part::Columns(c) => Piece::Columns(c.view().rows(lo, hi)),
        }
    }
}

/// Several views with the same number of columns, read as their
/// concatenation (e.g. a directory of memory-mapped `.npy` shards). A fit on
/// shards is bit-identical to the fit on the concatenated rows: blocks and
/// chunks are cut by global row index, not by shard. Shards may mix
/// row-major and column-major parts ([`Shards::from_parts`]).
///
/// ```
/// use gmm_core::{DataView, Shards, Rows};
/// let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0]);
/// let shards = Shards::new(vec![DataView::new(&a, 2, 2).unwrap(), DataView::new(&b, 1, 2).unwrap()]).unwrap();
/// assert_eq!(shards.n_samples(), 3);
/// let mut row = [0.0; 2];
/// shards.copy_row(2, &mut row);
/// assert_eq!(row, [5.0, 6.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Shards<'a, T: Scalar> {
    parts: Vec<Part<'a, T>>,
    /// `starts[i]` is the global index of the first row of part `i`; one extra
    /// entry holds the total.
    starts: Vec<usize>,
    n_features: usize,
}

impl<'a, T: Scalar> Shards<'a, T> {
    /// Concatenates row-major `parts` (at least one; all with the same number
    /// of columns).
    pub fn new(parts: Vec<DataView<'a, T>>) -> Result<Self> {
        Self::from_parts(parts.into_iter().map(Part::Rows).collect())
    }

    /// Concatenates `parts`, row-major or column-major (at least one; all
    /// with the same number of columns).
    pub fn from_parts(parts: Vec<Part<'a, T>>) -> Result<Self> {
        let Some(first) = parts.first() else {
            return Err(ErrorKind::EmptyData.into());
        };
        let n_features = first.n_features();
        let mut starts = Vec::with_capacity(parts.len() + 1);
        let mut total = 0usize;
        for (i, p) in parts.iter().enumerate() {
            if p.n_features() != n_features {
                return Err(Error::dimension(
                    format!("columns of shard {i} vs. shard 0"),
                    n_features,
                    p.n_features(),
                ));
            }
            starts.push(total);
            total += p.n_samples();
        }
        starts.push(total);
        Ok(Self {
            parts,
            starts,
            n_features,
        })
    }

    /// The shards.
    pub fn parts(&self) -> &[Part<'a, T>] {
        &self.parts
    }

    fn part_of(&self, i: usize) -> usize {
        // The last part whose start is <= i (empty parts are skipped over).
        self.starts[..self.parts.len()].partition_point(|&s| s <= i) - 1
    }

    /// The part holding all of rows `lo..hi` (`lo < hi`), with its first row.
    #[inline]
    fn holding(&self, lo: usize, hi: usize) -> Option<(&Part<'a, T>, usize)> {
        let p = self.part_of(lo);
        (hi <= self.starts[p + 1]).then(|| (&self.parts[p], self.starts[p]))
    }
}

impl<T: Scalar> Rows for Shards<'_, T> {
    type Elem = T;
    fn n_samples(&self) -> usize {
        self.starts[self.parts.len()]
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(Piece<'_, T>)) {
        assert!(
            lo <= hi && hi <= self.n_samples(),
            "row range out of bounds"
        );
        if lo == hi {
            return;
        }
        let mut p = self.part_of(lo);
        let mut at = lo;
        while at < hi {
            let (start, end) = (self.starts[p], self.starts[p + 1]);
            let stop = hi.min(end);
            if stop > at {
                f(self.parts[p].piece(at - start, stop - start));
            }
            at = stop;
            p += 1;
        }
    }
    #[inline]
    fn copy_row(&self, i: usize, out: &mut [f64]) {
        assert!(i < self.n_samples(), "row {i} out of range");
        let p = self.part_of(i);
        self.parts[p]
            .piece(i - self.starts[p], i - self.starts[p] + 1)
            .copy_row(0, out)
    }
    #[inline]
    fn contiguous(&self, lo: usize, hi: usize) -> Option<DataView<'_, T>> {
        assert!(
            lo <= hi && hi <= self.n_samples(),
            "row range out of bounds"
        );
        if lo == hi {
            return match &self.parts[0] {
                Part::Rows(v) => Some(v.rows(0, 0)),
                Part::Columns(_) => None,
            };
        }
        match self.holding(lo, hi)? {
            (Part::Rows(v), start) => Some(v.rows(lo - start, hi - start)),
            (Part::Columns(_), _) => None,
        }
    }
    #[inline]
    fn column_view(&self, lo: usize, hi: usize) -> Option<ColumnView<'_, T>> {
        if lo >= hi {
            return None;
        }
        match self.holding(lo, hi)? {
            (Part::Columns(c), start) => Some(c.view().rows(lo - start, hi - start)),
            (Part::Rows(_), _) => None,
        }
    }
}
