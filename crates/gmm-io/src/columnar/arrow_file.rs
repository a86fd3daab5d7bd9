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
    if map.starts_with(&[0xff, 0xff, 0xff, 0xff]) || is_legacy_stream(&map) {
        check_stream(&map).map_err(bad)?;
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
        check_block(&data).map_err(|why| bad(format!("a dictionary {why}")))?;
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
        check_block(&data).map_err(|why| bad(format!("record batch {b} {why}")))?;
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

/// True if `bytes` start like an IPC stream of Arrow before 0.15, whose
/// messages have no continuation marker: a positive metadata length, then
/// a flatbuffer Message holding the schema.
fn is_legacy_stream(bytes: &[u8]) -> bool {
    let Some(len) = bytes
        .get(..4)
        .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
    else {
        return false;
    };
    let Some(meta) = usize::try_from(len)
        .ok()
        .filter(|&l| l > 0)
        .and_then(|l| bytes.get(4..4 + l))
    else {
        return false;
    };
    arrow_ipc::root_as_message(meta)
        .is_ok_and(|m| m.header_type() == arrow_ipc::MessageHeader::Schema)
}

/// A message's framing at the start of `bytes`: the flatbuffer's range.
/// The continuation marker `0xFFFFFFFF` precedes the length since Arrow
/// 0.15; older streams and files start with the length.
fn message_at(bytes: &[u8]) -> Result<Option<std::ops::Range<usize>>, String> {
    let word = |at: usize| -> Option<i32> {
        bytes
            .get(at..at + 4)
            .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let (len, start) = match word(0) {
        None => return Ok(None),
        Some(-1) => (word(4).unwrap_or(0), 8usize),
        Some(len) => (len, 4),
    };
    if len == 0 {
        return Ok(None); // The end-of-stream marker.
    }
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| format!("a message claims {len} bytes of metadata, beyond the file"))?;
    Ok(Some(start..end))
}

/// Checks one IPC block (a message and its body, as a file's footer locates
/// it; see [`check_message`]).
fn check_block(block: &[u8]) -> Result<(), String> {
    let Some(meta) = message_at(block)? else {
        return Err("is empty".into());
    };
    let message = arrow_ipc::root_as_message(&block[meta.clone()])
        .map_err(|e| format!("has malformed metadata: {e}"))?;
    // The body follows the metadata, padded to 8 bytes.
    let body_len = usize::try_from(message.bodyLength()).unwrap_or(usize::MAX);
    let body = block
        .len()
        .checked_sub(body_len)
        .filter(|&start| start >= meta.end)
        .map(|start| &block[start..])
        .ok_or_else(|| "claims a body longer than its block".to_string())?;
    check_message(&message, body)
}

/// Checks every message of an IPC stream held in `bytes`.
fn check_stream(bytes: &[u8]) -> Result<(), String> {
    let mut pos = 0usize;
    while let Some(meta) = message_at(&bytes[pos..])? {
        let message = arrow_ipc::root_as_message(&bytes[pos + meta.start..pos + meta.end])
            .map_err(|e| format!("a message's metadata is malformed: {e}"))?;
        let body_start = pos + meta.end;
        let body_end = usize::try_from(message.bodyLength())
            .ok()
            .and_then(|l| body_start.checked_add(l))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| {
                format!(
                    "a message claims a body of {} bytes, beyond the end of the stream",
                    message.bodyLength()
                )
            })?;
        check_message(&message, &bytes[body_start..body_end])
            .map_err(|why| format!("a message {why}"))?;
        pos = body_end;
    }
    Ok(())
}

/// Checks what decoding a record batch (or a dictionary batch) allocates:
/// each compressed buffer's 8-byte prefix claims its decompressed length,
/// which arrow-ipc reserves before decompressing. LZ4 frames expand at most
/// 255-fold, and no buffer can take more than the memory available.
fn check_message(message: &arrow_ipc::Message<'_>, body: &[u8]) -> Result<(), String> {
    let batch = match message.header_type() {
        arrow_ipc::MessageHeader::RecordBatch => message.header_as_record_batch(),
        arrow_ipc::MessageHeader::DictionaryBatch => {
            message.header_as_dictionary_batch().and_then(|d| d.data())
        }
        _ => None,
    };
    let Some(batch) = batch else {
        return Ok(());
    };
    let Some(compression) = batch.compression() else {
        return Ok(());
    };
    let lz4 = compression.codec() == arrow_ipc::CompressionType::LZ4_FRAME;
    let memory = gmm_core::available_memory().unwrap_or(u64::MAX);
    for buffer in batch.buffers().iter().flatten() {
        let (offset, length) = (buffer.offset(), buffer.length());
        if length == 0 {
            continue;
        }
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(length).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?))
            .filter(|r| r.end <= body.len() && r.len() >= 8)
            .ok_or_else(|| {
                format!(
                    "has a buffer at {offset}+{length}, outside its body of {} bytes",
                    body.len()
                )
            })?;
        let prefix = i64::from_le_bytes(body[range.start..range.start + 8].try_into().expect("8"));
        if prefix == -1 {
            continue; // Stored uncompressed.
        }
        let claimed = u64::try_from(prefix)
            .map_err(|_| format!("has a buffer claiming {prefix} decompressed bytes"))?;
        let most = if lz4 {
            ((range.len() - 8) as u64)
                .saturating_mul(255)
                .saturating_add(1 << 16)
        } else {
            u64::MAX
        };
        if claimed > most.min(memory) {
            return Err(format!(
                "has a compressed buffer of {} bytes claiming {} decompressed, more than {}",
                range.len(),
                gmm_core::human_bytes(claimed),
                if claimed > memory {
                    "the memory available"
                } else {
                    "LZ4 can expand it to"
                }
            ));
        }
    }
    Ok(())
}
