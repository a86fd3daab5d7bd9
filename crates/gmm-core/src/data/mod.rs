//! Borrowed views of the data the engine reads.
//!
//! A [`DataView`] is a `&[T]` of `n_samples * n_features` values laid out row
//! after row, with `T` either `f64` or `f32`. It borrows: a NumPy array, a
//! memory-mapped `.npy` file or a `Vec` can be fitted without a copy. `f32`
//! data is widened to `f64` one chunk at a time inside the kernels; all
//! statistics are accumulated in `f64`. [`Columns`] holds one slice per
//! column (a Fortran-order array, Arrow columns), read in place as well.

use crate::error::{Error, ErrorKind, Result};

mod columns;
mod shards;

pub use columns::{ColumnView, Columns};
pub use shards::{Part, Shards};

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

/// A piece of data handed to [`Rows::for_each_piece`]: rows stored row after
/// row, or column after column.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a, T: Scalar> {
    /// Row-major rows.
    Rows(DataView<'a, T>),
    /// Column-major rows.
    Columns(ColumnView<'a, T>),
}

impl<T: Scalar> Piece<'_, T> {
    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        match self {
            Piece::Rows(v) => v.n_samples(),
            Piece::Columns(v) => v.n_samples(),
        }
    }

    /// Copies row `i` of the piece, widened to `f64`, into `out`.
    #[inline]
    pub fn copy_row(&self, i: usize, out: &mut [f64]) {
        match self {
            Piece::Rows(v) => {
                for (o, x) in out.iter_mut().zip(v.row(i)) {
                    *o = x.to_f64();
                }
            }
            Piece::Columns(v) => {
                for (a, o) in out.iter_mut().enumerate() {
                    *o = v.column(a)[i].to_f64();
                }
            }
        }
    }

    /// The first non-finite value's `(row, column)` in the piece, in row-major
    /// order.
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        match self {
            Piece::Rows(v) => {
                let d = v.n_features();
                let p = v.as_slice().iter().position(|x| !x.to_f64().is_finite())?;
                Some((p / d, p % d))
            }
            Piece::Columns(v) => (0..v.n_features())
                .filter_map(|a| {
                    let i = v.column(a).iter().position(|x| !x.to_f64().is_finite())?;
                    Some((i, a))
                })
                .min(),
        }
    }
}

/// Data the engine can read: one contiguous [`DataView`], or
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

    /// Calls `f` on pieces (row-major or column-major views) that together
    /// are rows `lo..hi`, in order.
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(Piece<'_, Self::Elem>));

    /// Copies row `i`, widened to `f64`, into `out` (`n_features` values;
    /// panics if `i` is out of range).
    ///
    /// ```
    /// use gmm_core::{Columns, Rows};
    /// let (a, b) = ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]);
    /// let columns = Columns::new(vec![&a[..], &b[..]]).unwrap();
    /// let mut row = [0.0; 2];
    /// columns.copy_row(1, &mut row);
    /// assert_eq!(row, [2.0, 5.0]);
    /// ```
    fn copy_row(&self, i: usize, out: &mut [f64]) {
        assert!(i < self.n_samples(), "row {i} out of range");
        self.for_each_piece(i, i + 1, &mut |p| p.copy_row(0, out));
    }

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

    /// Rows `lo..hi` as one column-major view, if they are stored so (one
    /// slice per column): the kernels' direct read of such data, as
    /// [`Rows::contiguous`] is for row-major data. The default is `None`.
    fn column_view(&self, lo: usize, hi: usize) -> Option<ColumnView<'_, Self::Elem>> {
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
                    found = v.first_non_finite().map(|(i, a)| (row0 + i, a));
                }
                row0 += v.n_samples();
            });
            let _ = d;
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
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(Piece<'_, T>)) {
        f(Piece::Rows(self.rows(lo, hi)))
    }
    #[inline]
    fn copy_row(&self, i: usize, out: &mut [f64]) {
        for (o, v) in out.iter_mut().zip(self.row(i)) {
            *o = v.to_f64();
        }
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
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(Piece<'_, R::Elem>)) {
        (**self).for_each_piece(lo, hi, f)
    }
    fn copy_row(&self, i: usize, out: &mut [f64]) {
        (**self).copy_row(i, out)
    }
    #[inline]
    fn contiguous(&self, lo: usize, hi: usize) -> Option<DataView<'_, R::Elem>> {
        (**self).contiguous(lo, hi)
    }
    #[inline]
    fn column_view(&self, lo: usize, hi: usize) -> Option<ColumnView<'_, R::Elem>> {
        (**self).column_view(lo, hi)
    }
    fn first_non_finite(&self) -> Option<(usize, usize)> {
        (**self).first_non_finite()
    }
    fn scope(&self) -> crate::distributed::Scope<'_> {
        (**self).scope()
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
