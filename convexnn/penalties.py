"""Penalties on the convex coefficients, without the strength ``lam`` (the problem holds it).

Coefficients are stored as an array of shape (n_blocks, n_features): one row per block (neuron).
A penalty gives its value, proximal operator, dual norm (for certificates) and cvxpy expression.

* :class:`GroupL1`: ``sum_b ||coef_b||_2``, the group lasso that weight decay on a two-layer ReLU
  network becomes after the rescaling argument in MATH.md (``(lam/2)(||u||^2 + a^2) >= lam |a| ||u||``).
* :class:`GroupL1FreeIntercept`: the same without the last (intercept) entry of each block, for
  networks whose biases are left out of the weight decay (Savarese et al. 2019; the 1-D spline
  results of Ergen & Pilanci).
"""

import cvxpy as cp
import numpy as np

__all__ = ["Penalty", "GroupL1", "GroupL1FreeIntercept", "get_penalty"]


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


class GroupL1FreeIntercept(Penalty):
    """Group lasso on all but the last entry of each block: ``R(coef) = sum_b ||coef_b[:-1]||_2``.

    With an intercept column appended to ``X`` the last entry of a block is the neuron's bias, so
    this is the convex form of weight decay on the weights but not on the biases. A bias-only
    block costs nothing; in the ReLU program its cone constraint lets it be non-zero only on the
    all-on pattern, where it is a free constant.
    """

    name = "group_l1_free_intercept"

    def value(self, coef):
        return float(np.linalg.norm(coef[:, :-1], axis=1).sum())

    def prox(self, coef, threshold):
        out = coef.copy()
        out[:, :-1] = GroupL1().prox(coef[:, :-1], threshold)
        return out

    def dual_norm(self, grad):
        if grad.size == 0:
            return 0.0
        if np.any(np.abs(grad[:, -1]) > 1e-12 * max(1.0, np.abs(grad).max())):
            return np.inf  # a free direction with a non-zero slope: no finite lam is feasible
        return float(np.linalg.norm(grad[:, :-1], axis=1).max())

    def cvxpy(self, blocks):
        return cp.sum(cp.norm(blocks[:-1, :], 2, axis=0))


_PENALTIES = {cls.name: cls for cls in (GroupL1, GroupL1FreeIntercept)}


def get_penalty(penalty):
    """Return a :class:`Penalty` instance from a name ('group_l1') or an instance."""
    if isinstance(penalty, Penalty):
        return penalty
    if penalty in _PENALTIES:
        return _PENALTIES[penalty]()
    raise ValueError(
        f"penalty must be one of {sorted(_PENALTIES)} or a Penalty instance, got {penalty!r}."
    )
