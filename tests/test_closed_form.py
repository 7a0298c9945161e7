"""Every claim of Ergen & Pilanci (2021) implemented in convexnn.geometry, checked against the
generic C-ReLU program over all patterns (cvxpy + Clarabel, tol 1e-10) or a second method."""

import cvxpy as cp
import numpy as np
import pytest
from scipy.spatial import ConvexHull

import convexnn as cn
from convexnn.datasets import make_1d
from convexnn.geometry import (
    basis_extreme_points,
    check_spike_free,
    empirical_ntk,
    fit_1d,
    fit_rank_one,
    fit_spike_free,
    min_norm_interpolant_1d,
    min_norm_program,
    ntk_interpolant,
    ntk_kernel,
    whiten,
    whitened_hinge,
    whitened_multiclass,
    whitened_squared,
    vector_dual_bound,
)
from convexnn.penalties import GroupL1FreeIntercept

RTOL = 1e-6
REFERENCE = cn.CvxpySolver("CLARABEL", tol=1e-10)


def generic(X, y, lam, *, loss="squared", fit_intercept=False, penalty="group_l1"):
    """The generic program: C-ReLU over every activation pattern, solved to 1e-10."""
    patterns = cn.enumerate_patterns(X, fit_intercept=fit_intercept)
    problem = cn.ReLUProblem(X, y, patterns, lam=lam, loss=loss, penalty=penalty)
    result = REFERENCE.solve(problem)
    return problem, result


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


@pytest.fixture
def whitened():
    rng = np.random.default_rng(0)
    X = whiten(rng.standard_normal((6, 9)))
    return X, rng.standard_normal(6), rng


# ------------------------------------------------------------------ 1-D data
@pytest.mark.parametrize("lam", [1e-3, 1e-1])
def test_1d_free_bias_spline_with_knots_at_data_matches_generic(data_1d, lam):
    X, y = data_1d
    fit = fit_1d(X, y, lam, bias="free")
    problem, ref = generic(X, y, lam, fit_intercept=True, penalty=GroupL1FreeIntercept())
    assert rel(fit.objective, ref.objective) < RTOL
    scale = np.abs(y).max()
    assert np.abs(fit.predictions - problem.predict(ref.coef)).max() < RTOL * scale
    # the optimum found over knots at data points only is the optimum over all networks
    assert np.all(np.min(np.abs(fit.knots[:, None] - X[:, 0][None, :]), axis=1) < 1e-12)
    assert np.allclose(fit.spline.predict(X), fit.predictions)


@pytest.mark.parametrize("lam", [1e-3, 1e-2])
def test_1d_regularized_bias_spline_is_the_exact_network(data_1d, lam):
    X, y = data_1d
    fit = fit_1d(X, y, lam)
    _, ref = generic(X, y, lam, fit_intercept=True)
    assert rel(fit.objective, ref.objective) < RTOL
    assert rel(fit.network.objective(X, y, lam), ref.objective) < RTOL
    grid = np.linspace(-2, 2, 401)
    np.testing.assert_allclose(fit.spline.predict(grid), fit.network.predict(grid[:, None]), atol=1e-9)
    # piecewise linear: the second difference vanishes on every grid cell without a knot
    h = grid[1] - grid[0]
    second = np.diff(fit.spline.predict(grid), 2)
    near = np.any(np.abs(grid[1:-1, None] - fit.knots[None, :]) <= h, axis=1)
    assert np.abs(second[~near]).max() < 1e-10


def test_min_norm_interpolant_is_the_lam_to_zero_limit(data_1d):
    X, y = data_1d
    limit = min_norm_interpolant_1d(X, y, bias="free")
    problem = cn.ReLUProblem(
        X, y, cn.enumerate_patterns(X, fit_intercept=True), lam=1.0, penalty=GroupL1FreeIntercept()
    )
    _, value = min_norm_program(problem)
    assert rel(limit.penalty, value) < RTOL
    assert np.abs(limit.spline.predict(X) - y).max() < 1e-7
    gaps = [limit.penalty - fit_1d(X, y, lam, bias="free").penalty for lam in (1e-3, 1e-4, 1e-5)]
    assert gaps[0] > gaps[1] > gaps[2] > 0 and gaps[2] < 0.1 * limit.penalty
    # package convention: the generic minimum-norm program over all patterns interpolates too
    regularized = min_norm_interpolant_1d(X, y)
    assert np.abs(regularized.predictions - y).max() < 1e-7
    assert regularized.penalty >= limit.penalty - 1e-7  # the free bias can only lower the norm


def test_1d_hinge_is_the_min_l1_svm_over_the_ramp_kernel(data_1d):
    X, y = data_1d
    labels = np.where(y > 0, 1.0, -1.0)
    svm = min_norm_interpolant_1d(X, labels, loss="hinge", bias="free")
    problem = cn.ReLUProblem(
        X, labels, cn.enumerate_patterns(X, fit_intercept=True), lam=1.0, loss="hinge",
        penalty=GroupL1FreeIntercept(),
    )
    _, value = min_norm_program(problem)
    assert rel(svm.penalty, value) < RTOL
    assert np.all(labels * svm.predictions >= 1 - 1e-7)
    for lam in (1e-3, 3e-2):
        fit = fit_1d(X, labels, lam, loss="hinge", bias="free")
        _, ref = generic(X, labels, lam, loss="hinge", fit_intercept=True, penalty=GroupL1FreeIntercept())
        assert rel(fit.objective, ref.objective) < RTOL
    # small lam: the hinge fit is exactly the min-l1 SVM (zero loss, same norm)
    fit = fit_1d(X, labels, 1e-3, loss="hinge", bias="free")
    assert rel(fit.penalty, svm.penalty) < 1e-6
    assert np.all(labels * fit.predictions >= 1 - 1e-7)


def test_1d_rejects_multivariate_data(data_small):
    X, y = data_small
    with pytest.raises(ValueError, match="X must be 1-D data"):
        fit_1d(X, y, 0.1)
    with pytest.raises(ValueError, match="bias must be one of"):
        fit_1d(X[:, :1], y, 0.1, bias="none")


def test_sgd_on_a_wide_network_ends_near_the_1d_optimum_and_nearer_from_small_init():
    X, y = make_1d(n_samples=8, noise=0.1, random_state=0)
    lam = 1e-2
    optimum = fit_1d(X, y, lam)
    grid = np.linspace(X.min(), X.max(), 200)[:, None]

    def distance(scale):
        out = []
        for seed in range(3):
            net = cn.ReLUNetwork.random(1, 20, scale=scale, random_state=seed)  # m = 20 >= n + 1
            run = cn.train(net, X, y, lam=lam, learning_rate=1e-2, max_epochs=2000, tol=0,
                           n_iter_no_change=10**6)
            assert run.objective >= optimum.objective - 1e-9  # the convex optimum is global
            out.append(np.sqrt(np.mean((run.network.predict(grid) - optimum.predict(grid)) ** 2)))
        return np.median(out) / np.std(y)

    small, large = distance(0.05), distance(4.0)
    assert small < 0.01
    assert large > 5 * small


# ------------------------------------------------------------------ rank-one data
def test_rank_one_data_reduce_to_1d_and_map_back():
    rng = np.random.default_rng(4)
    c = rng.uniform(-1, 1, 9)
    a = rng.standard_normal(3)
    X = np.outer(c, a)
    y = np.sin(3 * c) + 0.1 * rng.standard_normal(9)
    lam = 1e-2
    network, fit = fit_rank_one(X, y, lam)
    problem, ref = generic(X, y, lam, fit_intercept=True)
    assert rel(fit.objective, ref.objective) < RTOL
    assert rel(network.objective(X, y, lam), ref.objective) < RTOL
    assert np.abs(network.predict(X) - problem.predict(ref.coef)).max() < RTOL * np.abs(y).max()
    with pytest.raises(ValueError, match="X must be rank one"):
        fit_rank_one(X + 0.1 * rng.standard_normal(X.shape), y, lam)


# ------------------------------------------------------------------ whitened data
def test_whiten_and_check(whitened):
    X, y, rng = whitened
    np.testing.assert_allclose(X @ X.T, np.eye(6), atol=1e-12)
    with pytest.raises(ValueError, match="X must be whitened"):
        whitened_squared(2 * X, y, 0.1)
    with pytest.raises(ValueError, match="n_samples <= n_features"):
        whiten(rng.standard_normal((5, 3)))


@pytest.mark.parametrize("regime", ["two neurons", "only the negative neuron", "no neuron (zero network)"])
def test_whitened_squared_closed_form_matches_generic(whitened, regime):
    X, y, _ = whitened
    n = len(y)
    yp, ym = np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0))
    assert yp < ym  # the data set of the fixture, so that the regimes below are the ones named
    beta = {"two neurons": 0.5 * yp, "only the negative neuron": 0.5 * (yp + ym),
            "no neuron (zero network)": 1.5 * ym}[regime]
    lam = beta / n
    cf = whitened_squared(X, y, lam)
    problem, ref = generic(X, y, lam)
    assert cf.regime == regime
    assert rel(cf.objective, ref.objective) < RTOL
    assert np.abs(cf.predict(X) - problem.predict(ref.coef)).max() < RTOL * np.abs(y).max()
    assert rel(cf.network.objective(X, y, lam), cf.objective) < 1e-12
    assert cf.network.n_neurons == {"two neurons": 2, "only the negative neuron": 1}.get(regime, 0)
    if regime == "two neurons":  # the paper's value, converted to the mean scaling
        assert rel(ref.objective, (beta * (yp + ym) - beta**2) / n) < RTOL


@pytest.mark.parametrize("beta_factor", [0.5, 1.2, 2.5])
def test_whitened_hinge_closed_form_matches_generic(whitened, beta_factor):
    X, _, _ = whitened
    y = np.array([1.0, -1.0, -1.0, 1.0, -1.0, -1.0])  # n_+ = 2, n_- = 4
    n = len(y)
    beta = beta_factor * np.sqrt(2)  # below both sqrt(n_+), sqrt(n_-); between them; above both
    lam = beta / n
    cf = whitened_hinge(X, y, lam)
    problem, ref = generic(X, y, lam, loss="hinge")
    assert rel(cf.objective, ref.objective) < RTOL
    assert rel(cf.network.objective(X, y, lam, "hinge"), cf.objective) < 1e-12
    expected = min(2, beta * np.sqrt(2)) + min(4, beta * 2)
    assert rel(ref.objective, expected / n) < RTOL
    assert cf.network.n_neurons == {0.5: 2, 1.2: 1, 2.5: 0}[beta_factor]


@pytest.mark.parametrize("lam", [0.05, 0.2])
def test_whitened_multiclass_closed_form_is_certified_optimal(whitened, lam):
    X, _, _ = whitened
    Y = np.eye(3)[[2, 0, 2, 2, 0, 1]]
    cf = whitened_multiclass(X, Y, lam)
    # one scalar program per output: an upper bound on the vector-output optimum
    decoupled = sum(generic(X, Y[:, k], lam)[1].objective for k in range(3))
    bound = vector_dual_bound(X, Y, cf.predict(X), lam)  # certified lower bound
    assert rel(cf.objective, decoupled) < RTOL
    assert rel(bound, cf.objective) < 1e-9
    assert rel(cf.network.objective(X, Y, lam), cf.objective) < 1e-12
    with pytest.raises(ValueError, match="at most one non-zero entry per row"):
        whitened_multiclass(X, np.ones((6, 2)), lam)


# ------------------------------------------------------------------ spike-free data
def test_spike_free_check_exact_cases_and_witnesses(whitened):
    X, _, rng = whitened
    report = check_spike_free(X)
    assert report.spike_free is True and report.exact
    c, a = np.abs(rng.standard_normal(7)), rng.standard_normal(3)
    assert check_spike_free(np.outer(c, a)).spike_free is True
    mixed = check_spike_free(np.outer(c * np.array([1, -1, 1, 1, -1, 1, 1]), a))
    assert mixed.spike_free is False and mixed.exact
    for A in (np.outer(c * np.array([1, -1, 1, 1, -1, 1, 1]), a), rng.standard_normal((8, 3)),
              rng.standard_normal((4, 6))):
        report = check_spike_free(A)
        assert report.spike_free is False and report.exact
        u = report.witness / np.linalg.norm(report.witness)
        feature = np.maximum(A @ u, 0)
        z = np.linalg.lstsq(A, feature, rcond=None)[0]
        # the witness is a real violation: the feature is not A z for any ||z|| <= 1
        assert np.linalg.norm(A @ z - feature) > 1e-8 or np.linalg.norm(z) > 1 + 1e-9


def test_spike_free_check_reports_an_estimate_when_undecided():
    rng = np.random.default_rng(5)
    report = check_spike_free(np.abs(rng.standard_normal((4, 6))))
    assert not report.exact and report.spike_free is None
    assert report.lower <= report.upper and "estimate" in report.method


def test_spike_free_program_equals_generic_on_spike_free_data(whitened, data_1d):
    X, y, rng = whitened
    for A, target in ((X, y), (np.outer(np.abs(rng.standard_normal(7)), rng.standard_normal(3)),
                               rng.standard_normal(7))):
        network, result = fit_spike_free(A, target, 0.05)
        _, ref = generic(A, target, 0.05)
        assert rel(result.objective, ref.objective) < RTOL
        assert network.n_neurons <= 2
        assert rel(network.objective(A, target, 0.05), result.objective) < 1e-6
    # not spike-free (1-D data with an intercept): only an upper bound, and a strict one here
    X1, y1 = data_1d
    _, result = fit_spike_free(X1, y1, 1e-2, fit_intercept=True)
    _, ref = generic(X1, y1, 1e-2, fit_intercept=True)
    assert result.objective > ref.objective * (1 + 1e-3)


# ------------------------------------------------------------------ Lemma 7 neurons
def test_basis_extreme_points_find_hull_vertices_and_agree_with_the_socp():
    rng = np.random.default_rng(6)
    Z = rng.standard_normal((9, 2))
    ext = basis_extreme_points(Z)
    assert set(np.flatnonzero(ext.is_vertex)) == set(ConvexHull(Z).vertices)
    A = cn.add_intercept(Z)
    for i in range(len(Z)):
        u = cp.Variable(3)
        others = np.delete(A, i, axis=0)
        prob = cp.Problem(cp.Maximize(A[i] @ u), [cp.norm(u) <= 1, others @ u <= 0])
        prob.solve(solver="CLARABEL")
        assert abs(prob.value - ext.scale[i]) < 1e-7
        features = np.maximum(A @ ext.directions[:, i], 0)
        assert np.abs(np.delete(features, i)).max() < 1e-9
        assert abs(features[i] - ext.scale[i]) < 1e-9
    with pytest.raises(ValueError, match="not vertices of the convex hull"):
        ext.interpolating_network(rng.standard_normal(9))


def test_basis_extreme_points_interpolate_when_every_sample_is_a_vertex():
    rng = np.random.default_rng(7)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
    Z = np.c_[np.cos(angles), np.sin(angles)]
    y = rng.standard_normal(7)
    ext = basis_extreme_points(Z)
    assert ext.all_vertices
    network = ext.interpolating_network(y)
    assert np.abs(network.predict(Z) - y).max() < 1e-10
    problem = cn.ReLUProblem(Z, y, cn.enumerate_patterns(Z, fit_intercept=True), lam=1.0)
    _, min_norm = min_norm_program(problem)
    assert network.path_norm() >= min_norm - 1e-7  # an interpolant, so never below the minimum


# ------------------------------------------------------------------ NTK
def test_empirical_ntk_converges_to_the_formula():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((5, 2))
    K = ntk_kernel(X, fit_intercept=True)
    errors = []
    for m in (500, 50_000):
        s = np.sqrt(2.0 / m)
        net = cn.ReLUNetwork(rng.standard_normal((2, m)) * s, rng.standard_normal(m) * s,
                             rng.standard_normal(m) * s)
        errors.append(np.abs(empirical_ntk(net, X) - K).max() / np.abs(K).max())
    assert errors[1] < 0.03 and errors[1] < errors[0]
    t = np.array([[1.0, 0.0], [0.0, 1.0]])  # orthogonal unit inputs: kappa(0) = 1/pi
    np.testing.assert_allclose(ntk_kernel(t), [[2.0, 1 / np.pi], [1 / np.pi, 2.0]])


def test_ntk_interpolant_interpolates_but_is_not_the_sparse_spline(data_1d):
    X, y = data_1d
    ntk = ntk_interpolant(X, y, fit_intercept=True)
    assert np.abs(ntk.predict(X) - y).max() < 1e-8
    spline = min_norm_interpolant_1d(X, y)
    grid = np.linspace(X.min(), X.max(), 300)[:, None]
    # the kernel interpolant bends between data points; the finite-width optimum does not
    assert np.abs(np.diff(ntk.predict(grid), 2)).max() > 1e3 * np.abs(
        np.diff(spline.predict(grid), 2)[~np.any(np.abs(grid[1:-1] - spline.knots) < 0.02, axis=1)]
    ).max()
