"""The scenario schema: every key a scenario file may hold, with its meaning and bounds.

pydantic v2 models with ``extra="forbid"``, so a misspelt key is an error that names it.
Field descriptions are the documentation: ``docs/scenarios.md`` is generated from them
(``mlssim validate --docs``) and a test fails when the two drift apart. Units: seconds
for times, bytes for sizes, bits per second for bandwidth.

This module holds the whole :class:`Scenario`, with the rules that span its sections, and what
a run writes and sweeps; the sections live in ``schema_distributions``, ``schema_network``,
``schema_protocol``, ``schema_groups`` and ``schema_adversary`` and are re-exported here, so
``from mlssim.scenario.schema import …`` reaches every model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from .regions import region_names
from .schema_adversary import AdversarySpec, CompromiseSpec, forged_commit_problems
from .schema_base import _Model
from .schema_distributions import Constant, Distribution, Empirical, Exponential, LogNormal, Normal, Uniform
from .schema_faults import FailoverSpec, FaultEvent, FaultsSpec, RandomFaults, fault_problems
from .schema_groups import ChurnSpec, GroupSpec, PopulationSpec, ScriptEvent, WorkloadSpec
from .schema_hardware import (
    DEFAULT_PROFILES,
    AccessLink,
    DSCapacity,
    HardwareMix,
    HardwareProfile,
    HardwareSpec,
)
from .schema_misbehaviour import CheckSpec, MisbehaviourEvent, MisbehaviourSpec, misbehaviour_problems
from .schema_network import DEFAULT_LATENCY, LinkSpec, NetworkSpec, ProviderSpec
from .schema_protocol import CommitPolicySpec, CryptoSpec, FederationSpec, MLSSpec, RetrySpec
from .schema_reinit import ReinitSpec, reinit_problems

__all__ = [
    "Constant",
    "Uniform",
    "Normal",
    "LogNormal",
    "Exponential",
    "Empirical",
    "Distribution",
    "LinkSpec",
    "DEFAULT_LATENCY",
    "NetworkSpec",
    "ProviderSpec",
    "AccessLink",
    "HardwareProfile",
    "HardwareMix",
    "HardwareSpec",
    "DSCapacity",
    "DEFAULT_PROFILES",
    "CryptoSpec",
    "MLSSpec",
    "ChurnSpec",
    "RetrySpec",
    "CommitPolicySpec",
    "WorkloadSpec",
    "GroupSpec",
    "ReinitSpec",
    "FederationSpec",
    "ScriptEvent",
    "SweepSpec",
    "OutputSpec",
    "PopulationSpec",
    "CompromiseSpec",
    "AdversarySpec",
    "FaultEvent",
    "RandomFaults",
    "FailoverSpec",
    "FaultsSpec",
    "MisbehaviourSpec",
    "MisbehaviourEvent",
    "CheckSpec",
    "Scenario",
]


class SweepSpec(_Model):
    """A grid of runs (``mlssim sweep``): every combination of the values, each replicated."""

    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description=(
            "dotted scenario key → values to try, e.g. ``groups[0].size: [10, 100]`` or "
            "``network.ds_ds.latency.value: [0.02, 0.2]``; each value is validated like the file"
        ),
    )
    replications: int = Field(
        default=1, ge=1, description="runs per grid point, each with its own seed derived from the base seed"
    )
    seeds: Literal["common", "independent"] = Field(
        default="common",
        description=(
            "common: replication r has the same seed at every grid point (common random numbers: "
            "the designs compared meet the same workload arrivals and draws, so their difference is "
            "not seed noise); independent: each grid point derives its own seeds"
        ),
    )

    @field_validator("grid")
    @classmethod
    def _values(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"{key}: no values")
        return v


class OutputSpec(_Model):
    """What a run writes besides its summary."""

    transmissions: bool = Field(
        default=True, description="write transmissions.csv (one row per transmission)"
    )
    events: bool = Field(default=True, description="write events.jsonl (epochs, collisions, joins)")


class Scenario(_Model):
    """A complete simulation: world, protocol choices, groups and their workloads."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="run name (output folder)")
    seed: int = Field(default=0, description="base seed: every random stream derives from it")
    duration: float = Field(gt=0, description="simulated time of the workload (s)")
    drain: float = Field(default=60.0, ge=0, description="extra time for the network to drain (s)")
    crypto: CryptoSpec = Field(default_factory=CryptoSpec, description="cipher suite")
    mls: MLSSpec = Field(default_factory=MLSSpec, description="MLS application choices")
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="link classes")
    hardware: HardwareSpec | None = Field(
        default=None,
        description=(
            "hardware profiles (CPU factor, access link) and processing time; absent: none, and "
            "nothing changes"
        ),
    )
    providers: list[ProviderSpec] = Field(min_length=1, description="the federation's providers")
    federation: FederationSpec = Field(default_factory=FederationSpec, description="ordering and fan-out")
    churn: ChurnSpec = Field(default_factory=ChurnSpec, description="offline/online behaviour of clients")
    retry: RetrySpec = Field(default_factory=RetrySpec, description="commit retry policy")
    commit_policy: CommitPolicySpec = Field(
        default_factory=CommitPolicySpec, description="designated committer of proposals; lazy commits"
    )
    population: PopulationSpec | None = Field(
        default=None, description="users with several devices, shared across groups (multi-device)"
    )
    groups: list[GroupSpec] = Field(min_length=1, description="the groups")
    script: list[ScriptEvent] = Field(
        default_factory=list, description="scripted events (e.g. a member offline past mailbox retention)"
    )
    adversary: AdversarySpec = Field(
        default_factory=AdversarySpec, description="compromises and healing (ordered designs only)"
    )
    faults: FaultsSpec | None = Field(
        default=None,
        description=(
            "providers down, partitions, degraded links, scripted or random, and hub failover; "
            "absent: none, and nothing changes"
        ),
    )
    ds_misbehaviour: MisbehaviourSpec | None = Field(
        default=None,
        description=(
            "a DS that drops, delays, reorders, replays, withholds or equivocates, and the epoch "
            "authenticator check; absent: none, and nothing changes"
        ),
    )
    sweep: SweepSpec | None = Field(
        default=None, description="grid and replications for ``mlssim sweep`` (``mlssim run`` ignores it)"
    )
    output: OutputSpec = Field(default_factory=OutputSpec, description="what the run writes")

    @model_serializer(mode="wrap")
    def _without_absent_hardware(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A scenario without ``hardware`` (or ``faults``) dumps exactly as before the key
        existed, so its run key (a hash of the dump) and its saved scenario.json do not change."""
        data: dict[str, Any] = handler(self)
        for key in ("hardware", "faults", "ds_misbehaviour"):
            if getattr(self, key) is None:
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        """Rules across sections; every independent problem is reported, not only the first."""
        problems: list[str] = []
        names = [p.name for p in self.providers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            problems.append(f"duplicate provider names: {', '.join(sorted(dup))}")
        known = set(names)
        orderer = self.federation.orderer
        if orderer is not None and orderer not in known:
            problems.append(f"federation.orderer: unknown provider {orderer!r}")
        specs = {g.name: g for g in self.groups}
        for i, g in enumerate(self.groups):
            if g.from_population:
                if self.population is None:
                    problems.append(f"groups[{i}].from_population: the scenario has no population")
                elif g.size > self.population.users:
                    problems.append(
                        f"groups[{i}].size: more users than the population's {self.population.users}"
                    )
        if self.population is not None:
            for p in self.population.providers or {}:
                if p not in known:
                    problems.append(f"population.providers: unknown provider {p!r}")
        regions = set(region_names())
        for i, prov in enumerate(self.providers):
            if prov.region is not None and prov.region not in regions:
                problems.append(
                    f"providers[{i}].region: {prov.region!r} is not in the latency matrix "
                    f"(known: {', '.join(region_names())})"
                )
        if self.faults is not None:
            problems.extend(fault_problems(self.faults, known))
            for i, fev in enumerate(self.faults.events):
                if fev.at + fev.duration > self.duration:
                    problems.append(
                        f"faults.events[{i}].duration: the fault ends at {fev.at + fev.duration:g} s, after "
                        f"the duration ({self.duration:g}); the drain is fault-free"
                    )
        if self.ds_misbehaviour is not None:
            problems.extend(misbehaviour_problems(self.ds_misbehaviour, self))
        if self.hardware is not None:
            for p in self.hardware.mix.providers:
                if p not in known:
                    problems.append(f"hardware.mix.providers: unknown provider {p!r}")
        for i, cp in enumerate(self.adversary.compromises):
            where = f"adversary.compromises[{i}]"
            spec = specs.get(cp.group)
            if spec is None:
                problems.append(f"{where}.group: no groups entry named {cp.group!r}")
            elif cp.instance >= spec.count:
                problems.append(f"{where}.instance: {cp.group} has {spec.count} group(s)")
            if spec is not None and cp.member >= spec.size:
                problems.append(f"{where}.member: {cp.group} has {spec.size} initial members")
            if cp.kind == "randomness" and cp.duration <= 0:
                problems.append(f"{where}.duration: a randomness compromise needs a window > 0")
            if self.federation.ordering in ("client-fanout", "decentralised"):
                problems.append(f"{where}: compromises are measured for ordered designs (single, hub) only")
            if cp.impersonate is not None and cp.kind != "member":
                problems.append(f"{where}.impersonate: only a member compromise steals a signature key")
        for i, ev in enumerate(self.script):
            spec = specs.get(ev.group)
            if spec is None:
                problems.append(f"script[{i}].group: no groups entry named {ev.group!r}")
            elif ev.instance >= spec.count:
                problems.append(f"script[{i}].instance: {ev.group} has {spec.count} group(s)")
            if spec is not None and ev.member >= spec.size:
                problems.append(f"script[{i}].member: {ev.group} has {spec.size} initial members")
        problems.extend(_history_problems(self))
        problems.extend(_light_problems(self))
        problems.extend(reinit_problems(self))
        fed = self.federation
        problems.extend(
            forged_commit_problems(
                self.adversary,
                handshake=self.mls.handshake,
                fanout=fed.fanout,
                misbehaving_ds=self.ds_misbehaviour is not None,
            )
        )
        if fed.ordering in ("single", "hub") and fed.topology not in (None, "server"):
            problems.append(f"federation.topology: {fed.ordering} ordering needs server fan-out")
        splits = fed.fanout in ("split", "pre")
        if splits and (self.mls.handshake != "public" or fed.ordering == "client-fanout"):
            problems.append(
                f"federation.fanout: {fed.fanout} needs mls.handshake public and a DS that splits"
            )
        elif splits and fed.ordering == "decentralised":
            problems.append(
                f"federation.fanout: {fed.fanout} needs an ordering DS (single or hub) to split commits"
            )
        if splits and fed.topology not in (None, "server"):
            problems.append(f"federation.fanout: {fed.fanout} needs server topology (the DS splits)")
        if fed.fanout == "pre-join-store" and (
            fed.ordering in ("client-fanout", "decentralised") or fed.topology not in (None, "server")
        ):
            problems.append(
                "federation.fanout: pre-join-store needs an ordering DS and server topology (the DS keeps "
                "the store)"
            )
        for i, g in enumerate(self.groups):
            if g.workload.join_mode == "pre" and fed.fanout != "pre-join-store":
                problems.append(
                    f"groups[{i}].workload.join_mode: pre needs federation.fanout: pre-join-store"
                )
        if fed.ordering == "client-fanout" and fed.topology == "server":
            problems.append("federation.topology: client-fanout means the client sends the copies")
        for i, g in enumerate(self.groups):
            for p in g.providers or {}:
                if p not in known:
                    problems.append(f"groups[{i}].providers: unknown provider {p!r}")
            if g.owner is not None and g.owner not in known:
                problems.append(f"groups[{i}].owner: unknown provider {g.owner!r}")
            stop = g.workload.stop
            if stop is not None and stop > self.duration:
                problems.append(f"groups[{i}].workload.stop: {stop} is after the duration ({self.duration})")
        if len(problems) == 1:
            raise ValueError(problems[0])
        if problems:  # pydantic reports each line error of a ValidationError raised here
            raise ValidationError.from_exception_data(
                "Scenario",
                [
                    InitErrorDetails(type=PydanticCustomError("value_error", m), loc=(), input=None)
                    for m in problems
                ],
            )
        return self


def _history_problems(s: Scenario) -> list[str]:
    """``groups[].steady_state`` moves the run's clock to the end of the history; what is
    scheduled from t = 0 (faults, DS misbehaviour, compromises, the script, churn, device adds) is not moved
    with it, so it is refused rather than silently misplaced."""
    steady = [i for i, g in enumerate(s.groups) if g.steady_state is not None]
    if not steady:
        return []
    clash = [
        name
        for name, present in (
            ("faults", s.faults is not None),
            ("ds_misbehaviour", s.ds_misbehaviour is not None),
            ("adversary.compromises", bool(s.adversary.compromises)),
            ("script", bool(s.script)),
            ("churn.enabled", s.churn.enabled),
            ("population.device_add_rate", s.population is not None and s.population.device_add_rate > 0),
        )
        if present
    ]
    return [
        f"groups[{i}].steady_state: cannot be combined with {name} (their times count from t = 0, "
        "before the history)"
        for i in steady
        for name in clash
    ]


def _light_problems(s: Scenario) -> list[str]:
    """``groups[].light_share``: what the simulator's light members need (docs/light-clients.md,
    "In the simulator"); every other combination is refused by the key that clashes."""
    out: list[str] = []
    fed = s.federation
    for i, g in enumerate(s.groups):
        if g.light_share is None:
            continue
        where = f"groups[{i}]"
        if g.light_count(g.size) > g.size - 1:
            out.append(
                f"{where}.light_share: {g.light_count(g.size)} of {g.size} members would be light; the "
                "creator (and at least one committer) must be full"
            )
        if fed.fanout != "plain":
            out.append(
                f"{where}.light_share: needs federation.fanout plain, not {fed.fanout} (the draft's "
                "Light + Split and light members under PRE are not implemented)"
            )
        if fed.ordering not in ("single", "hub"):
            out.append(
                f"{where}.light_share: needs federation.ordering single or hub (an ordering DS that "
                "keeps the tree annotates), not {fed.ordering}"
            )
        wl = g.workload
        if not (
            wl.join_mode == "tree-from-ds"
            or (wl.join_mode == "welcome" and not s.mls.ratchet_tree_in_welcome)
        ):
            out.append(
                f"{where}.workload.join_mode: a group with light members joins by Welcome without the "
                "tree (choice L8): tree-from-ds, or welcome with mls.ratchet_tree_in_welcome false"
            )
        if wl.update_mode != "commit":
            out.append(
                f"{where}.workload.update_mode: a group with light members needs commit (a light "
                "member cannot commit the Update proposals the commit policy may give it)"
            )
        if g.steady_state is not None:
            out.append(
                f"{where}.steady_state: cannot be combined with light_share (its history has random "
                "committers)"
            )
        for j, cp in enumerate(s.adversary.compromises):
            if cp.group == g.name:
                out.append(
                    f"adversary.compromises[{j}].group: {g.name} has light members, whose keys the "
                    "compromise bookkeeping does not track"
                )
    return out
