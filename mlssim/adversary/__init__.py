"""The adversary's knowledge for compromise and healing metrics, and the tampering a delivery
or authentication service can attempt with the RFC 9420 check that rejects it
(docs/security-model.md).

Imports only :mod:`mlssim.mls`: the simulator feeds it compromises and observations; it
derives what it can through the same MLS API calls members use.
"""

from __future__ import annotations

from .adversary import HOW, Adversary, EpochExposure, ObservationError
from .knowledge import EpochKey, Knowledge
from .randomness import (
    DrawTap,
    MixingRandom,
    RecordingRandom,
    ReplayExhaustedError,
    ReplayRandom,
    device_random,
    mix_entropy,
)
from .tamper import (
    CATALOGUE,
    RULES,
    Capability,
    Detection,
    Directory,
    Insider,
    Kind,
    Rule,
    RuleRow,
    Sent,
    StolenKeys,
    Tamper,
    Tampered,
    TamperLedger,
    Wire,
    applicable,
    deliver_to_joiner,
    deliver_to_member,
    issue_insider,
    kind_of,
    member_snapshot,
    offer_key_package,
    tamper_named,
)

__all__ = [
    "Adversary",
    "EpochExposure",
    "ObservationError",
    "HOW",
    "Knowledge",
    "EpochKey",
    "DrawTap",
    "RecordingRandom",
    "MixingRandom",
    "ReplayRandom",
    "ReplayExhaustedError",
    "device_random",
    "mix_entropy",
    "Capability",
    "Kind",
    "kind_of",
    "Rule",
    "RULES",
    "Sent",
    "StolenKeys",
    "Wire",
    "Tamper",
    "Tampered",
    "CATALOGUE",
    "tamper_named",
    "applicable",
    "Detection",
    "member_snapshot",
    "deliver_to_member",
    "deliver_to_joiner",
    "offer_key_package",
    "RuleRow",
    "TamperLedger",
    "Directory",
    "Insider",
    "issue_insider",
]
