"""The native fast path: pick FISTA or the augmented Lagrangian from the problem's capability.

Also the exact start of a regularization path: :func:`lam_max`, the smallest ``lam`` whose
solution is all zero, and :func:`lam_grid`, a geometric grid below it.
"""

import numpy as np

from ..validation import check_positive
from .augmented_lagrangian import AugmentedLagrangian
from .base import Solver
from .fista import FISTA

__all__ = ["NativeSolver", "lam_max", "lam_grid", "dual_oracle"]


class NativeSolver(Solver):
    """FISTA for programs without constraints, the augmented Lagrangian for programs with them.

    The choice reads ``problem.has_constraints``; options (``tol``, ``max_iter``, ``dtype``,
    ``verbose``, and for constrained programs ``constraint_tol``, ``rho``, ``max_inner``) go to the
    chosen solver. Options that only the augmented Lagrangian takes are ignored for FISTA.
    """

    name = "native"

    def __init__(self, **options):
        unconstrained = {k: v for k, v in options.items() if k in ("tol", "max_iter", "dtype", "verbose")}
        self.fista = FISTA(**unconstrained)
        self.augmented_lagrangian = AugmentedLagrangian(**options)

    def pick(self, problem):
        """The solver used for ``problem``."""
        return self.augmented_lagrangian if problem.has_constraints else self.fista

    def init(self, problem, init=None):
        """Initial state of the picked solver (see :meth:`FISTA.init`, :meth:`AugmentedLagrangian.init`)."""
        return self.pick(problem).init(problem, init)

    def step(self, state):
        """One iteration of whichever solver produced ``state``."""
        solver = self.augmented_lagrangian if hasattr(state, "multipliers") else self.fista
        return solver.step(state)

    def solve(self, problem, init=None):
        return self.pick(problem).solve(problem, init=init)

    def working_bytes(self, n_samples, n_columns, n_blocks):
        """The larger of the two solvers' needs (the pick depends on the problem)."""
        return max(
            self.fista.working_bytes(n_samples, n_columns, n_blocks),
            self.augmented_lagrangian.working_bytes(n_samples, n_columns, n_blocks),
        )


def lam_max(problem):
    """Smallest ``lam`` for which the all-zero coefficients solve ``problem`` (exact).

    Zero is optimal iff ``0 in K^T grad F(0) + lam dR(0) - C^T mu`` for some ``mu >= 0`` with
    ``mu`` complementary to ``C 0 = 0`` (always). With ``z = -grad F(0)`` and the group-l1 penalty
    (``dR(0)`` = the unit ball in every block) the blocks decouple:

    * without constraints: ``lam_max = max_b ||(K^T z)_b||`` (the dual norm of ``K^T z``);
    * with cone constraints: ``lam_max = max_b min_{mu_b >= 0} ||a_b + C_b^T mu_b||`` with
      ``a_b = (K^T z)_b``. By conic duality this is ``||Pi_{K_b}(a_b)||``, the norm of the projection
      of ``a_b`` onto the block's cone ``K_b = {u : (2 D_i - I) A u >= 0}``, i.e.
      ``max_{u in K_b, ||u|| <= 1} a_b^T u`` -- MATH.md's per-pattern dual constraint. It is
      computed by a non-negative least-squares solve per block (Lawson-Hanson, finite), skipped
      when ``a_b`` already lies in the cone.

    Parameters
    ----------
    problem : ConvexProblem

    Returns
    -------
    float
    """
    zero = problem.zeros()
    return dual_oracle(problem, -problem.loss.gradient(problem.predict(zero), problem.y))


def dual_oracle(problem, z, threshold=0.0):
    """``max_b max_{u in K_b, ||u|| <= 1} (K^T z)_b^T u``: the dual-constraint value of ``z``.

    ``z`` is dual feasible for the (restricted) program iff this is ``<= lam``; see
    :func:`lam_max` for the computation. Blocks whose unprojected norm is at most ``threshold``
    are skipped (their value cannot exceed it), which saves NNLS solves when only values above
    ``lam`` matter.
    """
    from ..certificates import _best_block  # one oracle for the solvers and the certificates

    value, _ = _best_block(problem, z)
    return float(max(threshold, value))


def lam_grid(problem, n_lams=20, ratio=1e-3):
    """Geometric grid of ``n_lams`` values from :func:`lam_max` down to ``ratio * lam_max``.

    Decreasing, so :func:`~convexnn.solvers.regularization_path` warm-starts each solve from a
    sparser neighbour.
    """
    check_positive(n_lams, "n_lams", integer=True)
    check_positive(ratio, "ratio")
    if ratio >= 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio!r}.")
    top = lam_max(problem)
    return top * np.geomspace(1.0, ratio, int(n_lams))
