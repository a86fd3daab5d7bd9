//! Files built byte by byte, so that every field a reader trusts can be set
//! to what a hostile writer would put there: a Thrift compact-protocol
//! encoder and a Parquet writer of one float64 column, snappy's literal-only
//! format, CRC-32.

/// A Thrift value (compact protocol).
#[derive(Clone, Debug)]
pub enum T {
    I32(i32),
    I64(i64),
    Bin(Vec<u8>),
    /// Element type and elements.
    List(u8, Vec<T>),
    /// Fields by id, in increasing order.
    Struct(Vec<(i16, T)>),
}

pub const I32: u8 = 5;
pub const I64: u8 = 6;
pub const BIN: u8 = 8;
pub const STRUCT: u8 = 12;
const LIST: u8 = 9;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

impl T {
    fn kind(&self) -> u8 {
        match self {
            T::I32(_) => I32,
            T::I64(_) => I64,
            T::Bin(_) => BIN,
            T::List(..) => LIST,
            T::Struct(_) => STRUCT,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            T::I32(v) => varint(zigzag(i64::from(*v)), out),
            T::I64(v) => varint(zigzag(*v), out),
            T::Bin(b) => {
                varint(b.len() as u64, out);
                out.extend_from_slice(b);
            }
            T::List(et, items) => {
                list_header(items.len() as u64, *et, out);
                for i in items {
                    i.encode(out);
                }
            }
            T::Struct(fields) => {
                let mut last = 0i16;
                for (id, v) in fields {
                    let delta = id - last;
                    if (1..=15).contains(&delta) {
                        out.push((delta as u8) << 4 | v.kind());
                    } else {
                        out.push(v.kind());
                        varint(zigzag(i64::from(*id)), out);
                    }
                    last = *id;
                    v.encode(out);
                }
                out.push(0);
            }
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A list header claiming `n` elements of type `et`.
pub fn list_header(n: u64, et: u8, out: &mut Vec<u8>) {
    if n < 15 {
        out.push((n as u8) << 4 | et);
    } else {
        out.push(0xf0 | et);
        varint(n, out);
    }
}

pub fn s(text: &str) -> T {
    T::Bin(text.as_bytes().to_vec())
}

/// CRC-32 (IEEE), as Parquet page checksums use.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `data` in snappy's raw format, as literals only (valid, uncompressed).
pub fn snappy(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(data.len() as u64, &mut out);
    for piece in data.chunks(65_536) {
        let n = piece.len() - 1;
        if n < 60 {
            out.push((n as u8) << 2);
        } else if n < 256 {
            out.push(60 << 2);
            out.push(n as u8);
        } else {
            out.push(61 << 2);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        out.extend_from_slice(piece);
    }
    out
}

/// One page of a column chunk.
#[derive(Clone, Debug)]
pub struct Page {
    /// 0 data page v1, 2 dictionary page, 3 data page v2.
    pub page_type: i32,
    /// The page's bytes as stored (compressed, if the codec compresses).
    pub body: Vec<u8>,
    /// What the header claims.
    pub uncompressed: i32,
    pub num_values: i32,
    /// 0 PLAIN, 8 RLE_DICTIONARY.
    pub encoding: i32,
    pub crc: Option<i32>,
    /// v2 only: bytes of definition levels.
    pub def_level_bytes: i32,
}

impl Page {
    /// A v1 PLAIN data page of `values` with no levels (a REQUIRED column).
    pub fn plain(values: &[f64]) -> Self {
        let body: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            page_type: 0,
            uncompressed: body.len() as i32,
            body,
            num_values: values.len() as i32,
            encoding: 0,
            crc: None,
            def_level_bytes: 0,
        }
    }

    /// A v1 PLAIN data page of `values` none of which is null, with their
    /// definition levels (an OPTIONAL column): RLE, bit width 1.
    pub fn plain_with_levels(values: &[f64]) -> Self {
        let mut levels = Vec::new();
        varint((values.len() as u64) << 1, &mut levels);
        levels.push(1);
        let mut body = (levels.len() as u32).to_le_bytes().to_vec();
        body.extend_from_slice(&levels);
        body.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        Self {
            uncompressed: body.len() as i32,
            body,
            ..Self::plain(values)
        }
    }

    fn header(&self) -> T {
        let mut fields = vec![
            (1, T::I32(self.page_type)),
            (2, T::I32(self.uncompressed)),
            (3, T::I32(self.body.len() as i32)),
        ];
        if let Some(c) = self.crc {
            fields.push((4, T::I32(c)));
        }
        match self.page_type {
            0 => fields.push((
                5,
                T::Struct(vec![
                    (1, T::I32(self.num_values)),
                    (2, T::I32(self.encoding)),
                    (3, T::I32(3)),
                    (4, T::I32(3)),
                ]),
            )),
            2 => fields.push((
                7,
                T::Struct(vec![(1, T::I32(self.num_values)), (2, T::I32(0))]),
            )),
            _ => fields.push((
                8,
                T::Struct(vec![
                    (1, T::I32(self.num_values)),
                    (2, T::I32(0)),
                    (3, T::I32(self.num_values)),
                    (4, T::I32(self.encoding)),
                    (5, T::I32(self.def_level_bytes)),
                    (6, T::I32(0)),
                ]),
            )),
        }
        T::Struct(fields)
    }
}

/// A Parquet file of one float64 column `x` in one row group.
#[derive(Clone, Debug)]
pub struct Parquet {
    pub rows: i64,
    pub pages: Vec<Page>,
    /// 0 REQUIRED, 1 OPTIONAL.
    pub repetition: i32,
    /// 0 uncompressed, 1 snappy.
    pub codec: i32,
    /// What the root of the schema claims (1: the one column).
    pub root_children: i32,
    /// Groups nested between the root and the column.
    pub nesting: usize,
    /// A data page offset to claim instead of the true one.
    pub data_page_offset: Option<i64>,
}

impl Parquet {
    pub fn required(values: &[f64]) -> Self {
        Self {
            rows: values.len() as i64,
            pages: vec![Page::plain(values)],
            repetition: 0,
            codec: 0,
            root_children: 1,
            nesting: 0,
            data_page_offset: None,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = b"PAR1".to_vec();
        let start = out.len() as i64;
        let mut dictionary = None;
        let mut data = None;
        for p in &self.pages {
            let at = out.len() as i64;
            if p.page_type == 2 {
                dictionary.get_or_insert(at);
            } else {
                data.get_or_insert(at);
            }
            p.header().encode(&mut out);
            out.extend_from_slice(&p.body);
        }
        let size = out.len() as i64 - start;
        let mut schema = vec![T::Struct(vec![
            (4, s("schema")),
            (5, T::I32(self.root_children)),
        ])];
        let mut path = Vec::new();
        for g in 0..self.nesting {
            let name = format!("g{g}");
            path.push(s(&name));
            schema.push(T::Struct(vec![
                (3, T::I32(0)),
                (4, s(&name)),
                (5, T::I32(1)),
            ]));
        }
        path.push(s("x"));
        schema.push(T::Struct(vec![
            (1, T::I32(5)),
            (3, T::I32(self.repetition)),
            (4, s("x")),
        ]));
        let mut meta = vec![
            (1, T::I32(5)),
            (2, T::List(I32, vec![T::I32(0), T::I32(3)])),
            (3, T::List(BIN, path)),
            (4, T::I32(self.codec)),
            (5, T::I64(self.rows)),
            (6, T::I64(size)),
            (7, T::I64(size)),
            (9, T::I64(self.data_page_offset.or(data).unwrap_or(start))),
        ];
        if let Some(d) = dictionary {
            meta.push((11, T::I64(d)));
        }
        let chunk = T::Struct(vec![(2, T::I64(start)), (3, T::Struct(meta))]);
        let row_group = T::Struct(vec![
            (1, T::List(STRUCT, vec![chunk])),
            (2, T::I64(size)),
            (3, T::I64(self.rows)),
        ]);
        let file_meta = T::Struct(vec![
            (1, T::I32(1)),
            (2, T::List(STRUCT, schema)),
            (3, T::I64(self.rows)),
            (4, T::List(STRUCT, vec![row_group])),
        ]);
        let footer = file_meta.bytes();
        out.extend_from_slice(&footer);
        out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
        out.extend_from_slice(b"PAR1");
        out
    }
}
