"""Shared tools of the alterations: flipping and appending bytes, re-encoding a body as an
MLSMessage, reading the genuine body out of a :class:`Wire`, and the few pieces more than one
kind of message needs (the epoch's stolen secrets, a leaf with no member, a KeyPackage with a
broken signature, fresh keys drawn from the adversary's ``random.Random``).

Each concern module (public, private, replay, joining) keeps the helpers only it uses; what
sits here is used by two or more of them.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TypeVar

from mlssim.mls.codec import encode
from mlssim.mls.keyschedule import EpochSecrets
from mlssim.mls.messages import KeyPackage, MLSMessage, MLSMessageBody
from mlssim.mls.ratchet_tree import RatchetTree

from .model import Wire

__all__ = ["Rand", "flip", "alter", "wire_bytes", "body_of", "epoch_keys", "unknown_leaf", "bad_signature"]


class Rand:
    """A RandomSource over a ``random.Random`` (fresh keys the adversary generates)."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def flip(data: bytes, rng: random.Random, lo: int = 0, hi: int | None = None) -> bytes:
    """``data`` with one byte in ``[lo, hi)`` XORed with a random non-zero mask."""
    end = len(data) if hi is None else min(hi, len(data))
    if end <= lo:
        raise ValueError(f"nothing to flip in bytes {lo}..{end}")
    out = bytearray(data)
    out[rng.randrange(lo, end)] ^= rng.randrange(1, 256)
    return bytes(out)


def alter(data: bytes, rng: random.Random) -> bytes:
    """``data`` with a byte flipped, or one appended."""
    return flip(data, rng) if data and rng.random() < 0.5 else data + bytes([rng.randrange(256)])


def wire_bytes(body: MLSMessageBody) -> bytes:
    return encode(MLSMessage(body=body))


_B = TypeVar("_B")


def body_of(w: Wire, cls: type[_B]) -> _B:
    body = w.message.body
    if not isinstance(body, cls):
        raise TypeError(f"not a {cls.__name__}")
    return body


def epoch_keys(w: Wire) -> EpochSecrets:
    if w.keys.epoch is None:
        raise TypeError("no epoch secrets")
    return w.keys.epoch


def unknown_leaf(tree: RatchetTree, rng: random.Random) -> int:
    """A leaf index with no member: a blank leaf, or one past the tree."""
    blanks = [i for i in range(tree.n_leaves) if tree.leaf(i) is None]
    return rng.choice([*blanks, tree.n_leaves + rng.randrange(1000)])


def bad_signature(kp: KeyPackage, rng: random.Random) -> KeyPackage:
    return replace(kp, signature=flip(kp.signature, rng))
