import numpy as np
import pytest

from convexnn.deep.networks import ParallelReLUNetwork
from convexnn.losses import get_loss
from convexnn.meanfield import Population
from convexnn.meanfield.deep import DeepPopulation
from convexnn.networks import GatedReLUNetwork, ReLUNetwork
from convexnn.overparam import DeepReLUNetwork
from convexnn.training import SGD, Adam, Trainable, descend, get_optimizer

MODELS = [
    lambda: ReLUNetwork.random(3, 5, random_state=0),
    lambda: GatedReLUNetwork.random(3, 5, random_state=0),
    lambda: ParallelReLUNetwork.random(3, 2, [3], random_state=0),
    lambda: DeepReLUNetwork.random(3, 6, 2, random_state=0),
    lambda: Population.random(3, 6, random_state=0),
    lambda: DeepPopulation.random(3, [5, 4], random_state=0),
]


@pytest.mark.parametrize("make", MODELS)
def test_every_gradient_trained_model_follows_the_protocol(make):
    model = make()
    assert isinstance(model, Trainable)
    params = model.parameters()
    same = model.with_parameters([p.copy() for p in params])
    for a, b in zip(same.parameters(), params):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", MODELS)
def test_gradients_match_finite_differences(make):
    rng = np.random.default_rng(1)
    model = make()
    X = rng.standard_normal((7, 3))
    y = rng.standard_normal(7)
    loss = get_loss("squared")
    if isinstance(model, (Population, DeepPopulation)):
        y, loss = y[:, None], "squared"
    value, grads = model.objective_and_gradient(X, y, 1e-2, loss)
    params = model.parameters()
    direction = [rng.standard_normal(p.shape) for p in params]
    h = 1e-6
    up = model.with_parameters([p + h * d for p, d in zip(params, direction)])
    down = model.with_parameters([p - h * d for p, d in zip(params, direction)])
    numeric = (up.objective_and_gradient(X, y, 1e-2, loss)[0]
               - down.objective_and_gradient(X, y, 1e-2, loss)[0]) / (2 * h)
    analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
    assert abs(numeric - analytic) <= 1e-5 * max(1.0, abs(analytic))


def test_sgd_step_scales_and_langevin_noise():
    params, grads = [np.ones(3), np.ones((2, 2))], [np.full(3, 2.0), np.full((2, 2), 4.0)]
    plain = SGD(0.1, momentum=0.0)
    np.testing.assert_allclose(plain.step(params, grads, plain.init(params))[0][0], 0.8)
    scaled = SGD(0.1, momentum=0.0, scales=[np.full(3, 2.0), 0.5])
    new, _ = scaled.step(params, grads, scaled.init(params))
    np.testing.assert_allclose(new[0], 0.6)
    np.testing.assert_allclose(new[1], 0.8)
    noisy = [SGD(0.1, momentum=0.0, temperature=1.0, random_state=s) for s in (0, 0, 1)]
    draws = [opt.step(params, grads, opt.init(params))[0][0] for opt in noisy]
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.allclose(draws[0], draws[2])
    with pytest.raises(ValueError, match="temperature must be"):
        SGD(0.1, temperature=-1.0)


def test_adam_steps_follow_the_per_array_recursion():
    """The flat-moment Adam equals Kingma and Ba's recursion run array by array, shapes kept."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 2)), rng.standard_normal(4), np.array(0.5)]
    opt = Adam(0.05)
    state = opt.init(params)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    expected = [p.copy() for p in params]
    for t in range(1, 6):
        grads = [rng.standard_normal(np.shape(p)) for p in params]
        params, state = opt.step(params, grads, state)
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            step = (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
            expected[i] = expected[i] - 0.05 * step
        for got, want in zip(params, expected):
            assert np.shape(got) == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_get_optimizer_names_instances_and_options():
    assert isinstance(get_optimizer("adam", 0.1), Adam)
    assert get_optimizer("sgd", 0.1, momentum=0.0).momentum == 0.0
    opt = Adam(0.2)
    assert get_optimizer(opt) is opt
    with pytest.raises(ValueError, match="optimizer must be one of"):
        get_optimizer("lbfgs")


def _quadratic_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    net = ReLUNetwork.random(3, 8, random_state=0)
    loss = get_loss("squared")

    def evaluate(model, idx, gradient):
        Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
        return (*model.objective_and_gradient(Xb, yb, 1e-3, loss), None)

    return net, evaluate


@pytest.mark.parametrize("batches", ["epoch", "stream"])
def test_descend_is_seeded_records_every_round_and_stops_on_the_rule(batches):
    net, evaluate = _quadratic_problem()
    runs = [descend(net, evaluate, 40, optimizer=Adam(1e-2), max_rounds=30, batch_size=8,
                    batches=batches, random_state=s) for s in (0, 0, 1)]
    assert runs[0].status == "max_rounds" and len(runs[0].history) == 31
    np.testing.assert_array_equal(runs[0].history, runs[1].history)
    assert runs[0].history != runs[2].history
    assert runs[0].history[-1] < runs[0].history[0]
    stopped = descend(net, evaluate, 40, optimizer=Adam(1e-2), max_rounds=30, batches=batches,
                      stop=lambda r, m, v, aux: "stopped" if r == 4 else None)
    assert stopped.status == "stopped" and len(stopped.history) == 5


def test_descend_stops_on_non_finite_values_and_steps():
    net, evaluate = _quadratic_problem()
    with np.errstate(all="ignore"):
        run = descend(net, evaluate, 40, optimizer=SGD(1e3, momentum=0.0), max_rounds=200)
    assert run.status == "diverged" and not np.isfinite(run.history[-1])
    with np.errstate(all="ignore"):
        guarded = descend(net, evaluate, 40, optimizer=SGD(1e3, momentum=0.0), max_rounds=200,
                          finite_steps=True)
    assert guarded.status == "diverged" and guarded.history[-1] == np.inf
    assert all(np.all(np.isfinite(p)) for p in guarded.model.parameters())
    with pytest.raises(ValueError, match="batches must be"):
        descend(net, evaluate, 40, optimizer=SGD(0.1), max_rounds=1, batches="random")
