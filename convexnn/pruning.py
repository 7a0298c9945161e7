"""Pruning: the fewest neurons with the same predictions and no larger penalty.

A solution of the convex program can use more neurons than it needs. When the fits of the active
neurons are linearly dependent, moving along a null vector of their matrix keeps every prediction
and every cone constraint and lowers the penalty until a neuron vanishes; repeating leaves at most
``rank <= n_samples`` neurons (the Caratheodory argument of Pilanci & Ergen 2020 and Mishkin &
Pilanci 2023).
"""

import numpy as np

from .validation import check_positive

__all__ = ["prune"]


def prune(problem, coef, *, rtol=1e-10):
    """Drop neurons whose fits are linearly dependent, keeping predictions, never raising the penalty.

    The prediction is ``sum_b g_b`` with neuron fits ``g_b = s_b D_{p(b)} A u_b``. While the active
    fits are linearly dependent (``G c = 0`` for a null vector ``c`` of ``G = [g_b]``), scaling
    ``u_b -> (1 - t c_b) u_b`` keeps every prediction and every cone constraint (the factors stay
    non-negative) and changes the penalty by ``-t sum_b c_b ||u_b||``; taking the sign of ``c``
    that makes this non-positive and ``t = min_{c_b > 0} 1 / c_b`` zeroes at least one block. The
    end point has at most ``rank(G) <= n_samples`` active blocks and an objective no larger.

    Parameters
    ----------
    problem : ConvexProblem
    coef : ndarray of shape ``problem.coef_shape``
    rtol : float, default=1e-10
        Singular values of the matrix of unit-norm fits below ``rtol`` count as zero (numerical
        null space); each step moves the predictions by at most about ``rtol`` times the largest
        fit's norm.

    Returns
    -------
    ndarray
        The pruned coefficients.
    """
    coef = problem.check_coef(coef).copy()
    check_positive(rtol, "rtol")
    # every non-zero block takes part (dropping "numerically zero" ones would move predictions)
    active = np.flatnonzero(np.linalg.norm(coef, axis=1) > 0)
    weights = problem._weights
    while active.size > 1:
        G = weights[:, active] * (problem.design @ coef[active].T)
        scale = np.linalg.norm(G, axis=0)
        if np.any(scale == 0):  # a block with no effect on the predictions: drop it outright
            coef[active[scale == 0]] = 0.0
            active = active[scale > 0]
            continue
        # null vectors of the unit-norm fits: dependence is judged independently of block sizes
        _, s, Vt = np.linalg.svd(G / scale, full_matrices=True)
        rank = int(np.sum(s > rtol))
        if rank >= active.size:
            break
        c = Vt[-1] / scale
        norms = np.linalg.norm(coef[active], axis=1)
        if c @ norms < 0 or (c @ norms == 0 and c.max() <= 0):
            c = -c
        t = 1.0 / c[c > 0].max()
        factors = np.maximum(1.0 - t * c, 0.0)
        factors[np.argmax(c)] = 0.0
        coef[active] *= factors[:, None]
        active = active[factors > 0]
    return coef
