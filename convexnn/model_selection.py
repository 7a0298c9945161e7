"""Cross-validated choice of ``alpha`` for the two-layer convex ReLU estimators.

:class:`ConvexReLURegressorCV` and :class:`ConvexReLUClassifierCV` do for
:class:`~convexnn.ConvexReLURegressor` and :class:`~convexnn.ConvexReLUClassifier` what
scikit-learn's ``LassoCV`` does for the lasso: a decreasing geometric grid of ``alpha`` from
``alpha_max`` (the smallest strength whose solution is the zero network), one warm-started
regularization path per cross-validation fold, the ``alpha`` with the best mean test score, and a
refit of the plain estimator at that ``alpha`` on all the data.

The route of each fold (:func:`_search_path`): the estimator's own pattern search runs once, at
the smallest ``alpha`` of the grid, on the fold's training rows; the path then re-solves the
program over *those* patterns from the largest ``alpha`` down, each solve starting from the
previous solution (the last point of the path is the search's own fit). The alternatives
measured against it and the figures are in the class docstring and ``benchmarks/cv.py``.

``alpha_max`` comes from the dual oracle at the zero network (doc/math.rst, "Duality and the
global-optimality certificate": zero is optimal iff ``M(z) <= lam`` with ``z = -grad F(0)``),
through :func:`convexnn.solvers.lam_max`, which is
exact *over the patterns of the problem it is given* (one cone projection per block). Over all
patterns of ``X`` -- the training problem itself -- it is exact when they can be listed (at most
``max(n_patterns, 200)`` of them); otherwise it is evaluated over the candidate patterns of
:func:`convexnn.candidates.candidate_patterns` (sampled gates and ascent on the oracle), a lower
estimate of the true value, which ``alpha_max_exact_`` reports.
"""

import copy
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, clone
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from .candidates import candidate_patterns, dual_point
from .estimators import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    _ConvexReLUBase,
    path_fits,
    prepared,
)
from .losses import get_loss
from .search import seed_of
from .solvers import lam_max

__all__ = ["ConvexReLURegressorCV", "ConvexReLUClassifierCV", "alpha_max"]

#: Parameters of the plain estimator that the CV estimators do not take: ``alpha`` is chosen,
#: and ``warm_start`` would tie a fit to the previous one.
_NOT_PASSED = ("alpha", "warm_start")


def alpha_max(estimator, X, y):
    """The smallest ``alpha`` at which ``estimator`` fitted on ``(X, y)`` is the zero network.

    The zero network predicts the output offset alone (the training mean of a regression target
    with ``fit_intercept``, zero for classifiers). It is optimal iff the dual oracle at
    ``z = -grad F(0)`` is at most ``alpha`` for every output (doc/math.rst, "Duality and the
    global-optimality certificate"): the value returned is the largest
    :func:`convexnn.solvers.lam_max` over the outputs' programs (for regressors, programs on the
    standardized target, as the plain regressor solves them).

    Parameters
    ----------
    estimator : ConvexReLURegressor or ConvexReLUClassifier
        Supplies the loss, ``formulation``, ``fit_intercept``, ``n_patterns`` and
        ``random_state``; it is not fitted or modified.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    value : float
    exact : bool
        True when every pattern of ``X`` was listed (at most ``max(n_patterns, 200)`` of them):
        ``value`` is then the exact threshold of the training problem, and of the program over
        any subset of the patterns it is an upper bound (zero is optimal there too). False when
        it was evaluated over candidate patterns (sampled gates plus ascent on the oracle,
        :func:`convexnn.candidates.candidate_patterns`): a lower estimate of the exact value.
    """
    family, X, targets = prepared(clone(estimator), X, y)
    patterns = family.full_patterns(X)
    exact = patterns is not None
    if not exact:
        loss = get_loss(family.loss)
        seed = seed_of(family.random_state)
        for t in targets.T:
            found = candidate_patterns(
                X, dual_point(loss, t, np.zeros_like(t)), fit_intercept=family.fit_intercept,
                random_state=seed,
            )
            patterns = found if patterns is None else patterns.union(found)
    problems = family.problems(X, targets, patterns, 1.0)
    return float(max(lam_max(problem) for problem in problems)), exact


def _path_over(template, X, y, alphas, patterns):
    """Fitted copies of ``template``, one per alpha of ``alphas``, over fixed ``patterns``.

    Each output's program is solved along ``alphas`` in order, each solve starting from the
    previous solution (:func:`convexnn.estimators.path_fits`). The copies carry what prediction
    and scoring need (no certificate: ``lower_bound_`` is not computed).
    """
    return path_fits(template, X, y, alphas, patterns, certify=False)


def _search_path(template, X, y, alphas):
    """The route of the CV estimators: the pattern search once, at the smallest alpha, then the
    warm-started path over its patterns (its fit is the path's last point)."""
    last = clone(template).set_params(alpha=float(alphas[-1])).fit(X, y)
    if alphas.size == 1:
        return [last]
    return _path_over(template, X, y, alphas[:-1], last.patterns_) + [last]


def _sampled_path(template, X, y, alphas):
    """Alternative route (measured, not used): the warm-started path over the patterns that
    :meth:`~convexnn.ConvexReLURegressor.regularization_path` uses (all of them when they fit
    the budget, else ``n_patterns`` sampled gates)."""
    return path_fits(template, X, y, alphas, certify=False)


def _cold_fits(template, X, y, alphas):
    """Alternative route (measured, not used): an independent default fit at every alpha."""
    return [clone(template).set_params(alpha=float(a)).fit(X, y) for a in alphas]


def _warm_refits(template, X, y, alphas):
    """Alternative route (measured, not used): one estimator with ``warm_start=True`` refitted
    at each alpha in turn (the search runs at the largest alpha; later fits reuse its gates)."""
    est = clone(template).set_params(warm_start=True)
    return [copy.deepcopy(est.set_params(alpha=float(a)).fit(X, y)) for a in alphas]


_ROUTES = {
    "search": _search_path,
    "sampled": _sampled_path,
    "cold": _cold_fits,
    "warm_refits": _warm_refits,
}


def _fold_scores(template, X, y, train, test, alphas, scorer, route):
    """Test scores along ``alphas`` for one fold, ndarray of shape (n_alphas,), and the
    path's objectives, ndarray of shape (n_alphas,)."""
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
    fits = _ROUTES[route](template, X_train, y_train, alphas)
    scores = np.array([scorer(est, X_test, y_test) for est in fits], dtype=np.float64)
    objectives = np.array([est.objective_ for est in fits])
    return scores, objectives


class _ConvexReLUCVBase(BaseEstimator):
    """Shared machinery of the CV estimators; see :class:`ConvexReLURegressorCV`."""

    _parameter_constraints: dict = {
        **{k: v for k, v in _ConvexReLUBase._parameter_constraints.items()
           if k not in _NOT_PASSED},
        "alphas": ["array-like", None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="neither")],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "n_jobs": [Integral, None],
    }

    _estimator_class = None  # the plain estimator, set by the subclasses
    #: the route of each fold (the keys of _ROUTES); benchmarks/cv.py measures the others
    _route = "search"

    def _plain_params(self):
        """The plain estimator's parameters, as set on this one."""
        names = self._estimator_class._get_param_names()
        return {name: getattr(self, name) for name in names if name not in _NOT_PASSED}

    def _plain_estimator(self, alpha=1.0):
        return self._estimator_class(alpha=alpha, **self._plain_params())

    def _check_alphas(self):
        """The explicit grid sorted in decreasing order, or a ValueError naming ``alphas``."""
        alphas = np.asarray(self.alphas)
        if alphas.ndim != 1 or alphas.size == 0:
            raise ValueError(
                f"alphas must be a non-empty 1-D array of regularization strengths, got shape "
                f"{alphas.shape}."
            )
        try:
            alphas = alphas.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"alphas must hold numbers, got dtype {alphas.dtype}.") from None
        if not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError(f"alphas must be finite and > 0, got {self.alphas!r}.")
        return np.sort(alphas)[::-1]

    def _fit(self, X, y):
        X, y = validate_data(self, X, y, **self._estimator_class._validate_kwargs)
        if is_classifier(self):
            check_classification_targets(y)
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        splits = list(cv.split(X, y))
        explicit = None if self.alphas is None else self._check_alphas()
        template = self._plain_estimator()
        self.alpha_max_, self.alpha_max_exact_ = alpha_max(template, X, y)
        if explicit is not None:
            self.alphas_ = explicit
        elif self.alpha_max_ > 0:
            self.alphas_ = self.alpha_max_ * np.geomspace(1.0, self.eps, self.n_alphas)
        else:
            raise ValueError(
                "alpha_max is 0: the zero network (the output offset alone) already fits the "
                "training targets exactly, so the grid from alpha_max is empty; pass an explicit "
                "alphas grid."
            )
        self.n_splits_ = len(splits)
        self.scorer_ = check_scoring(template, scoring=self.scoring)
        start = time.perf_counter()
        out = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_scores)(template, X, y, train, test, self.alphas_, self.scorer_,
                                  self._route)
            for train, test in splits
        )
        self.cv_time_ = time.perf_counter() - start
        self.scores_path_ = np.column_stack([scores for scores, _ in out])
        self.objective_path_ = np.column_stack([objectives for _, objectives in out])
        self.cv_results_ = self._results(self.scores_path_)
        self.best_index_ = int(np.flatnonzero(self.cv_results_["rank_test_score"] == 1)[0])
        self.alpha_ = float(self.alphas_[self.best_index_])
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        start = time.perf_counter()
        self.best_estimator_ = self._plain_estimator(self.alpha_).fit(X, y)
        self.refit_time_ = time.perf_counter() - start
        for name, value in vars(self.best_estimator_).items():
            if (name.endswith("_") and not name.startswith("_")
                    and name not in ("n_features_in_", "feature_names_in_")):
                setattr(self, name, value)
        return self

    def _results(self, scores):
        """``cv_results_`` from the scores of shape (n_alphas, n_splits), as GridSearchCV names
        them; ties in the mean rank first the largest alpha (the sparser network)."""
        from scipy.stats import rankdata

        results = {
            "param_alpha": self.alphas_.copy(),
            "params": [{"alpha": float(a)} for a in self.alphas_],
        }
        for k in range(scores.shape[1]):
            results[f"split{k}_test_score"] = scores[:, k].copy()
        mean = scores.mean(axis=1)
        results["mean_test_score"] = mean
        results["std_test_score"] = scores.std(axis=1)
        ranked = np.where(np.isnan(mean), -np.inf, mean)
        results["rank_test_score"] = rankdata(-ranked, method="min").astype(np.int32)
        return results

    # ------------------------------------------------------------ the refitted model
    def _checked(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float64)

    def predict(self, X):
        """Predict with the model refitted at ``alpha_`` (:attr:`best_estimator_`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        X = self._checked(X)
        return self.best_estimator_.predict(X)

    def to_network(self):
        """The refitted model's network(s): :meth:`ConvexReLURegressor.to_network
        <convexnn.ConvexReLURegressor.to_network>` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.to_network()

    def to_torch(self, dtype=None):
        """The refitted model as a ``torch.nn.Module``: :meth:`ConvexReLURegressor.to_torch
        <convexnn.ConvexReLURegressor.to_torch>` of :attr:`best_estimator_`."""
        check_is_fitted(self)
        return self.best_estimator_.to_torch(dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_CV_PARAMETERS_DOC = """
    alphas : array-like of shape (n_alphas,) or None, default=None
        The grid of ``alpha`` values (> 0), fitted in decreasing order. None: ``n_alphas``
        values spaced geometrically from ``alpha_max_`` down to ``eps * alpha_max_``.
    n_alphas : int, default=10
        Size of the grid when ``alphas`` is None. Each fold solves one program per value, so the
        time grows with it. On the splits of the route table (``python benchmarks/cv.py
        --routes search --splits 2 --n-alphas 5 20``) 5, 10 and 20 values scored diabetes R^2
        0.365, 0.362, 0.341 and breast_cancer accuracy 0.958, 0.965, 0.972: differences within
        the split-to-split spread (0.05 and one test sample of 143), so the default is the middle.
    eps : float in (0, 1), default=1e-3
        ``alpha_min / alpha_max`` of the grid when ``alphas`` is None.
    cv : int, cross-validation generator, iterable of (train, test) or None, default=None
        As in scikit-learn (:func:`sklearn.model_selection.check_cv`): None is 5 folds, an int
        that many (stratified for the classifier, plain ``KFold`` for the regressor).
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or ``scorer(estimator, X, y)``; None scores with the
        estimator's ``score`` (R^2 for the regressor, accuracy for the classifier). Larger is
        better.
    n_jobs : int or None, default=None
        Folds fitted in parallel through joblib (``sklearn.utils.parallel``, so a
        ``joblib.parallel_backend`` context such as dask applies). None means 1 unless in a
        joblib context.
"""

_CV_ROUTE_DOC = """
    Each fold runs the plain estimator's ``pattern_search`` once, at the smallest ``alpha`` of the
    grid, on its training rows, then solves the program over those patterns for every ``alpha``
    from the largest down, each solve warm-started from the previous one (the last point of the
    path is the search's own fit). Every fold fit solves its program to the certified relative
    gap ``tol``; the fold fits carry no global certificate. ``best_estimator_`` is then the plain
    estimator fitted at ``alpha_`` on all the data by its default route (search at ``alpha_``,
    certificate): the model that predicts.

    The route was chosen by ``python benchmarks/cv.py --routes --splits 2`` (diabetes and
    breast_cancer, standard scaled, 5 folds, ``n_alphas=10``) against one default fit per
    ``alpha`` ('cold'), the same path over ``n_patterns`` sampled gates ('sampled'), and refits
    with ``warm_start`` from the largest alpha down ('warm_refits'). Test score on the held-out
    quarter of two 75/25 splits (mean) and wall-clock time of the whole CV fit, measured on a
    shared, heavily loaded 2-core machine (only the ratios mean something):

    ============  ======================  =========================
    route         diabetes R^2, time      breast_cancer acc., time
    ============  ======================  =========================
    search        0.362, 25 s             0.965, 157 s
    cold          0.388, 89 s             0.969, 238 s
    sampled       0.306, 19 s             0.962, 148 s
    warm_refits   0.154, 59 s             0.962, 88 s
    ============  ======================  =========================

    'search' scores within the split-to-split spread of 'cold' (std 0.040 and 0.003) at 1.5 to
    3.6 times less time; 'sampled' and 'warm_refits' (whose only search runs at the largest
    alpha, next to the zero network) chose smaller alphas and predicted worse on diabetes.
"""


def _document(cls):
    """Fill the shared parameter and route paragraphs into ``cls``'s docstring."""
    cls.__doc__ = cls.__doc__.replace("    CV_PARAMETERS\n", _CV_PARAMETERS_DOC.lstrip("\n"))
    cls.__doc__ = cls.__doc__.replace("    CV_ROUTE\n", _CV_ROUTE_DOC.lstrip("\n"))
    return cls


class ConvexReLURegressorCV(RegressorMixin, _ConvexReLUCVBase):
    """:class:`~convexnn.ConvexReLURegressor` with ``alpha`` chosen by cross-validation.

    The grid runs from ``alpha_max_``, the smallest ``alpha`` whose fit is the zero network (the
    constant training mean), down to ``eps * alpha_max_`` (see :func:`alpha_max` for when that
    value is exact), as in scikit-learn's ``LassoCV``. The objective at each ``alpha`` is the
    plain regressor's (doc/math.rst, "One objective scaling").

    CV_ROUTE

    Parameters
    ----------
    CV_PARAMETERS
    loss, n_patterns, formulation, solver, fit_intercept, max_iter, tol, random_state, verbose, \
pattern_search
        As in :class:`~convexnn.ConvexReLURegressor`, for every fold fit and the refit. An int
        ``random_state`` gives every fold the same seed, so the fit is reproducible and does
        not depend on ``n_jobs``.

    Attributes
    ----------
    alpha_ : float
        The ``alpha`` with the best mean test score (the largest one among ties).
    alphas_ : ndarray of shape (n_alphas,)
        The grid, decreasing.
    alpha_max_ : float
        :func:`alpha_max` of the training data (computed also when ``alphas`` is given).
    alpha_max_exact_ : bool
        Whether ``alpha_max_`` is exact over all patterns (see :func:`alpha_max`).
    scores_path_ : ndarray of shape (n_alphas, n_splits)
        Test score of each fold along the grid (the counterpart of ``LassoCV.mse_path_``, but
        larger is better).
    objective_path_ : ndarray of shape (n_alphas, n_splits)
        Convex objective of each fold's fit along the grid.
    cv_results_ : dict of ndarrays
        As ``GridSearchCV.cv_results_``: ``param_alpha``, ``params``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``.
    best_index_ : int
        Index of ``alpha_`` in ``alphas_`` and ``cv_results_``.
    best_score_ : float
        Mean test score at ``alpha_``.
    best_estimator_ : ConvexReLURegressor
        Fitted on all the data at ``alpha_``; ``predict`` and ``score`` use it.
    n_splits_ : int
    scorer_ : callable
    cv_time_, refit_time_ : float
        Seconds spent in the folds and in the refit.
    coefs_, intercepts_, objective_, lower_bound_, optimality_gap_, n_outputs_, ...
        Every fitted attribute of ``best_estimator_`` (see
        :class:`~convexnn.ConvexReLURegressor`), copied.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features,)
        Defined only when ``X`` has feature names that are all strings.

    Notes
    -----
    The fitted model is saved with ``model.best_estimator_.save(path)``; the CV estimator
    itself pickles but has no ``.npz`` form.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = ConvexReLURegressorCV(n_alphas=4, cv=3, n_patterns=8, random_state=0)
    >>> model = make_pipeline(StandardScaler(), model).fit(X[:150], y[:150])
    >>> bool(model[-1].alpha_ in model[-1].alphas_)
    True
    """

    _estimator_class = ConvexReLURegressor
    _parameter_constraints: dict = {
        **_ConvexReLUCVBase._parameter_constraints,
        **{"loss": ConvexReLURegressor._parameter_constraints["loss"]},
    }

    def __init__(
        self,
        *,
        alphas=None,
        n_alphas=10,
        eps=1e-3,
        cv=None,
        scoring=None,
        n_jobs=None,
        loss="squared",
        n_patterns=50,
        formulation="relu",
        solver="auto",
        fit_intercept=True,
        max_iter=None,
        tol=1e-4,
        random_state=None,
        verbose=False,
        pattern_search="auto",
    ):
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.loss = loss
        self.n_patterns = n_patterns
        self.formulation = formulation
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.pattern_search = pattern_search

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Cross-validate the grid, then refit at the best ``alpha`` on all the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : ConvexReLURegressorCV
        """
        return self._fit(X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class ConvexReLUClassifierCV(ClassifierMixin, _ConvexReLUCVBase):
    """:class:`~convexnn.ConvexReLUClassifier` with ``alpha`` chosen by cross-validation.

    The grid runs from ``alpha_max_``, the smallest ``alpha`` whose fit is the zero network
    (decision function 0 everywhere), down to ``eps * alpha_max_`` (see :func:`alpha_max` for
    when that value is exact); folds are stratified when ``cv`` is an int or None.

    CV_ROUTE

    Parameters
    ----------
    CV_PARAMETERS
    n_patterns, formulation, solver, fit_intercept, max_iter, tol, random_state, verbose, \
pattern_search
        As in :class:`~convexnn.ConvexReLUClassifier`, for every fold fit and the refit.

    Attributes
    ----------
    alpha_, alphas_, alpha_max_, alpha_max_exact_, scores_path_, objective_path_, cv_results_, \
best_index_, best_score_, n_splits_, scorer_, cv_time_, refit_time_
        As in :class:`ConvexReLURegressorCV`.
    best_estimator_ : ConvexReLUClassifier
        Fitted on all the data at ``alpha_``; the prediction methods use it.
    classes_ : ndarray of shape (n_classes,)
    coefs_, intercepts_, objective_, lower_bound_, optimality_gap_, n_outputs_, ...
        Every fitted attribute of ``best_estimator_``, copied.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ConvexReLUClassifierCV(n_alphas=3, cv=3, n_patterns=8, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _estimator_class = ConvexReLUClassifier

    def __init__(
        self,
        *,
        alphas=None,
        n_alphas=10,
        eps=1e-3,
        cv=None,
        scoring=None,
        n_jobs=None,
        n_patterns=50,
        formulation="relu",
        solver="auto",
        fit_intercept=True,
        max_iter=None,
        tol=1e-4,
        random_state=None,
        verbose=False,
        pattern_search="auto",
    ):
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.n_patterns = n_patterns
        self.formulation = formulation
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.pattern_search = pattern_search

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Cross-validate the grid (stratified folds), then refit at the best ``alpha``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : ConvexReLUClassifierCV
        """
        return self._fit(X, y)

    def decision_function(self, X):
        """Network output(s) of :attr:`best_estimator_`, shape (n_samples,) for two classes,
        else (n_samples, n_classes)."""
        X = self._checked(X)
        return self.best_estimator_.decision_function(X)

    def predict_proba(self, X):
        """Class probabilities of :attr:`best_estimator_`, shape (n_samples, n_classes)."""
        X = self._checked(X)
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, shape (n_samples, n_classes)."""
        X = self._checked(X)
        return self.best_estimator_.predict_log_proba(X)


_document(ConvexReLURegressorCV)
_document(ConvexReLUClassifierCV)
