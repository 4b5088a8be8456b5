"""A misbehaving delivery service as events of a run (issue 20, increment b), and the
application-level check members may run against it.

One section, ``ds_misbehaviour``: scripted windows in which one provider's DS drops, delays,
reorders, replays or withholds the messages it carries to targeted members, or equivocates (a
split view: it accepts two commits for one epoch and shows each to a different subset); and
``check``, members putting their epoch authenticator in application messages and comparing.
What members detect, with the RFC 9420 rule and section: ``docs/misbehaving-ds.md``; the
simulator's side: ``mlssim/sim/misbehaviour.py``. Without the section nothing changes. The rules
that need the rest of the scenario (known providers and groups, an orderer for equivocation)
are :func:`misbehaviour_problems`, called by ``Scenario``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .schema_base import _Model

__all__ = ["CheckSpec", "MisbehaviourEvent", "MisbehaviourSpec", "misbehaviour_problems"]

MisbehaviourKind = Literal["drop", "delay", "reorder", "replay", "withhold", "equivocate"]
MessageType = Literal["commit", "proposal", "application", "welcome"]
_DEFAULT_TYPES: tuple[MessageType, ...] = ("commit", "proposal", "application")


class MisbehaviourEvent(_Model):
    """One window of misbehaviour of one provider's DS, from ``at`` for ``duration`` seconds."""

    kind: MisbehaviourKind = Field(
        description=(
            "drop = never deliver; delay = deliver extra_delay seconds late; reorder = hold each "
            "message a uniform random time in [0, spread] (so they overtake each other); replay = "
            "deliver, then deliver the same message again replay_after seconds later; withhold = "
            "hold until the window ends (release: true) or forever; equivocate = a split view: the "
            "DS (the group's orderer) accepts the first commit of the window but holds it from the "
            "targets, accepts a target's concurrent commit for the same epoch too and sends it to "
            "the targets only, then relays honestly"
        )
    )
    provider: str = Field(
        description=(
            "whose DS misbehaves; it acts on the messages it orders (its groups under single/hub) "
            "and on those it delivers to its own clients"
        )
    )
    at: float = Field(ge=0, description="when the window starts (s)")
    duration: float = Field(gt=0, description="how long it lasts (s)")
    group: str | None = Field(default=None, description="the ``name`` of a groups entry; default: the first")
    instance: int = Field(default=0, ge=0, description="which of its ``count`` groups (0-based)")
    members: list[int] = Field(
        default_factory=list,
        description="the targeted initial members (0-based; 0 is the creator); with share: both",
    )
    share: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "a share of the group's members at the window's start drawn as targets (rounded, at "
            "least one); neither members nor share: every member (equivocate needs one of them)"
        ),
    )
    msg_types: list[MessageType] = Field(
        default_factory=lambda: list(_DEFAULT_TYPES),
        min_length=1,
        description="the message types it acts on (equivocate: commits, whatever this says)",
    )
    extra_delay: float = Field(default=0.0, ge=0, description="delay: seconds added (s)")
    spread: float = Field(default=0.0, ge=0, description="reorder: the most a message is held (s)")
    replay_after: float = Field(default=0.0, ge=0, description="replay: when the copy follows (s)")
    release: bool = Field(
        default=True, description="withhold: deliver what was held when the window ends (false: never)"
    )

    @model_validator(mode="after")
    def _kind_shape(self) -> MisbehaviourEvent:
        needs = {"delay": ("extra_delay", self.extra_delay), "reorder": ("spread", self.spread)}
        needs["replay"] = ("replay_after", self.replay_after)
        if self.kind in needs and needs[self.kind][1] <= 0:
            raise ValueError(f"a {self.kind} window needs {needs[self.kind][0]} > 0")
        for key, value in (("extra_delay", "delay"), ("spread", "reorder"), ("replay_after", "replay")):
            if getattr(self, key) and self.kind != value:
                raise ValueError(f"{key} belongs to {value} windows")
        if self.kind == "equivocate" and not self.members and (self.share is None or self.share >= 1):
            raise ValueError("an equivocate window needs members or a share < 1 (two sides)")
        return self


class CheckSpec(_Model):
    """Members put their epoch authenticator (RFC 9420 §8.7) in the authenticated_data of some
    application messages; a receiver compares it with its own for that epoch."""

    share: float = Field(
        default=1.0, gt=0, le=1, description="the share of application messages that carry it"
    )
    lag_tolerance: float = Field(
        default=30.0,
        gt=0,
        description=(
            "a checked message from an epoch the receiver left more than this long ago flags its "
            "sender as withheld from commits (s)"
        ),
    )


class MisbehaviourSpec(_Model):
    """A misbehaving DS (docs/misbehaving-ds.md: what members detect, and the RFC rules)."""

    events: list[MisbehaviourEvent] = Field(default_factory=list, description="misbehaviour windows")
    check: CheckSpec | None = Field(
        default=None, description="the epoch authenticator check in application messages; absent: off"
    )


def misbehaviour_problems(spec: MisbehaviourSpec, scenario: Any) -> list[str]:
    """Cross-section problems (``key: message``): unknown provider or group, members out of
    range, equivocation without an orderer, overlapping windows of one provider's DS."""
    problems: list[str] = []
    known = {p.name for p in scenario.providers}
    specs = {g.name: g for g in scenario.groups}
    seen: dict[str, list[tuple[float, float, int]]] = {}
    for i, ev in enumerate(spec.events):
        where = f"ds_misbehaviour.events[{i}]"
        if ev.provider not in known:
            problems.append(f"{where}.provider: unknown provider {ev.provider!r}")
        name = ev.group if ev.group is not None else scenario.groups[0].name
        g = specs.get(name)
        if g is None:
            problems.append(f"{where}.group: no groups entry named {name!r}")
        else:
            if ev.instance >= g.count:
                problems.append(f"{where}.instance: {name} has {g.count} group(s)")
            bad = [m for m in ev.members if m >= g.size]
            if bad:
                problems.append(f"{where}.members: {name} has {g.size} initial members (got {bad[0]})")
        if ev.kind == "equivocate" and scenario.federation.ordering not in ("single", "hub"):
            problems.append(f"{where}.kind: equivocate needs a DS that orders (single or hub)")
        if ev.at + ev.duration > scenario.duration:
            problems.append(f"{where}.duration: the window ends after the duration ({scenario.duration:g})")
        for start, end, k in seen.get(ev.provider, []):
            if ev.at < end and start < ev.at + ev.duration:
                problems.append(f"{where}.at: overlaps ds_misbehaviour.events[{k}] ({ev.provider})")
        seen.setdefault(ev.provider, []).append((ev.at, ev.at + ev.duration, i))
    return problems
