//! Files whose headers claim far more than they hold (issue 30, items 2, 3,
//! 6 and 7), each refused with a one-line error naming what is wrong, and
//! their honest twins read correctly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};

use crate::craft::{self, BIN, I32, Page, Parquet, STRUCT, T};
use crate::values;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn refused(path: &Path, needle: &str) {
    match values(path) {
        Ok(v) => panic!("{} was read ({} values)", path.display(), v.len()),
        Err(e) => {
            assert!(e.contains(needle), "{e:?} lacks {needle:?}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}

fn xs(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 * 0.5 - 3.0).collect()
}

fn parquet_cases(dir: &Path) {
    let x = xs(100);
    // Honest files read back exactly: REQUIRED, OPTIONAL with levels,
    // checksummed, snappy.
    let p = write(dir, "ok.parquet", &Parquet::required(&x).bytes());
    assert_eq!(values(&p).unwrap(), x);
    let mut optional = Parquet::required(&x);
    optional.repetition = 1;
    optional.pages = vec![Page::plain_with_levels(&x)];
    let p = write(dir, "optional.parquet", &optional.bytes());
    assert_eq!(values(&p).unwrap(), x);
    let mut sum = Parquet::required(&x);
    let crc = craft::crc32(&sum.pages[0].body);
    sum.pages[0].crc = Some(crc as i32);
    let p = write(dir, "crc.parquet", &sum.bytes());
    assert_eq!(values(&p).unwrap(), x);
    let mut snappy = Parquet::required(&x);
    snappy.codec = 1;
    snappy.pages = x
        .chunks(40)
        .map(|c| {
            let plain = Page::plain(c);
            Page {
                body: craft::snappy(&plain.body),
                ..plain
            }
        })
        .collect();
    let p = write(dir, "snappy.parquet", &snappy.bytes());
    assert_eq!(values(&p).unwrap(), x);

    // 6: a flipped byte in a checksummed page.
    let mut flipped = sum.clone();
    flipped.pages[0].body[17] ^= 0x40;
    let p = write(dir, "flipped.parquet", &flipped.bytes());
    refused(&p, "checksum");

    // 7: REQUIRED in the schema, definition levels in the pages.
    let mut lying = optional.clone();
    lying.repetition = 0;
    let p = write(dir, "lying.parquet", &lying.bytes());
    refused(&p, "REQUIRED");
    let mut v2 = Parquet::required(&x);
    let mut page = Page::plain_with_levels(&x);
    page.page_type = 3;
    page.def_level_bytes = 6;
    v2.pages = vec![page];
    let p = write(dir, "lying_v2.parquet", &v2.bytes());
    refused(&p, "REQUIRED");

    // 2: a dictionary page claiming 2^31 - 1 values.
    let mut dict = Parquet::required(&x);
    let entries = [1.0f64, 2.0, 3.0];
    let dict_body: Vec<u8> = entries.iter().flat_map(|v| v.to_le_bytes()).collect();
    // Bit width 2, then one RLE run (header varint 100 << 1) of index 1.
    let indices = vec![2u8, 0xc8, 0x01, 1];
    dict.pages = vec![
        Page {
            page_type: 2,
            uncompressed: dict_body.len() as i32,
            body: dict_body,
            num_values: i32::MAX,
            encoding: 0,
            crc: None,
            def_level_bytes: 0,
        },
        Page {
            page_type: 0,
            uncompressed: indices.len() as i32,
            body: indices,
            num_values: x.len() as i32,
            encoding: 8,
            crc: None,
            def_level_bytes: 0,
        },
    ];
    let p = write(dir, "dict_claims.parquet", &dict.bytes());
    refused(&p, "dictionary page claims 2147483647 values");
    // Its honest twin reads 100 times the value 2.0.
    dict.pages[0].num_values = 3;
    let p = write(dir, "dict.parquet", &dict.bytes());
    assert_eq!(values(&p).unwrap(), vec![2.0; 100]);

    // 2: three snappy pages each claiming 2^31 - 1 uncompressed bytes.
    let mut huge = snappy.clone();
    for page in &mut huge.pages {
        page.uncompressed = i32::MAX;
    }
    let p = write(dir, "huge_pages.parquet", &huge.bytes());
    refused(&p, "uncompressed bytes");

    // A column chunk at a negative offset (the parquet crate asserts).
    let mut before = Parquet::required(&x);
    before.data_page_offset = Some(-5);
    let p = write(dir, "negative.parquet", &before.bytes());
    refused(&p, "outside the file");

    // 3: a schema whose root claims 2^31 - 1 columns.
    let mut wide = Parquet::required(&x);
    wide.root_children = i32::MAX;
    let p = write(dir, "wide.parquet", &wide.bytes());
    refused(&p, "children");

    // 3: a schema nested 10,000 deep.
    let mut deep = Parquet::required(&x);
    deep.nesting = 9_999;
    let p = write(dir, "deep.parquet", &deep.bytes());
    refused(&p, "levels deep");

    // 3: metadata whose schema list claims 2^31 - 1 elements.
    let mut bytes = b"PAR1".to_vec();
    let mut footer = Vec::new();
    footer.push(0x15); // field 1, i32
    T::I32(1).encode(&mut footer);
    footer.push(0x19); // field 2, list
    craft::list_header(i32::MAX as u64, STRUCT, &mut footer);
    footer.extend_from_slice(&T::Struct(vec![(4, craft::s("schema"))]).bytes());
    footer.push(0);
    bytes.extend_from_slice(&footer);
    bytes.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    bytes.extend_from_slice(b"PAR1");
    let p = write(dir, "long_list.parquet", &bytes);
    refused(&p, "claims 2147483647 elements");
    // Unused encodings of the crafting module stay exercised.
    let _ = (I32, BIN);
}

fn batch() -> RecordBatch {
    RecordBatch::try_from_iter([
        ("a", Arc::new(Float64Array::from(xs(1000))) as _),
        (
            "b",
            Arc::new(Float64Array::from(
                (0..1000).map(f64::from).collect::<Vec<_>>(),
            )) as _,
        ),
    ])
    .unwrap()
}

fn lz4_options() -> IpcWriteOptions {
    IpcWriteOptions::default()
        .try_with_compression(Some(arrow_ipc::CompressionType::LZ4_FRAME))
        .unwrap()
}

/// Sets the decompressed-length prefix of the first non-empty buffer of
/// the record batch whose message starts at `at` (continuation marker,
/// length, flatbuffer, then the body) to `claim`.
fn claim_in_message(bytes: &mut [u8], at: usize, claim: i64) {
    let len = i32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    let message = arrow_ipc::root_as_message(&bytes[at + 8..at + 8 + len]).unwrap();
    let batch = message.header_as_record_batch().unwrap();
    let buffer = batch
        .buffers()
        .unwrap()
        .iter()
        .find(|b| b.length() >= 8)
        .unwrap();
    let pos = at + 8 + len + buffer.offset() as usize;
    bytes[pos..pos + 8].copy_from_slice(&claim.to_le_bytes());
}

fn arrow_cases(dir: &Path) {
    let b = batch();
    let mut file = Vec::new();
    {
        let mut w =
            FileWriter::try_new_with_options(&mut file, &b.schema(), lz4_options()).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
    }
    let p = write(dir, "lz4.arrow", &file);
    let read = values(&p).unwrap();
    assert_eq!(read.len(), 2000);
    assert_eq!(&read[..1000], &xs(1000)[..]);
    // 3: an LZ4 buffer claiming 2^50 decompressed bytes, in a file.
    let footer_len = i32::from_le_bytes(file[file.len() - 10..file.len() - 6].try_into().unwrap());
    let footer_at = file.len() - 10 - footer_len as usize;
    let footer = arrow_ipc::root_as_footer(&file[footer_at..file.len() - 10]).unwrap();
    let at = footer.recordBatches().unwrap().get(0).offset() as usize;
    claim_in_message(&mut file, at, 1 << 50);
    let p = write(dir, "lz4_claims.arrow", &file);
    refused(&p, "decompressed");

    // ... and in a stream.
    let mut stream = Vec::new();
    {
        let mut w =
            StreamWriter::try_new_with_options(&mut stream, &b.schema(), lz4_options()).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
    }
    let p = write(dir, "lz4.arrows", &stream);
    assert_eq!(values(&p).unwrap().len(), 2000);
    // The schema message first: skip it.
    let len = i32::from_le_bytes(stream[4..8].try_into().unwrap()) as usize;
    let schema = arrow_ipc::root_as_message(&stream[8..8 + len]).unwrap();
    let at = 8 + len + schema.bodyLength() as usize;
    claim_in_message(&mut stream, at, 1 << 50);
    let p = write(dir, "lz4_claims.arrows", &stream);
    refused(&p, "decompressed");
}

#[test]
#[ignore = "run by crafted_bombs_are_refused_within_the_memory_bound, in a bounded child"]
fn worker() {
    let dir = tempfile::tempdir().unwrap();
    parquet_cases(dir.path());
    arrow_cases(dir.path());
}
