"""The infinite-width two-layer ReLU neural tangent kernel, for comparison with the convex optimum.

Ergen & Pilanci (JMLR 2021) contrast their finite-width characterization (sparse linear splines for
1-D data, closed forms for whitened data) with the Neural Tangent Kernel, which describes wide
networks trained from a large random initialization without weight decay (the lazy regime) and
predicts a smooth kernel interpolant instead. This module gives that kernel (doc/math.rst):

    K(x, x') = ||x|| ||x'|| kappa(t),  t = cos angle(x, x'),
    kappa(t) = t kappa_0(t) + kappa_1(t),
    kappa_0(t) = (pi - arccos t) / pi,  kappa_1(t) = (t (pi - arccos t) + sqrt(1 - t^2)) / pi,

its minimum-RKHS-norm interpolant ``f(x) = K(x, X) K(X, X)^{-1} y``, and the empirical kernel
``J J^T`` of a finite network (``J`` the Jacobian of the outputs in all parameters), which converges
to ``K`` for a network with ``W1, w2 ~ N(0, 2/m)`` as the width ``m`` grows.
"""

import numpy as np

from ..networks import ReLUNetwork
from ..validation import add_intercept, check_matrix, check_positive, check_target

__all__ = ["ntk_kernel", "empirical_ntk", "NTKInterpolant", "ntk_interpolant"]


def _arc(t):
    t = np.clip(t, -1.0, 1.0)
    theta = np.arccos(t)
    k0 = (np.pi - theta) / np.pi
    k1 = (t * (np.pi - theta) + np.sqrt(1.0 - t * t)) / np.pi
    return t * k0 + k1


def ntk_kernel(X1, X2=None, *, fit_intercept=False):
    """Infinite-width two-layer ReLU NTK between the rows of ``X1`` and ``X2``.

    Parameters
    ----------
    X1 : array-like of shape (n1, n_features)
    X2 : array-like of shape (n2, n_features), optional (defaults to ``X1``)
    fit_intercept : bool, default=False
        Append a ones column to both (the bias as an input of constant 1).

    Returns
    -------
    ndarray of shape (n1, n2)
    """
    A1 = check_matrix(X1, "X1")
    A2 = A1 if X2 is None else check_matrix(X2, "X2")
    if A1.shape[1] != A2.shape[1]:
        raise ValueError(f"X1 and X2 must have the same number of features, got {A1.shape[1]} and {A2.shape[1]}.")
    if fit_intercept:
        A1, A2 = add_intercept(A1), add_intercept(A2)
    n1 = np.linalg.norm(A1, axis=1)
    n2 = np.linalg.norm(A2, axis=1)
    denom = np.outer(n1, n2)
    t = np.divide(A1 @ A2.T, denom, out=np.zeros_like(denom), where=denom > 0)
    return denom * _arc(t)


def empirical_ntk(network, X):
    """``J J^T`` for a :class:`~convexnn.networks.ReLUNetwork` on ``X`` (``J``: outputs by parameters).

    With ``A`` the design (ones column when the network has biases), ``J J^T = sum_j a_j^2
    (D_j A)(D_j A)^T + sum_j (A u_j)_+ (A u_j)_+^T``, shape (n_samples, n_samples).
    """
    if not isinstance(network, ReLUNetwork):
        raise ValueError(f"network must be a ReLUNetwork, got {type(network).__name__}.")
    A = network.design(X)
    pre = A @ network.first_layer
    mask = (pre >= 0).astype(float)
    hidden = mask * pre
    first = ((mask * network.w2**2) @ mask.T) * (A @ A.T)
    return first + hidden @ hidden.T


class NTKInterpolant:
    """Kernel (ridge) regression with the NTK: ``f(x) = K(x, X) (K(X, X) + ridge I)^{-1} y``.

    With ``ridge = 0`` it is the minimum-RKHS-norm interpolant, the function a very wide network
    trained from a large random initialization approaches (lazy regime).
    """

    def __init__(self, X, y, *, fit_intercept=False, ridge=0.0):
        self.X = check_matrix(X, "X")
        self.y = check_target(y, self.X.shape[0])
        self.fit_intercept = fit_intercept
        self.ridge = check_positive(ridge, "ridge", strict=False)
        K = ntk_kernel(self.X, fit_intercept=fit_intercept)
        self.dual_coef = np.linalg.solve(K + ridge * np.eye(K.shape[0]), self.y)
        self.rkhs_norm = float(np.sqrt(max(self.dual_coef @ K @ self.dual_coef, 0.0)))

    def predict(self, X):
        return ntk_kernel(X, self.X, fit_intercept=self.fit_intercept) @ self.dual_coef


def ntk_interpolant(X, y, *, fit_intercept=False, ridge=0.0):
    """Fit an :class:`NTKInterpolant` (minimum-norm interpolant when ``ridge = 0``)."""
    return NTKInterpolant(X, y, fit_intercept=fit_intercept, ridge=ridge)
