"""Losses of the training problem, in the mean scaling of doc/math.rst.

A loss object evaluates ``F(pred) = (1/n) sum_k l(pred_k, y_k)``, its gradient in ``pred``, its
Fenchel conjugate (for dual bounds and certificates) and the same function as a cvxpy expression.
Solvers, problems and networks only call these methods, so a new loss is one new class here.

* :class:`SquaredLoss`: ``l(z, y) = (z - y)^2 / 2``.
* :class:`LogisticLoss`: ``l(z, y) = log(1 + exp(-y z))`` with labels ``y`` in {-1, +1}.
* :class:`LogisticOffsetLoss`: the logistic loss of ``pred + b`` minimized over a free offset ``b``
  (the classifier's unpenalized output intercept).
* :class:`HingeLoss`: ``l(z, y) = max(0, 1 - y z)`` with labels ``y`` in {-1, +1} (not smooth: the
  cvxpy solvers handle it, the native first-order solvers refuse it).
* :class:`HuberLoss`: ``l(z, y) = h_delta(z - y)``, quadratic within ``delta`` of the target and
  linear beyond (robust regression).

What a loss provides is declared, not guessed: :meth:`Loss.provides` answers for each capability
in :data:`LOSS_CAPABILITIES` (a Lipschitz ``gradient``, a ``curvature`` bound, a ``hessian``, the
conjugate ``dual``, a ``cvxpy`` expression), and each solver states which of them it needs
(``Solver.loss_needs``) and refuses a loss that lacks one, naming it.

The smooth losses compute :meth:`~Loss.value`, :meth:`~Loss.gradient`, :meth:`~Loss.hessian` and
:meth:`~Loss.dual` in the array namespace of their arguments (numpy, torch, CuPy: see
:mod:`convexnn._array_api`), so the first-order solvers run on whatever device holds the data;
values come back as Python floats, arrays in the arguments' namespace and device.
"""

import math

import cvxpy as cp
import numpy as np
from scipy.special import expit, xlogy

from ._array_api import get_namespace, is_numpy_namespace, namespace_of

__all__ = ["Loss", "SquaredLoss", "LogisticLoss", "LogisticOffsetLoss", "HingeLoss", "HuberLoss", "get_loss",
           "LOSS_CAPABILITIES", "REGRESSION_LOSSES"]

#: What a loss can provide, and what providing it means (the solvers' needs are drawn from these).
LOSS_CAPABILITIES = {
    "gradient": "a Lipschitz-continuous gradient (`gradient`, with the class attribute `smooth = True`)",
    "curvature": "an upper bound on l''(z, y) (the attribute `curvature`)",
    "hessian": "the diagonal Hessian in the predictions (`hessian`)",
    "dual": "the Fenchel conjugate (`dual`)",
    "cvxpy": "a cvxpy expression (`cvxpy`)",
}


class Loss:
    """Interface of a data-fit term ``F(pred) = (1/n) sum_k l(pred_k, y_k)``.

    Subclasses implement :meth:`value` and what they can of :meth:`gradient`, :meth:`hessian`,
    :meth:`dual` and :meth:`cvxpy`, set :attr:`curvature` when ``l''`` is bounded, and set
    :attr:`smooth` to True when :meth:`gradient` is a true, Lipschitz gradient (not a subgradient).
    :meth:`provides` reads these declarations; solvers check it before they start.
    """

    name = None

    #: whether :meth:`gradient` is the gradient of a function with a Lipschitz gradient (FISTA's
    #: line search and the augmented Lagrangian rely on it); False for a subgradient only
    smooth = False
    #: True for losses of +-1 labels (classification); the regressors take the others by name
    labels = False

    def provides(self, capability):
        """Whether this loss provides ``capability`` (a key of :data:`LOSS_CAPABILITIES`).

        A method counts when the class overrides the :class:`Loss` placeholder; ``'gradient'``
        also needs :attr:`smooth`, ``'curvature'`` a :attr:`curvature` that is not None.

        Parameters
        ----------
        capability : str

        Returns
        -------
        bool
        """
        if capability not in LOSS_CAPABILITIES:
            raise ValueError(
                f"unknown loss capability {capability!r}; one of {sorted(LOSS_CAPABILITIES)}."
            )
        if capability == "curvature":
            return self.curvature is not None
        overridden = getattr(type(self), capability) is not getattr(Loss, capability)
        if capability == "gradient":
            return overridden and bool(self.smooth)
        return overridden

    def check_target(self, y):
        """Validate targets for this loss and return them (float64); the default accepts any real."""
        return y

    def value(self, pred, y):
        """Mean loss ``(1/n) sum_k l(pred_k, y_k)``; ``pred`` and ``y`` have shape (n_samples,)."""
        raise NotImplementedError

    def gradient(self, pred, y):
        """Gradient of :meth:`value` in ``pred``: ``(1/n) l'(pred_k, y_k)``, shape (n_samples,)."""
        raise NotImplementedError

    def columns(self, pred, y):
        """``(sum_k value(pred[:, k], y[:, k]), gradient)`` for ``K`` independent targets side by
        side (numpy arrays of shape (n_samples, K)): the loss of ``K`` networks trained as one
        (:class:`~convexnn.networks.StackedNetworks`); the gradient has shape (n_samples, K).

        This default runs :meth:`value` and :meth:`gradient` column by column; the losses of the
        Adam start override it with one vectorized pass.
        """
        gradient = np.empty_like(pred)
        total = 0.0
        for k in range(pred.shape[1]):
            total += self.value(pred[:, k], y[:, k])
            gradient[:, k] = self.gradient(pred[:, k], y[:, k])
        return total, gradient

    #: Upper bound on the second derivative ``l''(z, y)`` in ``z`` (per sample, before the mean);
    #: the ADMM solver majorizes the loss with it.
    curvature = None

    def min_curvature(self, radius):
        """Lower bound on ``l''(z, y)`` over ``|z| <= radius`` (per sample, before the mean).

        0 for a loss that is not strongly convex there. :func:`~convexnn.solvers.prediction_radius`
        turns it and a certified gap into a bound on the distance to the optimal predictions.
        """
        return 0.0

    def hessian(self, pred, y):
        """Diagonal of the Hessian of :meth:`value` in ``pred``: ``(1/n) l''(pred_k, y_k)``.

        A loss whose Hessian is diagonal minus rank one (:meth:`hessian_rank_one` not None)
        returns the diagonal part ``h`` of ``diag(h) - c c^T``.
        """
        raise NotImplementedError

    def hessian_rank_one(self, pred, y):
        """``c`` when the Hessian is ``diag(hessian) - c c^T``; None (the default) when diagonal."""
        return None

    def offset(self, pred, y):
        """The output offset the loss minimizes out at ``pred`` (0.0, the default: none)."""
        return 0.0

    def dual(self, z, y):
        """Dual objective ``-F*(-z)``: a lower bound ingredient for any dual-feasible ``z``.

        For the dual point ``z = -gradient(pred, y)`` and the matching primal, Fenchel duality gives
        ``F(pred) + lam * penalty >= dual(s z, y)`` for every scale ``s`` making ``s z`` feasible.
        Returns ``-inf`` outside the conjugate's domain.
        """
        raise NotImplementedError

    def cvxpy(self, pred, y):
        """The mean loss as a cvxpy expression of the affine expression ``pred``."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


class SquaredLoss(Loss):
    """Squared loss ``F(pred) = (1/(2n)) ||pred - y||^2``."""

    name = "squared"
    smooth = True
    curvature = 1.0

    def min_curvature(self, radius):
        return 1.0

    def value(self, pred, y):
        r = pred - y
        return 0.5 * float(r @ r) / y.shape[0]

    def gradient(self, pred, y):
        return (pred - y) / y.shape[0]

    def columns(self, pred, y):
        r = pred - y
        return 0.5 * float(np.einsum("nk,nk->", r, r)) / y.shape[0], r / y.shape[0]

    def hessian(self, pred, y):
        xp, device = get_namespace(pred, y)
        if is_numpy_namespace(xp):
            return np.full(y.shape[0], 1.0 / y.shape[0])
        return xp.full((y.shape[0],), 1.0 / y.shape[0], dtype=y.dtype, device=device)

    def dual(self, z, y):
        # F*(s) = s^T y + (n/2) ||s||^2, so -F*(-z) = z^T y - (n/2) ||z||^2
        return float(z @ y) - 0.5 * y.shape[0] * float(z @ z)

    def cvxpy(self, pred, y):
        return cp.sum_squares(pred - y) / (2 * y.shape[0])


class LogisticLoss(Loss):
    """Logistic loss ``F(pred) = (1/n) sum_k log(1 + exp(-y_k pred_k))`` for ``y`` in {-1, +1}."""

    name = "logistic"
    smooth = True
    labels = True
    curvature = 0.25

    def min_curvature(self, radius):
        # l''(z) = sigma(z) sigma(-z) whatever the label, decreasing in |z|
        return expit(radius) * expit(-radius)

    def check_target(self, y):
        return _check_labels(y, self.name)

    def value(self, pred, y):
        xp = namespace_of(pred, y)
        return float(xp.mean(xp.logaddexp(0.0, -y * pred)))

    def gradient(self, pred, y):
        return -y * _sigmoid(-y * pred) / y.shape[0]

    def columns(self, pred, y):
        margin = y * pred
        total = float(np.logaddexp(0.0, -margin).sum()) / y.shape[0]
        return total, -y * expit(-margin) / y.shape[0]

    def hessian(self, pred, y):
        p = _sigmoid(y * pred)
        return p * (1 - p) / y.shape[0]

    def dual(self, z, y):
        # with p_k = n y_k z_k in [0, 1]: -F*(-z) = -(1/n) sum_k [p log p + (1 - p) log(1 - p)]
        xp = namespace_of(z, y)
        n = y.shape[0]
        p = n * y * z
        if bool(xp.any(p < -1e-12)) or bool(xp.any(p > 1 + 1e-12)):
            return -np.inf
        p = xp.clip(p, 0.0, 1.0)
        return float(-xp.sum(_xlogx(p) + _xlogx(1 - p)) / n)

    def cvxpy(self, pred, y):
        return cp.sum(cp.logistic(-cp.multiply(y, pred))) / y.shape[0]


class LogisticOffsetLoss(Loss):
    """Logistic loss with an unpenalized output offset, minimized out:
    ``F(pred) = min_b (1/n) sum_k log(1 + exp(-y_k (pred_k + b)))`` for ``y`` in {-1, +1}.

    The offset ``b`` is a free scalar added to every prediction (the output intercept of a
    classifier, not regularized). Minimizing it out gives a convex function of ``pred`` alone (the
    partial minimum of a jointly convex function), so every solver, certificate and oracle works on
    ``F`` as on any other loss, and the optimal ``b`` is read back with :meth:`offset`:

    * value: ``b*(pred)`` solves ``sum_k y_k sigma(-y_k (pred_k + b)) = 0`` (strictly convex and
      coercive in ``b`` when both labels occur), found by a bracketed Newton iteration to machine
      precision and cached for the last ``pred``;
    * gradient: ``grad F(pred) = grad L(pred + b* 1)`` (envelope theorem), with ``L`` the plain
      logistic mean loss; its entries sum to zero (the optimality of ``b*``), made exact up to
      rounding by subtracting their mean;
    * Hessian: ``diag(h) - c c^T`` with ``h = L''(pred + b*)`` (per sample, over ``n``) and
      ``c = h / sqrt(sum h)``: the curvature of the logistic loss with the constant direction
      projected out. :meth:`hessian` returns ``h`` and :meth:`hessian_rank_one` returns ``c`` (the
      interior-point solver and the Newton polish use both);
    * conjugate: ``F*(s) = L*(s)`` when ``sum_k s_k = 0`` and ``+inf`` otherwise, so
      ``-F*(-z)`` is the logistic dual on the hyperplane ``1^T z = 0`` (dual points
      ``z = -grad F`` lie on it) and ``-inf`` off it;
    * cvxpy: the logistic loss of ``pred + b`` with a fresh free ``cp.Variable`` ``b``.

    ``F`` is constant along ``pred + t 1``: it is not strongly convex (``min_curvature`` is 0).
    When all labels are equal the infimum is 0, approached as ``b -> +-inf``: then ``F = 0``, its
    gradient and Hessian vanish and :meth:`offset` returns ``+-inf``.
    """

    name = "logistic_offset"
    smooth = True
    labels = True
    curvature = 0.25

    def __init__(self):
        self._cache = None  # (pred copy, y copy, b) of the last offset computed
        self._column_offsets = None  # the offsets of the last :meth:`columns` call (next guesses)

    def check_target(self, y):
        return _check_labels(y, self.name)

    def offset(self, pred, y):
        """The optimal offset ``b* = argmin_b (1/n) sum_k log(1 + exp(-y_k (pred_k + b)))``.

        Parameters
        ----------
        pred, y : arrays of shape (n_samples,)

        Returns
        -------
        float
            ``+inf`` (``-inf``) when every label is +1 (-1).
        """
        xp = namespace_of(pred, y)
        cache = self._cache
        if (cache is not None and cache[0].shape == pred.shape and cache[1].shape == y.shape
                and namespace_of(cache[0]) is xp and bool(xp.all(cache[0] == pred))
                and bool(xp.all(cache[1] == y))):
            return cache[2]
        b = self._solve_offset(pred, y, None if cache is None else cache[2])
        self._cache = (xp.asarray(pred, copy=True), xp.asarray(y, copy=True), b)
        return b

    @staticmethod
    def _solve_offset(pred, y, guess):
        xp = namespace_of(pred, y)
        positive = float(xp.sum(y > 0))
        negative = y.shape[0] - positive
        if negative == 0:
            return np.inf
        if positive == 0:
            return -np.inf
        # phi'(b) = -(1/n) sum_k y_k sigma(-y_k (pred_k + b)) is increasing from -positive/n to
        # negative/n; it is > 0 once every pred_k + b >= t with negative sigma(t) > positive
        # sigma(-t), i.e. t > log(positive / negative), and < 0 symmetrically: a bracket
        t = abs(math.log(positive / negative)) + 1.0
        lo, hi = -float(xp.max(pred)) - t, -float(xp.min(pred)) + t

        if is_numpy_namespace(xp):  # the hot path of the Adam start: dots, no temporaries
            ypred = y * pred

            def derivatives(b):
                s = expit(-(ypred + b * y))
                return -float(y @ s), float(s @ (1.0 - s))
        else:
            def derivatives(b):
                s = _sigmoid(-y * (pred + b))
                return -float(xp.sum(y * s)), float(xp.sum(s * (1.0 - s)))

        b = 0.5 * (lo + hi) if guess is None or not (lo < guess < hi) else guess
        for _ in range(200):
            first, second = derivatives(b)
            if first > 0:
                hi = b
            elif first < 0:
                lo = b
            else:
                return b
            step = first / second if second > 0 else np.inf
            # converged once the Newton step is below the rounding of b (quadratic convergence);
            # a step below 1e-10 of b's size is taken and ends it: the error it leaves is at
            # rounding level, and the confirming evaluation is saved (as _column_offsets does)
            if abs(step) <= 4 * np.finfo(float).eps * max(1.0, abs(b)):
                return b
            new = b - step
            if abs(step) <= 1e-10 * max(1.0, abs(b)) and lo < new < hi:
                return new
            if not (lo < new < hi):  # Newton left the bracket: bisect
                new = 0.5 * (lo + hi)
            if new == b or hi - lo <= 4 * np.finfo(float).eps * max(1.0, abs(b)):
                return new
            b = new
        return b

    def value(self, pred, y):
        b = self.offset(pred, y)
        if not math.isfinite(b):
            return 0.0
        xp = namespace_of(pred, y)
        return float(xp.mean(xp.logaddexp(0.0, -y * (pred + b))))

    def gradient(self, pred, y):
        xp = namespace_of(pred, y)
        b = self.offset(pred, y)
        if not math.isfinite(b):
            return xp.zeros_like(pred)
        g = -y * _sigmoid(-y * (pred + b)) / y.shape[0]
        return g - xp.mean(g)

    def columns(self, pred, y):
        # one offset per column (each from the previous call's, a close guess along a descent)
        b = _column_offsets(pred, y, self._column_offsets)
        self._column_offsets = b
        finite = np.isfinite(b)
        margin = y * (pred + np.where(finite, b, 0.0))
        total = float(np.logaddexp(0.0, -margin)[:, finite].sum()) / y.shape[0]
        g = -y * expit(-margin) / y.shape[0]
        g -= g.mean(axis=0)
        g[:, ~finite] = 0.0
        return total, g

    def hessian(self, pred, y):
        """The diagonal part ``h`` of the Hessian ``diag(h) - c c^T`` (:meth:`hessian_rank_one`)."""
        xp = namespace_of(pred, y)
        b = self.offset(pred, y)
        if not math.isfinite(b):
            return xp.zeros_like(pred)
        p = _sigmoid(y * (pred + b))
        return p * (1 - p) / y.shape[0]

    def hessian_rank_one(self, pred, y):
        """``c`` with the Hessian ``diag(h) - c c^T``, ``h`` = :meth:`hessian`, ``c = h / sqrt(1^T h)``."""
        xp = namespace_of(pred, y)
        h = self.hessian(pred, y)
        total = float(xp.sum(h))
        return h / math.sqrt(total) if total > 0 else h

    def min_curvature(self, radius):
        return 0.0  # constant along pred + t 1

    def dual(self, z, y):
        # F*(s) = L*(s) on 1^T s = 0: the logistic dual where the entries of z sum to zero (up to
        # rounding relative to their size), -inf elsewhere
        xp = namespace_of(z, y)
        total = float(xp.sum(z))
        size = float(xp.sum(xp.abs(z)))
        if abs(total) > 1e-12 * max(size, 1.0 / y.shape[0]):
            return -np.inf
        return LogisticLoss.dual(self, z, y)

    def cvxpy(self, pred, y):
        b = cp.Variable(name="offset")
        return cp.sum(cp.logistic(-cp.multiply(y, pred + b))) / y.shape[0]


_NEWTON_LAST_STEP = 1e-7


def _column_offsets(pred, y, guess=None):
    """:meth:`LogisticOffsetLoss.offset` of every column of ``pred``, ``y`` (numpy, shape (n, K)) by
    one bracketed Newton iteration on all columns at once (the Adam start of a one-vs-rest fit):
    the same bracket; ``guess`` (shape (K,)) starts the columns it brackets. A column stops once
    its Newton step is below ``_NEWTON_LAST_STEP = 1e-7`` of ``max(1, |b|)``, that step applied:
    the logistic's third derivative in ``b`` is at most its second (``|sigma''| <= sigma'``), so
    Newton's error after a step ``s`` is at most about ``s^2 / 2``, 5e-15 here, and the confirming
    evaluations the scalar solve makes are saved (the loop is most of the Adam start's time; most
    calls still take 3 Newton steps from the previous call's offsets). The (n, K) passes
    reuse two buffers and the per-column bracket logic runs on Python floats: at the sizes of
    an Adam start (K outputs, a few hundred rows) numpy's per-call overhead was most of the
    time (0.34 -> 0.15 ms a call on iris)."""
    n, K = pred.shape
    positive = (y > 0).sum(axis=0)
    negative = n - positive
    finite = ((positive > 0) & (negative > 0)).tolist()
    t = np.abs(np.log(np.maximum(positive, 1) / np.maximum(negative, 1))) + 1.0
    lo = (-pred.max(axis=0) - t).tolist()
    hi = (-pred.min(axis=0) + t).tolist()
    has_guess = guess is not None and guess.shape == (K,)
    guesses = guess.tolist() if has_guess else None
    b = [0.0] * K
    for k in range(K):
        if finite[k]:
            b[k] = 0.5 * (lo[k] + hi[k])
            if has_guess and lo[k] < guesses[k] < hi[k]:
                b[k] = guesses[k]
    ypred = y * pred
    margin, s = np.empty_like(ypred), np.empty_like(ypred)
    active = [k for k in range(K) if finite[k]]
    for _ in range(200):
        if not active:
            break
        np.multiply(y, b, out=margin)
        margin += ypred
        np.negative(margin, out=margin)
        expit(margin, out=s)  # every column: K is small, a gather would cost more
        first = (-np.einsum("nk,nk->k", y, s)).tolist()
        np.subtract(1.0, s, out=margin)
        second = np.einsum("nk,nk->k", s, margin).tolist()
        still = []
        for k in active:
            fk, sk, bk = first[k], second[k], b[k]
            if fk > 0:
                hi[k] = bk
            elif fk < 0:
                lo[k] = bk
            step = fk / sk if sk > 0 else math.inf
            newton = bk - step
            scale = max(1.0, abs(bk))
            small = abs(step) <= _NEWTON_LAST_STEP * scale
            # outside the bracket: bisect, unless the step is at rounding level (b is the root)
            if fk != 0:
                b[k] = newton if lo[k] < newton < hi[k] else (bk if small else 0.5 * (lo[k] + hi[k]))
            if not (fk == 0 or small or hi[k] - lo[k] <= 4 * _EPS * scale):
                still.append(k)
        active = still
    b = np.asarray(b, dtype=np.float64)
    finite = np.asarray(finite)
    return np.where(finite, b, np.where(negative == 0, np.inf, -np.inf))


_EPS = np.finfo(float).eps


def _sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow, in the namespace of ``x`` (scipy's expit for numpy)."""
    xp = namespace_of(x)
    if is_numpy_namespace(xp):
        return expit(x)
    return xp.exp(-xp.logaddexp(0.0, -x))


def _xlogx(p):
    """``p log p`` with ``0 log 0 = 0`` for ``p >= 0``, in the namespace of ``p``."""
    xp = namespace_of(p)
    if is_numpy_namespace(xp):
        return xlogy(p, p)
    positive = p > 0
    return xp.where(positive, p * xp.log(xp.where(positive, p, 1.0)), 0.0)


def _check_labels(y, loss_name):
    y = np.asarray(y, dtype=np.float64)
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError(
            f"y must hold labels -1 and +1 for the {loss_name} loss; found values "
            f"{np.unique(y)[:5]}. Map class labels to -1/+1 first."
        )
    return y


class HingeLoss(Loss):
    """Hinge loss ``F(pred) = (1/n) sum_k max(0, 1 - y_k pred_k)`` for ``y`` in {-1, +1}.

    The loss is not differentiable at the margin ``y_k pred_k = 1``; :meth:`gradient` returns the
    subgradient that is 0 there (``smooth = False``). Use it with the cvxpy solvers: the native
    first-order solvers need a Lipschitz gradient and refuse it, and ``solver='auto'`` hands it to
    cvxpy. Its conjugate gives the dual ``max sum_k y_k z_k`` over ``0 <= y_k z_k <= 1/n``.
    """

    name = "hinge"
    labels = True

    def check_target(self, y):
        return _check_labels(y, self.name)

    def value(self, pred, y):
        return float(np.mean(np.maximum(0.0, 1.0 - y * pred)))

    def gradient(self, pred, y):
        return -y * (y * pred < 1.0) / y.shape[0]

    def dual(self, z, y):
        # F*(s) = sum_k y_k s_k when -1/n <= y_k s_k <= 0, so -F*(-z) = y^T z on 0 <= y_k z_k <= 1/n
        n = y.shape[0]
        p = n * y * z
        if np.any(p < -1e-12) or np.any(p > 1 + 1e-12):
            return -np.inf
        return float(y @ z)

    def cvxpy(self, pred, y):
        return cp.sum(cp.pos(1 - cp.multiply(y, pred))) / y.shape[0]


class HuberLoss(Loss):
    """Huber loss ``F(pred) = (1/n) sum_k h(pred_k - y_k)`` with threshold ``delta``.

    ``h(r) = r^2 / 2`` for ``|r| <= delta`` and ``delta (|r| - delta / 2)`` beyond: the squared loss
    near the target, the absolute loss (times ``delta``) far from it, so outliers pull with a
    bounded force. Its gradient ``clip(r, -delta, delta) / n`` is Lipschitz (curvature <= 1), so
    every native solver takes it. The conjugate is the squared loss's restricted to a box:
    ``-F*(-z) = z^T y - (n/2) ||z||^2`` on ``|n z_k| <= delta``, ``-inf`` outside.

    Parameters
    ----------
    delta : float, default=1.0
        Residual size where the loss turns from quadratic to linear, > 0 (in the units of ``y``).
    """

    name = "huber"
    smooth = True
    curvature = 1.0

    def __init__(self, delta=1.0):
        delta = float(delta)
        if not (np.isfinite(delta) and delta > 0):
            raise ValueError(f"delta must be a finite number > 0, got {delta!r}.")
        self.delta = delta

    def value(self, pred, y):
        xp = namespace_of(pred, y)
        r = xp.abs(pred - y)
        inner = xp.minimum(r, self.delta)
        # r^2/2 inside; delta r - delta^2/2 = inner^2/2 + delta (r - inner) outside
        return float(xp.sum(0.5 * inner * inner + self.delta * (r - inner)) / y.shape[0])

    def gradient(self, pred, y):
        xp = namespace_of(pred, y)
        return xp.clip(pred - y, -self.delta, self.delta) / y.shape[0]

    def hessian(self, pred, y):
        xp = namespace_of(pred, y)
        inside = xp.abs(pred - y) <= self.delta
        if is_numpy_namespace(xp):
            return inside / float(y.shape[0])
        return xp.astype(inside, y.dtype) / float(y.shape[0])

    def dual(self, z, y):
        # per sample h*(t) = t^2 / 2 on |t| <= delta, so -F*(-z) = z^T y - (n/2)||z||^2 on |n z| <= delta
        xp = namespace_of(z, y)
        n = y.shape[0]
        if bool(xp.any(xp.abs(n * z) > self.delta * (1 + 1e-12))):
            return -np.inf
        return float(z @ y) - 0.5 * n * float(z @ z)

    def cvxpy(self, pred, y):
        # cvxpy's huber(r, M) is r^2 inside and 2 M |r| - M^2 outside: twice h
        return cp.sum(cp.huber(pred - y, self.delta)) / (2 * y.shape[0])

    def __repr__(self):
        return f"HuberLoss(delta={self.delta!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.delta == other.delta

    def __hash__(self):
        return hash((type(self), self.delta))


_LOSSES = {cls.name: cls for cls in (SquaredLoss, LogisticLoss, LogisticOffsetLoss, HingeLoss,
                                      HuberLoss)}


#: names of the registered losses of real-valued targets (what the regressors' ``loss`` accepts)
REGRESSION_LOSSES = tuple(name for name, cls in _LOSSES.items() if not cls.labels)


def get_loss(loss):
    """Return a :class:`Loss` instance from a name or an instance.

    Names: 'squared', 'logistic', 'logistic_offset', 'hinge', 'huber' (with ``delta=1``; pass ``HuberLoss(delta)``
    for another threshold).
    """
    if isinstance(loss, Loss):
        return loss
    if loss in _LOSSES:
        return _LOSSES[loss]()
    raise ValueError(f"loss must be one of {sorted(_LOSSES)} or a Loss instance, got {loss!r}.")
