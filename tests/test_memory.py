"""Tests for convexnn.memory: the estimate bounds real allocations and the guard refuses early."""

import tracemalloc

import numpy as np
import pytest

import convexnn.memory as memory_module
from convexnn.estimators import ConvexReLURegressor
from convexnn.memory import check_memory, estimate_fit_bytes


@pytest.fixture
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    return X, np.maximum(X @ [1.0, -1.0, 0.5], 0)


@pytest.mark.parametrize("solver", ["auto", "CLARABEL"])
def test_memory_estimate_bounds_what_a_fit_allocates(regression, solver):
    X, y = regression
    tracemalloc.start()
    ConvexReLURegressor(n_patterns=20, random_state=0, solver=solver).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    estimate = estimate_fit_bytes(40, 3, 20, formulation="relu", fit_intercept=True, solver=solver)
    assert peak <= estimate <= 20 * peak
    # half the blocks and no cone rows: less memory where the per-block arrays dominate (at 40
    # samples FISTA's fixed per-iteration history outweighs them)
    size = (5000, 20, 100)
    relu = estimate_fit_bytes(*size, formulation="relu", fit_intercept=True, solver=solver)
    gated = estimate_fit_bytes(*size, formulation="gated", fit_intercept=True, solver=solver)
    assert gated < relu


def test_native_solvers_need_less_memory_than_cvxpy_at_scale():
    shape = (100_000, 50, 500)
    native = estimate_fit_bytes(*shape, solver="auto")
    cvxpy = estimate_fit_bytes(*shape, solver="SCS")
    # the cvxpy canonical form scales with n_features as well: 50x more here
    assert cvxpy > 40 * native
    with pytest.raises(MemoryError, match="solver='auto'"):
        check_memory(*shape, "relu", True, solver="SCS")


def test_memory_budget_is_a_fraction_of_available_memory(monkeypatch, regression):
    X, y = regression
    monkeypatch.setattr(memory_module, "_available_bytes", lambda: 1e5)
    with pytest.raises(MemoryError, match="n_patterns=20"):
        ConvexReLURegressor(n_patterns=20).fit(X, y)


def test_check_memory_names_the_knob_and_returns_the_estimate():
    assert check_memory(100, 5, 10, "relu", True) == estimate_fit_bytes(100, 5, 10)
    with pytest.raises(MemoryError, match=r"n_patterns=1000000000.*Turn down n_patterns.*gated"):
        check_memory(10_000, 100, 10**9, "relu", True)


def test_auto_counts_the_solver_it_would_pick():
    from convexnn.solvers import FISTA, AugmentedLagrangian, InteriorPoint, get_solver

    auto = get_solver("auto")
    small, huge = (500, 11, 40), (200_000, 51, 2000)
    assert auto.working_bytes(*small) == InteriorPoint().working_bytes(*small)
    assert auto.working_bytes(*small, constrained=False) == FISTA().working_bytes(*small)
    # beyond IPM_MAX_BYTES the augmented Lagrangian runs, and is counted
    assert auto.working_bytes(*huge) == AugmentedLagrangian().working_bytes(*huge)
    assert auto.working_bytes(*huge) < InteriorPoint().working_bytes(*huge)


def test_deep_memory_estimate_bounds_what_a_fit_allocates(monkeypatch, regression):
    import convexnn.deep.family as family
    from convexnn import DeepConvexReLURegressor
    from convexnn.memory import estimate_deep_bytes

    X, y = regression
    seen = {}

    def spy(n, d, sizes, fit_intercept, solver="auto"):
        seen["args"] = (n, d, list(sizes), fit_intercept, solver)

    monkeypatch.setattr(family, "check_deep_memory", spy)
    tracemalloc.start()
    DeepConvexReLURegressor(random_state=0).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n, d, sizes, fit_intercept, solver = seen["args"]
    estimate = estimate_deep_bytes(n, d, sizes, fit_intercept=fit_intercept, solver=solver)
    assert peak <= estimate <= 20 * peak
