"""Training the non-convex network directly, with minibatch SGD or Adam, for comparison.

The objective is exactly the one the convex programs solve (doc/math.rst, mean scaling): the minibatch
objective ``(1/|B|) sum_{k in B} l(f(x_k), y_k) + (lam/2) ||theta||^2`` is an unbiased estimate of
``L_nc``. After every epoch the full ``L_nc`` is recorded; training stops when it has not improved by
more than ``tol`` (relative) for ``n_iter_no_change`` epochs, or after ``max_epochs``.

The optimizers and the loop are those of :mod:`convexnn.training`, shared by every model the
package trains by gradient; this module states the objective and the stopping rule.
"""

import logging
from dataclasses import dataclass, field

import numpy as np

from .losses import get_loss
from .networks import TwoLayerNetwork
from .training import SGD, Adam, descend, get_optimizer
from .validation import check_matrix, check_positive, check_random_state, check_target

__all__ = ["SGD", "Adam", "get_optimizer", "TrainingResult", "train"]

logger = logging.getLogger(__name__)


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
    time_curve : list of float
        Wall-clock seconds since the start at which each value of ``loss_curve`` was recorded.
    """

    network: TwoLayerNetwork
    objective: float
    loss_curve: list = field(default_factory=list)
    n_epochs: int = 0
    converged: bool = False
    time: float = 0.0
    time_curve: list = field(default_factory=list)


def _check_targets(loss, y, n_samples, n_outputs):
    """``y`` for ``n_outputs`` outputs: a vector for one, a (n_samples, n_outputs) matrix whose
    columns the loss accepts for several."""
    if n_outputs == 1:
        return loss.check_target(check_target(y, n_samples))
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n_samples, n_outputs):
        raise ValueError(f"y must have shape ({n_samples}, {n_outputs}) for a network with "
                         f"{n_outputs} outputs, got {y.shape}.")
    return np.column_stack([loss.check_target(check_target(column, n_samples, name=f"y[:, {k}]"))
                            for k, column in enumerate(y.T)])


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
    network : TwoLayerNetwork, ParallelReLUNetwork or StackedNetworks
        Initial network (e.g. ``ReLUNetwork.random(...)``); it is not modified. Its
        ``objective_and_gradient`` defines what is trained: weight decay for two-layer networks,
        the path penalty for deep parallel networks, the sum of the networks' objectives for
        :class:`~convexnn.networks.StackedNetworks`.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), or (n_samples, K) for a network with ``K`` outputs
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
    # a network of its own making without ``n_outputs`` has one output
    y = _check_targets(loss, y, X.shape[0], getattr(network, "n_outputs", 1))
    network.design(X)  # checks the feature count
    check_positive(lam, "lam", strict=False)
    check_positive(max_epochs, "max_epochs", integer=True)
    check_positive(n_iter_no_change, "n_iter_no_change", integer=True)
    check_positive(tol, "tol", strict=False)
    n = X.shape[0]
    batch_size = n if batch_size is None else min(check_positive(batch_size, "batch_size", integer=True), n)
    opt = get_optimizer(optimizer, learning_rate)

    def evaluate(net, idx, gradient):
        if idx is None and not gradient:
            return net.objective(X, y, lam, loss), None, None
        Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
        return (*net.objective_and_gradient(Xb, yb, lam, loss), None)

    best = {"network": network, "value": None, "stale": 0}

    def patience(epoch, net, value, aux):
        # the best full objective so far; `stale` counts epochs without a relative improvement
        if best["value"] is None:
            best["value"] = value
            return None
        if not np.isfinite(value):
            return "diverged"
        if value < best["value"] - tol * abs(best["value"]):
            best["stale"] = 0
        else:
            best["stale"] += 1
        if value < best["value"]:
            best["network"], best["value"] = net, value
        return "stopped" if best["stale"] >= n_iter_no_change else None

    run = descend(network, evaluate, n, optimizer=opt, max_rounds=max_epochs, batch_size=batch_size,
                  stop=patience, random_state=check_random_state(random_state), verbose=verbose)
    curve = run.history
    if run.status == "diverged" and len(curve) > 1:
        logger.warning("training diverged at epoch %d; lower the learning rate", len(curve) - 1)
        curve = curve[:-1]
    return TrainingResult(
        network=best["network"],
        objective=best["value"],
        loss_curve=curve,
        n_epochs=len(curve) - 1,
        converged=run.status == "stopped",
        time=run.time,
        time_curve=run.times[: len(curve)],
    )
