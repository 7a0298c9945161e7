"""Two-layer convex, three-layer convex and Adam on the same three-layer network.

For each data set (the two spirals, and scikit-learn's bundled breast cancer and wine data as
binary problems), split 75/25 and standardized:

* ``ConvexReLUClassifier`` (two layers, all defaults but ``alpha`` and ``n_patterns``);
* ``DeepConvexReLUClassifier`` (three layers, ``n_patterns`` x ``n_upper_patterns``);
* ``DeepConvexReLUClassifier(pattern_search='sgd')``: the program over the patterns of its own
  Adam-trained network (``--sgd-subnetworks`` x ``--sgd-width``), started from its embedding;
* Adam on a ``ParallelReLUNetwork`` with the deep model's shape (``--subnetworks`` sub-networks of
  ``--width`` units) and the same path-regularized logistic objective, from ``--seeds`` starts.

Printed per method: the training objective (for the two convex rows their own convex objective,
which the mapped network attains; the two-layer objective is a different problem, shown for
scale), test accuracy and fit time. The three-layer convex objective is over sampled patterns:
an upper bound on the global optimum, which Adam can beat when the patterns miss its own.

Run ``python benchmarks/deep.py --help`` for the options; the script prints the command that
produced its table.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLUClassifier, DeepConvexReLUClassifier, train
from convexnn.datasets import make_spirals
from convexnn.deep import ParallelReLUNetwork


def _datasets(args):
    yield "spirals", *make_spirals(args.n, random_state=0)
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast_cancer", X, y
    X, y = load_wine(return_X_y=True)
    yield "wine (class 0 vs rest)", X, (y == 0).astype(int)


def _quiet_fit(model, X, y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return time.perf_counter() - start


def _rows(args, X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    two = ConvexReLUClassifier(alpha=args.alpha, n_patterns=args.n_patterns, random_state=0)
    elapsed = _quiet_fit(two, X_train, y_train)
    yield "convex 2-layer", two.objective_, two.score(X_test, y_test), elapsed, two.solver_status_
    deep = DeepConvexReLUClassifier(alpha=args.alpha, n_patterns=args.n_patterns,
                                    n_upper_patterns=args.n_upper_patterns,
                                    max_iter=args.max_iter, random_state=0)
    elapsed = _quiet_fit(deep, X_train, y_train)
    yield "convex 3-layer", deep.objective_, deep.score(X_test, y_test), elapsed, deep.solver_status_
    seeded = DeepConvexReLUClassifier(alpha=args.alpha, n_patterns=args.sgd_width,
                                      n_upper_patterns=args.sgd_subnetworks, pattern_search="sgd",
                                      max_iter=args.max_iter, random_state=0)
    elapsed = _quiet_fit(seeded, X_train, y_train)
    yield ("convex 3-layer (sgd)", seeded.objective_, seeded.score(X_test, y_test), elapsed,
           f"{seeded.solver_status_}, patterns {seeded.patterns_.sizes}")
    signs = np.where(y_train == 1, 1.0, -1.0)
    runs = []
    for seed in range(args.seeds):
        start = ParallelReLUNetwork.random(X.shape[1], args.subnetworks, [args.width],
                                           random_state=seed)
        t0 = time.perf_counter()
        result = train(start, X_train, signs, lam=args.alpha, loss="logistic",
                       learning_rate=args.lr, max_epochs=args.epochs, n_iter_no_change=100,
                       random_state=seed)
        runs.append((result.objective, result.network, time.perf_counter() - t0))
    objective, net, elapsed = min(runs, key=lambda r: r[0])
    accuracy = np.mean((net.predict(X_test) > 0) == (y_test == 1))
    yield (f"Adam 3-layer (best of {args.seeds})", objective, accuracy, elapsed,
           f"{sum(r[2] for r in runs):.1f} s all runs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="spiral samples")
    parser.add_argument("--alpha", type=float, default=1e-3)
    parser.add_argument("--n-patterns", type=int, default=20)
    parser.add_argument("--n-upper-patterns", type=int, default=8)
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--sgd-subnetworks", type=int, default=8)
    parser.add_argument("--sgd-width", type=int, default=8)
    parser.add_argument("--subnetworks", type=int, default=16)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=2000)
    args = parser.parse_args(argv)
    print("command: python benchmarks/deep.py " + " ".join(sys.argv[1:] if argv is None else argv))
    header = f"{'data set':<24}{'method':<28}{'train objective':>16}{'test acc':>10}{'time (s)':>10}  note"
    print(header)
    print("-" * len(header))
    for name, X, y in _datasets(args):
        for method, objective, accuracy, elapsed, note in _rows(args, X, y):
            print(f"{name:<24}{method:<28}{objective:>16.5f}{accuracy:>10.3f}{elapsed:>10.1f}  {note}")


if __name__ == "__main__":
    main()
