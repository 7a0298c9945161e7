"""Activation patterns of deep (parallel) ReLU networks: one set per hidden level.

A depth-``L`` parallel network (doc/math.rst, "Deep") has ``L - 1`` hidden levels. Its convex program
needs, for every level ``l``, a set of diagonal patterns ``D_l`` (boolean masks over the training
samples):

* level 1: patterns of the data, ``1[A g >= 0]``, exactly as for two-layer networks
  (:class:`~convexnn.patterns.ActivationPatterns`, with gates);
* level ``l >= 2``: sign patterns of combinations of level ``l - 1`` features. They have no gate in
  input space, so only the mask is kept.

:func:`sample_nested_patterns` draws every level from a random deep network (the level-``l``
patterns are the activation patterns of its level-``l`` units), so each one is realizable by
construction. For 1-D data with an intercept every non-empty subset of the samples is a level-2
pattern (doc/math.rst); :func:`enumerate_nested_patterns` lists all of them for tiny data.
"""

import itertools

import numpy as np

from ..patterns import (
    ActivationPatterns,
    _first_unique_columns,
    enumerate_patterns,
    locate_columns,
    sample_patterns,
)
from ..validation import add_intercept, check_matrix, check_positive, check_random_state

__all__ = ["NestedPatterns", "sample_nested_patterns", "enumerate_nested_patterns"]

#: enumerate_nested_patterns lists all 2^n - 1 upper-level masks only up to this many samples
_MAX_ENUMERATED_SAMPLES = 12


class NestedPatterns:
    """Patterns of every hidden level of a deep ReLU network.

    Parameters
    ----------
    first : ActivationPatterns
        Level-1 patterns (with gates) on the training data.
    upper : list of ndarray of bool, each of shape (n_samples, n_patterns_l)
        Masks of levels 2, ..., L-1 (bottom up).

    Attributes
    ----------
    depth : int
        ``L``: the network depth these patterns serve (``len(upper) + 2``).
    sizes : tuple of int
        Number of patterns per level, bottom up.
    """

    def __init__(self, first, upper):
        if not isinstance(first, ActivationPatterns):
            raise ValueError(
                f"first must be an ActivationPatterns, got {type(first).__name__}."
            )
        masks = []
        for level, mask in enumerate(upper, start=2):
            mask = np.asarray(mask, dtype=bool)
            if mask.ndim != 2 or mask.shape[0] != first.n_samples or mask.shape[1] == 0:
                raise ValueError(
                    f"the level-{level} mask must have shape ({first.n_samples}, n_patterns) with "
                    f"n_patterns >= 1, got {mask.shape}."
                )
            masks.append(mask)
        self.first = first
        self.upper = masks

    @property
    def depth(self):
        return len(self.upper) + 2

    @property
    def n_samples(self):
        return self.first.n_samples

    @property
    def fit_intercept(self):
        return self.first.fit_intercept

    @property
    def sizes(self):
        return (self.first.n_patterns,) + tuple(mask.shape[1] for mask in self.upper)

    def masks(self):
        """All levels' masks, bottom up: a list of bool arrays of shape (n_samples, n_patterns_l)."""
        return [self.first.mask] + list(self.upper)

    def __repr__(self):
        return f"NestedPatterns(depth={self.depth}, sizes={self.sizes}, n_samples={self.n_samples})"

    def union(self, other):
        """Level by level, the patterns of ``self`` followed by those of ``other`` not already there.

        Returns
        -------
        merged : NestedPatterns
        maps : list of two lists of ndarray
            ``maps[0][l][i]`` (``maps[1][l][i]``) is the index in ``merged`` of pattern ``i`` of level
            ``l`` of ``self`` (``other``); see :func:`convexnn.deep.problems.reindex`.
        """
        if other.depth != self.depth or other.n_samples != self.n_samples:
            raise ValueError(
                f"other must have the same depth and samples, got depth {other.depth} and "
                f"{other.n_samples} samples (self: {self.depth}, {self.n_samples})."
            )
        first = self.first.union(other.first)
        masks = [first.mask]
        for mine, theirs in zip(self.upper, other.upper):
            both = np.hstack([mine, theirs])
            masks.append(both[:, _first_unique_columns(both)])
        maps = [[], []]
        for level, merged in enumerate(masks):
            for side, source in enumerate((self, other)):
                maps[side].append(locate_columns(merged, source.masks()[level]))
        return NestedPatterns(first, masks[1:]), maps


def _level_sizes(n_patterns, depth):
    depth = check_positive(depth, "depth", integer=True)
    if depth < 2:
        raise ValueError(f"depth must be at least 2 (one hidden level), got {depth}.")
    if np.ndim(n_patterns) == 0:
        sizes = [n_patterns] * (depth - 1)
    else:
        sizes = list(n_patterns)
        if len(sizes) != depth - 1:
            raise ValueError(
                f"n_patterns must be an int or one count per hidden level ({depth - 1} for "
                f"depth={depth}), got {len(sizes)} counts."
            )
    return [check_positive(s, "n_patterns", integer=True) for s in sizes]


def _unique_nonzero(mask):
    keep = _first_unique_columns(mask)
    keep = keep[mask[:, keep].any(axis=0)]
    return mask[:, keep]


def sample_nested_patterns(X, n_patterns, *, depth=3, fit_intercept=True, random_state=None):
    """Sample realizable patterns for every hidden level of a depth-``depth`` network.

    Level 1 draws Gaussian gates (:func:`~convexnn.patterns.sample_patterns`). Level ``l >= 2``
    takes the units of a random network built on top of the level below: with ``H`` the
    level-(l-1) features (``(A G)_+`` at level 2), each candidate is ``1[H g >= 0]`` for a Gaussian
    ``g`` (doc/math.rst: ``1[sum_i D1_i A g_i >= 0]``), and ``H`` for the next level is ``(H G_l)_+``.
    Duplicate and empty masks are dropped, so a level can hold fewer patterns than asked (at
    least one: if every draw is empty, one weight vector is made non-negative).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_patterns : int or sequence of int
        Patterns drawn per level (one count for all levels, or one per level, bottom up).
    depth : int, default=3
        Network depth ``L`` (``L - 1`` hidden levels).
    fit_intercept : bool, default=True
    random_state : int, Generator or None

    Returns
    -------
    NestedPatterns
    """
    X = check_matrix(X, "X")
    sizes = _level_sizes(n_patterns, depth)
    rng = check_random_state(random_state)
    first = sample_patterns(X, sizes[0], fit_intercept=fit_intercept, random_state=rng)
    if first.n_patterns == 0:
        raise ValueError("no level-1 pattern is active on any sample; set fit_intercept=True.")
    A = add_intercept(X) if fit_intercept else X
    features = np.maximum(A @ first.gates, 0.0)
    upper = []
    for size in sizes[1:]:
        weights = rng.standard_normal((features.shape[1], size))
        pre = features @ weights
        if not (pre >= 0).any():
            # every draw was empty: a non-negative combination of the (non-negative) features is
            # active everywhere, so keep one realizable pattern
            weights[:, 0] = np.abs(weights[:, 0])
            pre = features @ weights
        upper.append(_unique_nonzero(pre >= 0))
        features = np.maximum(pre, 0.0)
    return NestedPatterns(first, upper)


def enumerate_nested_patterns(X, *, depth=3, fit_intercept=True, max_patterns=10_000):
    """All level-1 patterns of ``X`` and every non-empty mask at the upper levels (tiny data).

    Every non-empty subset of the samples is listed at levels ``>= 2``. For 1-D data with an
    intercept each of them is realizable (doc/math.rst), so the program is the exact convex equivalent
    of the deep training problem; in general some may not be, and the program is then a
    relaxation whose mapped network still has the program's objective (the cone constraints make
    it exact for the network it maps to).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        At most 12 samples (2^n - 1 masks per upper level).
    depth : int, default=3
    fit_intercept : bool, default=True
    max_patterns : int, default=10000
        Passed to :func:`~convexnn.patterns.enumerate_patterns` for level 1.

    Returns
    -------
    NestedPatterns
    """
    X = check_matrix(X, "X")
    _level_sizes(1, depth)
    n = X.shape[0]
    if n > _MAX_ENUMERATED_SAMPLES:
        raise ValueError(
            f"enumerate_nested_patterns lists 2^n - 1 masks per upper level; X has n={n} samples, "
            f"more than {_MAX_ENUMERATED_SAMPLES}. Use sample_nested_patterns."
        )
    first = enumerate_patterns(X, fit_intercept=fit_intercept, max_patterns=max_patterns)
    every = np.array(list(itertools.product([False, True], repeat=n))[1:], dtype=bool).T
    return NestedPatterns(first, [every.copy() for _ in range(depth - 2)])
