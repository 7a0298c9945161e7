"""Neural tangent kernels of deep ReLU networks: empirical (any width) and analytic (infinite width).

**Empirical.** For a network ``f`` with trained weights ``theta`` the tangent kernel on ``X`` is
``H = J J^T`` with ``J = d f(X) / d theta`` (n_samples x n_parameters). For a layer
``z_l = s_l a_{l-1} W_l`` the gradient of ``f(x_k)`` in ``W_l`` is ``s_l a_{l-1}(x_k) delta_l(x_k)^T``
with ``delta_l = d f / d z_l``, so without ever forming ``J``:

    H = sum_{l trained} s_l^2 (Delta_l Delta_l^T) * (A_{l-1} A_{l-1}^T)      (* elementwise),

where the rows of ``A_{l-1}`` and ``Delta_l`` are the per-sample layer inputs and backward signals.
That costs ``O(n^2 m)`` per layer and ``O(n m)`` memory, against ``O(n m^2 depth)`` for ``J``.

**Analytic.** As the width grows with the weights at initialization, ``H`` converges to a fixed
kernel given by the arc-cosine recursion. With ``K_0(x, x') = x^T x' / n_features``, for each layer
``l = 1 .. depth + 1`` of gain ``c_l`` (:mod:`convexnn.overparam.deep_mlp`), the pre-activation
covariance is ``P_l = c_l K_{l-1}``; for a hidden layer, with ``(u, v)`` centred Gaussian of
covariance ``P_l`` on ``(x, x')`` and ``cos t = P_l(x, x') / sqrt(P_l(x, x) P_l(x', x'))``,

    K_l(x, x')    = E[relu(u) relu(v)]  = sqrt(P_l(x, x) P_l(x', x')) (sin t + (pi - t) cos t) / (2 pi),
    Kdot_l(x, x') = E[relu'(u) relu'(v)] = (pi - t) / (2 pi),

and the kernel follows ``Theta_l = Theta_{l-1} * c_l Kdot_{l-1} + w_l P_l`` (``Theta_0 = 0``), the
answer being ``Theta_{depth+1}``. The layer weight ``w_l`` is 1 for a trained layer in the 'ntk'
parameterization, ``fan_in_l / c_l`` in the 'standard' and 'allen_zhu' ones (their kernel grows
with the width), and 0 for a fixed layer. For 'ntk' and ``depth = 1`` this is ``1 / n_features``
times the two-layer kernel of doc/math.rst, ``t kappa_0(t) + kappa_1(t)`` scaled by ``||x|| ||x'||``.
"""

import numpy as np

from ..validation import check_matrix, check_positive
from .deep_mlp import DeepReLUNetwork, get_parameterization

__all__ = ["empirical_ntk", "jacobian", "analytic_ntk", "relative_error", "JACOBIAN_MAX_BYTES"]

#: ``empirical_ntk(method='auto')`` forms the Jacobian only when it takes at most this many bytes
JACOBIAN_MAX_BYTES = 64 * 2**20

_METHODS = ("auto", "layerwise", "jacobian")


def _check_network(network):
    if not isinstance(network, DeepReLUNetwork):
        raise ValueError(f"network must be a DeepReLUNetwork, got {type(network).__name__}.")


def jacobian(network, X):
    """Explicit Jacobian ``d f(X) / d theta`` of the trained weights (layer by layer, row-major).

    Parameters
    ----------
    network : DeepReLUNetwork
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    ndarray of shape (n_samples, network.n_parameters())
    """
    _check_network(network)
    inputs, signals = network.output_signals(X)
    blocks = [
        (s * a[:, :, None] * g[:, None, :]).reshape(a.shape[0], -1)
        for s, a, g, t in zip(network.multipliers, inputs, signals, network.trained)
        if t
    ]
    return np.hstack(blocks)


def empirical_ntk(network, X, *, method="auto"):
    """Empirical tangent kernel ``H = J J^T`` of a :class:`DeepReLUNetwork` on ``X``.

    Parameters
    ----------
    network : DeepReLUNetwork
    X : array-like of shape (n_samples, n_features)
    method : {'auto', 'layerwise', 'jacobian'}, default='auto'
        'layerwise' uses the formula of the module docstring and never forms ``J``; 'jacobian'
        forms ``J`` (n_samples x n_parameters); 'auto' forms it only when it takes at most
        :data:`JACOBIAN_MAX_BYTES`.

    Returns
    -------
    ndarray of shape (n_samples, n_samples)
        Symmetric positive semi-definite.
    """
    _check_network(network)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}.")
    X = network.check_input(X)
    if method == "auto":
        small = 8 * X.shape[0] * network.n_parameters() <= JACOBIAN_MAX_BYTES
        method = "jacobian" if small else "layerwise"
    if method == "jacobian":
        J = jacobian(network, X)
        return J @ J.T
    inputs, signals = network.output_signals(X)
    H = np.zeros((X.shape[0], X.shape[0]))
    for s, a, g, t in zip(network.multipliers, inputs, signals, network.trained):
        if t:
            H += s * s * (g @ g.T) * (a @ a.T)
    return 0.5 * (H + H.T)


def _relu_moments(P, p1, p2):
    """``E[relu(u) relu(v)]`` and ``E[relu'(u) relu'(v)]`` for covariances ``P`` (n1 x n2) and
    variances ``p1`` (n1,), ``p2`` (n2,)."""
    scale = np.sqrt(np.outer(p1, p2))
    cos = np.divide(P, scale, out=np.zeros_like(P), where=scale > 0)
    t = np.arccos(np.clip(cos, -1.0, 1.0))
    K = scale * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)
    Kdot = (np.pi - t) / (2 * np.pi)
    return K, Kdot


def analytic_ntk(X1, X2=None, *, depth, parameterization="ntk", width=None):
    """Infinite-width tangent kernel of a depth-``depth`` ReLU network (arc-cosine recursion).

    Parameters
    ----------
    X1 : array-like of shape (n1, n_features)
    X2 : array-like of shape (n2, n_features), optional (defaults to ``X1``)
    depth : int
        Number of hidden ReLU layers, as in :class:`DeepReLUNetwork`.
    parameterization : {'ntk', 'standard', 'allen_zhu'}, default='ntk'
        The kernel the empirical one converges to. For 'ntk' it does not depend on the width;
        for 'standard' and 'allen_zhu' it grows with it, and ``width`` must be given: the result is
        the leading term, to which ``H`` is close in relative error.
    width : int or None
        Hidden width ``m`` (needed unless ``parameterization='ntk'``).

    Returns
    -------
    ndarray of shape (n1, n2)
        With the normalization of the module docstring (``K_0 = x^T x' / n_features``).
    """
    A1 = check_matrix(X1, "X1")
    A2 = A1 if X2 is None else check_matrix(X2, "X2")
    if A1.shape[1] != A2.shape[1]:
        raise ValueError(
            f"X1 and X2 must have the same number of features, got {A1.shape[1]} and {A2.shape[1]}."
        )
    check_positive(depth, "depth", integer=True)
    scheme = get_parameterization(parameterization)
    if depth < scheme.min_depth():
        raise ValueError(f"depth must be >= {scheme.min_depth()} for {scheme.name!r}, got {depth}.")
    if scheme.in_multiplier:
        width = 1 if width is None else width  # the 'ntk' kernel does not depend on it
    elif width is None:
        raise ValueError(f"width is required for parameterization {scheme.name!r}; its kernel grows with it.")
    check_positive(width, "width", integer=True)
    d = A1.shape[1]
    gains = scheme.gains(d, width, depth)
    fan_in = [d] + [width] * depth
    weights = [
        0.0 if not t else (1.0 if scheme.in_multiplier else k / c)
        for t, k, c in zip(scheme.trained(depth), fan_in, gains)
    ]
    K = A1 @ A2.T / d
    k1, k2 = np.sum(A1 * A1, axis=1) / d, np.sum(A2 * A2, axis=1) / d
    theta, Kdot = np.zeros_like(K), None
    for l, (c, w) in enumerate(zip(gains, weights)):
        P, p1, p2 = c * K, c * k1, c * k2
        theta = (theta * (c * Kdot) if Kdot is not None else theta) + w * P
        if l < depth:
            K, Kdot = _relu_moments(P, p1, p2)
            k1, k2 = p1 / 2, p2 / 2
    return theta


def relative_error(H, reference):
    """``||H - reference||_F / ||reference||_F``."""
    H, reference = np.asarray(H, dtype=float), np.asarray(reference, dtype=float)
    if H.shape != reference.shape:
        raise ValueError(f"H has shape {H.shape} but reference has {reference.shape}; they must match.")
    return float(np.linalg.norm(H - reference) / np.linalg.norm(reference))
