"""Which pattern search gives the lower objective: column generation alone, or 'sgd'?

The measurement behind ``pattern_search='auto'`` of the two-layer estimators. For each setting
(data, budget ``n_patterns``) it fits ``ConvexReLURegressor`` / ``ConvexReLUClassifier`` with
``pattern_search='column_generation'`` (a quarter of the budget sampled, then cutting planes) and
with ``pattern_search='sgd'`` (an Adam network's own patterns, solved from its embedding, then
the same cutting planes), both ``formulation`` (default 'relu'), ``alpha`` 1e-3, ``random_state``
0, and prints the objectives, their ratio (column generation / 'sgd'; above 1: 'sgd' is lower),
the estimated or certified gaps and the fit times.

Data: 1-D ``make_1d``; ``make_teacher`` (8-neuron ReLU teacher) at several sizes, for regression
and, by the sign of the target, binary classification; scikit-learn's diabetes and
breast_cancer, standardized; and the 800-sample training split of n=1000, d=20 teacher data
(the setting of ``benchmarks/versus_sgd.py``; ``--skip-large`` leaves it out, it takes ~10 min).

Run ``python benchmarks/pattern_search.py --help`` for the options; the script prints the command
that produced its table.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.certificates import pattern_count
from convexnn.datasets import make_1d, make_teacher


def _teacher(n, d):
    return make_teacher(n, d, n_neurons=8, noise=0.1, random_state=0)


def _settings(skip_large):
    """``(name, task, X, y, budget)`` for every setting."""
    yield "1-D", "regression", *make_1d(n_samples=60, random_state=0), 30
    yield "1-D", "regression", *make_1d(n_samples=150, random_state=0), 100
    yield "teacher", "regression", *_teacher(12, 2), 40
    for budget in (12, 50):
        yield "teacher", "regression", *_teacher(40, 3), budget
    for budget in (50, 200):
        yield "teacher", "regression", *_teacher(200, 5), budget
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes", "regression", StandardScaler().fit_transform(X), (y - y.mean()) / y.std(), 50
    for (n, d), budget in (((40, 3), 12), ((40, 3), 50), ((200, 5), 50)):
        X, y = _teacher(n, d)
        yield "teacher sign", "classification", X, y > 0, budget
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast_cancer", "classification", StandardScaler().fit_transform(X), y, 30
    if not skip_large:
        X, y = _teacher(1000, 20)
        X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
        X_train = StandardScaler().fit_transform(X_train)
        y_train = (y_train - y_train.mean()) / y_train.std()
        for budget in (40, 100):
            yield "teacher", "regression", X_train, y_train, budget


def _fit(task, search, X, y, budget, args):
    estimator = ConvexReLURegressor if task == "regression" else ConvexReLUClassifier
    model = estimator(alpha=args.alpha, n_patterns=budget, formulation=args.formulation,
                      pattern_search=search, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alpha", type=float, default=1e-3)
    parser.add_argument("--formulation", choices=["relu", "gated"], default="relu")
    parser.add_argument("--skip-large", action="store_true",
                        help="leave out the n=1000, d=20 teacher settings")
    args = parser.parse_args(argv)
    print("Command: python benchmarks/pattern_search.py " + " ".join(sys.argv[1:] if argv is None
                                                                   else argv))
    print(f"alpha={args.alpha}, formulation {args.formulation}; objective (relative gap, c: "
          "certified, e: estimated; fit time)")
    header = (f"{'data':13s} {'task':5s} {'n':>4s} {'d':>2s} {'patterns':>9s} {'budget':>6s}  "
              f"{'column_generation':>30s}  {'sgd':>30s}  {'ratio':>5s}")
    print(header)
    print("-" * len(header))
    for name, task, X, y, budget in _settings(args.skip_large):
        cells = []
        objectives = []
        for search in ("column_generation", "sgd"):
            model, elapsed = _fit(task, search, X, y, budget, args)
            kind = "c" if model.certificate_exact_ else "e"
            objectives.append(model.objective_)
            cells.append(f"{model.objective_:.6f} ({model.optimality_gap_:.1e}{kind}; "
                         f"{elapsed:4.0f} s)")
        count = pattern_count(X, True)
        count = f"{count}" if count < 1e6 else f"{count:.1e}"
        print(f"{name:13s} {task[:5]:5s} {X.shape[0]:4d} {X.shape[1]:2d} {count:>9s} {budget:6d}  "
              f"{cells[0]:>30s}  {cells[1]:>30s}  {objectives[0] / objectives[1]:5.2f}", flush=True)
    print("patterns: count for points in general position (with the intercept); ratio: column "
          "generation's objective over 'sgd''s.")


if __name__ == "__main__":
    main()
