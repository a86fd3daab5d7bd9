//! Column-major data: one slice per column, read in place.

use super::{DataView, Piece, Rows, Scalar};
use crate::error::{Error, ErrorKind, Result};

/// A borrowed column-major block of rows: `n_samples` rows of each of the
/// columns it lends, starting at row `start` of every column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnView<'a, T: Scalar> {
    columns: &'a [&'a [T]],
    start: usize,
    n_samples: usize,
}

impl<'a, T: Scalar> ColumnView<'a, T> {
    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// Column `a` of these rows (panics if out of range).
    #[inline(always)]
    pub fn column(&self, a: usize) -> &'a [T] {
        &self.columns[a][self.start..self.start + self.n_samples]
    }

    /// Rows `lo..hi` of this view.
    #[track_caller]
    #[inline(always)]
    pub fn rows(&self, lo: usize, hi: usize) -> ColumnView<'a, T> {
        assert!(lo <= hi && hi <= self.n_samples, "row range out of bounds");
        ColumnView {
            columns: self.columns,
            start: self.start + lo,
            n_samples: hi - lo,
        }
    }
}

/// A column-major `n_samples x n_features` matrix: one borrowed slice per
/// column, all of the same length (e.g. a Fortran-order array or the columns
/// of an Arrow record batch). It is read in place: the kernels load each
/// chunk of rows straight from the columns, and a fit is bit-identical to
/// the fit of the same values stored row by row.
///
/// ```
/// use gmm_core::{Columns, DataView, Rows};
/// // Three rows, two columns, stored column after column (Fortran order).
/// let fortran = [0.0, 0.5, 9.0, 1.0, 1.5, 8.0];
/// let columns = Columns::from_fortran(&fortran, 3, 2).unwrap();
/// let rows = [0.0, 1.0, 0.5, 1.5, 9.0, 8.0];
/// let view = DataView::new(&rows, 3, 2).unwrap();
/// assert_eq!(columns.n_samples(), 3);
/// assert_eq!(columns.first_non_finite(), view.first_non_finite());
/// ```
#[derive(Debug, Clone)]
pub struct Columns<'a, T: Scalar> {
    columns: Vec<&'a [T]>,
    n_samples: usize,
}

impl<'a, T: Scalar> Columns<'a, T> {
    /// Reads `columns` (at least one, all of one length) as the columns of a
    /// matrix.
    pub fn new(columns: Vec<&'a [T]>) -> Result<Self> {
        let Some(first) = columns.first() else {
            return Err(ErrorKind::NoFeatures.into());
        };
        let n_samples = first.len();
        if let Some(a) = columns.iter().position(|c| c.len() != n_samples) {
            return Err(Error::dimension(
                format!("rows of column {a} vs. column 0"),
                n_samples,
                columns[a].len(),
            ));
        }
        Ok(Self { columns, n_samples })
    }

    /// Reads `values` as a Fortran-order (column-major) array of `n_samples`
    /// rows and `n_features` columns: column `a` is
    /// `values[a * n_samples..(a + 1) * n_samples]`.
    pub fn from_fortran(values: &'a [T], n_samples: usize, n_features: usize) -> Result<Self> {
        // The same shape checks as a row-major view of the values.
        DataView::new(values, n_samples, n_features)?;
        let columns = if n_samples == 0 {
            vec![values; n_features]
        } else {
            values.chunks_exact(n_samples).collect()
        };
        Ok(Self { columns, n_samples })
    }

    /// The columns.
    pub fn columns(&self) -> &[&'a [T]] {
        &self.columns
    }

    /// All rows as one view.
    pub fn view(&self) -> ColumnView<'_, T> {
        ColumnView {
            columns: &self.columns,
            start: 0,
            n_samples: self.n_samples,
        }
    }
}

impl<T: Scalar> Rows for Columns<'_, T> {
    type Elem = T;
    fn n_samples(&self) -> usize {
        self.n_samples
    }
    fn n_features(&self) -> usize {
        self.columns.len()
    }
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(Piece<'_, T>)) {
        f(Piece::Columns(self.view().rows(lo, hi)))
    }
    #[inline]
    fn copy_row(&self, i: usize, out: &mut [f64]) {
        for (o, c) in out.iter_mut().zip(&self.columns) {
            *o = c[i].to_f64();
        }
    }
    #[inline]
    fn column_view(&self, lo: usize, hi: usize) -> Option<ColumnView<'_, T>> {
        Some(self.view().rows(lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_the_values_of_the_rows() {
        let (n, d) = (7, 3);
        let rows: Vec<f64> = (0..n * d).map(|v| v as f64 * 0.5).collect();
        let fortran: Vec<f64> = (0..d)
            .flat_map(|a| (0..n).map(move |i| (i * d + a) as f64 * 0.5))
            .collect();
        let cols = Columns::from_fortran(&fortran, n, d).unwrap();
        let view = DataView::new(&rows, n, d).unwrap();
        let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
        for i in 0..n {
            cols.copy_row(i, &mut a);
            view.copy_row(i, &mut b);
            assert_eq!(a, b);
        }
        let piece = cols.view().rows(2, 5);
        assert_eq!(piece.column(1), &fortran[n + 2..n + 5]);
        assert!(Columns::<f64>::new(vec![]).is_err());
        assert!(Columns::new(vec![&rows[..3], &rows[..2]]).is_err());
        assert!(Columns::from_fortran(&rows, n, d + 1).is_err());
        let mut bad = fortran.clone();
        bad[2 * n + 1] = f64::NAN; // row 1, column 2
        bad[n + 4] = f64::INFINITY; // row 4, column 1
        let bad = Columns::from_fortran(&bad, n, d).unwrap();
        assert_eq!(bad.first_non_finite(), Some((1, 2)));
    }
}
