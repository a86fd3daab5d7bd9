//! `gmm fit`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use gmm_core::{CovarianceType, Fit, GaussianMixtureParams, Init, Rows};
use gmm_io::{DataSource, Dataset, SourceRows};

use super::Outcome;
use crate::args::{FitArgs, parse_init};
use crate::outputs::{check_distinct, check_not_input};
use crate::plot::{self, Picture, Scene};
use crate::progress::{Progress, install_interrupt_handler};

pub(crate) fn fit(a: FitArgs) -> Result<Outcome> {
    let init = parse_init(&a.init)?;
    let covariance: CovarianceType = match (&a.covariance, &init) {
        (Some(c), _) => c.parse()?,
        (None, Init::Given(m)) => m.covariance_type(),
        (None, _) => CovarianceType::Full,
    };
    let mut inputs = vec![a.data.as_path()];
    if let Init::Given(_) = init {
        inputs.push(Path::new(&a.init));
    }
    if let Some(w) = &a.sample_weight {
        inputs.push(w.as_path());
    }
    for out in a.out.iter().chain(a.report.iter()).chain(a.plot.iter()) {
        check_not_input(out, &inputs)?;
    }
    check_distinct(&[a.out.as_deref(), a.report.as_deref(), a.plot.as_deref()])?;
    if let Some(p) = &a.plot {
        plot::check_picture_path(p)?;
    }
    let params =
        a.em.params(a.components, init)
            .covariance_type(covariance)
            .reseed_collapsed(a.reseed_collapsed);
    let source = DataSource::open(&a.data)?;
    let weights = match &a.sample_weight {
        Some(path) => Some(load_weights(path)?),
        None => None,
    };
    install_interrupt_handler();
    let mut progress = Progress::new(
        !a.quiet && std::io::stderr().is_terminal(),
        a.em.max_iter,
        params.init_method().name(),
    );
    let run = || -> Result<Fit> {
        Ok(match source.rows() {
            SourceRows::F64(v) => fit_rows(&params, &v, weights.as_deref(), &mut progress)?,
            SourceRows::F32(v) => fit_rows(&params, &v, weights.as_deref(), &mut progress)?,
        })
    };
    let fit = a.threads.install(run)?;
    if let Some(path) = &a.report {
        let text = serde_json::to_string_pretty(&fit.report).expect("a report serialises");
        gmm_io::write_atomically(path, |w| {
            w.write_all(text.as_bytes())?;
            w.write_all(b"\n")
        })?;
    }
    match &a.out {
        Some(path) => gmm_io::save_model(path, &fit.model)?,
        None => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", gmm_io::model_to_json(&fit.model))
                .context("cannot write to standard output")?;
        }
    }
    if !a.quiet {
        let r = &fit.report;
        eprintln!("{}", summary(r));
    }
    if let Some(path) = &a.plot {
        let scene = match source.rows() {
            SourceRows::F64(v) => Scene::new(&fit.model, &v, plot::DEFAULT_MAX_POINTS)?,
            SourceRows::F32(v) => Scene::new(&fit.model, &v, plot::DEFAULT_MAX_POINTS)?,
        };
        plot::save(
            path,
            &Picture::Fit {
                scene: &scene,
                lower_bounds: Some(&fit.report.lower_bounds),
            },
        )?;
    }
    if fit.report.stopped {
        eprintln!(
            "interrupted: wrote the best model so far ({} iterations, \"converged\": false)",
            fit.report.n_iter
        );
        return Ok(Outcome::Interrupted);
    }
    Ok(Outcome::Done)
}

fn fit_rows<D: Rows>(
    params: &GaussianMixtureParams,
    v: D,
    weights: Option<&[f64]>,
    progress: &mut Progress,
) -> Result<Fit> {
    Ok(match weights {
        None => params.fit_with_observer(v, progress)?,
        Some(w) => params.fit_weighted_with_observer(v, w, progress)?,
    })
}

/// Reads `--sample-weight`: a .npy of `N` (or `N x 1`) numbers of any
/// numeric dtype, as f64.
fn load_weights(path: &Path) -> Result<Vec<f64>> {
    let ds = Dataset::open(path).context("cannot read --sample-weight")?;
    if ds.n_features() != 1 {
        bail!(
            "--sample-weight {} has {} columns: give one weight per row (shape (N,) or (N, 1))",
            path.display(),
            ds.n_features()
        );
    }
    Ok(match ds.view() {
        gmm_io::DatasetView::F64(v) => v.as_slice().to_vec(),
        gmm_io::DatasetView::F32(v) => v.as_slice().iter().map(|w| *w as f64).collect(),
    })
}

/// The one-line summary of a fit.
pub(crate) fn summary(r: &gmm_core::FitReport) -> String {
    format!(
        "{} after {} iterations: lower bound {:.10}, {:.3} s ({:.4} s per iteration, {} threads)",
        if r.converged {
            "converged"
        } else {
            "not converged"
        },
        r.n_iter,
        r.lower_bound,
        r.fit_seconds,
        median(&r.iteration_seconds),
        r.threads
    )
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}
