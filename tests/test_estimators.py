"""Tests for convexnn.estimators: scikit-learn conformance, agreement with the route, bad input."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import convexnn.families as families_module
import convexnn.search as search_module
from convexnn.search import sgd_schedule
from convexnn import (
    CvxpySolver,
    GatedReLUProblem,
    ReLUProblem,
    SolverError,
    from_convex,
    sample_patterns,
)
from convexnn.solvers import Solver
from convexnn.estimators import ConvexReLUClassifier, ConvexReLURegressor


# tests that rebuild the program by hand use the sampled patterns (no column generation)
SAMPLED = {"pattern_search": "sampled"}

# Small n_patterns and an iteration cap keep the ~200 scikit-learn checks at a few seconds in
# total: the checks test the API contract (validation, shapes, cloning, pickling, dtypes), not the
# solver's accuracy, which the tests below and tests/test_solvers_native.py pin down. The cap can
# leave a solve short of tol on the checks' raw, unscaled data (a ConvergenceWarning, which the
# checks allow). No check is marked as expected to fail: all of them pass.
_CHECK_OPTIONS = {"n_patterns": 6, "random_state": 0, "max_iter": 500}


@parametrize_with_checks(
    [
        ConvexReLURegressor(**_CHECK_OPTIONS),
        ConvexReLURegressor(formulation="gated", **_CHECK_OPTIONS),
        ConvexReLUClassifier(**_CHECK_OPTIONS),
        ConvexReLUClassifier(formulation="gated", **_CHECK_OPTIONS),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.maximum(X @ [1.0, -1.0, 0.5], 0) + 0.1 * rng.standard_normal(40) + 3.0
    return X, y


@pytest.fixture
def blobs():
    rng = np.random.default_rng(1)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.0]])
    labels = np.repeat(np.arange(3), 20)
    X = centers[labels] + rng.standard_normal((60, 2))
    return X, labels


# ---------------------------------------------------------------------- agreement with the route
@pytest.mark.parametrize(
    "formulation, problem_class", [("relu", ReLUProblem), ("gated", GatedReLUProblem)]
)
def test_regressor_matches_the_route_by_hand(regression, formulation, problem_class):
    X, y = regression
    est = ConvexReLURegressor(alpha=1e-2, n_patterns=10, formulation=formulation, random_state=3, tol=1e-8,
                              **SAMPLED)
    est.fit(X, y)
    patterns = sample_patterns(X, 10, fit_intercept=True, random_state=3)
    # the program is solved on the standardized target (alpha is relative to its spread)
    scale = y.std()
    problem = problem_class(X, (y - y.mean()) / scale, patterns, lam=1e-2)
    result = CvxpySolver("CLARABEL", tol=1e-10).solve(problem)
    np.testing.assert_array_equal(est.patterns_.mask, patterns.mask)
    assert est.objective_ == pytest.approx(result.objective, rel=1e-6)
    # the estimator predicts with its mapped network, which equals its convex model exactly and
    # the independent Clarabel solution up to the solvers' tolerances
    np.testing.assert_allclose(est.predict(X), est.to_network().predict(X) + y.mean(), atol=1e-12)
    own = scale * problem.predict(np.vstack(est._coef))
    np.testing.assert_allclose(est.predict(X), own + y.mean(), atol=1e-6)
    np.testing.assert_allclose(
        est.predict(X), scale * problem.predict(result.coef) + y.mean(), atol=1e-4
    )
    assert est.intercepts_[1] == pytest.approx([y.mean()])
    assert est.solver_status_ == "optimal"
    assert est.n_iter_ > 0


def test_regressor_network_reproduces_objective_and_predictions(regression):
    X, y = regression
    est = ConvexReLURegressor(alpha=1e-2, n_patterns=10, random_state=0).fit(X, y)
    net = est.to_network()
    assert net.n_neurons == est.n_active_neurons_ > 0
    # the non-convex weight-decay objective at the mapped weights equals the convex optimum: in
    # the target's units, lam = alpha * s and the objective is s**2 times the standardized one
    s = y.std()
    assert net.objective(X, y - y.mean(), 1e-2 * s) == pytest.approx(s**2 * est.objective_, rel=1e-6)
    np.testing.assert_allclose(net.predict(X) + est.intercepts_[1][0], est.predict(X), atol=1e-12)
    # the MLP-style attributes hold the same network
    W1, W2 = est.coefs_
    b1, b2 = est.intercepts_
    assert W1.shape == (3, est.n_active_neurons_) and W2.shape == (est.n_active_neurons_, 1)
    manual = np.maximum(X @ W1 + b1, 0) @ W2 + b2
    np.testing.assert_allclose(manual[:, 0], est.predict(X), atol=1e-10)


def test_multi_output_is_independent_programs_over_shared_patterns(regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y + X[:, 0]])
    multi = ConvexReLURegressor(alpha=1e-2, n_patterns=8, random_state=0, **SAMPLED).fit(X, Y)
    singles = [ConvexReLURegressor(alpha=1e-2, n_patterns=8, random_state=0, **SAMPLED).fit(X, t) for t in Y.T]
    assert multi.predict(X).shape == (40, 2)
    for c, single in enumerate(singles):
        np.testing.assert_allclose(multi.predict(X)[:, c], single.predict(X), atol=1e-6)
    assert multi.objective_ == pytest.approx(sum(s.objective_ for s in singles), rel=1e-6)
    assert multi.n_active_neurons_ == sum(s.n_active_neurons_ for s in singles)
    # the union network: each neuron feeds exactly one output
    W2 = multi.coefs_[1]
    assert np.all((W2 != 0).sum(axis=1) == 1)
    assert len(multi.to_network()) == 2


def test_binary_classifier_is_the_logistic_program_with_string_labels(blobs):
    X, labels = blobs
    keep = labels < 2
    X, y = X[keep], np.array(["cat", "dog"])[labels[keep]]
    clf = ConvexReLUClassifier(alpha=1e-2, n_patterns=8, random_state=0, tol=1e-8, **SAMPLED)
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog"])
    patterns = sample_patterns(X, 8, fit_intercept=True, random_state=0)
    # with fit_intercept, the logistic loss with the unpenalized output offset minimized out
    problem = ReLUProblem(
        X, np.where(y == "dog", 1.0, -1.0), patterns, lam=1e-2, loss="logistic_offset"
    )
    result = CvxpySolver("CLARABEL", tol=1e-10).solve(problem)
    assert clf.objective_ == pytest.approx(result.objective, rel=1e-6)
    scores = clf.decision_function(X)
    offset = clf.intercepts_[1][0]
    np.testing.assert_allclose(scores, clf.to_network().predict(X) + offset, atol=1e-12)
    np.testing.assert_allclose(scores, problem.predict(np.vstack(clf._coef)) + offset, atol=1e-6)
    fitted = problem.predict(result.coef)
    np.testing.assert_allclose(scores, fitted + problem.loss.offset(fitted, problem.y), atol=1e-4)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores)))
    np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "dog", "cat"))
    assert clf.score(X, y) == 1.0


def test_multiclass_is_one_vs_rest(blobs):
    X, y = blobs
    clf = ConvexReLUClassifier(alpha=1e-2, n_patterns=8, random_state=0, **SAMPLED).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (60, 3) and clf.coefs_[1].shape[1] == 3
    objective = 0.0
    for k in range(3):
        binary = ConvexReLUClassifier(alpha=1e-2, n_patterns=8, random_state=0, **SAMPLED).fit(X, y == k)
        np.testing.assert_allclose(scores[:, k], binary.decision_function(X), atol=1e-6)
        objective += binary.objective_
    assert clf.objective_ == pytest.approx(objective, rel=1e-6)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), clf.predict(X))
    assert clf.score(X, y) > 0.9


def test_gated_classifier_exposes_its_gates(blobs):
    X, y = blobs
    clf = ConvexReLUClassifier(n_patterns=8, formulation="gated", random_state=0).fit(X, y)
    assert clf.gates_.shape == (3, clf.n_active_neurons_)
    assert ConvexReLUClassifier(n_patterns=8, random_state=0).fit(X, y).gates_ is None


def test_regularization_path_agrees_with_separate_fits(regression):
    X, y = regression
    est = ConvexReLURegressor(n_patterns=8, random_state=0, **SAMPLED)
    alphas = [1.0, 0.1, 0.01]
    path = est.regularization_path(X, y, alphas)
    assert not hasattr(est, "coefs_")  # the path does not fit self
    np.testing.assert_array_equal(path.alphas, alphas)
    for alpha, objective, fitted in zip(alphas, path.objective, path.estimators):
        single = clone(est).set_params(alpha=alpha).fit(X, y)
        assert objective == pytest.approx(single.objective_, rel=1e-5, abs=1e-8)
        assert fitted.alpha == alpha
        # both are certified to the restricted program's optimum (same patterns): with the
        # squared loss in mean scaling, ||p - p*|| <= sqrt(2 n gap) for each (the two solves
        # start from different points, so only the certified radius bounds their difference)
        gaps = [m.restricted_gap_ * abs(m.objective_) for m in (fitted, single)]
        radius = sum(np.sqrt(2 * X.shape[0] * max(g, 0.0)) for g in gaps)
        difference = np.linalg.norm(fitted.predict(X) - single.predict(X))
        assert difference <= radius + 1e-9
        assert radius <= 1e-2 * np.linalg.norm(single.predict(X))
    # stronger regularization, fewer neurons; alpha=1 is above the largest useful value here
    assert list(path.n_active_neurons) == sorted(path.n_active_neurons)
    assert path.n_active_neurons[0] == 0
    np.testing.assert_allclose(path.estimators[0].predict(X), y.mean())


def test_regularization_path_rejects_bad_alphas(regression):
    X, y = regression
    with pytest.raises(ValueError, match="alphas must be a non-empty 1-D array"):
        ConvexReLURegressor(n_patterns=4).regularization_path(X, y, [0.1, -1.0])


def test_warm_start_reuses_the_gates(regression):
    X, y = regression
    est = ConvexReLURegressor(n_patterns=8, random_state=0, warm_start=True).fit(X, y)
    gates = est.patterns_.gates.copy()
    est.set_params(random_state=1, alpha=0.05).fit(X[:30], y[:30])
    np.testing.assert_array_equal(est.patterns_.gates, gates)
    cold = ConvexReLURegressor(n_patterns=8, random_state=1).fit(X[:30], y[:30])
    assert cold.patterns_.gates.shape != gates.shape or not np.array_equal(
        cold.patterns_.gates, gates
    )


def test_pipeline_and_grid_search(regression):
    X, y = regression
    pipe = make_pipeline(StandardScaler(), ConvexReLURegressor(n_patterns=6, random_state=0))
    search = GridSearchCV(pipe, {"convexreluregressor__alpha": [1e-3, 1e-1]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["convexreluregressor__alpha"] in (1e-3, 1e-1)
    assert search.score(X, y) > 0.5


# ---------------------------------------------------------------------- bad input and limits
@pytest.mark.parametrize("Estimator", [ConvexReLURegressor, ConvexReLUClassifier])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_X_is_rejected(blobs, Estimator, bad):
    X, y = blobs
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        Estimator(n_patterns=4).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_y_is_rejected(regression, bad):
    X, y = regression
    y = y.copy()
    y[0] = bad
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        ConvexReLURegressor(n_patterns=4).fit(X, y)


def test_wrong_dimensions_are_rejected(regression):
    X, y = regression
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        ConvexReLURegressor(n_patterns=4).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="Found array with dim 3"):
        ConvexReLURegressor(n_patterns=4).fit(X[:, :, None], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ConvexReLURegressor(n_patterns=4).fit(X, y[:-1])
    with pytest.raises(ValueError, match="y should be a 1d array"):
        ConvexReLUClassifier(n_patterns=4).fit(X, np.zeros((40, 2)))


def test_empty_X_is_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        ConvexReLURegressor().fit(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="0 feature"):
        ConvexReLURegressor().fit(np.zeros((5, 0)), np.zeros(5))


def test_single_sample():
    # regression: the centered target is zero, so the fit is the constant y (no neuron)
    est = ConvexReLURegressor(n_patterns=4, random_state=0).fit([[1.0, 2.0]], [5.0])
    assert est.n_active_neurons_ == 0
    np.testing.assert_array_equal(est.predict([[0.0, 0.0], [3.0, -1.0]]), [5.0, 5.0])
    # classification: one sample is one class
    with pytest.raises(ValueError, match="at least 2 classes.*only one class"):
        ConvexReLUClassifier(n_patterns=4).fit([[1.0, 2.0]], ["a"])


def test_constant_target(regression):
    X, _ = regression
    est = ConvexReLURegressor(n_patterns=6, random_state=0).fit(X, np.full(40, 2.5))
    assert est.n_active_neurons_ == 0 and est.objective_ == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(est.predict(X), 2.5)
    # without intercept the constant must be built by neurons: still fitted well
    est = ConvexReLURegressor(alpha=1e-4, n_patterns=20, fit_intercept=False, random_state=0)
    assert est.fit(np.abs(X), np.full(40, 2.5)).n_active_neurons_ > 0
    with pytest.raises(ValueError, match="only one class"):
        ConvexReLUClassifier(n_patterns=4).fit(X, np.ones(40))


def test_mismatched_n_features_at_predict(regression):
    X, y = regression
    est = ConvexReLURegressor(n_patterns=4, random_state=0).fit(X, y)
    message = "X has 2 features, but ConvexReLURegressor is expecting 3"
    with pytest.raises(ValueError, match=message):
        est.predict(X[:, :2])


@pytest.mark.parametrize("method", ["predict", "decision_function", "predict_proba", "to_network"])
def test_not_fitted(method, blobs):
    X, _ = blobs
    clf = ConvexReLUClassifier()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(clf, method)(*(() if method == "to_network" else (X,)))


def test_sparse_X_is_rejected_with_advice_to_densify(regression):
    X, y = regression
    with pytest.raises(TypeError, match=r"dense data is required.*toarray"):
        ConvexReLURegressor(n_patterns=4).fit(sp.csr_matrix(X), y)
    est = ConvexReLURegressor(n_patterns=4, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match=r"toarray"):
        est.predict(sp.csr_matrix(X))


def test_too_large_a_request_fails_before_allocating(regression, monkeypatch):
    """Refused by the memory check before any work: counted, not timed."""
    from convexnn.problems import ConvexProblem

    X, y = regression
    calls = {"check_memory": 0, "sample_patterns": 0, "enumerate_patterns": 0, "problem": 0}

    def counting(name, func):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return func(*args, **kwargs)
        return wrapper

    # the two-layer family runs the memory check (convexnn.families)
    monkeypatch.setattr(families_module, "check_memory",
                        counting("check_memory", families_module.check_memory))
    for name in ("sample_patterns", "enumerate_patterns"):  # the search layer draws the patterns
        monkeypatch.setattr(search_module, name, counting(name, getattr(search_module, name)))
    monkeypatch.setattr(ConvexProblem, "__init__", counting("problem", ConvexProblem.__init__))
    est = ConvexReLURegressor(n_patterns=10**9)
    tracemalloc.start()
    with pytest.raises(MemoryError, match=r"GiB.*Turn down n_patterns"):
        est.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # one memory check, and it refused: no pattern sampled, no program built, nothing big allocated
    assert calls == {"check_memory": 1, "sample_patterns": 0, "enumerate_patterns": 0, "problem": 0}
    assert peak < 50e6
    assert not hasattr(est, "coefs_")
    # the counters see a fit that goes ahead: sampled and built once it passes the check
    ConvexReLURegressor(n_patterns=4, pattern_search="sampled", random_state=0).fit(X, y)
    assert calls["check_memory"] == 2 and calls["sample_patterns"] == 1 and calls["problem"] >= 1


@pytest.mark.parametrize("name", ["NOT_A_SOLVER", "GUROBI"])
def test_solver_not_installed(regression, name):
    import cvxpy as cp

    if name in cp.installed_solvers():
        pytest.skip(f"{name} is installed here")
    X, y = regression
    message = rf"solver='{name}' is not an installed cvxpy solver; installed: .*CLARABEL"
    with pytest.raises(ValueError, match=message):
        ConvexReLURegressor(n_patterns=4, solver=name).fit(X, y)


def test_solver_instance_and_scs(regression):
    X, y = regression
    ref = ConvexReLURegressor(alpha=1e-2, n_patterns=6, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solver = CvxpySolver("SCS", tol=1e-8, max_iter=100000)
        scs = ConvexReLURegressor(alpha=1e-2, n_patterns=6, random_state=0, solver=solver)
        scs.fit(X, y)
    assert scs.objective_ == pytest.approx(ref.objective_, rel=1e-3)


class _FailingSolver(Solver):
    name = "always-fails"

    def solve(self, problem, init=None):
        raise SolverError("numerical trouble", status="solver_error")


def test_solver_failure_is_raised_not_hidden(regression):
    X, y = regression
    with pytest.raises(SolverError, match="numerical trouble"):
        ConvexReLURegressor(n_patterns=6, solver=_FailingSolver()).fit(X, y)


def test_invalid_parameters_are_reported(regression):
    X, y = regression
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        ConvexReLURegressor(alpha=-1.0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'formulation' parameter"):
        ConvexReLURegressor(formulation="deep").fit(X, y)


def test_feature_names_are_recorded():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    est = ConvexReLURegressor(n_patterns=4, random_state=0).fit(X, [0.0, 1.0, 2.0, 1.0])
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b"])


def test_auto_enumerates_small_data_and_certifies_the_global_optimum():
    from convexnn import enumerate_patterns
    from convexnn.datasets import make_1d

    X, y = make_1d(n_samples=10)
    est = ConvexReLURegressor(alpha=1e-3, n_patterns=100, tol=1e-8, max_iter=50000).fit(X, y)
    patterns = enumerate_patterns(X, fit_intercept=True)
    assert est.patterns_.n_patterns == patterns.n_patterns  # 'auto' listed all of them
    problem = ReLUProblem(X, _standardized(y), patterns, lam=1e-3)
    reference = CvxpySolver("CLARABEL", tol=1e-10).solve(problem)
    assert est.objective_ == pytest.approx(reference.objective, rel=1e-6)
    assert est.certificate_exact_
    assert 0 <= est.optimality_gap_ <= 1e-4  # the bound is loose by the solver tolerance
    assert est.lower_bound_ <= reference.objective * (1 + 1e-9)


def test_column_generation_reaches_the_enumerated_optimum_within_its_budget():
    from convexnn import enumerate_patterns

    rng = np.random.default_rng(2)
    X = rng.standard_normal((12, 2))
    y = np.maximum(X @ [1.0, -1.0], 0) - np.maximum(X @ [0.5, 1.0] + 0.3, 0)
    full = enumerate_patterns(X, fit_intercept=True)
    reference = CvxpySolver("CLARABEL", tol=1e-10).solve(
        ReLUProblem(X, _standardized(y), full, lam=1e-3)
    )
    est = ConvexReLURegressor(
        alpha=1e-3, n_patterns=full.n_patterns - 1, pattern_search="column_generation",
        solver="CLARABEL", tol=1e-10, random_state=0,
    ).fit(X, y)
    assert est.patterns_.n_patterns < full.n_patterns
    assert est.objective_ == pytest.approx(reference.objective, rel=1e-6)
    assert est.certificate_exact_ and est.optimality_gap_ <= 1e-5


@pytest.mark.parametrize("search", ["sampled", "column_generation", "sgd"])
def test_every_pattern_search_reports_a_consistent_certificate(regression, search):
    X, y = regression
    est = ConvexReLURegressor(alpha=1e-2, n_patterns=12, pattern_search=search, random_state=0)
    est.fit(X, y)
    assert est.patterns_.n_patterns <= 12
    assert est.optimality_gap_ == pytest.approx(
        (est.objective_ - est.lower_bound_) / est.objective_
    )
    # 40 points in 3-D have far more than 200 patterns: the bound is an estimate, said so
    assert not est.certificate_exact_


def test_enumerated_search_needs_a_budget_for_every_pattern(regression):
    X, y = regression
    with pytest.raises(ValueError, match="pattern_search='enumerated'.*raise n_patterns"):
        ConvexReLURegressor(n_patterns=10, pattern_search="enumerated").fit(X, y)


def _training_targets(est, y):
    """The per-output targets a fitted estimator solved for: standardized y, or -1/+1 per class."""
    if isinstance(est, ConvexReLUClassifier):
        if est.classes_.shape[0] == 2:
            return np.where(y == est.classes_[1], 1.0, -1.0)[:, None]
        return np.where(y[:, None] == est.classes_, 1.0, -1.0)
    return _standardized(y)[:, None]


def _standardized(y):
    """The regressors' program target: y centered and divided by its standard deviation."""
    return (y - y.mean()) / y.std()


def _network_objective(est, X, y):
    """``L_nc`` of the fitted network(s) on the training targets, summed over outputs."""
    networks = est.to_network()
    networks = networks if isinstance(networks, list) else [networks]
    # the networks are in the target's units: scaled back to the program's standardized target
    networks = [net.scaled(1.0 / s) for net, s in zip(networks, est._scale)]
    return sum(
        net.objective(X, t, est.alpha, loss=est._loss)
        for net, t in zip(networks, _training_targets(est, y).T)
    )


@pytest.mark.parametrize("formulation", ["relu", "gated"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_sgd_search_is_never_worse_than_its_adam_networks(regression, blobs, task, formulation):
    from convexnn.networks import ReLUNetwork
    from convexnn.sgd import train

    if task == "multiclass":
        X, y = blobs
    else:
        X, y = regression
        if task == "binary":
            y = (y > np.median(y)).astype(int)
    cls = ConvexReLURegressor if task == "regression" else ConvexReLUClassifier
    # one solver iteration per solve: the solver stops far from its tolerance (for 'relu' at an
    # infeasible point that must be repaired or rejected), so only the guard keeps the promise
    est = cls(alpha=1e-2, n_patterns=12, formulation=formulation, pattern_search="sgd",
              max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est.objective_ <= est.sgd_objective_
    # the reported objective is that of a feasible point: the mapped network attains it
    assert _network_objective(est, X, y) == pytest.approx(est.objective_, rel=1e-6)
    if task != "multiclass":
        # sgd_objective_ is L_nc of the Adam network trained inside (width n_patterns, seeded by
        # random_state), repeated here by hand
        target = _training_targets(est, y)[:, 0]
        adam = train(ReLUNetwork.random(X.shape[1], 12, random_state=0), X, target, lam=1e-2,
                     loss=est._loss, random_state=0, **sgd_schedule(X.shape[0]))
        assert est.sgd_objective_ == pytest.approx(adam.objective, rel=1e-12)


class _WorseningSolver(Solver):
    """Returns its start pushed far away (off the cones for 'relu'): never an improvement."""

    name = "worsening"

    def __init__(self):
        self.calls = 0

    def solve(self, problem, init=None):
        from convexnn import SolveResult

        self.calls += 1
        start = problem.zeros() if init is None else init
        coef = start + 10.0 * np.random.default_rng(self.calls).standard_normal(start.shape)
        return SolveResult(coef=coef, objective=problem.objective(coef), status="max_iter",
                           solver=self.name, lam=problem.lam)


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_sgd_search_keeps_the_embedding_when_the_solver_only_makes_it_worse(
    regression, formulation
):
    from convexnn.networks import ReLUNetwork
    from convexnn.sgd import train

    X, y = regression
    solver = _WorseningSolver()
    est = ConvexReLURegressor(alpha=1e-2, n_patterns=12, formulation=formulation,
                              pattern_search="sgd", solver=solver, random_state=0).fit(X, y)
    assert solver.calls >= 1
    target = _standardized(y)
    adam = train(ReLUNetwork.random(X.shape[1], 12, random_state=0), X, target, lam=1e-2,
                 random_state=0, **sgd_schedule(X.shape[0]))
    problem, coef = adam.network.to_convex(X, target, 1e-2)
    embedded = problem.objective(coef)
    assert embedded <= adam.objective
    if formulation == "relu":  # the same program over the same patterns: exactly the embedding
        assert est.objective_ == pytest.approx(embedded, rel=1e-12)
    else:  # v_i - w_i folded into one gated block: the same predictions, no larger penalty
        assert est.objective_ <= embedded * (1 + 1e-12)
    assert _network_objective(est, X, y) == pytest.approx(est.objective_, rel=1e-9)
    assert est.solver_status_ == "max_iter"  # the solver's status is kept with the start


def test_auto_search_enumerates_what_fits_the_budget_and_else_starts_from_adam():
    from convexnn.certificates import pattern_count
    from convexnn.datasets import make_1d, make_teacher

    X_small, _ = make_1d(n_samples=10)  # 2 * 10 patterns with the intercept
    X_large, _ = make_teacher(40, 3, random_state=0)  # thousands of patterns
    assert pattern_count(X_small, True) == 20 and pattern_count(X_large, True) > 1000

    def resolved(X, n_patterns, **params):
        return ConvexReLURegressor(n_patterns=n_patterns, **params)._strategy(X)

    # every pattern fits the budget: list them all
    assert resolved(X_small, 20) == "enumerated"
    assert resolved(X_small, 2, fit_intercept=False) == "enumerated"  # rank 1: two patterns
    # one pattern too many, or far too many, whether the budget is above n_samples or not
    assert resolved(X_small, 19) == "sgd"
    assert resolved(X_large, 12) == "sgd"
    assert resolved(X_large, 500) == "sgd"
    assert ConvexReLUClassifier(n_patterns=12)._strategy(X_large) == "sgd"
    # an explicit choice is kept
    assert resolved(X_large, 12, pattern_search="column_generation") == "column_generation"
    assert resolved(X_small, 20, pattern_search="sampled") == "sampled"


@pytest.mark.parametrize("loader, estimator", [
    ("load_iris", ConvexReLUClassifier), ("load_diabetes", ConvexReLURegressor)])
def test_default_fit_on_bundled_data_converges_without_warning(loader, estimator):
    """Defaults are part of the product: a default fit ends certified at tol, with no warning."""
    import sklearn.datasets
    from sklearn.preprocessing import StandardScaler

    X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if estimator is ConvexReLURegressor:
        y = (y - y.mean()) / y.std()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = estimator(random_state=0).fit(X, y)
    assert est.tol == 1e-4
    assert est.solver_status_ == "optimal"
    # the certified gap over the fitted patterns meets the tolerance; the gap to the training
    # problem over all patterns is an estimate that also counts the patterns not found
    assert 0 <= est.restricted_gap_ <= est.tol * 1.01
    assert est.optimality_gap_ >= est.restricted_gap_ - 1e-9
    # the fit's steps are timed: the Adam start ('sgd' here), the solve, growth, certificate
    assert list(est.timings_) == ["start", "solve", "grow", "certificate"]
    assert all(t >= 0 for t in est.timings_.values()) and est.timings_["start"] > 0
    assert est.sgd_objective_ is not None


def test_huber_regressor_end_to_end(regression):
    """A registered loss of real targets is an estimator option with nothing else to change: the
    interior point ('auto') and Clarabel agree within their certified gaps on the same patterns,
    the fitted network attains the objective, and the fit resists outliers better than squared."""
    X, y = regression
    y = y.copy()
    y[:4] += 20.0  # gross outliers
    common = dict(alpha=1e-2, n_patterns=8, random_state=0, **SAMPLED)
    huber = ConvexReLURegressor(loss="huber", **common).fit(X, y)
    assert huber.solver_status_ == "optimal"
    reference = ConvexReLURegressor(loss="huber", solver="CLARABEL", **common).fit(X, y)
    np.testing.assert_array_equal(huber.patterns_.gates, reference.patterns_.gates)
    # the interior point's gap is certified; Clarabel's objective is feasible, so the optimum lies
    # in [huber.lower, min(objectives)] and the two objectives differ by at most huber's gap plus
    # Clarabel's own distance to the optimum (bounded by the same interval)
    lower = huber.objective_ * (1 - huber.restricted_gap_)
    assert reference.objective_ >= lower - 1e-10
    assert huber.objective_ - reference.objective_ <= huber.restricted_gap_ * huber.objective_
    assert huber.restricted_gap_ <= 1e-4
    assert _network_objective(huber, X, y) == pytest.approx(huber.objective_, rel=1e-9)
    # robustness: on the clean rows, the Huber fit is closer to the clean targets
    squared = ConvexReLURegressor(**common).fit(X, y)
    clean = slice(4, None)
    err = [np.mean((m.predict(X[clean]) - y[clean]) ** 2) for m in (huber, squared)]
    assert err[0] < err[1]
    with pytest.raises(ValueError, match="'loss' parameter"):
        ConvexReLURegressor(loss="logistic").fit(X, y)


def test_alpha_is_relative_to_the_target_scale(regression):
    """The program is solved on the standardized target: scaling and shifting y scales and shifts
    the predictions and leaves the objective and the network's shape unchanged."""
    X, y = regression
    common = dict(alpha=1e-2, n_patterns=8, random_state=0, **SAMPLED)
    unit = ConvexReLURegressor(**common).fit(X, y)
    big = ConvexReLURegressor(**common).fit(X, 250.0 * y + 40.0)
    np.testing.assert_allclose(big.predict(X), 250.0 * unit.predict(X) + 40.0, rtol=1e-9)
    assert big.objective_ == pytest.approx(unit.objective_, rel=1e-9)
    assert big.n_active_neurons_ == unit.n_active_neurons_
    # the network in the target's units is balanced: the optimum for lam = alpha * std(y)
    net, s = big.to_network(), (250.0 * y).std()
    np.testing.assert_allclose(np.abs(net.w2), np.linalg.norm(net.first_layer, axis=0), rtol=1e-9)
    assert net.objective(X, 250.0 * (y - y.mean()), 1e-2 * s) == pytest.approx(
        s**2 * big.objective_, rel=1e-6
    )
