//! The `gmm._gmm` extension module: the engine's passes over NumPy arrays,
//! with the GIL released. The estimator (`gmm.GaussianMixture`) is the thin
//! Python layer in `python/gmm/`; every pass over the data runs here.
//!
//! Arrays arrive C-contiguous, float64 or float32 (the Python layer converts
//! anything else once, as scikit-learn's `check_array` does) and are read in
//! place: a memory-mapped file is never copied.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use gmm_core::{
    CovarianceType, DataView, FitInfo, FitObserver, GaussianMixture, GaussianMixtureParams, Init,
    IterationProgress, Rows, SufficientStats,
};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

/// An engine error as a Python `ValueError` with the engine's message.
fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A borrowed 2-D array of float64 or float32 rows.
enum Data<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

impl<'py> Data<'py> {
    fn extract(x: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f64>>() {
            return Ok(Data::F64(a));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f32>>() {
            return Ok(Data::F32(a));
        }
        Err(PyValueError::new_err(
            "expected a 2-D float64 or float32 array (use gmm.GaussianMixture, which converts)",
        ))
    }
}

/// Runs `$body` with `$v` bound to a `DataView` of `$data` (either width),
/// the GIL released.
macro_rules! with_view {
    ($py:expr, $data:expr, |$v:ident| $body:expr) => {{
        match $data {
            Data::F64(a) => {
                let (n, d) = (a.shape()[0], a.shape()[1]);
                let s = a.as_slice().map_err(value_error)?;
                let $v = DataView::new(s, n, d).map_err(value_error)?;
                $py.detach(|| $body)
            }
            Data::F32(a) => {
                let (n, d) = (a.shape()[0], a.shape()[1]);
                let s = a.as_slice().map_err(value_error)?;
                let $v = DataView::new(s, n, d).map_err(value_error)?;
                $py.detach(|| $body)
            }
        }
    }};
}

/// Evaluates `$body` with `$v` bound to a `DataView` of `$data` (either
/// width); the body releases the GIL itself.
macro_rules! with_data {
    ($data:expr, |$v:ident| $body:expr) => {{
        match $data {
            Data::F64(a) => {
                let (n, d) = (a.shape()[0], a.shape()[1]);
                let s = a.as_slice().map_err(value_error)?;
                let $v = DataView::new(s, n, d).map_err(value_error)?;
                $body
            }
            Data::F32(a) => {
                let (n, d) = (a.shape()[0], a.shape()[1]);
                let s = a.as_slice().map_err(value_error)?;
                let $v = DataView::new(s, n, d).map_err(value_error)?;
                $body
            }
        }
    }};
}

/// Runs `f` in a pool of `threads` workers, or in rayon's global pool.
fn in_pool<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    match threads {
        Some(t) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(value_error)?
            .install(f)),
        None => Ok(f()),
    }
}

fn covariance_type(s: &str) -> PyResult<CovarianceType> {
    s.parse().map_err(value_error)
}

/// A fitted or given Gaussian mixture (the engine's `GaussianMixture`).
#[pyclass(module = "gmm._gmm", name = "Model", frozen)]
#[derive(Clone)]
struct PyModel {
    inner: GaussianMixture,
}

#[pymethods]
impl PyModel {
    /// A mixture from its parameters (flat, row-major; covariances shaped as
    /// scikit-learn's `covariances_` for the type).
    #[new]
    fn new(
        covariance_type_name: &str,
        n_components: usize,
        n_features: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> PyResult<Self> {
        let ct = covariance_type(covariance_type_name)?;
        let inner = GaussianMixture::from_parameters(
            ct,
            n_components,
            n_features,
            weights,
            means,
            covariances,
        )
        .map_err(value_error)?;
        Ok(Self { inner })
    }

    #[getter]
    fn covariance_type(&self) -> &'static str {
        self.inner.covariance_type().as_str()
    }
    #[getter]
    fn n_components(&self) -> usize {
        self.inner.n_components()
    }
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.weights().to_vec().into_pyarray(py)
    }
    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.means().to_vec().into_pyarray(py)
    }
    #[getter]
    fn covariances<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.covariances().to_vec().into_pyarray(py)
    }
    #[getter]
    fn precisions_cholesky<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.precisions_cholesky().to_vec().into_pyarray(py)
    }

    /// `log p(x_n)` per row; Ctrl-C stops the pass (KeyboardInterrupt).
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = &self.inner;
        let data = Data::extract(x)?;
        let out = with_data!(data, |v| streamed(py, n_threads, |sink| m
            .score_samples_streamed(v, sink)))?;
        Ok(out.into_pyarray(py))
    }

    /// Responsibilities, flat `N x K`; Ctrl-C stops the pass.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = &self.inner;
        let data = Data::extract(x)?;
        let out = with_data!(data, |v| streamed(py, n_threads, |sink| m
            .predict_proba_streamed(v, sink)))?;
        Ok(out.into_pyarray(py))
    }

    /// Most probable component per row; Ctrl-C stops the pass.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let m = &self.inner;
        let data = Data::extract(x)?;
        let out = with_data!(data, |v| streamed(py, n_threads, |sink| m
            .predict_streamed(v, sink)))?;
        let labels: Vec<i64> = out.into_iter().map(|l| l as i64).collect();
        Ok(labels.into_pyarray(py))
    }

    /// The E-step's sufficient statistics of `x` (one shard) under this model.
    #[pyo3(signature = (x, sample_weight=None, n_threads=None))]
    fn statistics<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        sample_weight: Option<PyReadonlyArray1<'py, f64>>,
        n_threads: Option<usize>,
    ) -> PyResult<PyStats> {
        let m = &self.inner;
        let data = Data::extract(x)?;
        let w = weights_of(&sample_weight)?;
        let stats = with_view!(py, data, |v| in_pool(n_threads, || match w {
            None => SufficientStats::compute(m, v),
            Some(w) => SufficientStats::compute_weighted(m, v, w),
        }))?;
        Ok(PyStats {
            inner: stats.map_err(value_error)?,
        })
    }

    /// The M-step from merged statistics of an E-step of this model.
    #[pyo3(signature = (stats, reg_covar, iteration=1))]
    fn m_step(&self, stats: &PyStats, reg_covar: f64, iteration: usize) -> PyResult<PyModel> {
        let inner = self
            .inner
            .m_step(&stats.inner, reg_covar, iteration)
            .map_err(value_error)?;
        Ok(PyModel { inner })
    }

    /// `n` rows drawn from the mixture (flat `n x D`) and their components.
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
    ) -> (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>) {
        let (x, z) = py.detach(|| self.inner.sample(n, seed));
        let z: Vec<i64> = z.into_iter().map(|c| c as i64).collect();
        (x.into_pyarray(py), z.into_pyarray(py))
    }

    /// This model with the record of the fit that reached it (written to
    /// the model file as `converged`, `n_iter`, `lower_bound`).
    fn with_fit_info(&self, converged: bool, n_iter: usize, lower_bound: f64) -> PyModel {
        let info = FitInfo {
            converged,
            n_iter,
            lower_bound,
        };
        PyModel {
            inner: self.inner.clone().with_fit_info(info),
        }
    }

    /// The model JSON of the CLI (`gmm fit --out`).
    fn to_json(&self) -> String {
        gmm_io::model_to_json(&self.inner)
    }

    /// A model from the CLI's model JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<PyModel> {
        let inner = gmm_io::parse_model(text).map_err(value_error)?;
        Ok(PyModel { inner })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let ctor = slf.get_type().getattr("from_json")?;
        Ok((ctor, (slf.get().to_json(),)))
    }
}

/// Sufficient statistics of an E-step (mergeable, picklable).
#[pyclass(module = "gmm._gmm", name = "SufficientStats")]
#[derive(Clone)]
struct PyStats {
    inner: SufficientStats,
}

#[pymethods]
impl PyStats {
    /// Adds the statistics of disjoint rows computed against the same model.
    fn merge(&mut self, other: &PyStats) -> PyResult<()> {
        self.inner.merge(&other.inner).map_err(value_error)
    }
    #[getter]
    fn n_samples(&self) -> f64 {
        self.inner.n_samples()
    }
    #[getter]
    fn sum_log_likelihood(&self) -> f64 {
        self.inner.sum_log_likelihood()
    }
    #[getter]
    fn mean_log_likelihood(&self) -> f64 {
        self.inner.mean_log_likelihood()
    }
    #[getter]
    fn nk(&self) -> Vec<f64> {
        self.inner.nk().to_vec()
    }
    #[getter]
    fn n_components(&self) -> usize {
        self.inner.n_components()
    }
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    /// The statistics as JSON (exact: floats round-trip).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(value_error)
    }
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<PyStats> {
        let inner = serde_json::from_str(text).map_err(value_error)?;
        Ok(PyStats { inner })
    }
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let ctor = slf.get_type().getattr("from_json")?;
        let text = slf.borrow().to_json()?;
        Ok((ctor, (text,)))
    }
}

/// How often the calling thread looks for signals while the engine works.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `work` on a helper thread while this (the calling) thread, with the
/// GIL released, checks Python's signals every [`SIGNAL_POLL`]: a pending
/// signal (Ctrl-C) sets `stop`, which the engine reads before every block of
/// every pass, and the signal's exception is returned beside `work`'s result.
/// (Python runs signal handlers on the main thread only, so the check must
/// happen here and not on the engine's threads.)
fn interruptible<R: Send>(
    py: Python<'_>,
    stop: &AtomicBool,
    work: impl FnOnce() -> R + Send,
) -> (R, Option<PyErr>) {
    py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel::<()>();
            let worker = scope.spawn(move || {
                let r = work();
                let _ = done.send(());
                r
            });
            let mut signal = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if signal.is_none()
                    && let Err(e) = Python::attach(|py| py.check_signals())
                {
                    stop.store(true, Ordering::Relaxed);
                    signal = Some(e);
                }
            }
            match worker.join() {
                Ok(r) => (r, signal),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    })
}

/// Why a streamed pass stopped early.
enum Halt {
    /// Ctrl-C (the signal's exception is raised instead).
    Stopped,
    /// The engine refused the data.
    Engine(gmm_core::Error),
}

impl From<gmm_core::Error> for Halt {
    fn from(e: gmm_core::Error) -> Self {
        Halt::Engine(e)
    }
}

/// Runs a streamed pass of the engine (`pass` hands its rows' results to a
/// sink in pieces of whole blocks, in row order) in `threads` workers with
/// Ctrl-C watched as [`interruptible`] watches a fit: a pending signal stops
/// the pass at the next piece and its exception (KeyboardInterrupt) is
/// raised. Returns the pieces, concatenated.
fn streamed<T: Copy + Send + Sync>(
    py: Python<'_>,
    threads: Option<usize>,
    pass: impl FnOnce(&mut dyn FnMut(&[T]) -> Result<(), Halt>) -> Result<(), Halt> + Send,
) -> PyResult<Vec<T>> {
    let stop = AtomicBool::new(false);
    let (result, signal) = interruptible(py, &stop, || {
        in_pool(threads, || {
            let mut out: Vec<T> = Vec::new();
            let mut sink = |piece: &[T]| -> Result<(), Halt> {
                if stop.load(Ordering::Relaxed) {
                    return Err(Halt::Stopped);
                }
                out.extend_from_slice(piece);
                Ok(())
            };
            pass(&mut sink).map(|()| out)
        })
    });
    if let Some(e) = signal {
        return Err(e);
    }
    match result? {
        Ok(out) => Ok(out),
        Err(Halt::Engine(e)) => Err(value_error(e)),
        Err(Halt::Stopped) => Err(PyKeyboardInterrupt::new_err("the pass was interrupted")),
    }
}

/// Calls the Python callback after every iteration; stops the fit when the
/// signal watcher of [`interruptible`] sets `stop` (inside a pass, between
/// k-means++ centres or Lloyd iterations) or the callback asks to.
struct Observer<'a> {
    callback: Option<&'a Py<PyAny>>,
    stop: Arc<AtomicBool>,
    error: Option<PyErr>,
}

impl<'a> Observer<'a> {
    fn new(callback: Option<&'a Py<PyAny>>) -> Self {
        Self {
            callback,
            stop: Arc::new(AtomicBool::new(false)),
            error: None,
        }
    }
}

impl FitObserver for Observer<'_> {
    fn stop_requested(&mut self) -> bool {
        self.error.is_some() || self.stop.load(Ordering::Relaxed)
    }

    fn stop_flag(&self) -> Option<Arc<AtomicBool>> {
        Some(Arc::clone(&self.stop))
    }

    fn on_iteration(&mut self, p: &IterationProgress) -> ControlFlow<()> {
        if self.stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        let Some(cb) = self.callback else {
            return ControlFlow::Continue(());
        };
        Python::attach(|py| {
            let args = (p.restart, p.iteration, p.lower_bound, p.change, p.seconds);
            match cb.call1(py, args) {
                // A callback that returns False stops the fit.
                Ok(r) if matches!(r.extract::<bool>(py), Ok(false)) => ControlFlow::Break(()),
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    self.error = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
    }
}

/// The engine's initialisation method named `init` (or the given model).
fn init_of(init: &str, init_model: Option<&PyModel>) -> PyResult<Init> {
    Ok(match (init, init_model) {
        (_, Some(m)) => Init::Given(m.inner.clone()),
        ("kmeans", None) => Init::KMeans,
        ("k-means++", None) => Init::KMeansPlusPlus,
        ("random-from-data", None) => Init::RandomFromData,
        ("random", None) => Init::Random,
        (other, None) => {
            return Err(PyValueError::new_err(format!(
                "init '{other}' is not one of kmeans, k-means++, random-from-data, random"
            )));
        }
    })
}

/// The slice of an optional weights array.
fn weights_of<'a>(w: &'a Option<PyReadonlyArray1<'_, f64>>) -> PyResult<Option<&'a [f64]>> {
    w.as_ref()
        .map(|w| w.as_slice().map_err(value_error))
        .transpose()
}

/// The initial model of restart `restart` of a fit with these settings (the
/// bits `fit` starts its iterations from), for fits driven from Python
/// (`gmm.dask`), possibly on a sample of the rows.
#[pyfunction]
#[pyo3(signature = (x, n_components, covariance_type_name, reg_covar, init, seed, restart,
                    sample_weight=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn initialise<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    n_components: usize,
    covariance_type_name: &str,
    reg_covar: f64,
    init: &str,
    seed: u64,
    restart: usize,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    n_threads: Option<usize>,
) -> PyResult<PyModel> {
    let params = GaussianMixtureParams::new(n_components)
        .covariance_type(covariance_type(covariance_type_name)?)
        .init(init_of(init, None)?)
        .reg_covar(reg_covar)
        .seed(seed);
    let data = Data::extract(x)?;
    let w = weights_of(&sample_weight)?;
    let mut observer = Observer::new(None);
    let stop = Arc::clone(&observer.stop);
    let obs = &mut observer;
    let (result, signal) = with_data!(data, |v| interruptible(py, &stop, || in_pool(
        n_threads,
        || params.initial_model_with_observer(v, w, restart, obs)
    )));
    if let Some(e) = signal {
        return Err(e);
    }
    let inner = result?.map_err(value_error)?;
    Ok(PyModel { inner })
}

/// Fits a mixture; returns the model and the report JSON of `gmm fit --report`.
#[pyfunction]
#[pyo3(signature = (x, n_components, covariance_type_name, tol, reg_covar, max_iter, n_init,
                    init, seed, init_model=None, sample_weight=None, reseed_collapsed=false,
                    n_threads=None, callback=None, start_lower_bound=None))]
#[allow(clippy::too_many_arguments)]
fn fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    n_components: usize,
    covariance_type_name: &str,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init: &str,
    seed: u64,
    init_model: Option<PyRef<'py, PyModel>>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    reseed_collapsed: bool,
    n_threads: Option<usize>,
    callback: Option<Py<PyAny>>,
    start_lower_bound: Option<f64>,
) -> PyResult<(PyModel, String)> {
    let init = init_of(init, init_model.as_deref())?;
    let params = GaussianMixtureParams::new(n_components)
        .covariance_type(covariance_type(covariance_type_name)?)
        .init(init)
        .tol(tol)
        .reg_covar(reg_covar)
        .max_iter(max_iter)
        .n_init(n_init)
        .seed(seed)
        .reseed_collapsed(reseed_collapsed)
        .start_lower_bound(start_lower_bound.unwrap_or(f64::NEG_INFINITY));
    let data = Data::extract(x)?;
    let w = weights_of(&sample_weight)?;
    let mut observer = Observer::new(callback.as_ref());
    let stop = Arc::clone(&observer.stop);
    let obs = &mut observer;
    let (result, signal) = with_data!(data, |v| interruptible(py, &stop, || in_pool(
        n_threads,
        || fit_rows(&params, v, w, obs)
    )));
    if let Some(e) = signal.or(observer.error) {
        return Err(e);
    }
    let result = result?;
    let fit = result.map_err(value_error)?;
    if fit.report.stopped {
        return Err(PyKeyboardInterrupt::new_err("the fit was interrupted"));
    }
    let report = serde_json::to_string(&fit.report).map_err(value_error)?;
    Ok((PyModel { inner: fit.model }, report))
}

fn fit_rows<D: Rows>(
    params: &GaussianMixtureParams,
    data: D,
    weights: Option<&[f64]>,
    observer: &mut Observer<'_>,
) -> gmm_core::Result<gmm_core::Fit> {
    match weights {
        None => params.fit_with_observer(data, observer),
        Some(w) => params.fit_weighted_with_observer(data, w, observer),
    }
}

/// The engine's passes over NumPy arrays (see `gmm.GaussianMixture`).
#[pymodule]
fn _gmm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_class::<PyStats>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(initialise, m)?)?;
    m.add("BLOCK_ROWS", gmm_core::BLOCK_ROWS)?;
    Ok(())
}
