"""Input checks of :mod:`convexnn.validation`: each names the argument and says what was expected."""

import numpy as np
import pytest
import scipy.sparse as sp

from convexnn.validation import (
    add_intercept,
    check_matrix,
    check_positive,
    check_random_state,
    check_target,
)


# ------------------------------------------------------------------------------ check_matrix
@pytest.mark.parametrize(
    "X",
    [[[1, 2], [3, 4]], np.arange(6, dtype=np.int32).reshape(3, 2), np.ones((1, 1), dtype=np.float32),
     [[True, False]]],
)
def test_check_matrix_returns_a_float64_copy_of_valid_input(X):
    out = check_matrix(X)
    assert out.dtype == np.float64 and out.ndim == 2
    np.testing.assert_array_equal(out, np.asarray(X, dtype=np.float64))


def test_check_matrix_passes_a_float64_array_through():
    X = np.random.default_rng(0).standard_normal((4, 2))
    assert check_matrix(X) is X  # no copy needed


@pytest.mark.parametrize(
    "X, message",
    [
        (np.ones(3), r"Z must be a 2-D array of shape \(n_samples, n_features\), got 1 dimension\(s\)"
                     r" with shape \(3,\); reshape 1-D data with Z.reshape\(-1, 1\)"),
        (np.ones((2, 2, 2)), r"Z must be a 2-D array .* got 3 dimension\(s\) with shape \(2, 2, 2\)"),
        (np.ones((0, 3)), r"Z has 0 sample\(s\); at least 1 required"),
        (np.ones((3, 0)), r"Z has 0 features; at least one column is required"),
        ([[1.0, np.nan]], r"Z contains NaN or infinity; remove or impute those entries"),
        ([[1.0, -np.inf]], r"Z contains NaN or infinity"),
        ([["a", "b"]], r"Z must be a numeric array of shape \(n_samples, n_features\)"),
        ([[1.0, 2.0], [3.0]], r"Z must be a numeric array"),  # ragged
    ],
)
def test_check_matrix_rejects_bad_input_naming_the_argument(X, message):
    with pytest.raises(ValueError, match=message):
        check_matrix(X, "Z")


def test_check_matrix_default_name_and_min_samples():
    with pytest.raises(ValueError, match=r"^X has 2 sample\(s\); at least 3 required\.$"):
        check_matrix(np.ones((2, 2)), min_samples=3)
    assert check_matrix(np.ones((3, 2)), min_samples=3).shape == (3, 2)


def test_check_matrix_rejects_sparse_input_with_advice_to_densify():
    with pytest.raises(ValueError, match=r"X_test is a sparse matrix; .* pass X_test\.toarray\(\)"):
        check_matrix(sp.csr_matrix(np.eye(3)), "X_test")


# ------------------------------------------------------------------------------ check_target
def test_check_target_accepts_vectors_and_column_vectors():
    y = check_target([1, 2, 3], 3)
    assert y.dtype == np.float64 and y.shape == (3,)
    np.testing.assert_array_equal(check_target(np.arange(3.0)[:, None], 3), [0.0, 1.0, 2.0])


@pytest.mark.parametrize(
    "y, n, message",
    [
        (np.ones((3, 2)), 3, r"t must be a 1-D array of shape \(n_samples,\), got shape \(3, 2\)"),
        (np.float64(1.0), 1, r"t must be a 1-D array .* got shape \(\)"),
        (np.ones(4), 3, r"t has 4 entries but X has 3 samples; they must match"),
        ([1.0, np.nan], 2, r"t contains NaN or infinity"),
        (["a", "b"], 2, r"t must be a numeric vector of shape \(n_samples,\)"),
    ],
)
def test_check_target_rejects_bad_input_naming_the_argument(y, n, message):
    with pytest.raises(ValueError, match=message):
        check_target(y, n, "t")


# ------------------------------------------------------------------------------ check_positive
@pytest.mark.parametrize(
    "value, kwargs",
    [(1e-300, {}), (3, {}), (np.float32(0.5), {}), (0.0, {"strict": False}), (0, {"strict": False}),
     (5, {"integer": True}), (np.int64(2), {"integer": True})],
)
def test_check_positive_returns_valid_values_unchanged(value, kwargs):
    assert check_positive(value, "v", **kwargs) is value


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (0.0, {}, r"lam must be finite and > 0, got 0\.0"),
        (-1, {}, r"lam must be finite and > 0, got -1"),
        (-1e-9, {"strict": False}, r"lam must be finite and >= 0, got -1e-09"),
        (np.inf, {}, r"lam must be finite and > 0, got inf"),
        (np.nan, {"strict": False}, r"lam must be finite and >= 0, got nan"),
        ("1", {}, r"lam must be a real number, got '1'"),
        (None, {}, r"lam must be a real number, got None"),
        (True, {}, r"lam must be a real number, got True"),  # bools are not numbers here
        (2.0, {"integer": True}, r"lam must be an integer, got 2\.0"),
        (True, {"integer": True}, r"lam must be an integer, got True"),
        (0, {"integer": True}, r"lam must be finite and > 0, got 0"),
    ],
)
def test_check_positive_rejects_naming_the_argument_and_the_bound(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_positive(value, "lam", **kwargs)


# ------------------------------------------------------------------------------ add_intercept
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_intercept_appends_a_column_of_ones_in_the_same_dtype(dtype):
    X = np.arange(6, dtype=dtype).reshape(3, 2)
    A = add_intercept(X)
    assert A.shape == (3, 3) and A.dtype == dtype
    np.testing.assert_array_equal(A[:, :2], X)
    np.testing.assert_array_equal(A[:, 2], np.ones(3))


# ------------------------------------------------------------------------------ check_random_state
def test_check_random_state_returns_generators():
    rng = np.random.default_rng(0)
    assert check_random_state(rng) is rng
    assert isinstance(check_random_state(None), np.random.Generator)
    # an int seeds reproducibly, numpy integers included
    a, b = check_random_state(7), check_random_state(np.int64(7))
    assert a.random() == b.random() == np.random.default_rng(7).random()
    # a legacy RandomState is turned into a Generator deterministically and advances
    s1, s2 = np.random.RandomState(3), np.random.RandomState(3)
    g1, g2 = check_random_state(s1), check_random_state(s2)
    assert isinstance(g1, np.random.Generator) and g1.random() == g2.random()
    assert check_random_state(s1).random() != check_random_state(np.random.RandomState(3)).random()


@pytest.mark.parametrize("bad", ["0", 1.5, object()])
def test_check_random_state_rejects_other_types(bad):
    with pytest.raises(ValueError, match=r"random_state must be None, an int or a numpy Generator, got"):
        check_random_state(bad)


def test_public_entry_points_use_these_checks():
    """The messages reach the user from the public functions, not only from the helpers."""
    from convexnn import sample_patterns

    with pytest.raises(ValueError, match=r"X must be a 2-D array .* reshape 1-D data"):
        sample_patterns(np.ones(5), 3)
    with pytest.raises(ValueError, match=r"random_state must be None, an int or a numpy Generator"):
        sample_patterns(np.ones((5, 2)), 3, random_state="seed")
