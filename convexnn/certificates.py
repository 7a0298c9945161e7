"""Global-optimality certificates: how far a fit is from the optimum over all patterns.

A convex program over *some* activation patterns is an upper bound on the training problem; the
theory promises the optimum over *all* of them (the infinite-width problem, doc/math.rst "Duality and
the global-optimality certificate"). :func:`certify` takes predictions on the training data (of a
convex solution, a network or a fitted estimator), forms ``z = -grad F(predictions)``, evaluates
the dual oracle ``M(z) = max_i max_{u in K_i, ||u|| <= 1} |(X^T D_i z)^T u|`` over a set of
patterns, and returns the lower bound ``loss.dual(s z)`` with ``s = min(1, lam / M(z))`` as a
:class:`Certificate`. Over *all* patterns (listed by
:func:`~convexnn.patterns.enumerate_patterns`) the oracle is exact and so is the bound; over a
searched subset (:func:`~convexnn.candidates.candidate_patterns`) the oracle can only be too small,
so the "bound" is an estimate and the certificate says so (``exact=False``).

The estimators certify a fit of several outputs (one program each, over shared patterns):
:func:`certify_outputs` sums the per-output certificates and measures the restricted gap from the
solvers' own bounds; :func:`solver_bounds` is the certificate that needs no oracle (the deep
programs, where none exists over all nested patterns): the bound of the programs solved only.

The oracle per (pattern, sign) is the norm of the projection of ``a = s X^T D_i z`` onto the
polyhedral cone ``K_i = {u : (2 D_i - I) X u >= 0}``, computed by one non-negative least-squares
solve (:mod:`convexnn.oracle`); for the gated program it is ``||X^T D_i z||``.

The pattern search that uses these certificates (column generation, the Adam start) is in
:mod:`convexnn.search`; pruning is in :mod:`convexnn.pruning`.
"""

import dataclasses

import numpy as np
from sklearn.utils import Bunch

from .candidates import all_patterns, candidate_patterns, pattern_count
from .candidates import dual_point as dual_point_of
from .losses import get_loss
from .oracle import best_block, block_scores
from .patterns import ActivationPatterns
from .problems import GatedReLUProblem, ReLUProblem
from .pruning import prune
from .validation import check_matrix, check_positive, check_target

__all__ = [
    "Certificate",
    "block_scores",
    "candidate_patterns",
    "certify",
    "certify_outputs",
    "pattern_count",
    "prune",
    "solver_bounds",
]

_FORMULATIONS = {"relu": ReLUProblem, "gated": GatedReLUProblem}


def formulation_class(formulation):
    """The problem class of ``formulation`` ('relu' or 'gated'), or a ValueError naming it."""
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
    dual_point=None,
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
    dual_point : ndarray of shape (n_samples,), optional
        The dual point to score in place of ``z = -grad F(predictions)``: a solver's point of
        the fit's own program (:attr:`SolveResult.dual <convexnn.results.SolveResult>`). Any
        point gives a valid bound once scaled by the oracle; a solver's point already satisfies
        the dual constraints of the program's own patterns, which ``z`` at a point solved to a
        relative gap ``tol`` misses by about ``sqrt(tol)`` (0.1-1% on the bundled data sets), so
        the bound it gives is the tighter one.

    Returns
    -------
    Certificate
    """
    X = check_matrix(X, "X")
    loss = get_loss(loss)
    y = loss.check_target(check_target(y, X.shape[0]))
    predictions = check_target(predictions, X.shape[0], name="predictions")
    check_positive(lam, "lam", strict=False)
    problem_class = formulation_class(formulation)
    z = (dual_point_of(loss, y, predictions) if dual_point is None
         else check_target(dual_point, X.shape[0], name="dual_point"))
    exact = False
    if patterns is None:
        patterns = all_patterns(X, fit_intercept, max_patterns)
        exact = patterns is not None
        if patterns is None:
            patterns = candidate_patterns(
                X, z, fit_intercept=fit_intercept, gates=gates, random_state=random_state
            )
    elif not isinstance(patterns, ActivationPatterns):
        raise ValueError(f"patterns must be an ActivationPatterns, got {type(patterns).__name__}.")
    else:
        full = all_patterns(X, patterns.fit_intercept, max_patterns)
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


def _relative(objective, bound):
    return float((objective - bound) / max(abs(objective), np.finfo(float).tiny))


def certify_outputs(
    X, problems, results, lam, *, full=None, loss="squared", formulation="relu",
    fit_intercept=True, max_patterns=5000, random_state=None, estimates=None,
):
    """The certificate of a fit of several outputs: one program per output over shared patterns.

    Each output is certified by :func:`certify` at its solution (over ``full``, all patterns, when
    given, else over a search around the solution's own neurons; at the solver's dual point
    ``result.dual`` when it keeps one) and the bounds are summed. Over
    every pattern (``full`` given and contained in the programs' patterns) the solver's own bound,
    built with its cone multipliers, bounds the whole training problem too, and the larger of the
    two is taken.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    problems : list of ConvexProblem
        One per output, over the same patterns.
    results : list of SolveResult
        Their solutions.
    lam : float
    full : ActivationPatterns or None
        Every pattern of ``X`` (an exact certificate), or None (an estimate).
    loss, formulation, fit_intercept, max_patterns, random_state
        As for :func:`certify` (``random_state`` an int or None: every output searches with it).
    estimates : list of (float or None), optional
        Per output, an estimated lower bound already computed at this solution over searched
        candidates (the last round of column generation,
        :meth:`convexnn.families.TwoLayerFamily.grow`): taken instead of a new search when
        ``full`` is None.

    Returns
    -------
    Bunch
        ``lower_bound`` (float, summed over outputs), ``optimality_gap`` (relative to the summed
        objective), ``certificate_exact`` (bool: ``full`` was given) and ``restricted_gap``
        (relative gap of the programs solved, from the solvers' bounds; None when a solver gives
        none).
    """
    objective = float(sum(r.objective for r in results))
    bounds, exact = [], full is not None
    complete = exact and bool(problems[0].patterns.contains(full).all())
    for c, (problem, result) in enumerate(zip(problems, results)):
        if not exact and estimates is not None and estimates[c] is not None:
            bounds.append(float(estimates[c]))
            continue
        gates = result.coef.T if result.coef.size else None
        certificate = certify(
            X, problem.y, problem.predict(result.coef), result.objective, lam,
            loss=loss, formulation=formulation, fit_intercept=fit_intercept,
            patterns=full, gates=gates, random_state=random_state, max_patterns=max_patterns,
            dual_point=result.dual,
        )
        bound = certificate.lower_bound
        if complete and result.lower_bound is not None:
            bound = max(bound, result.lower_bound)
        bounds.append(bound)
    lower_bound = float(sum(bounds))
    return Bunch(
        lower_bound=lower_bound,
        optimality_gap=_relative(objective, lower_bound),
        certificate_exact=bool(exact),
        restricted_gap=solver_bounds(results).optimality_gap,
    )


def solver_bounds(results):
    """The certificate of the programs solved, from the solvers' own bounds (no oracle).

    Parameters
    ----------
    results : list of SolveResult
        One per output.

    Returns
    -------
    Bunch
        ``lower_bound``: the solvers' certified lower bounds summed over outputs, a bound on the
        optimum of the programs solved (not of the training problem over every pattern), and
        ``optimality_gap``, the relative gap of the summed objective to it; both None when a
        solver gives no bound.
    """
    bounds = [r.lower_bound for r in results]
    if any(b is None for b in bounds):
        return Bunch(lower_bound=None, optimality_gap=None)
    lower_bound = float(sum(bounds))
    objective = float(sum(r.objective for r in results))
    return Bunch(lower_bound=lower_bound, optimality_gap=_relative(objective, lower_bound))
