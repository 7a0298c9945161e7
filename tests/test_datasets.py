"""Generated data sets: shapes, labels, seeds and the geometry they promise."""

import numpy as np
import pytest

from convexnn.datasets import make_spirals


def test_spirals_are_balanced_seeded_and_point_symmetric():
    X, y = make_spirals(101, noise=0.0, random_state=3)
    assert X.shape == (101, 2)
    assert set(np.unique(y)) == {0, 1} and abs(np.sum(y == 0) - np.sum(y == 1)) <= 1
    radius = np.linalg.norm(X, axis=1)
    assert radius.min() >= 0.1 - 1e-12 and radius.max() <= 1.0 + 1e-12
    # without noise, class 1 is class 0 turned by pi: the angle at radius t differs by pi
    t = radius
    angle = np.arctan2(X[:, 1], X[:, 0])
    expected = 2 * np.pi * 1.5 * t + np.pi * y
    np.testing.assert_allclose(np.cos(angle), np.cos(expected), atol=1e-9)
    X2, y2 = make_spirals(101, noise=0.0, random_state=3)
    np.testing.assert_array_equal(X, X2)


def test_spirals_reject_bad_arguments():
    with pytest.raises(ValueError, match="n_samples"):
        make_spirals(0)
    with pytest.raises(ValueError, match="turns"):
        make_spirals(10, turns=-1)
