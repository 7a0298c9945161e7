import numpy as np
import pytest

from convexnn.losses import get_loss
from convexnn.networks import GatedReLUNetwork, ReLUNetwork, from_convex
from convexnn.patterns import enumerate_patterns, sample_patterns
from convexnn.problems import GatedReLUProblem, ReLUProblem
from convexnn.solvers import solve


@pytest.mark.parametrize("cls", [ReLUProblem, GatedReLUProblem])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_mapped_network_reproduces_convex_predictions_and_objective(cls, loss, data_small):
    X, y = data_small
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    problem = cls(X, y, sample_patterns(X, 15, fit_intercept=True, random_state=0), lam=0.005, loss=loss)
    result = solve(problem, solver="CLARABEL", tol=1e-10)
    net = from_convex(problem, result.coef)
    assert isinstance(net, problem_network(cls))
    np.testing.assert_allclose(net.predict(X), problem.predict(result.coef), atol=1e-6)
    assert net.objective(X, y, 0.005, loss) == pytest.approx(result.objective, rel=1e-6)
    assert net.n_neurons == result.n_active
    # each neuron is balanced, so weight decay equals the group norm it came from
    assert net.weight_decay() == pytest.approx(net.path_norm(), rel=1e-9)


def problem_network(cls):
    return ReLUNetwork if cls is ReLUProblem else GatedReLUNetwork


def test_zero_blocks_give_no_neuron(data_small):
    X, y = data_small
    problem = ReLUProblem(X, y, sample_patterns(X, 4, random_state=0), lam=0.1)
    coef = problem.zeros()
    coef[1] = problem.patterns.gates[:, 1] * 2.0
    net = ReLUNetwork.from_convex(problem, coef)
    assert net.n_neurons == 1
    assert net.w2[0] == pytest.approx(np.sqrt(np.linalg.norm(coef[1])))
    empty = ReLUNetwork.from_convex(problem, problem.zeros())
    assert empty.n_neurons == 0
    np.testing.assert_array_equal(empty.predict(X), np.zeros(len(y)))


def test_from_convex_refuses_the_wrong_family(data_small):
    X, y = data_small
    problem = GatedReLUProblem(X, y, sample_patterns(X, 4, random_state=0), lam=0.1)
    with pytest.raises(ValueError, match="ReLUNetwork.from_convex needs a ReLUProblem"):
        ReLUNetwork.from_convex(problem, problem.zeros())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_embedding_has_convex_objective_at_most_the_network_objective(fit_intercept, data_small):
    X, y = data_small
    lam = 0.01
    for seed in range(3):
        net = ReLUNetwork.random(3, 12, fit_intercept=fit_intercept, random_state=seed)
        problem, coef = net.to_convex(X, y, lam)
        assert problem.constraint_violation(coef) == 0.0
        np.testing.assert_allclose(problem.predict(coef), net.predict(X), atol=1e-12)
        assert problem.objective(coef) <= net.objective(X, y, lam) + 1e-12
        # and mapping back gives a network that is at least as good
        back = from_convex(problem, coef)
        assert back.objective(X, y, lam) <= net.objective(X, y, lam) + 1e-12


def test_gated_embedding_round_trip(data_small):
    X, y = data_small
    net = GatedReLUNetwork.random(3, 8, random_state=0)
    problem, coef = net.to_convex(X, y, 0.01)
    np.testing.assert_allclose(problem.predict(coef), net.predict(X), atol=1e-12)
    assert problem.objective(coef) <= net.objective(X, y, 0.01) + 1e-12


@pytest.mark.parametrize("network", [ReLUNetwork.random(3, 5, random_state=1), GatedReLUNetwork.random(3, 5, random_state=2)])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_gradient_matches_finite_differences(network, loss, data_small):
    X, y = data_small
    loss = get_loss(loss)
    if loss.name == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    value, grads = network.objective_and_gradient(X, y, 0.03, loss)
    assert value == pytest.approx(network.objective(X, y, 0.03, loss), rel=1e-12)
    params = network.parameters()
    h = 1e-6
    for k, p in enumerate(params):
        for idx in np.ndindex(p.shape):
            shifted = [q.copy() for q in params]
            shifted[k][idx] += h
            up = network.with_parameters(shifted).objective(X, y, 0.03, loss)
            shifted[k][idx] -= 2 * h
            down = network.with_parameters(shifted).objective(X, y, 0.03, loss)
            assert grads[k][idx] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-7)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="w2 must have shape \\(3,\\)"):
        ReLUNetwork(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="b1 must have shape"):
        ReLUNetwork(np.ones((2, 3)), np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="gate_bias must be given exactly when b1 is"):
        GatedReLUNetwork(np.ones((2, 3)), np.ones((2, 3)), np.ones(3), np.ones(3))
    net = ReLUNetwork(np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="X has 4 features but the network expects 2"):
        net.predict(np.ones((5, 4)))


@pytest.mark.parametrize("cls", [ReLUProblem, GatedReLUProblem])
def test_free_intercept_maps_to_a_network_without_bias_decay_and_the_same_objective(cls, data_small):
    from convexnn.penalties import GroupL1FreeIntercept

    X, y = data_small
    patterns = sample_patterns(X, 15, fit_intercept=True, random_state=0)
    patterns = patterns.subset(np.flatnonzero(~patterns.mask.all(axis=0)))  # no bias-only block
    free = GroupL1FreeIntercept()
    problem = cls(X, y, patterns, lam=0.005, penalty=free)
    result = solve(problem, solver="CLARABEL", tol=1e-10)
    net = from_convex(problem, result.coef)
    np.testing.assert_allclose(net.predict(X), problem.predict(result.coef), atol=1e-6)
    # the same convex point: only the scaling by the penalty's block value, not by ||u_b||, makes
    # the network objective (weight decay without the biases) equal the convex one
    assert net.objective(X, y, 0.005, penalty=free) == pytest.approx(
        problem.objective(result.coef), rel=1e-9)
    assert net.objective(X, y, 0.005, penalty=free) < net.objective(X, y, 0.005)
    # the embedding back is feasible and never costs more than the network
    back, coef = net.to_convex(X, y, 0.005, penalty=free)
    assert back.penalty == free
    assert back.objective(coef) <= net.objective(X, y, 0.005, penalty=free) * (1 + 1e-12)
    # with the default penalty the weight decay is unchanged
    assert net.weight_decay("group_l1") == pytest.approx(net.weight_decay(), rel=1e-12)


@pytest.mark.parametrize("factor", [0.3, 7.0])
def test_scaled_network_scales_the_output_and_keeps_the_balance(factor):
    """``scaled(c)`` multiplies the output by c and every weight by sqrt(c) (two layers) or
    c**(1/depth): a balanced network stays balanced, and the weight decay scales by c."""
    from convexnn.deep.networks import ParallelReLUNetwork

    X = np.random.default_rng(0).standard_normal((7, 3))
    net = ReLUNetwork.random(3, 4, random_state=0)
    np.testing.assert_allclose(net.scaled(factor).predict(X), factor * net.predict(X), rtol=1e-12)
    assert net.scaled(factor).weight_decay() == pytest.approx(factor * net.weight_decay(), rel=1e-12)
    deep = ParallelReLUNetwork.random(3, 2, [4], random_state=0)
    np.testing.assert_allclose(deep.scaled(factor).predict(X), factor * deep.predict(X), rtol=1e-12)
    for layer, base in zip(deep.scaled(factor).parameters(), deep.parameters()):
        np.testing.assert_allclose(layer, factor ** (1 / 3) * base, rtol=1e-12)
    with pytest.raises(ValueError, match="factor must be a finite number > 0"):
        net.scaled(-1.0)
