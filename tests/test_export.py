"""Fitted networks and estimators exported to PyTorch give the numpy outputs on new data."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from convexnn import ConvexReLUClassifier, ConvexReLURegressor  # noqa: E402
from convexnn.deep.estimators import DeepConvexReLUClassifier, DeepConvexReLURegressor  # noqa: E402
from convexnn.networks import GatedReLUNetwork, ReLUNetwork  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = np.maximum(X @ [1.0, -1.0, 0.5], 0) + 0.1 * rng.standard_normal(50)
    X_new = rng.standard_normal((30, 3))
    return X, y, X_new


def _out(module, X):
    with torch.no_grad():
        return module(torch.as_tensor(X)).numpy()


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_networks_match_predict(data, fit_intercept):
    X, _, X_new = data
    rng = np.random.default_rng(1)
    relu = ReLUNetwork.random(3, 7, fit_intercept=fit_intercept, random_state=0)
    b = rng.standard_normal(7) if fit_intercept else None
    gated = GatedReLUNetwork(rng.standard_normal((3, 7)), rng.standard_normal((3, 7)),
                             rng.standard_normal(7), b1=b, gate_bias=None if b is None else -b)
    for net in (relu, gated):
        module = net.to_torch()
        assert isinstance(module, torch.nn.Module)
        out = _out(module, X_new)
        assert out.shape == (X_new.shape[0],) and out.dtype == np.float64
        np.testing.assert_allclose(out, net.predict(X_new), rtol=1e-12, atol=1e-12)
        # the gated network's gates are not its weights: a wrong mask would show
        assert np.any(out != 0)


def test_float32_module(data):
    _, _, X_new = data
    net = ReLUNetwork.random(3, 5, random_state=2)
    module = net.to_torch(torch.float32)
    assert module.first_layer.dtype == torch.float32
    out = _out(module, X_new.astype(np.float32))
    np.testing.assert_allclose(out, net.predict(X_new), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.float64"):
        net.to_torch(torch.int64)


@pytest.mark.parametrize("estimator, kind", [
    (ConvexReLURegressor(n_patterns=6, random_state=0), "regression"),
    (ConvexReLURegressor(n_patterns=6, formulation="gated", random_state=0), "two outputs"),
    (ConvexReLUClassifier(n_patterns=6, random_state=0), "binary"),
    (ConvexReLUClassifier(n_patterns=6, random_state=0), "multiclass"),
    (DeepConvexReLURegressor(n_patterns=4, n_upper_patterns=2, random_state=0), "regression"),
    (DeepConvexReLUClassifier(n_patterns=4, n_upper_patterns=2, random_state=0), "multiclass"),
])
def test_estimators_match_predict_or_decision_function(data, estimator, kind):
    import warnings

    X, y, X_new = data
    target = {"regression": y, "two outputs": np.column_stack([y, -2 * y + 1]),
              "binary": (y > np.median(y)).astype(int),
              "multiclass": np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a deep default solve may stop short of tol: not tested
        estimator.fit(X, target)
    expected = (estimator.predict(X_new) if kind in ("regression", "two outputs")
                else estimator.decision_function(X_new))
    out = _out(estimator.to_torch(), X_new)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    assert np.ptp(expected) > 0  # a constant model would match trivially
