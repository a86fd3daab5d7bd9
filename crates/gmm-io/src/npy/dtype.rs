//! Element types: the ones read in place and the ones converted.

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

/// An element type as a `.npy` `descr` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ElementType {
    pub(super) kind: char,
    pub(super) size: usize,
    pub(super) big_endian: bool,
}

impl ElementType {
    /// Parses a simple `descr` such as `<f8`, `>i4`, `|b1`; `Err` says what was found.
    pub(super) fn parse(descr: &str) -> std::result::Result<Self, String> {
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

    pub(super) fn name(&self) -> String {
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
    pub(super) fn read(&self, b: &[u8]) -> f64 {
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
