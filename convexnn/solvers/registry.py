"""Solver lookup by name, and the two drivers every caller uses (one solve, a path over ``lam``).

This module sits above every solver class (it imports them all), so that
:mod:`convexnn.solvers.base` (the interface the solvers derive from) imports none of them.
"""

import re

import numpy as np

from .admm import ADMM
from .augmented_lagrangian import AugmentedLagrangian
from .base import Solver
from .cvxpy_solver import CvxpySolver
from .fista import FISTA
from .interior_point import InteriorPoint
from .native import AutoSolver, NativeSolver

__all__ = ["get_solver", "solve", "regularization_path"]


def get_solver(solver="SCS", **options):
    """Return a solver instance from a :class:`Solver` or a name.

    Parameters
    ----------
    solver : str or Solver, default='SCS'
        A solver instance is returned as is. A string names a native solver ('native', 'fista',
        'augmented_lagrangian', 'admm', 'interior_point' (alias 'ipm')) or a cvxpy solver
        ('SCS', 'CLARABEL', 'ECOS', 'MOSEK', ...),
        case-insensitive. ``'auto'`` (:class:`~convexnn.solvers.AutoSolver`) picks the fastest
        certified solver: the interior-point method for cone-constrained two-layer programs, FISTA
        without constraints, the augmented Lagrangian for nested deep programs; ``'native'`` is the
        first-order pair alone (FISTA or the augmented Lagrangian).
    **options
        Passed to the solver's constructor (e.g. ``tol``, ``max_iter``, ``verbose``).

    Raises
    ------
    ValueError
        For a name that is neither native nor an installed cvxpy solver: the message lists every
        valid name, suggests close matches, and names the pip package of a cvxpy solver that
        exists but is not installed.
    """

    native = {
        "auto": AutoSolver,
        "native": NativeSolver,
        "fista": FISTA,
        "augmented_lagrangian": AugmentedLagrangian,
        "admm": ADMM,
        "interior_point": InteriorPoint,
        "ipm": InteriorPoint,
    }
    if isinstance(solver, Solver):
        if options:
            raise ValueError("options cannot be combined with a Solver instance; set them on it.")
        return solver
    if isinstance(solver, str):
        if solver.lower() in native:
            return native[solver.lower()](**options)
        import cvxpy as cp

        if solver.upper() not in cp.installed_solvers():
            raise ValueError(_unknown_solver_message(solver, native, cp.installed_solvers()))
        return CvxpySolver(solver, **options)
    raise ValueError(f"solver must be a solver name or a Solver instance, got {solver!r}.")


def _unknown_solver_message(solver, native, installed):
    """The error of :func:`get_solver` for a name that is neither native nor an installed cvxpy solver.

    It lists every valid name, suggests close matches (``difflib``), and names a pip package only
    for a cvxpy solver that exists but is not installed, taken from cvxpy's own install extras.
    """
    import difflib
    import importlib.metadata

    from cvxpy.settings import SOLVERS

    installed = sorted(installed)
    names = ", ".join(f"'{n}'" for n in native if n != "ipm")
    message = (f"solver={solver!r} is not an installed cvxpy solver; installed: "
               f"{', '.join(installed)}; native solvers: {names} (alias 'ipm'); names are "
               "case-insensitive.")
    name = solver.upper()
    # the package behind cvxpy's install extra of the same name ("cvxpy[MOSEK]" -> Mosek)
    normal = lambda text: re.sub(r"[-_.]+", "-", text).lower()  # noqa: E731 (PEP 503)
    package = None
    try:
        for req in importlib.metadata.requires("cvxpy") or ():
            extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
            if (extra and normal(extra.group(1)) == normal(name) and re.fullmatch(r"\w+", name)
                    and normal(name) not in ("testing", "doc", "diffcp")):
                package = re.split(r"[\s<>=~!;\[(]", req, maxsplit=1)[0].lower()
                break
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        pass
    if name in SOLVERS or package is not None:
        how = (f"install it with 'pip install {package}'" if package else
               "see https://www.cvxpy.org/install/ for how to install it")
        return f"{message} {name} is a cvxpy solver: {how}, or pick one of these."
    # close matches among the usable names first, then among cvxpy's other solvers
    close, lookup = [], {}
    for candidates in (list(native) + installed, [s for s in SOLVERS if s not in installed]):
        lookup = {c.upper(): c for c in candidates}
        close = difflib.get_close_matches(name, list(lookup), n=3, cutoff=0.75)
        if close:
            break
    if close:
        return f"{message} Did you mean {' or '.join(repr(lookup[c]) for c in close)}?"
    return f"{message} {solver!r} is neither a native nor a cvxpy solver."


def solve(problem, solver="SCS", init=None, **options):
    """Solve ``problem`` with the named solver (or instance) and return a SolveResult."""
    return get_solver(solver, **options).solve(problem, init=init)


def regularization_path(problem, lams, solver="SCS", **options):
    """Solve ``problem`` for each ``lam`` in ``lams``, warm-starting each from the previous.

    The cvxpy program is compiled once and re-solved with a new parameter value (DPP); native
    solvers start from the previous solution. :func:`~convexnn.solvers.lam_grid` gives a
    decreasing geometric grid from the exact :func:`~convexnn.solvers.lam_max`.

    Parameters
    ----------
    problem : ConvexProblem
    lams : array-like of shape (n_lams,)
        Non-negative strengths, solved in the order given (decreasing is best for warm starts).
    solver : str or Solver

    Returns
    -------
    list of SolveResult
    """
    lams = np.asarray(lams, dtype=np.float64)
    if lams.ndim != 1 or lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0):
        raise ValueError("lams must be a non-empty 1-D array of finite values >= 0.")
    solver = get_solver(solver, **options)
    results, init = [], None
    for lam in lams:
        result = solver.solve(problem.with_lam(lam), init=init)
        results.append(result)
        init = result.coef
    return results
