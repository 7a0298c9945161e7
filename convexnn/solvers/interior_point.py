"""Primal-dual interior-point method for the group-lasso cone programs (ReLU, gated ReLU, and the
nested deep programs).

The program (mean scaling, doc/math.rst) is written as a smooth convex objective over cone constraints,
with one variable block ``x_b = (t_b, u_b)`` (``d + 1`` entries) per coefficient block:

    minimize    F(K u) + lam sum_b t_b
    subject to  (t_b, u_b) in Q^{d+1}                 (second-order cone: ||u_b|| <= t_b)
                O_b * (A u_b) >= 0                     (ReLU only: n rows per block)

``K u = sum_b W_b * (A u_b)`` is the prediction map of :class:`~convexnn.operators.BlockOperator`.
In the standard form ``G x + s = 0, s in C`` the orthant slacks are ``s_b = O_b * (A u_b)`` and the
cone slacks are ``x_b`` itself. The dual variables ``z`` of the orthant are exactly the cone
multipliers that :meth:`convexnn.problems.ReLUProblem.dual_bound` takes (same sign, same scaling:
stationarity reads ``K^T grad F - C^T z_orth - z_soc,u = 0`` and ``z_soc,t = lam``), so every
iterate yields a certified lower bound.

Method: Mehrotra predictor-corrector with Nesterov-Todd scaling (the algorithm of CVXOPT's
``coneqp``, Vandenberghe 2010, with the scaling recomputed from ``(s, z)`` every step as in ECOS).
A smooth non-quadratic loss (logistic) enters through its gradient and Hessian at the current
predictions (a Newton step on the KKT conditions, as CVXOPT's ``cp``).

The Newton system, reduced (SOLVERS.md): ``(M + K^T diag(h) K) dx = r`` with ``M`` block diagonal,
``M_b = W_b^{-2} + [0 | A]^T diag(z_b / s_b) [0 | A]``. Each ``M_b`` is factored as ``R_b^T R_b``
by a QR of the small stacked matrix ``[W_b^{-1}; [0 | L_b^T]]``, ``L_b L_b^T = A^T diag(z_b / s_b) A``
(the orthant Grams of all blocks come from one GEMM with the column products of ``A``, or one
small GEMM each for at most 16 blocks, then a batched Cholesky), which never squares ``W^{-1}`` and stays accurate near the cone apex where the
zero blocks end. Where a Gram's Cholesky fails the factorization falls back to a QR of the full
stack ``[W_b^{-1}; sqrt(z_b / s_b) * [0 | A]]``, which squares nothing. With ``t`` ordered first, the ``t`` column of ``K R_b^{-1}`` vanishes, so the coupling
term only involves ``Y = [W_b * (A R22_b^{-1})]_b`` (n x B d) and the system becomes
``(I + Y^T diag(h) Y) xi = g``, solved by Woodbury through the n x n matrix ``I + H^½ Y Y^T H^½``
or directly in the B d space, whichever is smaller. Each solve is followed by iterative refinement
against the unreduced (scaled) KKT system.

Centrality: where a factorization costs at least ten solves (``_Program.step_costs``), up to two
Gondzio correctors a step (Gondzio 1996) re-solve with the complementarity of a longer trial step
pushed into ``[0.1, 10] sigma mu``, kept while they lengthen the step. Precision: a reduction Gram
of at least 1e9 flops is formed in float32; the refinement against the float64 system restores the
direction, and from the first step whose refined residual stays above ``1e-2 tol`` the solve forms
it in float64. Iterates whose complementarity exceeds ``10 tol |objective|`` skip the certificate
(it cannot stop the solve there).

Row reduction (ReLU programs with ``n * blocks >= 5e5``): a block's cone is the cell of the data's
hyperplane arrangement around its gate, thin when n is large, and most of its n rows are far from
every point the solve visits, yet each of them bends the central path: from an Adam start on
``make_teacher(n, 20)`` (50 patterns) the whole program took 21 steps at n = 2,000, 55 at 10,000
and 80 at 50,000. Only the rows whose normalized value ``O_b * (A_i u_b) / (||A_i|| ||u_b||)`` is
below ``_ROW_MARGIN`` (0.01) at the start are in the barrier; the orthant arrays then hold only
their entries, block by block (``_cone_program._Rows``: one BLAS call per block on the kept rows,
and the block factors by QRs of their few rows). After each step the rows that came within the
margin join the barrier (slack at their value, multiplier ``mu / s``). So every iterate satisfies
the rows outside with a margin: the point returned is feasible on every row, and its certificate
(multiplier 0 on the rows outside, a valid one) is on the whole program. Measured: 19 steps at
n = 10,000 and 22 at 50,000 (3.5% of the rows; the solve 80 -> 9.5 s there); 26 -> 19 at
(2000, 50, 300) with sampled patterns. Smaller programs took more steps with it (18 -> 26 at
(300, 10, 30), 25 -> 27 at (1000, 20, 100)), hence the threshold. It is in the spirit of
constraint reduction [TAW06], which builds the normal matrix from the nearly active constraints
only. The nested deep programs keep every row (``reduces_rows``).

Start: ``u_b = eps g_{p(b)}`` (the pattern's gate, inside the block's cone), ``t_b = 2 eps``,
``z = mu s^{-1}`` (perfectly centred). Orthant rows with a margin below 10% of the median start
from that floor instead (their small primal residual decays with the steps; the returned point's
violation is checked by the stopping rule).

Nested deep programs (:class:`~convexnn.deep.DeepReLUProblem` of depth >= 3) add upper-level orthant
rows that couple the blocks of a group; ``_nested_program._NestedProgram`` gives the same loop their
maps and a dense reduced Newton solve (its module docstring), and the duals of every level are the
multipliers of :meth:`~convexnn.deep.DeepReLUProblem.dual_bound`.

Stopping: ``status='optimal'`` only when ``(objective - lower_bound) / |objective| <= tol`` with the
bound from ``problem.dual_bound`` (float64, best over the iterates) and the constraint violation
``<= constraint_tol``; otherwise ``'max_iter'`` or ``'numerical_error'`` with a ConvergenceWarning.
"""

import logging
import math
import time
import warnings

import numpy as np

from .._array_api import NUMPY
from ..oracle import block_scores
from ..results import ConvergenceWarning, SolveResult
from ..validation import check_positive
from ._cone_program import (
    _REFINE,
    _orth_max_step,
    _Program,
    _soc_det,
    _soc_div,
    _soc_max_step,
    _soc_nt,
    _soc_prod,
    chunk_groups,
)
from ._nested_program import (_NestedProgram, nested_bytes, nested_class_size,
                              nested_step_flops)
from .base import Solver

__all__ = ["InteriorPoint"]

logger = logging.getLogger(__name__)

_STEP = 0.99  # fraction of the step to the cone boundary
_EXPON = 3  # Mehrotra's centering exponent
# Gondzio's centrality correctors (Gondzio 1996, "Multiple centrality corrections in a primal-dual
# method for linear programming"): at most _CORRECTORS extra solves a step, where a factorization
# costs at least _CORRECTOR_RATIO solves (``step_costs``). Each aims at the step _CORRECTOR_REACH
# longer, pushes the complementarity products of that trial point into [0.1, 10] sigma mu and is
# kept when the step grows by _CORRECTOR_GAIN of the aim. Measured at (n, d, P) = (2000, 50, 300):
# 34 -> 26 steps, 71 -> 60 s; at (1000, 20, 100), where a solve costs half a factorization,
# 25 -> 21 steps but 2.9 -> 3.5 s (so none there).
_CORRECTORS = 2
# The certificate (dual bound and constraint violation, ~15% of a step at n = 50,000) is evaluated
# once the complementarity s^T z is at most _CERTIFY_FROM tol |objective|: the certified relative
# gap tracks s^T z / |objective| within a factor 0.6-2 on the iterates measured, so an iterate
# further out cannot stop the solve. The last iterate is always certified.
_CERTIFY_FROM = 10.0
_CORRECTOR_RATIO = 10.0
_CORRECTOR_REACH = 0.2
_CORRECTOR_GAIN = 0.1
_CORRECTOR_BOX = (0.1, 10.0)
_HISTORY_BYTES_PER_ITER = 600
_START_FLOOR = 0.1  # starting orthant slacks are at least this fraction of their median
_THREADED_SIZE = 1e7  # n * blocks * columns above which the solve keeps the BLAS threads
_WS_FLOPS = 1e10  # working_set=True: flops of one factorization of the first working set
_WS_BYTES = 4 * 1024**3  # bytes of a step (_step_bytes): 'auto' uses a working set above it, and
# its rounds grow at most to it. The same budget as solver='auto''s (IPM_MAX_BYTES), which picks
# the interior point only where the whole program fits it: the whole program was faster wherever
# it fitted (see _initial_size)
_WS_MIN = 10  # smallest first working set (patterns)
# working-set rounds add, with the violators, the patterns whose oracle value is above _WS_NEAR
# lam (at most doubling the set, by decreasing value): the solution of the larger restricted
# program moves the dual point, and those are the next round's violators. Measured at (n, d, P)
# = (3000, 30, 600), lam = 0.01 lam_max, working_set=True: 6 rounds, 98 steps with the violators
# only; 4 rounds, 76 steps (337 patterns at the end instead of 278) with 0.9; 0.7 took 4 rounds
# too with 402 patterns.
_WS_NEAR = 0.9
_WS_INIT_MIN = 5  # smallest first working set around an init: its own patterns, at least these.
# Measured against twice its patterns (at least 10) with the default classifier: the solves 10.5
# -> 5.4 s on digits, 0.15 -> 0.11 s on iris, 0.25-0.45 -> 0.18-0.39 s on wine (min of 3, 3
# splits), the objectives within the tolerance; the optimum needs fewer patterns than the Adam
# networks give each class, and an added pattern costs every Newton step of the solve
_WS_INIT_FRACTION = 2  # 'auto': a working set around an init using at most 1/2 of the patterns
# (one class of a one-vs-rest fit over the united Adam patterns). Measured (min of 3, 3 splits):
# the default classifier's solve and growth 0.27-0.46 -> 0.25-0.41 s on wine, 0.17-0.19 ->
# 0.15-0.16 s on iris against a limit of 1/4; the same objectives within the tolerance
_ROW_MARGIN = 0.01  # row reduction: orthant rows within this normalized margin are in the barrier
_ROW_SIZE = 5e5  # n * blocks from which the ReLU program's orthant rows are reduced
# warm start: total complementarity as a fraction of the start's objective, with all orthant rows
# in the barrier and with the row reduction. Measured (steps summed over 3 splits of the default
# fits on the five bundled data sets, 0.3 -> 0.03): 243 -> 207, the same objectives within the
# tolerance; make_teacher (d = 20) at n = 800-3,000 mostly fewer too (3,000 regression 27 -> 30).
# With the row reduction (n = 10,000 regression) 0.03 diverged (_WARM_DIVERGENCE), while 0.3
# takes 19 steps.
_WARM_MU = 0.03
_WARM_MU_REDUCED = 0.3
_WARM_BLEND = 0.01  # warm start: weight of the cold start's gate directions added to init
# warm start: a solve whose complementarity mu grows past this multiple of its start's is given
# up (status 'numerical_error'), and the caller solves from the cold start. Measured: a healthy
# warm start's mu rises at most ~3x over its first steps while the floored slacks' residual
# closes; a diverging one (seen with the row reduction, n = 10,000, from a start 10x less
# centred than _WARM_MU) grew 1e13x over 100 steps before the cold start took over.
_WARM_DIVERGENCE = 1e3
_NESTED_BYTES = 2 * 1024**3  # nested deep programs: largest dense Newton system accepted
_NESTED_FLOPS = 1e11  # nested deep programs: largest factorization per step accepted. Measured
# on one digits class (n = 1347, 65 columns, 200 blocks; 3.5e10 flops a step): the interior point
# 'optimal' in 63 steps, 166 s; the augmented Lagrangian at its 10,000 iterations after 190 s,
# gap 3.8e-3. Beyond it (the united patterns of pattern_search='sgd' on many classes) a step
# takes over a minute on one core.


_CONTROLLER = []


def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, made once: ``threadpool_limits`` makes
    a new one at every call, which scans the process's libraries (0.7-3 ms a solve, ~10% of a
    one-vs-rest class's solve on wine). The BLAS of numpy and scipy are loaded with them, before
    any solve."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _nested(problem):
    """Whether ``problem`` is a nested deep program (its operator has constraint levels)."""
    operator = getattr(problem, "block_operator", None)
    return bool(operator is not None and getattr(operator(np.float64, xp=NUMPY), "levels", ()))


# --------------------------------------------------------------------------- the solver
class InteriorPoint(Solver):
    """Primal-dual interior-point solver (Mehrotra predictor-corrector, Nesterov-Todd scaling).

    Solves :class:`~convexnn.problems.ReLUProblem` (cone constraints),
    :class:`~convexnn.problems.GatedReLUProblem` and :class:`~convexnn.deep.DeepReLUProblem` of any
    depth (nested constraints: a dense Newton system of side ``n_blocks * n_features``, accepted
    while it needs at most 2 GiB and ~1e11 flops per step, see ``supports``; always on the whole
    program, never a working set) with the group-l1 penalty and a smooth loss (squared or logistic) to a certified relative
    duality gap; see the module docstring for the method and the structure it exploits. A feasible ``init`` (the cone constraints hold exactly,
    as for an embedded network) seeds a centred interior start next to it (``_warm_start``); an
    infeasible one is ignored and the solve starts from the blocks ``u_b = eps * g_{p(b)}`` along
    their patterns' gates. A warm-started solve that does not converge is repeated from that cold
    start.

    Parameters
    ----------
    tol : float, default=1e-6
        Relative duality-gap tolerance ``(objective - lower_bound) / |objective|``.
    constraint_tol : float, default=1e-8
        Tolerance on the largest violation of the cone constraints.
    max_iter : int, default=100
        Cap on interior-point iterations (per working-set round); reaching it warns (status
        ``'max_iter'``).
    working_set : {'auto', True, False}, default='auto'
        Solve over a working set of patterns instead of the whole program. The program restricted
        to ``problem.patterns.subset(working)`` is solved to ``tol / 2``; every block of the whole
        program is then scored with the exact dual oracle at ``z = -grad F(pred)`` (cheap bounds
        first: ``||(K^T z)_b||`` above, the value at the pattern's gate below; NNLS only for the
        undecided blocks); once a pattern violates (value > ``lam``), the patterns above
        ``0.9 lam`` are added (the next violators, mostly), at most doubling the set, and the
        restricted program is solved again, until none violates. The first set
        holds the patterns with the largest oracle values at the zero solution, as many as keep
        one factorization under ~1e10 flops and 4 GiB. The lower bound, gap and status are
        certified on the whole program (:func:`~convexnn.solvers.oracle_bound`'s bound); the
        result is on the whole program's layout (zero blocks outside the set), ``n_iter`` counts
        all iterations and ``history`` concatenates the rounds' records, each with ``round``,
        ``working_set`` (patterns), ``restricted_lower_bound`` / ``restricted_gap`` (the
        restricted program's) and ``lower_bound`` / ``gap`` on the whole program (known at the
        end of each round; ``-inf`` before). The set grows while a step needs at most 4 GiB; a
        round that cannot add a violator within that stops with status ``'max_iter'``.
        ``'auto'`` uses it when a step over the whole program would need more than 4 GiB, and
        around a feasible ``init`` that uses at most half of the patterns (seeded by them).
    max_rounds : int, default=20
        Cap on working-set rounds.
    verbose : bool, default=False
        Log one line per iteration (``logging`` at INFO level, logger
        ``convexnn.solvers.interior_point``).

    Notes
    -----
    The result's ``history`` has one record per iterate: ``objective``, ``lower_bound`` (the best
    certified so far), ``gap``, ``rel_gap``, ``violation`` (``nan`` where the iterate was too far
    from ``tol`` to be certified, see the module docstring) and ``mu``; the iterates a step left
    from add ``step``, ``sigma``, ``dual_res``, ``correctors`` (Gondzio's correctors kept) and
    ``float32`` (whether the step's reduction Gram was formed in float32); with the row reduction
    (module docstring), ``rows`` is the fraction of the orthant rows in the barrier after the step.
    """

    name = "interior_point"

    #: the Newton step takes the loss's gradient and Hessian at the predictions, the certificate
    #: its conjugate; the cone form is the group-l1 norm's (checked by name: its second-order
    #: cones are built in)
    loss_needs = ("gradient", "hessian", "dual")
    penalty_needs = ()

    def __init__(self, *, tol=1e-6, constraint_tol=1e-8, max_iter=100, working_set="auto",
                 max_rounds=20, verbose=False):
        if not (working_set is True or working_set is False or working_set == "auto"):
            raise ValueError(
                f"working_set must be 'auto', True or False, got {working_set!r}."
            )
        check_positive(max_rounds, "max_rounds", integer=True)
        self.working_set = working_set
        self.max_rounds = int(max_rounds)
        check_positive(tol, "tol")
        check_positive(constraint_tol, "constraint_tol")
        check_positive(max_iter, "max_iter", integer=True)
        self.tol = float(tol)
        self.constraint_tol = float(constraint_tol)
        self.max_iter = int(max_iter)
        self.verbose = bool(verbose)

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        """Peak working memory of one solve of the whole program, in bytes (:meth:`_step_bytes`
        over all its patterns: ``n_blocks / 2`` for a ``constrained`` program, whose patterns
        have two blocks, ``n_blocks`` otherwise), plus the history. A working set's rounds stop
        growing at ``_WS_BYTES``."""
        n, m, per = int(n_samples), int(n_columns), 2 if constrained else 1
        groups = max(1, int(n_blocks) // per)
        return int(self._step_bytes(n, m, groups, per)) + _HISTORY_BYTES_PER_ITER * self.max_iter

    # ------------------------------------------------------------------ checks
    def _unsupported(self, problem):
        """Why this solver cannot take ``problem`` (a message), or None when it can."""
        operator = problem.block_operator(np.float64, xp=NUMPY)
        levels = getattr(operator, "levels", ())
        if levels:
            shape = (problem.n_samples, problem.design.shape[1], problem.n_blocks, levels)
            k = nested_class_size(operator)
            need = nested_bytes(*shape, self.max_iter, class_size=k)
            flops = nested_step_flops(*shape, class_size=k)
            if need > _NESTED_BYTES or flops > _NESTED_FLOPS:
                return (f"solver 'interior_point' solves nested deep programs with a dense Newton "
                        f"system, which would need {need / 1024**3:.1f} GiB and {flops:.1e} flops "
                        f"per step here (limits {_NESTED_BYTES / 1024**3:.0f} GiB, "
                        f"{_NESTED_FLOPS:.0e} flops) for {problem!r}; use fewer patterns or "
                        "solver='augmented_lagrangian'.")
        if getattr(problem.penalty, "name", None) != "group_l1":
            return (f"solver 'interior_point' supports the 'group_l1' penalty, got "
                    f"{problem.penalty!r}.")
        if not problem.lam > 0:
            return (f"solver 'interior_point' needs lam > 0, got lam={problem.lam!r}: with lam = 0 "
                    "the cone variables t_b are unbounded and no dual bound can certify a gap; use "
                    "solver='fista' or a cvxpy solver, or a small positive lam.")
        return self.unmet_needs(problem)

    def supports(self, problem):
        """Whether :meth:`solve` takes ``problem`` (``solver='auto'`` asks before picking it)."""
        return self._unsupported(problem) is None

    def _check_problem(self, problem):
        message = self._unsupported(problem)
        if message is not None:
            raise ValueError(message)

    def _start(self, prog):
        """A centred interior start: ``u_b = eps g_b``, ``t_b = 2 eps``, ``z = mu s^{-1}``.

        ``g_b`` is the unit gate of the block's pattern, so ``O_b * (A u_b) = eps |A g_b| >= 0``:
        the start is feasible, and for ReLU the two signs of a pattern cancel (predictions 0).
        ``mu`` makes ``z_t = lam`` (no initial residual in the ``t`` part of stationarity).
        """
        eps, gates = self._gate_directions(prog)
        x = np.empty((prog.B, prog.m))
        x[:, 1:] = eps * gates
        x[:, 0] = 2.0 * eps
        median = self._select_rows(prog, x[:, 1:])
        zeta = prog.lam  # z_t = lam: the t part of the dual residual starts at zero
        mu = 1.5 * zeta * eps  # makes z_t = zeta with z_soc = mu s_soc^{-1}
        return self._centred(prog, x, mu, median)

    @staticmethod
    def _select_rows(prog, u):
        """Row reduction (module docstring): put the rows near the start's blocks ``u`` in the
        barrier. Returns the median orthant value over all rows (the start's slack floor is a
        fraction of it, as without the reduction), or None where rows are not reduced."""
        if prog.row_margin is None:
            return None
        near, values = prog.near_rows(u)
        prog.set_rows(near)
        return float(np.median(values))

    @staticmethod
    def _gate_directions(prog):
        """``(eps, g)``: the blocks' unit gates (B, r), each inside its block's cone, and the
        scale ``eps`` of the cold start along them."""
        problem = prog.problem
        gates = prog.restrict(problem.patterns.gates[:, problem.block_pattern].T)  # (B, r)
        gates = gates / np.maximum(np.linalg.norm(gates, axis=1, keepdims=True), 1e-300)
        norm_A = max(np.linalg.norm(prog.A), 1e-300)
        eps = max(np.linalg.norm(prog.y), 1e-3) / norm_A
        if prog.O is None:
            # gated: the blocks do not cancel in the prediction; keep it within the scale of y
            reach = np.abs(prog.predict(gates)).max()
            eps = min(eps, 0.1 * max(np.abs(prog.y).max(), 1e-3) / max(reach, 1e-300))
        return eps, gates

    @staticmethod
    def _centred(prog, x, mu, median=None):
        """``(x, s_orth, s_soc, z_orth, z_soc)``: the slacks of ``x`` and multipliers ``mu s^{-1}``.

        Orthant rows whose margin is tiny (or zero) start from a slack floor instead: feasibility
        there would need huge multipliers ``z = mu / s`` and costs ~20% more iterations (measured
        at (1000, 20, 100): 41 -> 34); their residual ``G x + s`` decays with every step and the
        stopping rule checks the violation of the returned point. The floor is a fraction of the
        orthant values' ``median`` (default: that of the rows in the barrier).
        """
        s_soc = x.copy()
        z_soc = np.empty_like(x)
        z_soc[:, 0] = x[:, 0]
        z_soc[:, 1:] = -x[:, 1:]
        z_soc *= (mu / _soc_det(x))[:, None]
        s_orth = z_orth = None
        if prog.O is not None:
            s_orth = -prog.G(x)[0]
            if median is None:
                median = np.median(s_orth)
            floor = _START_FLOOR * max(median, 1e-300)
            s_orth = np.maximum(s_orth, floor)
            z_orth = mu / s_orth
        return x, s_orth, s_soc, z_orth, z_soc

    @staticmethod
    def _add_rows(prog, x, s_orth, z_orth, s_soc, z_soc):
        """Row reduction: put the rows that came within the margin into the barrier; returns the
        orthant ``(s, z)`` on the new layout (the same arrays when no row came).

        A new row's slack is its value ``O_b * (A u_b)`` (floored like the start's), its
        multiplier ``mu / s``: centred, with the primal residual of a value below the floor.
        """
        near, values = prog.near_rows(x[:, 1:])
        new = near & ~prog.kept.keep
        if not new.any():
            return s_orth, z_orth
        floor = _START_FLOOR * max(float(np.median(s_orth)), 1e-300)
        mu = (float((s_soc * z_soc).sum()) + float((s_orth * z_orth).sum())) / prog.degree
        s_new = np.maximum(values[new], floor)
        s_all, z_all = prog.dense_orth(s_orth), prog.dense_orth(z_orth)
        s_all[new] = s_new
        z_all[new] = mu / s_new
        prog.set_rows(prog.kept.keep | new)
        index = prog.kept.index
        return s_all.reshape(-1)[index], z_all.reshape(-1)[index]

    def _warm_start(self, prog, init):
        """A centred interior start near a feasible ``init``, or None when ``init`` is infeasible.

        ``u_b = init_b + _WARM_BLEND eps g_b`` (the cold start's direction keeps every block, the
        zero ones included, strictly inside its cone); ``mu`` is set so the complementarity sums
        to ``_WARM_MU`` (``_WARM_MU_REDUCED`` with the row reduction) times the objective at
        ``init``, and ``t_b`` so that ``z_t = lam`` exactly
        (``t_b^2 - ||u_b||^2 = (mu / lam) t_b``): the ``t`` part of stationarity starts at zero
        and the ``u`` part of the cone multiplier is ``-lam u_b / t_b``, the group-lasso
        subgradient for the blocks in use. Orthant slacks and multipliers as in :meth:`_centred`.
        Measured on the Adam embeddings of ``make_teacher`` (d = 20, 50 patterns) at tol 1e-4:
        34 -> 25 iterations at n = 5,000 and 81 -> 55 at n = 20,000.
        """
        problem = prog.problem
        if not problem.constraint_violation(init) <= 0.0:
            return None
        eps, gates = self._gate_directions(prog)  # the cold start's blocks, without its slacks
        objective = problem.objective(init)
        u = prog.restrict(init) + (_WARM_BLEND * eps) * gates
        median = self._select_rows(prog, u)
        share = _WARM_MU if median is None else _WARM_MU_REDUCED  # median: rows are reduced
        mu = share * max(abs(objective), 1e-300) / prog.degree
        norm = np.linalg.norm(u, axis=1)
        ratio = mu / prog.lam
        t = 0.5 * (ratio + np.sqrt(ratio * ratio + 4.0 * norm * norm))
        x = np.empty((prog.B, prog.m))
        x[:, 0] = t
        x[:, 1:] = u
        return self._centred(prog, x, mu, median)

    @staticmethod
    def _certificate(prog, u, z_orth):
        """``(bound, violation, point)`` of the iterate ``u``: the dual bound from its
        multipliers (``problem.dual_certificate``), its constraint violation and the dual point."""
        problem = prog.problem
        u = prog.lift(u)
        multipliers = None if prog.O is None else prog.dense_orth(z_orth)
        bound, point = problem.dual_certificate(u, multipliers)
        return bound, problem.constraint_violation(u), point

    # ------------------------------------------------------------------ working set
    @staticmethod
    def _step_cost(n, m, n_groups, blocks_per_group):
        """Flops of one factorization over ``n_groups`` patterns: the blocks' Grams (one GEMM with
        the column products of the design) and small QRs, plus the cheaper of the n-space and the
        group-space reductions (``m`` columns of the design)."""
        gd = n_groups * m
        blocks = n_groups * blocks_per_group
        qr = blocks * (n * m * (m + 1) + 4.0 * (2 * m + 1) * (m + 1) ** 2)
        return qr + min(n * n * gd + n**3 / 3, gd**3 / 3 + 2.0 * gd * gd * m)

    @staticmethod
    def _step_bytes(n, m, n_groups, blocks_per_group):
        """Bytes of a step's arrays over ``n_groups`` patterns (``m`` design columns; two blocks
        a pattern have orthant rows): the reduction (n-space: ``S`` in float64 and float32 and
        one chunk of ``Yt`` in both, ``_CHUNK_ENTRIES``; group space: its two ``G d x G d``
        matrices and ``Yt`` with its float32 copy), the blocks' factors and, with orthant rows,
        ~14 arrays of shape (n, B) (whole even with the row reduction: the start and the
        certificates pass over every row) and, without the row reduction (``_ROW_SIZE``), the
        full-QR fallback stack (B, m + 1, n + m + 1). Measured (tracemalloc peak of a solve
        against this): 0.081 / 0.099 GB at (n, d, P) = (1000, 20, 100), 0.136 / 0.216 at
        (3000, 20, 100), 0.457 / 0.461 at (3000, 50, 300)."""
        gd = n_groups * m
        blocks = n_groups * blocks_per_group
        if n * n * gd + n**3 / 3 <= gd**3 / 3 + 2.0 * gd * gd * m:
            system = 1.5 * (n * n + n * chunk_groups(n, m, n_groups) * m)
        else:
            system = 2 * gd * gd + 1.5 * n * gd
        orthant = 0.0
        if blocks_per_group > 1:  # the ReLU program's cone rows
            orthant = 14 * n * blocks
            if n * blocks < _ROW_SIZE:
                orthant += blocks * (n + m + 1) * (m + 1)
        return 8 * (system + orthant + 4 * blocks * (m + 1) ** 2)

    def _initial_size(self, problem, init=None):
        """Number of patterns of the first working set, or None to solve the whole program.

        'auto' uses a working set when the Newton system of the whole program needs more than
        ``_WS_BYTES`` (the whole solve was measured faster than the rounds wherever it fits:
        129 s against > 6 min at (n, d, P) = (2000, 50, 300); 210 s against > 14 min
        (stopped) at (3000, 50, 1000), where a factorization costs 5e11 flops), starting with the
        most patterns whose
        factorization stays within ``_WS_FLOPS`` (about 0.5 s on one core) and ``_WS_BYTES``;
        and around an ``init`` that uses at most ``1 / _WS_INIT_FRACTION`` of the patterns,
        starting with those (at least ``_WS_INIT_MIN``).
        """
        if self.working_set is False or _nested(problem):
            return None  # nested deep programs: always the whole program
        n, m = problem.design.shape
        P = problem.patterns.n_patterns
        per = max(1, problem.n_blocks // P)

        def fits(k):
            return (self._step_cost(n, m, k, per) <= _WS_FLOPS
                    and self._step_bytes(n, m, k, per) <= _WS_BYTES)

        if self.working_set == "auto" and self._step_bytes(n, m, P, per) <= _WS_BYTES:
            # it fits: a working set only around an init that uses few of the patterns (one
            # class of a one-vs-rest fit over shared patterns, a column-generation round)
            used = 0 if init is None else np.unique(
                problem.block_pattern[np.linalg.norm(init, axis=1) > 0]).size
            if init is None or used == 0 or used * _WS_INIT_FRACTION > P or P < 2 * _WS_MIN:
                return None
            return max(used, _WS_INIT_MIN)
        k = 1
        while k < P and fits(k + 1):
            k += 1
        k = max(k, min(P, _WS_MIN))
        if self.working_set == "auto" and k >= P:
            return None
        return min(k, P)

    def _screen(self, problem, z):
        """Cheap per-block bounds ``(lower, upper)`` on the oracle values at ``z``.

        ``upper = ||(K^T z)_b||``; ``lower`` is ``(K^T z)_b^T g_b`` for the block's unit gate (a
        point of its cone) for the ReLU program, exact for the gated one. Exact values, where these
        cannot decide, come from :func:`convexnn.oracle.block_scores`.
        """
        a = problem.adjoint(z)
        upper = np.linalg.norm(a, axis=1)
        if problem.constraint_orientation() is None:
            return upper, upper.copy()
        gates = problem.patterns.gates[:, problem.block_pattern].T
        gates = gates / np.maximum(np.linalg.norm(gates, axis=1, keepdims=True), 1e-300)
        lower = np.clip(np.einsum("bj,bj->b", a, gates), 0.0, None)
        return lower, upper

    def _largest_set(self, n, m, n_patterns, per, at_least):
        """The most patterns (at most ``n_patterns``, at least ``at_least``) whose step needs at
        most ``_WS_BYTES``."""
        lo, hi = at_least, n_patterns  # _step_bytes grows with the set
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._step_bytes(n, m, mid, per) <= _WS_BYTES:
                lo = mid
            else:
                hi = mid - 1
        return lo

    @staticmethod
    def _additions(value, outside, lam, cap):
        """The patterns a working-set round adds: none unless one outside the set violates (oracle
        ``value`` above ``lam``), else those above ``_WS_NEAR lam``, at most ``cap`` (the set at
        most doubles), by decreasing value."""
        if not np.any(outside & (value > lam * (1 + 1e-9))):
            return np.zeros(0, dtype=np.intp)
        near = np.flatnonzero(outside & (value > _WS_NEAR * lam * (1 + 1e-9)))
        return near[np.argsort(-value[near], kind="stable")[:cap]]

    def _solve_working_set(self, problem, k0, init=None):
        """Working-set rounds (see the class docstring); a dict like :meth:`_solve_program`.

        With a feasible ``init`` the first working set holds the patterns ``init`` uses and, up to
        ``k0``, those with the largest oracle values at its predictions; every round then starts
        next to the previous round's solution (:meth:`_warm_start`), so the rounds after the first
        take few iterations.
        """
        cls, lam, loss, y = type(problem), problem.lam, problem.loss, problem.y
        P = problem.patterns.n_patterns
        tiny = np.finfo(float).tiny
        full_block = {(int(p), float(sg)): b
                      for b, (p, sg) in enumerate(zip(problem.block_pattern, problem.block_sign))}

        def pattern_max(values):
            best = np.zeros(P)
            np.maximum.at(best, problem.block_pattern, values)
            return best

        # first working set: the patterns with the largest oracle values at the start (the zero
        # solution, or init, whose own patterns come first)
        start = problem.zeros() if init is None else init
        z = -loss.gradient(problem.predict(start), y)
        lower_b, upper_b = self._screen(problem, z)
        used = pattern_max(np.linalg.norm(start, axis=1)) > 0
        rank = np.lexsort((-pattern_max(upper_b), -pattern_max(lower_b), ~used))
        working = np.sort(rank[:max(k0, int(used.sum()))])
        coef = None if init is None else start
        n, m = problem.design.shape
        per = max(1, problem.n_blocks // P)
        room = self._largest_set(n, m, P, per, working.size)
        history, n_iter, sub_tol = [], 0, 0.5 * self.tol
        lower, lower_point = -math.inf, None
        out = None
        for round_ in range(1, self.max_rounds + 1):
            sub = cls(problem.X, y, problem.patterns.subset(working), lam=lam, loss=loss)
            rows = [full_block[(int(working[int(p)]), float(sg))]
                    for p, sg in zip(sub.block_pattern, sub.block_sign)]
            sub_init = None if coef is None else coef[rows]
            res = self._solve_program(sub, sub_tol, sub_init)
            if sub_init is not None and res["status"] != "optimal":
                res = self._solve_program(sub, sub_tol)  # the cold start decides
            n_iter += res["n_iter"]
            coef = problem.zeros()
            coef[rows] = res["coef"]
            pred = problem.predict(coef)
            objective = problem.objective(coef)
            violation = problem.constraint_violation(coef)
            z = -loss.gradient(pred, y)
            outside = np.ones(P, dtype=bool)
            outside[working] = False
            # exact oracle values from _WS_NEAR lam up: the bound on the whole program, the
            # violators and, once there is one, the patterns close to violating too
            scores = block_scores(problem, z, threshold=_WS_NEAR * lam)
            oracle = float(max(lam, scores.max()))
            point = min(1.0, lam / oracle) * z
            bound = loss.dual(point, y)
            if bound > lower:
                lower, lower_point = bound, point
            value = pattern_max(scores)
            new = self._additions(value, outside, lam,
                                  min(max(working.size, k0), room - working.size))
            gap = objective - lower
            rel_gap = gap / max(abs(objective), tiny)
            for record in res["history"]:
                record["restricted_lower_bound"] = record["lower_bound"]
                record["restricted_gap"] = record["gap"]
                record["lower_bound"] = lower
                record["gap"] = objective - lower if record is res["history"][-1] else (
                    record["objective"] - lower)
                record["rel_gap"] = record["gap"] / max(abs(record["objective"]), tiny)
                record["round"] = round_
                record["working_set"] = int(working.size)
            res["history"][-1]["added"] = int(new.size)
            history.extend(res["history"])
            out = {"status": res["status"], "detail": res["detail"], "coef": coef,
                   "objective": objective, "violation": violation}
            if self.verbose:
                logger.info("ipm working set round %d: %d patterns, %d iterations, rel_gap %.2e, "
                            "%d added", round_, working.size, res["n_iter"], rel_gap, new.size)
            if violation <= self.constraint_tol and rel_gap <= self.tol:
                out["status"] = "optimal"
                break
            if res["status"] not in ("optimal",):
                break  # the restricted solve failed; report its status
            if (new.size == 0 and working.size >= room
                    and np.any(outside & (value > lam * (1 + 1e-9)))):
                out["status"] = "max_iter"
                out["detail"] = (f" (working set: {working.size} patterns, the most whose Newton "
                                 f"system fits {_WS_BYTES / 1024**3:.0f} GiB)")
                break
            if new.size == 0:
                if sub_tol < 1e-10:
                    out["status"] = "numerical_error"
                    break
                sub_tol *= 0.1  # no violator left: the restricted solve was not accurate enough
                continue
            working = np.sort(np.concatenate([working, new]))
        else:
            out["status"] = "max_iter"
            out["detail"] = f" (working set: {self.max_rounds} rounds)"
        out.update({"n_iter": n_iter, "lower": lower, "dual": lower_point, "history": history})
        return out

    # ------------------------------------------------------------------ solve
    def solve(self, problem, init=None):
        """Run the interior-point iteration on ``problem`` (from ``init`` when it is feasible).

        With a working set (see the class docstring) the result is still on ``problem``'s layout
        and its bound and status are certified on the whole program.
        """
        self._check_problem(problem)
        size = problem.n_samples * problem.n_blocks * problem.design.shape[1]
        if init is not None:
            init = np.asarray(init, dtype=np.float64)
            if init.shape != problem.coef_shape or not np.all(np.isfinite(init)):
                init = None
        if size > _THREADED_SIZE:
            return self._solve(problem, init)
        # small programs: many small LAPACK calls per step, which a threaded BLAS slows down
        # (measured 0.11 s on one thread against 0.18 s on two at (300, 10, 30), and far worse
        # when other processes hold the cores)
        with _blas_controller().limit(limits=1, user_api="blas"):
            return self._solve(problem, init)

    def _solve(self, problem, init=None):
        start = time.perf_counter()
        k0 = self._initial_size(problem, init)
        if k0 is None:
            out = self._solve_program(problem, self.tol, init)
            if init is not None and out["status"] != "optimal":
                # a warm start that did not converge: the cold start's solve decides
                cold = self._solve_program(problem, self.tol)
                cold["n_iter"] += out["n_iter"]
                cold["history"] = out["history"] + cold["history"]
                out = cold
            lower = out["lower"]
        else:
            out = self._solve_working_set(problem, k0, init)
            lower = out["lower"]
        status, n_iter, coef, objective, violation = (
            out["status"], out["n_iter"], out["coef"], out["objective"], out["violation"])
        tiny = np.finfo(float).tiny
        coef = np.array(coef, dtype=np.float64)
        if status == "optimal":
            dense = objective
            coef, objective = self._sparsify(problem, coef, objective, lower)
            if objective != dense and out["history"]:  # the record of the point returned
                out["history"][-1].update(objective=objective, gap=objective - lower,
                                          rel_gap=(objective - lower) / max(abs(objective), tiny),
                                          sparsified=True)
        elapsed = time.perf_counter() - start
        lower_bound = None if not np.isfinite(lower) else float(lower)
        if status != "optimal":
            gap_text = ("unknown" if lower_bound is None
                        else f"{(objective - lower_bound) / max(abs(objective), tiny):.2e}")
            warnings.warn(
                f"{self.name} stopped with status '{status}'{out['detail']} after {n_iter} "
                f"iterations: relative gap {gap_text} (tol {self.tol:g}), constraint violation "
                f"{violation:.2e} (constraint_tol {self.constraint_tol:g}).",
                ConvergenceWarning,
                stacklevel=2,
            )
        logger.info("%s: %s, %d iterations in %.3fs", self.name, status, n_iter, elapsed)
        return SolveResult(
            coef=coef,
            objective=float(objective),
            status=status,
            solver=self.name,
            lam=problem.lam,
            n_iter=n_iter,
            time=elapsed,
            lower_bound=lower_bound,
            constraint_violation=float(violation),
            n_active=problem.active_blocks(coef).size,
            history=out["history"],
            dual=None if lower_bound is None else out["dual"],
        )

    def _sparsify(self, problem, coef, objective, lower):
        """Zero the blocks an interior point leaves at the scale of the barrier.

        Interior iterates never reach the apex of a second-order cone, so blocks that are zero at
        the optimum end at ``~mu`` instead (at ``lam >= lam_max`` every block does). Zeroing a
        block keeps every cone constraint (0 is in each cone), so the rounded point is accepted
        when it stays certified, ``objective - lower <= tol |objective|``, and costs at most half
        the slack left under the tolerance. Tried from the most aggressive rounding (every block)
        to blocks below ``1e-6`` of the largest norm.
        """
        norms = np.linalg.norm(coef, axis=1)
        top = float(norms.max(initial=0.0))
        if top == 0 or not np.isfinite(lower):
            return coef, objective
        slack = max(self.tol * abs(objective) - (objective - lower), 0.0)
        for fraction in (1.0, 1e-3, 1e-4, 1e-5, 1e-6):  # 1.0: every block
            drop = norms <= fraction * top
            if not drop.any():
                continue
            rounded = coef.copy()
            rounded[drop] = 0.0
            value = problem.objective(rounded)
            if (value <= objective + 0.5 * slack and value - lower <= self.tol * abs(value)
                    and problem.constraint_violation(rounded) <= self.constraint_tol):
                # (zeroing a block can break a nested program's upper-level constraints)
                return rounded, float(value)
        return coef, objective

    def _solve_program(self, problem, tol, init=None):
        """The interior-point iteration on ``problem`` to relative gap ``tol`` (a dict)."""
        prog = _NestedProgram(problem) if _nested(problem) else _Program(problem)
        prog.set_tol(tol)
        if prog.reduces_rows and prog.O is not None and prog.n * prog.B >= _ROW_SIZE:
            prog.row_margin = _ROW_MARGIN
        start = None if init is None else self._warm_start(prog, init)
        warm = start is not None
        if start is None:
            start = self._start(prog)
        x, s_orth, s_soc, z_orth, z_soc = start
        diverged_at = math.inf  # the warm start's mu beyond which it is given up
        constrained = prog.O is not None
        factor_cost, solve_cost = prog.step_costs()
        correctors = _CORRECTORS if factor_cost >= _CORRECTOR_RATIO * solve_cost else 0
        tiny = np.finfo(float).tiny
        history = []
        lower, lower_point = -math.inf, None
        best = None  # (gap, coef, objective, violation) of the best certified iterate
        status, n_iter, detail = "max_iter", 0, ""

        for it in range(self.max_iter + 1):
            u = x[:, 1:]
            mu_total = float((s_soc * z_soc).sum())
            if constrained:
                mu_total += float((s_orth * z_orth).sum())
            objective = prog.problem.objective(prog.lift(u))
            if mu_total <= _CERTIFY_FROM * tol * abs(objective) or it == self.max_iter:
                bound, violation, point = self._certificate(prog, u, z_orth)
            else:  # too far out to stop the solve: not certified (nor a candidate to return)
                bound, violation, point = None, math.nan, None
            if bound is not None and np.isfinite(bound) and bound > lower:
                lower, lower_point = bound, point
            gap = objective - lower
            rel_gap = gap / max(abs(objective), tiny)
            history.append({"iter": it, "objective": objective, "lower_bound": lower, "gap": gap,
                            "rel_gap": rel_gap, "violation": violation,
                            "mu": mu_total / prog.degree})
            if self.verbose:
                logger.info("ipm %3d  obj %.10e  bound %.10e  rel_gap %.2e  viol %.1e  mu %.2e",
                            it, objective, lower, rel_gap, violation, mu_total / prog.degree)
            feasible = violation <= self.constraint_tol
            if feasible and (best is None or gap < best[0]):
                best = (gap, u.copy(), objective, violation)
            if feasible and rel_gap <= tol:
                status = "optimal"
                break
            if it == self.max_iter:
                break
            if warm and it == 0:
                diverged_at = _WARM_DIVERGENCE * mu_total
            elif mu_total > diverged_at:
                status = "numerical_error"
                detail = (f" (the warm start diverged: complementarity {_WARM_DIVERGENCE:g}x its "
                          "start's)")
                break

            try:
                step = self._step(prog, x, s_orth, s_soc, z_orth, z_soc, mu_total, correctors)
            except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
                status, detail = "numerical_error", f" ({exc})"
                break
            if step is None:
                status = "numerical_error"
                break
            x, s_orth, s_soc, z_orth, z_soc, info = step
            if prog.kept is not None:
                s_orth, z_orth = self._add_rows(prog, x, s_orth, z_orth, s_soc, z_soc)
                info["rows"] = prog.kept.size / (prog.n * prog.B)
            history[-1].update(info)
            n_iter = it + 1

        if best is None:
            coef = x[:, 1:].copy()
            objective = prog.problem.objective(prog.lift(coef))
            violation = prog.problem.constraint_violation(prog.lift(coef))
        else:
            _, coef, objective, violation = best
        return {"status": status, "detail": detail, "n_iter": n_iter, "coef": prog.lift(coef),
                "objective": objective, "violation": violation, "lower": lower,
                "dual": lower_point, "history": history}

    @staticmethod
    def _trust_loss_model(prog, pred, grad, h, dpred, alpha, c=None):
        """Shorten ``alpha`` until the loss's quadratic model is accurate along the step.

        The Newton system uses the loss's second-order model at the current predictions; for a
        non-quadratic loss (logistic) a long step can leave the region where it is accurate and
        the iteration then diverges. The step is halved until the model's error is at most half
        its second-order term (a trust-region test on the predictions; a no-op for the squared
        loss, whose model is exact).
        """
        value = prog.loss.value(pred, prog.y)
        slack = 1e-13 * max(abs(value), 1e-300)
        for _ in range(60):
            step = alpha * dpred
            lin = float(grad @ step)
            quad = 0.5 * float(h @ (step * step))
            if c is not None:
                quad -= 0.5 * float(c @ step) ** 2
            actual = prog.loss.value(pred + step, prog.y) - value
            if abs(actual - lin - quad) <= 0.5 * quad + slack:
                break
            alpha *= 0.5
        return alpha

    @staticmethod
    def _centrality_target(lam_orth, lam_soc, dso, dss, dzo, dzs, reach, target):
        """Gondzio's correction of the complementarity right-hand side (scaled variables).

        At the trial point ``reach`` along the direction, the products ``(lam + reach ds) (lam +
        reach dz)`` (orthant entries; the cones' inner products ``s^T z``, their Jordan product's
        first entry) are moved into ``_CORRECTOR_BOX`` times ``target``; a product above the box
        is lowered by at most its upper end. Returns the additions to ``rc_orth`` (or None) and
        ``rc_soc``.
        """
        low, high = _CORRECTOR_BOX[0] * target, _CORRECTOR_BOX[1] * target

        def shift(products):
            out = np.clip(products, low, high) - products
            return np.maximum(out, -high, out=out)

        soc = np.zeros_like(lam_soc)
        soc[:, 0] = shift(((lam_soc + reach * dss) * (lam_soc + reach * dzs)).sum(axis=1))
        orth = None
        if lam_orth is not None:
            orth = shift((lam_orth + reach * dso) * (lam_orth + reach * dzo))
        return orth, soc

    def _step(self, prog, x, s_orth, s_soc, z_orth, z_soc, mu_total, correctors=0):
        """One predictor-corrector step (with up to ``correctors`` centrality correctors); returns
        the new ``(x, s_orth, s_soc, z_orth, z_soc)``."""
        constrained = s_orth is not None
        u = x[:, 1:]
        pred = prog.predict(u)
        grad = prog.loss.gradient(pred, prog.y)
        h = np.maximum(prog.loss.hessian(pred, prog.y), 0.0)
        c = prog.loss.hessian_rank_one(pred, prog.y)
        # residuals of the KKT conditions
        r_x = prog.GT(z_orth, z_soc)
        r_x[:, 0] += prog.lam
        r_x[:, 1:] += prog.predict_adjoint(grad)
        g_orth, g_soc = prog.G(x)
        r_soc = g_soc + s_soc
        r_orth = g_orth + s_orth if constrained else None
        mu = mu_total / prog.degree
        dual_res = float(np.abs(r_x).max())

        # scaling
        wbar, eta, lam_soc = _soc_nt(s_soc, z_soc)
        scaling = {"wbar": wbar, "eta": eta, "winv": None}
        lam_orth = None
        if constrained:
            scaling["winv"] = np.sqrt(z_orth / s_orth)
            lam_orth = np.sqrt(s_orth * z_orth)
        fac = prog.factor(scaling, h, c)
        ro, rs = prog.scale_inv(scaling, r_orth, r_soc)  # W^{-1} r_z

        def direction(rc_orth, rc_soc, refine):
            # lam o (ds~ + dz~) = rc  ->  ds~ + dz~ = lam \ rc
            ls = _soc_div(lam_soc, rc_soc)
            lo = rc_orth / lam_orth if constrained else None
            dx, dzo, dzs = prog.kkt_solve(
                fac, scaling, -r_x, None if not constrained else -ro - lo, -rs - ls, refine
            )
            dso = lo - dzo if constrained else None
            return dx, dso, ls - dzs, dzo, dzs

        def max_step(dso, dss, dzo, dzs):
            alpha = min(_soc_max_step(lam_soc, dss).min(), _soc_max_step(lam_soc, dzs).min())
            if constrained:
                alpha = min(alpha, _orth_max_step(lam_orth, dso), _orth_max_step(lam_orth, dzo))
            return alpha

        # predictor (affine scaling)
        rc_soc = -_soc_prod(lam_soc, lam_soc)
        rc_orth = -lam_orth * lam_orth if constrained else None
        # (no refinement: this direction only sets sigma and the second-order correction)
        dx, dso, dss, dzo, dzs = direction(rc_orth, rc_soc, 0)
        alpha = min(1.0, max_step(dso, dss, dzo, dzs))
        dsdz = float((dss * dzs).sum()) + (float((dso * dzo).sum()) if constrained else 0.0)
        sigma = min(1.0, max(0.0, 1.0 - alpha + dsdz / mu_total * alpha**2)) ** _EXPON

        # corrector (combined)
        rc_soc = rc_soc - _soc_prod(dss, dzs)
        rc_soc[:, 0] += sigma * mu
        if constrained:
            rc_orth = rc_orth - dso * dzo + sigma * mu
        dx, dso, dss, dzo, dzs = direction(rc_orth, rc_soc, _REFINE)
        reach = max_step(dso, dss, dzo, dzs)
        used = 0
        for _ in range(correctors):  # Gondzio's centrality correctors, while they lengthen the step
            if not reach < 1.0:
                break
            aim = min(1.0, reach + _CORRECTOR_REACH)
            add_orth, add_soc = self._centrality_target(
                lam_orth, lam_soc, dso, dss, dzo, dzs, aim, sigma * mu)
            trial_orth = rc_orth + add_orth if constrained else None
            trial_soc = rc_soc + add_soc
            trial = direction(trial_orth, trial_soc, _REFINE)
            longer = max_step(*trial[1:])
            if not longer >= reach + _CORRECTOR_GAIN * (aim - reach):
                break
            dx, dso, dss, dzo, dzs = trial
            rc_orth, rc_soc, reach = trial_orth, trial_soc, longer
            used += 1
        alpha = min(1.0, _STEP * reach)
        if not np.isfinite(alpha) or alpha < 1e-12 or not np.all(np.isfinite(dx)):
            return None
        if prog.loss.name != "squared":
            alpha = self._trust_loss_model(prog, pred, grad, h, prog.predict(dx[:, 1:]), alpha, c)

        # back to unscaled directions: ds = W ds~, dz = W^{-1} dz~
        ds_orth, ds_soc = prog.scale(scaling, dso, dss)
        dz_orth, dz_soc = prog.scale_inv(scaling, dzo, dzs)
        x = x + alpha * dx
        s_soc = s_soc + alpha * ds_soc
        z_soc = z_soc + alpha * dz_soc
        if constrained:
            s_orth = s_orth + alpha * ds_orth
            z_orth = z_orth + alpha * dz_orth
        info = {"step": alpha, "sigma": sigma, "dual_res": dual_res, "correctors": used,
                "float32": bool(fac.get("single")) and fac.get("double") is None}
        return x, s_orth, s_soc, z_orth, z_soc, info
