"""Augmented Lagrangian method for programs with cone constraints (the ReLU program).

For ``min_U F(K U) + lam R(U)`` s.t. ``C U >= 0`` (``C U = O * (A U^T)``, one column of constraint
values per block), the augmented Lagrangian with multipliers ``mu >= 0`` (shape (n_samples,
n_blocks)) and penalty ``rho > 0`` is

    L_rho(U, mu) = F(K U) + lam R(U) + (1 / (2 rho)) (||(mu - rho C U)_+||^2 - ||mu||^2).

Each outer round minimizes ``L_rho(., mu)`` with the FISTA machinery of :mod:`.fista` (the smooth
part carries the predictions and the constraint values as its linear images), then updates
``mu <- (mu - rho C U)_+`` and multiplies ``rho`` by 3 when the violation did not fall by 4x.
An outer round ends when the inner gradient mapping is below a tolerance that shrinks by 0.3 each
round (or after ``max_inner`` inner steps). Measured alternative (not the default): a fixed
``rho = 100 / n_samples`` with ``max_inner=20`` took 10.6k instead of 15.7k iterations on the
(300, 10, 30) benchmark problem but was less accurate on small logistic problems.

Certificate: the inner gradient at the extrapolated point is ``-(K^T z + C^T q)`` with
``z = -grad F`` and ``q = (mu - rho C y)_+ >= 0``, a Lagrangian dual point for the *original*
program; scaling it into the dual-feasible set gives the lower bound derived in
:meth:`convexnn.problems.ReLUProblem.dual_bound`. The solver stops when the relative gap is at
most ``tol`` and the constraint violation ``max(0, -min C U)`` at most ``constraint_tol``, or
earlier when a *polished* point (the violating blocks projected exactly onto their cones, see
:meth:`AugmentedLagrangian._polish`) meets both tolerances with its own recomputed gap.

Array namespaces: as for :mod:`.fista`, the iteration (inner steps and multiplier updates) runs in
the namespace and on the device of the problem's block operator. Polishing is not part of it: the
exact projections are scipy NNLS solves, so a polishing attempt (every 50 to 800 iterations once the
gap is within 10x of ``tol``) copies the coefficients and multipliers to the host.
"""

import dataclasses
import math

import numpy as np

from .._array_api import NUMPY, namespace_of, to_numpy
from ..validation import check_positive
from .fista import (FISTAState, _as_float64, _as_working, _loss_scale, _NativeBase, fista_init,
                    fista_step)

__all__ = ["AugmentedLagrangian", "AugmentedSmooth", "ALState"]

_RHO_GROWTH = 3.0
_OMEGA_SHRINK = 0.3
_POLISH_EVERY = 50
# a polishing attempt that misses the gap by more than 10x doubles the wait before the next one,
# up to this many iterations (one that comes close resets it to _POLISH_EVERY): each attempt costs
# one NNLS per violating block, 64% of the time on the (1000, 20, 100) benchmark when every 50)
_POLISH_MAX_WAIT = 800


class AugmentedSmooth:
    """Smooth part of the augmented Lagrangian, ``F(K U) + (||(mu - rho C U)_+||^2 - ||mu||^2) / (2 rho)``.

    Parameters
    ----------
    operator : BlockOperator
        With constraints (``operator.O`` not None).
    loss : Loss
    y : ndarray of shape (n_samples,)
    multipliers : ndarray of shape (n_samples, n_blocks)
        ``mu >= 0`` in the operator's dtype.
    rho : float
        Penalty parameter, > 0.
    """

    def __init__(self, operator, loss, y, multipliers, rho):
        self.operator = operator
        self.loss = loss
        self.y = operator.asarray(y, np.float64)
        self.multipliers = multipliers
        self.rho = float(rho)
        self._mu_sq = float(operator.xp.sum(multipliers * multipliers))
        # the multiplier terms cancel on the scale of ||mu||^2 / (2 rho)
        self.scale = _loss_scale(loss, self.y) + self._mu_sq / (2 * self.rho)

    def forward(self, coef):
        features = self.operator.features(coef)
        return (
            self.operator.predict_features(features),
            self.operator.constrain_features(features),
        )

    def _shifted(self, values):
        return self.operator.xp.maximum(self.multipliers - self.rho * values, 0.0)

    def value(self, images):
        loss = self.loss.value(_as_float64(self.operator, images[0]), self.y)
        q = self._shifted(images[1])
        return loss + (float((q * q).sum()) - self._mu_sq) / (2 * self.rho), loss

    def gradient(self, images):
        grad_pred = self.loss.gradient(_as_float64(self.operator, images[0]), self.y)
        q = self._shifted(images[1])
        grad = self.operator.adjoint(_as_working(self.operator, grad_pred), q)
        return grad, -grad_pred


def _violation(values):
    if values.shape[0] == 0 or values.shape[1] == 0:
        return 0.0
    xp = namespace_of(values)
    return max(0.0, -float(xp.min(values)))


@dataclasses.dataclass
class ALState:
    """State of the augmented Lagrangian iteration.

    Attributes
    ----------
    inner : FISTAState
        The inner FISTA state on the current augmented Lagrangian.
    multipliers : ndarray of shape (n_samples, n_blocks)
    rho : float
    omega : float
        Current inner tolerance on the gradient mapping.
    violation : float
        Constraint violation at ``inner.coef``.
    last_violation : float
        Violation at the last multiplier update.
    n_iter, n_outer, inner_iter : int
        Inner iterations in all, multiplier updates, inner iterations in this round.
    polished : tuple or None
        ``(coef, objective, lower_bound)`` of a polished point (violating blocks projected onto
        their cones, float64) that met both tolerances; the iteration stops there.
    polished_at : int
        Iteration of the last polishing attempt.
    polish_wait : int
        Iterations to wait before the next attempt (doubles after an attempt far from the
        tolerance, back to 50 after a close one).
    """

    inner: FISTAState
    multipliers: object
    rho: float
    omega: float
    violation: float
    last_violation: float = math.inf
    n_iter: int = 0
    n_outer: int = 0
    inner_iter: int = 0
    polished: object = None
    polished_at: int = -(10**9)
    polish_wait: int = _POLISH_EVERY

    @property
    def coef(self):
        return self.inner.coef

    @property
    def objective(self):
        return self.inner.objective

    @property
    def lower_bound(self):
        return self.inner.lower_bound

    @property
    def rel_gap(self):
        return self.inner.rel_gap


class AugmentedLagrangian(_NativeBase):
    """Augmented Lagrangian solver for programs with cone constraints (the ReLU program).

    Uses only the problem's block operator (predictions, constraint values and their adjoints),
    ``loss.gradient``/``loss.dual`` and ``penalty.prox``/``dual_norm`` (declared in
    :attr:`loss_needs` and :attr:`penalty_needs`; a loss or penalty lacking one is refused); see the
    module docstring for the method and the certificate.

    Parameters
    ----------
    tol : float, default=1e-6
        Relative duality-gap tolerance.
    constraint_tol : float, default=1e-6
        Tolerance on the largest constraint violation ``max(0, -min (2D_i - I) A u_b)``.
    max_iter : int, default=10000
        Cap on inner (FISTA) iterations in all; reaching it warns (status ``'max_iter'``).
    rho : float or None, default=None
        Initial penalty; None uses ``1 / n_samples`` (balances the mean loss's curvature).
    max_inner : int, default=5000
        Inner iterations after which the multipliers are updated regardless.
    dtype : {'float64', 'float32'}, default='float64'
    verbose : bool, default=False
    """

    name = "augmented_lagrangian"
    loss_needs = ("gradient", "dual")
    penalty_needs = ("prox", "dual_norm")

    def __init__(self, *, tol=1e-6, constraint_tol=1e-6, max_iter=10000, rho=None, max_inner=5000,
                 dtype="float64", verbose=False):
        super().__init__(tol=tol, max_iter=max_iter, dtype=dtype, verbose=verbose)
        check_positive(constraint_tol, "constraint_tol")
        if rho is not None:
            check_positive(rho, "rho")
        check_positive(max_inner, "max_inner", integer=True)
        self.constraint_tol = float(constraint_tol)
        self.rho = rho
        self.max_inner = int(max_inner)

    def supports(self, problem):
        """Whether ``problem`` has constraints and its loss and penalty give what this solver needs."""
        return problem.has_constraints and super().supports(problem)

    def init(self, problem, init=None):
        """Initial :class:`ALState` (at ``init`` or zero, multipliers zero).

        Raises
        ------
        ValueError
            For a program without constraints, or a loss or penalty without a method this solver
            needs (:attr:`loss_needs`, :attr:`penalty_needs`).
        """
        if not problem.has_constraints:
            raise ValueError(
                f"solver 'augmented_lagrangian' needs a program with constraints, got {problem!r}; "
                "use solver='fista' (or 'native', which picks it)."
            )
        self.check_needs(problem)
        operator = problem.block_operator(self.dtype)
        coef = self._start_coef(problem, init, operator)
        multipliers = operator.zeros((problem.n_samples, operator.n_constraints))
        rho = self.rho if self.rho is not None else 1.0 / problem.n_samples
        smooth = AugmentedSmooth(operator, problem.loss, problem.y, multipliers, rho)
        inner = fista_init(smooth, problem.penalty, problem.lam, coef)
        grad, _ = smooth.gradient(inner.images)
        scale = max(problem.penalty.dual_norm(grad), problem.lam, np.finfo(float).tiny)
        state = ALState(
            inner=inner,
            multipliers=multipliers,
            rho=rho,
            omega=0.1 * scale,
            violation=_violation(inner.images[1]),
        )
        state._model = (smooth, problem.penalty, problem.lam, 1e-3 * self.tol * scale, problem)
        return state

    def step(self, state):
        """One inner iteration, followed by a multiplier update when the round is done."""
        smooth, penalty, lam, omega_min, problem = state._model
        inner = fista_step(state.inner, smooth, penalty, lam)
        violation = _violation(inner.images[1])
        new = dataclasses.replace(
            state,
            inner=inner,
            violation=violation,
            n_iter=state.n_iter + 1,
            inner_iter=state.inner_iter + 1,
        )
        new._model = state._model
        if self._converged(new):
            return new
        if (
            inner.rel_gap <= 10 * self.tol
            and new.n_iter - state.polished_at >= state.polish_wait
        ):
            new = self._polish(new)
            if new.polished is not None:
                return new
        if inner.grad_map <= state.omega or new.inner_iter >= self.max_inner:
            new = self._update(new)
        return new

    def _polish(self, state):
        """Project the violating blocks onto their cones and test the stopping rule there.

        Blocks violating by more than ``constraint_tol / 10`` are replaced by their exact
        projections (:meth:`BlockOperator.project_block`), which makes the point feasible to NNLS
        precision at a small objective cost; the bound is recomputed in float64 with the current
        multipliers. Most of the augmented Lagrangian's iterations would otherwise go into pushing
        the violation from ~1e-4 down to ``constraint_tol``.
        """
        smooth, penalty, lam, omega_min, problem = state._model
        new = dataclasses.replace(state, polished_at=state.n_iter)
        new._model = state._model
        operator = problem.block_operator(np.float64, xp=NUMPY)
        coef = operator.project_violating(state.coef, 0.1 * self.constraint_tol)
        values = problem.constraint_values(coef)
        violation = max(0.0, -float(values.min()))
        objective = problem.objective(coef)
        mu = np.maximum(to_numpy(smooth.multipliers).astype(np.float64) - smooth.rho * values, 0)
        bound = problem.dual_bound(coef, multipliers=mu)
        if np.dtype(self.dtype) == np.float64:
            bound = max(bound, state.lower_bound)
        if violation <= self.constraint_tol and objective - bound <= self.tol * abs(objective):
            new.polished = (coef, objective, bound)
        elif objective - bound <= 10 * self.tol * abs(objective):
            new.polish_wait = _POLISH_EVERY  # close: keep trying often
        else:
            new.polish_wait = min(2 * state.polish_wait, _POLISH_MAX_WAIT)
        return new

    def _update(self, state):
        """Multiplier (and penalty) update at the end of an outer round."""
        smooth, penalty, lam, omega_min, problem = state._model
        inner = state.inner
        multipliers = smooth._shifted(inner.images[1])
        rho, step = state.rho, inner.step
        if state.violation > max(0.25 * state.last_violation, self.constraint_tol):
            rho *= _RHO_GROWTH
            step /= _RHO_GROWTH
        smooth = type(smooth)(smooth.operator, smooth.loss, smooth.y, multipliers, rho)
        value = smooth.value(inner.images)[0]
        inner = dataclasses.replace(
            inner, extrap=inner.coef, extrap_images=inner.images, extrap_value=value,
            momentum=1.0, step=step,
        )
        new = dataclasses.replace(
            state,
            inner=inner,
            multipliers=multipliers,
            rho=rho,
            omega=max(state.omega * _OMEGA_SHRINK, omega_min),
            last_violation=state.violation,
            n_outer=state.n_outer + 1,
            inner_iter=0,
        )
        new._model = (smooth, penalty, lam, omega_min, problem)
        return new

    def _record(self, state):
        return {
            "iter": state.n_iter,
            "objective": state.objective,
            "lower_bound": state.lower_bound,
            "rel_gap": state.rel_gap,
            "violation": state.violation,
            "rho": state.rho,
            "outer": state.n_outer,
        }

    def _converged(self, state):
        if state.polished is not None:
            return True
        return state.rel_gap <= self.tol and state.violation <= self.constraint_tol

    def _finish(self, problem, state):
        if state.polished is not None:
            coef, _, bound = state.polished
            return coef, bound
        smooth = state._model[0]
        coef = to_numpy(state.coef).astype(np.float64)
        values = problem.constraint_values(coef)
        mu = np.maximum(to_numpy(smooth.multipliers).astype(np.float64) - smooth.rho * values, 0)
        bound = problem.dual_bound(coef, multipliers=mu)
        if np.dtype(self.dtype) == np.float64:
            bound = max(bound, state.lower_bound)
        return coef, bound
