"""Experiments on wide networks: each sweeps the width over several seeds and returns a tidy Table.

What the theory predicts (doc/math.rst, "Over-parameterization"), and what each function measures:

* :func:`ntk_at_init`: the smallest eigenvalue of the empirical tangent kernel ``H_0`` at
  initialization concentrates, as the width grows, around that of the analytic kernel, which is
  bounded away from 0 for distinct unit-norm inputs (the assumption of the seeds).
* :func:`lazy_training`: trained to the same loss, a wider network moves its weights and its kernel
  less, relative to their initial size (``~ m^(-1/2)`` for the kernel in the 'ntk' parameterization).
* :func:`linear_convergence`: for the mean squared loss ``(1/n) sum (f - y)^2 / 2`` gradient descent
  with step ``eta`` acts on the residual as ``r <- (I - eta H / n) r`` in the lazy regime, so the loss
  decays at least as ``(1 - eta lambda_min(H_0) / n)^(2t)``: its rate is measured against
  ``eta lambda_min(H_0) / n``.
* :func:`classification`: steps of (S)GD until every training label is fitted (Allen-Zhu et al.).
* :func:`learning_rate_transfer`: the best learning rate of a grid against width, per
  parameterization; it stays put in the 'ntk' parameterization and shrinks like ``1/m`` otherwise.
* :func:`convex_gap`: the weight-decay objective of wide two-layer networks trained by Adam against
  the convex optimum of the same problem (:class:`convexnn.ConvexReLURegressor`).

Data: :func:`sphere_data`, a teacher network's targets on inputs of unit norm. ``learning_rate='auto'``
takes ``eta = n / lambda_max(H_0)``, half the largest stable step of linearized gradient descent,
so that every width and parameterization is run at the same place of its stability range.
"""

import warnings

import numpy as np

from ..datasets import make_teacher
from ..validation import check_positive
from .deep_mlp import DeepReLUNetwork, get_parameterization, relative_weight_change, train_deep, unit_norm
from .ntk import analytic_ntk, empirical_ntk, relative_error
from .table import Table, loglog_slope

__all__ = [
    "sphere_data",
    "ntk_at_init",
    "lazy_training",
    "linear_convergence",
    "classification",
    "learning_rate_transfer",
    "convex_gap",
    "EXPERIMENTS",
]



def sphere_data(n_samples=20, n_features=5, *, task="regression", random_state=0):
    """Inputs on the unit sphere with targets from a random two-layer ReLU teacher.

    Parameters
    ----------
    n_samples, n_features : int
    task : {'regression', 'classification'}, default='regression'
        Regression: the teacher's output, centred and scaled to unit variance. Classification: its
        sign relative to the median, labels in {-1, +1} (balanced).
    random_state : int, Generator or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), rows of unit norm
    y : ndarray of shape (n_samples,)
    """
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")
    X, y = make_teacher(n_samples, n_features, n_neurons=5, noise=0.0, random_state=random_state)
    X = unit_norm(X)
    if task == "classification":
        y = np.where(y >= np.median(y), 1.0, -1.0)
    return X, y


def _seeds(seeds):
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return list(range(check_positive(int(seeds), "seeds", integer=True)))
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must be a positive int or a non-empty sequence of ints, got [].")
    return seeds


def _widths(widths):
    widths = [int(w) for w in np.atleast_1d(widths)]
    if not widths or min(widths) < 1:
        raise ValueError(f"widths must be a non-empty sequence of ints >= 1, got {widths}.")
    return widths


def _runs(widths, seeds, extra=(None,)):
    """All (width, seed, extra) combinations, width slowest and seed fastest."""
    return [(w, s, e) for w in widths for e in extra for s in seeds]


def _sweep(job, runs, *, n_jobs, verbose, desc, **fixed):
    """``[job(width, seed, extra, **fixed) for (width, seed, extra) in runs]`` through joblib.

    Each run is an independent fit whose randomness comes from its own seed, so the results (in
    the order of ``runs``) are the same whatever the joblib backend and ``n_jobs``: ``None`` runs
    them one after the other in this process unless a ``joblib.parallel_backend`` (or
    ``joblib.parallel_config``) context says otherwise, e.g. ``parallel_backend('dask')`` with a
    ``dask.distributed.Client`` spreads them over its workers.

    Parameters
    ----------
    job : callable
        A module-level function (it is pickled to worker processes); returns one run's result.
    runs : list of tuple
        ``(width, seed, extra)`` of each run.
    n_jobs : int or None
        joblib's ``n_jobs``.
    verbose : bool
        A tqdm bar over the finished runs.
    desc : str
        The bar's label.
    **fixed
        Arguments shared by every run (the data, the experiment's settings).

    Returns
    -------
    list
        The runs' results, in the order of ``runs``.
    """
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(job)(width, seed, extra, **fixed) for width, seed, extra in runs)
    if verbose:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(runs), desc=desc)
    return list(results)


def _step(learning_rate, H, n):
    if learning_rate == "auto":
        return float(n / np.linalg.eigvalsh(H)[-1])
    return float(check_positive(learning_rate, "learning_rate"))


def _eig(H):
    vals = np.linalg.eigvalsh(H)
    return float(vals[0]), float(vals[-1])


def ntk_at_init(widths=(64, 256, 1024), seeds=3, *, n_samples=20, n_features=5, depth=3,
                parameterization="ntk", random_state=0, verbose=False, n_jobs=None):
    """Smallest eigenvalue of the empirical NTK at initialization, and its distance to the analytic one.

    Parameters
    ----------
    widths : sequence of int
    seeds : int or sequence of int
        Number of initializations (seeds 0..seeds-1) or the seeds themselves.
    n_samples, n_features : int
        Size of :func:`sphere_data`.
    depth : int
        Hidden layers.
    parameterization : {'ntk', 'standard', 'allen_zhu'}
    random_state : int
        Seed of the data.
    verbose : bool
    n_jobs : int or None, default=None
        joblib's ``n_jobs`` for the independent runs (see :func:`_sweep`); None is serial unless a
        ``joblib.parallel_backend`` context (e.g. ``'dask'``) is active. Results do not depend on it.

    Returns
    -------
    Table
        One row per (width, seed): ``lambda_min``, ``lambda_max`` of ``H_0``, ``lambda_min_analytic``
        (of the infinite-width kernel), ``ntk_error`` (relative Frobenius distance to it). ``meta``:
        ``error_slope``, the log-log slope of the mean error against width.
    """
    X, _ = sphere_data(n_samples, n_features, random_state=random_state)
    rows = _sweep(_ntk_run, _runs(_widths(widths), _seeds(seeds)), n_jobs=n_jobs, verbose=verbose,
                  desc="ntk at init", X=X, depth=depth, parameterization=parameterization)
    table = Table(rows, "ntk_at_init", dict(depth=depth, parameterization=parameterization, n_samples=n_samples))
    table.meta["error_slope"] = loglog_slope(*table.group("width", "ntk_error"))
    return table


def _ntk_run(width, seed, _, *, X, depth, parameterization):
    """One row of :func:`ntk_at_init`."""
    net = DeepReLUNetwork.random(X.shape[1], width, depth, parameterization=parameterization,
                                 random_state=seed)
    H = empirical_ntk(net, X)
    Theta = analytic_ntk(X, depth=depth, parameterization=parameterization, width=width)
    lo, hi = _eig(H)
    return dict(width=width, seed=seed, lambda_min=lo, lambda_max=hi,
                lambda_min_analytic=_eig(Theta)[0], ntk_error=relative_error(H, Theta))


def lazy_training(widths=(64, 256, 1024), seeds=3, *, n_samples=20, n_features=5, depth=3,
                  parameterization="ntk", n_steps=200, learning_rate="auto", random_state=0,
                  verbose=False, n_jobs=None):
    """Relative weight and kernel change after full-batch gradient descent, against width.

    Parameters
    ----------
    widths, seeds, n_samples, n_features, depth, parameterization, random_state, verbose, n_jobs
        As in :func:`ntk_at_init`.
    n_steps : int
        Gradient descent steps on the mean squared loss (no weight decay).
    learning_rate : float or 'auto'

    Returns
    -------
    Table
        One row per (width, seed): ``learning_rate``, ``loss_initial``, ``loss_final``,
        ``weight_change`` (``||theta_T - theta_0|| / ||theta_0||``) and ``kernel_change``
        (``||H_T - H_0||_F / ||H_0||_F``). ``meta``: ``weight_slope`` and ``kernel_slope``, the
        log-log slopes of their means against width.
    """
    X, y = sphere_data(n_samples, n_features, random_state=random_state)
    rows = _sweep(_lazy_run, _runs(_widths(widths), _seeds(seeds)), n_jobs=n_jobs, verbose=verbose,
                  desc="lazy training", X=X, y=y, depth=depth, parameterization=parameterization,
                  n_steps=n_steps, learning_rate=learning_rate)
    table = Table(rows, "lazy_training", dict(depth=depth, parameterization=parameterization, n_steps=n_steps))
    table.meta["weight_slope"] = loglog_slope(*table.group("width", "weight_change"))
    table.meta["kernel_slope"] = loglog_slope(*table.group("width", "kernel_change"))
    return table


def _lazy_run(width, seed, _, *, X, y, depth, parameterization, n_steps, learning_rate):
    """One row of :func:`lazy_training`."""
    net = DeepReLUNetwork.random(X.shape[1], width, depth, parameterization=parameterization,
                                 random_state=seed)
    H0 = empirical_ntk(net, X)
    eta = _step(learning_rate, H0, X.shape[0])
    fit = train_deep(net, X, y, learning_rate=eta, n_steps=n_steps)
    return dict(width=width, seed=seed, learning_rate=eta, loss_initial=float(fit.loss_curve[0]),
                loss_final=float(fit.loss_curve[-1]),
                weight_change=relative_weight_change(net, fit.network),
                kernel_change=relative_error(empirical_ntk(fit.network, X), H0))


def linearized_loss(H, residual, learning_rate, n_steps):
    """Loss curve of gradient descent on the linearized model (residual ``r <- (I - eta H / n) r``).

    Parameters
    ----------
    H : ndarray of shape (n_samples, n_samples)
    residual : ndarray of shape (n_samples,)
        ``f_0(X) - y``.
    learning_rate : float
    n_steps : int

    Returns
    -------
    ndarray of shape (n_steps + 1,)
        ``(1/2n) || (I - eta H / n)^t r ||^2`` for ``t = 0 .. n_steps``.
    """
    n = residual.shape[0]
    vals, vecs = np.linalg.eigh(H)
    coef = vecs.T @ residual
    factors = (1.0 - learning_rate * vals / n) ** 2
    t = np.arange(n_steps + 1)[:, None]
    return 0.5 * np.sum(factors[None, :] ** t * coef[None, :] ** 2, axis=1) / n


def _tail_rate(curve):
    """Per-step decay rate of the second half of a loss curve (least-squares slope of ``-log``)."""
    curve = np.asarray(curve)
    t = np.arange(curve.size)
    keep = (t >= curve.size // 2) & np.isfinite(curve) & (curve > 1e-13 * curve[0])
    if keep.sum() < 2:
        return float("nan")
    return float(-np.polyfit(t[keep], np.log(curve[keep]), 1)[0])


def linear_convergence(widths=(64, 256, 1024), seeds=3, *, n_samples=20, n_features=5, depth=3,
                       parameterization="ntk", n_steps=300, learning_rate="auto", random_state=0,
                       verbose=False, n_jobs=None):
    """Measured linear rate of the training loss against ``eta lambda_min(H_0) / n``.

    Parameters
    ----------
    widths, seeds, n_samples, n_features, depth, parameterization, random_state, verbose, n_jobs
        As in :func:`ntk_at_init`.
    n_steps : int
        Full-batch gradient descent steps on the mean squared loss.
    learning_rate : float or 'auto'

    Returns
    -------
    Table
        One row per (width, seed): ``learning_rate``, ``lambda_min`` of ``H_0``,
        ``eta_lambda_min`` (``eta lambda_min / n``), ``rate_bound`` (``-2 log(1 - eta lambda_min / n)``,
        the per-step rate of the bound ``L_t <= (1 - eta lambda_min / n)^(2t) L_0``),
        ``measured_rate`` (slope of ``-log L_t`` over the second half), ``average_rate``
        (``-log(L_T / L_0) / T``), ``lambda_min_final`` (of the kernel after training, which sets
        the rate of the tail when the kernel has moved), ``rate_final_kernel`` (``rate_bound`` with
        it) and ``linearized_gap``
        (``max_t |L_t - L_t^lin| / L_0``, the distance to the loss curve of the linearized model). ``meta['curves']``: width -> (loss curve,
        linearized curve) of the first seed.
    """
    X, y = sphere_data(n_samples, n_features, random_state=random_state)
    rows, curves = [], {}
    results = _sweep(_convergence_run, _runs(_widths(widths), _seeds(seeds)), n_jobs=n_jobs,
                     verbose=verbose, desc="linear convergence", X=X, y=y, depth=depth,
                     parameterization=parameterization, n_steps=n_steps,
                     learning_rate=learning_rate)
    for row, curve_pair in results:
        rows.append(row)
        curves.setdefault(row["width"], curve_pair)
    meta = dict(depth=depth, parameterization=parameterization, n_steps=n_steps, curves=curves)
    return Table(rows, "linear_convergence", meta)


def _convergence_run(width, seed, _, *, X, y, depth, parameterization, n_steps, learning_rate):
    """One row of :func:`linear_convergence` and its (loss curve, linearized curve)."""
    n_samples = X.shape[0]
    net = DeepReLUNetwork.random(X.shape[1], width, depth, parameterization=parameterization,
                                 random_state=seed)
    H0 = empirical_ntk(net, X)
    eta = _step(learning_rate, H0, n_samples)
    fit = train_deep(net, X, y, learning_rate=eta, n_steps=n_steps)
    linear = linearized_loss(H0, net.predict(X) - y, eta, fit.n_steps)
    lo = _eig(H0)[0]
    x = eta * lo / n_samples
    curve = fit.loss_curve
    lo_final = _eig(empirical_ntk(fit.network, X))[0]
    row = dict(width=width, seed=seed, learning_rate=eta, lambda_min=lo, eta_lambda_min=x,
               rate_bound=float(-2 * np.log1p(-x)) if x < 1 else float("nan"),
               measured_rate=_tail_rate(curve),
               average_rate=float(-np.log(curve[-1] / curve[0]) / fit.n_steps),
               lambda_min_final=lo_final,
               rate_final_kernel=float(-2 * np.log1p(-eta * lo_final / n_samples))
               if eta * lo_final < n_samples else float("nan"),
               linearized_gap=float(np.max(np.abs(curve - linear)) / curve[0]))
    return row, (curve, linear)


def classification(widths=(64, 256, 1024), seeds=3, *, n_samples=20, n_features=5, depth=3,
                   parameterization="allen_zhu", optimizer="sgd", batch_size=None, max_steps=2000,
                   learning_rate="auto", random_state=0, verbose=False, n_jobs=None):
    """Steps of (S)GD on the squared loss until every training label's sign is right, against width.

    Parameters
    ----------
    widths, seeds, n_samples, n_features, depth, parameterization, random_state, verbose, n_jobs
        As in :func:`ntk_at_init` (labels from ``sphere_data(task='classification')``).
    optimizer : {'sgd', 'gd', 'adam'}, default='sgd'
    batch_size : int or None
        Minibatch size; None takes ``max(1, n_samples // 4)`` for 'sgd' and 'adam'.
    max_steps : int
        Steps allowed; a run that does not fit every label by then reports NaN.
    learning_rate : float or 'auto'

    Returns
    -------
    Table
        One row per (width, seed): ``learning_rate``, ``steps_to_fit`` (NaN if not reached),
        ``final_accuracy``.
    """
    X, y = sphere_data(n_samples, n_features, task="classification", random_state=random_state)
    if batch_size is None:
        batch_size = max(1, n_samples // 4)
    rows = _sweep(_classification_run, _runs(_widths(widths), _seeds(seeds)), n_jobs=n_jobs,
                  verbose=verbose, desc="classification", X=X, y=y, depth=depth,
                  parameterization=parameterization, optimizer=optimizer, batch_size=batch_size,
                  max_steps=max_steps, learning_rate=learning_rate)
    meta = dict(depth=depth, parameterization=parameterization, optimizer=optimizer, max_steps=max_steps)
    return Table(rows, "classification", meta)


def _classification_run(width, seed, _, *, X, y, depth, parameterization, optimizer, batch_size,
                        max_steps, learning_rate):
    """One row of :func:`classification`."""
    net = DeepReLUNetwork.random(X.shape[1], width, depth, parameterization=parameterization,
                                 random_state=seed)
    eta = _step(learning_rate, empirical_ntk(net, X), X.shape[0])
    fit = train_deep(net, X, y, learning_rate=eta, n_steps=max_steps, optimizer=optimizer,
                     batch_size=batch_size, stop_at_fit=True, random_state=seed)
    return dict(width=width, seed=seed, learning_rate=eta,
                steps_to_fit=float("nan") if fit.steps_to_fit is None else fit.steps_to_fit,
                final_accuracy=float(fit.accuracy_curve[-1]))


def learning_rate_transfer(widths=(64, 256, 1024), seeds=2, *, n_samples=20, n_features=5, depth=3,
                           parameterizations=("ntk", "standard"), learning_rates=None, n_steps=100,
                           random_state=0, verbose=False, n_jobs=None):
    """The best learning rate of a grid against width, for each parameterization.

    Parameters
    ----------
    widths, seeds, n_samples, n_features, depth, random_state, verbose, n_jobs
        As in :func:`ntk_at_init` (here a run is one width and parameterization, all its seeds
        and grid points).
    parameterizations : sequence of {'ntk', 'standard', 'allen_zhu'}
    learning_rates : array-like or None
        The grid; None takes ``10 ** linspace(-4, 3, 15)``.
    n_steps : int
        Full-batch gradient descent steps; the criterion is the mean (over seeds) loss after them,
        infinite for a diverged run.

    Returns
    -------
    Table
        One row per (parameterization, width, learning rate): ``final_loss`` (mean over seeds) and
        ``best`` (True on the grid point with the lowest one). ``meta['best']``: parameterization ->
        list of the best learning rate per width.
    """
    grid = np.logspace(-4, 3, 15) if learning_rates is None else np.asarray(learning_rates, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or np.any(grid <= 0):
        raise ValueError(f"learning_rates must be a non-empty 1-D array of positive floats, got {grid}.")
    schemes = [get_parameterization(p).name for p in parameterizations]
    X, y = sphere_data(n_samples, n_features, random_state=random_state)
    seeds, widths = _seeds(seeds), _widths(widths)
    rows, best = [], {p: [] for p in schemes}
    runs = _runs(widths, [None], extra=schemes)
    results = _sweep(_transfer_run, runs, n_jobs=n_jobs, verbose=verbose,
                     desc="learning-rate transfer", X=X, y=y, seeds=seeds, depth=depth, grid=grid,
                     n_steps=n_steps)
    for (width, _, scheme), finals in zip(runs, results):
        k = int(np.argmin(finals))
        best[scheme].append(float(grid[k]))
        rows.extend(dict(parameterization=scheme, width=width, learning_rate=float(eta), final_loss=loss,
                         best=i == k) for i, (eta, loss) in enumerate(zip(grid, finals)))
    return Table(rows, "learning_rate_transfer", dict(depth=depth, n_steps=n_steps, best=best, widths=widths))


def _transfer_run(width, _, scheme, *, X, y, seeds, depth, grid, n_steps):
    """Final loss (mean over ``seeds``) of each learning rate of ``grid``, for one width and
    parameterization of :func:`learning_rate_transfer`."""
    nets = [DeepReLUNetwork.random(X.shape[1], width, depth, parameterization=scheme, random_state=s)
            for s in seeds]
    finals = []
    for eta in grid:
        losses = []
        for net in nets:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = train_deep(net, X, y, learning_rate=float(eta), n_steps=n_steps)
            losses.append(np.inf if fit.diverged else fit.loss_curve[-1])
        finals.append(float(np.mean(losses)))
    return finals


def convex_gap(widths=(2, 4, 8, 16, 32, 64), seeds=3, *, n_samples=20, n_features=2, lam=1e-2,
               max_epochs=3000, learning_rate=1e-2, n_patterns=200, random_state=0, verbose=False,
               n_jobs=None):
    """Weight-decay objective of Adam-trained two-layer networks against the convex optimum.

    Both sides solve ``L_nc = (1/n) sum (f(x_k) - y_k)^2 / 2 + (lam/2) sum_j (||u_j||^2 + a_j^2)`` for
    ``f(x) = sum_j (x^T u_j)_+ a_j`` without biases (``fit_intercept=False``): the network side with
    :func:`convexnn.sgd.train` (full-batch Adam), the convex side with
    ``ConvexReLURegressor(alpha=lam, fit_intercept=False)``, which enumerates every activation
    pattern when they fit ``n_patterns`` and then certifies its optimum.

    Parameters
    ----------
    widths : sequence of int
        Neurons of the trained networks.
    seeds : int or sequence of int
    n_samples, n_features : int
        Size of the teacher data (:func:`convexnn.datasets.make_teacher`, not normalized).
    lam : float
    max_epochs : int
    learning_rate : float
        Adam's step.
    n_patterns : int
        Pattern budget of the convex estimator.
    random_state : int
        Seed of the data and of the convex estimator.
    verbose : bool
    n_jobs : int or None, default=None
        joblib's ``n_jobs`` for the Adam runs (the convex fit runs once, here) (see :func:`_sweep`); None is serial unless a
        ``joblib.parallel_backend`` context (e.g. ``'dask'``) is active. Results do not depend on it.

    Returns
    -------
    Table
        One row per (width, seed): ``objective`` (``L_nc`` of the trained network),
        ``convex_objective``, ``lower_bound`` (certified when ``certified``), ``relative_gap``
        (``(objective - convex_objective) / convex_objective``) and ``certified``.
    """
    from ..estimators import ConvexReLURegressor

    check_positive(lam, "lam")
    X, y = make_teacher(n_samples, n_features, n_neurons=5, noise=0.1, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convex = ConvexReLURegressor(alpha=lam, fit_intercept=False, n_patterns=n_patterns,
                                     random_state=random_state).fit(X, y)
    objectives = _sweep(_adam_run, _runs(_widths(widths), _seeds(seeds)), n_jobs=n_jobs,
                        verbose=verbose, desc="convex gap", X=X, y=y, lam=lam,
                        learning_rate=learning_rate, max_epochs=max_epochs)
    rows = [dict(width=width, seed=seed, objective=objective, convex_objective=convex.objective_,
                 lower_bound=convex.lower_bound_,
                 relative_gap=(objective - convex.objective_) / convex.objective_,
                 certified=convex.certificate_exact_)
            for (width, seed, _), objective in zip(_runs(_widths(widths), _seeds(seeds)), objectives)]
    meta = dict(lam=lam, n_samples=n_samples, n_features=n_features, convex_neurons=convex.n_active_neurons_)
    return Table(rows, "convex_gap", meta)


def _adam_run(width, seed, _, *, X, y, lam, learning_rate, max_epochs):
    """Weight-decay objective of one Adam-trained network of :func:`convex_gap`."""
    from ..networks import ReLUNetwork
    from ..sgd import train

    net = ReLUNetwork.random(X.shape[1], width, fit_intercept=False, random_state=seed)
    fit = train(net, X, y, lam=lam, learning_rate=learning_rate, max_epochs=max_epochs, tol=1e-9,
                n_iter_no_change=200, random_state=seed)
    return fit.objective


#: ``convexnn lab <name>`` runs ``EXPERIMENTS[name]``: every experiment by its function's name,
#: which is also the name of its Table (and of the CSV and PNG files the command writes)
EXPERIMENTS = {
    run.__name__: run
    for run in (ntk_at_init, lazy_training, linear_convergence, classification,
                learning_rate_transfer, convex_gap)
}
