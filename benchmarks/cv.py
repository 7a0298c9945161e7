"""Cross-validated convex ReLU estimators versus GridSearchCV over scikit-learn's MLP.

For diabetes (regression, R^2) and breast_cancer (binary, accuracy) and each of ``--splits``
random 75/25 train/test splits, fits on the training part

* ``make_pipeline(StandardScaler(), ConvexReLU*CV(random_state=seed))``: the defaults (a grid of
  ``n_alphas`` values from ``alpha_max`` down to ``eps * alpha_max``, 5 folds);
* ``make_pipeline(StandardScaler(), GridSearchCV(MLP*(hidden_layer_sizes=(2 * n_patterns,),
  solver='lbfgs'), {'alpha': n_train * grid}, cv=5))`` over the same grid: the convex model
  penalizes ``(alpha/2)||W||^2`` on the mean loss and full-batch MLP ``(alpha_mlp / 2n)||W||^2``,
  so ``alpha_mlp = n_train * alpha`` is the same strength (MLP leaves its biases unpenalized).
  The grid is the convex estimator's default one on the split's scaled training data, and the
  MLP's width is the most neurons the convex ReLU program can give.

and prints the test score on the held-out quarter (mean +- std over splits), the chosen alpha
(median) and the fit time of the whole CV (mean). The regression target is standardized with the
training split's mean and std for both models (R^2 does not change).

``--routes`` instead compares how each fold's path picks its patterns (see
:mod:`convexnn.model_selection`): 'search' (the default: the pattern search once per fold at the
smallest alpha, then the warm-started path over its patterns), 'sampled' (the path over
``n_patterns`` sampled gates), 'cold' (a default fit at every alpha) and 'warm_refits' (refits
with ``warm_start`` from the largest alpha down), each as the CV estimator's route, on the same
splits.

Timings are wall-clock on whatever machine runs this; the command is printed with the table.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from convexnn.model_selection import ConvexReLUClassifierCV, ConvexReLURegressorCV, alpha_max

DATASETS = {
    "diabetes": (load_diabetes, ConvexReLURegressorCV, MLPRegressor),
    "breast_cancer": (load_breast_cancer, ConvexReLUClassifierCV, MLPClassifier),
    # the other bundled sets, for ``benchmarks/versus_mlp.py --cv``
    "wine": (load_wine, ConvexReLUClassifierCV, MLPClassifier),
    "digits": (load_digits, ConvexReLUClassifierCV, MLPClassifier),
    "iris": (load_iris, ConvexReLUClassifierCV, MLPClassifier),
}
#: the data sets this script runs by default (versus_mlp.py --cv runs them all)
DEFAULT_DATASETS = ["diabetes", "breast_cancer"]


def split(name, seed):
    """Scaled training and test parts of one 75/25 split (scaler and target scale fitted on the
    training part)."""
    loader, cv_class, _ = DATASETS[name]
    X, y = loader(return_X_y=True)
    regression = cv_class is ConvexReLURegressorCV
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=None if regression else y
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    if regression:
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mean) / std, (y_te - mean) / std
    return X_tr, X_te, y_tr, y_te


def convex_cv(name, seed, route, n_alphas):
    _, cv_class, _ = DATASETS[name]
    X_tr, X_te, y_tr, y_te = split(name, seed)
    model = cv_class(random_state=seed, n_alphas=n_alphas)
    model._route = route  # the measured alternatives (private: not a parameter)
    start = time.perf_counter()
    model.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start
    return model.score(X_te, y_te), model.alpha_, seconds, model


def mlp_cv(name, seed, n_alphas, width):
    _, cv_class, mlp_class = DATASETS[name]
    X_tr, X_te, y_tr, y_te = split(name, seed)
    top, _ = alpha_max(cv_class(random_state=seed)._plain_estimator(), X_tr, y_tr)
    grid = top * np.geomspace(1.0, 1e-3, n_alphas)
    n_train = X_tr.shape[0]
    search = GridSearchCV(
        mlp_class(hidden_layer_sizes=(width,), solver="lbfgs", max_iter=1000, random_state=seed),
        {"alpha": n_train * grid}, cv=5,
    )
    start = time.perf_counter()
    search.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start
    return search.score(X_te, y_te), search.best_params_["alpha"] / n_train, seconds


def summary(label, rows):
    scores, alphas, seconds = (np.array(column) for column in zip(*rows))
    print(f"{label:<34} {scores.mean():.3f} +- {scores.std():.3f}   alpha {np.median(alphas):9.3g}"
          f"   {seconds.mean():7.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=int, default=5, help="75/25 train/test splits")
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=list(DATASETS))
    parser.add_argument("--n-alphas", type=int, nargs="+", default=[10],
                        help="grid sizes of the convex CV estimators (one row each)")
    parser.add_argument("--routes", nargs="*", default=None,
                        help="compare fold routes instead of the MLP (no value: all four)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("command: python " + " ".join(sys.argv if argv is None else ["benchmarks/cv.py", *argv]))
    routes = args.routes
    if routes is not None and not routes:
        routes = ["search", "sampled", "cold", "warm_refits"]
    for name in args.datasets:
        print(f"\n{name}: test score (mean +- std over {args.splits} splits of 75/25), median "
              "chosen alpha, mean fit time")
        for route in routes or ["search"]:
            for n_alphas in args.n_alphas:
                rows = [convex_cv(name, seed, route, n_alphas)[:3] for seed in range(args.splits)]
                summary(f"convex CV route={route} n_alphas={n_alphas}", rows)
        if routes is None:
            rows = [mlp_cv(name, seed, 10, 100) for seed in range(args.splits)]
            summary("GridSearchCV(MLP lbfgs, 100 units)", rows)


if __name__ == "__main__":
    main()
