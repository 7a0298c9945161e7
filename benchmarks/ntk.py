"""Time and peak memory of the layer-wise empirical NTK and of the lazy-training sweep.

1. The empirical NTK ``H = J J^T`` of a depth-``--depth``, width-``--width`` network ('ntk'
   parameterization) on ``--n`` unit-norm samples, computed layer by layer
   (:func:`convexnn.overparam.empirical_ntk` with ``method='layerwise'``), next to the memory the
   explicit Jacobian would need.
2. The lazy-training sweep (:func:`convexnn.overparam.lazy_training`) over ``--widths``: relative
   weight and kernel change after ``--steps`` steps of gradient descent, with their log-log slopes.

Peak memory is the largest amount traced by ``tracemalloc`` (numpy reports its arrays to it) during
each part, and the process's maximum resident set size at the end. Run
``python benchmarks/ntk.py --help`` for the options; the script prints the command that produced
its figures.
"""

import argparse
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np

from convexnn.overparam import DeepReLUNetwork, empirical_ntk, lazy_training, sphere_data


def _measure(func):
    tracemalloc.start()
    start = time.perf_counter()
    out = func()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, elapsed, peak / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="samples for the NTK")
    parser.add_argument("--d", type=int, default=10, help="features")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--width", type=int, default=2048, help="width for the NTK")
    parser.add_argument("--widths", default="64,128,256,512,1024,2048,4096", help="lazy-training widths")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--sweep-n", type=int, default=20, help="samples for the lazy-training sweep")
    parser.add_argument("--steps", type=int, default=100, help="gradient descent steps per run")
    parser.add_argument("--csv", help="also write the sweep table to this CSV file")
    args = parser.parse_args(argv)
    shown = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"$ python benchmarks/ntk.py {shown}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}\n")

    X, _ = sphere_data(args.n, args.d, random_state=0)
    net, t_init, m_init = _measure(
        lambda: DeepReLUNetwork.random(args.d, args.width, args.depth, random_state=0)
    )
    H, t_ntk, m_ntk = _measure(lambda: empirical_ntk(net, X, method="layerwise"))
    jac_gib = 8 * args.n * net.n_parameters() / 2**30
    print(f"1. empirical NTK, n={args.n}, depth={args.depth}, width={args.width} "
          f"({net.n_parameters():,} parameters)")
    print(f"   network init:       {t_init:8.2f} s, peak traced {m_init:8.1f} MiB")
    print(f"   layer-wise NTK:     {t_ntk:8.2f} s, peak traced {m_ntk:8.1f} MiB "
          f"(explicit Jacobian would take {jac_gib:.1f} GiB)")
    vals = np.linalg.eigvalsh(H)
    print(f"   lambda_min = {vals[0]:.4g}, lambda_max = {vals[-1]:.4g}\n")
    del net, H

    widths = [int(w) for w in args.widths.split(",")]
    table, t_sweep, m_sweep = _measure(
        lambda: lazy_training(widths=widths, seeds=args.seeds, n_samples=args.sweep_n,
                              n_features=args.d, depth=args.depth, n_steps=args.steps)
    )
    print(f"2. lazy-training sweep, widths {widths}, {args.seeds} seed(s), n={args.sweep_n}, "
          f"depth={args.depth}, {args.steps} GD steps, learning rate n / lambda_max(H_0)")
    print(f"   total:              {t_sweep:8.2f} s, peak traced {m_sweep:8.1f} MiB")
    keys, weight = table.group("width", "weight_change")
    _, kernel = table.group("width", "kernel_change")
    _, loss = table.group("width", "loss_final")
    print("   width  weight change  kernel change  final loss")
    for w, a, b, c in zip(keys, weight, kernel, loss):
        print(f"   {int(w):5d}  {a:13.3e}  {b:13.3e}  {c:10.2e}")
    print(f"   log-log slope: weight change {table.meta['weight_slope']:.3f}, "
          f"kernel change {table.meta['kernel_slope']:.3f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmaximum resident set size of the process: {rss:.0f} MiB")
    if args.csv:
        table.to_csv(args.csv)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
