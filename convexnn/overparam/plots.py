"""Figures of the over-parameterization experiments (matplotlib is imported only when plotting).

:func:`plot` draws the figure of any :class:`~convexnn.overparam.table.Table` returned by
:mod:`convexnn.overparam.experiments`, chosen by its ``name``; means over seeds are lines and each
seed is a dot.
"""

import numpy as np

__all__ = ["plot"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting the lab experiments needs matplotlib; install it with "
            "pip install 'convexnn[bench]' (or pip install matplotlib)."
        ) from exc
    return plt


def _seeds_and_mean(ax, table, value, label=None, color=None):
    widths = table.column("width")
    ax.plot(widths, table.column(value), "o", color=color, alpha=0.35, ms=4)
    keys, means = table.group("width", value)
    ax.plot(keys, means, "-", color=color, label=label or value)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width m")


def _ntk_init(table, axes):
    _seeds_and_mean(axes[0], table, "lambda_min", "empirical (seeds, mean)")
    axes[0].axhline(table.rows[0]["lambda_min_analytic"], color="k", ls="--", label="infinite width")
    axes[0].set_ylabel("lambda_min(H_0)")
    axes[0].legend(fontsize=8)
    _seeds_and_mean(axes[1], table, "ntk_error")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("||H_0 - Theta||_F / ||Theta||_F")
    axes[1].set_title(f"log-log slope {table.meta['error_slope']:.2f}")


def _lazy(table, axes):
    for ax, value, slope in zip(axes, ("weight_change", "kernel_change"), ("weight_slope", "kernel_slope")):
        _seeds_and_mean(ax, table, value)
        ax.set_yscale("log")
        ax.set_ylabel(value.replace("_", " ") + " (relative)")
        ax.set_title(f"log-log slope {table.meta[slope]:.2f}")


def _convergence(table, axes):
    for i, (width, (curve, linear)) in enumerate(sorted(table.meta["curves"].items())):
        axes[0].semilogy(curve, color=f"C{i}", label=f"m = {width}")
        axes[0].semilogy(linear, color=f"C{i}", ls=":")
    axes[0].set_xlabel("step t")
    axes[0].set_ylabel("training loss (dotted: linearized model)")
    axes[0].legend(fontsize=8)
    x, x_final = table.column("rate_bound"), table.column("rate_final_kernel")
    y, shade = table.column("measured_rate"), np.log2(table.column("width"))
    axes[1].scatter(x, y, c=shade, cmap="viridis", label="from H_0 (colour: width)")
    axes[1].scatter(x_final, y, c=shade, cmap="viridis", marker="x", label="from H_T, after training")
    lim = [0, np.nanmax([np.nanmax(x), np.nanmax(y)]) * 1.1]
    axes[1].plot(lim, lim, "k--", lw=0.8)
    axes[1].set_xlabel("predicted rate -2 log(1 - eta lambda_min / n)")
    axes[1].set_ylabel("measured rate (tail of -log L_t)")
    axes[1].legend(fontsize=8)


def _classification(table, axes):
    _seeds_and_mean(axes[0], table, "steps_to_fit")
    axes[0].set_ylabel("steps to 100% training accuracy")
    _seeds_and_mean(axes[1], table, "learning_rate")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("learning rate used")


def _lr_transfer(table, axes):
    for i, (scheme, best) in enumerate(table.meta["best"].items()):
        part = table.where(parameterization=scheme)
        for j, width in enumerate(table.meta["widths"]):
            rows = part.where(width=width)
            axes[0].loglog(rows.column("learning_rate"), rows.column("final_loss"), color=f"C{i}",
                           alpha=0.3 + 0.7 * (j + 1) / len(table.meta["widths"]),
                           label=scheme if j == len(table.meta["widths"]) - 1 else None)
        axes[1].loglog(table.meta["widths"], best, "o-", color=f"C{i}", label=scheme)
    axes[0].set_xlabel("learning rate")
    axes[0].set_ylabel("loss after training (darker: wider)")
    axes[0].legend(fontsize=8)
    axes[1].set_xscale("log", base=2)
    axes[1].set_xlabel("width m")
    axes[1].set_ylabel("best learning rate")
    axes[1].legend(fontsize=8)


def _convex_gap(table, axes):
    _seeds_and_mean(axes[0], table, "objective", "Adam (seeds, mean)")
    axes[0].axhline(table.rows[0]["convex_objective"], color="k", ls="--", label="convex optimum")
    axes[0].set_ylabel("L_nc")
    axes[0].legend(fontsize=8)
    _seeds_and_mean(axes[1], table, "relative_gap")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("(L_nc - optimum) / optimum")


_PLOTS = {
    "ntk_at_init": _ntk_init,
    "lazy_training": _lazy,
    "linear_convergence": _convergence,
    "classification": _classification,
    "learning_rate_transfer": _lr_transfer,
    "convex_gap": _convex_gap,
}


def plot(table, *, fig=None):
    """Draw the figure of an experiment's table (two panels side by side).

    Parameters
    ----------
    table : Table
        Returned by a function of :mod:`convexnn.overparam.experiments`.
    fig : matplotlib Figure or None
        Drawn into when given, else a new figure.

    Returns
    -------
    matplotlib Figure
    """
    if table.name not in _PLOTS:
        raise ValueError(f"table.name must be one of {sorted(_PLOTS)}, got {table.name!r}.")
    plt = _pyplot()
    fig = fig or plt.figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2)
    _PLOTS[table.name](table, axes)
    fig.suptitle(table.name.replace("_", " "))
    fig.tight_layout()
    return fig
