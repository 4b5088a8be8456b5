"""Every performance number of issues 10 and 23 in one run, side by side with its target.

Usage: ``python benchmarks/run_all.py [--quick] [--only SECTIONS] [--budget MIN] [--profile F]``.
``--quick`` is a smoke test (small N, about a minute); the full run takes about 13 minutes on an
idle 2-core machine (the big groups' commits are time-boxed by ``--budget``). Progress goes to
stderr, results to stdout; every section prints its table as soon as it is done, and a section
that fails prints one ``ERROR`` line and the run goes on. Sections (``--only`` takes a
comma-separated subset):

* ``floor`` — processing an empty (path-only) commit by one receiver ÷ the RFC 9420
  cryptography that receiver must do (its "floor"), for real suites 1 and 2 and the model twin
  of suite 1, N = 1,000 and 10,000, on a full tree and right after an add-all
  (``benchmarks/group_ops.py``'s ``bench_n``, which says exactly what is timed).
* ``mlsrs`` — the same operations in mls-rs (``agentvault-mls-rs-uniffi``, suite 1) at N = 100,
  1,000 and 10,000: create and process a path commit, add N-1 members, join from the Welcome;
  mlssim ÷ mls-rs. Shares the suite-1 runs with ``floor``.
* ``engine`` — simulator events/s with the MLS core's time taken out vs a bare simpy loop of the
  same number of events (``benchmarks/engine.py``), median of repeated runs; then, as a
  diagnostic beside the target, the same bare loop making the engine run's number of
  application-message ``process`` calls per event (Python runs slower right after each MLS call,
  in both), once.
* ``sweep`` — ``--jobs 2`` over ``--jobs 1`` on ``scenarios/wg-federation.yaml`` with its
  replications cut to 2 (32 runs; ``--quick``: 1), alternating, median of 3
  (``benchmarks/sweep.py``, which says what is timed); the schedule bound (Σ runs ÷ the
  2-worker makespan of the same run times: the speed-up 2 idle cores could give); Dask's
  overhead per run over the pool (a ``LocalCluster`` of 2).
* ``scaling`` — the big-group scenario below at N = 1k, 2k, 5k, 10k (model suite, a few
  commits): exponents of time and memory in N, and the projection to N = 50,000.
* ``big-model-all`` — 50,000 members, model suite 1: KeyPackages, an add-all commit, every
  member joins, then 100 path commits each processed by every other member; wall time and peak
  RSS. ``big-model``: the same group with 2,000 sampled members instantiated (the others are in
  the tree only), so that all 100 commits run and each fan-out is projected to N-1 members.
* ``big-real`` — every member of a 10,000-member group, real suite 1 and 10 commits.
* ``profile`` (only when asked for, or with ``--profile model|real``) — cProfile of one commit
  fanned out to every member of a 10,000-member group.

The big groups run in a child process each. Its peak RSS is the child's own ``VmHWM`` (Linux
``/proc/self/status``, the high-water mark of the child's address space since its ``exec``), so
one scenario's memory never shows up in another's. Not ``ru_maxrss`` of ``RUSAGE_CHILDREN`` or
``os.wait4``: Linux carries the forking parent's RSS into the child's ``ru_maxrss`` across
``exec``, so after the 10,000-member floor runs every child would report at least the parent's
~330 MiB. Members are held as the simulator holds them:
one ``GroupConfig(epoch_cache=EpochCache())`` for all (the first member to process a commit
computes its public outcome, its membership-tag and signature verdict, key schedule and path
opens; the others look up what their own inputs match), the ratchet tree passed out of band as one
shared object, and each commit handed to every member as the same decoded ``MLSMessage`` (the
simulator's delivery). Committers are drawn by a seeded RNG at the same relative tree positions
for every N, and every member processes each commit in one fixed shuffled order.

Joins: the joiners of one Welcome share the decoded GroupInfo and the validated tree through the
same EpochCache (``group_join.verified_join_tree``), so the first joiner validates the tree for
all (every leaf signature, parent hashes: O(N); timed alone as "first join") and each of the
others opens its own GroupSecrets and checks the confirmation tag. Every number is of the mlssim
checkout the run imports; its commit is printed with the results (a child prints its own).

A big run stops at its time box (``--budget`` minutes from the end of its creation, checked
between members while a commit fans out). Commits not run are then projected — from the sampled
run's times for the same commits when it ran first, else from the mean of the commits run after
the first (the first commit after an add-all is the most expensive: parent nodes are blank, so
resolutions are large) — and the report says so. The machine is shared: every result line shows
``os.getloadavg()`` when it was taken, times are medians of repeats where repeats are
affordable, and the floor's per-part minimum ratio is shown beside the median one.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import functools
import gc
import hashlib
import io
import json
import math
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine as eng
import group_ops as go
import sweep as sweep_bench

from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import EpochCache, GroupConfig
from mlssim.mls.rand import SeededRandom

SECTIONS = ("floor", "mlsrs", "engine", "sweep", "scaling", "big-model", "big-model-all", "big-real")

#: (family, suite id) of the floor section, labelled as in the tables
FLOOR_SUITES = (("real", 1), ("real", 2), ("model", 1))
TARGET_FLOOR = 1.5  # process <= 1.5 x floor
TARGET_ENGINE = 2.0  # bare simpy events/s <= 2 x engine events/s
TARGET_SWEEP = sweep_bench.TARGET_SPEEDUP  # --jobs 2 over --jobs 1 >= 1.9x on 2 cores (issue 23)
TARGET_RS = {"create": 1.0, "process": 1.0, "add": 1.0, "join": 3.0}
GIB = 2**30


Plan = tuple[int, int, int | None, float, int]


class Mode:
    """Sizes of one run mode."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        if quick:
            self.floor_sizes: tuple[int, ...] = (100, 300)
            self.rs_sizes: tuple[int, ...] = (30, 100, 300)
            self.engine = (3, 50, 120.0, 3)  # groups, members, simulated s, repeats
            self.interleaved = 5_000  # events of the interleaved diagnostic loop
            self.sweep = (1, 1)  # replications of wg-federation's 16 points, alternating repeats
            self.scaling: tuple[int, ...] = (200, 400, 800)
            self.scaling_commits = 3
            # N, commits, members instantiated (None: all), wall target, RSS target
            self.big_model: Plan = (1_000, 5, 250, 10 * 60.0, 8 * GIB)
            self.big_model_all: Plan = (1_000, 5, None, 10 * 60.0, 8 * GIB)
            self.big_real: Plan = (200, 3, None, 10 * 60.0, 16 * GIB)
            self.profile_n = 1_000
        else:
            self.floor_sizes = (1_000, 10_000)
            self.rs_sizes = (100, 1_000, 10_000)
            self.engine = (10, 100, 300.0, 3)
            self.interleaved = 50_000
            self.sweep = (2, 3)
            self.scaling = (1_000, 2_000, 5_000, 10_000)
            self.scaling_commits = 5
            self.big_model = (50_000, 100, 2_000, 10 * 60.0, 8 * GIB)
            self.big_model_all = (50_000, 100, None, 10 * 60.0, 8 * GIB)
            self.big_real = (10_000, 10, None, 10 * 60.0, 16 * GIB)
            self.profile_n = 10_000


# ---- output helpers ----------------------------------------------------------------------------

_T0 = time.perf_counter()


def progress(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}/{fifteen:.2f}"


def fmt_s(s: float | None) -> str:
    if s is None or math.isnan(s):
        return "-"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def fmt_x(v: float | None) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.2f}x"


def verdict(value: float | None, limit: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "met" if value <= limit else "MISSED"


class Targets:
    """Every target line, collected for the summary at the end."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, what: str, value: str, target: str, met: str, note: str = "") -> None:
        self.rows.append([what, value, target, met, note])


def guarded(name: str, fn: Callable[[], object]) -> None:
    """Run one section; on failure print one ERROR line (and the traceback to stderr)."""
    progress(f"section {name}: start ({load()})")
    t0 = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # a failed section must not stop the others
        traceback.print_exc(file=sys.stderr)
        print(f"\nERROR in section {name}: {type(exc).__name__}: {exc}", flush=True)
    progress(f"section {name}: done in {time.perf_counter() - t0:.0f} s ({load()})")
    sys.stdout.flush()


# ---- floor and mls-rs: group_ops.bench_n -------------------------------------------------------


class GroupOps:
    """bench_n rows by (family, suite id, N), each run once and shared by the floor and mls-rs
    tables; a failed run is kept as its error message."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.rows: dict[tuple[str, int, int], go.Row | str] = {}
        self.loads: dict[tuple[str, int, int], str] = {}

    def get(self, family: str, suite_id: int, n: int, with_rs: bool) -> go.Row | str:
        key = (family, suite_id, n)
        if key not in self.rows:
            progress(f"group ops {family} suite {suite_id} N={n:,} ({load()})")
            try:
                r = rounds_for(n, self.mode.quick)
                row = go.bench_n(
                    family,
                    n,
                    rounds=r,
                    with_rs=with_rs and go.rs is not None,
                    mem_budget=0.0,
                    suite_id=suite_id,
                    memory=False,
                )
                row.ints["rounds"] = r
                self.rows[key] = row
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                self.rows[key] = f"{type(exc).__name__}: {exc}"
            self.loads[key] = load()
        return self.rows[key]


def rounds_for(n: int, quick: bool) -> int:
    """More rounds than group_ops.py's defaults: medians need them on a loaded machine."""
    if quick:
        return 5
    return 9 if n <= 1_000 else 5


def floor_med(row: go.Row, tag: str) -> float | None:
    parts = [row.best.median_ms(f"{tag}/{p}") for p in go.FLOOR_PARTS]
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def section_floor(ops: GroupOps, targets: Targets) -> None:
    mode = ops.mode
    body = []
    for n in mode.floor_sizes:
        for family, sid in FLOOR_SUITES:
            row = ops.get(family, sid, n, with_rs=family == "real" and sid == 1 and n in mode.rs_sizes)
            label = f"{family} {sid}"
            if isinstance(row, str):
                body.append([label, f"{n:,}", "ERROR " + row] + [""] * 9)
                continue
            for case, tree in go.CASES:
                b = row.best
                fl = floor_med(row, f"{case}/floor")
                proc, shared = b.median_ms(f"{case}/process"), b.median_ms(f"{case}/shared")
                r_min = ratio(b.ms(f"{case}/process"), go.floor_ms(b, f"{case}/floor"))
                r_med, r_shared = ratio(proc, fl), ratio(shared, fl)
                body.append(
                    [
                        label,
                        f"{n:,}",
                        tree,
                        str(row.ints.get("rounds", "")),
                        str(row.ints.get(f"{case}/k", "")),
                        go.fmt_ms(fl),
                        go.fmt_ms(proc),
                        fmt_x(r_med),
                        fmt_x(r_min),
                        go.fmt_ms(shared),
                        fmt_x(r_shared),
                        verdict(r_med, TARGET_FLOOR),
                        ops.loads[(family, sid, n)],
                    ]
                )
                if case == "full":
                    targets.add(
                        f"process / floor, {label}, N={n:,}, full tree",
                        f"{fmt_x(r_med)} (min {fmt_x(r_min)})",
                        f"<= {TARGET_FLOOR}x",
                        verdict(r_med, TARGET_FLOOR),
                        f"shared outcome {fmt_x(r_shared)}; add-all tree in table 1",
                    )
    print(f"""
1. MLS core vs its crypto floor: an empty path commit by leaf 0 processed by leaf 1 (which derives
   all k path secrets). floor = RFC 9420's primitive operations for that receiver; process =
   Group.process incl. decoding; shared = the same member when the EpochCache already holds the
   commit's public outcome (every member but the first, in the simulator). ms, median of R rounds
   (floor = sum of its parts' medians); ratio min = min process / sum of part minima. Target:
   process <= {TARGET_FLOOR}x floor.""")
    go.table(
        [
            "suite",
            "N",
            "tree",
            "R",
            "k",
            "floor",
            "process",
            "ratio",
            "ratio min",
            "shared",
            "shared x",
            "target",
            "load at end",
        ],
        body,
        left=3,
    )
    parts = []
    for n in mode.floor_sizes:
        for family, sid in FLOOR_SUITES:
            done = ops.rows.get((family, sid, n))
            if isinstance(done, go.Row):
                for case, tree in go.CASES:
                    med = [done.best.median_ms(f"{case}/floor/{p}") for p in go.FLOOR_PARTS]
                    parts.append([f"{family} {sid}", f"{n:,}", tree, *(f"{v or 0:.3f}" for v in med)])
    print("\n1b. The floor by part, ms, median of R rounds (group_ops.py's table 2 says what each part is)")
    go.table(["suite", "N", "tree", *(go.FLOOR_HEAD[p] for p in go.FLOOR_PARTS)], parts, left=3)


RS_OPS = (
    ("create", "path commit, full tree: create", "full/create", "rs/full/create"),
    ("process", "path commit, full tree: process", "full/process", "rs/full/process"),
    ("create", "path commit after add-all: create", "addall/create", "rs/addall/create"),
    ("process", "path commit after add-all: process", "addall/process", "rs/addall/process"),
    ("add", "add N-1 members, no path", "add_nopath", "rs/add"),
    ("join", "join from the Welcome (tree in it)", "join", "rs/join"),
)


def section_mlsrs(ops: GroupOps, targets: Targets) -> None:
    if go.rs is None:
        print("\n2. mls-rs: mls_rs_uniffi is not installed (pip install agentvault-mls-rs-uniffi)")
        return
    body = []
    for n in ops.mode.rs_sizes:
        row = ops.get("real", 1, n, with_rs=True)
        if isinstance(row, str):
            body.append([f"{n:,}", "ERROR " + row, "", "", "", "", "", ""])
            continue
        for kind, label, mine, theirs in RS_OPS:
            a, b = row.best.median_ms(mine), row.best.median_ms(theirs)
            x = ratio(a, b)
            limit = TARGET_RS[kind]
            body.append(
                [
                    f"{n:,}",
                    label,
                    go.fmt_ms(a),
                    go.fmt_ms(b),
                    fmt_x(x),
                    f"<= {limit:g}x",
                    verdict(x, limit),
                    ops.loads[("real", 1, n)],
                ]
            )
            if label.startswith(("path commit, full", "join")):
                targets.add(
                    f"mlssim / mls-rs, {label}, N={n:,}", fmt_x(x), f"<= {limit:g}x", verdict(x, limit)
                )
    print("""
2. The native reference point: mls-rs (agentvault-mls-rs-uniffi, Rust through its Python binding)
   on the same operations, real suite 1, ms, median of R rounds (R as in table 1; the add runs 2
   rounds at N >= 10,000), interleaved with mlssim. mlssim's times include decoding the commit or
   Welcome; mls-rs is handed its Message objects. The add compares mlssim without a path with
   mls-rs's add_members (which sends none).""")
    go.table(["N", "operation", "mlssim", "mls-rs", "ratio", "target", "", "load at end"], body, left=2)


# ---- engine ------------------------------------------------------------------------------------


def section_engine(mode: Mode, targets: Targets) -> None:
    g, n, d, repeats = mode.engine
    scenario = eng.build_scenario(g, n, d, family="model", suite=1, seed=1)
    runs: list[eng.EngineResult] = []
    bare: list[tuple[float, int]] = []
    for k in range(repeats):  # engine and bare loop alternate, so load from elsewhere hits both
        progress(f"engine run {k + 1}/{repeats}: {g} groups x {n} members, {d:g} s ({load()})")
        runs.append(eng.run_engine(scenario))
        r0 = runs[0]
        events = r0.events
        if runs[-1].events != events:
            raise RuntimeError("the engine runs processed different event counts: not deterministic")
        fanout = r0.transmissions / max(events - r0.transmissions, 1)
        bare.append(eng.bare_loop(events, fanout, processes=max(4 * g, 1), links=3 * n * g, seed=1 + k))
    engine_rates = [events / r.engine for r in runs]
    raw_rates = [events / r.wall for r in runs]
    bare_rates = [ev / wall for wall, ev in bare]
    e, raw, b = (statistics.median(x) for x in (engine_rates, raw_rates, bare_rates))
    over = b / e
    print(f"""
3. Engine: {g} groups x {n} members, {d:g} s + {scenario.drain:g} s drain, model suite 1 (engine.py's
   scenario); {events:,} simpy events, {r0.transmissions:,} transmissions. engine = wall minus the time inside
   MLS calls; bare = a simpy loop with the same events and fan-out. Median of {repeats} runs each.
   {load()}""")
    go.table(
        ["", "events/s", "us/event", "runs (events/s)"],
        [
            [
                "engine (wall - MLS)",
                f"{e:,.0f}",
                f"{1e6 / e:.1f}",
                ", ".join(f"{x:,.0f}" for x in engine_rates),
            ],
            [
                "engine incl. MLS",
                f"{raw:,.0f}",
                f"{1e6 / raw:.1f}",
                ", ".join(f"{x:,.0f}" for x in raw_rates),
            ],
            ["bare simpy", f"{b:,.0f}", f"{1e6 / b:.1f}", ", ".join(f"{x:,.0f}" for x in bare_rates)],
        ],
        left=1,
    )
    mls = statistics.median(r.mls / r.wall for r in runs)
    gc_share = statistics.median(r.gc.engine / r.engine for r in runs)
    print(
        f"overhead (bare / engine): {over:.2f}x, target <= {TARGET_ENGINE:g}x -> "
        f"{verdict(over, TARGET_ENGINE)}; MLS calls are {100 * mls:.0f} % of the wall time, "
        f"the garbage collector {100 * gc_share:.0f} % of the engine's"
    )
    targets.add(
        f"engine vs bare simpy ({g}x{n}, {d:g} s)",
        f"{over:.2f}x",
        f"<= {TARGET_ENGINE:g}x",
        verdict(over, TARGET_ENGINE),
        f"{e:,.0f} vs {b:,.0f} events/s",
    )
    # Diagnostic: the same bare loop, but making the engine run's kind and number of MLS calls
    # per event (engine.py's --interleaved): Python code runs slower right after each MLS call,
    # in the engine and in a bare loop alike; this separates that from the engine's own cost.
    n_int = min(mode.interleaved, events)
    args = SimpleNamespace(family="model", suite=1, seed=1)
    i_wall, i_mls, i_events, i_calls = eng.interleaved_loop(
        r0, n_int, fanout, members=n, processes=max(4 * g, 1), links=3 * n * g, args=args
    )
    i_rate = i_events / (i_wall - i_mls)
    print(
        f"diagnostic: the bare loop interleaved with {i_calls:,} application-message process calls "
        f"({i_events:,} events): {i_rate:,.0f} events/s of loop time ({1e6 / i_rate:.1f} us/event); "
        f"engine / that loop, time per event: {i_rate / e:.2f}x"
        + (" (the engine is faster)" if i_rate < e else "")
    )
    targets.add(
        "engine vs the bare loop making the same MLS calls",
        f"{i_rate / e:.2f}x",
        f"(<= {TARGET_ENGINE:g}x)",
        "diag.",
        f"{e:,.0f} vs {i_rate:,.0f} events/s; not the target's measure",
    )


# ---- sweep -------------------------------------------------------------------------------------


def section_sweep(mode: Mode, targets: Targets) -> None:
    """Issue 23 item 3: --jobs 2 over --jobs 1 on a shipped WG sweep, and Dask's cost per run."""
    reps, repeat = mode.sweep
    res = sweep_bench.measure(replications=reps, repeat=repeat, note=progress)
    print(f"\n4. Sweep (benchmarks/sweep.py): {load()}")
    print("\n".join(res.lines))
    sp = res.speedup
    bound = sum(res.grid_order) / sweep_bench.makespan(res.submitted)
    targets.add(
        f"sweep --jobs 2 / --jobs 1 (wg-federation, {res.runs} runs)",
        f"{sp:.2f}x",
        f">= {TARGET_SWEEP:g}x",
        "met" if sp >= TARGET_SWEEP else "MISSED",
        f"median of {repeat}; schedule bound {bound:.2f}x",
    )
    if res.dask_overhead is not None:
        targets.add(
            "Dask (LocalCluster of 2) overhead per run",
            f"{res.dask_overhead:.3f} s",
            "(printed)",
            "-",
            f"over --jobs 2; round trip {1e3 * (res.dask_task or 0):.1f} ms/task; "
            f"+ {res.dask_start or 0:.1f} s cluster start",
        )


# ---- big groups: the child process -------------------------------------------------------------


def code_version() -> str:
    """The checkout's commit, and whether mlssim/ has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "mlssim"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in mlssim/" if dirty else "")


def _status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (Linux); 0 elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib() -> int:
    """This process's peak RSS since its exec (VmHWM; see the module docstring)."""
    return _status_kib("VmHWM")


def current_rss_kib() -> int:
    return _status_kib("VmRSS")


def big_group(spec: dict[str, Any]) -> dict[str, Any]:
    """One big-group scenario (in the child): see the module docstring. ``spec["members"]``
    (default: all N) members are instantiated, a seeded random sample of the tree's leaves
    besides the creator; the others are in the tree but never join."""
    family, sid, n, commits = spec["family"], spec["suite"], spec["n"], spec["commits"]
    t_start = time.perf_counter()
    out: dict[str, Any] = {"n": n, "family": family, "suite": sid, "commits_requested": commits}
    out["rss_start_kib"] = current_rss_kib()
    out["code"] = code_version()
    gc_time = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(on_gc)
    suite = get_suite(sid, family)
    rand = SeededRandom(n, f"run-all-{family}-{sid}")
    config = GroupConfig(ratchet_tree_in_welcome=False, epoch_cache=EpochCache())
    m = min(n, spec.get("members") or n)
    joiners = list(range(1, n)) if m == n else sorted(random.Random(3).sample(range(1, n), m - 1))
    out["instantiated"] = m
    tag = f"{family} {sid} N={n:,}" + ("" if m == n else f" ({m:,} instantiated)")

    progress(f"{tag}: {n:,} KeyPackages")
    t0 = time.perf_counter()
    members = go.make_members(suite, n, rand)
    out["keygen_s"] = time.perf_counter() - t0

    progress(f"{tag}: create, add {n - 1:,} members in one commit")
    t0 = time.perf_counter()
    g0 = go.create(suite, members[0], b"big", rand, config)
    staged = g0.commit(rand, adds=[m.kp for m in members[1:]])
    g0.merge(staged)
    out["add_s"] = time.perf_counter() - t0
    out["add_commit_B"] = len(encode(staged.message))
    tree, welcome = staged.ratchet_tree, go.welcome_of(staged)
    del staged
    gc.collect()
    rss_before_joins = current_rss_kib()

    progress(f"{tag}: {len(joiners):,} joins")
    t0 = time.perf_counter()
    groups = [g0, go.join(suite, members[joiners[0]], welcome, tree, config)]
    out["join_validated_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k, i in enumerate(joiners[1:], 2):
        groups.append(go.join(suite, members[i], welcome, tree, config))
        if k % 10_000 == 0:
            progress(f"{tag}: {k:,} joined")
    out["joins_rest_s"] = time.perf_counter() - t0
    out["join_mean_s"] = out["joins_rest_s"] / max(1, len(joiners) - 1)
    del members, welcome, tree
    by_leaf = {int(g.leaf_index): g for g in groups}
    leaves = sorted(by_leaf)
    assert len(by_leaf) == m
    gc.collect()
    gc.freeze()  # the group is built: its members' states are never traversed again (as in World.run)
    out["create_s"] = time.perf_counter() - t_start
    out["rss_after_create_kib"] = current_rss_kib()
    out["rss_per_member_B"] = (out["rss_after_create_kib"] - rss_before_joins) * 1024 / max(1, m - 1)
    progress(f"{tag}: created in {out['create_s']:.1f} s, RSS {out['rss_after_create_kib'] / 2**20:.2f} GiB")

    deadline = time.perf_counter() + spec["budget_s"]  # the time box covers the commits only
    positions = random.Random(1)  # the same relative committer positions for every N
    order = list(leaves)
    random.Random(2).shuffle(order)
    rows: list[dict[str, Any]] = []
    out["commits"] = rows
    out["partial"] = None
    prof = cProfile.Profile() if spec.get("profile_commit") is not None else None
    clock = time.perf_counter
    t_commits = clock()
    for c in range(commits):
        if c and clock() > deadline:
            break
        want = min(n - 1, int(positions.random() * n))
        j = bisect.bisect_left(leaves, want)  # the instantiated member nearest to that leaf
        near = [x for x in leaves[max(0, j - 1) : j + 1]]
        committer = by_leaf[min(near, key=lambda x: abs(x - want))]
        t0 = clock()
        staged = committer.commit(rand)
        t1 = clock()
        msg = staged.message
        size = len(encode(msg))
        per: list[float] = []
        profiling = prof is not None and c == spec["profile_commit"]
        if prof is not None and profiling:
            prof.enable()
        t2 = clock()
        stopped = False
        for j, leaf in enumerate(order):
            g = by_leaf[leaf]
            if g is committer:
                continue
            a = clock()
            g.process(msg)
            per.append(clock() - a)
            if j & 255 == 255 and clock() > deadline:
                stopped = True
                break
        t3 = clock()
        if prof is not None and profiling:
            prof.disable()
            prof.dump_stats(spec["profile_path"])
        row: dict[str, Any] = {
            "committer": int(committer.leaf_index),
            "commit_B": size,
            "create_s": t1 - t0,
            "fanout_s": t3 - t2,
            "processed": len(per),
            "first_s": per[0],
        }
        row.update(_spread(per))
        if stopped:
            out["partial"] = row
            progress(f"{tag}: time box reached in commit {c + 1}, after {len(per):,} members")
            break
        committer.merge(staged)
        ref = committer.epoch_authenticator
        bad = sum(1 for g in groups if g.epoch_authenticator != ref)
        if bad:
            raise RuntimeError(f"commit {c + 1}: {bad} members disagree with the committer")
        rows.append(row)
        progress(
            f"{tag}: commit {c + 1}/{commits} by leaf {row['committer']:,}: create {row['create_s']:.2f} s, "
            f"fan-out {row['fanout_s']:.1f} s ({1e6 * row['mean_s']:.0f} us/member), {load()}"
        )
    out["commit_phase_s"] = clock() - t_commits
    out["wall_s"] = clock() - t_start
    out["gc_s"] = gc_time[0]
    cache = config.epoch_cache
    assert cache is not None
    out["cache"] = {
        "hits": cache.hits,
        "misses": cache.misses,
        "verified_hits": cache.verified_hits,
        "schedule_hits": cache.schedule_hits,
    }
    out["rss_end_kib"] = current_rss_kib()
    out["peak_kib"] = peak_rss_kib()
    gc.callbacks.remove(on_gc)
    return out


def _spread(per: list[float]) -> dict[str, float]:
    s = sorted(per)
    return {
        "mean_s": sum(s) / len(s),
        "median_s": s[len(s) // 2],
        "p99_s": s[min(len(s) - 1, int(0.99 * len(s)))],
        "max_s": s[-1],
    }


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``big_group(spec)`` in a fresh interpreter; adds its wall time and the ``ru_maxrss``
    that ``os.wait4`` reports for it (shown only beside the child's own VmHWM)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)], stdout=out
        )
        hard = threading.Timer(spec["budget_s"] * 3 + 4 * 3600, p.kill)  # the child boxes its commits
        hard.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            hard.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        lines = out.read().strip().splitlines()
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"child exited with {p.returncode}: {lines[-1] if lines else 'no output'}")
    res: dict[str, Any] = json.loads(lines[-1])
    if "error" in res:
        raise RuntimeError(f"child failed: {res['error']}")
    res["child_wall_s"] = wall
    res["wait4_maxrss_kib"] = usage.ru_maxrss
    res["load"] = load()
    return res


def child_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    try:
        res = big_group(spec)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        res = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(res), flush=True)
    sys.stderr.flush()
    # skip the interpreter's teardown: freeing every member's objects one by one takes up to a
    # minute and a half at N = 10,000, and is no part of the scenario
    os._exit(0)


# ---- big groups: projections and the report ----------------------------------------------------


def fanout_full(res: dict[str, Any], row: dict[str, Any]) -> float:
    """Seconds for every other member of the group to process this commit: measured when all
    of them did, else their mean time times N-1 (sampled members or a time-boxed commit)."""
    if row["processed"] == res["n"] - 1:
        return float(row["fanout_s"])
    return float(row["mean_s"]) * (res["n"] - 1)


def projected(res: dict[str, Any], reference: list[float] | None = None) -> dict[str, Any]:
    """Create and commit phases for the whole group and every requested commit: measured where
    possible, else projected (said by ``how``). ``reference``: seconds per commit of another run
    of the same group size and committer positions (the sampled run), used for commits not run."""
    n, req, m = res["n"], res["commits_requested"], res["instantiated"]
    rows = list(res["commits"])
    how: list[str] = []
    create = res["create_s"]
    if m < n:
        create = res["keygen_s"] + res["add_s"] + res["join_validated_s"] + (n - 2) * res["join_mean_s"]
        how.append(f"joins of {n - m:,} more members at the sample's mean")
    commit_times = [r["create_s"] + fanout_full(res, r) for r in rows]
    if res.get("partial"):
        commit_times.append(res["partial"]["create_s"] + fanout_full(res, res["partial"]))
        how.append(f"commit {len(rows) + 1} from its first {res['partial']['processed']:,} members")
    if m < n and rows:
        how.append(f"each commit's fan-out = its {m - 1:,} members' mean x {n - 1:,}")
    missing = req - len(commit_times)
    if missing > 0 and reference is not None and len(reference) >= req:
        commit_times += reference[len(commit_times) : req]
        how.append(f"{missing} commits not run, at the sampled run's times for the same commits")
    elif missing > 0 and commit_times:
        later = commit_times[1:] or commit_times[:]  # the first commit after an add-all is the dearest
        first = 2 if len(commit_times) > 1 else 1
        commit_times += [statistics.mean(later)] * missing
        how.append(
            f"{missing} commits not run, each at the mean of commits {first}..{first + len(later) - 1}"
        )
    total = create + sum(commit_times) if commit_times else None
    return {"create": create, "commits": commit_times, "total": total, "how": how}


def report_big(
    title: str,
    res: dict[str, Any],
    wall_limit: float,
    rss_limit: int,
    targets: Targets,
    reference: list[float] | None = None,
) -> list[float]:
    """Print one big group's block; returns its seconds per commit (measured or projected)."""
    n, req, m = res["n"], res["commits_requested"], res["instantiated"]
    rows = res["commits"]
    done = len(rows)
    pr = projected(res, reference)
    val = res["join_validated_s"]
    peak = res["peak_kib"] * 1024.0
    every = "every member" if m == n else f"{m:,} sampled members"
    print(
        f"\n{title}: N = {n:,}, {res['family']} suite {res['suite']}, {req} path commits processed by {every}"
        f"  ({res['load']}; mlssim {res['code']})"
    )
    lines = [
        ("KeyPackages", fmt_s(res["keygen_s"]), f"{n:,} members"),
        ("add-all commit", fmt_s(res["add_s"]), f"creator adds {n - 1:,}, commit {res['add_commit_B']:,} B"),
        (
            "joins",
            fmt_s(val + res["joins_rest_s"]),
            f"{m - 1:,} joins; the first (validates the tree for all): {fmt_s(val)}, then "
            f"{fmt_s(res['join_mean_s'])} per join",
        ),
        (
            "create, measured",
            fmt_s(res["create_s"]),
            f"RSS after create {res['rss_after_create_kib'] / 2**20:.2f} GiB"
            + ("" if m < n else f", {res['rss_per_member_B'] / 1024:.1f} KiB per joined member"),
        ),
    ]
    if m < n:
        lines.append(("create, N members", fmt_s(pr["create"]), "PROJECTED: " + pr["how"][0]))
    if rows:
        fan = [fanout_full(res, r) for r in rows]
        lines += [
            (
                "commits run",
                f"{done} of {req}",
                "committers at leaves "
                + ", ".join(f"{r['committer']:,}" for r in rows[:5])
                + (", ..." if done > 5 else ""),
            ),
            (
                "commit create",
                fmt_s(statistics.median(r["create_s"] for r in rows)),
                f"median; commit {statistics.median(r['commit_B'] for r in rows):,.0f} B",
            ),
            (
                "fan-out, 1st",
                fmt_s(fan[0]),
                "the first commit after the add-all (blank parents: large resolutions)"
                + ("" if m == n else ", projected to N-1 members"),
            ),
        ]
        if done > 1:
            lines.append(
                (
                    "fan-out, later",
                    fmt_s(statistics.median(fan[1:])),
                    f"median of commits 2..{done} (mean {fmt_s(statistics.mean(fan[1:]))}, "
                    f"min {fmt_s(min(fan[1:]))}, max {fmt_s(max(fan[1:]))})"
                    + ("" if m == n else ", projected to N-1 members"),
                )
            )
        lines.append(
            (
                "per member",
                f"{1e6 * statistics.median(r['median_s'] for r in rows):.0f} us",
                f"median of per-commit medians; mean {1e6 * statistics.mean(r['mean_s'] for r in rows):.0f} "
                f"us, p99 {1e3 * max(r['p99_s'] for r in rows):.1f} ms, "
                f"max {1e3 * max(r['max_s'] for r in rows):.1f} ms; first member (computes the outcome) "
                f"{1e3 * statistics.median(r['first_s'] for r in rows):.1f} ms",
            )
        )
    if res.get("partial"):
        p = res["partial"]
        lines.append(
            (
                "partial commit",
                f"{p['processed']:,} members",
                f"time box reached in commit {done + 1}: {fmt_s(p['fanout_s'])}, "
                f"{1e6 * p['mean_s']:.0f} us/member (mean), {1e6 * p['median_s']:.0f} us median",
            )
        )
    total, proj = pr["total"], bool(pr["how"])
    if rows:
        # What N-1 separate clients would hash between them: each receiver of a PublicMessage
        # hashes the whole commit twice (membership tag, signature). Simulated members of one
        # world share the verdict of byte-identical checks (EpochCache), so here one member per
        # commit pays it; the line says how much sharing saves, and the cache counts show it.
        rate = sha256_rate()
        hashed = 2.0 * (n - 1) * sum(r["commit_B"] for r in rows)
        floor_s = hashed / rate
        fanned = sum(fanout_full(res, r) for r in rows)
        cache = res.get("cache", {})
        lines.append(
            (
                "separate clients",
                fmt_s(floor_s),
                f"would hash this much alone: 2 passes (membership tag, signature) over each of the "
                f"{done} commits run by each of {n - 1:,} members, {hashed / 1e9:,.1f} GB at the "
                f"measured SHA-256 rate {rate / 1e9:.2f} GB/s ({100 * floor_s / fanned:.0f} % of the "
                f"fan-out time measured here, {fmt_s(fanned)}"
                + (")" if m == n else ", projected to N-1 members)")
                + f"; shared verdicts {cache.get('verified_hits', 0):,}, key schedules "
                f"{cache.get('schedule_hits', 0):,}, outcomes {cache.get('hits', 0):,}",
            )
        )
    lines += [
        (
            "commit phase",
            fmt_s(res["commit_phase_s"]),
            f"garbage collector {fmt_s(res['gc_s'])} of the whole run",
        ),
        ("wall, measured", fmt_s(res["wall_s"]), f"child process {fmt_s(res['child_wall_s'])} incl. imports"),
        (
            f"wall, {req} commits",
            fmt_s(total),
            ("PROJECTED: " + "; ".join(pr["how"]) if proj else "measured")
            + f"; target <= {fmt_s(wall_limit)} -> {verdict(total, wall_limit)}",
        ),
        (
            "peak RSS",
            f"{peak / GIB:.2f} GiB",
            f"measured: the child's VmHWM (RSS after create {res['rss_after_create_kib'] / 2**20:.2f}, "
            f"at the end {res['rss_end_kib'] / 2**20:.2f} GiB)"
            + (
                f"; target <= {rss_limit / GIB:.0f} GiB -> {verdict(peak, rss_limit)}"
                if m == n
                else f" with {m:,} of {n:,} members: not the target's number (the run of every member is)"
            ),
        ),
    ]
    width = max(len(a) for a, _, _ in lines)
    for a, b, c in lines:
        print(f"  {a:<{width}}  {b:>12}  {c}")
    note = f"{done} of {req} commits run, {m:,} of {n:,} members"
    targets.add(
        f"{title}: wall",
        fmt_s(total) + (" proj." if proj else ""),
        f"<= {fmt_s(wall_limit)}",
        verdict(total, wall_limit),
        note,
    )
    if m == n:
        peak_s = f"{peak / GIB:.2f} GiB"
        targets.add(
            f"{title}: peak RSS", peak_s, f"<= {rss_limit / GIB:.0f} GiB", verdict(peak, rss_limit), note
        )
    return list(pr["commits"])


@functools.cache
def sha256_rate() -> float:
    """Bytes per second of one SHA-256 pass over a commit-sized buffer (best of 5, measured once)."""
    buf = bytes(range(256)) * (8 << 12)  # 8 MiB
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        hashlib.sha256(buf).digest()
        best = min(best, time.perf_counter() - t0)
    return len(buf) / best


def fit(xs: list[float], ys: list[float]) -> tuple[float, float] | None:
    """Least-squares y = a * x^b on log-log axes: (a, b)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    return math.exp(my - b * mx), b


def _fan(res: dict[str, Any], which: str) -> float | None:
    rows = res["commits"]
    if which == "first":
        return fanout_full(res, rows[0]) if rows else None
    later = [fanout_full(res, r) for r in rows[1:]]
    return statistics.median(later) if later else None


def _per_member(res: dict[str, Any], which: str) -> float | None:
    rows = res["commits"] if which == "first" else res["commits"][1:]
    rows = rows[:1] if which == "first" else rows
    return statistics.mean(r["mean_s"] for r in rows) if rows else None


SCALING_SERIES: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "KeyPackages s": lambda r: r["keygen_s"],
    "add-all commit s": lambda r: r["add_s"],
    "first join s": lambda r: r["join_validated_s"],
    "join, tree shared s": lambda r: r["join_mean_s"],
    "commit create s": lambda r: (
        statistics.median(c["create_s"] for c in r["commits"]) if r["commits"] else None
    ),
    "fan-out, 1st commit s": lambda r: _fan(r, "first"),
    "fan-out, later s": lambda r: _fan(r, "later"),
    "per member, 1st s": lambda r: _per_member(r, "first"),
    "per member, later s": lambda r: _per_member(r, "later"),
    "RSS per member KiB": lambda r: r["rss_per_member_B"] / 1024,
    "RSS after create MiB": lambda r: r["rss_after_create_kib"] / 1024,
    "peak RSS MiB": lambda r: r["peak_kib"] / 1024,
}


def section_scaling(mode: Mode, budget_s: float) -> dict[str, tuple[float, float]]:
    results = []
    for n in mode.scaling:
        progress(f"scaling: model N={n:,}, {mode.scaling_commits} commits ({load()})")
        spec = {"family": "model", "suite": 1, "n": n, "commits": mode.scaling_commits, "budget_s": budget_s}
        try:
            results.append(run_child(spec))
        except Exception as exc:
            print(f"ERROR in scaling at N={n:,}: {exc}")
    if not results:
        raise RuntimeError("no scaling run finished")
    head = ["", *(f"N={r['n']:,}" for r in results), "exponent b", "a (y = a N^b)"]
    body = []
    fits: dict[str, tuple[float, float]] = {}
    for name, f in SCALING_SERIES.items():
        vals = [f(r) for r in results]
        pairs = [(r["n"], v) for r, v in zip(results, vals, strict=True) if v is not None]
        ab = fit([float(p[0]) for p in pairs], [float(p[1]) for p in pairs])
        if ab is not None:
            fits[name] = ab
        body.append(
            [
                name,
                *("-" if v is None else f"{v:.4g}" for v in vals),
                "-" if ab is None else f"{ab[1]:.2f}",
                "-" if ab is None else f"{ab[0]:.3g}",
            ]
        )
    print(f"""
4. Scaling of the big-group scenario (model suite 1, every member instantiated, {mode.scaling_commits} commits
   per N, each N in its own child process; mlssim {results[0]["code"]}), with
   y = a N^b fitted by least squares on log-log axes. 1st = the first commit after the add-all
   (parent nodes blank); later = median of the others; per member = mean time one member takes to
   process a commit. {load()}""")
    go.table(head, body, left=1)
    return fits


def extrapolate(fits: dict[str, tuple[float, float]], n: int, commits: int) -> float | None:
    def at(name: str) -> float:
        a, b = fits[name]
        return float(a * n**b)

    try:
        create = at("KeyPackages s") + at("add-all commit s") + n * at("join, tree shared s")
        first = at("commit create s") + at("fan-out, 1st commit s")
        return create + first + (commits - 1) * (at("commit create s") + at("fan-out, later s"))
    except KeyError:
        return None


def section_big(
    title: str,
    family: str,
    plan: Plan,
    budget_s: float,
    targets: Targets,
    reference: list[float] | None = None,
) -> list[float]:
    """One big group in a child process, reported; returns its seconds per commit."""
    n, commits, members, wall_limit, rss_limit = plan
    spec = {
        "family": family,
        "suite": 1,
        "n": n,
        "commits": commits,
        "budget_s": budget_s,
        "members": members,
    }
    progress(f"{title}: N={n:,}, {commits} commits, commits time-boxed to {fmt_s(budget_s)} ({load()})")
    res = run_child(spec)
    return report_big(title, res, wall_limit, rss_limit, targets, reference)


def section_profile(mode: Mode, family: str, top: int = 25) -> None:
    """cProfile of one commit fanned out to every member of an N-member group (the second
    commit, so the first one's warm-up is not in it)."""
    n = mode.profile_n
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prof")
        spec = {
            "family": family,
            "suite": 1,
            "n": n,
            "commits": 2,
            "budget_s": 3600.0,
            "profile_commit": 1,
            "profile_path": path,
        }
        res = run_child(spec)
        buf = io.StringIO()
        st = pstats.Stats(path, stream=buf)
        st.strip_dirs().sort_stats("tottime").print_stats(top)
        st.sort_stats("cumulative").print_stats(top)
    c = res["commits"][1]
    print(
        f"\nProfile: commit 2 of a {n:,}-member group ({family} suite 1) by leaf {c['committer']:,}, "
        f"processed by the {n - 2:,} other members: {fmt_s(c['fanout_s'])} under cProfile (commit 1, "
        f"unprofiled: {fmt_s(res['commits'][0]['fanout_s'])}); {res['load']}"
    )
    print(buf.getvalue())


# ---- main --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small N, about a minute (a smoke test)")
    ap.add_argument("--only", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    ap.add_argument(
        "--budget",
        type=float,
        default=25.0,
        help="time box of the commits of each big group, minutes (default 25)",
    )
    ap.add_argument(
        "--profile", choices=("model", "real"), help="also profile one commit's fan-out (section 'profile')"
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child)
        return
    mode = Mode(args.quick)
    chosen = SECTIONS
    if args.only:
        chosen = tuple(s.strip() for s in args.only.split(",") if s.strip())
        unknown = [s for s in chosen if s not in (*SECTIONS, "profile")]
        if unknown:
            ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    budget = args.budget * 60
    rs_version = "not installed"
    if go.rs is not None:
        from importlib.metadata import version

        rs_version = f"agentvault-mls-rs-uniffi {version('agentvault-mls-rs-uniffi')}"
    print(f"mlssim performance, issues 10 and 23 (benchmarks/run_all.py{' --quick' if args.quick else ''})")
    print(f"machine: {go.machine()}")
    print(f"python {sys.version.split()[0]}, mls-rs: {rs_version}; mlssim {code_version()}")
    print(f"{load()} at start (1/5/15 min)")
    targets = Targets()
    ops = GroupOps(mode)
    if "floor" in chosen:
        guarded("floor", lambda: section_floor(ops, targets))
    if "mlsrs" in chosen:
        guarded("mlsrs", lambda: section_mlsrs(ops, targets))
    if "engine" in chosen:
        guarded("engine", lambda: section_engine(mode, targets))
    if "sweep" in chosen:
        guarded("sweep", lambda: section_sweep(mode, targets))
    fits: dict[str, tuple[float, float]] = {}
    if "scaling" in chosen:
        guarded("scaling", lambda: fits.update(section_scaling(mode, budget)))
    if "big-model" in chosen or "big-model-all" in chosen:
        n, commits = mode.big_model[:2]
        est = extrapolate(fits, n, commits) if fits else None
        if est is not None:
            print(
                f"\nestimate from the scaling fit for N = {n:,} model, every member, {commits} commits: "
                f"{fmt_s(est)} (commits time-boxed to {fmt_s(budget)})"
            )
    sampled: list[float] = []  # the sampled run's seconds per commit, for the full run's projection
    if "big-model" in chosen:
        title = "5a. Big group, model suite, sampled members"
        guarded(
            "big-model",
            lambda: sampled.extend(section_big(title, "model", mode.big_model, budget, targets)),
        )
    if "big-model-all" in chosen:
        title = "5b. Big group, model suite, every member"
        guarded(
            "big-model-all",
            lambda: section_big(title, "model", mode.big_model_all, budget, targets, sampled or None),
        )
    if "big-real" in chosen:
        title = "5c. Big group, real suite, every member"
        guarded("big-real", lambda: section_big(title, "real", mode.big_real, budget, targets))
    if args.profile or "profile" in chosen:
        guarded("profile", lambda: section_profile(mode, args.profile or "model"))
    print(f"\nTargets (not asserted; {load()} at the end, total wall {fmt_s(time.perf_counter() - _T0)})")
    targets.add(
        "WG figure set: quick tier / full tier",
        "-",
        "<= 30 min / a night",
        "n/a",
        "issue 23 item 5: measured in reports/README.md, not here",
    )
    go.table(["what", "value", "target", "", "note"], targets.rows, left=1)


if __name__ == "__main__":
    main()
