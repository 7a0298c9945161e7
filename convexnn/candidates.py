"""Candidate activation patterns, scored by the dual oracle.

The dual of the convex program over *all* patterns has one constraint per pattern ``D_i``: its
oracle value ``max_{u in K_i, ||u|| <= 1} |(A^T D_i z)^T u|`` at the dual point
``z = -grad F(predictions)`` is at most ``lam`` (doc/math.rst, "Duality and the global-optimality
certificate"). Both the certificates (:mod:`convexnn.certificates`) and the pattern search
(:mod:`convexnn.search`) score patterns this way; this module holds what they share:

* :func:`dual_point` and :func:`pattern_scores`: the dual point of a fit and the oracle value of
  each pattern of a problem (on :func:`convexnn.oracle.block_scores`);
* :func:`pattern_count` and :func:`all_patterns`: every pattern of ``X``, when they are few;
* :func:`candidate_patterns`: patterns proposed when listing all of them is unaffordable
  (sampled gates, given gates, and local ascent of the oracle).
"""

import numpy as np

from .oracle import block_scores
from .patterns import ActivationPatterns, count_patterns, enumerate_patterns
from .validation import add_intercept, check_matrix, check_positive, check_random_state, check_target

__all__ = ["all_patterns", "candidate_patterns", "dual_point", "pattern_count", "pattern_scores"]


def dual_point(loss, y, predictions):
    """The dual point ``z = -grad F(predictions)`` of a fit, ndarray of shape (n_samples,)."""
    return -loss.gradient(predictions, y)


def pattern_scores(problem, z, threshold=0.0):
    """Oracle value of every pattern of ``problem`` at the dual point ``z``.

    Parameters
    ----------
    problem : ConvexProblem
        Its patterns are the ones scored (its ``lam`` is not used).
    z : ndarray of shape (n_samples,)
    threshold : float, default=0.0
        Passed to :func:`~convexnn.oracle.block_scores`: scores at most ``threshold`` may be
        reported as any value at most ``threshold`` (cheaper cone projections).

    Returns
    -------
    ndarray of shape (n_patterns,)
        The largest score over the pattern's blocks (both signs for the ReLU program).
    """
    scores = block_scores(problem, z, threshold)
    best = np.zeros(problem.patterns.n_patterns)
    np.maximum.at(best, problem.block_pattern, scores)
    return best


def pattern_count(X, fit_intercept):
    """Number of patterns of ``X`` in general position (an upper bound otherwise; 0 if X is 0)."""
    A = add_intercept(X) if fit_intercept else X
    rank = int(np.linalg.matrix_rank(A))
    return count_patterns(A.shape[0], rank) if rank else 0


def all_patterns(X, fit_intercept, max_patterns):
    """All patterns of ``X`` if their count is at most ``max_patterns``, else None."""
    count = pattern_count(X, fit_intercept)
    if count == 0 or count > max_patterns:
        return None
    return enumerate_patterns(X, fit_intercept=fit_intercept, max_patterns=max_patterns)


#: Gaussian starts of :func:`candidate_patterns`' ascent by default. Half of the earlier 200
#: found nearly the same best oracle values (each start keeps its best iterate) in half the time.
N_STARTS = 100


def candidate_patterns(
    X, z, *, fit_intercept=True, gates=None, n_samples=N_STARTS, n_ascent=20, random_state=None
):
    """Candidate patterns for the dual oracle when listing all of them is unaffordable.

    Three sources, merged and de-duplicated: ``n_samples`` Gaussian gates; the given ``gates``
    (e.g. the current neurons'); and ``n_ascent`` fixed-point steps ``u <- s A^T D(u) z / ||.||``
    (``D(u) = diag(1[A u >= 0])``, ``s = +-1``) started from all of them, which climb
    ``u -> s z^T (A u)_+`` on the unit sphere; the starts and, per start and sign, the iterate
    with the largest ``s z^T (A u)_+`` are kept.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    z : ndarray of shape (n_samples,)
        The dual point (``-grad F(predictions)``).
    fit_intercept : bool, default=True
    gates : ndarray of shape (n_features + fit_intercept, k), optional
    n_samples : int, default=N_STARTS (100)
    n_ascent : int, default=20
    random_state : int, Generator or None

    Returns
    -------
    ActivationPatterns
    """
    X = check_matrix(X, "X")
    A = add_intercept(X) if fit_intercept else X
    z = check_target(z, X.shape[0])
    check_positive(n_samples, "n_samples", integer=True)
    check_positive(n_ascent, "n_ascent", integer=True, strict=False)
    rng = check_random_state(random_state)
    starts = [rng.standard_normal((A.shape[1], int(n_samples)))]
    if gates is not None:
        gates = np.asarray(gates, dtype=np.float64)
        if gates.ndim != 2 or gates.shape[0] != A.shape[1]:
            raise ValueError(
                f"gates must have shape ({A.shape[1]}, k) for this X (fit_intercept="
                f"{fit_intercept}), got {gates.shape}."
            )
        starts.append(gates)
    found = [np.hstack(starts)]
    # the ascent runs in float32: it only proposes gates (any gate gives a valid candidate, whose
    # pattern is computed in float64 below), and its two GEMMs and one pass a step then move half
    # the bytes (4.6 -> 1.8 s at n = 50,000, d = 20, 250 starts)
    A32 = A.astype(np.float32)
    Az32 = np.ascontiguousarray((A * z[:, None]).T, dtype=np.float32)  # rows weighted by z
    # The ascent is not monotone (it jumps between patterns), so each start keeps its best
    # iterate, by the value s z^T (A u)_+ (a lower bound on the oracle of u's own pattern; the
    # dot product of u with its next step), not its last one. Measured at the certificates of the
    # default fits, the excess of the best oracle value found over lam, summed: 0.81 -> 2.08 over
    # the 30 one-vs-rest programs of digits (3 splits), 0.24 -> 0.46 on diabetes, 0.00 -> 0.03 on
    # make_teacher(5000, 20) (3 seeds), in about the same time: the end points had missed the
    # patterns that violate most, and the estimated gaps were too small.
    for sign in (1.0, -1.0):
        U = np.hstack(starts).astype(np.float32)
        live = np.arange(U.shape[1])  # the starts the columns of U descend from
        best, best_value = U.copy(), np.full(U.shape[1], -np.inf, dtype=np.float32)
        D = np.empty((A.shape[0], U.shape[1]), dtype=np.float32)
        for _ in range(int(n_ascent)):
            if D.shape[1] != U.shape[1]:
                D = np.empty((A.shape[0], U.shape[1]), dtype=np.float32)
            np.greater_equal(A32 @ U, 0.0, out=D, casting="unsafe")  # D(u) as 0/1
            step = Az32 @ D
            if sign < 0:
                np.negative(step, out=step)
            value = np.einsum("ij,ij->j", step, U)  # s z^T (A u)_+
            better = value > best_value[live]
            best_value[live[better]] = value[better]
            best[:, live[better]] = U[:, better]
            norms = np.linalg.norm(step, axis=0)
            keep = norms > 0
            if not keep.any():
                break
            U, live = step[:, keep] / norms[keep], live[keep]
        found.append(best.astype(np.float64))  # each start's best iterate
    gates = np.hstack(found)
    return ActivationPatterns(gates, A @ gates >= 0, fit_intercept).unique(drop_zero=True)
