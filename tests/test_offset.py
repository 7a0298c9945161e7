"""The classifier's unpenalized output offset: LogisticOffsetLoss, its solvers and certificate."""

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

from convexnn import ConvexReLUClassifier
from convexnn.certificates import certify
from convexnn.losses import LogisticLoss, LogisticOffsetLoss, get_loss
from convexnn.patterns import enumerate_patterns, sample_patterns
from convexnn.problems import GatedReLUProblem, ReLUProblem
from convexnn.solvers.augmented_lagrangian import AugmentedLagrangian
from convexnn.solvers.cvxpy_solver import CvxpySolver
from convexnn.solvers.fista import FISTA
from convexnn.solvers.interior_point import InteriorPoint


def _labels(rng, n, p=0.8):
    y = np.where(rng.random(n) < p, 1.0, -1.0)
    y[:2] = [1.0, -1.0]  # both labels
    return y


@pytest.fixture
def small():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(24, 2))
    y = np.where(X[:, 0] + 0.7 * X[:, 1] ** 2 + 0.3 * rng.normal(size=24) > 0.8, 1.0, -1.0)
    return X, y


@pytest.mark.parametrize("p", [0.5, 0.8, 0.97])
def test_value_is_the_minimum_over_the_offset(p):
    rng = np.random.default_rng(0)
    n = 40
    y, m = _labels(rng, n, p), 3.0 * rng.normal(size=n)
    loss, plain = LogisticOffsetLoss(), LogisticLoss()
    brute = minimize_scalar(lambda b: plain.value(m + b, y), bracket=(-5, 5), tol=1e-14)
    b = loss.offset(m, y)
    assert b == pytest.approx(brute.x, abs=1e-6)
    assert loss.value(m, y) == pytest.approx(brute.fun, rel=1e-12)
    assert loss.value(m, y) <= plain.value(m + brute.x, y) + 1e-15
    # stationarity of b to machine precision, and the loss is constant along pred + t 1
    assert abs(plain.gradient(m + b, y).sum()) < 1e-15
    assert loss.value(m + 2.5, y) == pytest.approx(loss.value(m, y), rel=1e-13)
    assert loss.offset(m + 2.5, y) == pytest.approx(b - 2.5, abs=1e-12)


def test_gradient_and_hessian_against_finite_differences():
    rng = np.random.default_rng(1)
    n = 15
    y, m = _labels(rng, n), 2.0 * rng.normal(size=n)
    loss = LogisticOffsetLoss()
    g = loss.gradient(m, y)
    assert abs(g.sum()) < 1e-17
    eps = 1e-6
    eye = np.eye(n)
    fd = np.array([(loss.value(m + eps * e, y) - loss.value(m - eps * e, y)) / (2 * eps)
                   for e in eye])
    np.testing.assert_allclose(g, fd, atol=1e-9)
    h, c = loss.hessian(m, y), loss.hessian_rank_one(m, y)
    H = np.diag(h) - np.outer(c, c)
    fdH = np.array([(loss.gradient(m + eps * e, y) - loss.gradient(m - eps * e, y)) / (2 * eps)
                    for e in eye])
    np.testing.assert_allclose(H, fdH, atol=1e-9)
    np.testing.assert_allclose(H @ np.ones(n), 0.0, atol=1e-17)  # flat along 1
    assert np.linalg.eigvalsh(H).min() > -1e-16
    assert get_loss("logistic_offset") == loss and loss.provides("hessian")
    assert LogisticLoss().hessian_rank_one(m, y) is None


def test_conjugate_against_a_numerical_infimum():
    rng = np.random.default_rng(2)
    n = 6
    y = np.array([1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
    loss = LogisticOffsetLoss()
    # a dual point on the hyperplane 1^T z = 0 with n y z in (0, 1)
    z = -loss.gradient(rng.normal(size=n), y)
    assert abs(z.sum()) < 1e-17
    # -F*(-z) = inf_m F(m) + z^T m
    res = minimize(lambda m: loss.value(m, y) + z @ m, np.zeros(n), method="BFGS",
                   options={"gtol": 1e-12})
    assert loss.dual(z, y) == pytest.approx(res.fun, abs=1e-8)
    # the conjugate is +inf off the hyperplane: the dual value is -inf
    assert loss.dual(z + 1e-3, y) == -np.inf
    assert loss.dual(z, y) == pytest.approx(LogisticLoss().dual(z, y))


def test_single_label_is_the_zero_infimum():
    loss = LogisticOffsetLoss()
    m, y = np.array([0.3, -1.0, 2.0]), np.ones(3)
    assert loss.offset(m, y) == np.inf
    assert loss.value(m, y) == 0.0
    np.testing.assert_array_equal(loss.gradient(m, y), 0.0)


@pytest.mark.parametrize("lam", [3e-2, 1e-1])
def test_native_solvers_agree_with_cvxpy_within_the_certified_gap(small, lam):
    X, y = small
    patterns = sample_patterns(X, 8, fit_intercept=True, random_state=0)
    problem = ReLUProblem(X, y, patterns, lam=lam, loss="logistic_offset")
    reference = CvxpySolver("CLARABEL", tol=1e-10).solve(problem)
    for solver in (InteriorPoint(tol=1e-8), AugmentedLagrangian(tol=1e-6, max_iter=20000)):
        result = solver.solve(problem)
        assert result.status == "optimal", solver
        assert result.lower_bound <= reference.objective + 1e-9
        gap = result.objective - result.lower_bound
        assert result.objective == pytest.approx(reference.objective, abs=gap + 1e-7)
        assert problem.constraint_violation(result.coef) <= 1e-6
    gated = GatedReLUProblem(X, y, patterns, lam=lam, loss="logistic_offset")
    reference = CvxpySolver("CLARABEL", tol=1e-10).solve(gated)
    result = FISTA(tol=1e-8, max_iter=20000).solve(gated)
    assert result.lower_bound <= reference.objective + 1e-9
    assert result.objective == pytest.approx(
        reference.objective, abs=result.objective - result.lower_bound + 1e-7
    )


def test_interior_point_offset_is_a_smaller_objective_than_without(small):
    X, y = small
    patterns = sample_patterns(X, 8, fit_intercept=True, random_state=0)
    with_offset = ReLUProblem(X, y, patterns, lam=1e-2, loss="logistic_offset")
    without = ReLUProblem(X, y, patterns, lam=1e-2, loss="logistic")
    a, b = InteriorPoint(tol=1e-9).solve(with_offset), InteriorPoint(tol=1e-9).solve(without)
    assert a.objective <= b.objective + 1e-9
    # the plain program's solution is feasible for the offset program
    assert with_offset.objective(b.coef) <= without.objective(b.coef)


def test_certificate_lower_bound_is_below_the_optimum(small):
    X, y = small
    X, y = X[:12], y[:12]  # 134 patterns: cvxpy over all of them stays fast
    lam = 2e-2
    patterns = enumerate_patterns(X, fit_intercept=True)
    problem = ReLUProblem(X, y, patterns, lam=lam, loss="logistic_offset")
    optimum = CvxpySolver("CLARABEL", tol=1e-10).solve(problem).objective
    sampled = ReLUProblem(X, y, sample_patterns(X, 4, fit_intercept=True, random_state=1),
                          lam=lam, loss="logistic_offset")
    for prob in (problem, sampled):
        fit = InteriorPoint(tol=1e-6).solve(prob)
        cert = certify(X, y, prob.predict(fit.coef), fit.objective, lam, loss="logistic_offset",
                       patterns=patterns)
        assert cert.exact and np.isfinite(cert.lower_bound)
        assert cert.lower_bound <= optimum + 1e-9
    assert cert.lower_bound <= fit.objective


def test_classifier_offset_is_the_log_odds_when_alpha_is_large():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 3))
    y = np.array([1] * 90 + [0] * 10)
    clf = ConvexReLUClassifier(alpha=10.0, n_patterns=8, random_state=0).fit(X, y)
    assert clf.n_active_neurons_ == 0
    log_odds = np.log(0.9 / 0.1)
    assert clf.intercepts_[1][0] == pytest.approx(log_odds, abs=1e-8)
    np.testing.assert_allclose(clf.decision_function(X), log_odds, atol=1e-8)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 0.9, atol=1e-8)
    entropy = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    assert clf.objective_ == pytest.approx(entropy, rel=1e-8)
    assert (clf.predict(X) == 1).all()
    # without fit_intercept there is no offset (and no hidden bias): the old program
    plain = ConvexReLUClassifier(alpha=10.0, n_patterns=8, random_state=0,
                                 fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(plain.intercepts_[1], 0.0)
    assert plain.objective_ == pytest.approx(np.log(2.0), rel=1e-8)


def test_imbalanced_classifier_fits_an_offset_and_relabeling_flips_it():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 2))
    y = np.where(np.arange(80) < 72, "major", "minor")
    y[:4], y[72:76] = "minor", "major"
    kwargs = dict(alpha=1e-2, n_patterns=8, random_state=0, pattern_search="sampled", tol=1e-8)
    clf = ConvexReLUClassifier(**kwargs).fit(X, y)
    assert np.isfinite(clf.intercepts_[1]).all() and clf.intercepts_[1][0] != 0.0
    flipped = ConvexReLUClassifier(**kwargs).fit(X, np.where(y == "major", "b", "a"))
    # relabeling swaps the classes: the scores change sign, the predictions follow the labels
    np.testing.assert_allclose(flipped.decision_function(X), -clf.decision_function(X),
                               atol=1e-5)
    np.testing.assert_array_equal(flipped.predict(X) == "b", clf.predict(X) == "major")
    assert flipped.objective_ == pytest.approx(clf.objective_, rel=1e-6)


def test_multiclass_offsets_and_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 2))
    y = np.repeat([0, 1, 2], [40, 12, 8])
    clf = ConvexReLUClassifier(alpha=1e-2, n_patterns=8, random_state=0,
                               pattern_search="sampled").fit(X, y)
    offsets = clf.intercepts_[1]
    assert offsets.shape == (3,) and np.all(offsets != 0.0)
    loaded = ConvexReLUClassifier.load(clf.save(tmp_path / "model.npz"))
    np.testing.assert_array_equal(loaded.intercepts_[1], offsets)
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))
    # decision_function is the networks' outputs plus the offsets
    nets = clf.to_network()
    np.testing.assert_allclose(
        clf.decision_function(X), np.column_stack([n.predict(X) for n in nets]) + offsets,
        atol=1e-12,
    )


def test_deep_classifier_has_the_offset_too(tmp_path):
    from convexnn.deep.estimators import DeepConvexReLUClassifier

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2))
    y = np.array([1] * 54 + [0] * 6)
    clf = DeepConvexReLUClassifier(alpha=10.0, random_state=0).fit(X, y)
    assert clf._offset[0] == pytest.approx(np.log(9.0), abs=1e-8)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 0.9, atol=1e-8)
    entropy = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    assert clf.objective_ == pytest.approx(entropy, rel=1e-8)
    loaded = DeepConvexReLUClassifier.load(clf.save(tmp_path / "deep.npz"))
    np.testing.assert_array_equal(loaded._offset, clf._offset)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("n, n_patterns, mode", [(12, 20, "nspace"), (80, 4, "gspace")])
@pytest.mark.parametrize("constant", [False, True])
def test_interior_point_reduced_solve_with_the_rank_one_hessian(n, n_patterns, mode, constant):
    from convexnn.solvers import _cone_program as ipm

    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 2))
    y = _labels(rng, n)
    patterns = sample_patterns(X, n_patterns, fit_intercept=True, random_state=0)
    problem = ReLUProblem(X, y, patterns, lam=1e-2, loss="logistic_offset")
    prog = ipm._Program(problem)
    B, m = prog.B, prog.m
    s = np.abs(rng.normal(size=(B, m)))
    s[:, 0] = np.linalg.norm(s[:, 1:], axis=1) + 0.5
    z = np.abs(rng.normal(size=(B, m)))
    z[:, 0] = np.linalg.norm(z[:, 1:], axis=1) + 0.5
    wbar, eta, _ = ipm._soc_nt(s, z)
    scaling = {"wbar": wbar, "eta": eta, "winv": np.exp(rng.normal(size=(n, B)))}
    pred = np.zeros(n) if constant else rng.normal(size=n)
    h, c = problem.loss.hessian(pred, y), problem.loss.hessian_rank_one(pred, y)
    fac = prog.factor(scaling, h, c)
    assert fac["mode"] == mode
    # dense M + K^T (diag(h) - c c^T) K on the flattened blocks
    size = B * m
    dense = np.zeros((size, size))
    for j in range(size):
        unit = np.zeros(size)
        unit[j] = 1.0
        x = unit.reshape(B, m)
        orth, soc = prog.scale_inv(scaling, *prog.G(x))
        orth, soc = prog.scale_inv(scaling, orth, soc)
        dense[:, j] = (prog.GT(orth, soc) + prog.hess(x, h, c)).ravel()
    r = rng.normal(size=(B, m))
    expected = np.linalg.solve(dense, r.ravel()).reshape(B, m)
    np.testing.assert_allclose(prog.reduced_solve(fac, r), expected, rtol=1e-8, atol=1e-10)
