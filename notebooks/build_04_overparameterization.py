"""Write notebooks/04_overparameterization.ipynb, without outputs.

Run ``python notebooks/build_04_overparameterization.py``: the stored notebook is exactly what it writes
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
    md(r"""# Over-parameterization: what wide networks do, measured

Two results explain why plain gradient methods train wide networks at all.
Allen-Zhu, Li & Song (*A Convergence Theory for Deep Learning via Over-Parameterization*, 2019) prove that
SGD reaches a global minimum of a deep ReLU network's training loss in polynomial time once the width is
polynomial in the depth $L$ and the number of samples $n$: near the random initialization the landscape is
almost convex, the network behaves like its neural tangent kernel (NTK), regression losses fall linearly and
classification reaches 100% training accuracy. A second seed proves, for a wide deep MLP, linear convergence of
gradient descent, *lazy training* (weights barely move) and *learning-rate transfer* across widths, under one
assumption: the smallest eigenvalue of the NTK at initialization stays away from zero.

`convexnn.overparam` measures each claim: a deep ReLU network in numpy differentiated by `convexnn.backprop`
(`DeepReLUNetwork`, parameterizations `'standard'`, `'ntk'` and `'allen_zhu'`), its empirical tangent kernel
computed layer by layer (never forming the Jacobian), the analytic infinite-width kernel (arc-cosine
recursion), and six experiments that sweep the width over seeds and return tidy tables. The same experiments
run from the shell: `convexnn lab <experiment> --widths 64,256,1024 --seeds 3` writes a CSV and a PNG.

Sizes here are small so that the documentation build can run the notebook; `benchmarks/ntk.py` runs the NTK for
$n = 500$ at width 2048 and the lazy-training sweep up to width 4096.

Conventions (doc/math.rst): inputs on the unit sphere, squared loss $\frac1n\sum_k \frac12 (f(x_k) - y_k)^2$, so that
gradient descent with step $\eta$ acts on the residual as $r \leftarrow (I - \eta H/n)\, r$ in the lazy regime:
the loss decays at least like $(1 - \eta\lambda_{\min}(H_0)/n)^{2t}$."""),
    code("""import numpy as np
import matplotlib.pyplot as plt

from convexnn import overparam as op

def summary(table, value):
    keys, mean = table.group("width", value)
    _, std = table.group("width", value, reduce=np.nanstd)
    for k, m, s in zip(keys, mean, std):
        print(f"  width {int(k):5d}: {value} = {m:.4g} +- {s:.2g}")"""),
    md(r"""## 1. The NTK at initialization

The seeds' one strong assumption is that $\lambda_{\min}(H_0)$ is bounded away from 0. For distinct unit-norm
inputs the infinite-width kernel is strictly positive definite, and the empirical kernel concentrates around it
as the width grows: its relative Frobenius error should fall like $m^{-1/2}$ (fluctuations of a mean over
$m$ units), and the spread of $\lambda_{\min}$ across seeds should shrink."""),
    code("""ntk = op.ntk_at_init(widths=(32, 128, 512, 2048), seeds=3, n_samples=20, depth=3)
summary(ntk, "lambda_min")
print("infinite width: lambda_min =", round(ntk.rows[0]["lambda_min_analytic"], 4))
summary(ntk, "ntk_error")
print("log-log slope of the kernel error:", round(ntk.meta["error_slope"], 3))
op.plot(ntk); plt.show()"""),
    md(r"""## 2. Lazy training

Each network is trained by full-batch gradient descent for the same number of steps at
$\eta = n/\lambda_{\max}(H_0)$ (the same place of each network's stability range). The lazy-training bounds
(and doc/math.rst) say the relative changes fall at least like $m^{-1/2}$. Two finer counts predict more: a hidden
$m\times m$ layer moves by $O(1)$ in Frobenius norm while its norm is $O(m)$, so the relative change of all the
weights is $O(1/m)$ (first and last layers alone: $O(m^{-1/2})$); and the kernel's change during training is
$O(1/m)$ (Dyer & Gur-Ari 2019), even though its fluctuation across seeds at initialization is $O(m^{-1/2})$."""),
    code("""lazy = op.lazy_training(widths=(32, 128, 512), seeds=2, n_samples=20, depth=3, n_steps=150)
summary(lazy, "weight_change"); summary(lazy, "kernel_change"); summary(lazy, "loss_final")
print("log-log slopes: weights", round(lazy.meta["weight_slope"], 3), " kernel", round(lazy.meta["kernel_slope"], 3))
op.plot(lazy); plt.show()"""),
    md(r"""## 3. Linear convergence

The loss curve of each network against the loss curve of its linearized model (dotted: the same gradient
descent on $f_0 + J_0(\theta - \theta_0)$, computed from the spectrum of $H_0$), and the measured per-step rate
of the tail against the rate $-2\log(1 - \eta\lambda_{\min}(H_0)/n)$ that the linear model guarantees."""),
    code("""conv = op.linear_convergence(widths=(64, 256, 512), seeds=2, n_samples=20, depth=3, n_steps=150)
for row in conv:
    print(f"  width {row['width']:5d} seed {row['seed']}: eta lambda_min / n = {row['eta_lambda_min']:.4f}, "
          f"rate from H_0 {row['rate_bound']:.4f}, from H_T {row['rate_final_kernel']:.4f}, "
          f"measured tail rate {row['measured_rate']:.4f}, "
          f"lambda_min H_0 {row['lambda_min']:.3f} -> H_T {row['lambda_min_final']:.3f}, "
          f"max |L - L_lin| / L_0 = {row['linearized_gap']:.3g}")
op.plot(conv); plt.show()"""),
    md(r"""## 4. Classification: steps to 100% training accuracy

Allen-Zhu et al.'s set-up (`'allen_zhu'`: first layer $A$ and output $B$ fixed, $A, W_l \sim N(0, 2/m)$,
$B \sim N(0, 1)$, unit-norm inputs), plain SGD on minibatches of $n/4$, step $n/\lambda_{\max}(H_0)$, labels
the sign of a teacher network. Their theorem bounds the number of steps polynomially in $n$ and $L$, with a
step size that shrinks like $1/m$ (here: through $\lambda_{\max}(H_0) \propto m$)."""),
    code("""cls = op.classification(widths=(64, 256, 1024), seeds=3, n_samples=20, depth=3, max_steps=2000)
summary(cls, "steps_to_fit"); summary(cls, "learning_rate")
op.plot(cls); plt.show()"""),
    md(r"""## 5. Learning-rate transfer

The same grid of learning rates for full-batch gradient descent at every width, in two parameterizations; the
best learning rate is the one with the lowest loss after a fixed number of steps."""),
    code("""lr = op.learning_rate_transfer(widths=(32, 128, 512), seeds=1, n_samples=20, depth=3,
                               learning_rates=10.0 ** np.arange(-3, 2.5, 1.0), n_steps=40)
for scheme, best in lr.meta["best"].items():
    print(f"  {scheme:9s} best learning rate per width {lr.meta['widths']}: {np.round(best, 4).tolist()}")
op.plot(lr); plt.show()"""),
    md(r"""## 6. The wide network against the convex optimum

With weight decay the two-layer problem has a convex twin (doc/math.rst): `ConvexReLURegressor(fit_intercept=False)`
enumerates every activation pattern of this small data set and certifies its optimum. Adam on networks of
growing width minimizes the same $L_{nc} = \frac1n\sum \frac12(f - y)^2 + \frac{\lambda}{2}\sum_j(\|u_j\|^2 + a_j^2)$."""),
    code("""gap = op.convex_gap(widths=(2, 8, 32), seeds=3, n_samples=20, lam=1e-2, max_epochs=2000)
print("convex optimum", round(gap.rows[0]["convex_objective"], 6), " certified lower bound",
      round(gap.rows[0]["lower_bound"], 6), " neurons of the optimum", gap.meta["convex_neurons"])
summary(gap, "relative_gap")
op.plot(gap); plt.show()"""),
    md(r"""## What the theory predicts, and how to read the outputs above

The sizes here are small, so that the notebook runs in the documentation build; `convexnn lab` and
`benchmarks/ntk.py` run the same experiments at larger widths.

- **$\lambda_{\min}(H_0)$ away from zero** (the one strong assumption of the convergence theory). The printed
  $\lambda_{\min}$ should be positive at every width and seed and approach the infinite-width value as $m$
  grows, with a spread across seeds that shrinks. The empirical kernel's relative error to the analytic one
  should fall like $m^{-1/2}$ (log-log slope near $-1/2$), the fluctuation of a mean over $m$ units.
- **Lazy training.** The bounds say the relative changes of weights and kernel fall at least like $m^{-1/2}$;
  the finer counts of section 2 predict slopes near $-1$ for both. Compare the printed log-log slopes, which
  are fitted over only three widths here.
- **Linear convergence.** The loss should fall geometrically at every width, and its curve should approach
  that of the linearized model as $m$ grows (the printed largest gap $|L - L_{lin}| / L_0$ shrinks). The rate
  of the tail can be slower than the one $\lambda_{\min}(H_0)$ predicts, because the kernel moves during
  training and its smallest eigenvalue drops; the rate computed from the final kernel's $\lambda_{\min}(H_T)$
  is the closer prediction where the network is nearly linear. This is why the theory needs $\lambda_{\min}$
  bounded away from zero along the whole path, not only at initialization.
- **Classification.** SGD should fit every training label within the printed number of steps at every width,
  with a step size that shrinks like $1/m$, as Allen-Zhu et al.'s analysis prescribes.
- **Learning-rate transfer.** With the NTK scaling the best learning rate of the grid should be the same at
  every width; with the standard scaling it should shrink as the width grows, because the kernel grows with
  $m$. The transfer is a property of the parameterization.
- **Against the convex optimum.** No Adam run can end below the certified lower bound. A network narrower
  than the optimum's number of neurons cannot reach the optimum; wider ones can, and the printed relative
  gaps show how close Adam gets. Over-parameterization makes the non-convex problem easier for SGD; the
  convex program solves the same problem exactly and says so."""),
]

PATH = HERE / "04_overparameterization.ipynb"


def notebook():
    """The notebook, without outputs (:func:`_notebook.notebook`)."""
    return _notebook.notebook(cells)


if __name__ == "__main__":
    nbformat.write(notebook(), PATH)
