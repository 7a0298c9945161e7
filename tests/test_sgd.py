import numpy as np
import pytest

from convexnn.networks import ReLUNetwork
from convexnn.patterns import enumerate_patterns
from convexnn.problems import ReLUProblem
from convexnn.sgd import SGD, Adam, train
from convexnn.solvers import solve

LAM = 1e-3


@pytest.fixture(scope="module")
def global_optimum():
    from convexnn.datasets import make_1d

    X, y = make_1d(n_samples=10, noise=0.1, random_state=0)
    problem = ReLUProblem(X, y, enumerate_patterns(X, fit_intercept=True), lam=LAM)
    return X, y, solve(problem, solver="CLARABEL", tol=1e-10)


def test_no_adam_run_beats_the_enumerated_convex_optimum(global_optimum):
    X, y, convex = global_optimum
    finals = []
    for seed in range(10):
        init = ReLUNetwork.random(1, 20, random_state=seed)
        fit = train(init, X, y, lam=LAM, learning_rate=1e-2, max_epochs=4000, tol=1e-7,
                    n_iter_no_change=200, random_state=seed)
        finals.append(fit.objective)
    finals = np.array(finals)
    # the convex program over all patterns is the global optimum: nothing ends below it
    assert finals.min() >= convex.objective * (1 - 1e-6)
    # and the best of ten runs comes within 1% of it
    assert finals.min() <= convex.objective * 1.01


def test_sgd_with_momentum_decreases_the_objective_and_embedding_improves_it(global_optimum):
    X, y, convex = global_optimum
    init = ReLUNetwork.random(1, 20, random_state=3)
    fit = train(init, X, y, lam=LAM, optimizer=SGD(learning_rate=0.05, momentum=0.9),
                batch_size=5, max_epochs=1500, random_state=3)
    assert fit.loss_curve[0] > 2 * fit.objective
    assert fit.objective == min(fit.loss_curve)
    assert fit.objective == pytest.approx(fit.network.objective(X, y, LAM))
    problem, coef = fit.network.to_convex(X, y, LAM)
    assert problem.objective(coef) <= fit.objective
    refit = solve(problem, solver="CLARABEL", tol=1e-10, init=coef)
    assert convex.objective * (1 - 1e-6) <= refit.objective <= problem.objective(coef) + 1e-10


def test_training_is_seeded(global_optimum):
    X, y, _ = global_optimum
    init = ReLUNetwork.random(1, 6, random_state=0)
    a = train(init, X, y, lam=LAM, batch_size=4, max_epochs=30, random_state=11)
    b = train(init, X, y, lam=LAM, batch_size=4, max_epochs=30, random_state=11)
    np.testing.assert_array_equal(a.loss_curve, b.loss_curve)
    assert a.n_epochs == len(a.loss_curve) - 1


def test_stopping_rule_fires_on_a_plateau(global_optimum):
    X, y, _ = global_optimum
    init = ReLUNetwork.random(1, 6, random_state=0)
    fit = train(init, X, y, lam=LAM, optimizer=Adam(learning_rate=1e-12), max_epochs=500,
                n_iter_no_change=5, tol=1e-3)
    assert fit.converged and fit.n_epochs == 5


def test_bad_arguments(global_optimum):
    X, y, _ = global_optimum
    init = ReLUNetwork.random(1, 3, random_state=0)
    with pytest.raises(ValueError, match="learning_rate must be finite and > 0"):
        train(init, X, y, lam=LAM, learning_rate=0.0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train(init, X, y, lam=LAM, optimizer="lbfgs")
    with pytest.raises(ValueError, match="y has 9 entries"):
        train(init, X, y[:-1], lam=LAM)
    with pytest.raises(ValueError, match="network must be a TwoLayerNetwork"):
        train("net", X, y, lam=LAM)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
