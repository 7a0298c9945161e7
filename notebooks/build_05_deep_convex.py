"""Write notebooks/05_deep_convex.ipynb, without outputs.

Run ``python notebooks/build_05_deep_convex.py``: the stored notebook is exactly what it writes
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
    md(r"""# Deep ReLU networks by convex programs

A three-layer *parallel* network is a sum of sub-networks $f(x) = \sum_k ((x^\top W_{1k})_+ w_{2k})_+ w_{3k}$.
With the path penalty $\lambda \sum_k \sum_j \|w_{1kj}\|\,|w_{2kj}|\,|w_{3k}|$ (Ergen & Pilanci's path
regularization), training it is again a group lasso with cone constraints, now over *pairs* of
activation patterns: one at the first level, one at the second (doc/math.rst, "Deep networks"). `convexnn.deep`
builds that program (`DeepReLUProblem`), solves it with the same solvers as the two-layer one, and
maps the solution to a `ParallelReLUNetwork` with the same predictions and objective.

This notebook shows two things:

1. On a tiny 1-D problem where every pattern at both levels can be listed, the convex optimum is the
   global optimum: no Adam run on the same network gets below it.
2. On the two spirals, the decision boundaries of the two-layer convex model, the three-layer convex
   model and Adam on the three-layer network."""),
    code("""import warnings

import matplotlib.pyplot as plt
import numpy as np

import convexnn as cn
from convexnn.datasets import make_spirals
from convexnn.deep import DeepReLUProblem, ParallelReLUNetwork, enumerate_nested_patterns

warnings.filterwarnings("ignore", category=cn.ConvergenceWarning)"""),
    md(r"""## 1. Tiny 1-D data: all patterns, the global optimum

Five points with an intercept have 9 first-level patterns and, at the second level, every one of the
$2^5 - 1 = 31$ non-empty subsets is realizable, so the program over all of them is exact. It has
$2 \cdot 9 \cdot 2 \cdot 31 = 1116$ blocks."""),
    code("""X = np.linspace(-1, 1, 5)[:, None]
y = np.array([0.5, -0.3, 0.8, -0.2, 0.4])
lam = 0.01
problem = DeepReLUProblem(X, y, enumerate_nested_patterns(X, depth=3), lam=lam)
result = cn.solve(problem, "auto", tol=1e-6, constraint_tol=1e-8, max_iter=40000)
net = ParallelReLUNetwork.from_convex(problem, result.coef)
print(problem)
print(f"convex optimum {result.objective:.7f}  (certified lower bound {result.lower_bound:.7f})")
print(f"mapped network: {net.n_subnetworks} sub-networks, objective {net.objective(X, y, lam):.7f}")

finals, curves = [], []
for seed in range(8):
    start = ParallelReLUNetwork.random(1, 4, [8], random_state=seed)
    run = cn.train(start, X, y, lam=lam, learning_rate=0.01, max_epochs=2000, n_iter_no_change=200,
                   random_state=seed)
    finals.append(run.objective)
    curves.append(run.loss_curve)
print("Adam, 8 starts:", np.round(sorted(finals), 5))
print(f"best Adam minus convex optimum: {min(finals) - result.objective:.2e}")"""),
    code("""fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for curve in curves:
    axes[0].semilogy(np.array(curve) - result.objective + 1e-6, alpha=0.7)
axes[0].set_xlabel("epoch"); axes[0].set_ylabel("objective - convex optimum (+1e-6)")
axes[0].set_title("Adam on the three-layer network")
grid = np.linspace(-1.2, 1.2, 300)[:, None]
axes[1].plot(grid, net.predict(grid), label="convex optimum (mapped)")
axes[1].scatter(X[:, 0], y, color="k", zorder=3, label="data")
axes[1].legend(); axes[1].set_title("the globally optimal three-layer network")
plt.tight_layout(); plt.show()"""),
    md(r"""No run ends below the convex optimum: the gap printed above is non-negative (up to the solver's
tolerance), and most starts stop well above it in local minima or plateaus.

## 2. The two spirals

Two interleaved spirals (`make_spirals`) are a classic test of depth. All three models use the logistic
loss with the same $\lambda$; the deep convex model samples 12 first-level and 6 second-level patterns
(288 blocks), and Adam trains a parallel network of 8 sub-networks of width 12 with the same path
penalty. Larger budgets and the bundled data sets are in `benchmarks/deep.py`."""),
    code("""Xs, ys = make_spirals(120, turns=1.0, noise=0.03, random_state=0)
lam = 1e-3
two = cn.ConvexReLUClassifier(alpha=lam, n_patterns=24, random_state=0).fit(Xs, ys)
deep = cn.DeepConvexReLUClassifier(alpha=lam, n_patterns=12, n_upper_patterns=6, max_iter=3000,
                                   random_state=0).fit(Xs, ys)
signs = np.where(ys == 1, 1.0, -1.0)
adam = cn.train(ParallelReLUNetwork.random(2, 8, [12], random_state=0), Xs, signs, lam=lam,
                loss="logistic", learning_rate=0.01, max_epochs=1500, random_state=0)
models = {
    f"convex 2-layer (train acc {two.score(Xs, ys):.2f})": two.decision_function,
    f"convex 3-layer (train acc {deep.score(Xs, ys):.2f})": deep.decision_function,
    f"Adam 3-layer (train acc {np.mean((adam.network.predict(Xs) > 0) == (ys == 1)):.2f})":
        adam.network.predict,
}
print(f"three-layer objectives: convex {deep.objective_:.4f}, Adam {adam.objective:.4f}")
u = np.linspace(-1.3, 1.3, 150)
G = np.array(np.meshgrid(u, u)).reshape(2, -1).T
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
for ax, (title, score) in zip(axes, models.items()):
    ax.contourf(u, u, (score(G) > 0).reshape(150, 150), levels=[-0.5, 0.5, 1.5], alpha=0.3,
                colors=["tab:blue", "tab:orange"])
    ax.scatter(Xs[:, 0], Xs[:, 1], c=ys, cmap="coolwarm", s=10)
    ax.set_title(title, fontsize=10); ax.set_xticks([]); ax.set_yticks([])
plt.tight_layout(); plt.show()"""),
    md(r"""The deep convex objective is over *sampled* patterns, so it is an upper bound on the global
optimum of the three-layer problem; on data like this, where the patterns that matter are hard to hit
at random, Adam can end below it. With all patterns (section 1) that cannot happen. Pattern discovery
for the deep program (column generation, as `pattern_search='column_generation'` does for two layers)
is the natural next step."""),
]

PATH = HERE / "05_deep_convex.ipynb"


def notebook():
    """The notebook, without outputs (:func:`_notebook.notebook`)."""
    return _notebook.notebook(cells)


if __name__ == "__main__":
    nbformat.write(notebook(), PATH)
