"""Neural feature repopulation: feature sources at equal count, and mixture vs parameter paths.

For each data set (scikit-learn's bundled digits, 10 classes; the planted ReLU teacher as a
regression and as a binary problem, the sign of its standardized output):

1. Two mean-field ReLU populations (``--width`` neurons, seeds 0 and 1) trained by full-batch
   gradient descent with the mean-field step scaling on the regularized objective (logistic loss,
   one-vs-rest, for classification; squared loss for regression).
2. Frozen-feature refit at equal feature count ``k`` (``--k``): the output layer is refitted
   (convex: ridge or one-vs-rest L2 logistic, features standardized, ``--refit-lam``) on
   * ``repopulated``: k learned neurons of population 0 drawn by the repopulation importance weights,
   * ``random (init)``: k neurons of population 0 at initialization,
   * ``tangent (NTK)``: the first-layer tangent features at initialization, projected to k,
   * ``convex ReLU``: the top-k neurons (path norm) of ConvexReLUClassifier / Regressor
     (sampled patterns; on digits 8 patterns and the native solver capped at ``--convex-max-iter``
     iterations, tol 1e-3, so its neurons are approximate; on teacher data 50 patterns solved
     to optimality by Clarabel).
   Reported: test accuracy (classification) or test R^2 (regression).
3. Barrier heights ``max_t (J(t) - chord(t))`` of the regularized training objective between
   the two populations, along the mixture path (union network) and the parameter path
   (straight line in parameters), for the two-level populations and for deep populations
   (``--deep-widths``); the smallest second difference of the mixture curve is printed too.
4. Repopulation error ``||f_k - f|| / ||f||`` on the training inputs against k (multinomial
   draws, importance and uniform weights, mean of 10 repeats) for population 0.

Run ``OMP_NUM_THREADS=1 python benchmarks/repopulation.py`` (a few minutes on one core). The
script prints the command that produced its tables.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from convexnn.datasets import load_dataset
from convexnn.meanfield import (
    DeepPopulation,
    FrozenFeatureModel,
    Population,
    convex_program_features,
    initial_features,
    one_vs_rest,
    path_objective,
    repopulated_features,
    repopulation_error,
    tangent_features,
    train_population,
)


def _datasets():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    yield "digits", "classification", scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te
    ds = load_dataset("teacher")
    yield "teacher", "regression", ds.X_train, ds.X_test, ds.y_train, ds.y_test
    yield ("teacher-sign", "classification", ds.X_train, ds.X_test, (ds.y_train > 0).astype(int),
           (ds.y_test > 0).astype(int))


class _Task:
    """Targets, loss and test metric of one data set."""

    def __init__(self, task, y_train, y_test):
        self.task = task
        if task == "classification":
            self.classes, self.Y = one_vs_rest(y_train)
            self.loss, self.metric = "logistic", "accuracy"
        else:
            self.Y, self.loss, self.metric = y_train[:, None], "squared", "R^2"
        self.y_train, self.y_test = y_train, y_test

    def score(self, outputs):
        if self.task == "classification":
            return float(np.mean(self.classes[outputs.argmax(axis=1)] == self.y_test))
        return float(1.0 - np.mean((outputs[:, 0] - self.y_test) ** 2) / np.var(self.y_test))


def _train(init, X, task, args):
    return train_population(init, X, task.Y, lam=args.lam, loss=task.loss, learning_rate=args.lr,
                            n_epochs=args.epochs, random_state=0).population


def _run(name, kind, X_tr, X_te, y_tr, y_te, args, tables):
    task = _Task(kind, y_tr, y_te)
    d, c = X_tr.shape[1], task.Y.shape[1]
    start = time.perf_counter()
    inits = [Population.random(d, args.width, n_outputs=c, random_state=s) for s in (0, 1)]
    pops = [_train(init, X_tr, task, args) for init in inits]
    t_train = time.perf_counter() - start
    tables["sources"].append((name, "trained population (all neurons)", args.width, task.metric,
                              task.score(pops[0].predict(X_te)), t_train / 2))

    for k in args.k:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the capped convex solve warns that it stopped early
            t0 = time.perf_counter()
            if name == "digits":  # 10 one-vs-rest programs on 1347 x 65: native solver, capped
                options = dict(n_patterns=args.convex_patterns, max_iter=args.convex_max_iter, tol=1e-3)
            else:  # small programs: Clarabel solves them to optimality in seconds
                options = dict(n_patterns=50, solver="CLARABEL", tol=None)
            convex = convex_program_features(X_tr, y_tr, k, task=kind, alpha=args.convex_alpha,
                                             random_state=0, **options)
            t_convex = time.perf_counter() - t0
        sources = {
            "repopulated": repopulated_features(pops[0], X_tr, k, random_state=0),
            "random (init)": initial_features(inits[0], k, random_state=0),
            "tangent (NTK)": tangent_features(inits[0], k, random_state=0),
            "convex ReLU": convex,
        }
        for source, features in sources.items():
            t0 = time.perf_counter()
            model = FrozenFeatureModel(features, lam=args.refit_lam, loss=task.loss).fit(X_tr, task.Y)
            elapsed = time.perf_counter() - t0 + (t_convex if source == "convex ReLU" else 0.0)
            tables["sources"].append((name, source, features.n_features_out, task.metric,
                                      task.score(model.decision_function(X_te)), elapsed))

    deep = [DeepPopulation.random(d, args.deep_widths, n_outputs=c, random_state=s) for s in (0, 1)]
    deep = [_train(init, X_tr, task, args) for init in deep]
    for label, pair in (("two-level", pops), ("deep " + "x".join(map(str, args.deep_widths)), deep)):
        paths = path_objective(pair[0], pair[1], X_tr, task.Y, lam=args.lam, loss=task.loss,
                               n_points=args.n_points)
        mix, par = paths["mixture"], paths["parameter"]
        tables["barriers"].append((name, label, mix.objective[0], mix.objective[-1], mix.barrier, mix.interior_excess,
                                   float(mix.second_differences.min()), par.barrier))

    ks = np.array([8, 32, 128, 512, 2048])
    for weights in ("importance", "uniform"):
        err = repopulation_error(pops[0], X_tr, ks, weights=weights, n_repeats=10, random_state=0)
        tables["repop"].append((name, weights, err.mean))
    tables["repop_k"] = ks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=256, help="neurons per population")
    parser.add_argument("--epochs", type=int, default=800, help="full-batch GD epochs")
    parser.add_argument("--lr", type=float, default=0.2, help="mean-field learning rate")
    parser.add_argument("--lam", type=float, default=1e-3, help="regularization of the populations")
    parser.add_argument("--k", type=int, nargs="+", default=[32, 64], help="feature counts")
    parser.add_argument("--refit-lam", type=float, default=1e-3, help="ridge/logistic strength of the refit")
    parser.add_argument("--convex-alpha", type=float, default=1e-3)
    parser.add_argument("--convex-patterns", type=int, default=8, help="patterns of the digits convex fit")
    parser.add_argument("--convex-max-iter", type=int, default=300, help="solver cap of the digits convex fit")
    parser.add_argument("--deep-widths", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--n-points", type=int, default=21, help="grid points along each path")
    args = parser.parse_args(argv)

    tables = {"sources": [], "barriers": [], "repop": []}
    start = time.perf_counter()
    for data in _datasets():
        _run(*data, args, tables)

    print("command: OMP_NUM_THREADS=1 python benchmarks/repopulation.py " + " ".join(argv or sys.argv[1:]))
    print(f"width {args.width}, {args.epochs} GD epochs at lr {args.lr}, lam {args.lam}; refit lam {args.refit_lam}\n")
    print("Test metric of the frozen-feature refit at equal feature count")
    print(f"{'data':13s} {'features':34s} {'k':>5s} {'metric':>8s} {'value':>8s} {'time s':>7s}")
    for name, source, k, metric, value, elapsed in tables["sources"]:
        print(f"{name:13s} {source:34s} {k:5d} {metric:>8s} {value:8.4f} {elapsed:7.2f}")
    print("\nBarrier heights max_t (J(t) - chord(t)) between two seeds (regularized training objective)")
    print("(mixture: barrier over the whole grid; 'inside': max of J - chord over interior points, < 0 = strictly below)")
    print(f"{'data':13s} {'network':16s} {'J(0)':>9s} {'J(1)':>9s} {'mixture':>10s} {'inside':>10s} "
          f"{'min 2nd diff':>13s} {'parameter':>10s}")
    for name, label, j0, j1, mix, inside, d2, par in tables["barriers"]:
        print(f"{name:13s} {label:16s} {j0:9.5f} {j1:9.5f} {mix:10.2e} {inside:10.2e} {d2:13.2e} {par:10.4f}")
    ks = tables["repop_k"]
    print("\nRepopulation error ||f_k - f|| / ||f|| on the training inputs (multinomial draws, mean of 10)")
    print(f"{'data':13s} {'weights':11s} " + " ".join(f"{'k=' + str(k):>8s}" for k in ks))
    for name, weights, err in tables["repop"]:
        print(f"{name:13s} {weights:11s} " + " ".join(f"{e:8.4f}" for e in err))
    print(f"\ntotal time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
