"""The solver interface: what every solver is and declares.

A solver declares what it needs of the problem's loss and penalty (:attr:`Solver.loss_needs`,
:attr:`Solver.penalty_needs`, keys of :data:`~convexnn.losses.LOSS_CAPABILITIES` and
:data:`~convexnn.penalties.PENALTY_CAPABILITIES`), as skglm's solvers do; :meth:`Solver.supports`
reads the declarations against the loss's and penalty's own (``provides``), and
:meth:`Solver.check_needs` refuses with a message naming the missing method.
"""

from ..losses import LOSS_CAPABILITIES
from ..penalties import PENALTY_CAPABILITIES

__all__ = ["Solver"]


class Solver:
    """Interface: ``solve(problem, init=None) -> SolveResult``.

    ``init`` is an optional starting point of shape ``problem.coef_shape``; solvers that cannot use
    it ignore it.
    """

    name = None

    #: capabilities the solver calls on ``problem.loss`` (keys of ``LOSS_CAPABILITIES``)
    loss_needs = ()
    #: capabilities the solver calls on ``problem.penalty`` (keys of ``PENALTY_CAPABILITIES``)
    penalty_needs = ()

    def solve(self, problem, init=None):
        raise NotImplementedError

    def unmet_needs(self, problem):
        """Why the loss or penalty of ``problem`` cannot serve this solver (a message), or None.

        Only the declared needs (:attr:`loss_needs`, :attr:`penalty_needs`) are checked; the
        message names the solver, the loss or penalty and each missing method.
        """
        missing = [("loss", problem.loss, need, LOSS_CAPABILITIES[need])
                   for need in self.loss_needs if not problem.loss.provides(need)]
        missing += [("penalty", problem.penalty, need, PENALTY_CAPABILITIES[need])
                     for need in self.penalty_needs if not problem.penalty.provides(need)]
        if not missing:
            return None
        lacks = "; ".join(f"the {role} {obj!r} does not provide {need!r}: {what}"
                          for role, obj, need, what in missing)
        return (f"solver {self.name!r} needs what the problem cannot give: {lacks}. Use a cvxpy "
                "solver (solver='CLARABEL' or 'SCS') or solver='auto', which picks one that can.")

    def supports(self, problem):
        """Whether the problem's loss and penalty provide everything this solver needs."""
        return self.unmet_needs(problem) is None

    def check_needs(self, problem):
        """Raise a ValueError naming what the problem's loss or penalty lacks for this solver."""
        message = self.unmet_needs(problem)
        if message is not None:
            raise ValueError(message)

    def working_bytes(self, n_samples, n_columns, n_blocks, constrained=True):
        """Estimated peak memory of one solve beyond the problem's own arrays, in bytes.

        Used by the memory guard (:mod:`convexnn.memory`) before anything is allocated. A solver
        that does not know its needs returns 0, so only the patterns and problem are counted.

        Parameters
        ----------
        n_samples, n_columns, n_blocks : int
            The program's rows, design columns and coefficient blocks.
        constrained : bool, default=True
            Whether the program has cone constraints (ReLU, deep) or none (gated ReLU): solvers
            that pick a method by it (``'auto'``) count the method they would run.
        """
        return 0
