#!/usr/bin/env python3
"""Time scikit-learn's GaussianMixture and oneDAL's em_gmm against `gmm fit`.

Usage (from the repository root; optional, not part of CI):

    python3 benches/peers/peers.py                    # all workloads, full size
    python3 benches/peers/peers.py --scale 0.1 --only seed2d,mid

It creates two virtual environments under benches/peers/ and installs what it
needs from the package registry: one with scikit-learn, one with
scikit-learn-intelex (for daal4py.em_gmm; the standalone daal4py package is too
old for current scikit-learn). For every workload of docs/design.md it writes the
data with `gmm generate` and the fixed initial state of docs/design.md (K rows
i * floor(N / K) as means, identity covariances, equal weights), then measures
seconds per EM iteration, full covariance, f64, from that state:

  gmm      median of the per-iteration times of `gmm fit --init ... --report`
  sklearn  (t(M2) - t(M1)) / (M2 - M1) for fits of M1 and M2 iterations, tol 0
  oneDAL   the same with daal4py.em_gmm (accuracyThreshold 0)

  gmm (Python)  the same fit through gmm.GaussianMixture (the callback's
           per-iteration seconds), in a venv with ./crates/gmm-py installed

and prints one table with the ratios to oneDAL; then (unless --no-defaults)
a second: the whole fit with each tool's defaults (scikit-learn
GaussianMixture(K), oneDAL em_gmm_init + em_gmm, `gmm fit -k K`,
gmm.GaussianMixture(K)): wall seconds, iterations, init seconds, final mean
log-likelihood, peak RSS. Timings are medians of
--repeats runs taken in the same process order, so the ratios are comparable
on a noisy machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(HERE, "work")
ENVS = {
    "sklearn": (os.path.join(HERE, ".venv-sklearn"), ["numpy==2.4.6", "scikit-learn==1.9.1"]),
    "onedal": (os.path.join(HERE, ".venv-onedal"), ["numpy", "scikit-learn-intelex==2026.2.0"]),
    # The Python package of this repository, built by pip (maturin, release).
    "gmmpy": (os.path.join(HERE, ".venv-gmmpy"), [os.path.join(ROOT, "crates", "gmm-py")]),
}
WORKLOADS = {  # name: (N, D, K) as in docs/design.md
    "seed2d": (1_000_000, 2, 3),
    "mid": (1_000_000, 16, 16),
    "wide": (200_000, 64, 8),
    "tall": (10_000_000, 4, 8),
}


def python_of(env):
    venv, pins = ENVS[env]
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        subprocess.check_call([py, "-m", "pip", "install", "--quiet", *pins])
    return py


# Code run inside the peer environments: prints seconds per iteration as JSON.
SKLEARN = r"""
import json, sys, time, numpy as np
from sklearn.mixture import GaussianMixture
x = np.load(sys.argv[1]); init = json.load(open(sys.argv[2]))
m1, m2, reps = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
w = np.array(init["weights"]); mu = np.array(init["means"]); cov = np.array(init["covariances"])
prec = np.linalg.inv(cov)
def run(m):
    gm = GaussianMixture(len(w), covariance_type="full", tol=0.0, reg_covar=1e-6, max_iter=m,
                         weights_init=w, means_init=mu, precisions_init=prec)
    t = time.perf_counter(); gm.fit(x); return time.perf_counter() - t
per = []
for _ in range(reps):
    per.append((run(m2) - run(m1)) / (m2 - m1))
print(json.dumps({"seconds": sorted(per)[len(per) // 2]}))
"""

ONEDAL = r"""
import json, sys, time, numpy as np
import daal4py as d4p
x = np.load(sys.argv[1]); init = json.load(open(sys.argv[2]))
m1, m2, reps = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
k = len(init["weights"])
w = np.array(init["weights"]).reshape(1, -1)
mu = np.array(init["means"])
cov = [np.array(c) for c in init["covariances"]]
def run(m):
    algo = d4p.em_gmm(nComponents=k, maxIterations=m, accuracyThreshold=0.0,
                      regularizationFactor=1e-6)
    t = time.perf_counter(); algo.compute(x, w, mu, cov); return time.perf_counter() - t
per = []
for _ in range(reps):
    per.append((run(m2) - run(m1)) / (m2 - m1))
print(json.dumps({"seconds": sorted(per)[len(per) // 2]}))
"""


GMMPY = r"""
import json, statistics, sys, numpy as np
from gmm import GaussianMixture
x = np.load(sys.argv[1], mmap_mode="r"); init = json.load(open(sys.argv[2]))
iters, reps = int(sys.argv[3]), int(sys.argv[4])
w = np.array(init["weights"]); mu = np.array(init["means"]); cov = np.array(init["covariances"])
prec = np.linalg.inv(cov)
per = []
for _ in range(reps):
    seconds = []
    gm = GaussianMixture(len(w), covariance_type="full", tol=0.0, reg_covar=1e-6, max_iter=iters,
                         weights_init=w, means_init=mu, precisions_init=prec,
                         callback=lambda r, i, lb, ch, s: seconds.append(s))
    gm.fit(x)
    per.append(statistics.median(seconds))
print(json.dumps({"seconds": statistics.median(per)}))
"""

# Whole fits with each tool's defaults: wall seconds, iterations, init
# seconds, final mean log-likelihood (each tool's model scored by
# scikit-learn's formula in the same process), peak RSS of the process.
DEFAULT_SKLEARN = r"""
import json, resource, sys, time, numpy as np
from sklearn.mixture import GaussianMixture
x = np.load(sys.argv[1]); k = int(sys.argv[2])
t = time.perf_counter(); gm = GaussianMixture(k, random_state=0).fit(x); wall = time.perf_counter() - t
t = time.perf_counter(); GaussianMixture(k, random_state=0, max_iter=0).fit(x); init = time.perf_counter() - t
print(json.dumps({"wall": wall, "iters": int(gm.n_iter_), "init": init, "ll": float(gm.score(x)),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DEFAULT_ONEDAL = r"""
import json, resource, sys, time, numpy as np
import daal4py as d4p
x = np.load(sys.argv[1]); k = int(sys.argv[2])
t = time.perf_counter()
ini = d4p.em_gmm_init(nComponents=k).compute(x)
init = time.perf_counter() - t
res = d4p.em_gmm(nComponents=k).compute(x, ini.weights, ini.means, ini.covariances)
wall = time.perf_counter() - t
from scipy.stats import multivariate_normal as mvn
w = res.weights.ravel(); mu = res.means; cov = [res.covariances(i) for i in range(k)] if callable(res.covariances) else res.covariances
lp = np.stack([np.log(w[i]) + mvn(mu[i], cov[i], allow_singular=True).logpdf(x) for i in range(k)], axis=1)
m = lp.max(axis=1); ll = float((m + np.log(np.exp(lp - m[:, None]).sum(axis=1))).mean())
print(json.dumps({"wall": wall, "iters": int(np.ravel(res.nIterations)[0]), "init": init, "ll": ll,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DEFAULT_GMMPY = r"""
import json, resource, sys, time, numpy as np
from gmm import GaussianMixture
x = np.load(sys.argv[1], mmap_mode="r"); k = int(sys.argv[2])
t = time.perf_counter(); gm = GaussianMixture(k, random_state=0).fit(x); wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "iters": int(gm.n_iter_), "init": gm.report_["init_seconds"],
                  "ll": float(gm.score(x)),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def default_fit_of_cli(gmm, data, k):
    """`gmm fit DATA -k K` with the defaults, timed with its peak RSS."""
    report = os.path.join(WORK, "default-report.json")
    model = os.path.join(WORK, "default-model.json")
    t = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", gmm, "fit", data, "-k", str(k), "--report",
                          report, "--out", model, "--quiet"], check=True, capture_output=True,
                         text=True)
    wall = time.perf_counter() - t
    rss_mb = int(out.stderr.strip().splitlines()[-1]) / 1024
    r = json.load(open(report))
    ll = float(subprocess.run([gmm, "score", model, data], check=True, capture_output=True,
                              text=True).stdout.split()[-1])
    return {"wall": wall, "iters": r["n_iter"], "init": r["init_seconds"], "ll": ll, "rss_mb": rss_mb}


def run_json(py, code, *args):
    """The JSON line a peer script prints (None, and a note, if it fails)."""
    try:
        out = subprocess.run([py, "-c", code, *map(str, args)], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    except subprocess.CalledProcessError as e:
        last = (e.stderr or "").strip().splitlines()[-1:] or ["failed"]
        print(f"failed: {last[0]}", file=sys.stderr)
        return None


def gmm_binary():
    subprocess.check_call(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    return os.path.join(ROOT, "target", "release", "gmm")


def fixed_init(path_npy, k, out_json):
    """docs/design.md's fixed initial state, written with the model schema."""
    import numpy as np  # available in the sklearn venv, which runs this via a subprocess

    x = np.load(path_npy, mmap_mode="r")
    n, d = x.shape
    means = [x[i * (n // k)].tolist() for i in range(k)]
    model = {
        "format": "gmm-model",
        "version": 1,
        "covariance_type": "full",
        "weights": [1.0 / k] * k,
        "means": means,
        "covariances": [np.eye(d).tolist() for _ in range(k)],
    }
    with open(out_json, "w") as f:
        json.dump(model, f)


def workload_files(gmm, py, name, n, k):
    """The workload's data (written once by `gmm generate`) and its fixed
    initial state (written by `fixed_init` run in `py`, which has NumPy)."""
    data = os.path.join(WORK, f"{name}-{n}.npy")
    init = os.path.join(WORK, f"{name}-{n}.init.json")
    if not os.path.exists(data):
        subprocess.check_call([gmm, "generate", "--preset", name, "--n", str(n), "--out", data])
    subprocess.check_call([py, "-c",
        "import sys; sys.path.insert(0, sys.argv[1]); import peers; peers.fixed_init(sys.argv[2], int(sys.argv[3]), sys.argv[4])",
        HERE, data, str(k), init])
    return data, init


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of each workload's N")
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--iters", type=int, default=6, help="gmm iterations per run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-defaults", action="store_true",
                    help="skip the second table (whole fits with every tool's defaults)")
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    gmm = gmm_binary()
    sk_py, dal_py, gmm_py = python_of("sklearn"), python_of("onedal"), python_of("gmmpy")
    defaults = []
    only = [w for w in a.only.split(",") if w]
    rows = []
    for name, (n0, d, k) in WORKLOADS.items():
        if only and name not in only:
            continue
        n = max(k, int(n0 * a.scale))
        data, init = workload_files(gmm, sk_py, name, n, k)
        report = os.path.join(WORK, "report.json")
        ours = []
        for _ in range(a.repeats):
            subprocess.check_call([gmm, "fit", data, "-k", str(k), "--init", init, "--tol", "0",
                                   "--max-iter", str(a.iters), "--report", report, "--out",
                                   os.path.join(WORK, "model.json"), "--quiet"])
            ours.append(statistics.median(json.load(open(report))["iteration_seconds"]))
        ours = statistics.median(ours)
        peers = {}
        for label, py, code in [("sklearn", sk_py, SKLEARN), ("onedal", dal_py, ONEDAL)]:
            r = run_json(py, code, data, init, 2, 6, a.repeats)
            peers[label] = r["seconds"] if r else float("nan")
        r = run_json(gmm_py, GMMPY, data, init, a.iters, a.repeats)
        peers["python"] = r["seconds"] if r else float("nan")
        rows.append((name, n, d, k, peers["sklearn"], peers["onedal"], ours, peers["python"]))
        if not a.no_defaults:
            fits = {"sklearn": run_json(sk_py, DEFAULT_SKLEARN, data, k),
                    "oneDAL": run_json(dal_py, DEFAULT_ONEDAL, data, k),
                    "gmm": default_fit_of_cli(gmm, data, k),
                    "gmm (Python)": run_json(gmm_py, DEFAULT_GMMPY, data, k)}
            defaults.append((name, fits))
    print(f"seconds per EM iteration, full covariance, f64, fixed init, medians of {a.repeats}")
    print(f"{'workload':<8} {'N':>10} {'D':>3} {'K':>3} {'sklearn':>9} {'oneDAL':>9} {'gmm':>9} "
          f"{'gmm (Py)':>9} {'gmm/oneDAL':>11} {'sklearn/gmm':>12} {'Py/gmm':>7}")
    for name, n, d, k, sk, dal, ours, py in rows:
        print(f"{name:<8} {n:>10} {d:>3} {k:>3} {sk:>9.4f} {dal:>9.4f} {ours:>9.4f} {py:>9.4f} "
              f"{ours / dal:>11.2f} {sk / ours:>12.1f} {py / ours:>7.3f}")
    if defaults:
        print("\nwhole fit with each tool's defaults (full covariance, f64): wall s, iterations, "
              "init s, final mean log-likelihood, peak RSS MB")
        print(f"{'workload':<8} {'tool':<13} {'wall':>8} {'iters':>5} {'init':>8} {'mean LL':>11} {'RSS MB':>8}")
        for name, fits in defaults:
            for tool, f in fits.items():
                if f is None:
                    print(f"{name:<8} {tool:<13} {'failed':>8}")
                    continue
                print(f"{name:<8} {tool:<13} {f['wall']:>8.2f} {f['iters']:>5} {f['init']:>8.3f} "
                      f"{f['ll']:>11.4f} {f['rss_mb']:>8.0f}")


if __name__ == "__main__":
    main()
