"""Named random streams derived from the scenario seed.

Every actor and purpose draws from its own stream, seeded from a hash of the base seed
and the stream's name, so adding a client or a purpose never shifts another stream's
draws, and ``PYTHONHASHSEED`` plays no part (names are hashed with SHA-256, not ``hash``).
"""

from __future__ import annotations

import hashlib
import random

from ..mls.rand import SeededRandom

__all__ = ["Streams"]


class Streams:
    """Factory of independent streams: ``stream("net/loss")``, ``mls("client/alice@a")``."""

    __slots__ = ("_cache", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._cache: dict[str, random.Random] = {}

    def _seed_for(self, name: str) -> int:
        digest = hashlib.sha256(f"mlssim/{self.seed}/{name}".encode()).digest()
        return int.from_bytes(digest[:16], "big")

    def stream(self, name: str) -> random.Random:
        """The ``random.Random`` of ``name`` (one per name for the whole run)."""
        r = self._cache.get(name)
        if r is None:
            r = self._cache[name] = random.Random(self._seed_for(name))
        return r

    def mls(self, name: str) -> SeededRandom:
        """A byte stream for the MLS core (key generation, HPKE, reuse guards)."""
        return SeededRandom(self._seed_for(name).to_bytes(16, "big"), name)
