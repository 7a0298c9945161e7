"""Tests of convexnn.meanfield: populations, unions and paths, repopulation, frozen-feature refit."""

import numpy as np
import pytest

from convexnn.meanfield import (
    DeepPopulation,
    FrozenFeatureModel,
    Population,
    convex_program_features,
    fit_output_layer,
    fit_output_layer_cvxpy,
    importance_weights,
    initial_features,
    mixture_path,
    one_vs_rest,
    parameter_path,
    repopulate,
    repopulated_features,
    repopulation_error,
    tangent_features,
    train_population,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = np.maximum(X @ np.array([1.0, -0.5, 0.3]), 0) - 0.7 * np.maximum(X[:, 1], 0)
    return X, y + 0.05 * rng.standard_normal(60)


@pytest.fixture(scope="module")
def trained(data):
    """Two-level populations of 40 neurons from two seeds, trained by mean-field GD."""
    X, y = data
    return [
        train_population(Population.random(3, 40, random_state=s), X, y, lam=1e-2, learning_rate=0.2,
                         n_epochs=300, random_state=s).population
        for s in (0, 1)
    ]


@pytest.fixture(scope="module")
def trained_deep(data):
    X, y = data
    return [
        train_population(DeepPopulation.random(3, [20, 16], random_state=s), X, y, lam=1e-2,
                         learning_rate=0.1, n_epochs=300, random_state=s).population
        for s in (0, 1)
    ]


def _finite_difference_error(pop, X, Y, lam, loss, rng, n_checks=6, eps=1e-6):
    _, grads = pop.objective_and_gradient(X, Y, lam, loss)
    params = pop.parameters()
    worst = 0.0
    for i, p in enumerate(params):
        for _ in range(n_checks):
            idx = tuple(int(rng.integers(s)) for s in p.shape)
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            fd = (pop.with_parameters(plus).objective(X, Y, lam, loss)
                  - pop.with_parameters(minus).objective(X, Y, lam, loss)) / (2 * eps)
            worst = max(worst, abs(fd - grads[i][idx]) / max(1.0, abs(fd)))
    return worst


# ------------------------------------------------------------------ populations
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("scaling", ["mean_field", "ntk"])
def test_gradients_match_finite_differences(data, activation, scaling):
    X, y = data
    rng = np.random.default_rng(1)
    Y2 = np.where(rng.standard_normal((X.shape[0], 2)) > 0, 1.0, -1.0)
    two = Population.random(3, 7, activation=activation, scaling=scaling, random_state=1)
    deep = DeepPopulation.random(3, [6, 5, 4], n_outputs=2, activation=activation, scaling=scaling,
                                 random_state=1)
    assert _finite_difference_error(two, X, y[:, None], 0.1, "squared", rng) < 1e-6
    assert _finite_difference_error(deep, X, Y2, 0.1, "logistic", rng) < 1e-6


def test_mean_field_output_is_the_average_over_neurons(data):
    X, _ = data
    pop = Population.random(3, 9, n_outputs=2, random_state=0)
    H = np.maximum(np.hstack([X, np.ones((X.shape[0], 1))]) @ pop.theta.T, 0)
    np.testing.assert_allclose(pop.predict(X), H @ pop.u / 9, rtol=1e-12)
    ntk = Population(pop.theta, pop.u, scaling="ntk")
    np.testing.assert_allclose(ntk.predict(X), H @ pop.u / 3.0, rtol=1e-12)


def test_training_decreases_objective_and_is_reproducible(data):
    X, y = data
    init = Population.random(3, 30, random_state=0)
    run = train_population(init, X, y, lam=1e-2, learning_rate=0.2, n_epochs=50, random_state=0)
    assert np.all(np.diff(run.objective) <= 1e-12)
    noisy = [train_population(init, X, y, lam=1e-2, learning_rate=0.2, n_epochs=5, batch_size=20,
                              temperature=1e-3, random_state=s).population.theta for s in (3, 3, 4)]
    np.testing.assert_array_equal(noisy[0], noisy[1])
    assert not np.allclose(noisy[0], noisy[2])


def test_ntk_scaling_trains_lazily(data):
    """With many neurons the NTK parametrization barely moves its features; mean field does."""
    X, y = data
    moved = {}
    for scaling in ("mean_field", "ntk"):
        init = Population.random(3, 2000, scaling=scaling, random_state=0)
        out = train_population(init, X, y, lam=0.0, learning_rate=0.2, n_epochs=30).population
        moved[scaling] = np.linalg.norm(out.theta - init.theta) / np.linalg.norm(init.theta)
    assert moved["ntk"] < 0.1 * moved["mean_field"]


# ------------------------------------------------------------------ unions and paths
@pytest.mark.parametrize("t", [0.0, 0.25, 0.6, 1.0])
def test_union_is_the_mixture(data, t):
    X, _ = data
    pairs = [
        (Population.random(3, 7, n_outputs=2, random_state=1), Population.random(3, 11, n_outputs=2, random_state=2)),
        (DeepPopulation.random(3, [6, 5, 4], n_outputs=2, random_state=1),
         DeepPopulation.random(3, [3, 8, 2], n_outputs=2, random_state=2)),
    ]
    for p0, p1 in pairs:
        u = p0.union(p1, t)
        np.testing.assert_allclose(u.predict(X), (1 - t) * p0.predict(X) + t * p1.predict(X), rtol=0, atol=1e-13)
        assert u.regularizer() == pytest.approx((1 - t) * p0.regularizer() + t * p1.regularizer(), rel=1e-13)


def test_mixture_path_is_convex_and_below_the_chord(data, trained, trained_deep):
    X, y = data
    for pair in (trained, trained_deep):
        path = mixture_path(pair[0], pair[1], X, y, lam=1e-2, n_points=21)
        scale = np.max(np.abs(path.objective))
        assert np.all(path.second_differences >= -1e-12 * scale)
        assert np.all(path.objective <= path.chord + 1e-12 * scale)
        # endpoints are the two populations themselves
        assert path.objective[0] == pytest.approx(pair[0].objective(X, y, 1e-2), rel=1e-12)


def test_parameter_path_has_a_barrier_the_mixture_path_does_not(data, trained, trained_deep):
    X, y = data
    for pair in (trained, trained_deep):
        mix = mixture_path(pair[0], pair[1], X, y, lam=1e-2, n_points=11)
        par = parameter_path(pair[0], pair[1], X, y, lam=1e-2, n_points=11)
        np.testing.assert_allclose(par.objective[[0, -1]], mix.objective[[0, -1]], rtol=1e-12)
        assert mix.barrier <= 1e-12 and mix.interior_excess < 0
        assert par.barrier > 0.01 * par.objective[0]
        assert par.interior_excess == pytest.approx(par.barrier)


def test_union_rejects_bad_input(data):
    p = Population.random(3, 5, random_state=0)
    with pytest.raises(ValueError, match="t must be a number in \\[0, 1\\]"):
        p.union(p, 1.5)
    with pytest.raises(ValueError, match="scaling='mean_field'"):
        p.union(Population.random(3, 5, scaling="ntk", random_state=0), 0.5)
    with pytest.raises(ValueError, match="other must have 3 input features"):
        p.union(Population.random(4, 5, random_state=0), 0.5)
    with pytest.raises(ValueError, match="other must be a Population"):
        p.union(DeepPopulation.random(3, [4], random_state=0), 0.5)
    with pytest.raises(ValueError, match="mass must sum to 1"):
        Population(p.theta, p.u, np.full(5, 0.3))
    with pytest.raises(ValueError, match="only -1 and \\+1"):
        p.objective(data[0], data[1], 0.1, loss="logistic")
    with pytest.raises(ValueError, match="n_points must be >= 3"):
        mixture_path(p, p, data[0], data[1], lam=0.1, n_points=2)


# ------------------------------------------------------------------ repopulation
def test_repopulation_with_all_features_and_uniform_weights_is_exact(data, trained):
    X, _ = data
    pop = trained[0]
    same = repopulate(pop, k=pop.n_neurons, weights="uniform", method="systematic", random_state=5)
    np.testing.assert_array_equal(np.sort(same.source_index_), np.arange(pop.n_neurons))
    np.testing.assert_allclose(same.predict(X), pop.predict(X), rtol=1e-13, atol=1e-14)


def test_repopulation_is_unbiased_and_error_falls_with_k(data, trained):
    X, _ = data
    pop = trained[0]
    f = pop.predict(X)
    draws = [repopulate(pop, X, 4, method="multinomial", random_state=s).predict(X) for s in range(400)]
    single = np.linalg.norm(draws[0] - f)
    assert np.linalg.norm(np.mean(draws, axis=0) - f) < 0.15 * single  # ~ 1/sqrt(400) of one draw
    err = repopulation_error(pop, X, [2, 16, 128, 1024], n_repeats=20, random_state=0)
    assert np.all(np.diff(err.mean) < 0)
    assert err.mean[-1] < err.mean[0] / 8  # 1/sqrt(k) predicts a factor ~22


def test_importance_weights(data):
    X, _ = data
    pop = Population.random(3, 6, random_state=0)
    theta = pop.theta.copy()
    theta[2] = [0.0, 0.0, 0.0, -1.0]  # dead on every input: constant feature
    u = pop.u.copy()
    u[4] *= 3.0
    p0 = importance_weights(Population(theta, pop.u), X)
    p1 = importance_weights(Population(theta, u), X)
    assert p0.sum() == pytest.approx(1.0) and p0[2] == 0.0
    assert (p1[4] / p1[0]) == pytest.approx(3.0 * p0[4] / p0[0], rel=1e-12)
    drawn = repopulate(Population(theta, pop.u), X, 500, random_state=0)
    assert 2 not in drawn.source_index_
    with pytest.raises(ValueError, match="X is required"):
        repopulate(pop, k=3)
    with pytest.raises(ValueError, match="method must be one of"):
        repopulate(pop, X, 3, method="stratified")
    with pytest.raises(ValueError, match="scaling='mean_field'"):
        importance_weights(Population(pop.theta, pop.u, scaling="ntk"), X)


# ------------------------------------------------------------------ refit
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_refit_agrees_with_cvxpy(loss):
    rng = np.random.default_rng(2)
    H = rng.standard_normal((80, 6))
    if loss == "squared":
        y = H @ rng.standard_normal((6, 2)) + 0.3 * rng.standard_normal((80, 2))
    else:
        _, y = one_vs_rest(np.argmax(H[:, :3] + 0.5 * rng.standard_normal((80, 3)), axis=1))
    native = fit_output_layer(H, y, lam=0.05, loss=loss)
    ref = fit_output_layer_cvxpy(H, y, lam=0.05, loss=loss)
    assert native.objective == pytest.approx(ref.objective, rel=1e-6)
    assert native.objective <= ref.objective * (1 + 1e-9)
    np.testing.assert_allclose(native.coef, ref.coef, atol=1e-4)


def test_tangent_features_are_a_projection_of_the_jacobian(data):
    X, _ = data
    init = Population.random(3, 10, random_state=0)
    tf = tangent_features(init, 5, random_state=0)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    D = (A @ init.theta.T > 0).astype(float)
    psi = (D[:, :, None] * A[:, None, :]).reshape(X.shape[0], -1)  # (n, m (d+1)), neuron-major
    np.testing.assert_allclose(tf.transform(X, chunk=3), psi @ tf.projection.reshape(-1, 5), rtol=1e-12)


def test_feature_sources_have_k_columns_and_learned_features_fit_better(data, trained):
    X, y = data
    init = Population.random(3, 40, random_state=0)
    train_mse = {}
    for name, feats in {
        "repopulated": repopulated_features(trained[0], X, 8, random_state=0),
        "init": initial_features(init, 8, random_state=0),
        "tangent": tangent_features(init, 8, random_state=0),
    }.items():
        assert feats.transform(X).shape == (X.shape[0], 8)
        model = FrozenFeatureModel(feats, lam=1e-6).fit(X, y)
        train_mse[name] = np.mean((model.decision_function(X)[:, 0] - y) ** 2)
    assert train_mse["repopulated"] < train_mse["init"]
    with pytest.raises(ValueError, match="k must be <= 40"):
        initial_features(init, 41)


def test_convex_program_neurons_span_the_convex_fit(data):
    """All neurons of the convex program as frozen features: least squares fits at least as well."""
    from convexnn import ConvexReLURegressor

    X, y = data
    model = ConvexReLURegressor(alpha=1e-2, n_patterns=10, pattern_search="sampled", random_state=0).fit(X, y)
    feats = convex_program_features(X, y, 1000, alpha=1e-2, n_patterns=10, random_state=0)
    assert feats.n_features_out == model.n_active_neurons_
    refit = FrozenFeatureModel(feats, lam=0.0).fit(X, y)
    mse_refit = np.mean((refit.decision_function(X)[:, 0] - y) ** 2)
    assert mse_refit <= np.mean((model.predict(X) - y) ** 2) + 1e-10
    with pytest.raises(ValueError, match="task must be one of"):
        convex_program_features(X, y, 3, task="ranking")


def test_permuted_copy_is_the_same_measure_but_not_the_same_parameters(data, trained):
    """Permuting the neurons keeps the population: the mixture path is flat, the parameter path is not."""
    X, y = data
    pop = trained[0]
    perm = np.random.default_rng(0).permutation(pop.n_neurons)
    shuffled = Population(pop.theta[perm], pop.u[perm])
    mix = mixture_path(pop, shuffled, X, y, lam=1e-2, n_points=7)
    par = parameter_path(pop, shuffled, X, y, lam=1e-2, n_points=7)
    np.testing.assert_allclose(mix.objective, mix.objective[0], rtol=1e-12)
    assert par.barrier > 0.1 * par.objective[0]


def test_training_stops_with_a_warning_when_it_diverges(data, caplog):
    X, y = data
    init = Population.random(3, 10, scale=5.0, random_state=0)
    with caplog.at_level("WARNING", logger="convexnn.meanfield.population"), np.errstate(all="ignore"):
        run = train_population(init, X, 1e3 * y, lam=0.0, learning_rate=1e3, n_epochs=50)
    assert "diverged" in caplog.text
    assert np.all(np.isfinite(run.objective)) and len(run.objective) < 51
    with pytest.raises(ValueError, match="population must be a Population or DeepPopulation"):
        train_population("net", X, y, lam=0.1)
    with pytest.raises(ValueError, match="equal masses"):
        parameter_path(init, Population(init.theta, init.u, np.r_[0.5, np.full(9, 0.5 / 9)]), X, y, lam=0.1)
