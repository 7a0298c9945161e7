"""Write notebooks/02_sklearn_workflow.ipynb, without outputs.

Run ``python notebooks/build_02_sklearn_workflow.py``: the stored notebook is exactly what it writes
(tests/test_notebooks.py checks that), and the documentation build (doc/) executes it.
"""

import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
import _notebook  # noqa: E402  (the generators' shared helpers, beside them)

md, code = _notebook.md, _notebook.code

cells = [
    md(r"""# convexnn in a scikit-learn workflow

`ConvexReLURegressor` and `ConvexReLUClassifier` are scikit-learn estimators: they go in pipelines,
cross-validation and grid searches, and their fitted attributes are named like those of
`MLPRegressor` (`coefs_`, `intercepts_`, `n_iter_`). With the default parameters a `fit` does three
things:

1. **Find activation patterns** (`pattern_search='auto'`). When every pattern of the training data
   fits the budget `n_patterns`, all of them are listed and the convex program *is* the training
   problem. Otherwise, the usual case, a two-layer ReLU network of width `n_patterns` is trained
   with Adam (seeded by `random_state`) and embedded in the convex program over its own patterns;
   column generation then adds the patterns whose dual constraint is most violated, while the
   budget lasts.
2. **Solve the convex program** (`solver='auto'`): the cone-constrained ReLU program goes to the
   package's primal-dual interior-point method, which stops at a certified relative duality gap
   `tol` (1e-4 by default). The gated program (`formulation='gated'`) goes to FISTA, and a program
   whose Newton system would not fit in memory to the augmented Lagrangian.
3. **Map the solution to network weights** with the same predictions and the same objective.

The same `random_state` gives the same model. The estimators do not standardize `X` themselves:
put a `StandardScaler` in front, as you would for `MLPRegressor`. A regressor does standardize its
target (centred, divided by its standard deviation) before solving and scales the network back, so
`alpha` is relative to the target's spread and predictions come in the target's own units."""),
    code("""import pathlib
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.persistence import load

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)"""),
    md(r"""## A pipeline

`n_patterns` is the pattern budget. Each pattern carries at most two neurons (one with a positive
and one with a negative output weight), so the network has at most `2 * n_patterns` neurons; the
ones whose block of the solution is zero are dropped."""),
    code("""model = make_pipeline(StandardScaler(), ConvexReLURegressor(alpha=1e-2, n_patterns=10, random_state=0))
model.fit(X_train, y_train)
reg = model[-1]
print(f"test R^2 = {model.score(X_test, y_test):.3f}")
print(f"{reg.patterns_.n_patterns} patterns, {reg.n_active_neurons_} neurons; "
      f"coefs_ shapes {[w.shape for w in reg.coefs_]}")
print(f"objective {reg.objective_:.4f}; the Adam network it started from: {reg.sgd_objective_:.4f}")
print(f"status {reg.solver_status_!r} after {reg.n_iter_} Newton steps; "
      f"restricted gap {reg.restricted_gap_:.1e}")
print(f"gap to the optimum over all patterns: {reg.optimality_gap_:.3f} "
      f"({'certified' if reg.certificate_exact_ else 'an estimate'})")"""),
    md(r"""What those numbers mean:

- `objective_` is the convex objective at the solution, equal to the weight-decay objective of the
  fitted network on the standardized training target. It is never above `sgd_objective_`, the
  objective of the Adam network the search started from: the solve starts from that network's
  embedding and keeps it when it cannot improve on it.
- `restricted_gap_` is the certified relative duality gap of the program over the patterns the fit
  used (`patterns_`): status `'optimal'` means it is at most `tol`. It says the solver finished.
- `optimality_gap_` compares the objective with a lower bound on the optimum over *all* patterns,
  the global optimum of the non-convex training problem for this `alpha`; it also counts the
  patterns the search did not find. It is certified only when `certificate_exact_` is true, that is
  when every pattern of the training data could be scored. On these ten features they are far too
  many to list, so it is an estimate from a search around the fitted neurons, and the true gap can
  be larger."""),
    md(r"""Cross-validation works as for any estimator, and the same `random_state` gives the same model:"""),
    code("""scores = cross_val_score(model, X_train, y_train, cv=3)
print("3-fold R^2:", np.round(scores, 3))
again = make_pipeline(StandardScaler(), ConvexReLURegressor(alpha=1e-2, n_patterns=10, random_state=0))
again.fit(X_train, y_train)
print("refit identical:", np.array_equal(again.predict(X_test), model.predict(X_test)))"""),
    md(r"""## Grid search over `alpha`

`alpha` is the `lam` of the convex program: mean loss plus `alpha` times the group norm, which is
weight decay `alpha / 2` on every weight of the network (the math page of the documentation), on
the standardized target."""),
    code("""search = GridSearchCV(model, {"convexreluregressor__alpha": [1e-3, 1e-2, 1e-1]}, cv=3)
search.fit(X_train, y_train)
for alpha, score in zip(search.cv_results_["param_convexreluregressor__alpha"],
                        search.cv_results_["mean_test_score"]):
    print(f"alpha={alpha:<6g} mean CV R^2 = {score:.3f}")
print("best:", search.best_params_, f"test R^2 = {search.score(X_test, y_test):.3f}")"""),
    md(r"""## The regularization path

`regularization_path` solves one program per output over *one* set of patterns for every value of
`alpha`: all patterns when they fit the budget, else `n_patterns` Gaussian gates (the Adam start and
column generation depend on `alpha`, so the path does not use them). The values are solved in the
order given, each from the previous solution, so a decreasing sequence suits it. A large enough
`alpha` zeroes every group: no neuron, and the model predicts the training mean. As `alpha`
decreases, neurons switch on."""),
    code("""scaler = StandardScaler().fit(X_train)
alphas = np.logspace(0, -3, 10)
path = ConvexReLURegressor(n_patterns=10, random_state=0).regularization_path(
    scaler.transform(X_train), y_train, alphas)
test_r2 = [est.score(scaler.transform(X_test), y_test) for est in path.estimators]

fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
ax[0].semilogx(path.alphas, path.objective, "o-", label="training objective")
ax[0].semilogx(path.alphas, test_r2, "s--", label="test $R^2$")
ax[0].set_xlabel("alpha"); ax[0].legend()
ax[1].semilogx(path.alphas, path.n_active_neurons, "o-")
ax[1].set_xlabel("alpha"); ax[1].set_ylabel("active neurons")
fig.tight_layout()
print("solver status:", sorted(set(path.solver_status)))
print("(alpha, active neurons):", [(float(f"{a:.3g}"), int(k)) for a, k in zip(path.alphas, path.n_active_neurons)])"""),
    md(r"""## Classification

Two classes: the logistic loss on the labels mapped to ±1. More classes: one program per class
(one-vs-rest) over one shared set of patterns, the Adam budget split among the classes;
`predict_proba` normalizes the classes' sigmoids. String labels are fine."""),
    code("""Xi, yi = load_iris(return_X_y=True)
names = np.array(["setosa", "versicolor", "virginica"])[yi]
clf = make_pipeline(StandardScaler(), ConvexReLUClassifier(alpha=1e-2, n_patterns=8, random_state=0))
print("3-fold accuracy:", cross_val_score(clf, Xi, names, cv=3).round(3))
clf.fit(Xi, names)
print("status:", clf[-1].solver_status_)
print(clf.predict(Xi[[0, 60, 120]]))
print(clf.predict_proba(Xi[[0, 60, 120]]).round(3))"""),
    md(r"""## Saving and loading

`save` writes plain arrays and JSON metadata (with the convexnn version and a SHA-256 digest) into
one `.npz` file; `load` reads it with `allow_pickle=False`, so opening a model file from someone
else cannot run code (a pickle can). A truncated or modified file fails its integrity check with an
error that says so, and the loaded model predicts bit for bit what the saved one did."""),
    code("""with tempfile.TemporaryDirectory() as tmp:
    path_npz = pathlib.Path(tmp) / "diabetes_model.npz"
    reg.save(path_npz)
    loaded = load(path_npz)
    X_scaled = model[0].transform(X_test)
    print(loaded)
    print("bit-for-bit identical predictions:",
          np.array_equal(loaded.predict(X_scaled), reg.predict(X_scaled)))

    path_npz.write_bytes(path_npz.read_bytes()[:-100])   # simulate a truncated download
    try:
        load(path_npz)
    except ValueError as err:
        print("truncated file:", str(err).replace(str(path_npz), path_npz.name))"""),
    md(r"""The fitted network itself is available as plain weights, e.g. to export it or to compare it
with SGD training (`to_torch()` gives a PyTorch module when PyTorch is installed):"""),
    code("""net = reg.to_network()
print(net, "- output bias", reg.intercepts_[1])
print("same predictions:", np.allclose(net.predict(X_scaled) + reg.intercepts_[1][0], reg.predict(X_scaled)))"""),
]

PATH = HERE / "02_sklearn_workflow.ipynb"


def notebook():
    """The notebook, without outputs (:func:`_notebook.notebook`)."""
    return _notebook.notebook(cells)


if __name__ == "__main__":
    nbformat.write(notebook(), PATH)
