"""The array-API backend: torch tensors through the operators, losses, penalties, first-order
solvers and estimators give the numpy results (skipped without torch; CUDA tests without a GPU)."""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from convexnn._array_api import get_namespace, to_namespace, to_numpy  # noqa: E402
from convexnn.losses import HuberLoss, LogisticLoss, SquaredLoss  # noqa: E402
from convexnn.operators import BlockOperator, NestedBlockOperator  # noqa: E402
from convexnn.patterns import sample_patterns  # noqa: E402
from convexnn.penalties import GroupL1, GroupL1FreeIntercept  # noqa: E402
from convexnn.problems import GatedReLUProblem, ReLUProblem  # noqa: E402
from convexnn.results import ConvergenceWarning  # noqa: E402
from convexnn.solvers import FISTA, AugmentedLagrangian  # noqa: E402

torch.set_num_threads(1)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _data(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d))
    return X, y


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _torch_xp():
    return get_namespace(torch.zeros(1))[0]


@pytest.mark.parametrize("constrained", [False, True])
def test_block_operator_products_agree(constrained):
    rng = np.random.default_rng(1)
    A, W = rng.standard_normal((30, 5)), rng.choice([-1.0, 0.0, 1.0], size=(30, 8))
    O = np.where(rng.random((30, 8)) > 0.5, 1.0, -1.0) if constrained else None
    coef, r, q = rng.standard_normal((8, 5)), rng.standard_normal(30), rng.random((30, 8))
    ref = BlockOperator(A, W, O)
    op = BlockOperator(A, W, O, xp=_torch_xp(), device="cpu")
    assert isinstance(op.W, torch.Tensor) and op.W.dtype == torch.float64
    tc, tr, tq = (torch.asarray(v) for v in (coef, r, q))
    assert _rel(op.predict(tc), ref.predict(coef)) < 1e-12
    assert _rel(op.adjoint(tr), ref.adjoint(r)) < 1e-12
    if constrained:
        feats = op.features(tc)
        assert _rel(op.constrain_features(feats), ref.constrain_features(ref.features(coef))) < 1e-12
        assert _rel(op.adjoint(tr, tq), ref.adjoint(r, q)) < 1e-12
    op32 = BlockOperator(A, W, O, dtype="float32", xp=_torch_xp())
    out = op32.predict(torch.asarray(coef, dtype=torch.float32))
    assert out.dtype == torch.float32 and _rel(out, ref.predict(coef)) < 1e-5


def test_nested_operator_products_agree():
    rng = np.random.default_rng(2)
    n, d, blocks, children = 20, 3, 6, 3
    A, W = rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], size=(n, blocks))
    O = np.where(rng.random((n, blocks)) > 0.5, 1.0, -1.0)
    levels = [(rng.choice([-1.0, 0.0, 1.0], size=(n, blocks)),
               np.where(rng.random((n, blocks // children)) > 0.5, 1.0, -1.0), children)]
    ref = NestedBlockOperator(A, W, O, levels=levels)
    op = NestedBlockOperator(A, W, O, levels=levels, xp=_torch_xp())
    coef, r = rng.standard_normal((blocks, d)), rng.standard_normal(n)
    q = rng.random((n, ref.n_constraints))
    values = op.constrain_features(op.features(torch.asarray(coef)))
    assert isinstance(values, torch.Tensor)
    assert _rel(values, ref.constrain_features(ref.features(coef))) < 1e-12
    assert _rel(op.adjoint(torch.asarray(r), torch.asarray(q)), ref.adjoint(r, q)) < 1e-12


@pytest.mark.parametrize("loss", [SquaredLoss(), LogisticLoss(), HuberLoss(0.3)])
def test_losses_agree(loss):
    rng = np.random.default_rng(3)
    pred = rng.standard_normal(40)
    y = np.sign(rng.standard_normal(40)) if loss.labels else rng.standard_normal(40)
    tp, ty = torch.asarray(pred), torch.asarray(y)
    assert loss.value(tp, ty) == pytest.approx(loss.value(pred, y), rel=1e-12)
    grad = loss.gradient(tp, ty)
    assert isinstance(grad, torch.Tensor) and _rel(grad, loss.gradient(pred, y)) < 1e-12
    assert _rel(loss.hessian(tp, ty), loss.hessian(pred, y)) < 1e-12
    z = -0.5 * loss.gradient(pred, y)  # dual feasible for all three
    assert loss.dual(torch.asarray(z), ty) == pytest.approx(loss.dual(z, y), rel=1e-12)


@pytest.mark.parametrize("penalty", [GroupL1(), GroupL1FreeIntercept()])
def test_penalties_agree(penalty):
    coef = np.random.default_rng(4).standard_normal((7, 4))
    coef[2] = 0.0
    tc = torch.asarray(coef)
    assert penalty.value(tc) == pytest.approx(penalty.value(coef), rel=1e-12)
    prox = penalty.prox(tc, 0.8)
    assert isinstance(prox, torch.Tensor) and _rel(prox, penalty.prox(coef, 0.8)) < 1e-12
    assert penalty.dual_norm(tc) == pytest.approx(penalty.dual_norm(coef), rel=1e-12)


def _problems(cls, loss="squared", **kw):
    X, y = _data(**kw)
    if loss in ("logistic", "logistic_offset"):
        y = np.where(y > 0, 1.0, -1.0)
    patterns = sample_patterns(X, 10, random_state=0)
    return (cls(X, y, patterns, lam=1e-2, loss=loss),
            cls(torch.asarray(X), torch.asarray(y), patterns, lam=1e-2, loss=loss))


@pytest.mark.parametrize("loss", ["squared", "logistic", "logistic_offset", "huber"])
def test_fista_torch_float64_matches_numpy(loss):
    numpy_problem, torch_problem = _problems(GatedReLUProblem, loss)
    ref = FISTA(tol=1e-8).solve(numpy_problem)
    res = FISTA(tol=1e-8).solve(torch_problem)
    assert ref.status == res.status == "optimal"
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)
    assert _rel(res.coef, ref.coef) < 1e-6


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fista_confirms_on_device(monkeypatch, dtype):
    # the device confirmation (taken for GPU arrays) run on torch CPU gives the host figures
    import convexnn.solvers.fista as fista

    numpy_problem, torch_problem = _problems(GatedReLUProblem)
    host = FISTA(tol=1e-6, dtype=dtype).solve(torch_problem)
    monkeypatch.setattr(fista, "_confirm_on_device", lambda operator: True)
    device = FISTA(tol=1e-6, dtype=dtype).solve(torch_problem)
    assert device.status == host.status == "optimal" and device.n_iter == host.n_iter
    assert device.objective == pytest.approx(host.objective, rel=1e-12)
    assert device.lower_bound == pytest.approx(host.lower_bound, rel=1e-9)
    assert device.objective == pytest.approx(numpy_problem.objective(device.coef), rel=1e-12)
    assert device.lower_bound >= numpy_problem.dual_bound(device.coef) - 1e-12 * device.objective


def test_fista_float32_stays_float32():
    _, torch_problem = _problems(GatedReLUProblem)
    solver = FISTA(dtype="float32", tol=1e-4)
    state = solver.init(torch_problem)
    for _ in range(5):
        state = solver.step(state)
    assert state.coef.dtype == torch.float32 and state.extrap.dtype == torch.float32
    assert all(image.dtype == torch.float32 for image in state.images)
    result = solver.solve(torch_problem)
    ref = FISTA(tol=1e-8).solve(_problems(GatedReLUProblem)[0])
    assert result.status == "optimal" and result.objective == pytest.approx(ref.objective, rel=1e-3)


def test_augmented_lagrangian_torch_float64_matches_numpy():
    numpy_problem, torch_problem = _problems(ReLUProblem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = AugmentedLagrangian(max_iter=400).solve(numpy_problem)
        res = AugmentedLagrangian(max_iter=400).solve(torch_problem)
    assert res.n_iter == ref.n_iter
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)
    assert _rel(res.coef, ref.coef) < 1e-6
    solver = AugmentedLagrangian(dtype="float32")
    state = solver.step(solver.init(torch_problem))
    assert state.multipliers.dtype == torch.float32 and state.coef.dtype == torch.float32


def test_augmented_lagrangian_nested_deep_program_on_torch():
    from convexnn.deep.patterns import sample_nested_patterns
    from convexnn.deep.problems import DeepReLUProblem

    X, y = _data(n=30, d=2)
    patterns = sample_nested_patterns(X, 4, depth=3, random_state=0)
    numpy_problem = DeepReLUProblem(X, y, patterns, lam=1e-2)
    torch_problem = DeepReLUProblem(torch.asarray(X), torch.asarray(y), patterns, lam=1e-2)
    assert isinstance(torch_problem.block_operator().levels[0][0], torch.Tensor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = AugmentedLagrangian(max_iter=300).solve(numpy_problem)
        res = AugmentedLagrangian(max_iter=300).solve(torch_problem)
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)
    assert _rel(res.coef, ref.coef) < 1e-6


def test_to_namespace_round_trip():
    x = np.arange(6.0).reshape(2, 3)
    t = to_namespace(x, _torch_xp(), "cpu", "float32")
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert np.array_equal(to_numpy(t), x)


@cuda
def test_fista_cuda_matches_numpy():
    numpy_problem, _ = _problems(GatedReLUProblem)
    X, y = _data()
    device = torch.device("cuda")
    cuda_problem = GatedReLUProblem(torch.asarray(X, device=device), torch.asarray(y, device=device),
                                    numpy_problem.patterns, lam=1e-2)
    assert cuda_problem.block_operator().W.device.type == "cuda"
    ref, res = FISTA(tol=1e-8).solve(numpy_problem), FISTA(tol=1e-8).solve(cuda_problem)
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)


_ESTIMATOR_SCRIPT = textwrap.dedent("""
    import warnings
    import numpy as np, sklearn, torch
    torch.set_num_threads(1)
    import convexnn.operators as operators
    from convexnn import ConvexReLUClassifier, ConvexReLURegressor

    namespaces = []
    original = operators.BlockOperator.__init__
    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        namespaces.append(self.xp.__name__)
    operators.BlockOperator.__init__ = spy

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3)); y = np.sin(X @ rng.standard_normal(3))
    kw = dict(alpha=1e-2, n_patterns=10, random_state=0, tol=1e-6, pattern_search="sampled")
    for estimator, target in [(ConvexReLURegressor(formulation="gated", **kw), y),
                              (ConvexReLURegressor(formulation="relu", **kw), y),
                              (ConvexReLUClassifier(formulation="gated", **kw), y > 0)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sklearn.base.clone(estimator).fit(X, target)
            namespaces.clear()
            with sklearn.config_context(array_api_dispatch=True):
                fitted = estimator.fit(torch.asarray(X), torch.asarray(target))
                out = (fitted.predict(torch.asarray(X)) if hasattr(fitted, "loss")
                       else fitted.predict_proba(torch.asarray(X)))
        expected = ref.predict(X) if hasattr(ref, "loss") else ref.predict_proba(X)
        assert isinstance(fitted.coefs_[0], torch.Tensor), type(fitted.coefs_[0])
        assert isinstance(fitted.intercepts_[0], torch.Tensor)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
        error = float(np.max(np.abs(out.numpy() - expected)) / np.max(np.abs(expected)))
        assert error < 1e-6, error
        if estimator.formulation == "gated":  # FISTA iterated on torch tensors
            assert "array_api_compat.torch" in namespaces, namespaces
        print("ok", type(estimator).__name__, estimator.formulation, error)
""")


def test_estimators_under_array_api_dispatch():
    # scikit-learn's dispatch needs SCIPY_ARRAY_API=1 before scipy is imported: a fresh process
    env = dict(os.environ, SCIPY_ARRAY_API="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", _ESTIMATOR_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("ok") == 3, run.stdout
