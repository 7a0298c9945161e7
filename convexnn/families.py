"""Model families: what a kind of network brings to the estimators' one fit route.

An estimator (:mod:`convexnn.estimators`) runs the same route for every model it fits: validate,
find patterns, state one convex program per output, solve, map the solutions to networks,
certify, store. What differs between models is held by a *family*, the way a generalized linear
estimator holds a datafit and a penalty. A family knows, for its kind of network:

- its patterns: the pattern search to run (:meth:`~TwoLayerFamily.strategy`), the starting
  patterns of each search, the patterns of a regularization path, and every pattern of the data
  when they can be listed for an exact certificate;
- its programs: the problem of each output, and the Adam start (networks trained by Adam, each
  embedded in the program over its own patterns, moved into the program over their union);
- the growth of the patterns after the start (column generation, where a dual oracle exists);
- its networks: the map of a solution to a network, and the fitted attributes derived from them;
- its certificate (:func:`convexnn.certificates.certify_outputs` or
  :func:`~convexnn.certificates.solver_bounds`) and its memory check;
- the saved form of its patterns and networks (:mod:`convexnn.persistence`).

:class:`TwoLayerFamily` is the family of the two-layer ReLU and gated ReLU networks;
:class:`convexnn.deep.family.DeepFamily` that of the deep parallel networks. An estimator builds
its family from its parameters (``_family()``); the family holds no fitted state.
"""

import dataclasses

import numpy as np

from .candidates import all_patterns
from .certificates import certify_outputs
from .memory import check_memory
from .networks import GatedReLUNetwork, ReLUNetwork, from_convex
from .patterns import ActivationPatterns
from .problems import GatedReLUProblem, ReLUProblem
from .search import (
    adam_embeddings,
    extend,
    grow_patterns,
    resolve_strategy,
    seed_of,
    sgd_schedule,
    starting_patterns,
)

__all__ = ["TwoLayerFamily"]

_PROBLEMS = {"relu": ReLUProblem, "gated": GatedReLUProblem}

#: Column generation after the start: relative violation counted, patterns added per round.
_CG_TOL = 1e-6
_CG_ADD = 10
#: The certificate lists all patterns (and is exact) when there are at most this many (or at
#: most n_patterns).
_CERTIFY_MAX_PATTERNS = 200


@dataclasses.dataclass(frozen=True)
class TwoLayerFamily:
    """Two-layer ReLU (``formulation='relu'``) or gated ReLU (``'gated'``) networks.

    Parameters
    ----------
    loss : str
        The training loss by name.
    formulation : {'relu', 'gated'}
    n_patterns : int
        The pattern budget.
    fit_intercept : bool
    pattern_search : {'auto', 'sampled', 'enumerated', 'column_generation', 'sgd'}
    random_state : None, int or RandomState
    tol : float or None
        The estimator's relative-gap tolerance: column generation stops once its estimated gap
        over the candidates is at most this (None: once no candidate is violated).
    """

    loss: str
    formulation: str
    n_patterns: int
    fit_intercept: bool
    pattern_search: str
    random_state: object = None
    tol: object = None

    #: fitted attributes that :meth:`weights` derives from the networks (rebuilt on load)
    derived_attributes = ("coefs_", "intercepts_", "gates_", "n_active_neurons_")

    # ------------------------------------------------------------------ patterns
    def check_memory(self, X, solver):
        """MemoryError naming the sizes when the programs of ``n_patterns`` patterns over ``X``
        would not fit in memory (:func:`convexnn.memory.check_memory`)."""
        check_memory(
            X.shape[0], X.shape[1], self.n_patterns, self.formulation, self.fit_intercept,
            solver=solver,
        )

    def strategy(self, X):
        """``pattern_search`` with 'auto' resolved for this ``X``
        (:func:`convexnn.search.resolve_strategy`)."""
        return resolve_strategy(self.pattern_search, X, self.n_patterns, self.fit_intercept)

    def starting_patterns(self, X, strategy):
        """All patterns ('enumerated'), the budget sampled ('sampled', also the fallback of 'sgd')
        or a quarter of it ('column_generation'): :func:`convexnn.search.starting_patterns`."""
        return starting_patterns(
            X, strategy, self.n_patterns, self.fit_intercept, random_state=self.random_state
        )

    def path_patterns(self, X):
        """The one pattern set of a regularization path: all patterns when the search resolves
        to 'enumerated', else the full budget sampled (column generation and the Adam start
        depend on alpha)."""
        strategy = "enumerated" if self.strategy(X) == "enumerated" else "sampled"
        return self.starting_patterns(X, strategy)

    @property
    def max_certified_patterns(self):
        """Listing all patterns for an exact certificate costs one LP per pattern in rank >= 3:
        it is done when they fit the pattern budget, or number at most 200."""
        return max(self.n_patterns, _CERTIFY_MAX_PATTERNS)

    def full_patterns(self, X):
        """Every pattern of ``X`` when they can be listed for an exact certificate, else None."""
        return all_patterns(X, self.fit_intercept, self.max_certified_patterns)

    @staticmethod
    def fitted_patterns(problems):
        """The patterns the programs ``problems`` were stated over (shared by the outputs)."""
        return problems[0].patterns

    # ------------------------------------------------------------------ programs
    def problems(self, X, targets, patterns, alpha):
        """One program per column of ``targets`` (n_samples, n_outputs) over ``patterns``."""
        problem_class = _PROBLEMS[self.formulation]
        return [problem_class(X, t, patterns, lam=alpha, loss=self.loss) for t in targets.T]

    def sgd_programs(self, X, targets, alpha):
        """The Adam start: per output, a ReLU network of width ``n_patterns // n_outputs`` trained
        by Adam and embedded in the program over its own patterns
        (:func:`convexnn.search.adam_embeddings`).

        Returns
        -------
        problems : list of ConvexProblem
            The programs over the union of those patterns (sampled patterns if every network died).
        init : list of ndarray
            Per output, the embedded point moved into its program: feasible, with the network's
            predictions and a convex objective at most the network's ``L_nc`` (doc/math.rst).
        sgd_objective : float
            The networks' ``L_nc``, summed over outputs.
        """
        width = max(1, self.n_patterns // targets.shape[1])
        embedded, sgd_objective = adam_embeddings(
            X, targets, alpha, self.loss,
            lambda seed: ReLUNetwork.random(
                X.shape[1], width, fit_intercept=self.fit_intercept, random_state=seed
            ),
            random_state=self.random_state, **sgd_schedule(X.shape[0]),
        )
        patterns = None
        for _, problem, _ in embedded:
            patterns = problem.patterns if patterns is None else patterns.union(problem.patterns)
        if patterns is None:  # every Adam network died: fall back to sampled patterns
            patterns = self.starting_patterns(X, "sampled")
        problems = self.problems(X, targets, patterns, alpha)
        init = [problem.zeros() for problem in problems]
        for c, problem, coef in embedded:
            init[c] = extend(problem, coef, problems[c])
        return problems, init, sgd_objective

    def grow(self, X, strategy, problems, results, solve, full):
        """Column generation after the start of 'column_generation' and 'sgd'
        (:func:`convexnn.search.grow_patterns`, up to the ``n_patterns`` budget, candidates
        ``full`` when listed, else searched); the other searches (and a ``warm_start`` refit,
        strategy 'warm_start') return ``problems, results`` as they are.

        ``solve(problems, init)`` re-solves every output from its previous solution.

        Returns ``problems, results, estimates``: ``estimates`` (None, or one entry per output)
        holds the estimated lower bound of an output whose returned solution the last round
        scored over candidates searched at its own dual point (the first output's: the search
        runs at its ``z``), which :meth:`certify` then takes instead of searching again.
        """
        # the seed is drawn whatever the search, so that a RandomState ``random_state`` advances
        # alike for every strategy (the certificate draws from it next)
        rng = np.random.default_rng(seed_of(self.random_state))
        if strategy not in ("column_generation", "sgd"):
            return problems, results, None
        problems, results, history, _ = grow_patterns(
            X, problems, results, solve, candidates=full, max_patterns=self.n_patterns,
            add_per_round=_CG_ADD, tol=_CG_TOL, gap_tol=self.tol, random_state=rng,
        )
        estimates = None
        if full is None and history and history[-1]["added"] == 0:
            estimates = [history[-1]["lower_bounds"][0]] + [None] * (len(problems) - 1)
        return problems, results, estimates

    # ------------------------------------------------------------------ networks and certificate
    @staticmethod
    def networks(problems, results):
        """The per-output networks of the solutions (:func:`convexnn.networks.from_convex`)."""
        return [from_convex(p, r.coef) for p, r in zip(problems, results)]

    def weights(self, networks, offset):
        """The MLP-style fitted attributes of the per-output ``networks`` (their union: hidden
        neurons stacked, each feeding its own output) with output biases ``offset``."""
        n_hidden = sum(net.n_neurons for net in networks)
        W1 = np.hstack([net.W1 for net in networks])
        b1 = np.concatenate(
            [net.b1 if net.b1 is not None else np.zeros(net.n_neurons) for net in networks]
        )
        W2 = np.zeros((n_hidden, len(networks)))
        start = 0
        for c, net in enumerate(networks):
            W2[start : start + net.n_neurons, c] = net.w2
            start += net.n_neurons
        gated = self.formulation == "gated"
        return {
            "coefs_": [W1, W2],
            "intercepts_": [b1, offset.copy()],
            "n_active_neurons_": int(n_hidden),
            "gates_": np.hstack([net._gates() for net in networks]) if gated else None,
        }

    def certify(self, X, problems, results, full, alpha, estimates=None):
        """Certificate over all patterns if they are listed (``full``: exact), else over a search
        around the fitted neurons (estimate), or the ``estimates`` of :meth:`grow` where it has
        them: :func:`convexnn.certificates.certify_outputs`."""
        return certify_outputs(
            X, problems, results, alpha, full=full, loss=self.loss,
            formulation=self.formulation, fit_intercept=self.fit_intercept,
            max_patterns=self.max_certified_patterns, random_state=self.random_state,
            estimates=estimates,
        )

    # ------------------------------------------------------------------ persistence
    def state(self, patterns, networks):
        """``patterns`` and the per-output ``networks`` as ``(meta, arrays)``;
        :meth:`from_state` reads them back."""
        meta = {"patterns_fit_intercept": patterns.fit_intercept}
        arrays = {"patterns_gates": patterns.gates, "patterns_mask": patterns.mask}
        for c, net in enumerate(networks):
            for field in ("W1", "w2", "b1", "gates", "gate_bias"):
                if getattr(net, field, None) is not None:
                    arrays[f"net{c}_{field}"] = getattr(net, field)
        return meta, arrays

    def from_state(self, meta, arrays):
        """``(patterns, networks)`` from what :meth:`state` wrote (``meta['n_outputs']``
        networks), removing the arrays it reads from ``arrays``."""
        patterns = ActivationPatterns(
            arrays.pop("patterns_gates"), arrays.pop("patterns_mask"),
            meta["patterns_fit_intercept"],
        )
        networks = []
        for c in range(int(meta["n_outputs"])):
            W1, w2, b1 = (arrays.pop(f"net{c}_{f}", None) for f in ("W1", "w2", "b1"))
            if W1 is None or w2 is None:
                raise KeyError(f"net{c}_W1 and net{c}_w2")
            if self.formulation == "gated":
                gates = arrays.pop(f"net{c}_gates")
                gate_bias = arrays.pop(f"net{c}_gate_bias", None)
                networks.append(GatedReLUNetwork(gates, W1, w2, b1, gate_bias))
            else:
                networks.append(ReLUNetwork(W1, w2, b1))
        return patterns, networks
