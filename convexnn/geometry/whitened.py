"""Closed-form optimal networks for whitened data (``X X^T = I``, so ``n_samples <= n_features``).

Ergen & Pilanci (JMLR 2021, "Convex Geometry and Duality of Over-parameterized Neural Networks",
closed-form section for whitened data) show that when the rows of ``X`` are orthonormal the set
``{(X u)_+ : ||u|| <= 1}`` is exactly the non-negative part of the unit ball (``X`` is spike-free),
so the training problem only sees the positive and negative parts of the prediction vector and the
optimal neurons are explicit:

* squared loss: ``u_1 = X^T (y)_+ / ||(y)_+||`` with output ``||(y)_+|| - beta`` (kept when
  ``beta < ||(y)_+||``) and ``u_2 = X^T (-y)_+ / ||(-y)_+||`` with output ``-(||(-y)_+|| - beta)``
  (kept when ``beta < ||(-y)_+||``); with both kept the optimal value is
  ``beta (||y_+|| + ||y_-||) - beta^2``;
* hinge loss, labels -1/+1: ``u_1 = X^T 1_+ / sqrt(n_+)`` with output ``sqrt(n_+)`` (kept when
  ``beta < sqrt(n_+)``), the same for the negative class, value ``min(n_+, beta sqrt(n_+)) +
  min(n_-, beta sqrt(n_-))``;
* several outputs with one-hot targets (at most one non-zero per row), squared loss: one neuron per
  signed class part ``(Y_k)_+``, ``(Y_k)_-`` with output ``(||(Y_k)_+|| - beta) e_k`` and so on.

The formulas are in the paper's sum scaling ``(1/2)||f - y||^2 + beta * path norm``; here every value
is reported in the mean scaling of doc/math.rst (divided by ``n``, with ``beta = n * lam``), and each
neuron is balanced (``||u_j|| = |a_j|``) so that weight decay equals the path norm. The output
weight quoted above is then ``a_j^2`` times its sign.
"""

from dataclasses import dataclass, field

import numpy as np

from ..losses import get_loss
from ..networks import ReLUNetwork
from ..validation import check_matrix, check_positive, check_target

__all__ = [
    "ClosedFormFit",
    "VectorReLUNetwork",
    "whiten",
    "check_whitened",
    "whitened_squared",
    "whitened_hinge",
    "whitened_multiclass",
    "vector_dual_bound",
]


@dataclass
class ClosedFormFit:
    """An optimal network given by a formula.

    Attributes
    ----------
    network : ReLUNetwork or VectorReLUNetwork
        The optimal network (balanced neurons, no intercept); it may have 0 neurons.
    objective : float
        Optimal value in the mean scaling of doc/math.rst.
    objective_paper : float
        The same value in the paper's sum scaling (``n * objective``, with ``beta = n * lam``).
    regime : str
        Which neurons the formula keeps, e.g. ``'two neurons'``, ``'only the positive neuron'``.
    neurons_kept : dict
        For each candidate neuron, whether ``beta`` is below its threshold.
    thresholds : dict
        The value of ``beta`` (paper scaling) above which each neuron vanishes; divide by ``n`` for
        ``lam``.
    exact : bool
        True: the formula is the optimum, not an estimate.
    """

    network: object
    objective: float
    objective_paper: float
    regime: str
    neurons_kept: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    exact: bool = True

    def predict(self, X):
        return self.network.predict(X)


class VectorReLUNetwork:
    """Two-layer ReLU network with several outputs, ``F(x) = sum_j (x^T u_j)_+ a_j^T``, no biases.

    Objective (mean scaling): ``(1/(2n)) ||F(X) - Y||_F^2 + (lam/2) (||W1||_F^2 + ||W2||_F^2)``.

    Parameters
    ----------
    W1 : array-like of shape (n_features, n_neurons)
    W2 : array-like of shape (n_neurons, n_outputs)
    """

    def __init__(self, W1, W2):
        W1 = np.asarray(W1, dtype=np.float64)
        W2 = np.asarray(W2, dtype=np.float64)
        if W1.ndim != 2 or W2.ndim != 2 or W1.shape[1] != W2.shape[0]:
            raise ValueError(
                f"W1 must be (n_features, n_neurons) and W2 (n_neurons, n_outputs); got {W1.shape} "
                f"and {W2.shape}."
            )
        self.W1, self.W2 = W1, W2

    @property
    def n_neurons(self):
        return self.W1.shape[1]

    def predict(self, X):
        X = check_matrix(X, "X")
        return np.maximum(X @ self.W1, 0.0) @ self.W2

    def path_norm(self):
        return float(np.sum(np.linalg.norm(self.W1, axis=0) * np.linalg.norm(self.W2, axis=1)))

    def objective(self, X, Y, lam):
        Y = np.asarray(Y, dtype=np.float64)
        R = self.predict(X) - Y
        decay = 0.5 * (np.sum(self.W1**2) + np.sum(self.W2**2))
        return 0.5 * float(np.sum(R * R)) / Y.shape[0] + lam * float(decay)


def whiten(X):
    """Return ``(X X^T)^{-1/2} X``, whose rows are orthonormal (needs ``n_samples <= n_features``).

    Raises a ValueError when ``X X^T`` is singular (rows linearly dependent).
    """
    X = check_matrix(X, "X")
    n, d = X.shape
    if n > d:
        raise ValueError(
            f"X must have n_samples <= n_features to be whitened (X X^T = I), got {n} > {d}."
        )
    vals, vecs = np.linalg.eigh(X @ X.T)
    if vals.min() <= 1e-12 * vals.max():
        raise ValueError("X has linearly dependent rows; X X^T is singular and cannot be whitened.")
    return (vecs / np.sqrt(vals)) @ vecs.T @ X


def check_whitened(X, name="X", *, atol=1e-8):
    """Return ``X`` if ``X X^T = I`` (to ``atol``), else raise a ValueError naming ``name``."""
    X = check_matrix(X, name)
    n, d = X.shape
    err = float(np.abs(X @ X.T - np.eye(n)).max())
    if n > d or err > atol:
        raise ValueError(
            f"{name} must be whitened ({name} @ {name}.T = I, which needs n_samples <= n_features); "
            f"got shape {X.shape} and max |{name} {name}^T - I| = {err:.3g} > atol={atol:g}. "
            "Use convexnn.geometry.whiten."
        )
    return X


def _balanced(X, directions, outputs):
    """Neurons ``(sqrt|o| u, sign(o) sqrt|o|)`` for unit ``u`` (columns) and outputs ``o``."""
    root = np.sqrt(np.abs(outputs))
    return ReLUNetwork(directions * root, np.sign(outputs) * root)


def _regime(kept, names):
    on = [name for name, k in zip(names, kept) if k]
    if len(on) == len(names):
        return "two neurons" if len(names) == 2 else f"{len(names)} neurons"
    if not on:
        return "no neuron (zero network)"
    return "only the " + " and ".join(on) + " neuron" + ("s" if len(on) > 1 else "")


def whitened_squared(X, y, lam, *, atol=1e-8):
    """Closed-form optimal network for whitened ``X`` and the squared loss.

    Ergen & Pilanci (2021), whitened-data closed form (doc/math.rst): with ``beta = n * lam``,
    ``u_1 = X^T (y)_+ / ||(y)_+||``, output ``||(y)_+|| - beta`` if ``beta < ||(y)_+||``;
    ``u_2 = X^T (-y)_+ / ||(-y)_+||``, output ``-(||(-y)_+|| - beta)`` if ``beta < ||(-y)_+||``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), whitened (``X X^T = I``)
    y : array-like of shape (n_samples,)
    lam : float
        Regularization strength, mean scaling.
    atol : float
        Tolerance of the whitening check.

    Returns
    -------
    ClosedFormFit
        ``objective = (1/n) [ sum_{s=+,-} (min(beta, ||y_s||)^2 / 2 + beta (||y_s|| - beta)_+) ]``;
        in the two-neuron regime this is ``(beta (||y_+|| + ||y_-||) - beta^2) / n``.
    """
    X = check_whitened(X, atol=atol)
    y = check_target(y, X.shape[0])
    check_positive(lam, "lam", strict=False)
    n = X.shape[0]
    beta = n * lam
    parts = {"positive": np.maximum(y, 0.0), "negative": np.maximum(-y, 0.0)}
    norms = {k: float(np.linalg.norm(v)) for k, v in parts.items()}
    kept = {k: beta < norms[k] for k in parts}
    dirs, outs = [], []
    for k, sign in (("positive", 1.0), ("negative", -1.0)):
        if kept[k]:
            dirs.append(X.T @ parts[k] / norms[k])
            outs.append(sign * (norms[k] - beta))
    d = X.shape[1]
    network = _balanced(X, np.column_stack(dirs) if dirs else np.zeros((d, 0)), np.array(outs))
    paper = sum(0.5 * min(beta, v) ** 2 + beta * max(v - beta, 0.0) for v in norms.values())
    return ClosedFormFit(
        network, paper / n, paper, _regime(kept.values(), list(kept)), kept,
        {k: v for k, v in norms.items()},
    )


def whitened_hinge(X, y, lam, *, atol=1e-8):
    """Closed-form optimal network for whitened ``X``, hinge loss and labels -1/+1.

    With ``f = (f)_+ - (f)_-`` the path norm of the cheapest network producing ``f`` on whitened data
    is ``||(f)_+|| + ||(f)_-||``, so the problem splits by class; for the ``n_+`` positive samples
    ``min_{t >= 0} sum (1 - t_k)_+ + beta ||t||`` is ``min(n_+, beta sqrt(n_+))``, attained by
    ``t = 1`` when ``beta < sqrt(n_+)`` and by ``t = 0`` when ``beta > sqrt(n_+)`` (at equality both
    are optimal; the zero neuron is returned). The neurons are ``u_+ = X^T 1_+ / sqrt(n_+)`` with
    output ``sqrt(n_+)``, and ``u_- = X^T 1_- / sqrt(n_-)`` with output ``-sqrt(n_-)``: the network
    outputs exactly ``y`` on the training data in the two-neuron regime (Ergen & Pilanci 2021, hinge
    loss closed form for whitened data).

    Returns
    -------
    ClosedFormFit
        ``objective = (1/n) [min(n_+, beta sqrt(n_+)) + min(n_-, beta sqrt(n_-))]``, ``beta = n lam``.
    """
    X = check_whitened(X, atol=atol)
    loss = get_loss("hinge")
    y = loss.check_target(check_target(y, X.shape[0]))
    check_positive(lam, "lam", strict=False)
    n = X.shape[0]
    beta = n * lam
    counts = {"positive": int(np.sum(y > 0)), "negative": int(np.sum(y < 0))}
    roots = {k: float(np.sqrt(v)) for k, v in counts.items()}
    kept = {k: counts[k] > 0 and beta < roots[k] for k in counts}
    dirs, outs = [], []
    for k, sign in (("positive", 1.0), ("negative", -1.0)):
        if kept[k]:
            dirs.append(X.T @ (y == sign).astype(float) / roots[k])
            outs.append(sign * roots[k])
    d = X.shape[1]
    network = _balanced(X, np.column_stack(dirs) if dirs else np.zeros((d, 0)), np.array(outs))
    paper = sum(min(counts[k], beta * roots[k]) for k in counts)
    return ClosedFormFit(network, paper / n, paper, _regime(kept.values(), list(kept)), kept, roots)


def _check_one_hot(Y, n):
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"Y must have shape ({n}, n_outputs), got {Y.shape}.")
    if not np.all(np.isfinite(Y)):
        raise ValueError("Y contains NaN or infinity.")
    per_row = np.count_nonzero(Y, axis=1)
    if per_row.max(initial=0) > 1:
        raise ValueError(
            "Y must have at most one non-zero entry per row (one-hot targets) for the multiclass "
            f"closed form; row {int(np.argmax(per_row > 1))} has {int(per_row.max())}."
        )
    return Y


def whitened_multiclass(X, Y, lam, *, atol=1e-8):
    """Closed-form optimal vector-output network for whitened ``X`` and one-hot targets ``Y``.

    Squared loss ``(1/(2n)) ||F - Y||_F^2 + lam * sum_j ||u_j|| ||a_j||`` (mean scaling). When each
    row of ``Y`` has at most one non-zero entry, the signed parts ``(Y_k)_+`` and ``(Y_k)_-`` of all
    columns have disjoint supports, and the optimum uses one neuron per part: ``u = X^T (Y_k)_+ /
    ||(Y_k)_+||`` with output ``(||(Y_k)_+|| - beta) e_k`` when ``beta < ||(Y_k)_+||`` (and with a minus
    sign for ``(Y_k)_-``), ``beta = n * lam``. This is the vector-output case of the paper's
    whitened-data closed form (Ergen & Pilanci 2021); optimality is certified by the dual point
    ``Z = Y - F``, whose spectral norm is at most ``beta`` (see :func:`vector_dual_bound`).

    Returns
    -------
    ClosedFormFit
        ``network`` is a :class:`VectorReLUNetwork`; ``neurons_kept`` and ``thresholds`` are keyed
        by ``(class, '+' or '-')``.
    """
    X = check_whitened(X, atol=atol)
    Y = _check_one_hot(Y, X.shape[0])
    check_positive(lam, "lam", strict=False)
    n, K = Y.shape
    beta = n * lam
    W1, W2, kept, thresholds, paper = [], [], {}, {}, 0.0
    for k in range(K):
        for sign, label in ((1.0, "+"), (-1.0, "-")):
            part = np.maximum(sign * Y[:, k], 0.0)
            norm = float(np.linalg.norm(part))
            if norm == 0:
                continue
            thresholds[(k, label)] = norm
            kept[(k, label)] = beta < norm
            paper += 0.5 * min(beta, norm) ** 2 + beta * max(norm - beta, 0.0)
            if beta < norm:
                root = np.sqrt(norm - beta)
                W1.append(root * X.T @ part / norm)
                W2.append(sign * root * np.eye(K)[k])
    d = X.shape[1]
    network = VectorReLUNetwork(
        np.column_stack(W1) if W1 else np.zeros((d, 0)), np.array(W2) if W2 else np.zeros((0, K))
    )
    n_kept = sum(kept.values())
    regime = f"{n_kept} of {len(kept)} neurons kept"
    return ClosedFormFit(network, paper / n, paper, regime, kept, thresholds)


def vector_dual_bound(X, Y, F, lam):
    """Certified lower bound on the vector-output squared-loss optimum from predictions ``F``.

    Mean scaling: the dual is ``max_Z <Z, Y> - (n/2) ||Z||_F^2`` over ``Z`` with
    ``max_{||u|| <= 1} ||Z^T (X u)_+|| <= lam``. Since ``||(X u)_+|| <= ||X||_2 ||u||`` the point
    ``Z = (Y - F) / n`` scaled by ``s = min(1, lam / (||Z||_2 ||X||_2))`` is dual feasible, so the
    returned ``s <Z, Y> - (n/2) s^2 ||Z||_F^2`` is a valid lower bound for any ``X`` (tight when the
    spectral bound is, e.g. for whitened data at the closed form).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples, n_outputs)
    F : array-like of shape (n_samples, n_outputs)
        Predictions of any network on ``X``.
    lam : float
    """
    X = check_matrix(X, "X")
    Y = np.asarray(Y, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    if Y.shape != F.shape or Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y and F must both have shape ({X.shape[0]}, n_outputs); got {Y.shape}, {F.shape}.")
    n = X.shape[0]
    Z = (Y - F) / n
    oracle = np.linalg.norm(Z, 2) * np.linalg.norm(X, 2)
    s = 1.0 if oracle <= lam else lam / oracle
    return float(s * np.sum(Z * Y) - 0.5 * n * s * s * np.sum(Z * Z))
