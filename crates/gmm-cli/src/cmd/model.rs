//! The verbs that apply a model to data: `predict`, `score`, `sample`.

use std::io::Write;

use anyhow::{Result, bail};
use gmm_io::{DataSource, SourceRows};

use super::load_model_arg;
use crate::args::{PredictArgs, SampleArgs, ScoreArgs};
use crate::outputs::check_not_input;

pub(crate) fn predict(a: PredictArgs) -> Result<()> {
    check_not_input(&a.out, &[a.data.as_path(), a.model.as_path()])?;
    let model = load_model_arg(&a.model)?;
    let source = DataSource::open(&a.data)?;
    let n = source.n_samples();
    let k = model.n_components();
    a.threads.install(|| {
        if a.proba {
            let p = match source.rows() {
                SourceRows::F64(v) => model.predict_proba(&v)?,
                SourceRows::F32(v) => model.predict_proba(&v)?,
            };
            gmm_io::write_npy(&a.out, &p, &[n, k])?;
        } else {
            let labels = match source.rows() {
                SourceRows::F64(v) => model.predict(&v)?,
                SourceRows::F32(v) => model.predict(&v)?,
            };
            let labels: Vec<i64> = labels.into_iter().map(|l| l as i64).collect();
            gmm_io::write_npy(&a.out, &labels, &[n])?;
        }
        Ok(())
    })
}

pub(crate) fn score(a: ScoreArgs) -> Result<()> {
    let model = load_model_arg(&a.model)?;
    let source = DataSource::open(&a.data)?;
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
    check_not_input(&a.out, &[a.model.as_path()])?;
    if let Some(l) = &a.labels {
        check_not_input(l, &[a.model.as_path()])?;
        if l == &a.out {
            bail!("--out and --labels are the same file: give two paths");
        }
    }
    let model = load_model_arg(&a.model)?;
    let (x, labels) = model.sample(a.n, a.seed);
    gmm_io::write_npy(&a.out, &x, &[a.n, model.n_features()])?;
    if let Some(path) = &a.labels {
        let labels: Vec<i64> = labels.into_iter().map(|l| l as i64).collect();
        gmm_io::write_npy(path, &labels, &[a.n])?;
    }
    Ok(())
}
