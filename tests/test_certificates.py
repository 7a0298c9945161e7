"""Certificates (convexnn.certificates), column generation and warm starts from SGD
(convexnn.search), and pruning (convexnn.pruning)."""

import numpy as np
import pytest

import convexnn as cn
from convexnn.certificates import candidate_patterns, certify, prune
from convexnn.search import column_generation, extend, from_network
from convexnn.datasets import make_1d

LAM = 1e-3


def _reference(X, y, lam=LAM, loss="squared", formulation="relu"):
    """Clarabel over all patterns: the optimum of the infinite-width problem."""
    patterns = cn.enumerate_patterns(X, fit_intercept=True)
    problem_class = cn.ReLUProblem if formulation == "relu" else cn.GatedReLUProblem
    problem = problem_class(X, y, patterns, lam=lam, loss=loss)
    return problem, cn.CvxpySolver("CLARABEL", tol=1e-10).solve(problem)


def _data_2d(seed=1, n=15):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = np.maximum(X @ [1.0, -1.0], 0) - np.maximum(X @ [0.5, 1.0] + 0.3, 0)
    return X, y + 0.05 * rng.standard_normal(n)


@pytest.mark.parametrize("data", ["1d", "2d"])
def test_column_generation_from_one_pattern_reaches_the_enumerated_optimum(data):
    X, y = make_1d(n_samples=12) if data == "1d" else _data_2d()
    problem, reference = _reference(X, y)
    cg = column_generation(X, y, LAM, solver="CLARABEL", tol=1e-9, random_state=0)
    assert cg.history[0]["n_patterns"] == 1
    assert cg.patterns.n_patterns < problem.patterns.n_patterns  # found a subset that suffices
    assert cg.result.objective == pytest.approx(reference.objective, rel=1e-6)
    assert cg.certificate.exact
    assert cg.certificate.is_optimal(tol=1e-6)
    assert cg.certificate.oracle <= LAM * (1 + 1e-6)
    # objectives never increase from round to round (each program contains the previous one)
    objectives = [h["objective"] for h in cg.history]
    assert all(b <= a * (1 + 1e-7) for a, b in zip(objectives, objectives[1:]))


def test_searched_oracle_finds_the_optimum_but_reports_an_estimate():
    X, y = _data_2d()
    _, reference = _reference(X, y)
    # max_patterns below the pattern count: candidates come from sampling and ascent only
    cg = column_generation(X, y, LAM, solver="CLARABEL", tol=1e-9, max_patterns=10, random_state=0)
    assert not cg.certificate.exact
    assert not cg.certificate.is_optimal()
    assert "estimated" in str(cg.certificate)
    assert cg.result.objective == pytest.approx(reference.objective, rel=1e-6)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("formulation", ["relu", "gated"])
@pytest.mark.parametrize("seed", range(2))
def test_exact_lower_bound_never_exceeds_the_optimum(loss, formulation, seed):
    rng = np.random.default_rng(seed)
    X, y = _data_2d(seed=seed + 10, n=10)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    lam = float(10 ** rng.uniform(-3, -1))
    problem, reference = _reference(X, y, lam=lam, loss=loss, formulation=formulation)
    # any predictions give a valid bound: the optimum's, and random perturbations of it
    for scale in (0.0, 0.1, 1.0):
        predictions = problem.predict(reference.coef) + scale * rng.standard_normal(10)
        cert = certify(X, y, predictions, np.inf, lam, loss=loss, formulation=formulation)
        assert cert.exact
        assert cert.lower_bound <= reference.objective * (1 + 1e-7) + 1e-12
    # at the optimum the bound is tight
    cert = certify(X, y, problem.predict(reference.coef), reference.objective, lam, loss=loss,
                   formulation=formulation)
    assert 0 <= cert.rel_gap <= 1e-5


@pytest.mark.parametrize("seed", range(2))
def test_lower_bound_is_below_every_sgd_run(seed):
    X, y = _data_2d(seed=seed)
    network = cn.ReLUNetwork.random(2, 20, random_state=seed)
    trained = cn.train(network, X, y, lam=LAM, max_epochs=300, random_state=seed).network
    predictions = trained.predict(X)
    cert = certify(X, y, predictions, trained.objective(X, y, LAM), LAM, gates=None)
    assert cert.exact
    assert cert.lower_bound <= trained.objective(X, y, LAM)
    _, reference = _reference(X, y)
    assert cert.lower_bound <= reference.objective * (1 + 1e-7)


def test_warm_start_from_sgd_can_only_improve_on_it():
    X, y = _data_2d(seed=3)
    trained = cn.train(
        cn.ReLUNetwork.random(2, 12, random_state=0), X, y, lam=LAM, max_epochs=200, random_state=0
    ).network
    sgd_objective = trained.objective(X, y, LAM)
    cg = from_network(trained, X, y, LAM, solver="CLARABEL", tol=1e-9, random_state=0)
    assert cg.history[0]["objective"] <= sgd_objective * (1 + 1e-7)
    assert cg.result.objective <= sgd_objective
    _, reference = _reference(X, y)
    assert cg.result.objective == pytest.approx(reference.objective, rel=1e-6)
    assert cg.certificate.is_optimal(tol=1e-6)


def test_prune_keeps_predictions_and_never_increases_the_objective():
    X, y = _data_2d(seed=4, n=8)
    patterns = cn.enumerate_patterns(X, fit_intercept=True)
    problem = cn.ReLUProblem(X, y, patterns, lam=LAM)
    # a feasible point with every block non-zero: each gate lies in its own pattern's cone
    rng = np.random.default_rng(0)
    gates = patterns.gates / np.linalg.norm(patterns.gates, axis=0)
    coef = np.vstack([gates.T, gates.T]) * rng.uniform(0.1, 1.0, (problem.n_blocks, 1))
    assert problem.constraint_violation(coef) == 0 and problem.n_blocks > problem.n_samples
    pruned = prune(problem, coef)
    n_nonzero = int(np.sum(np.linalg.norm(pruned, axis=1) > 0))
    assert n_nonzero <= problem.n_samples
    np.testing.assert_allclose(problem.predict(pruned), problem.predict(coef), atol=1e-8)
    assert problem.objective(pruned) <= problem.objective(coef)
    assert problem.constraint_violation(pruned) <= 1e-12
    # at an optimum, pruning keeps it optimal
    reference = cn.CvxpySolver("CLARABEL", tol=1e-10).solve(problem)
    pruned = prune(problem, reference.coef)
    np.testing.assert_allclose(problem.predict(pruned), problem.predict(reference.coef), atol=1e-8)
    assert problem.objective(pruned) <= reference.objective * (1 + 1e-12)


def test_candidate_search_finds_the_most_violated_pattern_on_1d_data():
    X, y = make_1d(n_samples=12)
    z = y - y.mean()
    full = cn.enumerate_patterns(X, fit_intercept=True)
    exact = certify(X, z, np.zeros(12), 1.0, LAM)
    searched = certify(X, z, np.zeros(12), 1.0, LAM,
                       patterns=candidate_patterns(X, -z / 12, random_state=0))
    assert exact.exact and not searched.exact
    assert searched.oracle == pytest.approx(exact.oracle, rel=1e-9)
    assert full.contains(searched.best_pattern).all()


def test_bad_arguments_are_named():
    X, y = make_1d(n_samples=6)
    with pytest.raises(ValueError, match="formulation must be 'relu' or 'gated'"):
        certify(X, y, y, 1.0, LAM, formulation="deep")
    with pytest.raises(ValueError, match="predictions"):
        certify(X, y, y[:3], 1.0, LAM)
    with pytest.raises(ValueError, match="gates must have shape"):
        candidate_patterns(X, y, gates=np.ones((5, 2)))
    with pytest.raises(ValueError, match="max_rounds"):
        column_generation(X, y, LAM, max_rounds=0)


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_extend_moves_a_point_into_reordered_patterns_without_raising_the_objective(formulation):

    X, y = _data_2d(seed=5, n=12)
    trained = cn.train(
        cn.ReLUNetwork.random(2, 6, random_state=0), X, y, lam=LAM, max_epochs=100, random_state=0
    ).network
    problem, coef = trained.to_convex(X, y, LAM)
    # the network's patterns behind others and in reverse order, as a union across outputs puts them
    others = cn.sample_patterns(X, 5, fit_intercept=True, random_state=1)
    mine = problem.patterns.subset(np.arange(problem.patterns.n_patterns)[::-1])
    target_class = cn.ReLUProblem if formulation == "relu" else cn.GatedReLUProblem
    target = target_class(X, y, others.union(mine), lam=LAM)
    moved = extend(problem, coef, target)
    np.testing.assert_allclose(target.predict(moved), problem.predict(coef), atol=1e-12)
    assert target.constraint_violation(moved) == 0.0
    if formulation == "relu":
        assert target.objective(moved) == pytest.approx(problem.objective(coef), rel=1e-12)
    else:
        assert target.objective(moved) <= problem.objective(coef) * (1 + 1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_certify_at_the_solvers_dual_point_bounds_the_optimum_to_the_solve_tolerance(loss):
    """Over every pattern the certificate is exact at any dual point; at the interior point's own
    point (feasible for the program's constraints) it is as tight as the solve."""
    from convexnn.solvers import InteriorPoint

    X, y = _data_2d(n=12)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    problem, reference = _reference(X, y, lam=1e-2, loss=loss)
    result = InteriorPoint(tol=1e-4).solve(problem)
    assert result.status == "optimal" and result.dual.shape == (12,)
    predictions = problem.predict(result.coef)
    at_z = certify(X, y, predictions, result.objective, 1e-2, loss=loss)
    at_v = certify(X, y, predictions, result.objective, 1e-2, loss=loss, dual_point=result.dual)
    assert at_z.exact and at_v.exact
    for bound in (at_z.lower_bound, at_v.lower_bound):
        assert bound <= reference.objective * (1 + 1e-9)
    # the point is feasible for every pattern here, so its bound is the solver's own: certified
    # to the solve's tolerance (the gradient's bound has no such guarantee: 1e-2 and 6e-4 here)
    assert at_v.lower_bound == pytest.approx(result.lower_bound, rel=1e-9)
    assert at_v.rel_gap <= 1e-4
    with pytest.raises(ValueError, match="dual_point"):
        certify(X, y, predictions, result.objective, 1e-2, loss=loss, dual_point=np.ones(3))


def test_candidate_search_keeps_each_starts_best_iterate():
    """Per start and sign, the pattern of the ascent's iterate with the largest ``s z^T (A u)_+``
    is among the candidates (the ascent is not monotone: on these data some last iterate is
    worse than an earlier one)."""
    from convexnn.patterns import ActivationPatterns
    from convexnn.validation import add_intercept, check_random_state

    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 3))
    z = rng.standard_normal(40)
    found = candidate_patterns(X, z, n_samples=6, n_ascent=8, random_state=0)
    A = add_intercept(X)
    starts = check_random_state(0).standard_normal((4, 6)).astype(np.float32)
    A32, Az32 = A.astype(np.float32), (A * z[:, None]).T.astype(np.float32)
    lost = 0
    for sign in (1.0, -1.0):
        for j in range(6):
            u, iterates = starts[:, j], []
            for _ in range(8):
                step = sign * (Az32 @ (A32 @ u >= 0).astype(np.float32))
                iterates.append((float(step @ u), u))
                if not np.any(step):  # the ascent of this start stops (D(u) = 0)
                    break
                u = step / np.linalg.norm(step)
            value, best = max(iterates, key=lambda pair: pair[0])
            lost += value > iterates[-1][0]
            mask = A @ best[:, None].astype(np.float64) >= 0
            if mask.any():  # (the empty pattern is never a candidate)
                kept = ActivationPatterns(best[:, None].astype(np.float64), mask, True)
                assert found.contains(kept)[0]
    assert lost > 0  # the data are such that some last iterate is not the best one
