"""Input checks shared by the public functions.

Every public entry point of convexnn validates what it is given here, so that bad input fails early
with a ``ValueError`` that names the argument and says what was expected, instead of surfacing as a
shape error deep inside numpy or cvxpy.
"""

import numbers

import numpy as np

__all__ = ["check_matrix", "check_target", "check_positive", "add_intercept", "check_random_state"]


def check_matrix(X, name="X", *, min_samples=1):
    """Return ``X`` as a finite float64 array of shape (n_samples, n_features).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The matrix to check. Sparse matrices are rejected with a message to densify.
    name : str
        The argument name used in error messages.
    min_samples : int
        The smallest number of rows accepted.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise ValueError(
            f"{name} is a sparse matrix; convexnn needs dense data, pass {name}.toarray()."
        )
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of shape (n_samples, n_features): {exc}")
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got {X.ndim} dimension(s)"
            f" with shape {X.shape}; reshape 1-D data with {name}.reshape(-1, 1)."
        )
    if X.shape[0] < min_samples:
        raise ValueError(f"{name} has {X.shape[0]} sample(s); at least {min_samples} required.")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has 0 features; at least one column is required.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those entries.")
    return X


def check_target(y, n_samples, name="y"):
    """Return ``y`` as a finite float64 vector of length ``n_samples``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Target values. A column vector of shape (n_samples, 1) is flattened.
    n_samples : int
        The number of rows of the data matrix ``y`` must match.
    name : str
        The argument name used in error messages.
    """
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric vector of shape (n_samples,): {exc}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of shape (n_samples,), got shape {y.shape}.")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {y.shape[0]} entries but X has {n_samples} samples; they must match."
        )
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those entries.")
    return y


def check_positive(value, name, *, strict=True, integer=False):
    """Check that a scalar argument is a (strictly) positive real or integer and return it."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if integer else "a real number"
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    if not np.isfinite(value) or (value <= 0 if strict else value < 0):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}.")
    return value


def add_intercept(X):
    """Append a column of ones to ``X``.

    As in the papers, the weight on this column plays the role of a bias and is regularized like
    every other first-layer weight.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    ndarray of shape (n_samples, n_features + 1)
    """
    X = np.asarray(X)
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])


def check_random_state(random_state):
    """Turn ``None``, an int or a ``numpy.random.Generator`` into a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    raise ValueError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}."
    )
