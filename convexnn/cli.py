"""Command line: ``convexnn compare`` (also ``python -m convexnn compare``).

Runs :func:`convexnn.compare.compare` on a bundled data set and prints the table, preceded by the
command that produced it.
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
    cmp_.add_argument("--solver", default="SCS", help="cvxpy solver name (SCS, CLARABEL, ...)")
    cmp_.add_argument("--runs", type=int, default=5, help="number of SGD/Adam runs")
    cmp_.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    cmp_.add_argument("--learning-rate", type=float, default=1e-2)
    cmp_.add_argument("--epochs", type=int, default=500, help="maximum epochs per run")
    cmp_.add_argument("--batch-size", type=int, default=32)
    cmp_.add_argument("--seed", type=int, default=0)
    cmp_.add_argument("--csv", help="also write the table to this CSV file")
    return parser


def main(argv=None):
    """Entry point of the ``convexnn`` console script."""
    args = _parser().parse_args(argv)
    from .compare import compare
    from .datasets import load_dataset

    data = load_dataset(args.dataset, random_state=args.seed)
    shown = " ".join(sys.argv[1:] if argv is None else argv)
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
