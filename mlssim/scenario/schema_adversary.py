"""The adversary: which member's device, DS or AS is compromised when, and the clients' defences.

Healing is measured from the adversary's real key holdings (``docs/security-model.md``); this
module only describes the events and defences, which ``Scenario`` checks against the groups.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from .schema_base import _Model

__all__ = ["CompromiseSpec", "AdversarySpec", "ImpersonateSpec", "forged_commit_problems"]


class ImpersonateSpec(_Model):
    """The active adversary: after a member compromise it sends as the victim
    (docs/security-model.md, "The active adversary")."""

    app_rate: float = Field(
        ge=0,
        description="forged application messages per second, each signed with the stolen signature key "
        "and sealed with the group key of the adversary's latest epoch, injected through the victim's DS "
        "(0: none; app_rate and commit_rate cannot both be 0)",
    )
    app_size: int = Field(default=100, ge=0, description="bytes of each forged message's content")
    commit_rate: float = Field(
        default=0.0,
        ge=0,
        description="forged commits per second (exponential gaps; 0: none): a path commit as the victim "
        "(no proposals, a full UpdatePath, RFC 9420 §12.4) for the adversary's latest epoch, built by the "
        "core's own commit code and submitted to the ordering DS through the victim's DS; needs "
        "mls.handshake public, federation.fanout plain and no ds_misbehaviour",
    )

    @model_validator(mode="after")
    def _forges_something(self) -> ImpersonateSpec:
        if self.app_rate == 0 and self.commit_rate == 0:
            raise ValueError("nothing to forge: app_rate and commit_rate are both 0")
        return self

    @model_serializer(mode="wrap")
    def _without_default_commits(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without forged commits the spec dumps exactly as before ``commit_rate`` existed."""
        data: dict[str, Any] = handler(self)
        if self.commit_rate == 0:
            data.pop("commit_rate", None)
        return data


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
    impersonate: ImpersonateSpec | None = Field(
        default=None,
        description="member only: the adversary then sends application messages and commits as the victim; "
        "absent: passive",
    )

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without ``impersonate`` a compromise dumps exactly as before the key existed."""
        data: dict[str, Any] = handler(self)
        if self.impersonate is None:
            data.pop("impersonate", None)
        return data


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
    signature_rotation: Literal["never", "on-update"] = Field(
        default="never",
        description="never = a member keeps its signature key across updates; on-update = each of its "
        "updates (a path-update commit or an Update proposal) carries a new signature key (RFC 9420 "
        "§12.1.2, §7.3), so a stolen key stops verifying (§6.1)",
    )

    @model_serializer(mode="wrap")
    def _without_default_rotation(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """With ``signature_rotation: never`` the section dumps exactly as before the key existed."""
        data: dict[str, Any] = handler(self)
        if self.signature_rotation == "never":
            data.pop("signature_rotation", None)
        return data


def forged_commit_problems(
    adversary: AdversarySpec, *, handshake: str, fanout: str, misbehaving_ds: bool
) -> list[str]:
    """``impersonate.commit_rate`` needs what a forged commit's path assumes (sim/forged_commits.py):
    the ordering DS checks its signature against the public tree, which it can read only in a
    PublicMessage (§6.2); it is a plain RFC 9420 commit (no split or PRE framing); and no
    misbehaving DS decides commits meanwhile (its equivocation answers the sender's device)."""
    problems = []
    for i, cp in enumerate(adversary.compromises):
        if cp.impersonate is None or cp.impersonate.commit_rate == 0:
            continue
        where = f"adversary.compromises[{i}].impersonate.commit_rate"
        if handshake != "public":
            problems.append(f"{where}: needs mls.handshake public (the ordering DS checks the signature)")
        if fanout != "plain":
            problems.append(f"{where}: needs federation.fanout plain, not {fanout}")
        if misbehaving_ds:
            problems.append(f"{where}: cannot be combined with ds_misbehaviour")
    return problems
