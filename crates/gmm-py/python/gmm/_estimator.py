"""The scikit-learn-compatible estimator over the engine's passes."""

import os
import tempfile
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from . import _gmm

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(est, X, reset=True, **kw):
        return est._validate_data(X, reset=reset, **kw)

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_INIT = {
    "kmeans": "kmeans",
    "k-means++": "k-means++",
    "random": "random",
    "random_from_data": "random-from-data",
}


def _aligned(x):
    """``x`` itself when the engine can read it in place (C-contiguous and
    aligned for its dtype), else an aligned C-ordered copy: arrays
    unpickled from a byte stream can start at any address."""
    if x.flags.c_contiguous and x.flags.aligned:
        return x
    return np.array(x, order="C", copy=True)


# scikit-learn's message for a covariance that cannot be factored; the
# engine's own message (component, iteration) follows it.
_ILL_DEFINED = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the "
    "input data."
)


def _engine_error(e):
    """An engine ValueError, with scikit-learn's wording where it has one."""
    text = str(e)
    if "became singular" in text or "not symmetric positive definite" in text:
        return ValueError(f"{_ILL_DEFINED} The engine says: {text}")
    return e


def _check_shape(param, shape, name):
    param = np.array(param)
    if param.shape != shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {shape}, but got {param.shape}"
        )


def _check_weights(weights, k):
    """scikit-learn's checks of ``weights_init`` (same messages)."""
    weights = check_array(weights, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(weights, (k,), "weights")
    if np.any(np.less(weights, 0.0)) or np.any(np.greater(weights, 1.0)):
        # (scikit-learn names the minimum "max value" and the maximum "min value")
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got "
            f"max value {np.min(weights):.5f}, min value {np.max(weights):.5f}"
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not np.allclose(np.abs(1.0 - np.sum(weights)), 0.0, atol=atol):
        raise ValueError(
            f"The parameter 'weights' should be normalized, but got sum(weights) = {np.sum(weights):.5f}"
        )
    return weights


def _check_means(means, k, d):
    means = check_array(means, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(means, (k, d), "means")
    return means


def _check_precisions(precisions, covariance_type, k, d):
    """scikit-learn's checks of ``precisions_init`` (same messages)."""
    precisions = check_array(
        precisions, dtype=[np.float64, np.float32], ensure_2d=False,
        allow_nd=covariance_type == "full",
    )
    shapes = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
    _check_shape(precisions, shapes[covariance_type], f"{covariance_type} precision")
    if covariance_type in ("diag", "spherical"):
        if np.any(np.less_equal(precisions, 0.0)):
            raise ValueError(f"'{covariance_type} precision' should be positive")
    else:
        for p in precisions if covariance_type == "full" else [precisions]:
            if not (np.allclose(p, p.T) and np.all(np.linalg.eigvalsh(p) > 0.0)):
                raise ValueError(
                    f"'{covariance_type} precision' should be symmetric, positive-definite"
                )
    return precisions


def _covariances_from_precisions(precisions, covariance_type):
    p = np.asarray(precisions, dtype=np.float64)
    if covariance_type == "full":
        return np.array([np.linalg.inv(pk) for pk in p])
    if covariance_type == "tied":
        return np.linalg.inv(p)
    return 1.0 / p


def _precisions(prec_chol, covariance_type):
    """Precision matrices from their Cholesky factors (scikit-learn's `precisions_`)."""
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by EM on the gmm engine.

    Parameters, defaults and semantics are those of
    :class:`sklearn.mixture.GaussianMixture`; the passes over the data run in
    Rust, in parallel and with the GIL released, and give the same bits for
    any ``n_threads``.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound (mean
        log-likelihood per sample).
    reg_covar : float, default=1e-6
    max_iter : int, default=100
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
    weights_init, means_init, precisions_init : array-like, default=None
        Initial parameters; the ones not given come from ``init_params``.
    random_state : int, RandomState instance or None, default=None
        A seed is drawn from it for every fit.
    warm_start : bool, default=False
    verbose : int, default=0
    verbose_interval : int, default=10
    n_threads : int or None, default=None
        Worker threads (None: all cores).
    reseed_collapsed : bool, default=False
        Re-seed an emptied or singular component at the worst-fitted row
        instead of keeping it empty or failing.
    callback : callable or None, default=None
        ``callback(restart, iteration, lower_bound, change, seconds)`` after
        every EM iteration; returning ``False`` stops the fit.

    Examples
    --------
    >>> import numpy as np
    >>> from gmm import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]], dtype=float)
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.predict([[0, 0], [12, 3]]).tolist() in ([0, 1], [1, 0])
    True
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        n_threads=None,
        reseed_collapsed=False,
        callback=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.reseed_collapsed = reseed_collapsed
        self.callback = callback

    # ----------------------------------------------------------------- checks
    # scikit-learn's constraints of GaussianMixture, and this estimator's own
    # three parameters; checked (InvalidParameterError, scikit-learn's
    # message) before any fit.
    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(_COVARIANCE_TYPES))],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions(set(_INIT))],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "reseed_collapsed": ["boolean"],
        "callback": [callable, None],
    }

    def _check_parameters(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=self.__class__.__name__,
        )

    def _validate(self, X, reset):
        X = _validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], order="C",
            ensure_min_samples=2 if reset else 1,
        )
        return _aligned(X)

    def _initial_model(self, X, sample_weight, seed):
        """The engine's initial model, with any given parameters substituted."""
        k, d, ct = self.n_components, X.shape[1], self.covariance_type
        if self.warm_start and hasattr(self, "_model"):
            return self._model
        if self.weights_init is None and self.means_init is None and self.precisions_init is None:
            return None
        if self.weights_init is not None:
            _check_weights(self.weights_init, k)
        if self.means_init is not None:
            _check_means(self.means_init, k, d)
        if self.precisions_init is not None:
            _check_precisions(self.precisions_init, ct, k, d)
        if self.precisions_init is not None and self.weights_init is not None and self.means_init is not None:
            base_w, base_m, base_c = None, None, None
        else:
            base, _ = _gmm.fit(
                X, k, ct, self.tol, self.reg_covar, 0, 1, _INIT[self.init_params], seed,
                sample_weight=sample_weight, n_threads=self.n_threads,
            )
            base_w, base_m = np.asarray(base.weights), np.asarray(base.means).reshape(k, d)
            base_c = np.asarray(base.covariances)
        w = base_w if self.weights_init is None else np.asarray(self.weights_init, dtype=np.float64)
        m = base_m if self.means_init is None else np.asarray(self.means_init, dtype=np.float64)
        if w.shape != (k,):
            raise ValueError(f"The parameter 'weights' should have the shape of ({k},), but got {w.shape}")
        if m.shape != (k, d):
            raise ValueError(f"The parameter 'means' should have the shape of ({k}, {d}), but got {m.shape}")
        c = base_c if self.precisions_init is None else _covariances_from_precisions(self.precisions_init, ct)
        return _gmm.Model(ct, k, d, w.ravel().tolist(), m.ravel().tolist(), np.ravel(c).tolist())

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with the EM algorithm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float64 and float32 C-contiguous arrays (and memmaps) are read in
            place; anything else is converted once.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: a row of weight w counts as w rows.

        Returns
        -------
        self : GaussianMixture
        """
        self.fit_predict(X, y, sample_weight=sample_weight, _labels=False)
        return self

    def fit_predict(self, X, y=None, sample_weight=None, _labels=True):
        """Fit, then return the component of every row."""
        self._check_parameters()
        X = self._validate(X, reset=True)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {X.shape[0]}"
            )
        sw = None
        if sample_weight is not None:
            sw = _aligned(np.asarray(sample_weight, dtype=np.float64).ravel())
            if sw.shape[0] != X.shape[0]:
                raise ValueError(
                    f"sample_weight.shape == {np.shape(sample_weight)}, expected ({X.shape[0]},)!"
                )
        seed = self._draw_seed()
        warm = self.warm_start and hasattr(self, "_model")
        if warm and self._model.n_features != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but GaussianMixture is expecting "
                f"{self._model.n_features} features as input."
            )
        try:
            init_model = self._initial_model(X, sw, seed)
            n_init = 1 if init_model is not None else self.n_init
            callback = self._progress_callback()
            model, report = _gmm.fit(
                X, self.n_components, self.covariance_type, self.tol, self.reg_covar,
                self.max_iter, n_init, _INIT[self.init_params], seed,
                init_model=init_model, sample_weight=sw,
                reseed_collapsed=bool(self.reseed_collapsed), n_threads=self.n_threads,
                callback=callback,
                # scikit-learn's warm start measures the first change from the
                # lower bound the previous fit reached.
                start_lower_bound=getattr(self, "lower_bound_", None) if warm else None,
            )
        except ValueError as e:
            raise _engine_error(e) from None
        import json

        report = json.loads(report)
        self._set_model(model, X.dtype)
        self.converged_ = bool(report["converged"])
        self.n_iter_ = int(report["n_iter"])
        self.lower_bounds_ = list(report["lower_bounds"])
        lb = report["lower_bound"]  # null in JSON when no iteration ran
        self.lower_bound_ = -np.inf if lb is None else float(lb)
        self.report_ = report
        if self.verbose:
            print("Initialization converged." if self.converged_ else "Initialization did not converge.")
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        if _labels:
            return self.predict(X)
        return None

    def _draw_seed(self):
        """The engine's seed for one fit, drawn from ``random_state``."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _progress_callback(self):
        user, verbose, every = self.callback, self.verbose, self.verbose_interval
        if not user and not verbose:
            return None
        state = {"restart": -1, "t": time.time()}

        def hook(restart, iteration, lower_bound, change, seconds):
            if verbose and restart != state["restart"]:
                state["restart"] = restart
                print(f"Initialization {restart}")
            if verbose and iteration % every == 0:
                now = time.time()
                if verbose > 1:
                    print(f"  Iteration {iteration}\t time lapse {now - state['t']:.5f}s\t ll change {change:.5f}")
                else:
                    print(f"  Iteration {iteration}")
                state["t"] = now
            if user is not None:
                return user(restart, iteration, lower_bound, change, seconds)
            return None

        return hook

    def _set_model(self, model, dtype):
        k, d, ct = model.n_components, model.n_features, model.covariance_type
        self._model = model
        self._dtype = dtype
        shapes = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
        self.weights_ = np.asarray(model.weights).astype(dtype)
        self.means_ = np.asarray(model.means).reshape(k, d).astype(dtype)
        self.covariances_ = np.asarray(model.covariances).reshape(shapes[ct]).astype(dtype)
        pc = np.asarray(model.precisions_cholesky).reshape(shapes[ct])
        self.precisions_cholesky_ = pc.astype(dtype)
        self.precisions_ = _precisions(pc, ct).astype(dtype)

    # ------------------------------------------------------------ evaluation
    def _prepare(self, X):
        check_is_fitted(self, "_model")
        return self._validate(X, reset=False)

    def score_samples(self, X):
        """Log-likelihood ``log p(x)`` of every row."""
        X = self._prepare(X)
        out = np.asarray(self._model.score_samples(X, self.n_threads))
        return out.astype(X.dtype, copy=False)

    def score(self, X, y=None):
        """Mean log-likelihood per row."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X):
        """Responsibilities: the posterior probability of each component per row."""
        X = self._prepare(X)
        p = np.asarray(self._model.predict_proba(X, self.n_threads))
        return p.reshape(X.shape[0], self.n_components).astype(X.dtype, copy=False)

    def predict(self, X):
        """The most probable component of every row."""
        X = self._prepare(X)
        return np.asarray(self._model.predict(X, self.n_threads))

    def sample(self, n_samples=1):
        """Draw ``n_samples`` rows and their components (grouped by component)."""
        check_is_fitted(self, "_model")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                "Invalid value for 'n_samples': %d . The sampling requires at least one sample." % n_samples
            )
        rs = check_random_state(self.random_state)
        x, z = self._model.sample(int(n_samples), int(rs.randint(np.iinfo(np.int32).max)))
        x = np.asarray(x).reshape(n_samples, self._model.n_features).astype(self._dtype)
        return x, np.asarray(z)

    def _n_parameters(self):
        k, d = self.n_components, self.means_.shape[1]
        cov = {"full": k * d * (d + 1) / 2.0, "diag": k * d, "tied": d * (d + 1) / 2.0, "spherical": k}
        return int(cov[self.covariance_type] + k * d + k - 1)

    def bic(self, X):
        """Bayesian information criterion (lower is better)."""
        X = self._prepare(X)
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X):
        """Akaike information criterion (lower is better)."""
        X = self._prepare(X)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    # ---------------------------------------------------- distributed pieces
    def statistics(self, X, sample_weight=None):
        """Sufficient statistics of one shard under the current parameters
        (merge shards' with ``SufficientStats.merge``, then ``m_step``)."""
        X = self._prepare(X)
        sw = None if sample_weight is None else _aligned(np.asarray(sample_weight, dtype=np.float64).ravel())
        return self._model.statistics(X, sw, self.n_threads)

    def m_step(self, stats, iteration=1):
        """Replace the parameters by the M-step from merged statistics."""
        check_is_fitted(self, "_model")
        self._set_model(self._model.m_step(stats, float(self.reg_covar), iteration), self._dtype)
        return self

    # ------------------------------------------------------------ model files
    def write_model(self, path):
        """Write the model JSON of the command line (``gmm fit --out``), atomically."""
        check_is_fitted(self, "_model")
        path = os.fspath(path)
        fd, tmp = tempfile.mkstemp(prefix=".gmm-", suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
        try:
            with os.fdopen(fd, "w") as f:
                f.write(self._model.to_json())
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        return tags


def read_model(path):
    """A fitted :class:`GaussianMixture` from a model JSON file (``gmm fit --out``)."""
    with open(os.fspath(path)) as f:
        model = _gmm.Model.from_json(f.read())
    est = GaussianMixture(n_components=model.n_components, covariance_type=model.covariance_type)
    est._set_model(model, np.dtype(np.float64))
    est.n_features_in_ = model.n_features
    return est
