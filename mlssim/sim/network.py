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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import simpy

from ..scenario.schema import LinkSpec, NetworkSpec
from .distributions import sampler
from .recorder import Recorder
from .rng import Streams

__all__ = ["Network", "LINK_CLASSES"]

LINK_CLASSES = ("client_ds", "ds_ds", "ds_as")


class _Link:
    """One directed link: its class's parameters and its in-flight queue (FIFO)."""

    __slots__ = (
        "arrival",
        "bandwidth",
        "dst",
        "free",
        "latency",
        "link",
        "loss",
        "lat_rng",
        "loss_rng",
        "queue",
        "rto",
        "src",
    )

    def __init__(
        self,
        src: str,
        dst: str,
        link: str,
        spec: LinkSpec,
        draw: Callable[[Any], float],
        rngs: tuple[Any, Any],
    ) -> None:
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
        # transmissions in flight in send order: each arrival event delivers the head, so equal
        # or float-rounded arrival times can never reorder a link
        self.queue: deque[list[Any]] = deque()

    def deliver(self, ev: simpy.Event) -> None:
        t, callback = self.queue.popleft()
        t.recv_time = ev.env.now
        callback()


class Network:
    __slots__ = ("_base_dir", "_draw", "_links", "_rng", "_specs", "env", "recorder")

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
        self._links: dict[tuple[str, str], _Link] = {}
        self._base_dir = base_dir

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
        ln = self._links.get((src, dst))
        if ln is None:
            ln = self._links[(src, dst)] = _Link(
                src, dst, link, self._specs[link], self._draw[link], self._rng[link]
            )
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
        slot: list[Any] = [None, on_receive]
        ln.queue.append(slot)
        if attempts == 0:
            slot[0] = rec.transmit(now, src, dst, link, role, msg_type, group, size)
        else:

            def record_lost(_ev: simpy.Event) -> None:
                rec.transmit(env.now, src, dst, link, role, msg_type, group, size).lost = True

            for k in range(attempts):
                if k == 0:
                    record_lost(env.timeout(0))
                else:
                    env.timeout(k * ln.rto).callbacks.append(record_lost)

            def send_final(_ev: simpy.Event) -> None:
                slot[0] = rec.transmit(env.now, src, dst, link, role, msg_type, group, size)

            env.timeout(t_final - now).callbacks.append(send_final)
        env.timeout(arrival - now).callbacks.append(ln.deliver)
