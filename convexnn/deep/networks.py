"""Deep parallel ReLU networks with path regularization: forward pass, training objective, the map
from the convex solution and the embedding of a trained network (doc/math.rst, "Deep").

A depth-``L`` parallel network is a sum of ``K`` sub-networks. Sub-network ``k`` has hidden widths
``m_1, ..., m_{L-2}`` and a single unit at the last hidden level:

    h_1 = (A W1_k)_+,   h_l = (h_{l-1} W_l,k)_+  (l = 2 .. L-1, the last of width 1),
    f(X) = sum_k h_{L-1,k} c_k,

with ``A`` the design matrix (``X`` with a ones column when ``fit_intercept``: the first layer's
bias is its last row, penalized like the weights, as in the convex program). The path penalty is

    R = sum_k sum_paths ||w1_{k j_1}|| |W2_{k, j_1 j_2}| ... |W_{L-1,k, j_{L-2} 1}| |c_k|

(each first-layer weight vector's norm times the weights along the path to the output). It is
invariant to rescaling a unit's incoming weights by ``t > 0`` and its outgoing weights by ``1/t``,
and the convex program minimizes exactly ``F(f(X)) + lam R``. Plain weight decay on the same
network is available for comparison (:meth:`ParallelReLUNetwork.weight_decay`); it is not equal to
``R`` beyond two layers.
"""

import copy

import numpy as np

from ..backprop import Chain
from ..losses import get_loss
from ..networks import TwoLayerNetwork
from ..patterns import ActivationPatterns
from ..results import ZERO_BLOCK_THRESHOLD
from ..validation import add_intercept, check_matrix, check_positive, check_random_state, check_target
from .patterns import NestedPatterns
from .problems import DeepReLUProblem

__all__ = ["ParallelReLUNetwork"]


class ParallelReLUNetwork:
    """A depth-``L`` parallel ReLU network (see the module docstring for the model).

    Parameters
    ----------
    layers : list of ndarray
        ``[W1, W2, ..., W_{L-1}]``: ``W1`` of shape (n_subnetworks, n_features (+1), m_1), ``W_l`` of
        shape (n_subnetworks, m_{l-1}, m_l), the last with ``m_{L-1} = 1``. With
        ``fit_intercept`` the last row of ``W1`` holds the first-layer biases.
    output : ndarray of shape (n_subnetworks,)
        ``c_k``, the output weight of each sub-network.
    fit_intercept : bool, default=True
    """

    def __init__(self, layers, output, *, fit_intercept=True):
        layers = [np.asarray(W, dtype=np.float64) for W in layers]
        output = np.asarray(output, dtype=np.float64).ravel()
        if len(layers) < 2:
            raise ValueError(
                f"layers must hold at least 2 arrays (depth >= 3), got {len(layers)}; use "
                "ReLUNetwork for two layers."
            )
        K = output.shape[0]
        for l, W in enumerate(layers, start=1):
            if W.ndim != 3 or W.shape[0] != K:
                raise ValueError(
                    f"layer {l} must have shape ({K}, fan_in, fan_out), got {W.shape}."
                )
            if l > 1 and W.shape[1] != layers[l - 2].shape[2]:
                raise ValueError(
                    f"layer {l} takes {W.shape[1]} inputs but layer {l - 1} has {layers[l - 2].shape[2]}"
                    " outputs."
                )
        if layers[-1].shape[2] != 1:
            raise ValueError(f"the last layer must have one output unit, got {layers[-1].shape[2]}.")
        self.layers = layers
        self.output = output
        self.fit_intercept = bool(fit_intercept)

    # ------------------------------------------------------------------ sizes
    @property
    def depth(self):
        return len(self.layers) + 1

    @property
    def n_subnetworks(self):
        return self.output.shape[0]

    @property
    def n_features(self):
        return self.layers[0].shape[1] - self.fit_intercept

    @property
    def widths(self):
        """Hidden widths per sub-network, bottom up (the last is 1)."""
        return tuple(W.shape[2] for W in self.layers)

    def __repr__(self):
        return (
            f"ParallelReLUNetwork(depth={self.depth}, n_subnetworks={self.n_subnetworks}, "
            f"widths={self.widths}, n_features={self.n_features}, fit_intercept={self.fit_intercept})"
        )

    @classmethod
    def random(cls, n_features, n_subnetworks, widths, *, fit_intercept=True, scale=1.0,
               random_state=None):
        """He-initialized network: weights ``N(0, 2 scale^2 / fan_in)``, output ``N(0, scale^2)``.

        Parameters
        ----------
        n_features : int
        n_subnetworks : int
        widths : sequence of int
            ``m_1, ..., m_{L-2}`` (the last hidden level has one unit); depth ``L = len(widths) + 2``.
        fit_intercept : bool, default=True
        scale : float, default=1.0
        random_state : int, Generator or None
        """
        check_positive(n_features, "n_features", integer=True)
        check_positive(n_subnetworks, "n_subnetworks", integer=True)
        check_positive(scale, "scale")
        widths = [check_positive(m, "widths", integer=True) for m in widths]
        if not widths:
            raise ValueError("widths must list at least one hidden width (depth >= 3).")
        rng = check_random_state(random_state)
        fan = [n_features + bool(fit_intercept)] + widths + [1]
        layers = [
            rng.standard_normal((n_subnetworks, fan[l], fan[l + 1])) * scale * np.sqrt(2.0 / fan[l])
            for l in range(len(fan) - 1)
        ]
        return cls(layers, scale * rng.standard_normal(n_subnetworks), fit_intercept=fit_intercept)

    # ------------------------------------------------------------------ evaluation
    def design(self, X):
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features but the network expects {self.n_features}.")
        return add_intercept(X) if self.fit_intercept else X

    def _forward(self, A):
        """The forward pass on the design ``A`` as a :class:`~convexnn.backprop.Chain`: the
        sub-networks' levels as grouped linear maps and ReLUs, then the weighted sum ``c``."""
        chain = Chain(A)
        for W in self.layers:
            chain.grouped(W).relu()
        return chain.combine(self.output)

    def _pre_activations(self, A):
        """Pre-activations of every level, each of shape (n_subnetworks, n_samples, m_l)."""
        return self._forward(A).inputs[1::2]

    def predict(self, X):
        """Network output ``f(X)``, shape (n_samples,)."""
        return self._forward(self.design(X)).value

    def to_torch(self, dtype=None):
        """The network as a ``torch.nn.Module`` (PyTorch is optional: :mod:`convexnn.export`).

        Parameters
        ----------
        dtype : torch.float32 or torch.float64, optional
            Of the module's weights and expected input (default float64).

        Returns
        -------
        torch.nn.Module
            ``module(x)`` for ``x`` of shape (n_samples, n_features) has shape (n_samples,).
        """
        from ..export import torch_module

        return torch_module("Parallel", dtype, layers=list(self.layers), output=self.output,
                            fit_intercept=self.fit_intercept)

    def activation_patterns(self, X):
        """``1[pre >= 0]`` of every unit, per level: bool arrays (n_subnetworks, n_samples, m_l)."""
        return [pre >= 0 for pre in self._pre_activations(self.design(X))]

    def _path_values(self):
        """``v_l[k, j]``: sum over paths from the input to unit j of level l of the path products."""
        values = [np.linalg.norm(self.layers[0], axis=1)]
        for W in self.layers[1:]:
            values.append(np.einsum("km,kmp->kp", values[-1], np.abs(W)))
        return values

    def path_penalty(self):
        """``R``: the path regularizer of the module docstring."""
        return float(np.abs(self.output) @ self._path_values()[-1][:, 0])

    def weight_decay(self):
        """``(1/2) sum of all squared weights`` (biases included), for comparison."""
        return 0.5 * sum(float(np.sum(p * p)) for p in self.parameters())

    def objective(self, X, y, lam, loss="squared", penalty="path"):
        """``F(f(X)) + lam * R`` (``penalty='path'``, what the convex program minimizes) or
        ``F(f(X)) + lam * weight_decay()`` (``penalty='weight_decay'``)."""
        loss = get_loss(loss)
        X = check_matrix(X, "X")
        y = loss.check_target(check_target(y, X.shape[0]))
        check_positive(lam, "lam", strict=False)
        penalties = {"path": self.path_penalty, "weight_decay": self.weight_decay}
        if penalty not in penalties:
            raise ValueError(f"penalty must be one of {sorted(penalties)}, got {penalty!r}.")
        return loss.value(self.predict(X), y) + lam * penalties[penalty]()

    # ------------------------------------------------------------------ training interface
    def parameters(self):
        """Trainable arrays ``[W1, ..., W_{L-1}, c]`` (the order :func:`convexnn.sgd.train` uses)."""
        return list(self.layers) + [self.output]

    def with_parameters(self, params):
        other = copy.copy(self)
        params = list(params)
        other.layers, other.output = params[:-1], params[-1]
        return other

    @property
    def degree(self):
        """The network is positively homogeneous of degree ``depth`` in :meth:`parameters`."""
        return self.depth

    #: a copy whose output is ``factor`` times this network's, every trainable array multiplied by
    #: ``factor ** (1 / depth)`` (the two-layer networks' method, with this ``degree``)
    scaled = TwoLayerNetwork.scaled
    #: one scalar output, and not trained side by side with others (StackedNetworks)
    n_outputs = 1
    stackable = False

    def objective_and_gradient(self, X, y, lam, loss):
        """Path-regularized objective on ``(X, y)`` and its (sub)gradient, matching :meth:`parameters`.

        The loss's gradient comes from the forward pass (:meth:`_forward`); at a kink (a zero
        pre-activation, weight or first-layer norm) the zero subgradient is used. ``X``, ``y`` are
        assumed validated and ``loss`` a Loss.
        """
        A = add_intercept(X) if self.fit_intercept else X
        value, grads = self._forward(A).loss(loss, y)
        grads, grad_out = grads[:-1], grads[-1]
        # path penalty: R = |c| . v_{L-1}, v_l = v_{l-1} |W_l|, v_1 = column norms of W1
        values = self._path_values()
        R = float(np.abs(self.output) @ values[-1][:, 0])
        grad_out = grad_out + lam * np.sign(self.output) * values[-1][:, 0]
        gv = np.abs(self.output)[:, None]
        for l in range(len(self.layers) - 1, 0, -1):
            W = self.layers[l]
            grads[l] = grads[l] + lam * np.sign(W) * np.einsum("km,kp->kmp", values[l - 1], gv)
            gv = np.einsum("kp,kmp->km", gv, np.abs(W))
        norms = values[0]
        unit = np.divide(self.layers[0], norms[:, None, :], out=np.zeros_like(self.layers[0]),
                         where=norms[:, None, :] > 0)
        grads[0] = grads[0] + lam * unit * gv[:, None, :]
        return value + lam * R, grads + [grad_out]

    # ------------------------------------------------------------------ convex maps
    @classmethod
    def from_convex(cls, problem, coef, *, threshold=ZERO_BLOCK_THRESHOLD):
        """Map a solution of a :class:`~convexnn.deep.DeepReLUProblem` to network weights.

        Every non-zero block ``u_b`` becomes a first-layer unit ``u_b / ||u_b||`` whose weight to
        its level-2 unit is ``s_1 ||u_b||``; every group of blocks with a non-zero member becomes a
        unit at its level, linked upwards with weight ``s_l = +-1``; each top-level group is a
        sub-network with output weight ``s_{L-1}``. The cone constraints make every ReLU act as its
        pattern says, so the network predicts ``problem.predict(coef)`` on the training data and
        its path penalty is ``sum_b ||u_b||`` (doc/math.rst, the map back with ``t = 1``).

        Parameters
        ----------
        problem : DeepReLUProblem
        coef : ndarray of shape (n_blocks, n_features)
        threshold : float
            Relative size below which a block counts as zero (:meth:`ConvexProblem.active_blocks`).
        """
        if not isinstance(problem, DeepReLUProblem):
            raise ValueError(f"problem must be a DeepReLUProblem, got {type(problem).__name__}.")
        coef = problem.check_coef(coef)
        active = problem.active_blocks(coef, threshold)
        sizes = problem.nested.sizes
        children = [2 * p for p in sizes]
        n_levels = len(sizes)
        # unit id of each active block at every level: the group index at that level
        ids = [active]
        for level in range(1, n_levels):
            ids.append(ids[-1] // children[level - 1])
        top_ids = np.unique(ids[-1]) if active.size else np.arange(0)
        K = max(top_ids.size, 1)
        # position of every unit inside its sub-network, per level
        positions, widths = [], []
        sub = np.searchsorted(top_ids, ids[-1]) if active.size else ids[-1]
        for level in range(n_levels - 1):
            keys = np.unique(np.column_stack([sub, ids[level]]), axis=0) if active.size else np.zeros((0, 2), int)
            width = max(1, np.bincount(keys[:, 0], minlength=K).max()) if keys.size else 1
            pos = np.zeros(active.size, dtype=int)
            for k in range(K):
                mine = keys[keys[:, 0] == k, 1]
                here = sub == k
                pos[here] = np.searchsorted(mine, ids[level][here])
            positions.append(pos)
            widths.append(width)
        positions.append(np.zeros(active.size, dtype=int))
        widths.append(1)
        fan = [problem.n_features] + widths
        layers = [np.zeros((K, fan[l], fan[l + 1])) for l in range(n_levels)]
        output = np.zeros(K)
        signs = problem.block_signs[active]
        norms = np.linalg.norm(coef[active], axis=1)
        for i, b in enumerate(active):
            k = sub[i]
            layers[0][k, :, positions[0][i]] = coef[b] / norms[i]
            layers[1][k, positions[0][i], positions[1][i]] = signs[i, 0] * norms[i]
            for level in range(2, n_levels):
                layers[level][k, positions[level - 1][i], positions[level][i]] = signs[i, level - 1]
            output[k] = signs[i, -1]
        return cls(layers, output, fit_intercept=problem.fit_intercept)

    def to_convex(self, X, y, lam, loss="squared"):
        """Embed the network in the convex program over its own patterns (doc/math.rst, "Embedding").

        Each unit's activation pattern on ``X`` is a pattern of its level; each path
        ``(k, j_1, ..., j_{L-2})`` gives the block ``w1 * |W2| ... |c_k|`` at the path's patterns
        and signs, and paths that land on the same block are summed (merged). The point is feasible
        with the network's predictions, and its group norm is at most the path penalty (triangle
        inequality), so its convex objective is at most the network's path objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        lam : float
        loss : {'squared', 'logistic'} or Loss

        Returns
        -------
        problem : DeepReLUProblem
        coef : ndarray of shape (problem.n_blocks, problem.n_features)
        """
        X = check_matrix(X, "X")
        A = self.design(X)
        pres = self._pre_activations(A)
        K = self.n_subnetworks
        # unique patterns per level and each unit's pattern index
        level_masks, unit_index = [], []
        for pre in pres:
            cols = (pre >= 0).transpose(1, 0, 2).reshape(A.shape[0], -1)  # (n, K * m_l)
            unique, inverse = np.unique(cols.T, axis=0, return_inverse=True)
            level_masks.append(unique.T)
            unit_index.append(np.asarray(inverse).ravel().reshape(K, -1))
        gates = self.layers[0].transpose(1, 0, 2).reshape(A.shape[1], -1)
        first_index = np.unique(unit_index[0].ravel(), return_index=True)[1]
        first = ActivationPatterns(gates[:, first_index], level_masks[0], self.fit_intercept)
        nested = NestedPatterns(first, level_masks[1:])
        problem = DeepReLUProblem(X, y, nested, lam=lam, loss=loss)
        coef = np.zeros(problem.coef_shape)
        sizes = nested.sizes
        strides = np.cumprod([1] + [2 * p for p in sizes[:-1]])
        # enumerate paths k, j_1, ..., j_{L-2} (the top unit is the sub-network itself)
        for k in range(K):
            paths = [((j,), 1.0) for j in range(self.widths[0])]
            for l in range(1, len(self.layers)):
                W = self.layers[l][k]
                paths = [(p + (j,), w) for p, w in paths for j in range(W.shape[1])]
            for path, _ in paths:
                weight, block = np.abs(self.output[k]), 0
                for l in range(len(self.layers)):
                    unit = path[l]
                    if l + 1 < len(self.layers):
                        link = self.layers[l + 1][k, unit, path[l + 1]]
                    else:
                        link = self.output[k]
                    if l + 1 < len(self.layers):
                        weight *= abs(link)
                    sign_index = 0 if link >= 0 else 1
                    block += (sign_index * sizes[l] + unit_index[l][k, unit]) * strides[l]
                if weight > 0:
                    coef[block] += weight * self.layers[0][k, :, path[0]]
        return problem, coef
