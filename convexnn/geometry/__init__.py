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

__all__ = [
    "LinearSpline",
    "OneDimensionalFit",
    "ramp_features",
    "fit_1d",
    "min_norm_interpolant_1d",
    "min_norm_program",
    "fit_rank_one",
    "rank_one_factors",
]
