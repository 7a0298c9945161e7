"""Time scikit-learn's ``check_estimator`` on each estimator with default parameters.

Every check fits tiny data sets (~30 samples), so the run measures what a default fit costs on
small data: the pattern search, the solve and the certificate. The MLP rows are the reference.

    python benchmarks/check_estimator.py
    python benchmarks/check_estimator.py --estimators ConvexReLURegressor MLPRegressor
"""

import argparse
import sys
import time
import warnings

from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.estimator_checks import check_estimator

import convexnn as cn

ESTIMATORS = {
    "ConvexReLURegressor": cn.ConvexReLURegressor,
    "ConvexReLUClassifier": cn.ConvexReLUClassifier,
    "DeepConvexReLURegressor": cn.DeepConvexReLURegressor,
    "DeepConvexReLUClassifier": cn.DeepConvexReLUClassifier,
    "MLPRegressor": MLPRegressor,
    "MLPClassifier": MLPClassifier,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=list(ESTIMATORS))
    parser.add_argument("--target", type=float, default=60.0, help="seconds per estimator")
    args = parser.parse_args(argv)
    print("command: python benchmarks/check_estimator.py " + " ".join(sys.argv[1:] if argv is None else argv))
    for name in args.estimators:
        start = time.perf_counter()
        failures = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                check_estimator(ESTIMATORS[name]())
            except Exception as exc:  # report, keep timing the others
                failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        elapsed = time.perf_counter() - start
        convergence = sum("Convergence" in type(w.message).__name__ for w in caught)
        verdict = "met" if elapsed <= args.target and not failures else "NOT met"
        print(f"{name:26s} {elapsed:7.1f} s  ConvergenceWarnings {convergence:3d}  "
              f"target <= {args.target:g} s: {verdict}" + (f"  FAILED {failures[0]}" if failures else ""),
              flush=True)


if __name__ == "__main__":
    main()
