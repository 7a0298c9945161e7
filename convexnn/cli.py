"""Command line: ``convexnn compare`` and ``convexnn lab`` (also ``python -m convexnn ...``).

``compare`` runs :func:`convexnn.compare.compare` on a bundled data set and prints the table,
preceded by the command that produced it. ``lab <experiment>`` runs one experiment of
:mod:`convexnn.overparam.experiments` and writes its CSV and PNG.
"""

import argparse
import sys

__all__ = ["main"]


def _parser():
    parser = argparse.ArgumentParser(prog="convexnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp_ = sub.add_parser(
        "compare",
        help="convex training against SGD/Adam on a bundled data set",
        description="Solve the convex program, map it to a network, train SGD/Adam runs of the "
        "same width on the same objective, and print a table of objective, errors, neurons, time.",
    )
    cmp_.add_argument("--dataset", default="diabetes", choices=["diabetes", "teacher"])
    cmp_.add_argument("--alpha", type=float, default=1e-2, help="regularization strength (lam)")
    cmp_.add_argument("--n-patterns", type=int, default=100, help="sampled activation patterns")
    cmp_.add_argument("--formulation", default="relu", choices=["relu", "gated"])
    cmp_.add_argument("--solver", default="auto",
                      help="'auto' (native, certified), another native solver or a cvxpy solver name "
                           "(SCS, CLARABEL, ...)")
    cmp_.add_argument("--runs", type=int, default=5, help="number of SGD/Adam runs")
    cmp_.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    cmp_.add_argument("--learning-rate", type=float, default=1e-2)
    cmp_.add_argument("--epochs", type=int, default=500, help="maximum epochs per run")
    cmp_.add_argument("--batch-size", type=int, default=32)
    cmp_.add_argument("--seed", type=int, default=0)
    cmp_.add_argument("--csv", help="also write the table to this CSV file")
    _lab_parser(sub)
    return parser


def _lab_parser(sub):
    from .overparam.experiments import EXPERIMENTS

    lab = sub.add_parser(
        "lab",
        help="over-parameterization experiments on wide deep ReLU networks",
        description="Run one experiment of convexnn.overparam over widths and seeds, print its "
        "table and write <experiment>.csv and <experiment>.png to --output-dir.",
    )
    lab.add_argument("experiment", choices=sorted(EXPERIMENTS))
    lab.add_argument("--widths", help="comma-separated widths, e.g. 64,256,1024")
    lab.add_argument("--seeds", type=int, help="number of seeds")
    lab.add_argument("--n-samples", type=int)
    lab.add_argument("--depth", type=int, help="hidden layers (not for convex_gap)")
    lab.add_argument("--parameterization", choices=["ntk", "standard", "allen_zhu"])
    lab.add_argument("--output-dir", default=".", help="where to write the CSV and PNG")
    lab.add_argument("--verbose", action="store_true", help="show a progress bar")


def _lab(args, shown):
    import inspect
    import pathlib

    from .overparam import plot
    from .overparam.experiments import EXPERIMENTS

    run = EXPERIMENTS[args.experiment]
    given = {
        "widths": None if args.widths is None else [int(w) for w in args.widths.split(",")],
        "seeds": args.seeds, "n_samples": args.n_samples, "depth": args.depth,
        "parameterization": args.parameterization,
    }
    accepted = inspect.signature(run).parameters
    for name, value in given.items():
        if value is not None and name not in accepted:
            raise SystemExit(f"convexnn lab {args.experiment}: --{name.replace('_', '-')} does not apply.")
    if args.parameterization is not None and "parameterizations" in accepted:
        given["parameterizations"] = (args.parameterization,)
    kwargs = {k: v for k, v in given.items() if v is not None and k in accepted}
    table = run(**kwargs, verbose=args.verbose)
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    print(f"$ convexnn {shown}")
    print(table)
    print({k: v for k, v in table.meta.items() if k != "curves"})
    table.to_csv(out / f"{args.experiment}.csv")
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("wrote the CSV; the PNG needs matplotlib: pip install matplotlib")
    matplotlib.use("Agg")
    plot(table).savefig(out / f"{args.experiment}.png", dpi=120)
    print(f"\nwrote {out / (args.experiment + '.csv')} and {out / (args.experiment + '.png')}")
    return 0


def main(argv=None):
    """Entry point of the ``convexnn`` console script."""
    args = _parser().parse_args(argv)
    shown = " ".join(sys.argv[1:] if argv is None else argv)
    if args.command == "lab":
        return _lab(args, shown)
    from .compare import compare
    from .datasets import load_dataset

    data = load_dataset(args.dataset, random_state=args.seed)
    print(f"$ convexnn {shown}")
    print(f"data: {data.description}; train {data.X_train.shape}, test {data.X_test.shape}, "
          "standardized")
    print(f"objective: mean squared loss / 2 + (alpha/2) ||weights||^2, alpha = {args.alpha:g}\n")
    table = compare(
        data.X_train, data.y_train, data.X_test, data.y_test,
        lam=args.alpha, formulation=args.formulation, n_patterns=args.n_patterns,
        solver=args.solver, n_runs=args.runs, optimizer=args.optimizer,
        learning_rate=args.learning_rate, batch_size=args.batch_size, max_epochs=args.epochs,
        random_state=args.seed,
    )
    print(table)
    if args.csv:
        table.to_csv(args.csv)
        print(f"\nwrote {args.csv}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
