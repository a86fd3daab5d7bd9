"""Model selection by BIC or AIC over component counts and covariance types."""

import numpy as np

from ._estimator import GaussianMixture


def select(X, components=range(1, 9), covariance_types=("full",), criterion="bic", **params):
    """Fit every (n_components, covariance_type) candidate and keep the lowest criterion.

    Returns ``(table, best)``: a list of dicts (``n_components``,
    ``covariance_type``, ``bic``, ``aic``, ``mean_log_likelihood``,
    ``n_iter``, ``converged``) in fitting order, and the best fitted
    estimator. Other keyword arguments go to every :class:`GaussianMixture`.

    >>> import numpy as np, gmm
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> table, best = gmm.select(X, components=[1, 2], random_state=0)
    >>> len(table), best.n_components
    (2, 1)
    """
    if criterion not in ("bic", "aic"):
        raise ValueError(f"criterion must be 'bic' or 'aic', got {criterion!r}")
    table, best, best_value = [], None, np.inf
    for ct in covariance_types:
        for k in components:
            est = GaussianMixture(n_components=k, covariance_type=ct, **params).fit(X)
            row = {
                "n_components": k,
                "covariance_type": ct,
                "bic": est.bic(X),
                "aic": est.aic(X),
                "mean_log_likelihood": est.score(X),
                "n_iter": est.n_iter_,
                "converged": est.converged_,
            }
            table.append(row)
            if row[criterion] < best_value:
                best, best_value = est, row[criterion]
    return table, best
