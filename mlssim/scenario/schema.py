"""The scenario schema: every key a scenario file may hold, with its meaning and bounds.

pydantic v2 models with ``extra="forbid"``, so a misspelt key is an error that names it.
Field descriptions are the documentation: ``docs/scenarios.md`` is generated from them
(``mlssim validate --docs``) and a test fails when the two drift apart. Units: seconds
for times, bytes for sizes, bits per second for bandwidth.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "Constant",
    "Uniform",
    "Normal",
    "LogNormal",
    "Exponential",
    "Empirical",
    "Distribution",
    "LinkSpec",
    "NetworkSpec",
    "ProviderSpec",
    "CryptoSpec",
    "MLSSpec",
    "ChurnSpec",
    "RetrySpec",
    "CommitPolicySpec",
    "WorkloadSpec",
    "GroupSpec",
    "FederationSpec",
    "ScriptEvent",
    "SweepSpec",
    "OutputSpec",
    "Scenario",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- distributions ---------------------------------------------------------------------------


class Constant(_Model):
    """Always the same value."""

    dist: Literal["constant"] = "constant"
    value: float = Field(ge=0, description="the value")


class Uniform(_Model):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]
    low: float = Field(ge=0, description="lower bound")
    high: float = Field(ge=0, description="upper bound (≥ low)")

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be ≥ low")
        return self


class Normal(_Model):
    """Normal, truncated at 0 (negative draws are redrawn)."""

    dist: Literal["normal"]
    mean: float = Field(description="mean before truncation")
    std: float = Field(ge=0, description="standard deviation before truncation")


class LogNormal(_Model):
    """Log-normal given by its median and the σ of the underlying normal."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0, description="median")
    sigma: float = Field(ge=0, description="σ of log(x)")


class Exponential(_Model):
    """Exponential with the given mean."""

    dist: Literal["exponential"]
    mean: float = Field(gt=0, description="mean")


class Empirical(_Model):
    """Draws uniformly from samples in a CSV file (one number per line, or a first column)."""

    dist: Literal["empirical"]
    file: str = Field(description="CSV of samples, relative to the scenario file")


Distribution = Annotated[
    Constant | Uniform | Normal | LogNormal | Exponential | Empirical, Field(discriminator="dist")
]


def _const(v: float) -> Constant:
    return Constant(value=v)


# ---- network and providers -------------------------------------------------------------------


class LinkSpec(_Model):
    """One class of network link."""

    latency: Distribution = Field(default_factory=lambda: _const(0.05), description="one-way latency (s)")
    bandwidth: float | None = Field(
        default=None, gt=0, description="link rate in bits/s; adds serialization delay and FIFO queueing"
    )
    loss: float = Field(default=0.0, ge=0, lt=1, description="probability that a transmission is lost")
    retransmit_timeout: float = Field(default=1.0, gt=0, description="resend after this long when lost (s)")


#: one-way latency of each link class when a scenario does not give one (s)
DEFAULT_LATENCY = {"client_ds": 0.05, "ds_ds": 0.03, "ds_as": 0.002}


class NetworkSpec(_Model):
    """Link classes: client↔home DS, DS↔DS between providers, DS↔AS. A class given without a
    latency keeps its class's default latency (50 ms, 30 ms and 2 ms constant)."""

    @model_validator(mode="before")
    @classmethod
    def _class_latency(cls, data: object) -> object:
        if isinstance(data, dict):
            data = dict(data)
            for name, value in data.items():
                if name in DEFAULT_LATENCY and isinstance(value, dict) and "latency" not in value:
                    data[name] = {**value, "latency": {"dist": "constant", "value": DEFAULT_LATENCY[name]}}
        return data

    client_ds: LinkSpec = Field(
        default_factory=lambda: LinkSpec(latency=_const(DEFAULT_LATENCY["client_ds"])),
        description="a client and its home delivery service",
    )
    ds_ds: LinkSpec = Field(
        default_factory=lambda: LinkSpec(latency=_const(DEFAULT_LATENCY["ds_ds"])),
        description="delivery services of two providers",
    )
    ds_as: LinkSpec = Field(
        default_factory=lambda: LinkSpec(latency=_const(DEFAULT_LATENCY["ds_as"])),
        description="a delivery service and an authentication service",
    )


class ProviderSpec(_Model):
    """A domain running one delivery service (DS) and one authentication service (AS)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="provider name")
    mailbox_retention: float = Field(
        default=86400.0, gt=0, description="how long the DS keeps messages for an offline client (s)"
    )


# ---- protocol ---------------------------------------------------------------------------------


class CryptoSpec(_Model):
    """Which RFC 9420 cipher suite the clients use, real or its fast model twin."""

    suite: int = Field(
        default=1,
        description=(
            "cipher suite id: RFC 9420 suites 1–7, or 0xF001–0xF00B for the post-quantum suites of "
            "draft-ietf-mls-pq-ciphersuites (docs/pq-suites.md)"
        ),
    )
    family: Literal["real", "model"] = Field(
        default="real", description="real cryptography, or the model twin with identical sizes"
    )

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, suite: int) -> int:
        from ..mls.crypto import suite_ids

        if suite not in suite_ids():
            raise ValueError(f"unknown cipher suite {suite}; known: {', '.join(map(str, suite_ids()))}")
        return suite

    @field_validator("family")
    @classmethod
    def _suite_in_family(cls, family: str, info: ValidationInfo) -> str:
        from ..mls.crypto import suite_available

        suite = info.data.get("suite")
        if suite is not None and not suite_available(suite, family):
            raise ValueError(f"cipher suite {suite} has no {family!r} implementation; use family: model")
        return family


class MLSSpec(_Model):
    """Application choices that RFC 9420 leaves open."""

    handshake: Literal["public", "private"] = Field(
        default="public",
        description="wire format of proposals and commits (PublicMessage lets a DS read them)",
    )
    ratchet_tree_in_welcome: bool = Field(
        default=True, description="Welcome carries the ratchet tree; else joiners download it from the DS"
    )
    padding: int = Field(default=0, ge=0, description="zero bytes added to every PrivateMessage plaintext")
    keep_past_epochs: int = Field(
        default=1,
        ge=0,
        description="past epochs whose keys a member keeps to decrypt late application messages (§15.2)",
    )


class FederationSpec(_Model):
    """How a group spanning providers is ordered and fanned out."""

    ordering: Literal["single", "hub", "client-fanout", "decentralised"] = Field(
        default="hub",
        description=(
            "who orders a group's handshake messages: single = one DS (``orderer``) for every group; "
            "hub = the DS of the group's owning provider (MIMI); client-fanout = the sender uploads "
            "to every provider and each delivers in its own arrival order; decentralised = no "
            "orderer. The last two let members diverge; forks are resolved by the lowest commit "
            "hash (docs/federation.md)"
        ),
    )
    orderer: str | None = Field(
        default=None, description="the provider whose DS orders every group under single; default: the first"
    )
    topology: Literal["server", "client-per-provider", "client-per-member"] | None = Field(
        default=None,
        description=(
            "who sends the copies: server = the sender uploads once and DSs forward one copy per "
            "provider; client-per-provider / client-per-member = the sender uploads one copy per "
            "provider / per member. Default: client-per-provider under client-fanout, else server; "
            "single and hub need server"
        ),
    )
    acks: bool = Field(
        default=False, description="members acknowledge every epoch they reach to their home DS"
    )
    resync: Literal["external-commit", "readd", "none"] = Field(
        default="external-commit",
        description=(
            "how a member that cannot follow the group (messages expired in its mailbox, a commit it "
            "cannot process) gets back: it NACKs, then rejoins by external commit (replacing its old "
            "leaf), or the designated committer removes and re-adds it; ordered designs only"
        ),
    )
    fanout: Literal["plain", "split", "pre"] = Field(
        default="plain",
        description=(
            "what each member downloads for a commit: plain = the whole commit; split = "
            "server-assisted, its own HPKE ciphertext and the public keys it cannot derive "
            "(needs public handshakes); pre = plain commits, and the DS also keeps the group's node "
            "secrets under proxy re-encryption, re-encrypting them every epoch, for joins from a small "
            "secret (join_mode: pre). Both need server topology (docs/bandwidth.md)"
        ),
    )


class CommitPolicySpec(_Model):
    """Who commits other members' proposals (``workload.update_mode: propose``), and when."""

    committer: Literal["lowest-leaf", "lowest-online-leaf"] = Field(
        default="lowest-leaf",
        description=(
            "the designated committer: the lowest leaf index other than the proposer's, or the lowest "
            "among members online and caught up (the DS tells, as it knows who is connected)"
        ),
    )
    lazy_timer: float = Field(
        default=0.0, ge=0, description="wait this long after a proposal before committing (s); 0 = at once"
    )
    lazy_batch: int = Field(
        default=1, ge=1, description="commit at once when this many proposals are pending (with lazy_timer)"
    )


class ChurnSpec(_Model):
    """Clients go offline and online (exponential on/off periods)."""

    enabled: bool = Field(default=False, description="turn churn on")
    mean_online: float = Field(default=600.0, gt=0, description="mean online period (s)")
    mean_offline: float = Field(default=60.0, gt=0, description="mean offline period (s)")


class RetrySpec(_Model):
    """What a committer does when the DS rejects its commit (another commit won the epoch)."""

    backoff: Literal["none", "fixed", "exponential"] = Field(default="fixed", description="backoff rule")
    delay: float = Field(default=0.5, ge=0, description="fixed delay, or the first delay of exponential (s)")
    jitter: bool = Field(default=True, description="multiply each delay by a uniform draw in [0.5, 1.5]")
    max_retries: int = Field(default=10, ge=0, description="give up after this many retries")


class WorkloadSpec(_Model):
    """What happens in a group, as Poisson processes."""

    app_rate: float = Field(default=0.0, ge=0, description="application messages per member per second")
    app_size: Distribution = Field(
        default_factory=lambda: _const(200), description="application message plaintext size (bytes)"
    )
    update_rate: float = Field(default=0.0, ge=0, description="path updates per member per second")
    update_group_rate: float = Field(
        default=0.0,
        ge=0,
        description="path updates per group per second, whatever its size (added to update_rate's)",
    )
    update_after_messages: int | None = Field(
        default=None,
        ge=1,
        description="policy: a member also updates after every k application messages it sends (k)",
    )
    update_mode: Literal["commit", "propose"] = Field(
        default="commit",
        description=(
            "commit = an empty commit with a path; propose = an Update proposal another member commits"
        ),
    )
    add_rate: float = Field(default=0.0, ge=0, description="new members per group per second")
    remove_rate: float = Field(default=0.0, ge=0, description="removals per group per second")
    join_mode: Literal["welcome", "welcome-with-tree", "tree-from-ds", "external-commit", "pre"] = Field(
        default="welcome",
        description=(
            "how added members join: welcome = a Welcome, with the tree as mls.ratchet_tree_in_welcome "
            "says; welcome-with-tree / tree-from-ds = a Welcome with the tree, or without it and the tree "
            "downloaded from the DS; external-commit = the joiner fetches GroupInfo and tree and commits; "
            "pre = a small secret from the adder plus GroupInfo, tree and PRE records from the DS "
            "(needs federation.fanout pre)"
        ),
    )
    start: float = Field(default=0.0, ge=0, description="workload starts (s after the group exists)")
    stop: float | None = Field(
        default=None,
        ge=0,
        description="workload stops (s of simulated time, ≤ duration); default: scenario duration",
    )

    @model_validator(mode="after")
    def _window(self) -> WorkloadSpec:
        if self.stop is not None and self.stop <= self.start:
            raise ValueError("stop must be after start")
        return self


class GroupSpec(_Model):
    """One or more identical groups."""

    name: str = Field(default="g", min_length=1, description="name prefix of these groups")
    count: int = Field(default=1, ge=1, description="how many such groups")
    size: int = Field(ge=2, description="initial members (devices)")
    providers: dict[str, float] | None = Field(
        default=None, description="provider mix: provider name → weight; default: all providers equally"
    )
    owner: str | None = Field(default=None, description="owning provider; default: the first of the mix")
    devices_per_user: int = Field(default=1, ge=1, description="devices (members) per user")
    from_population: bool = Field(
        default=False,
        description=(
            "members are `size` users drawn from `population` with all their devices (then `providers` "
            "and `devices_per_user` do not apply: users have their own)"
        ),
    )
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec, description="what happens in the group")

    @field_validator("providers")
    @classmethod
    def _weights(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            if not v:
                raise ValueError("an empty provider mix")
            if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
                raise ValueError("weights must be ≥ 0 with a positive sum")
        return v


class ScriptEvent(_Model):
    """Something that happens to one client at a given time, whatever the random processes do."""

    at: float = Field(ge=0, description="when (s)")
    action: Literal["offline", "online"] = Field(
        description="offline = the client disconnects and stays offline (churn ignored) until online"
    )
    group: str = Field(description="the ``name`` of a groups entry")
    instance: int = Field(default=0, ge=0, description="which of its ``count`` groups (0-based)")
    member: int = Field(ge=0, description="which initial member (0-based; 0 is the creator)")


class PopulationSpec(_Model):
    """Users with several devices each, shared by the groups that draw from them
    (``groups[].from_population``); the place where adding a device to a user is simulated."""

    users: int = Field(ge=1, description="users in the population")
    devices_min: int = Field(default=1, ge=1, description="fewest devices a user starts with")
    devices_max: int = Field(
        default=1, ge=1, description="most devices a user starts with (uniform in between)"
    )
    providers: dict[str, float] | None = Field(
        default=None, description="provider mix of users: provider name → weight; default: all equally"
    )
    device_add_rate: float = Field(
        default=0.0,
        ge=0,
        description="new devices per user per second (each is added to all the user's groups)",
    )
    device_add_mode: Literal["full-update", "lazy-update"] = Field(
        default="full-update",
        description=(
            "full-update = in every group the user's existing device commits the Add with an UpdatePath; "
            "lazy-update = the Add commit has no path and the new device pays its full path update "
            "`lazy_delay` seconds after joining"
        ),
    )
    lazy_delay: float = Field(
        default=60.0, ge=0, description="lazy-update: delay of the deferred path update (s)"
    )

    @model_validator(mode="after")
    def _devices(self) -> PopulationSpec:
        if self.devices_max < self.devices_min:
            raise ValueError("devices_max must be ≥ devices_min")
        return self


class CompromiseSpec(_Model):
    """One compromise of one initial member's device (docs/security-model.md)."""

    at: float = Field(ge=0, description="when (s of simulated time)")
    kind: Literal["member", "randomness", "ds", "as"] = Field(
        description=(
            "member = the adversary copies the device's whole MLS state in every group it is in (leaf "
            "and path private keys, epoch secrets, pending commits and Updates, signature key; the "
            "entropy-mixing secret only with mixing_secret_copied); randomness = for `duration` seconds "
            "the device's random draws are known to the adversary; ds = from then on the adversary sees "
            "what the group's ordering DS holds (under fanout pre: its PRE records, opened with any epoch "
            "key it derives); as = the member's provider's AS issues a credential for a device the "
            "adversary controls and a member adds it (an insider MLS cannot detect)"
        )
    )
    group: str = Field(description="the ``name`` of a groups entry")
    instance: int = Field(default=0, ge=0, description="which of its ``count`` groups (0-based)")
    member: int = Field(
        default=0,
        ge=0,
        description="which initial member (0-based; 0 is the creator); as: whose AS issues, and who adds",
    )
    duration: float = Field(default=0.0, ge=0, description="randomness: length of the window (s)")
    victim_update_after: float | None = Field(
        default=None,
        ge=0,
        description="policy: the compromised device commits a path update this long after the compromise",
    )
    remove_after: float | None = Field(
        default=None,
        ge=0,
        description="policy: another member removes the compromised device this long after the compromise",
    )


class AdversarySpec(_Model):
    """Who is compromised when, and the clients' defences; healing is measured from the adversary's
    real key holdings (docs/security-model.md)."""

    compromises: list[CompromiseSpec] = Field(default_factory=list, description="compromise events")
    entropy_mixing: bool = Field(
        default=False,
        description="every device mixes a persistent secret into each random draw (known draws alone then "
        "reveal nothing without the secret)",
    )
    mixing_secret_copied: bool = Field(
        default=False,
        description="a member-state compromise also copies the mixing secret (false: the secret lives in a "
        "store the compromise does not reach, e.g. a hardware key store)",
    )


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
    sweep: SweepSpec | None = Field(
        default=None, description="grid and replications for ``mlssim sweep`` (``mlssim run`` ignores it)"
    )
    output: OutputSpec = Field(default_factory=OutputSpec, description="what the run writes")

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        names = [p.name for p in self.providers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate provider names: {', '.join(sorted(dup))}")
        known = set(names)
        orderer = self.federation.orderer
        if orderer is not None and orderer not in known:
            raise ValueError(f"federation.orderer: unknown provider {orderer!r}")
        specs = {g.name: g for g in self.groups}
        for i, g in enumerate(self.groups):
            if g.from_population:
                if self.population is None:
                    raise ValueError(f"groups[{i}].from_population: the scenario has no population")
                if g.size > self.population.users:
                    raise ValueError(
                        f"groups[{i}].size: more users than the population's {self.population.users}"
                    )
        if self.population is not None:
            for p in self.population.providers or {}:
                if p not in known:
                    raise ValueError(f"population.providers: unknown provider {p!r}")
        for i, cp in enumerate(self.adversary.compromises):
            where = f"adversary.compromises[{i}]"
            spec = specs.get(cp.group)
            if spec is None:
                raise ValueError(f"{where}.group: no groups entry named {cp.group!r}")
            if cp.instance >= spec.count:
                raise ValueError(f"{where}.instance: {cp.group} has {spec.count} group(s)")
            if cp.member >= spec.size:
                raise ValueError(f"{where}.member: {cp.group} has {spec.size} initial members")
            if cp.kind == "randomness" and cp.duration <= 0:
                raise ValueError(f"{where}.duration: a randomness compromise needs a window > 0")
            if self.federation.ordering in ("client-fanout", "decentralised"):
                raise ValueError(f"{where}: compromises are measured for ordered designs (single, hub) only")
        for i, ev in enumerate(self.script):
            spec = specs.get(ev.group)
            if spec is None:
                raise ValueError(f"script[{i}].group: no groups entry named {ev.group!r}")
            if ev.instance >= spec.count:
                raise ValueError(f"script[{i}].instance: {ev.group} has {spec.count} group(s)")
            if ev.member >= spec.size:
                raise ValueError(f"script[{i}].member: {ev.group} has {spec.size} initial members")
        fed = self.federation
        if fed.ordering in ("single", "hub") and fed.topology not in (None, "server"):
            raise ValueError(f"federation.topology: {fed.ordering} ordering needs server fan-out")
        if fed.fanout == "split" and (self.mls.handshake != "public" or fed.ordering == "client-fanout"):
            raise ValueError("federation.fanout: split needs mls.handshake public and a DS that splits")
        if fed.fanout == "split" and fed.topology not in (None, "server"):
            raise ValueError("federation.fanout: split needs server topology (the DS splits)")
        if fed.fanout == "pre" and (
            fed.ordering in ("client-fanout", "decentralised") or fed.topology not in (None, "server")
        ):
            raise ValueError(
                "federation.fanout: pre needs an ordering DS and server topology (the DS keeps the store)"
            )
        for i, g in enumerate(self.groups):
            if g.workload.join_mode == "pre" and fed.fanout != "pre":
                raise ValueError(f"groups[{i}].workload.join_mode: pre needs federation.fanout: pre")
        if fed.ordering == "client-fanout" and fed.topology == "server":
            raise ValueError("federation.topology: client-fanout means the client sends the copies")
        for i, g in enumerate(self.groups):
            for p in g.providers or {}:
                if p not in known:
                    raise ValueError(f"groups[{i}].providers: unknown provider {p!r}")
            if g.owner is not None and g.owner not in known:
                raise ValueError(f"groups[{i}].owner: unknown provider {g.owner!r}")
            stop = g.workload.stop
            if stop is not None and stop > self.duration:
                raise ValueError(f"groups[{i}].workload.stop: {stop} is after the duration ({self.duration})")
        return self
