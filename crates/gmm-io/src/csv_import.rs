//! CSV import: numeric CSV to a float64 `.npy`, streamed (constant memory).

use std::io::{Seek, SeekFrom, Write};
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

/// Converts a numeric CSV file to a 2-D float64 `.npy`, atomically.
///
/// Every data cell must parse as a number (surrounding spaces allowed); a
/// non-numeric or empty cell, or a row with a different number of cells, is an
/// error naming its line and column (1-based).
pub fn csv_to_npy(input: &Path, output: &Path, options: CsvOptions) -> Result<CsvSummary> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(options.delimiter)
        .flexible(true)
        .from_path(input)
        .map_err(|e| csv_error(e, input))?;
    let mut records = reader.records();
    let first = match records.next() {
        None => return Err(Error::csv("the file has no lines", input)),
        Some(r) => r.map_err(|e| csv_error(e, input))?,
    };
    let numeric = |rec: &csv::StringRecord| rec.iter().all(|c| c.trim().parse::<f64>().is_ok());
    let had_header = match options.header {
        Some(h) => h,
        None => !numeric(&first),
    };
    let mut n_features = if had_header { first.len() } else { 0 };
    Output::prepare(output)?.write_seekable(|w| {
        w.write_all(&[b' '; HEADER_LEN])?;
        let mut n_samples = 0usize;
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut write_row = |rec: &csv::StringRecord, line: u64, buf: &mut Vec<u8>| -> std::io::Result<()> {
            if n_features == 0 {
                n_features = rec.len();
            }
            if rec.len() != n_features {
                return Err(invalid(format!(
                    "line {line} has {} cells, expected {n_features} (all rows must have the same number of columns)",
                    rec.len()
                )));
            }
            for (j, cell) in rec.iter().enumerate() {
                let v: f64 = cell.trim().parse().map_err(|_| {
                    invalid(format!(
                        "line {line}, column {}: '{}' is not a number",
                        j + 1,
                        cell.chars().take(40).collect::<String>()
                    ))
                })?;
                buf.extend_from_slice(&v.to_le_bytes());
            }
            n_samples += 1;
            Ok(())
        };
        if !had_header {
            write_row(&first, 1, &mut buf)?;
        }
        for rec in records {
            let rec = rec.map_err(|e| invalid(e.to_string()))?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            write_row(&rec, line, &mut buf)?;
            if buf.len() >= 60 * 1024 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)?;
        if n_samples == 0 {
            return Err(invalid("the file has no data rows".into()));
        }
        let header = header_bytes_at_least("<f8", &[n_samples, n_features], HEADER_LEN);
        debug_assert_eq!(header.len(), HEADER_LEN);
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
        crate::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => Error::csv(io.to_string(), input),
        _ => e,
    })
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

fn csv_error(e: csv::Error, path: &Path) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(io, path),
        other => Error::csv(format!("{other:?}"), path),
    }
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
