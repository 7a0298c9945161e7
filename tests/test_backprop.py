"""The reverse-mode chain (convexnn.backprop): every layer's vector-Jacobian product against
finite differences, the factored cotangent of a vector readout, and the kept cotangents."""

import numpy as np
import pytest

from convexnn.backprop import Chain
from convexnn.losses import get_loss


def _finite_difference(f, params, h=1e-6):
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            up = f()
            p[i] = old - h
            down = f()
            p[i] = old
            g[i] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def _check(build, params, seed_shape=None, rng=None):
    """Compare ``backward`` of the chain ``build()`` with finite differences of <seed, value>."""
    rng = np.random.default_rng(0) if rng is None else rng
    chain = build()
    seed = rng.standard_normal(chain.value.shape)
    grads = chain.backward(seed)
    expected = _finite_difference(lambda: float(np.sum(seed * build().value)), params)
    assert len(grads) == len(expected)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)


def test_dense_layers_with_bias_multiplier_transpose_and_fixed_weights():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 3))
    W1, b1 = rng.standard_normal((4, 3)), rng.standard_normal(4)
    W2, W3 = rng.standard_normal((4, 5)), rng.standard_normal((5, 2))
    fixed = rng.standard_normal((2, 2))

    def build():
        return (Chain(X).linear(W1, bias=b1, transpose=True).relu()
                .linear(W2, multiplier=0.7).activation(np.tanh, lambda z: 1 - np.tanh(z) ** 2)
                .multiply(np.array([0.5, 1.0, 2.0, 0.1, 3.0])).linear(W3)
                .linear(fixed, trainable=False))

    _check(build, [W1, b1, W2, W3])


@pytest.mark.parametrize("owned", [False, True])
def test_vector_readout_sends_a_factored_cotangent(owned):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((7, 3))
    U, w = rng.standard_normal((3, 4)), rng.standard_normal(4)

    def build():
        chain = Chain(A).linear(U)
        mask = (chain.value >= 0).astype(float)
        return chain.multiply(mask, owned=owned).linear(w, multiplier=1.5)

    _check(build, [U, w])
    # the factored cotangent reaches a layer that is not the first, and one that is not plain
    V = rng.standard_normal((4, 4))
    _check(lambda: Chain(A).linear(U).linear(V).relu().linear(w), [U, V, w])
    _check(lambda: Chain(A).linear(U).linear(V, multiplier=2.0).linear(w), [U, V, w])


def test_grouped_maps_and_their_weighted_sum():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 3))
    W1, W2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 1))
    c = rng.standard_normal(2)
    _check(lambda: Chain(A).grouped(W1).relu().grouped(W2).relu().combine(c), [W1, W2, c])


def test_loss_and_kept_cotangents():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    W1, W2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 1))
    loss = get_loss("squared")

    def build():
        return Chain(X).linear(W1).relu().linear(W2).column(0)

    value, grads = build().loss(loss, y)
    assert value == loss.value(build().value, y)
    expected = _finite_difference(lambda: loss.value(build().value, y), [W1, W2])
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-8)
    chain = build()
    chain.backward(np.ones(8), cotangents=True)
    # the cotangent of the output layer's output is the seed as a column; of the first: W2 masked
    np.testing.assert_array_equal(chain.cotangents[3], np.ones(8))
    np.testing.assert_array_equal(chain.cotangents[2], np.ones((8, 1)))
    np.testing.assert_allclose(chain.cotangents[0], (chain.inputs[1] > 0) * W2[:, 0])


def test_split_linear_outputs_of_networks_side_by_side():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 3))
    U, W = rng.standard_normal((3, 8)), rng.standard_normal((4, 2))  # 4 networks of width 2

    def build():
        return Chain(X).linear(U).relu().split_linear(W)

    _check(build, [U, W])
    # output k reads units 2k, 2k+1 only
    hidden = np.maximum(X @ U, 0.0)
    np.testing.assert_allclose(build().value[:, 1], hidden[:, 2:4] @ W[1], rtol=1e-14)
