"""Tests of convexnn.model_selection: the cross-validated estimators and alpha_max."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import log_loss, r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn import (
    ConvexReLUClassifier,
    ConvexReLUClassifierCV,
    ConvexReLURegressor,
    ConvexReLURegressorCV,
    ReLUProblem,
    persistence,
)
from convexnn.model_selection import alpha_max
from convexnn.solvers import get_solver

# Two alphas, two folds and six patterns keep the scikit-learn checks of both estimators near a
# minute of CPU: they test the API contract, not the choice of alpha (the tests below do). tol=1e-2
# is a loose certified gap, enough for the checks' accuracy thresholds.
_CHECK_OPTIONS = {
    "n_alphas": 2, "cv": 2, "n_patterns": 6, "random_state": 0, "max_iter": 500,
    "pattern_search": "sampled", "tol": 1e-2,
}


@parametrize_with_checks(
    [ConvexReLURegressorCV(**_CHECK_OPTIONS), ConvexReLUClassifierCV(**_CHECK_OPTIONS)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def spline():
    """1-D data with an intercept: 2 n patterns, all listed, so every fit is the global optimum
    and alpha_max is exact."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (36, 1))
    y = np.abs(X[:, 0]) + 0.3 * rng.standard_normal(36) + 1.0
    return X, y


@pytest.fixture
def regression():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((45, 3))
    y = np.maximum(X @ [1.0, -1.0, 0.5], 0) + 0.2 * rng.standard_normal(45)
    return X, y


def test_alpha_max_is_exact_threshold_of_zero_network(spline):
    X, y = spline
    plain = ConvexReLURegressor(n_patterns=100, pattern_search="enumerated", tol=1e-8)
    top, exact = alpha_max(plain, X, y)
    assert exact
    at = clone(plain).set_params(alpha=top).fit(X, y)
    # the zero network: no neuron, the training mean everywhere, objective of the mean
    assert at.n_active_neurons_ == 0
    np.testing.assert_allclose(at.predict(X), y.mean(), rtol=0, atol=1e-12)
    # the regressor solves on the standardized target: the zero network's objective is half its
    # mean square
    zero_objective = 0.5 * np.mean(((y - y.mean()) / y.std()) ** 2)
    assert at.objective_ == pytest.approx(zero_objective, rel=1e-8)
    below = clone(plain).set_params(alpha=0.9 * top).fit(X, y)
    assert below.n_active_neurons_ > 0
    assert below.objective_ < zero_objective * (1 - 1e-4)


def test_grid_decreases_geometrically_from_alpha_max(spline):
    X, y = spline
    model = ConvexReLURegressorCV(
        n_alphas=4, eps=1e-2, cv=3, n_patterns=100, pattern_search="enumerated"
    ).fit(X, y)
    top, exact = alpha_max(ConvexReLURegressor(n_patterns=100), X, y)
    assert model.alpha_max_exact_ is exact is True
    assert model.alphas_[0] == pytest.approx(top, rel=1e-12)
    np.testing.assert_allclose(model.alphas_, top * np.array([1, 10**(-2 / 3), 10**(-4 / 3), 1e-2]))
    # an explicit grid is fitted in decreasing order
    explicit = ConvexReLURegressorCV(
        alphas=[0.01, 0.1, 0.05], cv=3, n_patterns=100, pattern_search="enumerated"
    ).fit(X, y)
    np.testing.assert_array_equal(explicit.alphas_, [0.1, 0.05, 0.01])
    np.testing.assert_array_equal(explicit.cv_results_["param_alpha"], [0.1, 0.05, 0.01])


def test_chosen_alpha_matches_loop_of_plain_fits(spline):
    """With all patterns listed every fit is the global optimum, whatever the route: the CV
    estimator must choose what plain fits on the same folds and grid choose."""
    X, y = spline
    folds = KFold(3, shuffle=True, random_state=0)
    options = {"n_patterns": 100, "pattern_search": "enumerated", "tol": 1e-8}
    model = ConvexReLURegressorCV(n_alphas=5, eps=1e-3, cv=folds, **options).fit(X, y)
    scores = np.array([
        [
            r2_score(y[test], ConvexReLURegressor(alpha=a, **options)
                     .fit(X[train], y[train]).predict(X[test]))
            for train, test in folds.split(X)
        ]
        for a in model.alphas_
    ])
    # two fits within a relative gap tol of one optimum differ in their training predictions by
    # O(sqrt(tol)) in RMS (the squared loss is strongly convex in the predictions): 1e-4 of the
    # target's spread at tol=1e-8, so the test scores agree to a few 1e-4
    np.testing.assert_allclose(model.scores_path_, scores, rtol=0, atol=1e-3)
    mean = scores.mean(axis=1)
    assert model.alpha_ == model.alphas_[np.argmax(mean)]
    assert np.sort(mean)[-1] - np.sort(mean)[-2] > 2e-3  # the choice is not a near tie
    assert model.best_score_ == pytest.approx(mean.max(), abs=1e-3)
    results = model.cv_results_
    for k in range(3):
        np.testing.assert_array_equal(results[f"split{k}_test_score"], model.scores_path_[:, k])
    np.testing.assert_allclose(results["std_test_score"], scores.std(axis=1), atol=1e-3)
    assert results["rank_test_score"][model.best_index_] == 1
    # the refit is the plain estimator at alpha_ on all the data, and predicts for the CV one
    refit = ConvexReLURegressor(alpha=model.alpha_, **options).fit(X, y)
    assert model.objective_ == pytest.approx(refit.objective_, rel=1e-6)
    np.testing.assert_array_equal(model.predict(X), model.best_estimator_.predict(X))
    np.testing.assert_array_equal(model.coefs_[0], model.best_estimator_.coefs_[0])


def test_classifier_scoring_matches_loop_of_plain_fits():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (40, 1))
    y = np.where(np.abs(X[:, 0]) + 0.4 * rng.standard_normal(40) > 1.0, "out", "in")
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    options = {"n_patterns": 100, "pattern_search": "enumerated", "tol": 1e-8}
    model = ConvexReLUClassifierCV(
        n_alphas=4, eps=1e-2, cv=folds, scoring="neg_log_loss", **options
    ).fit(X, y)
    scores = np.array([
        [
            -log_loss(y[test], ConvexReLUClassifier(alpha=a, **options)
                      .fit(X[train], y[train]).predict_proba(X[test]), labels=["in", "out"])
            for train, test in folds.split(X, y)
        ]
        for a in model.alphas_
    ])
    np.testing.assert_allclose(model.scores_path_, scores, rtol=0, atol=1e-3)  # as above
    mean = scores.mean(axis=1)
    assert model.alpha_ == model.alphas_[np.argmax(mean)]
    assert np.sort(mean)[-1] - np.sort(mean)[-2] > 2e-3
    # at alpha_max of all the data the plain classifier is the zero network plus its unpenalized
    # offset: the class frequencies
    at_top = ConvexReLUClassifier(alpha=model.alpha_max_, **options).fit(X, y)
    assert model.alpha_max_exact_ and at_top.n_active_neurons_ == 0
    frequency = np.mean(y == "out")
    np.testing.assert_allclose(at_top.predict_proba(X), [[1 - frequency, frequency]] * 40,
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.classes_, ["in", "out"])
    np.testing.assert_array_equal(model.predict_proba(X), model.best_estimator_.predict_proba(X))


def test_warm_started_path_matches_cold_solves(regression):
    """Each fold's warm-started path agrees with cold solves over the same patterns to the
    certified relative gap ``tol``."""
    X, y = regression
    tol = 1e-6
    splits = list(KFold(3, shuffle=True, random_state=1).split(X))
    options = {"n_patterns": 10, "tol": tol, "random_state": 0}
    model = ConvexReLURegressorCV(n_alphas=4, eps=1e-2, cv=splits, **options).fit(X, y)
    solver = get_solver("auto", tol=tol)
    for k, (train, _) in enumerate(splits):
        # the fold's search at the smallest alpha gives the patterns of its path
        search = ConvexReLURegressor(alpha=model.alphas_[-1], **options).fit(X[train], y[train])
        target = (y[train] - y[train].mean()) / y[train].std()  # the regressor's program target
        for i, a in enumerate(model.alphas_):
            problem = ReLUProblem(X[train], target, search.patterns_, lam=a)
            cold = solver.solve(problem).objective
            warm = model.objective_path_[i, k]
            # both are within tol (relative gap) above the same optimum
            assert abs(warm - cold) <= tol / (1 - tol) * max(warm, cold) * 1.01


def test_parallel_folds_give_the_same_fit(regression):
    X, y = regression
    options = {"n_alphas": 3, "cv": 3, "n_patterns": 8, "random_state": 0}
    one = ConvexReLURegressorCV(n_jobs=1, **options).fit(X, y)
    two = ConvexReLURegressorCV(n_jobs=2, **options).fit(X, y)
    np.testing.assert_allclose(two.scores_path_, one.scores_path_, rtol=1e-12, atol=1e-12)
    assert two.alpha_ == one.alpha_
    np.testing.assert_allclose(two.predict(X), one.predict(X), rtol=1e-12, atol=1e-12)


def test_refitted_model_is_saved_not_the_cv_estimator(spline, tmp_path):
    X, y = spline
    model = ConvexReLURegressorCV(
        n_alphas=2, cv=2, n_patterns=100, pattern_search="enumerated"
    ).fit(X, y)
    path = model.best_estimator_.save(tmp_path / "best")
    loaded = persistence.load(path)
    assert type(loaded) is ConvexReLURegressor and loaded.alpha == model.alpha_
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="got ConvexReLURegressorCV"):
        persistence.save(model, tmp_path / "cv")


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"alphas": [0.1, -1.0]}, ValueError, "alphas must be finite and > 0"),
        ({"alphas": [0.1, np.inf]}, ValueError, "alphas must be finite and > 0"),
        ({"alphas": [[0.1, 0.2]]}, ValueError, "alphas must be a non-empty 1-D array"),
        ({"alphas": []}, ValueError, "alphas must be a non-empty 1-D array"),
        ({"alphas": ["a", "b"]}, ValueError, "alphas must hold numbers"),
        ({"alphas": 0.1}, InvalidParameterError, "'alphas' parameter"),
        ({"cv": "five"}, InvalidParameterError, "'cv' parameter"),
        ({"cv": 1}, InvalidParameterError, "'cv' parameter .* range \\[2, inf\\)"),
        ({"scoring": "not_a_scorer"}, InvalidParameterError, "'scoring' parameter"),
        ({"n_alphas": 0}, InvalidParameterError, "'n_alphas' parameter"),
        ({"eps": 0.0}, InvalidParameterError, "'eps' parameter"),
        ({"eps": 1.0}, InvalidParameterError, "'eps' parameter"),
    ],
)
def test_bad_parameters_are_named(params, error, match):
    X = np.arange(12.0).reshape(6, 2)
    y = np.arange(6.0)
    model = ConvexReLURegressorCV(n_patterns=4, pattern_search="sampled", **params)
    with pytest.raises(error, match=match):
        model.fit(X, y)


def test_constant_target_needs_an_explicit_grid():
    X = np.arange(12.0).reshape(6, 2)
    model = ConvexReLURegressorCV(cv=2, n_patterns=20, pattern_search="sampled", random_state=0)
    with pytest.raises(ValueError, match="alpha_max is 0.*pass an explicit alphas grid"):
        model.fit(X, np.full(6, 3.0))
    # with an explicit grid the fit is the zero network: the constant target everywhere
    fitted = model.set_params(alphas=[1.0, 0.1]).fit(X, np.full(6, 3.0))
    np.testing.assert_array_equal(fitted.predict(X), 3.0)
