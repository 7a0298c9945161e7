"""Spike-free data matrices, their convex program, and the extreme points along basis directions.

Ergen & Pilanci (JMLR 2021, "Convex Geometry and Duality of Over-parameterized Neural Networks")
call ``X`` *spike-free* when every ReLU feature vector of a bounded neuron is a linear feature of a
bounded neuron: for every ``||u|| <= 1`` there is ``||z|| <= 1`` with ``(X u)_+ = X z``. Equivalently
(the paper's test) ``(X u)_+`` lies in the range of ``X`` for all ``u`` and

    max_{||u|| <= 1} ||X^+ (X u)_+||  <=  1.

Then the infinite-width problem collapses to the two-neuron convex program

    min_{w1, w2}  (1/n) sum_k l([X (w1 - w2)]_k, y_k) + lam (||w1|| + ||w2||)
    s.t.  X w1 >= 0,  X w2 >= 0,

which is the C-ReLU program with the single all-on pattern; for any ``X`` its optimum is attained by a
two-neuron network, so it is an upper bound on the true optimum, with equality for spike-free ``X``.
Whitened data and rank-one data ``c a^T`` with ``c >= 0`` (or ``c <= 0``) are spike-free.

The maximization in the test is non-convex. :func:`check_spike_free` answers exactly where it can
(whitened or rank-one ``X``; a witness ``u`` that violates the test; or the spectral bound
``||X^+ D X||_2 <= 1`` for every pattern ``D``, which proves it) and otherwise reports an estimate
(a lower bound on the maximum from a local search) with ``exact=False``.

:func:`basis_extreme_points` computes, for each sample ``i``, the largest multiple ``t_i e_i`` of the
basis direction ``e_i`` in ``{(A u)_+ : ||u|| <= 1}`` (``A`` = ``X`` with a ones column): the neuron
that fires on sample ``i`` alone (the paper's Lemma 7 neurons). It exists (``t_i > 0``) exactly when
``x_i`` is a vertex of the convex hull of the samples, and when every sample is one, the network
``sum_i (y_i / t_i) (A u_i)_+`` interpolates the data.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls

from ..networks import ReLUNetwork, from_convex
from ..patterns import ActivationPatterns, count_patterns, enumerate_patterns
from ..problems import ReLUProblem
from ..solvers import CvxpySolver
from ..validation import add_intercept, check_matrix, check_positive, check_random_state, check_target

__all__ = [
    "SpikeFreeReport",
    "check_spike_free",
    "spike_free_program",
    "fit_spike_free",
    "BasisExtremePoints",
    "basis_extreme_points",
]


@dataclass
class SpikeFreeReport:
    """Outcome of :func:`check_spike_free`.

    Attributes
    ----------
    spike_free : bool or None
        The answer; None when it could not be decided (then see ``estimate``).
    exact : bool
        True when ``spike_free`` is proved (a theorem, a witness or a certified bound); False when
        it rests on an estimate.
    method : str
        How the answer was reached.
    lower : float
        A value of ``||X^+ (X u)_+||`` actually attained at some unit ``u`` (a lower bound on the max).
    upper : float
        A proved upper bound on the max (``inf`` when none was proved).
    witness : ndarray or None
        A unit ``u`` that violates spike-freeness, when one was found.
    """

    spike_free: object
    exact: bool
    method: str
    lower: float = 0.0
    upper: float = np.inf
    witness: object = None
    details: dict = field(default_factory=dict)

    @property
    def estimate(self):
        """The best available estimate of ``max ||X^+ (X u)_+||`` (the attained ``lower``)."""
        return self.lower


def _objective(Apinv, A, u):
    return float(np.linalg.norm(Apinv @ np.maximum(A @ u, 0.0)))


def check_spike_free(
    X, *, fit_intercept=False, n_starts=200, max_patterns=2000, tol=1e-9, random_state=0
):
    """Decide whether ``X`` is spike-free (Ergen & Pilanci 2021), exactly where possible.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    fit_intercept : bool, default=False
        Test ``[X, 1]`` instead of ``X``.
    n_starts : int, default=200
        Random starts of the local search for a violating ``u``.
    max_patterns : int, default=2000
        Enumerate the activation patterns when there are at most this many (needed for the range
        test and the spectral certificate); otherwise only the search runs and a positive answer is
        an estimate.
    tol : float, default=1e-9
        Slack of the comparisons with 1 and of the range test.
    random_state : int, Generator or None

    Returns
    -------
    SpikeFreeReport
    """
    A = check_matrix(X, "X")
    A = add_intercept(A) if fit_intercept else A
    check_positive(n_starts, "n_starts", integer=True)
    rng = check_random_state(random_state)
    n, d = A.shape
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    rank = int(np.sum(s > max(A.shape) * np.finfo(float).eps * s[0]))
    if rank == 0:
        raise ValueError("X is zero; every (X u)_+ is 0, which is trivially spike-free.")
    # exact cases first
    if n <= d and np.abs(A @ A.T - np.eye(n)).max() <= 1e-8:
        return SpikeFreeReport(True, True, "whitened (X X^T = I): spike-free by the paper's result", 1.0, 1.0)
    if rank == 1:
        c = U[:, 0]
        nz = np.abs(c) > 1e-12 * np.abs(c).max()
        same_sign = np.all(c[nz] > 0) or np.all(c[nz] < 0)
        witness = None if same_sign else Vt[0] * np.sign(c[np.argmax(np.abs(c))])
        return SpikeFreeReport(
            bool(same_sign), True,
            "rank one (X = c a^T): spike-free exactly when c has one sign", witness=witness,
        )
    Apinv = np.linalg.pinv(A)
    P_range = U[:, :rank] @ U[:, :rank].T
    # local search for a violating u (lower bound, always valid)
    best, best_u = 0.0, None
    starts = rng.standard_normal((d, n_starts))
    for u in starts.T:
        u = u / np.linalg.norm(u)
        for _ in range(30):  # fixed-pattern power steps, patterns updated as u moves
            mask = A @ u >= 0
            M = Apinv @ (mask[:, None] * A)
            g = M.T @ (M @ u)
            if np.linalg.norm(g) == 0:
                break
            u = g / np.linalg.norm(g)
        value = _objective(Apinv, A, u)
        off_range = float(np.linalg.norm(np.maximum(A @ u, 0) - P_range @ np.maximum(A @ u, 0)))
        if off_range > tol * max(1.0, np.linalg.norm(A @ u)):
            return SpikeFreeReport(
                False, True, "witness: (X u)_+ is outside the range of X", value, np.inf, u,
                {"range_residual": off_range},
            )
        if value > best:
            best, best_u = value, u
    if best > 1 + tol:
        return SpikeFreeReport(
            False, True, "witness: ||X^+ (X u)_+|| > 1 at a unit u", best, np.inf, best_u
        )
    # certificates over all patterns, when they can be listed
    if count_patterns(n, rank) <= max_patterns:
        patterns = enumerate_patterns(A, max_patterns=max_patterns, drop_zero=True)
        upper = 0.0
        for g, mask in zip(patterns.gates.T, patterns.mask.T):
            DA = mask[:, None] * A
            residual = DA - P_range @ DA
            if np.abs(residual).max() > tol * max(1.0, np.abs(A).max()):
                # the cell has interior and the gate is inside it: its ReLU features leave the range
                u = g / np.linalg.norm(g)
                return SpikeFreeReport(
                    False, True, "witness: a pattern's features leave the range of X",
                    _objective(Apinv, A, u), np.inf, u,
                )
            upper = max(upper, float(np.linalg.norm(Apinv @ DA, 2)))
        if upper <= 1 + tol:
            return SpikeFreeReport(
                True, True, "certified: ||X^+ D X||_2 <= 1 for every pattern D", best, upper
            )
        return SpikeFreeReport(
            None, False,
            "undecided: every pattern keeps (X u)_+ in range, but the spectral bound exceeds 1; "
            "estimate = best value found by local search",
            best, upper, details={"n_patterns": patterns.n_patterns},
        )
    return SpikeFreeReport(
        True if best <= 1 + tol else None, False,
        "estimate: no violation found by local search (too many patterns to certify)", best, np.inf,
    )


def spike_free_program(X, y, lam, *, loss="squared", fit_intercept=False):
    """The spike-free convex program as a :class:`~convexnn.problems.ReLUProblem`.

    ``min (1/n) sum_k l([X (w1 - w2)]_k, y_k) + lam (||w1|| + ||w2||)`` s.t. ``X w1 >= 0``,
    ``X w2 >= 0`` is the C-ReLU program restricted to the single all-on pattern ``D = I`` (gate 0),
    so it reuses the package's problem, solvers and network map.
    """
    X = check_matrix(X, "X")
    width = X.shape[1] + bool(fit_intercept)
    patterns = ActivationPatterns.from_gates(X, np.zeros((width, 1)), fit_intercept=fit_intercept)
    return ReLUProblem(X, y, patterns, lam=lam, loss=loss)


def fit_spike_free(X, y, lam, *, loss="squared", fit_intercept=False, solver=None):
    """Solve :func:`spike_free_program` and map it to a network of at most two neurons.

    The value is an upper bound on the optimal training objective for every ``X`` (the network
    attains it) and equals it when ``X`` is spike-free (Ergen & Pilanci 2021).

    Returns
    -------
    network : ReLUNetwork
    result : SolveResult
    """
    problem = spike_free_program(X, y, lam, loss=loss, fit_intercept=fit_intercept)
    solver = CvxpySolver("CLARABEL", tol=1e-10) if solver is None else solver
    result = solver.solve(problem)
    return from_convex(problem, result.coef), result


@dataclass
class BasisExtremePoints:
    """Outcome of :func:`basis_extreme_points`.

    Attributes
    ----------
    directions : ndarray of shape (n_features (+1), n_samples)
        Unit neuron ``u_i`` per sample (zero column where ``t_i = 0``).
    scale : ndarray of shape (n_samples,)
        ``t_i = max { t : t e_i in {(A u)_+ : ||u|| <= 1} }``.
    is_vertex : ndarray of bool, shape (n_samples,)
        ``t_i > 0``: sample ``i`` can be switched on alone (a vertex of the convex hull when
        ``fit_intercept``).
    fit_intercept : bool
    """

    directions: np.ndarray
    scale: np.ndarray
    is_vertex: np.ndarray
    fit_intercept: bool

    @property
    def all_vertices(self):
        return bool(self.is_vertex.all())

    def interpolating_network(self, y):
        """The network ``sum_i (y_i / t_i) (A u_i)_+`` (balanced neurons); needs every ``t_i > 0``.

        It outputs ``y`` exactly on the training samples; its path norm ``sum_i |y_i| / t_i`` is an
        upper bound on the minimum-norm interpolant.
        """
        y = check_target(y, self.scale.shape[0])
        if not self.all_vertices:
            missing = np.flatnonzero(~self.is_vertex)
            raise ValueError(
                f"samples {missing.tolist()} are not vertices of the convex hull (t_i = 0); no "
                "neuron switches them on alone, so this network cannot interpolate."
            )
        out = y / self.scale
        root = np.sqrt(np.abs(out))
        U = self.directions * root
        if self.fit_intercept:
            return ReLUNetwork(U[:-1], np.sign(out) * root, U[-1])
        return ReLUNetwork(U, np.sign(out) * root)


def basis_extreme_points(X, *, fit_intercept=True, tol=1e-10):
    """The extreme points of ``{(A u)_+ : ||u|| <= 1}`` along each basis direction ``e_i``.

    ``t_i = max x~_i^T u`` over ``||u|| <= 1`` and ``x~_j^T u <= 0`` for ``j != i`` (``x~`` the rows
    of ``A``). By Moreau's decomposition, with ``B`` the other rows, the maximizer is
    ``u_i = r / ||r||`` for the residual ``r = x~_i - B^T mu`` of the non-negative least squares
    ``min_{mu >= 0} ||x~_i - B^T mu||`` (the projection on the polar cone), and ``t_i = ||r||``.
    With ``fit_intercept`` the last coordinate forces ``sum mu = 1`` when ``r = 0``, so ``t_i > 0``
    exactly when ``x_i`` is not in the convex hull of the other samples (a vertex). These are the
    single-sample neurons of the paper's Lemma 7 (Ergen & Pilanci 2021).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    fit_intercept : bool, default=True
    tol : float
        ``t_i <= tol * ||x~_i||`` counts as 0.

    Returns
    -------
    BasisExtremePoints
    """
    X = check_matrix(X, "X")
    A = add_intercept(X) if fit_intercept else X
    n, d = A.shape
    directions = np.zeros((d, n))
    scale = np.zeros(n)
    for i in range(n):
        others = np.delete(A, i, axis=0)
        mu, _ = nnls(others.T, A[i], maxiter=50 * n)
        r = A[i] - others.T @ mu
        t = float(np.linalg.norm(r))
        if t > tol * max(1.0, float(np.linalg.norm(A[i]))):
            directions[:, i] = r / t
            scale[i] = t
    return BasisExtremePoints(directions, scale, scale > 0, fit_intercept)
