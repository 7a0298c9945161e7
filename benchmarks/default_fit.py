"""A default ``ConvexReLURegressor()`` as a user meets it, at growing n, against ``MLPRegressor()``.

Data: ``make_teacher(n, d)`` (a random two-layer ReLU teacher, unit-variance target). Both
estimators run with their default parameters (``random_state=0``), each fit in a fresh process so
that the peak memory printed is that fit's. Prints per n: fit time, solver status, whether a
ConvergenceWarning was raised, the restricted (certified) gap, the solver's iterations, peak
resident memory, MLP's fit time, and the seconds of each step of the convex fit (``timings_``).
Issue 16's targets: 'optimal' without a warning for
n <= 10,000, and n = 50,000, d = 20 in under 60 s.

    python benchmarks/default_fit.py --sizes 10000 50000 --features 20
"""

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import json, resource, sys, time, warnings
from convexnn import ConvexReLURegressor
from convexnn.datasets import make_teacher
from convexnn.results import ConvergenceWarning
n, d, which = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
X, y = make_teacher(n, d, n_neurons=5, noise=0.1, random_state=0)
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    start = time.perf_counter()
    if which == "convex":
        model = ConvexReLURegressor(random_state=0).fit(X, y)
        out.update(status=model.solver_status_, gap=model.restricted_gap_, n_iter=model.n_iter_,
                   timings=model.timings_)
    else:
        from sklearn.neural_network import MLPRegressor
        model = MLPRegressor(random_state=0).fit(X, y)
    out["time"] = time.perf_counter() - start
out["warned"] = any(issubclass(w.category, ConvergenceWarning) for w in caught)
out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def fit(n, d, which):
    done = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(d), which],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--target", type=float, default=60.0,
                        help="seconds a default fit at n = 50,000 should stay under")
    args = parser.parse_args(argv)
    print("command: python benchmarks/default_fit.py " + " ".join(sys.argv[1:]))
    print(f"{'n':>8} {'d':>4} {'convex (s)':>11} {'status':>9} {'warning':>8} {'gap':>9} "
          f"{'iters':>6} {'peak GB':>8} {'MLP (s)':>8} {'ratio':>7}")
    for n in args.sizes:
        convex = fit(n, args.features, "convex")
        mlp = fit(n, args.features, "mlp")
        gap = convex["gap"]
        print(f"{n:>8} {args.features:>4} {convex['time']:>11.1f} {convex['status']:>9} "
              f"{str(convex['warned']):>8} {gap if gap is None else format(gap, '.1e'):>9} "
              f"{convex['n_iter']:>6} {convex['peak_gb']:>8.2f} {mlp['time']:>8.1f} "
              f"{convex['time'] / mlp['time']:>6.1f}x", flush=True)
        print("         steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in convex["timings"].items()))
        if n >= 50000:
            met = convex["time"] <= args.target and convex["status"] == "optimal"
            print(f"         n = {n}: {convex['time']:.1f} s (target <= {args.target:g} s, "
                  f"status 'optimal'): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
