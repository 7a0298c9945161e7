"""Estimate the memory a convex fit needs, and refuse requests that would not fit.

A fit holds the gates and pattern mask, the problem's arrays, and whatever the solver needs on
top (:meth:`convexnn.solvers.Solver.working_bytes`): a few arrays of shape (n_samples, n_blocks)
for the native solvers, but a canonical form growing as ``n_samples * n_columns * n_blocks`` for
cvxpy, which reaches gigabytes long before the solver starts. The estimators call
:func:`check_memory` before sampling patterns, so an oversized request fails at once with a
message naming the parameter to turn down, instead of swapping or being killed half-way.
"""

import os

__all__ = ["estimate_fit_bytes", "check_memory", "estimate_deep_bytes", "check_deep_memory", "MEMORY_FRACTION"]

#: A fit is refused when its estimated peak memory exceeds this fraction of the memory available.
MEMORY_FRACTION = 0.5

# Allocated by any fit whatever its size: the fit's Python objects, the networks and results, and
# the modules its first call imports (a fit of 40 samples peaked at 0.73 MiB, 0.59 MiB of it
# beyond its arrays' counted sizes, the first time in a process)
_FIXED_BYTES = 2**20


def estimate_fit_bytes(
    n_samples, n_features, n_patterns, *, formulation="relu", fit_intercept=True, solver="auto"
):
    """Estimate the peak memory of one convex fit, in bytes, before anything is allocated.

    Parameters
    ----------
    n_samples, n_features, n_patterns : int
    formulation : {'relu', 'gated'}
    fit_intercept : bool
    solver : str or Solver, default='auto'
        As for :func:`convexnn.solvers.get_solver`; its ``working_bytes`` is added.

    Returns
    -------
    int
        A fixed MiB (the fit's Python objects, lazily imported modules), gates and pattern mask
        (plus the float product ``X @ gates`` they come from), the
        problem's data and block weights, the certificate's candidate patterns
        (:func:`convexnn.candidates.candidate_patterns`) and the solver's working memory
        (``n_blocks = 2 n_patterns`` for 'relu').
    """
    from .candidates import N_STARTS
    from .solvers import get_solver

    n, p = int(n_samples), int(n_patterns)
    cols = int(n_features) + bool(fit_intercept)
    blocks = 2 * p if formulation == "relu" else p
    patterns = 8 * cols * p + 9 * n * p  # gates, X @ gates (float) and the boolean mask
    problem = 8 * n * (blocks + cols)
    # the certificate's candidate search: 3 (N_STARTS + n_blocks) gates, products and masks
    search = 3 * (N_STARTS + blocks) * (9 * n + 8 * cols)
    # x2: with column generation the previous round's result is alive during the next solve
    solver_bytes = get_solver(solver).working_bytes(n, cols, blocks, constrained=formulation == "relu")
    return _FIXED_BYTES + patterns + problem + search + 2 * solver_bytes


def _available_bytes():
    """Memory available to this process (MemAvailable on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return 16 * 2**30


def check_memory(n_samples, n_features, n_patterns, formulation, fit_intercept, solver="auto"):
    """Raise MemoryError, naming the knobs to turn down, when a fit would not fit in memory."""
    need = estimate_fit_bytes(
        n_samples, n_features, n_patterns, formulation=formulation, fit_intercept=fit_intercept,
        solver=solver,
    )
    budget = MEMORY_FRACTION * _available_bytes()
    if need > budget:
        raise MemoryError(
            f"this fit would need about {need / 2**30:.1f} GiB (n_samples={n_samples}, "
            f"n_features={n_features}, n_patterns={n_patterns}, formulation={formulation!r}) but "
            f"only {budget / 2**30:.1f} GiB may be used. Turn down n_patterns (memory grows with "
            "n_samples * n_patterns, and with n_features too for cvxpy solvers), use "
            "formulation='gated' (half the blocks), solver='auto' (the native solvers need far "
            "less than cvxpy), or fit on fewer samples."
        )
    return need


def estimate_deep_bytes(n_samples, n_features, sizes, *, fit_intercept=True, solver="auto"):
    """Estimate the peak memory of one deep convex fit (:mod:`convexnn.deep`), in bytes.

    Parameters
    ----------
    n_samples, n_features : int
    sizes : sequence of int
        Patterns per hidden level, bottom up; the program has ``prod_l 2 sizes[l]`` blocks.
    fit_intercept : bool
    solver : str or Solver, default='auto'

    Returns
    -------
    int
        A fixed MiB (as :func:`estimate_fit_bytes`), the problem's per-block arrays (prediction
        weights, level-1 orientation, and their copies in the solver's operator: about 5 arrays
        of shape (n_samples, n_blocks)), the upper levels' group arrays, and the solver's working
        memory for that many blocks. Measured: the default deep regressor on diabetes peaked at
        31.1 MB (tracemalloc) against 33.7 MB estimated.
    """
    from .solvers import get_solver

    n, cols = int(n_samples), int(n_features) + bool(fit_intercept)
    blocks, groups = 1, 0
    for size in sizes:
        blocks *= 2 * int(size)
    rest = blocks
    for size in list(sizes)[:-1]:
        rest //= 2 * int(size)
        groups += rest
    problem = 8 * n * (5 * blocks + 4 * groups) + 8 * blocks * cols
    return _FIXED_BYTES + problem + get_solver(solver).working_bytes(n, cols, blocks + groups)


def check_deep_memory(n_samples, n_features, sizes, fit_intercept, solver="auto"):
    """Raise MemoryError, naming the knobs to turn down, when a deep fit would not fit in memory."""
    need = estimate_deep_bytes(n_samples, n_features, sizes, fit_intercept=fit_intercept,
                               solver=solver)
    budget = MEMORY_FRACTION * _available_bytes()
    if need > budget:
        blocks = 1
        for size in sizes:
            blocks *= 2 * int(size)
        raise MemoryError(
            f"this deep program would need about {need / 2**30:.1f} GiB: {blocks} blocks (the product "
            f"of 2 x patterns per level {tuple(int(s) for s in sizes)}) times n_samples={n_samples},"
            f" but only {budget / 2**30:.1f} GiB may be used. Turn down n_patterns or "
            "n_upper_patterns (the block count multiplies across levels), lower depth, or fit on "
            "fewer samples."
        )
    return need
