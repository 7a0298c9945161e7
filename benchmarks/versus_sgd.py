"""The convex estimator (with its certificate) against Adam and SGD on the same network.

For each data set: the default ``ConvexReLURegressor`` (``pattern_search='auto'``) and a
sampled-pattern one with the same budget, then Adam and SGD (momentum) on the non-convex network
of width ``n_patterns`` from ``--seeds`` initializations and each learning rate of ``--lrs``,
trained until the loss stalls. Printed per method: training objective ``L_nc`` (MATH.md scaling;
for the convex rows the convex objective, which equals ``L_nc`` of the mapped network), test MSE,
the certified (or estimated) relative gap for the convex rows, and the fit time.

Data: the planted teacher (``make_teacher``: n samples, d features, 8-neuron ReLU teacher plus
noise, standardized) and scikit-learn's diabetes set, both split 80/20 and standardized.

Run ``python benchmarks/versus_sgd.py --help`` for the options; the script prints the command
that produced its table.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLURegressor, ReLUNetwork, train
from convexnn.datasets import make_teacher


def _datasets(args):
    X, y = make_teacher(args.n, args.d, n_neurons=8, noise=0.1, random_state=0)
    yield "teacher", X, y
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes", X, y


def _split(X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(X_train)
    mean, std = y_train.mean(), y_train.std()
    return (scaler.transform(X_train), scaler.transform(X_test), (y_train - mean) / std,
            (y_test - mean) / std)


def _convex_rows(args, X_train, X_test, y_train, y_test):
    for search in ("auto", "sampled"):
        model = ConvexReLURegressor(
            alpha=args.alpha, n_patterns=args.n_patterns, formulation=args.formulation,
            pattern_search=search, random_state=0,
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        kind = "certified" if model.certificate_exact_ else "estimated"
        yield {
            "method": f"convex {args.formulation} ({search}: {model.patterns_.n_patterns} patterns)",
            "objective": model.objective_,
            "test_mse": float(np.mean((model.predict(X_test) - y_test) ** 2)),
            "gap": f"{model.optimality_gap_:.2e} {kind}",
            "time": elapsed,
        }


def _sgd_rows(args, X_train, X_test, y_train, y_test):
    for optimizer in ("adam", "sgd"):
        runs = []
        for lr in args.lrs:
            for seed in range(args.seeds):
                network = ReLUNetwork.random(X_train.shape[1], args.n_patterns, random_state=seed)
                start = time.perf_counter()
                result = train(
                    network, X_train, y_train, lam=args.alpha, optimizer=optimizer,
                    learning_rate=lr, max_epochs=args.epochs, random_state=seed,
                )
                elapsed = time.perf_counter() - start
                if np.isfinite(result.objective):
                    runs.append((result.objective, lr, result.network, elapsed))
        best = min(runs, key=lambda run: run[0])
        yield {
            "method": f"{optimizer} best of {len(runs)} (lr={best[1]:g})",
            "objective": best[0],
            "test_mse": float(np.mean((best[2].predict(X_test) - y_test) ** 2)),
            "gap": "-",
            "time": float(np.mean([run[3] for run in runs])),
        }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="teacher samples")
    parser.add_argument("--d", type=int, default=20, help="teacher features")
    parser.add_argument("--alpha", type=float, default=1e-3)
    parser.add_argument("--n-patterns", type=int, default=200, help="neuron/pattern budget")
    parser.add_argument("--formulation", choices=["relu", "gated"], default="relu")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1])
    parser.add_argument("--epochs", type=int, default=2000)
    args = parser.parse_args(argv)
    print("Command: python benchmarks/versus_sgd.py " + " ".join(sys.argv[1:] if argv is None
                                                               else argv))
    print(f"alpha={args.alpha}, budget {args.n_patterns}, {args.seeds} seeds x lrs {args.lrs}")
    header = f"{'data':9s} {'method':44s} {'objective':>10s} {'test mse':>9s} {'gap':>22s} {'time [s]':>9s}"
    print(header)
    print("-" * len(header))
    for name, X, y in _datasets(args):
        parts = _split(X, y)
        for row in list(_convex_rows(args, *parts)) + list(_sgd_rows(args, *parts)):
            print(f"{name:9s} {row['method']:44s} {row['objective']:10.6f} {row['test_mse']:9.4f} "
                  f"{row['gap']:>22s} {row['time']:9.2f}", flush=True)
    print("objective: L_nc on the training split (convex rows: the convex optimum over the "
          "patterns found, equal to L_nc of the mapped network); time: per fit (SGD: mean per run).")


if __name__ == "__main__":
    main()
