"""The groups and what their members do: churn, workloads, group shapes, the multi-device
population groups may draw from, and scripted events for one client.

Everything here is behaviour the simulator turns into random processes or timed events; the
cross-section rules (a group's providers exist, a script names a group) are checked by
:class:`~mlssim.scenario.schema.Scenario`, which sees all sections.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from .schema_base import _Model
from .schema_distributions import Distribution, _const
from .schema_reinit import ReinitSpec

__all__ = ["ChurnSpec", "WorkloadSpec", "GroupSpec", "ScriptEvent", "PopulationSpec", "SteadyStateSpec"]


class ChurnSpec(_Model):
    """Clients go offline and online (exponential on/off periods)."""

    enabled: bool = Field(default=False, description="turn churn on")
    mean_online: float = Field(default=600.0, gt=0, description="mean online period (s)")
    mean_offline: float = Field(default=60.0, gt=0, description="mean offline period (s)")


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
            "(needs federation.fanout pre-join-store)"
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


class SteadyStateSpec(_Model):
    """Start the run on the tree a long random history leaves (issue 21; ``sim/warmup.py``)."""

    proposals_per_commit: int = Field(
        default=1,
        ge=0,
        description=(
            "Update proposals (by random members) each commit of the history carries; each blanks "
            "its proposer's direct path (RFC 9420 §12.1.2)"
        ),
    )
    rounds_per_member: float = Field(
        default=4.0,
        gt=0,
        description=(
            "length of the history in commits per member (planned on the tree's shape; only the "
            "commits that shape the final tree, about 0.4 per member, are replayed by the members)"
        ),
    )


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
    steady_state: SteadyStateSpec | None = Field(
        default=None,
        description=(
            "start on a long-lived group's tree: after the creation commit the members replay a "
            "random history of Update proposals and commits, unmeasured, and the run's clock "
            "(duration, workload) starts when every such group is done; default: the tree of the "
            "creation commit (every parent node blank)"
        ),
    )

    light_share: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description=(
            "share of the members that are light clients (draft-kiefer-mls-light, docs/light-clients.md): "
            "round(share × initial members) of the initial members other than the creator, drawn at "
            "random, and each joiner the workload adds while the light members are fewer than this "
            "share; light members join by the DS's AnnotatedWelcome, follow by its AnnotatedCommits, "
            "send and receive application messages and never commit or propose. Needs "
            "federation.fanout plain, ordering single or hub, workload.join_mode tree-from-ds (or "
            "welcome with mls.ratchet_tree_in_welcome false) and update_mode commit; "
            "default: every member is full"
        ),
    )

    reinit: ReinitSpec | None = Field(
        default=None,
        description=(
            "re-initialise the group during the run (RFC 9420 §11.2): a member commits a ReInit, "
            "creates the new group (e.g. in a post-quantum suite) with every member's KeyPackage "
            "of that suite, and the members join it by Welcome; the workload moves to the new "
            'group (docs/model.md, "Re-initialisation"); default: never'
        ),
    )

    @model_serializer(mode="wrap")
    def _without_absent_history(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A group without ``steady_state`` (or ``light_share``, ``reinit``) dumps exactly as
        before the key existed (run keys and saved scenarios do not change)."""
        data: dict[str, Any] = handler(self)
        for key in ("steady_state", "light_share", "reinit"):
            if getattr(self, key) is None:
                data.pop(key, None)
        return data

    def light_count(self, members: int) -> int:
        """How many of ``members`` initial members are light (``light_share``; 0 without it)."""
        return 0 if self.light_share is None else round(self.light_share * members)

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
