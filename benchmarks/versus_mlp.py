"""Convex ReLU estimators versus scikit-learn's MLP on the bundled datasets.

For each dataset and each of ``--splits`` random 75/25 train/test splits, fits
``make_pipeline(StandardScaler(), ConvexReLU*(alpha, n_patterns))`` and
``make_pipeline(StandardScaler(), MLP*(hidden_layer_sizes=(width,), alpha=n_train * alpha,
solver='lbfgs'))`` and prints the test score (R^2 for diabetes, accuracy otherwise) as
mean +- std over splits, the training objective and the fit time.

Comparability:

* Width: the MLP gets ``width = 2 * n_patterns`` hidden units, the most neurons the convex
  ReLU program can produce per output. The convex model's actual neuron count (column "neurons")
  is what its group lasso selects; for one-vs-rest it is summed over classes.
* Regularization: convexnn minimizes ``mean loss + (alpha/2)(||W1||^2 + ||b1||^2 + ||w2||^2)``
  (doc/math.rst). MLP with full-batch L-BFGS minimizes ``mean loss + (alpha_mlp / (2 n)) ||W||^2``
  (its biases unpenalized), so ``alpha_mlp = n_train * alpha`` is the same strength.
* Objective: for diabetes (squared loss, target standardized on the training split for both
  models) and breast_cancer (binary logistic loss) both columns are that objective (MLP's
  ``loss_``), up to MLP's unpenalized biases. For the multiclass sets the convex column is the
  sum of the one-vs-rest logistic objectives and the MLP column its softmax cross-entropy
  objective: different functions, marked with ``*``.
* The regression target is standardized with the training split's mean and std for both models
  (R^2 is unchanged by that affine map).

``--cv`` compares the models as a user who tunes them meets them: ``ConvexReLU*CV`` with its
defaults (alpha chosen by 5-fold CV along the warm-started path from ``alpha_max``) against
``GridSearchCV`` over an L-BFGS MLP of 100 units on the same alpha grid (``alpha_mlp = n_train *
alpha``), both in a ``StandardScaler`` pipeline, on ``--splits`` 75/25 splits. It prints the test
score (mean +- std), the fit time of the whole CV, the refitted convex model's training objective
with its lower bound and gap (certified or estimated), and whether the goal holds: the convex mean
within one MLP standard deviation of the tuned MLP's or above it on every data set, above it on
most. The fits are those of ``benchmarks/cv.py``.

Run ``python benchmarks/versus_mlp.py --help`` for the options; the script prints the command that
produced the table.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn.estimators import ConvexReLUClassifier, ConvexReLURegressor

DATASETS = {
    "diabetes": (load_diabetes, "regression"),
    "breast_cancer": (load_breast_cancer, "binary"),
    "wine": (load_wine, "multiclass"),
    "digits": (load_digits, "multiclass"),
    "iris": (load_iris, "multiclass"),
}


def run_split(name, seed, args):
    loader, kind = DATASETS[name]
    X, y = loader(return_X_y=True)
    stratify = None if kind == "regression" else y
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=stratify
    )
    n_train = X_tr.shape[0]
    if kind == "regression":
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mean) / std, (y_te - mean) / std
        convex = ConvexReLURegressor(
            alpha=args.alpha, n_patterns=args.n_patterns, formulation=args.formulation,
            solver=args.solver, random_state=seed,
        )
        mlp = MLPRegressor(
            hidden_layer_sizes=(2 * args.n_patterns,), alpha=n_train * args.alpha,
            solver="lbfgs", max_iter=args.mlp_max_iter, random_state=seed,
        )
    else:
        convex = ConvexReLUClassifier(
            alpha=args.alpha, n_patterns=args.n_patterns, formulation=args.formulation,
            solver=args.solver, random_state=seed,
        )
        mlp = MLPClassifier(
            hidden_layer_sizes=(2 * args.n_patterns,), alpha=n_train * args.alpha,
            solver="lbfgs", max_iter=args.mlp_max_iter, random_state=seed,
        )
    if args.defaults:  # both as a user meets them: default parameters, seeded
        convex = (ConvexReLURegressor if kind == "regression" else ConvexReLUClassifier)(
            random_state=seed)
        mlp = (MLPRegressor if kind == "regression" else MLPClassifier)(random_state=seed)
    rows = {}
    for label, est in (("convex", convex), ("mlp", mlp)):
        pipe = make_pipeline(StandardScaler(), est)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            pipe.fit(X_tr, y_tr)
        elapsed = time.perf_counter() - start
        model = pipe[-1]
        objective = model.objective_ if label == "convex" else model.loss_
        rows[label] = {
            "score": pipe.score(X_te, y_te),
            "objective": objective,
            "time": elapsed,
            "neurons": (model.n_active_neurons_ if label == "convex"
                        else sum(model.hidden_layer_sizes)),
            # a solver (convex or MLP) that stopped short of its tolerance
            "warned": any(issubclass(w.category, ConvergenceWarning) for w in caught),
            "status": model.solver_status_ if label == "convex" else "-",
            "timings": model.timings_ if label == "convex" else None,
        }
    return kind, rows


def run_cv(args):
    """The ``--cv`` table: tuned convex against tuned MLP (see the module docstring)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cv  # benchmarks/cv.py: the same splits and fits

    warnings.simplefilter("ignore", ConvergenceWarning)
    header = (f"{'dataset':<14}{'model':<12}{'test score':>18}{'fit time (s)':>14}"
              f"{'alpha':>10}{'train objective':>17}{'lower bound':>13}{'gap':>14}")
    print(header)
    print("-" * len(header))
    verdicts = {}
    for name in args.datasets:
        convex, mlp = [], []
        for seed in range(args.splits):
            score, alpha, seconds, model = cv.convex_cv(name, seed, "search", 10)
            best = model.best_estimator_
            convex.append((score, seconds, alpha, best.objective_, best.lower_bound_,
                           best.optimality_gap_, best.certificate_exact_))
            mlp.append(cv.mlp_cv(name, seed, 10, 100))
        c, m = np.array([r[:6] for r in convex], float), np.array(mlp, float)
        kind = "cert." if all(r[6] for r in convex) else "est."
        print(f"{name:<14}{'convex CV':<12}{c[:, 0].mean():>10.4f} ± {c[:, 0].std():.4f}"
              f"{c[:, 1].mean():>14.1f}{np.median(c[:, 2]):>10.3g}{c[:, 3].mean():>17.4f}"
              f"{c[:, 4].mean():>13.4f}{c[:, 5].mean():>9.1e} {kind}")
        print(f"{'':<14}{'MLP grid':<12}{m[:, 0].mean():>10.4f} ± {m[:, 0].std():.4f}"
              f"{m[:, 2].mean():>14.1f}{np.median(m[:, 1]):>10.3g}")
        within = c[:, 0].mean() >= m[:, 0].mean() - m[:, 0].std()
        verdicts[name] = (within, c[:, 0].mean() > m[:, 0].mean())
        print(f"{'':<14}convex - MLP = {c[:, 0].mean() - m[:, 0].mean():+.4f} "
              f"({'within one MLP std or better' if within else 'more than one MLP std below'})")
        sys.stdout.flush()
    every = all(w for w, _ in verdicts.values())
    most = sum(b for _, b in verdicts.values()) > len(verdicts) / 2
    print(f"goal: within one std or better on every data set: {'met' if every else 'NOT met'}; "
          f"better on most ({sum(b for _, b in verdicts.values())}/{len(verdicts)}): "
          f"{'met' if most else 'NOT met'}")
    print("test score: R^2 (diabetes) or accuracy; mean ± std over splits. alpha: median chosen "
          "(MLP: alpha_mlp / n_train). train objective, lower bound, gap: the refitted convex "
          "model's (cert.: every pattern scored; est.: an estimate).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=1e-3)
    parser.add_argument("--n-patterns", type=int, default=20)
    parser.add_argument("--formulation", choices=["relu", "gated"], default="relu")
    parser.add_argument("--solver", default="auto", help="convexnn solver ('auto', 'SCS', ...)")
    parser.add_argument("--mlp-max-iter", type=int, default=2000)
    parser.add_argument("--defaults", action="store_true",
                        help="fit both estimators with their default parameters (ignores --alpha, "
                             "--n-patterns, --formulation, --solver, --mlp-max-iter) and print the "
                             "fit-time ratio and the convex solver's status")
    parser.add_argument("--cv", action="store_true",
                        help="ConvexReLU*CV against GridSearchCV over MLP on the same alpha grid "
                             "(ignores the other model options)")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    print("command: python benchmarks/versus_mlp.py " + " ".join(given))
    if args.cv:
        run_cv(args)
        return
    if args.defaults:
        print("both estimators with their default parameters (random_state = split), "
              f"splits={args.splits}")
    else:
        print(
            f"alpha={args.alpha} (MLP: n_train*alpha, lbfgs), n_patterns={args.n_patterns} "
            f"(MLP width {2 * args.n_patterns}), formulation={args.formulation}, "
            f"solver={args.solver}, splits={args.splits}"
        )
    header = (
        f"{'dataset':<14}{'model':<8}{'test score':>18}{'train objective':>20}"
        f"{'fit time (s)':>16}{'neurons':>9}{'warnings':>10}"
    )
    print(header)
    print("-" * len(header))
    for name in args.datasets:
        results = {"convex": [], "mlp": []}
        for seed in range(args.splits):
            kind, rows = run_split(name, seed, args)
            for label in results:
                results[label].append(rows[label])
        for label, runs in results.items():
            score = np.array([r["score"] for r in runs])
            objective = np.array([r["objective"] for r in runs])
            fit_time = np.array([r["time"] for r in runs])
            neurons = np.mean([r["neurons"] for r in runs])
            warned = sum(r["warned"] for r in runs)
            star = "*" if kind == "multiclass" else " "
            print(
                f"{name:<14}{label:<8}{score.mean():>10.4f} ± {score.std():.4f}"
                f"{objective.mean():>13.4f} ± {objective.std():.3f}{star}"
                f"{fit_time.mean():>9.2f} ± {fit_time.std():.2f}{neurons:>9.1f}"
                f"{warned:>7d}/{len(runs)}"
            )
            sys.stdout.flush()
        ratio = np.mean([r["time"] for r in results["convex"]]) / np.mean(
            [r["time"] for r in results["mlp"]])
        statuses = sorted({r["status"] for r in results["convex"]})
        budget = 3 * np.mean([r["time"] for r in results["mlp"]])
        print(f"{'':<14}fit time convex / mlp = {ratio:.2f}x (target <= 3x, {budget:.2f} s: "
              f"{'met' if ratio <= 3 else 'NOT met'}); convex solver status: {', '.join(statuses)}")
        steps = {key: np.mean([r["timings"][key] for r in results["convex"]])
                 for key in results["convex"][0]["timings"]}
        print(f"{'':<14}convex steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
              + f"; Adam start <= first solve: {'met' if steps['start'] <= steps['solve'] else 'NOT met'}")
    print("test score: R^2 (diabetes) or accuracy; mean ± std over splits.")
    print("* multiclass: convex = sum of one-vs-rest logistic objectives, MLP = softmax objective.")
    print("warnings: splits with a ConvergenceWarning (a solver stopped short of its tolerance).")


if __name__ == "__main__":
    main()
