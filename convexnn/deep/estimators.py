"""scikit-learn estimators for deep parallel ReLU networks trained by convex programs.

:class:`DeepConvexReLURegressor` and :class:`DeepConvexReLUClassifier` run the deep route

    X, y --validate_data--> sample_nested_patterns --> DeepReLUProblem --> solver
         --> SolveResult --> ParallelReLUNetwork.from_convex --> predict

and otherwise behave like their two-layer siblings (:class:`~convexnn.ConvexReLURegressor`,
:class:`~convexnn.ConvexReLUClassifier`), whose fit route and target handling (centering,
one-vs-rest, string labels) they inherit: they declare their parameters and their model family,
:class:`~convexnn.deep.family.DeepFamily`, which supplies the deep patterns, programs, networks
and certificate. The program has ``prod_l 2 P_l`` blocks for ``P_l`` patterns at level ``l``, so
the pattern budgets multiply across levels: a MemoryError naming them is raised before anything
large is allocated.
"""

from numbers import Integral, Real

from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..estimators import ConvexReLUClassifier, ConvexReLURegressor
from .family import DeepFamily

__all__ = ["DeepConvexReLURegressor", "DeepConvexReLUClassifier"]


class _DeepMixin:
    """The deep parameters and family, mixed in front of the two-layer estimators (which supply
    the targets and the fit route)."""

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "depth": [Interval(Integral, 3, None, closed="left")],
        "n_patterns": [Interval(Integral, 1, None, closed="left")],
        "n_upper_patterns": [Interval(Integral, 1, None, closed="left")],
        "pattern_search": [StrOptions({"sampled", "enumerated", "sgd"})],
        "solver": [str, HasMethods(["solve"])],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        depth=3,
        n_patterns=10,
        n_upper_patterns=5,
        pattern_search="sampled",
        solver="auto",
        fit_intercept=True,
        max_iter=None,
        tol=1e-4,
        random_state=None,
        verbose=False,
    ):
        self.alpha = alpha
        self.depth = depth
        self.n_patterns = n_patterns
        self.n_upper_patterns = n_upper_patterns
        self.pattern_search = pattern_search
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _family(self):
        """The deep family (:class:`~convexnn.deep.family.DeepFamily`) of these parameters."""
        return DeepFamily(
            loss=self._loss, depth=self.depth, n_patterns=self.n_patterns,
            n_upper_patterns=self.n_upper_patterns, fit_intercept=self.fit_intercept,
            pattern_search=self.pattern_search, random_state=self.random_state,
        )


_DEEP_DOC = """

    Parameters
    ----------
    alpha : float, default=1e-3
        Path-regularization strength ``lam`` (>= 0).
    depth : int, default=3
        Network depth ``L >= 3`` (``L - 1`` hidden levels; each sub-network ends in one unit).
    n_patterns : int, default=10
        Level-1 patterns sampled (Gaussian gates on ``X``).
    n_upper_patterns : int, default=5
        Patterns sampled at each level above the first (units of a random network on top of the
        level below). The program has ``2 n_patterns (2 n_upper_patterns)^(depth - 2)`` blocks.
    pattern_search : {'sampled', 'enumerated', 'sgd'}, default='sampled'
        'enumerated' lists every level-1 pattern and every non-empty mask above (at most 12
        samples): the exact program for 1-D data with an intercept. 'sgd' trains a parallel
        network with Adam (``n_upper_patterns`` sub-networks of width ``n_patterns``, the same
        path-regularized objective, 500 epochs), takes its own patterns at every level and solves
        the program over them from its embedding (doc/math.rst): the fit is never worse than that
        network, and is better when the solver improves on it.
    solver : str or Solver, default='auto'
        'auto' (the native interior-point method where its dense Newton system fits, else the
        augmented Lagrangian), any installed cvxpy solver name, or an object
        with ``solve(problem, init=None)``. ADMM does not take nested constraints.
    fit_intercept : bool, default=True
        Append a ones column to ``X`` (first-layer biases, penalized like the weights).
    max_iter, tol : as for the two-layer estimators.
    random_state : int, RandomState instance or None, default=None
    verbose : bool or int, default=False

    Attributes
    ----------
    coefs_ : list of ndarray
        The network's parameters ``[W1, ..., W_{L-1}, c]`` (see
        :class:`~convexnn.deep.ParallelReLUNetwork`); a list of such lists for several outputs.
    n_subnetworks_ : int
        Sub-networks with a non-zero output weight.
    n_active_neurons_ : int
        First-layer units (non-zero blocks) in all.
    objective_ : float
        Convex objective (loss plus ``alpha`` times the path penalty), summed over outputs.
    lower_bound_ : float or None
        Certified lower bound on the optimum of the program over the sampled patterns, from the
        solver's dual point (None for solvers that give none); ``optimality_gap_`` is the
        relative gap to it. It bounds the restricted program, not the infinite-width one.
    sgd_objective_ : float or None
        With ``pattern_search='sgd'``: the path-regularized objective of the Adam network(s) the
        patterns came from, summed over outputs; ``objective_`` is never above it. None otherwise.
    patterns_ : NestedPatterns
    n_outputs_ : int
        Number of convex programs solved (targets, 1 for two classes, else classes).
    objective_curve_ : ndarray of shape (n_records,)
        The convex objective summed over outputs at every iteration the solver recorded (empty
        for cvxpy), as for the two-layer estimators.
    n_iter_, solver_status_, n_features_in_, feature_names_in_ : as for the two-layer estimators.
    """


class DeepConvexReLURegressor(_DeepMixin, ConvexReLURegressor):
    __doc__ = (
        """Deep parallel ReLU regressor trained by its convex program (path regularization).

    For each output column ``y`` (centered when ``fit_intercept``) it solves the program of
    :class:`~convexnn.deep.DeepReLUProblem` with the squared loss,
    ``(1/2n) ||f(X) - y||^2 + alpha R``, over sampled patterns at every level, and maps the solution
    to a :class:`~convexnn.deep.ParallelReLUNetwork` with the same predictions and objective.
    """
        + _DEEP_DOC
    )

    _loss = "squared"  # the two-layer regressor's ``loss`` parameter is not a deep one


class DeepConvexReLUClassifier(_DeepMixin, ConvexReLUClassifier):
    __doc__ = (
        """Deep parallel ReLU classifier trained by its convex program (logistic loss).

    Binary labels map to -1/+1; more classes are fitted one-vs-rest over shared patterns, as for
    :class:`~convexnn.ConvexReLUClassifier` (whose ``predict_proba`` and ``decision_function``
    it inherits). With ``fit_intercept`` each output also has an unpenalized offset, minimized out
    of the logistic loss as for :class:`~convexnn.ConvexReLUClassifier`.
    """
        + _DEEP_DOC
    )
