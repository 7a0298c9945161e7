"""The nested (deep) cone program for :class:`~convexnn.solvers.InteriorPoint`.

:class:`_NestedProgram` is the counterpart of ``_cone_program._Program`` for
:class:`~convexnn.deep.DeepReLUProblem` of depth >= 3 (a
:class:`~convexnn.operators.NestedBlockOperator` with constraint levels). The shared Mehrotra loop
drives it through the same interface (``G``, ``GT``, ``factor``, ``kkt_solve``, ``predict``, ...);
only the orthant part and the reduced Newton solve differ:

* The orthant has one column per constraint of
  :meth:`~convexnn.deep.DeepReLUProblem.constraint_values` (shape (n, n_constraints)): the per-block
  level-1 rows ``O_1[:, b] * (A u_b)`` first, then every upper level's group rows ``O_l[:, g] *
  G_l[g]`` with ``G_l[g] = sum_{b in g} c_{l,b} * (A u_b)`` (``c_{l,b}`` the product of the inner
  weights along the path from ``b`` up to level ``l``). The duals ``z`` of that orthant are exactly
  the multipliers :meth:`~convexnn.deep.DeepReLUProblem.dual_bound` takes, so every iterate is
  certified as for two layers.
* Newton system ``(M + sum_{upper rows} C^T diag(z/s) C + K^T diag(h) K) dx = r``. ``M``
  (second-order cones and level-1 orthants, block diagonal) is factored per block exactly as for two
  layers, ``M_b = R_b^T R_b``; in the variables ``xi = R x`` the system is ``xi_t = g_t`` and ``T
  xi_u = g_u`` with ``T = I + T_up + Y^T H Y``, where ``Z_b = A R22_b^{-1}``, ``T_up`` collects the
  upper-level rows (dense within a top-level group, block diagonal over the top-level groups) and
  ``Y = [H^½ W_b * Z_b]_b`` (n x B d) is the prediction. ``T0 = I + T_up = L0 L0^T`` per top-level
  group: by the Cholesky of its Gram while the rows' entries are moderate, and by the R of a QR of
  the stack ``[I; rows]`` once the multipliers grow (the Gram's rounding, ~eps ||T0||, would swamp
  the identity and stalled the iteration near the end on a depth-4 program). Then ``T = L0 (I + Yh^T
  Yh) L0^T`` with ``Yh = Y L0^{-T}``, whose middle factor has eigenvalues in ``[1, 1 + ||Yh||^2]``
  whatever the multipliers; it is factored densely (B d x B d, when ``n >= B d``) or by Woodbury
  through the n x n matrix ``I + Yh Yh^T``. Every solve is refined against the unreduced system
  (``_Program.kkt_solve``, with two extra passes at most).
* Cost per step (default deep estimators, depth 3, 200 blocks): the upper-level Grams or QRs (``n (k
  d)^2`` per group of ``k`` blocks), ``Yh`` (``n B d k d``) and ``Yh Yh^T`` (``n^2 B d``): about 1 s
  at (n, d) = (569, 31) on one core.
"""

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from .._array_api import NUMPY
from ._cone_program import _Program, _soc_inverse_matrix, upper_inverse

__all__ = ["nested_bytes", "nested_step_flops"]

_EXTRA_REFINE = 2  # refinement passes added to the shared loop's
_GRAM_MAX = 1e6  # T0 by its Gram's Cholesky while its entries stay below this, else by a QR


def _top_group_size(n_blocks, levels):
    size = 1
    for _, _, children in levels:
        size *= children
    return min(size, n_blocks)


def nested_bytes(n_samples, n_columns, n_blocks, levels, max_iter=100):
    """Peak working memory (bytes, float64) of one interior-point solve of a nested program.

    The per-group factors of ``T0`` and one group's QR stack, the dense B d x B d system (or the
    n x n Woodbury matrix), ``Z``, ``Y`` and ``Yh`` (n x B d each), the per-block QR stacks and
    factors, and ~14 arrays of the orthant's shape (n x constraints).
    """
    n, d, B = int(n_samples), int(n_columns), int(n_blocks)
    m = d + 1
    bd = B * d
    q = _top_group_size(B, levels) * d
    constraints = B + sum(orient.shape[1] for _, orient, _ in levels)
    top, per, rows = _top_group_size(B, levels), 1, 0
    for _, _, children in levels:  # upper-level groups within one top-level group
        per *= children
        rows += max(top // per, 1)
    stack = q * (q + n * rows)  # the QR stack of one top-level group
    system = (bd // max(q, 1)) * q * q + stack + (2 * bd * bd if n >= bd else n * n)
    arrays = (system + 3 * n * bd + B * (n + m) * m + 4 * B * m * m + 14 * n * constraints
              + 20 * B * m)
    return 8 * arrays + 600 * max_iter


def _cholesky(T):
    """Lower Cholesky factor of the symmetric positive definite ``T`` (``I +`` a PSD part).

    Where rounding makes it fail (multipliers of ~1e16 near the end), a tiny diagonal shift,
    growing from ``1e-15`` of the largest diagonal entry, is added: the refinement against the
    unreduced system corrects the perturbed solve.
    """
    try:
        return cho_factor(T, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        pass
    top = float(np.abs(np.diagonal(T)).max())
    shift = 1e-15 * top
    for _ in range(8):
        try:
            S = T.copy()
            S[np.diag_indices_from(S)] += shift
            return cho_factor(S, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            shift *= 100.0
    raise np.linalg.LinAlgError("the nested Newton system is not positive definite")


def nested_step_flops(n_samples, n_columns, n_blocks, levels):
    """Flops of one Newton step's factorization of a nested program (the QR form of ``T0``).

    Per top-level group of ``q = k d`` columns: the QR of ``[I; rows]`` (``2 (q + n r) q^2``,
    ``r`` upper-level groups in it) and ``Yh`` (``n q^2``); then ``Yh Yh^T`` (``n^2 B d``) and
    the level-1 blocks' Grams (``n d^2 B``).
    """
    n, d, B = int(n_samples), int(n_columns), int(n_blocks)
    top, per, rows = _top_group_size(B, levels), 1, 0
    for _, _, children in levels:
        per *= children
        rows += max(top // per, 1)
    q = top * d
    groups = max(B // max(top, 1), 1)
    return float(groups * (2.0 * (q + n * rows) * q * q + n * q * q)
                 + min(n, B * d) ** 2 * max(n, B * d) + n * d * d * B)


class _NestedProgram(_Program):
    """A nested deep cone program: data, linear maps and the dense reduced Newton solver."""

    def __init__(self, problem):
        super().__init__(problem)
        operator = problem.block_operator(np.float64, xp=NUMPY)
        levels = list(operator.levels)
        n, B = self.n, self.B
        # per upper level: the coefficient of every block in its group's rows (n, B) and the
        # group of each block at that level
        self.level_coef, self.level_group, self.level_sizes = [], [], []
        cum = np.ones((n, B))
        stride = 1
        for inner, orient, children in levels:
            cum = cum * np.asarray(inner)[:, np.arange(B) // stride]
            stride *= children
            group = np.arange(B) // stride
            self.level_coef.append(np.asarray(orient)[:, group] * cum)
            self.level_group.append(group)
            self.level_sizes.append(orient.shape[1])
            if orient.shape[1] * stride != B:  # G sums each group's run of consecutive blocks
                raise ValueError(f"{orient.shape[1]} groups of {stride} blocks for {B} blocks.")
        self.top = _top_group_size(B, levels)  # blocks per top-level group
        self.n_top = B // self.top
        self.n_constraints = B + sum(self.level_sizes)
        self.degree = B + n * self.n_constraints
        self._offsets = np.cumsum([B] + self.level_sizes)  # column offsets of the upper levels

    # linear maps ---------------------------------------------------------
    def G(self, x):
        F = self.A @ x[:, 1:].T  # (n, B)
        parts = [-(self.O * F)]
        for coef, size in zip(self.level_coef, self.level_sizes):
            # a level's groups are runs of B / size consecutive blocks (group = block // stride)
            parts.append(-(coef * F).reshape(self.n, size, self.B // size).sum(axis=2))
        return np.concatenate(parts, axis=1), -x

    def scaled_G(self, scaling, x):
        """``W^{-1} G x`` (the upper-level rows do not fold the scaling into an orientation)."""
        return self.scale_inv(scaling, *self.G(x))

    def scaled_GT(self, scaling, orth, soc):
        """``G^T W^{-1} v``."""
        return self.GT(*self.scale_inv(scaling, orth, soc))

    def GT(self, orth, soc):
        out = -soc
        back = self.O * orth[:, : self.B]
        start = self.B
        for coef, group, size in zip(self.level_coef, self.level_group, self.level_sizes):
            back = back + coef * orth[:, start : start + size][:, group]
            start += size
        out[:, 1:] -= back.T @ self.A
        return out

    # factorization -------------------------------------------------------
    def factor(self, scaling, h, c=None):
        """Factor ``M + C_up^T D C_up + K^T (diag(h) - c c^T) K`` (``c``: the rank-one term of a
        loss with a minimized-out offset, taken as ``H^1/2 P H^1/2`` exactly as
        ``_Program.factor`` does)."""
        B, d, n = self.B, self.d, self.n
        winv = scaling["winv"]
        winv_soc = _soc_inverse_matrix(scaling["wbar"], scaling["eta"])
        R = self._factor_blocks_gram(winv_soc, winv[:, :B])
        if R is None:
            R = self._factor_blocks_qr(winv_soc, winv[:, :B])
        Rinv = upper_inverse(R)
        R22inv = Rinv[:, 1:, 1:]
        bd = B * d
        # Z_b = A R22inv_b, laid out (n, B, d)
        Z = self.A @ np.ascontiguousarray(R22inv.transpose(1, 0, 2)).reshape(d, bd)
        Z = Z.reshape(n, B, d)
        # T0 = I + upper-level rows, one dense block per top-level group: T0 = L0 L0^T
        q = self.top * d
        pieces = [[] for _ in range(self.n_top)]  # per top group: (offset, rows) of each group
        big = np.zeros(self.n_top)  # largest diagonal entry of T0 - I per top group
        start = B
        for coef, group, size in zip(self.level_coef, self.level_group, self.level_sizes):
            w = winv[:, start : start + size]  # sqrt(z / s) of the level's rows
            start += size
            rows = (w[:, group] * coef)[:, :, None] * Z  # (n, B, d)
            per = B // size  # blocks per group at this level (contiguous)
            for g in range(size):
                Yg = rows[:, g * per : (g + 1) * per].reshape(n, per * d)
                t, off = divmod(g * per, self.top)
                pieces[t].append((off * d, Yg))
                big[t] = max(big[t], float(np.einsum("ij,ij->j", Yg, Yg).max()))
        L0 = []
        for t in range(self.n_top):
            if big[t] <= _GRAM_MAX:
                # the Gram: its Cholesky perturbs T0 by ~eps ||T0||, negligible against I here
                T0 = np.zeros((q, q))
                for off, Yg in pieces[t]:
                    T0[off : off + Yg.shape[1], off : off + Yg.shape[1]] += Yg.T @ Yg
                T0[np.diag_indices_from(T0)] += 1.0
                L0.append(_cholesky(T0)[0])
            else:
                # large multipliers: the R of a QR of [I; rows], which squares nothing
                stack = np.zeros((q + n * len(pieces[t]), q))
                stack[:q] = np.eye(q)
                for k, (off, Yg) in enumerate(pieces[t]):
                    stack[q + k * n : q + (k + 1) * n, off : off + Yg.shape[1]] = Yg
                R0 = np.linalg.qr(stack, mode="r")
                L0.append(np.ascontiguousarray(R0.T))
        del pieces
        sqrt_h = np.sqrt(h)
        Y = (self.W * sqrt_h[:, None])[:, :, None] * Z  # H^1/2 [W_b * Z_b]_b
        Y = Y.reshape(n, bd)
        if c is not None:
            total = float(h.sum())
            e = sqrt_h / np.sqrt(total) if total > 0 else np.zeros_like(h)
            Y -= np.outer(e, e @ Y)  # P H^1/2 [W_b * Z_b]_b
        # with Yh = Y L0^{-T}, T = L0 (I + Yh^T Yh) L0^T, whose middle factor has eigenvalues in
        # [1, 1 + ||Yh||^2] whatever the multipliers (Woodbury through T0^{-1} directly lost the
        # iteration near the end)
        Yh = np.empty((bd, n))  # Yh^T = L0^{-1} Y^T
        for t in range(self.n_top):
            Yh[t * q : (t + 1) * q] = solve_triangular(L0[t], Y[:, t * q : (t + 1) * q].T,
                                                       lower=True, check_finite=False)
        del Y
        fac = {"Rinv": Rinv, "R22inv": R22inv, "h": h, "c": c, "L0": L0, "YhT": Yh}
        if n >= bd:
            E = Yh @ Yh.T
            E[np.diag_indices_from(E)] += 1.0
            fac.update(mode="dense", chol=_cholesky(E))
        else:
            S = Yh.T @ Yh
            S = 0.5 * (S + S.T)
            S[np.diag_indices_from(S)] += 1.0
            fac.update(mode="woodbury", chol=_cholesky(S))
        return fac

    def _l0_solve(self, fac, v, trans):
        """``L0^{-1} v`` (``trans=False``) or ``L0^{-T} v`` per top group."""
        q = self.top * self.d
        out = np.empty_like(v)
        for t, L in enumerate(fac["L0"]):
            out[t * q : (t + 1) * q] = solve_triangular(L, v[t * q : (t + 1) * q], lower=True,
                                                        trans=1 if trans else 0,
                                                        check_finite=False)
        return out

    def reduced_solve(self, fac, r):
        """Solve ``(M + C_up^T D C_up + K^T (diag(h) - c c^T) K) x = r`` with the factors (r: (B, d + 1))."""
        Rinv = fac["Rinv"]
        g = np.einsum("bji,bj->bi", Rinv, r)  # R^{-T} r
        c = self._l0_solve(fac, g[:, 1:].reshape(-1), False)
        if fac["mode"] == "dense":
            eta = cho_solve(fac["chol"], c, check_finite=False)
        else:  # (I + Yh^T Yh)^{-1} c = c - Yh^T (I + Yh Yh^T)^{-1} Yh c
            YhT = fac["YhT"]
            eta = c - YhT @ cho_solve(fac["chol"], c @ YhT, check_finite=False)
        g[:, 1:] = self._l0_solve(fac, eta, True).reshape(self.B, self.d)
        return np.einsum("bij,bj->bi", Rinv, g)

    def kkt_solve(self, fac, scaling, p, q_orth, q_soc, refine=1):
        """As ``_Program.kkt_solve`` with two more refinement passes (at most: they stop once the
        residual is at rounding level): the upper-level rows square multipliers of up to ~1e8
        into ``T``, and one pass left residuals that stalled the iteration near the end."""
        return super().kkt_solve(fac, scaling, p, q_orth, q_soc, refine + _EXTRA_REFINE)
