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
from .distributions import sample
from .recorder import Recorder
from .rng import Streams

__all__ = ["Network", "LINK_CLASSES"]

LINK_CLASSES = ("client_ds", "ds_ds", "ds_as")


class Network:
    __slots__ = ("_arrival", "_base_dir", "_free", "_queues", "_rng", "_specs", "env", "recorder")

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
        self._free: dict[tuple[str, str], float] = {}
        self._arrival: dict[tuple[str, str], float] = {}
        # per directed link, transmissions in flight in send order: each arrival event delivers
        # the head, so equal or float-rounded arrival times can never reorder a link
        self._queues: dict[tuple[str, str], deque[list[Any]]] = {}
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
        spec = self._specs[link]
        lat_rng, loss_rng = self._rng[link]
        env = self.env
        now = env.now
        key = (src, dst)
        attempts = 0
        while spec.loss > 0 and loss_rng.random() < spec.loss:
            attempts += 1
        t_final = now + attempts * spec.retransmit_timeout
        start = t_final
        if spec.bandwidth is not None:
            start = max(t_final, self._free.get(key, 0.0)) + 8.0 * size / spec.bandwidth
            self._free[key] = start
        arrival = max(start + sample(spec.latency, lat_rng, self._base_dir), self._arrival.get(key, 0.0))
        self._arrival[key] = arrival
        rec = self.recorder

        def record_lost(_ev: simpy.Event) -> None:
            rec.transmit(env.now, src, dst, link, role, msg_type, group, size).lost = True

        for k in range(attempts):
            if k == 0:
                record_lost(env.timeout(0))
            else:
                env.timeout(k * spec.retransmit_timeout).callbacks.append(record_lost)

        queue = self._queues.setdefault(key, deque())
        # join the link's queue now, in send order; the record is made when the final attempt
        # actually leaves (at t_final ≤ arrival)
        slot: list[Any] = [None, on_receive]
        queue.append(slot)

        def send_final(_ev: simpy.Event | None) -> None:
            slot[0] = rec.transmit(env.now, src, dst, link, role, msg_type, group, size)

        def deliver(_ev2: simpy.Event) -> None:
            t, callback = queue.popleft()
            t.recv_time = env.now
            callback()

        if attempts == 0:
            send_final(None)
        else:
            env.timeout(t_final - now).callbacks.append(send_final)
        env.timeout(arrival - now).callbacks.append(deliver)
