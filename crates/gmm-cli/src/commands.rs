//! The commands.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use anyhow::{Context, Result, bail};
use gmm_core::{
    CovarianceType, Criterion, Fit, FitObserver, GaussianMixtureParams, Init, InitPhase,
    IterationProgress, ModelSelection, Preset, Rows, Selection,
};
use gmm_io::{DataSource, Dataset, SourceRows};

use crate::args::{
    Cli, Command, ConvertArgs, DemoArgs, FitArgs, GenerateArgs, InfoArgs, PlotArgs, PredictArgs,
    SampleArgs, ScoreArgs, SelectArgs,
};
use crate::plot::{self, Picture, Scene};

/// How a command that ran without error ended.
pub enum Outcome {
    /// It did all it was asked.
    Done,
    /// Ctrl-C stopped it early; its outputs were still written.
    Interrupted,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    let done = |r: Result<()>| r.map(|()| Outcome::Done);
    match cli.command {
        Command::Fit(a) => fit(a),
        Command::Select(a) => done(select(a)),
        Command::Predict(a) => done(predict(a)),
        Command::Score(a) => done(score(a)),
        Command::Sample(a) => done(sample(a)),
        Command::Plot(a) => done(plot_cmd(a)),
        Command::Demo(a) => done(demo(a)),
        Command::Generate(a) => done(generate(a)),
        Command::Info(a) => done(info(a)),
        Command::Convert(a) => done(convert(a)),
    }
}

/// Refuses to write an output over one of the inputs.
fn check_not_input(out: &Path, inputs: &[&Path]) -> Result<()> {
    let Ok(out_c) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    for input in inputs {
        if input.canonicalize().ok().as_deref() == Some(out_c.as_path()) {
            bail!(
                "refusing to write {} over an input file: choose another output path",
                out.display()
            );
        }
    }
    Ok(())
}

fn parse_init(s: &str) -> Result<Init> {
    Ok(match s {
        "kmeans" => Init::KMeans,
        "k-means++" => Init::KMeansPlusPlus,
        "random-from-data" => Init::RandomFromData,
        "random" => Init::Random,
        path => {
            let p = Path::new(path);
            if !p.exists() {
                bail!(
                    "--init '{path}' is neither a method (kmeans, k-means++, random-from-data, random) \
                     nor an existing model file"
                );
            }
            Init::Given(gmm_io::load_model(p).context("cannot use it as --init")?)
        }
    })
}

/// Set by the Ctrl-C handler; a second Ctrl-C aborts at once.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler of `fit` (once per process).
fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // If no handler can be installed, Ctrl-C keeps its default action.
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted twice: aborting without writing the model");
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupt: stopping after the current iteration and writing the model \
                 (Ctrl-C again to abort)"
            );
        });
    });
}

/// Progress bars on stderr (indicatif) when it is a terminal and not
/// `--quiet`: a spinner while initialising, then a bar per restart with the
/// lower bound, its change, iterations per second and elapsed time. Also
/// turns a Ctrl-C into a stop after the current iteration.
struct Progress {
    enabled: bool,
    max_iter: usize,
    init: &'static str,
    bar: Option<ProgressBar>,
    init_phase: Option<InitPhase>,
}

impl Progress {
    fn new(enabled: bool, max_iter: usize, init: &'static str) -> Self {
        Self {
            enabled,
            max_iter,
            init,
            bar: None,
            init_phase: None,
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl FitObserver for Progress {
    fn on_restart(&mut self, restart: usize, n_init: usize) {
        self.finish();
        if !self.enabled {
            return;
        }
        let prefix = if n_init > 1 {
            format!("restart {}/{n_init}", restart + 1)
        } else {
            "fit".to_string()
        };
        let spinner = ProgressBar::new_spinner().with_prefix(prefix).with_style(
            ProgressStyle::with_template("{prefix} {spinner} {msg} {elapsed}")
                .expect("a valid template"),
        );
        spinner.set_message(format!("initialising ({})", self.init));
        spinner.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(spinner);
    }

    fn on_init_progress(&mut self, _restart: usize, phase: InitPhase, done: usize, total: usize) {
        let Some(bar) = &self.bar else {
            return;
        };
        if self.init_phase != Some(phase) {
            self.init_phase = Some(phase);
            bar.disable_steady_tick();
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_length(total as u64);
            bar.set_message(match phase {
                InitPhase::Lloyd => "k-means: Lloyd iterations (stops when converged)".to_string(),
                other => format!("{}: centres chosen", other.as_str()),
            });
        }
        bar.set_position(done as u64);
    }

    fn on_initialised(&mut self, _restart: usize, seconds: f64) {
        self.init_phase = None;
        let Some(spinner) = self.bar.take() else {
            return;
        };
        let prefix = spinner.prefix();
        spinner.finish_and_clear();
        let bar = ProgressBar::new(self.max_iter as u64)
            .with_prefix(prefix)
            .with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} {elapsed}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
        bar.set_message(format!("initialised in {seconds:.2} s"));
        self.bar = Some(bar);
    }

    fn on_iteration(&mut self, p: &IterationProgress) -> ControlFlow<()> {
        if let Some(bar) = &self.bar {
            bar.set_position(p.iteration as u64);
            bar.set_message(format!(
                "lower bound {:.8} change {:.2e}",
                p.lower_bound, p.change
            ));
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn fit(a: FitArgs) -> Result<Outcome> {
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
    let params = GaussianMixtureParams::new(a.components)
        .covariance_type(covariance)
        .init(init)
        .n_init(a.n_init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .reg_covar(a.reg_covar)
        .seed(a.seed)
        .reseed_collapsed(a.reseed_collapsed);
    let source = DataSource::open(&a.data)?;
    let weights = match &a.sample_weight {
        Some(path) => Some(load_weights(path)?),
        None => None,
    };
    install_interrupt_handler();
    let mut progress = Progress::new(
        !a.quiet && std::io::stderr().is_terminal(),
        a.max_iter,
        params.init_method().name(),
    );
    let run = || -> Result<Fit> {
        Ok(match source.rows() {
            SourceRows::F64(v) => fit_rows(&params, &v, weights.as_deref(), &mut progress)?,
            SourceRows::F32(v) => fit_rows(&params, &v, weights.as_deref(), &mut progress)?,
        })
    };
    let fit = with_threads(a.threads, run)?;
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
fn summary(r: &gmm_core::FitReport) -> String {
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

fn generate(a: GenerateArgs) -> Result<()> {
    let preset: Preset = a.preset.parse()?;
    let (default_n, d, _) = preset.shape();
    let n = a.n.unwrap_or(default_n);
    if n == 0 {
        bail!("--n must be at least 1");
    }
    let x = preset.generate(Some(n), a.seed);
    gmm_io::write_npy(&a.out, &x, &[n, d])?;
    Ok(())
}

fn info(a: InfoArgs) -> Result<()> {
    if a.data.is_dir() {
        let src = DataSource::open(&a.data)?;
        let mut out = std::io::stdout().lock();
        let n = src.shards().count();
        writeln!(
            out,
            "directory   {} ({n} shards, read in name order as one dataset)",
            a.data.display()
        )?;
        writeln!(
            out,
            "shape       {} rows x {} columns",
            src.n_samples(),
            src.n_features()
        )?;
        writeln!(out, "dtype       {}", src.dtype().name())?;
        for (p, ds) in src.shards() {
            let how = match &ds.info().conversion {
                None => "memory-mapped".to_string(),
                Some(why) => format!("copied ({why})"),
            };
            writeln!(
                out,
                "shard       {}: {} rows, {}",
                p.display(),
                ds.n_samples(),
                how
            )?;
        }
        return Ok(());
    }
    let ds = Dataset::open(&a.data)?;
    let i = ds.info();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "file        {} ({} bytes)",
        a.data.display(),
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

fn convert(a: ConvertArgs) -> Result<()> {
    check_not_input(&a.output, &[a.input.as_path()])?;
    let delimiter = match a.delimiter.as_str() {
        "tab" | "\\t" => b'\t',
        d if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        d => bail!("--delimiter '{d}' must be one ASCII character or 'tab'"),
    };
    let header = if a.no_header {
        Some(false)
    } else if a.header {
        Some(true)
    } else {
        None
    };
    let s = gmm_io::csv_to_npy(
        &a.input,
        &a.output,
        gmm_io::CsvOptions { header, delimiter },
    )?;
    eprintln!(
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

/// Parses `1..10` (inclusive), `2,4,8` or `3`.
fn parse_components(s: &str) -> Result<Vec<usize>> {
    let bad = || {
        anyhow::anyhow!(
            "--components '{s}' is not a range like 1..10, a list like 2,4,8, or a number"
        )
    };
    let ks: Vec<usize> = if let Some((a, b)) = s.split_once("..") {
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b {
            bail!("--components '{s}' is an empty range: write the smaller count first");
        }
        (a..=b).collect()
    } else {
        s.split(',')
            .map(|p| p.trim().parse().map_err(|_| bad()))
            .collect::<Result<_>>()?
    };
    if ks.contains(&0) {
        bail!("--components '{s}' includes 0: every candidate needs at least one component");
    }
    Ok(ks)
}

fn parse_covariances(s: &str) -> Result<Vec<CovarianceType>> {
    if s == "all" {
        return Ok(CovarianceType::ALL.to_vec());
    }
    Ok(s.split(',')
        .map(|t| t.trim().parse())
        .collect::<std::result::Result<_, _>>()?)
}

fn select(a: SelectArgs) -> Result<()> {
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
    for out in a.out.iter().chain(a.report.iter()).chain(a.plot.iter()) {
        check_not_input(out, &[a.data.as_path()])?;
    }
    check_distinct(&[a.out.as_deref(), a.report.as_deref(), a.plot.as_deref()])?;
    if let Some(p) = &a.plot {
        plot::check_picture_path(p)?;
    }
    let selection = ModelSelection::new(components)
        .covariance_types(types)
        .criterion(criterion)
        .params(
            GaussianMixtureParams::new(1)
                .init(init)
                .n_init(a.n_init)
                .max_iter(a.max_iter)
                .tol(a.tol)
                .reg_covar(a.reg_covar)
                .seed(a.seed),
        );
    let source = DataSource::open(&a.data)?;
    let run = || -> Result<Selection> {
        Ok(match source.rows() {
            SourceRows::F64(v) => selection.fit(&v)?,
            SourceRows::F32(v) => selection.fit(&v)?,
        })
    };
    let sel = with_threads(a.threads, run)?;
    if let Some(path) = &a.report {
        let text = serde_json::to_string_pretty(&sel).expect("a selection serialises");
        gmm_io::write_atomically(path, |w| {
            w.write_all(text.as_bytes())?;
            w.write_all(b"\n")
        })?;
    }
    if let Some(path) = &a.out {
        gmm_io::save_model(path, &sel.best().model)?;
    }
    if let Some(path) = &a.plot {
        plot::save(path, &Picture::Criteria(&sel))?;
    }
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
        eprintln!(
            "{} candidates fitted in {total:.3} s of fitting",
            sel.candidates.len()
        );
    }
    Ok(())
}

/// Runs `f` in a pool of `threads` workers, or in the global pool.
fn with_threads<R: Send>(threads: Option<u16>, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    match threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t as usize)
            .build()
            .context("cannot start the thread pool")?
            .install(f),
        None => f(),
    }
}

fn load_model_arg(path: &Path) -> Result<gmm_core::GaussianMixture> {
    gmm_io::load_model(path).context("cannot use the model")
}

fn predict(a: PredictArgs) -> Result<()> {
    check_not_input(&a.out, &[a.data.as_path(), a.model.as_path()])?;
    let model = load_model_arg(&a.model)?;
    let source = DataSource::open(&a.data)?;
    let n = source.n_samples();
    let k = model.n_components();
    with_threads(a.threads, || {
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

fn score(a: ScoreArgs) -> Result<()> {
    let model = load_model_arg(&a.model)?;
    let source = DataSource::open(&a.data)?;
    let n = source.n_samples();
    let mean = with_threads(a.threads, || {
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

fn sample(a: SampleArgs) -> Result<()> {
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

/// Refuses two outputs with the same path.
fn check_distinct(outputs: &[Option<&Path>]) -> Result<()> {
    let given: Vec<&Path> = outputs.iter().flatten().copied().collect();
    for (i, a) in given.iter().enumerate() {
        if given[..i].contains(a) {
            bail!(
                "{} is given for two outputs: give each output its own path",
                a.display()
            );
        }
    }
    Ok(())
}

fn plot_cmd(a: PlotArgs) -> Result<()> {
    plot::check_picture_path(&a.out)?;
    check_not_input(&a.out, &[a.data.as_path(), a.model.as_path()])?;
    let model = load_model_arg(&a.model)?;
    let source = DataSource::open(&a.data)?;
    let scene = match source.rows() {
        SourceRows::F64(v) => Scene::new(&model, &v, a.max_points)?,
        SourceRows::F32(v) => Scene::new(&model, &v, a.max_points)?,
    };
    plot::save(
        &a.out,
        &Picture::Fit {
            scene: &scene,
            lower_bounds: None,
        },
    )
}

fn demo(a: DemoArgs) -> Result<()> {
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
    let fit = with_threads(a.threads, || {
        Ok(GaussianMixtureParams::new(3).seed(a.seed).fit(data)?)
    })?;
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
        &picture,
        &Picture::Fit {
            scene: &scene,
            lower_bounds: Some(&r.lower_bounds),
        },
    )?;
    println!("wrote {} and {}", model_path.display(), picture.display());
    Ok(())
}
