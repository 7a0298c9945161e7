"""Deep ReLU networks trained by convex programs: patterns per level, the nested program, the
parallel network and its maps (doc/math.rst, "Deep networks", and its depth-L extension)."""

from .networks import ParallelReLUNetwork
from .patterns import NestedPatterns, enumerate_nested_patterns, sample_nested_patterns
from .problems import DeepReLUProblem

__all__ = [
    "NestedPatterns",
    "sample_nested_patterns",
    "enumerate_nested_patterns",
    "DeepReLUProblem",
    "ParallelReLUNetwork",
]
