"""convexnn: train ReLU networks to global optimality by convex optimization.

The route every computation follows (see the README):
patterns -> problem -> solver -> result -> network -> estimator.
"""

__version__ = "0.1.0"

from .estimators import ConvexReLUClassifier, ConvexReLURegressor
from .model_selection import ConvexReLUClassifierCV, ConvexReLURegressorCV
from . import deep, geometry, meanfield, persistence
from .deep.estimators import DeepConvexReLUClassifier, DeepConvexReLURegressor
from .losses import HingeLoss, LogisticLoss, SquaredLoss
from .networks import GatedReLUNetwork, ReLUNetwork, from_convex
from .patterns import ActivationPatterns, count_patterns, enumerate_patterns, sample_patterns
from .penalties import GroupL1
from .problems import GatedReLUProblem, ReLUProblem
from .results import ConvergenceWarning, SolveResult, SolverError
from .sgd import train
from .solvers import CvxpySolver, regularization_path, solve
from .validation import add_intercept

# the estimators that convexnn.persistence.save and load handle: every exported one
persistence.register(
    ConvexReLURegressor, ConvexReLUClassifier, DeepConvexReLURegressor, DeepConvexReLUClassifier
)

__all__ = [
    "ActivationPatterns",
    "sample_patterns",
    "enumerate_patterns",
    "count_patterns",
    "SquaredLoss",
    "LogisticLoss",
    "HingeLoss",
    "GroupL1",
    "ReLUProblem",
    "GatedReLUProblem",
    "CvxpySolver",
    "solve",
    "regularization_path",
    "SolveResult",
    "SolverError",
    "ConvergenceWarning",
    "ReLUNetwork",
    "GatedReLUNetwork",
    "from_convex",
    "train",
    "add_intercept",
    "ConvexReLURegressor",
    "ConvexReLUClassifier",
    "ConvexReLURegressorCV",
    "ConvexReLUClassifierCV",
    "DeepConvexReLURegressor",
    "DeepConvexReLUClassifier",
    "deep",
    "geometry",
    "meanfield",
    "persistence",
]
