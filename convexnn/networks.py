"""Two-layer networks as plain weights, and the maps between them and the convex programs.

:class:`ReLUNetwork` is ``f(x) = sum_j (x^T w_j + b_j)_+ a_j`` and :class:`GatedReLUNetwork` is
``f(x) = sum_j 1[x^T g_j + c_j >= 0] (x^T w_j + b_j) a_j`` with fixed gates. Both are trained with
weight decay on every weight, in the mean scaling of doc/math.rst:

    L_nc = (1/n) sum_k l(f(x_k), y_k) + (lam/2) (||W1||^2 + ||b1||^2 + ||w2||^2).

The two maps of doc/math.rst:

* :meth:`TwoLayerNetwork.from_convex` turns each non-zero block ``u_b`` of a convex solution into a
  neuron ``(u_b / sqrt(R(u_b)), s_b sqrt(R(u_b)))`` with ``R`` the problem's penalty on one block
  (``||u_b||`` for the group lasso). The cone constraints make the network predict exactly what the
  convex model predicts on the training data, and the rescaling makes ``L_nc`` (with the weight
  decay that matches the penalty, see :meth:`TwoLayerNetwork.objective`) equal the convex objective.
* :meth:`TwoLayerNetwork.to_convex` embeds any network into the convex variables over its own
  patterns (``D_j = 1[A u_j >= 0]``): neurons sharing a pattern and output sign are summed into one
  block. The convex objective there is <= ``L_nc`` (AM-GM and the triangle inequality), so solving
  the convex program over an SGD network's patterns can only improve on it.
"""

import copy

import numpy as np

from .backprop import Chain
from .losses import get_loss
from .patterns import ActivationPatterns
from .penalties import get_penalty
from .problems import GatedReLUProblem, ReLUProblem
from .results import ZERO_BLOCK_THRESHOLD
from .validation import add_intercept, check_matrix, check_positive, check_random_state, check_target

__all__ = ["TwoLayerNetwork", "ReLUNetwork", "GatedReLUNetwork", "StackedNetworks", "from_convex"]


class TwoLayerNetwork:
    """Shared machinery of the two-layer networks; see :class:`ReLUNetwork`.

    Parameters
    ----------
    W1 : array-like of shape (n_features, n_neurons)
        First-layer weights, one column per neuron.
    w2 : array-like of shape (n_neurons,)
        Output weights.
    b1 : array-like of shape (n_neurons,) or None
        First-layer biases (regularized like the weights); None for a network without intercept.
    """

    #: the convex program this network family maps to and from
    problem_class = None
    #: one scalar output (:class:`StackedNetworks` has several)
    n_outputs = 1
    #: whether the neurons' on/off pattern depends on their pre-activations alone, so that
    #: networks of this class can be trained side by side (:class:`StackedNetworks`)
    stackable = False

    def __init__(self, W1, w2, b1=None):
        W1 = np.asarray(W1, dtype=np.float64)
        w2 = np.asarray(w2, dtype=np.float64)
        if W1.ndim != 2:
            raise ValueError(f"W1 must have shape (n_features, n_neurons), got {W1.shape}.")
        if w2.shape != (W1.shape[1],):
            raise ValueError(f"w2 must have shape ({W1.shape[1]},) to match W1, got {w2.shape}.")
        if b1 is not None:
            b1 = np.asarray(b1, dtype=np.float64)
            if b1.shape != (W1.shape[1],):
                raise ValueError(f"b1 must have shape ({W1.shape[1]},) to match W1, got {b1.shape}.")
        self.W1, self.w2, self.b1 = W1, w2, b1

    # ------------------------------------------------------------------ structure
    @property
    def n_neurons(self):
        return self.W1.shape[1]

    @property
    def n_features(self):
        return self.W1.shape[0]

    @property
    def fit_intercept(self):
        return self.b1 is not None

    def _stack(self, W, b):
        return W if b is None else np.vstack([W, b[None, :]])

    @property
    def first_layer(self):
        """First-layer weights with the biases as a last row, shape (n_features (+1), n_neurons)."""
        return self._stack(self.W1, self.b1)

    def design(self, X):
        """``X`` with a ones column appended when the network has biases."""
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features but the network expects {self.n_features}.")
        return add_intercept(X) if self.fit_intercept else X

    def _mask(self, A, pre):
        """Which neurons are on for each sample, bool of shape (n_samples, n_neurons)."""
        raise NotImplementedError

    def parameters(self):
        """Trainable arrays: ``[W1, b1, w2]`` (``b1`` omitted when absent)."""
        return [p for p in (self.W1, self.b1, self.w2) if p is not None]

    def with_parameters(self, params):
        """A copy of the network with new trainable arrays (same order as :meth:`parameters`)."""
        other = copy.copy(self)
        params = list(params)
        other.W1 = params[0]
        other.b1 = params[1] if self.fit_intercept else None
        other.w2 = params[-1]
        return other

    #: the network is positively homogeneous of this degree in :meth:`parameters`
    degree = 2

    def scaled(self, factor):
        """A copy whose output is ``factor`` times this network's (``factor > 0``).

        Every trainable array is multiplied by ``factor ** (1 / degree)``, so a network that is
        balanced (``|a_j| = ||(w_j, b_j)||``, as :func:`from_convex` maps it) stays balanced: the
        copy is the optimum of the same program for the target times ``factor`` and ``lam`` times
        ``factor`` (doc/math.rst), which is how the regressors return to the target's own units.
        """
        factor = float(factor)
        if not (np.isfinite(factor) and factor > 0):
            raise ValueError(f"factor must be a finite number > 0, got {factor!r}.")
        root = factor ** (1.0 / self.degree)
        return self.with_parameters([p * root for p in self.parameters()])

    # ------------------------------------------------------------------ evaluation
    def _forward(self, A, first_layer):
        """The forward pass on the design ``A``, ``f = (mask * (A U)) w2`` with ``U = first_layer``,
        as a :class:`~convexnn.backprop.Chain` (its value: the output; it also differentiates it)."""
        chain = Chain(A).linear(first_layer)
        mask = self._mask(A, chain.value).astype(A.dtype)  # float: bool-times-float products are slow
        return chain.multiply(mask, owned=True).linear(self.w2)

    def hidden(self, X):
        """Hidden-layer activations, shape (n_samples, n_neurons)."""
        return self._forward(self.design(X), self.first_layer).inputs[-1]

    def predict(self, X):
        """Network output ``f(X)``, shape (n_samples,)."""
        return self._forward(self.design(X), self.first_layer).value

    def to_torch(self, dtype=None):
        """The network as a ``torch.nn.Module`` (PyTorch is optional: :mod:`convexnn.export`).

        Parameters
        ----------
        dtype : torch.float32 or torch.float64, optional
            Of the module's weights and expected input (default float64, which gives
            :meth:`predict`'s values to rounding).

        Returns
        -------
        torch.nn.Module
            ``module(x)`` for ``x`` of shape (n_samples, n_features) has shape (n_samples,).
        """
        from .export import torch_module

        return torch_module("TwoLayer", dtype, first_layer=self.first_layer, gates=self._gates(),
                            w2=self.w2, fit_intercept=self.fit_intercept)

    def weight_decay(self, penalty=None):
        """``(||W1||^2 + ||b1||^2 + ||w2||^2) / 2``, or ``(sum_j R(u_j)^2 + ||w2||^2) / 2``.

        Parameters
        ----------
        penalty : str or Penalty, optional
            The convex penalty whose non-convex form is wanted: each neuron's first-layer weights
            ``u_j`` (bias last) are charged ``R(u_j)^2`` (the penalty on one block, e.g.
            ``||w_j||^2`` without the bias for 'group_l1_free_intercept'). None charges every weight,
            which is the form of 'group_l1'.
        """
        if penalty is None:
            return 0.5 * sum(float(np.sum(p * p)) for p in self.parameters())
        first = get_penalty(penalty).block_values(self.first_layer.T)
        return 0.5 * (float(first @ first) + float(self.w2 @ self.w2))

    def path_norm(self):
        """``sum_j ||(w_j, b_j)|| |a_j|``: the value weight decay reaches after balancing neurons."""
        return float(np.sum(np.linalg.norm(self.first_layer, axis=0) * np.abs(self.w2)))

    def objective(self, X, y, lam, loss="squared", penalty=None):
        """Non-convex objective ``L_nc = F(f(X)) + lam * weight_decay(penalty)`` (doc/math.rst scaling).

        ``penalty`` (str or Penalty, optional) selects the weight decay that matches a convex
        penalty (:meth:`weight_decay`); None decays every weight.
        """
        loss = get_loss(loss)
        X = check_matrix(X, "X")
        y = loss.check_target(check_target(y, X.shape[0]))
        check_positive(lam, "lam", strict=False)
        return loss.value(self.predict(X), y) + lam * self.weight_decay(penalty)

    def objective_and_gradient(self, X, y, lam, loss):
        """``L_nc`` on ``(X, y)`` and its gradient, a list matching :meth:`parameters`.

        ``X``, ``y`` are assumed validated and ``loss`` a Loss instance (this is the SGD hot path).
        The loss's gradient comes from the forward pass (:meth:`_forward`), the weight decay's is
        ``lam`` times the weights.
        """
        A = add_intercept(X) if self.fit_intercept else X
        U = self.first_layer
        value, (grad_U, grad_w2) = self._forward(A, U).loss(loss, y)
        grad_U = grad_U + lam * U
        decay = 0.5 * (float(np.sum(U * U)) + float(self.w2 @ self.w2))
        grads = [grad_U[: self.n_features]]
        if self.fit_intercept:
            grads.append(grad_U[-1])
        grads.append(grad_w2 + lam * self.w2)
        return value + lam * decay, grads

    # ------------------------------------------------------------------ convex maps
    @classmethod
    def from_convex(cls, problem, coef, *, threshold=ZERO_BLOCK_THRESHOLD):
        """Map a convex solution to network weights (doc/math.rst).

        Parameters
        ----------
        problem : ConvexProblem
            The program ``coef`` solves; its formulation must match this network class.
        coef : ndarray of shape ``problem.coef_shape``
        threshold : float, default=ZERO_BLOCK_THRESHOLD (1e-6)
            Blocks that ``problem.active_blocks(coef, threshold)`` counts as zero give no neuron.

        Returns
        -------
        network
            Same predictions on the training data as ``problem.predict(coef)`` and ``L_nc`` equal to
            ``problem.objective(coef)`` (up to the dropped blocks), with the weight decay of the
            problem's penalty (``objective(X, y, lam, loss, penalty=problem.penalty)``).

        Notes
        -----
        Each block is balanced by its penalty value ``R(u_b)`` (``penalty.block_values``), which
        makes ``(R(u)^2 + a^2) / 2 = |a| R(u)``. A block the penalty does not charge at all (a
        bias-only block under 'group_l1_free_intercept') cannot be balanced that way; it is scaled
        by ``||u_b||`` instead and its neuron costs ``lam ||u_b|| / 2`` more than the block.
        """
        if type(problem) is not cls.problem_class:
            raise ValueError(
                f"{cls.__name__}.from_convex needs a {cls.problem_class.__name__}, got "
                f"{type(problem).__name__}; use convexnn.networks.from_convex(problem, coef)."
            )
        coef = problem.check_coef(coef)
        check_positive(threshold, "threshold", strict=False)
        kept = problem.active_blocks(coef, threshold)
        sizes = problem.penalty.block_values(coef[kept])
        uncharged = sizes <= 0
        sizes[uncharged] = np.linalg.norm(coef[kept][uncharged], axis=1)
        root = np.sqrt(sizes)
        U = coef[kept].T / root
        a = problem.block_sign[kept] * root
        return cls._from_blocks(problem, kept, U, a)

    @classmethod
    def _from_blocks(cls, problem, kept, U, a):
        W1, b1 = (U[:-1], U[-1]) if problem.fit_intercept else (U, None)
        return cls(W1, a, b1)

    def to_convex(self, X, y, lam, loss="squared", penalty="group_l1"):
        """Embed the network in its convex program over its own patterns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        lam : float
        loss : str or Loss
        penalty : str or Penalty, default='group_l1'
            The convex penalty; compare with ``objective(..., penalty=penalty)``.

        Returns
        -------
        problem : ConvexProblem
            The program over the network's distinct non-empty patterns.
        coef : ndarray of shape ``problem.coef_shape``
            A feasible point whose convex objective is <= ``self.objective(X, y, lam, loss)``
            (for another penalty, ``self.objective(X, y, lam, loss, penalty)``).
        """
        A = self.design(X)
        gates = self._gates()
        mask = A @ gates >= 0
        useful = mask.any(axis=0) & (self.w2 != 0) & np.any(self.first_layer != 0, axis=0)
        if not useful.any():
            raise ValueError("the network has no neuron that is active on X; nothing to embed.")
        idx = np.flatnonzero(useful)
        _, first, group = np.unique(mask[:, idx].T, axis=0, return_index=True, return_inverse=True)
        group = np.asarray(group).ravel()
        patterns = ActivationPatterns(gates[:, idx[first]], mask[:, idx[first]], self.fit_intercept)
        problem = self.problem_class(X, y, patterns, lam=lam, loss=loss, penalty=penalty)
        coef = problem.zeros()
        rows = self._embed_rows(group, self.w2[idx], patterns.n_patterns)
        blocks = self.first_layer[:, idx].T * self._embed_scale(self.w2[idx])[:, None]
        np.add.at(coef, rows, blocks)
        return problem, coef

    def _gates(self):
        """Gate of each neuron (the vector whose sign pattern defines its convex block)."""
        raise NotImplementedError

    def _embed_rows(self, group, a, n_patterns):
        """Convex block row of each neuron, given its pattern group and output weight."""
        raise NotImplementedError

    def _embed_scale(self, a):
        """Factor multiplying each neuron's first-layer weights in its block."""
        raise NotImplementedError

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_features={self.n_features}, n_neurons={self.n_neurons}, "
            f"fit_intercept={self.fit_intercept})"
        )


class ReLUNetwork(TwoLayerNetwork):
    """Two-layer ReLU network ``f(x) = sum_j (x^T w_j + b_j)_+ a_j``.

    Objective (mean scaling, doc/math.rst)::

        L_nc = (1/n) sum_k l(f(x_k), y_k) + (lam/2) (||W1||^2 + ||b1||^2 + ||w2||^2)

    Parameters are those of :class:`TwoLayerNetwork`.
    """

    problem_class = ReLUProblem
    stackable = True

    def _mask(self, A, pre):
        return pre >= 0

    def _gates(self):
        return self.first_layer

    def _embed_rows(self, group, a, n_patterns):
        # v-blocks (rows 0..P-1) take neurons with a >= 0, w-blocks (rows P..2P-1) the others
        return np.where(a >= 0, group, group + n_patterns)

    def _embed_scale(self, a):
        return np.abs(a)

    @classmethod
    def random(cls, n_features, n_neurons, *, fit_intercept=True, scale=1.0, random_state=None):
        """He-style random initialization: ``W1 ~ N(0, 2/n_in) * scale``, ``w2 ~ N(0, 1/m) * scale``."""
        check_positive(n_features, "n_features", integer=True)
        check_positive(n_neurons, "n_neurons", integer=True)
        check_positive(scale, "scale")
        rng = check_random_state(random_state)
        n_in = n_features + fit_intercept
        U = rng.standard_normal((n_in, n_neurons)) * np.sqrt(2.0 / n_in) * scale
        w2 = rng.standard_normal(n_neurons) * np.sqrt(1.0 / n_neurons) * scale
        return cls(U[:n_features], w2, U[-1] if fit_intercept else None)


class GatedReLUNetwork(TwoLayerNetwork):
    """Two-layer gated ReLU network ``f(x) = sum_j 1[x^T g_j + c_j >= 0] (x^T w_j + b_j) a_j``.

    The gates ``(g_j, c_j)`` are fixed; only ``W1``, ``b1`` and ``w2`` are trained, with the same
    objective as :class:`ReLUNetwork`.

    Parameters
    ----------
    gates : array-like of shape (n_features, n_neurons)
    W1, w2, b1
        As in :class:`TwoLayerNetwork`.
    gate_bias : array-like of shape (n_neurons,) or None
        Gate thresholds ``c_j``; required exactly when ``b1`` is given.
    """

    problem_class = GatedReLUProblem

    def __init__(self, gates, W1, w2, b1=None, gate_bias=None):
        super().__init__(W1, w2, b1)
        gates = np.asarray(gates, dtype=np.float64)
        if gates.shape != self.W1.shape:
            raise ValueError(f"gates must have shape {self.W1.shape} like W1, got {gates.shape}.")
        if (gate_bias is None) != (b1 is None):
            raise ValueError("gate_bias must be given exactly when b1 is (both or neither).")
        if gate_bias is not None:
            gate_bias = np.asarray(gate_bias, dtype=np.float64)
            if gate_bias.shape != (self.n_neurons,):
                raise ValueError(
                    f"gate_bias must have shape ({self.n_neurons},), got {gate_bias.shape}."
                )
        self.gates, self.gate_bias = gates, gate_bias

    def _gates(self):
        return self._stack(self.gates, self.gate_bias)

    def _mask(self, A, pre):
        return A @ self._gates() >= 0

    def _embed_rows(self, group, a, n_patterns):
        return group

    def _embed_scale(self, a):
        return a

    @classmethod
    def _from_blocks(cls, problem, kept, U, a):
        G = problem.patterns.gates[:, problem.block_pattern[kept]]
        if problem.fit_intercept:
            return cls(G[:-1], U[:-1], a, U[-1], G[-1])
        return cls(G, U, a)

    @classmethod
    def random(cls, n_features, n_neurons, *, fit_intercept=True, scale=1.0, random_state=None):
        """Random Gaussian gates and the weights of :meth:`ReLUNetwork.random`."""
        rng = check_random_state(random_state)
        G = rng.standard_normal((n_features + fit_intercept, n_neurons))
        base = ReLUNetwork.random(
            n_features, n_neurons, fit_intercept=fit_intercept, scale=scale, random_state=rng
        )
        return cls(G[:n_features], base.W1, base.w2, base.b1, G[-1] if fit_intercept else None)


_NETWORK_OF_PROBLEM = {ReLUProblem: ReLUNetwork, GatedReLUProblem: GatedReLUNetwork}


class StackedNetworks:
    """``K`` two-layer ReLU networks of one width trained side by side as one model.

    Network ``k`` predicts target column ``k``; the objective is the sum of the networks' own
    ``L_nc`` (each with its loss on its column and its weight decay), so their gradients, and the
    steps of an optimizer that works per parameter like Adam, are each network's alone. One
    forward pass runs them all (the hidden units of all networks as one layer, each network's
    output from its own units), which makes the Adam start of a one-vs-rest fit one training
    instead of ``K``.

    Parameters
    ----------
    networks : list of TwoLayerNetwork
        Of a stackable class (:class:`ReLUNetwork`), all with the same features, width and
        intercept.
    """

    def __init__(self, networks):
        networks = list(networks)
        if not networks:
            raise ValueError("networks must hold at least one network.")
        first = networks[0]
        kind = type(first)
        if not getattr(kind, "stackable", False):
            raise ValueError(f"networks must be ReLUNetwork instances, got {kind.__name__}.")
        for net in networks:
            if (type(net) is not kind or net.W1.shape != first.W1.shape
                    or net.fit_intercept != first.fit_intercept):
                raise ValueError("networks must all be of one class, with the same features, "
                                 "width and intercept.")
        self._kind = kind
        self.W1 = np.hstack([net.W1 for net in networks])
        self.b1 = np.concatenate([net.b1 for net in networks]) if first.fit_intercept else None
        self.W2 = np.vstack([net.w2 for net in networks])

    @property
    def n_outputs(self):
        return self.W2.shape[0]

    # the first layer is a two-layer network's, wider: its features, intercept and design
    n_features = TwoLayerNetwork.n_features
    fit_intercept = TwoLayerNetwork.fit_intercept
    design = TwoLayerNetwork.design

    def networks(self):
        """The ``K`` networks, as :class:`ReLUNetwork` (or the class they were given as)."""
        w = self.W2.shape[1]
        return [self._kind(self.W1[:, k * w:(k + 1) * w], self.W2[k],
                           None if self.b1 is None else self.b1[k * w:(k + 1) * w])
                for k in range(self.n_outputs)]

    def parameters(self):
        """Trainable arrays ``[W1, b1, W2]`` (all networks' side by side; ``b1`` omitted when
        absent; ``W2`` of shape (K, width))."""
        return [p for p in (self.W1, self.b1, self.W2) if p is not None]

    def with_parameters(self, params):
        other = copy.copy(self)
        params = list(params)
        other.W1 = params[0]
        other.b1 = params[1] if self.fit_intercept else None
        other.W2 = params[-1]
        return other

    def _forward(self, A):
        U = self.W1 if self.b1 is None else np.vstack([self.W1, self.b1[None, :]])
        chain = Chain(A).linear(U)
        mask = (chain.value >= 0).astype(A.dtype)
        return chain.multiply(mask, owned=True).split_linear(self.W2)

    def predict(self, X):
        """The networks' outputs, shape (n_samples, K)."""
        return self._forward(self.design(X)).value

    def _decay(self):
        return 0.5 * sum(float(np.sum(p * p)) for p in self.parameters())

    def objective(self, X, Y, lam, loss="squared"):
        """The networks' ``L_nc`` summed: ``sum_k F(f_k(X), Y[:, k]) + lam * weight decay``."""
        return get_loss(loss).columns(self.predict(X), _columns(Y))[0] + lam * self._decay()

    def objective_and_gradient(self, X, Y, lam, loss):
        """:meth:`objective` and its gradient, a list matching :meth:`parameters` (the SGD hot
        path: ``X``, ``Y`` validated, ``loss`` a Loss)."""
        A = add_intercept(X) if self.fit_intercept else X
        value, grads = self._forward(A).loss(loss.columns, _columns(Y))
        grad_U, grad_W2 = grads
        out = [grad_U[: self.n_features] + lam * self.W1]
        if self.fit_intercept:
            out.append(grad_U[-1] + lam * self.b1)
        out.append(grad_W2 + lam * self.W2)
        return value + lam * self._decay(), out


def _columns(Y):
    """Targets as columns: a vector (one output, as :func:`convexnn.sgd.train` passes it) becomes
    one column."""
    return Y[:, None] if Y.ndim == 1 else Y


def from_convex(problem, coef, *, threshold=ZERO_BLOCK_THRESHOLD):
    """Map a convex solution to the network family of its problem (ReLU or gated ReLU)."""
    network_class = _NETWORK_OF_PROBLEM.get(type(problem))
    if network_class is None:
        raise ValueError(f"no network family is registered for {type(problem).__name__}.")
    return network_class.from_convex(problem, coef, threshold=threshold)
