//! Model files: the JSON schema other tools rely on.
//!
//! ```text
//! {"format": "gmm-model", "version": 1, "covariance_type": "full",
//!  "n_components": K, "n_features": D,
//!  "weights": [K], "means": [[D] x K],
//!  "covariances": full [[[D x D]] x K] | diag [[D] x K] | spherical [K] | tied [[D x D]],
//!  "converged": true, "n_iter": 12, "lower_bound": -4.47}
//! ```
//!
//! When a file is read (for prediction or as `--init`), `weights`, `means` and
//! `covariances` are enough: the other fields are checked when present and
//! inferred otherwise.

use std::path::Path;

use gmm_core::{CovarianceType, FitInfo, GaussianMixture};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::output::Output;

/// The `format` field of model files.
pub const MODEL_FORMAT: &str = "gmm-model";
/// The `version` field this crate writes and reads.
pub const MODEL_VERSION: u64 = 1;

#[derive(Serialize)]
struct ModelOut<'a> {
    format: &'static str,
    version: u64,
    covariance_type: &'static str,
    n_components: usize,
    n_features: usize,
    weights: &'a [f64],
    means: Vec<&'a [f64]>,
    covariances: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    converged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_iter: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_bound: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelIn {
    format: Option<String>,
    version: Option<u64>,
    covariance_type: Option<String>,
    n_components: Option<usize>,
    n_features: Option<usize>,
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    covariances: Value,
    converged: Option<bool>,
    n_iter: Option<usize>,
    lower_bound: Option<f64>,
}

/// The model as pretty JSON text.
pub fn model_to_json(model: &GaussianMixture) -> String {
    let (k, d) = (model.n_components(), model.n_features());
    let info = model.fit_info();
    let out = ModelOut {
        format: MODEL_FORMAT,
        version: MODEL_VERSION,
        covariance_type: model.covariance_type().as_str(),
        n_components: k,
        n_features: d,
        weights: model.weights(),
        means: (0..k).map(|c| model.mean(c)).collect(),
        covariances: covariances_to_json(model),
        converged: info.map(|i| i.converged),
        n_iter: info.map(|i| i.n_iter),
        lower_bound: info.map(|i| i.lower_bound).filter(|v| v.is_finite()),
    };
    serde_json::to_string_pretty(&out).expect("a model serialises")
}

/// Writes the model atomically (`-`: to standard output).
pub fn save_model(path: &Path, model: &GaussianMixture) -> Result<()> {
    save_model_to(Output::prepare(path)?, model)
}

/// Writes the model to a prepared [`Output`].
pub fn save_model_to(out: Output, model: &GaussianMixture) -> Result<()> {
    let text = model_to_json(model);
    out.write(|w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")
    })
}

/// As [`save_model_to`], staged (see [`Output::stage`]): in place once
/// [`crate::commit`]ted with the command's other outputs.
pub fn stage_model(out: Output, model: &GaussianMixture) -> Result<crate::Staged> {
    let text = model_to_json(model);
    out.stage(|w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")
    })
}

/// Reads and validates a model file.
pub fn load_model(path: &Path) -> Result<GaussianMixture> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(e, path))?;
    model_from_json(&text).map_err(|e| match e {
        Fault::Schema(m) => Error::model(m, path),
        Fault::Core(c) => Error::new(ErrorKind::Core(c), path),
    })
}

/// Parses model JSON held in memory (the schema of [`load_model`]), validated
/// the same way; errors name `<model JSON>` as the file.
pub fn parse_model(text: &str) -> Result<GaussianMixture> {
    let origin = Path::new("<model JSON>");
    model_from_json(text).map_err(|e| match e {
        Fault::Schema(m) => Error::model(m, origin),
        Fault::Core(c) => Error::new(ErrorKind::Core(c), origin),
    })
}

enum Fault {
    Schema(String),
    Core(gmm_core::Error),
}

fn schema(m: impl Into<String>) -> Fault {
    Fault::Schema(m.into())
}

fn model_from_json(text: &str) -> std::result::Result<GaussianMixture, Fault> {
    let m: ModelIn = serde_json::from_str(text).map_err(|e| schema(format!("{e}")))?;
    if let Some(f) = &m.format
        && f != MODEL_FORMAT
    {
        return Err(schema(format!(
            "format is '{f}', expected '{MODEL_FORMAT}'"
        )));
    }
    if let Some(v) = m.version
        && v != MODEL_VERSION
    {
        return Err(schema(format!(
            "version {v} is not supported (this build reads version {MODEL_VERSION}): upgrade gmm"
        )));
    }
    let covariance_type: CovarianceType = match &m.covariance_type {
        Some(s) => s.parse().map_err(Fault::Core)?,
        None => CovarianceType::Full,
    };
    let k = m.weights.len();
    if k == 0 {
        return Err(schema(
            "'weights' is empty: a model needs at least one component",
        ));
    }
    if let Some(nc) = m.n_components
        && nc != k
    {
        return Err(schema(format!(
            "n_components is {nc} but there are {k} weights"
        )));
    }
    if m.means.len() != k {
        return Err(schema(format!(
            "there are {k} weights but {} means",
            m.means.len()
        )));
    }
    let d = m.means[0].len();
    if d == 0 {
        return Err(schema(
            "the means are empty: a model needs at least one feature",
        ));
    }
    if let Some(nf) = m.n_features
        && nf != d
    {
        return Err(schema(format!(
            "n_features is {nf} but the means have {d} values"
        )));
    }
    if let Some((c, row)) = m.means.iter().enumerate().find(|(_, r)| r.len() != d) {
        return Err(schema(format!(
            "mean {c} has {} values, expected {d}",
            row.len()
        )));
    }
    let covariances = covariances_from_json(&m.covariances, covariance_type, k, d)?;
    let model = GaussianMixture::from_parameters(
        covariance_type,
        k,
        d,
        m.weights,
        m.means.concat(),
        covariances,
    )
    .map_err(Fault::Core)?;
    // The record of the fit, kept so that a model read and written again
    // (a pickled Python model, say) is the same file.
    Ok(match (m.converged, m.n_iter, m.lower_bound) {
        (Some(converged), Some(n_iter), Some(lower_bound)) => model.with_fit_info(FitInfo {
            converged,
            n_iter,
            lower_bound,
        }),
        _ => model,
    })
}

fn covariances_to_json(model: &GaussianMixture) -> Value {
    let d = model.n_features();
    let cov = model.covariances();
    let rows =
        |v: &[f64]| -> Value { v.chunks_exact(d).map(|r| Value::from(r.to_vec())).collect() };
    match model.covariance_type() {
        CovarianceType::Full => cov.chunks_exact(d * d).map(rows).collect(),
        CovarianceType::Tied | CovarianceType::Diag => rows(cov),
        _ => Value::from(cov.to_vec()),
    }
}

/// Reads `covariances` shaped for `covariance_type`: a nesting of arrays
/// `levels` deep with the given lengths (outermost first).
fn covariances_from_json(
    v: &Value,
    covariance_type: CovarianceType,
    k: usize,
    d: usize,
) -> std::result::Result<Vec<f64>, Fault> {
    let (shape, words): (Vec<usize>, String) = match covariance_type {
        CovarianceType::Full => (vec![k, d, d], format!("{k} matrices of {d} x {d} numbers")),
        CovarianceType::Tied => (vec![d, d], format!("one {d} x {d} matrix")),
        CovarianceType::Diag => (vec![k, d], format!("{k} rows of {d} variances")),
        _ => (vec![k], format!("{k} variances")),
    };
    let shape_err = || {
        schema(format!(
            "'covariances' must be {words} for covariance_type '{covariance_type}' \
             (set \"covariance_type\" if the file holds another type)"
        ))
    };
    let mut out = Vec::with_capacity(shape.iter().product());
    fn walk(
        v: &Value,
        shape: &[usize],
        out: &mut Vec<f64>,
        err: &dyn Fn() -> Fault,
    ) -> std::result::Result<(), Fault> {
        match shape.split_first() {
            None => out.push(v.as_f64().ok_or_else(err)?),
            Some((&n, rest)) => {
                let items = v.as_array().ok_or_else(err)?;
                if items.len() != n {
                    return Err(err());
                }
                for item in items {
                    walk(item, rest, out, err)?;
                }
            }
        }
        Ok(())
    }
    walk(v, &shape, &mut out, &shape_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> GaussianMixture {
        GaussianMixture::from_parameters(
            CovarianceType::Full,
            2,
            2,
            vec![0.3, 0.7],
            vec![0.0, 1.0, 2.0, 3.0],
            vec![1.0, 0.2, 0.2, 2.0, 0.5, 0.0, 0.0, 0.5],
        )
        .unwrap()
    }

    #[test]
    fn round_trips_exactly() {
        let m = model();
        let back = model_from_json(&model_to_json(&m)).ok().unwrap();
        assert_eq!(back.weights(), m.weights());
        assert_eq!(back.means(), m.means());
        assert_eq!(back.covariances(), m.covariances());
    }

    #[test]
    fn every_covariance_type_round_trips_in_its_shape() {
        let cases: [(CovarianceType, Vec<f64>, &str); 4] = [
            (
                CovarianceType::Full,
                vec![1.0, 0.2, 0.2, 2.0, 0.5, 0.0, 0.0, 0.5],
                "[[[1.0,0.2],[0.2,2.0]],[[0.5,0.0],[0.0,0.5]]]",
            ),
            (
                CovarianceType::Tied,
                vec![1.0, 0.2, 0.2, 2.0],
                "[[1.0,0.2],[0.2,2.0]]",
            ),
            (
                CovarianceType::Diag,
                vec![1.0, 2.0, 0.5, 0.25],
                "[[1.0,2.0],[0.5,0.25]]",
            ),
            (CovarianceType::Spherical, vec![1.5, 0.5], "[1.5,0.5]"),
        ];
        for (ct, cov, json) in cases {
            let m = GaussianMixture::from_parameters(
                ct,
                2,
                2,
                vec![0.3, 0.7],
                vec![0.0, 1.0, 2.0, 3.0],
                cov,
            )
            .unwrap();
            let text = model_to_json(&m);
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["covariance_type"], ct.as_str());
            assert_eq!(v["covariances"].to_string(), json, "{ct}");
            let back = model_from_json(&text).ok().unwrap();
            assert_eq!(back, m, "{ct}");
            // The same numbers under another type's name are refused.
            let other = if ct == CovarianceType::Full {
                "diag"
            } else {
                "full"
            };
            let msg = match model_from_json(&text.replace(
                &format!("\"covariance_type\": \"{ct}\""),
                &format!("\"covariance_type\": \"{other}\""),
            )) {
                Err(Fault::Schema(m)) => m,
                _ => panic!("{ct} read as {other}"),
            };
            assert!(msg.contains("'covariances' must be"), "{msg}");
        }
    }

    #[test]
    fn minimal_file_is_enough() {
        let m = model_from_json(
            r#"{"weights": [1.0], "means": [[0.0, 0.0]], "covariances": [[[1.0, 0.0], [0.0, 1.0]]]}"#,
        )
        .ok()
        .unwrap();
        assert_eq!(m.n_features(), 2);
    }

    #[test]
    fn rejects_bad_files() {
        let good = model_to_json(&model());
        let cases = [
            ("not json", "expected"),
            (&good.replace("gmm-model", "other"), "format"),
            (
                &good.replace("\"version\": 1", "\"version\": 2"),
                "version 2",
            ),
            (
                &good.replace("\"n_components\": 2", "\"n_components\": 3"),
                "n_components",
            ),
            (&good.replace("0.3", "0.4"), "sum"),
            (
                &good.replace(
                    "\"covariance_type\": \"full\"",
                    "\"covariance_type\": \"round\"",
                ),
                "covariance_type",
            ),
            (
                r#"{"weights": [1.0], "means": [[0.0]], "covariances": [[[-1.0]]]}"#,
                "positive definite",
            ),
            (
                r#"{"weights": [1.0], "means": [[0.0, 1.0]], "covariances": [[[1.0]]]}"#,
                "matrices",
            ),
            (
                r#"{"weights": [], "means": [], "covariances": []}"#,
                "empty",
            ),
            (
                r#"{"weights": [1.0], "means": [[0.0]], "covariances": [[[1.0]]], "extra": 1}"#,
                "unknown field",
            ),
        ];
        for (text, needle) in cases {
            let msg = match model_from_json(text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(Fault::Schema(m)) => m,
                Err(Fault::Core(c)) => c.to_string(),
            };
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
    }
}
