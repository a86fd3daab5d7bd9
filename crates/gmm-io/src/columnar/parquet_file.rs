//! Parquet files, decoded by the parquet crate's Arrow reader one batch of
//! rows at a time into an unnamed temporary file (column after column, as a
//! Fortran array), which is then memory-mapped and read in place. Nothing is
//! left behind: the temporary file has no name from the start.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use arrow_array::{Array, Float32Array, Float64Array};
use arrow_buffer::{Buffer, ScalarBuffer};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Batch, ColumnarFile, Format, guarded, parquet_guard, select, stamp_of, typed_column};
use crate::error::{Error, Result};
use crate::mmap::map_readonly;
use crate::npy::Dtype;

/// Rows decoded per batch: large enough to amortise the decoder's per-batch
/// work, small enough that a batch of a wide file stays a few megabytes.
const BATCH_ROWS: usize = 64 * 1024;

pub(super) fn open(path: &Path, columns: Option<&[String]>) -> Result<ColumnarFile> {
    let bad = |m: String| Error::parquet(m, path);
    let file = File::open(path).map_err(|e| Error::io(e, path))?;
    let stamp = stamp_of(&file, path)?;
    if stamp.0 == 0 {
        return Err(bad("the file is empty".into()));
    }
    let mut head = [0u8; 4];
    let starts = file.read_exact_at(&mut head, 0).is_ok() && &head == b"PAR1";
    if !starts {
        return Err(bad(if head == *b"ARRO" {
            "this is an Arrow IPC file: name it .arrow or .feather".into()
        } else {
            "it does not start with PAR1: give a Parquet file".into()
        }));
    }
    // What the metadata asks the decoder to allocate is checked first.
    parquet_guard::check_footer(&file, stamp.0).map_err(bad)?;
    let handle = file.try_clone().map_err(|e| Error::io(e, path))?;
    let builder = guarded(|| ParquetRecordBatchReaderBuilder::try_new(handle))
        .map_err(|e| bad(format!("the metadata cannot be read: {e}")))?
        .map_err(|e| bad(format!("the metadata cannot be read: {e}")))?;
    let schema = builder.schema().clone();
    let selection = select(&schema, columns, path)?;
    let row_groups = builder.metadata().num_row_groups();
    let mut n = 0usize;
    for rg in builder.metadata().row_groups() {
        n = usize::try_from(rg.num_rows())
            .ok()
            .and_then(|r| n.checked_add(r))
            .ok_or_else(|| bad(format!("a row group claims {} rows", rg.num_rows())))?;
    }
    let d = selection.indices.len();
    let size = match selection.dtype {
        Dtype::F64 => 8,
        Dtype::F32 => 4,
    };
    let total = n
        .checked_mul(d)
        .and_then(|v| v.checked_mul(size))
        .ok_or_else(|| bad(format!("the metadata claims {n} rows, too many to exist")))?;
    let tmp_dir = std::env::temp_dir();
    if let Ok(s) = rustix::fs::statvfs(&tmp_dir) {
        let free = s.f_bavail.saturating_mul(s.f_frsize);
        if total as u64 > free {
            return Err(Error::unsupported(
                format!(
                    "decoding needs {} in the temporary directory {} and {} are free: \
                     set TMPDIR to a larger disk",
                    gmm_core::human_bytes(total as u64),
                    tmp_dir.display(),
                    gmm_core::human_bytes(free)
                ),
                path,
            ));
        }
    }
    let leaves: Vec<usize> = {
        let schema = builder.parquet_schema();
        (0..schema.num_columns())
            .filter(|&leaf| {
                selection
                    .indices
                    .contains(&schema.get_column_root_idx(leaf))
            })
            .collect()
    };
    parquet_guard::check_pages(
        &file,
        stamp.0,
        builder.metadata(),
        &leaves,
        gmm_core::available_memory(),
    )
    .map_err(bad)?;
    let scratch = tempfile::tempfile_in(&tmp_dir).map_err(|e| Error::io(e, &tmp_dir))?;
    // The reader yields the projected columns in file order.
    let mut sorted = selection.indices.clone();
    sorted.sort_unstable();
    let mask = ProjectionMask::roots(builder.parquet_schema(), selection.indices.clone());
    let mut reader = guarded(|| {
        builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
    })
    .map_err(|e| bad(format!("the file cannot be decoded: {e}")))?
    .map_err(|e| bad(format!("the file cannot be decoded: {e}")))?;
    let mut row = 0usize;
    while let Some(batch) =
        guarded(|| reader.next()).map_err(|e| bad(format!("the data cannot be decoded: {e}")))?
    {
        let batch = batch.map_err(|e| {
            let e = e.to_string();
            bad(if e.contains("CRC checksum mismatch") {
                "a page fails its CRC checksum: the file is corrupt (read it again from its source)"
                    .to_string()
            } else {
                format!("the data cannot be decoded: {e}")
            })
        })?;
        let rows = batch.num_rows();
        if batch.num_columns() != d || row.checked_add(rows).is_none_or(|end| end > n) {
            return Err(bad(format!(
                "the data holds more rows or other columns than the metadata says ({n} rows of {d} columns)"
            )));
        }
        for (j, &i) in selection.indices.iter().enumerate() {
            let at = sorted.binary_search(&i).expect("a selected column");
            let array = typed_column(
                batch.column(at),
                schema.field(i).name(),
                row,
                selection.dtype,
                path,
            )?;
            let bytes: &[u8] = match selection.dtype {
                Dtype::F64 => bytemuck::cast_slice(
                    array
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .expect("typed")
                        .values(),
                ),
                Dtype::F32 => bytemuck::cast_slice(
                    array
                        .as_any()
                        .downcast_ref::<Float32Array>()
                        .expect("typed")
                        .values(),
                ),
            };
            let offset = ((j * n + row) * size) as u64;
            scratch
                .write_all_at(bytes, offset)
                .map_err(|e| Error::io(e, &tmp_dir))?;
        }
        row += rows;
    }
    if row != n {
        return Err(bad(format!(
            "the metadata claims {n} rows but the data holds {row}"
        )));
    }
    if n == 0 {
        return ColumnarFile::assemble(
            Format::Parquet,
            path,
            &schema,
            &selection,
            Vec::new(),
            None,
            row_groups,
            stamp,
        );
    }
    let map = map_readonly(&scratch, path).map_err(|e| Error::io(e, &tmp_dir))?;
    if map.len() != total {
        return Err(Error::io(
            std::io::Error::other("the temporary file has the wrong length"),
            &tmp_dir,
        ));
    }
    let buffer = Buffer::from(bytes::Bytes::from_owner(map));
    let batch = match selection.dtype {
        Dtype::F64 => Batch::F64(
            (0..d)
                .map(|j| Float64Array::new(ScalarBuffer::new(buffer.clone(), j * n, n), None))
                .collect(),
        ),
        Dtype::F32 => Batch::F32(
            (0..d)
                .map(|j| Float32Array::new(ScalarBuffer::new(buffer.clone(), j * n, n), None))
                .collect(),
        ),
    };
    let conversion = Some(match &selection.converted {
        Some(why) => format!("decoded into a temporary mapped file, {why}"),
        None => "decoded into a temporary mapped file".to_string(),
    });
    ColumnarFile::assemble(
        Format::Parquet,
        path,
        &schema,
        &selection,
        vec![batch],
        conversion,
        row_groups,
        stamp,
    )
}
