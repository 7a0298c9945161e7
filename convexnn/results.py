"""The outcome of a solve: coefficients plus what is known about their quality.

Every solver, cvxpy-based or native, returns a :class:`SolveResult`, so estimators, comparisons and
benchmarks read one type whatever produced it.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SolveResult", "SolverError", "ConvergenceWarning", "ZERO_BLOCK_THRESHOLD"]

#: A block whose norm is at most this fraction of the largest block norm counts as zero (gives no
#: neuron). Solvers stopped at tolerance ``tol`` leave tails of order ``tol`` on inactive blocks.
ZERO_BLOCK_THRESHOLD = 1e-6

try:  # scikit-learn's class, so users can filter one warning category for all estimators
    from sklearn.exceptions import ConvergenceWarning
except ImportError:  # pragma: no cover - scikit-learn is a hard dependency
    class ConvergenceWarning(UserWarning):
        """A solver stopped before reaching its tolerance."""


class SolverError(RuntimeError):
    """A solver failed (error, or an infeasible/unbounded status on a program that is neither).

    Attributes
    ----------
    status : str
        The solver's status string.
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


@dataclass
class SolveResult:
    """Coefficients of a convex program and how they were obtained.

    Attributes
    ----------
    coef : ndarray of shape (n_blocks, n_features)
        The solution, in the layout of the problem that was solved.
    objective : float
        The convex objective at ``coef``, recomputed by the problem (not the solver's own report).
    status : str
        ``'optimal'`` when the solver reached its tolerance, otherwise the solver's status.
    solver : str
        Name of the solver that produced the result.
    lam : float
        The regularization strength solved for.
    n_iter : int or None
        Iterations used, when the solver reports them.
    time : float
        Wall-clock seconds of the solve (including compilation for cvxpy).
    lower_bound : float or None
        A certified lower bound on the optimum of the program, when known.
    constraint_violation : float
        Largest violation of the cone constraints at ``coef`` (0 without constraints).
    n_active : int or None
        Number of non-zero blocks (``problem.active_blocks``), i.e. neurons of the mapped network.
    history : list of dict
        Per-iteration records, for solvers that keep them.
    dual : ndarray of shape (n_samples,) or None
        The dual-feasible point behind ``lower_bound`` (``lower_bound = loss.dual(dual)``), when
        the solver keeps it (the interior-point method does).
    """

    coef: np.ndarray
    objective: float
    status: str
    solver: str
    lam: float
    n_iter: object = None
    time: float = 0.0
    lower_bound: object = None
    constraint_violation: float = 0.0
    n_active: object = None
    history: list = field(default_factory=list)
    dual: object = None

    @property
    def converged(self):
        """True when the solver reported that it reached its tolerance."""
        return self.status == "optimal"

    @property
    def gap(self):
        """Certified duality gap ``objective - lower_bound`` (None when no bound is known)."""
        if self.lower_bound is None:
            return None
        return self.objective - self.lower_bound
