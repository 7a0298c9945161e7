import numpy as np
import pytest

from convexnn.patterns import ActivationPatterns, count_patterns, enumerate_patterns, sample_patterns


@pytest.mark.parametrize("n,d,fit_intercept", [(10, 1, True), (9, 2, False), (12, 3, False), (8, 2, True)])
def test_enumeration_count_matches_general_position_formula(n, d, fit_intercept):
    rng = np.random.default_rng(n + d)
    X = rng.standard_normal((n, d))
    rank = d + fit_intercept
    patterns = enumerate_patterns(X, fit_intercept=fit_intercept, drop_zero=False)
    assert patterns.n_patterns == count_patterns(n, rank)
    # all distinct
    assert np.unique(patterns.mask.T, axis=0).shape[0] == patterns.n_patterns


def test_count_formula_known_values():
    assert count_patterns(10, 2) == 20  # 1-D data with intercept: 2n
    assert count_patterns(12, 3) == 2 * (1 + 11 + 55)
    assert count_patterns(3, 5) == 8  # rank capped by n: all 2^n sign patterns


def test_angle_sweep_and_lp_recursion_agree(data_1d):
    X, _ = data_1d
    angles = enumerate_patterns(X, fit_intercept=True, method="angles")
    lp = enumerate_patterns(X, fit_intercept=True, method="lp")
    assert angles.n_patterns == lp.n_patterns == 19  # 20 minus the empty pattern
    assert angles.contains(lp).all() and lp.contains(angles).all()


def test_gates_reproduce_their_patterns(data_small):
    X, _ = data_small
    for patterns in (enumerate_patterns(X[:10]), sample_patterns(X, 50, random_state=0)):
        Xp = X[: patterns.n_samples]
        recomputed = ActivationPatterns.from_gates(Xp, patterns.gates)
        np.testing.assert_array_equal(recomputed.mask, patterns.mask)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sampling_never_finds_a_pattern_enumeration_missed(fit_intercept):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((11, 2))
    full = enumerate_patterns(X, fit_intercept=fit_intercept)
    sampled = sample_patterns(X, 3000, fit_intercept=fit_intercept, random_state=1)
    assert full.contains(sampled).all()
    # with this many draws sampling finds most cells, and never more than exist
    assert sampled.n_patterns <= full.n_patterns
    assert sampled.n_patterns >= 0.8 * full.n_patterns


def test_sampling_is_seeded_distinct_and_nonempty(data_small):
    X, _ = data_small
    a = sample_patterns(X, 40, random_state=5)
    b = sample_patterns(X, 40, random_state=5)
    c = sample_patterns(X, 40, random_state=6)
    np.testing.assert_array_equal(a.gates, b.gates)
    assert not np.array_equal(a.mask, c.mask)
    assert a.mask.any(axis=0).all()
    assert np.unique(a.mask.T, axis=0).shape[0] == a.n_patterns


def test_intercept_patterns_use_threshold_gates(data_1d):
    X, _ = data_1d
    patterns = enumerate_patterns(X, fit_intercept=True)
    assert patterns.gates.shape[0] == 2 and patterns.fit_intercept
    # 1-D with intercept: every pattern is a threshold, active on a prefix or a suffix of sorted x
    for col in patterns.mask.T:
        changes = np.count_nonzero(np.diff(col.astype(int)))
        assert changes <= 1


def test_union_and_subset():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((15, 3))
    a = sample_patterns(X, 10, random_state=0)
    b = sample_patterns(X, 10, random_state=1)
    u = a.union(b)
    assert u.contains(a).all() and u.contains(b).all()
    assert u.n_patterns == np.unique(np.hstack([a.mask, b.mask]).T, axis=0).shape[0]
    assert a.subset([0, 2]).n_patterns == 2


def test_enumeration_refuses_too_many_patterns_before_working():
    X = np.random.default_rng(0).standard_normal((200, 6))
    with pytest.raises(ValueError, match="max_patterns"):
        enumerate_patterns(X, max_patterns=1000)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "X contains NaN"),
        (np.ones(5), "X must be a 2-D array"),
        (np.ones((0, 3)), "X has 0 sample"),
        (np.ones((4, 0)), "X has 0 features"),
    ],
)
def test_bad_data_raises_naming_X(X, match):
    with pytest.raises(ValueError, match=match):
        sample_patterns(X, 10)
    with pytest.raises(ValueError, match=match):
        enumerate_patterns(X)


def test_bad_arguments_name_the_argument(data_small):
    X, _ = data_small
    with pytest.raises(ValueError, match="n_patterns"):
        sample_patterns(X, 0)
    with pytest.raises(ValueError, match="n_patterns must be an integer"):
        sample_patterns(X, 2.5)
    with pytest.raises(ValueError, match="method"):
        enumerate_patterns(X[:5], method="magic")
    with pytest.raises(ValueError, match="rank <= 2"):
        enumerate_patterns(X[:5], method="angles")
    with pytest.raises(ValueError, match="gates"):
        ActivationPatterns.from_gates(X, np.ones((5, 2)))
    with pytest.raises(ValueError, match="sparse"):
        from scipy import sparse

        sample_patterns(sparse.csr_matrix(X), 5)


def test_distinct_columns_by_hash_match_numpys_unique():
    """The first occurrence of each distinct mask column, found by hashing the bit-packed columns,
    is numpy's ``unique(axis=0)`` of the columns, in increasing order (n not a multiple of 8)."""
    from convexnn.patterns import _first_unique_columns

    rng = np.random.default_rng(0)
    mask = rng.random((37, 60)) < 0.5
    mask[:, 30:] = mask[:, rng.integers(0, 30, 30)]  # every later column repeats an earlier one
    mask[:, 5] = False
    mask[:, 7] = False  # two empty columns: one kept
    _, first = np.unique(mask.T, axis=0, return_index=True)
    np.testing.assert_array_equal(_first_unique_columns(mask), np.sort(first))
    assert _first_unique_columns(mask[:, :0]).size == 0
