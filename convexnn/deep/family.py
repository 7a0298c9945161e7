"""The model family of the deep parallel ReLU networks (:mod:`convexnn.families`).

What the estimators' fit route needs to know of the deep networks: nested patterns sampled (or
enumerated) level by level, one :class:`~convexnn.deep.DeepReLUProblem` per output, the Adam
start (a parallel network trained by Adam and embedded over its own patterns, the embeddings of
the outputs re-indexed into the program over the union of their patterns), the map
:meth:`~convexnn.deep.ParallelReLUNetwork.from_convex`, the memory check of the program's
``prod_l 2 P_l`` blocks and the certificate. No dual oracle over all nested patterns exists: the
patterns do not grow after the start, and the certificate is the solvers' own bound on the
programs solved (:func:`convexnn.certificates.solver_bounds`).
"""

import dataclasses

import numpy as np

from ..certificates import solver_bounds
from ..memory import check_deep_memory
from ..patterns import ActivationPatterns
from ..search import adam_embeddings
from .networks import ParallelReLUNetwork
from .patterns import NestedPatterns, enumerate_nested_patterns, sample_nested_patterns
from .problems import DeepReLUProblem, reindex

__all__ = ["DeepFamily"]

#: Adam epochs for pattern_search='sgd'
_SGD_EPOCHS = 500


@dataclasses.dataclass(frozen=True)
class DeepFamily:
    """Deep parallel ReLU networks of ``depth`` levels, trained with path regularization.

    Parameters
    ----------
    loss : str
        The training loss by name.
    depth : int
        Network depth ``L >= 3``.
    n_patterns : int
        Level-1 patterns sampled.
    n_upper_patterns : int
        Patterns sampled at each level above the first.
    fit_intercept : bool
    pattern_search : {'sampled', 'enumerated', 'sgd'}
    random_state : None, int or RandomState
    """

    loss: str
    depth: int
    n_patterns: int
    n_upper_patterns: int
    fit_intercept: bool
    pattern_search: str
    random_state: object = None

    #: fitted attributes that :meth:`weights` derives from the networks (rebuilt on load)
    derived_attributes = ("coefs_", "n_subnetworks_", "n_active_neurons_")

    # ------------------------------------------------------------------ patterns
    def _sizes(self):
        return [self.n_patterns] + [self.n_upper_patterns] * (self.depth - 2)

    def _sgd_shape(self):
        """Adam's network for pattern_search='sgd': n_upper_patterns sub-networks of width
        n_patterns at every hidden level below the last."""
        return self.n_upper_patterns, [self.n_patterns] * (self.depth - 2)

    def _max_sizes(self):
        if self.pattern_search != "sgd":
            return self._sizes()
        K, widths = self._sgd_shape()
        # every unit brings at most one pattern of its level (per output)
        return [K * m for m in widths] + [K]

    def check_memory(self, X, solver):
        """MemoryError naming the pattern budgets when the program would not fit in memory
        (:func:`convexnn.memory.check_deep_memory`): the largest the budgets allow, or for
        'enumerated' the patterns listed (on at most 12 samples, a quick listing)."""
        if self.pattern_search == "enumerated":
            sizes = self.starting_patterns(X, "enumerated").sizes
        else:
            sizes = self._max_sizes()
        check_deep_memory(X.shape[0], X.shape[1], sizes, self.fit_intercept, solver=solver)

    def strategy(self, X):
        """``pattern_search`` (there is no 'auto')."""
        return self.pattern_search

    def starting_patterns(self, X, strategy):
        """Every level-1 pattern and every non-empty mask above ('enumerated'), else the budgets
        sampled (also the fallback of 'sgd')."""
        if strategy == "enumerated":
            return enumerate_nested_patterns(X, depth=self.depth, fit_intercept=self.fit_intercept)
        return sample_nested_patterns(
            X, self._sizes(), depth=self.depth, fit_intercept=self.fit_intercept,
            random_state=self.random_state,
        )

    def path_patterns(self, X):
        """The one pattern set of a regularization path: sampled (or enumerated)."""
        strategy = "enumerated" if self.pattern_search == "enumerated" else "sampled"
        return self.starting_patterns(X, strategy)

    @staticmethod
    def full_patterns(X):
        """None: the deep certificate bounds the program over the patterns solved only."""
        return None

    @staticmethod
    def fitted_patterns(problems):
        """The nested patterns the programs ``problems`` were stated over."""
        return problems[0].nested

    # ------------------------------------------------------------------ programs
    def problems(self, X, targets, patterns, alpha):
        """One program per column of ``targets`` (n_samples, n_outputs) over ``patterns``."""
        return [DeepReLUProblem(X, t, patterns, lam=alpha, loss=self.loss) for t in targets.T]

    def sgd_programs(self, X, targets, alpha):
        """Adam-trained parallel networks (one per output,
        :func:`convexnn.search.adam_embeddings`), embedded over their own patterns (united).

        Returns the problems over the united patterns, per output the embedded point (feasible
        with the trained network's predictions and at most its path objective; zero for an output
        whose network died), and the networks' path objectives summed over outputs.
        """
        K, widths = self._sgd_shape()
        embedded, sgd_objective = adam_embeddings(
            X, targets, alpha, self.loss,
            lambda seed: ParallelReLUNetwork.random(
                X.shape[1], K, widths, fit_intercept=self.fit_intercept, random_state=seed
            ),
            random_state=self.random_state, max_epochs=_SGD_EPOCHS,
        )
        patterns, maps = None, []
        for _, problem, _ in embedded:
            if patterns is None:
                patterns, maps = problem.nested, [[np.arange(s) for s in problem.nested.sizes]]
            else:
                patterns, (old, new) = patterns.union(problem.nested)
                maps = [[o[m] for o, m in zip(old, prev)] for prev in maps] + [new]
        if patterns is None:  # every Adam network died: fall back to sampled patterns
            patterns = self.starting_patterns(X, "sampled")
        problems = self.problems(X, targets, patterns, alpha)
        init = [problem.zeros() for problem in problems]
        for (c, problem, coef), m in zip(embedded, maps):
            init[c] = reindex(problem, coef, problems[c], m)
        return problems, init, sgd_objective

    @staticmethod
    def grow(X, strategy, problems, results, solve, full):
        """``problems, results, None``: without an oracle the patterns do not grow (and there
        are no estimates for the certificate)."""
        return problems, results, None

    # ------------------------------------------------------------------ networks and certificate
    @staticmethod
    def networks(problems, results):
        """The per-output parallel networks of the solutions
        (:meth:`~convexnn.deep.ParallelReLUNetwork.from_convex`)."""
        return [ParallelReLUNetwork.from_convex(p, r.coef) for p, r in zip(problems, results)]

    @staticmethod
    def weights(networks, offset):
        """``coefs_`` (one network's parameters, or a list per output), ``n_subnetworks_`` (with a
        non-zero output weight) and ``n_active_neurons_`` (first-layer units) of ``networks``;
        the output offset is not a weight of the parallel networks."""
        return {
            "n_subnetworks_": int(
                sum(int(np.any(net.output != 0)) * net.n_subnetworks for net in networks)
            ),
            "n_active_neurons_": int(
                sum(np.count_nonzero(np.linalg.norm(net.layers[0], axis=1)) for net in networks)
            ),
            "coefs_": (
                [net.parameters() for net in networks] if len(networks) > 1
                else networks[0].parameters()
            ),
        }

    @staticmethod
    def certify(X, problems, results, full, alpha, estimates=None):
        """The solvers' bounds (:func:`convexnn.certificates.solver_bounds`): a certified lower
        bound on the programs solved (None when a solver gives none)."""
        return solver_bounds(results)

    # ------------------------------------------------------------------ persistence
    @staticmethod
    def state(patterns, networks):
        """``patterns`` (every level) and the per-output parallel networks as ``(meta, arrays)``;
        :meth:`from_state` reads them back."""
        first = patterns.first
        meta = {
            "patterns_fit_intercept": first.fit_intercept,
            "n_upper_levels": len(patterns.upper),
            "n_layers": len(networks[0].layers),
        }
        arrays = {"patterns_gates": first.gates, "patterns_mask": first.mask}
        for level, mask in enumerate(patterns.upper):
            arrays[f"patterns_upper{level}"] = mask
        for c, net in enumerate(networks):
            arrays[f"net{c}_output"] = net.output
            for l, W in enumerate(net.layers):
                arrays[f"net{c}_layer{l}"] = W
        return meta, arrays

    @staticmethod
    def from_state(meta, arrays):
        """``(patterns, networks)`` from what :meth:`state` wrote (``meta['n_outputs']``
        networks), removing the arrays it reads from ``arrays``."""
        fit_intercept = meta["patterns_fit_intercept"]
        first = ActivationPatterns(
            arrays.pop("patterns_gates"), arrays.pop("patterns_mask"), fit_intercept
        )
        levels = range(int(meta["n_upper_levels"]))
        upper = [arrays.pop(f"patterns_upper{level}") for level in levels]
        networks = [
            ParallelReLUNetwork(
                [arrays.pop(f"net{c}_layer{l}") for l in range(int(meta["n_layers"]))],
                arrays.pop(f"net{c}_output"),
                fit_intercept=fit_intercept,
            )
            for c in range(int(meta["n_outputs"]))
        ]
        return NestedPatterns(first, upper), networks
