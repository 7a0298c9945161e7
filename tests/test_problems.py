import numpy as np
import pytest

from convexnn.patterns import ActivationPatterns, sample_patterns
from convexnn.problems import GatedReLUProblem, ReLUProblem


@pytest.fixture
def problems(data_small):
    X, y = data_small
    patterns = sample_patterns(X, 12, fit_intercept=True, random_state=0)
    return [cls(X, y, patterns, lam=0.05) for cls in (ReLUProblem, GatedReLUProblem)]


def _explicit_predict(problem, coef):
    A, M = problem.design, problem.patterns.mask
    P = problem.patterns.n_patterns
    pred = np.zeros(problem.n_samples)
    for i in range(P):
        pred += M[:, i] * (A @ coef[i])
        if problem.n_blocks == 2 * P:
            pred -= M[:, i] * (A @ coef[P + i])
    return pred


def test_predict_matches_the_loop_over_patterns(problems):
    rng = np.random.default_rng(0)
    for problem in problems:
        coef = rng.standard_normal(problem.coef_shape)
        np.testing.assert_allclose(problem.predict(coef), _explicit_predict(problem, coef), rtol=1e-12)


def test_adjoint_is_the_transpose_of_predict(problems):
    rng = np.random.default_rng(1)
    for problem in problems:
        coef = rng.standard_normal(problem.coef_shape)
        r = rng.standard_normal(problem.n_samples)
        assert r @ problem.predict(coef) == pytest.approx(np.sum(problem.adjoint(r) * coef), rel=1e-12)


def test_cvxpy_statement_has_the_numpy_objective_and_is_dpp(problems):
    rng = np.random.default_rng(2)
    for problem in problems:
        program = problem.cvxpy_program()
        assert program.problem.is_dpp()
        coef = rng.standard_normal(problem.coef_shape) * 0.1
        program.variable.value = coef.T
        assert program.problem.objective.value == pytest.approx(problem.objective(coef), rel=1e-10)


def test_with_lam_shares_the_compiled_program(problems):
    problem = problems[0]
    other = problem.with_lam(0.5)
    assert other.lam == 0.5 and problem.lam == 0.05
    assert other.cvxpy_program() is problem.cvxpy_program()
    assert problem.cvxpy_program().lam.value == 0.05


def test_relu_constraints_hold_exactly_for_gates_as_blocks(problems):
    problem = problems[0]
    P = problem.patterns.n_patterns
    coef = np.vstack([problem.patterns.gates.T, 2 * problem.patterns.gates.T])
    assert problem.constraint_violation(coef) == 0.0
    coef[0] = -coef[0]
    assert problem.constraint_violation(coef) > 0
    assert coef.shape == (2 * P, problem.n_features)


def test_gated_dual_bound_is_below_the_objective(problems):
    problem = problems[1]
    rng = np.random.default_rng(3)
    for _ in range(5):
        coef = rng.standard_normal(problem.coef_shape) * 0.1
        assert problem.dual_bound(coef) <= problem.objective(coef)
    assert problems[0].dual_bound(problems[0].zeros()) is None


@pytest.mark.parametrize("cls", [ReLUProblem, GatedReLUProblem])
def test_bad_input_raises_value_error_naming_the_argument(cls, data_small):
    X, y = data_small
    patterns = sample_patterns(X, 8, random_state=0)
    with pytest.raises(ValueError, match="y has 24 entries but X has 25"):
        cls(X, y[:-1], patterns, lam=0.1)
    with pytest.raises(ValueError, match="y contains NaN"):
        cls(X, np.where(np.arange(25) == 3, np.nan, y), patterns, lam=0.1)
    with pytest.raises(ValueError, match="X contains NaN"):
        cls(np.where(X > 2, np.inf, X), y, patterns, lam=0.1)
    with pytest.raises(ValueError, match="lam must be finite and >= 0"):
        cls(X, y, patterns, lam=-1.0)
    with pytest.raises(ValueError, match="patterns holds 0 patterns"):
        cls(X, y, patterns.subset(np.arange(0)), lam=0.1)
    with pytest.raises(ValueError, match="patterns were computed on 10 samples"):
        cls(X, y, sample_patterns(X[:10], 8, random_state=0), lam=0.1)
    with pytest.raises(ValueError, match="patterns have gates of length 4"):
        cls(X, y, ActivationPatterns(np.ones((4, 1)), np.ones((25, 1))), lam=0.1)
    with pytest.raises(ValueError, match="patterns must be an ActivationPatterns"):
        cls(X, y, np.ones((25, 3), dtype=bool), lam=0.1)
    with pytest.raises(ValueError, match="coef must have shape"):
        cls(X, y, patterns, lam=0.1).objective(np.zeros(3))
