"""Pre-shared keys: PSKLabel and the psk_secret chain (RFC 9420 §8.4).

The key schedule takes one ``psk_secret``; this module folds an ordered list of
(PreSharedKeyID, PSK value) pairs into it. Looking up the PSK value (an application's
external PSK or the ``resumption_psk`` of an earlier epoch) is the caller's job;
:func:`resolve_psks` only turns a failed lookup into the §12.4.3.1 error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .codec import Reader, Writer, encode
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError, RemoteProtocolError
from .messages.enums import PSKType
from .messages.psk_id import PreSharedKeyID

__all__ = [
    "PSKLabel",
    "PSKError",
    "MissingPSKError",
    "MAX_PSKS",
    "psk_secret",
    "resolve_psks",
    "chained_lookup",
]

#: ``index`` and ``count`` of PSKLabel are uint16 (§8.4).
MAX_PSKS = 0xFFFF


class PSKError(LocalProtocolError):
    """The caller asked for a psk_secret over a list §8.4 cannot encode."""

    rfc_section = "8.4"


class MissingPSKError(RemoteProtocolError):
    """A Commit or Welcome names a PSK this client does not hold (§12.4.3.1, §12.2)."""

    rfc_section = "12.4.3.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class PSKLabel:
    """``struct { PreSharedKeyID id; uint16 index; uint16 count; } PSKLabel`` (§8.4).

    Binds each PSK to its position in the list, so reordering the same PSKs gives a
    different ``psk_secret``.
    """

    id: PreSharedKeyID
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.count <= MAX_PSKS:
            raise ValueError(f"PSKLabel count {self.count} outside uint16")
        if not 0 <= self.index < max(self.count, 1):
            raise ValueError(f"PSKLabel index {self.index} outside [0, {self.count})")

    def push(self, w: Writer) -> None:
        self.id.push(w)
        w.push_uint16(self.index)
        w.push_uint16(self.count)

    @classmethod
    def pull(cls, r: Reader) -> PSKLabel:
        psk_id = PreSharedKeyID.pull(r)
        index = r.pull_uint16()
        return cls(id=psk_id, index=index, count=r.pull_uint16())


def psk_secret(suite: CipherSuite, psks: Sequence[tuple[PreSharedKeyID, bytes]]) -> bytes:
    """§8.4 ``psk_secret`` of the PSKs in Commit / GroupSecrets order; all-zero for none.

    ``psk_extracted_i = Extract(0, psk_i)``, ``psk_input_i = ExpandWithLabel(psk_extracted_i,
    "derived psk", PSKLabel_i, Nh)``, ``psk_secret_{i+1} = Extract(psk_input_i, psk_secret_i)``.
    """
    count = len(psks)
    if count > MAX_PSKS:
        raise PSKError(f"{count} PSKs exceed the uint16 count of PSKLabel")
    nh = suite.info.hash_len
    zero = bytes(nh)
    secret = zero
    for index, (psk_id, value) in enumerate(psks):
        extracted = suite.kdf_extract(zero, value)
        label = encode(PSKLabel(id=psk_id, index=index, count=count))
        psk_input = suite.expand_with_label(extracted, "derived psk", label, nh)
        secret = suite.kdf_extract(psk_input, secret)
    return secret


def resolve_psks(
    ids: Sequence[PreSharedKeyID], lookup: Callable[[PreSharedKeyID], bytes | None]
) -> list[tuple[PreSharedKeyID, bytes]]:
    """Pair each id with its value from ``lookup``; a missing PSK is a §12.4.3.1 error.

    ``lookup`` returns ``None`` for a PSK the client does not hold (for resumption PSKs:
    the ``resumption_psk`` of an epoch it never saw or no longer keeps, §8.6).
    """
    out: list[tuple[PreSharedKeyID, bytes]] = []
    for psk_id in ids:
        value = lookup(psk_id)
        if value is None:
            what = (
                f"external PSK {psk_id.psk_id.hex()}"
                if psk_id.psktype == PSKType.EXTERNAL
                else f"resumption PSK of group {psk_id.psk_group_id.hex()} epoch {psk_id.psk_epoch}"
            )
            raise MissingPSKError(f"no value for {what}")
        out.append((psk_id, value))
    return out


def chained_lookup(
    first: Callable[[PreSharedKeyID], bytes | None] | None,
    then: Callable[[PreSharedKeyID], bytes | None] | None,
) -> Callable[[PreSharedKeyID], bytes | None]:
    """A PSK lookup that asks ``first`` and, where it holds nothing, ``then`` (e.g. an old
    group's resumption PSKs before the application's; either may be None)."""

    def lookup(psk_id: PreSharedKeyID) -> bytes | None:
        found = first(psk_id) if first is not None else None
        return found if found is not None or then is None else then(psk_id)

    return lookup
