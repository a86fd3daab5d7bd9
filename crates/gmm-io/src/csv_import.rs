//! CSV import: numeric CSV to a float64 `.npy`, streamed (constant memory).

use std::io::{BufRead, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::npy::header_bytes_at_least;
use crate::output::Output;

/// Header space reserved before the data: enough for any 2-D shape.
const HEADER_LEN: usize = 128;

/// Options of [`csv_to_npy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// `Some(true)`: the first line is a header; `Some(false)`: it is data;
    /// `None`: detect (a header if any of its cells is not a number).
    pub header: Option<bool>,
    /// Field delimiter.
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: None,
            delimiter: b',',
        }
    }
}

/// What [`csv_to_npy`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSummary {
    /// Data rows written.
    pub n_samples: usize,
    /// Columns.
    pub n_features: usize,
    /// Whether the first line was taken as a header.
    pub had_header: bool,
}

/// Longest cell accepted, in bytes: far longer than any number.
const MAX_CELL: usize = 1 << 16;

/// Converts a numeric CSV file to a 2-D float64 `.npy`, atomically.
///
/// Every data cell must parse as a number (surrounding spaces allowed); a
/// non-numeric or empty cell, or a row with a different number of cells, is an
/// error naming its line and column (1-based). The file is read cell by cell
/// (`csv-core`), so memory stays constant however long its lines are.
pub fn csv_to_npy(input: &Path, output: &Path, options: CsvOptions) -> Result<CsvSummary> {
    let file = std::fs::File::open(input).map_err(|e| Error::io(e, input))?;
    let mut src = std::io::BufReader::with_capacity(1 << 16, file);
    Output::prepare(output)?
        .write_seekable(|w| {
            w.write_all(&[b' '; HEADER_LEN])?;
            let mut parser = Cells::new(options);
            let mut rdr = csv_core::ReaderBuilder::new()
                .delimiter(options.delimiter)
                .build();
            let mut out = [0u8; 1 << 14];
            let mut cell: Vec<u8> = Vec::with_capacity(64);
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            let mut line = rdr.line();
            loop {
                let input = src.fill_buf()?;
                let (res, nin, nout) = rdr.read_field(input, &mut out);
                let eof = input.is_empty();
                src.consume(nin);
                if cell.len() + nout > MAX_CELL {
                    return Err(invalid(format!(
                        "line {line}, column {}: a cell longer than {MAX_CELL} bytes is not a number \
                         (is this a CSV file?)",
                        parser.column + 1
                    )));
                }
                cell.extend_from_slice(&out[..nout]);
                match res {
                    csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::OutputFull => {
                        if eof && nin == 0 && nout == 0 && cell.is_empty() {
                            break;
                        }
                    }
                    csv_core::ReadFieldResult::Field { record_end } => {
                        if parser.cell(&cell, line, &mut buf)? == Restart::Yes {
                            w.seek(SeekFrom::Start(HEADER_LEN as u64))?;
                        }
                        cell.clear();
                        if record_end {
                            parser.end_record(line)?;
                            line = rdr.line();
                        }
                        if buf.len() >= 60 * 1024 {
                            w.write_all(&buf)?;
                            buf.clear();
                        }
                    }
                    csv_core::ReadFieldResult::End => break,
                }
            }
            w.write_all(&buf)?;
            let (n_samples, n_features, had_header) = parser.finish()?;
            let header = header_bytes_at_least("<f8", &[n_samples, n_features], HEADER_LEN);
            debug_assert_eq!(header.len(), HEADER_LEN);
            w.flush()?;
            w.get_ref()
                .set_len((HEADER_LEN + n_samples * n_features * 8) as u64)?;
            w.seek(SeekFrom::Start(0))?;
            w.write_all(&header)?;
            Ok(CsvSummary {
                n_samples,
                n_features,
                had_header,
            })
        })
        .map_err(|e| match e.kind() {
            // Our own messages travel as InvalidData I/O errors; give them the CSV kind.
            crate::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                Error::csv(io.to_string(), input)
            }
            _ => e,
        })
}

/// Whether the output must start again after the preamble (the first line
/// turned out to be a header).
#[derive(PartialEq, Eq)]
enum Restart {
    Yes,
    No,
}

/// The cells of the file, one at a time: header detection, widths, values.
struct Cells {
    header: Option<bool>,
    /// Records completed.
    records: usize,
    /// Cells of the current record so far.
    column: usize,
    /// Cells per row (known after the first record).
    n_features: Option<usize>,
    /// Data rows written.
    n_samples: usize,
    /// The first record holds a non-numeric cell (auto-detection).
    first_is_header: bool,
}

impl Cells {
    fn new(options: CsvOptions) -> Self {
        Self {
            header: options.header,
            records: 0,
            column: 0,
            n_features: None,
            n_samples: 0,
            first_is_header: options.header == Some(true),
        }
    }

    fn cell(&mut self, bytes: &[u8], line: u64, buf: &mut Vec<u8>) -> std::io::Result<Restart> {
        let col = self.column;
        self.column += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(invalid(format!(
                "line {line}, column {}: the cell is not text (invalid UTF-8): is this a CSV file?",
                col + 1
            )));
        };
        let value = text.trim().parse::<f64>().ok();
        if self.records == 0 {
            if self.first_is_header {
                return Ok(Restart::No);
            }
            if value.is_none() && self.header.is_none() {
                // A header after all: drop the values of this line.
                self.first_is_header = true;
                buf.clear();
                return Ok(Restart::Yes);
            }
        }
        let Some(v) = value else {
            return Err(invalid(format!(
                "line {line}, column {}: '{}' is not a number",
                col + 1,
                text.chars().take(40).collect::<String>()
            )));
        };
        buf.extend_from_slice(&v.to_le_bytes());
        Ok(Restart::No)
    }

    fn end_record(&mut self, line: u64) -> std::io::Result<()> {
        let cells = std::mem::take(&mut self.column);
        match self.n_features {
            None => self.n_features = Some(cells),
            Some(d) if d != cells => {
                return Err(invalid(format!(
                    "line {line} has {cells} cells, expected {d} (all rows must have the same number of columns)"
                )));
            }
            Some(_) => {}
        }
        if !(self.records == 0 && self.first_is_header) {
            self.n_samples += 1;
        }
        self.records += 1;
        Ok(())
    }

    fn finish(self) -> std::io::Result<(usize, usize, bool)> {
        if self.records == 0 {
            return Err(invalid("the file has no lines".into()));
        }
        if self.n_samples == 0 {
            return Err(invalid("the file has no data rows".into()));
        }
        Ok((
            self.n_samples,
            self.n_features.unwrap_or(0),
            self.first_is_header,
        ))
    }
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, DatasetView};

    fn convert(text: &str, options: CsvOptions) -> Result<(Vec<f64>, CsvSummary)> {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.npy"));
        std::fs::write(&input, text).unwrap();
        let summary = csv_to_npy(&input, &output, options)?;
        let ds = Dataset::open(&output).unwrap();
        assert!(ds.is_mapped());
        let DatasetView::F64(v) = ds.view() else {
            panic!("f64 expected")
        };
        assert_eq!(
            (v.n_samples(), v.n_features()),
            (summary.n_samples, summary.n_features)
        );
        Ok((v.as_slice().to_vec(), summary))
    }

    #[test]
    fn converts_with_and_without_header() {
        let (x, s) = convert("a,b\n1,2\n3.5, -4e2\n", CsvOptions::default()).unwrap();
        assert_eq!(x, vec![1.0, 2.0, 3.5, -400.0]);
        assert!(s.had_header);
        let (x, s) = convert(
            "1;2\n3;4\n",
            CsvOptions {
                delimiter: b';',
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(x, vec![1.0, 2.0, 3.0, 4.0]);
        assert!(!s.had_header);
        let (x, _) = convert(
            "1,2\n3,4\n",
            CsvOptions {
                header: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(x, vec![3.0, 4.0]);
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = convert("a,b\n1,2\n3,x\n", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3, column 2") && e.contains("'x'"), "{e}");
        let e = convert("1,2\n3,4,5\n", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2 has 3 cells, expected 2"), "{e}");
        let e = convert("a,b\n", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no data rows"), "{e}");
        let e = convert(
            "x,1\n2,3\n",
            CsvOptions {
                header: Some(false),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 1, column 1"), "{e}");
        let e = convert("1,2,3\n4,,6\n", CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2, column 2"), "{e}");
        let e = convert("", CsvOptions::default()).unwrap_err().to_string();
        assert!(e.contains("no lines"), "{e}");
    }
}
