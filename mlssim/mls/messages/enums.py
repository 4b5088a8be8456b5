"""Code points of RFC 9420 §17 used on the wire."""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

from ..codec import Reader
from ..errors import DecodeError

__all__ = [
    "ProtocolVersion",
    "WireFormat",
    "ContentType",
    "SenderType",
    "ProposalType",
    "ExtensionType",
    "CredentialType",
    "LeafNodeSource",
    "NodeType",
    "PSKType",
    "ResumptionPSKUsage",
    "ProposalOrRefType",
    "pull_enum8",
    "pull_enum16",
]

E = TypeVar("E", bound=IntEnum)


class ProtocolVersion(IntEnum):
    MLS10 = 1


class WireFormat(IntEnum):
    PUBLIC_MESSAGE = 1
    PRIVATE_MESSAGE = 2
    WELCOME = 3
    GROUP_INFO = 4
    KEY_PACKAGE = 5
    #: draft-mularczyk-mls-splitcommit's two MLSMessage bodies. The draft assigns no code
    #: points ("no IANA actions"); mlssim takes two from RFC 9420 §17.2's private-use range
    #: 0xF000-0xFFFF (0xF001-0xF002 are mlssim's older Merkle variant, assist/split_format.py).
    MLS_SCOMMIT = 0xF003
    MLS_INDIVIDUAL_COMMIT = 0xF004


class ContentType(IntEnum):
    APPLICATION = 1
    PROPOSAL = 2
    COMMIT = 3
    #: draft-mularczyk-mls-splitcommit §3: the header of a splittable commit
    SHEADER = 4


class SenderType(IntEnum):
    MEMBER = 1
    EXTERNAL = 2
    NEW_MEMBER_PROPOSAL = 3
    NEW_MEMBER_COMMIT = 4


class ProposalType(IntEnum):
    ADD = 1
    UPDATE = 2
    REMOVE = 3
    PSK = 4
    REINIT = 5
    EXTERNAL_INIT = 6
    GROUP_CONTEXT_EXTENSIONS = 7


class ExtensionType(IntEnum):
    APPLICATION_ID = 1
    RATCHET_TREE = 2
    REQUIRED_CAPABILITIES = 3
    EXTERNAL_PUB = 4
    EXTERNAL_SENDERS = 5


class CredentialType(IntEnum):
    BASIC = 1
    X509 = 2


class LeafNodeSource(IntEnum):
    KEY_PACKAGE = 1
    UPDATE = 2
    COMMIT = 3


class NodeType(IntEnum):
    LEAF = 1
    PARENT = 2


class PSKType(IntEnum):
    EXTERNAL = 1
    RESUMPTION = 2


class ResumptionPSKUsage(IntEnum):
    APPLICATION = 1
    REINIT = 2
    BRANCH = 3


class ProposalOrRefType(IntEnum):
    PROPOSAL = 1
    REFERENCE = 2


def _member(enum: type[E], v: int) -> E:
    # a dict look-up: calling the Enum class is ~1 us, a sizeable part of decoding a message
    found = enum._value2member_map_.get(v)
    if found is None:
        try:
            return enum(v)  # an IntEnum may still take the value (e.g. a _missing_ hook)
        except ValueError:
            raise DecodeError(f"unknown {enum.__name__} value {v}") from None
    return found  # type: ignore[return-value]


def pull_enum8(r: Reader, enum: type[E]) -> E:
    return _member(enum, r.pull_uint8())


def pull_enum16(r: Reader, enum: type[E]) -> E:
    return _member(enum, r.pull_uint16())
