"""The primal-dual interior-point solver against the Clarabel reference, with certified gaps."""

import math
import warnings

import numpy as np
import pytest

from convexnn import GatedReLUProblem, ReLUProblem, sample_patterns
from convexnn.deep import DeepReLUProblem, sample_nested_patterns
from convexnn.results import ConvergenceWarning
from convexnn.solvers import InteriorPoint, get_solver, lam_max, oracle_bound
from convexnn.solvers import _cone_program as cone_program
from convexnn.solvers import interior_point

LOSSES = ["squared", "logistic", "huber"]
FORMULATIONS = [ReLUProblem, GatedReLUProblem]


def make_problem(cls=ReLUProblem, loss="squared", seed=0, n=50, d=3, n_patterns=8, frac=0.05):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w1, w2 = rng.standard_normal(d), rng.standard_normal(d)
    y = np.maximum(X @ w1, 0) - np.maximum(X @ w2, 0) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    if loss == "huber":  # outliers, so the loss's linear part is in use at the optimum
        y[:4] += 5.0
    patterns = sample_patterns(X, n_patterns, fit_intercept=True, random_state=seed)
    top = lam_max(cls(X, y, patterns, lam=1.0, loss=loss))
    return cls(X, y, patterns, lam=frac * top, loss=loss)


@pytest.fixture(scope="module")
def reference():
    """Clarabel's solution of each small problem and its certified gap, computed once."""
    cache = {}

    def get(cls, loss, seed=0):
        key = (cls, loss, seed)
        if key not in cache:
            problem = make_problem(cls, loss, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # 'optimal_inaccurate' is fine
                ref = get_solver("CLARABEL", tol=1e-10).solve(problem)
            cache[key] = (problem, ref, ref.objective - oracle_bound(problem, ref.coef))
        return cache[key]

    return get


def assert_certified_and_agrees(result, solver, problem, ref, ref_gap):
    """``result`` is 'optimal' at ``solver.tol``, feasible to its tolerance on every constraint,
    and agrees with Clarabel's ``ref`` within the two certified gaps."""
    rounding = 1e-11 * abs(ref.objective)
    assert result.status == "optimal"
    assert result.constraint_violation == problem.constraint_violation(result.coef)
    assert result.constraint_violation <= solver.constraint_tol
    assert -rounding <= result.gap <= solver.tol * abs(result.objective) * 1.001
    assert abs(result.objective - ref.objective) <= result.gap + ref_gap + rounding
    assert result.lower_bound <= ref.objective + rounding


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("cls", FORMULATIONS)
def test_matches_clarabel(reference, cls, loss, seed):
    """Both points are certified: objectives agree within the sum of the two gaps."""
    problem, ref, ref_gap = reference(cls, loss, seed)
    solver = InteriorPoint(tol=1e-8)
    result = solver.solve(problem)
    rounding = 1e-11 * abs(ref.objective)
    assert result.status == "optimal"
    assert result.solver == "interior_point"
    assert result.lam == problem.lam
    assert result.n_iter <= 60
    assert result.constraint_violation <= solver.constraint_tol
    assert result.constraint_violation == problem.constraint_violation(result.coef)
    assert result.objective == pytest.approx(problem.objective(result.coef), rel=1e-14)
    assert result.n_active == problem.active_blocks(result.coef).size
    gap = result.gap
    assert -rounding <= gap <= 1e-8 * abs(result.objective) * 1.001
    assert -rounding <= ref_gap <= 1e-5 * abs(ref.objective)  # the reference is itself accurate
    assert abs(result.objective - ref.objective) <= gap + ref_gap + rounding
    # a certified objective can only exceed the reference's by its own gap
    assert result.objective - ref.objective <= gap + rounding
    # the reported bound is a valid lower bound on the optimum
    assert result.lower_bound <= ref.objective + rounding


@pytest.mark.parametrize("shape", [(30, 20), (200, 8)])  # n-space; group space
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("cls", FORMULATIONS)
def test_float32_grams_and_centrality_correctors_match_clarabel(reference, monkeypatch, cls, loss,
                                                                 shape):
    """Forced on at this size (both thresholds 0), the float32 Grams (the n-space one, the group
    space's with varying curvature, the group space's fixed one of the squared loss) and Gondzio's
    correctors still give a certified point that agrees with Clarabel; at tol 1e-8 the float32
    Gram's residual ends above the step's bound, so the later steps factor in float64. The
    n-space Gram is accumulated over chunks of 3 groups (the last one shorter)."""
    monkeypatch.setattr(cone_program, "_SINGLE_FLOPS", 0.0)
    monkeypatch.setattr(interior_point, "_CORRECTOR_RATIO", 0.0)
    n, n_patterns = shape
    monkeypatch.setattr(cone_program, "_CHUNK_ENTRIES", 3 * n * 4)
    problem = make_problem(cls, loss, n=n, n_patterns=n_patterns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = get_solver("CLARABEL", tol=1e-10).solve(problem)
    ref_gap = ref.objective - oracle_bound(problem, ref.coef)
    plain = InteriorPoint(tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = plain.solve(problem)
    assert_certified_and_agrees(result, plain, problem, ref, ref_gap)
    steps = result.history[:-1]  # the last record is the returned iterate's (no step)
    single = [record["float32"] for record in steps]
    assert single[0]
    assert single == sorted(single, reverse=True)  # float64 once a residual stalls, for good
    assert sum(record["correctors"] for record in steps) > 0


@pytest.mark.parametrize("single", [False, True])
def test_nspace_gram_in_chunks_matches_the_whole_product(monkeypatch, single):
    """The n-space route's S, accumulated by one syrk per chunk of groups (5, 5 and 2 groups),
    is the lower triangle of the whole product ``Yt Yt^T`` (float32: to its rounding)."""
    problem = make_problem(n=30, d=3, n_patterns=12)  # G d = 48 > n: the n-space route
    prog = cone_program._Program(problem)
    rng = np.random.default_rng(1)
    L = np.tril(rng.standard_normal((prog.n_groups, prog.d, prog.d)))
    sqrt_h = np.sqrt(rng.uniform(0.1, 1.0, prog.n))
    e = sqrt_h / np.linalg.norm(sqrt_h)
    whole = prog._scaled_columns(L, sqrt_h, e).copy()
    expected = np.tril(whole @ whole.T)
    monkeypatch.setattr(cone_program, "_CHUNK_ENTRIES", prog.n * prog.d * 5)
    S = prog._nspace_gram(L, sqrt_h, e, single)
    tol = 1e-6 if single else 1e-13
    assert np.abs(np.tril(S) - expected).max() <= tol * np.abs(expected).max()
    assert not np.triu(S, 1).any()
    S = prog._nspace_gram(L, 2 * sqrt_h, e, single)  # the buffers are reused: overwritten
    assert np.abs(np.tril(S) - 4 * expected).max() <= 4 * tol * np.abs(expected).max()


@pytest.mark.parametrize("margin", [0.01, 0.3])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_row_reduction_matches_clarabel(reference, monkeypatch, loss, margin):
    """Forced on at this size, the row reduction keeps only the orthant rows near each block's
    direction in the barrier and adds rows as the directions move: the point returned is
    feasible on every row, certified on the whole program, and agrees with Clarabel's."""
    monkeypatch.setattr(interior_point, "_ROW_SIZE", 0)
    monkeypatch.setattr(interior_point, "_ROW_MARGIN", margin)
    problem, ref, ref_gap = reference(ReLUProblem, loss)
    solver = InteriorPoint(tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = solver.solve(problem)
    assert_certified_and_agrees(result, solver, problem, ref, ref_gap)
    rows = [record["rows"] for record in result.history[:-1]]
    assert 0 < rows[0] < 1 and rows == sorted(rows)  # a part of the rows, only ever growing
    if margin < 0.1:
        assert rows[-1] > rows[0]  # the blocks' directions moved: rows came into the barrier


def test_row_reduction_is_off_for_small_programs_and_nested_ones(monkeypatch):
    result = InteriorPoint().solve(make_problem())
    assert all("rows" not in record for record in result.history)
    monkeypatch.setattr(interior_point, "_ROW_SIZE", 0)  # at any size: nested programs keep all
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    deep = DeepReLUProblem(X, y, sample_nested_patterns(X, [3, 2], random_state=0), lam=0.1)
    result = InteriorPoint(tol=1e-6).solve(deep)
    assert result.status == "optimal"
    assert all("rows" not in record for record in result.history)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_float32_gram_falls_back_to_float64_where_its_residual_stalls(monkeypatch, loss):
    """With multipliers spread over 1e-8..1e8 the float32 Gram cannot give a refined residual of
    1e-11: the solve factors again in float64 (this step and the rest of the solve), and the
    direction it returns meets the bound against the unreduced system."""
    monkeypatch.setattr(cone_program, "_SINGLE_FLOPS", 0.0)
    problem = make_problem(loss=loss, n=30, n_patterns=20)  # n-space reduction
    prog = cone_program._Program(problem)
    prog.set_tol(1e-9)
    assert prog.residual_tol == pytest.approx(1e-11)
    x, s_orth, s_soc, z_orth, z_soc = InteriorPoint()._start(prog)
    rng = np.random.default_rng(0)
    s_orth = s_orth * np.exp(rng.uniform(-9, 9, s_orth.shape))
    wbar, eta, _ = cone_program._soc_nt(s_soc, z_soc)
    scaling = {"wbar": wbar, "eta": eta, "winv": np.sqrt(z_orth / s_orth)}
    pred = prog.predict(x[:, 1:])
    h = np.maximum(prog.loss.hessian(pred, prog.y), 0.0) * 1e6
    c = prog.loss.hessian_rank_one(pred, prog.y)  # None but for an offset loss
    c = None if c is None else c * 1e3
    fac = prog.factor(scaling, h, c)
    p, q_orth, q_soc = (rng.standard_normal(a.shape) for a in (x, s_orth, s_soc))
    out = prog.kkt_solve(fac, scaling, p, q_orth, q_soc)
    assert prog.single is False
    final = fac.get("double") or fac
    assert final["single"] is False
    _, err, scale = prog.kkt_residual(final, scaling, p, q_orth, q_soc, *out)
    assert err <= prog.residual_tol * scale
    # the float64 factorization solves the system as one factored in float64 from the start
    exact = cone_program._Program(problem)
    exact.single = False
    direct = exact.kkt_solve(exact.factor(scaling, h, c), scaling, p, q_orth, q_soc)
    for a, b in zip(out, direct):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * np.abs(b).max())


def test_float32_gram_beyond_its_range_is_formed_in_float64(monkeypatch):
    """A Gram whose entries overflow float32 (curvature ~1e80) is formed in float64 at once."""
    monkeypatch.setattr(cone_program, "_SINGLE_FLOPS", 0.0)
    problem = make_problem(loss="logistic", n=30, n_patterns=20)
    prog = cone_program._Program(problem)
    x, s_orth, s_soc, z_orth, z_soc = InteriorPoint()._start(prog)
    wbar, eta, _ = cone_program._soc_nt(s_soc, z_soc)
    scaling = {"wbar": wbar, "eta": eta, "winv": np.sqrt(z_orth / s_orth)}
    h = np.full(prog.n, 1e80)
    fac = prog.factor(scaling, h)
    assert fac["single"] is False and prog.single is False
    assert np.all(np.isfinite(fac["chol"][0]))


def test_centrality_target_moves_products_into_the_box():
    """Gondzio's right-hand side: products in [0.1, 10] target are left alone, smaller ones are
    raised to 0.1 target, larger ones lowered by at most 10 target; the cones by ``s^T z``."""
    lam_orth = np.ones((1, 4))
    dso = np.array([[0.0, -0.95, 1.0, 29.0]])  # trial products at reach 1: 1, 0.0025, 4, 900
    dzo = np.array([[0.0, -0.95, 1.0, 29.0]])
    lam_soc = np.array([[1.0, 0.0], [1.0, 0.0]])
    dss = np.array([[-0.99, 0.0], [0.0, 0.0]])  # s^T z at reach 1: 0.01 and 1
    dzs = np.array([[0.0, 0.0], [0.0, 0.0]])
    orth, soc = InteriorPoint._centrality_target(lam_orth, lam_soc, dso, dss, dzo, dzs, 1.0, 1.0)
    np.testing.assert_allclose(orth, [[0.0, 0.1 - 0.0025, 0.0, -10.0]])
    np.testing.assert_allclose(soc, [[0.1 - 0.01, 0.0], [0.0, 0.0]])
    none, _ = InteriorPoint._centrality_target(None, lam_soc, None, dss, None, dzs, 1.0, 1.0)
    assert none is None


@pytest.mark.parametrize("loss", LOSSES)
def test_gap_bounds_suboptimality_at_loose_tol(reference, loss):
    """Stopped early (tol 1e-3), the reported gap still covers the true distance to the optimum."""
    problem, ref, ref_gap = reference(ReLUProblem, loss)
    loose = InteriorPoint(tol=1e-3).solve(problem)
    tight = InteriorPoint(tol=1e-8).solve(problem)
    assert loose.status == "optimal"
    assert loose.n_iter < tight.n_iter
    rounding = 1e-11 * abs(ref.objective)
    optimum = min(ref.objective, tight.objective)  # an upper estimate of the optimum
    assert loose.objective - optimum <= loose.gap + rounding
    assert loose.gap <= 1e-3 * abs(loose.objective) * 1.001
    assert loose.lower_bound <= optimum + rounding
    assert loose.constraint_violation <= 1e-8


def test_history_records():
    problem = make_problem()
    result = InteriorPoint().solve(problem)
    assert len(result.history) == result.n_iter + 1  # one record per iterate, the start included
    for record in result.history:
        assert {"objective", "lower_bound", "gap"} <= set(record)
    gaps = [record["gap"] for record in result.history]
    assert gaps[-1] == pytest.approx(result.gap)
    # the bound is the best so far: it never decreases
    bounds = [record["lower_bound"] for record in result.history]
    assert all(b2 >= b1 for b1, b2 in zip(bounds, bounds[1:]))


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_far_iterates_are_not_certified_and_the_solve_stops_where_it_would(monkeypatch, loss):
    """Iterates whose complementarity exceeds 10 tol |objective| skip the certificate (no bound,
    violation nan); the solve ends at the same certified iterate as when every iterate is
    certified (their bounds are far below the final one)."""
    problem = make_problem(loss=loss, n=60, n_patterns=10)
    result = InteriorPoint(tol=1e-6).solve(problem)
    monkeypatch.setattr(interior_point, "_CERTIFY_FROM", math.inf)
    every = InteriorPoint(tol=1e-6).solve(problem)
    assert result.status == every.status == "optimal"
    assert result.n_iter == every.n_iter
    assert result.objective == every.objective and result.gap == every.gap
    skipped = [record for record in result.history if math.isnan(record["violation"])]
    assert skipped and not math.isnan(result.history[-1]["violation"])
    assert all(not math.isnan(record["violation"]) for record in every.history)
    degree = (problem.n_samples + 1) * problem.n_blocks  # orthant rows and cones
    for record in skipped:  # mu is the complementarity per degree
        assert record["mu"] * degree > 10 * 1e-6 * abs(record["objective"])


def test_get_solver_names():
    assert isinstance(get_solver("interior_point"), InteriorPoint)
    solver = get_solver("IPM", tol=1e-4, max_iter=30)
    assert isinstance(solver, InteriorPoint)
    assert solver.tol == 1e-4 and solver.max_iter == 30
    assert InteriorPoint.name == "interior_point"


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"tol": 0.0}, "tol"),
        ({"tol": -1e-6}, "tol"),
        ({"tol": "small"}, "tol"),
        ({"constraint_tol": 0.0}, "constraint_tol"),
        ({"constraint_tol": float("nan")}, "constraint_tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"max_iter": True}, "max_iter"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        InteriorPoint(**kwargs)


def test_max_iter_warns():
    problem = make_problem()
    message = r"interior_point.*'max_iter'.*relative gap.*violation"
    with pytest.warns(ConvergenceWarning, match=message):
        result = InteriorPoint(max_iter=3).solve(problem)
    assert result.status == "max_iter"
    assert result.n_iter == 3
    assert result.gap > 0
    assert result.constraint_violation <= 1e-8  # iterates are feasible from the start


def test_hinge_loss_rejected():
    problem = make_problem(loss="logistic")
    hinge = ReLUProblem(problem.X, problem.y, problem.patterns, lam=problem.lam, loss="hinge")
    assert not InteriorPoint().supports(hinge)
    with pytest.raises(ValueError, match="interior_point.*'gradient'"):
        InteriorPoint().solve(hinge)


def test_deep_problems():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    y = np.maximum(X[:, 0], 0) + 0.1 * rng.standard_normal(30)
    # depth 2 is the plain ReLU program (no constraint levels): supported
    shallow = DeepReLUProblem(X, y, sample_nested_patterns(X, 5, depth=2, random_state=0), lam=0.01)
    result = InteriorPoint().solve(shallow)
    assert result.status == "optimal"
    assert result.constraint_violation <= 1e-8
    # deeper programs couple the blocks through nested constraints: the dense nested Newton
    # system (tests/test_interior_point_nested.py compares it with Clarabel)
    deep = DeepReLUProblem(X, y, sample_nested_patterns(X, 3, depth=3, random_state=0), lam=0.01)
    result = InteriorPoint().solve(deep)
    assert result.status == "optimal"
    assert result.constraint_violation <= 1e-8


def test_working_bytes_grows():
    solver = InteriorPoint()
    small = solver.working_bytes(100, 5, 20)
    assert small > 0
    assert solver.working_bytes(1000, 5, 20) > small
    assert solver.working_bytes(100, 5, 200) > small
    # at least the n x n Woodbury matrix when B d > n
    assert solver.working_bytes(1000, 20, 200) >= 8 * 1000**2


def test_large_lam_gives_zero_solution():
    """``lam`` above ``lam_max``: every block sits at its cone's apex, still certified."""
    problem = make_problem(frac=1.5)
    result = InteriorPoint().solve(problem)
    assert result.status == "optimal"
    assert result.n_active == 0


def test_zero_lam_rejected():
    problem = make_problem(frac=0.0)
    with pytest.raises(ValueError, match="lam > 0"):
        InteriorPoint().solve(problem)


# --------------------------------------------------------------------------- working set
def test_working_set_argument():
    assert InteriorPoint().working_set == "auto"
    with pytest.raises(ValueError, match="working_set"):
        InteriorPoint(working_set="sometimes")
    with pytest.raises(ValueError, match="max_rounds"):
        InteriorPoint(max_rounds=0)
    # 'auto' leaves small programs whole
    problem = make_problem()
    assert InteriorPoint()._initial_size(problem) is None
    assert InteriorPoint(working_set=True)._initial_size(problem) is not None


def test_working_set_auto_whole_when_it_fits():
    """'auto' solves the whole program whenever its Newton system fits the memory limit."""
    from types import SimpleNamespace

    def fake(n, cols, P):
        return SimpleNamespace(design=np.empty((n, cols)), n_blocks=2 * P,
                               patterns=SimpleNamespace(n_patterns=P))

    assert InteriorPoint()._initial_size(fake(2000, 51, 300)) is None  # fits: whole program
    assert InteriorPoint()._initial_size(fake(20000, 51, 3000)) is not None  # 2 GiB: working set


@pytest.mark.parametrize("per_block", [True, False])
def test_gram_factor_matches_qr(monkeypatch, per_block):
    """The blocks' factors from the Grams (block by block, or from the column products) and from
    the full QR give the same M_b = R_b^T R_b."""
    from convexnn.solvers import _cone_program as ip

    monkeypatch.setattr(ip, "_BLOCK_GRAMS", 10**6 if per_block else 0)
    problem = make_problem(n=80, d=4, n_patterns=6)
    prog = ip._Program(problem)
    x, s_orth, s_soc, z_orth, z_soc = InteriorPoint()._start(prog)
    rng = np.random.default_rng(0)
    s_orth = s_orth * np.exp(rng.uniform(-6, 6, s_orth.shape))  # spread z / s over 1e-5..1e5
    wbar, eta, _ = ip._soc_nt(s_soc, z_soc)
    winv = np.sqrt(z_orth / s_orth)
    winv_soc = ip._soc_inverse_matrix(wbar, eta)
    R_gram = prog._factor_blocks_gram(winv_soc, winv)
    R_qr = prog._factor_blocks_qr(winv_soc, winv)
    assert R_gram is not None
    M_gram = R_gram.transpose(0, 2, 1) @ R_gram
    M_qr = R_qr.transpose(0, 2, 1) @ R_qr
    scale = np.abs(M_qr).max(axis=(1, 2), keepdims=True)
    assert np.abs(M_gram - M_qr).max() <= 1e-12 * scale.max()
    assert np.all(np.abs(M_gram - M_qr) <= 1e-12 * scale)


def test_kept_rows_maps_and_factors_match_the_whole_program_on_those_rows():
    """Under row reduction the orthant maps and the block factors act on the kept rows alone:
    ``G x``, ``G^T v``, their scaled forms and ``M_b = R_b^T R_b`` equal the whole program's with
    the other rows' entries (and scalings) zero."""
    from convexnn.solvers import _cone_program as ip

    rng = np.random.default_rng(4)
    problem = make_problem(n=70, d=4, n_patterns=6)
    whole, reduced = ip._Program(problem), ip._Program(problem)
    keep = rng.random((whole.n, whole.B)) < 0.3
    keep[:, 0] = False  # a block with no row in the barrier
    reduced.set_rows(keep)
    assert reduced.degree == whole.B + keep.sum() and reduced.kept.size == keep.sum()
    x, s_orth, s_soc, z_orth, z_soc = InteriorPoint()._start(whole)
    wbar, eta, _ = ip._soc_nt(s_soc, z_soc)
    winv = np.sqrt(z_orth / s_orth) * np.exp(rng.uniform(-4, 4, s_orth.shape))
    dense = {"wbar": wbar, "eta": eta, "winv": np.where(keep, winv, 0.0)}
    # the kept entries block by block (block-major order)
    kept = {"wbar": wbar, "eta": eta, "winv": winv.T[keep.T]}
    np.testing.assert_array_equal(reduced.dense_orth(kept["winv"]), dense["winv"])
    u = rng.standard_normal(x.shape)
    orth, soc = rng.standard_normal(reduced.kept.size), rng.standard_normal(s_soc.shape)
    np.testing.assert_allclose(reduced.dense_orth(reduced.G(u)[0]),
                               np.where(keep, whole.G(u)[0], 0.0), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(reduced.GT(orth, soc), whole.GT(reduced.dense_orth(orth), soc),
                               rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(reduced.dense_orth(reduced.scaled_G(kept, u)[0]),
                               whole.scaled_G(dense, u)[0], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(reduced.scaled_GT(kept, orth, soc),
                               whole.scaled_GT(dense, reduced.dense_orth(orth), soc),
                               rtol=1e-12, atol=1e-12)
    winv_soc = ip._soc_inverse_matrix(wbar, eta)
    R_kept = reduced.kept.factors(winv_soc, kept["winv"])
    R_whole = whole._factor_blocks_qr(winv_soc, dense["winv"])
    M_kept = R_kept.transpose(0, 2, 1) @ R_kept
    M_whole = R_whole.transpose(0, 2, 1) @ R_whole
    np.testing.assert_allclose(M_kept, M_whole, rtol=0,
                               atol=1e-12 * np.abs(M_whole).max())


def test_scaled_maps_and_max_step_match_their_plain_forms():
    """``W^-1 G x`` and ``G^T W^-1 v`` with the scaling folded into the orientation equal the maps
    composed (two-layer and nested programs), and the orthant max step equals its definition."""
    from convexnn.solvers import _cone_program as ip
    from convexnn.solvers._nested_program import _NestedProgram

    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    y = rng.standard_normal(40)
    nested = DeepReLUProblem(X, y, sample_nested_patterns(X, [3, 2], random_state=0), lam=0.1)
    for prog in (ip._Program(make_problem(n=60, d=3, n_patterns=5)), _NestedProgram(nested)):
        x, s_orth, s_soc, z_orth, z_soc = InteriorPoint()._start(prog)
        wbar, eta, _ = ip._soc_nt(s_soc, z_soc)
        scaling = {"wbar": wbar, "eta": eta, "winv": np.sqrt(z_orth / s_orth)}
        u = rng.standard_normal(x.shape)
        orth, soc = rng.standard_normal(s_orth.shape), rng.standard_normal(s_soc.shape)
        for fused, plain in zip(prog.scaled_G(scaling, u), prog.scale_inv(scaling, *prog.G(u))):
            np.testing.assert_allclose(fused, plain, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(prog.scaled_GT(scaling, orth, soc),
                                   prog.GT(*prog.scale_inv(scaling, orth, soc)),
                                   rtol=1e-12, atol=1e-12)
    lam, d = rng.uniform(0.1, 2.0, (30, 4)), rng.standard_normal((30, 4))
    negative = d < 0
    assert ip._orth_max_step(lam, d) == pytest.approx(float((-lam[negative] / d[negative]).min()),
                                                       rel=1e-15)
    assert ip._orth_max_step(lam, np.abs(d)) == np.inf


@pytest.mark.parametrize("loss", LOSSES)
def test_working_set_matches_full(reference, loss):
    """Working set on and off: the same optimum within the certified gaps, a valid bound."""
    problem, ref, ref_gap = reference(ReLUProblem, loss)
    full = InteriorPoint(tol=1e-8, working_set=False).solve(problem)
    ws = InteriorPoint(tol=1e-8, working_set=True).solve(problem)
    rounding = 1e-11 * abs(ref.objective)
    assert ws.status == "optimal"
    assert ws.coef.shape == problem.coef_shape
    assert ws.constraint_violation <= 1e-8
    assert ws.objective == pytest.approx(problem.objective(ws.coef), rel=1e-14)
    assert -rounding <= ws.gap <= 1e-8 * abs(ws.objective) * 1.001
    assert abs(ws.objective - full.objective) <= ws.gap + full.gap + rounding
    # the bound is certified on the whole program: below the reference optimum
    assert ws.lower_bound <= ref.objective + rounding
    assert abs(ws.objective - ref.objective) <= ws.gap + ref_gap + rounding
    # iterations and history add up over the rounds
    assert ws.n_iter == sum(1 for r in ws.history) - ws.history[-1]["round"]
    assert {"round", "working_set", "restricted_lower_bound"} <= set(ws.history[-1])


def test_working_set_adds_missing_pattern():
    """A first working set that misses optimal patterns grows in later rounds."""
    problem = make_problem(n=60, d=3, n_patterns=12, frac=0.02, seed=3)
    full = InteriorPoint(tol=1e-8, working_set=False).solve(problem)
    solver = InteriorPoint(tol=1e-8, working_set=True)
    solver._initial_size = lambda problem, init=None: 1  # force a tiny start
    ws = solver.solve(problem)
    rounds = ws.history[-1]["round"]
    assert rounds > 1
    sizes = [record["working_set"] for record in ws.history]
    assert sizes[0] == 1 and sizes[-1] > 1
    # every pattern active in the full solution ends up in the final working set's support
    active = np.unique(problem.block_pattern[problem.active_blocks(full.coef, threshold=1e-3)])
    assert sizes[-1] >= active.size
    assert ws.status == "optimal"
    assert abs(ws.objective - full.objective) <= ws.gap + full.gap + 1e-11 * abs(full.objective)
    assert ws.lower_bound <= full.objective + 1e-11 * abs(full.objective)


def test_working_set_stops_at_its_memory_cap(monkeypatch):
    """Rounds that would grow the set past the memory budget stop with 'max_iter' and a warning
    naming the cap, returning the best point with its bound on the whole program."""
    problem = make_problem(n=60, d=3, n_patterns=12, frac=0.02, seed=3)
    full = InteriorPoint(tol=1e-8, working_set=False).solve(problem)
    active = np.unique(problem.block_pattern[problem.active_blocks(full.coef, threshold=1e-3)])
    cap = active.size - 1  # too few for the optimum
    n, m = problem.design.shape
    monkeypatch.setattr(interior_point, "_WS_BYTES",
                        InteriorPoint._step_bytes(n, m, cap, 2))
    solver = InteriorPoint(tol=1e-8, working_set=True)
    solver._initial_size = lambda problem, init=None: 1
    with pytest.warns(ConvergenceWarning, match=f"working set: {cap} patterns, the most whose"):
        ws = solver.solve(problem)
    assert ws.status == "max_iter"
    assert max(record["working_set"] for record in ws.history) == cap
    rounding = 1e-11 * abs(full.objective)
    assert ws.lower_bound <= full.objective + rounding  # certified on the whole program
    assert ws.objective >= full.objective - full.gap - rounding
    assert ws.constraint_violation <= 1e-8


def test_auto_works_around_an_init_that_uses_few_patterns():
    """'auto' with an init using at most half of the patterns (one class of a one-vs-rest fit
    over shared patterns) solves over a working set seeded by it, warm-starting every round, and
    reaches the whole program's optimum (certified on the whole program)."""
    problem = make_problem(n=80, d=3, n_patterns=24, frac=0.05, seed=2)
    full = InteriorPoint(tol=1e-8, working_set=False).solve(problem)
    # a feasible init over 3 of the 24 patterns: the optimum of that restricted program
    few = np.arange(3)
    sub = ReLUProblem(problem.X, problem.y, problem.patterns.subset(few), lam=problem.lam)
    sub_coef = InteriorPoint(tol=1e-8).solve(sub).coef
    init = problem.zeros()
    P = problem.patterns.n_patterns
    for b, (p, sign) in enumerate(zip(sub.block_pattern, sub.block_sign)):
        row = np.flatnonzero((problem.block_pattern == few[p]) & (problem.block_sign == sign))
        init[row[0]] = sub_coef[b]
    assert problem.constraint_violation(init) == 0.0
    result = InteriorPoint(tol=1e-8).solve(problem, init=init)
    assert "round" in result.history[-1]  # the working set was used
    assert result.history[0]["working_set"] < P
    assert result.status == "optimal"
    assert abs(result.objective - full.objective) <= result.gap + full.gap + 1e-11 * abs(full.objective)
    assert result.lower_bound <= full.objective + 1e-11 * abs(full.objective)
    # started from the whole optimum: a working set only if it uses at most half of them
    used = np.unique(problem.block_pattern[np.linalg.norm(full.coef, axis=1) > 0]).size
    dense = InteriorPoint(tol=1e-8).solve(problem, init=full.coef)
    assert ("round" in dense.history[-1]) == (2 * used <= P)
    assert abs(dense.objective - full.objective) <= dense.gap + full.gap + 1e-11 * abs(full.objective)


def test_upper_inverse_inverts_each_triangular_block_and_rejects_a_singular_one():
    from convexnn.solvers._cone_program import upper_inverse

    rng = np.random.default_rng(0)
    R = np.triu(rng.standard_normal((7, 6, 6))) + 3.0 * np.eye(6)
    inverse = upper_inverse(R)
    np.testing.assert_allclose(inverse @ R, np.broadcast_to(np.eye(6), R.shape), atol=1e-13)
    np.testing.assert_array_equal(np.tril(inverse, -1), 0.0)  # still upper triangular
    R[4, 2, 2] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="block 4"):
        upper_inverse(R)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_a_diverging_warm_start_is_given_up_for_the_cold_start(reference, monkeypatch, loss):
    """A warm start whose complementarity grows past _WARM_DIVERGENCE times its start's is given
    up at once, and the cold start's solve decides: certified, agreeing with Clarabel. Forced
    here by a threshold below the start's own mu (every warm step then counts as diverged)."""
    problem, ref, ref_gap = reference(ReLUProblem, loss)
    solver = InteriorPoint(tol=1e-8, working_set=False)
    cold = solver.solve(problem)
    init = 0.5 * cold.coef  # feasible (a cone is closed under scaling), not optimal
    assert problem.constraint_violation(init) == 0.0
    warm = solver.solve(problem, init=init)
    assert warm.status == "optimal" and warm.history[0]["objective"] == pytest.approx(
        problem.objective(init), rel=1e-2)
    monkeypatch.setattr(interior_point, "_WARM_DIVERGENCE", 1e-30)
    given_up = solver.solve(problem, init=init)
    assert_certified_and_agrees(given_up, solver, problem, ref, ref_gap)
    # one warm step was taken, then the cold start ran its whole solve
    assert given_up.n_iter == cold.n_iter + 1
    assert given_up.history[2]["objective"] == cold.history[0]["objective"]


def test_working_set_rounds_add_the_near_violators_once_one_violates():
    """A round adds nothing while no pattern outside the set violates; once one does, every
    outside pattern above _WS_NEAR lam joins, by decreasing oracle value, at most ``cap``."""
    lam = 2.0
    near = interior_point._WS_NEAR
    value = lam * np.array([0.5, 1.3, near + 0.05, 0.99, near - 0.05, 1.1, 2.0])
    outside = np.array([True, True, True, True, True, True, False])
    add = InteriorPoint._additions(value, outside, lam, cap=10)
    np.testing.assert_array_equal(add, [1, 5, 3, 2])  # 6 is in the set; 0 and 4 are below
    np.testing.assert_array_equal(InteriorPoint._additions(value, outside, lam, cap=2), [1, 5])
    below = np.where(value > lam, 0.95 * lam, value)  # near ones only: nothing to add
    assert InteriorPoint._additions(below, outside, lam, cap=10).size == 0


def test_small_programs_run_on_one_blas_thread(monkeypatch):
    """A small program is solved with the BLAS limited to one thread (through the controller made
    once), and the limit is lifted afterwards."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    seen = []
    solve = InteriorPoint._solve

    def spy(self, problem, init=None):
        seen.append(blas_threads())
        return solve(self, problem, init)

    monkeypatch.setattr(InteriorPoint, "_solve", spy)
    before = blas_threads()
    for _ in range(2):
        InteriorPoint(tol=1e-6).solve(make_problem())
    assert seen and all(threads and set(threads) == {1} for threads in seen)
    assert blas_threads() == before
    assert interior_point._blas_controller() is interior_point._blas_controller()
