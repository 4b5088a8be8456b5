"""Randomness compromise: a device's random draws seen by the adversary, and entropy mixing.

The MLS core takes every random byte from an injected :class:`~mlssim.mls.rand.RandomSource`,
so a compromised random number generator is modelled by wrapping a device's source:

* :class:`RecordingRandom` passes draws through unchanged and, while the adversary taps the
  device (a compromise window), hands each raw draw to it;
* :class:`MixingRandom` (optional, on top) returns ``mix_entropy(persistent_secret, raw)``
  instead of the raw draw, so known raw draws reveal nothing unless the device's persistent
  secret is known too (a member-state compromise reveals it).

Compose them with :func:`device_random`. The adversary turns known outputs into keys by
replaying them through the core's own derivations (:class:`ReplayRandom`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Protocol

from ..mls.rand import RandomSource

__all__ = [
    "DrawTap",
    "RecordingRandom",
    "MixingRandom",
    "ReplayRandom",
    "ReplayExhaustedError",
    "mix_entropy",
    "device_random",
    "MIX_LABEL",
]

MIX_LABEL = b"mlssim entropy mix"


class DrawTap(Protocol):
    """Who receives the draws of a compromised device (the adversary)."""

    def tapping(self, device: str) -> bool:
        """Whether ``device``'s random number generator is compromised right now."""
        ...

    def record_draw(self, device: str, raw: bytes, mixed: bool) -> None:
        """One raw draw of ``device``; ``mixed``: the device mixes it before use."""
        ...


class RecordingRandom:
    """A device's RandomSource that leaks its draws to ``tap`` while the tap is active.

    ``mixed`` tells the tap that a :class:`MixingRandom` sits on top (the adversary knows the
    design, not the persistent secret)."""

    __slots__ = ("device", "inner", "mixed", "tap")

    def __init__(self, inner: RandomSource, tap: DrawTap, device: str, *, mixed: bool = False) -> None:
        self.inner = inner
        self.tap = tap
        self.device = device
        self.mixed = mixed

    def random_bytes(self, n: int) -> bytes:
        raw = self.inner.random_bytes(n)
        if self.tap.tapping(self.device):
            self.tap.record_draw(self.device, raw, self.mixed)
        return raw


def mix_entropy(persistent_secret: bytes, raw: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) with the persistent secret as salt and the raw draw as input
    keying material, expanded to ``len(raw)`` bytes: unpredictable without the secret even
    when the raw draw is known, and as good as the raw draw when the secret is known."""
    prk = hmac.new(persistent_secret, raw, hashlib.sha256).digest()
    out = b""
    block = b""
    counter = 1
    while len(out) < len(raw):
        block = hmac.new(prk, block + MIX_LABEL + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[: len(raw)]


class MixingRandom:
    """Mixes a persistent per-device secret into every draw of ``inner`` (:func:`mix_entropy`)."""

    __slots__ = ("_secret", "device", "inner")

    def __init__(self, inner: RandomSource, persistent_secret: bytes, device: str) -> None:
        if len(persistent_secret) < 16:
            raise ValueError("a persistent mixing secret needs at least 16 bytes")
        self.inner = inner
        self.device = device
        self._secret = persistent_secret

    @property
    def persistent_secret(self) -> bytes:
        """Part of the device's state: what a member-state compromise copies."""
        return self._secret

    def random_bytes(self, n: int) -> bytes:
        return mix_entropy(self._secret, self.inner.random_bytes(n))


def device_random(
    base: RandomSource, tap: DrawTap, device: str, *, mixing_secret: bytes | None = None
) -> RandomSource:
    """The RandomSource a simulated device should give the MLS core: ``base`` recorded for the
    adversary and, with ``mixing_secret``, mixed with it (draw the secret before any window)."""
    recorded = RecordingRandom(base, tap, device, mixed=mixing_secret is not None)
    if mixing_secret is None:
        return recorded
    return MixingRandom(recorded, mixing_secret, device)


class ReplayExhaustedError(Exception):
    """The replayed draws do not fit the draws the replayed computation asks for."""


class ReplayRandom:
    """Serves known draws in order, so that the core's own functions recompute what the device
    computed from them (a key pair, an HPKE encapsulation). Raises ReplayExhaustedError when a
    request's length differs from the next known draw or none is left."""

    __slots__ = ("_draws", "_i")

    def __init__(self, draws: Sequence[bytes | None], start: int = 0) -> None:
        self._draws = draws
        self._i = start

    def random_bytes(self, n: int) -> bytes:
        if self._i >= len(self._draws):
            raise ReplayExhaustedError("no known draw left")
        d = self._draws[self._i]
        if d is None or len(d) != n:
            raise ReplayExhaustedError(f"asked for {n} bytes, the known draw does not fit")
        self._i += 1
        return d
