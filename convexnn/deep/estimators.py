"""scikit-learn estimators for deep parallel ReLU networks trained by convex programs.

:class:`DeepConvexReLURegressor` and :class:`DeepConvexReLUClassifier` run the deep route

    X, y --validate_data--> sample_nested_patterns --> DeepReLUProblem --> solver
         --> SolveResult --> ParallelReLUNetwork.from_convex --> predict

and otherwise behave like their two-layer siblings (:class:`~convexnn.ConvexReLURegressor`,
:class:`~convexnn.ConvexReLUClassifier`), whose target handling (centering, one-vs-rest,
string labels) they inherit. The program has ``prod_l 2 P_l`` blocks for ``P_l`` patterns at level
``l``, so the pattern budgets multiply across levels: a MemoryError naming them is raised before
anything large is allocated.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..estimators import ConvexReLUClassifier, ConvexReLURegressor
from ..memory import check_deep_memory
from ..patterns import ActivationPatterns
from ..search import adam_embeddings, objective_curve
from .networks import ParallelReLUNetwork
from .patterns import NestedPatterns, enumerate_nested_patterns, sample_nested_patterns
from .problems import DeepReLUProblem, reindex

__all__ = ["DeepConvexReLURegressor", "DeepConvexReLUClassifier"]


class _DeepMixin:
    """The deep route, mixed in front of the two-layer estimators (which supply the targets)."""

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

    def _sizes(self):
        return [self.n_patterns] + [self.n_upper_patterns] * (self.depth - 2)

    def _sgd_shape(self):
        """Adam's network for pattern_search='sgd': n_upper_patterns sub-networks of width
        n_patterns at every hidden level below the last."""
        return self.n_upper_patterns, [self.n_patterns] * (self.depth - 2)

    def _max_sizes(self, n_outputs=1):
        if self.pattern_search != "sgd":
            return self._sizes()
        K, widths = self._sgd_shape()
        # every unit brings at most one pattern of its level, per output
        return [n_outputs * K * m for m in widths] + [n_outputs * K]

    def _validate_fit_data(self, X, y):
        from sklearn.utils.validation import validate_data

        X, y = validate_data(self, X, y, **self._validate_kwargs)
        if self.pattern_search != "enumerated":
            check_deep_memory(
                X.shape[0], X.shape[1], self._max_sizes(), self.fit_intercept,
                solver=self._get_solver(),
            )
        return X, y

    def _nested_patterns(self, X):
        if self.pattern_search == "enumerated":
            return enumerate_nested_patterns(X, depth=self.depth, fit_intercept=self.fit_intercept)
        return sample_nested_patterns(
            X, self._sizes(), depth=self.depth, fit_intercept=self.fit_intercept,
            random_state=self.random_state,
        )

    def _problems(self, X, targets, patterns, alpha):
        return [DeepReLUProblem(X, t, patterns, lam=alpha, loss=self._loss) for t in targets.T]

    def _sgd_programs(self, X, targets):
        """Adam-trained networks (one per output, :func:`convexnn.search.adam_embeddings`),
        embedded over their own patterns (united).

        Returns the united patterns, the problems over them and, per output, the embedded point:
        feasible with the trained network's predictions and at most its path objective (zero for
        an output whose network died). Sets ``sgd_objective_``.
        """
        K, widths = self._sgd_shape()
        embedded, self.sgd_objective_ = adam_embeddings(
            X, targets, self.alpha, self._loss,
            lambda seed: ParallelReLUNetwork.random(
                X.shape[1], K, widths, fit_intercept=self.fit_intercept, random_state=seed
            ),
            random_state=self.random_state, max_epochs=_SGD_EPOCHS,
        )
        patterns, maps = None, []
        for _, problem, _ in embedded:
            if patterns is None:
                patterns, maps = problem.nested, [[np.arange(s) for s in problem.nested.sizes]]
            else:
                patterns, (old, new) = patterns.union(problem.nested)
                maps = [[o[m] for o, m in zip(old, prev)] for prev in maps] + [new]
        if patterns is None:  # every Adam network died: fall back to sampled patterns
            patterns = self._nested_patterns(X)
        problems = self._problems(X, targets, patterns, self.alpha)
        init = [problem.zeros() for problem in problems]
        for (c, problem, coef), m in zip(embedded, maps):
            init[c] = reindex(problem, coef, problems[c], m)
        return patterns, problems, init

    def _fit_programs(self, X, targets):
        self.sgd_objective_ = None
        self._solves = []
        if self.pattern_search == "sgd":
            patterns, problems, init = self._sgd_programs(X, targets)
            results = self._solve(self._get_solver(), problems, init, keep_start=True)
        else:
            patterns = self._nested_patterns(X)
            if self.pattern_search == "enumerated":
                check_deep_memory(
                    X.shape[0], X.shape[1], patterns.sizes, self.fit_intercept,
                    solver=self._get_solver(),
                )
            problems = self._problems(X, targets, patterns, self.alpha)
            results = self._solve(self._get_solver(), problems, None)
        self._store(patterns, results, self._map_networks(problems, results),
                    objective_curve(self._solves))
        del self._solves
        self._certify(X, problems, results, None)

    # ------------------------------------------------------------------ hooks of the base route
    def _path_patterns(self, X, targets):
        """The one pattern set of :meth:`regularization_path`: sampled (or enumerated)."""
        return self._nested_patterns(X)

    def _full_patterns(self, X):
        """None: the deep certificate bounds the program over the sampled patterns only."""
        return None

    def _map_networks(self, problems, results):
        return self._scaled_networks(
            [ParallelReLUNetwork.from_convex(p, r.coef) for p, r in zip(problems, results)]
        )

    def _certify(self, X, problems, results, full):
        """The solver's bounds (:meth:`_bounds`); there is no oracle over all nested patterns."""
        self._bounds(results)

    def _bounds(self, results):
        """``lower_bound_``: the certified lower bound on the optimum of the programs solved (over
        the sampled patterns; None when a solver gives none) and the relative gap to it."""
        bounds = [r.lower_bound for r in results]
        if any(b is None for b in bounds):
            self.lower_bound_, self.optimality_gap_ = None, None
            return
        self.lower_bound_ = float(sum(bounds))
        self.optimality_gap_ = float(
            (self.objective_ - self.lower_bound_) / max(abs(self.objective_), np.finfo(float).tiny)
        )

    def _set_weights(self):
        nets = self._networks
        self.n_subnetworks_ = int(sum(int(np.any(net.output != 0)) * net.n_subnetworks for net in nets))
        self.n_active_neurons_ = int(
            sum(np.count_nonzero(np.linalg.norm(net.layers[0], axis=1)) for net in nets)
        )
        self.coefs_ = [net.parameters() for net in nets] if len(nets) > 1 else nets[0].parameters()

    # ------------------------------------------------------------------ persistence
    # save, load and the protocol methods are the two-layer estimators'; these hooks store the
    # nested patterns and the parallel networks

    #: fitted attributes that :meth:`_set_weights` derives from the networks: rebuilt on load
    _DERIVED_ATTRIBUTES = ("coefs_", "n_subnetworks_", "n_active_neurons_")

    def _model_state(self):
        """``patterns_`` (every level) and the per-output parallel networks as
        ``(meta, arrays)``; :meth:`_model_from_state` reads them back."""
        first = self.patterns_.first
        meta = {
            "patterns_fit_intercept": first.fit_intercept,
            "n_upper_levels": len(self.patterns_.upper),
            "n_layers": len(self._networks[0].layers),
        }
        arrays = {"patterns_gates": first.gates, "patterns_mask": first.mask}
        for level, mask in enumerate(self.patterns_.upper):
            arrays[f"patterns_upper{level}"] = mask
        for c, net in enumerate(self._networks):
            arrays[f"net{c}_output"] = net.output
            for l, W in enumerate(net.layers):
                arrays[f"net{c}_layer{l}"] = W
        return meta, arrays

    def _model_from_state(self, meta, arrays):
        """``(patterns, networks)`` from what :meth:`_model_state` wrote, removing the arrays it
        reads from ``arrays``."""
        fit_intercept = meta["patterns_fit_intercept"]
        first = ActivationPatterns(
            arrays.pop("patterns_gates"), arrays.pop("patterns_mask"), fit_intercept
        )
        levels = range(int(meta["n_upper_levels"]))
        upper = [arrays.pop(f"patterns_upper{level}") for level in levels]
        networks = [
            ParallelReLUNetwork(
                [arrays.pop(f"net{c}_layer{l}") for l in range(int(meta["n_layers"]))],
                arrays.pop(f"net{c}_output"),
                fit_intercept=fit_intercept,
            )
            for c in range(int(meta["n_outputs"]))
        ]
        return NestedPatterns(first, upper), networks


#: Adam epochs for pattern_search='sgd'
_SGD_EPOCHS = 500


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
        'auto' (the native augmented Lagrangian), any installed cvxpy solver name, or an object
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

    def _map_networks(self, problems, results):
        self._offset = self._fitted_offsets(problems, results)
        return super()._map_networks(problems, results)
