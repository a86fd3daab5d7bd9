//! The `.npy` header: a magic, a version, a length and a Python dict literal.

use super::MAGIC;

/// Headers longer than this are refused (NumPy itself caps them near 10 kB).
const MAX_HEADER_LEN: usize = 1 << 20;

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
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes.len() < 10 && bytes[..magic_len] == MAGIC[..magic_len] {
        return Err(format!(
            "the file ends after {} bytes, inside the preamble (the magic, version and header \
             length take 10): it is truncated; save it again with numpy.save",
            bytes.len()
        ));
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
                        let negative = self.peek() == Some(b'-');
                        if negative {
                            self.i += 1;
                        }
                        let w = self.word();
                        let w = std::str::from_utf8(w).unwrap_or("");
                        let w = w.strip_suffix('L').unwrap_or(w);
                        if negative {
                            return Err(format!(
                                "malformed header: shape entry -{w} is negative: a shape holds sizes >= 0"
                            ));
                        }
                        if w.is_empty() {
                            let at = self
                                .peek()
                                .map_or("the end of the header".to_string(), |c| {
                                    format!("'{}'", c.escape_ascii())
                                });
                            return Err(format!(
                                "malformed header: a shape entry is missing or not a number (found {at})"
                            ));
                        }
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
    use crate::npy::header_bytes;

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
