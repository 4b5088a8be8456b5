"""Proposals and Commit (RFC 9420 §12.1, §12.4).

:class:`Proposal` is the tagged union: each proposal struct (``Add``, ``Remove``, ...) is
a subclass carrying its ``proposal_type``. ``encode(add)`` therefore gives the §12.1
``Proposal`` (type then body), which is what every wire message carries; the bare body
struct, which only the interop vectors use on its own, is :meth:`Proposal.push_body` /
:meth:`Proposal.pull_body` (or :func:`encode_body` / :func:`decode_body`).

A ``Proposal`` has no length prefix, so an unknown proposal type cannot be skipped and
raises :class:`DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar

from ..codec import Reader, Writer
from ..errors import DecodeError
from .common import Extension, pull_extensions, push_extensions
from .enums import ProposalOrRefType, ProposalType, ProtocolVersion, pull_enum8, pull_enum16
from .key_package import KeyPackage
from .psk_id import PreSharedKeyID
from .tree import LeafNode, UpdatePath

__all__ = [
    "Proposal",
    "Add",
    "Update",
    "Remove",
    "PreSharedKey",
    "ReInit",
    "ExternalInit",
    "GroupContextExtensions",
    "encode_body",
    "decode_body",
    "ProposalOrRef",
    "Commit",
    "SHeader",
]

P = TypeVar("P", bound="Proposal")


class Proposal:
    """§12.1 Proposal: base of the proposal structs; ``pull`` dispatches on the type."""

    __slots__ = ()

    proposal_type: ClassVar[ProposalType]

    def push_body(self, w: Writer) -> None:
        """The proposal struct alone (e.g. ``Add``), without its ``ProposalType``."""
        raise NotImplementedError

    @classmethod
    def pull_body(cls, r: Reader) -> Self:
        raise NotImplementedError

    def push(self, w: Writer) -> None:
        w.push_uint16(self.proposal_type)
        self.push_body(w)

    @classmethod
    def pull(cls, r: Reader) -> Self:
        """Read a whole ``Proposal``; on a subclass, it must be of that subclass's type."""
        ptype = pull_enum16(r, ProposalType)
        p = _BY_TYPE[ptype].pull_body(r)
        if not isinstance(p, cls):
            raise DecodeError(f"expected a {cls.__name__} proposal, got {ptype.name}")
        return p


@dataclass(frozen=True, slots=True, kw_only=True)
class Add(Proposal):
    """§12.1.1 Add: a new member's KeyPackage."""

    proposal_type: ClassVar[ProposalType] = ProposalType.ADD
    key_package: KeyPackage

    def push_body(self, w: Writer) -> None:
        self.key_package.push(w)

    @classmethod
    def pull_body(cls, r: Reader) -> Add:
        return cls(key_package=KeyPackage.pull(r))


@dataclass(frozen=True, slots=True, kw_only=True)
class Update(Proposal):
    """§12.1.2 Update: the sender's fresh LeafNode."""

    proposal_type: ClassVar[ProposalType] = ProposalType.UPDATE
    leaf_node: LeafNode

    def push_body(self, w: Writer) -> None:
        self.leaf_node.push(w)

    @classmethod
    def pull_body(cls, r: Reader) -> Update:
        return cls(leaf_node=LeafNode.pull(r))


@dataclass(frozen=True, slots=True, kw_only=True)
class Remove(Proposal):
    """§12.1.3 Remove: the leaf index of the member to remove."""

    proposal_type: ClassVar[ProposalType] = ProposalType.REMOVE
    removed: int

    def push_body(self, w: Writer) -> None:
        w.push_uint32(self.removed)

    @classmethod
    def pull_body(cls, r: Reader) -> Remove:
        return cls(removed=r.pull_uint32())


@dataclass(frozen=True, slots=True, kw_only=True)
class PreSharedKey(Proposal):
    """§12.1.4 PreSharedKey: a PSK to inject into the next epoch's key schedule."""

    proposal_type: ClassVar[ProposalType] = ProposalType.PSK
    psk: PreSharedKeyID

    def push_body(self, w: Writer) -> None:
        self.psk.push(w)

    @classmethod
    def pull_body(cls, r: Reader) -> PreSharedKey:
        return cls(psk=PreSharedKeyID.pull(r))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReInit(Proposal):
    """§12.1.5 ReInit: the parameters of the group that replaces this one."""

    proposal_type: ClassVar[ProposalType] = ProposalType.REINIT
    group_id: bytes
    version: ProtocolVersion = ProtocolVersion.MLS10
    cipher_suite: int
    extensions: tuple[Extension, ...] = ()

    def push_body(self, w: Writer) -> None:
        w.push_opaque(self.group_id)
        w.push_uint16(self.version)
        w.push_uint16(self.cipher_suite)
        push_extensions(w, self.extensions)

    @classmethod
    def pull_body(cls, r: Reader) -> ReInit:
        return cls(
            group_id=r.pull_opaque(),
            version=pull_enum16(r, ProtocolVersion),
            cipher_suite=r.pull_uint16(),
            extensions=pull_extensions(r),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalInit(Proposal):
    """§12.1.6 ExternalInit: the KEM output an external joiner derives its init secret from."""

    proposal_type: ClassVar[ProposalType] = ProposalType.EXTERNAL_INIT
    kem_output: bytes

    def push_body(self, w: Writer) -> None:
        w.push_opaque(self.kem_output)

    @classmethod
    def pull_body(cls, r: Reader) -> ExternalInit:
        return cls(kem_output=r.pull_opaque())


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupContextExtensions(Proposal):
    """§12.1.7 GroupContextExtensions: the full new list of group context extensions."""

    proposal_type: ClassVar[ProposalType] = ProposalType.GROUP_CONTEXT_EXTENSIONS
    extensions: tuple[Extension, ...] = ()

    def push_body(self, w: Writer) -> None:
        push_extensions(w, self.extensions)

    @classmethod
    def pull_body(cls, r: Reader) -> GroupContextExtensions:
        return cls(extensions=pull_extensions(r))


_BY_TYPE: dict[ProposalType, type[Proposal]] = {
    cls.proposal_type: cls
    for cls in (Add, Update, Remove, PreSharedKey, ReInit, ExternalInit, GroupContextExtensions)
}


def encode_body(p: Proposal) -> bytes:
    """The bare proposal struct (e.g. §12.1.1 ``Add``) without the ``ProposalType``."""
    w = Writer()
    p.push_body(w)
    return w.data()


def decode_body(cls: type[P], data: bytes) -> P:
    """Decode exactly one bare proposal struct of class ``cls``; only DecodeError escapes."""
    r = Reader(bytes(data))
    try:
        obj = cls.pull_body(r)
    except ValueError as exc:
        raise DecodeError(f"invalid {cls.__name__}: {exc}") from exc
    r.expect_end()
    return obj


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalOrRef:
    """§12.4 ProposalOrRef: a proposal inline, or the ProposalRef (§5.2) of one sent before.

    Exactly one of ``proposal`` and ``reference`` is set.
    """

    proposal: Proposal | None = None
    reference: bytes | None = None

    def __post_init__(self) -> None:
        if (self.proposal is None) == (self.reference is None):
            raise ValueError("a ProposalOrRef holds exactly one of proposal and reference")

    @property
    def type(self) -> ProposalOrRefType:
        return ProposalOrRefType.PROPOSAL if self.proposal is not None else ProposalOrRefType.REFERENCE

    def push(self, w: Writer) -> None:
        if self.proposal is not None:
            w.push_uint8(ProposalOrRefType.PROPOSAL)
            self.proposal.push(w)
        else:
            assert self.reference is not None
            w.push_uint8(ProposalOrRefType.REFERENCE)
            w.push_opaque(self.reference)

    @classmethod
    def pull(cls, r: Reader) -> ProposalOrRef:
        if pull_enum8(r, ProposalOrRefType) == ProposalOrRefType.PROPOSAL:
            return cls(proposal=Proposal.pull(r))
        return cls(reference=r.pull_opaque())


def _push_proposal_or_ref(w: Writer, p: ProposalOrRef) -> None:
    p.push(w)


def _push_update_path(w: Writer, path: UpdatePath) -> None:
    path.push(w)


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """§12.4 Commit: the proposals it applies, in order, and an optional UpdatePath."""

    proposals: tuple[ProposalOrRef, ...] = ()
    path: UpdatePath | None = None

    def push(self, w: Writer) -> None:
        w.push_vector(self.proposals, _push_proposal_or_ref)
        w.push_optional(self.path, _push_update_path)

    @classmethod
    def pull(cls, r: Reader) -> Commit:
        return cls(
            proposals=tuple(r.pull_vector(ProposalOrRef.pull)),
            path=r.pull_optional(UpdatePath.pull),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SHeader:
    """draft-mularczyk-mls-splitcommit §3 SHeader: what every receiver of a splittable commit
    gets (the proposals, the committer's new leaf, an identifier of the new epoch), framed as
    the content of type ``sheader``. Not RFC 9420; the draft's rules are in ``split_commit``."""

    proposals: tuple[ProposalOrRef, ...] = ()
    leaf_node: LeafNode | None = None
    epoch_identifier: bytes = b""

    def push(self, w: Writer) -> None:
        w.push_vector(self.proposals, _push_proposal_or_ref)
        w.push_optional(self.leaf_node, _push_leaf_node)
        w.push_opaque(self.epoch_identifier)

    @classmethod
    def pull(cls, r: Reader) -> SHeader:
        return cls(
            proposals=tuple(r.pull_vector(ProposalOrRef.pull)),
            leaf_node=r.pull_optional(LeafNode.pull),
            epoch_identifier=r.pull_opaque(),
        )


def _push_leaf_node(w: Writer, leaf: LeafNode) -> None:
    leaf.push(w)
