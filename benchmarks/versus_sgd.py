"""The convex estimators (with their certificates) against Adam and SGD on the same network.

For each data set: the default convex estimator (``pattern_search='auto'``; the row names what it
resolved to) and the other searches of ``--searches`` with the same budget, then Adam and SGD
(momentum 0.9, full batch) on the non-convex network of width ``n_patterns`` from ``--seeds``
initializations and each learning rate of ``--lrs``, trained until the loss stalls (no relative
improvement of 1e-6 in 50 epochs) or ``--epochs``. Printed per method: the training objective
``L_nc`` (doc/math.rst scaling; for the convex rows the convex objective, which equals ``L_nc`` of the
mapped network), the test error (MSE, or the misclassification rate), the certified or estimated
relative gap to the infinite-width optimum for the convex rows, and the fit time.

Data: the planted teacher (``make_teacher``: n samples, d features, 8-neuron ReLU teacher plus
noise), scikit-learn's diabetes set (regression, squared loss) and breast_cancer set (binary
classification, logistic loss, ``ConvexReLUClassifier``), each split 80/20 and standardized
(regression targets too).

Run ``python benchmarks/versus_sgd.py --help`` for the options; the script prints the command
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

from convexnn import ConvexReLUClassifier, ConvexReLURegressor, ReLUNetwork, train
from convexnn.datasets import make_teacher

_DATASETS = ("teacher", "diabetes", "breast_cancer")


def _load(name, args):
    """``(X, y, task)``; classification labels are -1/+1."""
    if name == "teacher":
        X, y = make_teacher(args.n, args.d, n_neurons=8, noise=0.1, random_state=0)
        return X, y, "regression"
    if name == "diabetes":
        return (*load_diabetes(return_X_y=True), "regression")
    X, y = load_breast_cancer(return_X_y=True)
    return X, np.where(y == 1, 1.0, -1.0), "classification"


def _split(X, y, task):
    stratify = y if task == "classification" else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=stratify
    )
    scaler = StandardScaler().fit(X_train)
    if task == "regression":
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _test_error(task, predictions, y_test):
    """Test MSE of the outputs (regression) or misclassification rate of their signs."""
    if task == "regression":
        return float(np.mean((predictions - y_test) ** 2))
    return float(np.mean(np.where(predictions > 0, 1.0, -1.0) != y_test))


def _convex_rows(args, task, X_train, X_test, y_train, y_test):
    estimator = ConvexReLURegressor if task == "regression" else ConvexReLUClassifier
    done = {}
    for search in args.searches:
        model = estimator(
            alpha=args.alpha, n_patterns=args.n_patterns, formulation=args.formulation,
            pattern_search=search, random_state=0,
        )
        resolved = model._strategy(X_train)  # what 'auto' picks for this data and budget
        label = f"auto={resolved}" if search == "auto" else search
        if resolved in done:  # 'auto' resolved to a search of the list: one fit, both names
            done[resolved]["method"] += f" = {label}"
            continue
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        kind = "certified" if model.certificate_exact_ else "estimated"
        outputs = model.predict(X_test) if task == "regression" else model.decision_function(X_test)
        row = {
            "method": f"convex {args.formulation} {label} ({model.patterns_.n_patterns} pat.)",
            "objective": model.objective_,
            "test": _test_error(task, outputs, y_test),
            "gap": f"{model.optimality_gap_:.2e} {kind}",
            "time": elapsed,
            "status": model.solver_status_,
        }
        if model.sgd_objective_ is not None:
            row["note"] = f"its Adam start: L_nc {model.sgd_objective_:.6f}"
        done[resolved] = row
    return list(done.values())


def _sgd_rows(args, task, X_train, X_test, y_train, y_test):
    loss = "squared" if task == "regression" else "logistic"
    for optimizer in ("adam", "sgd"):
        runs = []
        for lr in args.lrs:
            for seed in range(args.seeds):
                network = ReLUNetwork.random(X_train.shape[1], args.n_patterns, random_state=seed)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = train(
                        network, X_train, y_train, lam=args.alpha, loss=loss, optimizer=optimizer,
                        learning_rate=lr, max_epochs=args.epochs, random_state=seed,
                    )
                elapsed = time.perf_counter() - start
                if np.isfinite(result.objective):
                    runs.append((result.objective, lr, result.network, elapsed, result.n_epochs))
        best = min(runs, key=lambda run: run[0])
        yield {
            "method": f"{optimizer} best of {len(runs)} (lr={best[1]:g}, {best[4]} ep.)",
            "objective": best[0],
            "test": _test_error(task, best[2].predict(X_test), y_test),
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
    parser.add_argument("--searches", nargs="+", default=["auto", "column_generation", "sampled"],
                        choices=["auto", "sampled", "enumerated", "column_generation", "sgd"],
                        help="convex rows: pattern_search values")
    parser.add_argument("--datasets", nargs="+", default=list(_DATASETS), choices=_DATASETS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1])
    parser.add_argument("--epochs", type=int, default=2000, help="cap on Adam/SGD epochs")
    args = parser.parse_args(argv)
    print("Command: python benchmarks/versus_sgd.py " + " ".join(sys.argv[1:] if argv is None
                                                               else argv))
    print(f"alpha={args.alpha}, budget {args.n_patterns}, formulation {args.formulation}, "
          f"{args.seeds} seeds x lrs {args.lrs}, at most {args.epochs} epochs")
    header = (f"{'data':13s} {'method':52s} {'objective':>10s} {'test err':>9s} {'gap':>19s} "
              f"{'time [s]':>9s}")
    print(header)
    print("-" * len(header))
    for name in args.datasets:
        X, y, task = _load(name, args)
        parts = _split(X, y, task)
        for row in _convex_rows(args, task, *parts) + list(_sgd_rows(args, task, *parts)):
            print(f"{name:13s} {row['method']:52s} {row['objective']:10.6f} {row['test']:9.4f} "
                  f"{row['gap']:>19s} {row['time']:9.2f}", flush=True)
            notes = []
            if row.get("status", "optimal") != "optimal":
                notes.append(f"solver status {row['status']}")
            if "note" in row:
                notes.append(row["note"])
            if notes:
                print(f"{'':13s}   ({'; '.join(notes)})", flush=True)
    print("objective: L_nc on the training split (convex rows: the convex objective at the "
          "patterns found, equal to L_nc of the mapped network); test err: MSE (regression) or error rate "
          "(classification); gap: relative, to the lower bound on the infinite-width optimum "
          "(certified when all patterns were scored, else estimated); time: per fit (Adam/SGD: "
          "mean per run).")


if __name__ == "__main__":
    main()
