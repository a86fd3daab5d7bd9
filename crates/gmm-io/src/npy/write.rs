//! Writing `.npy` files (a temporary file renamed into place).

use std::path::Path;

use gmm_core::{DataView, Scalar};

use crate::error::Result;
use crate::output::{Output, check_space};

use super::MAGIC;

/// Element types that can be written to `.npy`.
pub trait NpyElement: Copy {
    /// The `descr` of the type.
    const DESCR: &'static str;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
}

impl NpyElement for f64 {
    const DESCR: &'static str = "<f8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for i64 {
    const DESCR: &'static str = "<i8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// The bytes of a version 1.0 header for `shape` (data aligned to 64 bytes).
pub fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    header_bytes_at_least(descr, shape, 0)
}

/// A version 1.0 header padded to a multiple of 64 bytes and at least `min_len`.
pub(crate) fn header_bytes_at_least(descr: &str, shape: &[usize], min_len: usize) -> Vec<u8> {
    let shape_str = match shape {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_str}, }}");
    let total = 10 + dict.len() + 1;
    let mut pad = (64 - total % 64) % 64;
    while total + pad < min_len {
        pad += 64;
    }
    dict.extend(std::iter::repeat_n(' ', pad));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `values` with `shape` as a `.npy` file, atomically: the bytes go to
/// a temporary file in the same directory which is then renamed over `path`,
/// so `path` is either untouched or complete (`-`: standard output).
pub fn write_npy<T: NpyElement>(path: &Path, values: &[T], shape: &[usize]) -> Result<()> {
    assert_eq!(
        shape.iter().product::<usize>(),
        values.len(),
        "shape disagrees with the values"
    );
    write_npy_streamed(Output::prepare(path)?, shape, |put| put(values))
}

/// The size in bytes of a `.npy` file of `shape` with `T` elements, or `None`
/// if it exceeds `u64`.
pub fn npy_bytes<T: NpyElement>(shape: &[usize]) -> Option<u64> {
    let header = header_bytes(T::DESCR, shape).len() as u64;
    shape
        .iter()
        .try_fold(std::mem::size_of::<T>() as u64, |acc, &s| {
            acc.checked_mul(s as u64)
        })?
        .checked_add(header)
}

/// Writes a `.npy` file of `shape` whose values `fill` produces in order,
/// piece by piece: `fill` gets a function that appends a slice of values
/// (memory for one piece, however large the array). Refuses at once when the
/// file would not fit on the disk, or when `fill` produces more or fewer
/// values than `shape` holds (nothing is left behind then).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("ramp.npy");
/// let out = gmm_io::Output::prepare(&path).unwrap();
/// gmm_io::write_npy_streamed(out, &[1000, 2], |put| {
///     for i in 0..1000 {
///         put(&[i as f64, -(i as f64)])?;
///     }
///     Ok(())
/// })
/// .unwrap();
/// let ds = gmm_io::Dataset::open(&path).unwrap();
/// assert_eq!((ds.n_samples(), ds.n_features()), (1000, 2));
/// ```
pub fn write_npy_streamed<T: NpyElement>(
    out: Output,
    shape: &[usize],
    fill: impl FnOnce(&mut dyn FnMut(&[T]) -> std::io::Result<()>) -> std::io::Result<()>,
) -> Result<()> {
    check_space(&out, npy_bytes::<T>(shape), "the output")?;
    let total = shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
    out.write(|w| {
        w.write_all(&header_bytes(T::DESCR, shape))?;
        let mut written = 0usize;
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut put = |values: &[T]| -> std::io::Result<()> {
            for chunk in values.chunks(8192) {
                buf.clear();
                for v in chunk {
                    v.put(&mut buf);
                }
                w.write_all(&buf)?;
            }
            written += values.len();
            Ok(())
        };
        fill(&mut put)?;
        if Some(written) != total {
            return Err(std::io::Error::other(format!(
                "{written} values were produced for shape {shape:?}"
            )));
        }
        Ok(())
    })
}

/// Writes a `DataView` as a 2-D `.npy` of its element type.
pub fn write_view<T: Scalar + NpyElement>(path: &Path, data: DataView<'_, T>) -> Result<()> {
    write_npy(
        path,
        data.as_slice(),
        &[data.n_samples(), data.n_features()],
    )
}
