"""The main job: convex training against Adam on the same network and objective, with certificates.

:func:`compare` fits, on the same training data and the same objective ``L_nc`` (doc/math.rst, mean
scaling, on the target standardized as :class:`~convexnn.ConvexReLURegressor` standardizes it:
centred by its training mean, divided by its standard deviation):

* ``n_runs`` Adam (or SGD) runs of the width ``n_patterns`` with the schedule of the estimators'
  Adam start (:func:`convexnn.search.sgd_schedule`), seeds ``random_state``, ``random_state + 1``,
  ...;
* the default convex route: ``ConvexReLURegressor(alpha=lam, n_patterns=n_patterns)`` with its
  default ``pattern_search='auto'`` (resolved per data set, reported) and ``solver``. When 'auto'
  resolves to 'sgd' its ``random_state`` is the seed of the best run, so its Adam start *is* that
  run, and the route, which never ends above its start, ends at or below every run;
* the same program (the route's patterns, the same ``lam``) solved by a cvxpy solver (SCS, the
  design's reference), which must agree with the native solve;
* the convex program over ``n_patterns`` plainly sampled patterns, for contrast.

Every row is certified at its own training predictions (:func:`convexnn.certificates.certify`, as
the estimators do): a lower bound on the global optimum over networks of any width and the relative
gap to it, *certified* when every activation pattern could be scored and an *estimate* otherwise.
The result is a :class:`ComparisonTable`; ``convexnn compare`` prints it and
:meth:`ComparisonTable.plot` draws Adam's objective against time beside the convex objective and
the lower bound.
"""

import csv
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .candidates import all_patterns
from .certificates import certify, formulation_class
from .estimators import ConvexReLURegressor
from .families import _CERTIFY_MAX_PATTERNS
from .networks import ReLUNetwork, from_convex
from .search import resolve_strategy, sgd_schedule
from .sgd import train
from .solvers import get_solver
from .validation import check_matrix, check_positive, check_target

__all__ = ["ComparisonTable", "compare"]

#: the CSV columns, in order
_COLUMNS = ("method", "kind", "objective", "lower_bound", "gap", "gap_certified", "train_error",
            "test_error", "neurons", "time_s")
#: tolerance of the cvxpy reference solve (SCS's eps_abs and eps_rel)
REFERENCE_TOL = 1e-5


@dataclass
class ComparisonTable:
    """The rows of :func:`compare` and what they were computed with.

    Attributes
    ----------
    rows : list of dict
        One per method, with the keys of the CSV columns: ``method`` (a label), ``kind`` ('route',
        'reference', 'sampled' or 'run'), ``objective`` (``L_nc`` of the row's network on the
        standardized training target), ``lower_bound`` and ``gap`` (the row's certificate: a lower bound
        on the global optimum and ``(objective - lower_bound) / |objective|``), ``gap_certified``
        (True when every pattern was scored, False for an estimate), ``train_error`` and
        ``test_error`` (mean squared error of the predictions, None without test data),
        ``neurons`` (active neurons) and ``time_s`` (wall-clock seconds of the fit; the route's
        includes training its own Adam start).
    curves : list of tuple of ndarray
        Per run, ``(seconds, objective)`` after every epoch (the first entry is the start).
    meta : dict
        ``strategy`` (the route's resolved pattern search), ``solver`` (the native solver the
        route's program was solved with), ``width`` (of the runs), ``start_run`` (index of the run
        the route started from, or None), ``start_objective`` (the route's ``sgd_objective_``),
        ``reference_agreement`` (relative difference of the reference and route objectives, or
        None), ``restricted_gap`` (the route's certified gap on its own program), ``lam`` and
        ``optimizer`` (of the runs).
    """

    rows: list = field(default_factory=list)
    curves: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def row(self, kind):
        """The first row of ``kind`` ('route', 'reference', 'sampled' or 'run')."""
        return next(r for r in self.rows if r["kind"] == kind)

    def runs(self):
        """The rows of the Adam/SGD runs."""
        return [r for r in self.rows if r["kind"] == "run"]

    def ordering_holds(self, rtol=0.0):
        """Whether ``lower bound <= route objective <= every run's objective`` (to ``rtol``).

        Parameters
        ----------
        rtol : float, default=0.0
            Relative slack on each inequality.

        Returns
        -------
        bool
        """
        route = self.row("route")
        slack = rtol * abs(route["objective"])
        return (route["lower_bound"] <= route["objective"] + slack
                and all(route["objective"] <= r["objective"] + slack for r in self.runs()))

    def to_string(self):
        """The rows as aligned text (the gap is marked 'cert.' or 'est.')."""
        head = ["method", "objective", "lower bound", "gap", "train mse", "test mse", "neurons",
                "time [s]"]
        body = [
            [
                r["method"],
                f"{r['objective']:.6f}",
                f"{r['lower_bound']:.6f}",
                f"{r['gap']:.1e} {'cert.' if r['gap_certified'] else 'est.'}",
                f"{r['train_error']:.4f}",
                "-" if r["test_error"] is None else f"{r['test_error']:.4f}",
                str(r["neurons"]),
                f"{r['time_s']:.2f}",
            ]
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]

        def fmt(line):
            return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(line, widths)))

        rule = "-" * len(fmt(head))
        return "\n".join([fmt(head), rule] + [fmt(line) for line in body])

    def __str__(self):
        return self.to_string()

    def to_csv(self, path):
        """Write the rows to a CSV file (header: the keys of :attr:`rows`).

        Parameters
        ----------
        path : str or path-like
        """
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=_COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)

    def plot(self, path=None):
        """Adam's objective against time, with the route's objective and lower bound as lines.

        Parameters
        ----------
        path : str or path-like, optional
            Where to save the figure (PNG, or any format matplotlib infers from the name).

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ImportError
            When matplotlib is not installed (the message says how to install it).
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                "the comparison plot needs matplotlib; install it with pip install matplotlib "
                "(or pip install 'convexnn[bench]')."
            ) from exc
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        route = self.row("route")
        kind = "certified" if route["gap_certified"] else "estimated"
        finals = [row["objective"] for row in self.runs()]
        for ax, zoom in zip(axes, (False, True)):
            for k, ((seconds, values), row) in enumerate(zip(self.curves, self.runs())):
                ax.plot(seconds, values, color=f"C{k % 10}", lw=1, alpha=0.8, label=row["method"])
            ax.axhline(route["objective"], color="k", lw=1.5,
                       label=f"convex objective {route['objective']:.6f}")
            ax.axhline(route["lower_bound"], color="k", ls="--", lw=1.2,
                       label=f"lower bound {route['lower_bound']:.6f} ({kind})")
            ax.set_xlabel("time [s]")
            if zoom:  # the end of training, where the runs meet the convex objective
                low, high = route["lower_bound"], max(finals + [route["objective"]])
                pad = 0.25 * (high - low) + 1e-12
                ax.set_ylim(low - pad, high + 3 * pad)
                ax.set_title("near the optimum")
            else:
                ax.set_yscale("log")
                ax.set_ylabel("training objective L_nc")
                ax.set_title(f"{self.meta.get('optimizer', 'adam')} runs of width "
                             f"{self.meta.get('width')}, alpha = {self.meta.get('lam'):g}")
        axes[1].legend(fontsize=7)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig


def _mse(pred, y):
    return float(np.mean((pred - y) ** 2))


def compare(
    X,
    y,
    X_test=None,
    y_test=None,
    *,
    lam=1e-2,
    n_patterns=50,
    formulation="relu",
    fit_intercept=True,
    solver="auto",
    reference="SCS",
    sampled=True,
    n_runs=5,
    optimizer="adam",
    random_state=0,
):
    """Fit Adam runs, the default convex route, its cvxpy reference and a sampled contrast.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    X_test, y_test : array-like, optional
        Held-out data for the test error column (given together).
    lam : float, default=1e-2
        Regularization strength of every fit (``alpha`` of the estimator; mean scaling, doc/math.rst).
    n_patterns : int, default=50
        The route's pattern budget (the estimator's ``n_patterns``), the width of the runs (the
        width of the route's own Adam start) and the number of sampled patterns of the contrast.
    formulation : {'relu', 'gated'}, default='relu'
        The convex program of the route, the reference and the contrast. The runs always train
        ReLU networks, as the route's Adam start does.
    fit_intercept : bool, default=True
        Hidden biases, and the target centred by its training mean (added back to predict);
        the target is then divided by its spread, as the estimator does.
    solver : str or Solver, default='auto'
        The native solver of the route and the contrast (the estimator's ``solver``).
    reference : str or None, default='SCS'
        The cvxpy solver that re-solves the route's program (tolerance :data:`REFERENCE_TOL`);
        None leaves the row out.
    sampled : bool, default=True
        Add the row of the program over ``n_patterns`` sampled patterns.
    n_runs : int, default=5
        Number of Adam/SGD runs (seeds ``random_state + k``).
    optimizer : {'adam', 'sgd'}, default='adam'
        Optimizer of the runs (the route's Adam schedule, :func:`convexnn.search.sgd_schedule`:
        full batch up to 1024 samples with learning rate 0.02, at most 500 epochs, stopping when
        the objective stalls for 50; 'sgd' keeps its learning rate 0.01). With 'sgd' the route's
        Adam start is not one of the runs, so nothing ties the route to them.
    random_state : int, default=0
        Seed of the first run, the sampled patterns and the certificates' pattern search.

    Returns
    -------
    ComparisonTable
        Rows in the order: route, reference, sampled contrast, runs.

    Raises
    ------
    ValueError
        For an unknown formulation or optimizer, ``X_test`` without ``y_test`` (or the reverse),
        or a feature count of ``X_test`` that differs from ``X``'s.
    """
    formulation_class(formulation)  # a ValueError naming the choices
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
    X = check_matrix(X, "X")
    y = check_target(y, X.shape[0])
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together.")
    has_test = X_test is not None
    if has_test:
        X_test = check_matrix(X_test, "X_test")
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(f"X_test has {X_test.shape[1]} features but X has {X.shape[1]}.")
        y_test = check_target(y_test, X_test.shape[0], "y_test")
    n_patterns = check_positive(n_patterns, "n_patterns", integer=True)
    n_runs = check_positive(n_runs, "n_runs", integer=True)
    random_state = int(random_state)
    # the estimator centres the target by its training mean (computed on a column, as here) and
    # divides it by its root mean square: every row is on that standardized target
    offset = float(y.reshape(-1, 1).mean(axis=0)[0]) if fit_intercept else 0.0
    scale = float(np.sqrt(np.mean((y - offset) ** 2))) or 1.0
    target = (y - offset) / scale
    max_patterns = max(n_patterns, _CERTIFY_MAX_PATTERNS)  # the estimators' certificate setting
    full = all_patterns(X, fit_intercept, max_patterns)

    def certified(predictions, objective, gates, kind):
        certificate = certify(
            X, target, predictions, objective, lam, formulation=kind, fit_intercept=fit_intercept,
            patterns=full, gates=gates, random_state=random_state, max_patterns=max_patterns,
        )
        return certificate.lower_bound, certificate.rel_gap, certificate.exact

    def row(method, kind, network, objective, bound, seconds):
        lower_bound, gap, exact = bound
        return {
            "method": method, "kind": kind, "objective": float(objective),
            "lower_bound": float(lower_bound), "gap": float(gap), "gap_certified": bool(exact),
            "train_error": _mse(scale * network.predict(X) + offset, y),
            "test_error": (_mse(scale * network.predict(X_test) + offset, y_test) if has_test
                           else None),
            "neurons": int(network.n_neurons), "time_s": float(seconds),
        }

    table = ComparisonTable(meta={"lam": float(lam), "width": n_patterns, "optimizer": optimizer})

    # the runs: the route's Adam start, with other seeds
    runs = []
    schedule = sgd_schedule(X.shape[0])
    if optimizer != "adam":  # the schedule's learning rate is the Adam start's
        schedule.pop("learning_rate", None)
    for k in range(n_runs):
        seed = random_state + k
        init = ReLUNetwork.random(X.shape[1], n_patterns, fit_intercept=fit_intercept,
                                  random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as in the route's start
            fit = train(init, X, target, lam=lam, optimizer=optimizer, random_state=seed,
                        **schedule)
        runs.append(fit)
        table.curves.append((np.asarray(fit.time_curve), np.asarray(fit.loss_curve)))

    # the default convex route, started from the best run when its search is the Adam start
    strategy = resolve_strategy("auto", X, n_patterns, fit_intercept)
    best = int(np.argmin([fit.objective for fit in runs]))
    start_run = best if strategy == "sgd" and optimizer == "adam" else None
    model = ConvexReLURegressor(
        alpha=lam, n_patterns=n_patterns, formulation=formulation, solver=solver,
        fit_intercept=fit_intercept, random_state=random_state + best if start_run is not None
        else random_state,
    )
    tic = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - tic
    route_net = model.to_network().scaled(1.0 / scale)  # back on the standardized target
    program = formulation_class(formulation)(X, target, model.patterns_, lam=lam)
    native = get_solver(solver)
    table.meta.update(
        strategy=strategy,
        solver=native.pick(program).name if hasattr(native, "pick") else native.name,
        start_run=start_run,
        start_objective=model.sgd_objective_,
        restricted_gap=model.restricted_gap_,
    )
    table.rows.append(row(
        f"convex, default route ({strategy}), {model.patterns_.n_patterns} patterns", "route",
        route_net, model.objective_,
        (model.lower_bound_, model.optimality_gap_, model.certificate_exact_), seconds,
    ))

    if reference is not None:
        reference_solver = get_solver(reference, tol=REFERENCE_TOL)
        tic = time.perf_counter()
        result = reference_solver.solve(program)
        net = from_convex(program, result.coef)
        seconds = time.perf_counter() - tic
        objective = net.objective(X, target, lam)
        table.rows.append(row(
            f"{reference_solver.name}, same patterns", "reference", net, objective,
            certified(net.predict(X), objective, result.coef.T, formulation), seconds,
        ))
        difference = abs(objective - model.objective_)
        table.meta["reference_agreement"] = difference / abs(model.objective_)
    else:
        table.meta["reference_agreement"] = None

    if sampled:
        contrast = ConvexReLURegressor(
            alpha=lam, n_patterns=n_patterns, formulation=formulation, solver=solver,
            fit_intercept=fit_intercept, random_state=random_state, pattern_search="sampled",
        )
        tic = time.perf_counter()
        contrast.fit(X, y)
        seconds = time.perf_counter() - tic
        table.rows.append(row(
            f"convex, {contrast.patterns_.n_patterns} sampled patterns", "sampled",
            contrast.to_network().scaled(1.0 / scale), contrast.objective_,
            (contrast.lower_bound_, contrast.optimality_gap_, contrast.certificate_exact_), seconds,
        ))

    for k, fit in enumerate(runs):
        label = f"{optimizer} run {k} (seed {random_state + k})"
        if k == start_run:
            label += ", the route's start"
        table.rows.append(row(
            label, "run", fit.network, fit.objective,
            certified(fit.network.predict(X), fit.objective, fit.network.first_layer, "relu"),
            fit.time,
        ))
    return table
