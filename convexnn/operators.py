"""The linear maps of a convex program, held once in one dtype for the native solvers.

Every program in :mod:`convexnn.problems` is linear in its blocks through the *block features*
``F = A U^T`` (array of shape (n_samples, n_blocks), ``U`` the coefficients of shape
(n_blocks, n_features)):

    pred        = rowsum(W * F)      W = D_{p(b)} s_b as a dense (n_samples, n_blocks) array
    constraints = O * F  >= 0        O = 2 D_{p(b)} - 1 (only programs with cone constraints)

so one solver iteration costs a few dense products with ``A`` or ``W`` and never loops over
patterns. Without constraints the prediction is ``rowsum((W @ U) * A)``, which avoids the
(n_samples, n_blocks) temporary altogether.

The methods use only ``@``, ``.T``, elementwise ``+ - *``, ``.sum(axis=...)`` and ``maximum``: the
subset shared by numpy, cupy and torch, so the same solver can later run on a GPU array library.
"""

import numpy as np
from scipy.optimize import nnls

__all__ = ["BlockOperator", "check_dtype"]

_DTYPES = (np.float32, np.float64)


def check_dtype(dtype):
    """Return ``dtype`` as a numpy float dtype (float32 or float64) or raise a ValueError."""
    try:
        value = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.") from exc
    if value not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
    return value


class BlockOperator:
    """Prediction and constraint operators of a block program, and their adjoints.

    Parameters
    ----------
    design : ndarray of shape (n_samples, n_features)
        ``A`` (intercept column included when the program has one).
    weights : ndarray of shape (n_samples, n_blocks)
        ``W``: weight of each block's features in the prediction.
    orientation : ndarray of shape (n_samples, n_blocks) or None
        ``O``: the constraints read ``O * (A U^T) >= 0``; None for an unconstrained program.
    dtype : {'float64', 'float32'}
        Working precision of every product.
    """

    def __init__(self, design, weights, orientation=None, dtype=np.float64):
        self.dtype = check_dtype(dtype)
        self.A = np.ascontiguousarray(design, dtype=self.dtype)
        self.W = np.ascontiguousarray(weights, dtype=self.dtype)
        self.O = None if orientation is None else np.ascontiguousarray(orientation, dtype=self.dtype)

    @property
    def has_constraints(self):
        return self.O is not None

    @property
    def coef_shape(self):
        return (self.W.shape[1], self.A.shape[1])

    def predict(self, coef):
        """``rowsum(W * (A U^T))`` computed as ``rowsum((W @ U) * A)``, shape (n_samples,)."""
        return ((self.W @ coef) * self.A).sum(axis=1)

    def features(self, coef):
        """Block features ``A U^T``, shape (n_samples, n_blocks)."""
        return self.A @ coef.T

    def predict_features(self, features):
        """Predictions from precomputed block features, shape (n_samples,)."""
        return (self.W * features).sum(axis=1)

    def constrain_features(self, features):
        """Constraint values ``O * F`` from block features, shape (n_samples, n_blocks)."""
        return self.O * features

    def adjoint(self, residual, multipliers=None):
        """``K^T r - C^T q``: adjoint of the prediction at ``r`` minus that of the constraints at ``q``.

        Parameters
        ----------
        residual : ndarray of shape (n_samples,)
        multipliers : ndarray of shape (n_samples, n_blocks) or None

        Returns
        -------
        ndarray of shape (n_blocks, n_features)
        """
        if multipliers is None:
            return self.W.T @ (self.A * residual[:, None])
        return (self.W * residual[:, None] - self.O * multipliers).T @ self.A

    def project_block(self, coef_row, block):
        """Euclidean projection of one block onto its cone ``{u : O_b * (A u) >= 0}`` (float64).

        Moreau: ``u = Pi_K(u) + Pi_{K polar}(u)`` with the polar cone ``{-C_b^T mu : mu >= 0}``, so
        ``Pi_K(u) = u + C_b^T mu*`` with ``mu* = argmin_{mu >= 0} ||u + C_b^T mu||`` (an NNLS with
        ``C_b^T = A^T diag(O_b)``). Not part of the iteration: used to polish a final point.
        """
        design = np.asarray(self.A, dtype=np.float64)
        Ct = design.T * np.asarray(self.O[:, block], dtype=np.float64)
        u = np.asarray(coef_row, dtype=np.float64)
        mu, _ = nnls(Ct, -u, maxiter=50 * Ct.shape[1])
        return u + Ct @ mu
