"""Penalties on the convex coefficients, without the strength ``lam`` (the problem holds it).

Coefficients are stored as an array of shape (n_blocks, n_features): one row per block (neuron).
A penalty gives its value, proximal operator, dual norm (for certificates) and cvxpy expression.

* :class:`GroupL1`: ``sum_b ||coef_b||_2``, the group lasso that weight decay on a two-layer ReLU
  network becomes after the rescaling argument in MATH.md (``(lam/2)(||u||^2 + a^2) >= lam |a| ||u||``).
"""

import cvxpy as cp
import numpy as np

__all__ = ["Penalty", "GroupL1", "get_penalty"]


class Penalty:
    """Interface of a penalty ``R(coef)`` on coefficients of shape (n_blocks, n_features)."""

    name = None

    def value(self, coef):
        """Penalty value ``R(coef)`` (a float)."""
        raise NotImplementedError

    def prox(self, coef, threshold):
        """Proximal operator ``argmin_u threshold * R(u) + ||u - coef||^2 / 2``."""
        raise NotImplementedError

    def dual_norm(self, grad):
        """Dual norm of ``grad`` (shape of coef); ``lam`` is dual feasible iff it bounds this."""
        raise NotImplementedError

    def cvxpy(self, blocks):
        """The penalty of a cvxpy variable of shape (n_features, n_blocks) (blocks as columns)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


class GroupL1(Penalty):
    """Group lasso over blocks: ``R(coef) = sum_b ||coef_b||_2``."""

    name = "group_l1"

    def value(self, coef):
        return float(np.linalg.norm(coef, axis=1).sum())

    def prox(self, coef, threshold):
        norms = np.linalg.norm(coef, axis=1, keepdims=True)
        scale = np.maximum(1.0 - threshold / np.maximum(norms, np.finfo(coef.dtype).tiny), 0.0)
        return coef * scale

    def dual_norm(self, grad):
        return float(np.linalg.norm(grad, axis=1).max()) if grad.size else 0.0

    def cvxpy(self, blocks):
        return cp.sum(cp.norm(blocks, 2, axis=0))


_PENALTIES = {cls.name: cls for cls in (GroupL1,)}


def get_penalty(penalty):
    """Return a :class:`Penalty` instance from a name ('group_l1') or an instance."""
    if isinstance(penalty, Penalty):
        return penalty
    if penalty in _PENALTIES:
        return _PENALTIES[penalty]()
    raise ValueError(
        f"penalty must be one of {sorted(_PENALTIES)} or a Penalty instance, got {penalty!r}."
    )
