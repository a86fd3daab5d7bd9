//! The verbs about data files: `generate`, `info`, `convert`.

use std::io::Write;

use anyhow::{Result, bail};
use gmm_core::Preset;
use gmm_io::{ColumnarFile, DataFile, Format};

use crate::args::{ConvertArgs, GenerateArgs, InfoArgs};
use crate::outputs;
use crate::printable;
use crate::signals::{self, OnSignal};

pub(crate) fn generate(a: GenerateArgs) -> Result<()> {
    let preset: Preset = a.preset.parse()?;
    let (default_n, d, _) = preset.shape();
    let n = a.n.unwrap_or(default_n);
    if n == 0 {
        bail!("--n must be at least 1");
    }
    gmm_io::check_data_output(&a.out, false)?;
    signals::install(OnSignal::Exit);
    let out = outputs::prepare(&[Some(&a.out)], &[])?
        .pop()
        .flatten()
        .expect("the output");
    if n.checked_mul(d).is_none() {
        bail!("--n {n} rows of {d} features is more values than this machine can count");
    }
    // Streamed: rows are generated and written piece by piece.
    let names: Vec<String> = (0..d).map(|j| format!("x{j}")).collect();
    gmm_io::write_streamed::<f64>(out, &[n, d], &names, |put| {
        preset.generate_streamed(n, a.seed, put)
    })?;
    Ok(())
}

pub(crate) fn info(a: InfoArgs) -> Result<()> {
    // Column names, paths and types come from the file: its control bytes
    // (an escape sequence, a newline, NUL) are shown escaped, never sent to
    // the terminal raw.
    let mut text = Vec::new();
    describe(&a, &mut text)?;
    let text = String::from_utf8_lossy(&text);
    let mut out = std::io::stdout().lock();
    for line in text.lines() {
        writeln!(out, "{}", printable(line))?;
    }
    Ok(())
}

fn describe(a: &InfoArgs, out: &mut dyn Write) -> Result<()> {
    if a.data.is_dir() {
        let src = a.columns.open(&a.data)?;
        let n = src.shards().count();
        writeln!(
            out,
            "directory   {} ({n} shards, read in name order as one dataset)",
            printable(&a.data.display().to_string())
        )?;
        writeln!(
            out,
            "shape       {} rows x {} columns",
            src.n_samples(),
            src.n_features()
        )?;
        writeln!(out, "dtype       {}", src.dtype().name())?;
        if let Some(names) = src.column_names() {
            writeln!(out, "columns     {}", printable(&names.join(", ")))?;
        }
        for (p, ds) in src.shards() {
            let how = match ds.conversion() {
                None => "memory-mapped".to_string(),
                Some(why) => format!("copied ({why})"),
            };
            writeln!(
                out,
                "shard       {}: {} rows, {}",
                printable(&p.display().to_string()),
                ds.n_samples(),
                how
            )?;
        }
        return Ok(());
    }
    let ds = match DataFile::open(&a.data, a.columns.columns.as_deref())? {
        DataFile::Npy(ds) => ds,
        DataFile::Columnar(c) => return columnar_info(a, &c, out),
    };
    let i = ds.info();
    writeln!(
        out,
        "file        {} ({} bytes)",
        printable(&a.data.display().to_string()),
        i.file_bytes
    )?;
    writeln!(out, "format      .npy {}.{}", i.version.0, i.version.1)?;
    writeln!(
        out,
        "shape       {} rows x {} columns{}",
        ds.n_samples(),
        ds.n_features(),
        if i.shape.len() == 1 {
            " (1-D array read as one column)"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "dtype       {} ('{}'), read as {}",
        i.source_dtype,
        i.descr,
        ds.dtype().name()
    )?;
    writeln!(out, "byte order  {}", i.byte_order)?;
    writeln!(out, "layout      {}", i.layout)?;
    match &i.conversion {
        None => writeln!(out, "storage     memory-mapped, read in place (no copy)")?,
        Some(why) => writeln!(out, "storage     copied into memory ({why})")?,
    }
    let bytes = ds.n_samples() as f64
        * ds.n_features() as f64
        * if ds.dtype() == gmm_io::Dtype::F64 {
            8.0
        } else {
            4.0
        };
    writeln!(out, "data size   {:.1} MB", bytes / 1e6)?;
    Ok(())
}

fn columnar_info(a: &InfoArgs, c: &ColumnarFile, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "file        {} ({} bytes)",
        printable(&a.data.display().to_string()),
        c.file_bytes()
    )?;
    let groups = match (c.format(), c.row_groups()) {
        (Format::Arrow, 1) => "record batch",
        (Format::Arrow, _) => "record batches",
        (Format::Parquet, 1) => "row group",
        (Format::Parquet, _) => "row groups",
    };
    writeln!(
        out,
        "format      {} ({} {groups})",
        c.format().name(),
        c.row_groups()
    )?;
    let fields: Vec<String> = c
        .fields()
        .iter()
        .map(|f| {
            let note = match (f.selected, f.pandas_index) {
                (true, _) => "",
                (false, true) => ", pandas index, not read",
                (false, false) => ", not read",
            };
            format!("{} ({}{note})", printable(&f.name), f.data_type)
        })
        .collect();
    writeln!(out, "columns     {}", fields.join(", "))?;
    if c.column_names().len() < c.fields().len() {
        writeln!(
            out,
            "read        {}",
            printable(&c.column_names().join(", "))
        )?;
    }
    writeln!(
        out,
        "shape       {} rows x {} columns",
        c.n_samples(),
        c.n_features()
    )?;
    writeln!(out, "dtype       read as {}", c.dtype().name())?;
    match c.conversion() {
        None => writeln!(out, "storage     memory-mapped, read in place (no copy)")?,
        Some(why) => writeln!(out, "storage     {why}")?,
    }
    let bytes = c.n_samples() as f64
        * c.n_features() as f64
        * if c.dtype() == gmm_io::Dtype::F64 {
            8.0
        } else {
            4.0
        };
    writeln!(out, "data size   {:.1} MB", bytes / 1e6)?;
    Ok(())
}

pub(crate) fn convert(a: ConvertArgs) -> Result<()> {
    signals::install(OnSignal::Exit);
    gmm_io::check_outputs(&[a.output.as_path()], &[a.input.as_path()])?;
    gmm_io::check_data_output(&a.output, true)?;
    let delimiter = a.delimiter;
    let header = if a.no_header {
        Some(false)
    } else if a.header {
        Some(true)
    } else {
        None
    };
    let options = gmm_io::CsvOptions { header, delimiter };
    if !gmm_io::is_csv(&a.input) {
        let src = a.columns.open(&a.input)?;
        let rows = gmm_io::convert_source(&src, gmm_io::Output::prepare(&a.output)?)?;
        src.check_unchanged()?;
        note!(
            "wrote {rows} rows x {} columns to {}",
            src.n_features(),
            a.output.display()
        );
        return Ok(());
    }
    if a.columns.columns.is_some() {
        bail!("--columns selects columns of Arrow and Parquet inputs, not of CSV files");
    }
    let s = gmm_io::csv_convert(&a.input, &a.output, options)?;
    note!(
        "wrote {} rows x {} columns{} to {}",
        s.n_samples,
        s.n_features,
        if s.had_header {
            " (first line taken as a header)"
        } else {
            ""
        },
        a.output.display()
    );
    Ok(())
}
