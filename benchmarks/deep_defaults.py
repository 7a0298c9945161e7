"""The deep estimators with default parameters on scikit-learn's bundled data sets.

Fits ``DeepConvexReLURegressor`` (diabetes) and ``DeepConvexReLUClassifier`` (iris, wine,
breast_cancer; digits with ``--datasets digits``, about 20 minutes: ten one-vs-rest programs of
3.5e10 flops a Newton step) on the whole standardized data, all defaults but ``random_state=0`` (depth 3,
n_patterns=10, n_upper_patterns=5, solver='auto'), and prints per fit: the time, the solver's
status, the certified relative gap (``optimality_gap_``), the iterations and whether a
ConvergenceWarning was raised. ``--solver`` fits with another solver (e.g.
``augmented_lagrangian``, the 'auto' pick for nested programs before the interior-point method
took them).

    python benchmarks/deep_defaults.py [--solver NAME] [--datasets diabetes iris ...]

The script prints the command that produced its table.
"""

import argparse
import sys
import time
import warnings

from sklearn import datasets
from sklearn.preprocessing import StandardScaler

from convexnn.deep.estimators import DeepConvexReLUClassifier, DeepConvexReLURegressor
from convexnn.results import ConvergenceWarning

LOADERS = {
    "diabetes": datasets.load_diabetes,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,  # not in the default list: about 20 minutes on one core
}
DEFAULT = ["diabetes", "iris", "wine", "breast_cancer"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solver", default="auto")
    parser.add_argument("--datasets", nargs="+", default=DEFAULT, choices=list(LOADERS))
    args = parser.parse_args(argv)
    print("command: python benchmarks/deep_defaults.py " + " ".join(argv or sys.argv[1:]))
    print(f"{'data':<14} {'shape':<10} {'time':>8} {'status':<16} {'rel gap':>9} {'iters':>6} "
          "warning")
    for name in args.datasets:
        X, y = LOADERS[name](return_X_y=True)
        X = StandardScaler().fit_transform(X)
        cls = DeepConvexReLURegressor if name == "diabetes" else DeepConvexReLUClassifier
        model = cls(random_state=0, solver=args.solver)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X, y)
        elapsed = time.perf_counter() - start
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        gap = model.optimality_gap_
        gap_text = "n/a" if gap is None else f"{gap:.2e}"
        print(f"{name:<14} {str(X.shape):<10} {elapsed:>7.1f}s {model.solver_status_:<16} "
              f"{gap_text:>9} {model.n_iter_!s:>6} {'yes' if warned else 'no'}", flush=True)


if __name__ == "__main__":
    main()
