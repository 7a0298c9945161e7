"""FISTA for the unconstrained (gated ReLU) group-lasso program, with a certificate every step.

Accelerated proximal gradient (Beck & Teboulle 2009) on ``min_U f(U) + lam R(U)`` where the smooth
part ``f`` depends on ``U`` only through linear images (the predictions, and for the augmented
Lagrangian also the constraint values), which are carried along the iteration: the extrapolated
point's images are the same combination of the iterates' images, so one iteration costs one
forward product (at the new iterate) and one adjoint product (at the extrapolated point), plus one
forward per backtracking step. Step sizes come from a backtracking line search on the quadratic
upper model (shrink by 1/2, grow by ``1.1`` each step); momentum restarts when it points uphill
(the gradient test of O'Donoghue & Candes 2015).

Certificate for free: at the extrapolated point ``y`` the solver has ``g = grad f(y)``. For the loss
alone ``-g = K^T z`` with ``z = -grad F(K y)``; for the augmented Lagrangian ``-g = K^T z + C^T q``
with ``q >= 0``. Either way ``s = min(1, lam / R*(g))`` makes ``(s z, s q)`` dual feasible and
``loss.dual(s z)`` is a lower bound on the optimum of the *original* program (see
:meth:`convexnn.problems.ReLUProblem.dual_bound`). The running maximum of these bounds against the
current objective is the certified gap used for stopping.

The iteration is exposed as ``init``/``step`` on the solver; :func:`fista_init`/:func:`fista_step`
are the pure functions underneath.

Array namespaces: the iteration computes in the namespace and on the device of the problem's
block operator (:meth:`~convexnn.problems.ConvexProblem.block_operator`, numpy unless the problem
was built from torch or CuPy arrays), so iterates, images and gradients stay there; each iteration
reads back only scalars (loss values, inner products, the dual norm) for the line search and the
certificate. The :class:`~convexnn.results.SolveResult` is the host record: its coefficients are a
float64 numpy copy. The float64 confirmation of the gap before stopping runs on the host for data
in host memory, and on the device otherwise (FISTA, through a float64 copy of the operator there:
twice the device memory of a float32 solve, instead of host products over the whole data).
For a :class:`~convexnn.problems.GatedReLUProblem` on a ``dask.array`` the operator is a
:class:`~convexnn._dask.DaskBlockOperator`: the coefficients stay numpy arrays on the client, the
vectors of size ``n_samples`` (predictions, gradients of the loss) are held on the dask workers
(``operator.hold``), and each iteration reads back scalars and one small adjoint.
"""

import dataclasses
import logging
import math
import time
import warnings

import numpy as np

from .._array_api import is_numpy_namespace, namespace_of, to_numpy
from ..operators import check_dtype
from ..results import ConvergenceWarning, SolveResult
from ..validation import check_positive
from .base import Solver

__all__ = ["FISTA", "FISTAState", "LossSmooth", "fista_init", "fista_step"]

logger = logging.getLogger(__name__)

_SHRINK = 0.5
_GROW = 1.1
_MAX_BACKTRACK = 60
# one dict of ~7 floats per iteration in SolveResult.history (measured with tracemalloc: ~450 B)
_HISTORY_BYTES_PER_ITER = 600


class LossSmooth:
    """Smooth part ``f(U) = F(K U)`` of an unconstrained program, through its block operator.

    Parameters
    ----------
    operator : BlockOperator
    loss : Loss
    y : array of shape (n_samples,)
        Targets; held in float64 in the operator's namespace and device.
    """

    def __init__(self, operator, loss, y):
        self.operator = operator
        self.loss = loss
        self.y = operator.asarray(y, np.float64)
        self.scale = _loss_scale(loss, self.y)

    def forward(self, coef):
        """Linear images of ``coef`` that ``f`` depends on (a tuple of arrays)."""
        return (self.operator.predict(coef),)

    def value(self, images):
        """``(f, loss)``: the smooth value and the data-fit part of it (floats)."""
        loss = self.loss.value(_as_float64(self.operator, images[0]), self.y)
        return loss, loss

    def gradient(self, images):
        """``(grad f, z)``: the gradient (shape of coef) and ``z = -grad F(pred)`` (float64)."""
        grad_pred = self.loss.gradient(_as_float64(self.operator, images[0]), self.y)
        grad_pred = self.operator.hold(grad_pred)  # used by the adjoint and the certificate
        grad = self.operator.adjoint(_as_working(self.operator, grad_pred))
        return grad, -grad_pred


def _as_float64(operator, values):
    """``values`` in float64, in the operator's namespace (the losses are evaluated in float64)."""
    return operator.xp.astype(values, operator.xp.float64)


def _as_working(operator, values):
    """``values`` in the operator's working dtype."""
    return operator.xp.astype(values, operator.array_dtype)


def _loss_scale(loss, y):
    """Size of the terms that cancel in a loss value: the loss at zero prediction.

    Rounding in ``loss.value`` is relative to this, not to the (possibly tiny) value itself, so
    the line search's slack uses it.
    """
    xp = namespace_of(y)
    return abs(float(loss.value(xp.zeros_like(y), y)))


@dataclasses.dataclass
class FISTAState:
    """One point of the FISTA iteration (read its fields in a notebook, pass it to ``step``).

    Attributes
    ----------
    coef : ndarray of shape (n_blocks, n_features)
        The current iterate ``x`` (working dtype).
    images : tuple of ndarray
        Linear images of ``coef`` (predictions, constraint values) from ``smooth.forward``.
    extrap, extrap_images, extrap_value
        The extrapolated point ``y``, its images and ``f(y)``.
    momentum : float
        FISTA's ``t_k`` (1 right after a restart).
    step : float
        Current step size ``1/L``.
    objective : float
        ``loss + lam R`` at ``coef``.
    lower_bound : float
        Best certified lower bound found so far (``-inf`` before the first step).
    grad_map : float
        Norm of the last gradient mapping ``(y - x_new) / step`` (a KKT residual).
    bound_point : ndarray or None
        The extrapolated point whose gradient gave ``lower_bound``: in float32 the running bound is
        only a guide, and the solver recomputes the bound at this point in float64 to confirm it.
    n_iter, n_forward, n_restart : int
        Iterations, forward products (iterations + backtracks) and momentum restarts so far.
    """

    coef: object
    images: tuple
    extrap: object
    extrap_images: tuple
    extrap_value: float
    momentum: float
    step: float
    objective: float
    lower_bound: float = -math.inf
    grad_map: float = math.inf
    bound_point: object = None
    n_iter: int = 0
    n_forward: int = 0
    n_restart: int = 0

    @property
    def gap(self):
        """Certified gap ``objective - lower_bound``."""
        return self.objective - self.lower_bound

    @property
    def rel_gap(self):
        """Gap relative to ``|objective|`` (inf before the first bound)."""
        return self.gap / max(abs(self.objective), np.finfo(float).tiny)


def _vdot(a, b):
    xp = namespace_of(a, b)
    return float(xp.sum(a * b))


def _combine(images_new, images_old, beta):
    return tuple(new + beta * (new - old) for new, old in zip(images_new, images_old))


def fista_init(smooth, penalty, lam, coef, step=None):
    """Start FISTA at ``coef``; estimate the first step from a gradient difference if not given."""
    images = smooth.forward(coef)
    value, loss = smooth.value(images)
    n_forward = 1
    if step is None:
        # 1/L from a secant along the gradient: two extra products, saves a long backtrack
        grad, _ = smooth.gradient(images)
        norm = math.sqrt(_vdot(grad, grad))
        step = 1.0
        if norm > 0:
            probe = coef - (1.0 / norm) * grad
            grad_probe, _ = smooth.gradient(smooth.forward(probe))
            n_forward += 1
            diff = grad_probe - grad
            curvature = math.sqrt(_vdot(diff, diff)) * norm
            if curvature > 0 and math.isfinite(curvature):
                step = 1.0 / curvature
    return FISTAState(
        coef=coef,
        images=images,
        extrap=coef,
        extrap_images=images,
        extrap_value=value,
        momentum=1.0,
        step=float(step),
        objective=loss + lam * penalty.value(coef),
        n_forward=n_forward,
    )


def fista_step(state, smooth, penalty, lam):
    """One FISTA iteration with backtracking and restart; returns a new :class:`FISTAState`."""
    y = state.extrap
    grad, z = smooth.gradient(state.extrap_images)
    # certificate from the gradient at y (see the module docstring)
    oracle = penalty.dual_norm(grad)
    scale = 1.0 if oracle <= lam else lam / oracle
    bound = smooth.loss.dual(smooth.operator.hold(scale * z), smooth.y)
    lower_bound, bound_point = state.lower_bound, state.bound_point
    if bound > lower_bound:
        lower_bound, bound_point = bound, y

    step, f_y = state.step, state.extrap_value
    slack = 10 * np.finfo(smooth.operator.dtype).eps * (abs(f_y) + smooth.scale)
    n_forward = state.n_forward
    for _ in range(_MAX_BACKTRACK):
        x_new = penalty.prox(y - step * grad, step * lam)
        images = smooth.forward(x_new)
        n_forward += 1
        f_new, loss_new = smooth.value(images)
        d = x_new - y
        dd = _vdot(d, d)
        if f_new <= f_y + _vdot(grad, d) + dd / (2 * step) + slack:
            break
        step *= _SHRINK
    else:
        # no step passes the test: the model is below rounding (f(y) carried along the iteration
        # drifted from a fresh evaluation). Restart from the iterate with fresh images, same step.
        images = smooth.forward(state.coef)
        value, loss = smooth.value(images)
        return dataclasses.replace(
            state, extrap=state.coef, images=images, extrap_images=images, extrap_value=value,
            momentum=1.0, lower_bound=lower_bound, bound_point=bound_point, n_iter=state.n_iter + 1,
            n_forward=n_forward + 1, n_restart=state.n_restart + 1,
        )
    grad_map = math.sqrt(dd) / step

    n_restart = state.n_restart
    if _vdot(y - x_new, x_new - state.coef) > 0:  # momentum points uphill: restart
        momentum, extrap, extrap_images, extrap_value = 1.0, x_new, images, f_new
        n_restart += 1
    else:
        momentum = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * state.momentum**2))
        beta = (state.momentum - 1.0) / momentum
        extrap = x_new + beta * (x_new - state.coef)
        extrap_images = tuple(smooth.operator.hold(v)
                              for v in _combine(images, state.images, beta))
        extrap_value = smooth.value(extrap_images)[0]
    return FISTAState(
        coef=x_new,
        images=images,
        extrap=extrap,
        extrap_images=extrap_images,
        extrap_value=extrap_value,
        momentum=momentum,
        step=step * _GROW,
        objective=loss_new + lam * penalty.value(x_new),
        lower_bound=lower_bound,
        bound_point=bound_point,
        grad_map=grad_map,
        n_iter=state.n_iter + 1,
        n_forward=n_forward,
        n_restart=n_restart,
    )


class _NativeBase(Solver):
    """Options and the solve loop shared by the native solvers."""

    def __init__(self, *, tol=1e-6, max_iter=10000, dtype="float64", verbose=False):
        if max_iter is None:  # as for the cvxpy solvers: None keeps the default cap
            max_iter = 10000
        check_positive(tol, "tol")
        check_positive(max_iter, "max_iter", integer=True)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.dtype = check_dtype(dtype).name
        self.verbose = verbose

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        """Iterates and their images (about 12 arrays of shape (n_samples, n_blocks) and 10 of
        the coefficients' shape in the working dtype) plus the per-iteration history."""
        itemsize = np.dtype(self.dtype).itemsize
        arrays = 12 * int(n_samples) * int(n_blocks) + 10 * int(n_blocks) * int(n_columns)
        return itemsize * arrays + _HISTORY_BYTES_PER_ITER * self.max_iter

    def _start_coef(self, problem, init, operator=None):
        """The starting coefficients (``init`` or zeros) in the working dtype, in the namespace
        and on the device of ``operator`` (numpy when None)."""
        if operator is None:
            dtype = np.dtype(self.dtype)
            if init is None:
                return np.zeros(problem.coef_shape, dtype=dtype)
            return problem.check_coef(to_numpy(init)).astype(dtype)
        if init is None:
            return operator.zeros(problem.coef_shape)
        return operator.asarray(problem.check_coef(to_numpy(init)))

    def _record(self, state):
        raise NotImplementedError

    def _converged(self, state):
        raise NotImplementedError

    def _finish(self, problem, state):
        """``(coef, lower_bound)`` of the final state, in float64."""
        raise NotImplementedError

    def _final(self, problem, state):
        coef, lower_bound = self._finish(problem, state)
        return coef, lower_bound, problem.objective(coef), problem.constraint_violation(coef)

    def _certified(self, coef, lower_bound, objective, violation):
        """The stopping rule on float64 figures: relative gap <= tol (and violation, if any)."""
        gap_ok = lower_bound is not None and objective - lower_bound <= self.tol * abs(objective)
        return gap_ok and violation <= getattr(self, "constraint_tol", 0.0)

    def solve(self, problem, init=None):
        """Iterate until the certified stopping rule holds or ``max_iter`` runs out.

        The running test (working dtype, best bound so far) is confirmed on the float64 figures
        that the result reports (objective, bound at the returned point, violation) before
        stopping, so ``status='optimal'`` means the reported gap and violation meet the
        tolerances. Otherwise ``'max_iter'``, with a :class:`ConvergenceWarning`.
        """
        start = time.perf_counter()
        state = self.init(problem, init)
        history = []
        status = "max_iter"
        iterator = range(self.max_iter)
        if self.verbose:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc=self.name)
        next_check = 0
        final = None
        for _ in iterator:
            state = self.step(state)
            history.append(self._record(state))
            if state.n_iter >= next_check and self._converged(state):
                # the running test is in the working dtype: confirm it in float64 before stopping
                final = self._final(problem, state)
                if self._certified(*final):
                    status = "optimal"
                    break
                next_check = state.n_iter + max(10, state.n_iter // 10)
        elapsed = time.perf_counter() - start
        if final is None or status != "optimal":
            final = self._final(problem, state)
        coef, lower_bound, objective, violation = final
        if status != "optimal":
            gap = "unknown" if lower_bound is None else f"{(objective - lower_bound) / abs(objective):.2e}"
            warnings.warn(
                f"{self.name} stopped with status 'max_iter' after {self.max_iter} iterations: "
                f"relative gap {gap} (tol {self.tol:g}), constraint violation {violation:.2e}. "
                "Increase max_iter or loosen tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        logger.info("%s: %s, %d iterations in %.3fs", self.name, status, state.n_iter, elapsed)
        return SolveResult(
            coef=coef,
            objective=objective,
            status=status,
            solver=self.name,
            lam=problem.lam,
            n_iter=state.n_iter,
            time=elapsed,
            lower_bound=lower_bound,
            constraint_violation=violation,
            n_active=problem.active_blocks(coef).size,
            history=history,
        )


def _confirm_on_device(operator):
    """Whether FISTA confirms its gap on the operator's device: for arrays off the host (a GPU),
    where host products over the whole data would cost more than the iterations."""
    return not is_numpy_namespace(operator.xp) and str(operator.device) != "cpu"


def _bound_at(smooth, penalty, lam, coef):
    """The certified lower bound ``loss.dual(s z)`` at ``coef`` (``z = -grad F``, ``s`` scaling it
    into the dual-feasible set), computed with ``smooth``'s operator."""
    grad, z = smooth.gradient(smooth.forward(coef))
    oracle = penalty.dual_norm(grad)
    scale = 1.0 if oracle <= lam else lam / oracle
    return smooth.loss.dual(scale * z, smooth.y)


class FISTA(_NativeBase):
    """Accelerated proximal gradient for programs without constraints (the gated ReLU program).

    Minimizes ``loss.value(K U, y) + lam * penalty.value(U)`` using only the problem's block
    operator (``K``, ``K^T``), ``loss.gradient``/``loss.dual`` and ``penalty.prox``/``dual_norm``
    (declared in :attr:`loss_needs` and :attr:`penalty_needs`: a loss without a Lipschitz gradient,
    such as the hinge loss, is refused with a message naming what is missing). Stops when the certified relative gap ``(objective - lower_bound) / objective <= tol``.

    Parameters
    ----------
    tol : float, default=1e-6
        Relative duality-gap tolerance.
    max_iter : int, default=10000
        Iteration cap; reaching it warns with a ConvergenceWarning (status ``'max_iter'``).
    dtype : {'float64', 'float32'}, default='float64'
        Working precision of the products. The reported bound is recomputed in float64.
    verbose : bool, default=False
        Show a tqdm progress bar.

    Examples
    --------
    Step through the iteration::

        solver = FISTA()
        state = solver.init(problem)
        for _ in range(100):
            state = solver.step(state)
        state.objective, state.rel_gap
    """

    name = "fista"
    loss_needs = ("gradient", "dual")
    penalty_needs = ("prox", "dual_norm")

    def supports(self, problem):
        """Whether ``problem`` has no constraints and its loss and penalty give what FISTA needs."""
        return not problem.has_constraints and super().supports(problem)

    def init(self, problem, init=None):
        """Initial :class:`FISTAState` (at ``init`` or zero) for ``problem``.

        Raises
        ------
        ValueError
            For a program with constraints, or a loss or penalty without a method FISTA needs
            (:attr:`loss_needs`, :attr:`penalty_needs`: a Lipschitz gradient, the conjugate, the
            prox, the dual norm).
        """
        if problem.has_constraints:
            raise ValueError(
                f"solver 'fista' needs a program without constraints, got {problem!r}; use "
                "solver='augmented_lagrangian' (or 'native', which picks it) for cone constraints."
            )
        self.check_needs(problem)
        operator = problem.block_operator(self.dtype)
        smooth = LossSmooth(operator, problem.loss, problem.y)
        coef = self._start_coef(problem, init, operator)
        state = fista_init(smooth, problem.penalty, problem.lam, coef)
        state._model = (smooth, problem.penalty, problem.lam)
        return state

    def step(self, state):
        """One iteration; returns the next state."""
        model = state._model
        new = fista_step(state, *model)
        new._model = model
        return new

    def _record(self, state):
        return {
            "iter": state.n_iter,
            "objective": state.objective,
            "lower_bound": state.lower_bound,
            "rel_gap": state.rel_gap,
            "step": state.step,
        }

    def _converged(self, state):
        return state.rel_gap <= self.tol

    def _final(self, problem, state):
        """Float64 ``(coef, lower_bound, objective, violation)``: on the host, or on the device of
        the operator when :func:`_confirm_on_device` says so (same formulas as
        :meth:`~convexnn.problems.GatedReLUProblem.dual_bound` and ``problem.objective``)."""
        operator = state._model[0].operator
        if not _confirm_on_device(operator):
            return super()._final(problem, state)
        exact = LossSmooth(problem.block_operator(np.float64, xp=operator.xp,
                                                  device=operator.device), problem.loss, problem.y)
        coef = exact.operator.asarray(state.coef)
        bound = _bound_at(exact, problem.penalty, problem.lam, coef)
        if np.dtype(self.dtype) == np.float64:
            bound = max(bound, state.lower_bound)
        elif state.bound_point is not None:
            point = exact.operator.asarray(state.bound_point)
            bound = max(bound, _bound_at(exact, problem.penalty, problem.lam, point))
        objective = exact.value(exact.forward(coef))[0] + problem.lam * problem.penalty.value(coef)
        return to_numpy(coef), bound, objective, 0.0

    def _finish(self, problem, state):
        coef = to_numpy(state.coef).astype(np.float64)
        bound = problem.dual_bound(coef)
        if np.dtype(self.dtype) == np.float64:
            bound = max(bound, state.lower_bound)
        elif state.bound_point is not None:
            # the running bound came from float32 products: recompute it at its point in float64
            point = to_numpy(state.bound_point).astype(np.float64)
            bound = max(bound, problem.dual_bound(point))
        return coef, bound
