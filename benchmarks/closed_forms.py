"""Agreement of every closed form in convexnn.geometry with the generic convex program.

Prints, per claim, the relative difference in objective and the largest difference in training
predictions (relative to max |y|) against the C-ReLU program over all patterns (Clarabel, tol 1e-10).
Run: PYTHONPATH=. python benchmarks/closed_forms.py
"""

import warnings

import numpy as np

import convexnn as cn
from convexnn import geometry as geo
from convexnn.datasets import make_1d
from convexnn.penalties import GroupL1FreeIntercept

warnings.filterwarnings("ignore", category=cn.ConvergenceWarning)
REF = cn.CvxpySolver("CLARABEL", tol=1e-10)


def generic(X, y, lam, **kw):
    fit_intercept = kw.pop("fit_intercept", False)
    problem = cn.ReLUProblem(X, y, cn.enumerate_patterns(X, fit_intercept=fit_intercept), lam=lam, **kw)
    result = REF.solve(problem)
    return result.objective, problem.predict(result.coef)


def row(name, value, ref, pred=None, ref_pred=None, y=None):
    rel = abs(value - ref) / abs(ref)
    dp = "" if pred is None else f"{np.abs(pred - ref_pred).max() / np.abs(y).max():.1e}"
    print(f"{name:<46} {value:>14.10f} {ref:>14.10f} {rel:>9.1e} {dp:>9}")
    return rel


print(f"{'claim':<46} {'closed form':>14} {'generic':>14} {'rel obj':>9} {'rel pred':>9}")
X, y = make_1d(n_samples=10, noise=0.1, random_state=0)
for lam in (1e-3, 1e-2, 1e-1):
    f = geo.fit_1d(X, y, lam, bias="free")
    v, p = generic(X, y, lam, fit_intercept=True, penalty=GroupL1FreeIntercept())
    row(f"1-D ramps, knots at data (free bias) lam={lam}", f.objective, v, f.predictions, p, y)
    f = geo.fit_1d(X, y, lam)
    v, p = generic(X, y, lam, fit_intercept=True)
    row(f"1-D spline of mapped network lam={lam}", f.network.objective(X, y, lam), v, f.network.predict(X), p, y)
lab = np.where(y > 0, 1.0, -1.0)
f = geo.fit_1d(X, lab, 1e-2, loss="hinge", bias="free")
v, _ = generic(X, lab, 1e-2, loss="hinge", fit_intercept=True, penalty=GroupL1FreeIntercept())
row("1-D hinge, ramp kernel l1-SVM lam=0.01", f.objective, v)
m = geo.min_norm_interpolant_1d(X, y, bias="free")
pr = cn.ReLUProblem(X, y, cn.enumerate_patterns(X, fit_intercept=True), lam=1.0, penalty=GroupL1FreeIntercept())
row("1-D min-l1 interpolant (LP) vs generic", m.penalty, geo.min_norm_program(pr)[1])

rng = np.random.default_rng(4)
c, a = rng.uniform(-1, 1, 9), rng.standard_normal(3)
Xr = np.outer(c, a)
yr = np.sin(3 * c) + 0.1 * rng.standard_normal(9)
net, fit = geo.fit_rank_one(Xr, yr, 1e-2)
v, p = generic(Xr, yr, 1e-2, fit_intercept=True)
row("rank-one via 1-D, mapped back", net.objective(Xr, yr, 1e-2), v, net.predict(Xr), p, yr)

rng = np.random.default_rng(0)
Xw = geo.whiten(rng.standard_normal((6, 9)))
yw = rng.standard_normal(6)
yp, ym = np.linalg.norm(np.maximum(yw, 0)), np.linalg.norm(np.maximum(-yw, 0))
for beta in (0.5 * yp, 0.5 * (yp + ym), 1.5 * ym):
    cf = geo.whitened_squared(Xw, yw, beta / 6)
    v, p = generic(Xw, yw, beta / 6)
    row(f"whitened squared: {cf.regime}", cf.objective, v, cf.predict(Xw), p, yw)
beta = 0.5 * yp
row("whitened: (beta(|y+|+|y-|) - beta^2)/n", (beta * (yp + ym) - beta**2) / 6, generic(Xw, yw, beta / 6)[0])
yl = np.array([1.0, -1.0, -1.0, 1.0, -1.0, -1.0])
for fac in (0.5, 1.2, 2.5):
    cf = geo.whitened_hinge(Xw, yl, fac * np.sqrt(2) / 6)
    v, p = generic(Xw, yl, fac * np.sqrt(2) / 6, loss="hinge")
    row(f"whitened hinge: {cf.regime}", cf.objective, v)
Y = np.eye(3)[[2, 0, 2, 2, 0, 1]]
for lam in (0.05, 0.2):
    cf = geo.whitened_multiclass(Xw, Y, lam)
    dec = sum(generic(Xw, Y[:, k], lam)[0] for k in range(3))
    row(f"whitened multiclass vs per-output sum lam={lam}", cf.objective, dec)
    row(f"whitened multiclass vs dual bound lam={lam}", cf.objective, geo.vector_dual_bound(Xw, Y, cf.predict(Xw), lam))
for name, A, t in (("whitened", Xw, yw), ("rank one, c >= 0", np.outer(np.abs(c), a), yr)):
    net, res = geo.fit_spike_free(A, t, 0.05)
    v, p = generic(A, t, 0.05)
    row(f"spike-free program ({name})", res.objective, v, net.predict(A), p, t)
