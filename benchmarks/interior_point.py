"""The interior-point solver on teacher data: time, iterations, working-set rounds, peak memory.

Data: X ~ N(0, 1) (n, d), y = relu(X w1) - relu(X w2) + 0.1 noise, patterns from
``sample_patterns(X, P, fit_intercept=True, random_state=0)``, ``lam = lam_frac * lam_max``,
squared loss (ReLU program). One size per process so that the peak RSS is that size's:

    OMP_NUM_THREADS=1 python benchmarks/interior_point.py 1000 20 100 --clarabel
    python benchmarks/interior_point.py 2000 50 300 --working-set auto
    python benchmarks/interior_point.py 10000 50 1000 --tol 1e-3

Prints one line: n, d, P, time, iterations, rounds, relative gap (certified on the full program),
violation, active blocks, working-set size, peak RSS (MB), and Clarabel's time and objective when
asked.
"""

import argparse
import resource
import time
import warnings

import numpy as np

from convexnn import GatedReLUProblem, ReLUProblem, sample_patterns
from convexnn.solvers import InteriorPoint, get_solver, lam_max, oracle_bound


def make_problem(n, d, P, *, lam_frac=0.01, loss="squared", gated=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w1, w2 = rng.standard_normal(d), rng.standard_normal(d)
    y = np.maximum(X @ w1, 0) - np.maximum(X @ w2, 0) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    patterns = sample_patterns(X, P, fit_intercept=True, random_state=0)
    cls = GatedReLUProblem if gated else ReLUProblem
    top = lam_max(cls(X, y, patterns, lam=1.0, loss=loss))
    return cls(X, y, patterns, lam=lam_frac * top, loss=loss)


def parse_ws(text):
    return {"auto": "auto", "on": True, "true": True, "off": False, "false": False}[text.lower()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("d", type=int)
    parser.add_argument("P", type=int)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--lam-frac", type=float, default=0.01)
    parser.add_argument("--loss", default="squared")
    parser.add_argument("--working-set", default="auto")
    parser.add_argument("--clarabel", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.verbose:
        import logging
        logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f %(message)s")

    problem = make_problem(args.n, args.d, args.P, lam_frac=args.lam_frac, loss=args.loss)
    solver = InteriorPoint(tol=args.tol, constraint_tol=1e-6, working_set=parse_ws(args.working_set),
                           verbose=args.verbose)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = solver.solve(problem)
    elapsed = time.perf_counter() - start
    rounds = result.history[-1].get("round", 0) if result.history else 0
    ws = result.history[-1].get("working_set", problem.patterns.n_patterns)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rel = result.gap / abs(result.objective)
    line = (f"n={args.n} d={args.d} P={args.P} status={result.status} time={elapsed:.2f}s "
            f"iters={result.n_iter} rounds={rounds} rel_gap={rel:.2e} viol={result.constraint_violation:.1e} "
            f"active={result.n_active} working_set={ws} peak_rss={peak:.0f}MB obj={result.objective:.10e}")
    print(line, flush=True)
    if args.clarabel:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            ref = get_solver("CLARABEL").solve(problem)
            t_ref = time.perf_counter() - start
        bound = oracle_bound(problem, ref.coef)
        print(f"clarabel time={t_ref:.2f}s obj={ref.objective:.10e} "
              f"rel_gap={(ref.objective - bound) / abs(ref.objective):.2e} "
              f"speedup={t_ref / elapsed:.1f}x obj_diff={(result.objective - ref.objective) / abs(ref.objective):.1e}",
              flush=True)


if __name__ == "__main__":
    main()
