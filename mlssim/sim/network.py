"""The network: every byte between actors crosses it and is recorded once.

Model (written down because figures depend on it):
- A *link* is a directed pair of actors with a class (``client_ds``, ``ds_ds``, ``ds_as``)
  whose parameters come from the scenario.
- Latency is drawn per transmission from the class's distribution.
- With a bandwidth, a transmission occupies its link for ``8·bytes/bandwidth`` seconds and
  transmissions queue FIFO behind each other (serialization delay).
- Delivery on a directed link is in order (as over one TCP connection): a transmission never
  arrives before one sent earlier on the same link.
- With loss probability p, a transmission is lost (recorded, with no receive time) and sent
  again after the retransmission timeout, as a new transmission — so every byte sent is either
  received or recorded as lost.
- Bytes are the encoded MLS message plus nothing: transport headers are not modelled.

Cost per transmission (the engine's hot path): a DS fan-out hands its whole batch to
``send_many`` (one loop, the batch's latencies drawn in one call, recorded in one call into the
recorder's columns), and each transmission's arrival is one simpy heap entry whose event is the
link itself (see ``_Link``), not a ``Timeout`` object. Draws, records, arrival times and the
order of simultaneous events are those of one ``send`` per transmission.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from heapq import heappush
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import simpy
from simpy.events import NORMAL

from ..scenario.schema import Distribution, LinkSpec, NetworkSpec
from .distributions import sampler, sampler_many
from .recorder import Recorder
from .rng import Streams

if TYPE_CHECKING:
    import random

__all__ = ["Network", "LINK_CLASSES", "LinkGate"]

LINK_CLASSES = ("client_ds", "ds_ds", "ds_as")


class LinkGate(Protocol):
    """Faults as the network meets them (``sim/faults.py``): when a link is down, cut or
    degraded, and what a fault delayed (issue 20). Without one, no link ever fails."""

    #: the stream of degraded links' losses
    rng: random.Random

    def departure(self, src: str, dst: str, t: float) -> tuple[float, int]: ...
    def cut(self, src: str, dst: str, t0: float, t1: float) -> tuple[float, int] | None: ...
    def degradation(self, src: str, dst: str, t: float) -> tuple[float, float, int]: ...
    def affected(self, cause: int, size: int, resent: bool, arrival: float) -> None: ...


class _Link(simpy.Event):
    """One directed link: its class's parameters and its in-flight queue (FIFO).

    The link is also its own arrival event. Every transmission on the link schedules the link
    object once, at the transmission's arrival time, with ``env.schedule`` (so the simpy heap
    holds one entry per transmission, ordered by time and insertion order exactly as one
    ``Timeout`` each would be), and each time it is popped, ``_arrive`` delivers the head of the
    queue. This saves creating a ``Timeout`` per transmission. simpy's kernel reads only
    ``callbacks`` and ``_ok`` of a popped event and sets ``callbacks`` to None before calling
    them; ``_arrive`` puts its callback list back for the link's next arrival.
    """

    __slots__ = (
        "_cbs",
        "_recv",
        "arrival",
        "bandwidth",
        "dst",
        "free",
        "lat_rng",
        "latency",
        "link",
        "loss",
        "loss_rng",
        "queue",
        "rto",
        "src",
    )

    def __init__(
        self,
        env: simpy.Environment,
        src: str,
        dst: str,
        link: str,
        spec: LinkSpec,
        draw: Callable[[Any], float],
        rngs: tuple[Any, Any],
        recv_time: list[float | None],
    ) -> None:
        # a triggered event that never fails (Event.__init__ would make it pending)
        self.env = env
        self._value = None
        self._ok = True
        self._cbs: list[Callable[[simpy.Event], None]] = [self._arrive]
        self.callbacks = self._cbs
        self._recv = recv_time
        self.src = src
        self.dst = dst
        self.link = link
        self.latency = draw
        self.lat_rng, self.loss_rng = rngs
        self.loss = spec.loss
        self.rto = spec.retransmit_timeout
        self.bandwidth = spec.bandwidth
        self.free = 0.0
        self.arrival = 0.0
        # transmissions in flight in send order, as (transmission id, on_receive): each arrival
        # delivers the head, so equal or float-rounded arrival times can never reorder a link.
        # A retransmitted one is a list whose id is filled in when its final attempt leaves.
        self.queue: deque[tuple[int, Callable[[], Any]] | list[Any]] = deque()

    def _arrive(self, _ev: simpy.Event) -> None:
        self.callbacks = self._cbs
        tid, callback = self.queue.popleft()
        self._recv[tid] = self.env._now  # the property's value, without its frame
        callback()


class Network:
    __slots__ = (
        "_access",
        "_base_dir",
        "_draw",
        "_draw_many",
        "_ds_latency",
        "_gate",
        "_links",
        "_rng",
        "_specs",
        "env",
        "recorder",
    )

    def __init__(
        self,
        env: simpy.Environment,
        streams: Streams,
        spec: NetworkSpec,
        recorder: Recorder,
        base_dir: Path | None = None,
    ) -> None:
        self.env = env
        self.recorder = recorder
        self._specs: dict[str, LinkSpec] = {c: getattr(spec, c) for c in LINK_CLASSES}
        self._rng = {
            c: (streams.stream(f"net/{c}/latency"), streams.stream(f"net/{c}/loss")) for c in LINK_CLASSES
        }
        self._draw = {c: sampler(self._specs[c].latency, base_dir) for c in LINK_CLASSES}
        self._draw_many = {c: sampler_many(self._specs[c].latency, base_dir) for c in LINK_CLASSES}
        #: src -> dst -> link
        self._links: dict[str, dict[str, _Link]] = {}
        self._base_dir = base_dir
        #: hardware profiles' access links: ``(client node, class spec, upload?) -> spec`` for the
        #: client_ds links (None: every link takes its class's spec)
        self._access: Callable[[str, LinkSpec, bool], LinkSpec] | None = None
        #: regions (issue 20): ``(src node, dst node) -> latency`` of a ds_ds link, or None for
        #: the class's
        self._ds_latency: Callable[[str, str], Distribution | None] | None = None
        #: faults (issue 20): links that go down, are cut or degraded (None: never)
        self._gate: LinkGate | None = None

    def idle(self) -> bool:
        """No transmission is in flight on any link."""
        return not any(ln.queue for links in self._links.values() for ln in links.values())

    def use_ds_latency(self, latency: Callable[[str, str], Distribution | None]) -> None:
        """Give each ds_ds link the latency ``latency`` returns (``sim/faults.py``'s region
        precedence rule; None keeps ``network.ds_ds``); set before any transmission."""
        self._ds_latency = latency

    def use_gate(self, gate: LinkGate) -> None:
        """Send every transmission through ``gate``'s faults (:meth:`_send_gated`)."""
        self._gate = gate

    def use_access_links(self, access: Callable[[str, LinkSpec, bool], LinkSpec]) -> None:
        """Give each client's own links the spec ``access`` returns (``sim/processing.py``'s
        precedence rule); set before any transmission."""
        self._access = access

    def _new_link(self, src: str, dst: str, link: str) -> _Link:
        spec, draw, rngs = self._specs[link], self._draw[link], self._rng[link]
        if self._access is not None and link == "client_ds":
            upload = src.startswith("c:")
            own = self._access(src if upload else dst, spec, upload)
            if own is not spec:  # the client's profile has a link: its latency and rate
                spec, draw = own, sampler(own.latency, self._base_dir)
        if self._ds_latency is not None and link == "ds_ds":
            regional = self._ds_latency(src, dst)
            if regional is not None:
                draw = sampler(regional, self._base_dir)
        ln = _Link(self.env, src, dst, link, spec, draw, rngs, self.recorder.recv_time)
        self._links.setdefault(src, {})[dst] = ln
        return ln

    def send(
        self,
        src: str,
        dst: str,
        link: str,
        size: int,
        *,
        role: str,
        msg_type: str,
        group: str,
        on_receive: Callable[[], Any],
    ) -> None:
        """Transmit ``size`` bytes; ``on_receive()`` runs at the receiver on arrival.

        Losses are decided now: each lost attempt is recorded at its own send time and the
        final attempt keeps this transmission's place in the link's FIFO order, so a later
        message on the same link never overtakes a retransmitted one (head-of-line blocking,
        as over TCP).
        """
        by_dst = self._links.get(src)
        ln = by_dst.get(dst) if by_dst is not None else None
        if ln is None:
            ln = self._new_link(src, dst, link)
        if self._gate is not None:
            self._send_gated(self._gate, ln, size, role, msg_type, group, on_receive)
            return
        env = self.env
        now = env.now
        rec = self.recorder
        attempts = 0
        if ln.loss > 0:
            while ln.loss_rng.random() < ln.loss:
                attempts += 1
        t_final = now + attempts * ln.rto
        start = t_final
        if ln.bandwidth is not None:
            start = max(t_final, ln.free) + 8.0 * size / ln.bandwidth
            ln.free = start
        arrival = start + ln.latency(ln.lat_rng)
        if arrival < ln.arrival:
            arrival = ln.arrival
        ln.arrival = arrival
        # join the link's queue now, in send order; the record is made when the final attempt
        # actually leaves (at t_final ≤ arrival)
        if attempts == 0:
            ln.queue.append((rec.transmit(now, src, dst, link, role, msg_type, group, size), on_receive))
        else:
            slot: list[Any] = [None, on_receive]
            ln.queue.append(slot)

            def record_lost(_ev: simpy.Event | None = None) -> None:
                rec.transmit(env.now, src, dst, link, role, msg_type, group, size, lost=True)

            for k in range(attempts):
                if k == 0:
                    record_lost()
                else:
                    env.timeout(k * ln.rto).callbacks.append(record_lost)

            def send_final(_ev: simpy.Event) -> None:
                slot[0] = rec.transmit(env.now, src, dst, link, role, msg_type, group, size)

            env.timeout(t_final - now).callbacks.append(send_final)
        env.schedule(ln, NORMAL, arrival - now)

    def send_many(
        self,
        src: str,
        dsts: list[str],
        link: str,
        sizes: Sequence[int],
        *,
        role: str,
        msg_type: str,
        group: str,
        on_receive: Sequence[Callable[[], Any]],
    ) -> None:
        """``send(src, dsts[i], link, sizes[i], ..., on_receive=on_receive[i])`` for each ``i``
        in order: the same draws, records and arrival events as those calls, done in one loop.

        On a lossy link class each transmission goes through :meth:`send` (losses interleave
        records with later sends); otherwise the batch is recorded with one call."""
        if (
            self._specs[link].loss > 0
            or (self._access is not None and link == "client_ds")
            or (self._ds_latency is not None and link == "ds_ds")
            or self._gate is not None
        ):
            # (access links and regions: each link has its own latency distribution; faults:
            # each transmission meets them on its own)
            for dst, size, cb in zip(dsts, sizes, on_receive, strict=True):
                self.send(src, dst, link, size, role=role, msg_type=msg_type, group=group, on_receive=cb)
            return
        env = self.env
        now = env.now
        # env.schedule(ln, NORMAL, arrival - now), inlined (one frame less per transmission):
        # the same heap entry, time computed as simpy computes it, ids from simpy's own counter
        queue, eid = env._queue, env._eid
        by_dst = self._links.get(src)
        if by_dst is None:
            by_dst = self._links[src] = {}
        tid = self.recorder.transmit_many(now, src, dsts, link, role, msg_type, group, sizes)
        # every link of a class draws from the class's stream: the batch's draws, in order
        latencies = self._draw_many[link](self._rng[link][0], len(dsts))
        for dst, size, cb, latency in zip(dsts, sizes, on_receive, latencies, strict=True):
            ln = by_dst.get(dst)
            if ln is None:
                ln = self._new_link(src, dst, link)
            if ln.bandwidth is None:
                arrival = now + latency
            else:
                start = max(now, ln.free) + 8.0 * size / ln.bandwidth
                ln.free = start
                arrival = start + latency
            if arrival < ln.arrival:
                arrival = ln.arrival
            ln.arrival = arrival
            ln.queue.append((tid, cb))
            tid += 1
            heappush(queue, (now + (arrival - now), NORMAL, next(eid), ln))

    def _send_gated(
        self,
        gate: LinkGate,
        ln: _Link,
        size: int,
        role: str,
        msg_type: str,
        group: str,
        on_receive: Callable[[], Any],
    ) -> None:
        """:meth:`send` through the faults (issue 20): the link's own losses first, then each
        attempt leaves when the link is up (``gate.departure``), may be lost on a degraded link
        or cut in flight, and is resent after the link's timeout (loss) or at the sender's next
        try once the link is up (a fault). Lost attempts are recorded as lost, at their send
        time; the final attempt keeps the transmission's place in the link's FIFO order."""
        env = self.env
        now = env.now
        rec = self.recorder
        src, dst, link = ln.src, ln.dst, ln.link
        lost_at: list[float] = []
        t = now
        while ln.loss > 0 and ln.loss_rng.random() < ln.loss:
            lost_at.append(t)
            t += ln.rto
        cause, resent = -1, False
        while True:
            t2, held_by = gate.departure(src, dst, t)
            if held_by >= 0:
                cause, resent, t = held_by, True, t2
            extra, loss, degraded_by = gate.degradation(src, dst, t)
            if degraded_by >= 0:
                cause = degraded_by
                if loss > 0 and gate.rng.random() < loss:
                    lost_at.append(t)
                    t += ln.rto
                    resent = True
                    continue
            start = t
            if ln.bandwidth is not None:
                start = max(t, ln.free) + 8.0 * size / ln.bandwidth
                ln.free = start
            arrival = start + ln.latency(ln.lat_rng) + extra
            cut = gate.cut(src, dst, t, arrival)
            if cut is None:
                break
            lost_at.append(t)
            t, cause, resent = cut[0], cut[1], True
        arrival = max(arrival, ln.arrival)
        ln.arrival = arrival
        if cause >= 0:
            gate.affected(cause, size, resent, arrival)
        if not lost_at and t == now:
            ln.queue.append((rec.transmit(now, src, dst, link, role, msg_type, group, size), on_receive))
        else:
            slot: list[Any] = [None, on_receive]
            ln.queue.append(slot)

            def record_lost(_ev: simpy.Event | None = None) -> None:
                rec.transmit(env.now, src, dst, link, role, msg_type, group, size, lost=True)

            def send_final(_ev: simpy.Event | None = None) -> None:
                slot[0] = rec.transmit(env.now, src, dst, link, role, msg_type, group, size)

            for when in lost_at:
                if when == now:
                    record_lost()
                else:
                    env.timeout(when - now).callbacks.append(record_lost)
            if t == now:
                send_final()
            else:
                env.timeout(t - now).callbacks.append(send_final)
        env.schedule(ln, NORMAL, arrival - now)
