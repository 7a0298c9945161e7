"""Primal-dual interior-point method for the group-lasso cone programs (ReLU and gated ReLU).

The program (mean scaling, MATH.md) is written as a smooth convex objective over cone constraints,
with one variable block ``x_b = (t_b, u_b)`` (``d + 1`` entries) per coefficient block:

    minimize    F(K u) + lam sum_b t_b
    subject to  (t_b, u_b) in Q^{d+1}                 (second-order cone: ||u_b|| <= t_b)
                O_b * (A u_b) >= 0                     (ReLU only: n rows per block)

``K u = sum_b W_b * (A u_b)`` is the prediction map of :class:`~convexnn.operators.BlockOperator`.
In the standard form ``G x + s = 0, s in C`` the orthant slacks are ``s_b = O_b * (A u_b)`` and the
cone slacks are ``x_b`` itself. The dual variables ``z`` of the orthant are exactly the cone
multipliers that :meth:`convexnn.problems.ReLUProblem.dual_bound` takes (same sign, same scaling:
stationarity reads ``K^T grad F - C^T z_orth - z_soc,u = 0`` and ``z_soc,t = lam``), so every
iterate yields a certified lower bound.

Method: Mehrotra predictor-corrector with Nesterov-Todd scaling (the algorithm of CVXOPT's
``coneqp``, Vandenberghe 2010, with the scaling recomputed from ``(s, z)`` every step as in ECOS).
A smooth non-quadratic loss (logistic) enters through its gradient and Hessian at the current
predictions (a Newton step on the KKT conditions, as CVXOPT's ``cp``).

The Newton system, reduced (SOLVERS.md): ``(M + K^T diag(h) K) dx = r`` with ``M`` block diagonal,
``M_b = W_b^{-2} + [0 | A]^T diag(z_b / s_b) [0 | A]``. Each ``M_b`` is factored as ``R_b^T R_b``
by a QR of the stacked matrix ``[W_b^{-1}; sqrt(z_b / s_b) * [0 | A]]`` (all blocks in one batched
LAPACK call), which never squares ``W^{-1}`` and stays accurate near the cone apex where the zero
blocks end. With ``t`` ordered first, the ``t`` column of ``K R_b^{-1}`` vanishes, so the coupling
term only involves ``Y = [W_b * (A R22_b^{-1})]_b`` (n x B d) and the system becomes
``(I + Y^T diag(h) Y) xi = g``, solved by Woodbury through the n x n matrix ``I + H^½ Y Y^T H^½``
or directly in the B d space, whichever is smaller. Each solve is followed by iterative refinement
against the unreduced (scaled) KKT system.

Start: ``u_b = eps g_{p(b)}`` (the pattern's gate, inside the block's cone), ``t_b = 2 eps``,
``z = mu s^{-1}`` (perfectly centred). Orthant rows with a margin below 10% of the median start
from that floor instead (their small primal residual decays with the steps; the returned point's
violation is checked by the stopping rule).

Stopping: ``status='optimal'`` only when ``(objective - lower_bound) / |objective| <= tol`` with the
bound from ``problem.dual_bound`` (float64, best over the iterates) and the constraint violation
``<= constraint_tol``; otherwise ``'max_iter'`` or ``'numerical_error'`` with a ConvergenceWarning.
"""

import logging
import math
import time
import warnings

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.lapack import dgeqrf as _geqrf

from ..results import ConvergenceWarning, SolveResult
from ..validation import check_positive
from .base import Solver

__all__ = ["InteriorPoint"]

logger = logging.getLogger(__name__)

_STEP = 0.99  # fraction of the step to the cone boundary
_EXPON = 3  # Mehrotra's centering exponent
_REFINE = 2  # iterative refinement passes per solve (at most)
_HISTORY_BYTES_PER_ITER = 600
_START_FLOOR = 0.1  # starting orthant slacks are at least this fraction of their median


# --------------------------------------------------------------------------- second-order cones
# Cone vectors of the B second-order cones are arrays of shape (B, d + 1), entry 0 the "t" part.


def _soc_det(v):
    """``v_0^2 - ||v_1||^2`` per cone, computed as a product to avoid cancellation."""
    norm = np.linalg.norm(v[:, 1:], axis=1)
    return (v[:, 0] - norm) * (v[:, 0] + norm)


def _soc_prod(x, y):
    """Jordan product ``x o y = (x^T y, x_0 y_1 + y_0 x_1)``."""
    out = x[:, 0:1] * y + y[:, 0:1] * x
    out[:, 0] = np.einsum("bi,bi->b", x, y)
    return out


def _soc_div(lam, r):
    """Solve ``lam o u = r`` for ``u`` (lam in the interior)."""
    u = np.empty_like(r)
    u0 = (lam[:, 0] * r[:, 0] - np.einsum("bi,bi->b", lam[:, 1:], r[:, 1:])) / _soc_det(lam)
    u[:, 0] = u0
    u[:, 1:] = (r[:, 1:] - u0[:, None] * lam[:, 1:]) / lam[:, 0:1]
    return u


def _soc_scale(wbar, eta, v, inverse=False):
    """``W v`` (or ``W^{-1} v``), ``W = eta [w0 w1^T; w1 I + w1 w1^T / (1 + w0)]`` (symmetric)."""
    w0, w1 = wbar[:, 0], wbar[:, 1:]
    v0, v1 = v[:, 0], v[:, 1:]
    dot = np.einsum("bi,bi->b", w1, v1)
    sign = -1.0 if inverse else 1.0
    out = np.empty_like(v)
    out[:, 0] = w0 * v0 + sign * dot
    out[:, 1:] = v1 + (sign * v0 + dot / (1.0 + w0))[:, None] * w1
    factor = 1.0 / eta if inverse else eta
    return out * factor[:, None]


def _soc_inverse_matrix(wbar, eta):
    """``W^{-1}`` as dense matrices, shape (B, d + 1, d + 1)."""
    B, m = wbar.shape
    w0, w1 = wbar[:, 0], wbar[:, 1:]
    out = np.zeros((B, m, m))
    out[:, 0, 0] = w0
    out[:, 0, 1:] = -w1
    out[:, 1:, 0] = -w1
    out[:, 1:, 1:] = w1[:, :, None] * (w1 / (1.0 + w0)[:, None])[:, None, :]
    idx = np.arange(1, m)
    out[:, idx, idx] += 1.0
    return out / eta[:, None, None]


def _soc_nt(s, z):
    """Nesterov-Todd scaling of each cone pair: ``(wbar, eta, lam)``, ``W z = W^{-1} s = lam``."""
    s_norm = np.sqrt(_soc_det(s))
    z_norm = np.sqrt(_soc_det(z))
    sb = s / s_norm[:, None]
    zb = z / z_norm[:, None]
    gamma = np.sqrt(0.5 * (1.0 + np.einsum("bi,bi->b", sb, zb)))
    wbar = sb.copy()
    wbar[:, 0] += zb[:, 0]
    wbar[:, 1:] -= zb[:, 1:]
    wbar /= (2.0 * gamma)[:, None]
    # w0 = sqrt(1 + ||w1||^2) exactly (wbar has unit J-norm); recomputing it keeps W well formed
    wbar[:, 0] = np.sqrt(1.0 + np.einsum("bi,bi->b", wbar[:, 1:], wbar[:, 1:]))
    eta = np.sqrt(s_norm / z_norm)
    lam = _soc_scale(wbar, eta, z)
    return wbar, eta, lam


def _soc_max_step(lam, d):
    """Largest ``alpha`` with ``lam + alpha d`` in the cones (inf when unbounded), per cone.

    The ECOS formula: in the frame where ``lam`` is the identity the boundary is reached when
    ``rho_0 + ||rho_1|| = 0``.
    """
    lnorm = np.sqrt(_soc_det(lam))
    lb = lam / lnorm[:, None]
    rho0 = (lb[:, 0] * d[:, 0] - np.einsum("bi,bi->b", lb[:, 1:], d[:, 1:])) / lnorm
    factor = (rho0 + d[:, 0] / lnorm) / (lb[:, 0] + 1.0)
    rho1 = d[:, 1:] / lnorm[:, None] - factor[:, None] * lb[:, 1:]
    t = np.linalg.norm(rho1, axis=1) - rho0
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 1.0 / np.where(t > 0, t, 1.0), np.inf)


def _orth_max_step(lam, d):
    neg = d < 0
    if not neg.any():
        return math.inf
    return float((-lam[neg] / d[neg]).min())


# --------------------------------------------------------------------------- the structured system
class _Program:
    """The cone program of a problem: data, linear maps and the reduced Newton solver."""

    def __init__(self, problem):
        operator = problem.block_operator(np.float64)
        self.problem = problem
        self.A = operator.A
        self.W = operator.W
        self.O = operator.O  # None for the gated program
        self.loss = problem.loss
        self.y = problem.y
        self.lam = problem.lam
        self.n, self.d = self.A.shape
        self.B = self.W.shape[1]
        self.m = self.d + 1
        self.W_rep = np.repeat(self.W, self.d, axis=1)  # (n, B d): weight of each column of Y
        self.degree = self.B + (self.n * self.B if self.O is not None else 0)
        self._AT = np.ascontiguousarray(self.A.T)
        self._stack = None  # work buffers reused by every factorization
        self._Y = None

    # linear maps ---------------------------------------------------------
    def predict(self, u):
        return np.einsum("nb,nb->n", self.W, self.A @ u.T)

    def predict_adjoint(self, r):
        return (self.W * r[:, None]).T @ self.A

    def G(self, x):
        """``G x`` as (orthant part (n, B) or None, cone part (B, d + 1))."""
        orth = None if self.O is None else -(self.O * (self.A @ x[:, 1:].T))
        return orth, -x

    def GT(self, orth, soc):
        out = -soc
        if self.O is not None:
            out[:, 1:] -= (self.O * orth).T @ self.A
        return out

    def hess(self, x, h):
        out = np.zeros_like(x)
        out[:, 1:] = self.predict_adjoint(h * self.predict(x[:, 1:]))
        return out

    # scaling -------------------------------------------------------------
    def scale_inv(self, scaling, orth, soc):
        """``W^{-1} v`` (``W^{-T} = W^{-1}``: both scalings are symmetric)."""
        winv, wbar, eta = scaling["winv"], scaling["wbar"], scaling["eta"]
        return (None if orth is None else winv * orth), _soc_scale(wbar, eta, soc, inverse=True)

    def scale(self, scaling, orth, soc):
        winv, wbar, eta = scaling["winv"], scaling["wbar"], scaling["eta"]
        return (None if orth is None else orth / winv), _soc_scale(wbar, eta, soc)

    # factorization -------------------------------------------------------
    def factor(self, scaling, h):
        """Factor ``M + K^T diag(h) K`` (see the module docstring); returns the factor dict."""
        B, m, d, n = self.B, self.m, self.d, self.n
        winv_soc = _soc_inverse_matrix(scaling["wbar"], scaling["eta"])
        if self.O is None:
            R = np.linalg.qr(winv_soc, mode="r")
        else:
            # stack[b].T (Fortran order, shape (m + n, m)) is [W_b^{-1}; sqrt(z_b/s_b) * [0 | A]].
            # One in-place LAPACK geqrf per block: ~6x faster than numpy's batched qr, which
            # copies the stack and works in a less favourable layout.
            if self._stack is None:
                self._stack = np.empty((B, m, m + n))
            stack = self._stack
            stack[:, :, :m] = winv_soc  # symmetric, so its transpose
            stack[:, 0, m:] = 0.0
            np.multiply(scaling["winv"].T[:, None, :], self._AT[None, :, :], out=stack[:, 1:, m:])
            for b in range(B):
                _, _, _, info = _geqrf(stack[b].T, overwrite_a=1)
                if info != 0:
                    raise np.linalg.LinAlgError(f"QR of block {b} failed (info {info}).")
            R = np.triu(stack[:, :, :m].transpose(0, 2, 1))
        Rinv = np.linalg.inv(R)
        R22inv = np.ascontiguousarray(Rinv[:, 1:, 1:].transpose(1, 0, 2)).reshape(d, B * d)
        if self._Y is None:
            self._Y = np.empty((n, B * d))
        Y = self._Y
        sqrt_h = np.sqrt(h)
        if sqrt_h.min() == sqrt_h.max():  # constant curvature (squared loss): a scalar
            R22inv *= sqrt_h[0]
            np.matmul(self.A, R22inv, out=Y)
            np.multiply(Y, self.W_rep, out=Y)
        else:
            np.matmul(self.A, R22inv, out=Y)
            np.multiply(Y, self.W_rep, out=Y)
            np.multiply(Y, sqrt_h[:, None], out=Y)
        if n <= B * d:
            S = Y @ Y.T
            mode = "woodbury"
        else:
            S = Y.T @ Y
            mode = "direct"
        S[np.diag_indices_from(S)] += 1.0
        chol = cho_factor(S, lower=True, overwrite_a=True, check_finite=False)
        return {"Rinv": Rinv, "Y": Y, "chol": chol, "mode": mode, "h": h}

    def reduced_solve(self, fac, r):
        """Solve ``(M + K^T diag(h) K) x = r`` with the factors (r of shape (B, d + 1))."""
        Rinv = fac["Rinv"]
        g = np.einsum("bji,bj->bi", Rinv, r)
        gu = g[:, 1:].reshape(-1)
        Y = fac["Y"]
        if fac["mode"] == "woodbury":
            gu = gu - Y.T @ cho_solve(fac["chol"], Y @ gu, check_finite=False)
        else:
            gu = cho_solve(fac["chol"], gu, check_finite=False)
        g[:, 1:] = gu.reshape(self.B, self.d)
        return np.einsum("bij,bj->bi", Rinv, g)

    def kkt_solve(self, fac, scaling, p, q_orth, q_soc, refine=_REFINE):
        """Solve ``H x + G^T W^{-1} zt = p``, ``W^{-1} G x - zt = q`` with iterative refinement.

        Returns ``(x, zt_orth, zt_soc)``; ``zt = W dz`` is the scaled dual direction.
        """
        h = fac["h"]

        def once(p, q_orth, q_soc):
            qo, qs = self.scale_inv(scaling, q_orth, q_soc)
            x = self.reduced_solve(fac, p + self.GT(qo, qs))
            go, gs = self.scale_inv(scaling, *self.G(x))
            return x, (None if go is None else go - q_orth), gs - q_soc

        x, zo, zs = once(p, q_orth, q_soc)
        scale = max(np.abs(p).max(), np.abs(q_soc).max(),
                    0.0 if q_orth is None else np.abs(q_orth).max(), 1e-300)
        for _ in range(refine):
            wo, ws = self.scale_inv(scaling, zo, zs)
            ep = p - self.hess(x, h) - self.GT(wo, ws)
            go, gs = self.scale_inv(scaling, *self.G(x))
            es = q_soc - gs + zs
            eo = None if q_orth is None else q_orth - go + zo
            err = max(np.abs(ep).max(), np.abs(es).max(), 0.0 if eo is None else np.abs(eo).max())
            if err <= 1e-13 * scale:
                break
            dx, dzo, dzs = once(ep, eo, es)
            x += dx
            zs = zs + dzs
            if zo is not None:
                zo = zo + dzo
        return x, zo, zs


# --------------------------------------------------------------------------- the solver
class InteriorPoint(Solver):
    """Primal-dual interior-point solver (Mehrotra predictor-corrector, Nesterov-Todd scaling).

    Solves :class:`~convexnn.problems.ReLUProblem` (cone constraints) and
    :class:`~convexnn.problems.GatedReLUProblem` with the group-l1 penalty and a smooth loss
    (squared or logistic) to a certified relative duality gap; see the module docstring for the
    method and the structure it exploits. ``init`` is ignored (interior-point methods start from a
    well-centred interior point: the blocks ``u_b = eps * g_{p(b)}`` along their patterns' gates).

    Parameters
    ----------
    tol : float, default=1e-6
        Relative duality-gap tolerance ``(objective - lower_bound) / |objective|``.
    constraint_tol : float, default=1e-8
        Tolerance on the largest violation of the cone constraints.
    max_iter : int, default=100
        Cap on interior-point iterations; reaching it warns (status ``'max_iter'``).
    verbose : bool, default=False
        Log one line per iteration (``logging`` at INFO level, logger
        ``convexnn.solvers.interior_point``).
    """

    name = "interior_point"

    def __init__(self, *, tol=1e-6, constraint_tol=1e-8, max_iter=100, verbose=False):
        check_positive(tol, "tol")
        check_positive(constraint_tol, "constraint_tol")
        check_positive(max_iter, "max_iter", integer=True)
        self.tol = float(tol)
        self.constraint_tol = float(constraint_tol)
        self.max_iter = int(max_iter)
        self.verbose = bool(verbose)

    def working_bytes(self, n_samples, n_columns, n_blocks):
        """Peak working memory of one solve, in bytes (float64).

        The n x n Woodbury matrix (or the (B d) x (B d) one, whichever is used), ``Y`` of shape
        (n, B d), the batched QR stack (B, n + d + 1, d + 1) and the per-block factors, about 14
        arrays of shape (n, B) (slacks, duals, scalings, directions, residuals) and the history.
        """
        n, d, B = int(n_samples), int(n_columns), int(n_blocks)
        m = d + 1
        system = min(n, B * d) ** 2
        arrays = system + n * B * d + B * (n + m) * m + 3 * B * m * m + 14 * n * B + 20 * B * m
        return 8 * arrays + _HISTORY_BYTES_PER_ITER * self.max_iter

    # ------------------------------------------------------------------ checks
    def _check_problem(self, problem):
        operator = problem.block_operator(np.float64)
        if getattr(operator, "levels", ()):
            raise ValueError(
                f"solver 'interior_point' supports ReLUProblem and GatedReLUProblem (two-layer "
                f"programs), not nested deep programs with constraint levels, got {problem!r}; use "
                "solver='augmented_lagrangian' or a cvxpy solver for it."
            )
        if getattr(problem.penalty, "name", None) != "group_l1":
            raise ValueError(
                f"solver 'interior_point' supports the 'group_l1' penalty, got {problem.penalty!r}."
            )
        if not problem.lam > 0:
            raise ValueError(
                f"solver 'interior_point' needs lam > 0, got lam={problem.lam!r}: with lam = 0 the "
                "cone variables t_b are unbounded and no dual bound can certify a gap; use "
                "solver='fista' or a cvxpy solver, or a small positive lam."
            )
        if problem.loss.name not in ("squared", "logistic"):
            raise ValueError(
                f"solver 'interior_point' supports the 'squared' and 'logistic' losses, got "
                f"{problem.loss!r}; use a cvxpy solver for it."
            )

    def _start(self, prog):
        """A centred interior start: ``u_b = eps g_b``, ``t_b = 2 eps``, ``z = mu s^{-1}``.

        ``g_b`` is the unit gate of the block's pattern, so ``O_b * (A u_b) = eps |A g_b| >= 0``:
        the start is feasible, and for ReLU the two signs of a pattern cancel (predictions 0).
        ``mu`` makes ``z_t = lam`` (no initial residual in the ``t`` part of stationarity).
        """
        problem = prog.problem
        gates = problem.patterns.gates[:, problem.block_pattern].T  # (B, d)
        gates = gates / np.maximum(np.linalg.norm(gates, axis=1, keepdims=True), 1e-300)
        norm_A = max(np.linalg.norm(prog.A), 1e-300)
        eps = max(np.linalg.norm(prog.y), 1e-3) / norm_A
        if prog.O is None:
            # gated: the blocks do not cancel in the prediction; keep it within the scale of y
            reach = np.abs(prog.predict(gates)).max()
            eps = min(eps, 0.1 * max(np.abs(prog.y).max(), 1e-3) / max(reach, 1e-300))
        x = np.empty((prog.B, prog.m))
        x[:, 1:] = eps * gates
        x[:, 0] = 2.0 * eps
        zeta = prog.lam  # z_t = lam: the t part of the dual residual starts at zero
        mu = 1.5 * zeta * eps  # makes z_t = zeta with z_soc = mu s_soc^{-1}
        s_soc = x.copy()
        z_soc = np.empty_like(x)
        z_soc[:, 0] = x[:, 0]
        z_soc[:, 1:] = -x[:, 1:]
        z_soc *= (mu / _soc_det(x))[:, None]
        s_orth = z_orth = None
        if prog.O is not None:
            s_orth = prog.O * (prog.A @ x[:, 1:].T)
            # rows whose margin is tiny (or zero) start from a slack floor instead: feasibility
            # there would need huge multipliers z = mu / s and costs ~20% more iterations
            # (measured at (1000, 20, 100): 41 -> 34); their residual G x + s decays with every
            # step and the stopping rule checks the violation of the returned point
            floor = _START_FLOOR * max(np.median(s_orth), 1e-300)
            s_orth = np.maximum(s_orth, floor)
            z_orth = mu / s_orth
        return x, s_orth, s_soc, z_orth, z_soc

    def _certificate(self, prog, u, z_orth):
        problem = prog.problem
        if prog.O is None:
            bound = problem.dual_bound(u)
        else:
            bound = problem.dual_bound(u, multipliers=z_orth)
        return problem.objective(u), bound, problem.constraint_violation(u)

    # ------------------------------------------------------------------ solve
    def solve(self, problem, init=None):
        """Run the interior-point iteration on ``problem``; a SolveResult (``init`` is ignored)."""
        start = time.perf_counter()
        self._check_problem(problem)
        prog = _Program(problem)
        x, s_orth, s_soc, z_orth, z_soc = self._start(prog)
        constrained = prog.O is not None
        tiny = np.finfo(float).tiny
        history = []
        lower = -math.inf
        best = None  # (gap, coef, objective, violation) of the best certified iterate
        status, n_iter, detail = "max_iter", 0, ""

        for it in range(self.max_iter + 1):
            u = x[:, 1:]
            objective, bound, violation = self._certificate(prog, u, z_orth)
            if bound is not None and np.isfinite(bound):
                lower = max(lower, bound)
            gap = objective - lower
            rel_gap = gap / max(abs(objective), tiny)
            mu_total = float((s_soc * z_soc).sum())
            if constrained:
                mu_total += float((s_orth * z_orth).sum())
            history.append({"iter": it, "objective": objective, "lower_bound": lower, "gap": gap,
                            "rel_gap": rel_gap, "violation": violation,
                            "mu": mu_total / prog.degree})
            if self.verbose:
                logger.info("ipm %3d  obj %.10e  bound %.10e  rel_gap %.2e  viol %.1e  mu %.2e",
                            it, objective, lower, rel_gap, violation, mu_total / prog.degree)
            feasible = violation <= self.constraint_tol
            if feasible and (best is None or gap < best[0]):
                best = (gap, u.copy(), objective, violation)
            if feasible and rel_gap <= self.tol:
                status = "optimal"
                break
            if it == self.max_iter:
                break

            try:
                step = self._step(prog, x, s_orth, s_soc, z_orth, z_soc, mu_total)
            except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
                status, detail = "numerical_error", f" ({exc})"
                break
            if step is None:
                status = "numerical_error"
                break
            x, s_orth, s_soc, z_orth, z_soc, info = step
            history[-1].update(info)
            n_iter = it + 1

        elapsed = time.perf_counter() - start
        if best is None:
            objective, bound, violation = self._certificate(prog, x[:, 1:], z_orth)
            coef = x[:, 1:].copy()
        else:
            _, coef, objective, violation = best
        coef = np.array(coef, dtype=np.float64)
        lower_bound = None if not np.isfinite(lower) else float(lower)
        if status != "optimal":
            gap_text = ("unknown" if lower_bound is None
                        else f"{(objective - lower_bound) / max(abs(objective), tiny):.2e}")
            warnings.warn(
                f"{self.name} stopped with status '{status}'{detail} after {n_iter} iterations: "
                f"relative gap {gap_text} (tol {self.tol:g}), constraint violation {violation:.2e} "
                f"(constraint_tol {self.constraint_tol:g}).",
                ConvergenceWarning,
                stacklevel=2,
            )
        logger.info("%s: %s, %d iterations in %.3fs", self.name, status, n_iter, elapsed)
        return SolveResult(
            coef=coef,
            objective=float(objective),
            status=status,
            solver=self.name,
            lam=problem.lam,
            n_iter=n_iter,
            time=elapsed,
            lower_bound=lower_bound,
            constraint_violation=float(violation),
            n_active=problem.active_blocks(coef).size,
            history=history,
        )

    @staticmethod
    def _trust_loss_model(prog, pred, grad, h, dpred, alpha):
        """Shorten ``alpha`` until the loss's quadratic model is accurate along the step.

        The Newton system uses the loss's second-order model at the current predictions; for a
        non-quadratic loss (logistic) a long step can leave the region where it is accurate and
        the iteration then diverges. The step is halved until the model's error is at most half
        its second-order term (a trust-region test on the predictions; a no-op for the squared
        loss, whose model is exact).
        """
        value = prog.loss.value(pred, prog.y)
        slack = 1e-13 * max(abs(value), 1e-300)
        for _ in range(60):
            step = alpha * dpred
            lin = float(grad @ step)
            quad = 0.5 * float(h @ (step * step))
            actual = prog.loss.value(pred + step, prog.y) - value
            if abs(actual - lin - quad) <= 0.5 * quad + slack:
                break
            alpha *= 0.5
        return alpha

    def _step(self, prog, x, s_orth, s_soc, z_orth, z_soc, mu_total):
        """One predictor-corrector step; returns the new ``(x, s_orth, s_soc, z_orth, z_soc)``."""
        constrained = s_orth is not None
        u = x[:, 1:]
        pred = prog.predict(u)
        grad = prog.loss.gradient(pred, prog.y)
        h = np.maximum(prog.loss.hessian(pred, prog.y), 0.0)
        # residuals of the KKT conditions
        r_x = prog.GT(z_orth, z_soc)
        r_x[:, 0] += prog.lam
        r_x[:, 1:] += prog.predict_adjoint(grad)
        g_orth, g_soc = prog.G(x)
        r_soc = g_soc + s_soc
        r_orth = g_orth + s_orth if constrained else None
        mu = mu_total / prog.degree
        dual_res = float(np.abs(r_x).max())

        # scaling
        wbar, eta, lam_soc = _soc_nt(s_soc, z_soc)
        scaling = {"wbar": wbar, "eta": eta, "winv": None}
        lam_orth = None
        if constrained:
            scaling["winv"] = np.sqrt(z_orth / s_orth)
            lam_orth = np.sqrt(s_orth * z_orth)
        fac = prog.factor(scaling, h)
        ro, rs = prog.scale_inv(scaling, r_orth, r_soc)  # W^{-1} r_z

        def direction(rc_orth, rc_soc, refine):
            # lam o (ds~ + dz~) = rc  ->  ds~ + dz~ = lam \ rc
            ls = _soc_div(lam_soc, rc_soc)
            lo = rc_orth / lam_orth if constrained else None
            dx, dzo, dzs = prog.kkt_solve(
                fac, scaling, -r_x, None if not constrained else -ro - lo, -rs - ls, refine
            )
            dso = lo - dzo if constrained else None
            return dx, dso, ls - dzs, dzo, dzs

        def max_step(dso, dss, dzo, dzs):
            alpha = min(_soc_max_step(lam_soc, dss).min(), _soc_max_step(lam_soc, dzs).min())
            if constrained:
                alpha = min(alpha, _orth_max_step(lam_orth, dso), _orth_max_step(lam_orth, dzo))
            return alpha

        # predictor (affine scaling)
        rc_soc = -_soc_prod(lam_soc, lam_soc)
        rc_orth = -lam_orth * lam_orth if constrained else None
        # (one refinement pass: this direction only sets sigma and the second-order correction)
        dx, dso, dss, dzo, dzs = direction(rc_orth, rc_soc, 1)
        alpha = min(1.0, max_step(dso, dss, dzo, dzs))
        dsdz = float((dss * dzs).sum()) + (float((dso * dzo).sum()) if constrained else 0.0)
        sigma = min(1.0, max(0.0, 1.0 - alpha + dsdz / mu_total * alpha**2)) ** _EXPON

        # corrector (combined)
        rc_soc = rc_soc - _soc_prod(dss, dzs)
        rc_soc[:, 0] += sigma * mu
        if constrained:
            rc_orth = rc_orth - dso * dzo + sigma * mu
        dx, dso, dss, dzo, dzs = direction(rc_orth, rc_soc, _REFINE)
        alpha = min(1.0, _STEP * max_step(dso, dss, dzo, dzs))
        if not np.isfinite(alpha) or alpha < 1e-12 or not np.all(np.isfinite(dx)):
            return None
        if prog.loss.name != "squared":
            alpha = self._trust_loss_model(prog, pred, grad, h, prog.predict(dx[:, 1:]), alpha)

        # back to unscaled directions: ds = W ds~, dz = W^{-1} dz~
        ds_orth, ds_soc = prog.scale(scaling, dso, dss)
        dz_orth, dz_soc = prog.scale_inv(scaling, dzo, dzs)
        x = x + alpha * dx
        s_soc = s_soc + alpha * ds_soc
        z_soc = z_soc + alpha * dz_soc
        if constrained:
            s_orth = s_orth + alpha * ds_orth
            z_orth = z_orth + alpha * dz_orth
        info = {"step": alpha, "sigma": sigma, "dual_res": dual_res}
        return x, s_orth, s_soc, z_orth, z_soc, info
