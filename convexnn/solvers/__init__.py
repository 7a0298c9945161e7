"""Solvers for the convex programs in :mod:`convexnn.problems`.

A solver is an object with ``solve(problem, init=None) -> SolveResult``. It knows nothing about
estimators, and a problem knows nothing about solvers. :class:`CvxpySolver` states the problem in
cvxpy and hands it to SCS (the default), Clarabel or any other installed cvxpy solver; it is the
reference every faster solver is checked against. The native solvers are the fast path:
:class:`InteriorPoint` (a primal-dual method for the cone programs, ReLU), :class:`FISTA` for
programs without constraints (gated ReLU), :class:`AugmentedLagrangian` for programs with cone
constraints (ReLU and nested deep), :class:`ADMM` (experimental, also for ReLU);
:class:`NativeSolver` ('native') picks the first-order one from ``problem.has_constraints``, and
:class:`AutoSolver` ('auto', the estimators' default) runs the interior point on the cone
programs whose Newton system fits its memory budget, FISTA without constraints, and the augmented
Lagrangian beyond. All certify their stopping point with a duality gap.
"""

from .admm import ADMM
from .augmented_lagrangian import AugmentedLagrangian
from .base import Solver
from .cvxpy_solver import CvxpySolver
from .fista import FISTA
from .interior_point import InteriorPoint
from .registry import get_solver, regularization_path, solve
from .native import (
    AutoSolver,
    NativeSolver,
    curvature_weights,
    dual_oracle,
    lam_grid,
    lam_max,
    oracle_bound,
    prediction_radius,
)

__all__ = [
    "Solver",
    "CvxpySolver",
    "FISTA",
    "AugmentedLagrangian",
    "ADMM",
    "InteriorPoint",
    "NativeSolver",
    "AutoSolver",
    "get_solver",
    "solve",
    "regularization_path",
    "lam_max",
    "lam_grid",
    "dual_oracle",
    "oracle_bound",
    "prediction_radius",
    "curvature_weights",
]
