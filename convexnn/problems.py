"""The convex training programs: data, activation patterns, a loss, a penalty and ``lam``.

Both programs are group lassos over blocks of coefficients. A block ``b`` is a vector ``u_b`` of
length ``n_features`` (intercept column included) tied to one pattern ``D_{p(b)}`` and a sign
``s_b``; the prediction is linear in the blocks,

    pred = sum_b s_b D_{p(b)} A u_b        (A = X, or X with a ones column),

so the numpy form is ``((M[:, p] * s) * (A @ coef.T)).sum(axis=1)`` with the boolean pattern mask
``M``. Coefficients are stored as an array of shape (n_blocks, n_features), one row per block.

* :class:`ReLUProblem` (C-ReLU): blocks ``v_i`` (sign +1) then ``w_i`` (sign -1) for each pattern,
  with the cone constraints ``(2 D_i - I) A u_b >= 0`` that make ``(A u_b)_+ = D_i A u_b``.
* :class:`GatedReLUProblem` (C-GReLU): one unconstrained block per pattern.

The objective is ``loss.value(pred, y) + lam * penalty.value(coef)`` (mean loss, doc/math.rst).
A problem knows its linear operator (:meth:`~ConvexProblem.predict` and its adjoint), its
constraints, and how to state itself in cvxpy (cached, with ``lam`` a ``cp.Parameter`` so a path
re-solves without re-compiling). It knows nothing about solvers.

Array namespaces: a problem built from torch tensors (or CuPy arrays) keeps a float64 numpy copy
of its data for everything that runs on the host (cvxpy, the interior point, certificates) and
remembers the input's namespace and device (:attr:`ConvexProblem.array_namespace`); its
:meth:`~ConvexProblem.block_operator` is then built there, so the first-order solvers iterate on
that device. :meth:`~ConvexProblem.with_namespace` moves an existing problem's operators.

Data larger than one machine's memory: a :class:`GatedReLUProblem` accepts ``X`` as a
``dask.array`` chunked by rows, with patterns computed on it (their mask is then a dask array
chunked like ``X``). The data, mask and weights stay on the dask cluster; the problem's products
are reductions over the row chunks (:mod:`convexnn._dask`) and :class:`~convexnn.solvers.FISTA`
(``solver='fista'``) solves it, reading back scalars and one (n_blocks, n_features) adjoint per
iteration. The entry point is the problem, not the estimators: scikit-learn's input validation
would gather the data into one numpy array, and the estimators' other steps (cvxpy, the interior
point, pattern search) need the data in memory.
"""

import copy

import cvxpy as cp
import numpy as np

from ._array_api import NUMPY, get_namespace, is_numpy_namespace, to_numpy
from ._dask import DaskBlockOperator, add_dask_intercept, check_dask_matrix, gram, is_dask_array
from ._dask import rows_like
from .losses import get_loss
from .operators import BlockOperator, check_dtype
from .patterns import ActivationPatterns
from .penalties import get_penalty
from .results import ZERO_BLOCK_THRESHOLD
from .validation import add_intercept, check_matrix, check_positive, check_target

__all__ = ["ConvexProblem", "ReLUProblem", "GatedReLUProblem", "CvxpyProgram"]


class CvxpyProgram:
    """A compiled cvxpy statement of a problem: the ``cp.Problem``, its variable and ``lam``.

    Attributes
    ----------
    problem : cvxpy.Problem
    variable : cvxpy.Variable of shape (n_features, n_blocks)
        Blocks as columns (the transpose of the numpy coefficient layout).
    lam : cvxpy.Parameter
        Non-negative regularization strength; set ``lam.value`` and re-solve.
    """

    def __init__(self, problem, variable, lam):
        self.problem = problem
        self.variable = variable
        self.lam = lam


class ConvexProblem:
    """Base class of the convex programs (see the module docstring for the layout).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data without the intercept column; it is appended when the patterns were
        computed with ``fit_intercept=True``. :class:`GatedReLUProblem` also accepts a
        ``dask.array`` chunked by rows (see the module docstring).
    y : array-like of shape (n_samples,)
        Targets (labels -1/+1 for the logistic loss).
    patterns : ActivationPatterns
        The patterns ``D_i``; must have been computed on ``X``.
    lam : float
        Regularization strength (``alpha`` in the estimators), >= 0.
    loss : {'squared', 'logistic'} or Loss, default='squared'
    penalty : {'group_l1'} or Penalty, default='group_l1'
    """

    #: whether the blocks carry cone constraints
    has_constraints = False
    #: whether ``X`` may be a dask array (programs without constraints, solved by FISTA)
    accepts_dask = False
    #: whether this problem's data are dask arrays (set by ``__init__``)
    _dask = False

    def __init__(self, X, y, patterns, *, lam, loss="squared", penalty="group_l1"):
        self._dask = is_dask_array(X)
        if self._dask:
            if not self.accepts_dask:
                raise ValueError(
                    f"{type(self).__name__} does not accept a dask array X; dask data are "
                    "supported by GatedReLUProblem (solved with solver='fista')."
                )
            self._init_dask(X, y, patterns, lam=lam, loss=loss, penalty=penalty)
            return
        self._namespace = get_namespace(X, y)
        X = check_matrix(to_numpy(X), "X")
        y = to_numpy(y)
        if not isinstance(patterns, ActivationPatterns):
            raise ValueError(
                f"patterns must be an ActivationPatterns, got {type(patterns).__name__}; build one "
                "with sample_patterns or enumerate_patterns."
            )
        if patterns.n_patterns == 0:
            raise ValueError("patterns holds 0 patterns; at least one is required.")
        A = add_intercept(X) if patterns.fit_intercept else X
        _check_pattern_shapes(patterns, A)
        self.loss = get_loss(loss)
        self.penalty = get_penalty(penalty)
        self.y = self.loss.check_target(check_target(y, X.shape[0]))
        self.X = X
        self.design = A
        self.patterns = patterns
        self.lam = float(check_positive(lam, "lam", strict=False))
        self.block_pattern, self.block_sign = self._blocks(patterns.n_patterns)
        # weights (n_samples, n_blocks) of each block's features in the prediction
        self._weights = patterns.mask[:, self.block_pattern] * self.block_sign
        self._cache = {}  # shared by the copies made by with_lam

    def _init_dask(self, X, y, patterns, *, lam, loss, penalty):
        """``__init__`` for a dask ``X`` chunked by rows: the design, targets and weights stay dask
        arrays chunked like ``X``. ``y`` (numpy or dask) is checked on the client (``n_samples``
        floats, a ``1/n_features`` share of ``X``) and sent back to the cluster."""
        X = check_dask_matrix(X, "X")
        if not isinstance(patterns, ActivationPatterns):
            raise ValueError(
                f"patterns must be an ActivationPatterns, got {type(patterns).__name__}; build one "
                "with sample_patterns(X, ...) on the dask array X."
            )
        if not is_dask_array(patterns.mask):
            raise ValueError(
                "X is a dask array but the patterns' mask is not: compute the patterns on the dask "
                "array (sample_patterns(X, ...) or ActivationPatterns.from_gates(X, gates)) so the "
                "mask is chunked like X."
            )
        A = add_dask_intercept(X) if patterns.fit_intercept else X
        _check_pattern_shapes(patterns, A)
        # design, targets and weights are computed once and held on the workers (persist): every
        # product of the iteration then starts from their stored chunks
        A = A.persist()
        self.loss = get_loss(loss)
        self.penalty = get_penalty(penalty)
        target = y.compute() if is_dask_array(y) else to_numpy(y)
        target = self.loss.check_target(check_target(target, X.shape[0]))
        self.y = rows_like(target, X, "y").persist()
        self.X = X
        self.design = A
        self.patterns = patterns
        self.lam = float(check_positive(lam, "lam", strict=False))
        self.block_pattern, self.block_sign = self._blocks(patterns.n_patterns)
        mask = patterns.mask.rechunk((X.chunks[0], -1))
        self._weights = (mask[:, self.block_pattern] * self.block_sign).persist()
        self._namespace = (NUMPY, "cpu")  # the operator is DaskBlockOperator (see block_operator)
        self._cache = {}

    def _blocks(self, n_patterns):
        """Pattern index and sign of each block, arrays of shape (n_blocks,)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ sizes
    @property
    def fit_intercept(self):
        """Whether the last column of :attr:`design` is the appended ones column."""
        return self.patterns.fit_intercept

    @property
    def n_samples(self):
        return self.design.shape[0]

    @property
    def n_features(self):
        """Columns of the design matrix (intercept included)."""
        return self.design.shape[1]

    @property
    def n_blocks(self):
        return self.block_pattern.shape[0]

    @property
    def coef_shape(self):
        """Shape (n_blocks, n_features) of the coefficients."""
        return (self.n_blocks, self.n_features)

    def active_blocks(self, coef, threshold=ZERO_BLOCK_THRESHOLD):
        """Indices of the blocks that count as non-zero (each gives one neuron).

        A block is zero when ``||u_b|| <= threshold * max(max_b ||u_b||, ||y||_inf / ||A||_2)``: relative
        to the largest block, with a floor at the size of a block whose predictions reach the scale
        of ``y``, so an all-tiny solution (large ``lam``) has no active block.
        """
        coef = self.check_coef(coef)
        norms = np.linalg.norm(coef, axis=1)
        if "scale" not in self._cache and self._dask:
            # ||A||_2 from the (n_features, n_features) Gram matrix: one reduction over the chunks
            spectral = float(np.sqrt(max(np.linalg.eigvalsh(gram(self.design))[-1], 0.0)))
            self._cache["scale"] = float(abs(self.y).max().compute()) / max(spectral, 1e-300)
        if "scale" not in self._cache:
            self._cache["scale"] = np.abs(self.y).max() / max(np.linalg.norm(self.design, 2), 1e-300)
        top = max(norms.max() if norms.size else 0.0, self._cache["scale"])
        return np.flatnonzero((norms > threshold * top) & (norms > 0))

    def zeros(self):
        """All-zero coefficients (always feasible)."""
        return np.zeros(self.coef_shape)

    @property
    def array_namespace(self):
        """``(xp, device)`` where the first-order solvers compute: the namespace and device of the
        data the problem was built from (``(array_api_compat.numpy, 'cpu')`` for numpy data), or
        those set by :meth:`with_namespace`."""
        return getattr(self, "_namespace", (NUMPY, "cpu"))

    def with_namespace(self, xp=None, device=None):
        """A copy whose operators live in namespace ``xp`` on ``device`` (shares the caches).

        Parameters
        ----------
        xp : module or None
            An array-API namespace (``array_api_compat.torch``, ...); None is numpy.
        device : object, optional
            Device in ``xp`` (e.g. ``torch.device('cuda')``); ignored for numpy.
        """
        other = copy.copy(self)
        xp = NUMPY if xp is None else xp
        other._namespace = (xp, "cpu" if is_numpy_namespace(xp) else device)
        return other

    def with_lam(self, lam):
        """A copy with another ``lam`` that shares the cached cvxpy program."""
        other = copy.copy(self)
        other.lam = float(check_positive(lam, "lam", strict=False))
        return other

    def check_coef(self, coef):
        """Return ``coef`` as float64 of shape :attr:`coef_shape` or raise a ValueError."""
        coef = np.asarray(coef, dtype=np.float64)
        if coef.shape != self.coef_shape:
            raise ValueError(f"coef must have shape {self.coef_shape}, got {coef.shape}.")
        return coef

    # ------------------------------------------------------------------ operators
    def predict(self, coef):
        """Predictions ``sum_b s_b D_{p(b)} A u_b`` on the training data, shape (n_samples,)
        (a dask array kept on the cluster for dask data)."""
        if self._dask:
            return self.block_operator(np.float64).predict(coef)
        return np.einsum("nb,nb->n", self._weights, self.design @ coef.T)

    def adjoint(self, residual):
        """Adjoint of :meth:`predict`: the gradient of ``residual @ predict(coef)``, shape of coef
        (a numpy array, also for dask data)."""
        if self._dask:
            return self.block_operator(np.float64).adjoint(residual)
        return (self._weights * residual[:, None]).T @ self.design

    def objective(self, coef):
        """Convex objective ``F(predict(coef)) + lam * R(coef)``."""
        coef = self.check_coef(coef)
        return self.loss.value(self.predict(coef), self.y) + self.lam * self.penalty.value(coef)

    def constraint_violation(self, coef):
        """Largest violation of the cone constraints (0 when there are none or all hold)."""
        return 0.0

    def constraint_orientation(self):
        """``O`` of the constraints ``O * (A U^T) >= 0``, shape (n_samples, n_blocks), or None.

        None means the program has no constraints (:attr:`has_constraints` is False).
        """
        return None

    def block_operator(self, dtype=np.float64, *, xp=None, device=None):
        """The program's linear maps as a :class:`~convexnn.operators.BlockOperator` in ``dtype``.

        Built once per dtype, namespace and device and cached (shared with :meth:`with_lam`);
        native solvers use it.

        Parameters
        ----------
        dtype : {'float64', 'float32'}
        xp : module, optional
            Array-API namespace of the operator's arrays; None takes :attr:`array_namespace`
            (with its device).
        device : object, optional
            Device in ``xp`` when ``xp`` is given.
        """
        dtype = check_dtype(dtype)
        if self._dask:
            key = ("dask operator", dtype.name)
            if key not in self._cache:
                self._cache[key] = DaskBlockOperator(self.design, self._weights, dtype=dtype)
            return self._cache[key]
        if xp is None:
            xp, device = self.array_namespace
        key = ("operator", dtype.name, xp.__name__, str(device))
        if key not in self._cache:
            self._cache[key] = BlockOperator(
                self.design, self._weights, self.constraint_orientation(), dtype=dtype, xp=xp,
                device=device,
            )
        return self._cache[key]

    def dual_bound(self, coef):
        """A certified lower bound on the optimum of this (restricted) program, or None.

        Programs without a cheap dual-feasibility test return None.
        """
        return None

    def dual_certificate(self, coef, multipliers=None):
        """``(bound, point)``: :meth:`dual_bound` and the dual-feasible point ``s z`` behind it
        (ndarray of shape (n_samples,)), or ``(bound, None)`` for a program that does not give
        the point. A solver keeps the point of its best bound (``SolveResult.dual``), so that
        the bound can be carried to a program with more patterns by testing only theirs
        (:func:`convexnn.search.grow_patterns`)."""
        if multipliers is None:
            return self.dual_bound(coef), None
        return self.dual_bound(coef, multipliers=multipliers), None

    # ------------------------------------------------------------------ cvxpy
    def cvxpy_program(self):
        """The problem stated in cvxpy, compiled once and cached (shared with :meth:`with_lam`)."""
        if self._dask:
            raise ValueError("cvxpy needs the data in memory; solve a problem on dask data with "
                             "solver='fista'.")
        if "program" not in self._cache:
            U = cp.Variable((self.n_features, self.n_blocks), name="blocks")
            lam = cp.Parameter(nonneg=True, name="lam")
            features = self.design @ U
            pred = cp.sum(cp.multiply(self._weights, features), axis=1)
            objective = self.loss.cvxpy(pred, self.y) + lam * self.penalty.cvxpy(U)
            problem = cp.Problem(cp.Minimize(objective), self._cvxpy_constraints(features))
            self._cache["program"] = CvxpyProgram(problem, U, lam)
        program = self._cache["program"]
        program.lam.value = self.lam
        return program

    def _cvxpy_constraints(self, features):
        """Constraints on the block features ``A @ U`` (cvxpy expression (n_samples, n_blocks))."""
        return []

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"n_patterns={self.patterns.n_patterns}, lam={self.lam:g}, loss={self.loss.name!r})"
        )


class ReLUProblem(ConvexProblem):
    """The convex ReLU program (C-ReLU) of Pilanci & Ergen (2020), mean scaling.

    .. math::

        \\min_{v_i, w_i} \\frac1n \\sum_k \\ell\\Big(\\big[\\sum_i D_i A (v_i - w_i)\\big]_k, y_k\\Big)
        + \\lambda \\sum_i (\\|v_i\\| + \\|w_i\\|)
        \\quad \\text{s.t. } (2D_i - I) A v_i \\ge 0,\\ (2D_i - I) A w_i \\ge 0.

    Coefficient rows ``0..P-1`` are the ``v_i`` and rows ``P..2P-1`` the ``w_i``. Its optimum maps to
    a :class:`~convexnn.networks.ReLUNetwork` with the same objective. Parameters are those of
    :class:`ConvexProblem`.
    """

    has_constraints = True

    def _blocks(self, n_patterns):
        index = np.arange(n_patterns)
        sign = np.concatenate([np.ones(n_patterns), -np.ones(n_patterns)])
        return np.concatenate([index, index]), sign

    def constraint_orientation(self):
        """``2 D_{p(b)} - 1`` per block, shape (n_samples, n_blocks): built once and kept (read-only;
        the size of the block weights the program already holds), since the certificate of every
        interior-point step reads it three times."""
        if "orientation" not in self._cache:
            orientation = np.where(self.patterns.mask[:, self.block_pattern], 1.0, -1.0)
            if isinstance(orientation, np.ndarray):
                orientation.flags.writeable = False
            self._cache["orientation"] = orientation
        return self._cache["orientation"]

    def constraint_values(self, coef):
        """``(2 D_{p(b)} - I) A u_b`` for every block, shape (n_samples, n_blocks); must be >= 0."""
        return self.constraint_orientation() * (self.design @ coef.T)

    def constraint_adjoint(self, multipliers):
        """Adjoint of :meth:`constraint_values`: ``sum_k q_kb (2D-I)_kk a_k`` per block, shape of coef.

        Parameters
        ----------
        multipliers : ndarray of shape (n_samples, n_blocks)
        """
        return (self.constraint_orientation() * multipliers).T @ self.design

    def dual_bound(self, coef, multipliers=None):
        """A certified lower bound on the optimum from a primal point and cone multipliers.

        Write the program as ``min_U F(K U) + lam R(U)`` s.t. ``C U >= 0`` (``K`` = :meth:`predict`,
        ``C`` = :meth:`constraint_values`). For any ``mu >= 0`` (shape (n_samples, n_blocks)) and
        every feasible ``U``, ``F(KU) + lam R(U) >= F(KU) + lam R(U) - <mu, CU>``, and Fenchel
        duality bounds the minimum of the right side over all ``U`` below by ``-F*(-z)`` for every
        ``z`` with ``R*(K^T z + C^T mu) <= lam`` (``R*`` the dual norm). With ``z = -grad F(KU)``
        the blocks of ``a = K^T z`` and ``c = C^T mu`` are combined as ``a_b + t_b c_b`` with the
        ``t_b >= 0`` minimizing the block norm (``t_b mu_b`` is still a valid multiplier), then ``z``
        and the multipliers are scaled by ``s = min(1, lam / R*(a + t c))``, which makes the pair
        dual feasible. Hence

            optimum >= -F*(-s z)        (= ``loss.dual(s z)``).

        At an optimum, with ``mu`` the optimal multipliers, ``s = 1`` and the bound is tight (KKT).
        The augmented Lagrangian solver passes ``mu = (mu_AL - rho C U)_+``. Without multipliers
        it returns None, like any program without a cheap test (``mu = 0`` would give a valid but
        loose bound). An infeasible ``U`` (violation ``v``) can have an
        objective below this bound by at most ``||mu||_1 v``.

        Parameters
        ----------
        coef : ndarray of shape (n_blocks, n_features)
        multipliers : ndarray of shape (n_samples, n_blocks), optional
            Non-negative cone multipliers (negative entries are clipped to 0).
        """
        return self.dual_certificate(coef, multipliers)[0]

    def dual_certificate(self, coef, multipliers=None):
        """``(bound, point)``: :meth:`dual_bound` and its dual-feasible point ``s z``
        (``(None, None)`` without multipliers)."""
        if multipliers is None:
            return None, None
        coef = self.check_coef(coef)
        z = -self.loss.gradient(self.predict(coef), self.y)
        a = self.adjoint(z)
        mult = np.maximum(np.asarray(multipliers, dtype=np.float64), 0.0)
        if mult.shape != (self.n_samples, self.n_blocks):
            raise ValueError(
                f"multipliers must have shape {(self.n_samples, self.n_blocks)}, got {mult.shape}."
            )
        c = self.constraint_adjoint(mult)
        cc = np.einsum("bj,bj->b", c, c)
        t = np.maximum(-np.einsum("bj,bj->b", a, c), 0.0) / np.maximum(cc, 1e-300)
        a = a + t[:, None] * c
        oracle = self.penalty.dual_norm(a)
        scale = 1.0 if oracle <= self.lam else self.lam / oracle
        return self.loss.dual(scale * z, self.y), scale * z

    def constraint_violation(self, coef):
        values = self.constraint_values(self.check_coef(coef))
        return float(max(0.0, -values.min())) if values.size else 0.0

    def _cvxpy_constraints(self, features):
        return [cp.multiply(self.constraint_orientation(), features) >= 0]


class GatedReLUProblem(ConvexProblem):
    """The convex gated-ReLU program (C-GReLU) of Mishkin, Sahiner & Pilanci (2022), mean scaling.

    .. math::

        \\min_{u_i} \\frac1n \\sum_k \\ell\\Big(\\big[\\sum_i D_i A u_i\\big]_k, y_k\\Big)
        + \\lambda \\sum_i \\|u_i\\|

    One unconstrained block per pattern; its optimum maps to a
    :class:`~convexnn.networks.GatedReLUNetwork` whose gates are the patterns' gates. Because the
    program is unconstrained, any ``z = -grad F`` scaled into the dual-feasible set gives a
    certified lower bound (:meth:`dual_bound`). Parameters are those of :class:`ConvexProblem`.

    ``X`` may be a ``dask.array`` chunked by rows, with ``patterns`` computed on it
    (``sample_patterns(X, ...)``): the data stay on the dask cluster and ``solve(problem,
    solver='fista')`` (or ``FISTA().solve(problem)``) iterates with reductions over the chunks,
    reading back scalars and one small adjoint per iteration::

        import dask.array as da
        X = da.from_array(X_numpy, chunks=(50_000, -1))     # or da.from_zarr(...), ...
        patterns = sample_patterns(X, 8, random_state=0)
        result = FISTA(tol=1e-8).solve(GatedReLUProblem(X, y, patterns, lam=1e-3))
    """

    accepts_dask = True

    def _blocks(self, n_patterns):
        return np.arange(n_patterns), np.ones(n_patterns)

    def dual_bound(self, coef):
        """Lower bound ``-F*(-s z)`` with ``z = -grad F(pred)`` and ``s = min(1, lam / R*(A^T z))``."""
        return self.dual_certificate(coef)[0]

    def dual_certificate(self, coef, multipliers=None):
        """``(bound, point)``: :meth:`dual_bound` and its dual-feasible point ``s z``."""
        coef = self.check_coef(coef)
        z = -self.loss.gradient(self.predict(coef), self.y)
        if self._dask:
            z = z.persist()  # used by the adjoint and by the two sums of loss.dual
        oracle = self.penalty.dual_norm(self.adjoint(z))
        scale = 1.0 if oracle <= self.lam else self.lam / oracle
        dual_point = scale * z
        if self._dask:
            dual_point = dual_point.persist()
        return self.loss.dual(dual_point, self.y), dual_point


def _check_pattern_shapes(patterns, design):
    """A ValueError unless ``patterns`` were computed on the rows and columns of ``design`` (the
    data with its intercept column, when the patterns have one)."""
    if patterns.n_samples != design.shape[0]:
        raise ValueError(
            f"patterns were computed on {patterns.n_samples} samples but X has {design.shape[0]}."
        )
    if patterns.gates.shape[0] != design.shape[1]:
        raise ValueError(
            f"patterns have gates of length {patterns.gates.shape[0]} but X has {design.shape[1]} "
            f"columns (fit_intercept={patterns.fit_intercept}); compute them on this X."
        )
