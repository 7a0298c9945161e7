import numpy as np
import pytest

from convexnn.cli import main
from convexnn.compare import compare
from convexnn.datasets import load_dataset, make_teacher
from convexnn.patterns import enumerate_patterns


def test_compare_rows_are_consistent_and_refit_beats_sgd():
    X, y = make_teacher(n_samples=60, n_features=3, n_neurons=3, random_state=1)
    table = compare(X[:45], y[:45], X[45:], y[45:], lam=1e-2, n_patterns=20, solver="CLARABEL",
                    n_runs=3, max_epochs=150, random_state=0)
    convex = table.rows[0]
    runs = [r for r in table.rows if r["method"].startswith("adam run")]
    refit = table.row("convex over best adam")
    assert len(runs) == 3 and all(r["neurons"] == convex["neurons"] for r in runs)
    # the refit over the best run's own patterns can only improve on that run
    assert refit["objective"] <= min(r["objective"] for r in runs) + 1e-7
    assert all(r["test_error"] is not None and r["test_error"] >= 0 for r in table.rows)
    text = table.to_string()
    assert text.splitlines()[0].startswith("method") and len(text.splitlines()) == 2 + len(table.rows)


def test_compare_with_all_patterns_is_never_beaten(data_1d):
    X, y = data_1d
    table = compare(X, y, lam=1e-3, patterns=enumerate_patterns(X, fit_intercept=True),
                    solver="CLARABEL", n_runs=3, batch_size=None, max_epochs=800, width=20, refit=False)
    optimum = table.rows[0]["objective"]
    assert all(r["objective"] >= optimum * (1 - 1e-5) for r in table.rows[1:])


def test_logistic_compare_reports_error_rates(data_small):
    X, y = data_small
    labels = np.where(y > np.median(y), 1.0, -1.0)
    table = compare(X, labels, lam=1e-2, loss="logistic", n_patterns=10, solver="CLARABEL",
                    n_runs=1, max_epochs=50, refit=False)
    assert table.error_name == "error"
    assert all(0 <= r["train_error"] <= 1 for r in table.rows)


def test_compare_argument_errors(data_small):
    X, y = data_small
    with pytest.raises(ValueError, match="formulation must be one of"):
        compare(X, y, formulation="deep")
    with pytest.raises(ValueError, match="X_test and y_test must be given together"):
        compare(X, y, X_test=X)
    with pytest.raises(ValueError, match="X_test has 2 features but X has 3"):
        compare(X, y, X[:, :2], y)


def test_cli_prints_the_command_and_table(capsys, tmp_path):
    out_csv = tmp_path / "table.csv"
    code = main(["compare", "--dataset", "teacher", "--n-patterns", "10", "--runs", "2",
                 "--epochs", "20", "--solver", "CLARABEL", "--csv", str(out_csv)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("$ convexnn compare --dataset teacher")
    assert "convex relu, " in out and "adam run 1" in out
    rows = out_csv.read_text().strip().splitlines()
    assert rows[0] == "method,objective,train_error,test_error,neurons,time_s" and len(rows) == 5


def test_bundled_datasets_are_standardized():
    data = load_dataset("diabetes")
    assert data.X_train.shape == (353, 10) and data.X_test.shape == (89, 10)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.y_train.std(), 1)
    with pytest.raises(ValueError, match="name must be one of"):
        load_dataset("mnist")
