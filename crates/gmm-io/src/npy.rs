//! NumPy `.npy` files: header parsing, memory-mapped reading, atomic writing.
//!
//! Layout (format versions 1.0, 2.0, 3.0): the magic `\x93NUMPY`, a major and
//! minor version byte, the header length (`u16` little-endian in 1.0, `u32` in
//! 2.0 and 3.0), then an ASCII (3.0: UTF-8) Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }`, padded
//! with spaces and a newline; the raw array data follows.

use std::fs::File;
use std::path::Path;

use gmm_core::{DataView, Scalar};

use crate::atomic::write_atomically;
use crate::error::{Error, Result};
use crate::mmap::map_readonly;

const MAGIC: &[u8] = b"\x93NUMPY";
/// Headers longer than this are refused (NumPy itself caps them near 10 kB).
const MAX_HEADER_LEN: usize = 1 << 20;

/// Element type of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `<f8`
    F64,
    /// `<f4`
    F32,
}

impl Dtype {
    /// NumPy's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "float64",
            Dtype::F32 => "float32",
        }
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The `descr` string, e.g. `<f8`.
    pub descr: String,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array shape.
    pub shape: Vec<usize>,
    /// Byte offset of the data.
    pub data_offset: usize,
    /// Format version `(major, minor)`.
    pub version: (u8, u8),
}

/// Parses the header at the start of `bytes` (the whole file or its prefix).
pub fn parse_header(bytes: &[u8]) -> std::result::Result<NpyHeader, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(
            "it does not start with the .npy magic \\x93NUMPY (save arrays with numpy.save)".into(),
        );
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("the header is truncated".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        _ => {
            return Err(format!(
                "format version {major}.{minor} is unknown (1.0, 2.0 and 3.0 are read)"
            ));
        }
    };
    if len > MAX_HEADER_LEN {
        return Err(format!(
            "the header claims {len} bytes, more than the {MAX_HEADER_LEN} accepted"
        ));
    }
    let end = start + len;
    if bytes.len() < end {
        return Err(format!(
            "the header is truncated ({} of {end} bytes)",
            bytes.len()
        ));
    }
    let text = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| "the header is not text".to_string())?;
    if major < 3 && !text.is_ascii() {
        return Err("the header is not ASCII".into());
    }
    let dict = literal::parse_dict(text)?;
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in dict {
        match (key.as_str(), value) {
            ("descr", literal::Value::Str(s)) => descr = Some(s),
            ("fortran_order", literal::Value::Bool(b)) => fortran = Some(b),
            ("shape", literal::Value::Tuple(t)) => shape = Some(t),
            ("descr", literal::Value::List) => {
                return Err(
                    "a structured dtype (record array) was found: save a plain numeric 2-D array"
                        .into(),
                );
            }
            (k @ ("descr" | "fortran_order" | "shape"), _) => {
                return Err(format!("the header's '{k}' has the wrong type"));
            }
            (k, _) => return Err(format!("the header has an unknown key '{k}'")),
        }
    }
    Ok(NpyHeader {
        descr: descr.ok_or("the header has no 'descr'")?,
        fortran_order: fortran.ok_or("the header has no 'fortran_order'")?,
        shape: shape.ok_or("the header has no 'shape'")?,
        data_offset: end,
        version: (major, minor),
    })
}

/// An element type as a `.npy` `descr` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ElementType {
    kind: char,
    size: usize,
    big_endian: bool,
}

impl ElementType {
    /// Parses a simple `descr` such as `<f8`, `>i4`, `|b1`; `Err` says what was found.
    fn parse(descr: &str) -> std::result::Result<Self, String> {
        const ACCEPTED: &str = "accepted are float64 and float32 (read in place when little-endian), \
                                and float16, signed/unsigned integers and bool (converted to float64)";
        let bytes = descr.as_bytes();
        if bytes.len() < 2 || !descr.is_ascii() {
            return Err(format!("dtype '{descr}' is not understood: {ACCEPTED}"));
        }
        let big_endian = match bytes[0] {
            b'<' | b'|' => false,
            b'=' => cfg!(target_endian = "big"),
            b'>' => true,
            _ => return Err(format!("dtype '{descr}' is not understood: {ACCEPTED}")),
        };
        let kind = bytes[1] as char;
        // Absent for some kinds (e.g. '|O'); 0 is never accepted below.
        let size: usize = descr[2..].parse().unwrap_or(0);
        let what = match kind {
            'f' if matches!(size, 2 | 4 | 8) => {
                return Ok(Self {
                    kind,
                    size,
                    big_endian,
                });
            }
            'i' | 'u' if matches!(size, 1 | 2 | 4 | 8) => {
                return Ok(Self {
                    kind,
                    size,
                    big_endian,
                });
            }
            'b' if size == 1 => {
                return Ok(Self {
                    kind,
                    size,
                    big_endian,
                });
            }
            'c' => "complex numbers",
            'O' => "Python objects",
            'U' | 'S' | 'a' => "strings",
            'V' => "raw or structured records",
            'M' | 'm' => "dates or time deltas",
            _ => "an unknown type",
        };
        Err(format!(
            "dtype '{descr}' ({what}) cannot be fitted: {ACCEPTED}"
        ))
    }

    fn name(&self) -> String {
        match (self.kind, self.size) {
            ('b', _) => "bool".into(),
            ('f', n) => format!("float{}", 8 * n),
            ('i', n) => format!("int{}", 8 * n),
            ('u', n) => format!("uint{}", 8 * n),
            (k, n) => format!("{k}{n}"),
        }
    }

    /// Reads one element at the start of `b` as f64.
    #[inline]
    fn read(&self, b: &[u8]) -> f64 {
        macro_rules! num {
            ($t:ty, $n:expr) => {{
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                if self.big_endian {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }
            }};
        }
        match (self.kind, self.size) {
            ('f', 8) => num!(f64, 8),
            ('f', 4) => num!(f32, 4) as f64,
            ('f', 2) => f16_to_f64(num!(u16, 2)),
            ('i', 1) => b[0] as i8 as f64,
            ('i', 2) => num!(i16, 2) as f64,
            ('i', 4) => num!(i32, 4) as f64,
            ('i', 8) => num!(i64, 8) as f64,
            ('u', 1) => b[0] as f64,
            ('u', 2) => num!(u16, 2) as f64,
            ('u', 4) => num!(u32, 4) as f64,
            ('u', 8) => num!(u64, 8) as f64,
            ('b', 1) => (b[0] != 0) as u8 as f64,
            _ => unreachable!("parse accepts only the types above"),
        }
    }
}

/// IEEE half precision to f64.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 => {
            if frac == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Storage behind a [`Dataset`].
#[derive(Debug)]
enum Storage {
    /// Read in place from the mapping.
    Mapped { map: memmap2::Mmap, offset: usize },
    /// Converted into memory.
    F64(Vec<f64>),
    /// Converted into memory, kept as f32.
    F32(Vec<f32>),
}

/// How a [`Dataset`] was read, for `gmm info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInfo {
    /// `.npy` format version.
    pub version: (u8, u8),
    /// The `descr` of the file.
    pub descr: String,
    /// The file's element type, as NumPy names it (e.g. `int32`).
    pub source_dtype: String,
    /// Byte order of the file's elements: `little`, `big` or `not applicable`.
    pub byte_order: &'static str,
    /// `C` (row-major) or `Fortran` (column-major).
    pub layout: &'static str,
    /// The shape in the file.
    pub shape: Vec<usize>,
    /// Why the data was copied into memory, if it was (`None`: mapped in place).
    pub conversion: Option<String>,
    /// File size in bytes.
    pub file_bytes: u64,
}

/// A dataset opened from a `.npy` file: memory-mapped and used in place when it
/// is little-endian float64/float32 in C order and aligned; otherwise converted
/// (big-endian, Fortran order, unaligned data, float16, integers, bool), which
/// [`Dataset::info`] reports.
///
/// ```no_run
/// use gmm_io::{Dataset, DatasetView};
/// let ds = Dataset::open("x.npy".as_ref()).unwrap();
/// match ds.view() {
///     DatasetView::F64(v) => println!("{} rows of {} f64", v.n_samples(), v.n_features()),
///     DatasetView::F32(v) => println!("{} rows of {} f32", v.n_samples(), v.n_features()),
/// }
/// ```
#[derive(Debug)]
pub struct Dataset {
    storage: Storage,
    dtype: Dtype,
    n_samples: usize,
    n_features: usize,
    info: DatasetInfo,
}

/// A typed view of a [`Dataset`].
#[derive(Debug, Clone, Copy)]
pub enum DatasetView<'a> {
    /// `float64` rows.
    F64(DataView<'a, f64>),
    /// `float32` rows.
    F32(DataView<'a, f32>),
}

impl Dataset {
    /// Opens and validates a `.npy` file (format 1.0, 2.0 or 3.0; 1-D arrays are
    /// read as `N x 1`). Never panics and never reads out of bounds on a hostile
    /// file: the header and length are checked before any data is touched.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(e, path))?;
        let meta = file.metadata().map_err(|e| Error::io(e, path))?;
        if meta.is_dir() {
            return Err(Error::unsupported(
                "this is a directory: open directories of shards with DataSource::open",
                path,
            ));
        }
        let file_len = meta.len();
        if file_len == 0 {
            return Err(Error::npy("the file is empty", path));
        }
        let map = map_readonly(&file).map_err(|e| Error::io(e, path))?;
        let header = parse_header(&map).map_err(|m| Error::npy(m, path))?;
        let et = ElementType::parse(&header.descr).map_err(|m| Error::unsupported(m, path))?;
        let (n_samples, n_features) = match header.shape.as_slice() {
            [n] => (*n, 1),
            [n, d] => (*n, *d),
            s => {
                return Err(Error::unsupported(
                    format!(
                        "a {}-dimensional array of shape {s:?} was found: give a 2-D array (rows x features) or a 1-D one",
                        s.len()
                    ),
                    path,
                ));
            }
        };
        let expected = n_samples
            .checked_mul(n_features)
            .and_then(|c| c.checked_mul(et.size))
            .and_then(|b| b.checked_add(header.data_offset))
            .ok_or_else(|| {
                Error::npy(
                    format!("the shape {:?} is too large to exist", header.shape),
                    path,
                )
            })?;
        let actual = map.len();
        if actual < expected {
            return Err(Error::npy(
                format!(
                    "the file is truncated: shape {:?} of {} needs {expected} bytes, the file has {actual}",
                    header.shape,
                    et.name()
                ),
                path,
            ));
        }
        if actual > expected {
            return Err(Error::npy(
                format!(
                    "{} unexpected bytes follow the data of shape {:?}",
                    actual - expected,
                    header.shape
                ),
                path,
            ));
        }
        if n_features == 0 {
            return Err(Error::new(
                crate::ErrorKind::Core(gmm_core::ErrorKind::NoFeatures.into()),
                path,
            ));
        }
        // Fortran order only matters when both dimensions exceed 1.
        let fortran = header.fortran_order && n_samples > 1 && n_features > 1;
        let offset = header.data_offset;
        let mut info = DatasetInfo {
            version: header.version,
            descr: header.descr.clone(),
            source_dtype: et.name(),
            byte_order: if et.size == 1 {
                "not applicable"
            } else if et.big_endian {
                "big"
            } else {
                "little"
            },
            layout: if header.fortran_order { "Fortran" } else { "C" },
            shape: header.shape.clone(),
            conversion: None,
            file_bytes: file_len,
        };
        let dtype = if et.kind == 'f' && et.size == 4 {
            Dtype::F32
        } else {
            Dtype::F64
        };
        let in_place = et.kind == 'f'
            && (et.size == 8 || et.size == 4)
            && !et.big_endian
            && cfg!(target_endian = "little")
            && !fortran
            && offset % et.size == 0;
        let storage = if in_place {
            Storage::Mapped { map, offset }
        } else {
            let mut reasons = Vec::new();
            if et.big_endian {
                reasons.push("big-endian".to_string());
            }
            if fortran {
                reasons.push("Fortran order".to_string());
            }
            if et.kind != 'f' || et.size == 2 {
                reasons.push(format!("{} converted to float64", et.name()));
            }
            if reasons.is_empty() {
                reasons.push("unaligned data".to_string());
            }
            info.conversion = Some(reasons.join(", "));
            let bytes = &map[offset..];
            let (n, d, size) = (n_samples, n_features, et.size);
            // Element (i, j) sits at flat index i*d + j (C) or j*n + i (Fortran).
            let at = |i: usize, j: usize| if fortran { j * n + i } else { i * d + j } * size;
            match dtype {
                Dtype::F32 => {
                    let mut v = Vec::with_capacity(n * d);
                    for i in 0..n {
                        for j in 0..d {
                            v.push(et.read(&bytes[at(i, j)..]) as f32);
                        }
                    }
                    Storage::F32(v)
                }
                Dtype::F64 => {
                    let mut v = Vec::with_capacity(n * d);
                    for i in 0..n {
                        for j in 0..d {
                            v.push(et.read(&bytes[at(i, j)..]));
                        }
                    }
                    Storage::F64(v)
                }
            }
        };
        let ds = Dataset {
            storage,
            dtype,
            n_samples,
            n_features,
            info,
        };
        ds.try_view().ok_or_else(|| {
            Error::unsupported(
                "the data cannot be viewed in place: re-save it with numpy.save",
                path,
            )
        })?;
        Ok(ds)
    }

    fn try_view(&self) -> Option<DatasetView<'_>> {
        let (n, d) = (self.n_samples, self.n_features);
        Some(match &self.storage {
            Storage::Mapped { map, offset } => {
                let bytes = &map[*offset..];
                match self.dtype {
                    Dtype::F64 => DatasetView::F64(
                        DataView::new(bytemuck::try_cast_slice(bytes).ok()?, n, d).ok()?,
                    ),
                    Dtype::F32 => DatasetView::F32(
                        DataView::new(bytemuck::try_cast_slice(bytes).ok()?, n, d).ok()?,
                    ),
                }
            }
            Storage::F64(v) => DatasetView::F64(DataView::new(v, n, d).ok()?),
            Storage::F32(v) => DatasetView::F32(DataView::new(v, n, d).ok()?),
        })
    }

    /// The data, typed, borrowed from the mapping or the converted copy.
    pub fn view(&self) -> DatasetView<'_> {
        self.try_view()
            .expect("checked when the dataset was opened")
    }

    /// Element type the engine reads.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Rows.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// True if the data is read in place from a memory map (no copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped { .. })
    }

    /// How the file was laid out and read.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }
}

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

/// A minimal parser for the Python literal in `.npy` headers.
mod literal {
    pub enum Value {
        Str(String),
        Bool(bool),
        Tuple(Vec<usize>),
        /// A list (structured dtypes); contents skipped.
        List,
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && (self.s[self.i] as char).is_whitespace() {
                self.i += 1;
            }
        }
        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.s.get(self.i).copied()
        }
        fn eat(&mut self, c: u8) -> Result<(), String> {
            if self.peek() == Some(c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!(
                    "malformed header: expected '{}' at byte {}",
                    c as char, self.i
                ))
            }
        }
        fn string(&mut self) -> Result<String, String> {
            let q = self.peek().ok_or("malformed header: unexpected end")?;
            if q != b'\'' && q != b'"' {
                return Err(format!(
                    "malformed header: expected a string at byte {}",
                    self.i
                ));
            }
            self.i += 1;
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != q {
                self.i += 1;
            }
            if self.i >= self.s.len() {
                return Err("malformed header: unterminated string".into());
            }
            let out = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
            self.i += 1;
            Ok(out)
        }
        fn word(&mut self) -> &[u8] {
            self.ws();
            let start = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
            {
                self.i += 1;
            }
            &self.s[start..self.i]
        }
        fn value(&mut self, depth: usize) -> Result<Value, String> {
            if depth > 16 {
                return Err("malformed header: nesting too deep".into());
            }
            match self.peek() {
                Some(b'\'') | Some(b'"') => Ok(Value::Str(self.string()?)),
                Some(b'(') => {
                    self.i += 1;
                    let mut dims = Vec::new();
                    loop {
                        if self.peek() == Some(b')') {
                            self.i += 1;
                            break;
                        }
                        let w = self.word();
                        let w = std::str::from_utf8(w).unwrap_or("");
                        let w = w.strip_suffix('L').unwrap_or(w);
                        let v: usize = w.parse().map_err(|_| {
                            format!(
                                "malformed header: shape entry '{w}' is not a non-negative integer"
                            )
                        })?;
                        dims.push(v);
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b')') => {}
                            _ => return Err("malformed header: bad shape tuple".into()),
                        }
                    }
                    Ok(Value::Tuple(dims))
                }
                Some(b'[') => {
                    // Skip a (possibly nested) list, respecting strings.
                    let mut level = 0usize;
                    while self.i < self.s.len() {
                        match self.s[self.i] {
                            b'[' => level += 1,
                            b']' => {
                                level -= 1;
                                if level == 0 {
                                    self.i += 1;
                                    return Ok(Value::List);
                                }
                            }
                            b'\'' | b'"' => {
                                self.string()?;
                                continue;
                            }
                            _ => {}
                        }
                        self.i += 1;
                    }
                    Err("malformed header: unterminated list".into())
                }
                _ => match self.word() {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    _ => Err(format!(
                        "malformed header: unexpected value at byte {}",
                        self.i
                    )),
                },
            }
        }
    }

    pub fn parse_dict(text: &str) -> Result<Vec<(String, Value)>, String> {
        let mut p = P {
            s: text.as_bytes(),
            i: 0,
        };
        p.eat(b'{')?;
        let mut out = Vec::new();
        loop {
            if p.peek() == Some(b'}') {
                p.i += 1;
                break;
            }
            let key = p.string()?;
            p.eat(b':')?;
            let value = p.value(0)?;
            if out.iter().any(|(k, _): &(String, Value)| *k == key) {
                return Err(format!("malformed header: key '{key}' repeated"));
            }
            out.push((key, value));
            match p.peek() {
                Some(b',') => p.i += 1,
                Some(b'}') => {}
                _ => return Err("malformed header: expected ',' or '}'".into()),
            }
        }
        p.ws();
        if p.i != p.s.len() {
            return Err("malformed header: text after the dict".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_numpy_writes() {
        let h = header_bytes("<f8", &[1000, 2]);
        assert_eq!(h.len() % 64, 0);
        let p = parse_header(&h).unwrap();
        assert_eq!(p.descr, "<f8");
        assert!(!p.fortran_order);
        assert_eq!(p.shape, vec![1000, 2]);
        assert_eq!(p.data_offset, h.len());
        let p = parse_header(&header_bytes("<f4", &[7])).unwrap();
        assert_eq!(p.shape, vec![7]);
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        // Deterministic pseudo-random byte strings, and every prefix of a good header.
        let good = header_bytes("<f8", &[3, 2]);
        for cut in 0..good.len() {
            assert!(
                parse_header(&good[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 200) as usize;
            let mut bytes: Vec<u8> = good.clone();
            bytes.truncate(len.max(10));
            let pos = (state >> 8) as usize % bytes.len();
            bytes[pos] = (state >> 24) as u8;
            let _ = parse_header(&bytes);
        }
        for bad in [
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, -2), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'x': 1}",
            "{'descr': '<f8', 'fortran_order': False}",
            "{'descr': '<f8' 'fortran_order': False, 'shape': (3,)}",
            "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}",
        ] {
            let mut h = b"\x93NUMPY\x01\x00".to_vec();
            h.extend_from_slice(&(bad.len() as u16).to_le_bytes());
            h.extend_from_slice(bad.as_bytes());
            assert!(parse_header(&h).is_err(), "{bad}");
        }
    }
}
