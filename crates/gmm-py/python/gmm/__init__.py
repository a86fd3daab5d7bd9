"""Gaussian mixture models by expectation-maximisation on the gmm engine.

``gmm.GaussianMixture`` is a drop-in for scikit-learn's
``sklearn.mixture.GaussianMixture`` (same parameters, defaults, attributes and
errors); every pass over the data runs in Rust, in parallel, with the GIL
released, and gives the same bits on any number of threads.

>>> import numpy as np
>>> from gmm import GaussianMixture
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(8, 1, (500, 2))])
>>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
>>> sorted(int(round(v)) for v in gm.means_[:, 0])
[0, 8]
"""

from ._gmm import BLOCK_ROWS, Model, SufficientStats
from ._estimator import GaussianMixture, read_model
from ._select import select

__all__ = [
    "BLOCK_ROWS",
    "GaussianMixture",
    "Model",
    "SufficientStats",
    "read_model",
    "select",
]
__version__ = "0.1.0"


def __getattr__(name):
    # ``gmm.dask`` after a plain ``import gmm``, as the README writes it,
    # without importing Dask until it is used.
    if name == "dask":
        import importlib

        return importlib.import_module(".dask", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
