"""The interior-point method on nested deep programs (DeepReLUProblem of depth >= 3)."""

import warnings

import numpy as np
import pytest

from convexnn.deep import DeepReLUProblem, sample_nested_patterns
from convexnn.deep.estimators import DeepConvexReLUClassifier, DeepConvexReLURegressor
from convexnn.problems import ReLUProblem
from convexnn.results import ConvergenceWarning
from convexnn.solvers import InteriorPoint, get_solver
from convexnn.solvers import interior_point


def _problem(loss, depth, sizes, seed, n=20, d=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * np.maximum(X @ rng.standard_normal(d), 0)
         + 0.1 * rng.standard_normal(n))
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    lam = 0.01 if loss == "squared" else 0.005
    patterns = sample_nested_patterns(X, sizes, depth=depth, random_state=seed)
    return DeepReLUProblem(X, y, patterns, lam=lam, loss=loss)


def _curvature(problem, pred):
    return float(np.min(problem.loss.hessian(pred, problem.y)))


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("depth, sizes, seed", [(3, [3, 2], 0), (3, [4, 2], 1), (4, [2, 2, 2], 2)])
@pytest.mark.parametrize("correctors", [False, True])
def test_matches_clarabel_on_random_nested_programs(monkeypatch, loss, depth, sizes, seed,
                                                    correctors):
    """With Gondzio's correctors forced on (``correctors``) and without."""
    if correctors:
        monkeypatch.setattr(interior_point, "_CORRECTOR_RATIO", 0.0)
    problem = _problem(loss, depth, sizes, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = InteriorPoint(tol=1e-9).solve(problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Clarabel may say 'optimal_inaccurate' at this tol
        reference = get_solver("CLARABEL", tol=1e-10).solve(problem)
    assert result.status == "optimal"
    assert (sum(record.get("correctors", 0) for record in result.history) > 0) == correctors
    # certified by construction: the gap is the objective minus dual_bound at the IPM's duals
    assert result.gap >= 0
    assert result.gap <= 1e-9 * abs(result.objective)
    assert result.lower_bound <= reference.objective * (1 + 1e-9)
    assert result.constraint_violation <= 1e-8
    assert problem.constraint_violation(result.coef) <= result.constraint_violation + 1e-15
    assert result.objective == pytest.approx(reference.objective, rel=1e-6)
    # predictions: the loss is strongly convex in them, F(u) - F* >= (kappa / 2) ||dpred||^2, so
    # each point's distance to the optimal predictions is certified by its objective minus the
    # IPM's lower bound; 1e-6 relative where Clarabel's own accuracy allows it
    pred, ref = problem.predict(result.coef), problem.predict(reference.coef)
    kappa = 0.5 * min(_curvature(problem, pred), _curvature(problem, ref))
    ref_excess = max(problem.objective(reference.coef) - result.lower_bound, 0.0)
    bound = np.sqrt(2 * result.gap / kappa) + np.sqrt(2 * ref_excess / kappa)
    assert np.linalg.norm(pred - ref) <= max(1e-6 * np.abs(ref).max(), bound)


def test_depth_two_deep_problem_is_the_relu_program_through_the_ipm():
    problem = _problem("squared", 2, [5], 3)
    flat = ReLUProblem(problem.X, problem.y, problem.nested.first, lam=problem.lam)
    a = InteriorPoint(tol=1e-9).solve(problem)
    b = InteriorPoint(tol=1e-9).solve(flat)
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=1e-8)
    np.testing.assert_allclose(problem.predict(a.coef), flat.predict(b.coef), atol=1e-4)


def test_auto_picks_the_ipm_for_nested_programs_and_refuses_beyond_its_limits(monkeypatch):
    problem = _problem("squared", 3, [3, 2], 0)
    assert get_solver("auto").pick(problem).name == "interior_point"
    monkeypatch.setattr(interior_point, "_NESTED_BYTES", 1000)
    assert not InteriorPoint().supports(problem)
    with pytest.raises(ValueError, match="dense Newton system"):
        InteriorPoint().solve(problem)
    assert get_solver("auto").pick(problem).name == "augmented_lagrangian"
    # the same for the cost of a step (the united patterns of pattern_search='sgd' can be large)
    monkeypatch.setattr(interior_point, "_NESTED_BYTES", 2 * 1024**3)
    assert InteriorPoint().supports(problem)
    monkeypatch.setattr(interior_point, "_NESTED_FLOPS", 10.0)
    assert not InteriorPoint().supports(problem)
    assert get_solver("auto").pick(problem).name == "augmented_lagrangian"


def test_warm_start_from_a_feasible_init():
    problem = _problem("squared", 3, [3, 2], 4)
    cold = InteriorPoint(tol=1e-8).solve(problem)
    warm = InteriorPoint(tol=1e-8).solve(problem, init=cold.coef)
    assert warm.status == "optimal"
    assert warm.objective == pytest.approx(cold.objective, rel=1e-7)
    assert warm.n_iter <= cold.n_iter


def _subset(loader, size):
    from sklearn.preprocessing import StandardScaler

    X, y = loader(return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(y))[:size]
    return StandardScaler().fit_transform(X[rows]), y[rows]


@pytest.mark.parametrize("name", ["diabetes", "iris"])
def test_default_deep_estimators_end_optimal_without_warning(name):
    from sklearn import datasets

    if name == "diabetes":
        X, y = _subset(datasets.load_diabetes, 80)
        model = DeepConvexReLURegressor(n_patterns=4, n_upper_patterns=2, random_state=0)
    else:
        X, y = _subset(datasets.load_iris, 60)
        model = DeepConvexReLUClassifier(n_patterns=4, n_upper_patterns=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
    statuses = np.atleast_1d(model.solver_status_)
    assert all(s == "optimal" for s in statuses)


def test_sgd_pattern_search_with_the_ipm():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.maximum(X[:, 0], 0) - 0.5 * np.maximum(X[:, 1], 0) + 0.1 * rng.standard_normal(30)
    model = DeepConvexReLURegressor(alpha=0.01, n_patterns=4, n_upper_patterns=2,
                                    pattern_search="sgd", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
    assert model.objective_ <= model.sgd_objective_ * (1 + 1e-12)
    assert np.all(np.atleast_1d(model.solver_status_) == "optimal")


@pytest.mark.parametrize("depth, sizes, seed", [(3, [3, 2], 0), (4, [2, 2, 2], 2)])
def test_offset_loss_matches_clarabel_on_nested_programs(depth, sizes, seed):
    """The classifier's loss with its free output offset ('logistic_offset', a diag - rank-one
    Hessian) through the nested program's Newton solve: the same optimum as Clarabel, with the
    offset an explicit cvxpy variable there."""
    problem = _problem("logistic", depth, sizes, seed)
    problem = DeepReLUProblem(problem.X, problem.y, problem.nested, lam=problem.lam,
                              loss="logistic_offset")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = InteriorPoint(tol=1e-9).solve(problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = get_solver("CLARABEL", tol=1e-10).solve(problem)
    assert result.status == "optimal"
    assert 0 <= result.gap <= 1e-9 * abs(result.objective)
    assert result.lower_bound <= reference.objective * (1 + 1e-9)
    assert result.constraint_violation <= 1e-8
    assert result.objective == pytest.approx(reference.objective, rel=1e-6)


@pytest.mark.parametrize("loss, depth, sizes", [("squared", 3, [3, 2]), ("logistic", 4, [2, 2, 2])])
def test_merged_classes_solve_the_block_by_block_newton_system(loss, depth, sizes):
    """The Newton solve over the classes (the two level-1 signs of a pattern merged) and the one
    block by block solve the same system: both against the explicit dense matrix, at a scaling
    whose multipliers spread over eight decades."""
    from convexnn.solvers._cone_program import _soc_nt
    from convexnn.solvers._nested_program import _NestedProgram, nested_class_size

    problem = _problem(loss, depth, sizes, 3)
    prog = _NestedProgram(problem)
    assert nested_class_size(problem.block_operator()) == 2
    assert prog.layouts[True]["C"] == problem.n_blocks // 2
    rng = np.random.default_rng(0)
    shape = (prog.n, prog.n_constraints)
    s_orth, z_orth = 10.0 ** rng.uniform(-4, 4, shape), 10.0 ** rng.uniform(-4, 4, shape)

    def cone(size):  # points inside the second-order cones, t > ||u||
        u = rng.standard_normal((prog.B, prog.d))
        return np.column_stack([np.linalg.norm(u, axis=1) * (1 + size), u])

    wbar, eta, _ = _soc_nt(cone(rng.uniform(0.01, 10, prog.B)), cone(rng.uniform(0.01, 10, prog.B)))
    scaling = {"wbar": wbar, "eta": eta, "winv": np.sqrt(z_orth / s_orth)}
    pred = problem.predict(rng.standard_normal((prog.B, prog.d)) * 0.1)
    h = np.maximum(problem.loss.hessian(pred, problem.y), 0.0)
    c = problem.loss.hessian_rank_one(pred, problem.y)
    size = prog.B * (prog.d + 1)

    def apply(x):
        return prog.hess(x, h, c) + prog.scaled_GT(scaling, *prog.scaled_G(scaling, x))

    N = np.stack([apply(e.reshape(prog.B, -1)).ravel() for e in np.eye(size)])
    r = rng.standard_normal((prog.B, prog.d + 1))
    exact = np.linalg.solve(N, r.ravel()).reshape(r.shape)
    merged = prog.factor(scaling, h, c)
    blocks = prog.factor(scaling, h, c, merge=False)
    assert merged["merged"] and not blocks["merged"]
    assert merged["YhT"].shape[0] == blocks["YhT"].shape[0] // 2
    # classes of mixed sizes (as the united patterns of pattern_search='sgd' give): every third
    # pair split into two one-block classes, padded with the index B and sign 0
    members, sigma = prog.layouts[True]["members"], prog.layouts[True]["sigma"]
    rows, signs = [], []
    for j in range(members.shape[0]):
        if j % 3:
            rows.append(members[j]), signs.append(sigma[j])
        else:
            rows += [[members[j, 0], prog.B], [members[j, 1], prog.B]]
            signs += [[1.0, 0.0], [1.0, 0.0]]
    order = np.argsort([row[0] for row in rows], kind="stable")
    prog.layouts[True] = prog._layout(np.asarray(rows)[order], np.asarray(signs)[order])
    mixed = prog.factor(scaling, h, c)
    assert mixed["merged"] and merged["YhT"].shape[0] < mixed["YhT"].shape[0]
    # one-block classes in a padded layout take the block-by-block path's factors exactly
    prog.layouts[True] = prog._layout(np.column_stack([np.arange(prog.B), np.full(prog.B, prog.B)]),
                                      np.column_stack([np.ones(prog.B), np.zeros(prog.B)]))
    alone = prog.factor(scaling, h, c)
    np.testing.assert_allclose(prog.reduced_solve(alone, r), prog.reduced_solve(blocks, r),
                               rtol=1e-12, atol=1e-12 * np.abs(exact).max())
    cond = np.linalg.cond(N)
    for fac in (merged, blocks, mixed):
        x = prog.reduced_solve(fac, r)
        # backward stable: a residual at rounding level of the system's scale
        assert np.abs(apply(x) - r).max() <= 1e-10 * np.abs(N).max() * np.abs(exact).max()
        assert np.abs(x - exact).max() <= 1e-14 * cond * np.abs(exact).max()
