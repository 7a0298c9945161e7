"""Native solvers against cvxpy (Clarabel, SCS) on teacher-network data: the issue-4 table.

For each size (n, d, P) and formulation it prints each solver's wall time, objective, relative gap
to the best objective found, constraint violation, iterations, and time per iteration divided by
the floor (one product A @ V plus one A^T @ R with the program's shapes). cvxpy solvers run with a
time limit. ``lam = lam_frac * lam_max(gated program)``. Writes CSV under benchmarks/results/.

    python benchmarks/solvers.py --sizes 300,10,30 1000,20,100 --cvxpy-cap 120

ReLU only, the interior-point method (what ``solver='auto'`` runs there) against the first-order
augmented Lagrangian and Clarabel, one BLAS thread (a shared machine oversubscribes threads
otherwise), with each solver's speed-up over Clarabel printed at the end:

    python benchmarks/solvers.py --formulations relu --solvers interior_point,native,CLARABEL \
        --threads 1 --sizes 300,10,30 1000,20,100 2000,50,300

The peer pyscnn is an optional column (``--solvers native,pyscnn``) when it is installed
(``pip install torch==2.13.0`` then ``pip install --no-deps pyscnn linalg_backends opt_einsum tqdm``).
"""

import argparse
import csv
import os
import resource
import sys
import time
import warnings

import numpy as np

from convexnn import GatedReLUProblem, ReLUProblem, sample_patterns
from convexnn.datasets import make_teacher
from convexnn.solvers import get_solver, lam_max

_CAP_OPTION = {"CLARABEL": "time_limit", "SCS": "time_limit_secs"}
_NATIVE = ("auto", "interior_point", "native", "admm", "augmented_lagrangian", "fista")
_CONSTRAINED_ONLY = ("admm", "augmented_lagrangian")
_FLOAT64_ONLY = ("interior_point",)


def floor_time(problem, dtype, repeat=20):
    """Median seconds of ``A @ V`` plus ``A^T @ R`` with the program's shapes, in ``dtype``."""
    op = problem.block_operator(dtype)
    rng = np.random.default_rng(0)
    V = rng.standard_normal((op.A.shape[1], op.W.shape[1])).astype(op.dtype)
    R = rng.standard_normal((op.A.shape[0], op.W.shape[1])).astype(op.dtype)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        op.A @ V
        op.A.T @ R
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(problem, name, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        try:
            result = get_solver(name, **options).solve(problem)
        except Exception as exc:  # a capped or failed cvxpy run is a row, not a crash
            return {"status": f"error: {type(exc).__name__}", "time": time.perf_counter() - start}
        elapsed = time.perf_counter() - start
    return {
        "status": result.status,
        "time": elapsed,
        "objective": result.objective,
        "rel_cert_gap": None if result.gap is None else result.gap / abs(result.objective),
        "violation": result.constraint_violation,
        "iters": result.n_iter,
    }


def run_pyscnn(problem, patterns, options):
    """The published peer (pyscnn: R-FISTA for gated, its augmented Lagrangian for ReLU), if installed.

    It gets the same design matrix (intercept column included, ``unitize_data=False``), the same
    gates and ``NeuronGL1(lam)``; its objective has the same mean scaling, so its own final
    objective is reported (it may reorder patterns, so its weights are not mapped back). Its
    ``tol`` (``options['pyscnn_tol']``, default its own 1e-6) is its own criterion (squared norm of
    the minimum-norm subgradient), not a duality gap: ``--pyscnn-tols`` runs it at several, to
    compare time at equal accuracy.
    """
    try:
        from scnn.metrics import Metrics
        from scnn.models import ConvexGatedReLU, ConvexReLU
        from scnn.optimize import optimize_model
        from scnn.regularizers import NeuronGL1
        from scnn.solvers import AL, RFISTA
    except ImportError:
        return {"status": "not installed", "time": 0.0}
    constrained = problem.has_constraints
    model = (ConvexReLU if constrained else ConvexGatedReLU)(patterns.gates, c=1)
    tol = options.get("pyscnn_tol")
    extra = {} if tol is None else {"tol": tol}
    if constrained:
        solver = AL(model, **extra)
    else:
        solver = RFISTA(model, max_iters=options["max_iter"], **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        _, metrics = optimize_model(model, solver, Metrics(), problem.design, problem.y,
                                    regularizer=NeuronGL1(problem.lam), return_convex=True,
                                    unitize_data=False, dtype=options["dtype"])
        elapsed = time.perf_counter() - start
    row = {"status": "done", "time": elapsed, "objective": float(metrics.objective[-1]),
           "iters": len(metrics.objective), "violation": 0.0}
    if constrained and len(getattr(metrics, "constraint_gaps", [])):
        row["violation"] = float(metrics.constraint_gaps[-1])  # a 2-norm, not our max
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["300,10,30", "1000,20,100"],
                        help="n,d,P triples (issue sizes: 300,10,30 1000,20,100 2000,50,300 "
                             "10000,50,1000 100000,50,500)")
    parser.add_argument("--formulations", default="gated,relu")
    parser.add_argument("--solvers", default="native,CLARABEL,SCS",
                        help="comma-separated: native, admm, augmented_lagrangian, fista, pyscnn "
                             "(the peer, when installed) or cvxpy names")
    parser.add_argument("--cvxpy-cap", type=float, default=120.0, help="seconds per cvxpy solve")
    parser.add_argument("--cvxpy-max-n", type=int, default=10000,
                        help="skip cvxpy above this many samples (compilation is not capped)")
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--constraint-tol", type=float, default=1e-6)
    parser.add_argument("--lam-frac", type=float, default=0.01)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--max-iter", type=int, default=20000)
    parser.add_argument("--pyscnn-tols", type=float, nargs="+", default=[None],
                        help="pyscnn's own tolerances to run it at (default: its default, 1e-6)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (threadpoolctl); default: library default")
    args = parser.parse_args(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    print("command: PYTHONPATH=. python benchmarks/solvers.py "
          + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"lam = {args.lam_frac:g} * lam_max(gated); native tol {args.tol:g}, constraint_tol "
          f"{args.constraint_tol:g}, dtype {args.dtype}; cvxpy tol 1e-8, cap {args.cvxpy_cap:g}s; "
          f"{os.cpu_count()} CPUs")

    rows = []
    for size in args.sizes:
        n, d, P = (int(v) for v in size.split(","))
        X, y = make_teacher(n, d, n_neurons=5, noise=0.1, random_state=0)
        patterns = sample_patterns(X, P, fit_intercept=True, random_state=0)
        lam = args.lam_frac * lam_max(GatedReLUProblem(X, y, patterns, lam=1.0))
        for form in args.formulations.split(","):
            cls = GatedReLUProblem if form == "gated" else ReLUProblem
            problem = cls(X, y, patterns, lam=lam)
            floor = floor_time(problem, args.dtype)
            results = {}
            for name in args.solvers.split(","):
                if name == "pyscnn":
                    for tol in args.pyscnn_tols:
                        label = name if tol is None else f"{name}@{tol:g}"
                        results[label] = run_pyscnn(problem, patterns, {
                            "max_iter": args.max_iter, "dtype": args.dtype, "pyscnn_tol": tol})
                    continue
                if name in _NATIVE:
                    if name in _CONSTRAINED_ONLY and not problem.has_constraints:
                        continue
                    options = {"tol": args.tol, "max_iter": args.max_iter}
                    if name not in _FLOAT64_ONLY:
                        options["dtype"] = args.dtype
                    if problem.has_constraints:
                        options["constraint_tol"] = args.constraint_tol
                else:
                    if n > args.cvxpy_max_n:
                        continue
                    options = {"tol": 1e-8, _CAP_OPTION.get(name.upper(), "time_limit"): args.cvxpy_cap}
                results[name] = run(problem, name, options)
            # best objective among points feasible to the constraint tolerance
            best = min((r["objective"] for r in results.values()
                        if "objective" in r and r["violation"] <= args.constraint_tol), default=None)
            for name, r in results.items():
                row = {"n": n, "d": d, "P": P, "form": form, "lam": lam, "solver": name, **r,
                       "floor_ms": floor * 1e3, "dtype": args.dtype,
                       "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
                if "objective" in r and best is not None:
                    row["rel_gap_to_best"] = (r["objective"] - best) / abs(best)
                if "objective" in r and r["iters"]:
                    row["per_iter_over_floor"] = r["time"] / r["iters"] / floor
                rows.append(row)
                print(_format(row), flush=True)

    _speedups(rows, args)
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    path = os.path.join(os.path.dirname(__file__), "results", f"solvers-{int(time.time())}.csv")
    keys = sorted({k for row in rows for k in row})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")


def _speedups(rows, args):
    """Per size and formulation: each certified solver's time against Clarabel's, and whether it
    met the gap and violation targets."""
    keyed = {}
    for row in rows:
        keyed.setdefault((row["n"], row["d"], row["P"], row["form"]), {})[row["solver"]] = row
    for (n, d, P, form), by_solver in keyed.items():
        ref = by_solver.get("CLARABEL")
        for name, row in by_solver.items():
            if name == "CLARABEL" or "objective" not in row:
                continue
            met = (row.get("rel_cert_gap") is not None and row["rel_cert_gap"] <= args.tol
                   and row["violation"] <= args.constraint_tol)
            speed = ("-" if ref is None or "objective" not in ref
                     else f"{ref['time'] / row['time']:.1f}x faster than Clarabel")
            print(f"({n},{d},{P}) {form} {name}: {row['time']:.2f} s, certified gap "
                  f"{'<=' if met else 'NOT <='} {args.tol:g} with violation <= "
                  f"{args.constraint_tol:g}: {met}; {speed}")


def _format(row):
    def f(key, fmt):
        value = row.get(key)
        return "-" if value is None else format(value, fmt)

    return (f"({row['n']},{row['d']},{row['P']}) {row['form']:5s} {row['solver']:9s} "
            f"{row['status']:18s} time {f('time', '8.3f')}s obj {f('objective', '.8g')} "
            f"gap-to-best {f('rel_gap_to_best', '.1e')} cert-gap {f('rel_cert_gap', '.1e')} "
            f"viol {f('violation', '.1e')} iters {f('iters', 'd')} "
            f"per-iter/floor {f('per_iter_over_floor', '.1f')} (floor {f('floor_ms', '.3f')} ms) "
            f"peak RSS so far {f('peak_rss_gb', '.2f')} GB")


if __name__ == "__main__":
    main()
