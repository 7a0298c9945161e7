"""Solvers for the convex programs in :mod:`convexnn.problems`.

A solver is an object with ``solve(problem, init=None) -> SolveResult``. It knows nothing about
estimators, and a problem knows nothing about solvers. :class:`CvxpySolver` states the problem in
cvxpy and hands it to SCS (the default), Clarabel or any other installed cvxpy solver; it is the
reference every faster solver is checked against.
"""

from .base import Solver, get_solver, regularization_path, solve
from .cvxpy_solver import CvxpySolver

__all__ = ["Solver", "CvxpySolver", "get_solver", "solve", "regularization_path"]
