"""Faults as events of a run (issue 20): a provider's DS down, a partition between sets of
providers, a degraded link; scripted at given times or drawn at random rates; and the failover
of a group's ordering for the designs with an orderer.

What each fault does to each ordering design is in ``docs/federation.md``, the model behind it
in ``docs/model.md``; the simulator's side is ``mlssim/sim/faults.py``. Without a ``faults``
section nothing changes. The rules that need the provider list (known names, overlapping
outages of one provider) are :func:`fault_problems`, called by ``Scenario``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .schema_base import _Model
from .schema_distributions import Distribution, _const

__all__ = ["FailoverSpec", "FaultEvent", "FaultsSpec", "RandomFaults", "fault_problems"]

FaultKind = Literal["down", "partition", "degrade"]


def _shape(kind: str, providers: list[str], sides: list[list[str]], extra: float, loss: float) -> str | None:
    """What is wrong with a fault's shape for its kind, or None."""
    if kind == "down":
        if not providers or sides:
            return "a down fault names its providers (and no sides)"
    elif kind == "partition":
        if providers or len(sides) < 2 or any(not s for s in sides):
            return "a partition names two or more non-empty sides (and no providers)"
    else:
        if bool(providers) == bool(sides):
            return "a degrade fault names either providers (all their links) or sides (the links between)"
        if extra == 0 and loss == 0:
            return "a degrade fault needs extra_latency > 0 or loss > 0"
    if kind != "degrade" and (extra or loss):
        return "extra_latency and loss belong to degrade faults"
    return None


class FaultEvent(_Model):
    """One scripted fault: from ``at`` for ``duration`` seconds."""

    kind: FaultKind = Field(
        description=(
            "down = the providers' DS and AS stop (their clients can neither send nor receive; other "
            "DSs hold what is for them and retry); partition = no DS–DS traffic between the sides; "
            "degrade = extra latency or loss on the providers' links, or on the links between sides"
        )
    )
    at: float = Field(ge=0, description="when the fault starts (s)")
    duration: float = Field(gt=0, description="how long it lasts (s)")
    providers: list[str] = Field(default_factory=list, description="down, degrade: the providers it hits")
    sides: list[list[str]] = Field(
        default_factory=list,
        description=(
            "partition, degrade: sets of providers; links between providers on different sides are "
            "cut (partition) or degraded; a provider on no side keeps all its links"
        ),
    )
    extra_latency: float = Field(
        default=0.0, ge=0, description="degrade: latency added to each transmission (s)"
    )
    loss: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="degrade: probability that an attempt is lost (resent after the link's timeout)",
    )

    @model_validator(mode="after")
    def _kind_shape(self) -> FaultEvent:
        problem = _shape(self.kind, self.providers, self.sides, self.extra_latency, self.loss)
        if problem is not None:
            raise ValueError(problem)
        return self


class RandomFaults(_Model):
    """Faults drawn at random: for each candidate provider, starts at ``rate`` per second (a
    Poisson process, the next drawn after the last ends, so one provider's faults never
    overlap), each lasting a draw of ``duration``; a partition cuts the provider off from all
    others, a degrade hits all its links."""

    kind: FaultKind = Field(description="down, partition (the provider against the rest) or degrade")
    rate: float = Field(gt=0, description="fault starts per candidate provider per second")
    duration: Distribution = Field(
        default_factory=lambda: _const(60.0), description="how long each fault lasts (s)"
    )
    providers: list[str] | None = Field(default=None, description="candidate providers; default: all")
    extra_latency: float = Field(default=0.0, ge=0, description="degrade: latency added (s)")
    loss: float = Field(default=0.0, ge=0, lt=1, description="degrade: loss probability per attempt")

    @model_validator(mode="after")
    def _degrade(self) -> RandomFaults:
        if self.kind == "degrade" and self.extra_latency == 0 and self.loss == 0:
            raise ValueError("a degrade fault needs extra_latency > 0 or loss > 0")
        if self.kind != "degrade" and (self.extra_latency or self.loss):
            raise ValueError("extra_latency and loss belong to degrade faults")
        return self


class FailoverSpec(_Model):
    """Moving a group's ordering away from a DS that is down (``single`` and ``hub`` only;
    leaderless designs have no orderer to move and ignore it)."""

    enabled: bool = Field(default=False, description="move the ordering when the orderer's DS is down")
    detection: float = Field(
        default=30.0,
        ge=0,
        description=(
            "how long the orderer must be down before the move starts (s); the new orderer is the "
            "provider up then hosting most of the group's members (ties: the first listed), and it "
            "orders once it holds the group's GroupInfo and tree, uploaded by one of its members"
        ),
    )


class FaultsSpec(_Model):
    """Faults of providers and links during the run (docs/federation.md: what each design does)."""

    events: list[FaultEvent] = Field(default_factory=list, description="scripted faults")
    random: list[RandomFaults] = Field(default_factory=list, description="faults drawn at random rates")
    retry_interval: float = Field(
        default=5.0,
        gt=0,
        description=(
            "a sender whose link is down (or whose transmission was cut in flight) tries again every "
            "this many seconds; what it held goes out at its first try after the fault ends (s)"
        ),
    )
    failover: FailoverSpec = Field(default_factory=FailoverSpec, description="hub failover (single, hub)")


def fault_problems(faults: FaultsSpec, known: set[str]) -> list[str]:
    """Cross-section problems of ``faults``: unknown providers, a provider on two sides,
    overlapping outages of one provider (each as ``key: message``)."""
    problems: list[str] = []
    outages: dict[str, list[tuple[float, float, int]]] = {}
    for i, ev in enumerate(faults.events):
        where = f"faults.events[{i}]"
        for p in ev.providers:
            if p not in known:
                problems.append(f"{where}.providers: unknown provider {p!r}")
        seen: set[str] = set()
        for j, side in enumerate(ev.sides):
            for p in side:
                if p not in known:
                    problems.append(f"{where}.sides[{j}]: unknown provider {p!r}")
                elif p in seen:
                    problems.append(f"{where}.sides[{j}]: provider {p!r} is on two sides")
                seen.add(p)
        if ev.kind != "down":
            continue
        for p in ev.providers:
            for start, end, k in outages.get(p, []):
                if ev.at < end and start < ev.at + ev.duration:
                    problems.append(
                        f"{where}.at: overlaps faults.events[{k}] ({p} down from {start:g} s to {end:g} s)"
                    )
            outages.setdefault(p, []).append((ev.at, ev.at + ev.duration, i))
    for i, rf in enumerate(faults.random):
        for p in rf.providers or []:
            if p not in known:
                problems.append(f"faults.random[{i}].providers: unknown provider {p!r}")
    return problems
