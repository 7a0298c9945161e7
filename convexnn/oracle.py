"""The dual oracle of the convex programs: how far a dual point is from feasibility, per block.

For a dual point ``z`` (``-grad F`` at some predictions) and a block ``b`` of a program, the
dual-constraint value is ``max_{u in K_b, ||u|| <= 1} (K^T z)_b^T u``: the norm of ``a_b = (K^T z)_b``
projected onto the block's cone ``K_b = {u : o_b * (A u) >= 0}`` (``||a_b||`` for a program without
constraints). ``z`` is dual feasible iff every value is ``<= lam``. The solvers (``lam_max``,
``oracle_bound``, the interior point's working set) and the certificates
(:mod:`convexnn.certificates`) all read it from here, below both.

The projection's norm is, by Moreau, the distance of ``a_b`` to the polar cone,
``min_{mu >= 0} ||a_b + A^T diag(o_b) mu||``: one non-negative least-squares solve per block (finite,
exact up to rounding). Batched projected-gradient steps on ``mu`` give upper bounds for all blocks at
once, so the exact solves run only where the bounds cannot settle the answer.
"""

import numpy as np
from scipy.optimize import nnls

__all__ = ["block_scores", "best_block", "project_norm", "cone_upper_bounds"]


def block_scores(problem, z, threshold=0.0):
    """Dual-constraint value of every block of ``problem`` at ``z``, shape (n_blocks,).

    ``max_{u in K_b, ||u|| <= 1} (K^T z)_b^T u``: the norm of ``a_b = (K^T z)_b`` projected onto the
    block's cone (one NNLS per block whose ``a_b`` lies outside it), or ``||a_b||`` for a program
    without constraints. Blocks whose value is provably at most ``threshold`` (``||a_b||`` or the
    batched upper bound of :func:`cone_upper_bounds` below it) are not solved and get that upper
    bound (which is then also ``<= threshold``).
    """
    z = np.asarray(z, dtype=np.float64)
    a = problem.adjoint(z)
    norms = np.linalg.norm(a, axis=1)
    orientation = problem.constraint_orientation()
    if orientation is None:
        return norms
    scores = norms.copy()
    values = orientation * (problem.design @ a.T)  # C a_b for every block
    outside = np.flatnonzero((norms > threshold) & (values.min(axis=0) < 0))
    if threshold > 0 and outside.size:
        scores[outside] = cone_upper_bounds(problem.design, orientation[:, outside], a[outside],
                                             floor=threshold)
        outside = outside[scores[outside] > threshold]
    for b in outside:
        scores[b] = project_norm(problem, orientation[:, b], a[b])
    return scores


def project_norm(problem, orientation, a):
    """``||Pi_K(a)||`` for ``K = {u : o * (A u) >= 0}``: by Moreau, the distance of ``a`` to the
    polar cone, ``min_{mu >= 0} ||a + A^T diag(o) mu||`` (one NNLS, finite)."""
    _, value = nnls(problem.design.T * orientation, -a, maxiter=50 * problem.n_samples)
    return value


def cone_upper_bounds(design, orientation, a, n_iter=25, floor=-np.inf):
    """Upper bounds on ``||Pi_{K_b}(a_b)||`` for many blocks at once, shape (n_blocks,).

    Every ``mu >= 0`` gives ``||Pi_K(a)|| <= ||a + A^T diag(o) mu||`` (the projection's norm is the
    minimum over ``mu``), so a few accelerated projected-gradient steps on all blocks together (two
    GEMMs a step) give bounds that are valid whatever the iteration count and close to the values
    where it matters; the exact NNLS then runs only on the blocks the bounds cannot settle. A block
    whose bound falls to ``floor`` or below is settled (the callers only need values above it) and
    leaves the iteration, so the steps get cheaper as they go.
    """
    step = 1.0 / max(np.linalg.norm(design, 2) ** 2, np.finfo(float).tiny)
    bounds = np.linalg.norm(a, axis=1)
    active = np.flatnonzero(bounds > floor)
    o, target = orientation[:, active], a[active]
    mu = prev = np.zeros_like(o)
    momentum = 1.0
    for _ in range(int(n_iter)):
        if active.size == 0:
            break
        residual = target + (o * mu).T @ design  # a_b + A^T diag(o_b) mu_b, (blocks, d)
        bounds[active] = np.minimum(bounds[active], np.linalg.norm(residual, axis=1))
        nxt = np.maximum(mu - step * o * (design @ residual.T), 0.0)
        momentum_next = 0.5 * (1 + np.sqrt(1 + 4 * momentum**2))
        mu = np.maximum(nxt + ((momentum - 1) / momentum_next) * (nxt - prev), 0.0)
        prev, momentum = nxt, momentum_next
        keep = bounds[active] > floor
        if not keep.all():
            active, o, target = active[keep], o[:, keep], target[keep]
            mu, prev = mu[:, keep], prev[:, keep]
    if active.size:
        residual = target + (o * prev).T @ design
        bounds[active] = np.minimum(bounds[active], np.linalg.norm(residual, axis=1))
    return bounds


def best_block(problem, z):
    """``(value, block)`` of the largest block score: the dual oracle ``M(z)`` over ``problem``.

    Blocks whose ``a_b`` lies in its cone are exact at ``||a_b||``; the others get batched upper
    bounds (:func:`cone_upper_bounds`) and are visited by decreasing bound, running the exact NNLS
    only until no remaining bound can beat the best value found.
    """
    a = problem.adjoint(np.asarray(z, dtype=np.float64))
    norms = np.linalg.norm(a, axis=1)
    orientation = problem.constraint_orientation()
    if orientation is None:
        best = int(np.argmax(norms))
        return float(norms[best]), best
    values = orientation * (problem.design @ a.T)
    inside = values.min(axis=0) >= 0
    best_value, best = -1.0, 0
    if inside.any():
        best = int(np.flatnonzero(inside)[np.argmax(norms[inside])])
        best_value = float(norms[best])
    bounds = norms.copy()
    outside = np.flatnonzero(~inside & (norms > best_value))
    if outside.size:
        bounds[outside] = cone_upper_bounds(problem.design, orientation[:, outside], a[outside],
                                             floor=best_value)
    for b in outside[np.argsort(-bounds[outside])]:
        if bounds[b] <= best_value:
            break
        value = project_norm(problem, orientation[:, b], a[b])
        if value > best_value:
            best_value, best = float(value), int(b)
    return best_value, best
