"""Structs used across the protocol: Extension and GroupContext (RFC 9420 §8.1, §13)."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader, Writer
from .enums import ProtocolVersion, pull_enum16

__all__ = ["Extension", "GroupContext", "push_extensions", "pull_extensions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Extension:
    """``struct { ExtensionType extension_type; opaque extension_data<V>; }`` (§13).

    The type stays a plain ``uint16``: unknown extension types are legal on the wire.
    """

    extension_type: int
    extension_data: bytes

    def push(self, w: Writer) -> None:
        w.push_uint16(self.extension_type)
        w.push_opaque(self.extension_data)

    @classmethod
    def pull(cls, r: Reader) -> Extension:
        return cls(extension_type=r.pull_uint16(), extension_data=r.pull_opaque())


def push_extensions(w: Writer, exts: tuple[Extension, ...]) -> None:
    w.push_vector(exts, lambda w2, e: e.push(w2))


def pull_extensions(r: Reader) -> tuple[Extension, ...]:
    return tuple(r.pull_vector(Extension.pull))


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupContext:
    """§8.1 GroupContext: what every member of an epoch agrees on."""

    version: ProtocolVersion = ProtocolVersion.MLS10
    cipher_suite: int
    group_id: bytes
    epoch: int
    tree_hash: bytes
    confirmed_transcript_hash: bytes
    extensions: tuple[Extension, ...] = ()

    def push(self, w: Writer) -> None:
        w.push_uint16(self.version)
        w.push_uint16(self.cipher_suite)
        w.push_opaque(self.group_id)
        w.push_uint64(self.epoch)
        w.push_opaque(self.tree_hash)
        w.push_opaque(self.confirmed_transcript_hash)
        push_extensions(w, self.extensions)

    @classmethod
    def pull(cls, r: Reader) -> GroupContext:
        return cls(
            version=pull_enum16(r, ProtocolVersion),
            cipher_suite=r.pull_uint16(),
            group_id=r.pull_opaque(),
            epoch=r.pull_uint64(),
            tree_hash=r.pull_opaque(),
            confirmed_transcript_hash=r.pull_opaque(),
            extensions=pull_extensions(r),
        )
