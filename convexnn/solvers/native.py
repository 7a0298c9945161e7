"""The native fast path: pick a method from the problem's capability and size.

:class:`AutoSolver` (``solver='auto'``, the estimators' default) runs the interior-point method on
the cone-constrained programs it supports (certified in tens of Newton steps) and the first-order
:class:`NativeSolver` otherwise: FISTA on programs without constraints, the augmented Lagrangian on
the nested deep programs and in float32.

Also the exact start of a regularization path: :func:`lam_max`, the smallest ``lam`` whose
solution is all zero, and :func:`lam_grid`, a geometric grid below it.
"""

import numpy as np

from ..oracle import best_block
from ..validation import check_positive
from .augmented_lagrangian import AugmentedLagrangian
from .base import Solver
from .cvxpy_solver import CvxpySolver
from .fista import FISTA
from .interior_point import InteriorPoint

__all__ = ["AutoSolver", "NativeSolver", "lam_max", "lam_grid", "dual_oracle", "oracle_bound", "prediction_radius",
           "curvature_weights"]


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

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        """The needs of the solver :meth:`pick` takes: the augmented Lagrangian's for a
        ``constrained`` program, FISTA's otherwise."""
        solver = self.augmented_lagrangian if constrained else self.fista
        return solver.working_bytes(n_samples, n_columns, n_blocks)


#: 'auto' runs the interior-point method only where the Newton system of the whole program
#: (``InteriorPoint.working_bytes``: the n x n or G d x G d matrix, a chunk of the scaled design,
#: the per-block factors and orthant arrays) needs at most this many bytes, and the first-order
#: solvers beyond: at (100000, 50, 500) it would need ~40 GB. Where the whole program fits but its
#: factorization is costly, the interior point itself solves it over a working set of patterns.
IPM_MAX_BYTES = 4 * 1024**3


class AutoSolver(Solver):
    """The interior-point method where it applies, the first-order native solvers elsewhere.

    * cone-constrained programs (:class:`~convexnn.problems.ReLUProblem` and
      :class:`~convexnn.deep.DeepReLUProblem` of any depth) with a smooth loss in float64:
      :class:`~convexnn.solvers.InteriorPoint` (measured 10-20x faster than the augmented
      Lagrangian to a 1e-4 gap on two-layer programs, and certified to 1e-8 where the
      first-order method stalls; on the default deep estimators' nested programs 3-54 s where the
      augmented Lagrangian stopped at its 10,000 iterations after 110-146 s, gaps 2e-3 to 4e-2,
      benchmarks/deep_defaults.py). Nested deep programs (depth >= 3) go to it where its dense
      Newton system fits (``InteriorPoint.supports``: 2 GiB and ~1e11 flops per step; the united
      patterns of ``pattern_search='sgd'`` can exceed it);
    * programs without constraints (gated ReLU): :class:`FISTA`, which certifies a 1e-4 gap in a
      few hundred cheap iterations;
    * everything else (``dtype='float32'``, ``lam = 0``, programs whose Newton system would need
      more than :data:`IPM_MAX_BYTES`, and nested programs whose dense system does not fit):
      :class:`NativeSolver`'s augmented Lagrangian;
    * a loss or penalty that the picked first-order solver refuses (its declared needs, e.g. the
      non-smooth hinge loss has no Lipschitz gradient): the cvxpy reference solver (Clarabel),
      which needs only the cvxpy expressions.

    Options (``tol``, ``max_iter``, ``constraint_tol``, ``dtype``, ``verbose``, ``rho``,
    ``max_inner``) go to whichever solver runs; ``max_iter`` counts that solver's own iterations
    (Newton steps for the interior-point method), and None keeps each solver's default.
    """

    name = "auto"

    _IPM_OPTIONS = ("tol", "constraint_tol", "max_iter", "verbose")

    _CVXPY_OPTIONS = ("tol", "max_iter", "verbose")

    def __init__(self, **options):
        self.first_order = NativeSolver(**options)
        self.float32 = np.dtype(options.get("dtype", np.float64)) == np.float32
        self.interior_point = InteriorPoint(
            **{k: v for k, v in options.items() if k in self._IPM_OPTIONS and v is not None}
        )
        self._reference_options = {k: v for k, v in options.items()
                                   if k in self._CVXPY_OPTIONS and v is not None}

    @property
    def reference(self):
        """The cvxpy solver (Clarabel) for programs no native solver takes, built on first use."""
        if not hasattr(self, "_reference"):
            self._reference = CvxpySolver("CLARABEL", **self._reference_options)
        return self._reference

    def pick(self, problem):
        """The solver used for ``problem`` (see the class docstring for the rule).

        Never a solver that would refuse ``problem``: each candidate's ``supports`` (its declared
        needs of the loss and penalty) is asked before it is picked.
        """
        if (problem.has_constraints and not self.float32 and self.interior_point.supports(problem)
                and self._ipm_fits(problem.n_samples, problem.design.shape[1], problem.n_blocks)):
            return self.interior_point
        first_order = self.first_order.pick(problem)
        if first_order.supports(problem):
            return first_order
        self.reference.check_needs(problem)  # nothing left that could take it: say why
        return self.reference

    def _ipm_fits(self, n_samples, n_columns, n_blocks):
        """Whether the interior-point method's Newton system fits :data:`IPM_MAX_BYTES`."""
        return self.interior_point.working_bytes(n_samples, n_columns, n_blocks) <= IPM_MAX_BYTES

    def solve(self, problem, init=None):
        return self.pick(problem).solve(problem, init=init)

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        """The needs of the solver :meth:`pick` takes: the interior-point method's for a
        ``constrained`` program whose Newton system fits :data:`IPM_MAX_BYTES`, the first-order
        solvers' otherwise (:meth:`NativeSolver.working_bytes`)."""
        if constrained and not self.float32 and self._ipm_fits(n_samples, n_columns, n_blocks):
            return self.interior_point.working_bytes(n_samples, n_columns, n_blocks)
        return self.first_order.working_bytes(n_samples, n_columns, n_blocks, constrained)


def lam_max(problem):
    """Smallest ``lam`` for which the all-zero coefficients solve ``problem`` (exact).

    Zero is optimal iff ``0 in K^T grad F(0) + lam dR(0) - C^T mu`` for some ``mu >= 0`` with
    ``mu`` complementary to ``C 0 = 0`` (always). With ``z = -grad F(0)`` and the group-l1 penalty
    (``dR(0)`` = the unit ball in every block) the blocks decouple:

    * without constraints: ``lam_max = max_b ||(K^T z)_b||`` (the dual norm of ``K^T z``);
    * with cone constraints: ``lam_max = max_b min_{mu_b >= 0} ||a_b + C_b^T mu_b||`` with
      ``a_b = (K^T z)_b``. By conic duality this is ``||Pi_{K_b}(a_b)||``, the norm of the projection
      of ``a_b`` onto the block's cone ``K_b = {u : (2 D_i - I) A u >= 0}``, i.e.
      ``max_{u in K_b, ||u|| <= 1} a_b^T u`` -- the per-pattern dual constraint of doc/math.rst. It is
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
    value, _ = best_block(problem, z)
    return float(max(threshold, value))


def oracle_bound(problem, coef):
    """A certified lower bound on the optimum of ``problem`` from any coefficients ``coef``.

    Takes ``z = -grad F(pred)`` at ``coef``'s predictions, scales it into the dual-feasible set with
    the exact oracle (``s = min(1, lam / dual_oracle(z))``) and returns ``loss.dual(s z)``. Unlike
    :meth:`ReLUProblem.dual_bound <convexnn.problems.ReLUProblem.dual_bound>` it needs no cone
    multipliers, so it certifies the output of any solver (cvxpy's included); the bound is valid
    whatever ``coef`` is and tight at an optimum (KKT). Costs one NNLS per block with a violated
    cone for constrained programs.
    """
    z = -problem.loss.gradient(problem.predict(problem.check_coef(coef)), problem.y)
    oracle = dual_oracle(problem, z)
    scale = 1.0 if oracle <= problem.lam else problem.lam / oracle
    return problem.loss.dual(scale * z, problem.y)


def curvature_weights(problem, *predictions):
    """Per-sample lower bounds on the loss curvature around the given predictions.

    ``w_k = l''`` bounded below on ``|z| <= max_j |pred_j[k]| + 1`` (the box that
    :func:`prediction_radius` justifies around each point), for comparing several points in one
    weighted norm ``||d||_w = sqrt(sum_k w_k d_k^2)``. All ones for the squared loss.
    """
    if not predictions:
        raise ValueError("curvature_weights needs at least one prediction vector.")
    box = np.max(np.abs(np.vstack([np.asarray(p, dtype=np.float64) for p in predictions])), axis=0)
    return np.asarray(problem.loss.min_curvature(box + 1.0), dtype=np.float64) * np.ones_like(box)


def prediction_radius(problem, coef, gap, weights=None):
    """Certified bound on the distance of ``coef``'s predictions to the optimal ones.

    For a *feasible* ``coef`` whose objective is at most ``gap`` above the optimum, strong convexity
    of the loss in the predictions gives ``sum_k c_k (pred_k - pred*_k)^2 <= 2 n gap``, with ``c_k``
    the loss's smallest curvature (:meth:`Loss.min_curvature <convexnn.losses.Loss.min_curvature>`)
    on ``|z| <= |pred_k| + 1``. That box holds the segment to the optimum when
    ``sqrt(2 n gap / min_k c_k) <= 1`` (the objective is convex along the segment and grows by at
    least ``min c / (2n)`` over its last unit of length); otherwise, and for a loss that is not
    strongly convex, the result is ``inf``. The squared loss has ``c_k = 1`` everywhere and the
    bound is global.

    Parameters
    ----------
    problem : ConvexProblem
    coef : ndarray of shape ``problem.coef_shape``
    gap : float
        Certified suboptimality of ``coef`` (e.g. ``result.gap``); negative values (rounding) are
        treated as 0.
    weights : ndarray of shape (n_samples,), optional
        Weights no larger than ``c`` (e.g. :func:`curvature_weights` of several points): the radius
        is then ``sqrt(2 n gap)`` in the norm ``sqrt(sum_k w_k d_k^2)``. Without them it is the
        Euclidean radius ``sqrt(2 n gap / min_k c_k)``.
    """
    pred = problem.predict(problem.check_coef(coef))
    curvature = np.asarray(problem.loss.min_curvature(np.abs(pred) + 1.0), dtype=np.float64)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if (weights.shape != pred.shape or np.any(weights > curvature * (1 + 1e-12))
                or np.any(weights < 0)):
            raise ValueError(
                f"weights must have shape {pred.shape}, be >= 0 and at most the loss curvature "
                "around coef's predictions (use curvature_weights)."
            )
    lowest = float(np.min(curvature, initial=np.inf))
    if lowest <= 0:
        return np.inf
    bound = 2.0 * problem.n_samples * max(float(gap), 0.0)
    euclidean = float(np.sqrt(bound / lowest))
    if euclidean > 1.0 and problem.loss.min_curvature(np.inf) <= 0:
        return np.inf
    return euclidean if weights is None else float(np.sqrt(bound))


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
