"""Fits over a Dask array chunked by rows: ``gmm.dask.fit(est, X)``.

Each EM iteration is one pass over ``X``: the sufficient statistics of every
chunk under the current parameters are computed where the chunk lives (on
the workers, by the engine, with the GIL released), merged in chunk order
(groups of 16 consecutive chunks on the workers, then the groups in order on
the client), and the M-step runs on the client. The merge order depends only
on the chunks, never on the number of workers or on which worker finished
first, so the fitted model has the same bits on one worker or on a hundred.

The initialisation (``init_params``, ``n_init``, ``random_state``,
``weights_init``/``means_init``/``precisions_init``, ``warm_start``) is the
estimator's own, run by the engine on the client over a uniform sample of
``init_sample_size`` rows (drawn without replacement from ``random_state``).
When ``X`` has at most that many rows the sample is ``X`` itself, so the
initial model is the one ``est.fit(X.compute())`` starts from, bit for bit,
and the fit equals the local fit up to the order of the final sums (within
1e-10 relative). Pass ``init_sample_size=None`` to initialise on all rows
(``X`` is then gathered on the client once).

Requires the optional dependency: ``pip install ./crates/gmm-py[dask]``.

Examples
--------
>>> import dask.array as da
>>> import numpy as np
>>> import gmm, gmm.dask
>>> rng = np.random.default_rng(0)
>>> x = np.vstack([rng.normal(0, 1, (3000, 2)), rng.normal(8, 1, (3000, 2))])
>>> X = da.from_array(x, chunks=(1000, 2))
>>> est = gmm.dask.fit(gmm.GaussianMixture(2, random_state=0), X)
>>> sorted(int(round(v)) for v in est.means_[:, 0])
[0, 8]
>>> local = gmm.GaussianMixture(2, random_state=0).fit(x)
>>> bool(np.allclose(est.means_, local.means_, rtol=1e-10, atol=0))
True
"""

import time
import warnings

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "gmm.dask needs Dask: pip install 'gmm-rs[dask]' (or ./crates/gmm-py[dask])"
    ) from e

from sklearn.exceptions import ConvergenceWarning

from . import _gmm
from ._estimator import _INIT, GaussianMixture, _aligned

__all__ = ["fit", "statistics", "DEFAULT_INIT_SAMPLE_SIZE"]

#: Rows of the uniform sample the initialisation runs on by default.
DEFAULT_INIT_SAMPLE_SIZE = 200_000

#: Consecutive chunks whose statistics a worker merges before the client
#: merges the groups (bounds the statistics held on the client).
_GROUP_CHUNKS = 16


def _as_rows(X):
    """A 2-D float Dask array chunked by rows only."""
    if hasattr(X, "to_dask_array"):  # a Dask DataFrame
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        X = da.from_array(np.asarray(X), chunks=(100_000, -1))
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got a {X.ndim}D dask array instead: "
            "reshape your data to (n_samples, n_features)."
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "the dask array's chunk sizes are unknown: call X.compute_chunk_sizes() first"
        )
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError("Complex data not supported\n")
    if kind not in "biuf":
        raise ValueError(f"Unsupported dtype {X.dtype}: gmm.dask.fit takes numeric data.")
    if X.dtype not in (np.float64, np.float32):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _chunk_statistics(x, w, scale, model, first_row, n_threads):
    """Statistics of one chunk (``None`` when every weight in it is zero)."""
    x = _aligned(np.asarray(x))
    if w is not None:
        w = np.asarray(w, dtype=np.float64) * scale
        if not (w > 0).any():
            return None
    try:
        return model.statistics(x, w, n_threads)
    except ValueError as e:
        raise ValueError(
            f"in the chunk of rows {first_row}..{first_row + len(x)} of the dask array "
            f"(row numbers below count from {first_row}): {e}"
        ) from None


def _merge_in_order(parts):
    """Folds statistics (``None``: nothing) left to right."""
    total = None
    for p in parts:
        if p is None:
            continue
        if total is None:
            total = p
        else:
            total.merge(p)
    return total


def _statistics(model, X, W, scale, n_threads):
    """The E-step of ``model`` over ``X``: merged statistics, in chunk order."""
    blocks = X.to_delayed().ravel()
    weights = [None] * len(blocks) if W is None else list(W.to_delayed().ravel())
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).tolist()
    shared = dask.delayed(model, pure=False)
    task = dask.delayed(_chunk_statistics, pure=True)
    merge = dask.delayed(_merge_in_order, pure=True)
    parts = [
        task(b, w, scale, shared, int(s), n_threads)
        for b, w, s in zip(blocks, weights, starts)
    ]
    groups = [merge(parts[i : i + _GROUP_CHUNKS]) for i in range(0, len(parts), _GROUP_CHUNKS)]
    return _merge_in_order(dask.compute(*groups))


def statistics(est, X, sample_weight=None):
    """The sufficient statistics of a Dask array under ``est``'s current
    parameters (one distributed E-step; merge order: the chunks').

    Returns a :class:`gmm.SufficientStats`; ``est.m_step(stats)`` then
    moves the estimator one EM iteration on.
    """
    if not hasattr(est, "_model"):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError("This GaussianMixture instance is not fitted yet.")
    X = _as_rows(X)
    W = None if sample_weight is None else _weights_like(sample_weight, X)
    return _statistics(est._model, X, W, 1.0, est.n_threads)


def _weights_like(sample_weight, X):
    w = sample_weight
    if not isinstance(w, da.Array):
        w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != X.shape[0]:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({X.shape[0]},)!")
    if not isinstance(w, da.Array):
        return da.from_array(w, chunks=(X.chunks[0],))
    return w.astype(np.float64).rechunk((X.chunks[0],))


def _check_data(X, W, n_components):
    """One pass: non-finite values, and the weights' validity and scale."""
    checks = [da.isnan(X).any(), da.isinf(X).any()]
    if W is not None:
        wmax = W.max()
        checks += [
            ~da.isfinite(W).all(),
            (W < 0).any(),
            (W > 0).sum(),
            wmax,
            (W / da.where(wmax > 0, wmax, 1.0)).sum(),
        ]
    out = dask.compute(*checks)
    if out[0]:
        raise ValueError("Input X contains NaN.")
    if out[1]:
        raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
    if W is None:
        return 1.0
    not_finite, negative, positive, wmax, relative = out[2:]
    if not_finite:
        raise ValueError("sample_weight contains NaN or infinity: weights must be finite.")
    if negative:
        raise ValueError("Negative values in data passed to sample_weight: weights must be >= 0.")
    if positive < n_components:
        raise ValueError(
            f"only {int(positive)} rows have a positive sample_weight, fewer than "
            f"n_components = {n_components}"
        )
    # The engine's own scaling (a power of two bringing the mean weight into
    # [1, 2)), so that the fit matches est.fit(X, sample_weight=w).
    e = -int(np.floor(np.log2(wmax) + np.log2(relative / X.shape[0])))
    return float(np.ldexp(1.0, e))


def _sample(X, W, size, seed):
    """The rows (and weights) the initialisation runs on."""
    n = X.shape[0]
    if size is None or n <= size:
        x, w = dask.compute(X, W)
    else:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
        x, w = dask.compute(X[rows], None if W is None else W[rows])
    w = None if w is None else _aligned(np.asarray(w, dtype=np.float64))
    return _aligned(np.asarray(x)), w


def fit(est, X, sample_weight=None, *, init_sample_size=DEFAULT_INIT_SAMPLE_SIZE):
    """Fit ``est`` (a :class:`gmm.GaussianMixture`) to a Dask array by EM.

    Parameters
    ----------
    est : gmm.GaussianMixture
        Its parameters drive the fit (all of scikit-learn's, ``n_threads``
        per worker); its fitted attributes are set as ``est.fit`` sets them.
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows (chunks across columns are joined); a Dask DataFrame
        or a NumPy array is converted. Persist ``X`` first
        (``X = X.persist()``) unless recomputing it every iteration is cheap.
    sample_weight : dask or NumPy array of shape (n_samples,), default=None
        Non-negative row weights, rechunked like ``X``'s rows.
    init_sample_size : int or None, default=200_000
        Rows of the uniform sample the initialisation runs on (``None``: all
        rows, gathered on the client).

    Returns
    -------
    est : gmm.GaussianMixture
        Fitted. Same result for any number of workers with the same chunks;
        equal to ``est.fit(X.compute())`` within 1e-10 relative when ``X``
        has at most ``init_sample_size`` rows (or given initial parameters).

    Raises
    ------
    ValueError
        Bad parameters or data (as ``est.fit``), or ``reseed_collapsed=True``
        (re-seeding needs the worst-fitted rows of all chunks: not supported
        here).
    """
    if not isinstance(est, GaussianMixture):
        raise TypeError(f"gmm.dask.fit takes a gmm.GaussianMixture, got {type(est).__name__}")
    est._check_parameters()
    if est.reseed_collapsed:
        raise ValueError(
            "reseed_collapsed=True is not supported by gmm.dask.fit: fit with "
            "reseed_collapsed=False (scikit-learn's behaviour)"
        )
    if init_sample_size is not None and (
        not isinstance(init_sample_size, (int, np.integer)) or init_sample_size < est.n_components
    ):
        raise ValueError(
            f"init_sample_size must be None or an int >= n_components, got {init_sample_size!r}"
        )
    X = _as_rows(X)
    n, d = X.shape
    k = est.n_components
    if n < 2:
        raise ValueError(f"Found array with {n} sample(s) (shape={X.shape}) while a minimum of 2 is required.")
    if d < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if n < k:
        raise ValueError(
            f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {n}"
        )
    if est.warm_start and hasattr(est, "_model") and est._model.n_features != d:
        raise ValueError(
            f"X has {d} features, but GaussianMixture is expecting {est._model.n_features} features as input."
        )
    W = None if sample_weight is None else _weights_like(sample_weight, X)
    scale = _check_data(X, W, k)
    seed = est._draw_seed()

    xs, ws = _sample(X, W, init_sample_size, seed)
    given = est._initial_model(xs, ws, seed)
    n_init = 1 if given is not None else est.n_init
    hook = est._progress_callback()
    ct, reg, tol = est.covariance_type, float(est.reg_covar), float(est.tol)

    best = None
    restarts = []
    for restart in range(n_init):
        if given is not None:
            model = given
        else:
            model = _gmm.initialise(
                xs, k, ct, reg, _INIT[est.init_params], seed, restart,
                sample_weight=ws, n_threads=est.n_threads,
            )
        lower_bound, lower_bounds, converged = -np.inf, [], False
        for iteration in range(1, est.max_iter + 1):
            t = time.perf_counter()
            stats = _statistics(model, X, W, scale, est.n_threads)
            lb = stats.mean_log_likelihood
            model = model.m_step(stats, reg, iteration)
            change = lb - lower_bound
            lower_bound = lb
            lower_bounds.append(lb)
            if hook is not None:
                if hook(restart, iteration, lb, change, time.perf_counter() - t) is False:
                    raise KeyboardInterrupt("the fit was interrupted")
            if abs(change) < tol:
                converged = True
                break
        restarts.append({"n_iter": len(lower_bounds), "converged": converged, "lower_bound": lower_bound})
        if best is None or lower_bound > best[1]:
            best = (model, lower_bound, lower_bounds, converged, restart)

    model, lower_bound, lower_bounds, converged, best_restart = best
    est._set_model(model.with_fit_info(converged, len(lower_bounds), lower_bound), X.dtype)
    est.converged_ = converged
    est.n_iter_ = len(lower_bounds)
    est.lower_bound_ = float(lower_bound)
    est.lower_bounds_ = list(lower_bounds)
    est.n_features_in_ = d
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    est.report_ = {
        "n_iter": est.n_iter_,
        "converged": converged,
        "lower_bound": est.lower_bound_,
        "lower_bounds": est.lower_bounds_,
        "n_samples": int(n),
        "n_features": int(d),
        "n_components": k,
        "covariance_type": ct,
        "init": "given" if given is not None else _INIT[est.init_params],
        "best_restart": best_restart,
        "restarts": restarts,
        "chunks": len(X.chunks[0]),
        "init_sample_rows": int(xs.shape[0]),
    }
    if est.verbose:
        print("Initialization converged." if converged else "Initialization did not converge.")
    if not converged and est.max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data.",
            ConvergenceWarning,
        )
    return est
