"""Fixtures of scikit-learn's conftest that its ported tests use."""

import numpy as np
import pytest


# scikit-learn's conftest fixtures, with a fixed set of seeds.
@pytest.fixture(params=[np.float32, np.float64])
def global_dtype(request):
    return request.param


@pytest.fixture(params=[0, 1, 42])
def global_random_seed(request):
    return request.param
