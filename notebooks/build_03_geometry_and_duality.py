"""Write notebooks/03_geometry_and_duality.ipynb, without outputs.

Run ``python notebooks/build_03_geometry_and_duality.py``: the stored notebook is exactly what it writes
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
    md(r"""# Geometry and duality of two-layer ReLU networks

Ergen & Pilanci, *Convex Geometry and Duality of Over-parameterized Neural Networks* (JMLR 2021,
arXiv 2002.11219) characterize optimal networks through the extreme points of the convex set
$\{(Xu)_+ : \|u\| \le 1\}$ and derive closed forms in special cases. `convexnn.geometry` turns these into
functions; this notebook checks three of them against the generic convex program (all patterns,
Clarabel at tol $10^{-10}$):

1. 1-D data: the optimum is a linear spline; SGD from a small initialization lands on it, while the
   infinite-width NTK interpolant does not look like it.
2. Whitened data: closed-form neurons and the regimes in which they vanish.
3. The duality gap against width: it closes once the width reaches the number of active neurons.

Scaling: mean loss, $\frac1n\sum_k \ell + \lambda \cdot$ path norm (doc/math.rst); the paper's $\beta = n\lambda$."""),
    code("""import numpy as np
import matplotlib.pyplot as plt

import convexnn as cn
from convexnn.datasets import make_1d
from convexnn import geometry as geo

reference = cn.CvxpySolver("CLARABEL", tol=1e-10)
# tol=1e-10 is at Clarabel's limit: it sometimes reports 'optimal_inaccurate' (a ConvergenceWarning)
# while agreeing with the closed forms to ~1e-11, as printed below; we silence that warning here.
import warnings
warnings.filterwarnings("ignore", category=cn.ConvergenceWarning)"""),
    md(r"""## 1. One-dimensional data: a linear spline

`fit_1d` solves the exact program over all $2n$ threshold patterns and returns the optimum as a spline
(knots, slopes). With the bias left out of the weight decay (`bias="free"`, the paper's 1-D setting) the
optimum is an $\ell_1$ fit over ramps $(x - x_i)_+$, $(x_i - x)_+$ with knots at data points; with the bias
regularized (convexnn's convention) a knot may sit between two data points."""),
    code("""X, y = make_1d(n_samples=10, noise=0.1, random_state=0)
lam = 1e-2
fit = geo.fit_1d(X, y, lam)                       # bias regularized, exact C-ReLU over all patterns
free = geo.fit_1d(X, y, lam, bias="free")         # the paper's convention: ramps with knots at data
print("regularized bias: objective", round(fit.objective, 6), "knots", np.round(fit.knots, 3))
print("free bias:        objective", round(free.objective, 6), "knots", np.round(free.knots, 3))
print("data points:      ", np.round(X[:, 0], 3))"""),
    md(r"""SGD (Adam) on a wide network ($m = 20 \ge n + 1$) with weight decay $\lambda$: from a small
initialization it ends on the spline; from a large one it is still far after the same number of epochs.
The NTK minimum-norm interpolant (infinite width, lazy regime) is smooth and bends between data points,
unlike the minimum-norm network (`min_norm_interpolant_1d`, the limit $\lambda \to 0$)."""),
    code("""grid = np.linspace(X.min() - 0.1, X.max() + 0.1, 300)[:, None]
runs = {}
for scale in (0.05, 4.0):
    net = cn.ReLUNetwork.random(1, 20, scale=scale, random_state=0)
    runs[scale] = cn.train(net, X, y, lam=lam, learning_rate=1e-2, max_epochs=2000, tol=0,
                           n_iter_no_change=10**6)
    d = np.sqrt(np.mean((runs[scale].network.predict(grid) - fit.predict(grid)) ** 2)) / np.std(y)
    print(f"init scale {scale}: objective {runs[scale].objective:.6f} (optimum {fit.objective:.6f}), "
          f"relative distance to the spline {d:.4f}")
min_norm = geo.min_norm_interpolant_1d(X, y)
ntk = geo.ntk_interpolant(X, y, fit_intercept=True)

fig, ax = plt.subplots(1, 2, figsize=(11, 4))
ax[0].plot(grid, fit.predict(grid), "k", lw=2, label="exact optimum (spline)")
for scale, run in runs.items():
    ax[0].plot(grid, run.network.predict(grid), "--", label=f"Adam, init scale {scale}")
ax[0].plot(X, y, "o", color="C3")
ax[0].vlines(fit.knots, *ax[0].get_ylim(), colors="0.8", lw=0.8)
ax[0].set_title(f"lam = {lam}: optimum vs SGD"); ax[0].legend(fontsize=8)
ax[1].plot(grid, min_norm.predict(grid), "k", lw=2, label="min-norm network (lam -> 0)")
ax[1].plot(grid, ntk.predict(grid), "C2", label="NTK min-norm interpolant")
ax[1].plot(X, y, "o", color="C3"); ax[1].set_title("interpolants"); ax[1].legend(fontsize=8)
plt.show()"""),
    md(r"""## 2. Whitened data: closed forms

For $XX^\top = I$ the optimal network has at most two neurons, $u_1 \propto X^\top (y)_+$ and
$u_2 \propto X^\top(-y)_+$, each kept while $\beta = n\lambda$ is below $\|(y)_\pm\|$; with both kept the
optimal value is $\beta(\|y_+\| + \|y_-\|) - \beta^2$ (paper scaling). We sweep $\lambda$ and compare with
the generic program over all $2^n$ patterns."""),
    code("""rng = np.random.default_rng(0)
Xw = geo.whiten(rng.standard_normal((6, 9)))
yw = rng.standard_normal(6)
patterns = cn.enumerate_patterns(Xw)
rows = []
for lam_w in np.geomspace(0.02, 0.6, 7):
    cf = geo.whitened_squared(Xw, yw, lam_w)
    ref = reference.solve(cn.ReLUProblem(Xw, yw, patterns, lam=lam_w))
    rows.append((lam_w, cf.objective, ref.objective, cf.regime))
    print(f"lam {lam_w:.3f}  closed form {cf.objective:.8f}  generic {ref.objective:.8f}  "
          f"rel. diff {abs(cf.objective - ref.objective) / ref.objective:.1e}  ({cf.regime})")
print("thresholds on lam:", {k: round(v / 6, 4) for k, v in cf.thresholds.items()})
lab = np.where(yw > 0, 1.0, -1.0)
for lam_w in (0.1, 0.3, 0.6):
    cf = geo.whitened_hinge(Xw, lab, lam_w)
    ref = reference.solve(cn.ReLUProblem(Xw, lab, patterns, lam=lam_w, loss="hinge"))
    print(f"hinge, lam {lam_w}: closed form {cf.objective:.8f}  generic {ref.objective:.8f}  ({cf.regime})")"""),
    code("""lams, cfv, refv, _ = zip(*rows)
plt.figure(figsize=(5, 3.5))
plt.plot(lams, cfv, "k-", label="closed form")
plt.plot(lams, refv, "o", mfc="none", label="generic program")
for beta_threshold in geo.whitened_squared(Xw, yw, 0.1).thresholds.values():
    plt.axvline(beta_threshold / len(yw), color="0.7", lw=0.8)  # lam = beta / n
plt.xscale("log"); plt.xlabel("lam"); plt.ylabel("optimal objective"); plt.legend()
plt.title("whitened data: neurons vanish at the grey lines"); plt.show()"""),
    md(r"""## 3. Duality gap against width

The convex program gives the value of the infinite-width problem, $p^*$, and the number of neurons its
solution uses, $m^*$. A network of width $m$ can reach $p^*$ only when $m \ge m^*$ (Theorem of Pilanci &
Ergen; the paper's experiment). We train Adam at each width (best of two initializations) and plot the gap
$L_{nc} - p^*$."""),
    code("""problem = cn.ReLUProblem(X, y, cn.enumerate_patterns(X, fit_intercept=True), lam=lam)
opt = reference.solve(problem)
m_star = opt.n_active
print("p* =", round(opt.objective, 6), " active neurons m* =", m_star,
      " (mapped network of width m*:", round(cn.from_convex(problem, opt.coef).objective(X, y, lam), 6), ")")
widths = list(range(1, m_star + 3))
gaps = []
for m in widths:
    best = min(
        cn.train(cn.ReLUNetwork.random(1, m, scale=0.5, random_state=s), X, y, lam=lam,
                 learning_rate=1e-2, max_epochs=1500, tol=0, n_iter_no_change=10**6).objective
        for s in range(2)
    )
    gaps.append(best - opt.objective)
    print(f"width {m}: best objective {best:.6f}, gap {best - opt.objective:.2e}")
plt.figure(figsize=(5, 3.5))
plt.semilogy(widths, np.maximum(gaps, 1e-8), "o-")
plt.axvline(m_star, color="k", ls="--", label="m* (active neurons)")
plt.xlabel("width m"); plt.ylabel("L_nc - p*"); plt.legend(); plt.title("duality gap vs width"); plt.show()"""),
    md(r"""The gap is large below $m^*$ and falls to the optimizer's tolerance once the width passes the number
of neurons the convex solution uses. Right at $m^*$ a width-$m^*$ network *can* reach $p^*$ (map the convex
solution with `cn.from_convex`), but Adam from two random starts may not find it: below $m^*$ no
initialization can. The remaining functions of `convexnn.geometry` (rank-one data,
spike-free test and program, Lemma 7 neurons, hinge loss in 1-D, multiclass whitened data) are checked in
`tests/test_closed_form.py`."""),
]

PATH = HERE / "03_geometry_and_duality.ipynb"


def notebook():
    """The notebook, without outputs (:func:`_notebook.notebook`)."""
    return _notebook.notebook(cells)


if __name__ == "__main__":
    nbformat.write(notebook(), PATH)
