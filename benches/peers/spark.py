#!/usr/bin/env python3
"""The distributed anchor: Spark MLlib's GaussianMixture against `gmm-mpi`.

Usage (from the repository root; optional, not part of CI; needs a Java 17+
runtime, e.g. `apt-get install openjdk-17-jre-headless`, and Open MPI):

    python3 benches/peers/spark.py                    # seed2d, mid, tall
    python3 benches/peers/spark.py --only seed2d,mid --scale 0.1

It creates benches/peers/.venv-spark (PySpark, NumPy) and, for each workload
of docs/design.md, writes the data with `gmm generate` and the fixed initial
state of peers.py, then measures from that state, full covariance, f64:

  Spark    pyspark.mllib.clustering.GaussianMixture.train(initialModel=...) in
           local[2] on a cached RDD: (t(M2) - t(M1)) / (M2 - M1) seconds per
           iteration (convergenceTol 0), and the mean log-likelihood of the
           data under its model after M2 iterations (evaluated with NumPy);
  gmm-mpi  `mpirun -np 2 gmm-mpi fit --threads 1 --init FIXED --tol 0
           --max-iter M2`: the median per-iteration time of its report, and
           `gmm score` of its model.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402  (the workloads' files and fixed initial state)

ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(HERE, ".venv-spark")
PINS = ["pyspark==4.3.0", "numpy==2.4.6"]
WORKLOADS = {"seed2d": (1_000_000, 2, 3), "mid": (1_000_000, 16, 16), "tall": (10_000_000, 4, 8)}

SPARK = r"""
import json, os, sys, time, numpy as np
os.environ["PYSPARK_PYTHON"] = sys.executable  # workers need this venv's NumPy
from pyspark import SparkConf, SparkContext
from pyspark.mllib.clustering import GaussianMixture
from pyspark.mllib.linalg import DenseMatrix, Vectors
from pyspark.mllib.stat.distribution import MultivariateGaussian
path, init_path, m1, m2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conf = (SparkConf().setMaster("local[2]").setAppName("gmm-peers")
        .set("spark.driver.memory", "8g").set("spark.ui.enabled", "false"))
sc = SparkContext(conf=conf); sc.setLogLevel("ERROR")
x = np.load(path); n, d = x.shape
init = json.load(open(init_path))
gaussians = [MultivariateGaussian(Vectors.dense(mu), DenseMatrix(d, d, np.array(c).ravel().tolist()))
             for mu, c in zip(init["means"], init["covariances"])]
class Start:  # what train() reads of an initialModel (the wrapper needs a JVM model)
    k, weights, gaussians = len(gaussians), init["weights"], gaussians
start = Start()
rdd = sc.parallelize([Vectors.dense(r) for r in x], 8).cache(); rdd.count()
def run(m):
    t = time.perf_counter()
    model = GaussianMixture.train(rdd, len(init["weights"]), convergenceTol=0.0, maxIterations=m,
                                  initialModel=start)
    return time.perf_counter() - t, model
t1, _ = run(m1); t2, model = run(m2)
# Mean log-likelihood of the data under the model, in log space.
lp = np.empty((n, model.k))
for j, (w, g) in enumerate(zip(model.weights, model.gaussians)):
    mu, cov = np.array(g.mu), g.sigma.toArray()
    sign, logdet = np.linalg.slogdet(cov)
    diff = x - mu
    sol = np.linalg.solve(cov, diff.T).T
    lp[:, j] = np.log(w) - 0.5 * (d * np.log(2 * np.pi) + logdet + (diff * sol).sum(1)) if sign > 0 else -np.inf
mx = lp.max(1, keepdims=True)
ll = float(np.mean(mx[:, 0] + np.log(np.exp(lp - mx).sum(1))))
print(json.dumps({"seconds": (t2 - t1) / (m2 - m1), "mean_log_likelihood": ll}))
"""


def python():
    """The Spark environment's interpreter (created by peers.python_of)."""
    peers.ENVS["spark"] = (VENV, PINS)
    return peers.python_of("spark")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of each workload's N")
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--iters", default="2,6", help="M1,M2: iterations of the two timed fits")
    a = ap.parse_args()
    if shutil.which("java") is None:
        sys.exit("error: Spark needs a Java runtime: apt-get install openjdk-17-jre-headless")
    if shutil.which("mpirun") is None:
        sys.exit("error: gmm-mpi needs Open MPI: bash tests/install-mpi")
    m1, m2 = (int(v) for v in a.iters.split(","))
    os.makedirs(peers.WORK, exist_ok=True)
    subprocess.check_call(["cargo", "build", "--release", "--quiet", "-p", "gmm", "-p", "gmm-mpi"], cwd=ROOT)
    gmm = os.path.join(ROOT, "target", "release", "gmm")
    gmm_mpi = os.path.join(ROOT, "target", "release", "gmm-mpi")
    py = python()
    only = [w for w in a.only.split(",") if w]
    rows = []
    for name, (n0, d, k) in WORKLOADS.items():
        if only and name not in only:
            continue
        n = max(k, int(n0 * a.scale))
        data, init = peers.workload_files(gmm, py, name, n, k)
        model = os.path.join(peers.WORK, "mpi-model.json")
        report = os.path.join(peers.WORK, "mpi-report.json")
        subprocess.check_call(["mpirun", "-q", "--allow-run-as-root", "-np", "2", gmm_mpi, "fit", data,
                               "-k", str(k), "--init", init, "--tol", "0", "--max-iter", str(m2),
                               "--threads", "1", "--out", model, "--report", report, "-q"])
        ours = statistics.median(json.load(open(report))["iteration_seconds"])
        ours_ll = float(subprocess.check_output([gmm, "score", model, data]).split()[0])
        t = time.perf_counter()
        out = subprocess.run([py, "-c", SPARK, data, init, str(m1), str(m2)], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: spark failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}", file=sys.stderr)
            spark = {"seconds": float("nan"), "mean_log_likelihood": float("nan")}
        else:
            spark = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name}: spark run {time.perf_counter() - t:.0f} s", file=sys.stderr)
        rows.append((name, n, d, k, spark["seconds"], spark["mean_log_likelihood"], ours, ours_ll))
    print(f"seconds per EM iteration from the fixed init, full covariance, f64; mean log-likelihood after {m2} iterations")
    print(f"{'workload':<8} {'N':>10} {'D':>3} {'K':>3} {'Spark s/it':>11} {'Spark LL':>10} {'gmm-mpi -np 2':>14} {'gmm LL':>10} {'Spark/gmm':>10}")
    for name, n, d, k, st, sl, ot, ol in rows:
        print(f"{name:<8} {n:>10} {d:>3} {k:>3} {st:>11.4f} {sl:>10.4f} {ot:>14.4f} {ol:>10.4f} {st / ot:>10.1f}")


if __name__ == "__main__":
    main()
