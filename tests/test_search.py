"""The search layer (convexnn.search), the never-worse guard (convexnn.solvers.guard) and the
estimators' n_outputs_ / objective_curve_."""

import numpy as np
import pytest

import convexnn as cn
from convexnn import ConvexReLUClassifier, ConvexReLURegressor, DeepConvexReLURegressor
from convexnn.datasets import make_1d, make_teacher
from convexnn.certificates import certify
from convexnn.search import extend, grow_patterns, objective_curve, solve_outputs
from convexnn.solvers import Solver
from convexnn.solvers.guard import Guarded


class _Worsening(Solver):
    """Returns its start pushed far away: never an improvement."""

    name = "worsening"

    def solve(self, problem, init=None):
        start = problem.zeros() if init is None else init
        coef = start + 10.0 * np.random.default_rng(0).standard_normal(start.shape)
        return cn.SolveResult(coef=coef, objective=problem.objective(coef), status="max_iter",
                              solver=self.name, lam=problem.lam, history=[{"objective": 1.0}])


@pytest.fixture
def program():
    X, y = make_teacher(30, 2, random_state=0)
    patterns = cn.sample_patterns(X, 6, random_state=0)
    return X, y, cn.ReLUProblem(X, y - y.mean(), patterns, lam=1e-2)


def test_guard_returns_the_start_when_the_solver_makes_it_worse(program):
    _, _, problem = program
    start = cn.solve(problem, "auto").coef
    result = Guarded(_Worsening()).solve(problem, init=start)
    assert result.coef is start
    assert result.objective == problem.objective(start)
    assert result.status == "max_iter" and result.solver == "worsening"
    assert result.history == [{"objective": 1.0}]
    # without keep_start the solver's own (worse) point comes back
    assert Guarded(_Worsening(), keep_start=False).solve(problem, init=start).objective > (
        result.objective
    )


def test_guard_solves_a_zero_target_exactly_without_the_solver(program):
    X, _, problem = program
    zero = cn.ReLUProblem(X, np.zeros(X.shape[0]), problem.patterns, lam=1e-2)
    result = Guarded(_Worsening()).solve(zero, init=zero.zeros())
    assert result.objective == 0.0 and result.n_iter == 0 and not np.any(result.coef)
    assert result.solver == "worsening"


def test_grow_patterns_shares_patterns_and_never_increases_the_objective():
    X, y = make_1d(n_samples=12)
    targets = np.column_stack([y, -y]) - np.array([y.mean(), -y.mean()])
    patterns = cn.sample_patterns(X, 1, random_state=0)
    problems = [cn.ReLUProblem(X, t, patterns, lam=1e-3) for t in targets.T]
    solver = Guarded(cn.CvxpySolver("CLARABEL", tol=1e-9))
    results = solve_outputs(solver, problems)
    full = cn.enumerate_patterns(X)
    grown, final, history, _ = grow_patterns(
        X, problems, results, lambda ps, init: solve_outputs(solver, ps, init),
        candidates=full, random_state=0,
    )
    assert all(p.patterns is grown[0].patterns for p in grown)
    objectives = [h["objective"] for h in history]
    assert all(b <= a * (1 + 1e-7) for a, b in zip(objectives, objectives[1:]))
    assert history[-1]["added"] == 0 and history[-1]["oracle_ratio"] <= 1 + 1e-6
    # every output reached the optimum over all patterns
    for problem, result in zip(grown, final):
        reference = cn.CvxpySolver("CLARABEL", tol=1e-10).solve(
            cn.ReLUProblem(X, problem.y, full, lam=1e-3)
        )
        assert result.objective == pytest.approx(reference.objective, rel=1e-6)
    # moving a solution into the bigger program keeps its objective
    moved = extend(grown[0], final[0].coef, cn.ReLUProblem(X, targets[:, 0], full, lam=1e-3))
    assert cn.ReLUProblem(X, targets[:, 0], full, lam=1e-3).objective(moved) == pytest.approx(
        final[0].objective, rel=1e-12
    )


def test_grow_patterns_keeps_outputs_the_added_patterns_leave_optimal():
    """An output whose dual constraints hold on the added patterns is carried without a solve;
    its bound is recomputed for the bigger program (from the solver's dual point) and still
    bounds that program's optimum, tightly."""
    from convexnn.solvers import InteriorPoint

    X, y = make_teacher(30, 2, random_state=0)
    # the second target is so small that its optimum over any patterns is near zero: the added
    # patterns never violate its dual constraints
    targets = np.column_stack([y - y.mean(), 1e-3 * np.sin(3 * X[:, 0])])
    patterns = cn.sample_patterns(X, 2, random_state=0)
    problems = [cn.ReLUProblem(X, t, patterns, lam=1e-2) for t in targets.T]
    solver = Guarded(InteriorPoint(tol=1e-7))
    results = solve_outputs(solver, problems)
    for problem, result in zip(problems, results):  # the bound is the dual at the kept point
        assert result.dual.shape == (30,)
        assert problem.loss.dual(result.dual, problem.y) == pytest.approx(result.lower_bound,
                                                                           rel=1e-12)
    with pytest.warns(cn.ConvergenceWarning, match="max_rounds=3"):
        grown, final, history, _ = grow_patterns(
            X, problems, results, lambda ps, init: solve_outputs(solver, ps, init),
            add_per_round=2, max_rounds=3, random_state=0,
        )
    assert grown[0].patterns.n_patterns > patterns.n_patterns
    carried = [r.history == [{"objective": r.objective}] for r in final]
    assert carried == [False, True]
    for problem, result in zip(grown, final):
        reference = cn.CvxpySolver("CLARABEL", tol=1e-10).solve(problem)
        assert result.lower_bound <= reference.objective * (1 + 1e-9)
        assert result.objective == pytest.approx(reference.objective, rel=1e-6)
        assert result.lower_bound == pytest.approx(reference.objective, rel=1e-6)
        assert result.objective == pytest.approx(problem.objective(result.coef), rel=1e-12)


def test_grow_patterns_stops_at_the_gap_tolerance_with_the_certificate_of_its_last_scoring():
    """With ``gap_tol`` the search stops at the first round whose estimated gap over the
    candidates is within it; that round's per-output bound is the certificate over the
    candidates it scored (what the estimators then report instead of searching again)."""
    from convexnn.solvers import InteriorPoint

    X, y = make_teacher(30, 2, random_state=1)
    problem = cn.ReLUProblem(X, y - y.mean(), cn.sample_patterns(X, 2, random_state=0), lam=1e-2)
    solver = Guarded(InteriorPoint(tol=1e-8))
    start = solve_outputs(solver, [problem])

    def grow(gap_tol):
        return grow_patterns(X, [problem], start, lambda ps, init: solve_outputs(solver, ps, init),
                             add_per_round=1, gap_tol=gap_tol, random_state=0)

    _, _, full_history, _ = grow(None)
    gaps = [(h["objective"] - h["lower_bound"]) / h["objective"] for h in full_history]
    assert len(gaps) >= 3 and gaps[0] > gaps[-1]
    stop = int(np.argmin(gaps[:-1]))  # the first round reaching the best gap before the last
    grown, final, history, scored = grow(gaps[stop] * (1 + 1e-9))
    assert len(history) == stop + 1 and history[-1]["added"] == 0
    assert final[0].objective == pytest.approx(full_history[stop]["objective"], rel=1e-12)
    # scored at the solver's dual point (feasible for the program's own patterns)
    assert final[0].dual is not None
    certificate = certify(X, grown[0].y, grown[0].predict(final[0].coef), final[0].objective,
                          1e-2, patterns=scored, dual_point=final[0].dual)
    assert history[-1]["lower_bounds"][0] == pytest.approx(certificate.lower_bound, rel=1e-9)


def test_objective_curve_sums_outputs_and_pads_the_ones_that_stopped():
    def result(values):
        return cn.SolveResult(coef=np.zeros((1, 1)), objective=values[-1], status="optimal",
                              solver="s", lam=1.0, history=[{"objective": v} for v in values])

    curve = objective_curve([[result([3.0, 2.0, 1.0]), result([5.0])], [result([4.0, 3.5])]])
    np.testing.assert_array_equal(curve, [8.0, 7.0, 6.0, 4.0, 3.5])
    assert objective_curve([[result([1.0]), cn.SolveResult(np.zeros((1, 1)), 0.0, "optimal",
                                                           "cvxpy", 1.0)]]).size == 0


@pytest.mark.parametrize("search", ["sampled", "column_generation", "sgd"])
def test_estimators_expose_n_outputs_and_the_objective_curve(search, tmp_path):
    X, y = make_teacher(40, 3, random_state=0)
    Y = np.column_stack([y, y ** 2])
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    for model, target, n_outputs in [
        (ConvexReLURegressor(alpha=1e-2, n_patterns=12, pattern_search=search, random_state=0),
         y, 1),
        (ConvexReLURegressor(alpha=1e-2, n_patterns=12, pattern_search=search, random_state=0),
         Y, 2),
        (ConvexReLUClassifier(alpha=1e-2, n_patterns=12, pattern_search=search, random_state=0),
         labels, 3),
    ]:
        model.fit(X, target)
        assert model.n_outputs_ == n_outputs
        curve = model.objective_curve_
        assert curve.ndim == 1 and curve.size >= model.n_iter_ > 0
        if search == "sampled":  # one solve: the curve ends at the fitted objective
            assert curve[-1] == pytest.approx(model.objective_, rel=1e-6)
        loaded = type(model).load(model.save(tmp_path / "model"))
        assert loaded.n_outputs_ == n_outputs
        np.testing.assert_array_equal(loaded.objective_curve_, curve)


def test_cvxpy_keeps_no_history_and_deep_models_have_the_attributes_too():
    X, y = make_1d(n_samples=10)
    model = ConvexReLURegressor(alpha=1e-2, n_patterns=6, solver="CLARABEL",
                                pattern_search="sampled", random_state=0).fit(X, y)
    assert model.n_outputs_ == 1 and model.objective_curve_.size == 0
    deep = DeepConvexReLURegressor(alpha=1e-2, n_patterns=4, n_upper_patterns=2,
                                   random_state=0).fit(X, y)
    assert deep.n_outputs_ == 1 and deep.objective_curve_.size >= deep.n_iter_
    path = ConvexReLURegressor(alpha=1e-2, n_patterns=6, random_state=0).regularization_path(
        X, y, [1e-1, 1e-2]
    )
    assert all(e.objective_curve_.size >= e.n_iter_ for e in path.estimators)
