//! Writing a whole dataset in another format: `.npy`, Parquet, Arrow IPC or
//! CSV, chosen by the output's extension, streamed a block of rows at a time.

use gmm_core::{Rows, Scalar};

use crate::columnar::{ColumnarWriter, Format, write_streamed};
use crate::csv_import::{CsvOptions, CsvSummary, csv_to_npy};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::source::{DataSource, SourceRows};

/// Rows copied per step.
const STEP: usize = 4096;

/// True if `path` names a CSV (or TSV) file by its extension.
pub fn is_csv(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "csv" | "tsv" | "txt"))
}

/// Checks, before any work, that `output` names a data format gmm writes:
/// `.npy`, Parquet (`.parquet`, `.parq`, `.pq`), Arrow (`.arrow`, `.arrows`,
/// `.feather`, `.ipc`) and, when `csv` is true, `.csv`, `.tsv` or `.txt`.
/// Standard output (`-`), an existing device or FIFO, and a name without an
/// extension are written as `.npy`; any other extension is refused rather
/// than silently written as `.npy`.
///
/// ```
/// use std::path::Path;
/// assert!(gmm_io::check_data_output(Path::new("out.parquet"), false).is_ok());
/// assert!(gmm_io::check_data_output(Path::new("out.csv"), true).is_ok());
/// let e = gmm_io::check_data_output(Path::new("out.xyz"), false).unwrap_err();
/// assert!(e.to_string().contains(".npy"));
/// ```
pub fn check_data_output(output: &std::path::Path, csv: bool) -> Result<()> {
    if output.as_os_str() == crate::output::STDOUT
        || std::fs::metadata(output).is_ok_and(|m| !m.is_file() && !m.is_dir())
    {
        return Ok(());
    }
    let Some(ext) = output.extension() else {
        return Ok(());
    };
    let known = ext.eq_ignore_ascii_case("npy")
        || Format::from_path(output).is_some()
        || (csv && is_csv(output));
    if known {
        return Ok(());
    }
    let list = if csv {
        ".npy, .parquet (.parq, .pq), .arrow (.arrows, .feather, .ipc), .csv, .tsv or .txt"
    } else {
        ".npy, .parquet (.parq, .pq) or .arrow (.arrows, .feather, .ipc)"
    };
    Err(Error::unsupported(
        format!(
            "'.{}' is not an output format gmm writes: name the output {list}",
            ext.to_string_lossy()
        ),
        output,
    ))
}

/// Converts a numeric CSV file (see [`csv_to_npy`]) to `output` in the format
/// its extension names, as [`convert_source`] writes it: `.npy` directly;
/// Parquet, Arrow or CSV through a scratch `.npy` in the system's temporary
/// directory, removed when done (and if the process is stopped by a signal).
pub fn csv_convert(
    input: &std::path::Path,
    output: &std::path::Path,
    options: CsvOptions,
) -> Result<CsvSummary> {
    if Format::from_path(output).is_none() && !is_csv(output) {
        return csv_to_npy(input, output, options);
    }
    let out = Output::prepare(output)?;
    let scratch = tempfile::Builder::new()
        .prefix(".gmm-convert-")
        .suffix(".npy")
        .tempfile()
        .map_err(|e| Error::io(e, &std::env::temp_dir()))?;
    let _registration = crate::mmap::register_temp(scratch.path());
    let summary = csv_to_npy(input, scratch.path(), options)?;
    let source = DataSource::open(scratch.path())?;
    convert_source(&source, out)?;
    Ok(summary)
}

/// Writes every row of `source` to `out`: CSV (a header of the column names,
/// comma-separated, or tab-separated for `.tsv`; each value printed so that it
/// reads back to the same bits), Parquet or Arrow (the source's column names,
/// or `x0..` for `.npy` sources; float32 kept as float32), or `.npy`
/// otherwise. Returns the number of rows written.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let npy = dir.path().join("x.npy");
/// gmm_io::write_npy(&npy, &[1.0, 2.5, -3.0, 4.0], &[2, 2]).unwrap();
/// let src = gmm_io::DataSource::open(&npy).unwrap();
/// let csv = dir.path().join("x.csv");
/// gmm_io::convert_source(&src, gmm_io::Output::prepare(&csv).unwrap()).unwrap();
/// assert_eq!(std::fs::read_to_string(&csv).unwrap(), "x0,x1\n1,2.5\n-3,4\n");
/// ```
pub fn convert_source(source: &DataSource, out: Output) -> Result<usize> {
    let names: Vec<String> = match source.column_names() {
        Some(n) => n.to_vec(),
        None => (0..source.n_features()).map(|j| format!("x{j}")).collect(),
    };
    let csv = is_csv(out.path());
    let tab = out
        .path()
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    match source.rows() {
        SourceRows::F64(r) if csv => write_csv(&r, &names, tab, out),
        SourceRows::F32(r) if csv => write_csv(&r, &names, tab, out),
        SourceRows::F64(r) => write_binary(&r, &names, |v| v, out),
        SourceRows::F32(r) => write_binary(&r, &names, |v| v as f32, out),
    }
}

/// Calls `f` with the rows `lo..hi` of `rows`, row-major as f64, a step at a
/// time.
fn for_each_step(
    rows: &impl Rows,
    mut f: impl FnMut(&[f64]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let (n, d) = (rows.n_samples(), rows.n_features());
    let mut buf = vec![0.0; STEP * d];
    for lo in (0..n).step_by(STEP) {
        let hi = (lo + STEP).min(n);
        for (i, row) in (lo..hi).zip(buf.chunks_exact_mut(d)) {
            rows.copy_row(i, row);
        }
        f(&buf[..(hi - lo) * d])?;
    }
    Ok(())
}

fn write_binary<T: ColumnarWriter>(
    rows: &impl Rows,
    names: &[String],
    narrow: impl Fn(f64) -> T,
    out: Output,
) -> Result<usize> {
    let (n, d) = (rows.n_samples(), rows.n_features());
    let mut typed: Vec<T> = Vec::with_capacity(STEP * d);
    write_streamed::<T>(out, &[n, d], names, |put| {
        for_each_step(rows, |block| {
            typed.clear();
            typed.extend(block.iter().map(|&v| narrow(v)));
            put(&typed)
        })
    })?;
    Ok(n)
}

fn write_csv<R: Rows>(rows: &R, names: &[String], tab: bool, out: Output) -> Result<usize>
where
    R::Elem: Scalar,
{
    let sep = if tab { "\t" } else { "," };
    let f32_values = std::mem::size_of::<R::Elem>() == 4;
    let d = rows.n_features();
    out.write(|w| {
        writeln!(w, "{}", names.join(sep))?;
        let mut line = String::with_capacity(32 * d);
        for_each_step(rows, |block| {
            for row in block.chunks_exact(d) {
                line.clear();
                for (j, v) in row.iter().enumerate() {
                    if j > 0 {
                        line.push_str(sep);
                    }
                    // Rust prints the shortest text that parses back to the same value.
                    if f32_values {
                        line.push_str(&(*v as f32).to_string());
                    } else {
                        line.push_str(&v.to_string());
                    }
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
            }
            Ok(())
        })
    })?;
    Ok(rows.n_samples())
}
