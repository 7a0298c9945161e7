import numpy as np
import pytest

from convexnn.losses import HingeLoss, HuberLoss, LogisticLoss, SquaredLoss, get_loss
from convexnn.penalties import GroupL1, GroupL1FreeIntercept


def _finite_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("loss", [SquaredLoss(), LogisticLoss(), HingeLoss(), HuberLoss(0.7)])
def test_gradient_matches_finite_differences(loss):
    rng = np.random.default_rng(0)
    y = np.sign(rng.standard_normal(7))
    pred = rng.standard_normal(7)
    fd = _finite_difference(lambda p: loss.value(p, y), pred)
    np.testing.assert_allclose(loss.gradient(pred, y), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", [SquaredLoss(), LogisticLoss(), HingeLoss(), HuberLoss(0.7)])
def test_conjugate_satisfies_fenchel_young_with_equality_at_the_gradient(loss):
    rng = np.random.default_rng(1)
    y = np.sign(rng.standard_normal(6))
    pred = rng.standard_normal(6)
    z = -loss.gradient(pred, y)
    # -F*(-z) = F(pred) + z^T pred exactly when z = -grad F(pred)
    assert loss.dual(z, y) == pytest.approx(loss.value(pred, y) + z @ pred, rel=1e-12)
    # and is smaller for any other prediction (weak duality)
    other = pred + rng.standard_normal(6)
    assert loss.dual(z, y) <= loss.value(other, y) + z @ other + 1e-12


def test_logistic_dual_is_minus_infinity_outside_its_domain():
    y = np.array([1.0, -1.0])
    assert LogisticLoss().dual(np.array([1.0, 0.0]), y) == -np.inf  # n y z = 2 > 1


def test_cvxpy_expression_matches_numpy_value():
    import cvxpy as cp

    rng = np.random.default_rng(2)
    y = np.sign(rng.standard_normal(5))
    pred = rng.standard_normal(5)
    for loss in (SquaredLoss(), LogisticLoss(), HingeLoss(), HuberLoss(0.7)):
        assert loss.cvxpy(cp.Constant(pred), y).value == pytest.approx(loss.value(pred, y), rel=1e-9)


def test_group_l1_prox_is_block_soft_thresholding():
    coef = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    out = GroupL1().prox(coef, 1.0)
    np.testing.assert_allclose(out, [[2.4, 3.2], [0.0, 0.0], [0.0, 0.0]])
    assert GroupL1().value(coef) == pytest.approx(5.5)
    assert GroupL1().dual_norm(coef) == pytest.approx(5.0)


def test_logistic_rejects_labels_other_than_plus_minus_one():
    with pytest.raises(ValueError, match="y must hold labels -1 and \\+1"):
        LogisticLoss().check_target(np.array([0.0, 1.0]))


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("hinge-ish")


def test_hinge_dual_is_minus_infinity_outside_its_domain_and_labels_are_checked():
    y = np.array([1.0, -1.0])
    assert HingeLoss().dual(np.array([-0.1, 0.0]), y) == -np.inf  # y z < 0
    assert get_loss("hinge") == HingeLoss()
    with pytest.raises(ValueError, match="y must hold labels -1 and \\+1 for the hinge loss"):
        HingeLoss().check_target(np.array([0.0, 1.0]))


def test_free_intercept_group_l1_leaves_the_last_entry_alone():
    coef = np.array([[3.0, 4.0, 7.0], [0.3, 0.4, -2.0]])
    pen = GroupL1FreeIntercept()
    assert pen.value(coef) == pytest.approx(5.5)
    np.testing.assert_allclose(pen.prox(coef, 1.0), [[2.4, 3.2, 7.0], [0.0, 0.0, -2.0]])
    assert pen.dual_norm(np.array([[3.0, 4.0, 0.0]])) == pytest.approx(5.0)
    assert pen.dual_norm(np.array([[3.0, 4.0, 1.0]])) == np.inf


def test_losses_and_penalties_declare_what_they_provide():
    from convexnn.losses import LOSS_CAPABILITIES
    from convexnn.penalties import PENALTY_CAPABILITIES

    everything = set(LOSS_CAPABILITIES)
    provided = {type(loss).__name__: {c for c in everything if loss.provides(c)}
                for loss in (SquaredLoss(), LogisticLoss(), HingeLoss(), HuberLoss())}
    assert provided == {
        "SquaredLoss": everything,
        "LogisticLoss": everything,
        # a subgradient only, no curvature bound or Hessian
        "HingeLoss": {"dual", "cvxpy"},
        "HuberLoss": everything,
    }
    assert GroupL1().provides("prox_scale") and not GroupL1FreeIntercept().provides("prox_scale")
    for capability in ("prox", "dual_norm", "cone_dual_norm", "dual_maximizer", "cvxpy"):
        assert GroupL1().provides(capability) and GroupL1FreeIntercept().provides(capability)
    assert set(PENALTY_CAPABILITIES) >= {"prox", "prox_scale", "dual_norm", "cone_dual_norm"}
    with pytest.raises(ValueError, match="unknown loss capability 'prox'"):
        SquaredLoss().provides("prox")
    with pytest.raises(ValueError, match="unknown penalty capability 'gradient'"):
        GroupL1().provides("gradient")


def test_group_l1_prox_scale_gives_the_prox():
    coef = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    np.testing.assert_allclose(GroupL1().prox_scale(coef, 1.0), [0.8, 0.0, 0.0])
    np.testing.assert_allclose(GroupL1().block_values(coef), [5.0, 0.5, 0.0])


def test_huber_is_squared_near_the_target_and_linear_beyond():
    y = np.zeros(4)
    pred = np.array([0.3, -0.5, 2.0, -3.0])
    huber = HuberLoss(delta=0.5)
    # 0.045, 0.125, then delta (|r| - delta/2) = 0.875 and 1.375, averaged
    assert huber.value(pred, y) == pytest.approx((0.045 + 0.125 + 0.875 + 1.375) / 4, rel=1e-14)
    np.testing.assert_allclose(huber.gradient(pred, y), [0.075, -0.125, 0.125, -0.125])
    np.testing.assert_allclose(huber.hessian(pred, y), [0.25, 0.25, 0.0, 0.0])
    # the conjugate lives on the box |n z| <= delta; inside it is the squared loss's
    assert huber.dual(np.array([0.2, 0.0, 0.0, 0.0]), y) == -np.inf
    z = np.array([0.1, -0.05, 0.0, 0.125])
    assert huber.dual(z, y + 1) == pytest.approx(SquaredLoss().dual(z, y + 1), rel=1e-14)
    assert get_loss("huber") == HuberLoss(1.0) != HuberLoss(0.5)
    assert repr(huber) == "HuberLoss(delta=0.5)"
    with pytest.raises(ValueError, match="delta must be a finite number > 0"):
        HuberLoss(delta=0.0)
