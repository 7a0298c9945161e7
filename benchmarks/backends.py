"""FISTA on the gated program in float32 on each array backend: numpy, torch CPU, torch CUDA.

Teacher-network data (``convexnn.datasets.make_teacher``), ``P`` sampled patterns, ``lam =
lam_frac * lam_max``; FISTA with ``dtype='float32'`` to a certified relative gap ``tol`` (1e-4 by
default; the solver confirms the gap in float64 on the host before it stops). For each backend it
prints the solve time, iterations, forward products (iterations + backtracks), time per iteration,
the *floor* (the median time of the two products one iteration cannot avoid, ``W @ U`` of shape
(n, P) x (P, d) and ``W^T @ R`` of shape (P, n) x (n, d), in that backend and dtype) and their ratio,
the objective and the certified gap. The operator's set-up (conversion to float32, copy to the
device) is timed apart.

    python benchmarks/backends.py                      # (100000, 50, 500), numpy vs torch
    python benchmarks/backends.py --large              # also (1000000, 50, 1000)
    python benchmarks/backends.py --sizes 20000,50,200 --threads 1

Memory: (100000, 50, 500) peaked at 1.8 GB. ``--large`` needs roughly 30 GB of host memory (the
problem's float64 weights, 8 GB; each backend's float32 copy, 4 GB; the float64 temporaries of the
host confirmation of the gap, 2 x 8 GB): run it on a machine that has it.

Torch CUDA runs when ``torch.cuda.is_available()``; torch is optional (its rows are skipped without
it). Threads: ``--threads`` limits numpy's BLAS (threadpoolctl) and torch (``set_num_threads``).
"""

import argparse
import os
import sys
import time

import numpy as np

from convexnn import GatedReLUProblem, sample_patterns
from convexnn._array_api import get_namespace
from convexnn.datasets import make_teacher
from convexnn.solvers import FISTA, lam_max


def _sync(device):
    if device is not None and getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize()


def _floor(operator, repeats):
    """Median seconds of ``W @ U`` plus ``W^T @ R`` with the operator's arrays."""
    n, blocks = operator.W.shape
    d = operator.A.shape[1]
    coef = operator.zeros((blocks, d)) + 0.01
    residual = operator.zeros((n, d)) + 0.01
    times = []
    for _ in range(repeats + 1):
        _sync(operator.device)
        start = time.perf_counter()
        operator.W @ coef
        operator.W.T @ residual
        _sync(operator.device)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))  # the first call warms up


def _backends(threads):
    """(name, xp, device) of each backend available here."""
    found = [("numpy", None, None)]
    try:
        import torch
    except ImportError:
        return found
    if threads is not None:
        torch.set_num_threads(threads)
    xp, _ = get_namespace(torch.zeros(1))
    found.append(("torch cpu", xp, torch.device("cpu")))
    if torch.cuda.is_available():
        found.append(("torch cuda", xp, torch.device("cuda")))
    return found


def run(size, args):
    n, d, P = size
    X, y = make_teacher(n, d, n_neurons=10, random_state=0)
    patterns = sample_patterns(X, P, random_state=0)
    problem = GatedReLUProblem(X, y, patterns, lam=1.0)
    problem = problem.with_lam(args.lam_frac * lam_max(problem))
    print(f"\n(n, d, P) = ({n}, {d}, {problem.n_blocks}), lam = {problem.lam:.3e}, float32, "
          f"tol {args.tol:g}")
    header = (f"{'backend':12s} {'setup s':>8s} {'solve s':>9s} {'iters':>6s} {'fwd':>6s} "
              f"{'ms/iter':>8s} {'floor ms':>9s} {'ratio':>6s} {'objective':>12s} {'rel gap':>9s} "
              f"status")
    print(header)
    print("-" * len(header))
    for name, xp, device in _backends(args.threads):
        moved = problem if xp is None else problem.with_namespace(xp, device)
        start = time.perf_counter()
        operator = moved.block_operator("float32")
        _sync(device)
        setup = time.perf_counter() - start
        floor = _floor(operator, args.repeats)
        counted = _count_products(operator)
        solver = FISTA(dtype="float32", tol=args.tol, max_iter=args.max_iter)
        _sync(device)
        start = time.perf_counter()
        result = solver.solve(moved)
        _sync(device)
        elapsed = time.perf_counter() - start
        per_iter = elapsed / max(result.n_iter, 1)
        print(f"{name:12s} {setup:8.2f} {elapsed:9.2f} {result.n_iter:6d} {counted['predict']:6d} "
              f"{1e3 * per_iter:8.1f} {1e3 * floor:9.1f} {per_iter / floor:6.2f} "
              f"{result.objective:12.6e} {result.gap / abs(result.objective):9.2e} {result.status}",
              flush=True)


def _count_products(operator):
    """Count the operator's forward products (``predict``: iterations, backtracks, the start) by
    wrapping the method on this instance; returns the live counter."""
    counted = {"predict": 0}
    predict = operator.predict

    def counting(coef):
        counted["predict"] += 1
        return predict(coef)

    operator.predict = counting
    return counted


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100000,50,500"],
                        help="n,d,P triples (default: 100000,50,500)")
    parser.add_argument("--large", action="store_true", help="also run (1000000, 50, 1000)")
    parser.add_argument("--lam-frac", type=float, default=0.01, help="lam = lam_frac * lam_max")
    parser.add_argument("--tol", type=float, default=1e-4, help="certified relative gap")
    parser.add_argument("--max-iter", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=None,
                        help="numpy BLAS and torch threads (default: the libraries' defaults)")
    parser.add_argument("--repeats", type=int, default=5, help="timings of the floor's products")
    args = parser.parse_args(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    print("command: PYTHONPATH=. python benchmarks/backends.py "
          + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"cores: {os.cpu_count()}, threads: {args.threads or 'library default'}, "
          f"load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    sizes = [tuple(int(v) for v in s.split(",")) for s in args.sizes]
    if args.large:
        sizes.append((1000000, 50, 1000))
    for size in sizes:
        run(size, args)
    print(f"load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
