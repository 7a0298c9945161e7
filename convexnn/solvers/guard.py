"""A solver wrapper that never hands back less than it was given.

:class:`Guarded` wraps any solver and adds two promises to its ``solve``:

* a squared-loss program whose target is identically zero gets its exact solution (every block
  zero, objective 0) without calling the solver: zero is then the unique optimum for every
  ``lam >= 0``, and a numerical solve would leave blocks of size ~``tol`` that all look active
  relative to each other;
* with ``keep_start=True``, a result that is not better than its feasible start ``init`` is
  replaced by the start (see :meth:`Guarded.no_worse`), so a solve started from an embedded
  network or from the previous round of a pattern search never makes the objective larger,
  whatever ``tol`` or ``max_iter`` stopped the solver.
"""

import dataclasses

import numpy as np

from .._array_api import NUMPY
from ..results import SolveResult
from .base import Solver

__all__ = ["Guarded"]


class Guarded(Solver):
    """Wrap ``solver``: exact zero solutions for zero targets and, optionally, never worse than
    the start.

    Parameters
    ----------
    solver : Solver
        The solver that does the work (:func:`~convexnn.solvers.get_solver` makes one from a
        name).
    keep_start : bool, default=True
        Judge each result against its ``init`` (which must then be feasible) and return the
        start when the result is not better. With False only the zero-target shortcut applies
        (for starts that may be infeasible, e.g. a warm start over new data).
    """

    def __init__(self, solver, keep_start=True):
        if not isinstance(solver, Solver):
            raise ValueError(f"solver must be a Solver instance, got {solver!r}.")
        self.solver = solver
        self.keep_start = keep_start
        self.name = getattr(self.solver, "name", None) or type(self.solver).__name__
        self.loss_needs = self.solver.loss_needs
        self.penalty_needs = self.solver.penalty_needs

    def __repr__(self):
        return f"Guarded({self.solver!r}, keep_start={self.keep_start})"

    def unmet_needs(self, problem):
        return self.solver.unmet_needs(problem)

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        return self.solver.working_bytes(n_samples, n_columns, n_blocks, constrained)

    def solve(self, problem, init=None):
        """Solve ``problem`` from ``init`` with the wrapped solver, keeping the promises above.

        Parameters
        ----------
        problem : ConvexProblem
        init : ndarray of shape ``problem.coef_shape``, optional
            With ``keep_start``, a feasible point whose objective the result will not exceed.

        Returns
        -------
        SolveResult
        """
        result = self.zero_target(problem)
        if result is not None:
            return result
        result = self.solver.solve(problem, init=init)
        if self.keep_start and init is not None:
            result = self.no_worse(problem, result, init)
        return result

    def zero_target(self, problem):
        """The exact solution (all blocks zero) when the squared-loss target is identically zero,
        else None."""
        if problem.loss.name != "squared" or np.any(problem.y != 0):
            return None
        return SolveResult(
            coef=problem.zeros(), objective=0.0, status="optimal", solver=self.name,
            lam=problem.lam, n_iter=0, lower_bound=0.0, n_active=0,
        )

    @staticmethod
    def no_worse(problem, result, start):
        """``result``, or the feasible ``start`` when the solver did not improve on it.

        A solver point counts only if it is feasible to 1e-6 (relative to the block features'
        scale) and its objective is at most the start's. A point that violates the cones by more
        (a solver stopped by ``max_iter``) is first repaired by projecting its violating blocks
        onto their cones (exact, the solvers' polishing step) and judged at the repaired point.
        Otherwise the start is returned with the solver's status, iterations, bound and history.

        Parameters
        ----------
        problem : ConvexProblem
        result : SolveResult
            A solve of ``problem``.
        start : ndarray of shape ``problem.coef_shape``
            A feasible point.

        Returns
        -------
        SolveResult
        """
        scale = max(1.0, float(np.abs(problem.design @ result.coef.T).max(initial=0.0)))
        tolerance = 1e-6 * scale
        start_objective = problem.objective(start)
        coef, objective = result.coef, result.objective
        violation = problem.constraint_violation(coef)  # not every solver reports it
        if violation > tolerance and problem.has_constraints:
            coef = problem.block_operator(np.float64, xp=NUMPY).project_violating(coef, 0.1 * tolerance)
            objective, violation = problem.objective(coef), problem.constraint_violation(coef)
        if violation <= tolerance and objective <= start_objective:
            if coef is result.coef:
                return result
            return dataclasses.replace(
                result, coef=coef, objective=objective, constraint_violation=violation,
                n_active=problem.active_blocks(coef).size,
            )
        return SolveResult(
            coef=start, objective=start_objective, status=result.status, solver=result.solver,
            lam=result.lam, n_iter=result.n_iter, time=result.time, lower_bound=result.lower_bound,
            constraint_violation=problem.constraint_violation(start),
            n_active=problem.active_blocks(start).size, history=result.history, dual=result.dual,
        )
