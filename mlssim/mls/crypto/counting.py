"""Counted work: the primitives a member executes, tallied through the suite interface (issue 19).

Processing time will be the count of each primitive a client executed times a calibrated cost
per primitive. This module only *counts*; nothing reads the counts yet (the simulator, the
calibration and the hardware profiles come later). Three parts:

* :class:`WorkCounts` — a tally: primitive name → count, and ``<name>_bytes`` → bytes
  processed for the primitives whose cost grows with their input (:data:`PRIMITIVES`).
* :func:`counting` — ``with counting(tally): ...`` makes ``tally`` the *active* tally (a
  module-level stack: the core is sans-IO and the simulator single-threaded). With no active
  tally nothing is counted anywhere.
* :class:`CountingSuite` — wraps any :class:`CipherSuite` and forwards every primitive; while a
  tally is active each call adds to it. The labeled functions of RFC 9420 §5 (ExpandWithLabel,
  SignWithLabel, EncryptWithLabel, …) are inherited from :class:`CipherSuite` and so reach the
  inner suite only through the counted primitives. Counting at the interface the core calls,
  not inside a suite, is what makes a model twin and its real suite count the same work for
  the same operation (the model's stand-in maths and the real suite's internal caches are
  below the line). An unwrapped suite costs nothing extra.

Also counted while a tally is active: ``codec.decode`` (``decode``, by bytes), and the hits of
the :class:`~mlssim.mls.sharing.EpochCache` tables, which charge the member the work kept
beside the shared value (see ``sharing.py``), so a member is charged what it would do alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar, TypeVarTuple

from .. import codec as _codec
from ..rand import RandomSource
from .suite import CipherSuite, KeyPair

__all__ = ["WorkCounts", "CountingSuite", "counting", "measured", "watch", "PRIMITIVES", "BYTE_COUNTED"]

V = TypeVar("V")
Args = TypeVarTuple("Args")

#: Every name a tally may hold (each also with ``_bytes`` when in :data:`BYTE_COUNTED`):
#:
#: * ``hash`` (bytes hashed), ``mac`` (bytes MACed), ``kdf_extract``, ``kdf_expand`` (calls);
#: * ``aead_seal`` (plaintext + aad bytes), ``aead_open`` (ciphertext + aad bytes), also for
#:   the AEAD inside an HPKE seal or open;
#: * ``hpke_setup`` (bytes of ``info``): one RFC 9180 §5.1 base-mode key schedule, in every HPKE
#:   seal, open and export (an export then adds one ``kdf_expand``);
#: * ``kem_encap``, ``kem_decap`` (also those inside HPKE seal and open),
#:   ``kem_derive_key_pair``, ``kem_public_key``;
#: * ``sign``, ``verify`` (bytes of the signed message: EdDSA and ECDSA hash it all),
#:   ``signature_key_pair``, ``signature_public_key``;
#: * ``decode`` (bytes): one top-level ``codec.decode``.
PRIMITIVES = (
    "hash",
    "mac",
    "kdf_extract",
    "kdf_expand",
    "aead_seal",
    "aead_open",
    "hpke_setup",
    "kem_encap",
    "kem_decap",
    "kem_derive_key_pair",
    "kem_public_key",
    "sign",
    "verify",
    "signature_key_pair",
    "signature_public_key",
    "decode",
)
#: the primitives also counted by bytes, under ``<name>_bytes``
BYTE_COUNTED = ("hash", "mac", "aead_seal", "aead_open", "hpke_setup", "sign", "verify", "decode")


class WorkCounts(dict[str, int]):
    """A tally of executed primitives: ``name -> calls`` and ``name_bytes -> bytes``.

    A plain ``dict`` (compared, copied and printed as one); absent names count zero."""

    __slots__ = ()

    def add(self, name: str, nbytes: int | None = None) -> None:
        """One call of ``name``, over ``nbytes`` bytes for a byte-counted primitive."""
        self[name] = self.get(name, 0) + 1
        if nbytes is not None:
            key = name + "_bytes"
            self[key] = self.get(key, 0) + nbytes

    def merge(self, other: Mapping[str, int]) -> None:
        """Add every count of ``other`` (e.g. the work kept beside a shared result)."""
        get = self.get
        for name, n in other.items():
            self[name] = get(name, 0) + n

    def copy(self) -> WorkCounts:
        return WorkCounts(self)


#: The tally being charged, or None (nothing is counted). Read it as ``counting.active_tally``
#: at the time of use (never ``from ... import`` it: it changes); set it only by :func:`counting`.
active_tally: WorkCounts | None = None
_stack: list[WorkCounts | None] = []


#: called with the new active tally (or None) on every change: modules on hot paths keep it in a
#: global of their own (``sharing.py``), where testing it costs the least
_watchers: list[Callable[[WorkCounts | None], None]] = []


def watch(setter: Callable[[WorkCounts | None], None]) -> None:
    """Call ``setter`` with the active tally now and whenever it changes."""
    _watchers.append(setter)
    setter(active_tally)


def _activate(tally: WorkCounts | None) -> None:
    global active_tally
    active_tally = tally
    _codec._decode_tally = tally  # codec sits below crypto/ and cannot import this module
    for setter in _watchers:
        setter(tally)


@contextmanager
def counting(tally: WorkCounts) -> Iterator[WorkCounts]:
    """Charge every counted primitive to ``tally`` inside the block (nests; the inner wins)."""
    _stack.append(active_tally)
    _activate(tally)
    try:
        yield tally
    finally:
        _activate(_stack.pop())


def measured(compute: Callable[[*Args], V], *args: *Args) -> tuple[V, WorkCounts]:
    """``compute(*args)`` and the work it did, counted apart and also charged to the tally that
    was active (a shared result keeps its cost beside it, see ``sharing.py``). The work of a
    ``compute`` that raises is still charged: the member did it."""
    outer = active_tally
    cost = WorkCounts()
    try:
        with counting(cost):
            value = compute(*args)
    finally:
        if outer is not None:
            outer.merge(cost)
    return value, cost


class CountingSuite(CipherSuite):
    """``inner`` with every primitive counted into the active tally (if any).

    Same ``info`` and ``family`` as ``inner``, same results, the same key registry for a model
    suite (calls are forwarded, never copied); pickles as a wrapper of ``inner``'s pickle."""

    inner: CipherSuite

    def __init__(self, inner: CipherSuite) -> None:
        if isinstance(inner, CountingSuite):
            inner = inner.inner
        self.inner = inner
        self.info = inner.info
        self.family = inner.family

    def __repr__(self) -> str:
        return f"CountingSuite({self.inner!r})"

    def __reduce__(self) -> tuple[type[CountingSuite], tuple[CipherSuite]]:
        return (CountingSuite, (self.inner,))

    # ---- symmetric ---------------------------------------------------------------------

    def hash(self, data: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("hash", len(data))
        return self.inner.hash(data)

    def mac(self, key: bytes, data: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("mac", len(data))
        return self.inner.mac(key, data)

    def kdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("kdf_extract")
        return self.inner.kdf_extract(salt, ikm)

    def kdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        if active_tally is not None:
            active_tally.add("kdf_expand")
        return self.inner.kdf_expand(prk, info, length)

    def aead_seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("aead_seal", len(plaintext) + len(aad))
        return self.inner.aead_seal(key, nonce, aad, plaintext)

    def aead_open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("aead_open", len(ciphertext) + len(aad))
        return self.inner.aead_open(key, nonce, aad, ciphertext)

    # ---- KEM and HPKE ------------------------------------------------------------------

    def kem_derive_key_pair(self, ikm: bytes) -> KeyPair:
        if active_tally is not None:
            active_tally.add("kem_derive_key_pair")
        return self.inner.kem_derive_key_pair(ikm)

    def kem_public_key(self, priv: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("kem_public_key")
        return self.inner.kem_public_key(priv)

    def kem_encap(self, pub: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        if active_tally is not None:
            active_tally.add("kem_encap")
        return self.inner.kem_encap(pub, rand)

    def kem_decap(self, enc: bytes, priv: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("kem_decap")
        return self.inner.kem_decap(enc, priv)

    def hpke_export(self, shared_secret: bytes, info: bytes, exporter_context: bytes, length: int) -> bytes:
        if active_tally is not None:
            active_tally.add("hpke_setup", len(info))
            active_tally.add("kdf_expand")
        return self.inner.hpke_export(shared_secret, info, exporter_context, length)

    def hpke_seal(
        self, pub: bytes, info: bytes, aad: bytes, plaintext: bytes, rand: RandomSource
    ) -> tuple[bytes, bytes]:
        if active_tally is not None:
            active_tally.add("kem_encap")
            active_tally.add("hpke_setup", len(info))
            active_tally.add("aead_seal", len(plaintext) + len(aad))
        return self.inner.hpke_seal(pub, info, aad, plaintext, rand)

    def hpke_open(self, priv: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("kem_decap")
            active_tally.add("hpke_setup", len(info))
            active_tally.add("aead_open", len(ciphertext) + len(aad))
        return self.inner.hpke_open(priv, enc, info, aad, ciphertext)

    # ---- signatures --------------------------------------------------------------------

    def signature_key_pair(self, rand: RandomSource) -> KeyPair:
        if active_tally is not None:
            active_tally.add("signature_key_pair")
        return self.inner.signature_key_pair(rand)

    def signature_public_key(self, priv: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("signature_public_key")
        return self.inner.signature_public_key(priv)

    def sign(self, priv: bytes, message: bytes) -> bytes:
        if active_tally is not None:
            active_tally.add("sign", len(message))
        return self.inner.sign(priv, message)

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        if active_tally is not None:
            active_tally.add("verify", len(message))
        return self.inner.verify(pub, message, signature)
