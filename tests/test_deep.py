"""Deep parallel ReLU networks by convex programs: patterns, the nested program, maps, estimators."""

import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn.deep.problems import reindex
from convexnn.deep import (
    DeepReLUProblem,
    NestedPatterns,
    ParallelReLUNetwork,
    enumerate_nested_patterns,
    sample_nested_patterns,
)
from convexnn.deep.estimators import DeepConvexReLUClassifier, DeepConvexReLURegressor
from convexnn.losses import get_loss
from convexnn.memory import check_deep_memory
from convexnn.problems import ReLUProblem
from convexnn.sgd import train
from convexnn.solvers import get_solver


def _data(n=24, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * np.maximum(X @ rng.standard_normal(d), 0)
    return X, y + 0.1 * rng.standard_normal(n)


def _tiny_1d():
    X = np.linspace(-1.0, 1.0, 5)[:, None]
    y = np.array([0.5, -0.3, 0.8, -0.2, 0.4])
    # unit root mean square: the regressors (fit_intercept=False) solve for exactly this target
    return X, y / np.sqrt(np.mean(y**2))


def _native(**options):
    options = {"tol": 1e-9, "constraint_tol": 1e-9, "max_iter": 40000, **options}
    return get_solver("auto", **options)


def test_depth_two_is_the_two_layer_relu_program():
    X, y = _data()
    nested = sample_nested_patterns(X, 6, depth=2, random_state=0)
    deep = DeepReLUProblem(X, y, nested, lam=0.01)
    flat = ReLUProblem(X, y, nested.first, lam=0.01)
    U = np.random.default_rng(1).standard_normal(flat.coef_shape)
    np.testing.assert_allclose(deep.predict(U), flat.predict(U), rtol=1e-12)
    np.testing.assert_allclose(deep.constraint_values(U), flat.constraint_values(U), rtol=1e-12)
    a = get_solver("CLARABEL").solve(deep).objective
    b = get_solver("CLARABEL").solve(flat).objective
    assert a == pytest.approx(b, rel=1e-7)


@pytest.mark.parametrize("depth, sizes", [(3, [4, 3]), (4, [3, 2, 2])])
def test_nested_operator_adjoint_identity(depth, sizes):
    X, y = _data()
    problem = DeepReLUProblem(X, y, sample_nested_patterns(X, sizes, depth=depth, random_state=1),
                              lam=0.01)
    op = problem.block_operator()
    rng = np.random.default_rng(2)
    U = rng.standard_normal(problem.coef_shape)
    r = rng.standard_normal(problem.n_samples)
    Q = rng.standard_normal((problem.n_samples, op.n_constraints))
    F = op.features(U)
    lhs = r @ op.predict_features(F) - np.sum(Q * op.constrain_features(F))
    assert lhs == pytest.approx(np.sum(op.adjoint(r, Q) * U), rel=1e-10)
    # the float64 operator and the problem agree on the constraint values
    np.testing.assert_allclose(op.constrain_features(F), problem.constraint_values(U))


@pytest.mark.parametrize("depth, sizes, lam", [(3, [4, 3], 0.01), (4, [3, 2, 2], 0.05)])
def test_native_matches_clarabel_and_maps_back_exactly(depth, sizes, lam):
    X, y = _data()
    problem = DeepReLUProblem(X, y, sample_nested_patterns(X, sizes, depth=depth, random_state=1),
                              lam=lam)
    reference = get_solver("CLARABEL").solve(problem)
    # a relative gap of 1e-8 is what the assertions below need; at 1e-9 the augmented Lagrangian
    # sits at the edge of its budget on the depth-3 program (40000 iterations, gap 1.3e-9)
    result = _native(tol=1e-8).solve(problem)
    assert result.status == "optimal"
    assert result.n_iter <= 40000 // 4  # well inside the budget
    # Clarabel's own objective is accurate to a few 1e-6 on the depth-4 program
    assert result.objective == pytest.approx(reference.objective, rel=1e-5)
    assert problem.constraint_violation(result.coef) <= 1e-8
    # the certified bound is below the cvxpy optimum (and close to it)
    assert result.lower_bound <= reference.objective * (1 + 1e-7)
    net = ParallelReLUNetwork.from_convex(problem, result.coef)
    assert net.depth == depth
    np.testing.assert_allclose(net.predict(X), problem.predict(result.coef), atol=1e-6)
    assert net.objective(X, y, lam) == pytest.approx(result.objective, rel=1e-6)
    assert net.path_penalty() == pytest.approx(
        np.linalg.norm(result.coef[problem.active_blocks(result.coef)], axis=1).sum(), rel=1e-10
    )


@pytest.fixture(scope="module")
def tiny_optimum():
    """The exact three-layer program of 1-D data with intercept, solved natively."""
    X, y = _tiny_1d()
    nested = enumerate_nested_patterns(X, depth=3)
    problem = DeepReLUProblem(X, y, nested, lam=0.01)
    return problem, _native().solve(problem)


def test_one_dimensional_all_patterns_no_adam_run_beats_the_convex_optimum(tiny_optimum):
    X, y = _tiny_1d()
    lam = 0.01
    problem, optimum = tiny_optimum
    assert problem.nested.sizes == (9, 31)  # doc/math.rst: all 9 first-level and 31 second-level
    reference = get_solver("CLARABEL").solve(problem).objective
    # the native solution is feasible to 1e-9 and a little below Clarabel's (which is accurate
    # to about 2e-6 relative here)
    assert problem.constraint_violation(optimum.coef) <= 1e-9
    assert reference * (1 - 1e-5) <= optimum.objective <= reference * (1 + 1e-7)
    net = ParallelReLUNetwork.from_convex(problem, optimum.coef)
    assert net.objective(X, y, lam) == pytest.approx(optimum.objective, rel=1e-6)
    finals = []
    for seed in range(8):
        start = ParallelReLUNetwork.random(1, 4, [8], random_state=seed)
        run = train(start, X, y, lam=lam, learning_rate=0.01, max_epochs=2000,
                    n_iter_no_change=200, random_state=seed)
        finals.append(run.objective)
    assert min(finals) >= optimum.objective * (1 - 1e-6)


@pytest.mark.parametrize("depth", [3, 4])
def test_embedding_of_a_trained_network_is_feasible_and_no_worse(depth):
    X, y = _data(n=16)
    lam = 0.01
    start = ParallelReLUNetwork.random(3, 2, [3] * (depth - 2), random_state=depth)
    net = train(start, X, y, lam=lam, max_epochs=100, random_state=0).network
    problem, coef = net.to_convex(X, y, lam)
    assert problem.constraint_violation(coef) == 0.0
    np.testing.assert_allclose(problem.predict(coef), net.predict(X), atol=1e-12)
    assert problem.objective(coef) <= net.objective(X, y, lam) * (1 + 1e-12)


@pytest.mark.parametrize("depth", [3, 4])
def test_backprop_matches_finite_differences(depth):
    X, y = _data(n=12)
    net = ParallelReLUNetwork.random(3, 3, [4] * (depth - 2), random_state=0)
    for loss, target in (("squared", y), ("logistic", np.where(y > 0, 1.0, -1.0))):
        value, grads = net.objective_and_gradient(X, target, 0.05, get_loss(loss))
        assert value == pytest.approx(net.objective(X, target, 0.05, loss))
        params = net.parameters()
        eps = 1e-6
        for i, p in enumerate(params):
            for flat in range(0, p.size, max(1, p.size // 5)):
                idx = np.unravel_index(flat, p.shape)
                up = [q.copy() for q in params]
                up[i][idx] += eps
                down = [q.copy() for q in params]
                down[i][idx] -= eps
                numeric = (net.with_parameters(up).objective(X, target, 0.05, loss)
                           - net.with_parameters(down).objective(X, target, 0.05, loss)) / (2 * eps)
                assert grads[i][idx] == pytest.approx(numeric, abs=1e-6)


def test_path_penalty_is_invariant_to_unit_rescaling_but_weight_decay_is_not():
    net = ParallelReLUNetwork.random(3, 2, [4], random_state=0)
    layers = [W.copy() for W in net.layers]
    layers[0][:, :, 1] *= 3.0  # scale a first-layer unit up and its outgoing weight down
    layers[1][:, 1, :] /= 3.0
    other = ParallelReLUNetwork(layers, net.output)
    X, _ = _data(n=10)
    np.testing.assert_allclose(other.predict(X), net.predict(X))
    assert other.path_penalty() == pytest.approx(net.path_penalty())
    assert other.weight_decay() != pytest.approx(net.weight_decay())


def test_sampled_upper_patterns_are_realizable_and_unique():
    X, _ = _data()
    nested = sample_nested_patterns(X, [8, 6], depth=3, random_state=0)
    mask = nested.upper[0]
    assert len({col.tobytes() for col in mask.T}) == mask.shape[1]
    assert mask.any(axis=0).all()
    # same seed, same patterns
    again = sample_nested_patterns(X, [8, 6], depth=3, random_state=0)
    np.testing.assert_array_equal(again.upper[0], mask)


def test_dual_bound_never_exceeds_the_optimum():
    rng = np.random.default_rng(3)
    for seed in range(3):
        X, y = _data(n=15, seed=seed)
        problem = DeepReLUProblem(X, y, sample_nested_patterns(X, [3, 2], random_state=seed),
                                  lam=0.02)
        optimum = get_solver("CLARABEL").solve(problem).objective
        U = 0.1 * rng.standard_normal(problem.coef_shape)
        mu = np.abs(rng.standard_normal((problem.n_samples, problem.block_operator().n_constraints)))
        assert problem.dual_bound(U, multipliers=mu) <= optimum * (1 + 1e-7)


def test_bad_inputs_raise_clear_errors():
    X, y = _data()
    with pytest.raises(ValueError, match="depth must be at least 2"):
        sample_nested_patterns(X, 4, depth=1)
    with pytest.raises(ValueError, match="one count per hidden level"):
        sample_nested_patterns(X, [4, 3, 2], depth=3)
    with pytest.raises(ValueError, match="more than 12"):
        enumerate_nested_patterns(X)
    nested = sample_nested_patterns(X, [4, 3], random_state=0)
    with pytest.raises(ValueError, match="patterns must be a NestedPatterns"):
        DeepReLUProblem(X, y, nested.first, lam=0.1)
    with pytest.raises(ValueError, match="level-2 mask must have shape"):
        NestedPatterns(nested.first, [np.ones((3, 2), bool)])
    with pytest.raises(ValueError, match="nested constraints"):
        get_solver("admm").solve(DeepReLUProblem(X, y, nested, lam=0.1))
    with pytest.raises(ValueError, match="layer 2 takes 3 inputs"):
        ParallelReLUNetwork([np.zeros((1, 4, 2)), np.zeros((1, 3, 1))], [1.0])
    with pytest.raises(MemoryError, match="n_upper_patterns"):
        check_deep_memory(10_000, 50, [100, 100, 100], True)


def test_estimator_matches_the_program_solved_by_hand(tiny_optimum):
    X, y = _tiny_1d()
    model = DeepConvexReLURegressor(alpha=0.01, pattern_search="enumerated", fit_intercept=False,
                                    tol=1e-9, max_iter=40000)
    # fit_intercept=False on the estimator: give it the intercept column explicitly
    A = np.hstack([X, np.ones((5, 1))])
    model.fit(A, y)
    problem, optimum = tiny_optimum  # the same program (design [x, 1]), solved without estimator
    assert model.objective_ == pytest.approx(optimum.objective, rel=1e-6)
    np.testing.assert_allclose(model.predict(A), problem.predict(optimum.coef), atol=1e-5)
    assert model.lower_bound_ <= optimum.objective * (1 + 1e-7)


def test_estimator_path_and_save(tmp_path):
    X, y = _data(n=20)
    model = DeepConvexReLURegressor(n_patterns=4, n_upper_patterns=2, random_state=0, tol=1e-6)
    path = model.regularization_path(X, y, [0.3, 1e-3])
    # 0.3 is above alpha_max here: the zero network, whose objective is the standardized
    # target's half mean square, 1/2
    assert path.n_active_neurons[0] == 0
    assert path.objective[0] == pytest.approx(0.5 * np.mean(((y - y.mean()) / y.std()) ** 2))
    assert path.n_active_neurons[1] > 0 and path.objective[1] < path.objective[0]
    for model in path.estimators:  # saved and loaded like the two-layer models
        again = DeepConvexReLURegressor.load(model.save(tmp_path / "model"))
        np.testing.assert_array_equal(again.predict(X), model.predict(X))
        assert again.lower_bound_ == model.lower_bound_


def _checks_instances():
    # small budgets keep the ~40 checks fast; the regressor needs 6 patterns to score > 0.5 on
    # check_regressors_train's data
    return [
        DeepConvexReLURegressor(n_patterns=6, n_upper_patterns=2, max_iter=1000, random_state=0),
        DeepConvexReLUClassifier(n_patterns=3, n_upper_patterns=2, max_iter=300, random_state=0),
    ]


@parametrize_with_checks(_checks_instances())
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def test_union_and_reindex_keep_the_point():
    X, y = _data(n=14)
    a = ParallelReLUNetwork.random(3, 2, [3], random_state=0)
    b = ParallelReLUNetwork.random(3, 2, [3], random_state=1)
    pa, ca = a.to_convex(X, y, 0.01)
    pb, cb = b.to_convex(X, y, 0.01)
    merged, (ma, mb) = pa.nested.union(pb.nested)
    assert merged.sizes[0] <= pa.nested.sizes[0] + pb.nested.sizes[0]
    target = DeepReLUProblem(X, y, merged, lam=0.01)
    for problem, coef, maps in ((pa, ca, ma), (pb, cb, mb)):
        moved = reindex(problem, coef, target, maps)
        np.testing.assert_allclose(target.predict(moved), problem.predict(coef), atol=1e-12)
        assert target.objective(moved) == pytest.approx(problem.objective(coef), rel=1e-12)
        assert target.constraint_violation(moved) == 0.0


def test_sgd_pattern_search_is_never_worse_than_its_adam_network():
    X, y = _data(n=30)
    model = DeepConvexReLURegressor(alpha=0.01, n_patterns=4, n_upper_patterns=2,
                                    pattern_search="sgd", max_iter=500, random_state=0)
    model.fit(X, y)
    # the same Adam run by hand (the estimator standardizes y and seeds output 0 with
    # random_state)
    target = (y - y.mean()) / y.std()
    start = ParallelReLUNetwork.random(3, 2, [4], random_state=0)
    adam = train(start, X, target, lam=0.01, max_epochs=500, random_state=0)
    assert model.sgd_objective_ == pytest.approx(adam.objective, rel=1e-12)
    assert model.objective_ <= adam.objective * (1 + 1e-12)
    # the fitted network, scaled back from the target's units, attains the reported objective on
    # the standardized target
    network = model.to_network().scaled(1.0 / y.std())
    assert network.objective(X, target, 0.01) == pytest.approx(model.objective_, rel=1e-6)
