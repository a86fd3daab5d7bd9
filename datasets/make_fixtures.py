#!/usr/bin/env python3
"""Generate the scikit-learn parity fixtures under datasets/fixtures/.

Usage:  python3 datasets/make_fixtures.py

The script creates its own virtual environment (datasets/.venv), installs
numpy and scikit-learn from the package registry there, and re-runs itself
inside it. For every dataset it writes:

  <name>.npy            the data (float64, C order)
  <name>.init.json      the fixed initial model (gmm model schema), full covariances
  <name>.expected.json  scikit-learn's GaussianMixture fitted from that init
                        with max_iter=50, tol=0, reg_covar=1e-6: weights,
                        means, covariances, precisions_cholesky, lower_bound,
                        lower_bounds (if this scikit-learn records them),
                        n_iter, converged, predict labels, predict_proba,
                        score_samples, score, bic, aic.
  <name>.<type>.init.json, <name>.<type>.expected.json
                        the same for covariance types tied, diag and spherical:
                        the initial covariances are the mean of the full ones
                        (tied), their diagonals (diag) or the mean of their
                        diagonals (spherical).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
PY = os.path.join(VENV, "bin", "python")
PINS = ["numpy==2.4.6", "scikit-learn==1.9.1"]


def ensure_venv():
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(PY):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    subprocess.check_call([PY, "-m", "pip", "install", "--quiet", *PINS])
    os.execv(PY, [PY, os.path.abspath(__file__), *sys.argv[1:]])


def random_spd(rng, d, scale):
    a = rng.standard_normal((d, d))
    return scale * (a @ a.T / d + 0.1 * np.eye(d))


def seed2d(rng):
    # The seeds' generator: 60% N(0, 4I), 30% N((5,5), I), 10% N((0,5), 0.25I).
    n = 2000
    x = np.zeros((n, 2))
    x[:1200] = rng.standard_normal((1200, 2)) * 2
    x[1200:1800] = rng.standard_normal((600, 2)) + [5, 5]
    x[1800:] = rng.standard_normal((200, 2)) * 0.5 + [0, 5]
    x = x[rng.permutation(n)]
    k = 3
    means = x[[i * (n // k) for i in range(k)]]
    covs = np.stack([np.eye(2)] * k)
    weights = np.full(k, 1.0 / k)
    return x, weights, means, covs


def mixture(rng, n, d, k, spread, cov_scale):
    centres = rng.uniform(-spread, spread, (k, d))
    covs = [random_spd(rng, d, cov_scale) for _ in range(k)]
    w = rng.dirichlet(np.full(k, 5.0))
    z = rng.choice(k, size=n, p=w)
    x = np.empty((n, d))
    for c in range(k):
        idx = np.where(z == c)[0]
        x[idx] = rng.multivariate_normal(centres[c], covs[c], size=len(idx))
    return x


def aniso5d(rng):
    x = mixture(rng, 1500, 5, 4, 6.0, 1.0)
    k = 4
    means = x[rng.choice(len(x), k, replace=False)]
    covs = np.stack([random_spd(rng, 5, 2.0) for _ in range(k)])
    weights = rng.dirichlet(np.full(k, 3.0))
    return x, weights, means, covs


def overlap3d(rng):
    x = mixture(rng, 1200, 3, 5, 2.5, 1.5)
    k = 5
    means = x[rng.choice(len(x), k, replace=False)]
    covs = np.stack([np.eye(3) * 1.5 for _ in range(k)])
    weights = np.full(k, 1.0 / k)
    return x, weights, means, covs


def covariances_for(cov_type, covs):
    """The initial covariances of each type, derived from the full ones."""
    if cov_type == "full":
        return covs
    if cov_type == "tied":
        return covs.mean(axis=0)
    diag = np.stack([np.diag(c) for c in covs])
    if cov_type == "diag":
        return diag
    return diag.mean(axis=1)


def precisions_for(cov_type, cov):
    if cov_type == "full":
        return np.linalg.inv(cov)
    if cov_type == "tied":
        return np.linalg.inv(cov)
    return 1.0 / cov


def model_json(cov_type, weights, means, cov):
    k, d = means.shape
    return {
        "format": "gmm-model",
        "version": 1,
        "covariance_type": cov_type,
        "n_components": int(k),
        "n_features": int(d),
        "weights": weights.tolist(),
        "means": means.tolist(),
        "covariances": cov.tolist(),
    }


def main():
    import sklearn
    from sklearn.mixture import GaussianMixture

    out = os.path.join(HERE, "fixtures")
    os.makedirs(out, exist_ok=True)
    makers = {"seed2d": (seed2d, 20261122), "aniso5d": (aniso5d, 7), "overlap3d": (overlap3d, 11)}
    for name, (make, seed) in makers.items():
        rng = np.random.default_rng(seed)
        x, weights, means, covs = make(rng)
        x = np.ascontiguousarray(x, dtype="<f8")
        np.save(os.path.join(out, name + ".npy"), x)
        for cov_type in ["full", "tied", "diag", "spherical"]:
            stem = name if cov_type == "full" else f"{name}.{cov_type}"
            cov = covariances_for(cov_type, covs)
            with open(os.path.join(out, stem + ".init.json"), "w") as f:
                json.dump(model_json(cov_type, weights, means, cov), f, indent=1)
            gm = GaussianMixture(
                n_components=len(weights),
                covariance_type=cov_type,
                tol=0.0,
                reg_covar=1e-6,
                max_iter=50,
                n_init=1,
                weights_init=weights,
                means_init=means,
                precisions_init=precisions_for(cov_type, cov),
                random_state=0,
            )
            gm.fit(x)
            expected = {
                "sklearn_version": sklearn.__version__,
                "numpy_version": np.__version__,
                "covariance_type": cov_type,
                "max_iter": 50,
                "tol": 0.0,
                "reg_covar": 1e-6,
                "n_iter": int(gm.n_iter_),
                "converged": bool(gm.converged_),
                "lower_bound": float(gm.lower_bound_),
                "weights": gm.weights_.tolist(),
                "means": gm.means_.tolist(),
                "covariances": gm.covariances_.tolist(),
                "precisions_cholesky": gm.precisions_cholesky_.tolist(),
                "labels": gm.predict(x).tolist(),
                "predict_proba": gm.predict_proba(x).tolist(),
                "score_samples": gm.score_samples(x).tolist(),
                "score": float(gm.score(x)),
                "bic": float(gm.bic(x)),
                "aic": float(gm.aic(x)),
            }
            if hasattr(gm, "lower_bounds_"):
                expected["lower_bounds"] = [float(v) for v in gm.lower_bounds_]
            with open(os.path.join(out, stem + ".expected.json"), "w") as f:
                json.dump(expected, f)
            print(
                f"{stem}: n={len(x)} d={x.shape[1]} k={len(weights)} "
                f"lower_bound={gm.lower_bound_:.12f}"
            )


if __name__ == "__main__":
    ensure_venv()
    import numpy as np  # noqa: E402

    main()
