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
  layers, ``M_b = R_b^T R_b``; in the variables ``xi = R x`` the system is ``xi_t = g_t`` and
  ``(I + J^T Kc J) xi_u = g_u``, where ``Kc`` collects the coupling rows (the upper levels' and
  the prediction's).
* Classes (``_block_classes``): the coupling rows see some blocks only through one signed sum.
  For a deep program, the two level-1 signs of a pattern under the same upper path have
  prediction weights and upper-level coefficients that are the same columns up to sign, so they
  enter as ``delta_c = u_b - u_b'``. With the signed, stacked ``R22_b^{-T}`` of a class
  factored as ``Q_c L_c^T``, ``J`` maps ``xi_c`` to ``L_c Q_c^T xi_c``: the part of ``xi_u``
  orthogonal to the ``Q_c`` keeps ``g_u``'s value and ``eta = Q^T xi_u`` solves ``T eta = Q^T
  g_u`` with ``T = I + T_up + Y^T H Y`` over the classes, ``Z_c = A L_c``, ``T_up`` the
  upper-level rows (dense within a top-level group, block diagonal over the top-level groups) and
  ``Y = [H^½ W_c * Z_c]_c`` (n x C d, ``C = B / 2`` classes) the prediction: half the columns of
  the block-by-block system. The united patterns of ``pattern_search='sgd'`` mix classes of one
  and two blocks (padded to two: 56 blocks in 32 classes; a depth-4 fit 26.5 -> 9.2 s). Once the
  system's condition nears ``1 / eps`` the merged solve loses some of the small blocks' relative
  accuracy: the part of ``xi_u`` off the ``Q_c`` is computed as ``g_u - Q Q^T g_u``, a
  cancellation of ``eps ||g_u||`` that the pinned blocks' ``R`` amplify (one-block classes skip
  it: ``Q = I``, ``xi = eta``, exactly the block-by-block path). A step whose refined residual
  stays above ``1e-2 tol`` is factored again block by block (``merge=False``), which happened in
  0-2 of 33-64 steps on the default deep fits.
* ``T0 = I + T_up = L0 L0^T`` per top-level group: by the Cholesky of its Gram while the rows'
  entries are moderate, and by the R of a QR of the stack ``[I; rows]`` once the multipliers
  grow (the Gram's rounding, ~eps ||T0||, would swamp the identity and stalled the iteration near
  the end on a depth-4 program). Then ``T = L0 (I + Yh^T Yh) L0^T`` with ``Yh = Y L0^{-T}``,
  whose middle factor has eigenvalues in ``[1, 1 + ||Yh||^2]`` whatever the multipliers; it is
  factored densely (C d x C d, when ``n >= C d``) or by Woodbury through the n x n matrix ``I +
  Yh Yh^T``. Every solve is refined against the unreduced system (``_Program.kkt_solve``, with
  two extra passes at most).
* Cost per step (default deep estimators, depth 3, 200 blocks, 100 classes): the upper-level
  Grams or QRs (``n (t d)^2`` per top-level group of ``t`` classes), ``Yh`` (``n C d t d``) and
  ``Yh Yh^T`` (``n^2 C d``). Merging the classes made the default deep fits 1.2-1.8x faster
  (breast_cancer 27.0 -> 15.8 s) and a digits class 195 -> 166 s.
"""

import numpy as np
from scipy.linalg import cho_factor, cho_solve, get_lapack_funcs

from .._array_api import NUMPY
from ._cone_program import (_SOLVE_FLOPS_PER_ENTRY, _Program, _soc_inverse_matrix, project_out,
                            upper_inverse)

__all__ = ["nested_bytes", "nested_step_flops"]

_trtrs = get_lapack_funcs("trtrs", dtype=np.float64)
_EXTRA_REFINE = 2  # refinement passes added to the shared loop's
_GRAM_MAX = 1e6  # T0 by its Gram's Cholesky while its entries stay below this, else by a QR


def _top_group_size(n_blocks, levels):
    size = 1
    for _, _, children in levels:
        size *= children
    return min(size, n_blocks)


def nested_bytes(n_samples, n_columns, n_blocks, levels, max_iter=100, class_size=1):
    """Peak working memory (bytes, float64) of one interior-point solve of a nested program.

    The per-group factors of ``T0`` and one group's QR stack, the dense C d x C d system (or the
    n x n Woodbury matrix), ``Z``, ``Y`` and ``Yh`` (n x C d each; ``C = B / class_size``
    classes, see ``_block_classes``), the per-block QR stacks and factors, and ~14 arrays of the
    orthant's shape (n x constraints).
    """
    n, d, B = int(n_samples), int(n_columns), int(n_blocks)
    m = d + 1
    bd = round(B / class_size) * d
    q = round(_top_group_size(B, levels) / class_size) * d
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


def nested_step_flops(n_samples, n_columns, n_blocks, levels, class_size=1):
    """Flops of one Newton step's factorization of a nested program (the QR form of ``T0``).

    Per top-level group of ``q = t d`` columns (``t`` classes of ``class_size`` blocks, see
    ``_block_classes``): the QR of ``[I; rows]`` (``2 (q + n r) q^2``, ``r`` upper-level groups
    in it) and ``Yh`` (``n q^2``); then ``Yh Yh^T`` (``n^2 C d`` for ``C`` classes) and the
    level-1 blocks' Grams (``n d^2 B``).
    """
    n, d, B = int(n_samples), int(n_columns), int(n_blocks)
    top, per, rows = _top_group_size(B, levels), 1, 0
    for _, _, children in levels:
        per *= children
        rows += max(top // per, 1)
    q = round(top / class_size) * d
    cd = round(B / class_size) * d
    groups = max(B // max(top, 1), 1)
    return float(groups * (2.0 * (q + n * rows) * q * q + n * q * q)
                 + min(n, cd) ** 2 * max(n, cd) + n * d * d * B)


def _level_rows(operator):
    """Per upper level of a nested operator: the coefficient of every block in its group's rows
    (n, B), the group of each block at that level (B,) and the level's group count."""
    levels = list(operator.levels)
    W = np.asarray(operator.W)
    n, B = W.shape
    coefs, groups, sizes = [], [], []
    cum = np.ones((n, B))
    stride = 1
    for inner, orient, children in levels:
        cum = cum * np.asarray(inner)[:, np.arange(B) // stride]
        stride *= children
        group = np.arange(B) // stride
        coefs.append(np.asarray(orient)[:, group] * cum)
        groups.append(group)
        sizes.append(orient.shape[1])
        if orient.shape[1] * stride != B:  # G sums each group's run of consecutive blocks
            raise ValueError(f"{orient.shape[1]} groups of {stride} blocks for {B} blocks.")
    return coefs, groups, sizes


def _block_classes(W, coefs, groups):
    """Blocks that enter every coupling row only through one signed sum (the classes).

    Blocks ``b`` whose prediction weight ``W[:, b]`` and upper-level coefficients ``coefs[l][:, b]``
    are the same columns up to one sign ``sigma_b``, in the same groups at every level, couple the
    Newton system only through ``delta = sum_b sigma_b u_b``: for a deep program, the two level-1
    signs of a pattern under the same upper path. Returns ``(members, sigma)`` of shape (C, k),
    classes in the order of their first block, ``k`` the largest class; a smaller class is padded
    with the index ``B`` (no block) and sign 0.
    """
    W = np.asarray(W)
    B = W.shape[1]
    columns = np.concatenate([W] + [np.asarray(c) for c in coefs], axis=0)  # (rows, B)
    # each column's sign: that of its first non-zero entry (+1 for a zero column)
    first = np.argmax(columns != 0, axis=0)
    sign = np.where(columns[first, np.arange(B)] < 0, -1.0, 1.0)
    keys = np.concatenate([(columns * sign).T, np.stack(groups, axis=1).astype(np.float64)],
                          axis=1) if groups else (columns * sign).T
    # equal rows by a random projection (the same rows sum the same products in the same order),
    # checked exactly; np.unique over whole rows is ~30x slower at 7,000 blocks
    project = (keys * np.random.default_rng(0).standard_normal(keys.shape[1])).sum(axis=1)
    _, start, label = np.unique(project, return_index=True, return_inverse=True)
    label = np.asarray(label).reshape(-1)
    if not np.array_equal(keys, keys[start[label]]):  # a collision: compare whole rows
        _, start, label = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        label = np.asarray(label).reshape(-1)
    order = np.argsort(start, kind="stable")  # classes in the order of their first block
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    label = rank[label]
    blocks = np.argsort(label, kind="stable")  # blocks by class, each class's in block order
    counts = np.bincount(label, minlength=order.size)
    k = int(counts.max())
    slot = np.arange(B) - np.repeat(np.cumsum(counts) - counts, counts)
    index = np.full((order.size, k), B)
    sigma = np.zeros((order.size, k))
    index[label[blocks], slot] = blocks
    sigma[label[blocks], slot] = sign[blocks]
    return index, sigma * sigma[:, :1]  # relative to the class's first block


def nested_class_size(operator):
    """Blocks per class on average (see ``_block_classes``) of a nested operator: 2 for the
    sampled deep programs."""
    coefs, groups, _ = _level_rows(operator)
    members = _block_classes(operator.W, coefs, groups)[0]
    return operator.W.shape[1] / members.shape[0]


class _NestedProgram(_Program):
    """A nested deep cone program: data, linear maps and the dense reduced Newton solver."""

    reduces_rows = False  # its maps and Newton solve are written for every row of every level
    _REFINED_AT = 1e-13  # refinement to rounding level: the upper-level rows' residuals stalled
    # the end of the iteration (kkt_solve)

    def __init__(self, problem):
        super().__init__(problem)
        operator = problem.block_operator(np.float64, xp=NUMPY)
        levels = list(operator.levels)
        B = self.B
        self.level_coef, self.level_group, self.level_sizes = _level_rows(operator)
        self.top = _top_group_size(B, levels)  # blocks per top-level group
        self.n_top = B // self.top
        members, sigma = _block_classes(self.W, self.level_coef, self.level_group)
        self.layouts = {False: self._layout(np.arange(B)[:, None], np.ones((B, 1)))}
        self.layouts[True] = self._layout(members, sigma) if members.shape[1] > 1 else None
        self.n_constraints = B + sum(self.level_sizes)
        self.degree = B + self.n * self.n_constraints
        self._offsets = np.cumsum([B] + self.level_sizes)  # column offsets of the upper levels
        self._levels = levels

    def step_costs(self):
        """``(factor, solve)`` as ``_Program.step_costs``: the merged factorization's flops
        (:func:`nested_step_flops`) and a solve's passes over the n x constraints rows, with the
        extra refinement passes."""
        layout = self.layouts[True] or self.layouts[False]
        flops = nested_step_flops(self.n, self.d, self.B, self._levels,
                                  class_size=self.B / layout["C"])
        passes = (1 + _EXTRA_REFINE) / 2
        return flops, passes * _SOLVE_FLOPS_PER_ENTRY * self.n * self.n_constraints

    def _layout(self, members, sigma):
        """The coupling rows per class (the coefficient columns of its first block) and where the
        classes of each group sit: ``bounds[l][g]`` is the first class of group ``g`` at upper
        level ``l`` (classes are in the order of their first block, so a group's are
        contiguous), ``top[t]`` the first class of top-level group ``t``."""
        first = members[:, 0]
        group = [g[first] for g in self.level_group]
        bounds = [np.searchsorted(g, np.arange(size + 1)) for g, size in zip(group, self.level_sizes)]
        top = np.searchsorted(first // self.top, np.arange(self.n_top + 1))
        return {"members": members, "sigma": sigma, "k": members.shape[1], "C": members.shape[0],
                "coef": [coef[:, first] for coef in self.level_coef], "group": group,
                "bounds": bounds, "top": top, "W": self.W[:, first],
                "single": (sigma[:, 1:] == 0).all(axis=1)}

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
    def factor(self, scaling, h, c=None, merge=True):
        """Factor ``M + C_up^T D C_up + K^T (diag(h) - c c^T) K`` (``c``: the rank-one term of a
        loss with a minimized-out offset, taken as ``H^1/2 P H^1/2`` exactly as
        ``_Program.factor`` does).

        The coupling rows see a class's blocks only through ``delta_c = sum_b sigma_b u_b``, so
        the system is reduced to the classes' sums (the Schur complement of ``M``): ``P^{-1} + K``
        with ``P_c = sum_b (M_b^{-1})_uu = L_c L_c^T`` and ``K`` the coupling rows' part. In the
        variables ``eta_c = L_c^{-1} delta_c`` it is ``I + T_up + Y^T H Y`` with ``Z_c = A L_c``.
        ``merge=False`` (or no class of two blocks or more) keeps every block its own class.
        """
        layout = self.layouts[merge] or self.layouts[False]
        d, n, k, C = self.d, self.n, layout["k"], layout["C"]
        winv = scaling["winv"]
        winv_soc = _soc_inverse_matrix(scaling["wbar"], scaling["eta"])
        B = self.B
        R = self._factor_blocks_gram(winv_soc, winv[:, :B])
        if R is None:
            R = self._factor_blocks_qr(winv_soc, winv[:, :B])
        Rinv = upper_inverse(R)
        R22inv = Rinv[:, 1:, 1:]
        if k == 1:
            L, Qs = R22inv, None  # every class is one block: Q = I
        else:
            # the signed, stacked R22inv_b^T of a class factor as Q_c L_c^T (QR; Q_c has
            # orthonormal columns): delta_c = L_c Q_c^T xi_c, so only Q_c^T xi_c meets the rows.
            # Padding (index B, sign 0) stacks zeros, which change neither factor.
            padded = np.concatenate([R22inv, np.zeros((1, d, d))])
            members, sigma = layout["members"], layout["sigma"]
            stacked = np.concatenate(
                [padded[members[:, j]].transpose(0, 2, 1) * np.abs(sigma[:, j])[:, None, None]
                 for j in range(k)], axis=1)
            Lt = np.linalg.qr(stacked, mode="r")  # (C, d, d)
            L = Lt.transpose(0, 2, 1)
            # Q_cb = R22inv_b^T L_c^{-T} as a product, not the QR's Q: a block pinned by its
            # cones (tiny R22inv_b) keeps its rows' relative accuracy
            Qs = stacked.reshape(C, k, d, d) @ upper_inverse(np.ascontiguousarray(Lt))[:, None]
            Qs *= sigma[:, :, None, None]
            # a one-block class keeps L = R22inv_b and Q = I, as without classes: its xi is then
            # eta itself, not g_u + Q (eta - Q^T g_u), whose cancellation costs eps ||g_u||
            single = layout["single"]
            if single.any():
                L[single] = R22inv[members[single, 0]]
                Qs[single] = 0.0
                Qs[single, 0] = np.eye(d)
        cd = C * d
        # Z_c = A L_c, laid out (n, C, d)
        Z = self.A @ np.ascontiguousarray(L.transpose(1, 0, 2)).reshape(d, cd)
        Z = Z.reshape(n, C, d)
        # T0 = I + upper-level rows, one dense block per top-level group: T0 = L0 L0^T
        top = layout["top"]  # first class of each top-level group
        pieces = [[] for _ in range(self.n_top)]  # per top group: (offset, rows) of each group
        big = np.zeros(self.n_top)  # largest diagonal entry of T0 - I per top group
        start = B
        for coef, group, bounds, size in zip(layout["coef"], layout["group"], layout["bounds"],
                                             self.level_sizes):
            w = winv[:, start : start + size]  # sqrt(z / s) of the level's rows
            start += size
            rows = (w[:, group] * coef)[:, :, None] * Z  # (n, C, d)
            for g in range(size):
                first, end = bounds[g], bounds[g + 1]
                if end == first:
                    continue
                Yg = rows[:, first:end].reshape(n, (end - first) * d)
                t = int(np.searchsorted(top, first, side="right")) - 1
                pieces[t].append(((first - top[t]) * d, Yg))
                big[t] = max(big[t], float(np.einsum("ij,ij->j", Yg, Yg).max()))
        L0 = []
        for t in range(self.n_top):
            q = (top[t + 1] - top[t]) * d
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
                for j, (off, Yg) in enumerate(pieces[t]):
                    stack[q + j * n : q + (j + 1) * n, off : off + Yg.shape[1]] = Yg
                R0 = np.linalg.qr(stack, mode="r")
                L0.append(np.ascontiguousarray(R0.T))
        del pieces
        sqrt_h = np.sqrt(h)
        Y = (layout["W"] * sqrt_h[:, None])[:, :, None] * Z  # H^1/2 [W_c * Z_c]_c
        Y = Y.reshape(n, cd)
        if c is not None:
            total = float(h.sum())
            e = sqrt_h / np.sqrt(total) if total > 0 else np.zeros_like(h)
            project_out(Y, e)  # P H^1/2 [W_c * Z_c]_c
        # with Yh = Y L0^{-T}, T = L0 (I + Yh^T Yh) L0^T, whose middle factor has eigenvalues in
        # [1, 1 + ||Yh||^2] whatever the multipliers (Woodbury through T0^{-1} directly lost the
        # iteration near the end)
        Yh = np.empty((cd, n))  # Yh^T = L0^{-1} Y^T
        for t in range(self.n_top):
            cols = slice(top[t] * d, top[t + 1] * d)
            Yh[cols], info = _trtrs(L0[t], Y[:, cols].T, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"the factor of top-level group {t} is singular.")
        del Y
        fac = {"Rinv": Rinv, "Qs": Qs, "h": h, "c": c, "L0": L0, "YhT": Yh, "layout": layout,
               "merged": k > 1, "scaling": scaling}
        if n >= cd:
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
        top, d = fac["layout"]["top"], self.d
        out = np.empty_like(v)
        for t, L in enumerate(fac["L0"]):  # LAPACK's trtrs: scipy's wrapper costs ~70 us a call
            cols = slice(top[t] * d, top[t + 1] * d)
            out[cols], info = _trtrs(L, v[cols], lower=1, trans=1 if trans else 0)
            if info != 0:
                raise np.linalg.LinAlgError(f"the factor of top-level group {t} is singular.")
        return out

    def reduced_solve(self, fac, r):
        """Solve ``(M + C_up^T D C_up + K^T (diag(h) - c c^T) K) x = r`` with the factors (r: (B, d + 1)).

        In ``xi = R x`` the system is ``xi_t = g_t``, ``(I + J^T K J) xi_u = g_u`` (``g = R^{-T}
        r``, ``J`` the classes' signed sums ``delta_c = L_c Q_c^T xi_c``): the part of ``xi_u``
        orthogonal to the ``Q_c`` is ``g_u``'s, and ``eta = Q^T xi_u`` solves ``(I + L^T K L) eta
        = Q^T g_u``, the factored system.
        """
        Rinv, Qs, layout = fac["Rinv"], fac["Qs"], fac["layout"]
        members = layout["members"]
        g = np.zeros((self.B + 1, r.shape[1]))  # row B: the padding's (see _block_classes)
        g[: self.B] = np.einsum("bji,bj->bi", Rinv, r)  # R^{-T} r
        if Qs is None:
            rhs = g[: self.B, 1:]
        else:
            rhs = np.einsum("ckij,cki->cj", Qs, g[members, 1:])  # Q^T g_u, (C, d)
        c = self._l0_solve(fac, rhs.reshape(-1), False)
        if fac["mode"] == "dense":
            eta = cho_solve(fac["chol"], c, check_finite=False)
        else:  # (I + Yh^T Yh)^{-1} c = c - Yh^T (I + Yh Yh^T)^{-1} Yh c
            YhT = fac["YhT"]
            eta = c - YhT @ cho_solve(fac["chol"], c @ YhT, check_finite=False)
        eta = self._l0_solve(fac, eta, True).reshape(layout["C"], self.d)
        if Qs is None:
            g[: self.B, 1:] = eta
        else:  # every block is in one class; the padding's row B takes the rest
            g[members, 1:] += np.einsum("ckij,cj->cki", Qs, eta - rhs)
            single = layout["single"]
            g[members[single, 0], 1:] = eta[single]
        return np.einsum("bij,bj->bi", Rinv, g[: self.B])

    def kkt_solve(self, fac, scaling, p, q_orth, q_soc, refine=1):
        """As ``_Program.kkt_solve`` with two more refinement passes (at most: they stop once the
        residual is at rounding level): the upper-level rows square multipliers of up to ~1e8
        into ``T``, and one pass left residuals that stalled the iteration near the end.

        The merged classes lose some of the blocks' relative accuracy once the system's condition
        nears ``1/eps`` (the last steps to a tight ``tol``): where the refined residual stays
        above ``residual_tol`` of the right-hand side (``1e-2 tol`` of the solve, within
        ``_cone_program._RESIDUAL_TOL``; the refinement usually ends at rounding level), the step is factored
        again block by block (``merge=False``, kept in ``fac`` for the step's other solves) and
        solved with that.
        """
        if fac.get("unmerged") is not None:
            fac = fac["unmerged"]
        out = super().kkt_solve(fac, scaling, p, q_orth, q_soc, refine + _EXTRA_REFINE)
        if not fac["merged"] or fac["refined"]:
            return out
        _, err, scale = self.kkt_residual(fac, scaling, p, q_orth, q_soc, *out)
        if err <= self.residual_tol * scale:
            return out
        fac["unmerged"] = self.factor(fac["scaling"], fac["h"], fac["c"], merge=False)
        return super().kkt_solve(fac["unmerged"], scaling, p, q_orth, q_soc,
                                 refine + _EXTRA_REFINE)
