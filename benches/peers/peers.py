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

and prints one table with the ratios to oneDAL. Timings are medians of
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
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    gmm = gmm_binary()
    sk_py, dal_py = python_of("sklearn"), python_of("onedal")
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
            try:
                out = subprocess.run([py, "-c", code, data, init, "2", "6", str(a.repeats)],
                                     check=True, capture_output=True, text=True).stdout
                peers[label] = json.loads(out.strip().splitlines()[-1])["seconds"]
            except subprocess.CalledProcessError as e:
                last = (e.stderr or "").strip().splitlines()[-1:] or ["failed"]
                print(f"{name}: {label} failed: {last[0]}", file=sys.stderr)
                peers[label] = float("nan")
        rows.append((name, n, d, k, peers["sklearn"], peers["onedal"], ours))
    print(f"seconds per EM iteration, full covariance, f64, fixed init, medians of {a.repeats}")
    print(f"{'workload':<8} {'N':>10} {'D':>3} {'K':>3} {'sklearn':>9} {'oneDAL':>9} {'gmm':>9} {'gmm/oneDAL':>11} {'sklearn/gmm':>12}")
    for name, n, d, k, sk, dal, ours in rows:
        print(f"{name:<8} {n:>10} {d:>3} {k:>3} {sk:>9.4f} {dal:>9.4f} {ours:>9.4f} {ours / dal:>11.2f} {sk / ours:>12.1f}")


if __name__ == "__main__":
    main()
