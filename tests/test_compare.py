"""The main job (:mod:`convexnn.compare` and ``convexnn compare``): the rows' ordering, the cvxpy
reference against the native solve, the route's Adam start among the runs, and the plot."""

import csv

import numpy as np
import pytest

from convexnn.cli import main
from convexnn.compare import REFERENCE_TOL, compare
from convexnn.datasets import load_dataset, make_1d


@pytest.fixture(scope="module")
def table_1d():
    """1-D data: 2n = 60 patterns, more than the budget of 8 (so 'auto' is the Adam start) but
    few enough for every certificate to be exact."""
    X, y = make_1d(n_samples=30, noise=0.2, random_state=3)
    return compare(X[:24], y[:24], X[24:], y[24:], lam=1e-2, n_patterns=8, n_runs=3,
                   reference="SCS", random_state=0)


def test_rows_obey_lower_bound_le_convex_le_every_run(table_1d):
    route, runs = table_1d.row("route"), table_1d.runs()
    assert table_1d.meta["strategy"] == "sgd" and len(runs) == 3
    assert all(r["neurons"] <= 8 for r in runs)  # the runs have the route's width
    assert route["gap_certified"]  # every pattern scored: the bound is a theorem here
    assert route["lower_bound"] <= route["objective"] * (1 + 1e-9)
    for run in runs:
        assert route["objective"] <= run["objective"] * (1 + 1e-9), run["method"]
    # a certified bound is below the objective of every network, whatever produced it
    assert all(route["lower_bound"] <= r["objective"] * (1 + 1e-9) for r in table_1d.rows)
    assert table_1d.ordering_holds()
    # the route started from the best run: that very run, not a look-alike
    start = table_1d.meta["start_run"]
    assert start == int(np.argmin([r["objective"] for r in runs]))
    assert table_1d.meta["start_objective"] == pytest.approx(runs[start]["objective"], rel=1e-12)
    assert "the route's start" in runs[start]["method"]


def test_cvxpy_reference_agrees_with_the_native_solve(table_1d):
    route, reference = table_1d.row("route"), table_1d.row("reference")
    assert reference["method"].startswith("cvxpy-SCS")
    # the native solve certifies a 1e-4 relative gap; SCS stops at REFERENCE_TOL
    tolerance = (1e-4 + REFERENCE_TOL) * route["objective"]
    assert abs(reference["objective"] - route["objective"]) <= tolerance
    assert table_1d.meta["reference_agreement"] <= 1e-4 + REFERENCE_TOL
    assert reference["train_error"] == pytest.approx(route["train_error"], rel=1e-2)
    # the sampled contrast solves a smaller program: never below the certified bound
    assert table_1d.row("sampled")["objective"] >= route["lower_bound"] * (1 - 1e-9)


def test_run_curves_are_timed_epoch_by_epoch(table_1d):
    for (seconds, values), run in zip(table_1d.curves, table_1d.runs()):
        assert seconds.shape == values.shape and values.size >= 2
        assert np.all(np.diff(seconds) >= 0) and seconds[-1] <= run["time_s"]
        assert values.min() == pytest.approx(run["objective"], rel=1e-12)  # the best epoch is kept


def test_cli_table_csv_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out_csv, out_png = tmp_path / "table.csv", tmp_path / "adam.png"
    argv = ["compare", "--dataset", "teacher", "--n-patterns", "6", "--runs", "2",
            "--alpha", "0.05", "--csv", str(out_csv), "--plot", str(out_png)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("$ convexnn " + " ".join(argv))
    out = " ".join(out.split())  # undo the wrapping of the notes
    assert "pattern_search 'auto' -> 'sgd'" in out and "agrees with the native solve" in out
    assert "<= convex objective <= every adam run: yes." in out
    with open(out_csv) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["kind"] for r in rows] == ["route", "reference", "sampled", "run", "run"]
    route = rows[0]
    assert float(route["lower_bound"]) <= float(route["objective"])
    assert all(float(route["objective"]) <= float(r["objective"]) for r in rows[3:])
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_argument_errors(data_small):
    X, y = data_small
    with pytest.raises(ValueError, match="formulation must be 'relu' or 'gated'"):
        compare(X, y, formulation="deep")
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        compare(X, y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="X_test and y_test must be given together"):
        compare(X, y, X_test=X)
    with pytest.raises(ValueError, match="X_test has 2 features but X has 3"):
        compare(X, y, X[:, :2], y)


def test_bundled_datasets_are_standardized():
    data = load_dataset("diabetes")
    assert data.X_train.shape == (353, 10) and data.X_test.shape == (89, 10)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.y_train.std(), 1)
    with pytest.raises(ValueError, match="name must be one of"):
        load_dataset("mnist")
