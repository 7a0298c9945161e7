"""ReLU activation patterns of a data set: sampling and exact enumeration.

A gate vector ``g`` splits the samples into those with ``x_k^T g >= 0`` and the rest; the boolean
vector ``1[X g >= 0]`` is the activation pattern ``D(g)`` (the diagonal of the matrix ``D`` in the
papers). Although ``g`` ranges over all of R^d, a data set has only finitely many distinct patterns:
they are the cells of the arrangement of the hyperplanes ``{g : x_k^T g = 0}``, and for ``X`` of rank
``r`` in general position there are exactly ``2 * sum_{k<r} C(n-1, k)`` of them.

Every way of producing patterns returns one type, :class:`ActivationPatterns`, holding a gate per
pattern (``gates``, shape (n_features, n_patterns)) and the boolean mask (``mask``, shape
(n_samples, n_patterns)). The convex programs in :mod:`convexnn.problems` take this type.

* :func:`sample_patterns` draws Gaussian gates and keeps the distinct, non-empty patterns.
* :func:`enumerate_patterns` lists every pattern: for data of rank <= 2 by sweeping the angle of
  the gate through the 2n critical directions, otherwise by fixing the sign of each sample in turn
  and pruning a branch as soon as the linear program ``{u : s_k x_k^T u >= 1}`` is infeasible.

With ``fit_intercept=True`` a column of ones is appended to ``X`` first, so the last gate entry acts
as a threshold.
"""

from math import comb

import numpy as np
from scipy.optimize import linprog

from ._dask import add_dask_intercept, check_dask_matrix, is_dask_array, unique_columns
from .validation import add_intercept, check_matrix, check_positive, check_random_state

__all__ = [
    "ActivationPatterns",
    "sample_patterns",
    "enumerate_patterns",
    "count_patterns",
]


class ActivationPatterns:
    """A set of ReLU activation patterns with one gate vector each.

    Parameters
    ----------
    gates : ndarray of shape (n_features, n_patterns)
        Gate vectors ``g_i``. With ``fit_intercept=True`` the last row is the threshold that
        multiplies the appended ones column.
    mask : ndarray of bool, shape (n_samples, n_patterns)
        ``mask[k, i]`` is True when sample ``k`` is active under pattern ``i``. A dask array
        (patterns of dask data) is kept as one, chunked by rows like the data, computed and held
        on the workers (``persist``).
    fit_intercept : bool, default=False
        Whether the patterns were computed on ``X`` with a ones column appended.

    Notes
    -----
    Use :meth:`from_gates` to build patterns from gates and data; the constructor only checks
    shapes, it does not recompute the mask.
    """

    def __init__(self, gates, mask, fit_intercept=False):
        gates = np.asarray(gates, dtype=np.float64)
        # a dask mask (patterns of dask data) is computed once and kept on the cluster, chunked
        # like the data (later graphs then start from its stored chunks)
        mask = mask.astype(bool).persist() if is_dask_array(mask) else np.asarray(mask, dtype=bool)
        if gates.ndim != 2 or mask.ndim != 2:
            raise ValueError(
                "gates must have shape (n_features, n_patterns) and mask shape "
                f"(n_samples, n_patterns); got gates {gates.shape} and mask {mask.shape}."
            )
        if gates.shape[1] != mask.shape[1]:
            raise ValueError(
                f"gates has {gates.shape[1]} patterns (columns) but mask has {mask.shape[1]}."
            )
        self.gates = gates
        self.mask = mask
        self.fit_intercept = bool(fit_intercept)

    @classmethod
    def from_gates(cls, X, gates, *, fit_intercept=False):
        """Compute the patterns ``1[X g_i >= 0]`` of the given gates on data ``X``.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Data without the intercept column (it is appended when ``fit_intercept``). A dask
            array chunked by rows gives a dask mask chunked like it (computed lazily, on the
            cluster), for a :class:`~convexnn.problems.GatedReLUProblem` on dask data.
        gates : array-like of shape (n_features (+1), n_patterns)
        fit_intercept : bool, default=False
        """
        A = _design(X, fit_intercept)
        gates = np.asarray(gates, dtype=np.float64)
        if gates.ndim == 1:
            gates = gates[:, None]
        if gates.ndim != 2 or gates.shape[0] != A.shape[1]:
            raise ValueError(
                f"gates must have shape ({A.shape[1]}, n_patterns) for X with {A.shape[1]} "
                f"columns (intercept included), got {gates.shape}."
            )
        return cls(gates, A @ gates >= 0, fit_intercept)

    @property
    def n_patterns(self):
        """Number of patterns ``P``."""
        return self.mask.shape[1]

    @property
    def n_samples(self):
        """Number of samples ``n`` the mask refers to."""
        return self.mask.shape[0]

    def __len__(self):
        return self.n_patterns

    def __repr__(self):
        return (
            f"ActivationPatterns(n_patterns={self.n_patterns}, n_samples={self.n_samples}, "
            f"fit_intercept={self.fit_intercept})"
        )

    def subset(self, index):
        """Return the patterns selected by ``index`` (integer indices or a boolean mask)."""
        return ActivationPatterns(self.gates[:, index], self.mask[:, index], self.fit_intercept)

    def unique(self, *, drop_zero=True):
        """Remove duplicate patterns (keeping the first gate of each) and, by default, the empty one."""
        if is_dask_array(self.mask):
            return self.subset(unique_columns(self.mask, drop_zero=drop_zero))
        keep = _first_unique_columns(self.mask)
        if drop_zero:
            keep = keep[self.mask[:, keep].any(axis=0)]
        return self.subset(keep)

    def union(self, other):
        """Patterns of ``self`` followed by those of ``other`` not already present."""
        if other.n_samples != self.n_samples or other.gates.shape[0] != self.gates.shape[0]:
            raise ValueError("other must be patterns of the same data (same n_samples and gates).")
        merged = ActivationPatterns(
            np.hstack([self.gates, other.gates]),
            np.hstack([self.mask, other.mask]),
            self.fit_intercept,
        )
        return merged.unique(drop_zero=False)

    def contains(self, other):
        """Boolean array of shape (other.n_patterns,): which of ``other``'s patterns are in ``self``."""
        return self.locate(other) >= 0

    def locate(self, other):
        """Index in ``self`` of each of ``other``'s patterns (matched by mask), -1 where absent."""
        return locate_columns(self.mask, other.mask)


def locate_columns(mask, other):
    """Index of each column of boolean ``other`` among the columns of ``mask`` (-1 where absent)."""
    keys = {col.tobytes(): j for j, col in enumerate(np.packbits(mask, axis=0).T)}
    cols = np.packbits(other, axis=0).T
    return np.array([keys.get(col.tobytes(), -1) for col in cols], dtype=int)


def _design(X, fit_intercept):
    if is_dask_array(X):  # rows chunked, kept on the cluster
        X = check_dask_matrix(X, "X")
        return add_dask_intercept(X) if fit_intercept else X
    X = check_matrix(X, "X")
    return add_intercept(X) if fit_intercept else X


def _first_unique_columns(mask):
    """Indices of the first occurrence of each distinct column, in increasing order."""
    if mask.shape[1] == 0:
        return np.arange(0)
    # hash the bit-packed columns (8x fewer bytes; ``np.unique(mask.T, axis=0)`` sorts the n-long
    # rows instead and took 1.5 s of a digits fit)
    first = {}
    for j, column in enumerate(np.packbits(mask, axis=0).T):
        first.setdefault(column.tobytes(), j)
    return np.fromiter(first.values(), dtype=np.intp, count=len(first))


def count_patterns(n_samples, rank):
    """Number of patterns of ``n_samples`` points of rank ``rank`` in general position.

    This is the number of cells of a central arrangement of ``n_samples`` hyperplanes in general
    position in R^rank, ``2 * sum_{k=0}^{rank-1} C(n_samples - 1, k)``. The empty pattern is one of
    them whenever the data lie in an open half-space (always the case with an intercept).
    """
    n_samples = check_positive(n_samples, "n_samples", integer=True)
    rank = check_positive(rank, "rank", integer=True)
    return 2 * sum(comb(n_samples - 1, k) for k in range(min(rank, n_samples)))


def sample_patterns(X, n_patterns, *, fit_intercept=False, random_state=None):
    """Sample activation patterns from Gaussian gates.

    Draws ``n_patterns`` gates ``g ~ N(0, I)`` and keeps the distinct, non-empty patterns
    ``1[X g >= 0]`` (the first gate drawn for each), so at most ``n_patterns`` are returned.

    Parameters
    ----------
    X : array-like or dask array of shape (n_samples, n_features)
        A dask array chunked by rows gives a dask mask chunked like it; the duplicates and the
        empty pattern are then found from the counts ``M^T M`` (one reduction on the cluster), with
        the same result as for the same data in numpy.
    n_patterns : int
        Number of gates drawn.
    fit_intercept : bool, default=False
        Append a ones column to ``X`` (the gates then have ``n_features + 1`` entries).
    random_state : int, numpy Generator or None
        Seed; the same seed gives the same patterns.

    Returns
    -------
    ActivationPatterns
    """
    A = _design(X, fit_intercept)
    n_patterns = check_positive(n_patterns, "n_patterns", integer=True)
    rng = check_random_state(random_state)
    gates = rng.standard_normal((A.shape[1], n_patterns))
    return ActivationPatterns(gates, A @ gates >= 0, fit_intercept).unique(drop_zero=True)


def enumerate_patterns(
    X, *, fit_intercept=False, drop_zero=True, max_patterns=10_000, method="auto"
):
    """List every activation pattern of ``X`` exactly.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    fit_intercept : bool, default=False
        Append a ones column to ``X`` first.
    drop_zero : bool, default=True
        Remove the empty pattern (it contributes nothing to the convex programs). With
        ``drop_zero=False`` the count equals :func:`count_patterns` for data in general position.
    max_patterns : int, default=10000
        Refuse (``ValueError``) when the general-position count exceeds this, before any work.
    method : {'auto', 'angles', 'lp'}, default='auto'
        ``'angles'`` sweeps the 2n critical directions (rank <= 2 only); ``'lp'`` runs the sign
        recursion pruned by LP feasibility (any rank); ``'auto'`` picks ``'angles'`` when it applies.

    Returns
    -------
    ActivationPatterns
        One gate per pattern, strictly inside its cell, so ``1[X g >= 0]`` reproduces the mask.

    Notes
    -----
    ``X`` is first reduced to its rank ``r`` by an SVD; the gates are mapped back to the original
    feature space, where they lie in the row space of ``X``.
    """
    A = _design(X, fit_intercept)
    if method not in ("auto", "angles", "lp"):
        raise ValueError(f"method must be 'auto', 'angles' or 'lp', got {method!r}.")
    max_patterns = check_positive(max_patterns, "max_patterns", integer=True)
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    tol = max(A.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    rank = int(np.sum(s > tol))
    if rank == 0:
        raise ValueError("X is zero (rank 0): it has a single, trivial activation pattern.")
    expected = count_patterns(A.shape[0], rank)
    if expected > max_patterns:
        raise ValueError(
            f"X (n_samples={A.shape[0]}, rank={rank}) may have up to {expected} patterns, more "
            f"than max_patterns={max_patterns}; raise max_patterns or use sample_patterns."
        )
    basis = Vt[:rank].T  # (n_features, rank): gates live in the row space of A
    Z = A @ basis
    if method == "angles" and rank > 2:
        raise ValueError(f"method='angles' needs data of rank <= 2, X has rank {rank}.")
    if method == "angles" or (method == "auto" and rank <= 2):
        reduced = _sweep_angles(Z)
    else:
        reduced = _sign_recursion(Z)
    gates = basis @ reduced
    return ActivationPatterns(gates, A @ gates >= 0, fit_intercept).unique(drop_zero=drop_zero)


def _sweep_angles(Z):
    """Gates (rank, P) probing every cell of the arrangement for data of rank 1 or 2."""
    if Z.shape[1] == 1:
        return np.array([[1.0, -1.0]])
    norms = np.linalg.norm(Z, axis=1)
    rows = Z[norms > 1e-12 * norms.max()]
    phi = np.arctan2(rows[:, 1], rows[:, 0])
    # sample k switches on/off where the gate is orthogonal to it: phi_k +- pi/2
    critical = np.unique(np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi))
    following = np.append(critical[1:], critical[0] + 2 * np.pi)
    mid = (critical + following) / 2
    return np.vstack([np.cos(mid), np.sin(mid)])


def _sign_recursion(Z):
    """Gates (rank, P): depth-first choice of each sample's sign, pruned by LP infeasibility.

    At each node the constraints ``s_j z_j^T u >= 1`` for the samples fixed so far are feasible and
    ``u`` is a feasible point. The sign that ``u`` already gives the next sample is feasible without
    an LP (scale ``u`` up); only the opposite sign needs one.
    """
    n, r = Z.shape
    norms = np.linalg.norm(Z, axis=1)
    live = norms > 1e-12 * norms.max()
    gates = []
    # stack items: (next row, signed rows fixed so far as an array (m, r), feasible point u)
    stack = [(0, np.zeros((0, r)), np.zeros(r))]
    while stack:
        k, signed, u = stack.pop()
        while k < n and not live[k]:
            k += 1
        if k == n:
            gates.append(u)
            continue
        t = Z[k] @ u
        for sign in (1.0, -1.0):
            rows = np.vstack([signed, sign * Z[k]])
            if sign * t > 1e-9:
                stack.append((k + 1, rows, u * max(1.0, 1.0 / (sign * t))))
                continue
            point = _strictly_feasible(rows)
            if point is not None:
                stack.append((k + 1, rows, point))
    return np.array(gates).T


def _strictly_feasible(rows):
    """A point ``u`` with ``rows @ u >= 1``, or None when there is none."""
    res = linprog(
        np.zeros(rows.shape[1]),
        A_ub=-rows,
        b_ub=-np.ones(rows.shape[0]),
        bounds=[(None, None)] * rows.shape[1],
        method="highs",
    )
    if res.status == 0:
        return res.x
    return None
