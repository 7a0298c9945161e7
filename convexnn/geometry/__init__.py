"""Closed forms and geometry of Ergen & Pilanci, "Convex Geometry and Duality of Over-parameterized
Neural Networks" (arXiv 2002.11219, JMLR 2021), each checkable against the generic convex program.
"""

from .one_d import (
    LinearSpline,
    OneDimensionalFit,
    fit_1d,
    fit_rank_one,
    min_norm_interpolant_1d,
    min_norm_program,
    ramp_features,
    rank_one_factors,
)

from .ntk import NTKInterpolant, empirical_ntk, ntk_interpolant, ntk_kernel
from .spike_free import (
    BasisExtremePoints,
    SpikeFreeReport,
    basis_extreme_points,
    check_spike_free,
    fit_spike_free,
    spike_free_program,
)
from .whitened import (
    ClosedFormFit,
    VectorReLUNetwork,
    check_whitened,
    vector_dual_bound,
    whiten,
    whitened_hinge,
    whitened_multiclass,
    whitened_squared,
)

__all__ = [
    "ClosedFormFit",
    "VectorReLUNetwork",
    "whiten",
    "check_whitened",
    "whitened_squared",
    "whitened_hinge",
    "whitened_multiclass",
    "vector_dual_bound",
    "SpikeFreeReport",
    "check_spike_free",
    "spike_free_program",
    "fit_spike_free",
    "BasisExtremePoints",
    "basis_extreme_points",
    "ntk_kernel",
    "empirical_ntk",
    "NTKInterpolant",
    "ntk_interpolant",
    "LinearSpline",
    "OneDimensionalFit",
    "ramp_features",
    "fit_1d",
    "min_norm_interpolant_1d",
    "min_norm_program",
    "fit_rank_one",
    "rank_one_factors",
]
