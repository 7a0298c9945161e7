"""Data sets that ship with convexnn or are generated on the spot (nothing is downloaded).

* :func:`make_teacher`: targets from a random two-layer ReLU "teacher" network plus noise.
* :func:`make_1d`: a small 1-D regression, where every activation pattern can be enumerated.
* :func:`make_spirals`: the two-spiral classification problem (2-D, labels 0/1).
* :func:`load_dataset`: a named data set split into standardized train and test parts; ``'diabetes'``
  is scikit-learn's bundled diabetes data (442 samples, 10 features), ``'teacher'`` the synthetic one.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from .validation import check_positive, check_random_state

__all__ = ["Dataset", "make_teacher", "make_1d", "make_spirals", "load_dataset", "DATASETS"]


@dataclass
class Dataset:
    """A train/test split with a name; features and targets standardized on the training part."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    description: str = ""


def make_teacher(n_samples=400, n_features=10, n_neurons=5, noise=0.1, random_state=0):
    """Regression data from a random two-layer ReLU teacher network.

    ``x ~ N(0, I)``, ``y = sum_j (x^T w_j)_+ a_j + noise * N(0, 1)`` with ``w_j ~ N(0, I/d)`` and
    ``a_j = +-1`` alternating, then ``y`` centered and scaled to unit variance.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    """
    check_positive(n_samples, "n_samples", integer=True)
    check_positive(n_features, "n_features", integer=True)
    check_positive(n_neurons, "n_neurons", integer=True)
    check_positive(noise, "noise", strict=False)
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_samples, n_features))
    W = rng.standard_normal((n_features, n_neurons)) / np.sqrt(n_features)
    a = np.where(np.arange(n_neurons) % 2 == 0, 1.0, -1.0)
    y = np.maximum(X @ W, 0) @ a + noise * rng.standard_normal(n_samples)
    y = (y - y.mean()) / (y.std() or 1.0)
    return X, y


def make_1d(n_samples=10, noise=0.1, random_state=0):
    """A 1-D regression ``y = sin(3x) + noise`` on sorted ``x ~ U(-1, 1)``.

    Returns
    -------
    X : ndarray of shape (n_samples, 1), sorted
    y : ndarray of shape (n_samples,)
    """
    check_positive(n_samples, "n_samples", integer=True)
    check_positive(noise, "noise", strict=False)
    rng = check_random_state(random_state)
    X = np.sort(rng.uniform(-1.0, 1.0, (n_samples, 1)), axis=0)
    y = np.sin(3.0 * X[:, 0]) + noise * rng.standard_normal(n_samples)
    return X, y


def make_spirals(n_samples=200, *, turns=1.5, noise=0.05, random_state=0):
    """Two interleaved spirals in the plane, a classic test of depth.

    Sample ``k`` of class ``c`` sits at radius ``r = t`` and angle ``2 pi turns t + c pi`` for
    ``t`` uniform in ``(0.1, 1)``, plus ``noise * N(0, I_2)``.

    Parameters
    ----------
    n_samples : int, default=200
        Total samples (split as evenly as possible between the two classes).
    turns : float, default=1.5
        Turns of each spiral.
    noise : float, default=0.05
    random_state : int, Generator or None, default=0

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        Labels 0 and 1.
    """
    n_samples = check_positive(n_samples, "n_samples", integer=True)
    check_positive(turns, "turns")
    check_positive(noise, "noise", strict=False)
    rng = check_random_state(random_state)
    y = np.arange(n_samples) % 2
    t = rng.uniform(0.1, 1.0, n_samples)
    angle = 2 * np.pi * turns * t + np.pi * y
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    return X + noise * rng.standard_normal(X.shape), y


def _diabetes():
    data = load_diabetes()
    return data.data, data.target, "scikit-learn diabetes: 442 patients, 10 features, disease progression"


def _teacher():
    X, y = make_teacher(n_samples=500, n_features=10, n_neurons=5, noise=0.1, random_state=0)
    return X, y, "synthetic: 500 samples from a 10-5-1 ReLU teacher network, noise 0.1"


DATASETS = {"diabetes": _diabetes, "teacher": _teacher}


def load_dataset(name="diabetes", *, test_size=0.2, random_state=0):
    """Load a named data set as a standardized train/test split.

    Parameters
    ----------
    name : {'diabetes', 'teacher'}
    test_size : float, default=0.2
        Fraction of samples held out.
    random_state : int, default=0
        Seed of the split.

    Returns
    -------
    Dataset
        Features and targets are centered and scaled with the training part's statistics.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}.")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}.")
    X, y, description = DATASETS[name]()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=random_state)
    mu, sd = X_tr.mean(axis=0), X_tr.std(axis=0)
    sd[sd == 0] = 1.0
    y_mu, y_sd = y_tr.mean(), y_tr.std() or 1.0
    return Dataset(
        name=name,
        X_train=(X_tr - mu) / sd,
        X_test=(X_te - mu) / sd,
        y_train=(y_tr - y_mu) / y_sd,
        y_test=(y_te - y_mu) / y_sd,
        description=description,
    )
