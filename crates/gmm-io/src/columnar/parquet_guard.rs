//! What a Parquet file's metadata asks a reader to allocate, checked against
//! what the file can hold before the parquet crate is given the file.
//!
//! The parquet crate trusts several counts it reads: a schema element's
//! `num_children` becomes a `Vec::with_capacity` (2^31 - 1 children reserve
//! 16 GiB), nested schema elements become recursion (10,000 levels overflow
//! the stack), a page's `uncompressed_page_size` is reserved before the page
//! is decompressed (2^31 - 1 per page), a dictionary page's `num_values` is
//! decoded into that many values. Here the Thrift (compact protocol) bytes
//! of the footer and of the page headers of the columns read are walked
//! first, without allocating anything they claim:
//!
//! - every list, set, map and binary claims no more elements or bytes than
//!   remain in its buffer (each element takes at least one byte), and
//!   structures nest at most [`MAX_DEPTH`] deep;
//! - the schema tree is at most [`MAX_SCHEMA_DEPTH`] levels deep and no
//!   element claims more children than elements follow it;
//! - every page of a column read lies inside its column chunk; its values are
//!   at most the rows of its row group; its uncompressed size is at most what
//!   that many values and their levels can take; a dictionary holds no more
//!   values than its page's bytes can;
//! - a column the schema declares REQUIRED has pages without definition
//!   levels (a v2 page says how many level bytes it has; a PLAIN v1 page of
//!   fixed-width values has exactly their bytes) and no nulls in its
//!   statistics: otherwise its level bytes would be read as values.

use std::fs::File;
use std::os::unix::fs::FileExt;

use parquet::basic::Type as PhysicalType;
use parquet::file::metadata::ParquetMetaData;

/// Deepest nesting of Thrift structures, lists and maps accepted.
pub(super) const MAX_DEPTH: usize = 64;

/// Deepest schema tree accepted (the root is level 0).
pub(super) const MAX_SCHEMA_DEPTH: usize = 64;

/// A reason the file is refused.
pub(super) type Refusal = String;

/// Thrift compact protocol element types.
mod ty {
    pub const STOP: u8 = 0;
    pub const TRUE: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const I16: u8 = 4;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const DOUBLE: u8 = 7;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const SET: u8 = 10;
    pub const MAP: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const UUID: u8 = 13;
}

/// Why a walk stopped.
#[derive(Debug)]
enum Stop {
    /// The bytes ended inside a value: more may be read (page headers).
    Short,
    /// The bytes are not valid for what they claim.
    Bad(String),
}

type Walk<T> = std::result::Result<T, Stop>;

/// A cursor over Thrift compact-protocol bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
    /// True when `buf` is all there is: a claim beyond it is refused, not
    /// a reason to read more.
    whole: bool,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], whole: bool) -> Self {
        Self {
            buf,
            pos: 0,
            depth: 0,
            whole,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Walk<u8> {
        let b = *self.buf.get(self.pos).ok_or(Stop::Short)?;
        self.pos += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Walk<()> {
        if n > self.remaining() {
            return Err(Stop::Short);
        }
        self.pos += n;
        Ok(())
    }

    fn varint(&mut self) -> Walk<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(Stop::Bad("a varint overflows 64 bits".into()));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Stop::Bad("a varint is longer than 10 bytes".into()))
    }

    fn zigzag(&mut self) -> Walk<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A count or length that must fit in what is left, `min` bytes each.
    fn count(&mut self, n: u64, min: usize, what: &str) -> Walk<usize> {
        let fits = usize::try_from(n)
            .ok()
            .filter(|&n| n.saturating_mul(min) <= self.remaining());
        match fits {
            Some(n) => Ok(n),
            None if !self.whole => Err(Stop::Short),
            None => Err(Stop::Bad(format!(
                "{what} claims {n} elements, more than the {} bytes left can hold",
                self.remaining()
            ))),
        }
    }

    fn enter(&mut self) -> Walk<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Stop::Bad(format!(
                "the metadata nests more than {MAX_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    /// Skips an element of a list, set or map of type `t`: as a field's
    /// value, but a boolean takes a byte.
    fn skip_element(&mut self, t: u8) -> Walk<()> {
        match t {
            ty::TRUE | ty::FALSE => self.skip(1),
            t => self.skip_value(t),
        }
    }

    /// Skips the value of a field of type `t` (a boolean field's value is
    /// in its type, so it takes no byte).
    fn skip_value(&mut self, t: u8) -> Walk<()> {
        match t {
            ty::TRUE | ty::FALSE => Ok(()),
            ty::BYTE => self.skip(1),
            ty::I16 | ty::I32 | ty::I64 => self.varint().map(|_| ()),
            ty::DOUBLE => self.skip(8),
            ty::UUID => self.skip(16),
            ty::BINARY => {
                let n = self.varint()?;
                let n = self.count(n, 1, "a string")?;
                self.skip(n)
            }
            ty::LIST | ty::SET => {
                let (n, et) = self.list_header()?;
                self.enter()?;
                for _ in 0..n {
                    self.skip_element(et)?;
                }
                self.depth -= 1;
                Ok(())
            }
            ty::MAP => {
                let n = self.varint()?;
                let n = self.count(n, 2, "a map")?;
                if n > 0 {
                    let kv = self.byte()?;
                    self.enter()?;
                    for _ in 0..n {
                        self.skip_element(kv >> 4)?;
                        self.skip_element(kv & 0x0f)?;
                    }
                    self.depth -= 1;
                }
                Ok(())
            }
            ty::STRUCT => self.read_struct(&mut |r, _, t| r.skip_value(t)),
            other => Err(Stop::Bad(format!("unknown Thrift type {other}"))),
        }
    }

    /// A list's length (checked against the bytes left) and element type.
    fn list_header(&mut self) -> Walk<(usize, u8)> {
        let h = self.byte()?;
        let et = h & 0x0f;
        let n = match h >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        // Booleans in a list take a byte each, like every other element.
        Ok((self.count(n, 1, "a list")?, et))
    }

    /// Walks a structure, handing each field's id and type to `field`, which
    /// must read or skip the value.
    fn read_struct(&mut self, field: &mut dyn FnMut(&mut Self, i16, u8) -> Walk<()>) -> Walk<()> {
        self.enter()?;
        let mut last = 0i16;
        loop {
            let h = self.byte()?;
            let t = h & 0x0f;
            if t == ty::STOP {
                break;
            }
            let id = match h >> 4 {
                0 => i16::try_from(self.zigzag()?)
                    .map_err(|_| Stop::Bad("a field id is out of range".into()))?,
                delta => last.wrapping_add(i16::from(delta)),
            };
            last = id;
            field(self, id, t)?;
        }
        self.depth -= 1;
        Ok(())
    }

    /// An integer field's value (I16, I32 or I64).
    fn int(&mut self, t: u8) -> Walk<i64> {
        match t {
            ty::I16 | ty::I32 | ty::I64 => self.zigzag(),
            other => {
                self.skip_value(other)?;
                Err(Stop::Bad("an integer field holds another type".into()))
            }
        }
    }
}

fn refusal(stop: Stop, what: &str) -> Refusal {
    match stop {
        Stop::Short => format!("{what} is truncated"),
        Stop::Bad(why) => format!("{what} is malformed: {why}"),
    }
}

/// Checks the footer of the Parquet file `file` of `len` bytes: the Thrift
/// structure of its metadata (see the module documentation) and its schema
/// tree.
pub(super) fn check_footer(file: &File, len: u64) -> Result<(), Refusal> {
    if len < 12 {
        return Err("the file is too short to be Parquet (12 bytes at least)".into());
    }
    let mut tail = [0u8; 8];
    file.read_exact_at(&mut tail, len - 8)
        .map_err(|e| format!("the footer cannot be read: {e}"))?;
    if &tail[4..] != b"PAR1" {
        return Err("the file does not end with PAR1: it is truncated or not Parquet".into());
    }
    let meta_len = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    if meta_len > len - 12 {
        return Err(format!(
            "the footer claims {meta_len} bytes of metadata, more than the file holds"
        ));
    }
    if &tail[..4] == b"PARE" || meta_len == 0 {
        return Err("the metadata is empty or encrypted".into());
    }
    let mut meta = vec![0u8; meta_len as usize];
    file.read_exact_at(&mut meta, len - 8 - meta_len)
        .map_err(|e| format!("the metadata cannot be read: {e}"))?;
    let mut r = Reader::new(&meta, true);
    // FileMetaData: field 2 is the schema, a list of SchemaElement.
    let mut children: Vec<i64> = Vec::new();
    r.read_struct(&mut |r, id, t| {
        if id != 2 || t != ty::LIST {
            return r.skip_value(t);
        }
        let (n, et) = r.list_header()?;
        if et != ty::STRUCT {
            return Err(Stop::Bad("the schema is not a list of elements".into()));
        }
        r.enter()?;
        for _ in 0..n {
            let mut num_children = 0i64;
            r.read_struct(&mut |r, id, t| {
                if id == 5 {
                    num_children = r.int(t)?;
                    Ok(())
                } else {
                    r.skip_value(t)
                }
            })?;
            children.push(num_children);
        }
        r.depth -= 1;
        Ok(())
    })
    .map_err(|s| refusal(s, "the metadata"))?;
    check_schema_tree(&children)
}

/// The schema elements in depth-first order, each with its number of
/// children: every claim fits in the elements that follow, and the tree is
/// at most [`MAX_SCHEMA_DEPTH`] deep.
fn check_schema_tree(children: &[i64]) -> Result<(), Refusal> {
    // Children still to come at each open level.
    let mut open: Vec<i64> = Vec::new();
    for (i, &n) in children.iter().enumerate() {
        if n < 0 {
            return Err(format!("schema element {i} claims {n} children"));
        }
        let left = (children.len() - i - 1) as i64;
        if n > left {
            return Err(format!(
                "schema element {i} claims {n} children, but {left} elements follow it"
            ));
        }
        if let Some(top) = open.last_mut() {
            *top -= 1;
        }
        if n > 0 {
            open.push(n);
            if open.len() > MAX_SCHEMA_DEPTH {
                return Err(format!(
                    "the schema nests more than {MAX_SCHEMA_DEPTH} levels deep"
                ));
            }
        }
        while open.last() == Some(&0) {
            open.pop();
        }
        if open.is_empty() && i + 1 < children.len() && i > 0 {
            return Err("the schema has more than one root".into());
        }
    }
    Ok(())
}

/// One page header's fields that bound what decoding it allocates.
#[derive(Default)]
struct PageHeader {
    page_type: i64,
    uncompressed: i64,
    compressed: i64,
    /// Values (with nulls) of a data page, or entries of a dictionary.
    num_values: Option<i64>,
    encoding: Option<i64>,
    /// Bytes of definition and repetition levels of a v2 page.
    level_bytes: Option<(i64, i64)>,
    null_count: Option<i64>,
}

/// Page types of parquet-format.
const DATA_PAGE: i64 = 0;
const DICTIONARY_PAGE: i64 = 2;
const DATA_PAGE_V2: i64 = 3;
/// The PLAIN encoding.
const PLAIN: i64 = 0;

/// Reads a page header's fields, skipping the rest.
fn page_header(r: &mut Reader<'_>) -> Walk<PageHeader> {
    let mut h = PageHeader::default();
    r.read_struct(&mut |r, id, t| match (id, t) {
        (1, _) => r.int(t).map(|v| h.page_type = v),
        (2, _) => r.int(t).map(|v| h.uncompressed = v),
        (3, _) => r.int(t).map(|v| h.compressed = v),
        // DataPageHeader, DictionaryPageHeader, DataPageHeaderV2.
        (5 | 7 | 8, ty::STRUCT) => {
            let v2 = id == 8;
            r.read_struct(&mut |r, id, t| match (id, t) {
                (1, _) => r.int(t).map(|v| h.num_values = Some(v)),
                (2, _) if v2 => r.int(t).map(|v| h.null_count = Some(v)),
                (2, _) => r.int(t).map(|v| h.encoding = Some(v)),
                (4, _) if v2 => r.int(t).map(|v| h.encoding = Some(v)),
                (5, _) if v2 => r.int(t).map(|v| {
                    let rep = h.level_bytes.map_or(0, |l| l.1);
                    h.level_bytes = Some((v, rep));
                }),
                (6, _) if v2 => r.int(t).map(|v| {
                    let def = h.level_bytes.map_or(0, |l| l.0);
                    h.level_bytes = Some((def, v));
                }),
                // Statistics of a v1 (5) or v2 (8) page: null_count is field 3.
                (5, ty::STRUCT) if !v2 => stats_nulls(r, &mut h.null_count),
                (8, ty::STRUCT) if v2 => stats_nulls(r, &mut h.null_count),
                (_, t) => r.skip_value(t),
            })
        }
        (_, t) => r.skip_value(t),
    })?;
    Ok(h)
}

fn stats_nulls(r: &mut Reader<'_>, nulls: &mut Option<i64>) -> Walk<()> {
    r.read_struct(&mut |r, id, t| {
        if id == 3 {
            let v = r.int(t)?;
            if v > 0 {
                *nulls = Some(nulls.unwrap_or(0).max(v));
            }
            Ok(())
        } else {
            r.skip_value(t)
        }
    })
}

/// Bytes a PLAIN value of `physical` type takes: exactly (`Some`), or at
/// least 4 and, for the numbers gmm reads (decimals of at most 32 bytes),
/// at most 36 (`None`: a length-prefixed byte array).
fn value_width(physical: PhysicalType, type_length: i32) -> Option<u64> {
    match physical {
        PhysicalType::BOOLEAN => Some(1),
        PhysicalType::INT32 | PhysicalType::FLOAT => Some(4),
        PhysicalType::INT64 | PhysicalType::DOUBLE => Some(8),
        PhysicalType::INT96 => Some(12),
        PhysicalType::FIXED_LEN_BYTE_ARRAY => u64::try_from(type_length).ok(),
        PhysicalType::BYTE_ARRAY => None,
    }
}

/// Checks the page headers of the leaf columns `leaves` in every row group
/// (see the module documentation); `memory` bounds any one page.
pub(super) fn check_pages(
    file: &File,
    len: u64,
    meta: &ParquetMetaData,
    leaves: &[usize],
    memory: Option<u64>,
) -> Result<(), Refusal> {
    for (g, rg) in meta.row_groups().iter().enumerate() {
        let rows = u64::try_from(rg.num_rows())
            .map_err(|_| format!("row group {g} claims {} rows", rg.num_rows()))?;
        for &leaf in leaves {
            let col = rg.column(leaf);
            let descr = col.column_descr();
            let name = descr.path().string();
            let at = |what: String| format!("column '{name}', row group {g}: {what}");
            // (ColumnChunkMetaData::byte_range asserts non-negative values.)
            let first = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset());
            let (start, size) = (first, col.compressed_size());
            let end = u64::try_from(start)
                .ok()
                .zip(u64::try_from(size).ok())
                .and_then(|(s, n)| s.checked_add(n))
                .filter(|&e| e <= len)
                .ok_or_else(|| {
                    at(format!(
                        "the column chunk claims bytes {start}+{size}, outside the file"
                    ))
                })?;
            let start = start as u64;
            let width = value_width(descr.physical_type(), descr.type_length());
            let required = descr.max_def_level() == 0 && descr.max_rep_level() == 0;
            if required
                && col
                    .statistics()
                    .and_then(|s| s.null_count_opt())
                    .is_some_and(|n| n > 0)
            {
                return Err(at(
                    "the schema says REQUIRED but the statistics count nulls".to_string(),
                ));
            }
            let mut pos = start;
            let mut dictionary_values: Option<u64> = None;
            while pos < end {
                let (h, header_len) = read_page_header(file, pos, end)
                    .map_err(|why| at(format!("a page header at byte {pos} {why}")))?;
                let (Ok(unc), Ok(comp)) =
                    (u64::try_from(h.uncompressed), u64::try_from(h.compressed))
                else {
                    return Err(at(format!(
                        "a page claims a negative size ({} compressed, {} uncompressed)",
                        h.compressed, h.uncompressed
                    )));
                };
                let body = pos + header_len;
                if comp > end - body {
                    return Err(at(format!(
                        "a page claims {comp} bytes, beyond its column chunk"
                    )));
                }
                let values = h.num_values.map(|v| u64::try_from(v).unwrap_or(u64::MAX));
                let bound = |n: u64| -> u64 {
                    // Values, then levels (at most 8 bytes per value with
                    // their run headers), then a little framing.
                    n.saturating_mul(width.unwrap_or(36).saturating_add(8))
                        .saturating_add(1024)
                };
                match h.page_type {
                    DICTIONARY_PAGE => {
                        let n =
                            values.ok_or_else(|| at("a dictionary page has no header".into()))?;
                        if n.saturating_mul(width.unwrap_or(4)) > unc {
                            return Err(at(format!(
                                "a dictionary page claims {n} values in {unc} bytes"
                            )));
                        }
                        if unc > bound(rows) {
                            return Err(at(format!(
                                "a dictionary page claims {unc} uncompressed bytes, more than \
                                 the column's values can take"
                            )));
                        }
                        dictionary_values = Some(n);
                    }
                    DATA_PAGE | DATA_PAGE_V2 => {
                        let n = values.ok_or_else(|| at("a data page has no header".into()))?;
                        if n > rows {
                            return Err(at(format!(
                                "a data page claims {n} values in a row group of {rows} rows"
                            )));
                        }
                        let dictionary_encoded = matches!(h.encoding, Some(2 | 8));
                        if unc > bound(n) {
                            return Err(at(format!(
                                "a page claims {unc} uncompressed bytes for {n} values"
                            )));
                        }
                        if dictionary_encoded && dictionary_values.is_none() {
                            return Err(at("a dictionary-encoded page has no dictionary".into()));
                        }
                        if required {
                            let levels = h.level_bytes.is_some_and(|(d, r)| d != 0 || r != 0);
                            let plain_extra = h.page_type == DATA_PAGE
                                && h.encoding == Some(PLAIN)
                                && width.is_some_and(|w| w > 1 && unc != n.saturating_mul(w));
                            if levels || plain_extra || h.null_count.is_some_and(|c| c > 0) {
                                return Err(at(
                                    "the schema says REQUIRED but a page holds definition levels \
                                     or nulls (the file's schema does not match its data)"
                                        .to_string(),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(m) = memory
                    && unc > m
                {
                    return Err(at(format!(
                        "a page would take {} of memory, more than the {} available",
                        gmm_core::human_bytes(unc),
                        gmm_core::human_bytes(m)
                    )));
                }
                pos = body + comp;
            }
        }
    }
    Ok(())
}

/// Reads the page header at `pos` (the column chunk ends at `end`): the
/// header and the number of bytes it takes. The bytes read grow from 4 KiB
/// as needed, never past the chunk.
fn read_page_header(file: &File, pos: u64, end: u64) -> Result<(PageHeader, u64), String> {
    let mut window = 4096u64;
    loop {
        let take = window.min(end - pos);
        let mut buf = vec![0u8; take as usize];
        file.read_exact_at(&mut buf, pos)
            .map_err(|e| format!("cannot be read: {e}"))?;
        let mut r = Reader::new(&buf, take == end - pos);
        match page_header(&mut r) {
            Ok(h) => return Ok((h, r.pos as u64)),
            Err(Stop::Short) if take < end - pos && window < (64 << 20) => window *= 8,
            Err(Stop::Short) => return Err("runs past its column chunk".into()),
            Err(Stop::Bad(why)) => return Err(format!("is malformed: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_trees_are_checked_without_recursion() {
        assert!(check_schema_tree(&[2, 0, 0]).is_ok());
        assert!(check_schema_tree(&[1, 1, 0]).is_ok());
        assert!(
            check_schema_tree(&[i32::MAX as i64, 0])
                .unwrap_err()
                .contains("children")
        );
        let deep: Vec<i64> = (0..10_000).map(|i| if i < 9_999 { 1 } else { 0 }).collect();
        assert!(
            check_schema_tree(&deep)
                .unwrap_err()
                .contains("levels deep")
        );
        assert!(check_schema_tree(&[-1]).is_err());
    }

    #[test]
    fn claims_beyond_the_bytes_are_refused() {
        // A list header claiming 2^31 - 1 elements of i32 (type 5), then nothing.
        let mut bytes = vec![0xf5];
        let mut n = (1u64 << 31) - 1;
        while n >= 0x80 {
            bytes.push((n as u8) | 0x80);
            n >>= 7;
        }
        bytes.push(n as u8);
        let mut r = Reader::new(&bytes, true);
        assert!(matches!(r.skip_value(ty::LIST), Err(Stop::Bad(m)) if m.contains("claims")));
        // Structures nested past the limit.
        let nested = vec![0x1c; 10_000];
        let mut r = Reader::new(&nested, true);
        assert!(matches!(r.skip_value(ty::STRUCT), Err(Stop::Bad(m)) if m.contains("levels")));
    }
}
