"""Sweep throughput: speed-up of ``--jobs 2`` over ``--jobs 1`` on a shipped WG sweep, and Dask's
overhead per run.

Usage: ``python benchmarks/sweep.py [--scenario FILE] [--replications R] [--repeat K] [--no-dask]``.

Runs a shipped sweep (default ``scenarios/wg-federation.yaml``: 16 grid points, the four
federation designs × four DS–DS latencies) with its replications cut to ``R`` (default 2: 32
runs of 0.5–1 s) through :func:`mlssim.runner.sweep.run_sweep`, as ``mlssim sweep`` does, into
fresh folders: a process pool of one worker and of two, alternating ``K`` times (default 3) so
that load from elsewhere hits both, median of each; then a Dask ``LocalCluster`` of two
single-threaded worker processes (when ``dask[distributed]`` is installed). Prints wall times,
the speed-up (issue 23's target ≥ 1.9× on 2 cores) and Dask's extra seconds per run over the
two-worker pool. Checks every result file is byte-identical. The copy with fewer replications is
written to a temporary folder, so the scenario must not name sample files by relative path.
The machine must be otherwise idle for the speed-up to mean anything (every line shows the load).
"""

from __future__ import annotations

import argparse
import operator
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenarios" / "wg-federation.yaml"
TARGET_SPEEDUP = 1.9


def load() -> str:
    return "load " + "/".join(f"{x:.2f}" for x in os.getloadavg())


def reduced(src: Path, replications: int, dest: Path) -> Path:
    """A copy of ``src`` with ``sweep.replications`` set to ``replications``."""
    data = yaml.safe_load(src.read_text())
    data["sweep"]["replications"] = replications
    out = dest / src.name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def round_trip(client: Any, path: Path, tasks: int = 200) -> float:
    """Dask's own cost per task, load-robust (no run in it): seconds per no-op task that carries
    one run's scenario there and a result back, submitted and gathered as the sweep does."""
    from concurrent.futures import as_completed

    from mlssim.runner.sweep import expand

    _, specs = expand(path)
    ex = client.get_executor()
    start = time.perf_counter()
    # a stdlib function, so that workers unpickle it whatever imported this module
    futures = [ex.submit(operator.truth, specs[i % len(specs)].scenario) for i in range(tasks)]
    for f in as_completed(futures):
        f.result()
    return (time.perf_counter() - start) / tasks


def makespan(times: list[float], workers: int = 2) -> float:
    """When the last of ``times`` ends, handed in this order to whichever worker is free first."""
    free = [0.0] * workers
    for t in times:
        free[free.index(min(free))] += t
    return max(free)


def run_times(path: Path, out: Path) -> tuple[list[float], list[float]]:
    """Each run's wall time (its manifest), in grid order and in the order the sweep submits."""
    import json

    from mlssim.runner.sweep import estimated_cost, expand, run_key

    _, specs = expand(path)
    wall = {
        id(s): json.loads(
            (out / s.scenario.name / run_key(s.scenario, path.parent) / "manifest.json").read_text()
        )["wall_time_s"]
        for s in specs
    }
    ordered = sorted(specs, key=lambda s: -estimated_cost(s.scenario))
    return [wall[id(s)] for s in specs], [wall[id(s)] for s in ordered]


def cpu_s(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def timed(
    path: Path, out: Path, executor: Executor, cpu: list[float] | None = None
) -> tuple[float, int, bytes]:
    """Wall seconds of one sweep into ``out`` (executor start-up included), its runs, results.csv;
    appends to ``cpu`` the CPU seconds of this process and its reaped children (a process pool's
    workers, once it is shut down) during the sweep."""
    from mlssim.runner.sweep import run_sweep

    c0 = cpu_s(resource.RUSAGE_SELF) + cpu_s(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with executor:
        results, specs, counts = run_sweep(path, out, executor)
    wall = time.perf_counter() - start
    if cpu is not None:
        cpu.append(cpu_s(resource.RUSAGE_SELF) + cpu_s(resource.RUSAGE_CHILDREN) - c0)
    assert counts["failed"] == 0 and counts["complete"] == len(specs), counts
    return wall, len(specs), results.read_bytes()


@dataclass
class Result:
    """One measurement: wall times per executor, the runs per sweep, and the lines to print."""

    runs: int = 0
    one: list[float] = field(default_factory=list)
    two: list[float] = field(default_factory=list)
    cpu: dict[int, list[float]] = field(default_factory=lambda: {1: [], 2: []})
    dask: float | None = None
    dask_start: float | None = None
    dask_task: float | None = None  # seconds per task of a no-op carrying a run's scenario
    grid_order: list[float] = field(default_factory=list)  # per-run seconds, grid order
    submitted: list[float] = field(default_factory=list)  # the same, in submission order
    lines: list[str] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        return statistics.median(self.one) / statistics.median(self.two)

    @property
    def dask_overhead(self) -> float | None:
        if self.dask is None:
            return None
        return (self.dask - statistics.median(self.two)) / self.runs


def measure(
    scenario: Path = DEFAULT,
    replications: int = 2,
    repeat: int = 3,
    dask: bool = True,
    note: Callable[[str], None] = lambda _: None,
) -> Result:
    """Time the sweep on 1 and 2 pool workers (alternating) and on a local Dask cluster."""
    res = Result()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = reduced(scenario, replications, root)
        ref: bytes | None = None
        for k in range(repeat):
            for jobs, into in ((1, res.one), (2, res.two)):
                note(f"sweep {scenario.name} --jobs {jobs}, repeat {k + 1}/{repeat} ({load()})")
                pool = ProcessPoolExecutor(max_workers=jobs)
                wall, res.runs, csv = timed(path, root / f"j{jobs}-{k}", pool, res.cpu[jobs])
                assert ref is None or csv == ref, "results.csv differs between executors"
                ref = csv
                into.append(wall)
                if jobs == 1 and k == 0:
                    res.grid_order, res.submitted = run_times(path, root / "j1-0")
        if dask:
            try:
                from dask.distributed import Client, LocalCluster
            except ImportError:
                res.lines.append("  dask              not installed (pip install -e '.[dask]')")
                dask = False
        if dask:
            note(f"sweep {scenario.name} on a Dask LocalCluster of 2 ({load()})")
            start = time.perf_counter()
            with (
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc,
                Client(lc) as c,
            ):
                res.dask_start = time.perf_counter() - start
                res.dask, _, csv = timed(path, root / "dask", c.get_executor())
                res.dask_task = round_trip(c, path)
            assert csv == ref, "results.csv differs between the pool and Dask"
    one, two = statistics.median(res.one), statistics.median(res.two)
    walls = {j: ", ".join(f"{x:.2f}" for x in xs) for j, xs in ((1, res.one), (2, res.two))}
    each = ", ".join(f"{a / b:.2f}" for a, b in zip(res.one, res.two, strict=True))
    res.lines[:0] = [
        f"sweep {scenario.name}, replications cut to {replications}: {res.runs} runs; results.csv "
        f"byte-identical across executors; medians of {repeat} ({load()} at the end)",
        f"  --jobs 1          {one:8.2f} s   {one / res.runs:6.3f} s/run   ({walls[1]})",
        f"  --jobs 2          {two:8.2f} s   {two / res.runs:6.3f} s/run   ({walls[2]})",
        f"  speed-up          {res.speedup:8.2f} ×   (each repeat: {each}; target ≥ {TARGET_SPEEDUP}×)",
    ]
    total = sum(res.grid_order)
    res.lines += [
        f"  per run           {min(res.grid_order):.2f}–{max(res.grid_order):.2f} s (manifests of --jobs 1), "
        f"Σ {total:.2f} s; --jobs 1 wall − Σ runs = {res.one[0] - total:.2f} s (start-up, expansion, "
        "result collection, run folders)",
        f"  CPU seconds       {statistics.median(res.cpu[1]):8.2f} s   --jobs 1, "
        f"{statistics.median(res.cpu[2]):.2f} s --jobs 2 (this process and the pool's workers: "
        "what two workers do beyond one's work shows here, waiting for a core does not)",
        f"  schedule bound    {total / makespan(res.grid_order):8.2f} ×   in grid order, "
        f"{total / makespan(res.submitted):.2f}× longest first (as submitted): Σ runs / the 2-worker "
        "makespan of these run times, i.e. the speed-up on 2 idle cores without any overhead",
    ]
    if res.dask is not None and res.dask_overhead is not None:
        res.lines += [
            f"  dask local (2)    {res.dask:8.2f} s   {res.dask / res.runs:6.3f} s/run   "
            f"(+ {res.dask_start or 0:.2f} s cluster start)",
            f"  dask overhead     {res.dask_overhead:8.3f} s per run over --jobs 2 (wall difference: noisy)",
            f"  dask round trip   {1e3 * (res.dask_task or 0):8.2f} ms per task (no-op tasks carrying a "
            "run's scenario, 2 workers: Dask's own cost, which load hardly moves)",
        ]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=DEFAULT, help="a sweep file (default wg-federation)")
    ap.add_argument("--replications", type=int, default=2, help="replications per grid point (default 2)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating repeats of --jobs 1 / 2 (default 3)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    args = ap.parse_args()
    res = measure(args.scenario, args.replications, args.repeat, not args.no_dask, note=print)
    print("\n".join(res.lines))


if __name__ == "__main__":
    main()
