"""Global-optimality certificates, pattern discovery by column generation, and pruning.

A convex program over *some* activation patterns is an upper bound on the training problem; the
theory promises the optimum over *all* of them (the infinite-width problem, MATH.md "Duality and
the global-optimality certificate"). This module delivers it with a certificate:

* :func:`certify` takes predictions on the training data (of a convex solution, a network or a
  fitted estimator), forms ``z = -grad F(predictions)``, evaluates the dual oracle
  ``M(z) = max_i max_{u in K_i, ||u|| <= 1} |(X^T D_i z)^T u|`` over a set of patterns, and returns
  the lower bound ``loss.dual(s z)`` with ``s = min(1, lam / M(z))``. Over *all* patterns (listed
  by :func:`~convexnn.patterns.enumerate_patterns`) the oracle is exact and so is the bound; over a
  searched subset the oracle can only be too small, so the "bound" is an estimate and the
  certificate says so (``exact=False``).
* :func:`column_generation` is the cutting-plane method of Ergen & Pilanci (JMLR 2021, Alg. 1): solve
  over the current patterns, score candidate patterns with the oracle, add those whose dual
  constraint is violated, re-solve warm, until no candidate violates.
* :func:`candidate_patterns` proposes patterns when enumeration is unaffordable: sampled gates, the
  current neurons' gates, and local ascent on ``u -> s z^T (X u)_+`` (the fixed-point step
  ``u <- s X^T D(u) z / ||.||``).
* :func:`prune` removes neurons whose fits are linearly dependent without changing the predictions
  and without increasing the penalty, down to at most ``rank <= n`` neurons (the Caratheodory
  argument of Pilanci & Ergen 2020 and Mishkin & Pilanci 2023).

The oracle per (pattern, sign) is the norm of the projection of ``a = s X^T D_i z`` onto the
polyhedral cone ``K_i = {u : (2 D_i - I) X u >= 0}``, computed by one non-negative least-squares
solve (finite, exact up to rounding); for the gated program it is ``||X^T D_i z||``.
"""

import dataclasses
import logging
import math
import warnings

import numpy as np

from .losses import get_loss
from .oracle import best_block, block_scores
from .patterns import ActivationPatterns, count_patterns, enumerate_patterns, sample_patterns
from .problems import GatedReLUProblem, ReLUProblem
from .validation import add_intercept, check_matrix, check_positive, check_random_state, check_target

__all__ = [
    "Certificate",
    "ColumnGenerationResult",
    "block_scores",
    "candidate_patterns",
    "certify",
    "column_generation",
    "prune",
]

logger = logging.getLogger(__name__)

_FORMULATIONS = {"relu": ReLUProblem, "gated": GatedReLUProblem}


def _formulation(formulation):
    if formulation not in _FORMULATIONS:
        raise ValueError(f"formulation must be 'relu' or 'gated', got {formulation!r}.")
    return _FORMULATIONS[formulation]


@dataclasses.dataclass
class Certificate:
    """How far a fit is from the global optimum of the (infinite-width) training problem.

    Attributes
    ----------
    objective : float
        The objective of the fit being certified (convex objective, or the network's ``L_nc``).
    lower_bound : float
        ``loss.dual(s z)``: a lower bound on the optimum over all patterns when ``exact``; an
        estimate (possibly above the optimum) otherwise.
    oracle : float
        ``M(z)`` over the patterns searched (a lower estimate of the true ``M(z)`` unless ``exact``).
    lam : float
    exact : bool
        True when every pattern of the data was scored, so the bound is certified.
    n_patterns : int
        Number of patterns scored.
    best_pattern : ActivationPatterns
        The single pattern with the largest oracle value (the most violated dual constraint).
    """

    objective: float
    lower_bound: float
    oracle: float
    lam: float
    exact: bool
    n_patterns: int
    best_pattern: object = None

    @property
    def gap(self):
        """``objective - lower_bound`` (never negative beyond rounding when ``exact``)."""
        return self.objective - self.lower_bound

    @property
    def rel_gap(self):
        """Gap relative to ``|objective|``."""
        return self.gap / max(abs(self.objective), np.finfo(float).tiny)

    def is_optimal(self, tol=1e-6):
        """True when the certificate is exact and the relative gap is at most ``tol``."""
        return self.exact and self.rel_gap <= tol

    def __str__(self):
        kind = "certified" if self.exact else "estimated (patterns searched, not all)"
        return (
            f"objective {self.objective:.6g}, lower bound {self.lower_bound:.6g} ({kind}), "
            f"relative gap {self.rel_gap:.2e}, M(z)/lam = {self.oracle / max(self.lam, 1e-300):.4f} "
            f"over {self.n_patterns} patterns"
        )


def _pattern_scores(problem, z, threshold=0.0):
    """Per pattern of ``problem``: the largest score over its blocks (both signs for ReLU)."""
    scores = block_scores(problem, z, threshold)
    best = np.zeros(problem.patterns.n_patterns)
    np.maximum.at(best, problem.block_pattern, scores)
    return best


def _dual_point(loss, y, predictions):
    return -loss.gradient(predictions, y)


def candidate_patterns(
    X, z, *, fit_intercept=True, gates=None, n_samples=200, n_ascent=20, random_state=None
):
    """Candidate patterns for the dual oracle when listing all of them is unaffordable.

    Three sources, merged and de-duplicated: ``n_samples`` Gaussian gates; the given ``gates``
    (e.g. the current neurons'); and ``n_ascent`` fixed-point steps ``u <- s A^T D(u) z / ||.||``
    (``D(u) = diag(1[A u >= 0])``, ``s = +-1``) started from all of them, which climb
    ``u -> s z^T (A u)_+`` on the unit sphere; the starts and the end points are kept.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    z : ndarray of shape (n_samples,)
        The dual point (``-grad F(predictions)``).
    fit_intercept : bool, default=True
    gates : ndarray of shape (n_features + fit_intercept, k), optional
    n_samples : int, default=200
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
    for sign in (1.0, -1.0):
        U = np.hstack(starts)
        for _ in range(int(n_ascent)):
            D = A @ U >= 0
            U = sign * (A.T @ (D * z[:, None]))
            norms = np.linalg.norm(U, axis=0)
            keep = norms > 0
            if not keep.any():
                break
            U = U[:, keep] / norms[keep]
        found.append(U)  # the end points (memory: three times the starts, whatever n_ascent)
    gates = np.hstack(found)
    return ActivationPatterns(gates, A @ gates >= 0, fit_intercept).unique(drop_zero=True)


def pattern_count(X, fit_intercept):
    """Number of patterns of ``X`` in general position (an upper bound otherwise; 0 if X is 0)."""
    A = add_intercept(X) if fit_intercept else X
    rank = int(np.linalg.matrix_rank(A))
    return count_patterns(A.shape[0], rank) if rank else 0


def _all_patterns(X, fit_intercept, max_patterns):
    """All patterns of ``X`` if their count is at most ``max_patterns``, else None."""
    count = pattern_count(X, fit_intercept)
    if count == 0 or count > max_patterns:
        return None
    return enumerate_patterns(X, fit_intercept=fit_intercept, max_patterns=max_patterns)


def certify(
    X,
    y,
    predictions,
    objective,
    lam,
    *,
    loss="squared",
    formulation="relu",
    fit_intercept=True,
    patterns=None,
    max_patterns=5000,
    gates=None,
    random_state=None,
):
    """Certificate of global optimality for a fit with the given training predictions.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        The target the fit was trained on (for classification, the +-1 labels).
    predictions : array-like of shape (n_samples,)
        The fit's outputs on ``X``.
    objective : float
        The fit's objective (convex objective or network ``L_nc``); the gap is measured from it.
    lam : float
    loss : str or Loss, default='squared'
    formulation : {'relu', 'gated'}, default='relu'
        'relu' certifies against the ReLU training problem (cone-constrained oracle); 'gated'
        against the gated ReLU problem over all gates (oracle ``||X^T D_i z||``).
    fit_intercept : bool, default=True
    patterns : ActivationPatterns, optional
        Score exactly these patterns (the certificate is exact only if they are all of them).
        By default all patterns are listed when there are at most ``max_patterns`` (exact),
        otherwise :func:`candidate_patterns` searches (estimate).
    max_patterns : int, default=5000
    gates : ndarray, optional
        Extra starting gates for the search (e.g. the fit's own neurons).
    random_state : int, Generator or None

    Returns
    -------
    Certificate
    """
    X = check_matrix(X, "X")
    loss = get_loss(loss)
    y = loss.check_target(check_target(y, X.shape[0]))
    predictions = check_target(predictions, X.shape[0], name="predictions")
    check_positive(lam, "lam", strict=False)
    problem_class = _formulation(formulation)
    z = _dual_point(loss, y, predictions)
    exact = False
    if patterns is None:
        patterns = _all_patterns(X, fit_intercept, max_patterns)
        exact = patterns is not None
        if patterns is None:
            patterns = candidate_patterns(
                X, z, fit_intercept=fit_intercept, gates=gates, random_state=random_state
            )
    elif not isinstance(patterns, ActivationPatterns):
        raise ValueError(f"patterns must be an ActivationPatterns, got {type(patterns).__name__}.")
    else:
        full = _all_patterns(X, patterns.fit_intercept, max_patterns)
        exact = full is not None and bool(patterns.contains(full).all())
    problem = problem_class(X, y, patterns, lam=lam, loss=loss)
    oracle, block = best_block(problem, z)
    best = int(problem.block_pattern[block])
    scale = 1.0 if oracle <= lam else lam / oracle
    return Certificate(
        objective=float(objective),
        lower_bound=float(loss.dual(scale * z, y)),
        oracle=oracle,
        lam=float(lam),
        exact=exact,
        n_patterns=patterns.n_patterns,
        best_pattern=patterns.subset([best]),
    )


@dataclasses.dataclass
class ColumnGenerationResult:
    """Outcome of :func:`column_generation`.

    Attributes
    ----------
    problem : ConvexProblem
        The program over the final patterns.
    result : SolveResult
        Its solution.
    certificate : Certificate
        Of the final solution (exact when the oracle listed all patterns).
    n_rounds : int
    history : list of dict
        Per round: patterns, objective, oracle / lam, lower bound, patterns added.
    """

    problem: object
    result: object
    certificate: object
    n_rounds: int
    history: list

    @property
    def patterns(self):
        return self.problem.patterns


def _extend(old_problem, old_coef, new_problem):
    """Coefficients of ``new_problem`` with the same predictions as ``old_coef`` of ``old_problem``.

    Blocks are matched by pattern (its mask on the data, so the new patterns may be in any order)
    and sign; old blocks whose pattern ``new_problem`` lacks are dropped, new blocks without an old
    one are zero. A ReLU block moved into a gated program (one block per pattern, sign +1) is
    added to its pattern's block with its sign: ``u_i = v_i - w_i`` has the same predictions and,
    by the triangle inequality, no larger penalty. Between programs of the same kind, blocks are
    copied, so a feasible point stays feasible and keeps its objective when every old pattern is
    present.
    """
    coef = new_problem.zeros()
    pattern_map = new_problem.patterns.locate(old_problem.patterns)
    new_blocks = {
        (int(p), float(s)): b
        for b, (p, s) in enumerate(zip(new_problem.block_pattern, new_problem.block_sign))
    }
    for b, (p, s) in enumerate(zip(old_problem.block_pattern, old_problem.block_sign)):
        target = int(pattern_map[int(p)])
        if target < 0:
            continue
        same_sign = new_blocks.get((target, float(s)))
        if same_sign is not None:
            coef[same_sign] += old_coef[b]
        else:  # the new program has one sign per pattern (gated): fold the sign in
            coef[new_blocks[(target, 1.0)]] += float(s) * old_coef[b]
    return coef


def column_generation(
    X,
    y,
    lam,
    *,
    loss="squared",
    formulation="relu",
    fit_intercept=True,
    patterns=None,
    init=None,
    solver="auto",
    tol=1e-6,
    max_rounds=50,
    add_per_round=10,
    max_patterns=5000,
    random_state=None,
    **solver_options,
):
    """Find the patterns that matter: the cutting-plane method of Ergen & Pilanci (2021, Alg. 1).

    Start from ``patterns`` (default: one sampled pattern), solve, score candidate patterns with
    the exact per-pattern oracle at the solution's dual point, add up to ``add_per_round`` of
    those whose dual constraint is violated (value > ``lam (1 + tol)``), re-solve from the previous
    solution, and stop when none is violated or ``max_rounds`` is reached (ConvergenceWarning).
    Candidates are all patterns when there are at most ``max_patterns`` of them (then the final
    certificate is exact), else :func:`candidate_patterns` around the current neurons.

    Parameters
    ----------
    X, y : training data (y: targets, or +-1 labels for the logistic loss)
    lam : float
    loss : str or Loss, default='squared'
    formulation : {'relu', 'gated'}, default='relu'
    fit_intercept : bool, default=True
    patterns : ActivationPatterns, optional
        Starting patterns (e.g. those of a trained network, see :func:`from_network`).
    init : ndarray, optional
        Starting coefficients for ``patterns`` (shape of that problem's coef).
    solver : str or Solver, default='auto'
    tol : float, default=1e-6
        Solver tolerance and the relative violation below which the oracle counts as satisfied.
    max_rounds, add_per_round, max_patterns : int
    random_state : int, Generator or None
    **solver_options
        Passed to :func:`~convexnn.solvers.get_solver` with a solver name.

    Returns
    -------
    ColumnGenerationResult
    """
    from .results import ConvergenceWarning
    from .solvers import get_solver

    X = check_matrix(X, "X")
    loss = get_loss(loss)
    y = loss.check_target(check_target(y, X.shape[0]))
    check_positive(lam, "lam", strict=False)
    check_positive(tol, "tol")
    check_positive(max_rounds, "max_rounds", integer=True)
    check_positive(add_per_round, "add_per_round", integer=True)
    problem_class = _formulation(formulation)
    rng = check_random_state(random_state)
    if isinstance(solver, str):
        solver = get_solver(solver, tol=tol, **solver_options)
    else:
        solver = get_solver(solver)
    full = _all_patterns(X, fit_intercept, max_patterns)
    if patterns is None:
        patterns = sample_patterns(X, 1, fit_intercept=fit_intercept, random_state=rng)
        while patterns.n_patterns == 0:  # the single gate may give the empty pattern
            patterns = sample_patterns(X, 1, fit_intercept=fit_intercept, random_state=rng)
    problem = problem_class(X, y, patterns, lam=lam, loss=loss)
    coef = None if init is None else problem.check_coef(init)
    history = []
    for round_ in range(1, int(max_rounds) + 1):
        result = solver.solve(problem, init=coef)
        coef = result.coef
        z = _dual_point(loss, y, problem.predict(coef))
        if full is not None:
            candidates = full
        else:
            active = problem.active_blocks(coef)
            gates = coef[active].T if active.size else None
            candidates = candidate_patterns(
                X, z, fit_intercept=fit_intercept, gates=gates, random_state=rng
            )
        scoring = problem_class(X, y, candidates, lam=lam, loss=loss)
        scores = _pattern_scores(scoring, z, threshold=lam)
        new = ~problem.patterns.contains(candidates)
        violated = np.flatnonzero(new & (scores > lam * (1 + tol)))
        oracle = float(scores.max())
        scale = 1.0 if oracle <= lam else lam / oracle
        history.append({
            "round": round_,
            "n_patterns": problem.patterns.n_patterns,
            "objective": result.objective,
            "oracle_ratio": oracle / lam if lam > 0 else math.inf,
            "lower_bound": float(loss.dual(scale * z, y)),
            "added": int(min(violated.size, add_per_round)),
        })
        logger.info("column generation round %d: %s", round_, history[-1])
        if violated.size == 0:
            break
        top = violated[np.argsort(-scores[violated])[: int(add_per_round)]]
        bigger = problem_class(X, y, problem.patterns.union(candidates.subset(top)), lam=lam,
                               loss=loss)
        coef = _extend(problem, coef, bigger)
        problem = bigger
    else:
        warnings.warn(
            f"column generation stopped after max_rounds={max_rounds} rounds with dual "
            f"constraints still violated (M(z)/lam = {history[-1]['oracle_ratio']:.4f}); raise "
            "max_rounds or add_per_round.",
            ConvergenceWarning,
            stacklevel=2,
        )
    certificate = certify(
        X, y, problem.predict(result.coef), result.objective, lam, loss=loss,
        formulation=formulation, fit_intercept=fit_intercept,
        patterns=full if full is not None else candidates.union(problem.patterns),
        max_patterns=max_patterns,
    )
    return ColumnGenerationResult(problem, result, certificate, len(history), history)


def from_network(network, X, y, lam, *, loss="squared", **options):
    """Warm start from a trained network: its own patterns, then :func:`column_generation`.

    The network is embedded in the convex program over its patterns (MATH.md reverse embedding,
    objective at most the network's ``L_nc``); column generation then starts from that point, so
    the result's objective is at most the network's, up to the solver tolerance.
    """
    problem, coef = network.to_convex(X, y, lam, loss=loss)
    options.setdefault("fit_intercept", problem.fit_intercept)
    options.setdefault("formulation", "gated" if not problem.has_constraints else "relu")
    return column_generation(
        X, y, lam, loss=loss, patterns=problem.patterns, init=coef, **options
    )


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
