"""Injected randomness for the sans-IO core.

The core never reads ``os.urandom`` or the global ``random`` on its own: every operation
that needs fresh bytes takes a :class:`RandomSource`. The simulator passes a
:class:`SeededRandom` per actor and purpose, so a run is reproducible from its seed;
interop tests may pass :class:`OSRandom`.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol, runtime_checkable

__all__ = ["RandomSource", "SeededRandom", "OSRandom"]


@runtime_checkable
class RandomSource(Protocol):
    def random_bytes(self, n: int) -> bytes: ...


class SeededRandom:
    """Deterministic byte stream: SHAKE-256 in counter mode over a seed and a name.

    Two streams with different names never share output, so adding a stream for a new
    purpose does not shift the draws of any other stream.
    """

    __slots__ = ("_key", "_counter", "_pool")

    def __init__(self, seed: bytes | int, name: str = "") -> None:
        if isinstance(seed, int):
            seed = seed.to_bytes(16, "big", signed=True)
        self._key = hashlib.sha256(b"mlssim-rng\x00" + seed + b"\x00" + name.encode()).digest()
        self._counter = 0
        self._pool = b""

    def child(self, name: str) -> SeededRandom:
        """An independent stream derived from this one's key and ``name``."""
        return SeededRandom(self._key, name)

    def random_bytes(self, n: int) -> bytes:
        while len(self._pool) < n:
            block = hashlib.shake_256(self._key + self._counter.to_bytes(8, "big")).digest(4096)
            self._counter += 1
            self._pool += block
        out, self._pool = self._pool[:n], self._pool[n:]
        return out


class OSRandom:
    """Operating-system randomness, for interop tests and real deployments."""

    __slots__ = ()

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)
