"""Convexity, measured: the mixture path between two populations against the parameter path.

For two trained populations ``rho_0``, ``rho_1`` (e.g. two seeds) this module evaluates the
objective ``J`` along two paths from one to the other:

* the **mixture path** ``t -> J((1 - t) rho_0 + t rho_1)``, computed on the union network
  (:meth:`Population.union`, :meth:`DeepPopulation.union`), whose output is exactly
  ``(1 - t) f_0 + t f_1`` and whose regularizer is exactly ``(1 - t) R_0 + t R_1``. For a convex
  loss the curve is therefore convex and lies below its chord ``(1 - t) J_0 + t J_1``;
* the **parameter path** ``t -> J(theta(t))`` with every parameter interpolated on a straight
  line, ``(1 - t) p_0 + t p_1``, which neither aligns the neurons of the two networks (any
  permutation of neurons is the same network) nor respects the rescaling symmetries, and so in
  general rises above the chord: a barrier.

:func:`path_objective` returns both, with the chord, the barrier height ``max_t (J(t) - chord(t))``
and the second differences ``J(t-h) - 2 J(t) + J(t+h)`` of the curve on a uniform grid (>= 0 for a
convex curve, up to rounding).
"""

from dataclasses import dataclass

import numpy as np

from ..validation import check_matrix, check_positive
from .population import check_targets

__all__ = ["PathResult", "mixture_path", "parameter_path", "interpolate_parameters", "path_objective"]


@dataclass
class PathResult:
    """An objective curve between two populations.

    Attributes
    ----------
    kind : str
        'mixture' or 'parameter'.
    t : ndarray of shape (n_points,)
        Path positions, from 0 to 1.
    objective : ndarray of shape (n_points,)
        ``J`` along the path.
    chord : ndarray of shape (n_points,)
        ``(1 - t) J(0) + t J(1)``.
    """

    kind: str
    t: np.ndarray
    objective: np.ndarray
    chord: np.ndarray

    @property
    def barrier(self):
        """``max_t (J(t) - chord(t))`` over the grid: >= 0 (it is 0 at both ends); > 0 is a barrier."""
        return float(np.max(self.objective - self.chord))

    @property
    def interior_excess(self):
        """``max (J(t) - chord(t))`` over the interior grid points: < 0 when the curve lies strictly below its chord."""
        return float(np.max((self.objective - self.chord)[1:-1]))

    @property
    def relative_barrier(self):
        """:attr:`barrier` divided by the larger endpoint objective."""
        scale = max(abs(self.objective[0]), abs(self.objective[-1]))
        return self.barrier / scale if scale > 0 else self.barrier

    @property
    def second_differences(self):
        """``J(t_{i-1}) - 2 J(t_i) + J(t_{i+1})``, shape (n_points - 2,) (uniform grid assumed)."""
        J = self.objective
        return J[:-2] - 2.0 * J[1:-1] + J[2:]


def _grid(n_points):
    check_positive(n_points, "n_points", integer=True)
    if n_points < 3:
        raise ValueError(f"n_points must be >= 3 (the two ends and an interior point), got {n_points!r}.")
    return np.linspace(0.0, 1.0, n_points)


def _curve(kind, t, populations, X, y, lam, loss):
    X = check_matrix(X, "X")
    check_targets(y, X.shape[0], loss)
    check_positive(lam, "lam", strict=False)
    J = np.array([pop.objective(X, y, lam, loss) for pop in populations])
    chord = (1.0 - t) * J[0] + t * J[-1]
    return PathResult(kind=kind, t=t, objective=J, chord=chord)


def mixture_path(pop0, pop1, X, y, *, lam, loss="squared", n_points=21):
    """``J`` of the union network ``(1 - t) rho_0 + t rho_1`` on a uniform grid of ``t``.

    Parameters
    ----------
    pop0, pop1 : Population or DeepPopulation
        Two populations of the same kind with ``scaling='mean_field'``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    lam : float
    loss : {'squared', 'logistic'}, default='squared'
    n_points : int, default=21
        Grid size (>= 3), endpoints included.

    Returns
    -------
    PathResult
    """
    t = _grid(n_points)
    return _curve("mixture", t, [pop0.union(pop1, s) for s in t], X, y, lam, loss)


def interpolate_parameters(pop0, pop1, t):
    """The population whose every parameter is ``(1 - t) p_0 + t p_1`` (masses of ``pop0``).

    Parameters
    ----------
    pop0, pop1 : Population or DeepPopulation
        Same kind, same shapes of all parameters, same masses.
    t : float

    Returns
    -------
    Population or DeepPopulation
    """
    if type(pop1) is not type(pop0):
        raise ValueError(f"pop1 must be a {type(pop0).__name__} like pop0, got {type(pop1).__name__}.")
    p0, p1 = pop0.parameters(), pop1.parameters()
    shapes0, shapes1 = [p.shape for p in p0], [p.shape for p in p1]
    if shapes0 != shapes1:
        raise ValueError(f"pop0 and pop1 must have parameters of equal shapes, got {shapes0} and {shapes1}.")
    if not all(np.array_equal(a, b) for a, b in zip(pop0.layer_masses, pop1.layer_masses)):
        raise ValueError("pop0 and pop1 must have equal masses to interpolate their parameters.")
    return pop0.with_parameters([(1.0 - t) * a + t * b for a, b in zip(p0, p1)])


def parameter_path(pop0, pop1, X, y, *, lam, loss="squared", n_points=21):
    """``J`` along the straight line between the parameters of ``pop0`` and ``pop1``.

    Same arguments and result as :func:`mixture_path`; the populations need equal shapes.
    """
    t = _grid(n_points)
    return _curve("parameter", t, [interpolate_parameters(pop0, pop1, s) for s in t], X, y, lam, loss)


def path_objective(pop0, pop1, X, y, *, lam, loss="squared", n_points=21):
    """Both paths between ``pop0`` and ``pop1``.

    Returns
    -------
    dict
        ``{'mixture': PathResult, 'parameter': PathResult}``.
    """
    return {
        "mixture": mixture_path(pop0, pop1, X, y, lam=lam, loss=loss, n_points=n_points),
        "parameter": parameter_path(pop0, pop1, X, y, lam=lam, loss=loss, n_points=n_points),
    }
