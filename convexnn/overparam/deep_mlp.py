"""A deep fully connected ReLU network in numpy, differentiated by :mod:`convexnn.backprop`.

The network with ``depth`` hidden layers of ``width`` units maps a row ``x`` to

    z_1 = s_1 x W_1,   a_l = relu(z_l),   z_{l+1} = s_{l+1} a_l W_{l+1}   (l = 1 .. depth),
    f(x) = z_{depth+1},

with weights ``W_1`` (n_features x width), ``W_2 .. W_depth`` (width x width) and the output layer
``W_{depth+1}`` (width x 1), and no biases (append a ones column to ``X`` for one). Each layer has a
*gain* ``c_l``, the variance of its effective weights ``s_l W_l`` times its fan-in: 2 for the
layers followed by a ReLU (He), 1 for the output layer. A *parameterization*
(:class:`convexnn.parameterization.Parameterization`) says where that variance lives (doc/math.rst,
"Over-parameterization"):

* ``'standard'``: ``s_l = 1`` and ``W_l ~ N(0, c_l / fan_in)``; every layer is trained.
* ``'ntk'``: ``W_l ~ N(0, 1)`` and ``s_l = sqrt(c_l / fan_in)`` (the 1/sqrt(m) scaling of
  Jacot et al.); every layer is trained. Same function at initialization as 'standard', different
  gradients: the tangent kernel converges as the width grows instead of growing with it.
* ``'allen_zhu'``: the set-up of Allen-Zhu, Li & Song (2019): ``h_0 = relu(A x)``,
  ``h_l = relu(W_l h_{l-1})``, output ``B h_L`` with ``A, W_l ~ N(0, 2/m)`` and ``B ~ N(0, 1)``; ``A``
  and ``B`` are fixed, only the ``W_l`` are trained, inputs must have unit norm. Here ``A`` is
  ``W_1`` and ``B`` the output layer, so the paper's ``L`` is ``depth - 1`` (``depth >= 2``).

Training (:func:`train_deep`) minimizes ``(1/n) sum_k l(f(x_k), y_k) + (lam/2) ||theta||^2`` over the
trained weights ``theta`` (the mean scaling of doc/math.rst) by full-batch gradient descent ('gd'),
minibatch SGD ('sgd') or Adam ('adam'), with the optimizers and the loop of
:mod:`convexnn.training`.
"""

import logging
from dataclasses import dataclass

import numpy as np

from ..backprop import Chain
from ..losses import get_loss
from ..parameterization import ALLEN_ZHU, NTK, STANDARD, Parameterization, choose
from ..training import descend, get_optimizer
from ..validation import check_matrix, check_positive, check_random_state, check_target

__all__ = [
    "PARAMETERIZATIONS",
    "DeepReLUNetwork",
    "DeepTrainingResult",
    "train_deep",
    "relative_weight_change",
    "unit_norm",
]

logger = logging.getLogger(__name__)

#: :func:`train_deep` stops and reports divergence once the objective exceeds this times its start
DIVERGENCE_FACTOR = 1e8

#: tolerance on ``| ||x|| - 1 |`` for the unit-norm inputs of the Allen-Zhu set-up
UNIT_NORM_TOL = 1e-6


#: the parameterizations of the deep MLP (:mod:`convexnn.parameterization`), by name
PARAMETERIZATIONS = {p.name: p for p in (STANDARD, NTK, ALLEN_ZHU)}


def get_parameterization(name):
    """The :class:`~convexnn.parameterization.Parameterization` called ``name`` ('standard', 'ntk'
    or 'allen_zhu'), or ``name`` itself when it is one."""
    if isinstance(name, Parameterization):
        return name
    return choose(name, PARAMETERIZATIONS)


class DeepReLUNetwork:
    """Fully connected ReLU network ``f(x) = s_{L+1} relu(...relu(s_1 x W_1)...) W_{L+1}``.

    Parameters
    ----------
    weights : list of ndarray
        ``depth + 1`` arrays: (n_features, width), ``depth - 1`` times (width, width), (width, 1).
    parameterization : {'standard', 'ntk', 'allen_zhu'}, default='ntk'
        Fixes the multipliers ``s_l`` and which layers are trained (module docstring).

    Attributes
    ----------
    multipliers : list of float
        ``s_l`` of each layer.
    trained : list of bool
        Whether each layer is trained.
    """

    def __init__(self, weights, parameterization="ntk"):
        weights = [np.asarray(W, dtype=np.float64) for W in weights]
        if len(weights) < 2:
            raise ValueError(
                f"weights must hold depth + 1 >= 2 arrays (hidden layers and output), got {len(weights)}."
            )
        if weights[0].ndim != 2:
            raise ValueError(f"weights[0] must have shape (n_features, width), got {weights[0].shape}.")
        width = weights[0].shape[1]
        for l, W in enumerate(weights):
            expected = (weights[0].shape[0] if l == 0 else width, 1 if l == len(weights) - 1 else width)
            if W.shape != expected:
                raise ValueError(f"weights[{l}] must have shape {expected}, got {W.shape}.")
        self.parameterization = get_parameterization(parameterization)
        if len(weights) - 1 < self.parameterization.min_depth():
            raise ValueError(
                f"depth must be >= {self.parameterization.min_depth()} for parameterization "
                f"{self.parameterization.name!r}, got {len(weights) - 1}."
            )
        self.weights = weights
        gains = self.parameterization.gains(self.n_features, self.width, self.depth)
        fan_in = [self.n_features] + [self.width] * self.depth
        self.multipliers = [self.parameterization.multiplier(c, k) for c, k in zip(gains, fan_in)]
        self.gains = gains
        self.trained = self.parameterization.trained(self.depth)

    # ------------------------------------------------------------------ construction
    @classmethod
    def random(cls, n_features, width, depth, *, parameterization="ntk", random_state=None):
        """Random initialization of the chosen parameterization.

        Parameters
        ----------
        n_features : int
        width : int
            Units per hidden layer (``m``).
        depth : int
            Number of hidden ReLU layers (>= 1; >= 2 for 'allen_zhu').
        parameterization : {'standard', 'ntk', 'allen_zhu'}, default='ntk'
        random_state : int, Generator or None

        Returns
        -------
        DeepReLUNetwork
        """
        check_positive(n_features, "n_features", integer=True)
        check_positive(width, "width", integer=True)
        check_positive(depth, "depth", integer=True)
        scheme = get_parameterization(parameterization)
        if depth < scheme.min_depth():
            raise ValueError(
                f"depth must be >= {scheme.min_depth()} for parameterization {scheme.name!r} "
                f"(its first and output layers are fixed), got {depth}."
            )
        rng = check_random_state(random_state)
        shapes = [(n_features, width)] + [(width, width)] * (depth - 1) + [(width, 1)]
        gains = scheme.gains(n_features, width, depth)
        weights = []
        for shape, c in zip(shapes, gains):
            weights.append(rng.standard_normal(shape) * scheme.init_std(c, shape[0]))
        return cls(weights, scheme)

    def with_weights(self, weights):
        """A network with the same parameterization and new weights."""
        return type(self)(weights, self.parameterization)

    # ------------------------------------------------------------------ structure
    @property
    def depth(self):
        return len(self.weights) - 1

    @property
    def width(self):
        return self.weights[0].shape[1]

    @property
    def n_features(self):
        return self.weights[0].shape[0]

    def parameters(self):
        """The trained weight arrays (a list; order of the layers)."""
        return [W for W, t in zip(self.weights, self.trained) if t]

    def with_parameters(self, params):
        """A copy whose trained arrays are replaced by ``params`` (order of :meth:`parameters`)."""
        params = iter(params)
        return self.with_weights([next(params) if t else W for W, t in zip(self.weights, self.trained)])

    def n_parameters(self):
        """Number of trained scalars."""
        return int(sum(W.size for W in self.parameters()))

    def check_input(self, X, name="X"):
        """Validate ``X`` for this network: shape, and unit-norm rows in the Allen-Zhu set-up."""
        X = check_matrix(X, name)
        if X.shape[1] != self.n_features:
            raise ValueError(f"{name} has {X.shape[1]} features but the network expects {self.n_features}.")
        if self.parameterization.fixed_ends:
            norms = np.linalg.norm(X, axis=1)
            if np.max(np.abs(norms - 1.0)) > UNIT_NORM_TOL:
                raise ValueError(
                    f"{name} must have rows of unit norm for parameterization 'allen_zhu' (found norms "
                    f"from {norms.min():.3g} to {norms.max():.3g}); divide each row by its norm, e.g. "
                    "with convexnn.overparam.unit_norm(X)."
                )
        return X

    # ------------------------------------------------------------------ evaluation
    def _forward(self, X):
        """The forward pass on validated ``X`` as a :class:`~convexnn.backprop.Chain`: the layers
        ``z_l = s_l a_{l-1} W_l`` (fixed ones registered without gradient) and ReLUs, then the
        output column."""
        chain = Chain(X)
        for l, (W, s, t) in enumerate(zip(self.weights, self.multipliers, self.trained)):
            chain.linear(W, multiplier=s, trainable=t)
            if l < self.depth:
                chain.relu()
        return chain.column(0)

    def forward(self, X):
        """Layer inputs and pre-activations on validated ``X``.

        Returns
        -------
        inputs : list of ndarray
            ``depth + 1`` arrays: the input of each layer, ``X`` (n_samples, n_features) then the
            hidden activations ``a_l`` (n_samples, width).
        pre : list of ndarray
            ``depth + 1`` arrays: ``z_l`` of shape (n_samples, width), the last (n_samples, 1).
        """
        inputs = self._forward(X).inputs
        return inputs[0::2], inputs[1::2]

    def predict(self, X):
        """Network output ``f(X)``, shape (n_samples,)."""
        return self._forward(self.check_input(X)).value

    def output_signals(self, X):
        """Per-sample layer inputs and backward signals of the output (for the tangent kernel).

        Returns
        -------
        inputs : list of ndarray
            As in :meth:`forward`.
        signals : list of ndarray
            ``d f(x_k) / d z_l`` for each layer, shapes (n_samples, width) and (n_samples, 1).
        """
        X = self.check_input(X)
        chain = self._forward(X)
        chain.backward(np.ones(X.shape[0]), cotangents=True)
        return chain.inputs[0::2], chain.cotangents[0::2]

    def objective_and_gradient(self, X, y, lam=0.0, loss="squared"):
        """``(1/n) sum_k l(f(x_k), y_k) + (lam/2) ||theta||^2`` and its gradient.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Assumed validated (this is the training hot path).
        y : ndarray of shape (n_samples,)
        lam : float, default=0
        loss : str or Loss, default='squared'

        Returns
        -------
        value : float
        grads : list of ndarray
            Matching :meth:`parameters`.
        """
        value, grads, _ = self._evaluate(X, y, lam, get_loss(loss))
        return value, grads

    def _evaluate(self, X, y, lam, loss, gradient=True):
        """Objective, gradient (None unless ``gradient``) and predictions on validated data."""
        with np.errstate(over="ignore", invalid="ignore"):
            chain = self._forward(X)
            pred = chain.value
            params = self.parameters()
            decay = sum(float(np.sum(W * W)) for W in params) if lam else 0.0
            if gradient:
                value, grads = chain.loss(loss, y)
                grads = [g + lam * W for g, W in zip(grads, params)]
            else:
                value, grads = loss.value(pred, y), None
            value = value + 0.5 * lam * decay
        return value, grads, pred

    def objective(self, X, y, lam=0.0, loss="squared"):
        """The training objective of :meth:`objective_and_gradient` on validated or raw data."""
        loss = get_loss(loss)
        X = self.check_input(X)
        y = loss.check_target(check_target(y, X.shape[0]))
        return self.objective_and_gradient(X, y, lam, loss)[0]

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_features={self.n_features}, width={self.width}, "
            f"depth={self.depth}, parameterization={self.parameterization.name!r})"
        )


@dataclass
class DeepTrainingResult:
    """The outcome of :func:`train_deep`.

    Attributes
    ----------
    network : DeepReLUNetwork
        The network after the last step.
    initial : DeepReLUNetwork
        The network it started from.
    loss_curve : ndarray of shape (n_steps + 1,)
        Full-batch training objective before the first step and after each step.
    accuracy_curve : ndarray of shape (n_steps + 1,) or None
        Training accuracy ``mean(sign(f) == y)`` at the same points (labels in {-1, +1}).
    steps_to_fit : int or None
        First step after which every training label is predicted correctly (None: never).
    n_steps : int
    diverged : bool
        True when the objective became infinite, NaN or larger than ``DIVERGENCE_FACTOR`` (1e8)
        times its initial value; training then stopped.
    time : float
    """

    network: object
    initial: object
    loss_curve: np.ndarray
    accuracy_curve: np.ndarray = None
    steps_to_fit: int = None
    n_steps: int = 0
    diverged: bool = False
    time: float = 0.0


def train_deep(
    network,
    X,
    y,
    *,
    learning_rate,
    n_steps,
    optimizer="gd",
    batch_size=None,
    lam=0.0,
    loss="squared",
    stop_at_fit=False,
    stop_below=None,
    random_state=None,
    verbose=False,
):
    """Train a :class:`DeepReLUNetwork` and record the full-batch objective after every step.

    Parameters
    ----------
    network : DeepReLUNetwork
        Starting point; it is not modified.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Targets; labels in {-1, +1} also give an accuracy curve.
    learning_rate : float
    n_steps : int
        Number of parameter updates (one per minibatch).
    optimizer : {'gd', 'sgd', 'adam'} or optimizer instance, default='gd'
        'gd': plain full-batch gradient descent (``batch_size`` is ignored); 'sgd': plain SGD on
        minibatches drawn without replacement; 'adam': Adam on minibatches.
    batch_size : int or None, default=None
        Minibatch size for 'sgd' and 'adam'; None uses the full batch.
    lam : float, default=0
        Weight decay on the trained weights.
    loss : {'squared', 'logistic'} or Loss, default='squared'
    stop_at_fit : bool, default=False
        Stop as soon as every training label's sign is right (classification).
    stop_below : float or None, default=None
        Stop once the objective is below this value.
    random_state : int, Generator or None
        Seeds the minibatch order.
    verbose : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    DeepTrainingResult
    """
    if not isinstance(network, DeepReLUNetwork):
        raise ValueError(f"network must be a DeepReLUNetwork, got {type(network).__name__}.")
    loss = get_loss(loss)
    X = network.check_input(X)
    y = loss.check_target(check_target(y, X.shape[0]))
    check_positive(learning_rate, "learning_rate")
    check_positive(n_steps, "n_steps", integer=True)
    check_positive(lam, "lam", strict=False)
    n = X.shape[0]
    if optimizer == "gd" or batch_size is None:
        batch_size = n
    batch_size = min(check_positive(batch_size, "batch_size", integer=True), n)
    if optimizer in ("gd", "sgd"):
        opt = get_optimizer("sgd", learning_rate, momentum=0.0)
    elif optimizer == "adam" or hasattr(optimizer, "step"):
        opt = get_optimizer(optimizer, learning_rate)
    else:
        raise ValueError(
            f"optimizer must be 'gd', 'sgd', 'adam' or an optimizer instance, got {optimizer!r}."
        )
    labels = bool(np.all(np.isin(y, (-1.0, 1.0))))

    def evaluate(net, idx, gradient):
        if idx is None:
            return net._evaluate(X, y, lam, loss, gradient=gradient)
        return net._evaluate(X[idx], y[idx], lam, loss)

    accuracy, seen = [], {"fit": None, "start": None}
    tiny = np.finfo(float).tiny

    def rule(step, net, value, pred):
        # accuracy, divergence against the initial objective, and the optional early stops
        if step == 0:
            seen["start"] = value
        if labels and pred is not None:
            accuracy.append(float(np.mean(np.sign(pred) == y)))
            if seen["fit"] is None and accuracy[-1] == 1.0:
                seen["fit"] = step
        if not np.isfinite(value) or value > DIVERGENCE_FACTOR * max(seen["start"], tiny):
            return "diverged"
        if (stop_at_fit and seen["fit"] is not None) or (stop_below is not None and value < stop_below):
            return "stopped"
        return None

    run = descend(network, evaluate, n, optimizer=opt, max_rounds=n_steps, batch_size=batch_size,
                  batches="stream", stop=rule, random_state=check_random_state(random_state),
                  verbose=verbose, unit="step")
    if run.status == "diverged":
        logger.info("training diverged at step %d; lower the learning rate", len(run.history) - 1)
    return DeepTrainingResult(
        network=run.model,
        initial=network,
        loss_curve=np.array(run.history),
        accuracy_curve=np.array(accuracy) if labels else None,
        steps_to_fit=seen["fit"],
        n_steps=len(run.history) - 1,
        diverged=run.status == "diverged",
        time=run.time,
    )


def relative_weight_change(before, after):
    """``||theta_after - theta_before|| / ||theta_before||`` over the trained weights."""
    num = sum(float(np.sum((a - b) ** 2)) for a, b in zip(after.parameters(), before.parameters()))
    den = sum(float(np.sum(b * b)) for b in before.parameters())
    return float(np.sqrt(num / den))


def unit_norm(X):
    """Rows of ``X`` divided by their Euclidean norm (the inputs of the Allen-Zhu set-up).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        No row may be zero.

    Returns
    -------
    ndarray of shape (n_samples, n_features)
    """
    X = check_matrix(X, "X")
    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"X has {int(np.sum(norms == 0))} zero row(s), which cannot be normalized.")
    return X / norms[:, None]
