//! Parquet and Arrow IPC output, streamed: row-major values are gathered into
//! columns a batch at a time and written as one record batch (Arrow) or row
//! group (Parquet), so memory stays one batch however many rows are written.
//! Completed atomically like every [`Output`].

use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::Format;
use crate::error::{Error, Result};
use crate::npy::NpyElement;
use crate::output::{Output, OutputWriter};

/// Rows per record batch or row group written.
const BATCH_ROWS: usize = 64 * 1024;

/// Element types written as Arrow columns.
pub trait ColumnarWriter: NpyElement + Send + 'static {
    /// The Arrow type of the column.
    const DATA_TYPE: DataType;
    /// The values as an Arrow array.
    fn array(values: Vec<Self>) -> ArrayRef;
}

impl ColumnarWriter for f64 {
    const DATA_TYPE: DataType = DataType::Float64;
    fn array(values: Vec<Self>) -> ArrayRef {
        Arc::new(Float64Array::from(values))
    }
}

impl ColumnarWriter for f32 {
    const DATA_TYPE: DataType = DataType::Float32;
    fn array(values: Vec<Self>) -> ArrayRef {
        Arc::new(Float32Array::from(values))
    }
}

impl ColumnarWriter for i64 {
    const DATA_TYPE: DataType = DataType::Int64;
    fn array(values: Vec<Self>) -> ArrayRef {
        Arc::new(Int64Array::from(values))
    }
}

enum Sink {
    Parquet(ArrowWriter<OutputWriter>),
    Arrow(arrow_ipc::writer::FileWriter<OutputWriter>),
}

/// Writes `n_rows` rows of the columns `names` to `out` as `format`:
/// `fill` hands over row-major values (any number of whole or partial rows
/// per call, `n_rows * names.len()` in all). Parquet is written with Snappy
/// compression; Arrow uncompressed, so that gmm reads it back in place.
///
/// ```
/// use gmm_io::{ColumnarFile, Format, Output, write_columnar};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("labels.parquet");
/// let names = ["label".to_string()];
/// write_columnar::<i64>(Output::prepare(&path).unwrap(), Format::Parquet, 3, &names, |put| {
///     put(&[0, 2])?;
///     put(&[1])
/// })
/// .unwrap();
/// let f = ColumnarFile::open(&path, None).unwrap();
/// assert_eq!((f.n_samples(), f.column_names()), (3, &names[..]));
/// ```
pub fn write_columnar<T: ColumnarWriter>(
    out: Output,
    format: Format,
    n_rows: usize,
    names: &[String],
    fill: impl FnOnce(&mut dyn FnMut(&[T]) -> std::io::Result<()>) -> std::io::Result<()>,
) -> Result<()> {
    let path = out.path().to_path_buf();
    let d = names.len();
    let expected = n_rows.checked_mul(d);
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n.as_str(), T::DATA_TYPE, false))
            .collect::<Vec<_>>(),
    ));
    let writer = out.writer()?;
    let arrow_err = |e: String| Error::io(std::io::Error::other(e), &path);
    let mut sink = match format {
        Format::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(BATCH_ROWS))
                // Measured floats rarely repeat: a dictionary only costs.
                .set_dictionary_enabled(!T::DATA_TYPE.is_floating())
                .build();
            Sink::Parquet(
                ArrowWriter::try_new(writer, schema.clone(), Some(props))
                    .map_err(|e| arrow_err(e.to_string()))?,
            )
        }
        Format::Arrow => Sink::Arrow(
            arrow_ipc::writer::FileWriter::try_new(writer, &schema)
                .map_err(|e| arrow_err(e.to_string()))?,
        ),
    };
    let mut columns: Vec<Vec<T>> = (0..d).map(|_| Vec::with_capacity(BATCH_ROWS)).collect();
    let mut next = 0usize; // the column the next value belongs to
    let mut written = 0usize;
    let flush = |columns: &mut Vec<Vec<T>>, sink: &mut Sink| -> std::io::Result<()> {
        let arrays: Vec<ArrayRef> = columns
            .iter_mut()
            .map(|c| T::array(std::mem::replace(c, Vec::with_capacity(BATCH_ROWS))))
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(std::io::Error::other)?;
        match sink {
            Sink::Parquet(w) => w.write(&batch).map_err(std::io::Error::other),
            Sink::Arrow(w) => w.write(&batch).map_err(std::io::Error::other),
        }
    };
    let result = fill(&mut |values: &[T]| {
        for &v in values {
            columns[next].push(v);
            next += 1;
            if next == d {
                next = 0;
                if columns[d - 1].len() == BATCH_ROWS {
                    flush(&mut columns, &mut sink)?;
                }
            }
        }
        written += values.len();
        Ok(())
    });
    result.map_err(|e| Error::io(e, &path))?;
    if Some(written) != expected || next != 0 {
        return Err(Error::io(
            std::io::Error::other(format!(
                "{written} values were produced for {n_rows} rows of {d} columns"
            )),
            &path,
        ));
    }
    if d > 0 && !columns[0].is_empty() {
        flush(&mut columns, &mut sink).map_err(|e| Error::io(e, &path))?;
    }
    let writer = match sink {
        Sink::Parquet(w) => w.into_inner(),
        Sink::Arrow(mut w) => w
            .finish()
            .and_then(|()| w.into_inner())
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e))),
    }
    .map_err(|e| arrow_err(e.to_string()))?;
    writer.finish()
}

/// Writes an array of `shape` (`[n]` or `[n, d]`) streamed as
/// [`crate::write_npy_streamed`] does, in the format the output's extension
/// names: Parquet or Arrow (columns `names`, one per column of the array,
/// see [`write_columnar`]), `.npy` otherwise (names unused).
pub fn write_streamed<T: ColumnarWriter>(
    out: Output,
    shape: &[usize],
    names: &[String],
    fill: impl FnOnce(&mut dyn FnMut(&[T]) -> std::io::Result<()>) -> std::io::Result<()>,
) -> Result<()> {
    let Some(format) = Format::from_path(out.path()) else {
        return crate::npy::write_npy_streamed(out, shape, fill);
    };
    let width = shape.get(1).copied().unwrap_or(1);
    if shape.len() > 2 || names.len() != width {
        return Err(Error::unsupported(
            format!(
                "an array of shape {shape:?} cannot be written as the {} columns {names:?}",
                names.len()
            ),
            out.path(),
        ));
    }
    write_columnar(
        out,
        format,
        shape.first().copied().unwrap_or(0),
        names,
        fill,
    )
}
