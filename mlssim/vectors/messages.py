"""``messages``: every struct decodes and re-encodes byte-identically (RFC 9420 wire syntax).

One message per field that fails to decode, decodes to the wrong kind of message, or
re-encodes to different bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..mls.codec import decode, encode
from ..mls.errors import DecodeError
from ..mls.messages import (
    Add,
    Commit,
    ContentType,
    ExternalInit,
    GroupContextExtensions,
    GroupSecrets,
    MLSMessage,
    PreSharedKey,
    Proposal,
    PublicMessage,
    ReInit,
    Remove,
    Update,
    WireFormat,
    decode_body,
    decode_ratchet_tree,
    encode_body,
    encode_ratchet_tree,
)
from .common import Check, h

__all__ = ["check", "FIELDS"]


def _mls_message(
    wire_format: WireFormat, content_type: ContentType | None = None
) -> Callable[[bytes], bytes]:
    def round_trip(data: bytes) -> bytes:
        msg = decode(MLSMessage, data)
        if msg.wire_format != wire_format:
            raise DecodeError(f"wire_format is {msg.wire_format.name}, want {wire_format.name}")
        if content_type is not None:
            assert isinstance(msg.body, PublicMessage)
            got = msg.body.content.content_type
            if got != content_type:
                raise DecodeError(f"content_type is {got.name}, want {content_type.name}")
        return encode(msg)

    return round_trip


def _proposal(cls: type[Proposal]) -> Callable[[bytes], bytes]:
    return lambda data: encode_body(decode_body(cls, data))


#: vector field -> decode then re-encode
FIELDS: dict[str, Callable[[bytes], bytes]] = {
    "mls_welcome": _mls_message(WireFormat.WELCOME),
    "mls_group_info": _mls_message(WireFormat.GROUP_INFO),
    "mls_key_package": _mls_message(WireFormat.KEY_PACKAGE),
    "ratchet_tree": lambda data: encode_ratchet_tree(decode_ratchet_tree(data)),
    "group_secrets": lambda data: encode(decode(GroupSecrets, data)),
    "add_proposal": _proposal(Add),
    "update_proposal": _proposal(Update),
    "remove_proposal": _proposal(Remove),
    "pre_shared_key_proposal": _proposal(PreSharedKey),
    "re_init_proposal": _proposal(ReInit),
    "external_init_proposal": _proposal(ExternalInit),
    "group_context_extensions_proposal": _proposal(GroupContextExtensions),
    "commit": lambda data: encode(decode(Commit, data)),
    "public_message_application": _mls_message(WireFormat.PUBLIC_MESSAGE, ContentType.APPLICATION),
    "public_message_proposal": _mls_message(WireFormat.PUBLIC_MESSAGE, ContentType.PROPOSAL),
    "public_message_commit": _mls_message(WireFormat.PUBLIC_MESSAGE, ContentType.COMMIT),
    "private_message": _mls_message(WireFormat.PRIVATE_MESSAGE),
}


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    for name, round_trip in FIELDS.items():
        if name not in case:
            c.true(f"{name}: missing from the vector", False)
            continue
        data = h(case[name])
        try:
            again = round_trip(data)
        except DecodeError as exc:
            c.true(f"{name}: does not decode: {exc}", False)
            continue
        c.eq(f"{name}: re-encoded", again, data)
    return c.errors
