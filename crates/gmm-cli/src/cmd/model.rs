//! The verbs that apply a model to data: `predict`, `score`, `sample`.

use std::io::Write;

use anyhow::{Result, bail};
use gmm_io::SourceRows;

use super::load_model_arg;
use crate::args::{PredictArgs, SampleArgs, ScoreArgs};
use crate::outputs;
use crate::signals::{self, OnSignal};

pub(crate) fn predict(a: PredictArgs) -> Result<()> {
    signals::install(OnSignal::Exit);
    let out = outputs::prepare(&[Some(&a.out)], &[a.data.as_path(), a.model.as_path()])?
        .pop()
        .flatten()
        .expect("the output");
    gmm_io::check_data_output(&a.out, false)?;
    let model = load_model_arg(&a.model)?;
    let source = a.columns.open(&a.data)?;
    check_columns(&model, &source, &a.data)?;
    let n = source.n_samples();
    let k = model.n_components();
    // Block by block: memory for a few blocks of outputs, whatever N.
    a.threads.install(|| {
        if a.proba {
            let names: Vec<String> = (0..k).map(|j| format!("p{j}")).collect();
            gmm_io::write_streamed::<f64>(out, &[n, k], &names, |put| match source.rows() {
                SourceRows::F64(v) => model.predict_proba_streamed(&v, put),
                SourceRows::F32(v) => model.predict_proba_streamed(&v, put),
            })?;
        } else {
            let mut labels: Vec<i64> = Vec::new();
            let names = ["label".to_string()];
            gmm_io::write_streamed::<i64>(out, &[n], &names, |put| {
                let mut put_labels = |l: &[usize]| -> std::io::Result<()> {
                    labels.clear();
                    labels.extend(l.iter().map(|&c| c as i64));
                    put(&labels)
                };
                match source.rows() {
                    SourceRows::F64(v) => model.predict_streamed(&v, &mut put_labels),
                    SourceRows::F32(v) => model.predict_streamed(&v, &mut put_labels),
                }
            })?;
        }
        source.check_unchanged()?;
        Ok(())
    })
}

/// Refuses data whose column count is not the model's, naming the data.
fn check_columns(
    model: &gmm_core::GaussianMixture,
    source: &gmm_io::DataSource,
    data: &std::path::Path,
) -> Result<()> {
    if source.n_features() != model.n_features() {
        bail!(
            "{}: the data has {} columns but the model was fitted on {}: give data with the \
             model's features (--columns chooses them in Arrow and Parquet files)",
            data.display(),
            source.n_features(),
            model.n_features()
        );
    }
    Ok(())
}

pub(crate) fn score(a: ScoreArgs) -> Result<()> {
    // The score is printed: refuse a closed standard output before the work,
    // rather than losing the result with exit code 0.
    drop(gmm_io::Output::stdout()?);
    let model = load_model_arg(&a.model)?;
    let source = a.columns.open(&a.data)?;
    check_columns(&model, &source, &a.data)?;
    let n = source.n_samples();
    let mean = a.threads.install(|| {
        Ok(match source.rows() {
            SourceRows::F64(v) => model.score(&v)?,
            SourceRows::F32(v) => model.score(&v)?,
        })
    })?;
    let (nf, p) = (n as f64, model.n_parameters() as f64);
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({
            "mean_log_likelihood": mean,
            "bic": -2.0 * mean * nf + p * nf.ln(),
            "aic": -2.0 * mean * nf + 2.0 * p,
            "n_samples": n,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "{mean}")?;
    }
    Ok(())
}

pub(crate) fn sample(a: SampleArgs) -> Result<()> {
    if a.n == 0 {
        bail!("--n must be at least 1");
    }
    signals::install(OnSignal::Exit);
    let mut outs =
        outputs::prepare(&[Some(&a.out), a.labels.as_deref()], &[a.model.as_path()])?.into_iter();
    let (out, labels_out) = (
        outs.next().flatten().expect("the output"),
        outs.next().flatten(),
    );
    // The rows and labels are streamed side by side as .npy.
    for p in std::iter::once(&a.out).chain(&a.labels) {
        gmm_io::check_data_output(p, false)?;
        if gmm_io::Format::from_path(p).is_some() {
            bail!(
                "{}: sample writes .npy files: name the output .npy (gmm convert turns it into Parquet or Arrow)",
                p.display()
            );
        }
    }
    let model = load_model_arg(&a.model)?;
    let d = model.n_features();
    let x_bytes =
        a.n.checked_mul(d)
            .and_then(|v| gmm_io::npy_bytes::<f64>(&[v]));
    gmm_io::check_space(&out, x_bytes, "the sample")?;
    if let Some(l) = &labels_out {
        gmm_io::check_space(l, gmm_io::npy_bytes::<i64>(&[a.n]), "the labels")?;
    }
    // Streamed: the rows and labels are written piece by piece as drawn.
    let mut x_w = out.writer()?;
    let mut l_w = labels_out.map(gmm_io::Output::writer).transpose()?;
    let x_err = |e| anyhow::Error::from(e).context(format!("cannot write {}", a.out.display()));
    x_w.write_all(&gmm_io::header_bytes("<f8", &[a.n, d]))
        .map_err(x_err)?;
    if let Some(w) = &mut l_w {
        w.write_all(&gmm_io::header_bytes("<i8", &[a.n]))?;
    }
    let mut buf = Vec::new();
    model.sample_streamed(a.n, a.seed, |rows, labels| -> Result<()> {
        buf.clear();
        rows.iter()
            .for_each(|v| buf.extend_from_slice(&v.to_le_bytes()));
        x_w.write_all(&buf).map_err(x_err)?;
        if let Some(w) = &mut l_w {
            buf.clear();
            labels
                .iter()
                .for_each(|&c| buf.extend_from_slice(&(c as i64).to_le_bytes()));
            w.write_all(&buf)?;
        }
        Ok(())
    })?;
    // Both outputs or neither.
    let mut staged = vec![x_w.stage()?];
    if let Some(w) = l_w {
        staged.push(w.stage()?);
    }
    Ok(gmm_io::commit(staged)?)
}
