"""The command line of :mod:`convexnn.cli` and ``python -m convexnn`` (:mod:`convexnn.__main__`).

Help and errors go through the real entry point in a subprocess (exit codes, stderr); a tiny
``compare`` run calls :func:`convexnn.cli.main` with ``argv`` and checks what it prints against the
library function it wraps. ``lab`` runs are covered in ``test_overparam.py`` and a ``compare`` run
with ``--csv`` in ``test_compare.py``.
"""

import csv
import os
import re
import subprocess
import sys

import pytest

from convexnn.cli import main

# a tiny compare run: 4 patterns, one SGD run of 3 epochs on the synthetic teacher set
TINY = ["compare", "--dataset", "teacher", "--n-patterns", "4", "--runs", "1", "--epochs", "3",
        "--formulation", "gated", "--optimizer", "sgd", "--alpha", "0.05", "--seed", "1"]


def run_module(*args):
    """``python -m convexnn *args`` with one thread; returns the CompletedProcess."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "convexnn", *args], capture_output=True, text=True,
                          env=env, timeout=120)


# ------------------------------------------------------------------------------ help
def test_module_help_lists_the_subcommands():
    proc = run_module("--help")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("usage: convexnn [-h] {compare,lab} ...")
    assert "convex training against SGD/Adam on a bundled data set" in proc.stdout
    assert "over-parameterization experiments on wide deep ReLU networks" in proc.stdout


def test_compare_help_mentions_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: convexnn compare")
    for option in ("--dataset {diabetes,teacher}", "--alpha", "--n-patterns",
                   "--formulation {relu,gated}", "--solver", "--runs", "--optimizer {adam,sgd}",
                   "--learning-rate", "--epochs", "--batch-size", "--seed", "--csv"):
        assert option in out, option
    assert "regularization strength (lam)" in out and "'auto' (native, certified)" in out


def test_lab_help_lists_the_experiments_and_options(capsys):
    from convexnn.overparam.experiments import EXPERIMENTS

    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: convexnn lab")
    assert "{" + ",".join(sorted(EXPERIMENTS)) + "}" in out
    for option in ("--widths", "--seeds", "--n-samples", "--depth",
                   "--parameterization {ntk,standard,allen_zhu}", "--output-dir", "--verbose"):
        assert option in out, option


# ------------------------------------------------------------------------------ errors
def test_no_subcommand_exits_2_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: convexnn [-h] {compare,lab} ...")
    assert err.rstrip().endswith("convexnn: error: the following arguments are required: command")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit"], r"argument command: invalid choice: 'fit' \(choose from '?compare'?, '?lab'?\)"),
        (["compare", "--bogus", "1"], r"unrecognized arguments: --bogus 1"),
        (["compare", "--dataset", "mnist"], r"argument --dataset: invalid choice: 'mnist'"),
        (["compare", "--formulation", "deep"], r"argument --formulation: invalid choice: 'deep'"),
        (["compare", "--runs", "two"], r"argument --runs: invalid int value: 'two'"),
        (["compare", "--alpha", "small"], r"argument --alpha: invalid float value: 'small'"),
        (["lab"], r"the following arguments are required: experiment"),
        (["lab", "not_an_experiment"], r"argument experiment: invalid choice: 'not_an_experiment'"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: convexnn")
    assert re.search(message, err), err


def test_unknown_solver_exits_nonzero_naming_it_and_the_installed_ones():
    proc = run_module(*TINY, "--solver", "NOT_A_SOLVER")
    assert proc.returncode != 0
    # the last line of stderr is the message (raised as a ValueError from get_solver)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: solver='NOT_A_SOLVER' is not an installed cvxpy solver; "
                           "installed: ")
    assert "CLARABEL" in last
    assert "convex gated" not in proc.stdout  # no table was printed


def test_lab_option_that_does_not_apply_is_refused(tmp_path):
    with pytest.raises(SystemExit, match=r"^convexnn lab convex_gap: --depth does not apply\.$"):
        main(["lab", "convex_gap", "--depth", "3", "--output-dir", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []  # refused before running or writing anything


# ------------------------------------------------------------------------------ a tiny run
def test_tiny_compare_prints_the_header_and_the_library_table(capsys, tmp_path):
    from convexnn.compare import compare
    from convexnn.datasets import load_dataset

    out_csv = tmp_path / "t.csv"
    assert main(TINY + ["--csv", str(out_csv)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "$ convexnn " + " ".join(TINY + ["--csv", str(out_csv)])
    assert lines[1].startswith("data: synthetic: 500 samples from a 10-5-1 ReLU teacher network")
    assert lines[1].endswith("train (400, 10), test (100, 10), standardized")
    assert lines[2] == "objective: mean squared loss / 2 + (alpha/2) ||weights||^2, alpha = 0.05"
    assert lines[4].split() == ["method", "objective", "train", "mse", "test", "mse", "neurons",
                                "time", "[s]"]
    body = lines[6:8]
    assert body[0].startswith("convex gated, 4 patterns") and body[1].startswith("sgd run 0")
    assert lines[-1] == f"wrote {out_csv}"
    with open(out_csv) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == [line.split("  ")[0] for line in body]
    # every option reached the library: the same call gives the same figures
    data = load_dataset("teacher", random_state=1)
    table = compare(data.X_train, data.y_train, data.X_test, data.y_test, lam=0.05,
                    formulation="gated", n_patterns=4, solver="auto", n_runs=1, optimizer="sgd",
                    learning_rate=1e-2, batch_size=32, max_epochs=3, random_state=1)
    assert [r["method"] for r in table.rows] == [r["method"] for r in rows]
    for mine, printed in zip(table.rows, rows):
        for key in ("objective", "train_error", "test_error"):
            assert float(printed[key]) == pytest.approx(mine[key], rel=1e-9), key
        assert int(printed["neurons"]) == mine["neurons"]
    # and the printed objective column is those figures to six decimals
    assert [line.split()[-5] for line in body] == [f"{r['objective']:.6f}" for r in table.rows]
