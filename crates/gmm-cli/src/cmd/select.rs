//! `gmm select`.

use std::io::Write;

use anyhow::{Result, bail};
use gmm_core::{Criterion, Init, ModelSelection, Selection};
use gmm_io::SourceRows;

use crate::args::{SelectArgs, parse_components, parse_covariances, parse_init};
use crate::outputs;
use crate::plot::{self, Picture};
use crate::signals::{self, OnSignal};

pub(crate) fn select(a: SelectArgs) -> Result<()> {
    let components = parse_components(&a.components)?;
    let types = parse_covariances(&a.covariance)?;
    let criterion: Criterion = a.criterion.parse()?;
    let init = match parse_init(&a.init)? {
        Init::Given(_) => bail!(
            "--init for select must be a method (kmeans, k-means++, random-from-data, random): \
             the candidates have different numbers of components"
        ),
        m => m,
    };
    if let Some(p) = &a.plot {
        plot::check_picture_path(p)?;
    }
    // The table is printed: with no --out or --report, a closed standard
    // output would lose the whole result with exit code 0.
    if a.out.is_none() && a.report.is_none() {
        drop(gmm_io::Output::stdout()?);
    }
    signals::install(OnSignal::Exit);
    let mut outputs = outputs::prepare(
        &[a.out.as_deref(), a.report.as_deref(), a.plot.as_deref()],
        &[a.data.as_path()],
    )?
    .into_iter();
    let (model_out, report_out, plot_out) = (
        outputs.next().flatten(),
        outputs.next().flatten(),
        outputs.next().flatten(),
    );
    let selection = ModelSelection::new(components)
        .covariance_types(types)
        .criterion(criterion)
        .params(a.em.params(1, init));
    let source = a.columns.open(&a.data)?;
    let run = || -> Result<Selection> {
        Ok(match source.rows() {
            SourceRows::F64(v) => selection.fit(&v)?,
            SourceRows::F32(v) => selection.fit(&v)?,
        })
    };
    let sel = a.threads.install(run)?;
    source.check_unchanged()?;
    // All the outputs or none.
    let mut staged = Vec::new();
    if let Some(out) = report_out {
        let text = serde_json::to_string_pretty(&sel).expect("a selection serialises");
        staged.push(out.stage(|w| {
            w.write_all(text.as_bytes())?;
            w.write_all(b"\n")
        })?);
    }
    if let Some(out) = model_out {
        staged.push(gmm_io::stage_model(out, &sel.best().model)?);
    }
    if let Some(out) = plot_out {
        staged.push(plot::save(out, &Picture::Criteria(&sel))?);
    }
    gmm_io::commit(staged)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "      K  covariance    log-likelihood               BIC               AIC  iterations  converged"
    )?;
    for (i, c) in sel.candidates.iter().enumerate() {
        writeln!(
            out,
            "{} {:>4}  {:<10} {:>17.6} {:>17.4} {:>17.4}  {:>10}  {}",
            if i == sel.best { " *" } else { "  " },
            c.n_components,
            c.covariance_type.as_str(),
            c.mean_log_likelihood,
            c.bic,
            c.aic,
            c.report.n_iter,
            if c.report.converged { "yes" } else { "no" }
        )?;
    }
    let b = sel.best();
    writeln!(
        out,
        "best by {}: K = {}, covariance {}",
        criterion.as_str().to_uppercase(),
        b.n_components,
        b.covariance_type
    )?;
    if !a.quiet {
        let total: f64 = sel.candidates.iter().map(|c| c.report.fit_seconds).sum();
        note!(
            "{} candidates fitted in {total:.3} s of fitting",
            sel.candidates.len()
        );
    }
    Ok(())
}
