"""Training the non-convex network directly, with minibatch SGD or Adam, for comparison.

The objective is exactly the one the convex programs solve (MATH.md, mean scaling): the minibatch
objective ``(1/|B|) sum_{k in B} l(f(x_k), y_k) + (lam/2) ||theta||^2`` is an unbiased estimate of
``L_nc``. After every epoch the full ``L_nc`` is recorded; training stops when it has not improved by
more than ``tol`` (relative) for ``n_iter_no_change`` epochs, or after ``max_epochs``.

Optimizers are small objects with pure ``init(params) -> state`` and
``step(params, grads, state) -> (params, state)``, so a notebook can step through them.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from .losses import get_loss
from .networks import TwoLayerNetwork
from .validation import check_matrix, check_positive, check_random_state, check_target

__all__ = ["SGD", "Adam", "get_optimizer", "TrainingResult", "train"]

logger = logging.getLogger(__name__)


class SGD:
    """Stochastic gradient descent with heavy-ball momentum.

    Parameters
    ----------
    learning_rate : float, default=0.01
    momentum : float, default=0.9
        0 gives plain SGD.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9):
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")
        self.momentum = momentum

    def init(self, params):
        return [np.zeros_like(p) for p in params]

    def step(self, params, grads, state):
        velocity = [self.momentum * v - self.learning_rate * g for v, g in zip(state, grads)]
        return [p + v for p, v in zip(params, velocity)], velocity


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction.

    Parameters
    ----------
    learning_rate : float, default=0.01
    beta1, beta2 : float, default=0.9, 0.999
    eps : float, default=1e-8
    """

    def __init__(self, learning_rate=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{name} must be in [0, 1), got {beta!r}.")
        self.beta1, self.beta2 = beta1, beta2
        self.eps = check_positive(eps, "eps")

    def init(self, params):
        return (0, [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params])

    def step(self, params, grads, state):
        t, m, v = state
        t += 1
        m = [self.beta1 * mi + (1 - self.beta1) * g for mi, g in zip(m, grads)]
        v = [self.beta2 * vi + (1 - self.beta2) * g * g for vi, g in zip(v, grads)]
        c1, c2 = 1 - self.beta1**t, 1 - self.beta2**t
        new = [
            p - self.learning_rate * (mi / c1) / (np.sqrt(vi / c2) + self.eps)
            for p, mi, vi in zip(params, m, v)
        ]
        return new, (t, m, v)


_OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(optimizer="adam", learning_rate=0.01):
    """An optimizer instance from a name ('sgd', 'adam') or an instance."""
    if hasattr(optimizer, "init") and hasattr(optimizer, "step"):
        return optimizer
    if optimizer in _OPTIMIZERS:
        return _OPTIMIZERS[optimizer](learning_rate=learning_rate)
    raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)} or an instance, got {optimizer!r}.")


@dataclass
class TrainingResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    network : TwoLayerNetwork
        The network at the epoch with the lowest full objective.
    objective : float
        ``L_nc`` of ``network`` on the training data.
    loss_curve : list of float
        ``L_nc`` after each epoch (index 0 is the initial network).
    n_epochs : int
    converged : bool
        True when the stopping rule fired before ``max_epochs``.
    time : float
        Wall-clock seconds.
    """

    network: TwoLayerNetwork
    objective: float
    loss_curve: list = field(default_factory=list)
    n_epochs: int = 0
    converged: bool = False
    time: float = 0.0


def train(
    network,
    X,
    y,
    *,
    lam,
    loss="squared",
    optimizer="adam",
    learning_rate=0.01,
    batch_size=None,
    max_epochs=1000,
    tol=1e-6,
    n_iter_no_change=50,
    random_state=None,
    verbose=False,
):
    """Train ``network`` on ``L_nc`` with minibatch SGD or Adam.

    Parameters
    ----------
    network : TwoLayerNetwork or ParallelReLUNetwork
        Initial network (e.g. ``ReLUNetwork.random(...)``); it is not modified. Its
        ``objective_and_gradient`` defines what is trained: weight decay for two-layer networks,
        the path penalty for deep parallel networks.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    lam : float
        Weight decay strength, the same ``lam`` as the convex program.
    loss : {'squared', 'logistic'} or Loss, default='squared'
    optimizer : {'adam', 'sgd'} or optimizer instance, default='adam'
    learning_rate : float, default=0.01
        Used when ``optimizer`` is a name.
    batch_size : int or None, default=None
        Minibatch size; None uses the full batch.
    max_epochs : int, default=1000
    tol : float, default=1e-6
        Relative improvement of the best full objective that resets the patience counter.
    n_iter_no_change : int, default=50
        Epochs without such improvement before stopping.
    random_state : int, Generator or None
        Seeds the minibatch order.
    verbose : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    TrainingResult
    """
    if not all(hasattr(network, m) for m in ("objective_and_gradient", "parameters", "design")):
        raise ValueError(
            "network must be a TwoLayerNetwork or ParallelReLUNetwork (an object with design, "
            f"parameters, with_parameters, objective and objective_and_gradient), got "
            f"{type(network).__name__}."
        )
    loss = get_loss(loss)
    X = check_matrix(X, "X")
    y = loss.check_target(check_target(y, X.shape[0]))
    network.design(X)  # checks the feature count
    check_positive(lam, "lam", strict=False)
    check_positive(max_epochs, "max_epochs", integer=True)
    check_positive(n_iter_no_change, "n_iter_no_change", integer=True)
    check_positive(tol, "tol", strict=False)
    n = X.shape[0]
    batch_size = n if batch_size is None else min(check_positive(batch_size, "batch_size", integer=True), n)
    opt = get_optimizer(optimizer, learning_rate)
    rng = check_random_state(random_state)

    start = time.perf_counter()
    params = network.parameters()
    state = opt.init(params)
    current = network
    best_net, best = network, network.objective(X, y, lam, loss)
    curve, stale, converged = [best], 0, False
    epochs = range(max_epochs)
    if verbose:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="training", unit="epoch")
    full_batch = batch_size >= n
    # full batch: one pass gives the epoch's objective and the next step's gradient together
    grads = current.objective_and_gradient(X, y, lam, loss)[1] if full_batch else None
    for epoch in epochs:
        if full_batch:
            params, state = opt.step(params, grads, state)
            current = current.with_parameters(params)
            value, grads = current.objective_and_gradient(X, y, lam, loss)
        else:
            order = rng.permutation(n)
            for lo in range(0, n, batch_size):
                idx = order[lo : lo + batch_size]
                _, step_grads = current.objective_and_gradient(X[idx], y[idx], lam, loss)
                params, state = opt.step(params, step_grads, state)
                current = current.with_parameters(params)
            value = current.objective(X, y, lam, loss)
        if not np.isfinite(value):
            logger.warning("training diverged at epoch %d; lower the learning rate", epoch + 1)
            break
        curve.append(value)
        if value < best - tol * abs(best):
            stale = 0
        else:
            stale += 1
        if value < best:
            best_net, best = current, value
        if stale >= n_iter_no_change:
            converged = True
            break
    return TrainingResult(
        network=best_net,
        objective=best,
        loss_curve=curve,
        n_epochs=len(curve) - 1,
        converged=converged,
        time=time.perf_counter() - start,
    )
