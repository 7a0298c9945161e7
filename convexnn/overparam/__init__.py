"""Over-parameterization lab: wide deep ReLU networks, their tangent kernels, and the experiments
that measure what the theory of wide networks predicts (Allen-Zhu, Li & Song 2019; linear
convergence, lazy training and learning-rate transfer for wide deep MLPs).

* :mod:`~convexnn.overparam.deep_mlp`: :class:`DeepReLUNetwork` (depth ``L``, width ``m``; 'standard',
  'ntk' or 'allen_zhu' parameterization, :mod:`convexnn.parameterization`) differentiated by
  :mod:`convexnn.backprop`, and :func:`train_deep` (full-batch GD, SGD or Adam).
* :mod:`~convexnn.overparam.ntk`: the empirical tangent kernel computed layer by layer without the
  Jacobian, and the analytic infinite-width kernel (arc-cosine recursion).
* :mod:`~convexnn.overparam.experiments`: sweeps over width and seeds returning tidy
  :class:`Table` s; :func:`plot` draws them (:mod:`~convexnn.overparam.plots`).
"""

from .deep_mlp import (
    PARAMETERIZATIONS,
    DeepReLUNetwork,
    DeepTrainingResult,
    relative_weight_change,
    train_deep,
    unit_norm,
)
from .experiments import (
    EXPERIMENTS,
    classification,
    convex_gap,
    lazy_training,
    learning_rate_transfer,
    linear_convergence,
    ntk_at_init,
    sphere_data,
)
from .ntk import analytic_ntk, empirical_ntk, jacobian, relative_error
from .plots import plot
from .table import Table, loglog_slope

__all__ = [
    "PARAMETERIZATIONS",
    "DeepReLUNetwork",
    "DeepTrainingResult",
    "train_deep",
    "relative_weight_change",
    "unit_norm",
    "empirical_ntk",
    "jacobian",
    "analytic_ntk",
    "relative_error",
    "sphere_data",
    "ntk_at_init",
    "lazy_training",
    "linear_convergence",
    "classification",
    "learning_rate_transfer",
    "convex_gap",
    "EXPERIMENTS",
    "Table",
    "loglog_slope",
    "plot",
]
