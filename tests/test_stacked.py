"""Networks trained side by side (convexnn.networks.StackedNetworks) and the losses of several
target columns (Loss.columns): the same objective, gradients and Adam trajectories as training
each network on its own."""

import numpy as np
import pytest

from convexnn.losses import Loss, LogisticOffsetLoss, _column_offsets, get_loss
from convexnn.networks import GatedReLUNetwork, ReLUNetwork, StackedNetworks
from convexnn.search import adam_embeddings
from convexnn.sgd import train


def _data(n=40, d=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    labels = np.where(rng.standard_normal((n, K)) >= 0, 1.0, -1.0)
    return X, rng.standard_normal((n, K)), labels


@pytest.mark.parametrize("name", ["squared", "logistic", "logistic_offset", "huber"])
def test_columns_match_the_loss_column_by_column(name):
    _, real, labels = _data(K=4)
    y = real if name in ("squared", "huber") else labels
    if name != "squared" and name != "huber":
        y[:, 3] = 1.0  # one class only: the offset is +inf, the column's loss and gradient 0
    pred = 2.0 * np.random.default_rng(1).standard_normal(y.shape)
    loss = get_loss(name)
    total, gradient = loss.columns(pred, y)
    expected = [(get_loss(name).value(pred[:, k], y[:, k]),
                 get_loss(name).gradient(pred[:, k], y[:, k])) for k in range(y.shape[1])]
    assert total == pytest.approx(sum(v for v, _ in expected), rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(gradient, np.column_stack([g for _, g in expected]),
                               rtol=1e-12, atol=1e-17)
    # the base class's column loop gives the same (the overrides are only faster)
    base_total, base_gradient = Loss.columns(get_loss(name), pred, y)
    assert total == pytest.approx(base_total, rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(gradient, base_gradient, rtol=1e-12, atol=1e-17)


def test_column_offsets_match_the_scalar_offset_and_take_a_guess():
    _, _, y = _data(n=60, K=5, seed=2)
    y[:, 3], y[:, 4] = 1.0, -1.0
    pred = 3.0 * np.random.default_rng(3).standard_normal(y.shape)
    b = _column_offsets(pred, y)
    scalar = [LogisticOffsetLoss._solve_offset(pred[:, k], y[:, k], None) for k in range(5)]
    np.testing.assert_allclose(b[:3], scalar[:3], rtol=0, atol=1e-13)
    assert b[3] == np.inf and b[4] == -np.inf
    # the offset zeroes the derivative in b
    for k in range(3):
        assert abs(float(np.sum(y[:, k] / (1 + np.exp(y[:, k] * (pred[:, k] + b[k])))))) < 1e-10
    moved = _column_offsets(pred + 0.01, y, guess=b)
    np.testing.assert_allclose(moved[:3], b[:3] - 0.01, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["squared", "logistic_offset"])
def test_stacked_objective_and_gradient_are_the_networks_summed(name):
    X, real, labels = _data()
    Y = real if name == "squared" else labels
    nets = [ReLUNetwork.random(4, 3, random_state=k) for k in range(3)]
    stacked = StackedNetworks(nets)
    value, grads = stacked.objective_and_gradient(X, Y, 0.1, get_loss(name))
    parts = [net.objective_and_gradient(X, Y[:, k], 0.1, get_loss(name))
             for k, net in enumerate(nets)]
    assert value == pytest.approx(sum(v for v, _ in parts), rel=1e-13)
    assert stacked.objective(X, Y, 0.1, name) == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(grads[0], np.hstack([g[0] for _, g in parts]), atol=1e-14)
    np.testing.assert_allclose(grads[1], np.concatenate([g[1] for _, g in parts]), atol=1e-14)
    np.testing.assert_allclose(grads[2], np.vstack([g[2] for _, g in parts]), atol=1e-14)
    np.testing.assert_allclose(stacked.predict(X),
                               np.column_stack([net.predict(X) for net in nets]), rtol=1e-13)
    for original, back in zip(nets, stacked.networks()):
        np.testing.assert_array_equal(original.W1, back.W1)
        np.testing.assert_array_equal(original.b1, back.b1)
        np.testing.assert_array_equal(original.w2, back.w2)


def test_adam_side_by_side_follows_each_networks_own_trajectory():
    # Adam works per parameter, so with the full batch and no early stop the stacked training is
    # the separate trainings: its objective at every epoch is theirs summed
    X, _, labels = _data(n=30)
    nets = [ReLUNetwork.random(4, 3, random_state=k) for k in range(3)]
    options = dict(lam=0.05, loss="logistic_offset", max_epochs=40, n_iter_no_change=1000,
                   random_state=0)
    stacked = train(StackedNetworks(nets), X, labels, **options)
    alone = [train(net, X, labels[:, k], **options) for k, net in enumerate(nets)]
    np.testing.assert_allclose(stacked.loss_curve, np.sum([r.loss_curve for r in alone], axis=0),
                               rtol=1e-10)
    # every run keeps its last step (the objective falls throughout), so the networks compare
    assert np.argmin(stacked.loss_curve) == len(stacked.loss_curve) - 1
    for mine, theirs in zip(stacked.network.networks(), alone):
        assert np.argmin(theirs.loss_curve) == len(theirs.loss_curve) - 1
        np.testing.assert_allclose(mine.W1, theirs.network.W1, rtol=1e-8, atol=1e-10)


def test_adam_start_of_several_outputs_embeds_each_network():
    X, _, labels = _data(n=50)
    embedded, objective = adam_embeddings(
        X, labels, 0.05, get_loss("logistic_offset"),
        lambda seed: ReLUNetwork.random(4, 4, random_state=seed), random_state=0, max_epochs=50)
    assert [c for c, _, _ in embedded] == [0, 1, 2]
    for c, problem, coef in embedded:
        assert problem.constraint_violation(coef) == 0.0
    # each embedding costs at most its network's L_nc; the networks' sum is the objective
    assert sum(problem.objective(coef) for _, problem, coef in embedded) <= objective + 1e-12


def test_bad_input_names_the_argument():
    X, _, labels = _data()
    relu = [ReLUNetwork.random(4, 3, random_state=k) for k in range(2)]
    with pytest.raises(ValueError, match="ReLUNetwork"):
        StackedNetworks([GatedReLUNetwork.random(4, 3, random_state=0)])
    with pytest.raises(ValueError, match="same features, width"):
        StackedNetworks([relu[0], ReLUNetwork.random(4, 5, random_state=1)])
    with pytest.raises(ValueError, match="at least one"):
        StackedNetworks([])
    with pytest.raises(ValueError, match=r"y must have shape \(40, 2\)"):
        train(StackedNetworks(relu), X, labels, lam=0.1, loss="logistic", max_epochs=2)
    with pytest.raises(ValueError, match=r"y\[:, 1\]"):
        bad = labels[:, :2].copy()
        bad[0, 1] = np.nan
        train(StackedNetworks(relu), X, bad, lam=0.1, loss="logistic", max_epochs=2)



class _Plain:
    """A trainable network of one's own: the interface sgd.train and the Adam start use, without
    ``n_outputs`` or ``stackable``."""

    def __init__(self, net):
        self.net = net

    def design(self, X):
        return self.net.design(X)

    def parameters(self):
        return self.net.parameters()

    def with_parameters(self, params):
        return _Plain(self.net.with_parameters(params))

    def objective(self, X, y, lam, loss):
        return self.net.objective(X, y, lam, loss)

    def objective_and_gradient(self, X, y, lam, loss):
        return self.net.objective_and_gradient(X, y, lam, loss)

    def to_convex(self, X, y, lam, loss):
        return self.net.to_convex(X, y, lam, loss=loss)


def test_a_network_of_ones_own_without_n_outputs_still_trains():
    # sgd.train takes any object with the trainable interface; one without ``n_outputs`` is a
    # one-output network, as before StackedNetworks existed
    Plain = _Plain
    X, real, _ = _data()
    net = ReLUNetwork.random(4, 3, random_state=0)
    mine = train(Plain(net), X, real[:, 0], lam=0.1, max_epochs=5, random_state=0)
    theirs = train(net, X, real[:, 0], lam=0.1, max_epochs=5, random_state=0)
    np.testing.assert_allclose(mine.loss_curve, theirs.loss_curve, rtol=1e-14)


def test_adam_start_trains_networks_of_ones_own_one_by_one():
    # networks without ``stackable`` are trained per output, as before; the same embeddings as
    # their ReLUNetwork twins trained one by one
    X, _, labels = _data(n=50)
    args = (X, labels[:, :2], 0.05, get_loss("logistic"))
    mine, mine_objective = adam_embeddings(
        *args, lambda seed: _Plain(ReLUNetwork.random(4, 4, random_state=seed)),
        random_state=0, max_epochs=20)
    for c, problem, coef in mine:
        net = ReLUNetwork.random(4, 4, random_state=c)
        alone = train(net, X, labels[:, c], lam=0.05, loss="logistic", random_state=c,
                      max_epochs=20)
        expected_problem, expected = alone.network.to_convex(X, labels[:, c], 0.05,
                                                             loss="logistic")
        np.testing.assert_array_equal(problem.patterns.mask, expected_problem.patterns.mask)
        np.testing.assert_allclose(coef, expected, rtol=1e-12, atol=1e-14)
    assert len(mine) == 2 and mine_objective > 0
