import numpy as np
import pytest

from convexnn.datasets import make_1d


@pytest.fixture
def data_1d():
    """Ten 1-D samples; with an intercept every pattern can be enumerated (2n = 20)."""
    return make_1d(n_samples=10, noise=0.1, random_state=0)


@pytest.fixture
def data_small():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((25, 3))
    y = np.maximum(X @ np.array([1.0, -0.5, 0.3]), 0) - 0.5 * np.maximum(-X[:, 0], 0)
    return X, y + 0.05 * rng.standard_normal(25)
