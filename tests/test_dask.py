"""dask: lab sweeps under ``joblib.parallel_backend('dask')`` and the gated FISTA solve on a
``dask.array`` give the serial numpy results, on a local cluster of 2 worker processes (skipped
without dask.distributed)."""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from convexnn.overparam.experiments import lazy_training  # noqa: E402
from convexnn.patterns import ActivationPatterns, sample_patterns  # noqa: E402
from convexnn.problems import GatedReLUProblem, ReLUProblem  # noqa: E402
from convexnn.solvers import FISTA  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """A 2-process, 1-thread-each local cluster for the module; the default client while open."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the dashboard port already in use
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _data(n=200_000, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal(d), 0.0) + 0.1 * rng.standard_normal(n)
    return X, y


def test_lab_sweep_on_the_dask_backend_equals_the_serial_run(client):
    kwargs = dict(widths=(8, 16), seeds=2, n_samples=6, depth=2, n_steps=20)
    serial = lazy_training(**kwargs)
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        spread = lazy_training(**kwargs)
    assert len(stream.data) >= 4  # the runs did go to the workers
    assert len(serial) == 4
    assert list(spread) == list(serial)  # same rows, same order, bit for bit
    assert spread.meta == serial.meta


def test_patterns_of_dask_data_are_those_of_the_numpy_data(client):
    X, _ = _data(n=20_000)
    Xd = da.from_array(X, chunks=(5_000, -1))
    dense = sample_patterns(X, 12, fit_intercept=True, random_state=1)
    lazy = sample_patterns(Xd, 12, fit_intercept=True, random_state=1)
    assert isinstance(lazy.mask, da.Array) and lazy.mask.chunks[0] == Xd.chunks[0]
    np.testing.assert_array_equal(lazy.gates, dense.gates)
    np.testing.assert_array_equal(lazy.mask.compute(), dense.mask)


def test_gated_fista_on_a_dask_array_equals_numpy(client):
    X, y = _data()
    Xd = da.from_array(X, chunks=(100_000, -1))
    gates = np.random.default_rng(2).standard_normal((X.shape[1] + 1, 8))
    dense = GatedReLUProblem(X, y, ActivationPatterns.from_gates(X, gates, fit_intercept=True),
                             lam=0.1)
    lazy = GatedReLUProblem(Xd, da.from_array(y, chunks=100_000),
                            ActivationPatterns.from_gates(Xd, gates, fit_intercept=True), lam=0.1)
    assert isinstance(lazy.design, da.Array)
    # a fixed number of identical iterations: same iterates up to the order of the sums
    solver = FISTA()
    states = []
    for problem in (dense, lazy):
        state = solver.init(problem)
        for _ in range(8):
            state = solver.step(state)
        states.append(state)
    ref, got = states
    assert isinstance(got.coef, np.ndarray)  # coefficients on the client, data on the cluster
    assert _rel(got.coef, ref.coef) < 1e-8
    assert abs(got.objective - ref.objective) < 1e-8 * abs(ref.objective)
    assert abs(got.lower_bound - ref.lower_bound) < 1e-8 * abs(ref.lower_bound)
    # the iterates have moved well past the start, so the comparison means something
    assert ref.objective < 0.5 * dense.objective(dense.zeros()) and ref.rel_gap < 0.2
    # the problem's own float64 figures agree too
    assert abs(lazy.objective(ref.coef) - dense.objective(ref.coef)) < 1e-8 * dense.objective(ref.coef)
    assert abs(lazy.dual_bound(ref.coef) - dense.dual_bound(ref.coef)) < 1e-8 * abs(dense.dual_bound(ref.coef))
    np.testing.assert_array_equal(lazy.active_blocks(ref.coef), dense.active_blocks(ref.coef))


def test_dask_data_are_refused_where_unsupported(client):
    X, y = _data(n=1_000)
    Xd = da.from_array(X, chunks=(500, -1))
    patterns = sample_patterns(Xd, 4, random_state=0)
    with pytest.raises(ValueError, match="GatedReLUProblem"):
        ReLUProblem(Xd, y, patterns, lam=0.1)
    with pytest.raises(ValueError, match="mask is chunked like X"):
        GatedReLUProblem(Xd, y, sample_patterns(X, 4, random_state=0), lam=0.1)
    with pytest.raises(ValueError, match="solver='fista'"):
        GatedReLUProblem(Xd, y, patterns, lam=0.1).cvxpy_program()
