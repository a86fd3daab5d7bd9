//! Borrowed, row-major views of the data the engine reads.
//!
//! A [`DataView`] is a `&[T]` of `n_samples * n_features` values laid out row
//! after row, with `T` either `f64` or `f32`. It borrows: a NumPy array, a
//! memory-mapped `.npy` file or a `Vec` can be fitted without a copy. `f32`
//! data is widened to `f64` one chunk at a time inside the kernels; all
//! statistics are accumulated in `f64`.

use crate::error::{Error, ErrorKind, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types the engine reads: `f32` and `f64`.
pub trait Scalar: sealed::Sealed + Copy + Send + Sync + 'static {
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Name of the type as NumPy spells it.
    const NAME: &'static str;
}

impl Scalar for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    const NAME: &'static str = "float64";
}

impl Scalar for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    const NAME: &'static str = "float32";
}

/// A borrowed row-major `n_samples x n_features` matrix.
///
/// ```
/// use gmm_core::DataView;
/// let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
/// let view = DataView::new(&x, 3, 2).unwrap();
/// assert_eq!(view.row(1), &[2.0, 3.0]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DataView<'a, T: Scalar = f64> {
    values: &'a [T],
    n_samples: usize,
    n_features: usize,
}

impl<'a, T: Scalar> DataView<'a, T> {
    /// Wraps `values` as `n_samples` rows of `n_features` columns.
    ///
    /// Fails if `n_features == 0` or `values.len() != n_samples * n_features`.
    /// Finiteness is checked by the fitting routines, not here.
    pub fn new(values: &'a [T], n_samples: usize, n_features: usize) -> Result<Self> {
        if n_features == 0 {
            return Err(ErrorKind::NoFeatures.into());
        }
        if n_samples.checked_mul(n_features) != Some(values.len()) {
            return Err(ErrorKind::ShapeMismatch {
                len: values.len(),
                n_samples,
                n_features,
            }
            .into());
        }
        Ok(Self {
            values,
            n_samples,
            n_features,
        })
    }

    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &'a [T] {
        self.values
    }

    /// Row `i` (panics if out of range).
    #[track_caller]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Rows `start..end` as a view.
    #[track_caller]
    #[inline(always)]
    pub fn rows(&self, start: usize, end: usize) -> DataView<'a, T> {
        assert!(
            start <= end && end <= self.n_samples,
            "row range out of bounds"
        );
        DataView {
            values: &self.values[start * self.n_features..end * self.n_features],
            n_samples: end - start,
            n_features: self.n_features,
        }
    }
}

/// Row-major data the engine can read: one contiguous [`DataView`], or
/// [`Shards`] (several views read as their concatenation), or a reference to
/// either. Every routine of the crate takes `impl Rows`.
///
/// Memory-mapped data: the engine reads the slices it is given, many times
/// (once per EM iteration). A caller who maps a file and passes its bytes
/// takes the contract of `numpy.memmap`: nobody truncates the file while it
/// is read (the lost pages raise `SIGBUS`, which kills a process that does
/// not handle it) or rewrites it (the passes would see a mix of old and new
/// values). `gmm-io`'s datasets turn both into errors that name the file.
pub trait Rows: Sync {
    /// Element type (`f64` or `f32`).
    type Elem: Scalar;

    /// Number of rows.
    fn n_samples(&self) -> usize;

    /// Number of columns.
    fn n_features(&self) -> usize;

    /// Row `i` (panics if out of range).
    fn row(&self, i: usize) -> &[Self::Elem];

    /// Calls `f` on contiguous views that together are rows `lo..hi`, in order.
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(DataView<'_, Self::Elem>));

    /// Rows `lo..hi` as one view, if they are stored contiguously. The
    /// kernels read a chunk through it when they can (a direct read is
    /// compiled with the rest of the kernel, for its instruction set) and
    /// through [`Rows::for_each_piece`] otherwise. The default is `None`,
    /// which is always correct, only slower.
    ///
    /// ```
    /// use gmm_core::{DataView, Rows, Shards};
    /// let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0]);
    /// let view = DataView::new(&a, 2, 2).unwrap();
    /// assert_eq!(view.contiguous(1, 2).unwrap().as_slice(), &[3.0, 4.0]);
    /// let shards = Shards::new(vec![view, DataView::new(&b, 1, 2).unwrap()]).unwrap();
    /// assert!(shards.contiguous(0, 2).is_some());
    /// assert!(shards.contiguous(1, 3).is_none()); // crosses a shard boundary
    /// ```
    fn contiguous(&self, lo: usize, hi: usize) -> Option<DataView<'_, Self::Elem>> {
        let _ = (lo, hi);
        None
    }

    /// The first non-finite value's `(row, column)`, scanning fixed blocks in
    /// parallel (the lowest index is found whatever the threads); of the rows
    /// held here, for a [`crate::distributed::Spread`].
    fn first_non_finite(&self) -> Option<(usize, usize)> {
        use rayon::prelude::*;
        let d = self.n_features();
        let scope = self.scope();
        let ((first, last), (_, n)) = (scope.local_blocks(), scope.local());
        (first..last).into_par_iter().find_map_first(|b| {
            let (start, end) = crate::blocks::block_range(b, n);
            let mut found = None;
            let mut row0 = start;
            self.for_each_piece(start, end, &mut |v| {
                if found.is_none() {
                    if let Some(p) = v.as_slice().iter().position(|x| !x.to_f64().is_finite()) {
                        found = Some((row0 + p / d, p % d));
                    }
                }
                row0 += v.n_samples();
            });
            found
        })
    }

    /// Which rows the passes over this data map in this process, and how
    /// their results reach the other processes: every row, alone, except for
    /// a [`crate::distributed::Spread`]. Other implementations keep the
    /// default.
    fn scope(&self) -> crate::distributed::Scope<'_> {
        crate::distributed::Scope::whole(self.n_samples())
    }
}

impl<T: Scalar> Rows for DataView<'_, T> {
    type Elem = T;
    fn n_samples(&self) -> usize {
        self.n_samples
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    #[inline]
    fn row(&self, i: usize) -> &[T] {
        DataView::row(self, i)
    }
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(DataView<'_, T>)) {
        f(self.rows(lo, hi))
    }
    #[inline]
    fn contiguous(&self, lo: usize, hi: usize) -> Option<DataView<'_, T>> {
        Some(self.rows(lo, hi))
    }
}

impl<R: Rows> Rows for &R {
    type Elem = R::Elem;
    fn n_samples(&self) -> usize {
        (**self).n_samples()
    }
    fn n_features(&self) -> usize {
        (**self).n_features()
    }
    #[inline]
    fn row(&self, i: usize) -> &[R::Elem] {
        (**self).row(i)
    }
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(DataView<'_, R::Elem>)) {
        (**self).for_each_piece(lo, hi, f)
    }
    #[inline]
    fn contiguous(&self, lo: usize, hi: usize) -> Option<DataView<'_, R::Elem>> {
        (**self).contiguous(lo, hi)
    }
    fn first_non_finite(&self) -> Option<(usize, usize)> {
        (**self).first_non_finite()
    }
    fn scope(&self) -> crate::distributed::Scope<'_> {
        (**self).scope()
    }
}

/// Several row-major views with the same number of columns, read as their
/// concatenation (e.g. a directory of memory-mapped `.npy` shards). A fit on
/// shards is bit-identical to the fit on the concatenated rows: blocks and
/// chunks are cut by global row index, not by shard.
///
/// ```
/// use gmm_core::{DataView, Shards, Rows};
/// let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0]);
/// let shards = Shards::new(vec![DataView::new(&a, 2, 2).unwrap(), DataView::new(&b, 1, 2).unwrap()]).unwrap();
/// assert_eq!(shards.n_samples(), 3);
/// assert_eq!(shards.row(2), &[5.0, 6.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Shards<'a, T: Scalar> {
    parts: Vec<DataView<'a, T>>,
    /// `starts[i]` is the global index of the first row of part `i`; one extra
    /// entry holds the total.
    starts: Vec<usize>,
    n_features: usize,
}

impl<'a, T: Scalar> Shards<'a, T> {
    /// Concatenates `parts` (at least one; all with the same number of columns).
    pub fn new(parts: Vec<DataView<'a, T>>) -> Result<Self> {
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
    pub fn parts(&self) -> &[DataView<'a, T>] {
        &self.parts
    }

    fn part_of(&self, i: usize) -> usize {
        // The last part whose start is <= i (empty parts are skipped over).
        self.starts[..self.parts.len()].partition_point(|&s| s <= i) - 1
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
    #[inline]
    fn row(&self, i: usize) -> &[T] {
        assert!(i < self.n_samples(), "row {i} out of range");
        let p = self.part_of(i);
        self.parts[p].row(i - self.starts[p])
    }
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(DataView<'_, T>)) {
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
                f(self.parts[p].rows(at - start, stop - start));
            }
            at = stop;
            p += 1;
        }
    }
    #[inline]
    fn contiguous(&self, lo: usize, hi: usize) -> Option<DataView<'_, T>> {
        assert!(
            lo <= hi && hi <= self.n_samples(),
            "row range out of bounds"
        );
        if lo == hi {
            return Some(self.parts[0].rows(0, 0));
        }
        let p = self.part_of(lo);
        let start = self.starts[p];
        (hi <= self.starts[p + 1]).then(|| self.parts[p].rows(lo - start, hi - start))
    }
}

/// Checks that the data is usable for fitting: rows present and all finite.
pub(crate) fn validate(data: &impl Rows) -> Result<()> {
    if data.n_samples() == 0 {
        return Err(ErrorKind::EmptyData.into());
    }
    if let Some((row, column)) = data.first_non_finite() {
        return Err(Error::new(ErrorKind::NonFiniteData { row, column }));
    }
    Ok(())
}

/// Checks per-row sample weights against `n_rows` rows and `k` components:
/// one finite, non-negative weight per row, at least `k` of them positive.
pub(crate) fn validate_sample_weights(weights: &[f64], n_rows: usize, k: usize) -> Result<()> {
    let bad = |reason: String| Err(ErrorKind::InvalidSampleWeights { reason }.into());
    if weights.len() != n_rows {
        return bad(format!(
            "{} weights for {n_rows} rows: give exactly one weight per row",
            weights.len()
        ));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return bad(format!(
            "the weight of row {i} is {}: weights must be finite",
            weights[i]
        ));
    }
    if let Some(i) = weights.iter().position(|w| *w < 0.0) {
        return bad(format!(
            "the weight of row {i} is {}: weights must be >= 0",
            weights[i]
        ));
    }
    let positive = weights.iter().filter(|w| **w > 0.0).count();
    if positive == 0 {
        return bad("all weights are zero: at least one row must count".to_string());
    }
    if positive < k {
        return bad(format!(
            "only {positive} rows have a positive weight, fewer than the {k} components: \
             give more weighted rows or fewer components"
        ));
    }
    Ok(())
}
