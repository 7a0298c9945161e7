"""Neural feature repopulation: resample a trained population by importance, keep the function.

A population ``rho = sum_j q_j delta_(u_j, theta_j)`` represents ``f(x) = sum_j q_j u_j h_j(x)``.
For any probability vector ``p`` over its neurons with ``p_j > 0`` wherever ``q_j u_j h_j`` is not
zero, ``f(x) = sum_j p_j (q_j u_j / p_j) h_j(x)``: the same function is the population ``p`` with
importances ``u_j q_j / p_j``. Drawing ``k`` neurons from ``p`` and giving each mass ``1/k`` and
importance ``u_j q_j / p_j`` (:func:`repopulate`) gives an unbiased estimate ``f_k`` of ``f``:
``E[f_k(x)] = f(x)`` for every ``x``. This is the change of feature distribution of neural feature
repopulation (Fang, Dong & Zhang, arXiv 1910.11508), done on a finite population.

The importance weights (:func:`importance_weights`) are

    p_j  proportional to  q_j ||u_j|| std_k h(theta_j, x_k)

(``std_k``: the standard deviation of the feature over the data ``X``), the size of neuron ``j``'s
contribution to the variation of ``f`` on the data. A neuron whose feature is constant on ``X``
(e.g. a dead ReLU) gets weight 0 and is never drawn; if such a neuron has a non-zero constant
output it is a bias that ``f_k`` loses, and ``f_k`` is unbiased only up to that constant.

Draws are systematic (one uniform offset, ``k`` evenly spaced points on the cumulative weights:
neuron ``j`` is drawn ``floor(k p_j)`` or ``ceil(k p_j)`` times, ``k p_j`` in expectation) or
multinomial (``k`` independent draws). With uniform weights and ``k = m`` systematic draws take
every neuron exactly once, so the repopulated network equals ``f``.
"""

from dataclasses import dataclass

import numpy as np

from ..validation import check_matrix, check_positive, check_random_state
from .population import Population

__all__ = ["importance_weights", "repopulate", "RepopulationError", "repopulation_error"]

_METHODS = ("systematic", "multinomial")
_WEIGHTS = ("importance", "uniform")


def _check_mean_field(population):
    if population.scaling != "mean_field":
        raise ValueError(
            "population must use scaling='mean_field' to be repopulated (its output is a mean over "
            f"neurons); got scaling={population.scaling!r}."
        )


def importance_weights(population, X):
    """Importance weights ``p_j ∝ q_j ||u_j|| std_k h(theta_j, x_k)``, summing to one.

    Parameters
    ----------
    population : Population
        A mean-field population.
    X : array-like of shape (n_samples, n_features)
        The data on which the features' spread is measured.

    Returns
    -------
    ndarray of shape (n_neurons,)
    """
    _check_mean_field(population)
    H = population.features(X)
    score = population.mass * np.linalg.norm(population.u, axis=1) * H.std(axis=0)
    total = score.sum()
    if not total > 0:
        raise ValueError("every neuron has zero importance on X (all features constant or all u zero).")
    return score / total


def _weights(population, X, weights):
    if isinstance(weights, str):
        if weights not in _WEIGHTS:
            raise ValueError(f"weights must be one of {list(_WEIGHTS)} or an array, got {weights!r}.")
        if weights == "uniform":
            return np.full(population.n_neurons, 1.0 / population.n_neurons)
        return importance_weights(population, X)
    p = np.asarray(weights, dtype=np.float64)
    if p.shape != (population.n_neurons,) or np.any(p < 0) or not np.all(np.isfinite(p)) or not p.sum() > 0:
        raise ValueError(
            f"weights must be 'importance', 'uniform' or non-negative finite numbers of shape "
            f"({population.n_neurons},) with a positive sum."
        )
    return p / p.sum()


def _draw(p, k, method, rng):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}.")
    if method == "multinomial":
        return rng.choice(p.shape[0], size=k, p=p)
    cumulative = np.cumsum(p)
    cumulative /= cumulative[-1]
    points = (np.arange(k) + rng.uniform()) / k
    return np.minimum(np.searchsorted(cumulative, points, side="right"), p.shape[0] - 1)


def repopulate(population, X=None, k=None, *, weights="importance", method="systematic", random_state=None):
    """Resample ``k`` neurons by ``weights`` and reweight their importances; ``E[f_k] = f``.

    Parameters
    ----------
    population : Population
        A mean-field population with ``m`` neurons.
    X : array-like of shape (n_samples, n_features) or None
        Data for the importance weights (needed only when ``weights='importance'``).
    k : int or None
        Number of draws (neurons of the new population, repeats included); None means ``m``.
    weights : {'importance', 'uniform'} or array-like of shape (m,), default='importance'
        The sampling distribution ``p``.
    method : {'systematic', 'multinomial'}, default='systematic'
    random_state : int, Generator or None

    Returns
    -------
    Population
        ``k`` neurons ``theta_{j_s}`` with equal masses ``1/k`` and importances
        ``u_{j_s} q_{j_s} / p_{j_s}``; ``source_index_`` (array of shape (k,)) holds ``j_s``.
    """
    _check_mean_field(population)
    if isinstance(weights, str) and weights == "importance" and X is None:
        raise ValueError("X is required for weights='importance' (the features' spread is measured on it).")
    k = population.n_neurons if k is None else check_positive(k, "k", integer=True)
    p = _weights(population, None if X is None else check_matrix(X, "X"), weights)
    idx = _draw(p, k, method, check_random_state(random_state))
    if np.any(p[idx] == 0):  # only possible at the boundary of a zero-weight neuron
        idx = idx[p[idx] > 0]
    u = population.u[idx] * (population.mass[idx] / p[idx])[:, None]
    new = Population(population.theta[idx], u, activation=population.activation)
    new.source_index_ = idx
    return new


@dataclass
class RepopulationError:
    """Approximation error of repopulated networks against the number of draws.

    Attributes
    ----------
    k : ndarray of shape (n_k,)
    mean : ndarray of shape (n_k,)
        Mean over repeats of ``||f_k(X) - f(X)|| / ||f(X)||`` (Frobenius norms over samples, outputs).
    std : ndarray of shape (n_k,)
        Standard deviation over repeats.
    """

    k: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def repopulation_error(population, X, ks, *, weights="importance", method="multinomial", n_repeats=10,
                       random_state=None):
    """Relative error ``||f_k - f|| / ||f||`` on ``X`` of :func:`repopulate` for each ``k`` in ``ks``.

    Parameters
    ----------
    population : Population
    X : array-like of shape (n_samples, n_features)
        Where the weights are computed and the functions compared.
    ks : sequence of int
    weights, method : str
        As in :func:`repopulate` (default ``method='multinomial'``: independent draws, error
        ``O(1/sqrt(k))``).
    n_repeats : int, default=10
    random_state : int, Generator or None

    Returns
    -------
    RepopulationError
    """
    X = check_matrix(X, "X")
    ks = np.asarray(ks)
    if ks.ndim != 1 or ks.size == 0 or not np.issubdtype(ks.dtype, np.integer) or np.any(ks < 1):
        raise ValueError(f"ks must be a non-empty sequence of positive integers, got {ks!r}.")
    check_positive(n_repeats, "n_repeats", integer=True)
    rng = check_random_state(random_state)
    f = population.predict(X)
    norm = np.linalg.norm(f)
    if not norm > 0:
        raise ValueError("the population's output is zero on X; the relative error is undefined.")
    p = _weights(population, X, weights)
    errors = np.array([
        [np.linalg.norm(repopulate(population, X, int(k), weights=p, method=method, random_state=rng).predict(X) - f)
         / norm for _ in range(n_repeats)]
        for k in ks
    ])
    return RepopulationError(k=ks, mean=errors.mean(axis=1), std=errors.std(axis=1))
