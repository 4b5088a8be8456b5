"""Sweep throughput: speed-up of ``--jobs 2`` over ``--jobs 1``, and Dask's overhead per run.

Runs the same small sweep (8 runs of a model-suite scenario, a few seconds each) three times into
fresh folders: a process pool with one worker, with two, and a Dask ``LocalCluster`` with two
single-threaded worker processes (when the ``dask`` extra is installed). Prints wall times, the
speed-up (target ≥ 1.8× on 2 cores) and Dask's extra seconds per run over the two-worker pool.
The machine must be otherwise idle for the speed-up to mean anything.

    python benchmarks/sweep.py [--runs N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

SCENARIO = """\
name: bench-sweep
seed: 1
duration: 300
drain: 20
crypto: {{family: model}}
providers: [{{name: a}}, {{name: b}}, {{name: c}}]
groups: [{{size: 100, workload: {{app_rate: 0.02, update_rate: 0.005, add_rate: 0.02}}}}]
sweep:
  grid:
    network.ds_ds.latency.value: [0.02, 0.1]
  replications: {reps}
"""


def timed(path: Path, out: Path, executor: Executor) -> float:
    from mlssim.runner.sweep import run_sweep

    start = time.perf_counter()
    with executor:
        _, specs, counts = run_sweep(path, out, executor)
    assert counts["failed"] == 0 and counts["complete"] == len(specs), counts
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8, help="runs in the sweep (even)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scen = root / "bench.yaml"
        scen.write_text(SCENARIO.format(reps=max(1, args.runs // 2)))
        runs = 2 * max(1, args.runs // 2)
        one = timed(scen, root / "j1", ProcessPoolExecutor(max_workers=1))
        two = timed(scen, root / "j2", ProcessPoolExecutor(max_workers=2))
        print(f"sweep of {runs} runs (model suite, 100 members, 320 simulated s each)")
        print(f"  --jobs 1          {one:8.2f} s   {one / runs:6.2f} s/run")
        print(f"  --jobs 2          {two:8.2f} s   {two / runs:6.2f} s/run")
        print(f"  speed-up          {one / two:8.2f} ×   (target ≥ 1.8×)")
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            print("  dask              not installed (pip install -e '.[dask]')")
            return
        start = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as c:
            up = time.perf_counter() - start
            dask = timed(scen, root / "dask", c.get_executor())
        print(f"  dask local (2)    {dask:8.2f} s   {dask / runs:6.2f} s/run   (+ {up:.2f} s cluster start)")
        print(f"  dask overhead     {(dask - two) / runs:8.3f} s per run over --jobs 2")


if __name__ == "__main__":
    main()
