"""Penalties on the convex coefficients, without the strength ``lam`` (the problem holds it).

Coefficients are stored as an array of shape (n_blocks, n_features): one row per block (neuron).
A penalty gives its value (per block), proximal operator, dual norm (per block, and restricted to a
block's cone for the dual oracle of the ReLU program) and cvxpy expression; :meth:`Penalty.provides`
declares which of :data:`PENALTY_CAPABILITIES` it has, and solvers refuse a penalty lacking one they
need, naming it.

* :class:`GroupL1`: ``sum_b ||coef_b||_2``, the group lasso that weight decay on a two-layer ReLU
  network becomes after the rescaling argument in doc/math.rst (``(lam/2)(||u||^2 + a^2) >= lam |a| ||u||``).
* :class:`GroupL1FreeIntercept`: the same without the last (intercept) entry of each block, for
  networks whose biases are left out of the weight decay (Savarese et al. 2019; the 1-D spline
  results of Ergen & Pilanci).

:meth:`~Penalty.block_values`, :meth:`~Penalty.value`, :meth:`~Penalty.prox`,
:meth:`~Penalty.prox_scale`, :meth:`~Penalty.block_dual_norms` and :meth:`~Penalty.dual_norm`
compute in the array namespace of their argument (numpy, torch, CuPy: :mod:`convexnn._array_api`);
the cone-restricted dual norms are scipy NNLS solves on numpy arrays (the dual oracle, off the
iteration).
"""

import cvxpy as cp
import numpy as np
from scipy.optimize import nnls

from ._array_api import namespace_of

__all__ = ["Penalty", "GroupL1", "GroupL1FreeIntercept", "get_penalty", "PENALTY_CAPABILITIES"]

#: What a penalty can provide, and what providing it means (the solvers' needs are drawn from these).
PENALTY_CAPABILITIES = {
    "prox": "the proximal operator (`prox`)",
    "prox_scale": "a proximal operator that rescales each block (`prox_scale`)",
    "dual_norm": "the dual norm, per block (`block_dual_norms`)",
    "cone_dual_norm": "the dual norm restricted to a polyhedral cone (`cone_dual_norm`)",
    "dual_maximizer": "a maximizer of the dual norm's linear program (`dual_maximizer`)",
    "cvxpy": "a cvxpy expression (`cvxpy`)",
}
_METHOD_OF = {"dual_norm": "block_dual_norms"}


def wide_nnls(M, b):
    """``argmin_{x >= 0} ||M x - b||`` and its residual norm for a wide ``M`` (d, n), ``n >> d``.

    The oracle's projections (one per block: ``d`` columns of the design, one multiplier per
    sample) have at most ``d`` positive multipliers at the optimum, so the solve runs on a working
    set of columns: the ``4 d`` most correlated with ``b`` first, then, while some column outside
    it has a positive gradient ``(M^T (b - M x))_k`` above rounding (the optimality condition of
    the whole problem), the most violating ones are added and the small problem is solved again.
    It ends at a point where the whole problem's optimality conditions hold, as scipy's
    :func:`~scipy.optimize.nnls` on all columns does, which it calls on the working set; that
    took 0.1-1.4 s per block at n = 20,000-50,000, d = 21, against 3-50 ms here for the same
    value to 12 digits.
    """
    M = np.asarray(M, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d, n = M.shape
    size = min(n, max(4 * d, 20))
    if n <= 2 * size:
        return nnls(M, b, maxiter=50 * max(n, 1))
    work = np.argpartition(-(M.T @ b), size - 1)[:size]
    for _ in range(50):
        x, value = nnls(M[:, work], b, maxiter=50 * work.size)
        gradient = M.T @ (b - M[:, work] @ x)
        gradient[work] = -np.inf
        top = float(np.abs(gradient[np.isfinite(gradient)]).max(initial=0.0))
        new = np.flatnonzero(gradient > 10 * n * np.finfo(float).eps * max(top, 1.0))
        if new.size == 0:
            full = np.zeros(n)
            full[work] = x
            return full, value
        work = np.concatenate([work, new[np.argsort(-gradient[new])[:size]]])
    return nnls(M, b, maxiter=50 * n)


class Penalty:
    """Interface of a block-separable penalty ``R(coef) = sum_b R_b(coef_b)``.

    Coefficients have shape (n_blocks, n_features). Subclasses implement :meth:`block_values` and
    what they can of :meth:`prox`, :meth:`prox_scale`, :meth:`block_dual_norms`,
    :meth:`cone_dual_norm` and :meth:`cvxpy`; :meth:`provides` reads which.
    """

    name = None

    def provides(self, capability):
        """Whether this penalty provides ``capability`` (a key of :data:`PENALTY_CAPABILITIES`).

        A capability counts when the class overrides the :class:`Penalty` placeholder of its method.

        Parameters
        ----------
        capability : str

        Returns
        -------
        bool
        """
        if capability not in PENALTY_CAPABILITIES:
            raise ValueError(
                f"unknown penalty capability {capability!r}; one of {sorted(PENALTY_CAPABILITIES)}."
            )
        method = _METHOD_OF.get(capability, capability)
        return getattr(type(self), method) is not getattr(Penalty, method)

    def block_values(self, coef):
        """``R_b(coef_b)`` for every block, shape (n_blocks,).

        For the penalties here ``R_b`` is a (semi)norm, which :meth:`~convexnn.networks.
        TwoLayerNetwork.from_convex` uses to balance each neuron.
        """
        raise NotImplementedError

    def value(self, coef):
        """Penalty value ``R(coef) = sum_b R_b(coef_b)`` (a float)."""
        xp = namespace_of(coef)
        return float(xp.sum(self.block_values(coef)))

    def prox(self, coef, threshold):
        """Proximal operator ``argmin_u threshold * R(u) + ||u - coef||^2 / 2``."""
        raise NotImplementedError

    def prox_scale(self, coef, threshold):
        """Factors ``c_b`` with ``prox(coef, threshold) = c_b coef_b``, shape (n_blocks,).

        Only penalties whose prox rescales whole blocks provide it (ADMM carries its block
        features through the prox this way).
        """
        raise NotImplementedError

    def block_dual_norms(self, grad):
        """``R_b*(grad_b) = max_{R_b(u) <= 1} grad_b^T u`` per block, shape (n_blocks,) (may be inf)."""
        raise NotImplementedError

    def dual_norm(self, grad):
        """Dual norm ``max_b R_b*(grad_b)`` of ``grad`` (shape of coef); ``lam`` is dual feasible
        iff it bounds this."""
        if grad.shape[0] == 0 or grad.shape[1] == 0:
            return 0.0
        xp = namespace_of(grad)
        return float(xp.max(self.block_dual_norms(grad)))

    def dual_maximizer(self, grad):
        """A maximizer of ``grad_b^T u`` over ``R_b(u) <= 1`` per block, shape of ``grad``.

        Rows are NaN where the maximum is infinite. Optional: the dual oracle uses it to skip the
        cone-restricted solve for blocks whose maximizer already lies in their cone.
        """
        raise NotImplementedError

    def cone_dual_norm(self, a, constraints):
        """``max {a^T u : constraints @ u >= 0, R_b(u) <= 1}`` for one block (may be inf).

        The dual oracle's value of a block with cone constraints. By conic duality it equals
        ``min_{mu >= 0} R_b*(a + constraints^T mu)``; an implementation may return an upper bound
        that is attained up to rounding, never a lower one (the certificates stay valid).

        Parameters
        ----------
        a : ndarray of shape (n_features,)
        constraints : ndarray of shape (n_constraints, n_features)
        """
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

    def block_values(self, coef):
        xp = namespace_of(coef)
        return xp.linalg.vector_norm(coef, axis=1)

    def prox_scale(self, coef, threshold):
        xp = namespace_of(coef)
        norms = xp.linalg.vector_norm(coef, axis=1)
        return xp.maximum(1.0 - threshold / xp.maximum(norms, xp.finfo(coef.dtype).tiny), 0.0)

    def prox(self, coef, threshold):
        return coef * self.prox_scale(coef, threshold)[:, None]

    def block_dual_norms(self, grad):
        xp = namespace_of(grad)
        return xp.linalg.vector_norm(grad, axis=1)

    def dual_maximizer(self, grad):
        norms = np.linalg.norm(grad, axis=1, keepdims=True)
        return grad / np.maximum(norms, np.finfo(float).tiny)

    def cone_dual_norm(self, a, constraints):
        # ||Pi_K(a)||: by Moreau, the distance of a to the polar cone (one NNLS, finite)
        _, value = wide_nnls(constraints.T, -a)
        return float(value)

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

    #: weight of the equality row in :meth:`cone_dual_norm`'s least-squares solve
    _EQUALITY_WEIGHT = 1e6

    def block_values(self, coef):
        xp = namespace_of(coef)
        return xp.linalg.vector_norm(coef[:, :-1], axis=1)

    def prox(self, coef, threshold):
        xp = namespace_of(coef)
        return xp.concat([GroupL1().prox(coef[:, :-1], threshold), coef[:, -1:]], axis=1)

    def block_dual_norms(self, grad):
        xp = namespace_of(grad)
        norms = xp.linalg.vector_norm(grad[:, :-1], axis=1)
        # a free direction with a non-zero slope: no finite lam is feasible
        largest = float(xp.max(xp.abs(grad))) if grad.shape[0] and grad.shape[1] else 0.0
        free = xp.abs(grad[:, -1]) > 1e-12 * max(1.0, largest)
        return xp.where(free, float("inf"), norms)

    def dual_maximizer(self, grad):
        out = np.zeros_like(grad, dtype=np.float64)
        out[:, :-1] = GroupL1().dual_maximizer(grad[:, :-1])
        out[np.isinf(self.block_dual_norms(grad))] = np.nan
        return out

    def cone_dual_norm(self, a, constraints):
        """``min ||(a + G^T mu)[:-1]||`` over ``mu >= 0`` with ``(a + G^T mu)[-1] = 0`` (or inf).

        The equality (the free intercept has no slope left) is enforced first by weighting its row
        in a non-negative least-squares solve (Lawson & Hanson's method for equality constraints),
        then exactly by moving the multipliers along the intercept column (raising one of the sign
        that cancels the slope, or else lowering those of the other sign). The returned value is
        that of a feasible ``mu`` (slope zero up to the rounding tolerance of
        :meth:`block_dual_norms`): an upper bound on the oracle value, attained up to the
        weighting's rounding. inf when no ``mu >= 0`` cancels the intercept slope (the block's free
        direction lies in its cone).
        """
        G = np.asarray(constraints, dtype=np.float64)
        a = np.asarray(a, dtype=np.float64)
        h = G[:, -1]
        scale = max(1.0, np.abs(G).max(initial=0.0), np.abs(a).max(initial=0.0))
        weight = self._EQUALITY_WEIGHT * scale / max(np.abs(h).max(initial=0.0), 1e-300)
        matrix = np.vstack([G[:, :-1].T, weight * h[None, :]])
        target = -np.concatenate([a[:-1], [weight * a[-1]]])
        mu, _ = wide_nnls(matrix, target)
        slope = a[-1] + h @ mu
        # a slope at rounding level counts as zero, as in block_dual_norms
        if abs(slope) > 1e-12 * max(1.0, np.abs(a).max(initial=0.0)):
            raise_side = np.flatnonzero(np.sign(h) == -np.sign(slope))
            if raise_side.size:
                # raise the multiplier with the largest |h_k| of the sign that cancels the slope
                k = raise_side[np.argmax(np.abs(h[raise_side]))]
                mu[k] += -slope / h[k]
            else:
                # only lowering multipliers of the slope's own sign can cancel it
                lower = np.flatnonzero((np.sign(h) == np.sign(slope)) & (mu > 0))
                reach = mu[lower] * np.abs(h[lower])
                if reach.sum() < abs(slope):
                    return np.inf
                mu[lower] -= mu[lower] * (abs(slope) / reach.sum())
        return float(np.linalg.norm((a + G.T @ mu)[:-1]))

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
