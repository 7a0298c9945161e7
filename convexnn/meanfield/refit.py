"""Convex refit of the output layer on frozen features, and four sources of features to compare.

With the hidden features frozen, ``Phi(x)`` in ``R^k``, fitting the output layer is convex:

    min_{A, b}  (1/n) sum_i l(A^T Phi(x_i) + b, y_i) + (lam/2) ||A||_F^2,

with ``A`` of shape (k, n_outputs) and an unpenalized output bias ``b``. For the squared loss this
is ridge regression, solved in closed form (:func:`fit_output_layer`); for the logistic loss it is
one-vs-rest L2-regularized logistic regression (one binary problem per class, labels -1/+1; the
objective is the sum over classes), solved per class with L-BFGS on the exact gradient.
:func:`fit_output_layer_cvxpy` states the same problem in cvxpy, as the reference.

:class:`FrozenFeatureModel` standardizes each feature with its training mean and standard
deviation before the fit, so that one ``lam`` treats features of different scales alike. The four
sources of ``k`` features compared at equal count (``k`` = the number of columns of ``Phi``):

* :func:`repopulated_features`: learned features, ``k`` distinct neurons of a trained mean-field
  population drawn without replacement with probability proportional to the repopulation
  importance weights (:func:`~convexnn.meanfield.repopulation.importance_weights`);
* :func:`initial_features`: random features, ``k`` neurons of the population at initialization,
  drawn uniformly without replacement;
* :func:`tangent_features`: tangent (NTK) features at initialization; see its docstring;
* :func:`convex_program_features`: the neurons of the convex ReLU program, the ``k`` neurons of a
  fitted ``ConvexReLURegressor`` / ``ConvexReLUClassifier`` with the largest path norm.
"""

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from ..validation import add_intercept, check_matrix, check_positive, check_random_state
from .population import ACTIVATIONS, _check_activation, check_targets, multi_loss
from .repopulation import importance_weights

__all__ = [
    "OutputFit",
    "output_objective",
    "fit_output_layer",
    "fit_output_layer_cvxpy",
    "NeuronFeatures",
    "TangentFeatures",
    "FrozenFeatureModel",
    "one_vs_rest",
    "repopulated_features",
    "initial_features",
    "tangent_features",
    "convex_program_features",
]


# --------------------------------------------------------------------------- the convex problem
@dataclass
class OutputFit:
    """An output layer fitted on frozen features.

    Attributes
    ----------
    coef : ndarray of shape (n_features_out, n_outputs)
    intercept : ndarray of shape (n_outputs,)
    objective : float
        ``(1/n) sum_i l(Phi_i A + b, y_i) + (lam/2) ||A||_F^2``.
    """

    coef: np.ndarray
    intercept: np.ndarray
    objective: float


def _check_problem(H, y, lam, loss):
    H = check_matrix(H, "H")
    Y = check_targets(y, H.shape[0], loss)
    check_positive(lam, "lam", strict=False)
    return H, Y


def output_objective(H, y, coef, intercept, *, lam, loss="squared"):
    """The refit objective at ``(coef, intercept)``.

    Parameters
    ----------
    H : array-like of shape (n_samples, k)
        Frozen features.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    coef : array-like of shape (k, n_outputs)
    intercept : array-like of shape (n_outputs,)
    lam : float
    loss : {'squared', 'logistic'}
    """
    H, Y = _check_problem(H, y, lam, loss)
    coef = np.asarray(coef, dtype=np.float64).reshape(H.shape[1], Y.shape[1])
    F = H @ coef + np.asarray(intercept, dtype=np.float64)
    return multi_loss(loss)(F, Y)[0] + 0.5 * lam * float(np.sum(coef**2))


def _logistic_column(H, y, lam):
    n, k = H.shape

    def fun(w):
        z = H @ w[:k] + w[k]
        value = np.sum(np.logaddexp(0.0, -y * z)) / n + 0.5 * lam * (w[:k] @ w[:k])
        g = -y * expit(-y * z) / n
        return value, np.concatenate([H.T @ g + lam * w[:k], [g.sum()]])

    res = minimize(fun, np.zeros(k + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": 10000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x[:k], res.x[k]


def fit_output_layer(H, y, *, lam, loss="squared"):
    """Solve the refit problem natively.

    ``'squared'``: ridge with an unpenalized intercept, ``A = (H_c^T H_c / n + lam I)^{-1}
    H_c^T Y_c / n`` on centered ``H_c``, ``Y_c`` (``lam = 0`` gives least squares with the
    pseudo-inverse). ``'logistic'``: one-vs-rest, each column of ``y`` (labels -1/+1) by L-BFGS;
    ``lam`` must then be > 0 unless the classes are not separable.

    Parameters
    ----------
    H : array-like of shape (n_samples, k)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    lam : float
    loss : {'squared', 'logistic'}, default='squared'

    Returns
    -------
    OutputFit
    """
    H, Y = _check_problem(H, y, lam, loss)
    n, k = H.shape
    if loss == "squared":
        mu, ybar = H.mean(axis=0), Y.mean(axis=0)
        Hc, Yc = H - mu, Y - ybar
        if lam > 0:
            coef = np.linalg.solve(Hc.T @ Hc / n + lam * np.eye(k), Hc.T @ Yc / n)
        else:
            coef = np.linalg.pinv(Hc) @ Yc
        intercept = ybar - mu @ coef
    else:
        cols = [_logistic_column(H, Y[:, c], lam) for c in range(Y.shape[1])]
        coef = np.column_stack([w for w, _ in cols])
        intercept = np.array([b for _, b in cols])
    return OutputFit(coef, intercept, output_objective(H, Y, coef, intercept, lam=lam, loss=loss))


def fit_output_layer_cvxpy(H, y, *, lam, loss="squared", solver="CLARABEL"):
    """The refit problem of :func:`fit_output_layer` solved by cvxpy (the reference).

    Parameters
    ----------
    H, y, lam, loss
        As in :func:`fit_output_layer`.
    solver : str, default='CLARABEL'
        Any installed cvxpy solver that handles the problem (the logistic loss needs an
        exponential-cone solver: CLARABEL, SCS).

    Returns
    -------
    OutputFit
        With the objective re-evaluated in numpy at cvxpy's solution.
    """
    H, Y = _check_problem(H, y, lam, loss)
    n, k = H.shape
    A = cp.Variable((k, Y.shape[1]))
    b = cp.Variable(Y.shape[1])
    F = H @ A + np.ones((n, 1)) @ cp.reshape(b, (1, Y.shape[1]), order="C")
    if loss == "squared":
        fit = 0.5 * cp.sum_squares(F - Y) / n
    else:
        fit = cp.sum(cp.logistic(-cp.multiply(Y, F))) / n
    problem = cp.Problem(cp.Minimize(fit + 0.5 * lam * cp.sum_squares(A)))
    problem.solve(solver=solver)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"cvxpy solver {solver} returned status {problem.status!r}; try solver='SCS'.")
    return OutputFit(A.value, b.value, output_objective(H, Y, A.value, b.value, lam=lam, loss=loss))


# --------------------------------------------------------------------------- feature maps
class NeuronFeatures:
    """Frozen neurons as features: ``Phi(x)_j = sigma(theta_j^T [x, 1])``.

    Parameters
    ----------
    theta : array-like of shape (k, n_features + 1)
    activation : {'relu', 'tanh'}, default='relu'
    """

    def __init__(self, theta, activation="relu"):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 2 or theta.shape[1] < 2:
            raise ValueError(f"theta must have shape (k, n_features + 1), got {theta.shape}.")
        self.theta = theta
        self.activation = _check_activation(activation)

    @property
    def n_features_out(self):
        return self.theta.shape[0]

    def transform(self, X):
        """Feature matrix, shape (n_samples, k)."""
        X = check_matrix(X, "X")
        if X.shape[1] != self.theta.shape[1] - 1:
            raise ValueError(f"X has {X.shape[1]} features but the feature map expects {self.theta.shape[1] - 1}.")
        return ACTIVATIONS[self.activation][0](add_intercept(X) @ self.theta.T)


class TangentFeatures:
    """Random projection of the first-layer tangent features: ``Phi(x) = S^T psi(x)``.

    ``psi(x)`` in ``R^{m (d+1)}`` stacks ``sigma'(theta_j^T [x, 1]) [x, 1]`` over the ``m``
    neurons; ``S`` has i.i.d. ``N(0, 1/k)`` entries, stored as shape (m, d + 1, k).

    Parameters
    ----------
    theta : array-like of shape (m, n_features + 1)
    projection : array-like of shape (m, n_features + 1, k)
    activation : {'relu', 'tanh'}, default='relu'
    """

    def __init__(self, theta, projection, activation="relu"):
        self.theta = np.asarray(theta, dtype=np.float64)
        self.projection = np.asarray(projection, dtype=np.float64)
        if self.projection.ndim != 3 or self.projection.shape[:2] != self.theta.shape:
            raise ValueError(f"projection must have shape {self.theta.shape + ('k',)}, got {self.projection.shape}.")
        self.activation = _check_activation(activation)

    @property
    def n_features_out(self):
        return self.projection.shape[2]

    def transform(self, X, chunk=32):
        """Feature matrix ``psi(X) S``, shape (n_samples, k), computed over blocks of ``chunk`` neurons."""
        X = check_matrix(X, "X")
        A = add_intercept(X)
        if A.shape[1] != self.theta.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features but the feature map expects {self.theta.shape[1] - 1}.")
        D = ACTIVATIONS[self.activation][1](A @ self.theta.T)
        out = np.zeros((X.shape[0], self.n_features_out))
        for lo in range(0, self.theta.shape[0], chunk):
            S = self.projection[lo : lo + chunk]                      # (c, d+1, k)
            AS = np.einsum("nd,cdk->nck", A, S)                       # (n, c, k)
            out += np.einsum("nc,nck->nk", D[:, lo : lo + chunk], AS)
        return out


class FrozenFeatureModel:
    """A frozen feature map followed by a refitted output layer.

    Parameters
    ----------
    features : NeuronFeatures or TangentFeatures
        Anything with ``transform(X)`` and ``n_features_out``.
    lam : float
        Regularization of the output weights (features standardized first).
    loss : {'squared', 'logistic'}, default='squared'
    """

    def __init__(self, features, *, lam, loss="squared"):
        self.features = features
        self.lam = check_positive(lam, "lam", strict=False)
        multi_loss(loss)
        self.loss = loss

    def _standardized(self, X):
        return (self.features.transform(X) - self.mean_) / self.scale_

    def fit(self, X, y):
        """Standardize the features on ``X`` and fit the output layer; returns self."""
        H = self.features.transform(X)
        self.mean_ = H.mean(axis=0)
        sd = H.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        self.fit_ = fit_output_layer((H - self.mean_) / self.scale_, y, lam=self.lam, loss=self.loss)
        return self

    def decision_function(self, X):
        """Outputs ``A^T Phi(x) + b``, shape (n_samples, n_outputs)."""
        return self._standardized(X) @ self.fit_.coef + self.fit_.intercept


def one_vs_rest(y):
    """Class labels to one-vs-rest targets.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    Y : ndarray of shape (n_samples, n_classes)
        +1 in the column of the sample's class, -1 elsewhere.
    """
    classes, encoded = np.unique(np.asarray(y), return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(f"y must contain at least 2 classes, got {classes.shape[0]}.")
    return classes, np.where(encoded[:, None] == np.arange(classes.shape[0]), 1.0, -1.0)


# --------------------------------------------------------------------------- the four sources
def _check_k(k, available, source):
    check_positive(k, "k", integer=True)
    if k > available:
        raise ValueError(f"k must be <= {available} (the {source}), got {k}.")
    return k


def repopulated_features(population, X, k, *, random_state=None):
    """``k`` distinct learned neurons drawn without replacement with the importance weights.

    Parameters
    ----------
    population : Population
        A trained mean-field population.
    X : array-like of shape (n_samples, n_features)
        Data for the importance weights.
    k : int
        Number of features (at most the number of neurons of positive weight).
    random_state : int, Generator or None

    Returns
    -------
    NeuronFeatures
    """
    p = importance_weights(population, X)
    k = _check_k(k, int(np.count_nonzero(p)), "neurons of positive importance")
    idx = check_random_state(random_state).choice(p.shape[0], size=k, replace=False, p=p)
    return NeuronFeatures(population.theta[idx], population.activation)


def initial_features(population, k, *, random_state=None):
    """``k`` neurons of a population at initialization, uniformly without replacement (random features)."""
    k = _check_k(k, population.n_neurons, "neurons of the population")
    idx = check_random_state(random_state).choice(population.n_neurons, size=k, replace=False)
    return NeuronFeatures(population.theta[idx], population.activation)


def tangent_features(population, k, *, random_state=None):
    """Tangent (NTK) features of a population at initialization, reduced to ``k`` by a random projection.

    The gradient of output ``c`` of ``f(x) = sum_j q_j u_j sigma(theta_j^T [x, 1])`` in the
    first-layer parameter ``theta_j`` is ``q_j u_jc sigma'(theta_j^T [x, 1]) [x, 1]``. Dropping the
    per-neuron factor ``q_j u_jc`` (it differs between outputs and only rescales coordinates)
    leaves ``psi(x)`` in ``R^{m (d+1)}``, the same tangent space for every output. The ``k``
    features are ``S^T psi(x)`` with a Gaussian ``S`` of shape (m (d+1), k), entries ``N(0, 1/k)``:
    ``k`` columns in the refit design matrix, as for the other sources.

    Returns
    -------
    TangentFeatures
    """
    check_positive(k, "k", integer=True)
    rng = check_random_state(random_state)
    S = rng.standard_normal(population.theta.shape + (k,)) / np.sqrt(k)
    return TangentFeatures(population.theta, S, population.activation)


def convex_program_features(X, y, k, *, task="regression", alpha=1e-3, n_patterns=50, max_iter=None, tol=1e-6,
                            solver="auto", random_state=None):
    """The ``k`` neurons of the convex ReLU program with the largest path norm.

    Fits ``ConvexReLURegressor`` (``task='regression'``) or ``ConvexReLUClassifier``
    (``'classification'``, one-vs-rest) with ``formulation='relu'``, ``pattern_search='sampled'``,
    then ranks its hidden neurons ``(w_j, b_j)`` by ``||(w_j, b_j)|| * ||W2_j||`` and keeps the top
    ``k`` (all of them when the program has fewer active neurons: the returned map then has fewer
    than ``k`` features, check ``n_features_out``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Targets (regression) or class labels (classification).
    k : int
    task : {'regression', 'classification'}
    alpha, n_patterns : float, int
        Passed to the estimator; a smaller ``alpha`` leaves more neurons active.
    max_iter, tol : int or None, float
        Passed to the estimator's solver (a cap on iterations keeps large problems affordable; the
        estimator then warns that the solve stopped early and its neurons are approximate).
    solver : str, default='auto'
        The estimator's solver ('auto': native; 'CLARABEL' is often faster on small problems).
    random_state : int or None

    Returns
    -------
    NeuronFeatures
    """
    from ..estimators import ConvexReLUClassifier, ConvexReLURegressor

    estimators = {"regression": ConvexReLURegressor, "classification": ConvexReLUClassifier}
    if task not in estimators:
        raise ValueError(f"task must be one of {sorted(estimators)}, got {task!r}.")
    check_positive(k, "k", integer=True)
    model = estimators[task](alpha=alpha, n_patterns=n_patterns, pattern_search="sampled", max_iter=max_iter,
                             tol=tol, solver=solver, random_state=random_state).fit(X, y)
    W1, W2 = model.coefs_
    theta = np.vstack([W1, model.intercepts_[0][None, :]]).T
    score = np.linalg.norm(theta, axis=1) * np.linalg.norm(W2, axis=1)
    top = np.argsort(-score)[:k]
    return NeuronFeatures(theta[top], "relu")
