"""The adversary: which member's device, DS or AS is compromised when, and the clients' defences.

Healing is measured from the adversary's real key holdings (``docs/security-model.md``); this
module only describes the events and defences, which ``Scenario`` checks against the groups.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .schema_base import _Model

__all__ = ["CompromiseSpec", "AdversarySpec"]


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
