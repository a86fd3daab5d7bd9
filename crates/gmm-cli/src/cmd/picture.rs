//! The verbs that draw: `plot` and `demo`.

use anyhow::{Context, Result, bail};
use gmm_core::{GaussianMixtureParams, Preset};
use gmm_io::SourceRows;

use super::fit::summary;
use super::load_model_arg;
use crate::args::{DemoArgs, PlotArgs};
use crate::outputs;
use crate::plot::{self, Picture, Recorder, Scene};
use crate::signals::{self, OnSignal};

pub(crate) fn plot(a: PlotArgs) -> Result<()> {
    plot::check_picture_path(&a.out)?;
    signals::install(OnSignal::Exit);
    let out = outputs::prepare(&[Some(&a.out)], &[a.data.as_path(), a.model.as_path()])?
        .pop()
        .flatten()
        .expect("the output");
    let model = load_model_arg(&a.model)?;
    let source = a.columns.open(&a.data)?;
    let scene = match source.rows() {
        SourceRows::F64(v) => Scene::new(&model, &v, a.max_points)?,
        SourceRows::F32(v) => Scene::new(&model, &v, a.max_points)?,
    };
    source.check_unchanged()?;
    let staged = plot::save(
        out,
        &Picture::Fit {
            scene: &scene,
            lower_bounds: None,
        },
    )?;
    Ok(gmm_io::commit(vec![staged])?)
}

/// `println!` for the demo's report on standard output, ignoring a reader
/// that has gone (`gmm demo | head -3`): the files are still written.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub(crate) fn demo(a: DemoArgs) -> Result<()> {
    if a.n < 3 {
        bail!("--n must be at least 3 (one point per component)");
    }
    // The points are held in memory (2 float64 each), beside the fit's own
    // working set: refuse what the machine cannot hold before allocating.
    let bytes = (a.n as u64).checked_mul(16);
    let available = gmm_core::available_memory();
    if let (need, Some(have)) = (bytes, available)
        && need.is_none_or(|b| b > have)
    {
        bail!(
            "--n {} points need {} of memory, but {} are available: ask for fewer points",
            a.n,
            need.map_or("more than 2^64 bytes".to_string(), gmm_core::human_bytes),
            gmm_core::human_bytes(have)
        );
    }
    if a.out_dir.exists() && !a.out_dir.is_dir() {
        bail!(
            "--out-dir {} exists and is not a directory: give a directory",
            a.out_dir.display()
        );
    }
    std::fs::create_dir_all(&a.out_dir)
        .with_context(|| format!("cannot create {}", a.out_dir.display()))?;
    let model_path = a.out_dir.join("model.json");
    let picture = a.out_dir.join("fit.png");
    let animation = a.out_dir.join("fit.gif");
    signals::install(OnSignal::Exit);
    // Every output is checked before the work, and all are written or none.
    let mut outs = outputs::prepare(
        &[
            Some(model_path.as_path()),
            Some(picture.as_path()),
            Some(animation.as_path()),
        ],
        &[],
    )?
    .into_iter()
    .flatten();
    let (model_out, picture_out, animation_out) = (
        outs.next().expect("the model output"),
        outs.next().expect("the picture output"),
        outs.next().expect("the animation output"),
    );
    let preset = Preset::Seed2d;
    let x = preset.generate(Some(a.n), a.seed);
    let data = gmm_core::DataView::new(&x, a.n, 2)?;
    say!(
        "the seeds' data: {} points, 60% N((0,0), 4I), 30% N((5,5), I), 10% N((0,5), 0.25I)",
        a.n
    );
    let mut quiet = gmm_core::NoObserver;
    let mut recorder = Recorder::new(&mut quiet);
    let fit = a.threads.install(|| {
        Ok(GaussianMixtureParams::new(3)
            .seed(a.seed)
            .fit_with_observer(data, &mut recorder)?)
    })?;
    let models = recorder.into_models();
    let r = &fit.report;
    say!("{}", summary(r));
    let truth = preset.truth(a.seed);
    let m = &fit.model;
    say!(
        "{:<9} {:>7} {:>7}  {:>16} {:>16}  {:>30} {:>30}",
        "component",
        "w true",
        "w fit",
        "mean true",
        "mean fit",
        "cov true",
        "cov fit"
    );
    let fmt = |v: &[f64]| {
        format!(
            "[{}]",
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let dist =
        |p: &[f64], q: &[f64]| -> f64 { p.iter().zip(q).map(|(u, v)| (u - v).powi(2)).sum() };
    for c in 0..3 {
        let tm = truth.mean(c);
        let f = (0..3)
            .min_by(|&i, &j| dist(tm, m.mean(i)).total_cmp(&dist(tm, m.mean(j))))
            .expect("three components");
        say!(
            "{:<9} {:>7.4} {:>7.4}  {:>16} {:>16}  {:>30} {:>30}",
            c,
            truth.weights()[c],
            m.weights()[f],
            fmt(tm),
            fmt(m.mean(f)),
            fmt(&truth.covariance_matrix(c)),
            fmt(&m.covariance_matrix(f))
        );
    }
    let scene = Scene::new(m, &data, plot::DEFAULT_MAX_POINTS)?;
    let staged = vec![
        gmm_io::stage_model(model_out, m)?,
        plot::save(
            picture_out,
            &Picture::Fit {
                scene: &scene,
                lower_bounds: Some(&r.lower_bounds),
            },
        )?,
        plot::save_animation(animation_out, &models, &r.lower_bounds, &data)?.0,
    ];
    gmm_io::commit(staged)?;
    say!(
        "wrote {}, {} and {}",
        model_path.display(),
        picture.display(),
        animation.display()
    );
    Ok(())
}
