"""The reference solver: state the problem in cvxpy and call SCS, Clarabel or any installed solver.

The compiled cvxpy problem is cached on the problem (``lam`` is a parameter), so re-solving for a
new ``lam`` skips compilation. Solver statuses are never hidden: an inaccurate or iteration-limited
solve warns with the status, and a failed, infeasible or unbounded one raises :class:`SolverError`
(the convex programs here are always feasible and bounded below, so those statuses mean numerical
trouble).
"""

import logging
import time
import warnings

import cvxpy as cp
import numpy as np

from ..results import ConvergenceWarning, SolveResult, SolverError
from ..validation import check_positive
from .base import Solver

__all__ = ["CvxpySolver"]

logger = logging.getLogger(__name__)

# how a single tolerance and iteration cap translate into each solver's own option names
_TOLERANCE_OPTIONS = {
    "SCS": ("eps_abs", "eps_rel"),
    "CLARABEL": ("tol_gap_abs", "tol_gap_rel", "tol_feas"),
    "ECOS": ("abstol", "reltol", "feastol"),
}
_MAX_ITER_OPTION = {"SCS": "max_iters", "CLARABEL": "max_iter", "ECOS": "max_iters"}

_INACCURATE = {cp.OPTIMAL_INACCURATE, cp.USER_LIMIT}

# Bytes per non-zero of the cvxpy canonicalization of ``A @ U`` and the expressions built on it
# (values + indices, and the copies cvxpy keeps of the stacked problem data). Calibrated with
# tracemalloc on ReLUProblem.cvxpy_program + get_problem_data('CLARABEL'): the peak is 150-170
# bytes per n_samples * n_columns * n_blocks for n in 200..800; the margin covers the solver.
_CVXPY_BYTES_PER_NONZERO = 200
_CVXPY_FIXED_BYTES = 2**20
def _advice(current):
    """What to try after numerical trouble with solver ``current``."""
    other = "SCS" if current == "CLARABEL" else "CLARABEL"
    return (
        "The convex program is always feasible (zero is feasible) and bounded below, so this "
        f"status means numerical trouble: standardize X and y, try solver={other!r} or the "
        "native solver (solver='auto'), or change tol."
    )


class CvxpySolver(Solver):
    """Solve a convex program through cvxpy.

    Parameters
    ----------
    solver : str, default='SCS'
        Name of an installed cvxpy solver (case-insensitive), e.g. 'SCS', 'CLARABEL', 'ECOS'.
    tol : float or None, default=1e-6
        Tolerance mapped to the solver's own options (SCS: ``eps_abs``/``eps_rel``; Clarabel:
        ``tol_gap_abs``/``tol_gap_rel``/``tol_feas``; ECOS: ``abstol``/``reltol``/``feastol``).
        None keeps the solver's defaults. Ignored for solvers not listed.
    max_iter : int or None, default=None
        Iteration cap passed to the solver (None keeps its default).
    verbose : bool, default=False
        Let the solver print its log.
    **options
        Further keyword arguments for ``cvxpy.Problem.solve`` (they override the two above).
    """

    loss_needs = ("cvxpy",)
    penalty_needs = ("cvxpy",)

    def __init__(self, solver="SCS", *, tol=1e-6, max_iter=None, verbose=False, **options):
        if not isinstance(solver, str):
            raise ValueError(f"solver must be a cvxpy solver name, got {solver!r}.")
        name = solver.upper()
        installed = cp.installed_solvers()
        if name not in installed:
            raise ValueError(
                f"solver={solver!r} is not an installed cvxpy solver; installed: "
                f"{', '.join(sorted(installed))}. Install it (pip install {solver.lower()}) or "
                "pick one of these."
            )
        if tol is not None:
            check_positive(tol, "tol")
        if max_iter is not None:
            check_positive(max_iter, "max_iter", integer=True)
        self.solver = name
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose
        self.options = options

    @property
    def name(self):
        return f"cvxpy-{self.solver}"

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        """cvxpy's canonical form: about 200 bytes per entry of ``A @ U`` (see the module), plus
        a fixed ~1 MiB of compilation overhead that dominates on tiny problems."""
        entries = int(n_samples) * int(n_columns) * int(n_blocks)
        return _CVXPY_FIXED_BYTES + _CVXPY_BYTES_PER_NONZERO * entries

    def _solver_options(self):
        opts = {}
        if self.tol is not None:
            opts.update({key: self.tol for key in _TOLERANCE_OPTIONS.get(self.solver, ())})
        if self.max_iter is not None and self.solver in _MAX_ITER_OPTION:
            opts[_MAX_ITER_OPTION[self.solver]] = self.max_iter
        opts.update(self.options)
        return opts

    def solve(self, problem, init=None):
        """Solve ``problem`` and return a :class:`~convexnn.results.SolveResult`.

        Parameters
        ----------
        problem : ConvexProblem
        init : ndarray of shape ``problem.coef_shape``, optional
            Warm start (used by solvers that accept one, such as SCS).
        """
        self.check_needs(problem)
        program = problem.cvxpy_program()
        warm = init is not None
        if warm:
            program.variable.value = problem.check_coef(init).T
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # cvxpy's own inaccuracy warning is replaced by ours, which names the status
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                program.problem.solve(
                    solver=self.solver, warm_start=warm, verbose=self.verbose,
                    **self._solver_options(),
                )
        except cp.error.SolverError as exc:
            raise SolverError(
                f"cvxpy solver {self.solver} failed on {problem!r}: {exc}. {_advice(self.solver)}",
                status=cp.SOLVER_ERROR,
            ) from exc
        elapsed = time.perf_counter() - start
        status = program.problem.status
        value = program.variable.value
        if status not in {cp.OPTIMAL} | _INACCURATE or value is None:
            raise SolverError(
                f"cvxpy solver {self.solver} ended with status {status!r} on {problem!r}. "
                f"{_advice(self.solver)}",
                status=status,
            )
        if status in _INACCURATE:
            warnings.warn(
                f"cvxpy solver {self.solver} stopped with status {status!r}: the solution did not "
                "reach the requested tolerance. Increase max_iter, loosen tol, or try "
                f"solver={'SCS' if self.solver == 'CLARABEL' else 'CLARABEL'!r}.",
                ConvergenceWarning,
                stacklevel=2,
            )
        coef = np.array(value.T, dtype=np.float64)
        stats = program.problem.solver_stats
        logger.info("%s: status %s in %.3fs", self.name, status, elapsed)
        return SolveResult(
            coef=coef,
            objective=problem.objective(coef),
            status="optimal" if status == cp.OPTIMAL else status,
            solver=self.name,
            lam=problem.lam,
            n_iter=getattr(stats, "num_iters", None),
            time=elapsed,
            lower_bound=problem.dual_bound(coef),
            constraint_violation=problem.constraint_violation(coef),
            n_active=problem.active_blocks(coef).size,
        )
