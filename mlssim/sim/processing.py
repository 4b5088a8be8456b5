"""Time that costs (issue 19): hardware profiles, and clients as queues whose work takes time.

Two strategies own how a client's work relates to simulated time:

* :class:`Instant` (no ``hardware`` section, or ``hardware.processing_time: off``): work is
  done the instant it is asked for; ``run(..., compute, then)`` is ``then(compute())``. Every
  result is as before processing time existed.
* :class:`Queued` (``processing_time: on``): each client handles one job at a time, in the order
  they were asked for (a job waits while the client is busy). A job's ``compute`` (its MLS work:
  creating a commit, processing one, joining, decrypting) runs when the client is free, with
  every primitive it executes counted (``mls/crypto/counting.py``: the suite interface, the
  codec's decodes, and the work a shared cache hit stands for); it costs
  ``cost_of(counts, calibration, suite, cpu_factor)`` seconds, and its ``then`` (the effects:
  what the client sends and records) runs when that time has passed. Each job is recorded as a
  ``processing`` event (its kind, the seconds it took, and how long it waited).

A client's hardware profile (``hardware.mix``) gives its ``cpu_factor`` and, when the profile
has a link, its access link, which replaces ``network.client_ds`` for its traffic (one rule:
:meth:`Hardware.access_link`). The DS's own processing is not modelled yet (its splitting and
re-encryption work is recorded as events, ``ds_split`` and ``pre_rekey``) unless ``hardware.ds``
makes each DS a queue too (``sim/ds_processing.py``). ``hardware.kem_cost: native`` prices the
post-quantum KEMs at published native numbers (:func:`calibration_of`).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import simpy

from ..calibration import Calibration, cost_of, default_calibration, load_calibration, native_pq_calibration
from ..mls.crypto.counting import WorkCounts, counting
from ..scenario.schema import HardwareProfile, HardwareSpec, LinkSpec
from .recorder import Recorder

__all__ = ["Processing", "Instant", "Queued", "Hardware", "make_processing"]

T = TypeVar("T")


class Processing(Protocol):
    """How a client's work takes time."""

    #: work takes no simulated time: ``run(client, kind, compute, then)`` is exactly
    #: ``then(compute())``, which a hot path (one call per delivery) may call itself
    instant: bool

    def run(self, client: str, kind: str, compute: Callable[[], T], then: Callable[[T], None]) -> None:
        """Do ``compute`` as ``client``'s next job of ``kind``, then ``then(result)``."""
        ...

    def busy(self, client: str) -> bool:
        """``client`` has a job running or waiting."""
        ...


class Instant:
    """Work takes no simulated time."""

    instant = True

    def run(self, client: str, kind: str, compute: Callable[[], T], then: Callable[[T], None]) -> None:
        then(compute())

    def busy(self, client: str) -> bool:
        return False


class Queued:
    """One job at a time per client, each costing its counted work (module docstring)."""

    instant = False

    def __init__(
        self,
        env: simpy.Environment,
        recorder: Recorder,
        calibration: Calibration,
        suite_id: int,
        cpu_factor: Callable[[str], float],
    ) -> None:
        self.env = env
        self.recorder = recorder
        self.calibration = calibration
        self.suite_id = suite_id
        self.cpu_factor = cpu_factor
        self._queues: dict[str, deque[tuple[str, Callable[[], Any], Callable[[Any], None], float]]] = {}
        self._running: set[str] = set()

    def run(self, client: str, kind: str, compute: Callable[[], T], then: Callable[[T], None]) -> None:
        self._queues.setdefault(client, deque()).append((kind, compute, then, self.env.now))
        if client not in self._running:
            self._next(client)

    def busy(self, client: str) -> bool:
        return client in self._running

    def _next(self, client: str) -> None:
        queue = self._queues[client]
        if not queue:
            self._running.discard(client)
            return
        self._running.add(client)
        kind, compute, then, asked = queue.popleft()
        tally = WorkCounts()
        with counting(tally):
            result = compute()
        seconds = cost_of(tally, self.calibration, self.suite_id, self.cpu_factor(client))
        now = self.env.now
        self.recorder.event(
            now, "processing", client=client, op=kind, seconds=round(seconds, 9), waited=round(now - asked, 9)
        )

        def done(_ev: simpy.Event) -> None:
            then(result)
            self._next(client)

        self.env.timeout(seconds).callbacks.append(done)


class Hardware:
    """Which profile each client runs on (``hardware.mix``), drawn once per client from a
    stream named after it, so that it does not depend on the order clients are created."""

    def __init__(self, spec: HardwareSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self._of: dict[str, str] = {}

    def profile_name(self, client: str, provider: str, population: bool) -> str:
        name = self._of.get(client)
        if name is None:
            mix = self.spec.mix
            weights = (
                mix.population
                if population and mix.population is not None
                else mix.providers.get(provider, mix.clients)
            )
            name = self._of[client] = _draw(weights, f"{self.seed}/hardware/{client}")
        return name

    def profile(self, client: str) -> HardwareProfile:
        """The profile drawn for ``client`` (it must have been assigned)."""
        return self.spec.profiles[self._of[client]]

    def access_link(self, client: str, base: LinkSpec, *, upload: bool) -> LinkSpec:
        """The precedence rule: a client whose profile has a link uses it (rate in the direction
        of travel, its latency) instead of ``network.client_ds``; loss and retransmission stay
        the class's."""
        link = self.profile(client).link
        if link is None:
            return base
        rate = link.up_mbps if upload else link.down_mbps
        return base.model_copy(update={"latency": link.latency, "bandwidth": rate * 1e6})


def _draw(weights: dict[str, float], name: str) -> str:
    """A weighted choice from a hash of ``name`` (stable across runs and PYTHONHASHSEED)."""
    u = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2**64
    total = sum(weights.values())
    acc = 0.0
    for profile, w in sorted(weights.items()):
        acc += w / total
        if u < acc:
            return profile
    return max(sorted(weights.items()), key=lambda kv: kv[1])[0]


def calibration_of(spec: HardwareSpec, base_dir: Any) -> Calibration:
    """The scenario's calibration: the shipped default, or its file (checked on load); under
    ``kem_cost: native`` its post-quantum KEMs priced natively (``calibration/native_pq.py``)."""
    if spec.calibration == "default":
        cal = default_calibration()
    else:
        cal = load_calibration(base_dir / spec.calibration)
    return native_pq_calibration(cal) if spec.kem_cost == "native" else cal


def make_processing(
    spec: HardwareSpec | None,
    env: simpy.Environment,
    recorder: Recorder,
    suite_id: int,
    hardware: Hardware | None,
    base_dir: Any,
) -> Processing:
    """:class:`Queued` when the scenario turns processing time on, else :class:`Instant`."""
    if spec is None or not spec.processing_time or hardware is None:
        return Instant()
    hw = hardware
    return Queued(env, recorder, calibration_of(spec, base_dir), suite_id, lambda c: hw.profile(c).cpu_factor)
