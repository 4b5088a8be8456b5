"""The adversary's knowledge for compromise and healing metrics (docs/security-model.md).

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
]
