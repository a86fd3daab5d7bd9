//! Writing `.npy` files (a temporary file renamed into place).

use std::path::Path;

use gmm_core::{DataView, Scalar};

use crate::atomic::write_atomically;
use crate::error::Result;

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
/// so `path` is either untouched or complete.
pub fn write_npy<T: NpyElement>(path: &Path, values: &[T], shape: &[usize]) -> Result<()> {
    assert_eq!(
        shape.iter().product::<usize>(),
        values.len(),
        "shape disagrees with the values"
    );
    write_atomically(path, |w| {
        w.write_all(&header_bytes(T::DESCR, shape))?;
        let mut buf = Vec::with_capacity(64 * 1024);
        for chunk in values.chunks(8192) {
            buf.clear();
            for v in chunk {
                v.put(&mut buf);
            }
            w.write_all(&buf)?;
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
