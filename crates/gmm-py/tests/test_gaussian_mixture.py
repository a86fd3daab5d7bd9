"""Tests of gmm.GaussianMixture: scikit-learn parity (committed fixtures and
scikit-learn itself as an oracle), the estimator contract, bad input, model
files, pickling, the GIL, Ctrl-C and memory-mapped input."""

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.base import clone

import gmm
from gmm import GaussianMixture

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "datasets" / "fixtures"
TYPES = ["full", "tied", "diag", "spherical"]


def stem(name, ct):
    return name if ct == "full" else f"{name}.{ct}"


def blobs(n=600, seed=0, d=2):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * d, [6.0] * d, [0.0] * (d - 1) + [9.0]])
    z = rng.integers(0, 3, n)
    return centres[z] + rng.normal(size=(n, d)) * np.array([1.0, 0.5, 0.8])[z, None]


def given(path):
    """Constructor arguments that start EM from a fixture's model file."""
    m = json.loads(Path(path).read_text())
    ct = m["covariance_type"]
    cov = np.asarray(m["covariances"], dtype=float)
    prec = {"full": lambda c: np.linalg.inv(c), "tied": np.linalg.inv}.get(ct, lambda c: 1.0 / c)(cov)
    return dict(
        n_components=m["n_components"], covariance_type=ct, weights_init=m["weights"],
        means_init=m["means"], precisions_init=prec,
    )


# ------------------------------------------------------------------ parity
@pytest.mark.parametrize("name", ["seed2d", "aniso5d", "overlap3d"])
@pytest.mark.parametrize("ct", TYPES)
def test_matches_the_scikit_learn_fixtures(name, ct):
    X = np.load(FIXTURES / f"{name}.npy")
    e = json.loads((FIXTURES / f"{stem(name, ct)}.expected.json").read_text())
    est = GaussianMixture(max_iter=50, tol=0.0, reg_covar=1e-6, **given(FIXTURES / f"{stem(name, ct)}.init.json"))
    with pytest.warns(ConvergenceWarning):
        est.fit(X)
    assert est.n_iter_ == e["n_iter"]
    rel = lambda a, b: np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(np.abs(b), 1e-3))  # noqa: E731
    for attr in ["weights", "means", "covariances", "precisions_cholesky"]:
        assert rel(getattr(est, attr + "_"), e[attr]) < 1e-8, attr
    assert abs(est.lower_bound_ - e["lower_bound"]) < 1e-8 * abs(e["lower_bound"])
    assert np.allclose(est.lower_bounds_, e["lower_bounds"], rtol=1e-8, atol=0)
    assert rel(est.score_samples(X), e["score_samples"]) < 1e-8
    assert rel(est.predict_proba(X), e["predict_proba"]) < 1e-7
    assert abs(est.bic(X) - e["bic"]) < 1e-8 * abs(e["bic"])
    assert abs(est.aic(X) - e["aic"]) < 1e-8 * abs(e["aic"])


@pytest.mark.parametrize("ct", TYPES)
def test_evaluation_agrees_with_scikit_learn_on_the_same_parameters(ct):
    X = blobs(800, seed=3, d=3)
    est = GaussianMixture(3, covariance_type=ct, random_state=1).fit(X)
    sk = SkGaussianMixture(3, covariance_type=ct)
    for a in ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]:
        setattr(sk, a, getattr(est, a))
    sk.converged_, sk.n_iter_, sk.lower_bound_, sk.n_features_in_ = True, 1, 0.0, 3
    np.testing.assert_allclose(est.score_samples(X), sk.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(est.predict_proba(X), sk.predict_proba(X), rtol=1e-9, atol=1e-12)
    assert (est.predict(X) == sk.predict(X)).all()
    assert est.bic(X) == pytest.approx(sk.bic(X), rel=1e-10)
    assert est.aic(X) == pytest.approx(sk.aic(X), rel=1e-10)


def test_default_fit_is_as_good_as_scikit_learn():
    X = blobs(3000, seed=5)
    ours = GaussianMixture(3, random_state=0).fit(X).score(X)
    theirs = SkGaussianMixture(3, random_state=0).fit(X).score(X)
    assert ours >= theirs - 1e-6


def test_python_fit_equals_the_cli_fit_bit_for_bit(tmp_path):
    # tests/run-all names the binary its cargo test built (GMM_CLI).
    cli = Path(os.environ.get("GMM_CLI", ROOT / "target" / "debug" / "gmm"))
    assert cli.exists(), f"{cli} is missing: tests/run-all builds it with cargo test first"
    name = "aniso5d.diag"
    X = np.load(FIXTURES / "aniso5d.npy")
    init = FIXTURES / f"{name}.init.json"
    out = tmp_path / "cli.json"
    subprocess.run([str(cli), "fit", str(FIXTURES / "aniso5d.npy"), "-k", "4", "--init", str(init),
                    "--tol", "0", "--max-iter", "20", "--out", str(out), "--quiet"], check=True)
    start = gmm.read_model(init)
    est = GaussianMixture(4, covariance_type="diag", tol=0.0, max_iter=20, warm_start=True)
    est._model, est._dtype = start._model, start._dtype
    with pytest.warns(ConvergenceWarning):
        est.fit(X)
    mine = tmp_path / "py.json"
    est.write_model(mine)
    assert json.loads(mine.read_text()) == json.loads(out.read_text())
    assert mine.read_text().strip() == out.read_text().strip()


# ------------------------------------------------- scikit-learn's behaviour
def test_attributes_shapes_and_invariants():
    X = blobs(500, seed=2, d=3)
    for ct, shape in [("full", (3, 3, 3)), ("tied", (3, 3)), ("diag", (3, 3)), ("spherical", (3,))]:
        est = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
        assert est.covariances_.shape == shape and est.precisions_.shape == shape
        assert est.weights_.sum() == pytest.approx(1.0)
        assert np.all(np.diff(est.lower_bounds_) >= -1e-10), "the lower bound decreased"
        p = est.predict_proba(X)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        assert est.n_features_in_ == 3


def test_fit_predict_equals_fit_then_predict():
    X = blobs(400, seed=7)
    a = GaussianMixture(3, random_state=4).fit_predict(X)
    b = GaussianMixture(3, random_state=4).fit(X).predict(X)
    assert (a == b).all()


def test_same_seed_same_model_and_clone_and_params():
    X = blobs(500)
    a = GaussianMixture(3, random_state=11).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.get_params()["n_components"] == 3
    a.set_params(n_components=2)
    assert a.get_params()["n_components"] == 2


def test_results_do_not_depend_on_threads():
    X = blobs(30000, seed=9, d=4)
    a = GaussianMixture(3, random_state=0, n_threads=1).fit(X)
    b = GaussianMixture(3, random_state=0, n_threads=2).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)


def test_warm_start_continues_the_fit():
    X = blobs(600, seed=1)
    straight = GaussianMixture(3, random_state=0, tol=0, max_iter=10).fit(X)
    warm = GaussianMixture(3, random_state=0, tol=0, max_iter=4, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X)
    warm.set_params(max_iter=6)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X)
    np.testing.assert_allclose(warm.means_, straight.means_, rtol=1e-12)


def test_float32_gives_float32():
    X = blobs(500).astype(np.float32)
    est = GaussianMixture(3, random_state=0).fit(X)
    assert est.means_.dtype == np.float32 and est.covariances_.dtype == np.float32
    assert est.score_samples(X).dtype == np.float32
    assert est.predict_proba(X).dtype == np.float32


def test_sample_and_sample_weight():
    X = blobs(500)
    est = GaussianMixture(3, random_state=0).fit(X)
    x, z = est.sample(100)
    assert x.shape == (100, 2) and z.shape == (100,) and (np.diff(z) >= 0).all()
    with pytest.raises(ValueError):
        est.sample(0)
    doubled = GaussianMixture(3, random_state=0).fit(X, sample_weight=np.full(len(X), 2.0))
    plain = GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(doubled.means_, plain.means_, rtol=1e-9)


def test_bad_input_raises_scikit_learns_errors():
    X = blobs(100)
    est = GaussianMixture(2)
    with pytest.raises(NotFittedError):
        est.predict(X)
    bad_nan = X.copy()
    bad_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad_nan)
    bad_inf = X.copy()
    bad_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(bad_inf)
    with pytest.raises(ValueError):
        est.fit(X[:, 0])  # 1-D
    with pytest.raises(ValueError):
        est.fit(np.empty((0, 2)))
    with pytest.raises(ValueError, match="Complex"):
        est.fit(X.astype(complex))
    import scipy.sparse

    with pytest.raises(TypeError):
        est.fit(scipy.sparse.csr_matrix(X))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(X[:3])
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="round").fit(X)
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(0).fit(X)
    est.fit(X)
    with pytest.raises(ValueError, match="features"):
        est.predict(np.ones((4, 3)))


def test_convergence_warning_when_max_iter_is_reached():
    with pytest.warns(ConvergenceWarning):
        GaussianMixture(3, max_iter=1, tol=0, random_state=0).fit(blobs(300))


def test_pipeline_and_grid_search():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = blobs(400)
    search = GridSearchCV(make_pipeline(StandardScaler(), GaussianMixture(random_state=0)),
                          {"gaussianmixture__n_components": [1, 3]}, cv=2)
    search.fit(X)
    assert search.best_params_["gaussianmixture__n_components"] == 3


def test_callback_sees_every_iteration_and_can_stop():
    seen = []
    est = GaussianMixture(3, random_state=0, tol=0, max_iter=20,
                          callback=lambda r, it, lb, ch, s: seen.append(it) or it < 5)
    with pytest.raises(KeyboardInterrupt):
        est.fit(blobs(300))
    assert seen == [1, 2, 3, 4, 5]


# ---------------------------------------------- models, pickle, distributed
def test_pickle_and_model_files_round_trip(tmp_path):
    X = blobs(300)
    est = GaussianMixture(3, covariance_type="tied", random_state=0).fit(X)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.score_samples(X), est.score_samples(X))
    # The round trip keeps every bit (weights too) and the fit's record.
    for attr in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        np.testing.assert_array_equal(getattr(back, attr), getattr(est, attr))
    assert back._model.to_json() == est._model.to_json()
    assert json.loads(back._model.to_json())["n_iter"] == est.n_iter_
    est.write_model(tmp_path / "m.json")
    read = gmm.read_model(tmp_path / "m.json")
    np.testing.assert_array_equal(read.score_samples(X), est.score_samples(X))
    assert json.loads((tmp_path / "m.json").read_text())["format"] == "gmm-model"


def test_statistics_of_shards_merge_to_the_whole():
    X = blobs(5000, seed=4)
    est = GaussianMixture(3, random_state=0, max_iter=3, tol=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X)
    whole = est.statistics(X)
    cut = gmm.BLOCK_ROWS // 4
    parts = est.statistics(X[:cut])
    parts.merge(pickle.loads(pickle.dumps(est.statistics(X[cut:]))))
    assert parts.n_samples == whole.n_samples == 5000
    assert parts.mean_log_likelihood == pytest.approx(whole.mean_log_likelihood, rel=1e-12)
    a = clone(est)
    a._model, a._dtype = est._model, est._dtype
    a.m_step(parts)
    est.m_step(whole)
    np.testing.assert_allclose(a.means_, est.means_, rtol=1e-12)


def test_select_picks_the_true_number_of_components():
    X = blobs(900, seed=6)
    table, best = gmm.select(X, components=range(1, 6), covariance_types=["full", "diag"], random_state=0)
    assert len(table) == 10
    assert best.n_components == 3


# --------------------------------------------------- GIL, Ctrl-C, memory
def test_the_gil_is_released_during_a_fit():
    X = blobs(400000, seed=1, d=8)
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    start = time.perf_counter()
    t.start()
    GaussianMixture(4, init_params="random_from_data", random_state=0, tol=0, max_iter=40).fit(X)
    end = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if start + 0.05 < x < end]
    # With the GIL held for the whole fit the thread would not tick at all;
    # released, it ticks about once a millisecond (judged relative to the
    # fit's own duration, so a fast or a loaded machine passes alike).
    possible = (end - start - 0.05) / 0.0011
    assert len(during) >= max(5, 0.2 * possible), (len(during), possible)


def _script(body):
    return [sys.executable, "-c", textwrap.dedent(body)]


def test_ctrl_c_raises_keyboard_interrupt(tmp_path):
    code = """
        import sys, numpy as np
        from gmm import GaussianMixture
        X = np.random.default_rng(0).normal(size=(1_000_000, 8))
        print("ready", flush=True)
        try:
            GaussianMixture(8, init_params="random_from_data", tol=0, max_iter=100000).fit(X)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(7)
    """
    p = subprocess.Popen(_script(code), stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 7 and "interrupted" in out


def test_ctrl_c_inside_a_long_pass_raises_at_once():
    # Passes of a second or more (400,000 x 64 rows, 64 full components): the
    # signal arrives early in the second iteration's E-step, and the fit must
    # end long before that pass would (the engine reads a stop flag before
    # every block of 8192 rows).
    code = """
        import sys, time, numpy as np
        from gmm import GaussianMixture
        X = np.random.default_rng(0).normal(size=(400_000, 64))
        def tick(restart, iteration, lb, change, seconds):
            print("iteration", seconds, flush=True)
        try:
            GaussianMixture(64, init_params="random_from_data", tol=0, max_iter=1000,
                            callback=tick).fit(X)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
            sys.exit(7)
    """
    p = subprocess.Popen(_script(code), stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline().split()
    assert first[0] == "iteration", first
    seconds = float(first[1])
    time.sleep(0.1)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 7 and "interrupted" in out, out
    latency = float(out.split()[-1]) - sent
    # Between iterations only, it would take the rest of the pass (about
    # `seconds - 0.1`).
    assert latency < 0.5 * seconds, (latency, seconds)


def test_ctrl_c_during_the_initialisation_raises_at_once(tmp_path):
    # k-means++ with 3000 components on 200,000 rows runs for many seconds.
    code = """
        import sys, time, numpy as np
        from gmm import GaussianMixture
        X = np.random.default_rng(0).normal(size=(200_000, 2))
        print("ready", flush=True)
        try:
            GaussianMixture(3000, init_params="k-means++").fit(X)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(7)
    """
    p = subprocess.Popen(_script(code), stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    sent = time.perf_counter()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 7 and "interrupted" in out
    assert time.perf_counter() - sent < 5


def test_a_memmap_is_read_in_place(tmp_path):
    n, d = 4_000_000, 4  # 64 MB of float32
    path = tmp_path / "x.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(0)
    for s in range(0, n, 500_000):
        mm[s:s + 500_000] = rng.normal(size=(500_000, d))
    mm.flush()
    del mm
    code = f"""
        import resource, numpy as np
        from gmm import GaussianMixture
        X = np.load({str(path)!r}, mmap_mode="r")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        GaussianMixture(3, init_params="random_from_data", max_iter=3, tol=0, random_state=0).fit(X)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
    """
    out = subprocess.run(_script(code), capture_output=True, text=True, check=True)
    grown_mb = int(out.stdout.strip().splitlines()[-1])
    # The file is 64 MB: a copy (float32 or float64) would add 64-128 MB on top of the mapped pages.
    assert grown_mb < 64 + 40, f"resident memory grew by {grown_mb} MB"


# --------------------------------------------------------------- type stubs
def test_the_type_stubs_match_the_extension_module():
    import ast
    import inspect
    import pathlib

    import gmm
    from gmm import _gmm

    root = pathlib.Path(gmm.__file__).parent
    assert (root / "py.typed").exists(), "py.typed is not installed"
    tree = ast.parse((root / "_gmm.pyi").read_text())
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = {
                n.name for n in node.body if isinstance(n, ast.FunctionDef)
            } - {"__init__"}
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = None
        elif isinstance(node, ast.AnnAssign):
            stubbed[node.target.id] = None
    public = {n for n in dir(_gmm) if not n.startswith("_")}
    assert public == set(stubbed), (public ^ set(stubbed))
    for name in ("Model", "SufficientStats"):
        cls = getattr(_gmm, name)
        members = {
            n
            for n, v in vars(cls).items()
            if not n.startswith("_") or n == "__reduce__"
        }
        assert members == stubbed[name], (name, members ^ stubbed[name])
    # The fit function's parameters, in order, as the stub names them.
    fit_stub = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "fit")
    stub_params = [a.arg for a in fit_stub.args.args]
    sig = inspect.signature(_gmm.fit)
    assert stub_params == list(sig.parameters), (stub_params, list(sig.parameters))


def test_the_docstring_examples_run():
    import doctest

    import gmm._estimator
    import gmm._select
    import gmm.dask

    for module in (gmm, gmm._estimator, gmm._select, gmm.dask):
        result = doctest.testmod(module)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__


# ------------------------------------------------- issue 30: Python surface
def test_every_parameter_is_declared_and_validated_as_scikit_learn_does():
    from sklearn.utils._param_validation import InvalidParameterError
    from sklearn.utils.estimator_checks import check_param_validation

    est = GaussianMixture()
    assert set(est._parameter_constraints) == set(est.get_params(deep=False))
    check_param_validation("GaussianMixture", est)
    for name, bad in [("n_threads", 0), ("reseed_collapsed", "yes"), ("callback", 3)]:
        with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of GaussianMixture"):
            GaussianMixture(2, **{name: bad}).fit(blobs(50))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples"])
def test_ctrl_c_inside_a_long_predict_raises_at_once(method):
    # One pass of 600,000 x 64 rows against 64 full components takes a
    # second or more; the signal comes 0.1 s into the second call and must
    # end it long before the pass would (judged against the first call).
    code = f"""
        import sys, time, numpy as np
        from gmm import GaussianMixture
        rng = np.random.default_rng(0)
        X = rng.normal(size=(600_000, 64))
        est = GaussianMixture(64, init_params="random_from_data", max_iter=1, tol=0,
                              random_state=0).fit(X[:5000])
        start = time.monotonic()
        est.{method}(X)
        print("full", time.monotonic() - start, flush=True)
        try:
            est.{method}(X)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
            sys.exit(7)
    """
    p = subprocess.Popen(_script(code), stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline().split()
    assert first[0] == "full", first
    seconds = float(first[1])
    time.sleep(0.1)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 7 and "interrupted" in out, out
    latency = float(out.split()[-1]) - sent
    assert latency < 0.5 * seconds, (latency, seconds)


def test_gmm_dask_is_reachable_after_import_gmm_without_importing_dask():
    code = """
        import sys
        import gmm
        assert "dask" not in sys.modules, "import gmm imported dask"
        assert "gmm.dask" not in sys.modules
        fit = gmm.dask.fit
        assert callable(fit) and "gmm.dask" in sys.modules
        try:
            gmm.no_such_thing
        except AttributeError as e:
            assert "no_such_thing" in str(e)
        else:
            raise SystemExit("no AttributeError")
        print("ok")
    """
    out = subprocess.run(_script(code), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
