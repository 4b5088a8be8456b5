"""Throughput of the simulation engine against a bare simpy loop, and the cost of a run at scale.

Usage: ``python benchmarks/engine.py [--quick] [--family model|real] [--tracemalloc] [--profile N]
[--interleaved N]``.
Default: 10 groups × 100 members for 10 simulated minutes (+30 s drain) with the model twin of
suite 1 (a few minutes); ``--quick``: 3 groups × 50 members × 120 s (a few seconds).
``--groups/--members/--duration`` override the size. Nothing is written to disk and nothing
touches the network; every random draw comes from a seeded stream, so the same arguments
simulate the same events (only the timings vary).

What is measured, in one process:

* **Engine run** — ``World(scenario).run()`` of an in-code scenario: 3 providers, a 0.5/0.3/0.2
  provider mix, lognormal client latency, application messages (0.01 per member per second),
  path updates (0.0005 per member per second), adds (0.01/s per group) and removes (0.005/s per
  group). *events* is the number of simpy events the run processed (heap pops: scheduled
  minus still queued at the end, read from simpy's event counter, so counting costs nothing);
  *transmissions* is ``len(world.recorder.transmissions)``.
* **MLS time** — during the run, every call into the MLS core made by the simulator
  (``Group.create/join/external_join/commit/merge/discard/process/encrypt_application``,
  ``make_key_package``, ``encode`` of messages for their sizes, and the cipher suite's
  ``signature_key_pair``/``key_package_ref``) is timed with ``perf_counter`` (outermost call
  only; the wrappers are removed afterwards). *Engine time* = wall − MLS time: simpy, the
  network, the delivery services, the clients' bookkeeping and the recorder — "excluding
  crypto" in the issue's sense. The raw rate (events / wall, crypto included) is shown too.
* **Bare simpy loop** — the same number of events in a loop with no model in it: processes
  that yield ``env.timeout(expovariate)`` and, after each wake-up, fan out timeouts carrying a
  callback that pops a per-link FIFO deque (the network's delivery pattern), in the same
  proportion of callback events to process events as the engine run had. Median of
  ``--repeat`` runs.
* **Overhead ×** = bare events/s ÷ engine events/s, i.e. how many times more time per event
  the engine spends than simpy itself needs. The issue's target is ≤ 2×. The events are the
  same kind on both sides: the engine schedules one simpy heap entry per transmission (its
  arrival) plus its processes' and timers' events, so batching a fan-out's sends into one call
  does not change the count; only work per event does.
* **Bare loop + the same MLS calls** (``--interleaved N``, default 50,000 events; 0 skips it) —
  the bare loop again, for N events, with the engine run's number of MLS calls per event made
  from the receivers' callbacks: a real member of a real group of the run's size processing an
  application message (the run's dominant call, ~the same µs per call), timed with the same
  wrapper and taken out of the wall time like the engine's. It shows what simpy's own loop
  costs per event when the interpreter runs ~0.2 ms of protocol code between events (caches,
  branch predictors and allocator state cold on return, plus the timing wrapper itself), which
  the engine run pays and the pristine bare loop does not. *vs interleaved* = that loop's
  events/s ÷ engine events/s: a diagnostic beside the headline ratio, not a replacement for it.
* **Memory** — peak RSS of the process (``ru_maxrss``, taken right after the engine run, so it
  includes the interpreter and imports: the baseline before the run is shown beside it);
  with ``--tracemalloc`` the scenario runs a second time under tracemalloc for the peak of
  Python allocations (untimed: tracemalloc slows the run several times).
* **Profile** — with ``--profile N`` the scenario runs once more under cProfile and the N
  functions with the most *engine* self time are listed: time in ``mlssim/mls`` is dropped,
  time in simpy and ``mlssim/sim`` kept, and time in other code (builtins, stdlib, pydantic)
  split by who called it. Profiling inflates per-call costs; read the shares, not the seconds.

How to read it: *engine ev/s* is what the simulator itself sustains per event once the
protocol work is taken out; multiply the events of a scenario by 1/that for the engine's part
of a run's wall time, and add the MLS time (which grows with group size and with the real
crypto family). The MLS column splits the protocol work by operation.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import os
import platform
import pstats
import random
import re
import resource
import statistics
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import simpy

import mlssim.sim.device as _device
from mlssim.mls.group import Group
from mlssim.scenario.schema import (
    CryptoSpec,
    GroupSpec,
    LinkSpec,
    LogNormal,
    NetworkSpec,
    ProviderSpec,
    Scenario,
    Uniform,
    WorkloadSpec,
)
from mlssim.sim.world import World

TARGET_OVERHEAD = 2.0
THIS_FILE = os.path.abspath(__file__)


# ---- the scenario ------------------------------------------------------------------------------


def build_scenario(
    groups: int, members: int, duration: float, *, family: str, suite: int, seed: int, drain: float = 30.0
) -> Scenario:
    """Three providers and ``groups`` groups of ``members`` members with a mixed workload."""
    return Scenario(
        name="bench-engine",
        seed=seed,
        duration=duration,
        drain=drain,
        crypto=CryptoSpec(suite=suite, family=family),  # type: ignore[arg-type]
        providers=[ProviderSpec(name=n) for n in ("alpha", "beta", "gamma")],
        network=NetworkSpec(
            client_ds=LinkSpec(latency=LogNormal(dist="lognormal", median=0.04, sigma=0.5)),
            ds_ds=LinkSpec(latency=Uniform(dist="uniform", low=0.02, high=0.08)),
        ),
        groups=[
            GroupSpec(
                name="team",
                count=groups,
                size=members,
                providers={"alpha": 0.5, "beta": 0.3, "gamma": 0.2},
                owner="alpha",
                workload=WorkloadSpec(
                    app_rate=0.01,
                    app_size=LogNormal(dist="lognormal", median=200, sigma=1.0),
                    update_rate=0.0005,
                    add_rate=0.01,
                    remove_rate=0.005,
                ),
            )
        ],
    )


# ---- timing the MLS core -----------------------------------------------------------------------


@dataclass
class MLSTimer:
    """Accumulates the time spent in wrapped MLS calls (outermost call only)."""

    seconds: float = 0.0
    by_op: dict[str, list[float]] = field(default_factory=dict)  # op -> [calls, seconds]
    _depth: int = 0

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        cell = self.by_op.setdefault(name, [0, 0.0])
        clock = time.perf_counter

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth = 1
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = clock() - t0
                self._depth = 0
                self.seconds += dt
                cell[0] += 1
                cell[1] += dt

        return timed

    @contextmanager
    def installed(self, suite_cls: type) -> Iterator[MLSTimer]:
        """Wrap the MLS entry points the simulator uses; restore them on exit."""
        saved: list[tuple[Any, str, Any]] = []

        def patch(owner: Any, attr: str, label: str) -> None:
            raw = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
            if raw is None:
                return  # the entry point moved; time what is still there
            saved.append((owner, attr, raw))
            if isinstance(raw, classmethod):
                setattr(owner, attr, classmethod(self.wrap(label, raw.__func__)))
            elif isinstance(raw, staticmethod):
                setattr(owner, attr, staticmethod(self.wrap(label, raw.__func__)))
            else:
                setattr(owner, attr, self.wrap(label, raw))

        for m in ("create", "join", "external_join", "commit", "merge", "discard", "process"):
            patch(Group, m, m)
        patch(Group, "encrypt_application", "encrypt_app")
        patch(_device, "make_key_package", "key_package")
        for name, module in sorted(sys.modules.items()):
            # every simulator module that sizes a message with the core's encoder
            if name.startswith("mlssim.sim.") and module is not None and "encode" in vars(module):
                patch(module, "encode", "encode")
        for m in ("signature_key_pair", "key_package_ref"):
            # a suite may inherit the method: patch it on the concrete class either way
            if getattr(suite_cls, m, None) is not None and m not in suite_cls.__dict__:
                saved.append((suite_cls, m, None))
                setattr(suite_cls, m, self.wrap("key_package", getattr(suite_cls, m)))
            else:
                patch(suite_cls, m, "key_package")
        try:
            yield self
        finally:
            for owner, attr, raw in reversed(saved):
                if raw is None:
                    delattr(owner, attr)
                else:
                    setattr(owner, attr, raw)


@dataclass
class GCClock:
    """Time the cyclic garbage collector runs, split by whether an MLS call was running."""

    timer: MLSTimer
    engine: float = 0.0
    mls: float = 0.0
    collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    _t0: float = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        dt = time.perf_counter() - self._t0
        self.collections[info["generation"]] += 1
        if self.timer._depth:
            self.mls += dt
        else:
            self.engine += dt

    @contextmanager
    def installed(self) -> Iterator[GCClock]:
        gc.callbacks.append(self._callback)
        try:
            yield self
        finally:
            gc.callbacks.remove(self._callback)


# ---- counting simpy events ---------------------------------------------------------------------


def scheduled_events(env: simpy.Environment) -> int:
    """How many events ``env`` has scheduled so far (simpy's ``_eid`` counter)."""
    m = re.fullmatch(r"count\((\d+)\)", repr(env._eid))  # type: ignore[attr-defined]
    if m is None:
        raise RuntimeError("simpy's event counter changed shape; count env.step calls instead")
    return int(m.group(1))


def processed_events(env: simpy.Environment) -> int:
    """Events popped off the heap: scheduled minus still queued."""
    return scheduled_events(env) - len(env._queue)  # type: ignore[attr-defined]


# ---- the engine run ----------------------------------------------------------------------------


def max_rss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


@dataclass
class EngineResult:
    wall: float
    mls: float
    events: int
    transmissions: int
    rss_before: int
    rss_peak: int
    mls_ops: dict[str, list[float]]
    summary: dict[str, Any]
    gc: GCClock

    @property
    def engine(self) -> float:
        return self.wall - self.mls


def run_engine(scenario: Scenario) -> EngineResult:
    world = World(scenario)
    timer = MLSTimer()
    clock = GCClock(timer)
    rss_before = max_rss_bytes()
    gc.collect()
    with timer.installed(type(world.suite)), clock.installed():
        t0 = time.perf_counter()
        world.run()
        wall = time.perf_counter() - t0
    rss_peak = max_rss_bytes()
    events = processed_events(world.env)
    summary = world.summary()
    result = EngineResult(
        wall=wall,
        mls=timer.seconds,
        events=events,
        transmissions=len(world.recorder.transmissions),
        rss_before=rss_before,
        rss_peak=rss_peak,
        mls_ops=timer.by_op,
        summary=summary,
        gc=clock,
    )
    del world
    gc.collect()
    return result


def tracemalloc_peak(scenario: Scenario) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        World(scenario).run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.collect()


# ---- the bare simpy loop -----------------------------------------------------------------------


def bare_loop(
    n_events: int,
    fanout: float,
    *,
    processes: int,
    links: int,
    seed: int,
    load: Callable[[], None] | None = None,
    load_per_event: float = 0.0,
) -> tuple[float, int]:
    """``n_events`` simpy events with no model: returns (wall seconds, events processed).

    ``processes`` Poisson processes wake up (one timeout event each time) and send on average
    ``fanout`` messages, each one a timeout whose callback pops the head of its link's FIFO
    deque and hands it to a receiver that counts it. With ``load``, receivers also call
    ``load()`` ``load_per_event`` times per event on average (evenly spread; the caller times
    it and takes it out of the wall time).
    """
    rng = random.Random(seed)
    env = simpy.Environment()
    queues = [deque[tuple[float, int]]() for _ in range(links)]
    received = [0]
    budget = [n_events]
    whole = int(fanout)
    frac = fanout - whole

    due = [0.0]

    def on_receive(_item: tuple[float, int]) -> None:
        received[0] += 1
        if load is not None:
            due[0] += load_per_event * (1.0 + 1.0 / fanout if fanout > 0 else 1.0)
            while due[0] >= 1.0:
                due[0] -= 1.0
                load()

    def make_deliver(q: deque[tuple[float, int]]) -> Callable[[simpy.Event], None]:
        def deliver(_ev: simpy.Event) -> None:
            on_receive(q.popleft())

        return deliver

    delivers = [make_deliver(q) for q in queues]

    def proc(i: int) -> Any:
        expo = rng.expovariate
        while budget[0] > 0:
            budget[0] -= 1
            yield env.timeout(expo(1.0))
            k = whole + (1 if rng.random() < frac else 0)
            now = env.now
            for _ in range(min(k, budget[0])):
                budget[0] -= 1
                link = rng.randrange(links)
                queues[link].append((now, i))
                env.timeout(expo(20.0)).callbacks.append(delivers[link])

    for i in range(processes):
        env.process(proc(i))
    gc.collect()
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    return wall, processed_events(env)


class MLSLoad:
    """The engine run's typical MLS call, for the interleaved bare loop: one member of a real
    group (``members`` members, built by a short run of the same scenario) processes an
    application message another member encrypted (made ahead in batches of 256; both timed)."""

    def __init__(self, members: int, *, family: str, suite: int, seed: int, timer: MLSTimer) -> None:
        world = World(build_scenario(1, members, 0.5, family=family, suite=suite, seed=seed, drain=0.5))
        world.run()
        gname = next(iter(world.ds_groups))
        holders = [c for c in world.clients.values() if gname in c.groups and c.groups[gname].active]
        sender = holders[0]
        receiver = next(c for c in holders[1:] if c.groups[gname].epoch == sender.groups[gname].epoch)
        self._a, self._b, self._rand = sender.groups[gname], receiver.groups[gname], sender.rand
        self._queue: deque[Any] = deque()
        self._world = world  # keeps the clients' shared state alive
        self.call = timer.wrap("bare-load", self._one)

    def _one(self) -> None:
        if not self._queue:
            self._queue.extend(self._a.encrypt_application(bytes(200), self._rand) for _ in range(256))
        self._b.process(self._queue.popleft())


def interleaved_loop(
    r: EngineResult, n_events: int, fanout: float, *, members: int, processes: int, links: int, args: Any
) -> tuple[float, float, int, int]:
    """The bare loop with the engine run's number of MLS calls per event interleaved (real
    application-message processing): returns (wall, MLS seconds, events, MLS calls)."""
    timer = MLSTimer()
    load = MLSLoad(members, family=args.family, suite=args.suite, seed=args.seed, timer=timer)
    calls = sum(int(c) for c, _ in r.mls_ops.values())
    wall, events = bare_loop(
        n_events,
        fanout,
        processes=processes,
        links=links,
        seed=args.seed,
        load=load.call,
        load_per_event=calls / r.events,
    )
    return wall, timer.seconds, events, int(timer.by_op["bare-load"][0])


# ---- profiling ---------------------------------------------------------------------------------

Func = tuple[str, int, str]


def _category(func: Func) -> float | None:
    """Engine share of a function's own time: 1 engine, 0 not engine, None decided by callers."""
    path = func[0].replace("\\", "/")
    if "/mlssim/mls/" in path or os.path.abspath(func[0]) == THIS_FILE:
        return 0.0
    if "/mlssim/sim/" in path or "/simpy/" in path:
        return 1.0
    return None


def engine_profile(scenario: Scenario, top: int) -> None:
    """Run under cProfile and print the functions with the most engine self time."""
    world = World(scenario)
    timer = MLSTimer()  # same wrappers as the timed run, so the split matches
    prof = cProfile.Profile()
    with timer.installed(type(world.suite)):
        prof.enable()
        world.run()
        prof.disable()
    stats: dict[Func, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    share: dict[Func, float] = {}
    undecided = []
    for f in stats:
        c = _category(f)
        if c is None:
            undecided.append(f)
            share[f] = 0.5
        else:
            share[f] = c
    for _ in range(50):  # fixed point of "own time belongs to the callers' side, by their share"
        moved = 0.0
        for f in undecided:
            callers = stats[f][4]
            tot = sum(v[2] for v in callers.values())
            new = sum(v[2] * share.get(c, 0.0) for c, v in callers.items()) / tot if tot > 0 else 0.0
            moved = max(moved, abs(new - share[f]))
            share[f] = new
        if moved < 1e-6:
            break
    total = sum(v[2] for v in stats.values())
    eng = {f: v[2] * share[f] for f, v in stats.items()}
    eng_total = sum(eng.values())
    by_module: dict[str, float] = {}
    for f, t in eng.items():
        path = f[0].replace("\\", "/")
        if "/simpy/" in path:
            key = "simpy"
        elif "/mlssim/sim/" in path:
            key = "mlssim/sim/" + path.rsplit("/", 1)[-1]
        else:
            key = "other (builtins, stdlib, by caller)"
        by_module[key] = by_module.get(key, 0.0) + t
    print(
        f"\nProfile (cProfile, separate run): total self time {total:.2f} s, "
        f"engine {eng_total:.2f} s ({100 * eng_total / total:.0f} %), MLS + wrappers the rest"
    )
    print("\n  engine self time by module")
    for key, t in sorted(by_module.items(), key=lambda kv: -kv[1]):
        if t < 0.0005:
            continue
        print(f"    {key:<40} {t:8.3f} s {100 * t / eng_total:6.1f} %")
    print(f"\n  top {top} functions by engine self time")
    print(f"    {'self s':>8} {'%eng':>6} {'cum %':>6} {'calls':>10} {'cum s':>8}  function")
    acc = 0.0
    for f, t in sorted(eng.items(), key=lambda kv: -kv[1])[:top]:
        acc += t
        _cc, nc, _tt, ct, _callers = stats[f]
        where = f"{_short(f[0])}:{f[1]}({f[2]})" if f[1] else f[2]
        pct, cum = 100 * t / eng_total, 100 * acc / eng_total
        print(f"    {t:8.3f} {pct:6.1f} {cum:6.1f} {nc:>10} {ct:8.3f}  {where}")


def _short(path: str) -> str:
    p = path.replace("\\", "/")
    for marker in ("/mlssim/", "/simpy/"):
        i = p.rfind(marker)
        if i >= 0:
            return p[i + 1 :]
    return p.rsplit("/", 1)[-1]


# ---- printing ----------------------------------------------------------------------------------


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _rate(n: int, s: float) -> str:
    return f"{n / s:,.0f}" if s > 0 else "inf"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 groups × 50 members × 120 s")
    ap.add_argument("--groups", type=int, help="number of groups")
    ap.add_argument("--members", type=int, help="members per group")
    ap.add_argument("--duration", type=float, help="simulated seconds of workload")
    ap.add_argument("--family", choices=("model", "real"), default="model", help="crypto family")
    ap.add_argument("--suite", type=int, default=1, help="RFC 9420 cipher suite id")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="bare-loop runs (median)")
    ap.add_argument("--tracemalloc", action="store_true", help="one more run for the tracemalloc peak")
    ap.add_argument("--profile", type=int, metavar="N", help="one more run under cProfile; list top N")
    ap.add_argument(
        "--interleaved",
        type=int,
        default=50_000,
        metavar="N",
        help="events of the bare loop with MLS calls interleaved (0: skip)",
    )
    args = ap.parse_args(argv)

    g, n, d = (3, 50, 120.0) if args.quick else (10, 100, 600.0)
    g = args.groups or g
    n = args.members or n
    d = args.duration or d
    scenario = build_scenario(g, n, d, family=args.family, suite=args.suite, seed=args.seed)
    print(
        f"mlssim engine benchmark: {g} groups × {n} members, {d:g} s + {scenario.drain:g} s drain, "
        f"suite {args.suite} ({args.family}), seed {args.seed}"
    )
    print(f"Python {platform.python_version()} ({platform.machine()}), simpy {simpy.__version__}\n")

    r = run_engine(scenario)
    s = r.summary
    fanout = r.transmissions / max(r.events - r.transmissions, 1)
    processes = max(4 * g, 1)
    bare = [
        bare_loop(r.events, fanout, processes=processes, links=3 * n * g, seed=args.seed + k)
        for k in range(args.repeat)
    ]
    bare_wall = statistics.median(b[0] for b in bare)
    bare_events = bare[0][1]
    engine_rate = r.events / r.engine if r.engine > 0 else float("inf")
    bare_rate = bare_events / bare_wall
    overhead = bare_rate / engine_rate

    print(
        f"workload: {s['clients']} clients, {s['application']['sent']} application messages "
        f"({s['application']['received']} received), {s['commits']['accepted']} commits accepted, "
        f"{s['commits']['rejected']} rejected, all converged: {s['all_converged']}"
    )
    print(f"events {r.events:,}, transmissions {r.transmissions:,} ({fanout:.1f} per other event)\n")

    rows = [
        ("engine run, wall (incl. MLS)", r.wall, r.events),
        ("  of which MLS core", r.mls, None),
        ("  engine (wall − MLS)", r.engine, r.events),
        ("    of which garbage collector", r.gc.engine, None),
        (f"bare simpy loop (median of {args.repeat})", bare_wall, bare_events),
    ]
    print(f"{'':40} {'seconds':>10} {'events':>12} {'events/s':>12} {'µs/event':>9}")
    for label, sec, ev in rows:
        if ev is None:
            print(f"{label:40} {sec:10.3f} {'':>12} {'':>12} {1e6 * sec / r.events:9.2f}")
        else:
            print(f"{label:40} {sec:10.3f} {ev:12,} {_rate(ev, sec):>12} {1e6 * sec / ev:9.2f}")
    inter = None
    if args.interleaved > 0:
        n_int = min(args.interleaved, r.events)
        inter = interleaved_loop(r, n_int, fanout, members=n, processes=processes, links=3 * n * g, args=args)
        i_wall, i_mls, i_events, i_calls = inter
        print(f"{'bare loop + the same MLS calls per event':40} {i_wall:10.3f} {i_events:12,}")
        print(f"{'  of which MLS (' + f'{i_calls:,} app-message process)':40} {i_mls:10.3f}")
        loop_s = i_wall - i_mls
        print(
            f"{'  loop (wall − MLS)':40} {loop_s:10.3f} {i_events:12,} {_rate(i_events, loop_s):>12} "
            f"{1e6 * loop_s / i_events:9.2f}"
        )
    verdict = "meets" if overhead <= TARGET_OVERHEAD else "misses"
    print(
        f"\noverhead ×  (bare events/s ÷ engine events/s): {overhead:.2f}  "
        f"[{verdict} the ≤ {TARGET_OVERHEAD:g}× target]"
    )
    if inter is not None:
        i_rate = inter[2] / (inter[0] - inter[1])
        print(f"vs interleaved (bare+MLS loop events/s ÷ engine events/s): {i_rate / engine_rate:.2f}")
    print(f"raw ×       (including MLS):                    {bare_rate / (r.events / r.wall):.2f}")

    print(f"\n{'MLS call':<14} {'calls':>10} {'seconds':>10} {'µs/call':>10} {'% of MLS':>9}")
    for op, (calls, sec) in sorted(r.mls_ops.items(), key=lambda kv: -kv[1][1]):
        if calls:
            pct = 100 * sec / r.mls if r.mls else 0.0
            print(f"{op:<14} {int(calls):>10,} {sec:10.3f} {1e6 * sec / calls:10.1f} {pct:8.1f}%")

    gcc = r.gc
    gens = "/".join(f"{c:,}" for c in gcc.collections)
    print(
        f"\ngarbage collector: {gcc.engine + gcc.mls:.2f} s in all; {gcc.engine:.2f} s of it counted as "
        f"engine, {gcc.mls:.2f} s inside MLS calls (collections gen0/1/2: {gens})"
    )
    print(f"\nwall time of the run:   {r.wall:.2f} s  ({d + scenario.drain:g} simulated s)")
    print(f"peak RSS:               {_mib(r.rss_peak)}  (before the run: {_mib(r.rss_before)})")
    if args.tracemalloc:
        print(f"tracemalloc peak:       {_mib(tracemalloc_peak(scenario))}  (separate run)")
    if args.profile:
        engine_profile(scenario, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
