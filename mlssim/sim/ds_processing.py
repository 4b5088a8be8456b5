"""The delivery service as a queue whose work costs time (issue 19 item 4; ``hardware.ds``).

Without ``hardware.ds`` (or with ``processing_time: off``) a DS does its work in no time and
nothing here runs: the DS has no queue and every result is as before. With it, each message a
DS orders (a commit, a proposal, an application message: ``DeliveryService.order_*``) is a
*job* of that DS:

* **Queue.** A DS has ``workers`` servers. A job arriving while all are busy waits, first in
  first out; the next waiting job starts when a worker frees (ties in arrival order).
* **Handling.** When a job starts, the DS handles the message: it validates and orders it (a
  commit waiting in the queue is ordered when its turn comes, so a commit that arrived first
  wins even when the DS is busy, and a commit for an epoch another one took while it waited is
  rejected), and builds its fan-out. Nothing leaves yet: every transmission the handling
  produces (``DeliveryService._fan_out``, ``to_client``) is held in an :class:`Outbox`.
* **Cost.** The job's work is counted in a ``WorkCounts`` tally — ``decode`` of the message's
  bytes (priced by the suite's calibrated ``decode``), one ``copy`` per transmission held (each
  recipient's download and each DS–DS copy, by bytes), and what the fan-out strategy reports
  it built (``take_ds_work``: an ``encode`` per IndividualCommit, AnnotatedCommit, annotated
  Welcome or SenderAuthenticatedMessage, by bytes; a ``pre_reencrypt`` per PRE
  re-encryption) — and takes ``ds_cost_of(tally, calibration, suite, cpu_factor)`` seconds.
* **Effects.** When that time has passed the held transmissions are sent, in the order they
  were produced; a group's jobs release their output in the order they started, so a message's
  fan-out never overtakes an earlier one of its group (a later job that finishes first waits).

Each job is a ``ds_processing`` event at its start (``docs/events.md``); the summary's
``processing.ds`` section reads them (:func:`ds_summary`). What is still not modelled is in
``docs/model.md``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import simpy

from ..calibration import Calibration, ds_cost_of
from ..mls.crypto.counting import WorkCounts
from ..scenario.schema import HardwareSpec
from .processing import calibration_of
from .recorder import Recorder

__all__ = ["DSQueue", "Outbox", "make_ds_queue", "ds_summary"]


class _Member(Protocol):
    @property
    def provider(self) -> str: ...


class _DS(Protocol):
    """A DS as its queue sees it (``sim/delivery.py``'s DeliveryService)."""

    provider: str
    held: Outbox | None

    def _fan_out(
        self,
        members: Sequence[Any],
        sizes: Sequence[int],
        calls: Sequence[Callable[[], None]],
        msg_type: str,
        group: str,
        wire_size: int,
    ) -> int: ...
    def to_client(
        self, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None: ...


class _Builder(Protocol):
    """The fan-out strategy's report of what the DS built (``sim/fanouts/plain.py``)."""

    charges_ds: bool

    def take_ds_work(self) -> WorkCounts: ...


class Outbox:
    """The transmissions one job produced, held until its work is done."""

    __slots__ = ("copies", "copy_bytes", "sends")

    def __init__(self) -> None:
        self.sends: list[Callable[[], Any]] = []
        self.copies = 0
        self.copy_bytes = 0

    def fan_out(
        self,
        ds: _DS,
        members: Sequence[_Member],
        sizes: Sequence[int],
        calls: Sequence[Callable[[], None]],
        msg_type: str,
        group: str,
        wire_size: int,
    ) -> int:
        """Hold ``ds._fan_out(...)``; the bytes it will put on the network (as it returns them):
        every recipient's download and one ``wire_size`` copy per other provider. The copies to
        other providers' members are charged to this DS too (docs/model.md)."""
        remote = len({m.provider for m in members} - {ds.provider})
        total = sum(sizes) + wire_size * remote
        self.sends.append(partial(ds._fan_out, members, sizes, calls, msg_type, group, wire_size))
        self.copies += len(members) + remote
        self.copy_bytes += total
        return total

    def to_client(
        self, ds: _DS, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None:
        """Hold ``ds.to_client(...)``: one copy of ``size`` bytes."""
        self.sends.append(partial(ds.to_client, client, size, msg_type, group, deliver))
        self.copies += 1
        self.copy_bytes += size


@dataclass
class _Job:
    ds: _DS
    group: str
    kind: str
    size: int
    body: Callable[[], bool | None]
    arrived: float
    outbox: Outbox = field(default_factory=Outbox)
    done: bool = False


class DSQueue:
    """Every DS's queue of jobs: ``workers`` servers per DS (module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        recorder: Recorder,
        calibration: Calibration,
        suite_id: int,
        cpu_factor: float,
        workers: int,
        builder: _Builder,
    ) -> None:
        self.env = env
        self.recorder = recorder
        self.calibration = calibration
        self.suite_id = suite_id
        self.cpu_factor = cpu_factor
        self.workers = workers
        self.builder = builder
        builder.charges_ds = True  # the strategy keeps its building work for this queue
        #: per DS (provider name): the jobs waiting for a worker, and the workers busy
        self._waiting: dict[str, deque[_Job]] = {}
        self._busy: dict[str, int] = {}
        #: per (provider, group): started jobs whose output is not sent yet, in start order
        self._unsent: dict[tuple[str, str], deque[_Job]] = {}

    def handle(self, ds: _DS, group: str, kind: str, size: int, body: Callable[[], bool | None]) -> None:
        """A message of ``size`` bytes reached ``ds``: ``body()`` handles it when a worker takes
        it (returning False when the DS rejected it), its output leaving once its work is done."""
        job = _Job(ds, group, kind, size, body, self.env.now)
        self._waiting.setdefault(ds.provider, deque()).append(job)
        self._dispatch(ds.provider)

    def _dispatch(self, provider: str) -> None:
        waiting = self._waiting[provider]
        while waiting and self._busy.get(provider, 0) < self.workers:
            self._busy[provider] = self._busy.get(provider, 0) + 1
            self._start(waiting.popleft())

    def _start(self, job: _Job) -> None:
        ds = job.ds
        self.builder.take_ds_work()  # nothing built outside a job is this job's
        ds.held = job.outbox
        try:
            verdict = job.body()
        finally:
            ds.held = None
        tally = WorkCounts()
        tally.add("decode", job.size)
        out = job.outbox
        if out.copies:
            tally["copy"] = out.copies
            tally["copy_bytes"] = out.copy_bytes
        tally.merge(self.builder.take_ds_work())
        seconds = ds_cost_of(tally, self.calibration, self.suite_id, self.cpu_factor)
        now = self.env.now
        self.recorder.event(
            now,
            "ds_processing",
            ds=ds.provider,
            group=job.group,
            op=job.kind if verdict is not False else f"{job.kind}_rejected",
            seconds=round(seconds, 9),
            waited=round(now - job.arrived, 9),
            decode_bytes=job.size,
            copies=out.copies,
            copy_bytes=out.copy_bytes,
            encodes=tally.get("encode", 0),
            encode_bytes=tally.get("encode_bytes", 0),
            reencryptions=tally.get("pre_reencrypt", 0),
        )
        self._unsent.setdefault((ds.provider, job.group), deque()).append(job)
        self.env.timeout(seconds).callbacks.append(partial(self._done, job))

    def _done(self, job: _Job, _ev: simpy.Event) -> None:
        job.done = True
        provider = job.ds.provider
        self._busy[provider] -= 1
        unsent = self._unsent[(provider, job.group)]
        while unsent and unsent[0].done:
            for send in unsent.popleft().outbox.sends:
                send()
        self._dispatch(provider)


def make_ds_queue(
    spec: HardwareSpec | None,
    env: simpy.Environment,
    recorder: Recorder,
    suite_id: int,
    builder: _Builder,
    base_dir: Any,
) -> DSQueue | None:
    """A :class:`DSQueue` when the scenario gives ``hardware.ds`` with processing time on."""
    if spec is None or not spec.processing_time or spec.ds is None:
        return None
    calibration = calibration_of(spec, base_dir)
    return DSQueue(env, recorder, calibration, suite_id, spec.ds_cpu_factor(), spec.ds.workers, builder)


def _stats(xs: list[float]) -> dict[str, float | int | None]:
    """``n``, ``mean``, ``p95`` and ``max`` of ``xs`` (None when empty)."""
    if not xs:
        return {"n": 0, "mean": None, "p95": None, "max": None}
    s = sorted(xs)
    k = max(0, min(len(s) - 1, math.ceil(0.95 * len(s)) - 1))
    return {
        "n": len(s),
        "mean": round(math.fsum(s) / len(s), 9),
        "p95": round(s[k], 9),
        "max": round(s[-1], 9),
    }


def ds_summary(
    events: Iterable[dict[str, Any]], providers: Sequence[str], workers: int, span: float
) -> dict[str, Any]:
    """The summary's ``processing.ds``: per job kind the seconds a job took, the queueing delay
    of every job, and per DS its jobs, busy time and utilisation (busy time over ``workers`` ×
    the ``span`` of simulated time the run measured)."""
    by_op: dict[str, list[float]] = {}
    waited: list[float] = []
    busy: dict[str, list[float]] = {p: [] for p in providers}
    for e in events:
        by_op.setdefault(e["op"], []).append(e["seconds"])
        waited.append(e["waited"])
        busy[e["ds"]].append(e["seconds"])
    return {
        "jobs": len(waited),
        "seconds": {op: _stats(v) for op, v in sorted(by_op.items())},
        "waited_s": _stats(waited),
        "by_ds": {
            p: {
                "jobs": len(busy[p]),
                "busy_s": round(math.fsum(busy[p]), 9),
                "utilisation": round(math.fsum(busy[p]) / (workers * span), 9) if span > 0 else None,
            }
            for p in sorted(providers)
        },
    }
