"""KeyPackage (RFC 9420 §10): a client's signed, one-time offer to be added to a group."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec import Reader, Writer, cached_encoding, varint_size
from .common import Extension, pull_extensions, push_extensions
from .enums import ProtocolVersion, pull_enum16
from .tree import LeafNode

__all__ = ["KeyPackage", "key_package_tbs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPackage:
    """§10 KeyPackage; ``signature`` signs :func:`key_package_tbs` (label "KeyPackageTBS")."""

    version: ProtocolVersion = ProtocolVersion.MLS10
    cipher_suite: int
    init_key: bytes
    leaf_node: LeafNode
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""
    #: the encoding, kept from decoding or the first :meth:`encoded` (the signature check and
    #: the KeyPackageRef both need it); not a field of the struct, as ``LeafNode._wire``.
    #: :meth:`push` always re-encodes.
    _wire: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def encoded(self) -> bytes:
        """The §10 KeyPackage bytes: those it was decoded from, else encoded once."""
        return cached_encoding(self)

    def _push_tbs(self, w: Writer) -> None:
        w.push_uint16(self.version)
        w.push_uint16(self.cipher_suite)
        w.push_opaque(self.init_key)
        self.leaf_node.push(w)
        push_extensions(w, self.extensions)

    def push(self, w: Writer) -> None:
        self._push_tbs(w)
        w.push_opaque(self.signature)

    @classmethod
    def pull(cls, r: Reader) -> KeyPackage:
        start = r.pos
        kp = cls(
            version=pull_enum16(r, ProtocolVersion),
            cipher_suite=r.pull_uint16(),
            init_key=r.pull_opaque(),
            leaf_node=LeafNode.pull(r),
            extensions=pull_extensions(r),
            signature=r.pull_opaque(),
        )
        object.__setattr__(kp, "_wire", r.since(start))
        return kp


def key_package_tbs(kp: KeyPackage) -> bytes:
    """The §10 KeyPackageTBS bytes: every field of ``kp`` but the signature (the encoding
    without its trailing ``signature``, :meth:`KeyPackage.encoded`)."""
    wire = kp.encoded()
    n = len(kp.signature)
    return wire[: len(wire) - n - varint_size(n)]
