//! `gmm fit`.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use gmm_core::distributed::{Collective, Spread, share};
use gmm_core::{CovarianceType, Fit, FitObserver, GaussianMixtureParams, Init, Rows};
use gmm_io::{DataSource, Dataset, Output, SourceRows};

use super::Outcome;
use crate::args::{FitArgs, parse_init};
use crate::outputs;
use crate::plot::{self, Picture, Recorder, Scene};
use crate::progress::Progress;
use crate::signals::{self, OnSignal};
use crate::spread::agree;

pub(crate) fn fit(a: FitArgs) -> Result<Outcome> {
    fit_on(a, None)
}

/// `gmm fit`, or one process of `gmm-mpi fit` when `comm` is given: every
/// process opens the data and fits the rows of its share
/// ([`gmm_core::distributed`]); process 0 alone prepares and writes the
/// outputs and shows progress. Every step that may fail on some processes
/// only ends with an agreement ([`crate::spread::agree`]), so that all go
/// on or all stop, and the first failure is reported once.
pub(crate) fn fit_on(a: FitArgs, comm: Option<&dyn Collective>) -> Result<Outcome> {
    let root = comm.is_none_or(|c| c.rank() == 0);
    let setup = agree(comm, setup(&a, root, comm.is_some()))?;
    let Setup {
        params,
        source,
        weights,
        outputs: (model_out, report_out, plot_out, animate_out),
    } = setup;
    let mut progress = Progress::new(
        root && !a.quiet && std::io::stderr().is_terminal(),
        a.em.max_iter,
        params.init_method().name(),
    );
    // Process 0 keeps the models of the iterations when asked to animate.
    let animate = root && a.animate.is_some();
    let mut models = Vec::new();
    let run = || -> Result<Fit> {
        let fit_with = |observer: &mut dyn FitObserver| -> Result<Fit> {
            let w = weights.as_deref();
            Ok(match source.rows() {
                SourceRows::F64(v) => fit_rows(&params, &v, w, observer, comm)?,
                SourceRows::F32(v) => fit_rows(&params, &v, w, observer, comm)?,
            })
        };
        if !animate {
            return fit_with(&mut progress);
        }
        let mut recorder = Recorder::new(&mut progress);
        let fit = fit_with(&mut recorder)?;
        models = recorder.into_models();
        Ok(fit)
    };
    let fit = match agree(comm, a.threads.install(run)) {
        Ok(fit) => fit,
        Err(e) if is_interrupted(&e) => {
            let mut progress = progress;
            progress.finish();
            if root {
                note!("interrupted during the initialisation: no model yet, nothing was written");
            }
            return Ok(Outcome::Interrupted);
        }
        Err(e) => return Err(e),
    };
    agree(comm, source.check_unchanged().map_err(Into::into))?;
    if !root {
        return Ok(if fit.report.stopped {
            Outcome::Interrupted
        } else {
            Outcome::Done
        });
    }
    // A spread fit prepares its outputs again now (see `setup`).
    let (model_out, report_out, plot_out, animate_out) = match comm {
        None => (model_out, report_out, plot_out, animate_out),
        Some(_) => prepare_outputs(&a)?,
    };
    let model_out = model_out.expect("process 0 prepares the model output");
    // From here on a signal stops the drawing and writes nothing: every
    // output is staged, then all are put in place together.
    signals::set_mode(OnSignal::Exit);
    let mut staged = Vec::new();
    if let Some(out) = report_out {
        let text = serde_json::to_string_pretty(&fit.report).expect("a report serialises");
        staged.push(out.stage(|w| {
            w.write_all(text.as_bytes())?;
            w.write_all(b"\n")
        })?);
    }
    staged.push(gmm_io::stage_model(model_out, &fit.model)?);
    if let Some(out) = plot_out {
        let scene = match source.rows() {
            SourceRows::F64(v) => Scene::new(&fit.model, &v, plot::DEFAULT_MAX_POINTS)?,
            SourceRows::F32(v) => Scene::new(&fit.model, &v, plot::DEFAULT_MAX_POINTS)?,
        };
        staged.push(plot::save(
            out,
            &Picture::Fit {
                scene: &scene,
                lower_bounds: Some(&fit.report.lower_bounds),
            },
        )?);
    }
    let mut drawn = None;
    if let Some(out) = animate_out {
        let t = std::time::Instant::now();
        let lbs = &fit.report.lower_bounds;
        let (gif, frames) = match source.rows() {
            SourceRows::F64(v) => plot::save_animation(out, &models, lbs, &v)?,
            SourceRows::F32(v) => plot::save_animation(out, &models, lbs, &v)?,
        };
        staged.push(gif);
        drawn = Some((frames, t.elapsed().as_secs_f64()));
    }
    gmm_io::commit(staged)?;
    if !a.quiet {
        note!("{}", summary(&fit.report));
        if let Some((frames, seconds)) = drawn {
            note!(
                "drew {frames} frames of {} iterations in {seconds:.2} s (not counted in the fit's {:.3} s)",
                models.len().saturating_sub(1),
                fit.report.fit_seconds
            );
        }
    }
    if fit.report.stopped {
        note!(
            "interrupted: wrote the best model so far ({} iterations, \"converged\": false)",
            fit.report.n_iter
        );
        return Ok(Outcome::Interrupted);
    }
    Ok(Outcome::Done)
}

/// What a fit needs before its first pass: checked parameters, the opened
/// data and weights, and (on process 0) the prepared outputs.
struct Setup {
    params: GaussianMixtureParams,
    source: DataSource,
    weights: Option<Vec<f64>>,
    outputs: Outputs,
}

/// The model, report, plot and animation outputs.
type Outputs = (
    Option<Output>,
    Option<Output>,
    Option<Output>,
    Option<Output>,
);

/// Opens and checks everything before the first pass. Process 0 prepares
/// the outputs; a spread fit only checks them and prepares them again after
/// the fit, so that no temporary file exists while the processes depend on
/// each other (when one dies, mpirun kills the others without a chance to
/// clean up).
fn setup(a: &FitArgs, root: bool, spread: bool) -> Result<Setup> {
    let init = parse_init(&a.init)?;
    let covariance: CovarianceType = match (&a.covariance, &init) {
        (Some(c), _) => c.parse()?,
        (None, Init::Given(m)) => m.covariance_type(),
        (None, _) => CovarianceType::Full,
    };
    if let Some(p) = &a.plot {
        plot::check_picture_path(p)?;
    }
    if let Some(p) = &a.animate {
        plot::check_animation_path(p)?;
    }
    signals::install(OnSignal::Finish);
    let outputs = match (root, spread) {
        (false, _) => (None, None, None, None),
        (true, false) => prepare_outputs(a)?,
        (true, true) => {
            drop(prepare_outputs(a)?);
            (None, None, None, None)
        }
    };
    let params =
        a.em.params(a.components, init)
            .covariance_type(covariance)
            .reseed_collapsed(a.reseed_collapsed);
    params.check()?;
    let source = a.columns.open(&a.data)?;
    let weights = match &a.sample_weight {
        Some(path) => Some(load_weights(path)?),
        None => None,
    };
    Ok(Setup {
        params,
        source,
        weights,
        outputs,
    })
}

/// The model (standard output unless --out), report and plot outputs,
/// checked against the inputs and prepared.
fn prepare_outputs(a: &FitArgs) -> Result<Outputs> {
    let mut inputs = vec![a.data.as_path()];
    // An --init that names no method is the model file read.
    if a.init.parse::<gmm_core::InitMethod>().is_err() {
        inputs.push(Path::new(&a.init));
    }
    if let Some(w) = &a.sample_weight {
        inputs.push(w.as_path());
    }
    let model_path = a.out.as_deref().unwrap_or(Path::new(gmm_io::STDOUT));
    let mut outputs = outputs::prepare(
        &[
            Some(model_path),
            a.report.as_deref(),
            a.plot.as_deref(),
            a.animate.as_deref(),
        ],
        &inputs,
    )?
    .into_iter();
    Ok((
        Some(outputs.next().flatten().expect("the model output")),
        outputs.next().flatten(),
        outputs.next().flatten(),
        outputs.next().flatten(),
    ))
}

fn is_interrupted(e: &anyhow::Error) -> bool {
    e.downcast_ref::<gmm_core::Error>()
        .is_some_and(|e| matches!(e.kind(), gmm_core::ErrorKind::Interrupted))
}

/// Fits `v` (the share of `comm`'s process of it, when given).
fn fit_rows<D: Rows>(
    params: &GaussianMixtureParams,
    v: D,
    weights: Option<&[f64]>,
    progress: &mut dyn FitObserver,
    comm: Option<&dyn Collective>,
) -> Result<Fit> {
    match comm {
        None => fit_all(params, v, weights, progress),
        Some(comm) => {
            let local = share(v.n_samples(), comm.size(), comm.rank());
            fit_all(params, Spread::within(comm, v, local)?, weights, progress)
        }
    }
}

fn fit_all<D: Rows>(
    params: &GaussianMixtureParams,
    v: D,
    weights: Option<&[f64]>,
    progress: &mut dyn FitObserver,
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
    Ok(ds.view().to_f64_rows())
}

/// The one-line summary of a fit.
pub(crate) fn summary(r: &gmm_core::FitReport) -> String {
    if r.n_iter == 0 {
        return format!(
            "initialised only (--max-iter 0): no EM iteration ran, {:.3} s ({} threads)",
            r.fit_seconds, r.threads
        );
    }
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
