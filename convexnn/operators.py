"""The linear maps of a convex program, held once in one dtype for the native solvers.

Every program in :mod:`convexnn.problems` is linear in its blocks through the *block features*
``F = A U^T`` (array of shape (n_samples, n_blocks), ``U`` the coefficients of shape
(n_blocks, n_features)):

    pred        = rowsum(W * F)      W = D_{p(b)} s_b as a dense (n_samples, n_blocks) array
    constraints = O * F  >= 0        O = 2 D_{p(b)} - 1 (only programs with cone constraints)

so one solver iteration costs a few dense products with ``A`` or ``W`` and never loops over
patterns. Without constraints the prediction is ``rowsum((W @ U) * A)``, which avoids the
(n_samples, n_blocks) temporary altogether.

The products use only ``@``, ``.T``, elementwise ``+ - *`` and the array-API functions of the
operator's namespace ``xp`` (:mod:`convexnn._array_api`): an operator built with ``xp`` the torch
(or CuPy) namespace and a device holds its arrays there, and so do all its products. The exact
cone projections (:meth:`BlockOperator.project_blocks`) are scipy NNLS solves on the host; they
polish a final point and are not part of an iteration.
"""

import numpy as np
from scipy.optimize import nnls

from ._array_api import NUMPY, float_dtype, is_numpy_namespace, to_namespace, to_numpy

__all__ = ["BlockOperator", "NestedBlockOperator", "check_dtype"]

_DTYPES = (np.float32, np.float64)


def check_dtype(dtype):
    """Return ``dtype`` as a numpy float dtype (float32 or float64) or raise a ValueError."""
    try:
        value = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.") from exc
    if value not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
    return value


class BlockOperator:
    """Prediction and constraint operators of a block program, and their adjoints.

    Parameters
    ----------
    design : ndarray of shape (n_samples, n_features)
        ``A`` (intercept column included when the program has one).
    weights : ndarray of shape (n_samples, n_blocks)
        ``W``: weight of each block's features in the prediction.
    orientation : ndarray of shape (n_samples, n_blocks) or None
        ``O``: the constraints read ``O * (A U^T) >= 0``; None for an unconstrained program.
    dtype : {'float64', 'float32'}
        Working precision of every product.
    xp : module, optional
        Array-API namespace of the arrays (``array_api_compat.torch``, ...); None is numpy.
    device : object, optional
        Device of the arrays in ``xp`` (e.g. ``torch.device('cuda')``); None is the default one.

    Attributes
    ----------
    dtype : numpy.dtype
        The working precision (a numpy dtype whatever the namespace: its ``eps`` is the rounding
        unit of every product).
    array_dtype : dtype of ``xp``
        The same precision as the namespace's dtype object.
    """

    def __init__(self, design, weights, orientation=None, dtype=np.float64, *, xp=None,
                 device=None):
        self.dtype = check_dtype(dtype)
        self.xp = NUMPY if xp is None else xp
        self.device = "cpu" if is_numpy_namespace(self.xp) else device
        self.array_dtype = float_dtype(self.xp, self.dtype)
        self.A = self.asarray(design)
        self.W = self.asarray(weights)
        self.O = None if orientation is None else self.asarray(orientation)

    def asarray(self, values, dtype=None):
        """``values`` as a C-contiguous array of this operator's namespace and device, in the
        working dtype (or ``dtype``, a numpy float dtype)."""
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        if is_numpy_namespace(self.xp):
            return np.ascontiguousarray(to_numpy(values), dtype=dtype)
        return to_namespace(values, self.xp, self.device, dtype)

    def zeros(self, shape, dtype=None):
        """Zeros of ``shape`` in this operator's namespace, device and working dtype (or ``dtype``)."""
        dtype = self.array_dtype if dtype is None else float_dtype(self.xp, dtype)
        if is_numpy_namespace(self.xp):
            return np.zeros(shape, dtype=dtype)
        return self.xp.zeros(shape, dtype=dtype, device=self.device)

    #: levels of nested group constraints above the per-block cones (see NestedBlockOperator)
    levels = ()

    def hold(self, values):
        """``values`` (an array of size ``n_samples`` that the iteration uses more than once) as
        an array ready for reuse: unchanged here; computed and kept on the workers for dask
        data (:class:`~convexnn._dask.DaskBlockOperator`)."""
        return values

    @property
    def has_constraints(self):
        return self.O is not None

    @property
    def n_constraints(self):
        """Columns of the constraint values: one per block (the cone ``O_b * (A u_b) >= 0``)."""
        return self.W.shape[1]

    @property
    def coef_shape(self):
        return (self.W.shape[1], self.A.shape[1])

    def predict(self, coef):
        """``rowsum(W * (A U^T))`` computed as ``rowsum((W @ U) * A)``, shape (n_samples,)."""
        return self.xp.sum((self.W @ coef) * self.A, axis=1)

    def features(self, coef):
        """Block features ``A U^T``, shape (n_samples, n_blocks)."""
        return self.A @ coef.T

    def predict_features(self, features):
        """Predictions from precomputed block features, shape (n_samples,)."""
        return self.xp.sum(self.W * features, axis=1)

    def constrain_features(self, features):
        """Constraint values ``O * F`` from block features, shape (n_samples, n_blocks)."""
        return self.O * features

    def adjoint(self, residual, multipliers=None):
        """``K^T r - C^T q``: adjoint of the prediction at ``r`` minus that of the constraints at ``q``.

        Parameters
        ----------
        residual : ndarray of shape (n_samples,)
        multipliers : ndarray of shape (n_samples, n_blocks) or None

        Returns
        -------
        ndarray of shape (n_blocks, n_features)
        """
        if multipliers is None:
            return self.W.T @ (self.A * residual[:, None])
        return (self.W * residual[:, None] - self.O * multipliers).T @ self.A

    def project_block(self, coef_row, block):
        """Euclidean projection of one block onto its cone ``{u : O_b * (A u) >= 0}`` (float64).

        Moreau: ``u = Pi_K(u) + Pi_{K polar}(u)`` with the polar cone ``{-C_b^T mu : mu >= 0}``, so
        ``Pi_K(u) = u + C_b^T mu*`` with ``mu* = argmin_{mu >= 0} ||u + C_b^T mu||`` (an NNLS with
        ``C_b^T = A^T diag(O_b)``). Not part of the iteration: used to polish a final point.
        """
        return self.project_blocks(np.asarray(to_numpy(coef_row))[None, :], [block])[0]

    def project_violating(self, coef, threshold):
        """A float64 copy of ``coef`` whose blocks violating their own cone by more than
        ``threshold`` are replaced by their projections (:meth:`project_blocks`).

        Only the per-block cones are looked at (for nested programs, the upper levels' group
        constraints are left to the caller's check). Used by the solvers to polish a point.
        """
        coef = np.array(to_numpy(coef), dtype=np.float64)
        values = to_numpy(self.O).astype(np.float64, copy=False) * (
            to_numpy(self.A).astype(np.float64, copy=False) @ coef.T)
        blocks = np.flatnonzero(-values.min(axis=0) > threshold)
        coef[blocks] = self.project_blocks(coef[blocks], blocks)
        return coef

    def project_blocks(self, rows, blocks):
        """Project ``rows[j]`` onto the cone of block ``blocks[j]``; ndarray of the rows' shape.

        Exact (see :meth:`project_block`), with a warm start: the constraints active at a block's
        last projection (its *face* ``S``) are tried first, ``u = v - C_S^+ C_S v``, and accepted
        when its multipliers ``-(C_S^+)^T v`` are non-negative and ``u`` is feasible -- the KKT
        conditions, so the answer is the projection. Otherwise an NNLS over the face and the rows
        ``v`` violates (growing by the rows still violated) gives it and records the new face.
        Polishing the same iterate region again and again then costs a few small solves per block
        instead of an NNLS over all samples.
        """
        design = to_numpy(self.A).astype(np.float64, copy=False)
        orient = to_numpy(self.O).astype(np.float64, copy=False)
        faces = self.__dict__.setdefault("_faces", {})
        out = np.array(rows, dtype=np.float64)
        for j, block in enumerate(blocks):
            v = out[j]
            ob = orient[:, block]
            values = ob * (design @ v)
            scale = np.finfo(float).eps * 1e3 * max(1.0, float(np.abs(values).max()))
            if values.min() >= -scale:
                continue
            face = faces.get(block)
            if face is not None and face.size:
                C = design[face] * ob[face, None]
                pinv = np.linalg.pinv(C)
                mult = -(pinv.T @ v)
                u = v - pinv @ (C @ v)
                if mult.min() >= -scale and (ob * (design @ u)).min() >= -scale:
                    out[j] = u
                    continue
            active = np.flatnonzero(values < 0)
            if face is not None:
                active = np.union1d(face, active)
            while True:
                Ct = (design[active] * ob[active, None]).T
                mult, _ = nnls(Ct, -v, maxiter=50 * max(active.size, 1))
                u = v + Ct @ mult
                check = ob * (design @ u)
                missing = np.setdiff1d(np.flatnonzero(check < -scale), active)
                if missing.size == 0:
                    break
                active = np.union1d(active, missing)
            faces[block] = active[mult > 0]
            out[j] = u
        return out


class NestedBlockOperator(BlockOperator):
    """Block operator of a program whose cone constraints nest over levels of patterns (deep ReLU).

    Blocks are laid out as a C-ordered grid with one axis per pattern level, the first level
    fastest: block ``b`` belongs to level-2 group ``b // k_1``, which belongs to level-3 group
    ``(b // k_1) // k_2`` and so on (``k_l`` children per group). With block features
    ``F = A U^T`` the partial sums are

        G_1 = F,    G_{l+1} = groupsum_l(V_l * G_l)        (V_l: (n_samples, groups at level l))

    and the constraints are ``O_l * G_l >= 0`` at every level, returned side by side as one array
    of shape (n_samples, sum_l groups_l) whose first ``n_blocks`` columns are the per-block cones
    (so :meth:`BlockOperator.project_block` still projects a block onto its own level-1 cone).
    The prediction stays ``rowsum(W * F)`` with ``W`` the product of the levels' weights along each
    block's path. A two-level program (no ``levels``) is the plain ReLU program.

    Parameters
    ----------
    design, weights, orientation, dtype
        As for :class:`BlockOperator`; ``orientation`` is the level-1 ``O_1``.
    levels : list of (inner, orientation, n_children)
        For each level above the first, bottom up: ``inner`` ``V_l`` of shape (n_samples,
        groups_l) (the weights that enter the group sum, i.e. the pattern times the sign of the
        units at level ``l``), the next level's ``O_{l+1}`` of shape (n_samples, groups_{l+1}),
        and ``k_l`` the number of children per group.
    """

    def __init__(self, design, weights, orientation, dtype=np.float64, levels=(), *, xp=None,
                 device=None):
        super().__init__(design, weights, orientation, dtype=dtype, xp=xp, device=device)
        self.levels = [
            (self.asarray(inner), self.asarray(orient), int(children))
            for inner, orient, children in levels
        ]

    @property
    def n_constraints(self):
        return self.W.shape[1] + sum(orient.shape[1] for _, orient, _ in self.levels)

    def constrain_features(self, features):
        xp = self.xp
        parts, partial = [self.O * features], features
        for inner, orient, children in self.levels:
            n, groups = inner.shape
            partial = xp.sum(xp.reshape(inner * partial, (n, groups // children, children)), axis=2)
            parts.append(orient * partial)
        return xp.concat(parts, axis=1) if self.levels else parts[0]

    def adjoint(self, residual, multipliers=None):
        if multipliers is None or not self.levels:
            return super().adjoint(residual, multipliers)
        xp = self.xp
        n, blocks = self.W.shape
        # split the multiplier columns per level, then run the group sums backwards
        sizes = [blocks] + [orient.shape[1] for _, orient, _ in self.levels]
        offsets = [int(v) for v in np.cumsum([0] + sizes)]
        back = None
        for level in range(len(self.levels), 0, -1):
            inner, orient, children = self.levels[level - 1]
            q = multipliers[:, offsets[level] : offsets[level + 1]]
            grad = -orient * q if back is None else back - orient * q
            # adjoint of the group sum: every child receives its group's value
            groups = grad.shape[1]
            spread = xp.broadcast_to(grad[:, :, None], (n, groups, children))
            back = inner * xp.reshape(spread, (n, groups * children))
        grad_features = self.W * residual[:, None] - self.O * multipliers[:, :blocks] + back
        return grad_features.T @ self.A
