"""Native solvers (FISTA, augmented Lagrangian) against the cvxpy/Clarabel reference."""

import warnings

import numpy as np
import pytest

from convexnn import GatedReLUProblem, ReLUProblem, sample_patterns
from convexnn.losses import HingeLoss, HuberLoss, Loss, SquaredLoss
from convexnn.penalties import GroupL1FreeIntercept
from convexnn.results import ConvergenceWarning
from convexnn.solvers import (
    FISTA,
    AutoSolver,
    AugmentedLagrangian,
    NativeSolver,
    get_solver,
    lam_grid,
    lam_max,
    oracle_bound,
    curvature_weights,
    prediction_radius,
    regularization_path,
)

FORMULATIONS = [GatedReLUProblem, ReLUProblem]
LOSSES = ["squared", "logistic"]


def make_problem(cls, loss, seed=0, n=40, d=3, n_patterns=8, frac=0.05):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ np.array([1.0, -0.5, 0.3][:d]), 0) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    patterns = sample_patterns(X, n_patterns, fit_intercept=True, random_state=seed)
    top = lam_max(cls(X, y, patterns, lam=1.0, loss=loss))
    return cls(X, y, patterns, lam=frac * top, loss=loss)


@pytest.fixture(scope="module")
def reference():
    """Clarabel optimum of each small problem, computed once."""
    cache = {}

    def get(cls, loss, seed=0):
        key = (cls, loss, seed)
        if key not in cache:
            problem = make_problem(cls, loss, seed)
            cache[key] = (problem, get_solver("CLARABEL", tol=1e-10).solve(problem))
        return cache[key]

    return get


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("cls", FORMULATIONS)
def test_native_matches_clarabel(reference, cls, loss):
    """Both solutions are certified, so they may differ by what their gaps allow and no more.

    Clarabel's accuracy moves between releases (its gated logistic point is 1e-6 relative from the
    optimum with 0.11 and ~1e-9 with 0.10), so its gap is measured with the exact dual oracle first
    and the comparison uses it: objectives agree within the larger gap, and predictions within the
    strong-convexity radii of both gaps (:func:`prediction_radius`).
    """
    problem, ref = reference(cls, loss)
    result = get_solver("native", tol=1e-8, max_iter=20000).solve(problem)
    assert result.status == "optimal"
    assert result.solver == ("augmented_lagrangian" if cls is ReLUProblem else "fista")
    assert result.n_iter <= 20000 // 2  # converged well inside its budget, not at its edge
    assert result.constraint_violation <= 1e-6
    rounding = 1e-12 * abs(ref.objective)
    ref_gap = ref.objective - oracle_bound(problem, ref.coef)
    assert -rounding <= ref_gap <= 1e-5 * abs(ref.objective)  # the reference is itself accurate
    gap = result.gap
    assert 0 <= gap + rounding and gap <= 1e-8 * abs(result.objective) * 1.01
    assert abs(result.objective - ref.objective) <= max(gap, ref_gap) + rounding
    # the tighter solve is the better one, up to the reference's certified gap
    assert result.objective <= ref.objective + rounding
    # one norm for both points: weighted by the loss curvature around them (Euclidean for squared)
    pred, pred_ref = problem.predict(result.coef), problem.predict(ref.coef)
    w = curvature_weights(problem, pred, pred_ref)
    radius = prediction_radius(problem, result.coef, gap + rounding, weights=w)
    radius_ref = prediction_radius(problem, ref.coef, ref_gap + rounding, weights=w)
    scale = np.sqrt(np.sum(w * pred_ref**2))
    assert radius < 1e-3 * scale  # the native point is pinned down
    assert result.n_iter == len(result.history) > 0
    assert result.n_active == ref.n_active > 0
    # the native certificate bounds the reference's objective too (not the converse: the native
    # point may violate its cones by ~1e-8 and sit that far below the optimum)
    assert result.lower_bound <= ref.objective + rounding
    if radius_ref == np.inf:
        # only where the loss flattens: clarabel 0.11's ReLU logistic point (gap 3e-7) is not
        # pinned down where the fitted logits reach |13|, so its predictions have no finite radius
        # and the distance check below cannot be made; the gaps above are checked all the same
        assert loss == "logistic" and ref_gap > 1e-9 * abs(ref.objective)
        assert ref.objective - result.lower_bound <= ref_gap + gap + rounding
        return
    assert radius + radius_ref < 1e-2 * scale  # the bound has teeth
    assert np.sqrt(np.sum(w * (pred - pred_ref) ** 2)) <= radius + radius_ref


def test_prediction_radius_bounds_the_distance_to_the_optimum(reference):
    """The radius of a loosely solved point covers its distance to a tight optimum."""
    # logistic: loose enough to move, tight enough for the box argument (fitted logits reach |9|)
    cases = [(GatedReLUProblem, "squared", 1e-4), (ReLUProblem, "squared", 1e-4),
             (GatedReLUProblem, "logistic", 1e-6)]
    for cls, loss, tol in cases:
            problem, _ = reference(cls, loss)
            tight = get_solver("native", tol=1e-8, max_iter=20000).solve(problem)
            loose = get_solver("native", tol=tol, max_iter=20000).solve(problem)
            distance = np.linalg.norm(problem.predict(loose.coef) - problem.predict(tight.coef))
            radius = prediction_radius(problem, loose.coef, loose.gap)
            slack = prediction_radius(problem, tight.coef, tight.gap)
            assert 0 < distance <= radius + slack < np.inf
            w = curvature_weights(problem, problem.predict(loose.coef), problem.predict(tight.coef))
            weighted = np.sqrt(np.sum(w * (problem.predict(loose.coef) - problem.predict(tight.coef)) ** 2))
            assert weighted <= prediction_radius(problem, loose.coef, loose.gap, weights=w) + np.sqrt(
                2 * problem.n_samples * max(tight.gap, 0))
    with pytest.raises(ValueError, match="weights must have shape"):
        prediction_radius(problem, loose.coef, 1e-6, weights=np.ones(3))
    # hinge loss is not strongly convex: no finite radius
    problem = make_problem(GatedReLUProblem, "logistic")
    hinge = GatedReLUProblem(problem.X, problem.y, problem.patterns, lam=problem.lam, loss="hinge")
    assert prediction_radius(hinge, hinge.zeros(), 1e-9) == np.inf


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("cls", FORMULATIONS)
def test_gap_bounds_true_suboptimality(reference, cls, loss, seed):
    problem, ref = reference(cls, loss, seed)
    # stop early on purpose: the certificate must still hold
    solver = get_solver("native", tol=1e-3, max_iter=20000)
    result = solver.solve(problem)
    rounding = 1e-9 * abs(ref.objective)
    assert result.lower_bound <= ref.objective + rounding
    assert result.gap >= -rounding - 1e2 * result.constraint_violation
    assert result.objective - ref.objective <= result.gap + rounding
    assert result.status == "optimal"
    # certified relative gap within tol, for both formulations (the augmented Lagrangian's gap
    # is certified at its polished, feasible point)
    assert result.gap == pytest.approx(result.objective - result.lower_bound, rel=1e-12, abs=1e-15)
    assert 0 <= result.gap + rounding
    assert (result.objective - result.lower_bound) / abs(result.objective) <= 1e-3 * 1.01
    assert result.constraint_violation <= 1e-6
    # every bound along the way is a valid lower bound
    bounds = np.array([h["lower_bound"] for h in result.history])
    assert np.all(bounds <= ref.objective + rounding)


@pytest.mark.parametrize("loss", LOSSES)
def test_relu_cone_constraints_hold_to_tolerance(reference, loss):
    problem, ref = reference(ReLUProblem, loss)
    solver = AugmentedLagrangian(tol=1e-6, constraint_tol=1e-7, max_iter=20000)
    result = solver.solve(problem)
    assert result.status == "optimal"
    assert result.constraint_violation <= 1e-7
    assert -problem.constraint_values(result.coef).min() <= 1e-7
    # and its certified gap meets tol, with a bound below the reference optimum
    rounding = 1e-12 * abs(ref.objective)
    assert (result.objective - result.lower_bound) / abs(result.objective) <= 1e-6 * 1.01
    assert result.lower_bound <= ref.objective + rounding
    assert result.objective - ref.objective <= result.gap + 1e-6 * abs(ref.objective)


@pytest.mark.parametrize("cls", FORMULATIONS)
def test_lam_max_gives_zero_solution(cls):
    problem = make_problem(cls, "squared", seed=3)
    top = lam_max(problem)
    solver = get_solver("native", tol=1e-9, max_iter=20000)
    with warnings.catch_warnings():
        # the augmented Lagrangian converges slowly at this degenerate threshold
        warnings.simplefilter("ignore", ConvergenceWarning)
        at = solver.solve(problem.with_lam(top))
    zero_objective = problem.objective(problem.zeros())
    # zero is optimal at lam_max: nothing beats it (beyond what the violation allows)
    assert at.objective >= zero_objective * (1 - 1e-6)
    assert at.constraint_violation <= 1e-5
    # the certificate says zero is optimal: the bound reaches the zero objective within the gap
    assert at.lower_bound <= zero_objective * (1 + 1e-12)
    assert (at.objective - at.lower_bound) / abs(at.objective) <= 1e-9
    assert zero_objective - at.lower_bound <= 1e-7 * zero_objective
    if not cls.has_constraints:
        assert np.abs(at.coef).max() <= 1e-12  # exact up to rounding at the threshold
    else:  # the augmented Lagrangian's coefficients are small, not exactly zero (1e-4 here)
        assert np.abs(at.coef).max() <= 1e-3
    below = solver.solve(problem.with_lam(0.95 * top))
    assert np.abs(below.coef).max() > 1e-4
    assert below.objective < zero_objective * (1 - 1e-6)


def test_relu_lam_max_below_gated_and_matches_clarabel():
    relu = make_problem(ReLUProblem, "squared", seed=4)
    gated = make_problem(GatedReLUProblem, "squared", seed=4)
    assert lam_max(relu) <= lam_max(gated) + 1e-12
    # Clarabel: nothing beats zero at lam_max, something does just below
    clarabel = get_solver("CLARABEL", tol=1e-10)
    zero_objective = relu.objective(relu.zeros())
    top = lam_max(relu)
    assert clarabel.solve(relu.with_lam(top)).objective >= zero_objective * (1 - 1e-7)
    assert clarabel.solve(relu.with_lam(0.95 * top)).objective < zero_objective * (1 - 1e-5)


def test_path_with_warm_starts_matches_cold_solves():
    problem = make_problem(GatedReLUProblem, "squared", seed=5)
    lams = lam_grid(problem, n_lams=5, ratio=0.05)
    assert lams[0] == pytest.approx(lam_max(problem)) and np.all(np.diff(lams) < 0)
    path = regularization_path(problem, lams, solver="native", tol=1e-9, max_iter=20000)
    for lam, result in zip(lams, path):
        cold = FISTA(tol=1e-9, max_iter=20000).solve(problem.with_lam(lam))
        assert result.lam == lam
        assert result.objective == pytest.approx(cold.objective, rel=1e-7, abs=1e-12)


@pytest.mark.parametrize("cls", FORMULATIONS)
def test_float32_reaches_float32_accuracy(reference, cls):
    problem, ref = reference(cls, "squared")
    result = get_solver("native", tol=1e-4, dtype="float32", max_iter=20000).solve(problem)
    assert result.coef.dtype == np.float64
    assert abs(result.objective - ref.objective) <= 1e-3 * ref.objective
    assert result.lower_bound <= ref.objective + 1e-9


def test_float32_certificate_is_confirmed_in_float64(reference):
    """The running float32 bound is recomputed in float64 at the point that gave it, so a float32
    solve certifies without waiting for the bound at the last iterate to catch up."""
    problem, ref = reference(GatedReLUProblem, "squared")
    result = FISTA(tol=1e-5, dtype="float32", max_iter=5000).solve(problem)
    assert result.status == "optimal"
    assert result.objective - result.lower_bound <= 1e-5 * result.objective
    assert result.lower_bound <= ref.objective + 1e-12
    state = FISTA(tol=1e-5, dtype="float32").init(problem)
    for _ in range(200):
        state = FISTA(tol=1e-5, dtype="float32").step(state)
    assert state.bound_point is not None and state.bound_point.shape == problem.coef_shape
    assert problem.dual_bound(np.asarray(state.bound_point, dtype=np.float64)) == pytest.approx(
        state.lower_bound, rel=1e-4)


def test_step_by_step_iteration_matches_solve():
    problem = make_problem(GatedReLUProblem, "squared")
    solver = FISTA(tol=1e-12, max_iter=30)
    state = solver.init(problem)
    for _ in range(30):
        state = solver.step(state)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        result = solver.solve(problem)
    assert state.n_iter == result.n_iter == 30
    assert state.objective == pytest.approx(result.history[-1]["objective"], rel=1e-12)
    assert np.allclose(state.coef, result.coef)
    assert result.status == "max_iter"


def test_auto_picks_by_capability_and_cvxpy_stays_selectable():
    auto = get_solver("auto", tol=1e-4)
    assert isinstance(auto, AutoSolver)
    relu = make_problem(ReLUProblem, "squared")
    assert auto.pick(relu).name == "interior_point"
    assert auto.pick(make_problem(GatedReLUProblem, "squared")).name == "fista"
    assert get_solver("auto", dtype="float32").pick(relu).name == "augmented_lagrangian"
    hinge = ReLUProblem(relu.X, np.sign(relu.y - np.median(relu.y)), relu.patterns, lam=relu.lam,
                        loss="hinge")
    # the first-order solvers need a Lipschitz gradient, which the hinge loss lacks: cvxpy takes it
    assert auto.pick(hinge).name == "cvxpy-CLARABEL"
    assert auto.pick(hinge).supports(hinge)
    result = auto.solve(relu)
    assert result.solver == "interior_point" and result.status == "optimal"
    assert result.gap <= 1e-4 * result.objective
    assert isinstance(get_solver("native"), NativeSolver)
    assert isinstance(get_solver("FISTA"), FISTA)
    assert get_solver("CLARABEL").name == "cvxpy-CLARABEL"


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"tol": 0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"dtype": "int32"}, "dtype"),
        ({"constraint_tol": -1}, "constraint_tol"),
        ({"rho": 0}, "rho"),
        ({"max_inner": 0}, "max_inner"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AugmentedLagrangian(**kwargs)


def test_wrong_formulation_and_bad_init_raise():
    relu = make_problem(ReLUProblem, "squared")
    gated = make_problem(GatedReLUProblem, "squared")
    with pytest.raises(ValueError, match="augmented_lagrangian"):
        FISTA().solve(relu)
    with pytest.raises(ValueError, match="fista"):
        AugmentedLagrangian().solve(gated)
    with pytest.raises(ValueError, match="coef must have shape"):
        FISTA().solve(gated, init=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="n_lams"):
        lam_grid(gated, n_lams=0)
    with pytest.raises(ValueError, match="ratio"):
        lam_grid(gated, ratio=2.0)


def test_relu_dual_bound_is_valid_for_any_multipliers(reference):
    problem, ref = reference(ReLUProblem, "squared")
    rng = np.random.default_rng(0)
    coef = rng.standard_normal(problem.coef_shape) * 0.1
    for _ in range(5):
        mult = rng.exponential(size=(problem.n_samples, problem.n_blocks)) * 1e-2
        assert problem.dual_bound(coef, mult) <= ref.objective + 1e-12
    assert problem.dual_bound(coef) is None
    with pytest.raises(ValueError, match="multipliers"):
        problem.dual_bound(coef, np.zeros((2, 2)))


@pytest.mark.parametrize("cls", FORMULATIONS)
def test_optimal_status_means_reported_figures_meet_tolerances(cls):
    problem = make_problem(cls, "logistic", seed=6)
    for dtype in ("float64", "float32"):
        result = get_solver("native", tol=1e-5, dtype=dtype, max_iter=20000).solve(problem)
        assert result.status == "optimal"
        assert result.gap <= 1e-5 * result.objective
        assert result.constraint_violation <= 1e-6


def test_native_init_step_dispatch_on_capability(reference):
    solver = NativeSolver(tol=1e-6)
    for cls in FORMULATIONS:
        problem, ref = reference(cls, "squared")
        state = solver.init(problem)
        start = state.objective
        for _ in range(50):
            state = solver.step(state)
        assert state.n_iter == 50
        assert state.objective < start
        # the running bound is a certificate for both: finite, below the optimum, and its gap to
        # the optimum has closed to within a tenth of the objective after 50 steps
        rounding = 1e-12 * abs(ref.objective)
        assert np.isfinite(state.lower_bound)
        assert state.lower_bound <= ref.objective + rounding
        assert (ref.objective - state.lower_bound) / abs(ref.objective) <= 0.1
        if not cls.has_constraints:  # a feasible iterate: its objective is an upper bound too
            assert state.lower_bound <= state.objective + 1e-12
        else:  # an infeasible iterate's objective is no upper bound; its gap counts its violation
            assert state.objective - state.lower_bound >= -1e2 * state.violation - rounding


# ---------------------------------------------------------------- ADMM (experimental, not the default)
@pytest.mark.parametrize("loss", LOSSES)
def test_admm_certificate_is_valid_and_warm_start_from_optimum_stops_at_once(reference, loss):
    from convexnn.solvers import ADMM

    problem, ref = reference(ReLUProblem, loss)
    rounding = 1e-9 * abs(ref.objective)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold = ADMM(tol=1e-6, max_iter=3000).solve(problem)
    assert cold.solver == "admm" and cold.n_iter == len(cold.history)
    assert cold.lower_bound <= ref.objective + rounding
    assert all(h["lower_bound"] <= ref.objective + rounding for h in cold.history)
    if cold.status == "optimal":
        assert cold.objective - ref.objective <= 1e-6 * ref.objective + rounding
    # from the optimum, the KKT multipliers make the first check certify it
    warm = ADMM(tol=1e-6).solve(problem, init=ref.coef)
    assert warm.status == "optimal"
    assert warm.n_iter <= 10 < cold.n_iter
    assert abs(warm.objective - ref.objective) <= 1e-6 * ref.objective


def test_admm_rejects_bad_arguments_and_gated_problems():
    from convexnn.solvers import ADMM

    for kwargs, name in [({"relaxation": 2.0}, "relaxation"), ({"rho": -1}, "rho"),
                         ({"check_every": 0}, "check_every")]:
        with pytest.raises(ValueError, match=name):
            ADMM(**kwargs)
    with pytest.raises(ValueError, match="fista"):
        ADMM().solve(make_problem(GatedReLUProblem, "squared"))
    assert get_solver("admm").name == "admm"


def test_warm_started_cone_projection_equals_a_fresh_nnls():
    """project_blocks reuses each block's last face; the answer must still be the exact projection."""
    from convexnn.operators import BlockOperator

    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 4))
    problem = ReLUProblem(X, rng.standard_normal(60), sample_patterns(X, 5, random_state=0), lam=0.1)
    warm = problem.block_operator()
    blocks = np.arange(problem.n_blocks)
    base = rng.standard_normal(problem.coef_shape)
    for step in range(4):  # nearby points: the faces are reused
        V = base + 0.05 * step * rng.standard_normal(base.shape)
        fresh = BlockOperator(problem.design, problem._weights, problem.constraint_orientation())
        U = warm.project_blocks(V, blocks)
        np.testing.assert_allclose(U, fresh.project_blocks(V, blocks), atol=1e-10)
        # projection onto a cone: feasible, and the residual is orthogonal to the projection
        assert problem.constraint_violation(U) <= 1e-12
        np.testing.assert_allclose(np.einsum("bj,bj->b", V - U, U), 0.0, atol=1e-10)
    assert warm._faces  # the faces were recorded and reused


@pytest.mark.parametrize(
    "name, formulation",
    [("fista", GatedReLUProblem), ("augmented_lagrangian", ReLUProblem), ("admm", ReLUProblem),
     ("native", GatedReLUProblem), ("native", ReLUProblem)],
)
def test_first_order_solvers_refuse_a_loss_without_a_lipschitz_gradient(name, formulation):
    base = make_problem(formulation, "logistic")
    hinge = formulation(base.X, base.y, base.patterns, lam=base.lam, loss="hinge")
    solver = get_solver(name)
    picked = solver.pick(hinge) if name == "native" else solver
    with pytest.raises(ValueError, match=rf"solver '{picked.name}' needs .*the loss HingeLoss\(\) "
                                         r"does not provide 'gradient': a Lipschitz"):
        solver.solve(hinge)
    assert not picked.supports(hinge) and picked.supports(base)


def test_admm_refuses_a_penalty_whose_prox_does_not_rescale_blocks():
    base = make_problem(ReLUProblem, "squared")
    free = ReLUProblem(base.X, base.y, base.patterns, lam=base.lam, penalty=GroupL1FreeIntercept())
    with pytest.raises(ValueError, match=r"solver 'admm' needs .*the penalty GroupL1FreeIntercept\(\) "
                                         r"does not provide 'prox_scale'"):
        get_solver("admm").solve(free)
    # FISTA and the augmented Lagrangian only need the prox itself
    assert get_solver("augmented_lagrangian").supports(free)


class _NoCvxpySquared(SquaredLoss):
    cvxpy = Loss.cvxpy  # a loss written without its cvxpy expression


class _NoCvxpyHinge(HingeLoss):
    cvxpy = Loss.cvxpy


def test_auto_never_picks_a_solver_that_would_refuse():
    base = make_problem(ReLUProblem, "logistic")
    auto, auto32 = get_solver("auto"), get_solver("auto", dtype="float32")
    for formulation in (ReLUProblem, GatedReLUProblem):
        for loss in ("squared", "logistic", "hinge", _NoCvxpySquared()):
            for penalty in ("group_l1", GroupL1FreeIntercept()):
                problem = formulation(base.X, base.y, base.patterns, lam=base.lam, loss=loss,
                                      penalty=penalty)
                for solver in (auto, auto32):
                    picked = solver.pick(problem)
                    assert picked.supports(problem), (picked.name, problem, penalty)
    gated = GatedReLUProblem(base.X, base.y, base.patterns, lam=base.lam, loss=_NoCvxpySquared())
    assert auto.pick(gated).name == "fista"
    stuck = GatedReLUProblem(base.X, base.y, base.patterns, lam=base.lam, loss=_NoCvxpyHinge())
    with pytest.raises(ValueError, match=r"solver 'cvxpy-CLARABEL' needs .*does not provide 'cvxpy'"):
        auto.pick(stuck)


@pytest.mark.parametrize("formulation, native, picked", [
    (GatedReLUProblem, "fista", "fista"),
    (ReLUProblem, "augmented_lagrangian", "interior_point"),
    (ReLUProblem, "interior_point", "interior_point"),
])
def test_huber_loss_end_to_end_native_and_cvxpy_agree_within_their_certified_gaps(
    formulation, native, picked
):
    """A new loss is one class: no solver, problem or network knows the Huber loss by name."""
    from convexnn.networks import from_convex

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.maximum(X @ np.array([1.0, -0.5, 0.3]), 0) + 0.1 * rng.standard_normal(40)
    y[:4] += 5.0  # outliers, so the optimum uses the linear part of the loss
    patterns = sample_patterns(X, 8, fit_intercept=True, random_state=0)
    loss = HuberLoss(delta=0.5)
    top = lam_max(formulation(X, y, patterns, lam=1.0, loss=loss))
    problem = formulation(X, y, patterns, lam=0.05 * top, loss=loss)
    auto = get_solver("auto", tol=1e-7)
    assert auto.pick(problem).name == picked
    result = get_solver(native, tol=1e-7).solve(problem)
    assert result.status == "optimal" and result.solver == native
    assert result.gap <= 1e-7 * abs(result.objective)
    assert result.constraint_violation <= 1e-6
    reference = get_solver("CLARABEL", tol=1e-10).solve(problem)
    ref_bound = oracle_bound(problem, reference.coef)  # the exact oracle certifies cvxpy's point

    def upper(coef):
        """Objective at the point made exactly feasible (its violating blocks projected onto their
        cones): an upper bound on the optimum, which an infeasible point's objective is not."""
        if problem.has_constraints:
            coef = problem.block_operator().project_violating(coef, 0.0)
        return problem.objective(coef)

    # both certified intervals [lower bound, feasible objective] hold the optimum, so each lower
    # bound is below the other's upper bound, and the objectives differ by at most the two gaps
    native_up, ref_up = upper(result.coef), upper(reference.coef)
    slack = 1e-12 * abs(ref_up)  # rounding only
    assert result.lower_bound <= ref_up + slack
    assert ref_bound <= native_up + slack
    assert abs(native_up - ref_up) <= (native_up - result.lower_bound) + (ref_up - ref_bound) + slack
    assert native_up - result.lower_bound <= 1e-6 * abs(native_up)
    assert np.mean(np.abs(problem.predict(result.coef) - y) > loss.delta) > 0  # linear part in use
    # certified lower bounds from other points never exceed the optimum
    for point in (problem.zeros(), auto.solve(problem.with_lam(0.2 * top)).coef):
        assert oracle_bound(problem, point) <= min(native_up, ref_up) + slack
    # and the network maps back with the same objective
    net = from_convex(problem, result.coef)
    assert net.objective(X, y, problem.lam, loss) == pytest.approx(result.objective, rel=1e-9)
