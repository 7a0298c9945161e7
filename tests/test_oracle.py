"""The dual oracle goes through the problem's penalty (its block dual norm, restricted to the cone)."""

import cvxpy as cp
import numpy as np
import pytest

import convexnn as cn
from convexnn.oracle import best_block, block_scores
from convexnn.penalties import GroupL1, GroupL1FreeIntercept
from convexnn.solvers import get_solver, oracle_bound

# Clarabel's default tolerances are 1e-8 (gap and feasibility); the references below are only that
# accurate, and the oracle's own values are exact up to the NNLS rounding.
REF_ATOL = 1e-7


def _data(seed=0, n=30, d=2, n_patterns=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ np.array([1.0, -0.5]), 0) + 0.1 * rng.standard_normal(n)
    patterns = cn.sample_patterns(X, n_patterns, fit_intercept=True, random_state=seed)
    return X, y, patterns


def _cvxpy_scores(problem, z):
    """``max a_b^T u`` over the block's cone and ``R_b(u) <= 1``, one cvxpy solve per block."""
    a = problem.adjoint(z)
    A, O = problem.design, problem.constraint_orientation()
    scores = []
    for b in range(problem.n_blocks):
        u = cp.Variable(A.shape[1])
        ball = problem.penalty.cvxpy(cp.reshape(u, (A.shape[1], 1), order="F")) <= 1
        program = cp.Problem(cp.Maximize(a[b] @ u), [cp.multiply(O[:, b], A @ u) >= 0, ball])
        program.solve(solver="CLARABEL")
        scores.append(np.inf if program.status == cp.UNBOUNDED else program.value)
    return np.array(scores)


@pytest.mark.parametrize("penalty", [GroupL1(), GroupL1FreeIntercept()])
@pytest.mark.parametrize("seed", [0, 1])
def test_block_scores_solve_the_cone_restricted_dual_norm_of_the_penalty(penalty, seed):
    X, y, patterns = _data(seed)
    problem = cn.ReLUProblem(X, y, patterns, lam=0.05, penalty=penalty)
    z = np.random.default_rng(seed + 10).standard_normal(problem.n_samples) / problem.n_samples
    scores = block_scores(problem, z)
    reference = _cvxpy_scores(problem, z)
    np.testing.assert_array_equal(np.isinf(scores), np.isinf(reference))
    finite = np.isfinite(reference)
    np.testing.assert_allclose(scores[finite], reference[finite], rtol=1e-6, atol=REF_ATOL)
    value, block = best_block(problem, z)
    assert value == pytest.approx(scores.max(), rel=1e-12)
    assert scores[block] == pytest.approx(value, rel=1e-12)


def test_free_intercept_on_the_all_on_pattern_is_infinite_unless_the_slope_cancels():
    X, y, patterns = _data()
    gates = np.zeros((3, 1))
    gates[-1] = 1.0  # x^T 0 + 1 >= 0 for every sample: the all-on pattern
    all_on = cn.ActivationPatterns(gates, np.ones((X.shape[0], 1), dtype=bool), True)
    problem = cn.ReLUProblem(X, y, all_on, lam=0.05, penalty=GroupL1FreeIntercept())
    z = np.random.default_rng(3).standard_normal(problem.n_samples)
    # one of v, w has a positive slope along the free bias direction, which lies in its cone
    assert np.isinf(block_scores(problem, z)).sum() == 1
    centred = z - z.mean()
    scores = block_scores(problem, centred)
    np.testing.assert_allclose(scores, _cvxpy_scores(problem, centred), rtol=1e-6, atol=REF_ATOL)


@pytest.mark.parametrize("formulation", [cn.ReLUProblem, cn.GatedReLUProblem])
def test_free_intercept_lower_bound_never_exceeds_the_optimum_and_is_tight_there(formulation):
    X, y, patterns = _data()
    problem = formulation(X, y, patterns, lam=0.05, penalty=GroupL1FreeIntercept())
    reference = get_solver("CLARABEL", tol=1e-10)
    for lam in (0.01, 0.05, 0.2, 1.0):
        at = problem.with_lam(lam)
        optimum = reference.solve(at)
        # the reference objective is above the true optimum by at most its own (tiny) gap
        slack = 1e-8 * abs(optimum.objective)
        assert oracle_bound(at, at.zeros()) <= optimum.objective + slack
        for other in (0.01, 0.2):
            start = reference.solve(problem.with_lam(other)).coef
            assert oracle_bound(at, start) <= optimum.objective + slack
    if formulation is cn.ReLUProblem:  # the gated bound needs the bias slope exactly zero
        assert oracle_bound(problem, reference.solve(problem).coef) == pytest.approx(
            reference.solve(problem).objective, rel=1e-6)


def test_cone_upper_bounds_bound_the_exact_values_and_settle_below_the_floor():
    """Every multiplier gives an upper bound, so the batched bounds are never below the exact
    cone-restricted values (NNLS), whatever the iteration count; a block whose bound fell to the
    floor is settled there, and more steps only tighten the others."""
    from convexnn.oracle import cone_upper_bounds, project_norm

    X, y, patterns = _data(seed=3, n=40, n_patterns=12)
    problem = cn.ReLUProblem(X, y, patterns, lam=1e-2)
    z = y - y.mean()
    a = problem.adjoint(z)
    orientation = problem.constraint_orientation()
    exact = np.array([project_norm(problem, orientation[:, b], a[b])
                      for b in range(problem.n_blocks)])
    norms = np.linalg.norm(a, axis=1)
    assert np.any(exact < norms - 1e-6)  # some cones bind: the bounds have work to do
    loose = cone_upper_bounds(problem.design, orientation, a, n_iter=2)
    tight = cone_upper_bounds(problem.design, orientation, a, n_iter=200)
    assert np.all(loose >= exact - 1e-12) and np.all(tight >= exact - 1e-12)
    assert np.all(tight <= loose + 1e-15) and np.all(loose <= norms + 1e-15)
    assert np.max(tight - exact) < 0.1 * np.max(norms - exact)
    floor = float(np.median(exact))
    settled = cone_upper_bounds(problem.design, orientation, a, n_iter=200, floor=floor)
    assert np.all(settled >= exact - 1e-12)
    above = exact > floor
    np.testing.assert_allclose(settled[above], tight[above], rtol=1e-12)


def test_cone_upper_bounds_in_chunks_and_on_selected_blocks_equal_the_whole_batch(monkeypatch):
    """Chunked (a few blocks at a time) or restricted to some blocks, the batched bounds are the
    ones of the whole batch: each block's iteration does not depend on the others'. So are the
    lowest constraint values, taken in the same chunks."""
    from convexnn import oracle

    X, y, patterns = _data(seed=4, n=40, n_patterns=12)
    problem = cn.ReLUProblem(X, y, patterns, lam=1e-2)
    a = problem.adjoint(y - y.mean())
    orientation = problem.constraint_orientation()
    whole = oracle.cone_upper_bounds(problem.design, orientation, a, n_iter=30)
    rounding = 1e-12 * np.linalg.norm(a, axis=1).max()  # the GEMMs' sums in another order
    some = np.array([5, 0, 17, 3, 11])
    np.testing.assert_allclose(
        oracle.cone_upper_bounds(problem.design, orientation, a, n_iter=30, blocks=some),
        whole[some], rtol=0, atol=rounding)
    monkeypatch.setattr(oracle, "_BOUND_BYTES", 3 * 8 * problem.n_samples)  # 3 blocks a chunk
    np.testing.assert_allclose(oracle.cone_upper_bounds(problem.design, orientation, a, n_iter=30),
                               whole, rtol=0, atol=rounding)
    # the chunked lowest constraint values (which blocks' maximizers lie in their cones)
    values = orientation * (problem.design @ a.T)
    rounding = 1e-12 * np.abs(values).max()
    np.testing.assert_allclose(oracle._lowest_values(problem.design, orientation, a),
                               values.min(axis=0), rtol=0, atol=rounding)
    np.testing.assert_allclose(oracle._lowest_values(problem.design, orientation, a[some], some),
                               values[:, some].min(axis=0), rtol=0, atol=rounding)


def test_wide_nnls_matches_scipys_nnls_on_every_column():
    from scipy.optimize import nnls

    from convexnn.penalties import wide_nnls

    rng = np.random.default_rng(0)
    n, d = 3000, 8
    A = np.c_[rng.standard_normal((n, d - 1)), np.ones(n)]
    C = A * np.where(A @ rng.standard_normal(d) >= 0, 1.0, -1.0)[:, None]
    values = []
    for _ in range(6):
        b = rng.standard_normal(d)
        x, value = wide_nnls(C.T, b)
        _, expected = nnls(C.T, b, maxiter=50 * n)
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert x.shape == (n,) and x.min() >= 0
        assert np.linalg.norm(C.T @ x - b) == pytest.approx(value, rel=1e-9, abs=1e-12)
        values.append(value)
    assert max(values) > 0  # some targets lie outside the cone (the working set had to work)
