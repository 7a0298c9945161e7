"""The convex program of a deep parallel ReLU network with path regularization (doc/math.rst, "Deep").

For depth ``L`` the blocks are indexed by a *path*: at every hidden level ``l = 1 .. L-1`` a pattern
``D_l`` and a sign ``s_l`` (the sign of the weight leaving that unit; ``s_1`` tells ``q`` from ``r``
in the three-layer notation of doc/math.rst and ``s_{L-1}`` is the output sign ``s``). With ``A`` the design
matrix and ``u_b`` the block's coefficients, the partial sums

    G_1[b] = A u_b,        G_{l+1}[g] = sum_{children b of g} s_l(b) D_l(b) G_l[b]

give the prediction ``sum_g s_{L-1}(g) D_{L-1}(g) G_{L-1}[g]`` and the program is

    min (1/n) sum_k l(pred_k, y_k) + lam sum_b ||u_b||
    s.t. (2 D_l(g) - I) G_l[g] >= 0     at every level l and group g.

The constraints make every ReLU act as its pattern says, so a solution maps to a parallel network
with the same predictions and the same path-regularized objective
(:meth:`~convexnn.deep.networks.ParallelReLUNetwork.from_convex`). Depth 2 is exactly the two-layer
:class:`~convexnn.problems.ReLUProblem` (same block order: ``v_i`` then ``w_i``).

Prediction is linear in the blocks with weight ``prod_l s_l D_l`` along the path, so this is again
a group lasso with cone constraints; only the constraint operator changes
(:class:`~convexnn.operators.NestedBlockOperator`), and the native interior-point method (a dense
Newton system, convexnn/solvers/_nested_program.py), the augmented Lagrangian and the cvxpy
solvers take it.
"""

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .._array_api import NUMPY
from ..operators import NestedBlockOperator, check_dtype
from ..problems import ConvexProblem
from .patterns import NestedPatterns

__all__ = ["DeepReLUProblem", "reindex"]


class DeepReLUProblem(ConvexProblem):
    """Convex program of a depth-``L`` parallel ReLU network with path regularization.

    .. math::

        \\min_{u}\\ \\frac1n \\sum_k \\ell\\Big(\\big[\\sum_b \\textstyle\\prod_l s_l(b) D_l(b)\\,
        A u_b\\big]_k, y_k\\Big) + \\lambda \\sum_b \\|u_b\\|
        \\quad \\text{s.t. } (2D_l(g) - I)\\, G_l[g] \\ge 0 \\ \\forall l, g

    (see the module docstring for the partial sums ``G_l``). The block count is
    ``prod_l 2 P_l`` for ``P_l`` patterns at level ``l``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    patterns : NestedPatterns
        One pattern set per hidden level (:func:`~convexnn.deep.sample_nested_patterns`).
    lam : float
    loss : {'squared', 'logistic'} or Loss, default='squared'
    penalty : {'group_l1'} or Penalty, default='group_l1'
    """

    has_constraints = True

    def __init__(self, X, y, patterns, *, lam, loss="squared", penalty="group_l1"):
        if not isinstance(patterns, NestedPatterns):
            raise ValueError(
                f"patterns must be a NestedPatterns, got {type(patterns).__name__}; build one with "
                "sample_nested_patterns or enumerate_nested_patterns."
            )
        self.nested = patterns
        super().__init__(X, y, patterns.first, lam=lam, loss=loss, penalty=penalty)
        # the prediction weight of a block is the product of its path's signed patterns
        weights = np.ones((self.n_samples, self.n_blocks))
        for mask, index, sign in zip(patterns.masks(), self.block_paths.T, self.block_signs.T):
            weights *= mask[:, index] * sign
        self._weights = weights

    def _blocks(self, n_patterns):
        sizes = self.nested.sizes
        # grid axes (2 P_{L-1}, ..., 2 P_1), level 1 fastest; axis index = sign_index * P + pattern
        grid = np.indices([2 * p for p in reversed(sizes)]).reshape(len(sizes), -1)[::-1].T
        sizes = np.asarray(sizes)
        self.block_paths = grid % sizes
        self.block_signs = np.where(grid < sizes, 1.0, -1.0)
        return self.block_paths[:, 0].copy(), self.block_signs.prod(axis=1)

    @property
    def depth(self):
        return self.nested.depth

    def _level_arrays(self):
        """Per upper level: (inner V_l, orientation O_{l+1}, children k_l), as in the operator."""
        masks = self.nested.masks()
        levels, stride = [], 1
        for level in range(len(masks) - 1):
            children = 2 * self.nested.sizes[level]
            paths = self.block_paths[::stride]  # one representative block per level-`level` group
            signs = self.block_signs[::stride]
            inner = masks[level][:, paths[:, level]] * signs[:, level]
            stride *= children
            upper = self.block_paths[::stride, level + 1]
            orient = np.where(masks[level + 1][:, upper], 1.0, -1.0)
            levels.append((inner, orient, children))
        return levels

    def constraint_orientation(self):
        """Level-1 orientation ``2 D_1(b) - 1``, shape (n_samples, n_blocks)."""
        return np.where(self.nested.first.mask[:, self.block_pattern], 1.0, -1.0)

    def block_operator(self, dtype=np.float64, *, xp=None, device=None):
        """The nested operator in ``dtype`` (and namespace, as
        :meth:`~convexnn.problems.ConvexProblem.block_operator`)."""
        dtype = check_dtype(dtype)
        if xp is None:
            xp, device = self.array_namespace
        key = ("operator", dtype.name, xp.__name__, str(device))
        if key not in self._cache:
            self._cache[key] = NestedBlockOperator(
                self.design, self._weights, self.constraint_orientation(), dtype=dtype,
                levels=self._level_arrays(), xp=xp, device=device,
            )
        return self._cache[key]

    def constraint_values(self, coef):
        """Every level's cone values side by side, shape (n_samples, n_constraints); must be >= 0.

        The first ``n_blocks`` columns are the per-block (level-1) cones, then each upper level's
        groups, bottom up.
        """
        operator = self.block_operator(np.float64, xp=NUMPY)
        return operator.constrain_features(self.design @ self.check_coef(coef).T)

    def constraint_violation(self, coef):
        values = self.constraint_values(coef)
        return float(max(0.0, -values.min())) if values.size else 0.0

    def dual_bound(self, coef, multipliers=None):
        """Certified lower bound ``-F*(-s z)`` from a primal point and non-negative multipliers.

        The argument of :meth:`convexnn.problems.ReLUProblem.dual_bound`, with ``C^T mu`` now
        including the upper levels' constraints: ``a = K^T z + C_up^T mu_up``, and the per-block
        multipliers ``mu_1`` enter with the block-wise scaling ``t_b >= 0`` that minimizes the
        block norm. Without multipliers it returns None.

        Parameters
        ----------
        coef : ndarray of shape (n_blocks, n_features)
        multipliers : ndarray of shape (n_samples, n_constraints), optional
        """
        if multipliers is None:
            return None
        coef = self.check_coef(coef)
        operator = self.block_operator(np.float64, xp=NUMPY)
        mult = np.maximum(np.asarray(multipliers, dtype=np.float64), 0.0)
        if mult.shape != (self.n_samples, operator.n_constraints):
            raise ValueError(
                f"multipliers must have shape {(self.n_samples, operator.n_constraints)}, got "
                f"{mult.shape}."
            )
        z = -self.loss.gradient(self.predict(coef), self.y)
        upper = mult.copy()
        upper[:, : self.n_blocks] = 0.0
        plain = self.adjoint(z)  # K^T z
        a = 2 * plain - operator.adjoint(z, upper)  # K^T z + C_up^T mu_up
        c = (self.constraint_orientation() * mult[:, : self.n_blocks]).T @ self.design
        cc = np.einsum("bj,bj->b", c, c)
        t = np.maximum(-np.einsum("bj,bj->b", a, c), 0.0) / np.maximum(cc, 1e-300)
        a = a + t[:, None] * c
        oracle = self.penalty.dual_norm(a)
        scale = 1.0 if oracle <= self.lam else self.lam / oracle
        return self.loss.dual(scale * z, self.y)

    # ------------------------------------------------------------------ cvxpy
    def _cvxpy_constraints(self, features):
        constraints = [cp.multiply(self.constraint_orientation(), features) >= 0]
        partial = features
        for inner, orient, children in self._level_arrays():
            groups = inner.shape[1] // children
            rows = np.arange(inner.shape[1])
            membership = sp.csr_matrix(
                (np.ones(rows.size), (rows, rows // children)), shape=(rows.size, groups)
            )
            partial = cp.multiply(inner, partial) @ membership
            constraints.append(cp.multiply(orient, partial) >= 0)
        return constraints

    def __repr__(self):
        return (
            f"DeepReLUProblem(depth={self.depth}, n_samples={self.n_samples}, "
            f"n_features={self.n_features}, sizes={self.nested.sizes}, n_blocks={self.n_blocks}, "
            f"lam={self.lam:g}, loss={self.loss.name!r})"
        )


def reindex(problem, coef, target, maps):
    """Move coefficients of ``problem`` into the block layout of ``target`` (a superset of patterns).

    Parameters
    ----------
    problem : DeepReLUProblem
    coef : ndarray of shape (problem.n_blocks, problem.n_features)
    target : DeepReLUProblem
        Same data and depth; its patterns contain those of ``problem``.
    maps : list of ndarray
        Per level, the index in ``target``'s patterns of each of ``problem``'s patterns (as returned
        by :meth:`NestedPatterns.union`).

    Returns
    -------
    ndarray of shape (target.n_blocks, target.n_features)
        The same point: same predictions, constraints and objective.
    """
    coef = problem.check_coef(coef)
    sizes = np.asarray(target.nested.sizes)
    strides = np.cumprod(np.concatenate([[1], 2 * sizes[:-1]]))
    paths = np.column_stack([m[problem.block_paths[:, l]] for l, m in enumerate(maps)])
    sign_index = (problem.block_signs < 0).astype(int)
    blocks = ((sign_index * sizes + paths) * strides).sum(axis=1)
    out = target.zeros()
    np.add.at(out, blocks, coef)
    return out
