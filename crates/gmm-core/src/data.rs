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

    /// Returns the first non-finite value's `(row, column)`, scanning in parallel.
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        use rayon::prelude::*;
        let d = self.n_features;
        // Fixed-size blocks; `find_first` returns the lowest index whatever the threads.
        let block = (crate::kernel::BLOCK_ROWS * d).max(1);
        self.values
            .par_chunks(block)
            .enumerate()
            .find_map_first(|(b, chunk)| {
                chunk.iter().position(|v| !v.to_f64().is_finite()).map(|p| {
                    let flat = b * block + p;
                    (flat / d, flat % d)
                })
            })
    }

    /// Checks that the data is usable for fitting: rows present and all finite.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.n_samples == 0 {
            return Err(ErrorKind::EmptyData.into());
        }
        if let Some((row, column)) = self.first_non_finite() {
            return Err(Error::new(ErrorKind::NonFiniteData { row, column }));
        }
        Ok(())
    }
}
