"""Deep networks as populations of features, layer by layer.

The two-level view of :mod:`convexnn.meanfield.population` extended to ``L`` hidden layers. Layer
``l`` is a population of ``m_l`` features with masses ``q^l`` (positive, summing to one). A feature
of layer ``l >= 2`` integrates the features of layer ``l - 1`` against a weight function
``w^l(i, j)`` (the connection from feature ``i`` to feature ``j``):

    h^1_j(x) = sigma(theta_j^T [x, 1]),
    h^l_j(x) = sigma( sum_i q^{l-1}_i W^l_ij h^{l-1}_i(x) + b^l_j ),       l = 2..L,
    f(x)     = sum_j q^L_j u_j h^L_j(x).

The masses make every sum an expectation over the previous layer's population, so the widths can
grow with ``W``, ``b``, ``u`` staying O(1) (the mean-field limit).

The regularizer (what we implemented; the seed paper's derivation was not available to us) is a
sum over layers of expectations over that layer's population, each neuron paying for its own
parameters:

    R = (1/2) [ sum_j q^1_j ||theta_j||^2
              + sum_{l>=2} sum_j q^l_j ( (sum_i q^{l-1}_i |W^l_ij|)^2 + (b^l_j)^2 )
              + sum_j q^L_j ||u_j||^2 ].

A connection is measured by the L1 norm of the weight function against the previous population,
``||w_j||_{L1(q^{l-1})} = sum_i q^{l-1}_i |W_ij|``. This norm is the one that makes ``R`` linear
in every layer's measure along the layer-wise union: rescaling the masses of the neurons feeding
``j`` by ``c`` and their weights by ``1/c`` (which leaves ``h^l_j`` unchanged) leaves it unchanged,
whereas the product-measure L2 norm ``sum_i q_i W_ij^2`` would change by ``1/c``. So in this
representation the objective ``(1/n) sum_k l(f(x_k), y_k) + lam R`` restricted to mixtures of two
deep populations (:meth:`DeepPopulation.union`) is convex, exactly as in the two-level case.

Training uses the mean-field step scaling: the step of a per-neuron parameter is divided by
``q_j``, the step of a connection ``W_ij`` by ``q_i q_j``. ``scaling='ntk'`` replaces every mass
``q`` in the aggregations by ``sqrt(q)``, the regularizer by plain weight decay (half the sum of
all squared parameters) and the steps by plain gradient steps.

Initialization: independent neurons in the first layer; inner connections of low rank,
``W_ij = a_i^T b_j / sqrt(r)`` with ``a_i, b_j ~ N(0, g I_r)``. Independent zero-mean weights
would make every inner pre-activation ``sum_i q_i W_ij h_i`` vanish as the width grows (the
known degeneracy of deep mean-field limits); the low-rank weight function keeps them O(1).
"""

import numpy as np

from ..backprop import Chain
from ..validation import add_intercept, check_matrix, check_positive, check_random_state
from .population import (
    ACTIVATIONS,
    SCALINGS,
    _check_activation,
    _check_mass,
    _check_outputs,
    _check_scaling,
    _check_union,
    check_targets,
    multi_loss,
)

__all__ = ["DeepPopulation"]


class DeepPopulation:
    """A deep network as populations of features, one per hidden layer (see the module docstring).

    Parameters
    ----------
    theta : array-like of shape (m_1, n_features + 1)
        First hidden layer, one row per neuron (last column: bias).
    weights : list of array-like, the l-th of shape (m_{l}, m_{l+1})
        Connections ``W`` between consecutive hidden layers (``L - 1`` of them).
    biases : list of array-like, the l-th of shape (m_{l+1},)
        Biases of hidden layers 2..L.
    u : array-like of shape (m_L,) or (m_L, n_outputs)
        Importances of the last hidden layer.
    masses : list of array-like or None
        One probability vector per hidden layer; None gives equal masses.
    activation : {'relu', 'tanh'}, default='relu'
    scaling : {'mean_field', 'ntk'}, default='mean_field'
    """

    def __init__(self, theta, weights, biases, u, masses=None, *, activation="relu",
                 scaling="mean_field"):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 2 or theta.shape[1] < 2:
            raise ValueError(f"theta must have shape (m_1, n_features + 1), got {theta.shape}.")
        weights = [np.asarray(W, dtype=np.float64) for W in weights]
        biases = [np.asarray(b, dtype=np.float64) for b in biases]
        if len(biases) != len(weights):
            raise ValueError(f"biases must have one entry per weight matrix ({len(weights)}), got {len(biases)}.")
        widths = [theta.shape[0]]
        for l, (W, b) in enumerate(zip(weights, biases)):
            if W.ndim != 2 or W.shape[0] != widths[-1]:
                raise ValueError(f"weights[{l}] must have shape ({widths[-1]}, m_{l + 2}), got {W.shape}.")
            if b.shape != (W.shape[1],):
                raise ValueError(f"biases[{l}] must have shape ({W.shape[1]},), got {b.shape}.")
            widths.append(W.shape[1])
        u = np.asarray(u, dtype=np.float64)
        if u.ndim == 1:
            u = u[:, None]
        if u.ndim != 2 or u.shape[0] != widths[-1]:
            raise ValueError(f"u must have shape ({widths[-1]},) or ({widths[-1]}, n_outputs), got {u.shape}.")
        if masses is None:
            masses = [None] * len(widths)
        if len(masses) != len(widths):
            raise ValueError(f"masses must have one vector per hidden layer ({len(widths)}), got {len(masses)}.")
        if not all(np.all(np.isfinite(p)) for p in [theta, u] + weights + biases):
            raise ValueError("theta, weights, biases and u must be finite; a training run that diverged needs a "
                             "smaller learning_rate.")
        self.theta, self.weights, self.biases, self.u = theta, weights, biases, u
        self.masses = [_check_mass(q, m, f"masses[{l}]") for l, (q, m) in enumerate(zip(masses, widths))]
        self.activation = _check_activation(activation)
        self.scaling = _check_scaling(scaling).name

    # ------------------------------------------------------------------ structure
    @property
    def widths(self):
        return [q.shape[0] for q in self.masses]

    @property
    def layer_masses(self):
        """The masses of each hidden layer, a list of arrays of shapes (m_l,)."""
        return list(self.masses)

    @property
    def n_features(self):
        return self.theta.shape[1] - 1

    @property
    def n_outputs(self):
        return self.u.shape[1]

    @classmethod
    def random(cls, n_features, widths, *, n_outputs=1, activation="relu", scaling="mean_field",
               scale=1.0, init_rank=8, random_state=None):
        """A random deep population (see the module docstring for the low-rank inner weights).

        Parameters
        ----------
        n_features : int
        widths : sequence of int
            Hidden widths ``m_1 .. m_L`` (L >= 1).
        n_outputs : int, default=1
        activation, scaling : str
        scale : float, default=1.0
            Standard deviation of the importances ``u``.
        init_rank : int, default=8
            Rank ``r`` of the initial inner weight functions (mean-field scaling); under
            ``scaling='ntk'`` inner weights are i.i.d. ``N(0, g)`` instead.
        random_state : int, Generator or None
        """
        check_positive(n_features, "n_features", integer=True)
        widths = list(widths)
        if not widths:
            raise ValueError("widths must list at least one hidden width.")
        for m in widths:
            check_positive(m, "widths", integer=True)
        check_positive(scale, "scale")
        check_positive(init_rank, "init_rank", integer=True)
        gain = ACTIVATIONS[_check_activation(activation)][2]
        rng = check_random_state(random_state)
        theta = rng.standard_normal((widths[0], n_features + 1)) * np.sqrt(gain / (n_features + 1))
        weights, biases = [], []
        for m_in, m_out in zip(widths[:-1], widths[1:]):
            if _check_scaling(scaling).name == "ntk":
                W = rng.standard_normal((m_in, m_out)) * np.sqrt(gain)
            else:
                a = rng.standard_normal((m_in, init_rank)) * np.sqrt(gain)
                b = rng.standard_normal((m_out, init_rank)) * np.sqrt(gain)
                W = a @ b.T / np.sqrt(init_rank)
            weights.append(W)
            biases.append(np.zeros(m_out))
        u = scale * rng.standard_normal((widths[-1], n_outputs))
        return cls(theta, weights, biases, u, activation=activation, scaling=scaling)

    def parameters(self):
        """Trainable arrays ``[theta, W^2, b^2, ..., W^L, b^L, u]``."""
        params = [self.theta]
        for W, b in zip(self.weights, self.biases):
            params += [W, b]
        return params + [self.u]

    def with_parameters(self, params):
        """A deep population with new arrays (order of :meth:`parameters`), same masses."""
        params = list(params)
        inner = params[1:-1]
        return DeepPopulation(params[0], inner[0::2], inner[1::2], params[-1], self.masses,
                              activation=self.activation, scaling=self.scaling)

    def step_scales(self):
        """Per-parameter step multipliers: ``1/q_j`` per neuron, ``1/(q_i q_j)`` per connection (mean field)."""
        steps = SCALINGS[self.scaling].step_scales
        q = self.masses
        scales = [steps(q[0][:, None])]
        for l in range(1, len(q)):
            scales += [steps(np.outer(q[l - 1], q[l])), steps(q[l])]
        return scales + [steps(q[-1][:, None])]

    # ------------------------------------------------------------------ evaluation
    def _forward(self, X):
        """The forward pass on validated ``X`` as a :class:`~convexnn.backprop.Chain`: every hidden
        layer's features ``sigma(.)``, weighted by their masses ``q^a``, feed the next layer's
        linear map (and the output's); the features of the hidden layers are ``inputs[2::3]``."""
        sigma, derivative, _ = ACTIVATIONS[self.activation]
        weights = SCALINGS[self.scaling].output_weights
        chain = Chain(add_intercept(X)).linear(self.theta, transpose=True).activation(sigma, derivative)
        for q, W, b in zip(self.masses, self.weights, self.biases):
            chain.multiply(weights(q)).linear(W, bias=b).activation(sigma, derivative)
        return chain.multiply(weights(self.masses[-1])).linear(self.u)

    def _check_X(self, X):
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features but the population expects {self.n_features}.")
        return X

    def features(self, X, layer=-1):
        """Feature values of one hidden layer (default: the last), shape (n_samples, m_layer)."""
        return self._forward(self._check_X(X)).inputs[2::3][layer]

    def predict(self, X):
        """Network output ``f(X)``, shape (n_samples, n_outputs)."""
        return self._forward(self._check_X(X)).value

    def regularizer(self):
        """``R`` of the module docstring (mean field) or half the squared parameter norm (NTK), without ``lam``."""
        if self.scaling == "ntk":
            return 0.5 * sum(float(np.sum(p * p)) for p in self.parameters())
        q = self.masses
        total = q[0] @ np.sum(self.theta**2, axis=1) + q[-1] @ np.sum(self.u**2, axis=1)
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            S = q[l] @ np.abs(W)
            total += q[l + 1] @ (S**2 + b**2)
        return 0.5 * float(total)

    def _regularizer_gradient(self):
        if self.scaling == "ntk":
            return list(self.parameters())
        q = self.masses
        grads = [q[0][:, None] * self.theta]
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            S = q[l] @ np.abs(W)
            grads += [np.outer(q[l], q[l + 1] * S) * np.sign(W), q[l + 1] * b]
        return grads + [q[-1][:, None] * self.u]

    def objective(self, X, y, lam, loss="squared"):
        """``J = (1/n) sum_k l(f(x_k), y_k) + lam * regularizer()``."""
        check_positive(lam, "lam", strict=False)
        F = self.predict(X)
        Y = check_targets(y, F.shape[0], loss)
        _check_outputs(Y, self.n_outputs)
        return multi_loss(loss)(F, Y)[0] + lam * self.regularizer()

    def objective_and_gradient(self, X, Y, lam, loss):
        """``J`` and its gradient in the order of :meth:`parameters` (inputs assumed validated).

        The loss's gradient comes from the forward pass (:meth:`_forward`), the regularizer's is
        explicit.
        """
        value, grads = self._forward(X).loss(multi_loss(loss), Y)
        grads = [g + lam * r for g, r in zip(grads, self._regularizer_gradient())]
        return value + lam * self.regularizer(), grads

    # ------------------------------------------------------------------ layer-wise union
    def union(self, other, t):
        """The layer-wise union ``(1 - t) self (+) t other``: its output is exactly ``(1 - t) f_0 + t f_1``.

        Every hidden layer stacks the neurons of both populations with masses ``((1 - t) q_0,
        t q_1)``; the connections are block diagonal, ``W_0 / (1 - t)`` and ``W_1 / t`` (no
        connection between the two), so each neuron computes the same feature as before; the
        importances are stacked. Then ``f = (1 - t) f_0 + t f_1`` and the regularizer of the module
        docstring is exactly ``(1 - t) R_0 + t R_1``. At ``t = 0`` (``1``) the population of zero
        mass is dropped and a copy of ``self`` (``other``) is returned.

        Parameters
        ----------
        other : DeepPopulation
            Same input dimension, number of hidden layers, outputs, activation; mean-field scaling.
        t : float in [0, 1]

        Returns
        -------
        DeepPopulation
        """
        _check_union(self, other, t)
        if len(other.weights) != len(self.weights):
            raise ValueError(
                f"other must have {len(self.weights) + 1} hidden layer(s) like self, got {len(other.weights) + 1}."
            )
        if t == 0.0 or t == 1.0:
            src = self if t == 0.0 else other
            return src.with_parameters([p.copy() for p in src.parameters()])
        weights = [_block_diag(W0 / (1.0 - t), W1 / t) for W0, W1 in zip(self.weights, other.weights)]
        biases = [np.concatenate([b0, b1]) for b0, b1 in zip(self.biases, other.biases)]
        masses = [np.concatenate([(1.0 - t) * q0, t * q1]) for q0, q1 in zip(self.masses, other.masses)]
        return DeepPopulation(np.vstack([self.theta, other.theta]), weights, biases,
                              np.vstack([self.u, other.u]), masses, activation=self.activation)


def _block_diag(A, B):
    out = np.zeros((A.shape[0] + B.shape[0], A.shape[1] + B.shape[1]))
    out[: A.shape[0], : A.shape[1]] = A
    out[A.shape[0]:, A.shape[1]:] = B
    return out

