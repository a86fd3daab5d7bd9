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
    plot::save(
        out,
        &Picture::Fit {
            scene: &scene,
            lower_bounds: None,
        },
    )
}

pub(crate) fn demo(a: DemoArgs) -> Result<()> {
    if a.n < 3 {
        bail!("--n must be at least 3 (one point per component)");
    }
    std::fs::create_dir_all(&a.out_dir)
        .with_context(|| format!("cannot create {}", a.out_dir.display()))?;
    let model_path = a.out_dir.join("model.json");
    let picture = a.out_dir.join("fit.png");
    let preset = Preset::Seed2d;
    let x = preset.generate(Some(a.n), a.seed);
    let data = gmm_core::DataView::new(&x, a.n, 2)?;
    println!(
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
    println!("{}", summary(r));
    let truth = preset.truth(a.seed);
    let m = &fit.model;
    println!(
        "{:<9} {:>7} {:>7}  {:>16} {:>16}  {:>30} {:>30}",
        "component", "w true", "w fit", "mean true", "mean fit", "cov true", "cov fit"
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
        println!(
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
    gmm_io::save_model(&model_path, m)?;
    let scene = Scene::new(m, &data, plot::DEFAULT_MAX_POINTS)?;
    plot::save(
        gmm_io::Output::prepare(&picture)?,
        &Picture::Fit {
            scene: &scene,
            lower_bounds: Some(&r.lower_bounds),
        },
    )?;
    let animation = a.out_dir.join("fit.gif");
    plot::save_animation(
        gmm_io::Output::prepare(&animation)?,
        &models,
        &r.lower_bounds,
        &data,
    )?;
    println!(
        "wrote {}, {} and {}",
        model_path.display(),
        picture.display(),
        animation.display()
    );
    Ok(())
}
