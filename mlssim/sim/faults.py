"""Faults in a run (issue 20): the network's gate, the faults' events, hub failover, and what
they cost (the ``faults`` section of the summary, ``sim/fault_summary.py``).

Everything here is opt-in: ``World`` builds a :class:`Faults` only for a scenario with a
``faults`` section, and region latencies (:func:`region_latencies`) only when a provider has a
``region``. The timeline is fixed at build time (``sim/fault_schedule.py``: scripted faults and
random ones drawn from the ``faults/random`` stream), so the network can tell at send time when
a transmission gets through. What each design does under each fault: ``docs/federation.md``.

Failover (``faults.failover``, designs whose orderer decides: ``single``, ``hub``): when the DS
ordering a group has been down for ``detection`` seconds, the provider up then hosting most
of the group's members takes over. One of its members (else a member elsewhere) uploads its
signed GroupInfo with the ratchet tree (the handover's bytes); when it arrives, the new DS holds
the group's record (epoch from that member's state, membership as the old record) and orders;
it tells every other provider hosting members (one control message each), clients route their
next messages to it, and a committer whose commit never reached an orderer redoes it there.
The ordering does not move back when the old DS returns.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import simpy

from ..mls.codec import encode
from ..mls.group import Group
from ..scenario.regions import region_latency
from ..scenario.schema import Distribution, FaultsSpec, Scenario
from .delivery import DeliveryService
from .fault_schedule import Schedule, Window
from .network import Network
from .recorder import Recorder
from .records import CONTROL_BYTES, GroupRecord, PendingCommit
from .rng import Streams
from .routing import Hop, relay, route

__all__ = ["Faults", "FaultWorld", "region_latencies"]


def region_latencies(scenario: Scenario) -> Callable[[str, str], Distribution | None] | None:
    """The region precedence rule as the network asks it: a ds_ds link between two providers
    that both have a region takes the matrix's latency; None for any other link, and no rule
    at all when no provider has a region (nothing changes)."""
    regions = {p.name: p.region for p in scenario.providers if p.region is not None}
    if not regions:
        return None

    def latency(src: str, dst: str) -> Distribution | None:
        a, b = regions.get(src.partition(":")[2]), regions.get(dst.partition(":")[2])
        return region_latency(a, b) if a is not None and b is not None else None

    return latency


class FaultClient(Protocol):
    name: str
    node: str
    provider: str
    groups: dict[str, Group]
    pending: dict[str, PendingCommit]

    def on_reject(self, group: str) -> None: ...
    def forget_route(self, group: str) -> None: ...


class _Provider(Protocol):
    @property
    def ds(self) -> DeliveryService: ...


class _Ordering(Protocol):
    #: does a DS decide every commit (ordered designs), so that it can fail over?
    decides: bool


class FaultWorld(Protocol):
    """What the faults need from the world."""

    env: simpy.Environment
    recorder: Recorder
    network: Network
    streams: Streams
    scenario: Scenario
    ds_groups: dict[str, str]

    @property
    def providers(self) -> Mapping[str, _Provider]: ...
    @property
    def clients(self) -> Mapping[str, FaultClient]: ...
    @property
    def ordering(self) -> _Ordering: ...


@dataclass
class _Stats:
    """What one fault delayed: transmissions resent or held, their bytes, the last arrival."""

    resent: int = 0
    resent_bytes: int = 0
    delayed: int = 0
    last_arrival: float = 0.0


class Faults:
    """The run's faults: the network's :class:`~mlssim.sim.network.LinkGate`, the fault events
    and failover."""

    def __init__(self, world: FaultWorld, spec: FaultsSpec) -> None:
        self.world = world
        self.spec = spec
        names = [p.name for p in world.scenario.providers]
        self.providers = names
        self.schedule = Schedule.build(
            spec, names, world.scenario.duration, world.streams.stream("faults/random")
        )
        self.rng = world.streams.stream("faults/loss")
        self.stats = [_Stats() for _ in self.schedule.windows]
        #: group -> [(time, provider ordering it from then)]
        self.orderers: dict[str, list[tuple[float, str]]] = {}

    # -- the network's gate ---------------------------------------------------------------------

    def departure(self, src: str, dst: str, t: float) -> tuple[float, int]:
        return self.schedule.departure(src, dst, t)

    def cut(self, src: str, dst: str, t0: float, t1: float) -> tuple[float, int] | None:
        w = self.schedule.cut(src, dst, t0, t1)
        return None if w is None else (w.start, w.index)

    def degradation(self, src: str, dst: str, t: float) -> tuple[float, float, int]:
        return self.schedule.degradation(src, dst, t)

    def affected(self, cause: int, size: int, resent: bool, arrival: float) -> None:
        st = self.stats[cause]
        st.delayed += 1
        if resent:
            st.resent += 1
            st.resent_bytes += size
        st.last_arrival = max(st.last_arrival, arrival)

    # -- the timeline ------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every fault's start and end events, and the failover checks."""
        env = self.world.env
        for g, p in sorted(self.world.ds_groups.items()):
            self.orderers[g] = [(0.0, p)]
        for w in self.schedule.windows:
            env.timeout(w.start).callbacks.append(partial(self._started, w))
            env.timeout(w.end).callbacks.append(partial(self._ended, w))
            if w.kind == "down" and self.spec.failover.enabled and self.world.ordering.decides:
                at = w.start + self.spec.failover.detection
                if at < w.end:
                    env.timeout(at).callbacks.append(partial(self._fail_over, w))

    def _started(self, w: Window, _ev: simpy.Event) -> None:
        self.world.recorder.event(
            self.world.env.now,
            "fault_start",
            fault=w.index,
            fault_kind=w.kind,
            origin=w.origin,
            providers=sorted(w.providers),
            sides=[sorted(s) for s in w.sides],
            end=round(w.end, 6),
        )

    def _ended(self, w: Window, _ev: simpy.Event) -> None:
        st = self.stats[w.index]
        self.world.recorder.event(
            self.world.env.now,
            "fault_end",
            fault=w.index,
            fault_kind=w.kind,
            duration=round(w.end - w.start, 6),
            delayed=st.delayed,
            resent=st.resent,
            resent_bytes=st.resent_bytes,
            recovery=round(max(0.0, st.last_arrival - w.end), 6),
        )

    # -- failover ----------------------------------------------------------------------------------

    def _fail_over(self, window: Window, _ev: simpy.Event) -> None:
        w = self.world
        now = w.env.now
        for group, orderer in sorted(w.ds_groups.items()):
            if orderer not in window.providers or not self.schedule.down(orderer, now):
                continue
            rec = w.providers[orderer].ds.groups.get(group)
            if rec is not None:
                self._hand_over(group, orderer, rec, window.start)

    def _successor(self, old: str, rec: GroupRecord) -> str | None:
        now = self.world.env.now
        up = [p for p in self.providers if p != old and not self.schedule.down(p, now)]
        if not up:
            return None
        hosted = {p: sum(1 for q in rec.members.values() if q == p) for p in up}
        return max(up, key=lambda p: (hosted[p], -up.index(p)))

    def _hand_over(self, group: str, old: str, rec: GroupRecord, down_since: float) -> None:
        """The new orderer gets the group's public state from one of its members."""
        w = self.world
        now = w.env.now
        new = self._successor(old, rec)
        if new is None:
            return
        holders = [
            m
            for m in rec.members
            if group in w.clients[m].groups and self.schedule.reachable(w.clients[m].provider, new, now)
        ]
        if not holders:
            return
        holders.sort(key=lambda m: w.clients[m].provider != new)  # its own members first
        src = w.clients[holders[0]]
        g = src.groups[group]
        size = len(encode(g.group_info(with_tree=True)))
        epoch = g.epoch
        hops = route(
            Hop(src.node, f"ds:{src.provider}", "client_ds", "upload"),
            Hop(f"ds:{src.provider}", f"ds:{new}", "ds_ds", "forward"),
        )
        then = partial(self._installed, group, old, new, rec, epoch, size, down_since)
        relay(w.network, hops, size, "handover_state", group, then)

    def _installed(
        self, group: str, old: str, new: str, rec: GroupRecord, epoch: int, size: int, down_since: float
    ) -> None:
        w = self.world
        now = w.env.now
        if w.ds_groups[group] != old:  # moved meanwhile
            return
        ds = w.providers[new].ds
        ds.groups[group] = GroupRecord(
            name=group,
            owner=new,
            epoch=epoch,
            members=dict(rec.members),
            group_info=rec.group_info,
            tree=rec.tree,
            pre_store=rec.pre_store,
        )
        w.ds_groups[group] = new
        self.orderers.setdefault(group, [(0.0, old)]).append((now, new))
        told = sorted({p for p in rec.members.values() if p != new})
        for p in told:
            w.network.send(
                ds.node,
                f"ds:{p}",
                "ds_ds",
                CONTROL_BYTES,
                role="fanout",
                msg_type="handover",
                group=group,
                on_receive=lambda: None,
            )
        w.recorder.event(
            now,
            "failover",
            group=group,
            old=old,
            new=new,
            epoch=epoch,
            bytes=size + CONTROL_BYTES * len(told),
            duration=round(now - down_since, 6),
        )
        for name in sorted(w.clients):
            c = w.clients[name]
            c.forget_route(group)
            waiting = c.pending.get(group)
            if waiting is not None and not waiting.delivered and not self.schedule.down(c.provider, now):
                w.recorder.event(now, "commit_redirected", group=group, client=name)
                c.on_reject(group)

    # -- what the summary reads --------------------------------------------------------------------

    def orderer_at(self, group: str, t: float) -> str:
        hist = self.orderers.get(group) or [(0.0, self.world.ds_groups[group])]
        cur = hist[0][1]
        for since, p in hist:
            if since <= t:
                cur = p
        return cur

    def availability(self, members: Mapping[str, list[tuple[str, str]]], until: float) -> list[float]:
        """Per (group, member at a provider): the share of ``[0, until]`` in which it could get a
        commit accepted: its home DS up and, with an orderer, able to reach the group's
        orderer of the time."""
        cuts = {0.0, until}
        for win in self.schedule.windows:
            cuts |= {min(max(win.start, 0.0), until), min(win.end, until)}
        for hist in self.orderers.values():
            cuts |= {min(t, until) for t, _ in hist}
        points = sorted(cuts)
        spans = list(itertools.pairwise(points))
        decides = self.world.ordering.decides
        out: list[float] = []
        for group, pairs in sorted(members.items()):
            for _, home in pairs:
                up = 0.0
                for a, b in spans:
                    mid = (a + b) / 2
                    if decides:
                        ok = self.schedule.reachable(home, self.orderer_at(group, mid), mid)
                    else:
                        ok = not self.schedule.down(home, mid)
                    up += (b - a) if ok else 0.0
                out.append(up / until if until > 0 else 1.0)
        return out
