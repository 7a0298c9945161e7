"""Two-level networks as weighted populations of features, and their mean-field training.

A population is a finite measure ``rho = sum_j q_j delta_{(u_j, theta_j)}`` over neurons: each
neuron ``j`` carries a feature ``h(theta_j, x) = sigma(theta_j^T [x, 1])`` (``sigma`` = ReLU or
tanh; the last entry of ``theta_j`` is the bias, regularized like the weights as in doc/math.rst), an
importance (output weight) ``u_j`` in ``R^c`` and a mass ``q_j >= 0`` with ``sum_j q_j = 1``.
The two-level mean-field network is the integral of the features against the population,

    f(x) = E_rho[u h(theta, x)] = sum_j q_j u_j h(theta_j, x)     (= (1/m) sum_j u_j h_j, q = 1/m),

and its objective, with the regularizer written as an expectation over the population,

    J(rho) = (1/n) sum_k l(f(x_k), y_k) + (lam/2) E_rho[||u||^2 + ||theta||^2].

Both terms are functions of the measure only: ``f`` and the regularizer are *linear* in ``rho``,
so ``J`` is convex in ``rho`` for a convex loss ``l`` (Fang, Dong & Zhang, arXiv 1910.11508; the
seed paper 000 extends this to deep networks, see :mod:`convexnn.meanfield.deep`). Finite
populations with unequal masses are what :func:`~convexnn.meanfield.convexity.union` and the
mixture path need: the union of two populations with weights ``(1 - t, t)`` is again a population.

Training (:func:`train_population`) is gradient descent on the particles with the mean-field step
scaling: each parameter moves along its gradient divided by its mass, ``theta_j <- theta_j -
eta (1/q_j) dJ/dtheta_j`` (the Wasserstein gradient flow of ``J`` discretized in time), optionally
with Langevin noise ``sqrt(2 eta tau) N(0, I)`` (mean-field Langevin dynamics at temperature
``tau``). ``scaling='ntk'`` switches to the tangent-kernel parametrization for contrast:
``f(x) = sum_j sqrt(q_j) u_j h_j`` (``1/sqrt(m)`` for equal masses), plain weight decay
``(lam/2) sum_j (||u_j||^2 + ||theta_j||^2)`` and plain gradient steps. Both are
:class:`convexnn.parameterization.Parameterization` s (the lab's deep MLP takes 'ntk' too), and
the gradients come from the forward pass (:mod:`convexnn.backprop`).

Losses act on ``c`` outputs at once: ``'squared'`` is ``(1/2) ||z - y||^2`` and ``'logistic'`` is
``sum_c log(1 + exp(-y_c z_c))`` with ``y_c`` in {-1, +1} (one-vs-rest for several classes).
"""

import logging
from dataclasses import dataclass, field

import numpy as np

from ..backprop import Chain
from ..losses import get_loss
from ..parameterization import MEAN_FIELD, NTK, Parameterization, choose
from ..training import SGD, descend
from ..validation import add_intercept, check_matrix, check_positive, check_random_state

__all__ = [
    "ACTIVATIONS",
    "SCALINGS",
    "Population",
    "TrainingHistory",
    "train_population",
    "multi_loss",
    "check_targets",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- activations
def _relu(z):
    return np.maximum(z, 0.0)


def _relu_prime(z):
    return (z > 0).astype(float)


def _tanh_prime(z):
    return 1.0 - np.tanh(z) ** 2


#: activation name -> (sigma, sigma', init variance gain)
ACTIVATIONS = {"relu": (_relu, _relu_prime, 2.0), "tanh": (np.tanh, _tanh_prime, 1.0)}


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
    return activation


#: how masses enter a population: one :class:`~convexnn.parameterization.Parameterization`
#: (``output_power``: the output and every aggregation use ``q_j ** output_power``;
#: ``penalty_power``: a neuron's regularizer is weighted by ``q_j ** penalty_power``;
#: ``step_power``: a gradient step on a parameter is divided by its mass ``** step_power``)
Scaling = Parameterization

#: the mean-field parametrization and the tangent-kernel (NTK) one, for contrast
SCALINGS = {p.name: p for p in (MEAN_FIELD, NTK)}


def _check_scaling(scaling):
    return choose(scaling, SCALINGS, "scaling")


# --------------------------------------------------------------------------- losses
#: the losses of :mod:`convexnn.losses` a population trains on, applied to each output column
MULTI_LOSSES = ("squared", "logistic")


def multi_loss(loss):
    """The function ``(F, Y) -> (value, dvalue/dF)`` of a loss name ('squared' or 'logistic').

    ``value = (1/n) sum_k sum_c l(F_kc, Y_kc)`` with ``F``, ``Y`` of shape (n_samples, n_outputs):
    the loss of :mod:`convexnn.losses` (mean scaling) summed over the output columns.
    """
    if loss not in MULTI_LOSSES:
        raise ValueError(f"loss must be one of {sorted(MULTI_LOSSES)}, got {loss!r}.")
    base = get_loss(loss)

    def value_and_gradient(F, Y):
        columns = range(F.shape[1])
        value = sum(base.value(F[:, c], Y[:, c]) for c in columns)
        return value, np.column_stack([base.gradient(F[:, c], Y[:, c]) for c in columns])

    return value_and_gradient


def check_targets(y, n_samples, loss, name="y"):
    """Targets as a float array of shape (n_samples, n_outputs), checked against ``loss``.

    A 1-D ``y`` becomes one column. For ``'logistic'`` every entry must be -1 or +1.
    """
    multi_loss(loss)
    try:
        Y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of shape (n_samples,) or (n_samples, n_outputs): {exc}")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != n_samples:
        raise ValueError(
            f"{name} must have shape ({n_samples},) or ({n_samples}, n_outputs) to match X, got {np.shape(y)}."
        )
    if not np.all(np.isfinite(Y)):
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those entries.")
    if loss == "logistic" and not np.all(np.abs(Y) == 1.0):
        raise ValueError(f"{name} must contain only -1 and +1 for the logistic loss (one column per class).")
    return Y


def _check_mass(mass, n_neurons, name="mass"):
    if mass is None:
        return np.full(n_neurons, 1.0 / n_neurons)
    mass = np.asarray(mass, dtype=np.float64)
    if mass.shape != (n_neurons,):
        raise ValueError(f"{name} must have shape ({n_neurons},), got {mass.shape}.")
    if not np.all(np.isfinite(mass)) or np.any(mass <= 0):
        raise ValueError(f"{name} must be finite and > 0 (drop neurons of zero mass).")
    if abs(mass.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1 (a probability measure), got {mass.sum()!r}.")
    return mass


# --------------------------------------------------------------------------- two-level population
class Population:
    """A two-level network as a weighted population of features.

    ``f(x) = sum_j q_j^a u_j sigma(theta_j^T [x, 1])`` with ``a = 1`` ('mean_field') or ``a = 1/2``
    ('ntk'); objective ``J = (1/n) sum_k l(f(x_k), y_k) + (lam/2) sum_j q_j^b (||u_j||^2 +
    ||theta_j||^2)`` with ``b = 1`` ('mean_field': the expectation ``E_rho``) or ``b = 0`` ('ntk').

    Parameters
    ----------
    theta : array-like of shape (n_neurons, n_features + 1)
        First-layer weights, one row per neuron; the last column is the bias.
    u : array-like of shape (n_neurons,) or (n_neurons, n_outputs)
        Importances (output weights).
    mass : array-like of shape (n_neurons,) or None
        Positive masses summing to one; None gives equal masses ``1/m``.
    activation : {'relu', 'tanh'}, default='relu'
    scaling : {'mean_field', 'ntk'}, default='mean_field'
    """

    def __init__(self, theta, u, mass=None, *, activation="relu", scaling="mean_field"):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 2 or theta.shape[1] < 2:
            raise ValueError(f"theta must have shape (n_neurons, n_features + 1), got {theta.shape}.")
        u = np.asarray(u, dtype=np.float64)
        if u.ndim == 1:
            u = u[:, None]
        if u.ndim != 2 or u.shape[0] != theta.shape[0]:
            raise ValueError(f"u must have shape ({theta.shape[0]},) or ({theta.shape[0]}, n_outputs), got {u.shape}.")
        if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(u))):
            raise ValueError("theta and u must be finite; a training run that diverged needs a smaller learning_rate.")
        self.theta, self.u = theta, u
        self.mass = _check_mass(mass, theta.shape[0])
        self.activation = _check_activation(activation)
        self.scaling = _check_scaling(scaling).name

    # ------------------------------------------------------------------ structure
    @property
    def n_neurons(self):
        return self.theta.shape[0]

    @property
    def n_features(self):
        return self.theta.shape[1] - 1

    @property
    def n_outputs(self):
        return self.u.shape[1]

    @property
    def layer_masses(self):
        """The masses of each hidden layer, a list of one array of shape (n_neurons,)."""
        return [self.mass]

    @classmethod
    def random(cls, n_features, n_neurons, *, n_outputs=1, activation="relu", scaling="mean_field",
               scale=1.0, random_state=None):
        """Independent particles: ``theta_j ~ N(0, g/(d+1) I)`` (g = 2 for ReLU, 1 for tanh), ``u_j ~ N(0, scale^2 I)``.

        Parameters
        ----------
        n_features, n_neurons, n_outputs : int
        activation, scaling : str
        scale : float, default=1.0
            Standard deviation of the importances.
        random_state : int, Generator or None
        """
        check_positive(n_features, "n_features", integer=True)
        check_positive(n_neurons, "n_neurons", integer=True)
        check_positive(n_outputs, "n_outputs", integer=True)
        check_positive(scale, "scale")
        gain = ACTIVATIONS[_check_activation(activation)][2]
        rng = check_random_state(random_state)
        theta = rng.standard_normal((n_neurons, n_features + 1)) * np.sqrt(gain / (n_features + 1))
        u = scale * rng.standard_normal((n_neurons, n_outputs))
        return cls(theta, u, activation=activation, scaling=scaling)

    def parameters(self):
        """Trainable arrays ``[theta, u]``."""
        return [self.theta, self.u]

    def with_parameters(self, params):
        """A population with new ``[theta, u]`` and the same masses, activation and scaling."""
        theta, u = params
        return Population(theta, u, self.mass, activation=self.activation, scaling=self.scaling)

    def step_scales(self):
        """Per-parameter step multipliers ``1 / q^step_power`` (shapes broadcast to :meth:`parameters`)."""
        s = SCALINGS[self.scaling].step_scales(self.mass[:, None])
        return [s, s]

    # ------------------------------------------------------------------ evaluation
    def _design(self, X):
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features but the population expects {self.n_features}.")
        return add_intercept(X)

    def _forward(self, A):
        """The forward pass on the design ``A`` (``X`` and a ones column) as a
        :class:`~convexnn.backprop.Chain`: ``f = (sigma(A theta^T) * q^a) u``."""
        sigma, derivative, _ = ACTIVATIONS[self.activation]
        chain = Chain(A).linear(self.theta, transpose=True).activation(sigma, derivative)
        return chain.multiply(SCALINGS[self.scaling].output_weights(self.mass)).linear(self.u)

    def features(self, X):
        """Feature values ``h(theta_j, x_k)``, shape (n_samples, n_neurons)."""
        return self._forward(self._design(X)).inputs[2]

    def predict(self, X):
        """Network output ``f(X)``, shape (n_samples, n_outputs)."""
        return self._forward(self._design(X)).value

    def regularizer(self):
        """``(1/2) sum_j q_j^b (||u_j||^2 + ||theta_j||^2)`` (without ``lam``)."""
        w = SCALINGS[self.scaling].penalty_weights(self.mass)
        per_neuron = np.sum(self.u**2, axis=1) + np.sum(self.theta**2, axis=1)
        return 0.5 * float(w @ per_neuron)

    def objective(self, X, y, lam, loss="squared"):
        """``J = (1/n) sum_k l(f(x_k), y_k) + lam * regularizer()``."""
        check_positive(lam, "lam", strict=False)
        F = self.predict(X)
        Y = check_targets(y, F.shape[0], loss)
        _check_outputs(Y, self.n_outputs)
        return multi_loss(loss)(F, Y)[0] + lam * self.regularizer()

    def objective_and_gradient(self, X, Y, lam, loss):
        """``J`` and its gradient ``[dJ/dtheta, dJ/du]`` (inputs assumed validated: the training hot path).

        The loss's gradient comes from the forward pass (:meth:`_forward`), the regularizer's is
        ``lam q^b`` times each neuron's parameters.
        """
        value, (dtheta, du) = self._forward(add_intercept(X)).loss(multi_loss(loss), Y)
        w = SCALINGS[self.scaling].penalty_weights(self.mass)
        du = du + lam * w[:, None] * self.u
        dtheta = dtheta + lam * w[:, None] * self.theta
        return value + lam * self.regularizer(), [dtheta, du]

    # ------------------------------------------------------------------ union
    def union(self, other, t):
        """The mixture ``(1 - t) rho_0 + t rho_1`` as one population: output exactly ``(1 - t) f_0 + t f_1``.

        The neurons of both populations are stacked with masses ``((1 - t) q_0, t q_1)`` and their
        own ``(theta, u)``. Since ``f`` and the regularizer ``(1/2) E_rho[||u||^2 + ||theta||^2]``
        are linear in the measure, the union's regularizer is exactly ``(1 - t) R_0 + t R_1``.
        At ``t = 0`` (``1``) the population of zero mass is dropped and a copy of ``self``
        (``other``) is returned.

        Parameters
        ----------
        other : Population
            Same input dimension, outputs and activation; both with ``scaling='mean_field'``.
        t : float in [0, 1]

        Returns
        -------
        Population
        """
        _check_union(self, other, t)
        if t == 0.0 or t == 1.0:
            src = self if t == 0.0 else other
            return src.with_parameters([p.copy() for p in src.parameters()])
        return Population(np.vstack([self.theta, other.theta]), np.vstack([self.u, other.u]),
                          np.concatenate([(1.0 - t) * self.mass, t * other.mass]),
                          activation=self.activation)


def _check_union(first, other, t):
    """Shared checks of the two unions (two-level and deep)."""
    if type(other) is not type(first):
        raise ValueError(f"other must be a {type(first).__name__} like self, got {type(other).__name__}.")
    if first.scaling != "mean_field" or other.scaling != "mean_field":
        raise ValueError("union needs scaling='mean_field' for both populations (the NTK scaling is not a measure).")
    if other.n_features != first.n_features or other.n_outputs != first.n_outputs:
        raise ValueError(
            f"other must have {first.n_features} input features and {first.n_outputs} output(s) like self, "
            f"got {other.n_features} and {other.n_outputs}."
        )
    if other.activation != first.activation:
        raise ValueError(f"other must use activation {first.activation!r} like self, got {other.activation!r}.")
    if isinstance(t, bool) or not np.isscalar(t) or not np.isfinite(t) or not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be a number in [0, 1], got {t!r}.")


def _check_outputs(Y, n_outputs):
    if Y.shape[1] != n_outputs:
        raise ValueError(f"y has {Y.shape[1]} output column(s) but the population has {n_outputs}.")


# --------------------------------------------------------------------------- training
@dataclass
class TrainingHistory:
    """The outcome of :func:`train_population`.

    Attributes
    ----------
    population : Population or DeepPopulation
        The population after the last step (the last finite one if training diverged: a
        warning is logged and training stops).
    objective : list of float
        ``J`` on the full training data before training and after every epoch.
    """

    population: object
    objective: list = field(default_factory=list)


def train_population(population, X, y, *, lam, loss="squared", learning_rate=0.5, n_epochs=500,
                     batch_size=None, temperature=0.0, random_state=None, verbose=False):
    """Train a population by (stochastic) gradient descent with the step scaling of its parametrization.

    Each step is ``p <- p - eta * s_p * dJ_B/dp + sqrt(2 eta tau) * N(0, 1)`` for every parameter
    ``p``, where ``J_B`` is the objective on the minibatch, ``s_p = 1/mass(p)`` under
    ``scaling='mean_field'`` (``mass(p)`` is ``q_j`` for a neuron's parameters and ``q_i q_j`` for a
    connection between two neurons of a deep population) and ``s_p = 1`` under ``'ntk'``, and
    ``tau = temperature`` (0: plain GD/SGD; > 0: Langevin dynamics).

    Parameters
    ----------
    population : Population or DeepPopulation
        Initial population; it is not modified.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    lam : float
        Regularization strength (>= 0).
    loss : {'squared', 'logistic'}, default='squared'
    learning_rate : float, default=0.5
    n_epochs : int, default=500
    batch_size : int or None, default=None
        Minibatch size; None is full-batch gradient descent.
    temperature : float, default=0.0
        Langevin temperature ``tau`` (>= 0).
    random_state : int, Generator or None
        Seeds the minibatch order and the Langevin noise.
    verbose : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    TrainingHistory
    """
    if not all(hasattr(population, a) for a in ("objective_and_gradient", "step_scales", "with_parameters")):
        raise ValueError(f"population must be a Population or DeepPopulation, got {type(population).__name__}.")
    X = check_matrix(X, "X")
    Y = check_targets(y, X.shape[0], loss)
    _check_outputs(Y, population.n_outputs)
    if X.shape[1] != population.n_features:
        raise ValueError(f"X has {X.shape[1]} features but the population expects {population.n_features}.")
    check_positive(lam, "lam", strict=False)
    check_positive(learning_rate, "learning_rate")
    check_positive(n_epochs, "n_epochs", integer=True)
    check_positive(temperature, "temperature", strict=False)
    n = X.shape[0]
    batch = n if batch_size is None else min(check_positive(batch_size, "batch_size", integer=True), n)
    rng = check_random_state(random_state)  # one stream: minibatch order, then the noise of each step
    optimizer = SGD(learning_rate, momentum=0.0, scales=population.step_scales(), temperature=temperature,
                    random_state=rng)

    def evaluate(current, idx, gradient):
        if idx is None and not gradient:
            return current.objective(X, Y, lam, loss), None, None
        Xb, Yb = (X, Y) if idx is None else (X[idx], Y[idx])
        return (*current.objective_and_gradient(Xb, Yb, lam, loss), None)

    run = descend(population, evaluate, n, optimizer=optimizer, max_rounds=n_epochs, batch_size=batch,
                  random_state=rng, finite_steps=True, verbose=verbose, desc="mean-field training")
    history = run.history
    if run.status == "diverged" and len(history) > 1:
        logger.warning("mean-field training diverged at epoch %d; lower learning_rate", len(history) - 1)
        history = history[:-1]
    return TrainingHistory(population=run.model, objective=history)
