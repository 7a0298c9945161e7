"""The block operators of :mod:`convexnn.operators` against dense matrices built entry by entry.

``K`` maps coefficients ``U`` (n_blocks, n_features) to predictions ``rowsum(W * (A U^T))``, ``C``
maps them to the cone values ``O * (A U^T)`` (and, nested, to every level's group values); the
operator's :meth:`adjoint` must be ``K^T r - C^T q`` exactly, so ``<K u, r> - <C u, q>`` equals
``<u, adjoint(r, q)>`` to rounding.
"""

import numpy as np
import pytest

from convexnn import ReLUProblem, GatedReLUProblem, sample_patterns
from convexnn.deep import DeepReLUProblem, sample_nested_patterns
from convexnn.operators import BlockOperator, NestedBlockOperator, check_dtype

N, D, B = 7, 3, 4  # samples, features, blocks


def random_operator(seed=0, dtype=np.float64, constrained=True):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, D))
    W = rng.standard_normal((N, B))
    O = rng.choice([-1.0, 1.0], size=(N, B)) if constrained else None
    return BlockOperator(A, W, O, dtype=dtype), A, W, O


def dense_prediction(A, W):
    """K[i, b*D + j] = W[i, b] A[i, j], so that K @ U.ravel() = rowsum(W * (A U^T))."""
    n, d = A.shape
    K = np.zeros((n, W.shape[1] * d))
    for i in range(n):
        for b in range(W.shape[1]):
            for j in range(d):
                K[i, b * d + j] = W[i, b] * A[i, j]
    return K


def dense_constraints(A, O):
    """C[i*B + b, b*D + j] = O[i, b] A[i, j]: block b's cone values at sample i."""
    n, d = A.shape
    blocks = O.shape[1]
    C = np.zeros((n * blocks, blocks * d))
    for i in range(n):
        for b in range(blocks):
            C[i * blocks + b, b * d : (b + 1) * d] = O[i, b] * A[i]
    return C


def inner(a, b):
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


# ------------------------------------------------------------------------------ plain operator
def test_predict_and_constraints_equal_the_dense_matrices():
    op, A, W, O = random_operator(1)
    U = np.random.default_rng(2).standard_normal((B, D))
    K, C = dense_prediction(A, W), dense_constraints(A, O)
    np.testing.assert_allclose(op.predict(U), K @ U.ravel(), rtol=1e-13, atol=1e-13)
    F = op.features(U)
    assert F.shape == (N, B)
    np.testing.assert_allclose(F, A @ U.T, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(op.predict_features(F), K @ U.ravel(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(op.constrain_features(F).ravel(), C @ U.ravel(), rtol=1e-13,
                               atol=1e-13)


def test_adjoint_equals_the_dense_transposes():
    op, A, W, O = random_operator(3)
    rng = np.random.default_rng(4)
    r, q = rng.standard_normal(N), rng.standard_normal((N, B))
    K, C = dense_prediction(A, W), dense_constraints(A, O)
    np.testing.assert_allclose(op.adjoint(r).ravel(), K.T @ r, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(op.adjoint(r, q).ravel(), K.T @ r - C.T @ q.ravel(), rtol=1e-13,
                               atol=1e-13)
    assert op.adjoint(r, q).shape == op.coef_shape == (B, D)


@pytest.mark.parametrize("seed", range(5))
def test_forward_and_adjoint_agree_in_float64(seed):
    """<K u, r> - <C u, q> = <u, K^T r - C^T q> to 1e-12, with and without constraints."""
    rng = np.random.default_rng(10 + seed)
    for constrained in (False, True):
        op, *_ = random_operator(seed, constrained=constrained)
        U, r = rng.standard_normal((B, D)), rng.standard_normal(N)
        lhs = inner(op.predict(U), r)
        assert abs(lhs - inner(U, op.adjoint(r))) <= 1e-12 * max(1.0, abs(lhs))
        if constrained:
            q = rng.standard_normal((N, B))
            lhs -= inner(op.constrain_features(op.features(U)), q)
            assert abs(lhs - inner(U, op.adjoint(r, q))) <= 1e-12 * max(1.0, abs(lhs))


def test_float32_operator_computes_in_float32_and_matches_float64():
    op32, *_ = random_operator(5, dtype="float32")
    op64, *_ = random_operator(5, dtype=np.float64)
    assert op32.dtype == np.float32 and op32.A.dtype == op32.W.dtype == op32.O.dtype == np.float32
    rng = np.random.default_rng(6)
    U, r, q = rng.standard_normal((B, D)), rng.standard_normal(N), rng.standard_normal((N, B))
    U32, r32, q32 = U.astype(np.float32), r.astype(np.float32), q.astype(np.float32)
    assert op32.predict(U32).dtype == np.float32
    assert op32.adjoint(r32, q32).dtype == np.float32
    np.testing.assert_allclose(op32.predict(U32), op64.predict(U), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(op32.adjoint(r32, q32), op64.adjoint(r, q), rtol=1e-5, atol=1e-5)
    # the adjoint identity holds to float32 rounding
    lhs = inner(op32.predict(U32), r32) - inner(op32.constrain_features(op32.features(U32)), q32)
    assert abs(lhs - inner(U32, op32.adjoint(r32, q32))) <= 1e-5 * max(1.0, abs(lhs))


def test_shape_properties():
    op, *_ = random_operator(0)
    free, *_ = random_operator(0, constrained=False)
    assert op.has_constraints and not free.has_constraints
    assert op.n_constraints == free.n_constraints == B
    assert op.coef_shape == (B, D)
    assert op.levels == () and free.O is None


def test_operators_of_the_problems_match_their_programs():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((20, 3))
    y = rng.standard_normal(20)
    patterns = sample_patterns(X, 5, random_state=0)
    for cls in (ReLUProblem, GatedReLUProblem):
        problem = cls(X, y, patterns, lam=0.1)
        op = problem.block_operator()
        assert problem.block_operator() is op  # cached per dtype
        assert problem.block_operator("float32").dtype == np.float32
        assert op.has_constraints == cls.has_constraints
        U = rng.standard_normal(problem.coef_shape)
        np.testing.assert_allclose(op.predict(U), problem.predict(U), rtol=1e-12, atol=1e-12)
        if cls.has_constraints:
            np.testing.assert_allclose(op.constrain_features(op.features(U)),
                                       problem.constraint_values(U), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------ projections
def test_project_block_is_the_euclidean_projection_onto_the_cone():
    op, A, W, O = random_operator(8)
    rng = np.random.default_rng(9)
    for b in range(B):
        v = rng.standard_normal(D) * 3
        u = op.project_block(v, b)
        values = O[:, b] * (A @ u)
        assert values.min() >= -1e-10  # feasible
        # Moreau: v - u is in the polar cone, orthogonal to u; u is no farther from v than any
        # feasible point we can find (zero, scaled u)
        assert abs(inner(v - u, u)) <= 1e-10
        for t in (0.0, 0.5, 2.0):
            assert np.linalg.norm(v - u) <= np.linalg.norm(v - t * u) + 1e-12
        # a feasible point is its own projection
        np.testing.assert_allclose(op.project_block(u, b), u, atol=1e-10)


def test_project_violating_only_moves_blocks_beyond_the_threshold():
    op, A, W, O = random_operator(11)
    rng = np.random.default_rng(12)
    U = rng.standard_normal((B, D))
    violation = -(O * (A @ U.T)).min(axis=0)
    assert violation.max() > 0
    threshold = float(np.median(violation))
    out = op.project_violating(U, threshold)
    assert out.dtype == np.float64
    for b in range(B):
        if violation[b] > threshold:
            assert (O[:, b] * (A @ out[b])).min() >= -1e-10
            np.testing.assert_allclose(out[b], op.project_block(U[b], b), atol=1e-10)
        else:
            np.testing.assert_array_equal(out[b], U[b])


# ------------------------------------------------------------------------------ nested operator
K1, K2 = 2, 2  # children per group at levels 1 and 2: 4 blocks -> 2 groups -> 1 group


def random_nested(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, D))
    W = rng.standard_normal((N, B))
    O1 = rng.choice([-1.0, 1.0], size=(N, B))
    V1, O2 = rng.standard_normal((N, B)), rng.choice([-1.0, 1.0], size=(N, B // K1))
    V2, O3 = rng.standard_normal((N, B // K1)), rng.choice([-1.0, 1.0], size=(N, B // K1 // K2))
    levels = [(V1, O2, K1), (V2, O3, K2)]
    return NestedBlockOperator(A, W, O1, dtype=dtype, levels=levels), A, O1, levels


def dense_nested_constraints(A, O1, levels):
    """Rows: level-1 cones (i, b), then each upper level's groups (i, g), as constrain_features
    lays them out column-block by column-block; built from each block's path of group weights."""
    n, d = A.shape
    rows = [dense_constraints(A, O1).reshape(n, B, B * d)]
    path_weight = np.ones((n, B))  # product of the inner weights from block b up to its group
    group_of = np.arange(B)
    for inner_w, orient, children in levels:
        path_weight = path_weight * inner_w[:, group_of]
        group_of = group_of // children
        groups = orient.shape[1]
        level = np.zeros((n, groups, B * d))
        for i in range(n):
            for b in range(B):
                g = group_of[b]
                level[i, g, b * d : (b + 1) * d] += orient[i, g] * path_weight[i, b] * A[i]
        rows.append(level)
    return np.concatenate(rows, axis=1).reshape(-1, B * d)


def test_nested_constraints_and_adjoint_equal_the_dense_construction():
    op, A, O1, levels = random_nested(13)
    rng = np.random.default_rng(14)
    U = rng.standard_normal((B, D))
    C = dense_nested_constraints(A, O1, levels)
    assert op.n_constraints == B + B // K1 + B // K1 // K2 == C.shape[0] // N
    values = op.constrain_features(op.features(U))
    assert values.shape == (N, op.n_constraints)
    np.testing.assert_allclose(values.ravel(), C @ U.ravel(), rtol=1e-12, atol=1e-12)
    r, q = rng.standard_normal(N), rng.standard_normal((N, op.n_constraints))
    K = dense_prediction(A, op.W)
    np.testing.assert_allclose(op.adjoint(r, q).ravel(), K.T @ r - C.T @ q.ravel(), rtol=1e-12,
                               atol=1e-12)
    # without multipliers it is the plain prediction adjoint
    np.testing.assert_allclose(op.adjoint(r).ravel(), K.T @ r, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_nested_forward_and_adjoint_agree(dtype, tol):
    op, *_ = random_nested(15, dtype=dtype)
    rng = np.random.default_rng(16)
    U = rng.standard_normal((B, D)).astype(dtype)
    r = rng.standard_normal(N).astype(dtype)
    q = rng.standard_normal((N, op.n_constraints)).astype(dtype)
    assert op.adjoint(r, q).dtype == dtype
    lhs = inner(op.predict(U), r) - inner(op.constrain_features(op.features(U)), q)
    assert abs(lhs - inner(U, op.adjoint(r, q))) <= tol * max(1.0, abs(lhs))


def test_nested_without_levels_is_the_plain_operator():
    op, A, W, O = random_operator(17)
    nested = NestedBlockOperator(A, W, O)
    rng = np.random.default_rng(18)
    U, r, q = rng.standard_normal((B, D)), rng.standard_normal(N), rng.standard_normal((N, B))
    assert nested.n_constraints == op.n_constraints == B
    np.testing.assert_array_equal(nested.constrain_features(nested.features(U)),
                                  op.constrain_features(op.features(U)))
    np.testing.assert_array_equal(nested.adjoint(r, q), op.adjoint(r, q))


def test_deep_problem_operator_satisfies_the_adjoint_identity():
    rng = np.random.default_rng(19)
    X = rng.standard_normal((15, 2))
    y = rng.standard_normal(15)
    problem = DeepReLUProblem(X, y, sample_nested_patterns(X, [3, 2], random_state=0), lam=0.1)
    op = problem.block_operator()
    assert isinstance(op, NestedBlockOperator) and op.levels
    U = rng.standard_normal(problem.coef_shape)
    r, q = rng.standard_normal(15), rng.standard_normal((15, op.n_constraints))
    np.testing.assert_allclose(op.constrain_features(op.features(U)), problem.constraint_values(U),
                               rtol=1e-12, atol=1e-12)
    lhs = inner(op.predict(U), r) - inner(op.constrain_features(op.features(U)), q)
    assert abs(lhs - inner(U, op.adjoint(r, q))) <= 1e-12 * max(1.0, abs(lhs))


# ------------------------------------------------------------------------------ check_dtype
@pytest.mark.parametrize("given", ["float32", np.float32, "float64", np.float64, np.dtype("f8")])
def test_check_dtype_accepts_the_two_float_dtypes(given):
    assert check_dtype(given) == np.dtype(given)
    assert isinstance(check_dtype(given), np.dtype)


@pytest.mark.parametrize("given", ["int32", np.float16, "complex128", "not-a-dtype", object])
def test_check_dtype_rejects_everything_else(given):
    with pytest.raises(ValueError, match=r"dtype must be 'float32' or 'float64', got"):
        check_dtype(given)
    with pytest.raises(ValueError, match="dtype must be"):
        BlockOperator(np.ones((2, 2)), np.ones((2, 1)), dtype=given)
