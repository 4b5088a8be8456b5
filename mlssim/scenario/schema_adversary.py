"""The adversary: which member's device, DS or AS is compromised when, and the clients' defences.

Healing is measured from the adversary's real key holdings (``docs/security-model.md``); this
module only describes the events and defences, which ``Scenario`` checks against the groups.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from .schema_base import _Model

__all__ = ["CompromiseSpec", "AdversarySpec", "ImpersonateSpec"]


class ImpersonateSpec(_Model):
    """The active adversary: after a member compromise it sends as the victim
    (docs/security-model.md, "The active adversary")."""

    app_rate: float = Field(
        gt=0,
        description="forged application messages per second, each signed with the stolen signature key "
        "and sealed with the group key of the adversary's latest epoch, injected through the victim's DS",
    )
    app_size: int = Field(default=100, ge=0, description="bytes of each forged message's content")


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
        description="member only: the adversary then sends application messages as the victim; absent: "
        "passive",
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
