"""scikit-learn estimators that train two-layer ReLU networks by convex optimization.

:class:`ConvexReLURegressor` and :class:`ConvexReLUClassifier` wire the route of the package
together and store the outcome as fitted attributes named like scikit-learn's MLP::

    X, y --validate_data--> patterns (convexnn.search: sampled, enumerated, Adam start,
         column generation) --> ReLUProblem / GatedReLUProblem --> solver (guarded)
         --> SolveResult --> from_convex --> network  (coefs_, intercepts_, predict)

They reimplement none of those steps. The route is written once, in ``_fit_programs``; what
depends on the kind of network (the patterns of each search, the programs, the Adam start, the
growth of the patterns, the map to networks, the certificate, the memory check, the saved form)
is asked of the estimator's *model family* (:mod:`convexnn.families`:
:class:`~convexnn.families.TwoLayerFamily` here, :class:`~convexnn.deep.family.DeepFamily` for
:mod:`convexnn.deep.estimators`), built from the parameters by ``_family()``. The pattern search
itself is :mod:`convexnn.search`, the certificate :mod:`convexnn.certificates`. Outputs
(regression targets, or classes one-vs-rest) are independent convex programs over one shared set
of activation patterns; the fitted network is the union of the per-output networks (its hidden
layer stacks their neurons, and each neuron feeds only its own output).

:func:`path_fits` (a fitted copy per ``alpha`` along a warm-started path over one set of
patterns) and :func:`prepared` (the family and the targets of a fit) are the seam that
:mod:`convexnn.model_selection` builds on.

Preprocessing is left to the user, as for ``MLPRegressor``: put a ``StandardScaler`` in front
(``make_pipeline(StandardScaler(), ConvexReLURegressor())``). The pattern sampler draws Gaussian
gates, which suits features of comparable scale, and ``alpha`` is only meaningful relative to the
scale of ``X`` (and, for regression, of ``y``). The one transformation done inside is centering
the regression target when ``fit_intercept=True`` (see the class docstring).

Array API (scikit-learn's convention): under ``sklearn.config_context(array_api_dispatch=True)``
the estimators accept torch tensors and CuPy arrays. The data go to the host once for validation,
patterns and certificates; the first-order solvers (FISTA for ``formulation='gated'``, the augmented
Lagrangian with ``solver='native'``) iterate on the input's device; the interior point, which
``solver='auto'`` picks for the ReLU program, is numpy on the host (a host round trip: it is
certified in tens of Newton steps where the first-order ReLU solver stalls). ``coefs_``,
``intercepts_`` and ``gates_`` come back in the input's namespace and device, and so do the outputs
of ``predict``, ``decision_function`` and ``predict_proba`` (computed on the host).

Persistence: instances pickle; :meth:`~_ConvexReLUBase.save` and :func:`convexnn.persistence.load`
write and read a plain ``.npz`` file that executes no code when loaded.
"""

import logging
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, clone
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._array_api import dispatch_namespace, like_input, move_fitted, to_numpy
from .families import TwoLayerFamily
from .losses import REGRESSION_LOSSES
from .patterns import ActivationPatterns
from .search import objective_curve, solve_outputs
from .solvers import get_solver
from .solvers import regularization_path as _solver_path
from .solvers.guard import Guarded

__all__ = ["ConvexReLURegressor", "ConvexReLUClassifier"]

logger = logging.getLogger(__name__)


class _ConvexReLUBase(BaseEstimator):
    """Shared fit machinery; see :class:`ConvexReLURegressor` for the parameters."""

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "n_patterns": [Interval(Integral, 1, None, closed="left")],
        "formulation": [StrOptions({"relu", "gated"})],
        "solver": [str, HasMethods(["solve"])],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "pattern_search": [
            StrOptions({"auto", "sampled", "enumerated", "column_generation", "sgd"})
        ],
    }

    _loss = None  # the loss's name, set by the subclasses

    def __init__(
        self,
        alpha=1e-2,
        *,
        n_patterns=50,
        formulation="relu",
        solver="auto",
        fit_intercept=True,
        max_iter=None,
        tol=1e-4,
        random_state=None,
        verbose=False,
        warm_start=False,
        pattern_search="auto",
    ):
        self.alpha = alpha
        self.n_patterns = n_patterns
        self.formulation = formulation
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.pattern_search = pattern_search

    # ------------------------------------------------------------------ the route
    def _family(self):
        """The model family of this estimator (:mod:`convexnn.families`), from its parameters:
        what the fit route needs to know of the networks it trains."""
        return TwoLayerFamily(
            loss=self._loss, formulation=self.formulation, n_patterns=self.n_patterns,
            fit_intercept=self.fit_intercept, pattern_search=self.pattern_search,
            random_state=self.random_state, tol=self.tol,
        )

    def _get_solver(self):
        if isinstance(self.solver, str):
            return get_solver(
                self.solver, tol=self.tol, max_iter=self.max_iter, verbose=bool(self.verbose)
            )
        return get_solver(self.solver)  # an instance carries its own options

    def _strategy(self, X):
        """The pattern search to run: ``pattern_search``, with 'auto' resolved for this ``X``
        (the rule and the measurements behind it are in the class docstring)."""
        return self._family().strategy(X)

    def _previous_patterns(self, X):
        """With ``warm_start``, the previous fit's gates as patterns of ``X`` (None if unusable,
        and for the estimators without ``warm_start``)."""
        if not (getattr(self, "warm_start", False) and hasattr(self, "patterns_")):
            return None
        previous = self.patterns_
        if (
            previous.fit_intercept == self.fit_intercept
            and previous.gates.shape[0] == X.shape[1] + self.fit_intercept
        ):
            return ActivationPatterns.from_gates(
                X, previous.gates, fit_intercept=self.fit_intercept
            )
        return None

    def _progress(self, iterable, desc):
        if self.verbose:
            from tqdm.auto import tqdm

            return tqdm(iterable, desc=desc)
        return iterable

    def _solve(self, solver, problems, init, keep_start=False):
        """Solve each output's program (from ``init[c]`` where its shape fits) through
        :class:`~convexnn.solvers.guard.Guarded`; with ``keep_start`` the starts are feasible and
        a result that is not better than its start is replaced by the start. The results are
        recorded for ``objective_curve_``."""
        namespace = getattr(self, "_array_namespace", None)
        if namespace is not None:  # array API dispatch: first-order solvers iterate on the device
            problems = [problem.with_namespace(*namespace) for problem in problems]
        results = solve_outputs(
            Guarded(solver, keep_start=keep_start), problems, init, progress=self._progress
        )
        self._solves.append(results)
        return results

    def _fit(self, X, y):
        """The fit shared by regressor and classifier: targets, then :meth:`_fit_programs`."""
        namespace = dispatch_namespace(X, y)
        self._array_namespace = namespace
        try:
            X, targets = self._prepare_fit(to_numpy(X), to_numpy(y))
            self._fit_programs(X, targets)
        finally:
            del self._array_namespace
        if namespace is not None:
            move_fitted(self, *namespace)
        return self

    def _fit_programs(self, X, targets):
        """Find patterns (per ``pattern_search``), solve, certify, and store the fitted attributes.

        The family (:meth:`_family`) supplies each step: the starting patterns of the search (the
        previous fit's gates with ``warm_start``) or the Adam start, the programs, the growth of
        the patterns after the start, the networks and the certificate. With column generation
        (also after the 'sgd' start) the outputs share one growing set of patterns
        (:func:`convexnn.search.grow_patterns`): each round adds, up to the ``n_patterns``
        budget, the candidate patterns whose dual constraint is most violated for any output,
        and re-solves from its previous solution every output for which an added pattern is
        violated (the others keep their solution, which stays optimal). The 'sgd' start and every round
        keep their starting point when the solver does not improve on it, so the objective never
        increases from the Adam networks' embedding on.
        """
        family, solver = self._family(), self._get_solver()
        previous = self._previous_patterns(X)
        warm = previous is not None and getattr(self, "_coef", None) is not None
        strategy = "warm_start" if warm else family.strategy(X)
        self.sgd_objective_ = None
        self._solves = []
        clock = [time.perf_counter()]
        if strategy == "sgd":
            problems, init, self.sgd_objective_ = family.sgd_programs(X, targets, self.alpha)
        else:
            patterns = previous if previous is not None else family.starting_patterns(X, strategy)
            problems = family.problems(X, targets, patterns, self.alpha)
            init = self._coef if warm else None
        clock.append(time.perf_counter())
        results = self._solve(solver, problems, init, keep_start=strategy == "sgd")
        clock.append(time.perf_counter())
        full = family.full_patterns(X)
        problems, results, estimates = family.grow(
            X, strategy, problems, results,
            lambda problems, init: self._solve(solver, problems, init, keep_start=True), full,
        )
        clock.append(time.perf_counter())
        networks = self._map_networks(problems, results)
        self._store(family.fitted_patterns(problems), results, networks,
                    objective_curve(self._solves))
        del self._solves
        self._set_certificate(family.certify(X, problems, results, full, self.alpha, estimates))
        clock.append(time.perf_counter())
        self.timings_ = dict(zip(("start", "solve", "grow", "certificate"), np.diff(clock).tolist()))

    def _set_certificate(self, certificate):
        """Store the family's certificate (a Bunch: ``lower_bound``, ``optimality_gap`` and, for
        the two-layer family, ``certificate_exact``, ``restricted_gap``) as fitted attributes."""
        for name, value in certificate.items():
            setattr(self, f"{name}_", value)

    def _store(self, patterns, results, networks, curve):
        """Store the fitted attributes of the solves ``results`` (one per output) over
        ``patterns``, the networks mapped from them and the ``objective_curve_``."""
        self.patterns_ = patterns
        self.objective_curve_ = curve
        self._coef = [r.coef for r in results]
        self._networks = networks
        self.objective_ = float(sum(r.objective for r in results))
        iters = [r.n_iter for r in results if r.n_iter is not None]
        self.n_iter_ = int(max(iters)) if iters else 0
        statuses = [r.status for r in results]
        self.solver_status_ = next((s for s in statuses if s != "optimal"), "optimal")
        self._set_weights()

    def _set_weights(self):
        """Derive the fitted attributes of the weights (``coefs_`` ...) from the per-output
        networks, as the family says."""
        for name, value in self._family().weights(self._networks, self._offset).items():
            setattr(self, name, value)

    def _raw_predict(self, X):
        """Network outputs plus the output offset, shape (n_samples, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, to_numpy(X), reset=False, dtype=np.float64)
        out = np.column_stack([net.predict(X) for net in self._networks])
        return out + self._offset

    def _validate_fit_data(self, X, y):
        X, y = validate_data(self, X, y, **self._validate_kwargs)
        self._family().check_memory(X, self._get_solver())
        return X, y

    # ------------------------------------------------------------------ public API
    def to_torch(self, dtype=None):
        """The fitted model as a ``torch.nn.Module`` (PyTorch is optional: :mod:`convexnn.export`).

        Its output is what ``predict`` (regressors) or ``decision_function`` (classifiers)
        returns, as a tensor: the networks' outputs side by side plus the output offset.

        Parameters
        ----------
        dtype : torch.float32 or torch.float64, optional
            Of the module's weights and expected input (default float64, which gives the numpy
            outputs to rounding).

        Returns
        -------
        torch.nn.Module
        """
        from .export import torch_module

        check_is_fitted(self)
        modules = [net.to_torch(dtype) for net in self._networks]
        return torch_module("Stacked", dtype, modules=modules, offset=self._offset,
                            squeeze=len(modules) == 1)

    def to_network(self):
        """The fitted non-convex network(s).

        Returns
        -------
        ReLUNetwork or GatedReLUNetwork, or a list of them
            One network when there is a single output (regression with 1-D ``y``, binary
            classification), else one per output / class, in the target's units (for a
            regressor, the optimum for ``lam = alpha * s``, see ``alpha``). With
            ``fit_intercept=True``, ``predict`` (regressors) and ``decision_function``
            (classifiers) add the constant output offset ``intercepts_[1]`` to its output.
        """
        check_is_fitted(self)
        if len(self._networks) == 1:
            return self._networks[0]
        return list(self._networks)

    def regularization_path(self, X, y, alphas):
        """Fit the model for several ``alpha`` values, re-solving one cached program per output.

        The patterns are sampled once (as in :meth:`fit`) and each solve starts from the previous
        solution (the native solvers and SCS take warm starts; a cvxpy program is compiled once
        with ``alpha`` as a parameter). ``self`` is not modified.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        alphas : array-like of shape (n_alphas,)
            Non-negative strengths, solved in the given order (decreasing suits warm starts).

        Returns
        -------
        path : Bunch
            ``alphas`` (n_alphas,), ``objective`` (n_alphas,), ``n_active_neurons`` (n_alphas,),
            ``solver_status`` (list of str) and ``estimators``: a fitted copy of this estimator
            per alpha (``clone(self).set_params(alpha=a)`` with the path's solution).
        """
        self._validate_params()
        alphas = _check_alphas(alphas)
        return _path_bunch(alphas, path_fits(self, X, y, alphas))

    def _map_networks(self, problems, results):
        """The per-output networks of the solutions ``results`` of ``problems`` (the family's
        ``networks``), in the units of the target (:meth:`_scaled_networks`)."""
        return self._scaled_networks(self._family().networks(problems, results))

    def _scaled_networks(self, networks):
        """Each output's network scaled by that output's target scale (``_scale``, 1 for the
        classifiers): the programs are solved on the scaled target."""
        return [net if s == 1.0 else net.scaled(s) for net, s in zip(networks, self._scale)]

    def _copy_data_attributes(self, other):
        for name in ("n_features_in_", "feature_names_in_", "_offset", "_scale", "classes_",
                     "n_outputs_"):
            if hasattr(other, name):
                setattr(self, name, getattr(other, name))

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the fitted model to ``path`` as a plain ``.npz`` file (:mod:`convexnn.persistence`).

        The file holds numeric arrays and a JSON metadata string with the package version; loading
        it with :meth:`load` or :func:`convexnn.persistence.load` executes no code.

        Parameters
        ----------
        path : str, path-like or writable binary file object
            ``.npz`` is appended when the name does not end with it (as ``numpy.savez`` does), and
            :meth:`load` applies the same rule: ``save('model')`` and ``load('model')`` agree.

        Returns
        -------
        str or file object
            The file name written, or the file object.
        """
        from .persistence import save

        return save(self, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; raises ValueError if it is not a ``cls``.

        Parameters
        ----------
        path : str, path-like or readable binary file object
            The name given to :meth:`save`, with or without ``.npz``.

        Returns
        -------
        estimator : cls
            Fitted, with every fitted attribute of the saved model.
        """
        from .persistence import load

        model = load(path)
        if type(model) is not cls:
            raise ValueError(
                f"{path} holds a {type(model).__name__}, not a {cls.__name__}; "
                "convexnn.persistence.load reads any model."
            )
        return model

    #: attributes that :meth:`__convexnn_state__` stores itself (patterns and networks in the
    #: family's form: its ``state`` and ``from_state``)
    _MODEL_ATTRIBUTES = ("patterns_", "_networks", "_coef", "_offset", "_scale")

    def __convexnn_state__(self):
        """The fitted model as ``(meta, arrays)``: the persistence protocol's writing half.

        Called by :func:`convexnn.persistence.save`, which writes them (see that module for the
        protocol). ``meta`` holds the parameters under ``'params'`` (a solver instance becomes
        ``'auto'``, recorded in ``'solver_saved_as'``; a RandomState becomes None), ``'n_outputs'``
        and, under ``'attributes'``, every fitted attribute (name ending in ``_``) whose value is
        None, a bool, a number, a string or a list of those. ``arrays`` holds ``patterns_``, the
        per-output networks and convex solutions, the output offset and the target scale (names without a trailing
        underscore) and every fitted array attribute under its own name. The family's
        ``derived_attributes`` are not stored: :meth:`_set_weights` rebuilds
        them on load. ``patterns_`` and the networks are stored in the family's form (its
        ``state``).

        Returns
        -------
        meta : dict
            JSON values only.
        arrays : dict of str to ndarray

        Raises
        ------
        sklearn.exceptions.NotFittedError
            When the estimator is not fitted.
        TypeError
            When a fitted attribute is not an array, a scalar, a list of scalars or a dict of
            scalars by name (it would be lost): the message
            names it.
        """
        check_is_fitted(self)
        params = {
            k: v.item() if isinstance(v, np.generic) else v for k, v in self.get_params().items()
        }
        solver_saved_as = None
        if not isinstance(params["solver"], str):
            solver_saved_as, params["solver"] = repr(params["solver"]), "auto"
        if params["random_state"] is not None and not isinstance(params["random_state"], int):
            params["random_state"] = None  # a RandomState's state is not kept
        family = self._family()
        meta, arrays = family.state(self.patterns_, self._networks)
        meta.update(params=params, solver_saved_as=solver_saved_as, n_outputs=len(self._networks))
        arrays["offset"] = self._offset
        arrays["scale"] = self._scale
        for c, coef in enumerate(self._coef):
            arrays[f"coef{c}"] = coef
        scalar = (type(None), bool, int, float, str, np.bool_, np.integer, np.floating)
        attributes = meta["attributes"] = {}
        skip = set(params) | set(family.derived_attributes) | set(self._MODEL_ATTRIBUTES)
        for name, value in vars(self).items():
            if name in skip:
                continue
            fitted = name.endswith("_") and not name.startswith("_")
            if fitted and isinstance(value, np.ndarray):
                arrays[name] = value
            elif fitted and isinstance(value, scalar):
                attributes[name] = value.item() if isinstance(value, np.generic) else value
            elif fitted and isinstance(value, list) and all(isinstance(v, scalar) for v in value):
                attributes[name] = [v.item() if isinstance(v, np.generic) else v for v in value]
            elif fitted and isinstance(value, dict) and all(
                    isinstance(k, str) and isinstance(v, scalar) for k, v in value.items()):
                attributes[name] = {k: v.item() if isinstance(v, np.generic) else v
                                    for k, v in value.items()}
            else:
                raise TypeError(
                    f"{type(self).__name__}.{name} ({type(value).__name__}) has no saved form; "
                    "store it in __convexnn_state__ (and read it in __convexnn_from_state__)."
                )
        return meta, arrays

    @classmethod
    def __convexnn_from_state__(cls, meta, arrays):
        """The fitted estimator that :meth:`__convexnn_state__` described: the reading half.

        Called by :func:`convexnn.persistence.load` once the file passed its checks.

        Parameters
        ----------
        meta : dict
        arrays : dict of str to ndarray

        Returns
        -------
        estimator : cls

        Raises
        ------
        KeyError, ValueError or TypeError
            When ``meta`` and ``arrays`` do not describe a fitted ``cls``.
        """
        model = cls(**meta["params"])
        model._validate_params()
        arrays = dict(arrays)
        family = model._family()
        model.patterns_, model._networks = family.from_state(meta, arrays)
        n_outputs = int(meta["n_outputs"])
        if len(model._networks) != n_outputs:
            raise ValueError(f"{len(model._networks)} networks for {n_outputs} outputs.")
        model._coef = [arrays.pop(f"coef{c}") for c in range(n_outputs)]
        model._offset = arrays.pop("offset")
        # the target scale of _prepare_fit (files written before it existed: scale 1)
        model._scale = arrays.pop("scale", np.ones(n_outputs))
        model.n_outputs_ = n_outputs  # files written before n_outputs_ was public lack it
        for name, value in list(meta["attributes"].items()) + list(arrays.items()):
            if (
                not (name.isidentifier() and name.endswith("_") and not name.startswith("_"))
                or name in meta["params"]
                or name in family.derived_attributes + cls._MODEL_ATTRIBUTES
                or hasattr(cls, name)
            ):
                raise ValueError(f"the state names {name!r}, which is not a fitted attribute.")
            setattr(model, name, value)
        if "feature_names_in_" in arrays:  # scikit-learn keeps them in an object array
            model.feature_names_in_ = arrays["feature_names_in_"].astype(object)
        model._set_weights()
        for net in model._networks:
            if net.n_features != model.n_features_in_:
                raise ValueError(
                    f"a network has {net.n_features} inputs but n_features_in_ is "
                    f"{model.n_features_in_}."
                )
        return model

class ConvexReLURegressor(RegressorMixin, _ConvexReLUBase):
    """Two-layer ReLU network regressor trained to global optimality over sampled patterns.

    For each output column ``y`` (centered when ``fit_intercept``, then divided by its standard
    deviation: see ``alpha``), with ``A = [X, 1]`` (or ``X``)
    and sampled activation patterns ``D_1 .. D_P``, it solves the convex ReLU program

    .. math::

        \\min_{v_i, w_i}\\ \\frac{1}{2n} \\Big\\| \\sum_{i=1}^P D_i A (v_i - w_i) - y \\Big\\|^2
        + \\alpha \\sum_{i=1}^P (\\|v_i\\|_2 + \\|w_i\\|_2)
        \\quad\\text{s.t. } (2D_i - I) A v_i \\ge 0,\\ (2D_i - I) A w_i \\ge 0,

    (``formulation='gated'``: one unconstrained block ``u_i`` per pattern), and maps the solution
    to the network ``f(x) = sum_j (x^T w_j + b_j)_+ a_j + b_out`` whose weight-decay objective
    ``(1/2n) ||f(X) - y||^2 + (alpha/2)(||W1||^2 + ||b1||^2 + ||a||^2)`` equals the convex optimum.
    With all patterns this is the global optimum of the non-convex training problem; with sampled
    patterns it is the optimum over networks whose neurons use those patterns.

    Multi-output ``y`` gives independent programs per column over the same patterns; the network
    is their union (neurons stacked, each feeding its own output) and ``objective_`` is the sum.

    Parameters
    ----------
    alpha : float, default=1e-2
        Regularization strength ``lam`` of doc/math.rst (>= 0), relative to the target's spread: each
        target column is centered (with ``fit_intercept``) and divided by its standard deviation
        ``s`` (its root mean square without intercept) before the program is solved, and the
        network is scaled back, so fitting ``c * y`` gives ``c`` times the predictions for any
        ``c > 0``. In the target's own units the fitted network is the optimum of the
        weight-decay problem with ``lam = alpha * s``. The default was chosen by measurement
        (3 random 75/25 splits of diabetes, breast_cancer, wine, iris, Friedman #1 and
        teacher-network data in a ``StandardScaler`` pipeline, alpha in 1e-4 .. 1e-1): it is the
        one value whose mean test score was the default ``MLPRegressor``'s /
        ``MLPClassifier``'s or better on every set; 1e-3 overfits the small regression sets (test
        R^2 -0.16 on diabetes against 0.31 at 1e-2), 1e-1 underfits the nonlinear ones. On
        digits (2 splits, 1e-2 only) it scored 0.974 against MLP's 0.976 +- 0.002. ``MLPRegressor(alpha=a)`` trained full batch with
        ``solver='lbfgs'`` on a standardized target penalizes ``(a / 2n) ||W||^2``, so
        ``a = n_samples * alpha`` is the comparable value (MLP leaves its biases unpenalized).
        :class:`~convexnn.model_selection.ConvexReLURegressorCV` chooses it by cross-validation.
    loss : {'squared', 'huber'}, default='squared'
        The data-fit term by its name in :mod:`convexnn.losses` (any registered loss of real
        targets: ``convexnn.losses.REGRESSION_LOSSES``); 'huber' (threshold 1 on the standardized
        target: one standard deviation of ``y``) is quadratic for residuals up to it and linear
        beyond, robust to outliers. The
        objective, the certificates and the solvers follow the loss; the network map is the same.
    n_patterns : int, default=50
        The budget of activation patterns, shared by the outputs: what ``pattern_search`` may
        use. With the default search ('auto' resolves to 'sgd' unless every pattern of ``X`` fits
        the budget) it is the width of the Adam network(s) the search starts from (split among the
        outputs), then column generation fills what is left; with 'sampled' it is the number of
        Gaussian gates drawn (duplicate and empty patterns dropped). The network has at most
        ``2 * n_patterns`` ('relu') or ``n_patterns`` ('gated') neurons per output. Memory and
        time grow as ``n_samples * n_features * n_patterns``.
    formulation : {'relu', 'gated'}, default='relu'
        The convex ReLU program (C-ReLU) or the gated ReLU program (C-GReLU, fixed gates).
    solver : str or Solver, default='auto'
        'auto' (the interior point for 'relu' where its Newton system fits 4 GiB, else the
        augmented Lagrangian; FISTA for 'gated'; see :mod:`convexnn.solvers`), 'interior_point',
        'fista', 'augmented_lagrangian', any installed cvxpy solver name ('SCS', 'CLARABEL', ...)
        or an object with ``solve(problem, init=None)``.
    fit_intercept : bool, default=True
        Append a ones column to ``X`` (a hidden bias, penalized like the weights as in the papers)
        and center ``y``: the training mean becomes the unpenalized output bias ``intercepts_[1]``.
    max_iter : int or None, default=None
        Iteration cap for the solver; None keeps the solver's own: 100 Newton steps for the
        interior point (what 'auto' runs on the ReLU programs that fit), 10,000 iterations for
        FISTA and the augmented Lagrangian, the cvxpy solver's default otherwise. Ignored for a
        Solver instance.
    tol : float or None, default=1e-4
        Solver tolerance: the relative duality gap ``(objective - bound) / objective`` at which the
        native solvers stop, certified on the program over the fitted patterns (scikit-learn's
        usual 1e-4; None: the solver's default). Ignored for a Solver instance.
    random_state : int, RandomState instance or None, default=None
        Seed of the pattern sampler; the same seed gives the same model.
    verbose : bool or int, default=False
        Show the solver log and a progress bar over outputs.
    warm_start : bool, default=False
        Reuse the gates of the previous fit (patterns recomputed on the new ``X``) and its
        solution as the starting point where the solver accepts one (the native solvers and SCS
        do, Clarabel does not).
    pattern_search : {'auto', 'sampled', 'enumerated', 'column_generation', 'sgd'}, default='auto'
        How the patterns are found (:mod:`convexnn.search`). 'sampled': ``n_patterns``
        Gaussian gates. 'enumerated': every pattern of ``X`` (an error when there are more than
        ``n_patterns``): the program is then the global training problem. 'column_generation':
        a quarter of the budget sampled, then rounds that add the patterns whose dual constraint
        is most violated (Ergen & Pilanci's cutting planes) until none is, the budget is used,
        or the gap they could still close, estimated over the candidates, is at most ``tol``.
        'sgd': per output, a network of width ``n_patterns // n_outputs`` trained with Adam
        (until 50 epochs improve the objective by less than 1e-4, relative; at most 500
        full-batch epochs with learning rate 0.02, or about 500 steps with learning rate 0.01 on
        minibatches of 1024 rows beyond that size) and embedded in the program over its own patterns (doc/math.rst); the program over
        their union is solved from the embedding, then column generation fills what the budget
        has left (patterns of dead or duplicate neurons); every solve keeps its start when the
        solver does not improve on it, so ``objective_`` is never above ``sgd_objective_``.
        'auto': 'enumerated' when every pattern of the training data fits in ``n_patterns``
        (counted as for points in general position, doc/math.rst), else 'sgd'.
        Measured by ``benchmarks/pattern_search.py`` (``formulation='relu'``, ``alpha=1e-3``,
        14 regression and binary classification settings): 'sgd' was never worse than
        'column_generation' and faster in 12. Its objective was 11x (budget 40) and 6x (budget
        100) lower on the 800 training samples of n=1000, d=20 teacher data, 1.25-6.5x lower on
        diabetes, breast_cancer and smaller teacher data with ``n_samples >= n_patterns``, and
        equal within 0.4% on 1-D data, on 12 samples in 2-D, and for a 40-sample classification
        with budget 50 (4% lower for the 40-sample regression with budget 50).

    Attributes
    ----------
    coefs_ : list of two ndarrays
        ``W1`` of shape (``n_features_in_``, ``n_active_neurons_``) and ``W2`` of shape
        (``n_active_neurons_``, n_outputs), as in ``MLPRegressor``.
    intercepts_ : list of two ndarrays
        Hidden biases of shape (``n_active_neurons_``,) (zeros without intercept) and output
        biases of shape (n_outputs,) (the training mean of ``y``, or zeros).
    gates_ : ndarray of shape (``n_features_in_ + fit_intercept``, ``n_active_neurons_``) or None
        Fixed gates of the neurons (last row: gate thresholds) for ``formulation='gated'``.
    patterns_ : ActivationPatterns
        The patterns the programs were solved over (mask on the training data).
    objective_ : float
        Convex objective at the solution, summed over outputs, on the standardized target
        (centered and divided by its standard deviation ``s``, see ``alpha``); in the target's
        units, with ``lam = alpha * s``, the objective is ``s**2`` times this (per output).
    n_active_neurons_ : int
        Neurons of the fitted network (non-zero blocks).
    n_iter_ : int
        Solver iterations (the largest over outputs).
    n_outputs_ : int
        Number of convex programs solved: regression targets, 1 for two classes, else the
        number of classes.
    objective_curve_ : ndarray of shape (n_records,)
        The convex objective, summed over outputs, at every iteration the solver recorded (the
        counterpart of ``MLPRegressor.loss_curve_``), over every solve of the fit in order: the
        start's solve, then each round of column generation (an output that stopped earlier
        counts with its last value). Empty for solvers that keep no history (cvxpy). A solve
        whose result was not better than its start ends above ``objective_``, which is then the
        start's.
    solver_status_ : str
        'optimal' when every solve of the fit reached ``tol`` (a certified relative gap on the
        program over the fitted patterns, see ``restricted_gap_``) within its constraint
        tolerance; otherwise the first other status a solver returned ('max_iter',
        'numerical_error', or a cvxpy status), which the fit also reports with a
        ConvergenceWarning.
    lower_bound_ : float
        Lower bound on the optimum over *all* patterns (the global optimum of the training
        problem) from the dual point of the fit (the solver's own where it keeps one, which
        already satisfies the fitted patterns' dual constraints), summed over outputs: certified when
        ``certificate_exact_``, else an estimate over patterns searched around the fit (for
        an output whose column generation ended by scoring the fitted solution, the patterns that
        last round searched and scored: the search is not repeated).
    optimality_gap_ : float
        ``(objective_ - lower_bound_) / |objective_|``.
    restricted_gap_ : float or None
        Certified relative duality gap of the convex program over the fitted patterns
        (``patterns_``), from the solver's own bound: how far the solve is from that program's
        optimum (at most ``tol`` when ``solver_status_ == 'optimal'``). ``optimality_gap_`` is the
        gap to the training problem over *all* patterns, certified only when
        ``certificate_exact_``; it also counts the patterns the search did not find. None when the
        solver reports no bound.
    certificate_exact_ : bool
        Whether every pattern of ``X`` was scored (at most ``max(n_patterns, 200)`` of them).
    sgd_objective_ : float or None
        With ``pattern_search='sgd'``: ``L_nc`` of the Adam network(s) the fit started from,
        summed over outputs (``objective_ <= sgd_objective_``). None for the other searches
        and for a ``warm_start`` refit over the previous gates.
    timings_ : dict
        Wall-clock seconds of the fit's steps: ``'start'`` (the Adam start, or stating the
        programs over the starting patterns), ``'solve'`` (the first solve), ``'grow'`` (column
        generation: candidate search and re-solves) and ``'certificate'`` (mapping the networks
        and the certificate).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Defined only when ``X`` has feature names that are all strings.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), ConvexReLURegressor(n_patterns=10, random_state=0))
    >>> model.fit(X[:100], y[:100]).score(X[:100], y[:100]) > 0.5
    True
    """

    _parameter_constraints: dict = {
        **_ConvexReLUBase._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
    }
    _validate_kwargs = {"multi_output": True, "y_numeric": True, "dtype": np.float64}

    def __init__(
        self,
        alpha=1e-2,
        *,
        loss="squared",
        n_patterns=50,
        formulation="relu",
        solver="auto",
        fit_intercept=True,
        max_iter=None,
        tol=1e-4,
        random_state=None,
        verbose=False,
        warm_start=False,
        pattern_search="auto",
    ):
        super().__init__(
            alpha, n_patterns=n_patterns, formulation=formulation, solver=solver,
            fit_intercept=fit_intercept, max_iter=max_iter, tol=tol, random_state=random_state,
            verbose=verbose, warm_start=warm_start, pattern_search=pattern_search,
        )
        self.loss = loss

    @property
    def _loss(self):
        """The training loss by name (the ``loss`` parameter)."""
        return self.loss


    def _prepare_fit(self, X, y):
        X, y = self._validate_fit_data(X, y)
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        self.n_outputs_ = targets.shape[1]
        if self.fit_intercept:
            # a constant column keeps its value exactly, so its centered target is exactly zero
            constant = np.all(targets == targets[:1], axis=0)
            self._offset = np.where(constant, targets[0], targets.mean(axis=0))
        else:
            self._offset = np.zeros(targets.shape[1])
        # alpha is relative to each target's spread: the programs are solved on the target divided
        # by its root mean square about the offset (the standard deviation with fit_intercept), and
        # _map_networks scales the networks back (class docstring, "alpha")
        centered = targets - self._offset
        scale = np.sqrt(np.mean(centered**2, axis=0))
        self._scale = np.where(scale > 0, scale, 1.0)
        return X, centered / self._scale

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Solve the convex program(s) and store the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense training data (sparse input is rejected: densify it with ``X.toarray()``).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : ConvexReLURegressor
        """
        return self._fit(X, y)

    def predict(self, X):
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D when the model was fitted on 1-D ``y`` (or a single target column).
        """
        out = self._raw_predict(X)
        return like_input(out.ravel() if out.shape[1] == 1 else out, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = False
        return tags


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUBase):
    """Two-layer ReLU network classifier trained by convex optimization (logistic loss).

    Binary: labels are mapped to ``y_k = -1`` (``classes_[0]``) and ``+1`` (``classes_[1]``) and the
    convex ReLU program with the logistic loss is solved,

    .. math::

        \\min_{v_i, w_i, b}\\ \\frac1n \\sum_{k=1}^n \\log\\Big(1 + \\exp\\big(-y_k
        \\big(\\big[\\textstyle\\sum_i D_i A (v_i - w_i)\\big]_k + b\\big)\\big)\\Big)
        + \\alpha \\sum_i (\\|v_i\\|_2 + \\|w_i\\|_2)
        \\quad\\text{s.t. } (2D_i - I) A v_i \\ge 0,\\ (2D_i - I) A w_i \\ge 0,

    (``formulation='gated'``: one unconstrained block per pattern). With ``fit_intercept=True``,
    ``A`` is ``X`` with a ones column (the hidden biases, penalized like the weights) and ``b`` is
    an unpenalized output offset, minimized out of the loss (the loss 'logistic_offset',
    :class:`~convexnn.losses.LogisticOffsetLoss`) and stored in ``intercepts_[1]``; with
    ``fit_intercept=False``, ``A = X`` and ``b = 0``. ``decision_function`` is the network output
    plus the offset, ``f(x) + b``, and ``predict_proba`` is ``sigmoid(f(x) + b)`` for
    ``classes_[1]``. ``objective_`` is the objective at the optimal ``b``.

    Multiclass: one-vs-rest. One binary program per class (that class +1, the others -1) over the
    same patterns; the network is their union with one output per class. ``decision_function``
    returns the per-class outputs, ``predict`` their argmax, and ``predict_proba`` the per-class
    sigmoids normalized to sum to one. ``objective_`` is the sum of the per-class objectives.

    The 'sgd' start trains the Adam networks on the same loss (the offset minimized out at every
    step), so their embedding with its optimal offset is feasible and the guard still keeps the
    objective at most ``sgd_objective_``.
    Parameters and attributes are those of :class:`ConvexReLURegressor`, with ``W2`` of shape
    (``n_active_neurons_``, 1) for two classes and (``n_active_neurons_``, n_classes) otherwise,
    plus ``classes_`` (ndarray of shape (n_classes,)). ``alpha`` compares with ``MLPClassifier(alpha=
    n_samples * alpha, solver='lbfgs')`` for two classes (MLP uses softmax for more).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ConvexReLUClassifier(n_patterns=8, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _validate_kwargs = {"dtype": np.float64}

    @property
    def _loss(self):
        """'logistic_offset' (the output offset minimized out) with ``fit_intercept``, else
        'logistic'."""
        return "logistic_offset" if self.fit_intercept else "logistic"

    def _map_networks(self, problems, results):
        self._offset = self._fitted_offsets(problems, results)
        return super()._map_networks(problems, results)

    def _fitted_offsets(self, problems, results):
        """Per output, the optimal offset ``b`` of its solution (0 without ``fit_intercept``):
        the loss's :meth:`~convexnn.losses.LogisticOffsetLoss.offset` at its predictions."""
        offsets = np.zeros(len(problems))
        if not self.fit_intercept:  # the plain logistic loss: no offset (:attr:`_loss`)
            return offsets
        for c, (problem, result) in enumerate(zip(problems, results)):
            pred = to_numpy(problem.predict(to_numpy(result.coef)))
            offsets[c] = problem.loss.offset(pred, to_numpy(problem.y))
        return offsets


    def _prepare_fit(self, X, y):
        X, y = self._validate_fit_data(X, y)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "ConvexReLUClassifier needs samples of at least 2 classes, but the data contains "
                f"only one class: {self.classes_[0]!r}."
            )
        if self.classes_.shape[0] == 2:
            targets = np.where(encoded == 1, 1.0, -1.0)[:, None]
        else:
            targets = np.where(encoded[:, None] == np.arange(self.classes_.shape[0]), 1.0, -1.0)
        self.n_outputs_ = targets.shape[1]
        self._offset = np.zeros(targets.shape[1])
        self._scale = np.ones(targets.shape[1])
        return X, targets

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Solve the binary or one-vs-rest convex programs and store the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense training data (sparse input is rejected: densify it with ``X.toarray()``).
        y : array-like of shape (n_samples,)
            Class labels (any type ``numpy.unique`` can sort, e.g. ints or strings).

        Returns
        -------
        self : ConvexReLUClassifier
        """
        return self._fit(X, y)

    def decision_function(self, X):
        """Network output(s) ``f(x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (positive means ``classes_[1]``), else
        (n_samples, n_classes).
        """
        out = self._raw_predict(X)
        return like_input(out[:, 0] if out.shape[1] == 1 else out, X)

    def predict_proba(self, X):
        """Class probabilities, ndarray of shape (n_samples, n_classes); rows sum to one."""
        scores = self._raw_predict(X)
        if scores.shape[1] == 1:
            p = _sigmoid(scores[:, 0])
            return like_input(np.column_stack([1.0 - p, p]), X)
        p = _sigmoid(scores)
        return like_input(p / p.sum(axis=1, keepdims=True), X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, shape (n_samples, n_classes)."""
        with np.errstate(divide="ignore"):
            return like_input(np.log(to_numpy(self.predict_proba(X))), X)

    def predict(self, X):
        """Predicted class labels, ndarray of shape (n_samples,)."""
        scores = self._raw_predict(X)
        if scores.shape[1] == 1:
            return like_input(self.classes_[(scores[:, 0] > 0).astype(int)], X)
        return like_input(self.classes_[np.argmax(scores, axis=1)], X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def prepared(estimator, X, y):
    """The family of ``estimator`` and the data its fit would solve for.

    ``estimator`` (a convexnn estimator, not fitted by this) takes the data attributes of a fit
    (``n_features_in_``, the targets' offset and scale, ``classes_``, ``n_outputs_``): pass a
    clone. This and :func:`path_fits` are the seam of :mod:`convexnn.model_selection`.

    Parameters
    ----------
    estimator : ConvexReLURegressor, ConvexReLUClassifier or a deep estimator
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    family : TwoLayerFamily or DeepFamily
        What :meth:`fit` knows of the model (:mod:`convexnn.families`).
    X : ndarray of shape (n_samples, n_features)
        Validated.
    targets : ndarray of shape (n_samples, n_outputs)
        One column per program: standardized regression targets, or +-1 labels per class.
    """
    X, targets = estimator._prepare_fit(X, y)
    return estimator._family(), X, targets


def path_fits(estimator, X, y, alphas, patterns=None, *, certify=True):
    """Fitted copies of ``estimator``, one per alpha of ``alphas``, over one set of patterns.

    Each output's program is solved along ``alphas`` in order, each solve starting from the
    previous solution (:func:`convexnn.solvers.regularization_path`).

    Parameters
    ----------
    estimator : ConvexReLURegressor, ConvexReLUClassifier or a deep estimator
        Not modified (a ``warm_start`` is ignored).
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    alphas : ndarray of shape (n_alphas,)
    patterns : ActivationPatterns or NestedPatterns, optional
        By default the family's ``path_patterns`` (all patterns when the search resolves to
        'enumerated', else the budget sampled).
    certify : bool, default=True
        Certify every fit (``lower_bound_`` ...); without it the copies carry what prediction
        and scoring need.

    Returns
    -------
    list of estimators
        ``clone(estimator).set_params(alpha=a)`` fitted with the path's solution at ``a``.
    """
    template = clone(estimator)
    if template.get_params().get("warm_start"):
        template.set_params(warm_start=False)
    family, X, targets = prepared(template, X, y)
    if patterns is None:
        patterns = family.path_patterns(X)
    full = family.full_patterns(X) if certify else None
    solver = Guarded(template._get_solver(), keep_start=False)
    per_output = []  # per output: list of (problem, result) over alphas
    for problem in template._progress(
        family.problems(X, targets, patterns, alphas[0]), "outputs"
    ):
        results = _solver_path(problem, alphas, solver)
        per_output.append([(problem.with_lam(a), r) for a, r in zip(alphas, results)])
    estimators = []
    for i, alpha in enumerate(alphas):
        est = clone(template).set_params(alpha=float(alpha))
        est._copy_data_attributes(template)
        problems = [out[i][0] for out in per_output]
        results = [out[i][1] for out in per_output]
        est._store(
            patterns, results, est._map_networks(problems, results), objective_curve([results])
        )
        if certify:
            est._set_certificate(est._family().certify(X, problems, results, full, float(alpha)))
        estimators.append(est)
    return estimators


def _check_alphas(alphas):
    """``alphas`` as a float array, or a ValueError unless it is 1-D, non-empty, finite, >= 0."""
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
        raise ValueError("alphas must be a non-empty 1-D array of finite values >= 0.")
    return alphas


def _path_bunch(alphas, estimators):
    """The Bunch ``regularization_path`` returns, from one fitted estimator per alpha."""
    return Bunch(
        alphas=alphas,
        objective=np.array([e.objective_ for e in estimators]),
        n_active_neurons=np.array([e.n_active_neurons_ for e in estimators]),
        solver_status=[e.solver_status_ for e in estimators],
        estimators=estimators,
    )


def _sigmoid(z):
    from scipy.special import expit

    return expit(z)
