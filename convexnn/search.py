"""Pattern search: which activation patterns the convex program is solved over.

The convex program over *all* patterns is the training problem; over a few it is an upper bound.
This module finds the few that matter, for one output or several outputs over shared patterns:

* :func:`grow_patterns` is column generation, the cutting-plane method of Ergen & Pilanci (JMLR
  2021, Alg. 1): from solved programs, score candidate patterns with the dual oracle
  (:mod:`convexnn.candidates`) at every output's dual point, add those whose dual constraint is
  most violated for any output, move every solution into the bigger program (:func:`extend`) and
  re-solve from there, until no candidate violates, the pattern budget is spent or the rounds run
  out. :func:`column_generation` runs it for one output from a single sampled pattern (or from a
  trained network's own patterns, :func:`from_network`) and certifies the end point.
* :func:`adam_embeddings` is the Adam start: per output, a network trained with
  :func:`convexnn.sgd.train` and embedded in the convex program over its own patterns (doc/math.rst,
  reverse embedding), a feasible point whose objective is at most the network's; the Adam
  schedule is :func:`sgd_schedule`.
* :func:`solve_outputs` solves one program per output; wrap the solver in
  :class:`~convexnn.solvers.guard.Guarded` so that a solve from a feasible start (an embedding, the
  previous round) never returns a worse point.

The estimators (:mod:`convexnn.estimators`, :mod:`convexnn.deep.estimators`) run their
``pattern_search`` strategies through these functions.
"""

import dataclasses
import logging
import math
import warnings
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_random_state as _legacy_random_state

from .candidates import all_patterns, candidate_patterns, dual_point, pattern_count, pattern_scores
from .certificates import certify, formulation_class
from .losses import get_loss
from .networks import StackedNetworks
from .patterns import enumerate_patterns, sample_patterns
from .results import ConvergenceWarning, SolveResult
from .sgd import train
from .solvers import get_solver
from .solvers.guard import Guarded
from .validation import check_matrix, check_positive, check_random_state, check_target

__all__ = [
    "ColumnGenerationResult",
    "adam_embeddings",
    "column_generation",
    "extend",
    "from_network",
    "grow_patterns",
    "objective_curve",
    "resolve_strategy",
    "seed_of",
    "sgd_schedule",
    "solve_outputs",
    "starting_patterns",
]

logger = logging.getLogger(__name__)

#: Adam steps of the start (training stops earlier when the loss stalls), and the largest full
#: batch: beyond it the steps are minibatches of that size, so the start costs at most about
#: SGD_STEPS * SGD_BATCH sample gradients whatever n is. The start only has to find patterns; the
#: solve then optimizes over them exactly. Measured with the default estimators (4 splits each,
#: 2000 -> 500 steps): the final objective unchanged to 4 digits on wine, iris and
#: breast_cancer, +0.5% on diabetes (test R^2 0.345 -> 0.347); the wine fit 2.4 s -> 1.3 s.
SGD_STEPS = 500
SGD_BATCH = 1024
#: The start stops when 50 epochs in a row do not improve the best objective by this fraction
#: (scikit-learn's MLP stops at the same 1e-4, on an absolute loss change). Measured with the
#: default estimators (3 splits each, 1e-6 -> 1e-4): the same final objective to 5 digits on
#: diabetes, breast_cancer, wine and iris; the breast_cancer start 0.34 s -> 0.15 s, iris
#: 0.43 s -> 0.34 s. At 1e-3 the diabetes objective rose by 1.7%.
SGD_TOL = 1e-4
#: Adam's learning rate for a full batch (minibatches keep ``train``'s 0.01). Measured with the
#: default estimators (3 splits each, 0.01 -> 0.02): the final objective summed over the splits
#: 0.5681 -> 0.5628 on diabetes, 0.28785 -> 0.28779 on breast_cancer, 0.639055 -> 0.639027 on
#: wine, 1.131102 -> 1.131083 on iris, and the start 0.14-0.26 s -> 0.11-0.19 s. With minibatches
#: (n = 5,000 teacher data, digits) 0.03 and 0.05 ended 0.3-1% higher.
SGD_FULL_BATCH_RATE = 0.02


def seed_of(random_state):
    """An int seed derived from ``random_state`` (None stays random, a RandomState draws one).

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState

    Returns
    -------
    int or None
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(_legacy_random_state(random_state).randint(2**31 - 1))


def sgd_schedule(n_samples):
    """``train`` keywords of the Adam start for ``n_samples`` rows.

    Full batch for up to ``SGD_BATCH`` rows (``SGD_STEPS`` epochs, learning rate
    ``SGD_FULL_BATCH_RATE``), else minibatches of
    ``SGD_BATCH`` for about ``SGD_STEPS`` steps in all (at least 3 epochs; each epoch also
    evaluates the full objective); stopped earlier once the objective improves by less than
    ``SGD_TOL`` (relative) in 50 epochs. Measured at
    n = 20,000 (``make_teacher``, d = 20, 50 patterns): full-batch Adam took 32 s; see
    ``benchmarks/versus_mlp.py`` for the fits this start seeds.

    Parameters
    ----------
    n_samples : int

    Returns
    -------
    dict
        ``max_epochs``, ``tol`` and, up to ``SGD_BATCH`` rows, ``learning_rate``; beyond,
        ``batch_size`` and ``n_iter_no_change``.
    """
    if n_samples <= SGD_BATCH:
        return {"max_epochs": SGD_STEPS, "tol": SGD_TOL, "learning_rate": SGD_FULL_BATCH_RATE}
    epochs = max(3, math.ceil(SGD_STEPS / math.ceil(n_samples / SGD_BATCH)))
    return {"max_epochs": epochs, "tol": SGD_TOL, "batch_size": SGD_BATCH,
            "n_iter_no_change": max(2, min(50, epochs // 4))}


def resolve_strategy(strategy, X, n_patterns, fit_intercept):
    """The pattern search to run: ``strategy``, with 'auto' resolved for this ``X``.

    'auto' is 'enumerated' when every pattern of ``X`` (counted as for points in general
    position, doc/math.rst) fits the budget ``n_patterns``, else 'sgd' (the measurements behind the
    rule are in :class:`~convexnn.ConvexReLURegressor`'s docstring).

    Parameters
    ----------
    strategy : {'auto', 'sampled', 'enumerated', 'column_generation', 'sgd'}
    X : ndarray of shape (n_samples, n_features)
    n_patterns : int
    fit_intercept : bool

    Returns
    -------
    str
    """
    if strategy != "auto":
        return strategy
    if pattern_count(X, fit_intercept) <= n_patterns:
        return "enumerated"
    return "sgd"


def starting_patterns(X, strategy, n_patterns, fit_intercept, *, random_state=None):
    """The patterns a search starts from: all of them ('enumerated'), the budget sampled
    ('sampled', also the fallback of 'sgd') or a quarter of it ('column_generation').

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    strategy : {'sampled', 'enumerated', 'column_generation', 'sgd'}
    n_patterns : int
        The pattern budget.
    fit_intercept : bool
    random_state : None, int, RandomState or Generator
        Seed of the sampled gates.

    Returns
    -------
    ActivationPatterns

    Raises
    ------
    ValueError
        For 'enumerated' when ``X`` has more patterns than ``n_patterns``, and when no pattern is
        active on any sample (``X`` zero without intercept).
    """
    if strategy == "enumerated":
        count = pattern_count(X, fit_intercept)
        if count > n_patterns:
            raise ValueError(
                f"pattern_search='enumerated' needs every pattern of X, up to {count} here, more "
                f"than n_patterns={n_patterns}; raise n_patterns or use pattern_search="
                "'column_generation'."
            )
        return enumerate_patterns(X, fit_intercept=fit_intercept, max_patterns=max(n_patterns, 1))
    budget = n_patterns if strategy == "sampled" else max(1, n_patterns // 4)
    patterns = sample_patterns(X, budget, fit_intercept=fit_intercept, random_state=random_state)
    if patterns.n_patterns == 0:  # only when every row of X is zero and there is no intercept
        raise ValueError(
            "no activation pattern is active on any sample (X is zero and fit_intercept=False);"
            " set fit_intercept=True."
        )
    return patterns


def extend(old_problem, old_coef, new_problem):
    """Coefficients of ``new_problem`` with the same predictions as ``old_coef`` of ``old_problem``.

    Blocks are matched by pattern (its mask on the data, so the new patterns may be in any order)
    and sign; old blocks whose pattern ``new_problem`` lacks are dropped, new blocks without an old
    one are zero. A ReLU block moved into a gated program (one block per pattern, sign +1) is
    added to its pattern's block with its sign: ``u_i = v_i - w_i`` has the same predictions and,
    by the triangle inequality, no larger penalty. Between programs of the same kind, blocks are
    copied, so a feasible point stays feasible and keeps its objective when every old pattern is
    present.

    Parameters
    ----------
    old_problem, new_problem : ConvexProblem
        Two-layer programs (:class:`~convexnn.problems.ReLUProblem` or
        :class:`~convexnn.problems.GatedReLUProblem`) on the same data.
    old_coef : ndarray of shape ``old_problem.coef_shape``

    Returns
    -------
    ndarray of shape ``new_problem.coef_shape``
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


def solve_outputs(solver, problems, init=None, progress=None):
    """Solve one program per output, each from its start where the start's shape fits.

    Parameters
    ----------
    solver : Solver
        Wrap it in :class:`~convexnn.solvers.guard.Guarded` for exact zero-target solutions and,
        with feasible starts, results never worse than the start.
    problems : list of ConvexProblem
    init : list of ndarray or SolveResult, or None
        ``init[c]`` starts ``problems[c]`` when its shape is ``problems[c].coef_shape``; a
        :class:`~convexnn.results.SolveResult` is already the solution of ``problems[c]`` and is
        kept without a solve (:func:`grow_patterns` for an output the added patterns leave
        optimal).
    progress : callable, optional
        ``progress(iterable, desc)`` wraps the loop over outputs (e.g. a tqdm bar).

    Returns
    -------
    list of SolveResult
    """
    results = []
    outputs = problems if progress is None else progress(problems, "outputs")
    for c, problem in enumerate(outputs):
        if init is not None and c < len(init) and isinstance(init[c], SolveResult):
            results.append(init[c])
            continue
        start = None
        if init is not None and c < len(init) and init[c].shape == problem.coef_shape:
            start = init[c]
        result = solver.solve(problem, init=start)
        results.append(result)
        logger.info("output %d: %s, objective %.6g", c, result.status, result.objective)
    return results


def objective_curve(solves):
    """The objective summed over outputs at every recorded solver iteration.

    Parameters
    ----------
    solves : list of list of SolveResult
        The solves of a fit in order, each one result per output. Within a solve, an output
        whose solver stopped earlier counts with its last recorded objective; the solves are
        concatenated.

    Returns
    -------
    ndarray of shape (n_records,)
        Empty when the solvers keep no history (cvxpy).
    """
    curve = []
    for results in solves:
        per_output = [
            [record["objective"] for record in r.history if record.get("objective") is not None]
            for r in results
        ]
        per_output = [values for values in per_output if values]
        if len(per_output) < len(results):  # an output without history: no meaningful sum
            continue
        length = max(len(values) for values in per_output)
        padded = [values + [values[-1]] * (length - len(values)) for values in per_output]
        curve.extend(np.sum(padded, axis=0).tolist())
    return np.asarray(curve, dtype=np.float64)


def adam_embeddings(X, targets, lam, loss, new_network, *, random_state=None, **train_options):
    """The Adam start: per output, a network trained by Adam and embedded in its convex program.

    Several outputs' ReLU networks are trained side by side as one
    :class:`~convexnn.networks.StackedNetworks` (each network's own Adam steps, one forward pass;
    the stopping rule and the minibatches, seeded by output 0's seed, are shared).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    targets : ndarray of shape (n_samples, n_outputs)
    lam : float
    loss : str or Loss
    new_network : callable
        ``new_network(seed)``: the untrained network for one output (a
        :class:`~convexnn.networks.ReLUNetwork` or any network :func:`convexnn.sgd.train` trains
        and whose ``to_convex`` embeds it).
    random_state : None, int or RandomState
        Output ``c`` is seeded with ``seed_of(random_state) + c`` (a RandomState draws a seed per
        output).
    **train_options
        Passed to :func:`convexnn.sgd.train` (e.g. :func:`sgd_schedule`).

    Returns
    -------
    embedded : list of (int, ConvexProblem, ndarray)
        Per output whose network has an active neuron: the output's index, the program over the
        network's own patterns and the embedded point (feasible, with the network's predictions
        and an objective at most its ``L_nc``). Outputs whose network died are left out.
    objective : float
        The trained networks' objectives (``L_nc``), summed over outputs.
    """
    loss = get_loss(loss)
    seeds = [None if random_state is None else seed_of(random_state) + c
             for c in range(targets.shape[1])]
    networks = [new_network(seed) for seed in seeds]

    def fit(network, target, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return train(network, X, target, lam=lam, loss=loss, random_state=seed, **train_options)

    if len(networks) > 1 and all(getattr(net, "stackable", False) for net in networks):
        # one training of the networks side by side (StackedNetworks): each network's steps are
        # its own, one forward pass runs them all; stopping and minibatches are shared
        trained = fit(StackedNetworks(networks), targets, seeds[0])
        objective, networks = trained.objective, trained.network.networks()
    else:
        runs = [fit(net, target, seed) for net, target, seed in zip(networks, targets.T, seeds)]
        objective = sum(run.objective for run in runs)
        networks = [run.network for run in runs]
    embedded = []
    for c, (network, target) in enumerate(zip(networks, targets.T)):
        try:
            problem, coef = network.to_convex(X, target, lam, loss=loss)
        except ValueError:  # no neuron active on X: the zero network, nothing to embed
            continue
        embedded.append((c, problem, coef))
    return embedded, float(objective)


def grow_patterns(
    X,
    problems,
    results,
    solve,
    *,
    candidates=None,
    max_patterns=None,
    max_rounds=None,
    add_per_round=10,
    tol=1e-6,
    gap_tol=None,
    random_state=None,
):
    """Column generation over the patterns that several outputs share.

    Each round scores candidate patterns at every output's dual point, takes per pattern the
    largest oracle value over the outputs, and adds (up to ``add_per_round``, and up to what
    ``max_patterns`` leaves) those not yet present whose value exceeds ``lam (1 + tol)``, the most
    violated first; every solution is moved into the bigger programs (:func:`extend`) and ``solve``
    re-solves from there. It stops when no candidate violates, when the programs hold
    ``max_patterns`` patterns, when the estimated gap over the candidates is at most ``gap_tol``,
    or after ``max_rounds`` scorings (ConvergenceWarning).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    problems : list of ConvexProblem
        One two-layer program per output, all over the same patterns and with the same ``lam``.
    results : list of SolveResult
        Their solutions.
    solve : callable
        ``solve(problems, init) -> list of SolveResult``: the solve of every output from the moved
        points ``init`` (e.g. :func:`solve_outputs` with a guarded solver).
    candidates : ActivationPatterns, optional
        Patterns scored every round (all patterns of ``X``, for an exact search). By default
        :func:`~convexnn.candidates.candidate_patterns` proposes them around the current gates and
        solutions at the first output's dual point.
    max_patterns : int, optional
        The pattern budget.
    max_rounds : int, optional
        The most scorings (and so solves, counting the one that produced ``results``).
    add_per_round : int, default=10
    tol : float, default=1e-6
        Relative violation below which a dual constraint counts as satisfied.
    gap_tol : float, optional
        Stop once ``(objective - lower_bound) / |objective| <= gap_tol``, with the lower bound
        summed over outputs from each ``z`` scaled into the dual constraints of the candidates
        scored (the estimated full gap): the patterns still violated can then lower the summed
        objective by at most that fraction (over those candidates). The estimators pass their
        ``tol``, the relative gap every solve is held to. None: stop only when nothing violates.
    random_state : int, Generator or None
        Seeds the candidate search.

    Returns
    -------
    problems : list of ConvexProblem
        Over the final patterns.
    results : list of SolveResult
        Their solutions.
    history : list of dict
        Per scoring: ``round``, ``n_patterns``, ``objective`` (summed over outputs),
        ``oracle_ratio`` (largest ``M(z) / lam`` over outputs), ``lower_bound`` (summed),
        ``lower_bounds`` (per output: ``loss.dual`` of its ``z`` scaled by the oracle over the
        candidates) and ``added`` (0 in the last record when the search ended there, with the
        returned solutions the ones scored).
    candidates : ActivationPatterns or None
        The last candidates scored (None when the budget was full from the start).
    """
    rng = check_random_state(random_state)
    first = problems[0]
    lam, fit_intercept = first.lam, first.patterns.fit_intercept
    fixed, history, scored = candidates, [], None
    while max_patterns is None or first.patterns.n_patterns < max_patterns:
        # each output's dual point: its solver's (feasible for the program's own patterns), else
        # -grad F at its solution (which misses them by ~sqrt(tol) after a solve to tol)
        zs = [r.dual if r.dual is not None else dual_point(p.loss, p.y, p.predict(r.coef))
              for p, r in zip(problems, results)]
        scored = fixed
        if scored is None:
            gates = np.hstack([first.patterns.gates] + [r.coef.T for r in results])
            scored = candidate_patterns(
                X, zs[0], fit_intercept=fit_intercept, gates=gates, random_state=rng
            )
        ratio, oracle, lower, per_output, bounds = np.zeros(scored.n_patterns), 0.0, 0.0, [], []
        for problem, z in zip(problems, zs):
            scoring = type(problem)(X, problem.y, scored, lam=lam, loss=problem.loss)
            scores = pattern_scores(scoring, z, threshold=lam)
            per_output.append(scores)
            ratio = np.maximum(ratio, scores)
            top = float(scores.max(initial=0.0))
            oracle = max(oracle, top)
            bounds.append(float(problem.loss.dual((1.0 if top <= lam else lam / top) * z,
                                                  problem.y)))
            lower += bounds[-1]
        ratio[first.patterns.contains(scored)] = 0.0
        violated = np.flatnonzero(ratio > lam * (1 + tol))
        add = int(add_per_round)
        if max_patterns is not None:
            add = max(1, min(max_patterns - first.patterns.n_patterns, add))
        history.append({
            "round": len(history) + 1,
            "n_patterns": first.patterns.n_patterns,
            "objective": float(sum(r.objective for r in results)),
            "oracle_ratio": oracle / lam if lam > 0 else math.inf,
            "lower_bound": lower,
            "lower_bounds": bounds,
            "added": int(min(violated.size, add)),
        })
        logger.info("column generation round %d: %s", len(history), history[-1])
        if violated.size == 0:
            break
        objective = history[-1]["objective"]
        if gap_tol is not None and objective - lower <= gap_tol * abs(objective):
            history[-1]["added"] = 0
            break
        if max_rounds is not None and len(history) >= max_rounds:
            warnings.warn(
                f"column generation stopped after max_rounds={max_rounds} rounds with dual "
                f"constraints still violated (M(z)/lam = {history[-1]['oracle_ratio']:.4f}); "
                "raise max_rounds or add_per_round.",
                ConvergenceWarning,
                stacklevel=3,
            )
            break
        chosen = violated[np.argsort(-ratio[violated])[:add]]
        patterns = first.patterns.union(scored.subset(chosen))
        bigger = [type(p)(X, p.y, patterns, lam=lam, loss=p.loss) for p in problems]
        init = [extend(p, r.coef, q) for p, r, q in zip(problems, results, bigger)]
        # an output for which no added pattern is violated stays optimal: it keeps its solution
        for c, scores in enumerate(per_output):
            top = float(scores[chosen].max())
            if top <= lam * (1 + tol):
                init[c] = _carried(bigger[c], results[c], init[c], zs[c], top)
        problems, first = bigger, bigger[0]
        results = solve(problems, init)
    return problems, results, history, scored


def _carried(problem, result, coef, z, top_added):
    """``result`` moved unsolved into the bigger ``problem`` (``coef``: its moved solution), whose
    added patterns satisfy their dual constraints at ``z`` to the column generation's ``tol``
    (``top_added``: their largest oracle value at ``z``, as scored).

    The objective, status and iterations are the same. The old program's bound does not bound the
    bigger one, so it is recomputed. With the solver's dual point (``z = result.dual``, feasible
    for the old patterns) it is scaled by ``min(1, lam / top_added)``, which makes it feasible for
    the added ones too; for a solver that keeps no dual point, ``z`` is scaled by the oracle over
    every pattern of ``problem``. Either way ``optimum >= loss.dual(point)``. The history is one
    record at the kept objective, so that :func:`objective_curve` counts the output as unchanged
    while the others are re-solved.
    """
    lam = problem.lam
    top = (top_added if result.dual is not None
           else float(pattern_scores(problem, z, threshold=lam).max(initial=0.0)))
    point = (1.0 if top <= lam else lam / top) * z
    objective = problem.objective(coef)
    bound = float(problem.loss.dual(point, problem.y))
    return dataclasses.replace(
        result, coef=coef, objective=objective, lower_bound=min(bound, objective),
        n_active=problem.active_blocks(coef).size, history=[{"objective": objective}],
        dual=None if result.dual is None else point,
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
        """The final patterns (``problem.patterns``)."""
        return self.problem.patterns


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
    """Find the patterns that matter for one output: Ergen & Pilanci (2021, Alg. 1).

    Start from ``patterns`` (default: one sampled pattern), solve, score candidate patterns with
    the exact per-pattern oracle at the solution's dual point, add up to ``add_per_round`` of
    those whose dual constraint is violated (value > ``lam (1 + tol)``), re-solve from the previous
    solution (never ending worse than it, :class:`~convexnn.solvers.guard.Guarded`), and stop when
    none is violated or ``max_rounds`` is reached (ConvergenceWarning). Candidates are all patterns
    when there are at most ``max_patterns`` of them (then the final certificate is exact), else
    :func:`~convexnn.candidates.candidate_patterns` around the current gates and neurons. This is
    :func:`grow_patterns` for one output.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Targets, or +-1 labels for the logistic loss.
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
    max_rounds : int, default=50
    add_per_round : int, default=10
    max_patterns : int, default=5000
        All patterns are listed as candidates when there are at most this many.
    random_state : int, Generator or None
    **solver_options
        Passed to :func:`~convexnn.solvers.get_solver` with a solver name.

    Returns
    -------
    ColumnGenerationResult
    """
    X = check_matrix(X, "X")
    loss = get_loss(loss)
    y = loss.check_target(check_target(y, X.shape[0]))
    check_positive(lam, "lam", strict=False)
    check_positive(tol, "tol")
    check_positive(max_rounds, "max_rounds", integer=True)
    check_positive(add_per_round, "add_per_round", integer=True)
    problem_class = formulation_class(formulation)
    rng = check_random_state(random_state)
    if isinstance(solver, str):
        solver = get_solver(solver, tol=tol, **solver_options)
    else:
        solver = get_solver(solver)
    # the first start (``init``) may be any point; the rounds' starts are feasible
    first_solve, rounds_solve = Guarded(solver, keep_start=False), Guarded(solver)
    full = all_patterns(X, fit_intercept, max_patterns)
    if patterns is None:
        patterns = sample_patterns(X, 1, fit_intercept=fit_intercept, random_state=rng)
        while patterns.n_patterns == 0:  # the single gate may give the empty pattern
            patterns = sample_patterns(X, 1, fit_intercept=fit_intercept, random_state=rng)
    problem = problem_class(X, y, patterns, lam=lam, loss=loss)
    start = None if init is None else [problem.check_coef(init)]
    results = solve_outputs(first_solve, [problem], start)
    problems, results, history, candidates = grow_patterns(
        X, [problem], results, lambda ps, init: solve_outputs(rounds_solve, ps, init),
        candidates=full, max_rounds=max_rounds, add_per_round=add_per_round, tol=tol,
        random_state=rng,
    )
    problem, result = problems[0], results[0]
    certificate = certify(
        X, y, problem.predict(result.coef), result.objective, lam, loss=loss,
        formulation=formulation, fit_intercept=fit_intercept,
        patterns=full if full is not None else candidates.union(problem.patterns),
        max_patterns=max_patterns,
    )
    return ColumnGenerationResult(problem, result, certificate, len(history), history)


def from_network(network, X, y, lam, *, loss="squared", **options):
    """Warm start from a trained network: its own patterns, then :func:`column_generation`.

    The network is embedded in the convex program over its patterns (doc/math.rst reverse embedding,
    objective at most the network's ``L_nc``); column generation then starts from that point, so
    the result's objective is at most the network's, up to the solver tolerance.

    Parameters
    ----------
    network : ReLUNetwork or GatedReLUNetwork
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    lam : float
    loss : str or Loss, default='squared'
    **options
        Passed to :func:`column_generation`.

    Returns
    -------
    ColumnGenerationResult
    """
    problem, coef = network.to_convex(X, y, lam, loss=loss)
    options.setdefault("fit_intercept", problem.fit_intercept)
    options.setdefault("formulation", "gated" if not problem.has_constraints else "relu")
    return column_generation(
        X, y, lam, loss=loss, patterns=problem.patterns, init=coef, **options
    )
