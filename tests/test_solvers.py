import warnings

import numpy as np
import pytest

from convexnn.patterns import enumerate_patterns, sample_patterns
from convexnn.problems import GatedReLUProblem, ReLUProblem
from convexnn.results import ConvergenceWarning, SolverError
from convexnn.solvers import CvxpySolver, get_solver, regularization_path, solve


@pytest.fixture
def relu_problem(data_small):
    X, y = data_small
    return ReLUProblem(X, y, sample_patterns(X, 10, fit_intercept=True, random_state=0), lam=0.01)


def test_scs_and_clarabel_agree_on_a_small_relu_problem(relu_problem):
    scs = solve(relu_problem, solver="SCS")
    clarabel = solve(relu_problem, solver="CLARABEL", tol=1e-9)
    assert scs.converged and clarabel.converged
    assert scs.objective == pytest.approx(clarabel.objective, rel=1e-4)
    assert clarabel.constraint_violation < 1e-7
    assert scs.solver == "cvxpy-SCS" and clarabel.solver == "cvxpy-CLARABEL"


def test_optimum_beats_feasible_points(relu_problem):
    result = solve(relu_problem, solver="CLARABEL", tol=1e-9)
    assert result.objective <= relu_problem.objective(relu_problem.zeros())
    rng = np.random.default_rng(0)
    for _ in range(5):  # small feasible perturbations: scale the optimum's blocks
        scaled = result.coef * rng.uniform(0.8, 1.2, size=(relu_problem.n_blocks, 1))
        assert result.objective <= relu_problem.objective(scaled) + 1e-9


def test_gated_result_carries_a_certified_gap(data_small):
    X, y = data_small
    problem = GatedReLUProblem(X, y, sample_patterns(X, 10, fit_intercept=True, random_state=0), lam=0.01)
    result = solve(problem, solver="CLARABEL", tol=1e-9)
    assert result.lower_bound is not None
    assert -1e-10 <= result.gap < 1e-6 * abs(result.objective)


def test_logistic_loss_scs_and_clarabel_agree(data_small):
    X, y = data_small
    labels = np.where(y > np.median(y), 1.0, -1.0)
    problem = ReLUProblem(X, labels, sample_patterns(X, 8, random_state=1), lam=0.01, loss="logistic")
    a = solve(problem, solver="SCS")
    b = solve(problem, solver="CLARABEL", tol=1e-9)
    assert a.objective == pytest.approx(b.objective, rel=1e-4)
    assert b.objective < np.log(2)  # better than the zero network


def test_iteration_limit_warns_with_the_status(relu_problem):
    with pytest.warns(ConvergenceWarning, match="status 'optimal_inaccurate'|status 'user_limit'"):
        result = solve(relu_problem, solver="SCS", max_iter=5)
    assert not result.converged and result.status in ("optimal_inaccurate", "user_limit")


def test_a_failing_solver_raises_solver_error_with_status(relu_problem, monkeypatch):
    import cvxpy as cp

    def broken(self, *args, **kwargs):
        raise cp.error.SolverError("simulated breakdown")

    monkeypatch.setattr(cp.Problem, "solve", broken)
    with pytest.raises(SolverError, match="simulated breakdown") as info:
        solve(relu_problem, solver="SCS")
    assert info.value.status == "solver_error"


def test_unknown_or_missing_solver_is_named():
    with pytest.raises(ValueError, match="solver='NOPE' is not an installed cvxpy solver") as info:
        get_solver("NOPE")
    assert "neither a native nor a cvxpy solver" in str(info.value)
    assert "pip install" not in str(info.value)
    with pytest.raises(ValueError, match="tol must be finite and > 0"):
        CvxpySolver("SCS", tol=0.0)
    with pytest.raises(ValueError, match="solver must be a solver name"):
        get_solver(3)


def test_regularization_path_reuses_the_program_and_matches_cold_solves(data_1d):
    X, y = data_1d
    problem = ReLUProblem(X, y, enumerate_patterns(X, fit_intercept=True), lam=1.0)
    lams = [1e-1, 1e-2, 1e-3]
    path = regularization_path(problem, lams, solver="CLARABEL", tol=1e-9)
    objectives = [r.objective for r in path]
    assert objectives[0] > objectives[1] > objectives[2]  # less penalty, lower optimum
    for lam, result in zip(lams, path):
        cold = solve(problem.with_lam(lam), solver="CLARABEL", tol=1e-9)
        assert result.lam == lam
        assert result.objective == pytest.approx(cold.objective, rel=1e-6)
    # large lam: the zero network is optimal
    top = solve(problem.with_lam(100.0), solver="CLARABEL", tol=1e-9)
    assert top.n_active == 0
    with pytest.raises(ValueError, match="lams must be"):
        regularization_path(problem, [-1.0])


# ------------------------------------------------------------------------ get_solver's error
def _unknown_solver_error(name):
    with pytest.raises(ValueError) as info:
        get_solver(name)
    return str(info.value)


def test_get_solver_error_lists_every_valid_name():
    import cvxpy as cp

    message = _unknown_solver_error("NOT_A_SOLVER")
    for native in ("'auto'", "'native'", "'fista'", "'admm'", "'augmented_lagrangian'",
                   "'interior_point'", "'ipm'"):
        assert native in message, native
    for installed in cp.installed_solvers():
        assert installed in message, installed
    assert "\n" not in message


def test_get_solver_error_suggests_a_close_name_and_no_package_for_a_typo():
    message = _unknown_solver_error("CLARABLE")
    assert "Did you mean 'CLARABEL'?" in message
    assert "pip install" not in message and "clarable" not in message.lower().replace(
        "solver='clarable'", "")
    assert "Did you mean 'fista'?" in _unknown_solver_error("fsta")
    assert "Did you mean 'interior_point'?" in _unknown_solver_error("interior-point")


@pytest.mark.parametrize("name, package", [("MOSEK", "mosek"), ("GUROBI", "gurobipy"),
                                           ("ECOS", "ecos"), ("SCIP", "pyscipopt")])
def test_get_solver_error_names_the_real_package_of_a_missing_cvxpy_solver(name, package):
    import cvxpy as cp

    if name in cp.installed_solvers():
        pytest.skip(f"{name} is installed here")
    message = _unknown_solver_error(name)
    assert f"{name} is a cvxpy solver: install it with 'pip install {package}'" in message
    assert message.count("pip install") == 1
