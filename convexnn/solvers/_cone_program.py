"""The structured cone program of the interior-point method: second-order-cone algebra (Nesterov-Todd
scaling, step lengths) and :class:`_Program`, the two-layer program's linear maps and its reduced
Newton solve (block factors, Woodbury through the n x n matrix or the group space).

The method itself (the Mehrotra loop, starts, stopping) is :mod:`convexnn.solvers.interior_point`;
the nested deep program's variant of :class:`_Program` is :mod:`convexnn.solvers._nested_program`.
Both import from here, and this module imports neither.
"""

import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.blas import dger as _ger
from scipy.linalg.blas import dsyrk as _dsyrk
from scipy.linalg.blas import ssyrk as _ssyrk
from scipy.linalg.lapack import dgeqrf as _geqrf
from scipy.linalg.lapack import dtrtri as _trtri

from .._array_api import NUMPY

#: The column products of the orthant Grams are kept up to this many entries (256 MB) even where
#: the full QR stack they replace is smaller (few blocks, many columns: a digits working set), as
#: the one GEMM they feed costs half the flops of the per-block QRs and runs faster.
_KRP_ENTRIES = 2**25
#: Up to this many blocks the orthant Grams are formed block by block (one small GEMM each)
#: instead of by the GEMM with the column products, which reads all n d(d+1)/2 of them whatever
#: the number of blocks: 5.8 -> 2.8 ms at (n, d, B) = (1347, 62, 10), the size of a digits class's
#: working set; even at 20 blocks, 8.5 against 10.8 ms at 40.
_BLOCK_GRAMS = 16
#: Cost of one ``kkt_solve`` per entry of the (n, B) orthant arrays, in flops of the
#: factorizations' GEMMs: its passes over those arrays are memory bound, ~100 ns an entry against
#: ~40 GFlop/s (measured on one core at (1000, 20, 100) and (2000, 50, 300)).
_SOLVE_FLOPS_PER_ENTRY = 4e3
#: The reduction's Gram ``Yt Yt^T`` (or ``Yt^T Yt``, or the squared loss's fixed ``Z^T Z``) is
#: formed in float32 where it costs at least this many flops, until a step's refined residual
#: stays above ``residual_tol`` (then in float64 for the rest of the solve): half the time of the
#: float64 product (1.41 -> 0.87 s at (2000, 50, 300); the default program's solve 9.9-11.3 ->
#: 9.2-9.3 s at n = 50,000 with ``Z^T Z``, the same 22 steps), and the refinement against the
#: float64 system takes the residual of the early steps back to ~1e-10. The certificate never
#: depends on it (it is computed from the iterates in float64).
_SINGLE_FLOPS = 1e9
#: Relative refined residual above which a step is solved again with an exact factorization
#: (float64 Gram; the nested program's unmerged classes): 1e-2 of the solve's ``tol``, within these
#: bounds (``set_tol``).
_RESIDUAL_TOL = (1e-11, 1e-6)
#: The n-space route's ``S = Yt Yt^T`` is accumulated over chunks of groups whose columns hold at
#: most this many entries (64 MB in float64), so the n x G d matrix ``Yt`` is never held whole: at
#: (n, d, P) = (10000, 51, 368), a working set's size, it alone took 1.5 GB (and 0.75 GB more in
#: float32), against the 0.8 GB of ``S`` itself.
_CHUNK_ENTRIES = 2**23


def chunk_groups(n, d, n_groups):
    """Groups per chunk of the n-space Gram (``_CHUNK_ENTRIES``): at least one, at most all."""
    return max(1, min(n_groups, _CHUNK_ENTRIES // (n * d)))

_REFINE = 1  # refinement passes of the corrector's solve (at most; 2 cost 25% more time and
# changed no iteration count measured at n = 5,000)


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
    """Largest ``alpha`` with ``lam + alpha d >= 0`` (``lam > 0``; inf when ``d >= 0``).

    ``-1 / min(d / lam)``: one quotient and one reduction over the whole array (gathering the
    negative entries first cost about three times as much at (n, B) = (20000, 100))."""
    if d.size == 0:
        return math.inf
    lowest = float((d / lam).min())
    return math.inf if lowest >= 0 else -1.0 / lowest


# --------------------------------------------------------------------------- row reduction
class _Rows:
    """The orthant rows in the barrier under row reduction (``_Program.set_rows``), block by block.

    Entry ``k`` is row ``rows[k]`` of the block ``b`` with ``lo <= k < hi``, ``(lo, hi) =
    bounds[b]``, so the interior point's orthant arrays (slacks, multipliers, scalings,
    directions) have shape (K,) instead of (n, B), and each map below makes one BLAS call per
    block on the kept rows of ``A`` (gathered once).
    """

    def __init__(self, A, O, keep):
        n, B = keep.shape
        flat = np.flatnonzero(keep.T)  # block-major (b n + i): sorted by block, then row
        blocks = flat // n
        self.keep = keep
        self.rows = flat - blocks * n
        self.index = self.rows * B + blocks  # positions in a C-ordered (n, B) array
        ptr = np.searchsorted(blocks, np.arange(B + 1))
        self.bounds = list(zip(ptr[:-1].tolist(), ptr[1:].tolist()))
        self.A = A[self.rows]
        self.o = O.reshape(-1)[self.index]
        self.size = flat.size

    def apply(self, weight, u):
        """``weight_k * (A_k u_b)`` for every kept entry, shape (K,)."""
        out = np.empty(self.size)
        for b, (lo, hi) in enumerate(self.bounds):
            np.matmul(self.A[lo:hi], u[b], out=out[lo:hi])
        out *= weight
        return out

    def adjoint(self, v):
        """``sum_k v_k A_k`` over each block's kept entries, shape (B, d)."""
        out = np.empty((len(self.bounds), self.A.shape[1]))
        for b, (lo, hi) in enumerate(self.bounds):
            np.matmul(v[lo:hi], self.A[lo:hi], out=out[b])
        return out

    def factors(self, winv_soc, winv):
        """``R_b`` by a QR of ``[W_b^{-1}; winv_b * [0 | A_b]]`` over the block's kept rows (the
        full-stack QR of :meth:`_Program._factor_blocks_qr`, on a few rows): robust, and cheap."""
        B, m = winv_soc.shape[:2]
        R = np.empty((B, m, m))
        for b, (lo, hi) in enumerate(self.bounds):
            stack = np.empty((m + hi - lo, m), order="F")
            stack[:m] = winv_soc[b]
            stack[m:, 0] = 0.0
            np.multiply(self.A[lo:hi], winv[lo:hi, None], out=stack[m:, 1:])
            qr, _, _, info = _geqrf(stack, overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"QR of block {b} failed (info {info}).")
            R[b] = np.triu(qr[:m])
        return R

    def dense(self, v):
        """``v`` on the (n, B) layout, zero on the rows outside the barrier."""
        out = np.zeros(self.keep.shape)
        out.reshape(-1)[self.index] = v
        return out


# --------------------------------------------------------------------------- the structured system
def project_out(Y, e):
    """``Y <- (I - e e^T) Y`` in place (``Y`` C-contiguous float64 (n, k), ``e`` of shape (n,)),
    by one BLAS rank-one update: ``np.outer`` builds an (n, k) temporary whose page faults cost
    more than the update (1.8 against 0.14 ms at (1347, 325), the per-class system of digits)."""
    if not (Y.flags.c_contiguous and Y.dtype == np.float64):
        Y -= np.outer(e, e @ Y)
        return Y
    _ger(-1.0, e @ Y, e, a=Y.T, overwrite_a=1)  # Y^T is Fortran-ordered: updated in place
    return Y


def upper_inverse(R):
    """Inverses of the upper-triangular blocks ``R`` (B, m, m): LAPACK's triangular inverse per
    block, which is 3-4x faster than ``np.linalg.inv``'s batched LU at the blocks' sizes (0.37
    against 1.0 ms for 68 blocks of 15, 21 against 94 ms for 400 blocks of 65) and keeps the
    triangle exactly."""
    out = np.empty_like(R)
    for b in range(R.shape[0]):
        out[b], info = _trtri(R[b], lower=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"block {b}'s factor is singular (trtri info {info}).")
    return out


def _row_basis(A):
    """An orthonormal basis ``V`` (d x r) of the row space of ``A`` when its rank ``r < d``, else None.

    Every block's optimal ``u_b`` lies in that row space: a component in the null space of ``A``
    changes no prediction and no cone constraint ``O_b * (A u_b) >= 0``, and only adds to
    ``||u_b||``. So the program over ``A`` and the one over ``A V`` (with ``u_b = V w_b``,
    ``||u_b|| = ||w_b||``) have the same optimum; the reduced one has full column rank, which the
    orthant Grams' Cholesky needs (a constant feature, standardized to zero, makes ``A`` singular).
    The rank threshold is numpy's ``matrix_rank`` default (``s_max max(n, d) eps``).
    """
    n, d = A.shape
    if d == 0 or n == 0:
        return None
    _, sv, vt = np.linalg.svd(A, full_matrices=False)
    rank = int((sv > sv[0] * max(n, d) * np.finfo(float).eps).sum()) if sv[0] > 0 else 0
    if rank >= d or rank == 0:
        return None
    return np.ascontiguousarray(vt[:rank].T)


class _Program:
    """The cone program of a problem: data, linear maps and the reduced Newton solver."""

    #: whether the solver may keep only some orthant rows in the barrier (:meth:`set_rows`)
    reduces_rows = True

    def __init__(self, problem):
        operator = problem.block_operator(np.float64, xp=NUMPY)
        self.problem = problem
        self.basis = _row_basis(operator.A)
        self.A = operator.A if self.basis is None else operator.A @ self.basis
        self.W = operator.W
        self.O = operator.O  # None for the gated program
        self.loss = problem.loss
        self.y = problem.y
        self.lam = problem.lam
        self.n, self.d = self.A.shape
        self.B = self.W.shape[1]
        self.m = self.d + 1
        self.degree = self.B + (self.n * self.B if self.O is not None else 0)
        self._AT = np.ascontiguousarray(self.A.T)
        self._stack = None  # work buffer of the full-QR fallback
        self._small = None  # work buffer of the small per-block QRs
        self._krp = None  # column products of A (Khatri-Rao), built once when used
        self.group_index, self.group_sign, self.group_mask = self._groups()
        self.n_groups = self.group_index.shape[0]
        self._G = {}  # Grams of the group-space route by precision (True: float32), built once
        self._Yt = self._S = None  # the reductions' buffers (_scaled_columns, the n-space S)
        self._Y32 = self._S32 = None  # their float32 copies
        self.single = True  # float32 Grams allowed (until a step's residual says otherwise)
        # row reduction: the orthant rows in the barrier (_Rows, None: all of them) and the
        # normalized margin below which a row is kept (None: no reduction); see set_rows
        self.kept = self.row_margin = None
        self._row_norms = None
        self.residual_tol = _RESIDUAL_TOL[0]  # set from the solve's tol (set_tol)

    def set_tol(self, tol):
        """The solve's relative gap tolerance: the residual a step accepts follows it."""
        low, high = _RESIDUAL_TOL
        self.residual_tol = min(max(1e-2 * float(tol), low), high)

    #: Relative residual at which the refinement stops (None: :attr:`residual_tol`). A direction
    #: that accurate is as good as an exact one for the step (measured: same iterations, 1e-13
    #: against 1e-6 at n = 10,000 and tol 1e-4), and most corrector solves then skip their pass.
    _REFINED_AT = None

    @property
    def refined_at(self):
        return self.residual_tol if self._REFINED_AT is None else self._REFINED_AT

    # row reduction -------------------------------------------------------
    def near_rows(self, u):
        """``(near, values)``: the orthant values ``O_b * (A u_b)`` (n, B) and where they are below
        :attr:`row_margin` times ``||A_i|| ||u_b||`` (the rows within that angle of the blocks'
        directions)."""
        tiny = np.finfo(float).tiny
        if self._row_norms is None:
            self._row_norms = np.maximum(np.linalg.norm(self.A, axis=1), tiny)[:, None]
        values = self.O * (self.A @ u.T)
        scale = self.row_margin * np.maximum(np.linalg.norm(u, axis=1), tiny)
        return values < self._row_norms * scale, values

    def set_rows(self, keep):
        """Keep only the rows ``keep`` ((n, B) bool) in the barrier: from here on the orthant
        arrays hold their entries (shape (K,), :class:`_Rows`)."""
        self.kept = _Rows(self.A, self.O, keep)
        self.degree = self.B + self.kept.size

    def dense_orth(self, v):
        """An orthant array on the (n, B) layout (zero on the rows outside the barrier)."""
        return v if self.kept is None else self.kept.dense(v)

    def _rows_apply(self, weight, u):
        """``weight * (A u_b)`` on the orthant layout (``weight`` on that layout)."""
        if self.kept is not None:
            return self.kept.apply(weight, u)
        return weight * (self.A @ u.T)

    def _rows_adjoint(self, weight, v):
        """``sum_i weight_ib v_ib A_i`` per block, shape (B, d)."""
        if self.kept is not None:
            return self.kept.adjoint(weight * v)
        return (weight * v).T @ self.A

    def _orientation(self):
        return self.O if self.kept is None else self.kept.o

    # linear maps ---------------------------------------------------------
    def lift(self, u):
        """Blocks of the reduced columns (B, r) as blocks of the problem's design (B, d)."""
        return u if self.basis is None else u @ self.basis.T

    def restrict(self, u):
        """Blocks of the problem's design (B, d) projected on the reduced columns (B, r)."""
        return u if self.basis is None else u @ self.basis

    def predict(self, u):
        return np.einsum("nb,nb->n", self.W, self.A @ u.T)

    def predict_adjoint(self, r):
        return (self.W * r[:, None]).T @ self.A

    def G(self, x):
        """``G x`` as (orthant part (n, B) or None, cone part (B, d + 1))."""
        orth = None if self.O is None else -self._rows_apply(self._orientation(), x[:, 1:])
        return orth, -x

    def GT(self, orth, soc):
        out = -soc
        if self.O is not None:
            out[:, 1:] -= self._rows_adjoint(self._orientation(), orth)
        return out

    def hess(self, x, h, c=None):
        """``K^T (diag(h) - c c^T) K x`` (``c`` None: the diagonal Hessian alone)."""
        out = np.zeros_like(x)
        pred = self.predict(x[:, 1:])
        curv = h * pred
        if c is not None:
            curv -= c * float(c @ pred)
        out[:, 1:] = self.predict_adjoint(curv)
        return out

    # scaling -------------------------------------------------------------
    def scale_inv(self, scaling, orth, soc):
        """``W^{-1} v`` (``W^{-T} = W^{-1}``: both scalings are symmetric)."""
        winv, wbar, eta = scaling["winv"], scaling["wbar"], scaling["eta"]
        return (None if orth is None else winv * orth), _soc_scale(wbar, eta, soc, inverse=True)

    def scaled_G(self, scaling, x):
        """``W^{-1} G x``: :meth:`G` then :meth:`scale_inv`, with the orthant's scaling folded into
        its orientation once per step (one pass over the (n, B) rows instead of two)."""
        orth = None
        if self.O is not None:
            orth = -self._rows_apply(self._scaled_orientation(scaling), x[:, 1:])
        return orth, _soc_scale(scaling["wbar"], scaling["eta"], -x, inverse=True)

    def scaled_GT(self, scaling, orth, soc):
        """``G^T W^{-1} v``: :meth:`scale_inv` then :meth:`GT`, folded as :meth:`scaled_G`."""
        out = -_soc_scale(scaling["wbar"], scaling["eta"], soc, inverse=True)
        if self.O is not None:
            out[:, 1:] -= self._rows_adjoint(self._scaled_orientation(scaling), orth)
        return out

    def _scaled_orientation(self, scaling):
        if "scaled_orientation" not in scaling:
            scaling["scaled_orientation"] = self._orientation() * scaling["winv"]
        return scaling["scaled_orientation"]

    def scale(self, scaling, orth, soc):
        winv, wbar, eta = scaling["winv"], scaling["wbar"], scaling["eta"]
        return (None if orth is None else orth / winv), _soc_scale(wbar, eta, soc)

    # factorization -------------------------------------------------------
    def _groups(self):
        """Blocks sharing a pattern's mask (ReLU: the +/- blocks of a pattern) are merged.

        Returns ``(index, sign, mask)``: ``index`` of shape (G, k) lists the blocks of each group,
        ``sign`` (G, k) their signs and ``mask`` (n, G) the common weights, ``W_b = sign_b mask_g``.
        """
        problem = self.problem
        P = problem.patterns.n_patterns
        pattern = np.asarray(problem.block_pattern)
        sign = np.asarray(problem.block_sign, dtype=np.float64)
        mask = np.asarray(problem.patterns.mask, dtype=np.float64)
        alone = np.arange(self.B)[:, None], np.ones((self.B, 1)), self.W
        if self.B == 2 * P and np.array_equal(pattern, np.concatenate([np.arange(P)] * 2)):
            index = np.stack([np.arange(P), np.arange(P, 2 * P)], axis=1)
        elif self.B == P and np.array_equal(pattern, np.arange(P)):
            index = np.arange(P)[:, None]
        else:
            return alone
        if not np.array_equal(mask[:, pattern] * sign, self.W):
            return alone
        return index, sign[index], mask

    def route_costs(self, constant_h=True):
        """Flops per factorization of the two reductions: (n-space, group-space)."""
        n, gd = self.n, self.n_groups * self.d
        nspace = n * n * gd + n**3 / 3
        gspace = gd**3 / 3 + (2 * gd * gd * self.d if constant_h else n * gd * gd)
        return nspace, gspace

    def step_costs(self):
        """``(factor, solve)``: the flops of one factorization (the blocks' Grams and QRs and the
        cheaper reduction) and the cost of one :meth:`kkt_solve` in the same units."""
        n, d, B = self.n, self.d, self.B
        if self.kept is None:
            blocks, entries = n * d * (d + 1) / 2 * B + 4.0 * B * self.m**3, n * B
        else:  # the QRs of the kept rows; the loss's (n, B) passes stay
            blocks, entries = 2.0 * self.kept.size * self.m**2, self.kept.size + n * B / 8
        return blocks + min(self.route_costs()), _SOLVE_FLOPS_PER_ENTRY * entries

    def _gram(self, single=False):
        """``Z^T Z`` with ``Z = [m_i * A]_i`` (n x G d): the curvature-free part of the coupling,
        formed in float32 when ``single`` (returned in float64 either way)."""
        if single not in self._G:
            dtype = np.float32 if single else np.float64
            A = self.A.astype(dtype, copy=False)
            Z = (self.group_mask.astype(dtype)[:, :, None] * A[:, None, :]).reshape(self.n, -1)
            with np.errstate(over="ignore", invalid="ignore"):  # factor checks the diagonal
                self._G[single] = (Z.T @ Z).astype(np.float64, copy=False)
        return self._G[single]

    def _factor_blocks_gram(self, winv_soc, winv):
        """``R_b`` with ``R_b^T R_b = M_b`` from the orthant Gram ``C_b = A^T diag(winv_b^2) A``.

        All the ``C_b`` come from one GEMM with the fixed Khatri-Rao matrix of ``A``'s column
        products (its upper triangle, n x d(d+1)/2), or one small GEMM each for at most
        ``_BLOCK_GRAMS`` blocks; each is factored ``C_b = L_b L_b^T``
        (batched Cholesky) and ``R_b`` is the R of a QR of the small stack
        ``[W_b^{-1}; [0 | L_b^T]]`` ((m + d) x m), so the second-order cone part is still never
        squared (accurate near the cone apex). Squaring the orthant part costs accuracy only
        where ``C_b`` is ill-conditioned; the refinement against the unreduced system absorbs
        that, and a failed Cholesky returns None (the caller falls back to the full QR).
        """
        B, m, d = self.B, self.m, self.d
        if B <= _BLOCK_GRAMS:
            if not np.all(np.isfinite(winv)):
                return None
            C = np.empty((B, d, d))
            for b in range(B):
                scaled = self.A * winv[:, b:b + 1]
                np.matmul(scaled.T, scaled, out=C[b])
        else:
            if self.n * d * (d + 1) // 2 > max(self.n * B * m, _KRP_ENTRIES):
                return None  # the column products would outgrow the full QR stack and the cap
            iu, ju, krp = self._colprod()
            w2 = winv * winv  # (n, B)
            if not np.all(np.isfinite(w2)):
                return None
            packed = (krp.T @ w2).T  # (B, d(d+1)/2)
            C = np.empty((B, d, d))
            C[:, iu, ju] = packed
            C[:, ju, iu] = packed
        try:
            L = np.linalg.cholesky(C)
        except np.linalg.LinAlgError:
            return None
        # stack[b].T (Fortran order, shape (m + d, m)) is [W_b^{-1}; [0 | L_b^T]]
        if self._small is None:
            self._small = np.empty((B, m, m + d))
        stack = self._small
        stack[:, :, :m] = winv_soc  # symmetric, so its transpose
        stack[:, 0, m:] = 0.0
        stack[:, 1:, m:] = L
        for b in range(B):
            _, _, _, info = _geqrf(stack[b].T, overwrite_a=1)
            if info != 0:
                return None
        R = np.triu(stack[:, :, :m].transpose(0, 2, 1))
        if not np.all(np.isfinite(R)) or not np.all(np.abs(np.diagonal(R, axis1=1, axis2=2)) > 0):
            return None
        return R

    def _factor_blocks_qr(self, winv_soc, winv):
        """``R_b`` by a QR of the full stack ``[W_b^{-1}; sqrt(z_b/s_b) * [0 | A]]`` (robust)."""
        B, m, n = self.B, self.m, self.n
        # stack[b].T (Fortran order, shape (m + n, m)) is [W_b^{-1}; sqrt(z_b/s_b) * [0 | A]].
        # One in-place LAPACK geqrf per block: ~6x faster than numpy's batched qr, which
        # copies the stack and works in a less favourable layout.
        if self._stack is None:
            self._stack = np.empty((B, m, m + n))
        stack = self._stack
        stack[:, :, :m] = winv_soc  # symmetric, so its transpose
        stack[:, 0, m:] = 0.0
        np.multiply(winv.T[:, None, :], self._AT[None, :, :], out=stack[:, 1:, m:])
        for b in range(B):
            _, _, _, info = _geqrf(stack[b].T, overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"QR of block {b} failed (info {info}).")
        return np.triu(stack[:, :, :m].transpose(0, 2, 1))

    def _colprod(self):
        """``(iu, ju, K)``: the products of ``A``'s column pairs ``K[:, t] = A[:, iu_t] A[:, ju_t]``
        over the upper triangle (n x d(d+1)/2), so that ``A^T diag(w) A`` is packed in ``K^T w``."""
        if self._krp is None:
            iu, ju = np.triu_indices(self.d)
            self._krp = (iu, ju, np.ascontiguousarray(self.A[:, iu] * self.A[:, ju]))
        return self._krp

    def factor(self, scaling, h, c=None):
        """Factor ``M + K^T (diag(h) - c c^T) K`` (see the module docstring); returns the factor
        dict.

        While :attr:`single` holds, the reduction's Gram is formed in float32 where it costs at
        least ``_SINGLE_FLOPS`` (``fac['single']``); :meth:`kkt_solve` checks the refined
        residual and factors again in float64 where it is too large.

        The rank-one term comes from a loss with a minimized-out offset (``c = h / sqrt(1^T h)``,
        :meth:`~convexnn.losses.Loss.hessian_rank_one`): then ``diag(h) - c c^T = H^1/2 P H^1/2``
        with the projector ``P = I - e e^T``, ``e = sqrt(h) / sqrt(1^T h)``, and the reduction
        runs with ``V = P H^1/2 Y`` in place of ``H^1/2 Y``: the small matrix ``I + V V^T`` (or
        ``I + V^T V``) is still >= I, so no Sherman-Morrison cancellation (whose denominator goes
        to zero when the network can represent constants) enters the solve.
        """
        d, n = self.d, self.n
        winv_soc = _soc_inverse_matrix(scaling["wbar"], scaling["eta"])
        if self.O is None:
            R = np.linalg.qr(winv_soc, mode="r")
        elif self.kept is not None:
            R = self.kept.factors(winv_soc, scaling["winv"])
        else:
            R = self._factor_blocks_gram(winv_soc, scaling["winv"])
            if R is None:
                R = self._factor_blocks_qr(winv_soc, scaling["winv"])
        Rinv = upper_inverse(R)
        R22inv = Rinv[:, 1:, 1:]  # (B, d, d)
        # Y Y^T = sum_b (w_b * A R22inv_b)(...)^T = sum_i diag(m_i) A L_i L_i^T A^T diag(m_i) with
        # L_i L_i^T = sum over the group's blocks of R22inv_b R22inv_b^T (signs square away):
        # L_i^T is the R of a QR of the stacked R22inv_b^T, which never forms the sum
        # The stacked R22inv_b^T of a group factor as Q_i L_i^T (QR), so R22inv_b = L_i Q_ib^T and
        # Y = Yt Q with Yt = [m_i * A L_i]_i (n x G d) and Q (G d x B d, blocks s_b Q_ib^T) having
        # orthonormal rows: Y Y^T = Yt Yt^T (the +/- blocks of a pattern merge, half the columns)
        index = self.group_index
        k = index.shape[1]
        stacked = np.concatenate([R22inv[index[:, j]].transpose(0, 2, 1) for j in range(k)],
                                 axis=1)
        Qr, Lt = np.linalg.qr(stacked, mode="reduced")  # (G, k d, d), (G, d, d)
        L = Lt.transpose(0, 2, 1)
        Qs = Qr.reshape(index.shape[0], k, d, d) * self.group_sign[:, :, None, None]
        sqrt_h = np.sqrt(h)
        e = None
        if c is not None:
            total = float(h.sum())
            e = sqrt_h / math.sqrt(total) if total > 0 else np.zeros_like(h)
        constant = bool(sqrt_h.min() == sqrt_h.max())
        nspace, gspace = self.route_costs(constant)
        G, gd = self.n_groups, self.n_groups * d
        fac = {"Rinv": Rinv, "R22inv": R22inv, "L": L, "Qs": Qs, "sqrt_h": sqrt_h, "h": h,
               "c": c, "e": e, "scaling": scaling, "single": False}
        single = self.single
        if nspace <= gspace:
            # n x n: S = I + H^1/2 Yt Yt^T H^1/2, Yt = [m_i * A L_i]_i (n x G d)
            fac["single"] = single and n * n * gd >= _SINGLE_FLOPS
            S = self._nspace_gram(L, sqrt_h, e, fac["single"])
            fac["mode"] = "nspace"
        else:
            # G d x G d: T = I + Yt^T H Yt, block (i, j) = L_i^T A^T diag(m_i m_j h) A L_j
            if constant:
                # (G d, G d), fixed; in float32 like the other route's Grams
                fac["single"] = single and n * gd * gd >= _SINGLE_FLOPS
                Gram = self._gram(fac["single"])
                # one BLAS product per group (numpy's batched matmul over strided views is slow)
                GL = np.empty((gd, gd))
                for j in range(G):
                    np.matmul(Gram[:, j * d:(j + 1) * d], L[j], out=GL[:, j * d:(j + 1) * d])
                S = np.empty((gd, gd))
                for i in range(G):
                    np.matmul(L[i].T, GL[i * d:(i + 1) * d], out=S[i * d:(i + 1) * d])
                del GL
                S *= h[0]
                if e is not None:
                    # Yt^T H^1/2 P H^1/2 Yt = Yt^T H Yt - q q^T, q_i = L_i^T A^T (m_i * c)
                    q = np.einsum("gab,ga->gb", L, (self.group_mask * c[:, None]).T @ self.A)
                    q = q.reshape(-1)
                    S -= np.outer(q, q)
                # S is symmetric up to rounding; the factorization reads its lower triangle
            else:
                Yt = self._scaled_columns(L, sqrt_h, e)
                if single and n * gd * gd >= _SINGLE_FLOPS:
                    with np.errstate(over="ignore", invalid="ignore"):  # checked below
                        Yt = Yt.astype(np.float32)
                        S, fac["single"] = (Yt.T @ Yt).astype(np.float64), True
                else:
                    S = Yt.T @ Yt
                del Yt
            fac["mode"] = "gspace"
        S[np.diag_indices_from(S)] += 1.0
        if fac["single"] and not np.isfinite(S.diagonal()).all():  # float32's range exceeded
            return self._factor_double(scaling, h, c)
        try:
            # S's lower triangle (the n-space route forms only that one), read as the upper one
            # of the Fortran-ordered S^T: factored in place, where a C-ordered S is first copied
            # (and the factorization took twice as long at n = 3,000)
            fac["chol"] = cho_factor(S.T, lower=False, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            if not fac["single"]:
                raise
            return self._factor_double(scaling, h, c)  # float32 rounding broke definiteness
        return fac

    def _scaled_columns(self, L, sqrt_h, e, groups=None):
        """``P H^1/2 Yt`` with ``Yt = [m_i * A L_i]_i`` (n x G d; ``P = I - e e^T``, or ``I`` when
        ``e`` is None), or its columns of the groups in the slice ``groups``, in a buffer kept
        across iterations: a fresh array of that size costs page faults at every step."""
        n, d = self.n, self.d
        groups = slice(0, self.n_groups) if groups is None else groups
        count = len(range(*groups.indices(self.n_groups)))
        size = n * count * d
        if self._Yt is None or self._Yt.size < size:
            self._Yt = np.empty(size)  # flat: any chunk's (n, count d) is a C-ordered view
        Yt = self._Yt[:size].reshape(n, count * d)
        Lg = np.ascontiguousarray(L[groups].transpose(1, 0, 2)).reshape(d, count * d)
        np.matmul(self.A, Lg, out=Yt)
        Yt3 = Yt.reshape(n, count, d)
        np.multiply(Yt3, (self.group_mask[:, groups] * sqrt_h[:, None])[:, :, None], out=Yt3)
        if e is not None:
            project_out(Yt, e)
        return Yt

    def _nspace_gram(self, L, sqrt_h, e, single):
        """The lower triangle of ``S = (P H^1/2 Yt)(P H^1/2 Yt)^T`` (n x n, the rest zero), one
        BLAS ``syrk`` per chunk of groups (``_CHUNK_ENTRIES``), in float32 when ``single``
        (returned in float64 either way)."""
        n, d, G = self.n, self.d, self.n_groups
        per = chunk_groups(n, d, G)
        if self._S is None:
            self._S = np.zeros((n, n))  # its upper triangle stays zero (and finite)
        target = self._S
        if single:
            if self._S32 is None:
                self._S32 = np.zeros((n, n), dtype=np.float32)
            target = self._S32
        syrk = _ssyrk if single else _dsyrk
        with np.errstate(over="ignore", invalid="ignore"):  # float32's range: checked by factor
            for g0 in range(0, G, per):
                Yt = self._scaled_columns(L, sqrt_h, e, slice(g0, min(G, g0 + per)))
                if single:
                    if self._Y32 is None or self._Y32.size < Yt.size:
                        self._Y32 = np.empty(Yt.size, dtype=np.float32)
                    Y32 = self._Y32[:Yt.size].reshape(Yt.shape)
                    np.copyto(Y32, Yt, casting="same_kind")
                    Yt = Y32
                # the C-ordered lower triangle of target is the upper one of its transpose
                out = syrk(1.0, Yt.T, beta=0.0 if g0 == 0 else 1.0, c=target.T, trans=1,
                           lower=0, overwrite_c=1)
                if not np.may_share_memory(out, target):  # the wrapper copied: keep its result
                    target.T[...] = out
            if single:
                np.copyto(self._S, self._S32)
        return self._S

    def _factor_double(self, scaling, h, c):
        """:meth:`factor` with its Gram in float64, for this step and the rest of the solve."""
        self.single = False
        return self.factor(scaling, h, c)

    def reduced_solve(self, fac, r):
        """Solve ``(M + K^T (diag(h) - c c^T) K) x = r`` with the factors (r of shape (B, d + 1))."""
        Rinv, R22inv, sqrt_h, e = fac["Rinv"], fac["R22inv"], fac["sqrt_h"], fac.get("e")
        g = np.einsum("bji,bj->bi", Rinv, r)
        gu = g[:, 1:]
        # (I + V^T V) xi = g with V = H^1/2 Y
        if fac["mode"] == "nspace":
            # Woodbury: xi = g - V^T (I + V V^T)^{-1} V g, with V V^T = H^1/2 Yt Yt^T H^1/2
            v = sqrt_h * self.predict(np.einsum("bij,bj->bi", R22inv, gu))  # V g
            if e is not None:
                v -= e * float(e @ v)  # P H^1/2 Y g
            s = cho_solve(fac["chol"], v, check_finite=False)
            if e is not None:
                s -= e * float(e @ s)
            back = self.predict_adjoint(sqrt_h * s)
            g[:, 1:] = gu - np.einsum("bji,bj->bi", R22inv, back)
        else:
            # V = Vt Q, Q Q^T = I: (I + Q^T T0 Q)^{-1} = I - Q^T Q + Q^T (I + T0)^{-1} Q
            index, Qs = self.group_index, fac["Qs"]
            c = np.einsum("gkai,gka->gi", Qs, gu[index])  # Q g, (G, d)
            t = cho_solve(fac["chol"], c.reshape(-1), check_finite=False).reshape(c.shape)
            g[index, 1:] = gu[index] - np.einsum("gkai,gi->gka", Qs, c - t)
        return np.einsum("bij,bj->bi", Rinv, g)

    def kkt_residual(self, fac, scaling, p, q_orth, q_soc, x, zo, zs):
        """The residual ``ep = p - H x - G^T W^{-1} zt`` of a solution ``(x, zo, zs)`` of the
        system :meth:`kkt_solve` solves, its largest entry and the right-hand side's.

        The other block rows, ``W^{-1} G x - zt = q``, hold to rounding by construction: every
        solve sets ``zt = W^{-1} G x - q`` from its own ``x``, and the refinement adds such pairs
        (measured: evaluating them cost a third of a refined solve at n = 10,000).
        """
        ep = p - self.hess(x, fac["h"], fac.get("c")) - self.scaled_GT(scaling, zo, zs)
        scale = max(np.abs(p).max(), np.abs(q_soc).max(),
                    0.0 if q_orth is None else np.abs(q_orth).max(), 1e-300)
        return ep, float(np.abs(ep).max()), scale

    def kkt_solve(self, fac, scaling, p, q_orth, q_soc, refine=_REFINE):
        """Solve ``H x + G^T W^{-1} zt = p``, ``W^{-1} G x - zt = q`` with iterative refinement.

        Returns ``(x, zt_orth, zt_soc)``; ``zt = W dz`` is the scaled dual direction. A refined
        solve through a float32 Gram (``fac['single']``) whose residual stays above
        ``residual_tol`` of the right-hand side is solved again through a float64 factorization
        (kept in ``fac`` for the step's other solves), and the rest of the solve forms its Grams
        in float64 (:attr:`single`).
        """
        if fac.get("double") is not None:
            fac = fac["double"]
        out = self._refined_solve(fac, scaling, p, q_orth, q_soc, refine)
        if not fac.get("single") or refine == 0 or fac["refined"]:
            return out
        _, err, scale = self.kkt_residual(fac, scaling, p, q_orth, q_soc, *out)
        if err <= self.residual_tol * scale:
            return out
        fac["double"] = self._factor_double(fac["scaling"], fac["h"], fac["c"])
        return self._refined_solve(fac["double"], scaling, p, q_orth, q_soc, refine)

    def _refined_solve(self, fac, scaling, p, q_orth, q_soc, refine):
        """:meth:`kkt_solve` with the factors ``fac``: a reduced solve and up to ``refine``
        passes of iterative refinement against the unreduced system."""

        def once(p, q_orth, q_soc):  # q_soc None: q = 0 (a refinement pass)
            if q_soc is not None:
                p = p + self.scaled_GT(scaling, q_orth, q_soc)
            x = self.reduced_solve(fac, p)
            go, gs = self.scaled_G(scaling, x)
            if q_soc is None:
                return x, go, gs
            return x, (None if go is None else go - q_orth), gs - q_soc

        x, zo, zs = once(p, q_orth, q_soc)
        fac["refined"] = False  # whether a pass found the residual within refined_at
        for _ in range(refine):
            ep, err, scale = self.kkt_residual(fac, scaling, p, q_orth, q_soc, x, zo, zs)
            if err <= self.refined_at * scale:
                fac["refined"] = True
                break
            dx, dzo, dzs = once(ep, None, None)
            x += dx
            zs = zs + dzs
            if zo is not None:
                zo = zo + dzo
        return x, zo, zs
