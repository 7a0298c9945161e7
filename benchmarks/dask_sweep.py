"""Serial against a local dask cluster: a lab sweep, and the gated FISTA solve on a dask.array.

1. A lab sweep (:func:`convexnn.overparam.experiments.lazy_training`, widths x seeds) run serially
   and then under ``joblib.parallel_backend('dask')`` on a ``dask.distributed.LocalCluster`` of
   ``--workers`` processes with one thread each: whether the two tables are identical, both times
   and their ratio.
2. The gated program (``n_samples`` x ``n_features`` Gaussian data, targets from a ReLU of a random
   direction plus noise, ``P`` sampled patterns with an intercept, ``lam``) solved by FISTA to a
   certified relative gap ``tol`` from numpy data and from the same data as a ``dask.array``
   chunked by rows (one chunk per worker by default) on the same cluster: time, iterations,
   objective, certified gap, and the relative differences of the objectives and coefficients.

    python benchmarks/dask_sweep.py
    python benchmarks/dask_sweep.py --workers 2 --n-samples 200000 --tol 1e-10

Set ``OMP_NUM_THREADS=1`` (and the OpenBLAS/MKL equivalents) so that numpy's serial runs and the
workers use one core each, as the cluster's workers are given one thread each.
"""

import argparse
import sys
import time
import warnings

import numpy as np

from convexnn import GatedReLUProblem, sample_patterns
from convexnn.overparam.experiments import lazy_training
from convexnn.solvers import FISTA


def _timed(run):
    start = time.perf_counter()
    value = run()
    return value, time.perf_counter() - start


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300))


def sweep(args):
    kwargs = dict(widths=args.widths, seeds=args.seeds, n_samples=20, depth=3,
                  n_steps=args.n_steps)
    import joblib

    serial, t_serial = _timed(lambda: lazy_training(**kwargs))
    with joblib.parallel_backend("dask"):
        # the first run on fresh workers includes their imports of convexnn; the second does not
        cold, t_cold = _timed(lambda: lazy_training(**kwargs))
        spread, t_dask = _timed(lambda: lazy_training(**kwargs))
    same = all(list(t) == list(serial) and t.meta == serial.meta for t in (cold, spread))
    print(f"\nlab sweep: lazy_training widths={list(args.widths)} seeds={args.seeds} depth=3 "
          f"n_steps={args.n_steps} ({len(serial)} runs)")
    print(f"  serial {t_serial:8.2f} s | dask, {args.workers} workers: first {t_cold:8.2f} s, "
          f"again {t_dask:8.2f} s | ratio serial/dask (again) {t_serial / t_dask:5.2f} | "
          f"identical tables: {same}")


def gated(args):
    import dask.array as da

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n_samples, args.n_features))
    y = np.maximum(X @ rng.standard_normal(args.n_features), 0.0)
    y += 0.1 * rng.standard_normal(args.n_samples)
    chunk = -(-args.n_samples // (args.chunks or args.workers))
    Xd = da.from_array(X, chunks=(chunk, -1))
    solver = FISTA(tol=args.tol, max_iter=args.max_iter)
    rows = []
    for name, data in (("numpy", X), ("dask.array", Xd)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            patterns = sample_patterns(data, args.n_patterns, fit_intercept=True, random_state=0)
            problem = GatedReLUProblem(data, y, patterns, lam=args.lam)
            result, seconds = _timed(lambda: solver.solve(problem))
        rows.append((name, result, seconds))
    print(f"\ngated FISTA: (n, d, P) = ({args.n_samples}, {args.n_features}, {args.n_patterns}), "
          f"lam={args.lam:g}, tol={args.tol:g}, dask chunks of {chunk} rows")
    for name, result, seconds in rows:
        print(f"  {name:10s} {seconds:8.2f} s  {result.n_iter:5d} iterations "
              f"({1e3 * seconds / max(result.n_iter, 1):6.1f} ms each)  status {result.status}  "
              f"objective {result.objective:.12g}  rel. gap {result.gap / abs(result.objective):.1e}")
    (_, ref, t_ref), (_, got, t_got) = rows
    print(f"  dask/numpy time {t_got / t_ref:5.2f} | objective rel. diff "
          f"{abs(got.objective - ref.objective) / abs(ref.objective):.1e} | coef rel. diff "
          f"{_rel(got.coef, ref.coef):.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--widths", type=lambda s: tuple(int(w) for w in s.split(",")),
                        default=(64, 256, 512))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--n-steps", type=int, default=200)
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--n-features", type=int, default=5)
    parser.add_argument("--n-patterns", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=None,
                        help="row chunks of the dask array (default: one per worker)")
    parser.add_argument("--lam", type=float, default=0.1)
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--max-iter", type=int, default=2000)
    args = parser.parse_args(argv)
    print("command: PYTHONPATH=. python benchmarks/dask_sweep.py "
          + " ".join(sys.argv[1:] if argv is None else argv))

    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        sweep(args)
        gated(args)


if __name__ == "__main__":
    main()
