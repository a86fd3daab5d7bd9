//! Arrow IPC files (Feather v2), memory-mapped: the footer and each record
//! batch are decoded by arrow-ipc's `FileDecoder` over a `Buffer` that owns
//! the mapping, so the values of uncompressed, aligned columns are slices of
//! the mapped file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_buffer::Buffer;
use arrow_ipc::reader::{FileDecoder, read_footer_length};

use super::{Batch, ColumnarFile, Format, guarded, select, stamp_of, typed_column};
use crate::error::{Error, Result};
use crate::mmap::map_readonly;

const MAGIC: &[u8] = b"ARROW1";

pub(super) fn open(path: &Path, columns: Option<&[String]>) -> Result<ColumnarFile> {
    let bad = |m: String| Error::arrow(m, path);
    let file = File::open(path).map_err(|e| Error::io(e, path))?;
    let stamp = stamp_of(&file, path)?;
    if stamp.0 == 0 {
        return Err(bad("the file is empty".into()));
    }
    let map = map_readonly(&file, path).map_err(|e| Error::io(e, path))?;
    let len = map.len();
    if map.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
        drop(map);
        return open_stream(file, path, columns, stamp);
    }
    if !map.starts_with(MAGIC) {
        let hint = if map.starts_with(b"FEA1") {
            "this is a Feather v1 file: re-save it as Feather v2 (pyarrow.feather.write_feather)"
        } else if map.starts_with(b"PAR1") {
            "this is a Parquet file: name it .parquet"
        } else {
            "it does not start with ARROW1: give an Arrow IPC file (Feather v2)"
        };
        return Err(bad(hint.into()));
    }
    if len < 2 * MAGIC.len() + 2 + 4 || !map.ends_with(MAGIC) {
        return Err(bad(
            "the file is truncated: it does not end with the ARROW1 footer".into(),
        ));
    }
    let range = {
        let start = map.as_ptr() as usize;
        start..start + len
    };
    let buffer = Buffer::from(bytes::Bytes::from_owner(map));
    let trailer: [u8; 10] = buffer[len - 10..].try_into().expect("10 bytes");
    let footer_len = read_footer_length(trailer).map_err(|e| bad(e.to_string()))?;
    if footer_len > len - 10 - 8 {
        return Err(bad(format!(
            "the footer claims {footer_len} bytes, more than the file holds"
        )));
    }
    let footer_bytes = &buffer[len - 10 - footer_len..len - 10];
    let footer = arrow_ipc::root_as_footer(footer_bytes)
        .map_err(|e| bad(format!("the footer is malformed: {e}")))?;
    let fb_schema = footer
        .schema()
        .ok_or_else(|| bad("the footer has no schema".into()))?;
    let schema = arrow_ipc::convert::try_fb_to_schema(fb_schema)
        .map_err(|e| bad(format!("the schema is malformed: {e}")))?;
    let selection = select(&schema, columns, path)?;
    let schema = Arc::new(schema);
    let mut decoder = FileDecoder::new(schema.clone(), footer.version())
        .with_projection(selection.indices.clone());
    // The byte range of a block, checked against the file before slicing.
    let block_data = |block: &arrow_ipc::Block| -> Result<Buffer> {
        let (off, meta, body) = (block.offset(), block.metaDataLength(), block.bodyLength());
        let end = usize::try_from(off)
            .ok()
            .zip(usize::try_from(meta).ok())
            .zip(usize::try_from(body).ok())
            .and_then(|((o, m), b)| Some((o, o.checked_add(m)?.checked_add(b)?)));
        match end {
            Some((o, e)) if e <= len - 10 - footer_len => Ok(buffer.slice_with_length(o, e - o)),
            _ => Err(bad(format!(
                "a block claims bytes {off}+{meta}+{body}, beyond the data of the file"
            ))),
        }
    };
    for block in footer.dictionaries().iter().flatten() {
        let data = block_data(block)?;
        guarded(|| decoder.read_dictionary(block, &data))
            .map_err(|e| bad(format!("a dictionary is malformed: {e}")))?
            .map_err(|e| bad(format!("a dictionary is malformed: {e}")))?;
    }
    let blocks = footer
        .recordBatches()
        .map(|b| b.iter().copied().collect::<Vec<_>>());
    let blocks = blocks.unwrap_or_default();
    let mut batches = Vec::with_capacity(blocks.len());
    let mut first = 0usize;
    let mut copied = false;
    for (b, block) in blocks.iter().enumerate() {
        let data = block_data(block)?;
        let Some(batch) = guarded(|| decoder.read_record_batch(block, &data))
            .map_err(|e| bad(format!("record batch {b} is malformed: {e}")))?
            .map_err(|e| bad(format!("record batch {b} is malformed: {e}")))?
        else {
            continue;
        };
        if batch.num_columns() != selection.indices.len() {
            return Err(bad(format!(
                "record batch {b} has {} columns where the schema selects {}",
                batch.num_columns(),
                selection.indices.len()
            )));
        }
        let arrays = batch
            .columns()
            .iter()
            .zip(&selection.indices)
            .map(|(a, &i)| typed_column(a, schema.field(i).name(), first, selection.dtype, path))
            .collect::<Result<Vec<_>>>()?;
        // A column of the read type that is not a slice of the mapping was
        // decompressed (or realigned) by the decoder.
        copied |= batch.columns().iter().zip(&arrays).any(|(raw, typed)| {
            raw.data_type() == typed.data_type()
                && !range.contains(&(typed.to_data().buffers()[0].as_ptr() as usize))
        });
        first += batch.num_rows();
        batches.push(Batch::from_arrays(arrays, selection.dtype));
    }
    let conversion = match (&selection.converted, copied) {
        (None, false) => None,
        (None, true) => Some("compressed or unaligned buffers decoded into memory".to_string()),
        (Some(why), false) => Some(why.clone()),
        (Some(why), true) => Some(format!("compressed buffers decoded into memory, {why}")),
    };
    ColumnarFile::assemble(
        Format::Arrow,
        path,
        &schema,
        &selection,
        batches,
        conversion,
        blocks.len(),
        stamp,
    )
}

/// An Arrow IPC *stream* (`.arrows`, or a file that starts with the stream's
/// continuation marker): read batch by batch into memory.
fn open_stream(
    file: File,
    path: &Path,
    columns: Option<&[String]>,
    stamp: (u64, Option<std::time::SystemTime>),
) -> Result<ColumnarFile> {
    let bad = |m: String| Error::arrow(m, path);
    let again = File::open(path).map_err(|e| Error::io(e, path))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let probe = arrow_ipc::reader::StreamReader::try_new(reader, None)
        .map_err(|e| bad(format!("the stream's schema cannot be read: {e}")))?;
    let schema = probe.schema();
    let selection = select(&schema, columns, path)?;
    drop(probe);
    let reader = std::io::BufReader::with_capacity(1 << 20, again);
    let stream = arrow_ipc::reader::StreamReader::try_new(reader, Some(selection.indices.clone()))
        .map_err(|e| bad(format!("the stream's schema cannot be read: {e}")))?;
    let mut batches = Vec::new();
    let mut first = 0usize;
    let mut stream = stream.enumerate();
    while let Some((b, batch)) =
        guarded(|| stream.next()).map_err(|e| bad(format!("a record batch is malformed: {e}")))?
    {
        let batch = batch.map_err(|e| bad(format!("record batch {b} is malformed: {e}")))?;
        let arrays = batch
            .columns()
            .iter()
            .zip(&selection.indices)
            .map(|(a, &i)| typed_column(a, schema.field(i).name(), first, selection.dtype, path))
            .collect::<Result<Vec<_>>>()?;
        first += batch.num_rows();
        batches.push(Batch::from_arrays(arrays, selection.dtype));
    }
    let conversion = Some(match &selection.converted {
        Some(why) => format!("an Arrow stream, read into memory, {why}"),
        None => "an Arrow stream, read into memory".to_string(),
    });
    let n_batches = batches.len();
    ColumnarFile::assemble(
        Format::Arrow,
        path,
        &schema,
        &selection,
        batches,
        conversion,
        n_batches,
        stamp,
    )
}
