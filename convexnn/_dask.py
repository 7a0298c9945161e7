"""Data in a ``dask.array`` chunked by rows: the gated program solved by FISTA on a cluster.

A :class:`~convexnn.problems.GatedReLUProblem` built from a ``dask.array`` ``X`` (and the
:class:`~convexnn.patterns.ActivationPatterns` computed on it, whose mask is then a dask array
chunked like ``X``) keeps its data, its pattern mask and the weights ``W = D_{p(b)} s_b`` on the
cluster; nothing of size ``n_samples`` is gathered on the client. :class:`DaskBlockOperator` is its
block operator: the coefficients (shape (n_blocks, n_features), small) stay numpy arrays on the
client, and each product with the data is a reduction over the row chunks:

* ``predict(U) = rowsum((W @ U) * A)``: elementwise per chunk, kept on the workers (``persist``);
* ``adjoint(r) = W^T (A * r)``: one (n_blocks, n_features) partial sum per chunk, summed over the
  chunks and brought back (the only array that travels, besides scalars);
* the loss values, inner products and the duality-gap certificate are scalars (``float`` of a dask
  reduction).

So :class:`~convexnn.solvers.FISTA` runs unchanged: per iteration it computes a few scalars and
one small adjoint on the cluster. dask is optional (``pip install convexnn[dask]``); this module
imports it only when given dask arrays.
"""

import numpy as np

from ._array_api import to_numpy
from .operators import BlockOperator, check_dtype

__all__ = ["is_dask_array", "DaskBlockOperator"]


def is_dask_array(x):
    """Whether ``x`` is a ``dask.array.Array`` (False without importing dask when it is absent)."""
    from array_api_compat import is_dask_array as _is_dask

    return _is_dask(x)


def dask_namespace():
    """The array-API namespace of dask arrays (``array_api_compat.dask.array``)."""
    import array_api_compat.dask.array as xp

    return xp


def check_dask_matrix(X, name="X"):
    """``X`` (a 2-D dask array) in float64 with all its columns in one chunk (rows chunked).

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, has an unknown number of rows (NaN chunks: call
        ``X.compute_chunk_sizes()``) or is not numeric.
    """
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D dask array (n_samples, n_features), got "
                         f"{X.ndim}-D.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(f"{name} has chunks of unknown size; call {name}.compute_chunk_sizes() "
                         "first.")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {X.dtype}.")
    X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def add_dask_intercept(X):
    """``X`` (dask, rows chunked) with a column of ones appended, chunked like ``X``."""
    import dask.array as da

    ones = da.ones((X.shape[0], 1), chunks=(X.chunks[0], 1), dtype=X.dtype)
    return da.concatenate([X, ones], axis=1).rechunk({1: -1})


def rows_like(values, X, name="y"):
    """1-D ``values`` (numpy or dask) as a float64 dask array chunked like the rows of ``X``."""
    import dask.array as da

    if is_dask_array(values):
        return values.astype(np.float64).rechunk((X.chunks[0],))
    return da.from_array(np.asarray(values, dtype=np.float64), chunks=(X.chunks[0],))


def gram(A):
    """``A^T A`` of a dask array as a numpy array (one reduction over the row chunks)."""
    return np.asarray((A.T @ A).compute())


def unique_columns(mask, drop_zero=True):
    """Indices of the first occurrence of each distinct column of a boolean dask ``mask``.

    Exact, from the counts ``G = M^T M`` (one reduction over the row chunks): columns ``i`` and
    ``j`` are equal exactly when ``G_ij = G_ii = G_jj``. Same answer, same order as for a numpy
    mask (:meth:`~convexnn.patterns.ActivationPatterns.unique`).
    """
    counts = mask.astype(np.int64)
    G = np.asarray((counts.T @ counts).compute())
    size = np.diag(G)
    keep = []
    for j in range(G.shape[0]):
        if drop_zero and size[j] == 0:
            continue
        if any(G[i, j] == size[i] == size[j] for i in keep):
            continue
        keep.append(j)
    return np.asarray(keep, dtype=np.intp)


class DaskBlockOperator(BlockOperator):
    """Block operator of an unconstrained program whose data are dask arrays chunked by rows.

    The design ``A`` and the weights ``W`` are dask arrays held on the workers (``persist``);
    coefficients and adjoints are numpy arrays on the client. See the module docstring.

    Parameters
    ----------
    design : dask array of shape (n_samples, n_features)
        ``A``, chunked by rows (one chunk across the columns).
    weights : dask array of shape (n_samples, n_blocks)
        ``W``, chunked like the rows of ``A``.
    dtype : {'float64', 'float32'}
        Working precision of the products.
    """

    def __init__(self, design, weights, dtype=np.float64):
        self.dtype = check_dtype(dtype)
        self.xp = dask_namespace()
        self.device = "cpu"
        self.array_dtype = self.dtype
        self.A = design.astype(self.dtype).persist()
        self.W = weights.astype(self.dtype).rechunk((design.chunks[0], -1)).persist()
        self.O = None

    def asarray(self, values, dtype=None):
        """Dask arrays (targets, residuals) stay on the cluster in the working dtype (or
        ``dtype``); anything else (coefficients) becomes a numpy array on the client."""
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        if is_dask_array(values):
            return values.astype(dtype)
        return np.ascontiguousarray(to_numpy(values), dtype=dtype)

    def zeros(self, shape, dtype=None):
        """Numpy zeros (coefficients live on the client)."""
        return np.zeros(shape, dtype=self.dtype if dtype is None else np.dtype(dtype))

    def hold(self, values):
        """``values`` computed once and kept on the workers (``persist``), so that the scalars and
        products computed from it later start from stored chunks instead of re-running (and
        re-submitting) the graph that made it."""
        return values.persist() if is_dask_array(values) else values

    def predict(self, coef):
        """``rowsum((W @ U) * A)``: a dask array of shape (n_samples,) computed and kept on the
        workers, chunked like the rows of ``A``."""
        coef = np.asarray(coef, dtype=self.dtype)
        return ((self.W @ coef) * self.A).sum(axis=1).persist()

    def adjoint(self, residual, multipliers=None):
        """``W^T (A * r)`` as a numpy array of shape (n_blocks, n_features): per-chunk partial sums
        added up over the chunks.

        Raises
        ------
        ValueError
            With ``multipliers`` (cone constraints are not supported on dask data).
        """
        if multipliers is not None:
            raise ValueError("dask data support programs without constraints only "
                             "(GatedReLUProblem with solver='fista').")
        return np.asarray((self.W.T @ (self.A * residual[:, None])).compute(), dtype=self.dtype)
