"""Convex training against SGD/Adam on the same network, objective for objective.

:func:`compare` solves the convex program over a set of activation patterns, maps the solution to
network weights, trains several SGD/Adam runs of the same width on the same objective ``L_nc``, and
re-solves the convex program over the best run's own patterns (by the embedding of MATH.md that
refit can only improve on the run). It returns a :class:`ComparisonTable`.

Keep in mind what the numbers mean: the convex optimum over *sampled* patterns is the global optimum
of a restricted problem, an upper bound on the true one; with all patterns (small data) it is the
global optimum itself, and no SGD run can end below it.
"""

import csv
import time
from dataclasses import dataclass, field

import numpy as np

from .losses import get_loss
from .networks import GatedReLUNetwork, ReLUNetwork, from_convex
from .patterns import sample_patterns
from .problems import GatedReLUProblem, ReLUProblem
from .sgd import train
from .solvers import get_solver
from .validation import check_matrix, check_positive, check_random_state, check_target

__all__ = ["ComparisonTable", "compare"]

_FORMULATIONS = {"relu": (ReLUProblem, ReLUNetwork), "gated": (GatedReLUProblem, GatedReLUNetwork)}
_COLUMNS = ("method", "objective", "train_error", "test_error", "neurons", "time_s")


@dataclass
class ComparisonTable:
    """Rows of a comparison: one per method, with the columns of :data:`_COLUMNS`.

    Attributes
    ----------
    rows : list of dict
        Keys ``method``, ``objective`` (``L_nc`` on the training data), ``train_error`` and
        ``test_error`` (mean squared error, or misclassification rate for the logistic loss; None
        without test data), ``neurons`` (active neurons) and ``time_s``.
    error_name : str
        What the error columns measure.
    """

    rows: list = field(default_factory=list)
    error_name: str = "mse"

    def row(self, method_prefix):
        """The first row whose method starts with ``method_prefix``."""
        return next(r for r in self.rows if r["method"].startswith(method_prefix))

    def to_string(self):
        """The table as aligned text."""
        head = ["method", "objective", f"train {self.error_name}", f"test {self.error_name}", "neurons", "time [s]"]
        body = [
            [
                r["method"],
                f"{r['objective']:.6f}",
                f"{r['train_error']:.4f}",
                "-" if r["test_error"] is None else f"{r['test_error']:.4f}",
                str(r["neurons"]),
                f"{r['time_s']:.2f}",
            ]
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
        fmt = lambda line: "  ".join(  # noqa: E731
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))
        )
        rule = "-" * len(fmt(head))
        return "\n".join([fmt(head), rule] + [fmt(line) for line in body])

    def __str__(self):
        return self.to_string()

    def to_csv(self, path):
        """Write the rows to a CSV file."""
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=_COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)


def _error(loss, pred, y):
    if loss.name == "logistic":
        return float(np.mean(np.where(pred >= 0, 1.0, -1.0) != y))
    return float(np.mean((pred - y) ** 2))


def compare(
    X,
    y,
    X_test=None,
    y_test=None,
    *,
    lam=1e-2,
    loss="squared",
    formulation="relu",
    patterns=None,
    n_patterns=100,
    fit_intercept=True,
    solver="auto",
    n_runs=5,
    optimizer="adam",
    learning_rate=1e-2,
    batch_size=32,
    max_epochs=500,
    width=None,
    refit=True,
    random_state=0,
    verbose=False,
):
    """Solve the convex program, train SGD/Adam on the same network, and tabulate both.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    X_test, y_test : array-like, optional
        Held-out data for the test error column.
    lam : float, default=1e-2
        Regularization strength of both problems (mean scaling, MATH.md).
    loss : {'squared', 'logistic'}, default='squared'
    formulation : {'relu', 'gated'}, default='relu'
        Convex program and network family; the SGD runs train the same family.
    patterns : ActivationPatterns, optional
        Patterns of the convex program; by default ``n_patterns`` sampled ones.
    n_patterns : int, default=100
    fit_intercept : bool, default=True
    solver : str or Solver, default='auto'
    n_runs : int, default=5
        Number of SGD/Adam runs (seeds ``random_state + k``).
    optimizer : {'adam', 'sgd'}, default='adam'
    learning_rate, batch_size, max_epochs
        Passed to :func:`convexnn.sgd.train`.
    width : int, optional
        Neurons of the SGD networks; by default the number of active neurons of the convex solution.
    refit : bool, default=True
        Add a row for the convex program over the best run's own patterns, warm-started from its
        embedding (only for ``formulation='relu'``).
    random_state : int, default=0
    verbose : bool, default=False

    Returns
    -------
    ComparisonTable
    """
    if formulation not in _FORMULATIONS:
        raise ValueError(f"formulation must be one of {sorted(_FORMULATIONS)}, got {formulation!r}.")
    problem_class, network_class = _FORMULATIONS[formulation]
    loss = get_loss(loss)
    X = check_matrix(X, "X")
    y = loss.check_target(check_target(y, X.shape[0]))
    has_test = X_test is not None
    if has_test != (y_test is not None):
        raise ValueError("X_test and y_test must be given together.")
    if has_test:
        X_test = check_matrix(X_test, "X_test")
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(f"X_test has {X_test.shape[1]} features but X has {X.shape[1]}.")
        y_test = loss.check_target(check_target(y_test, X_test.shape[0], "y_test"))
    check_positive(n_runs, "n_runs", integer=True)
    rng = check_random_state(random_state)
    solver = get_solver(solver)

    def row(method, network, objective, seconds):
        return {
            "method": method,
            "objective": objective,
            "train_error": _error(loss, network.predict(X), y),
            "test_error": _error(loss, network.predict(X_test), y_test) if has_test else None,
            "neurons": network.n_neurons,
            "time_s": seconds,
        }

    table = ComparisonTable(error_name="error" if loss.name == "logistic" else "mse")
    start = time.perf_counter()
    if patterns is None:
        patterns = sample_patterns(X, n_patterns, fit_intercept=fit_intercept, random_state=rng)
    problem = problem_class(X, y, patterns, lam=lam, loss=loss)
    result = solver.solve(problem)
    convex_net = from_convex(problem, result.coef)
    label = f"convex {formulation}, {patterns.n_patterns} patterns ({solver.name})"
    table.rows.append(row(label, convex_net, convex_net.objective(X, y, lam, loss), time.perf_counter() - start))

    m = width if width is not None else max(convex_net.n_neurons, 1)
    runs = []
    for k in range(n_runs):
        seed = int(rng.integers(2**31 - 1))
        init = network_class.random(X.shape[1], m, fit_intercept=patterns.fit_intercept, random_state=seed)
        fit = train(
            init, X, y, lam=lam, loss=loss, optimizer=optimizer, learning_rate=learning_rate,
            batch_size=batch_size, max_epochs=max_epochs, random_state=seed, verbose=verbose,
        )
        runs.append(fit)
        table.rows.append(row(f"{optimizer} run {k}", fit.network, fit.objective, fit.time))

    if refit and formulation == "relu":
        best = min(runs, key=lambda r: r.objective)
        start = time.perf_counter()
        own_problem, embedded = best.network.to_convex(X, y, lam, loss)
        own = solver.solve(own_problem, init=embedded)
        net = from_convex(own_problem, own.coef)
        table.rows.append(
            row(f"convex over best {optimizer} run's patterns", net, net.objective(X, y, lam, loss),
                time.perf_counter() - start)
        )
    return table
