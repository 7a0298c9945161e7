"""One-dimensional and rank-one data: the optimal network is a linear spline.

Ergen & Pilanci (JMLR 2021, "Convex Geometry and Duality of Over-parameterized Neural Networks",
Section 3) show that for scalar inputs ``x_1 < ... < x_n`` with a bias, an optimal two-layer ReLU
network with ``m >= n + 1`` neurons is a linear spline whose knots sit at data points: the extreme
points of the dual constraint set are the ramps ``(x - x_i)_+`` and ``(x_i - x)_+``, so training is an
l1-regularized fit over this "ramp kernel", and as the regularization vanishes the network becomes
the minimum-l1 interpolant (equality constraints) or, for the hinge loss, a minimum-l1 SVM.

That argument leaves the bias out of the weight decay (as Savarese et al. 2019 do). convexnn's
convention (doc/math.rst) regularizes the bias like every weight; then the optimum is still a linear
spline (every network is), but a knot may fall between two data points. Both conventions are here:

* ``bias='regularized'`` (package convention): the exact C-ReLU program over all ``2n`` patterns,
  solved by cvxpy and read off as a spline whose knots are the neurons' kinks ``-b/w``.
* ``bias='free'`` (the paper's 1-D convention): the l1 program over the ramp features with knots at
  the data points plus a free constant. It equals the C-ReLU program with
  :class:`~convexnn.penalties.GroupL1FreeIntercept` over all patterns (the tests check this).

Rank-one data ``X = c a^T`` reduce to the 1-D problem in ``x = ||a|| c`` (the same paper, rank-one
corollary); :func:`fit_rank_one` solves it there and maps the neurons back along ``a``.

All objectives use the mean scaling of doc/math.rst: ``(1/n) sum_k l(f(x_k), y_k) + lam * path norm``;
the paper's ``beta`` is ``n * lam``.
"""

from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from ..losses import get_loss
from ..networks import ReLUNetwork, from_convex
from ..patterns import enumerate_patterns
from ..penalties import GroupL1FreeIntercept
from ..problems import ReLUProblem
from ..solvers import CvxpySolver
from ..validation import check_matrix, check_positive, check_target

__all__ = [
    "LinearSpline",
    "OneDimensionalFit",
    "ramp_features",
    "fit_1d",
    "min_norm_interpolant_1d",
    "fit_rank_one",
    "rank_one_factors",
]

_BIASES = ("regularized", "free")


def _reference_solver(solver):
    return CvxpySolver("CLARABEL", tol=1e-10) if solver is None else solver


def check_1d(X, name="X"):
    """Return the column vector ``X`` of shape (n_samples, 1), or raise a ValueError naming it."""
    if not hasattr(X, "nnz"):  # sparse input is left for check_matrix to reject
        X = np.asarray(X, dtype=np.float64)
    if getattr(X, "ndim", None) == 1:
        X = X.reshape(-1, 1)
    X = check_matrix(X, name)
    if X.shape[1] != 1:
        raise ValueError(
            f"{name} must be 1-D data of shape (n_samples, 1), got {X.shape[1]} features; for "
            "rank-one data use fit_rank_one."
        )
    return X


def _check_bias(bias, fit_intercept):
    if bias not in _BIASES:
        raise ValueError(f"bias must be one of {_BIASES}, got {bias!r}.")
    if bias == "free" and not fit_intercept:
        raise ValueError("bias='free' needs fit_intercept=True (there is no bias to leave free).")


@dataclass
class LinearSpline:
    """A continuous piecewise-linear function of one variable.

    ``f(x) = offset + slopes[0] * x + sum_i (slopes[i+1] - slopes[i]) * (x - knots[i])_+``.

    Attributes
    ----------
    knots : ndarray of shape (n_knots,)
        Sorted breakpoints.
    slopes : ndarray of shape (n_knots + 1,)
        Slope left of the first knot, between consecutive knots, and right of the last.
    offset : float
        ``f(0)`` of the leftmost linear piece extended.
    """

    knots: np.ndarray
    slopes: np.ndarray
    offset: float

    def __call__(self, x):
        return self.predict(x)

    def predict(self, x):
        """Evaluate at ``x`` (any shape; a column of shape (n, 1) is flattened)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        jumps = np.diff(self.slopes)
        out = self.offset + self.slopes[0] * x
        for t, jump in zip(self.knots, jumps):
            out = out + jump * np.maximum(x - t, 0.0)
        return out

    @property
    def slope_changes(self):
        """Change of slope at each knot, shape (n_knots,)."""
        return np.diff(self.slopes)

    @classmethod
    def from_ramps(
        cls, knots_right, coef_right, knots_left, coef_left, constant=0.0, *, tol=0.0, merge_tol=1e-7
    ):
        """Spline ``constant + sum_i r_i (x - s_i)_+ + sum_j l_j (t_j - x)_+``, knots merged.

        Terms with ``|coefficient| <= tol`` are dropped, knots closer than ``merge_tol`` (relative)
        are merged, and merged knots whose slope change is at most ``tol`` are dropped. Uses
        ``(t - x)_+ = (x - t)_+ - (x - t)``, so dropping a term changes nothing else.
        """
        knots_right = np.asarray(knots_right, float)
        coef_right = np.asarray(coef_right, float)
        knots_left = np.asarray(knots_left, float)
        coef_left = np.asarray(coef_left, float)
        offset = float(constant) + float(coef_left @ knots_left)
        slope0 = -float(coef_left.sum())
        t = np.concatenate([knots_right, knots_left])
        jump = np.concatenate([coef_right, coef_left])
        keep = np.abs(jump) > tol
        if not keep.all():  # a dropped left ramp still contributed to offset and slope0
            dropped_left = ~keep[knots_right.size :]
            offset -= float(coef_left[dropped_left] @ knots_left[dropped_left])
            slope0 += float(coef_left[dropped_left].sum())
        t, jump = t[keep], jump[keep]
        order = np.argsort(t)
        t, jump = t[order], jump[order]
        # knots closer than merge_tol (relative to the knots' scale) are one knot
        scale = max(1.0, float(np.abs(t).max())) if t.size else 1.0
        new_group = np.concatenate([[True], np.diff(t) > merge_tol * scale]) if t.size else []
        group = np.cumsum(new_group) - 1
        n_groups = int(group[-1]) + 1 if t.size else 0
        jumps = np.zeros(n_groups)
        np.add.at(jumps, group, jump)
        knots = np.zeros(n_groups)
        np.add.at(knots, group, t)
        knots /= np.bincount(group, minlength=n_groups).clip(1)
        keep = np.abs(jumps) > tol
        knots, jumps = knots[keep], jumps[keep]
        return cls(knots, slope0 + np.concatenate([[0.0], np.cumsum(jumps)]), offset)

    @classmethod
    def from_network(cls, network, *, tol=0.0, merge_tol=1e-7):
        """The spline a 1-D :class:`~convexnn.networks.ReLUNetwork` computes on the whole real line.

        A neuron ``a (w x + b)_+`` with ``w > 0`` is ``a w (x - t)_+`` with ``t = -b / w``; with
        ``w < 0`` it is ``a |w| (t - x)_+``; with ``w = 0`` it is the constant ``a (b)_+``.
        """
        if network.n_features != 1:
            raise ValueError(f"network must have 1 input feature, got {network.n_features}.")
        w = network.W1[0]
        b = network.b1 if network.b1 is not None else np.zeros_like(w)
        a = network.w2
        flat = np.abs(w) <= 1e-300
        right, left = (w > 0) & ~flat, (w < 0) & ~flat
        constant = float(a[flat] @ np.maximum(b[flat], 0.0))
        return cls.from_ramps(
            -b[right] / w[right], a[right] * w[right], -b[left] / w[left], a[left] * np.abs(w[left]),
            constant, tol=tol, merge_tol=merge_tol,
        )


@dataclass
class OneDimensionalFit:
    """The exact optimum of the 1-D training problem and its views.

    Attributes
    ----------
    spline : LinearSpline
        The optimal network as a function of ``x``.
    objective : float
        Optimal value in the mean scaling of doc/math.rst (the paper's value divided by ``n``).
    predictions : ndarray of shape (n_samples,)
        The optimum's predictions on the training inputs.
    penalty : float
        Path norm of the optimum (``sum_j |a_j| ||u_j||``; biases excluded when ``bias='free'``).
    bias : {'regularized', 'free'}
    exact : bool
        Always True: these are the exact programs over all patterns, up to the solver tolerance.
    network : ReLUNetwork or None
        With ``bias='regularized'``, the mapped network; its ``objective`` equals ``objective``.
    method : str
        Which program produced the fit.
    """

    spline: LinearSpline
    objective: float
    predictions: np.ndarray
    penalty: float
    bias: str
    exact: bool = True
    network: object = None
    method: str = ""
    details: dict = field(default_factory=dict)

    def predict(self, X):
        return self.spline.predict(X)

    @property
    def knots(self):
        return self.spline.knots

    @property
    def slopes(self):
        return self.spline.slopes


def ramp_features(x, knots=None):
    """The ramp kernel of the paper: ``[(x - t_j)_+ for j] + [(t_j - x)_+ for j]``.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, 1)
    knots : array-like of shape (n_knots,), optional
        Defaults to the sorted distinct values of ``x`` (the data points).

    Returns
    -------
    ndarray of shape (n_samples, 2 * n_knots)
        Right ramps first, then left ramps.
    """
    x = check_1d(x, "x")[:, 0]
    knots = np.unique(x) if knots is None else np.asarray(knots, dtype=np.float64).ravel()
    diff = x[:, None] - knots[None, :]
    return np.hstack([np.maximum(diff, 0.0), np.maximum(-diff, 0.0)])


def _ramp_program(x, y, loss, lam, interpolate):
    """Solve the l1 program over ramps with knots at the data points plus a free constant."""
    knots = np.unique(x)
    Phi = ramp_features(x, knots)
    theta = cp.Variable(Phi.shape[1])
    const = cp.Variable()
    pred = Phi @ theta + const
    penalty = cp.norm1(theta)
    if interpolate:
        if loss.name == "hinge":
            constraints = [cp.multiply(y, pred) >= 1]
        else:
            constraints = [pred == y]
        problem = cp.Problem(cp.Minimize(penalty), constraints)
    else:
        problem = cp.Problem(cp.Minimize(loss.cvxpy(pred, y) + lam * penalty))
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise RuntimeError(f"the ramp program ended with status {problem.status!r}.")
    k = knots.size
    coef = np.asarray(theta.value)
    tol = 1e-9 * max(1.0, np.abs(coef).max())  # solver tails on unused ramps
    spline = LinearSpline.from_ramps(knots, coef[:k], knots, coef[k:], float(const.value), tol=tol)
    return spline, float(np.abs(coef).sum())


def _generic_problem(X, y, lam, loss, bias, fit_intercept):
    patterns = enumerate_patterns(X, fit_intercept=fit_intercept)
    penalty = GroupL1FreeIntercept() if bias == "free" else "group_l1"
    return ReLUProblem(X, y, patterns, lam=lam, loss=loss, penalty=penalty)


def fit_1d(X, y, lam, *, loss="squared", bias="regularized", fit_intercept=True, solver=None):
    """Exact optimal two-layer ReLU network on 1-D data, returned as a linear spline.

    Parameters
    ----------
    X : array-like of shape (n_samples, 1) or (n_samples,)
    y : array-like of shape (n_samples,)
        Targets; labels -1/+1 for the logistic and hinge losses.
    lam : float
        Regularization strength (mean scaling; the paper's ``beta = n * lam``).
    loss : {'squared', 'logistic', 'hinge'} or Loss, default='squared'
    bias : {'regularized', 'free'}, default='regularized'
        ``'regularized'``: biases in the weight decay (convexnn's convention); the C-ReLU program over
        all ``2n`` patterns is solved. ``'free'``: biases outside it (the paper's 1-D setting); the
        l1 program over ramps with knots at the data points plus a free constant is solved.
    fit_intercept : bool, default=True
        Without an intercept the 1-D data have only the patterns ``x >= 0`` and ``x <= 0``.
    solver : Solver, optional
        For ``bias='regularized'``; defaults to ``CvxpySolver('CLARABEL', tol=1e-10)``.

    Returns
    -------
    OneDimensionalFit
        Exact (``exact=True``) up to the solver tolerance.

    Notes
    -----
    With ``bias='free'`` this is the paper's characterization (Ergen & Pilanci 2021, Sec. 3: optimal
    neurons are extreme points ``(x - x_i)_+``, ``(x_i - x)_+``, so the network is a linear spline
    with knots at data points). A constant costs nothing there, so the free constant is the limit
    of a neuron whose kink moves to infinity.
    """
    X = check_1d(X)
    loss = get_loss(loss)
    y = loss.check_target(check_target(y, X.shape[0]))
    check_positive(lam, "lam", strict=False)
    _check_bias(bias, fit_intercept)
    if bias == "free":
        spline, penalty = _ramp_program(X[:, 0], y, loss, lam, interpolate=False)
        pred = spline.predict(X)
        return OneDimensionalFit(
            spline, loss.value(pred, y) + lam * penalty, pred, penalty, bias,
            method="l1 program over ramps with knots at the data points (free bias)",
        )
    problem = _generic_problem(X, y, lam, loss, bias, fit_intercept)
    result = _reference_solver(solver).solve(problem)
    network = from_convex(problem, result.coef)
    spline = LinearSpline.from_network(network, tol=_jump_tol(network))
    return OneDimensionalFit(
        spline, result.objective, problem.predict(result.coef), network.path_norm(), bias,
        network=network, method=f"C-ReLU over all {problem.patterns.n_patterns} patterns",
        details={"problem": problem, "result": result},
    )


def min_norm_interpolant_1d(X, y, *, loss="squared", bias="regularized", fit_intercept=True):
    """The limit ``lam -> 0`` of :func:`fit_1d`: the minimum path-norm network that fits the data.

    For the squared (or logistic) loss the constraints are ``f(x_k) = y_k``; for the hinge loss they
    are the margins ``y_k f(x_k) >= 1`` (the minimum-l1 SVM over the ramp kernel of the paper).
    With ``bias='free'`` it is the paper's linear program ``min ||theta||_1`` over ramps with knots at
    the data points (Ergen & Pilanci 2021, Sec. 3); with ``bias='regularized'`` it is
    ``min sum_b ||u_b||`` over the C-ReLU blocks of all patterns with the same constraints.

    Returns
    -------
    OneDimensionalFit
        ``objective`` and ``penalty`` both hold the minimum path norm.
    """
    X = check_1d(X)
    loss = get_loss(loss)
    y = loss.check_target(check_target(y, X.shape[0]))
    _check_bias(bias, fit_intercept)
    if bias == "free":
        spline, penalty = _ramp_program(X[:, 0], y, loss, 0.0, interpolate=True)
        return OneDimensionalFit(
            spline, penalty, spline.predict(X), penalty, bias,
            method="minimum-l1 program over ramps with knots at the data points (free bias)",
        )
    problem = _generic_problem(X, y, 1.0, loss, bias, fit_intercept)
    coef, penalty = min_norm_program(problem)
    network = from_convex(problem, coef)
    return OneDimensionalFit(
        LinearSpline.from_network(network, tol=_jump_tol(network)), penalty, problem.predict(coef), penalty, bias,
        network=network,
        method=f"minimum group-l1 C-ReLU over all {problem.patterns.n_patterns} patterns",
    )


def _jump_tol(network):
    """Slope changes this small relative to the largest neuron are solver noise, not knots."""
    size = np.abs(network.w2) * np.abs(network.W1[0]) if network.n_neurons else np.zeros(1)
    return 1e-7 * max(float(size.max(initial=0.0)), 1e-300)


def min_norm_program(problem):
    """Solve ``min R(U)`` over the blocks of ``problem`` subject to fitting its targets.

    Equality ``predict(U) = y`` for the squared and logistic losses, margins ``y * predict(U) >= 1``
    for the hinge loss, plus the problem's cone constraints. This is the generic reference for the
    minimum-norm interpolants of the paper.

    Returns
    -------
    coef : ndarray of shape ``problem.coef_shape``
    value : float
        The minimum of ``problem.penalty``.
    """
    U = cp.Variable((problem.n_features, problem.n_blocks))
    features = problem.design @ U
    weights = problem.patterns.mask[:, problem.block_pattern] * problem.block_sign
    pred = cp.sum(cp.multiply(weights, features), axis=1)
    if problem.loss.name == "hinge":
        constraints = [cp.multiply(problem.y, pred) >= 1]
    else:
        constraints = [pred == problem.y]
    orientation = problem.constraint_orientation()
    if orientation is not None:
        constraints.append(cp.multiply(orientation, features) >= 0)
    program = cp.Problem(cp.Minimize(problem.penalty.cvxpy(U)), constraints)
    program.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if program.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise RuntimeError(f"the minimum-norm program ended with status {program.status!r}.")
    coef = np.asarray(U.value).T
    return coef, problem.penalty.value(coef)


def rank_one_factors(X, *, rtol=1e-9):
    """Write a rank-one ``X`` as ``c a^T`` with ``||a|| = 1``; ValueError when ``X`` is not rank one.

    Returns
    -------
    c : ndarray of shape (n_samples,)
    a : ndarray of shape (n_features,), unit norm
    """
    X = check_matrix(X, "X")
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    if s[0] == 0:
        raise ValueError("X is zero; rank-one data X = c a^T need c and a non-zero.")
    if s.size > 1 and s[1] > rtol * s[0]:
        raise ValueError(
            f"X must be rank one (X = c a^T): its second singular value is {s[1]:.3g}, "
            f"{s[1] / s[0]:.3g} times the first (tolerance rtol={rtol:g})."
        )
    c, a = U[:, 0] * s[0], Vt[0]
    if c.sum() < 0:  # a canonical sign: c mostly non-negative
        c, a = -c, -a
    return c, a


def fit_rank_one(X, y, lam, *, loss="squared", fit_intercept=True, solver=None, rtol=1e-9):
    """Exact optimal network on rank-one data ``X = c a^T``, through the 1-D problem in ``c``.

    For a neuron ``(u, b)``, ``X u + b = c (a^T u) + b`` depends on ``u`` only through ``w = a^T u``,
    and ``||(u, b)|| >= ||(w, b)||`` with equality for ``u = w a`` (``||a|| = 1``). So the problem is
    the 1-D problem on ``x = c`` (Ergen & Pilanci 2021, rank-one case of Sec. 3), solved exactly by
    :func:`fit_1d` (biases regularized), and each 1-D neuron ``(w, b, a_j)`` maps back to
    ``(w a, b, a_j)`` with the same norm, predictions and objective.

    Returns
    -------
    network : ReLUNetwork
        On the original ``n_features`` inputs.
    fit : OneDimensionalFit
        The 1-D fit in ``c`` (its spline is ``f`` as a function of ``c``).
    """
    c, a = rank_one_factors(X, rtol=rtol)
    fit = fit_1d(c[:, None], y, lam, loss=loss, fit_intercept=fit_intercept, solver=solver)
    net = fit.network
    network = ReLUNetwork(a[:, None] * net.W1, net.w2.copy(), None if net.b1 is None else net.b1.copy())
    return network, fit
