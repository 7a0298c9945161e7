"""Gradient training of every network the package trains by gradient: one protocol, one optimizer
set, one loop.

A model is *trainable* when it exposes its trainable arrays and a differentiable objective
(:class:`Trainable`): ``parameters()`` (a list of arrays, the flat view the optimizers update),
``with_parameters(params)`` (a new model with those arrays, the rest unchanged) and
``objective_and_gradient(X, y, ...)`` (the objective on validated data and its gradient, a list
matching ``parameters()``). The two-layer networks, the parallel deep networks, the
over-parameterization lab's MLPs and the mean-field populations all implement it; what their
objective is (weight decay, path penalty, a parameterization's multipliers, masses) stays theirs.

Optimizers (:class:`SGD` with heavy-ball momentum, optional per-parameter step scales and Langevin
noise; :class:`Adam`) are small objects with ``init(params) -> state`` and
``step(params, grads, state) -> (params, state)`` (optax style), so a notebook can step through them.

:func:`descend` is the loop: it draws minibatches (one pass over a permutation per round, or one
minibatch per round from a stream of permutations), steps the optimizer, evaluates the full
objective after each round and asks a stopping rule whether to go on. The callers
(:func:`convexnn.sgd.train`, :func:`convexnn.overparam.train_deep`,
:func:`convexnn.meanfield.train_population`) are thin: they validate their inputs, say how to
evaluate the objective and which rule stops, and shape the result.
"""

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .validation import check_positive, check_random_state

__all__ = ["Trainable", "SGD", "Adam", "OPTIMIZERS", "get_optimizer", "Descent", "descend"]

logger = logging.getLogger(__name__)


@runtime_checkable
class Trainable(Protocol):
    """What :func:`descend` needs of a model.

    ``objective_and_gradient`` takes validated ``X`` (n_samples, n_features) and targets plus the
    model's own objective arguments (e.g. ``lam, loss``) and returns ``(value, grads)`` with
    ``grads`` matching ``parameters()``.
    """

    def parameters(self):
        """The trainable arrays, a list."""

    def with_parameters(self, params):
        """A copy of the model with new trainable arrays (order of :meth:`parameters`)."""

    def objective_and_gradient(self, X, y, *args):
        """``(value, grads)`` on validated data."""


# --------------------------------------------------------------------------- optimizers
class SGD:
    """(Stochastic) gradient descent with heavy-ball momentum, step scales and Langevin noise.

    One step is ``v <- momentum v - eta s g``, ``p <- p + v`` for each parameter ``p`` with
    gradient ``g`` and step scale ``s`` (1 when ``scales`` is None), followed by
    ``p <- p + sqrt(2 eta tau) N(0, I)`` when ``temperature = tau > 0``.

    Parameters
    ----------
    learning_rate : float, default=0.01
    momentum : float, default=0.9
        0 gives plain (S)GD.
    scales : list of array-like or None, default=None
        Per-parameter step multipliers, broadcastable to the parameters (e.g. the mean-field
        ``1 / mass``); None for the plain step.
    temperature : float, default=0.0
        Langevin temperature ``tau`` (>= 0).
    random_state : int, Generator or None
        Draws the Langevin noise (unused when ``temperature == 0``).
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, *, scales=None, temperature=0.0,
                 random_state=None):
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")
        self.momentum = momentum
        self.scales = scales
        self.temperature = check_positive(temperature, "temperature", strict=False)
        self._noise = np.sqrt(2.0 * self.learning_rate * self.temperature)
        self._rng = check_random_state(random_state) if self._noise > 0 else None

    def init(self, params):
        return [np.zeros_like(p) for p in params]

    def step(self, params, grads, state):
        if self.scales is None:
            velocity = [self.momentum * v - self.learning_rate * g for v, g in zip(state, grads)]
        else:
            velocity = [
                self.momentum * v - self.learning_rate * s * g
                for v, s, g in zip(state, self.scales, grads)
            ]
        new = [p + v for p, v in zip(params, velocity)]
        if self._noise > 0:
            new = [p + self._noise * self._rng.standard_normal(p.shape) for p in new]
        return new, velocity


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
        size = sum(np.size(p) for p in params)
        dtype = np.result_type(*params) if params else np.float64
        return (0, np.zeros(size, dtype=dtype), np.zeros(size, dtype=dtype))

    def step(self, params, grads, state):
        """One Adam step on the parameter list; the moments are kept as one flat vector (one
        pass over all parameters per operation: a network's few small arrays made numpy's
        per-call overhead most of an Adam start's update)."""
        t, m, v = state
        t += 1
        g = np.concatenate([np.ravel(gi) for gi in grads])
        m = self.beta1 * m + (1 - self.beta1) * g
        v = self.beta2 * v + (1 - self.beta2) * (g * g)
        c1, c2 = 1 - self.beta1**t, 1 - self.beta2**t
        update = np.sqrt(v / c2)
        update += self.eps
        np.divide(m, update, out=update)
        update *= self.learning_rate / c1
        new, start = [], 0
        for p in params:
            size = np.size(p)
            new.append(p - update[start:start + size].reshape(np.shape(p)))
            start += size
        return new, (t, m, v)


#: optimizer name -> class
OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(optimizer="adam", learning_rate=0.01, **options):
    """An optimizer from a name in :data:`OPTIMIZERS` or an instance (returned as is).

    Parameters
    ----------
    optimizer : {'sgd', 'adam'} or object with ``init`` and ``step``
    learning_rate : float, default=0.01
    **options
        Further arguments of the optimizer class (e.g. ``momentum=0.0`` for plain SGD).
    """
    if hasattr(optimizer, "init") and hasattr(optimizer, "step"):
        return optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer](learning_rate=learning_rate, **options)
    raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an instance, got {optimizer!r}.")


# --------------------------------------------------------------------------- the loop
@dataclass
class Descent:
    """The outcome of :func:`descend`.

    Attributes
    ----------
    model : Trainable
        The model after the last round (the last one with finite parameters when
        ``finite_steps`` stopped a round).
    history : list of float
        Full objective before training and after each round, including the value that stopped it.
    status : str
        'max_rounds', 'stopped' (the rule fired) or 'diverged' (a non-finite value or parameters).
    time : float
        Wall-clock seconds.
    times : list of float
        Wall-clock seconds since the start at which each value of ``history`` was recorded.
    """

    model: object
    history: list = field(default_factory=list)
    status: str = "max_rounds"
    time: float = 0.0
    times: list = field(default_factory=list)


def descend(model, evaluate, n_samples, *, optimizer, max_rounds, batch_size=None, batches="epoch",
            stop=None, random_state=None, finite_steps=False, verbose=False, desc="training",
            unit="epoch"):
    """Minimize a model's objective by an optimizer over minibatches.

    Before training and after each round the full objective is evaluated, appended to the history
    and handed to ``stop``. A round is one pass over a fresh permutation of the samples
    (``batches='epoch'``) or one minibatch taken from a stream of permutations
    (``batches='stream'``: a new permutation when the rest of the current one cannot fill a
    minibatch). With the full batch, the evaluation that ends a round also gives the gradient of
    the next step.

    Parameters
    ----------
    model : Trainable
        Starting point; it is not modified.
    evaluate : callable
        ``evaluate(model, idx, gradient) -> (value, grads, aux)``: the objective on the samples
        ``idx`` (None: all of them), its gradient when ``gradient`` (else anything), and any value
        ``stop`` wants (e.g. predictions).
    n_samples : int
    optimizer : object with ``init`` and ``step``
    max_rounds : int
    batch_size : int or None, default=None
        None (or >= ``n_samples``) is the full batch.
    batches : {'epoch', 'stream'}, default='epoch'
    stop : callable or None
        ``stop(round, model, value, aux) -> str or None``, called after recording every value:
        'diverged' or 'stopped' ends training, None goes on. A non-finite value ends it as
        'diverged' whatever ``stop`` says.
    random_state : int, Generator or None
        Seeds the minibatch order ('stream' draws its first permutation even for the full batch).
    finite_steps : bool, default=False
        Check the parameters after every step; non-finite ones end training as 'diverged' with
        ``inf`` recorded and the model of the step before (for models that refuse them).
    verbose : bool, default=False
        Show a tqdm progress bar labelled ``desc`` in ``unit``.

    Returns
    -------
    Descent
    """
    if batches not in ("epoch", "stream"):
        raise ValueError(f"batches must be 'epoch' or 'stream', got {batches!r}.")
    n = n_samples
    batch = n if batch_size is None else min(batch_size, n)
    full = batch >= n
    rng = check_random_state(random_state)
    start = time.perf_counter()
    order, cursor = (rng.permutation(n), 0) if batches == "stream" else (None, 0)
    progress = None
    if verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=max_rounds, desc=desc, unit=unit)
    params = model.parameters()
    state = optimizer.init(params)
    current, history, times, status = model, [], [], "max_rounds"
    for round_ in range(max_rounds + 1):
        value = None
        if round_ > 0:
            if full:
                steps = [None]
            elif batches == "epoch":
                perm = rng.permutation(n)
                steps = [perm[lo : lo + batch] for lo in range(0, n, batch)]
            else:
                if cursor + batch > n:
                    order, cursor = rng.permutation(n), 0
                steps, cursor = [order[cursor : cursor + batch]], cursor + batch
            for idx in steps:
                if idx is not None:
                    grads = evaluate(current, idx, True)[1]
                params, state = optimizer.step(params, grads, state)
                if finite_steps and not all(np.all(np.isfinite(p)) for p in params):
                    value, aux = np.inf, None
                    break
                current = current.with_parameters(params)
            if progress is not None:
                progress.update(1)
        if value is None:
            value, grads, aux = evaluate(current, None, full and round_ < max_rounds)
        history.append(value)
        times.append(time.perf_counter() - start)
        verdict = None if stop is None else stop(round_, current, value, aux)
        if verdict is None and not np.isfinite(value):
            verdict = "diverged"
        if verdict is not None:
            status = verdict
            break
    if progress is not None:
        progress.close()
    return Descent(model=current, history=history, status=status, time=time.perf_counter() - start,
                   times=times)
