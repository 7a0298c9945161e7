"""Write notebooks/06_feature_repopulation.ipynb, without outputs.

Run ``python notebooks/build_06_feature_repopulation.py``: the stored notebook is exactly what it writes
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
    md(r"""# Neural feature repopulation: the view in which wide networks are convex

Fang, Dong & Zhang (arXiv 1910.11508) and the seed paper (Fang, Gu, Zhang & Zhang, *Convex Formulation of
Overparameterized Deep Neural Networks*) write a wide network as a **population of features** with importance
weights. For a two-level network with neurons $(u_j, \theta_j)$ of masses $q_j$ (equal: $1/m$),

$$f(x) = \sum_j q_j\, u_j\, h(\theta_j, x), \qquad
J(\rho) = \frac1n \sum_k \ell(f(x_k), y_k) + \frac{\lambda}{2}\, \mathbb{E}_\rho\big[\|u\|^2 + \|\theta\|^2\big].$$

Both $f$ and the regularizer are *linear in the population* $\rho = \sum_j q_j \delta_{(u_j,\theta_j)}$, so $J$ is
convex in $\rho$. `convexnn.meanfield` makes this concrete: populations trained by mean-field gradient descent, the
repopulation that changes the feature distribution without changing $f$, the convexity of $J$ measured along
mixtures of two trained populations (and its absence along straight lines in parameter space), and a convex refit of
the output layer on four kinds of frozen features. The papers' derivations were not available to us; the module
docstrings state what is implemented (the deep regularizer in particular)."""),
    code("""import numpy as np
import matplotlib.pyplot as plt

from convexnn.datasets import load_dataset, make_teacher
from convexnn import meanfield as mf"""),
    md(r"""## 1. A population before and after training

Two-dimensional inputs from a ReLU teacher, so that each neuron's direction $w_j/\|w_j\|$ is an angle. A population
of $m = 300$ ReLU neurons is trained by gradient descent with the mean-field step scaling (each particle moves along
its own gradient divided by its mass). Each dot is a neuron: angle of $w_j$ against its importance $u_j$; the size
is the repopulation importance weight $p_j \propto \|u_j\|\,\mathrm{std}_k\, h(\theta_j, x_k)$."""),
    code("""X, y = make_teacher(n_samples=200, n_features=2, n_neurons=3, noise=0.05, random_state=1)
lam = 1e-3
init = mf.Population.random(2, 300, random_state=0)
run = mf.train_population(init, X, y, lam=lam, learning_rate=0.5, n_epochs=1500, random_state=0)
pop = run.population
print(f"objective J: {run.objective[0]:.4f} at initialization, {run.objective[-1]:.4f} after training")

fig, ax = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for a, p, title in ((ax[0], init, "initialization"), (ax[1], pop, "after mean-field GD")):
    angle = np.arctan2(p.theta[:, 1], p.theta[:, 0])
    size = 3000 * mf.importance_weights(p, X)
    a.scatter(angle, p.u[:, 0], s=size + 2, c=np.sign(p.u[:, 0]), cmap="coolwarm", alpha=0.6)
    a.set_title(title); a.set_xlabel("direction of w_j (radians)")
ax[0].set_ylabel("importance u_j")
plt.show()"""),
    md(r"""Training concentrates the population: the important neurons (large dots) gather around a few directions, the
features the teacher uses. Repopulation resamples $k$ neurons from $p$ with importances $u_j q_j / p_j$, an unbiased
estimate of $f$. Its error falls like $1/\sqrt{k}$, and sampling by importance beats sampling uniformly."""),
    code("""ks = [4, 16, 64, 256, 1024]
err = {w: mf.repopulation_error(pop, X, ks, weights=w, n_repeats=10, random_state=0) for w in ("importance", "uniform")}
exact = mf.repopulate(pop, k=pop.n_neurons, weights="uniform", random_state=0)
print("k = m, uniform weights, systematic draws: max |f_k - f| =", np.abs(exact.predict(X) - pop.predict(X)).max())
plt.figure(figsize=(5, 3.5))
for w, e in err.items():
    plt.loglog(e.k, e.mean, "o-", label=w)
plt.loglog(ks, err["uniform"].mean[0] * np.sqrt(ks[0] / np.array(ks)), "k:", label="1/sqrt(k)")
plt.xlabel("k (draws)"); plt.ylabel("||f_k - f|| / ||f||"); plt.legend(); plt.title("repopulation error"); plt.show()"""),
    md(r"""## 2. Convexity, measured

Two populations trained from different seeds. The **mixture path** is the union network: both populations'
neurons, with masses $(1-t)q_0$ and $t q_1$. Its output is exactly $(1-t) f_0 + t f_1$ and its regularizer exactly
$(1-t) R_0 + t R_1$, so $J$ along it is convex and below the chord. The **parameter path** interpolates every weight
on a straight line: the neurons of the two networks are not aligned (any permutation is the same network), and the
objective rises above the chord: a barrier. The deep version uses the layer-wise union (block-diagonal hidden
layers, see `convexnn.meanfield.deep`) on two-hidden-layer populations."""),
    code("""ds = load_dataset("teacher")
Xtr, ytr = ds.X_train, ds.y_train
two = [mf.train_population(mf.Population.random(10, 128, random_state=s), Xtr, ytr, lam=lam, learning_rate=0.2,
                           n_epochs=400, random_state=s).population for s in (0, 1)]
deep = [mf.train_population(mf.DeepPopulation.random(10, [48, 48], random_state=s), Xtr, ytr, lam=lam,
                            learning_rate=0.2, n_epochs=400, random_state=s).population for s in (0, 1)]
fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
for a, pair, title in ((ax[0], two, "two-level (m = 128)"), (ax[1], deep, "deep (48 x 48)")):
    paths = mf.path_objective(pair[0], pair[1], Xtr, ytr, lam=lam, n_points=21)
    for kind, style in (("mixture", "C0o-"), ("parameter", "C3s-")):
        r = paths[kind]
        a.plot(r.t, r.objective, style, ms=3, label=f"{kind} path (barrier {r.barrier:.2e})")
        print(f"{title:20s} {kind:9s}: barrier {r.barrier: .3e}, max of J - chord inside {r.interior_excess: .2e}, "
              f"smallest second difference {r.second_differences.min(): .2e}")
    a.plot(r.t, r.chord, "k--", label="chord")
    a.set_yscale("log"); a.set_xlabel("t"); a.set_title(title); a.legend(fontsize=8)
ax[0].set_ylabel("regularized objective J")
plt.show()"""),
    md(r"""The mixture curves are convex with non-negative second differences, while the straight line between the
parameters of two equally good networks passes through networks far worse than either.

## 3. Convex refit on frozen features

With the features frozen, fitting the output layer is a convex problem (here ridge regression, features
standardized). At the same number $k$ of features we compare: $k$ learned neurons drawn by repopulation, $k$ random
neurons at initialization, $k$ tangent (NTK) features at initialization (the first-layer Jacobian randomly projected
to $k$ columns) and the $k$ neurons of the convex ReLU program with the largest path norm."""),
    code("""k = 16
sources = {
    "repopulated": mf.repopulated_features(two[0], Xtr, k, random_state=0),
    "random (init)": mf.initial_features(mf.Population.random(10, 128, random_state=0), k, random_state=0),
    "tangent (NTK)": mf.tangent_features(mf.Population.random(10, 128, random_state=0), k, random_state=0),
    "convex ReLU": mf.convex_program_features(Xtr, ytr, k, alpha=1e-3, n_patterns=30, solver="CLARABEL", tol=None,
                                                random_state=0),
}
r2 = {}
for name, feats in sources.items():
    model = mf.FrozenFeatureModel(feats, lam=1e-3).fit(Xtr, ytr)
    r2[name] = 1 - np.mean((model.decision_function(ds.X_test)[:, 0] - ds.y_test) ** 2) / np.var(ds.y_test)
    print(f"{name:14s} k = {feats.n_features_out:3d}: test R^2 = {r2[name]:.4f}")
plt.figure(figsize=(6, 3.2))
plt.barh(list(r2), list(r2.values()), color=["C0", "C7", "C2", "C1"])
plt.xlim(min(r2.values()) - 0.05, 1.0); plt.xlabel("test R^2 (teacher data)"); plt.title(f"k = {k} frozen features")
plt.show()"""),
    md(r"""At the same feature count, the learned features selected by repopulation do better than random or tangent
features taken at initialization: training moved the population to where the task's features are. The convex
program's neurons are learned features too (chosen by a convex solver rather than by gradient descent); keeping only
the $k$ with the largest path norm discards the rest of that solution. `benchmarks/repopulation.py` runs the same
comparison on digits and teacher data, with the barrier heights and the repopulation error, and prints its command."""),
]

PATH = HERE / "06_feature_repopulation.ipynb"


def notebook():
    """The notebook, without outputs (:func:`_notebook.notebook`)."""
    return _notebook.notebook(cells)


if __name__ == "__main__":
    nbformat.write(notebook(), PATH)
