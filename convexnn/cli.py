"""Command line: ``convexnn compare`` and ``convexnn lab`` (also ``python -m convexnn ...``).

``compare`` runs :func:`convexnn.compare.compare` on a bundled data set and prints the table,
preceded by the command that produced it. ``lab <experiment>`` runs one experiment of
:mod:`convexnn.overparam.experiments`, prints its rows and a summary table, and writes its CSV and
PNG.

Help texts are plain text (this docstring is not shown); every option states its default. Bad input
(an unknown solver, a negative count, an option that does not apply to an experiment) exits with
status 2 and a one-line ``usage``-style error, as argparse does for its own checks.
"""

import argparse
import inspect
import math
import re
import sys
import textwrap

__all__ = ["main", "format_summary"]

DESCRIPTION = ("Train ReLU networks by convex optimization: compare the convex solution with "
               "SGD/Adam, or run the over-parameterization lab.")


_WIDTH = 88


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and epilogs (they are wrapped here, by textwrap)."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=_WIDTH)


def _fill(text):
    return textwrap.fill(text, _WIDTH - 2)


class _UsageError(SystemExit):
    """Exit status 2 after an argparse-style error; ``str()`` is the message itself."""

    def __init__(self, message):
        super().__init__(message)
        self.code = 2


def _usage_error(parser, message):
    """Print ``usage`` and ``<prog>: error: message`` to stderr, then exit with status 2."""
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    raise _UsageError(message)


# ---------------------------------------------------------------------------------- argument types
def _integer(minimum):
    """An argparse type: an integer >= ``minimum``."""
    def convert(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value
    return convert


_count = _integer(1)  # counts: >= 1
_seed = _integer(0)  # seeds: >= 0


def _n_jobs(text):
    """An argparse type: joblib's n_jobs, a non-zero integer (-1: all cores)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must be a non-zero integer (-1: all cores), got '0'")
    return value


def _real(strict):
    def convert(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
        if not math.isfinite(value) or (value <= 0 if strict else value < 0):
            raise argparse.ArgumentTypeError(
                f"must be a finite number {'> 0' if strict else '>= 0'}, got {text!r}")
        return value
    return convert


def _widths(text):
    """Comma-separated integers >= 1."""
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers, e.g. 64,256,1024; got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"widths must be >= 1, got {text!r}")
    return widths


def _solver(text):
    """A solver name that :func:`convexnn.solvers.get_solver` accepts (checked before any work)."""
    from .solvers import get_solver

    try:
        get_solver(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


# ---------------------------------------------------------------------------------- parsers
def _parser():
    parser = argparse.ArgumentParser(prog="convexnn", description=_fill(DESCRIPTION),
                                     formatter_class=_HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True,
                                title="commands", help="run 'convexnn <command> --help' for its options")
    _compare_parser(sub)
    _lab_parser(sub)
    return parser


def _reference(text):
    """A cvxpy solver name for the reference row, or 'none' (checked before any work)."""
    if text.lower() == "none":
        return None
    from .solvers import get_solver
    from .solvers.cvxpy_solver import CvxpySolver

    try:
        solver = get_solver(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not isinstance(solver, CvxpySolver):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a native solver; the reference is a cvxpy solver (SCS, CLARABEL, ...) "
            "or 'none'")
    return text


def _compare_parser(sub):
    cmp_ = sub.add_parser(
        "compare",
        help="convex training against Adam on a bundled data set, with certificates",
        formatter_class=_HelpFormatter,
        description="\n\n".join(_fill(text) for text in (
            "Train Adam runs of width N (--n-patterns) and fit ConvexReLURegressor with its default "
            "pattern search ('auto': an Adam start embedded in the convex program, then column "
            "generation; all patterns when they fit the budget), started from the best run; "
            "re-solve the same program (same patterns, same alpha) with a cvxpy solver; and solve "
            "the program over N sampled patterns for contrast. Every fit minimizes the same "
            "objective, mean squared loss / 2 + (alpha/2) ||weights||^2 on the centred target.",
            "The table lists per row the objective, a lower bound on the global optimum and the "
            "relative gap to it at the row's own dual point ('cert.': every activation pattern "
            "was scored; 'est.': an estimate over searched patterns), train and test mean squared "
            "error, neurons and time. The convex route never ends above the run it started from, "
            "which is the best run, so lower bound <= convex objective <= every run's objective; "
            "the command prints whether this held.",
        )),
    )
    cmp_.set_defaults(subparser=cmp_)
    cmp_.add_argument("--dataset", default="diabetes", choices=["diabetes", "teacher"],
                      help="diabetes: scikit-learn's bundled regression set; teacher: 500 samples "
                           "from a random 10-5-1 ReLU network; split 80/20 into train and test "
                           "(default: %(default)s)")
    cmp_.add_argument("--alpha", type=_real(strict=False), default=1e-2, metavar="ALPHA",
                      help="regularization strength (lam) of every fit, >= 0 "
                           "(default: %(default)g)")
    cmp_.add_argument("--n-patterns", type=_count, default=50, metavar="N",
                      help="pattern budget of the convex route, width of the Adam runs and number "
                           "of sampled patterns of the contrast (default: %(default)s)")
    cmp_.add_argument("--formulation", default="relu", choices=["relu", "gated"],
                      help="relu: the exact ReLU program (cone constraints); gated: the gated ReLU "
                           "program (no constraints); the runs train ReLU networks either way "
                           "(default: %(default)s)")
    cmp_.add_argument("--solver", type=_solver, default="auto", metavar="NAME",
                      help="solver of the convex route and the contrast: 'auto' (native, certified: "
                           "the interior point for relu, FISTA for gated), another native solver "
                           "(native, fista, augmented_lagrangian, admm, interior_point) or an "
                           "installed cvxpy solver (SCS, CLARABEL, ...) (default: %(default)s)")
    cmp_.add_argument("--reference", type=_reference, default="SCS", metavar="NAME",
                      help="cvxpy solver that re-solves the route's program, or 'none' "
                           "(default: %(default)s)")
    cmp_.add_argument("--runs", type=_count, default=5, metavar="N",
                      help="number of Adam/SGD runs, seeds SEED, SEED+1, ... "
                           "(default: %(default)s)")
    cmp_.add_argument("--optimizer", default="adam", choices=["adam", "sgd"],
                      help="optimizer of the runs, with the route's Adam schedule (learning rate "
                           "0.01, full batch up to 1024 samples, at most 500 epochs); with sgd "
                           "the route's start is not one of the runs (default: %(default)s)")
    cmp_.add_argument("--seed", type=_seed, default=0,
                      help="seed of the data split, the first run and the sampled patterns "
                           "(default: %(default)s)")
    cmp_.add_argument("--csv", metavar="PATH",
                      help="also write the table to this CSV file (default: no file)")
    cmp_.add_argument("--plot", metavar="FILE",
                      help="also draw Adam's objective against time, with the convex objective "
                           "and the lower bound as lines, to this image file; needs matplotlib "
                           "(default: no plot)")


def _plain(text):
    """reST inline markup of a docstring line as plain text."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


# options of ``lab`` and the experiment parameter each one sets
_LAB_OPTIONS = {"widths": "--widths", "seeds": "--seeds", "n_samples": "--n-samples",
                "depth": "--depth", "parameterization": "--parameterization",
                "parameterizations": "--parameterization"}


def _defaults(run):
    """``--option value`` for each lab option the experiment takes, with its default."""
    shown = []
    for name, param in inspect.signature(run).parameters.items():
        if name not in _LAB_OPTIONS:
            continue
        value = param.default
        if isinstance(value, (tuple, list)):
            value = ",".join(str(v) for v in value)
        shown.append(f"{_LAB_OPTIONS[name]} {value}")
    return " ".join(shown)


def _lab_epilog(experiments):
    lines = ["experiments (what each measures, and its defaults):"]
    for name in sorted(experiments):
        run = experiments[name]
        summary = _plain(run.__doc__.strip().splitlines()[0]) if run.__doc__ else ""
        lines.append(f"  {name}")
        lines.append(textwrap.fill(summary, _WIDTH - 2, initial_indent=" " * 4,
                                   subsequent_indent=" " * 4))
        lines.append(textwrap.fill("defaults: " + _defaults(run), _WIDTH - 2,
                                   initial_indent=" " * 4, subsequent_indent=" " * 6))
    return "\n".join(lines)


def _lab_parser(sub):
    from .overparam.experiments import EXPERIMENTS

    lab = sub.add_parser(
        "lab",
        help="over-parameterization experiments on wide deep ReLU networks",
        formatter_class=_HelpFormatter,
        description=_fill(
            "Run one experiment of convexnn.overparam over widths and seeds, print its rows and a "
            "summary table, and write <experiment>.csv and <experiment>.png to --output-dir. "
            "Options left out take the experiment's own defaults, listed below."),
        epilog=_lab_epilog(EXPERIMENTS),
    )
    lab.set_defaults(subparser=lab)
    per_experiment = "(default: the experiment's, see below)"
    lab.add_argument("experiment", choices=sorted(EXPERIMENTS),
                     help="which experiment to run (see below)")
    lab.add_argument("--widths", type=_widths, metavar="W1,W2,...",
                     help=f"comma-separated widths, e.g. 64,256,1024 {per_experiment}")
    lab.add_argument("--seeds", type=_count, metavar="N",
                     help=f"number of seeds (0..N-1) per width {per_experiment}")
    lab.add_argument("--n-samples", type=_count, metavar="N",
                     help=f"training points on the unit sphere {per_experiment}")
    lab.add_argument("--depth", type=_count, metavar="N",
                     help=f"hidden layers; not for convex_gap {per_experiment}")
    lab.add_argument("--parameterization", choices=["ntk", "standard", "allen_zhu"],
                     help=f"scaling of the initialization and layers; not for convex_gap "
                          f"{per_experiment}")
    lab.add_argument("--output-dir", default=".", metavar="DIR",
                     help="where to write the CSV and PNG (default: the current directory)")
    lab.add_argument("--n-jobs", type=_n_jobs, metavar="N",
                     help="run the independent fits (widths x seeds) in N joblib processes, -1 for "
                          "all cores; results do not depend on it (default: serial)")
    lab.add_argument("--verbose", action="store_true",
                     help="show a progress bar (default: off)")


# ---------------------------------------------------------------------------------- lab
def _value(value, digits=4):
    """One cell of the summary table."""
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v, digits) for v in value)
    if value is None:
        return "-"
    return str(value)


def format_summary(meta, *, digits=4, skip=("curves",)):
    """The derived figures of a lab table (``Table.meta``) as a two-column text table.

    Parameters
    ----------
    meta : dict
        Figure name -> value (number, string, sequence, or a dict of such, shown one row per key
        as ``name[key]``).
    digits : int, default=4
        Significant digits of floats.
    skip : tuple of str, default=('curves',)
        Keys not shown (the curves are plotted, not printed).

    Returns
    -------
    str
    """
    rows = []
    for key, value in meta.items():
        if key in skip:
            continue
        if isinstance(value, dict):
            rows.extend((f"{key}[{k}]", _value(v, digits)) for k, v in value.items())
        else:
            rows.append((key, _value(value, digits)))
    head = ("summary", "value")
    left = max(len(r[0]) for r in [head] + rows)
    right = max(len(r[1]) for r in [head] + rows)
    lines = [f"{head[0].ljust(left)}  {head[1]}", "-" * (left + 2 + right)]
    lines += [f"{name.ljust(left)}  {value}" for name, value in rows]
    return "\n".join(lines)


def _lab(args, shown):
    import pathlib

    from .overparam import plot
    from .overparam.experiments import EXPERIMENTS

    run = EXPERIMENTS[args.experiment]
    given = {
        "widths": args.widths, "seeds": args.seeds, "n_samples": args.n_samples,
        "depth": args.depth, "parameterization": args.parameterization,
    }
    accepted = inspect.signature(run).parameters
    for name, value in given.items():
        if value is None or name in accepted:
            continue
        if name == "parameterization" and "parameterizations" in accepted:
            continue
        takes = sorted({_LAB_OPTIONS[n] for n in accepted if n in _LAB_OPTIONS})
        _usage_error(args.subparser, f"--{name.replace('_', '-')} does not apply to "
                                     f"{args.experiment} (it takes {', '.join(takes)})")
    if args.parameterization is not None and "parameterizations" in accepted:
        given["parameterizations"] = (args.parameterization,)
    kwargs = {k: v for k, v in given.items() if v is not None and k in accepted}
    table = run(**kwargs, verbose=args.verbose, n_jobs=args.n_jobs)
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    print(f"$ convexnn {shown}")
    print(table)
    print()
    print(format_summary(table.meta))
    table.to_csv(out / f"{args.experiment}.csv")
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("wrote the CSV; the PNG needs matplotlib: pip install matplotlib")
    matplotlib.use("Agg")
    plot(table).savefig(out / f"{args.experiment}.png", dpi=120)
    print(f"\nwrote {out / (args.experiment + '.csv')} and {out / (args.experiment + '.png')}")
    return 0


# ---------------------------------------------------------------------------------- main
def main(argv=None):
    """Entry point of the ``convexnn`` console script."""
    args = _parser().parse_args(argv)
    shown = " ".join(sys.argv[1:] if argv is None else argv)
    if args.command == "lab":
        return _lab(args, shown)
    return _compare(args, shown)


def _compare(args, shown):
    """``convexnn compare``: the table of :func:`convexnn.compare.compare` and what it shows."""
    import importlib.util
    import time

    from .compare import compare
    from .datasets import load_dataset

    if args.plot and importlib.util.find_spec("matplotlib") is None:
        _usage_error(args.subparser, "--plot needs matplotlib: pip install matplotlib")
    tic = time.perf_counter()
    data = load_dataset(args.dataset, random_state=args.seed)
    print(f"$ convexnn {shown}")
    print(f"data: {data.description}; train {data.X_train.shape}, test {data.X_test.shape}, "
          "standardized")
    print(f"objective: mean squared loss / 2 + (alpha/2) ||weights||^2, alpha = {args.alpha:g}\n")
    table = compare(
        data.X_train, data.y_train, data.X_test, data.y_test,
        lam=args.alpha, n_patterns=args.n_patterns, formulation=args.formulation,
        solver=args.solver, reference=args.reference, n_runs=args.runs, optimizer=args.optimizer,
        random_state=args.seed,
    )
    print(table)
    print()
    for line in _compare_notes(table, args):
        print(_fill(line))
    if args.csv:
        table.to_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")  # a file, no window
        table.plot(args.plot)
        print(f"wrote {args.plot}")
    print(f"total time {time.perf_counter() - tic:.1f} s")
    return 0


def _compare_notes(table, args):
    """The lines under the comparison table: the route, the reference, the ordering."""
    meta, route = table.meta, table.row("route")
    start = ""
    if meta["start_run"] is not None:
        start = (f"; started from {args.optimizer} run {meta['start_run']} "
                 f"(objective {meta['start_objective']:.6f})")
    restricted = ("" if meta["restricted_gap"] is None else
                  f"; certified gap on its own patterns {meta['restricted_gap']:.1e}")
    yield (f"convex route: ConvexReLURegressor(alpha={args.alpha:g}, n_patterns={args.n_patterns}"
           f"), pattern_search 'auto' -> '{meta['strategy']}', solver '{args.solver}' -> "
           f"{meta['solver']}{start}{restricted}.")
    if meta["reference_agreement"] is not None:
        yield (f"{table.row('reference')['method'].split(',')[0]} agrees with the native solve "
               f"to {meta['reference_agreement']:.1e} (relative objective difference).")
    holds = "yes" if table.ordering_holds() else "NO"
    kind = "certified" if route["gap_certified"] else "estimated"
    yield (f"lower bound ({kind}) <= convex objective <= every {args.optimizer} run: {holds}.")
    yield ("gap: (objective - lower bound) / objective at each row's own dual point; cert.: every "
           "activation pattern scored; est.: an estimate over searched patterns.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
