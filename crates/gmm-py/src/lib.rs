//! The `gmm._gmm` extension module: the engine's passes over NumPy arrays,
//! with the GIL released. The estimator (`gmm.GaussianMixture`) is the thin
//! Python layer in `python/gmm/`; every pass over the data runs here.
//!
//! Arrays arrive C-contiguous, float64 or float32 (the Python layer converts
//! anything else once, as scikit-learn's `check_array` does) and are read in
//! place: a memory-mapped file is never copied.

use std::ops::ControlFlow;

use gmm_core::{
    CovarianceType, DataView, FitObserver, GaussianMixture, GaussianMixtureParams, Init,
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

    /// `log p(x_n)` per row.
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = &self.inner;
        let data = Data::extract(x)?;
        let out = with_view!(py, data, |v| in_pool(n_threads, || m.score_samples(v)))?;
        Ok(out.map_err(value_error)?.into_pyarray(py))
    }

    /// Responsibilities, flat `N x K`.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = &self.inner;
        let data = Data::extract(x)?;
        let out = with_view!(py, data, |v| in_pool(n_threads, || m.predict_proba(v)))?;
        Ok(out.map_err(value_error)?.into_pyarray(py))
    }

    /// Most probable component per row.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let m = &self.inner;
        let data = Data::extract(x)?;
        let out = with_view!(py, data, |v| in_pool(n_threads, || m.predict(v)))?;
        let labels: Vec<i64> = out
            .map_err(value_error)?
            .into_iter()
            .map(|l| l as i64)
            .collect();
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
        let w = match &sample_weight {
            Some(w) => Some(w.as_slice().map_err(value_error)?),
            None => None,
        };
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

/// Calls the Python callback after every iteration and checks for signals
/// (Ctrl-C) there: a pending signal or an exception stops the fit, and is
/// raised once the engine has returned.
struct Observer<'a> {
    callback: Option<&'a Py<PyAny>>,
    error: Option<PyErr>,
}

impl FitObserver for Observer<'_> {
    /// Ctrl-C during the initialisation (polled after every k-means++ centre
    /// and Lloyd iteration) raises `KeyboardInterrupt` within about a second.
    fn stop_requested(&mut self) -> bool {
        if self.error.is_some() {
            return true;
        }
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                self.error = Some(e);
                true
            }
        })
    }

    fn on_iteration(&mut self, p: &IterationProgress) -> ControlFlow<()> {
        Python::attach(|py| {
            if let Err(e) = py.check_signals() {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
            if let Some(cb) = self.callback {
                let args = (p.restart, p.iteration, p.lower_bound, p.change, p.seconds);
                match cb.call1(py, args) {
                    // A callback that returns False stops the fit.
                    Ok(r) if matches!(r.extract::<bool>(py), Ok(false)) => {
                        return ControlFlow::Break(());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        })
    }
}

/// Fits a mixture; returns the model and the report JSON of `gmm fit --report`.
#[pyfunction]
#[pyo3(signature = (x, n_components, covariance_type_name, tol, reg_covar, max_iter, n_init,
                    init, seed, init_model=None, sample_weight=None, reseed_collapsed=false,
                    n_threads=None, callback=None))]
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
) -> PyResult<(PyModel, String)> {
    let init = match (init, &init_model) {
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
    };
    let params = GaussianMixtureParams::new(n_components)
        .covariance_type(covariance_type(covariance_type_name)?)
        .init(init)
        .tol(tol)
        .reg_covar(reg_covar)
        .max_iter(max_iter)
        .n_init(n_init)
        .seed(seed)
        .reseed_collapsed(reseed_collapsed);
    let data = Data::extract(x)?;
    let w = match &sample_weight {
        Some(w) => Some(w.as_slice().map_err(value_error)?),
        None => None,
    };
    let mut observer = Observer {
        callback: callback.as_ref(),
        error: None,
    };
    let obs = &mut observer;
    let result = with_view!(py, data, |v| in_pool(n_threads, || fit_rows(
        &params, v, w, obs
    )))?;
    if let Some(e) = observer.error {
        return Err(e);
    }
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
    m.add("BLOCK_ROWS", gmm_core::BLOCK_ROWS)?;
    Ok(())
}
