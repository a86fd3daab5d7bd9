"""gmm.dask.fit: a fit over a Dask array chunked by rows, against the local
fit of the same rows, on a real distributed LocalCluster."""

import json
import pickle

import dask
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

import gmm
import gmm.dask
from gmm import GaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]


def data(n=60_000, seed=0, d=3):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * d, [5.0] * d, [0.0] * (d - 1) + [7.0]])
    z = rng.integers(0, 3, n)
    return centres[z] + rng.normal(size=(n, d)) * np.array([1.0, 1.5, 0.7])[z, None]


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def assert_close(est, local, tol=1e-10):
    assert est.n_iter_ == local.n_iter_
    assert est.converged_ == local.converged_
    for attr in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        assert rel(getattr(est, attr), getattr(local, attr)) < tol, attr
    np.testing.assert_allclose(est.lower_bounds_, local.lower_bounds_, rtol=tol, atol=0)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as c, Client(c) as client:
        yield client


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("init", ["kmeans", "random"])
def test_the_distributed_fit_equals_the_local_fit(cluster, ct, init):
    x = data()
    X = da.from_array(x, chunks=(7_000, 3)).persist()
    params = dict(n_components=3, covariance_type=ct, init_params=init, random_state=1, tol=1e-6)
    est = gmm.dask.fit(GaussianMixture(**params), X)
    local = GaussianMixture(**params).fit(x)
    assert_close(est, local)
    assert est.n_iter_ >= 2
    assert est.report_["chunks"] == 9


def test_the_same_bits_on_one_worker_and_on_three():
    x = data(50_000, seed=2, d=4)
    results = []
    for workers in (1, 3):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as c, Client(c):
            X = da.from_array(x, chunks=(4_000, 4))
            est = gmm.dask.fit(GaussianMixture(4, random_state=0, tol=1e-8, n_init=2), X)
            results.append(est)
    a, b = results
    for attr in ["weights_", "means_", "covariances_"]:
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert a.lower_bounds_ == b.lower_bounds_
    # ... and the threaded scheduler of a plain `dask` gives them too.
    with dask.config.set(scheduler="threads"):
        c = gmm.dask.fit(GaussianMixture(4, random_state=0, tol=1e-8, n_init=2),
                         da.from_array(x, chunks=(4_000, 4)))
    np.testing.assert_array_equal(a.means_, c.means_)


def test_an_initialisation_on_a_sample(cluster):
    x = data(80_000, seed=3)
    X = da.from_array(x, chunks=(10_000, 3))
    est = gmm.dask.fit(GaussianMixture(3, random_state=0), X, init_sample_size=5_000)
    assert est.report_["init_sample_rows"] == 5_000
    local = GaussianMixture(3, random_state=0).fit(x)
    # Another start, the same optimum.
    assert est.score(x) == pytest.approx(local.score(x), abs=1e-6)
    assert est.score(x) >= local.score(x) - 1e-6
    # With the initial parameters given the sample does not matter.
    start = dict(weights_init=local.weights_, means_init=local.means_ + 0.3,
                 precisions_init=local.precisions_)
    a = gmm.dask.fit(GaussianMixture(3, tol=1e-8, **start), X, init_sample_size=3_000)
    b = GaussianMixture(3, tol=1e-8, **start).fit(x)
    assert_close(a, b)


def test_sample_weights_and_float32(cluster):
    x = data(40_000, seed=4)
    w = np.random.default_rng(1).uniform(0, 3, len(x)) * 1e-9
    w[:5_000] = 0.0  # a chunk of zero weights only
    X = da.from_array(x, chunks=(5_000, 3))
    a = gmm.dask.fit(GaussianMixture(3, random_state=0, tol=1e-6), X, sample_weight=w)
    b = GaussianMixture(3, random_state=0, tol=1e-6).fit(x, sample_weight=w)
    assert_close(a, b)
    x32 = x.astype(np.float32)
    a = gmm.dask.fit(GaussianMixture(3, random_state=0), da.from_array(x32, chunks=(6_000, 3)))
    b = GaussianMixture(3, random_state=0).fit(x32)
    assert a.means_.dtype == np.float32 and a.covariances_.dtype == np.float32
    assert rel(a.means_, b.means_) < 1e-6


def test_the_model_is_usable_everywhere(tmp_path, cluster):
    x = data(20_000, seed=5)
    est = gmm.dask.fit(GaussianMixture(3, random_state=0), da.from_array(x, chunks=(3_000, 3)))
    local = GaussianMixture(3, random_state=0).fit(x)
    np.testing.assert_allclose(est.score_samples(x), local.score_samples(x), rtol=1e-10)
    est.write_model(tmp_path / "m.json")
    model = json.loads((tmp_path / "m.json").read_text())
    assert model["n_iter"] == est.n_iter_ and model["converged"] is True
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(x), est.predict(x))
    # One distributed E-step equals the local statistics.
    stats = gmm.dask.statistics(est, da.from_array(x, chunks=(3_000, 3)))
    assert stats.mean_log_likelihood == pytest.approx(est.statistics(x).mean_log_likelihood, rel=1e-12)


def test_columns_in_chunks_are_joined_and_numpy_is_accepted(cluster):
    x = data(12_000, seed=6, d=4)
    a = gmm.dask.fit(GaussianMixture(3, random_state=0), da.from_array(x, chunks=(2_000, 2)))
    b = gmm.dask.fit(GaussianMixture(3, random_state=0), x)
    c = GaussianMixture(3, random_state=0).fit(x)
    assert_close(a, c)
    assert_close(b, c)


def test_bad_input_is_refused_with_scikit_learns_errors(cluster):
    x = data(10_000, seed=7)
    bad = x.copy()
    bad[9_000, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gmm.dask.fit(GaussianMixture(3), da.from_array(bad, chunks=(2_000, 3)))
    bad[9_000, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        gmm.dask.fit(GaussianMixture(3), da.from_array(bad, chunks=(2_000, 3)))
    X = da.from_array(x, chunks=(2_000, 3))
    with pytest.raises(ValueError, match="reseed_collapsed"):
        gmm.dask.fit(GaussianMixture(3, reseed_collapsed=True), X)
    with pytest.raises(ValueError, match="n_components"):
        gmm.dask.fit(GaussianMixture(0), X)
    with pytest.raises(ValueError, match="2D"):
        gmm.dask.fit(GaussianMixture(3), X[:, 0])
    with pytest.raises(ValueError, match="Negative"):
        gmm.dask.fit(GaussianMixture(3), X, sample_weight=-np.ones(len(x)))
    with pytest.raises(ValueError, match="sample_weight"):
        gmm.dask.fit(GaussianMixture(3), X, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="unknown"):
        gmm.dask.fit(GaussianMixture(3), X[X[:, 0] > 0])
    with pytest.warns(ConvergenceWarning):
        gmm.dask.fit(GaussianMixture(3, max_iter=1, tol=0, random_state=0), X)
