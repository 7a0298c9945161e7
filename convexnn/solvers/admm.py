"""ADMM for the cone-constrained ReLU program, with one fixed factorization (Bai, Gautam & Sojoudi).

Bai, Gautam & Sojoudi (2022, "Efficient global optimization of two-layer ReLU networks:
quadratic-time algorithms and adversarial training") split the convex ReLU program so that every
ADMM step is either a linear system with a *fixed* matrix or a closed-form projection. In this
package's notation (``K`` the prediction operator, ``C U = O * (A U^T)`` the cone constraints, mean
loss ``F``) the program ``min F(K U) + lam R(U)`` s.t. ``C U >= 0`` becomes

    min  F(K U) + lam R(V) + I(S >= 0)    s.t.   U = V,   C U = S

with ``V`` the group-lasso copy of the blocks and ``S`` (shape (n_samples, n_blocks)) the slack of
the constraints. The penalty is ``rho`` on ``U = V`` and ``rho * gamma`` on ``C U = S`` with
``gamma = 1 / ||A||_2^2`` (so both constraints are on the same scale). One iteration, in scaled
form with duals ``alpha`` (shape of U) and ``beta`` (shape of S) and over-relaxation ``a``:

1. ``U``: minimize ``F~(K U) + rho/2 ||U - V + alpha||^2 + rho gamma/2 ||C U - S + beta||^2`` where
   ``F~`` is the quadratic majorizer of ``F`` at the current ``U`` with curvature ``loss.curvature / n``
   (exact for the squared loss; a majorized, still convergent, step for the logistic loss). Since
   ``O * O = 1``, ``C^T C`` is block-diagonal with ``A^T A`` in every block, so the system matrix is
   ``c K^T K + rho (I (x) G)`` with ``G = I + gamma A^T A``. It is solved by the Woodbury identity
   with one (n_samples x n_samples) Cholesky factor of ``I + (c / rho) (A G^-1 A^T) o (W W^T)``,
   refactored only when ``rho`` changes. Four dense products with ``A`` per iteration.
2. ``V = prox_{(lam / rho) R}(a U + (1 - a) V + alpha)`` (group soft-thresholding).
3. ``S = (a C U + (1 - a) S + beta)_+`` (projection onto the non-negative orthant).
4. ``alpha += a U + (1 - a) V_old - V``, ``beta += a C U + (1 - a) S_old - S``.

``rho`` follows residual balancing (Boyd et al. 2011, sec. 3.4.1), at most every 25 iterations.

Certificate: ``mu = -rho gamma beta >= 0`` are cone multipliers (``beta <= 0`` after step 4), so
:meth:`convexnn.problems.ReLUProblem.dual_bound` turns ``(V, mu)`` into a certified lower bound on
the optimum of the *original* program; once the gap is below 1e-2 the multipliers fitted to the
KKT conditions at ``V`` (:func:`.polish.kkt_multipliers`, an NNLS per block: the exact-oracle
bound) are tried as well, every 20+ iterations. Every ``check_every`` iterations (and right after a warm
start) the solver evaluates the bound in float64 at ``V``; when the relative gap is at most ``tol``
but the violation is above ``constraint_tol``, the violating blocks are projected exactly onto
their cones (:meth:`BlockOperator.project_block`) and the gap is recomputed there. It stops at the
first point that meets both tolerances.

Warm starts: from ``init`` the multipliers are estimated from the KKT conditions (an NNLS per block,
see :meth:`ADMM._estimate_duals`), so starting at an optimum stops at the first check instead of
re-learning the multipliers from zero.
"""

import dataclasses
import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .._array_api import NUMPY
from ..validation import check_positive
from .fista import _HISTORY_BYTES_PER_ITER, _NativeBase
from .polish import MAX_REDUCED, kkt_multipliers, newton_polish

__all__ = ["ADMM", "ADMMState"]

_BALANCE_EVERY = 25
_BALANCE_RATIO = 10.0
_RHO_FACTOR = 4.0
_POLISH_GAP = 1e-2
_KKT_GAP = 1e-2
_POLISH_RESIDUAL = 1e-3
_POLISH_SPACING = 20


@dataclasses.dataclass
class ADMMState:
    """State of the ADMM iteration (read its fields in a notebook, pass it to ``step``).

    Attributes
    ----------
    coef : ndarray of shape (n_blocks, n_features)
        ``V``, the group-sparse iterate (working dtype).
    u : ndarray of shape (n_blocks, n_features)
        ``U``, the iterate of the linear-system step.
    slack, beta : ndarray of shape (n_samples, n_blocks)
        ``S >= 0`` and its scaled dual (``<= 0``).
    alpha : ndarray of shape (n_blocks, n_features)
        Scaled dual of ``U = V``.
    features_u, features_v, features_alpha : ndarray of shape (n_samples, n_blocks)
        ``A U^T``, ``A V^T`` and ``A alpha^T``, carried along so ``V``'s objective costs no product.
    rho : float
    objective : float
        Objective at ``V`` (working dtype, constraints not enforced).
    violation : float
        Constraint violation at ``V``.
    lower_bound : float
        Best certified lower bound so far (float64; ``-inf`` before the first check).
    primal_residual, dual_residual : float
        Relative ADMM residuals of the last iteration.
    n_iter : int
    certified : tuple or None
        ``(coef, lower_bound)`` in float64 of a point that met both tolerances (possibly polished).
    """

    coef: object
    u: object
    slack: object
    alpha: object
    beta: object
    features_u: object
    features_v: object
    features_alpha: object
    rho: float
    objective: float
    violation: float
    lower_bound: float = -math.inf
    primal_residual: float = math.inf
    dual_residual: float = math.inf
    n_iter: int = 0
    last_balance: int = 0
    next_polish: int = 0
    next_kkt: int = 0
    certified: object = None

    @property
    def gap(self):
        return self.objective - self.lower_bound

    @property
    def rel_gap(self):
        return self.gap / max(abs(self.objective), np.finfo(float).tiny)


class _Model:
    """What does not change along the iteration: operators, ``G^-1`` and the Woodbury factor."""

    def __init__(self, problem, operator, curvature, relaxation):
        self.problem = problem
        self.operator = operator
        self.loss = problem.loss
        self.penalty = problem.penalty
        self.lam = problem.lam
        self.y = problem.y
        self.relaxation = relaxation
        n = problem.n_samples
        self.curvature = curvature / n  # c: the majorizer's curvature of the mean loss
        A = np.asarray(problem.design, dtype=np.float64)
        gram = A.T @ A
        self.gamma = 1.0 / max(np.linalg.eigvalsh(gram)[-1], np.finfo(float).tiny)
        G = np.eye(A.shape[1]) + self.gamma * gram
        H = np.linalg.inv(G)
        H = 0.5 * (H + H.T)
        self.H = H.astype(operator.dtype)
        W = np.asarray(operator.W, dtype=np.float64)
        # (K G^-1 K^T)_{kl} = (A H A^T)_{kl} (W W^T)_{kl}
        self.Q = (A @ H @ A.T) * (W @ W.T)
        self.rho = None
        self.factor = None

    def refactor(self, rho):
        """Cholesky factor of ``I + (c / rho) Q`` for this ``rho``."""
        if rho != self.rho:
            n = self.Q.shape[0]
            system = (self.curvature / rho) * self.Q
            system[np.diag_indices(n)] += 1.0
            self.factor = cho_factor(system, lower=True, overwrite_a=True, check_finite=False)
            self.rho = rho

    def solve_u(self, rhs, rho):
        """``(c K^T K + rho (I (x) G))^-1 rhs`` by the Woodbury identity."""
        op = self.operator
        h = (rhs @ self.H) * (1.0 / rho)
        t = op.predict(h).astype(np.float64)
        w = cho_solve(self.factor, self.curvature * t, check_finite=False).astype(op.dtype)
        return h - (op.adjoint(w) @ self.H) * (1.0 / rho)


class ADMM(_NativeBase):
    """ADMM for the ReLU program with cone constraints (Bai, Gautam & Sojoudi 2022).

    See the module docstring for the splitting, the iteration and the certificate. The linear
    system of the ``U`` step is factored once (an (n_samples x n_samples) Cholesky, refreshed when
    ``rho`` changes), so each iteration costs four dense products with the design matrix plus a
    triangular solve of size n_samples.

    Parameters
    ----------
    tol : float, default=1e-6
        Relative duality-gap tolerance.
    constraint_tol : float, default=1e-6
        Tolerance on the largest constraint violation ``max(0, -min (2D_i - I) A u_b)``.
    max_iter : int, default=10000
        Iteration cap; reaching it warns (status ``'max_iter'``).
    rho : float or None, default=None
        Initial penalty; None uses ``c ||K G^-1 K^T||`` (the majorizer's largest curvature along
        ``K``, by power iteration); adapted by residual balancing.
    relaxation : float, default=1.6
        Over-relaxation ``a`` in (0, 2).
    check_every : int, default=10
        Iterations between float64 certificate checks.
    polish : bool, default=False
        Experimental: at the checks, also try the active-set Newton polish of :mod:`.polish` from
        ``V`` (its active-set guess is not yet reliable; off by default).
    dtype : {'float64', 'float32'}, default='float64'
    verbose : bool, default=False
    """

    name = "admm"
    loss_needs = ("gradient", "curvature", "dual")
    penalty_needs = ("prox_scale", "dual_norm")

    def __init__(self, *, tol=1e-6, constraint_tol=1e-6, max_iter=10000, rho=None, relaxation=1.6,
                 check_every=10, polish=False, dtype="float64", verbose=False):
        super().__init__(tol=tol, max_iter=max_iter, dtype=dtype, verbose=verbose)
        check_positive(constraint_tol, "constraint_tol")
        if rho is not None:
            check_positive(rho, "rho")
        check_positive(relaxation, "relaxation")
        if relaxation >= 2:
            raise ValueError(f"relaxation must be in (0, 2), got {relaxation!r}.")
        check_positive(check_every, "check_every", integer=True)
        self.constraint_tol = float(constraint_tol)
        self.rho = rho
        self.relaxation = float(relaxation)
        self.check_every = int(check_every)
        self.polish = bool(polish)

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        """Two (n_samples x n_samples) float64 matrices (``Q`` and its factor) and their build
        temporaries, about 12 arrays of shape (n_samples, n_blocks) and 12 of the coefficients'
        shape in the working dtype, plus the history."""
        itemsize = np.dtype(self.dtype).itemsize
        n, p, b = int(n_samples), int(n_columns), int(n_blocks)
        square = 8 * 4 * n * n
        arrays = itemsize * (12 * n * b + 12 * b * p) + 8 * 6 * n * b
        return square + arrays + _HISTORY_BYTES_PER_ITER * self.max_iter

    # ------------------------------------------------------------------ iteration
    def init(self, problem, init=None):
        """Initial :class:`ADMMState` at ``init`` (duals estimated from the KKT conditions) or zero."""
        if not problem.has_constraints:
            raise ValueError(
                f"solver 'admm' needs a program with constraints, got {problem!r}; use "
                "solver='fista' (or 'native', which picks it)."
            )
        operator = problem.block_operator(self.dtype, xp=NUMPY)
        if operator.levels:
            raise ValueError(
                f"solver 'admm' handles per-block cone constraints only; {problem!r} has nested "
                "constraints. Use solver='augmented_lagrangian' (or 'native', which picks it)."
            )
        self.check_needs(problem)
        if self.polish and not problem.loss.provides("hessian"):
            raise ValueError(
                f"solver 'admm' with polish=True needs loss.hessian; {problem.loss!r} does not "
                "provide it. Use polish=False."
            )
        curvature = problem.loss.curvature
        model = _Model(problem, operator, curvature, self.relaxation)
        rho = self.rho if self.rho is not None else self._default_rho(model)
        model.refactor(rho)
        coef = self._start_coef(problem, init)
        dtype = operator.dtype
        features = operator.features(coef)
        alpha = np.zeros_like(coef)
        beta = np.zeros((problem.n_samples, problem.n_blocks), dtype=dtype)
        if init is not None and np.any(coef):
            alpha, beta = self._estimate_duals(model, coef, rho)
        slack = np.maximum(operator.constrain_features(features), 0)
        state = ADMMState(
            coef=coef, u=coef.copy(), slack=slack, alpha=alpha, beta=beta,
            features_u=features, features_v=features.copy(),
            features_alpha=operator.features(alpha), rho=rho, objective=math.inf, violation=0.0,
        )
        state.objective, state.violation = self._objective(model, state)
        state._model = model
        return state

    @staticmethod
    def _default_rho(model):
        """A penalty on the scale of the loss curvature along ``K``: ``c ||K G^-1 K^T||``."""
        n = model.Q.shape[0]
        probe = np.random.default_rng(0).standard_normal(n)
        for _ in range(20):  # power iteration for the top eigenvalue of Q
            probe = model.Q @ probe
            top = np.linalg.norm(probe)
            if top == 0:
                return 1.0
            probe /= top
        return model.curvature * top

    @staticmethod
    def _estimate_duals(model, coef, rho):
        """Scaled duals ``(alpha, beta)`` from the KKT conditions at ``coef`` (:func:`kkt_multipliers`)."""
        alpha, mu = kkt_multipliers(model.problem, np.asarray(coef, dtype=np.float64))
        dtype = model.operator.dtype
        return (alpha / rho).astype(dtype), (-mu / (rho * model.gamma)).astype(dtype)

    def _objective(self, model, state):
        op = model.operator
        pred = op.predict_features(state.features_v).astype(np.float64)
        objective = model.loss.value(pred, model.y) + model.lam * model.penalty.value(state.coef)
        values = op.constrain_features(state.features_v)
        violation = max(0.0, -float(values.min())) if values.size else 0.0
        return objective, violation

    def step(self, state):
        """One ADMM iteration (and a certificate check every ``check_every``)."""
        model = state._model
        op, a, rho, gamma = model.operator, model.relaxation, state.rho, model.gamma
        c = model.curvature
        # 1. U: the majorized loss plus both penalties, one Woodbury solve
        pred_u = op.predict_features(state.features_u).astype(np.float64)
        x = (c * pred_u - model.loss.gradient(pred_u, model.y)).astype(op.dtype)
        rhs = op.adjoint(x, (-rho * gamma) * (state.slack - state.beta))
        rhs += rho * (state.coef - state.alpha)
        u = model.solve_u(rhs, rho)
        features_u = op.features(u)
        cu = op.constrain_features(features_u)
        # 2.-4. over-relaxed V and S steps, dual updates
        u_hat = a * u + (1 - a) * state.coef
        features_hat = a * features_u + (1 - a) * state.features_v
        point = u_hat + state.alpha
        # the penalty's prox rescales whole blocks, so the block features follow by the same factors
        shrink = model.penalty.prox_scale(point, model.lam / rho).astype(op.dtype)
        coef = point * shrink[:, None]
        features_point = features_hat + state.features_alpha
        features_v = features_point * shrink[None, :]
        alpha = point - coef
        features_alpha = features_point - features_v
        cu_hat = a * cu + (1 - a) * state.slack
        slack = np.maximum(cu_hat + state.beta, 0)
        beta = state.beta + cu_hat - slack

        # relative residuals (Boyd et al. 2011, sec. 3.3 with the gamma-weighted constraint)
        r_pri = math.sqrt(_sq(u - coef) + gamma * _sq(cu - slack))
        r_dual = rho * math.sqrt(_sq(coef - state.coef) + gamma * _sq(slack - state.slack))
        size_pri = max(math.sqrt(_sq(u) + gamma * _sq(cu)), math.sqrt(_sq(coef) + gamma * _sq(slack)))
        size_dual = rho * math.sqrt(_sq(alpha) + gamma * _sq(beta))
        tiny = np.finfo(float).tiny
        new = dataclasses.replace(
            state, coef=coef, u=u, slack=slack, alpha=alpha, beta=beta, features_u=features_u,
            features_v=features_v, features_alpha=features_alpha,
            primal_residual=r_pri / max(size_pri, tiny), dual_residual=r_dual / max(size_dual, tiny),
            n_iter=state.n_iter + 1,
        )
        new.objective, new.violation = self._objective(model, new)
        new._model = model
        if new.n_iter == 1 or new.n_iter % self.check_every == 0:
            new = self._check(new)
        if new.certified is None and new.n_iter - new.last_balance >= _BALANCE_EVERY:
            new = self._balance(new)
        return new

    def _balance(self, state):
        """Residual balancing: scale ``rho`` by 4 when one relative residual is 10x the other."""
        model = state._model
        factor = 1.0
        if state.primal_residual > _BALANCE_RATIO * state.dual_residual:
            factor = _RHO_FACTOR
        elif state.dual_residual > _BALANCE_RATIO * state.primal_residual:
            factor = 1.0 / _RHO_FACTOR
        new = dataclasses.replace(state, last_balance=state.n_iter)
        new._model = model
        if factor != 1.0:
            rho = state.rho * factor
            model.refactor(rho)
            # the unscaled duals rho * alpha, rho * gamma * beta stay the same
            new.rho = rho
            new.alpha = state.alpha / factor
            new.beta = state.beta / factor
            new.features_alpha = state.features_alpha / factor
        return new

    def _check(self, state):
        """Float64 certificate at ``V``, then (when due) at its Newton polish."""
        model = state._model
        problem = model.problem
        # refresh the carried features (rounding drift) while at it
        state.features_alpha = model.operator.features(state.alpha)
        state.features_v = model.operator.features(state.coef)
        mu = (-state.rho * model.gamma) * np.asarray(state.beta, dtype=np.float64)
        coef = np.asarray(state.coef, dtype=np.float64)
        objective = problem.objective(coef)
        state.lower_bound = max(state.lower_bound, problem.dual_bound(coef, multipliers=mu))
        if state.rel_gap <= _KKT_GAP and state.n_iter >= state.next_kkt:
            # the certifying attempts cost an NNLS per block: space them out
            state.next_kkt = state.n_iter + max(_POLISH_SPACING, state.n_iter // 10)
            if objective - state.lower_bound <= self.tol * abs(objective):
                if self._certify(state, coef, mu):
                    return state
            # exact per-block multipliers (NNLS) often certify long before ADMM's own do
            _, mu_kkt = kkt_multipliers(problem, coef)
            if self._certify(state, coef, mu_kkt):
                return state
        close = state.rel_gap <= _POLISH_GAP or max(state.primal_residual, state.dual_residual) <= _POLISH_RESIDUAL
        if self.polish and close and state.n_iter >= state.next_polish:
            state.next_polish = state.n_iter + max(_POLISH_SPACING, state.n_iter // 4)
            polished = newton_polish(problem, coef, mu)
            if polished is not None:
                _, mu = kkt_multipliers(problem, polished)
                self._certify(state, polished, mu)
        return state

    def _certify(self, state, coef, mu):
        """Project violating blocks onto their cones, bound there; store ``coef`` if certified."""
        problem = state._model.problem
        if problem.constraint_violation(coef) > self.constraint_tol:
            coef = problem.block_operator(np.float64, xp=NUMPY).project_violating(coef, 0.1 * self.constraint_tol)
            if problem.constraint_violation(coef) > self.constraint_tol:
                return False
        objective = problem.objective(coef)
        state.lower_bound = max(state.lower_bound, problem.dual_bound(coef, multipliers=mu))
        if objective - state.lower_bound <= self.tol * abs(objective):
            state.certified = (coef, state.lower_bound)
            return True
        return False

    # ------------------------------------------------------------------ solve loop hooks
    def _record(self, state):
        return {
            "iter": state.n_iter,
            "objective": state.objective,
            "lower_bound": state.lower_bound,
            "rel_gap": state.rel_gap,
            "violation": state.violation,
            "rho": state.rho,
            "primal_residual": state.primal_residual,
            "dual_residual": state.dual_residual,
        }

    def _converged(self, state):
        return state.certified is not None

    def _finish(self, problem, state):
        if state.certified is not None:
            return state.certified
        model = state._model
        mu = (-state.rho * model.gamma) * np.asarray(state.beta, dtype=np.float64)
        coef = np.asarray(state.coef, dtype=np.float64)
        return coef, max(state.lower_bound, problem.dual_bound(coef, multipliers=mu))


def _sq(array):
    return float(np.vdot(array, array))
