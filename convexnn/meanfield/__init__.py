"""Neural feature repopulation: the feature-distribution view in which wide networks are convex.

Seed 000 (Fang, Gu, Zhang & Zhang, *Convex Formulation of Overparameterized Deep Neural
Networks*, building on Fang, Dong & Zhang, arXiv 1910.11508) writes an over-parameterized network
as a population (distribution) of features with importance weights; the output and the
regularizer are then linear in the population, so training is a convex problem over it. The
papers' full derivations were not available to us; what is implemented is stated in each module:

* :mod:`~convexnn.meanfield.population`: two-level populations ``f = sum_j q_j u_j h(theta_j, .)``
  and mean-field (Langevin) training; ``scaling='ntk'`` for contrast;
* :mod:`~convexnn.meanfield.deep`: the layer-by-layer extension and its layer-wise union;
* :mod:`~convexnn.meanfield.repopulation`: importance weights, resampling, error against ``k``;
* :mod:`~convexnn.meanfield.convexity`: the mixture path (convex) against the parameter path;
* :mod:`~convexnn.meanfield.refit`: the convex output-layer refit on four sources of features.
"""

from .convexity import PathResult, interpolate_parameters, mixture_path, parameter_path, path_objective
from .deep import DeepPopulation
from .population import Population, TrainingHistory, train_population
from .refit import (
    FrozenFeatureModel,
    NeuronFeatures,
    OutputFit,
    TangentFeatures,
    convex_program_features,
    fit_output_layer,
    fit_output_layer_cvxpy,
    initial_features,
    one_vs_rest,
    output_objective,
    repopulated_features,
    tangent_features,
)
from .repopulation import RepopulationError, importance_weights, repopulate, repopulation_error

__all__ = [
    "Population",
    "DeepPopulation",
    "TrainingHistory",
    "train_population",
    "PathResult",
    "mixture_path",
    "parameter_path",
    "interpolate_parameters",
    "path_objective",
    "importance_weights",
    "repopulate",
    "RepopulationError",
    "repopulation_error",
    "OutputFit",
    "output_objective",
    "fit_output_layer",
    "fit_output_layer_cvxpy",
    "NeuronFeatures",
    "TangentFeatures",
    "FrozenFeatureModel",
    "one_vs_rest",
    "repopulated_features",
    "initial_features",
    "tangent_features",
    "convex_program_features",
]
