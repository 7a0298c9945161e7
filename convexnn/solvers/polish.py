"""Active-set Newton polish and KKT multipliers for the cone-constrained ReLU program.

A first-order method (:mod:`.admm`) finds, within a few hundred iterations, which blocks are non-zero
and which cone constraints are tight at the optimum, but needs many more to reach a 1e-6 gap. With
that guess the program is smooth: on the non-zero blocks ``S`` with tight rows ``T_b`` write
``u_b = N_b theta_b`` with ``N_b`` an orthonormal basis of the null space of ``C_{T_b}`` (so the
tight constraints hold exactly), drop the other constraints and blocks, and minimize

    phi(theta) = F(sum_b K_b N_b theta_b) + lam sum_b ||theta_b||

by Newton's method (differentiable while every ``theta_b != 0``) with a backtracking line search.
Rows that the Newton point violates join ``T_b`` and the solve is repeated (a few rounds). The same
idea as OSQP's solution polishing (Stellato et al. 2020) for the QP's active set.

The result is only a candidate: its multipliers come from the KKT conditions
(:func:`kkt_multipliers`) and :meth:`convexnn.problems.ReLUProblem.dual_bound` certifies it or not,
so a wrong guess costs time but never a wrong ``'optimal'``.
"""

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, null_space
from scipy.optimize import nnls

from .._array_api import NUMPY
from ..results import ZERO_BLOCK_THRESHOLD

__all__ = ["kkt_multipliers", "newton_polish"]

#: Largest number of reduced variables (sum of the null-space dimensions) polished with a dense
#: Hessian; above it the polish is skipped.
MAX_REDUCED = 3000
#: Rows whose score is below this fraction of the block's largest are not taken as tight.
_SCORE_RTOL = 1e-3


def kkt_multipliers(problem, coef, tight_rtol=1e-6):
    """Cone multipliers and the dual of ``U = V`` consistent with the KKT conditions at ``coef``.

    With ``z = -grad F(K coef)`` and ``a = K^T z`` stationarity reads ``alpha_b = a_b + C_b^T mu_b``,
    ``alpha_b = lam u_b / ||u_b||`` on a non-zero block and ``||alpha_b|| <= lam`` on a zero one,
    ``mu_b >= 0`` vanishing where the constraint is slack. Per block, an NNLS over the (nearly)
    tight rows fits ``C_b^T mu_b`` to ``lam u_b / ||u_b|| - a_b`` (non-zero block), or over all rows
    to ``-a_b`` when ``||a_b|| > lam`` (zero block; this is :func:`~.native.dual_oracle`'s NNLS).
    Blocks below ``ZERO_BLOCK_THRESHOLD`` times the largest count as zero (an interior-point
    solution leaves tails there whose direction means nothing).

    Parameters
    ----------
    problem : ReLUProblem
    coef : ndarray of shape (n_blocks, n_features), float64
    tight_rtol : float
        A row counts as tight when its constraint value is at most ``tight_rtol`` times
        ``max_k ||a_k|| ||u_b||``.

    Returns
    -------
    alpha : ndarray of shape (n_blocks, n_features)
        ``a + C^T mu``, each block clipped to norm ``lam``.
    mu : ndarray of shape (n_samples, n_blocks)
    """
    lam = problem.lam
    A = problem.design
    orientation = problem.constraint_orientation()
    values = orientation * (A @ coef.T)
    z = -problem.loss.gradient(problem.predict(coef), problem.y)
    a = problem.adjoint(z)
    norms = np.linalg.norm(coef, axis=1)
    mu = np.zeros_like(values)
    row_norm = np.linalg.norm(A, axis=1).max()
    nonzero = norms > ZERO_BLOCK_THRESHOLD * norms.max()
    for b in range(problem.n_blocks):
        if nonzero[b]:
            rows = np.flatnonzero(values[:, b] <= tight_rtol * row_norm * norms[b])
            target = lam * coef[b] / norms[b] - a[b]
        elif np.linalg.norm(a[b]) > lam:
            rows = np.arange(problem.n_samples)
            target = -a[b]
        else:
            continue
        if rows.size:
            Ct = A[rows].T * orientation[rows, b]
            mu[rows, b], _ = nnls(Ct, target, maxiter=50 * rows.size)
    alpha = a + problem.constraint_adjoint(mu)
    alpha_norms = np.linalg.norm(alpha, axis=1, keepdims=True)
    alpha *= np.minimum(1.0, lam / np.maximum(alpha_norms, np.finfo(float).tiny))
    return alpha, mu


def newton_polish(problem, coef, score, *, max_rounds=200, max_newton=30):
    """A primal active-set method with Newton steps, started from a guess (module docstring).

    The non-zero blocks of ``coef`` are projected onto their cones; each block's tight rows (largest
    ``score`` first, independent, at most ``n_features - 1``) are held at zero. Newton steps on the
    reduced program stop at the first constraint they would cross (a ratio test keeps every iterate
    feasible), which then joins the tight rows; at a stationary point a row whose least-squares
    multiplier is negative is released. Blocks whose norm vanishes are dropped.

    Parameters
    ----------
    problem : ReLUProblem
    coef : ndarray of shape (n_blocks, n_features), float64
    score : ndarray of shape (n_samples, n_blocks)
        Evidence that a row is tight in a block (e.g. cone multipliers), used to order ties.

    Returns
    -------
    ndarray of shape (n_blocks, n_features) or None
        A feasible point, or None when the reduced program is too large for a dense Hessian.
    """
    A = problem.design
    orientation = problem.constraint_orientation()
    operator = problem.block_operator(np.float64, xp=NUMPY)
    weights = operator.W
    lam = problem.lam
    row_norm = np.linalg.norm(A, axis=1).max()
    result = np.zeros_like(coef)
    rows = {}
    for b in np.flatnonzero(np.linalg.norm(coef, axis=1) > 0):
        u = operator.project_block(coef[b], b)
        norm = np.linalg.norm(u)
        if norm > 0:
            result[b] = u
            values = orientation[:, b] * (A @ u)
            tight = values <= 1e-10 * row_norm * norm
            rows[b] = _independent_rows(orientation[:, b, None] * A, np.where(tight, 1.0 + score[:, b], 0.0))
    active = list(rows)
    for _ in range(max_rounds):
        if not active:
            return result
        bases = []
        for b in active:
            basis = np.eye(A.shape[1])
            if rows[b].size:
                basis = null_space(orientation[rows[b], b, None] * A[rows[b]], rcond=1e-10)
            bases.append(basis)
        sizes = [basis.shape[1] for basis in bases]
        if sum(sizes) > MAX_REDUCED:
            return None
        designs = [A @ basis for basis in bases]
        reduced = np.hstack([weights[:, b, None] * d for b, d in zip(active, designs)])
        cones = [orientation[:, b, None] * d for b, d in zip(active, designs)]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        theta = np.concatenate([basis.T @ result[b] for b, basis in zip(active, bases)])
        theta, blocking = _newton(problem, reduced, cones, starts, theta, max_newton)
        round_blocks = list(active)
        for i, (b, basis) in enumerate(zip(active, bases)):
            result[b] = basis @ theta[starts[i]:starts[i + 1]]
        norms = np.linalg.norm(result, axis=1)
        vanished = [b for b in active if norms[b] <= 1e-12 * norms.max()]
        for b in vanished:
            result[b] = 0.0
        active = [b for b in active if b not in vanished]
        if blocking:
            for i, k in blocking:
                block = round_blocks[i]
                if block in active:
                    score_b = np.zeros(problem.n_samples)
                    score_b[rows[block]] = 1.0 + np.arange(rows[block].size, 0, -1)
                    score_b[k] = np.inf
                    rows[block] = _independent_rows(orientation[:, block, None] * A, score_b)
            continue
        if vanished:
            continue
        # stationary on this face: release the most negative multiplier of each block
        a = problem.adjoint(-problem.loss.gradient(problem.predict(result), problem.y))
        changed = False
        for b in active:
            if rows[b].size == 0:
                continue
            Ct = A[rows[b]].T * orientation[rows[b], b]
            mu = np.linalg.lstsq(Ct, lam * result[b] / norms[b] - a[b], rcond=None)[0]
            if mu.min() < -1e-9 * max(np.abs(mu).max(), 1e-300):
                rows[b] = np.delete(rows[b], np.argmin(mu))
                changed = True
        if not changed:
            break
    return result


def _independent_rows(rows_matrix, score):
    """Rows with positive score, largest first, kept while independent and fewer than n_columns."""
    n_columns = rows_matrix.shape[1]
    candidates = np.flatnonzero(score > 0)
    candidates = candidates[np.argsort(-score[candidates], kind="stable")][: 4 * n_columns]
    chosen, basis = [], []
    for k in candidates:
        v = rows_matrix[k].astype(np.float64)
        norm = np.linalg.norm(v)
        if norm == 0:
            continue
        r = v / norm
        for q in basis:
            r = r - (q @ r) * q
        rest = np.linalg.norm(r)
        if rest > 1e-8:
            basis.append(r / rest)
            chosen.append(k)
            if len(chosen) == n_columns - 1:
                break
    return np.array(chosen, dtype=int)


def _phi(problem, reduced, starts, theta):
    pred = reduced @ theta
    norms = np.sqrt(np.add.reduceat(theta * theta, starts[:-1])) if theta.size else np.zeros(0)
    return problem.loss.value(pred, problem.y) + problem.lam * norms.sum()


def _newton(problem, reduced, cones, starts, theta, max_newton):
    """Damped Newton on ``phi`` with a ratio test on the cone rows.

    Each block's step is cut at its first cone row (so iterates stay feasible). Returns
    ``(theta, blocking)``: ``blocking`` lists ``(i, row)``, a reduced block and the cone row that cut
    its step, empty when Newton converged (or stalled) inside the face.
    """
    lam, loss, y = problem.lam, problem.loss, problem.y
    value = _phi(problem, reduced, starts, theta)
    hessian_loss, curvature = None, None
    n_blocks = len(starts) - 1
    for _ in range(max_newton):
        pred = reduced @ theta
        curvature_new = loss.hessian(pred, y)
        rank_one = loss.hessian_rank_one(pred, y)  # Hessian diag(h) - c c^T, or diagonal
        if (hessian_loss is None or rank_one is not None
                or not np.array_equal(curvature_new, curvature)):
            curvature = curvature_new
            hessian_loss = reduced.T @ (curvature[:, None] * reduced)
            if rank_one is not None:
                coupling = reduced.T @ rank_one
                hessian_loss -= np.outer(coupling, coupling)
        grad = reduced.T @ loss.gradient(pred, y)
        hessian = hessian_loss.copy()
        for i in range(n_blocks):
            block = slice(starts[i], starts[i + 1])
            t = theta[block]
            norm = np.linalg.norm(t)
            if norm == 0:
                continue
            unit = t / norm
            grad[block] += lam * unit
            hessian[block, block] += (lam / norm) * (np.eye(t.size) - np.outer(unit, unit))
        try:
            factor = cho_factor(hessian, lower=True, check_finite=False)
            direction = -cho_solve(factor, grad, check_finite=False)
        except LinAlgError:
            direction = -np.linalg.lstsq(hessian, grad, rcond=None)[0]
        decrement = -float(grad @ direction)
        if not decrement > 1e-16 * max(abs(value), 1e-300):
            return theta, []
        # ratio test per block: the largest step keeping the block's cone rows >= 0
        limits = np.ones(theta.size)
        blocking = []
        for i in range(n_blocks):
            block = slice(starts[i], starts[i + 1])
            values = cones[i] @ theta[block]
            change = cones[i] @ direction[block]
            scale = 1e-12 * max(np.abs(values).max(), 1e-300)
            falling = change < -scale
            if falling.any():
                ratios = np.maximum(values[falling], 0.0) / -change[falling]
                j = np.argmin(ratios)
                if ratios[j] < 1.0:
                    limits[block] = ratios[j]
                    blocking.append((i, np.flatnonzero(falling)[j]))
        step = 1.0
        for _ in range(40):
            candidate = theta + step * limits * direction
            new_value = _phi(problem, reduced, starts, candidate)
            if new_value <= value - 0.25 * step * float(-(grad * limits) @ direction):
                break
            step *= 0.5
        else:
            return theta, []
        theta, value = candidate, new_value
        if blocking and step == 1.0:
            return theta, blocking
    return theta, []
