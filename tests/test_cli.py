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

# a tiny compare run: 4 patterns, one SGD run on the synthetic teacher set, no cvxpy reference
TINY = ["compare", "--dataset", "teacher", "--n-patterns", "4", "--runs", "1", "--reference", "none",
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
    assert "convex training against Adam on a bundled data set, with certificates" in proc.stdout
    assert "over-parameterization experiments on wide deep ReLU networks" in proc.stdout


def test_compare_help_mentions_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: convexnn compare")
    for option in ("--dataset {diabetes,teacher}", "--alpha", "--n-patterns",
                   "--formulation {relu,gated}", "--solver", "--reference", "--runs",
                   "--optimizer {adam,sgd}", "--seed", "--csv", "--plot"):
        assert option in out, option
    for gone in ("--learning-rate", "--epochs", "--batch-size"):  # the runs use the route's schedule
        assert gone not in out, gone
    flat = " ".join(out.split())  # undo the wrapping
    assert "regularization strength (lam)" in flat and "'auto' (native, certified" in flat


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


def test_lab_names_are_the_experiment_functions_names():
    import convexnn.overparam as op
    from convexnn.overparam.experiments import EXPERIMENTS
    from convexnn.overparam.plots import _PLOTS

    assert sorted(EXPERIMENTS) == sorted(_PLOTS)  # every experiment has its figure, by one name
    for name, run in EXPERIMENTS.items():
        assert run.__name__ == name and getattr(op, name) is run  # `convexnn lab f` runs op.f


def _subparsers():
    from convexnn.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return parser, sub.choices


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["lab", "--help"]])
def test_help_is_plain_text(capsys, argv):
    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr().out
    for markup in ("``", ":class:", ":func:", ":mod:", ":meth:", ":data:", "math.rst"):
        assert markup not in out, (markup, out)


@pytest.mark.parametrize("command", ["compare", "lab"])
def test_every_option_is_explained_and_states_its_default(capsys, command):
    _, commands = _subparsers()
    actions = [a for a in commands[command]._actions if a.dest not in ("help", "subparser")]
    assert actions
    for action in actions:
        assert action.help, action.dest
        if action.option_strings:  # every option says what it defaults to
            assert "(default: " in action.help, action.dest
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # undo the wrapping
    assert out.count("(default: ") == len([a for a in actions if a.option_strings])


def test_compare_help_shows_the_default_values(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # undo the wrapping
    for shown in ("(default: diabetes)", "(default: 0.01)", "(default: 50)", "(default: relu)",
                  "(default: auto)", "(default: SCS)", "(default: 5)", "(default: adam)",
                  "(default: 0)", "(default: no file)", "(default: no plot)"):
        assert shown in out, shown


def test_lab_help_lists_each_experiments_defaults(capsys):
    import inspect

    from convexnn.overparam.experiments import EXPERIMENTS

    with pytest.raises(SystemExit):
        main(["lab", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name, run in EXPERIMENTS.items():
        widths = ",".join(map(str, inspect.signature(run).parameters["widths"].default))
        assert f"{name} " in out and f"--widths {widths}" in out, name
    assert "(default: the experiment's, see below)" in out
    assert "defaults: --widths 2,4,8,16,32,64 --seeds 3 --n-samples 20 lazy_training" in out


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


def test_unknown_solver_exits_2_with_a_one_line_error_naming_every_valid_name():
    import cvxpy as cp

    proc = run_module(*TINY, "--solver", "NOT_A_SOLVER")
    assert proc.returncode == 2 and proc.stdout == ""  # refused before any work
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("usage: convexnn compare")
    error = lines[-1]
    assert error.startswith("convexnn compare: error: argument --solver: solver='NOT_A_SOLVER' is "
                            "not an installed cvxpy solver; installed: ")
    for name in ["'auto'", "'native'", "'fista'", "'admm'", "'augmented_lagrangian'",
                 "'interior_point'"] + cp.installed_solvers():
        assert name in error, name
    assert "pip install" not in error


def test_solver_typo_suggests_the_close_name_and_no_package(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(TINY + ["--solver", "CLARABLE"])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Did you mean 'CLARABEL'?" in err and "pip install" not in err


def test_missing_cvxpy_solver_names_its_real_package(capsys):
    import cvxpy as cp

    name, package = next(((n, p) for n, p in [("MOSEK", "mosek"), ("GUROBI", "gurobipy")]
                          if n not in cp.installed_solvers()), (None, None))
    if name is None:
        pytest.skip("MOSEK and GUROBI are both installed here")
    with pytest.raises(SystemExit) as exit_info:
        main(TINY + ["--solver", name])
    assert exit_info.value.code == 2
    assert f"install it with 'pip install {package}'" in capsys.readouterr().err


@pytest.mark.parametrize("solver", ["auto", "fista", "IPM", "clarabel", "SCS"])
def test_valid_solver_names_pass_the_check(solver):
    from convexnn.cli import _parser

    assert _parser().parse_args(["compare", "--solver", solver]).solver == solver


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--runs", "0"], r"argument --runs: must be an integer >= 1, got '0'"),
        (["compare", "--n-patterns", "-3"], r"argument --n-patterns: must be an integer >= 1"),
        (["compare", "--alpha", "-1"], r"argument --alpha: must be a finite number >= 0"),
        (["compare", "--reference", "auto"], r"argument --reference: 'auto' is a native solver"),
        (["compare", "--reference", "NOT_A_SOLVER"], r"argument --reference: solver='NOT_A_SOLVER'"),
        (["compare", "--seed", "-1"], r"argument --seed: must be an integer >= 0"),
        (["lab", "ntk_at_init", "--widths", "4,x"], r"argument --widths: must be comma-separated"),
        (["lab", "ntk_at_init", "--widths", "0,4"], r"argument --widths: widths must be >= 1"),
        (["lab", "ntk_at_init", "--seeds", "0"], r"argument --seeds: must be an integer >= 1"),
        (["lab", "ntk_at_init", "--n-jobs", "0"], r"argument --n-jobs: must be a non-zero integer"),
    ],
)
def test_bad_values_exit_2_before_any_work(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: convexnn")
    assert re.search(message, err.strip().splitlines()[-1]), err


def test_lab_option_that_does_not_apply_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "convex_gap", "--depth", "3", "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: convexnn lab")
    assert err.strip().splitlines()[-1] == ("convexnn lab: error: --depth does not apply to "
                                            "convex_gap (it takes --n-samples, --seeds, --widths)")
    assert list(tmp_path.iterdir()) == []  # refused before running or writing anything


def test_lab_refusal_exits_2_from_the_command_line(tmp_path):
    proc = run_module("lab", "convex_gap", "--parameterization", "ntk", "--output-dir", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "convexnn lab: error: --parameterization does not apply to convex_gap")


# ------------------------------------------------------------------------------ lab summary
def test_format_summary_is_a_two_column_table():
    import numpy as np

    from convexnn.cli import format_summary

    text = format_summary({"depth": 3, "parameterization": "ntk", "error_slope": np.float64(-0.51234567),
                           "widths": (64, 256), "best": {"ntk": [0.1, 0.01]}, "none": None,
                           "curves": {64: [1.0, 0.5]}})
    lines = text.splitlines()
    assert lines[0].split() == ["summary", "value"] and set(lines[1]) == {"-"}
    assert [line.split(None, 1) for line in lines[2:]] == [
        ["depth", "3"], ["parameterization", "ntk"], ["error_slope", "-0.5123"],
        ["widths", "64, 256"], ["best[ntk]", "0.1, 0.01"], ["none", "-"]]
    assert len({line.index(line.split()[1]) for line in lines[2:]}) == 1  # one aligned column
    assert "curves" not in text and "{" not in text


def test_lab_prints_its_summary_as_a_table(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    argv = ["lab", "ntk_at_init", "--widths", "4,8", "--seeds", "1", "--n-samples", "4", "--depth", "1",
            "--output-dir", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "}" not in out  # no raw dict
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.split() == ["summary", "value"]))
    rows = dict(line.split(None, 1) for line in lines[start + 2:start + 6])
    assert rows["depth"] == "1" and rows["parameterization"] == "ntk" and rows["n_samples"] == "4"
    assert float(rows["error_slope"]) < 0


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
    assert lines[4].split() == ["method", "objective", "lower", "bound", "gap", "train", "mse",
                                "test", "mse", "neurons", "time", "[s]"]
    body = lines[6:9]
    assert body[0].startswith("convex, default route (sgd)")
    assert body[1].startswith("convex, 4 sampled patterns") and body[2].startswith("sgd run 0")
    assert lines[-2] == f"wrote {out_csv}" and lines[-1].startswith("total time ")
    with open(out_csv) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == [line.split("  ")[0] for line in body]
    # every option reached the library: the same call gives the same figures
    data = load_dataset("teacher", random_state=1)
    table = compare(data.X_train, data.y_train, data.X_test, data.y_test, lam=0.05,
                    formulation="gated", n_patterns=4, solver="auto", reference=None, n_runs=1,
                    optimizer="sgd", random_state=1)
    assert [r["method"] for r in table.rows] == [r["method"] for r in rows]
    for mine, printed in zip(table.rows, rows):
        for key in ("objective", "lower_bound", "train_error", "test_error"):
            assert float(printed[key]) == pytest.approx(mine[key], rel=1e-9), key
        assert int(printed["neurons"]) == mine["neurons"]
    # and the printed objective column is those figures to six decimals
    assert [line.split()[-8] for line in body] == [
        f"{r['objective']:.6f}" for r in table.rows]
