"""The faults of a run as a timeline known from the start (issue 20): every scripted fault,
and every random one drawn at build time from its own named stream, as :class:`Window`s.

Pure and below the network: it answers, for a directed link between two nodes (``c:<name>``,
``ds:<provider>``, ``as:<provider>``) and a time, whether the link is up, when a sender that
finds it down gets through, when a transmission in flight is cut, and how a link is degraded.
The model (``docs/model.md``):

- A provider that is *down* has its DS and AS stopped: every link to or from them is down. Its
  clients are not down, but their only links (to their home DS) are.
- A *partition* cuts the DS–DS links between providers on different sides.
- A link that is down when a transmission would leave holds it at the sender, who tries again
  every ``retry_interval`` seconds from then; one cut while the transmission is in flight (its
  receiver goes down, or a partition starts) loses it, and the sender resends it the same way.
  A transmission already in flight when its sender goes down still arrives (it has left).
- A *degraded* link adds latency to each transmission leaving during the fault and loses each
  attempt with the fault's probability.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

from ..scenario.schema import FaultsSpec
from .distributions import sampler

__all__ = ["Window", "Schedule", "provider_of"]


def provider_of(node: str) -> str:
    """The provider a node belongs to: ``ds:p``/``as:p`` → p, ``c:label@p`` → p."""
    kind, _, rest = node.partition(":")
    return rest.rpartition("@")[2] if kind == "c" else rest


@dataclass(frozen=True)
class Window:
    """One fault, from ``start`` (included) to ``end`` (excluded)."""

    index: int
    kind: str
    start: float
    end: float
    providers: frozenset[str] = frozenset()
    sides: tuple[frozenset[str], ...] = ()
    extra_latency: float = 0.0
    loss: float = 0.0
    #: scripted (the index of faults.events) or random
    origin: str = "script"

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def separates(self, a: str, b: str) -> bool:
        """Are providers ``a`` and ``b`` on different sides?"""
        sa = next((i for i, s in enumerate(self.sides) if a in s), None)
        sb = next((i for i, s in enumerate(self.sides) if b in s), None)
        return sa is not None and sb is not None and sa != sb

    def node_down(self, node: str) -> bool:
        """Is ``node`` a DS or AS of a provider this (down) fault stops?"""
        return self.kind == "down" and not node.startswith("c:") and provider_of(node) in self.providers

    def cuts(self, src: str, dst: str, *, in_flight: bool = False) -> bool:
        """Does this fault cut the link (in flight: only its receiver's end or a partition)?"""
        if self.kind == "down":
            return self.node_down(dst) or (not in_flight and self.node_down(src))
        if self.kind == "partition":
            return self.separates(provider_of(src), provider_of(dst))
        return False

    def degrades(self, src: str, dst: str) -> bool:
        if self.kind != "degrade":
            return False
        a, b = provider_of(src), provider_of(dst)
        if self.providers:
            return a in self.providers or b in self.providers
        return self.separates(a, b)


class Schedule:
    """Every fault of a run, in start order, and the questions the network asks of them."""

    def __init__(self, windows: list[Window], retry_interval: float) -> None:
        self.windows = windows
        self.retry_interval = retry_interval

    @classmethod
    def build(
        cls, spec: FaultsSpec, providers: list[str], until: float, stream: random.Random | None = None
    ) -> Schedule:
        """Scripted faults, then each random entry's faults drawn over ``[0, until)`` from
        ``stream`` (entry by entry, provider by provider in scenario order); a random fault
        ends by ``until`` at the latest (the drain after the workload is fault-free)."""
        raw: list[Window] = []
        for i, ev in enumerate(spec.events):
            raw.append(
                Window(
                    0,
                    ev.kind,
                    ev.at,
                    ev.at + ev.duration,
                    frozenset(ev.providers),
                    tuple(frozenset(s) for s in ev.sides),
                    ev.extra_latency,
                    ev.loss,
                    f"events[{i}]",
                )
            )
        rng = stream if stream is not None else random.Random(0)
        for i, rf in enumerate(spec.random):
            draw = sampler(rf.duration)
            for p in rf.providers or providers:
                t = 0.0
                while True:
                    t += rng.expovariate(rf.rate)
                    if t >= until:
                        break
                    d = min(max(draw(rng), 1e-6), until - t)  # over by the workload's end
                    hit: frozenset[str] = frozenset({p})
                    sides: tuple[frozenset[str], ...] = ()
                    if rf.kind == "partition":  # the provider against the rest
                        hit, sides = frozenset(), (frozenset({p}), frozenset(q for q in providers if q != p))
                    raw.append(
                        Window(0, rf.kind, t, t + d, hit, sides, rf.extra_latency, rf.loss, f"random[{i}]")
                    )
                    t += d
        raw.sort(key=lambda w: (w.start, w.end, w.origin))
        windows = [dataclasses.replace(w, index=k) for k, w in enumerate(raw)]
        return cls(windows, spec.retry_interval)

    # -- what the network asks ----------------------------------------------------------------

    def departure(self, src: str, dst: str, t: float) -> tuple[float, int]:
        """When a transmission the sender tries at ``t`` leaves: ``t`` if the link is up, else
        its first retry (every ``retry_interval`` from ``t``) with the link up; and the fault
        that held it (-1: none)."""
        first, cause = t, -1
        while True:
            blocking = [w for w in self.windows if w.active(t) and w.cuts(src, dst)]
            if not blocking:
                return t, cause
            last = max(blocking, key=lambda w: (w.end, w.index))
            cause = last.index
            k = math.ceil((last.end - first) / self.retry_interval - 1e-9)
            t = max(t, first + k * self.retry_interval)
            if t < last.end:  # rounding: never before the fault ends
                t = first + (k + 1) * self.retry_interval

    def cut(self, src: str, dst: str, t0: float, t1: float) -> Window | None:
        """The first fault that cuts the link while a transmission is in flight in ``(t0, t1]``."""
        hits = [w for w in self.windows if t0 < w.start <= t1 and w.cuts(src, dst, in_flight=True)]
        return min(hits, key=lambda w: (w.start, w.index)) if hits else None

    def degradation(self, src: str, dst: str, t: float) -> tuple[float, float, int]:
        """Extra latency and loss probability on the link at ``t`` (summed and combined over
        the faults active), and the last such fault (-1: none)."""
        extra, keep, cause = 0.0, 1.0, -1
        for w in self.windows:
            if w.start > t:
                break
            if w.active(t) and w.degrades(src, dst):
                extra += w.extra_latency
                keep *= 1.0 - w.loss
                cause = w.index
        return extra, 1.0 - keep, cause

    # -- what the world asks --------------------------------------------------------------------

    def down(self, provider: str, t: float) -> bool:
        return any(w.kind == "down" and w.active(t) and provider in w.providers for w in self.windows)

    def reachable(self, a: str, b: str, t: float) -> bool:
        """Can provider ``a``'s DS reach provider ``b``'s at ``t`` (both up, not partitioned)?"""
        if self.down(a, t) or self.down(b, t):
            return False
        return a == b or not any(
            w.kind == "partition" and w.active(t) and w.separates(a, b) for w in self.windows
        )

    def any_active(self, t: float) -> bool:
        return any(w.active(t) for w in self.windows)
