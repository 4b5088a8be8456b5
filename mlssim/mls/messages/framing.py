"""Message framing (RFC 9420 §6): content, its authentication, and the MLSMessage envelope.

Only encodings live here. The functions ending in ``_tbs``, ``_tbm`` and ``_aad`` build the
exact byte strings that are signed, MACed or bound as AEAD associated data, so that the
crypto layer never re-derives a wire layout.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from ..codec import Reader, Writer, cached_encoding, encode
from ..errors import DecodeError
from .common import GroupContext
from .enums import ContentType, ProtocolVersion, SenderType, WireFormat, pull_enum8, pull_enum16
from .key_package import KeyPackage
from .proposals import Commit, Proposal, SHeader
from .welcome import GroupInfo, Welcome

_U16_PAIR = struct.Struct(">HH")

__all__ = [
    "Sender",
    "FramedContent",
    "FramedContentAuthData",
    "framed_content_tbs",
    "AuthenticatedContent",
    "confirmed_transcript_hash_input",
    "interim_transcript_hash_input",
    "PublicMessage",
    "authenticated_content_tbm",
    "PrivateMessage",
    "SenderData",
    "sender_data_aad",
    "private_content_aad",
    "PrivateMessageContent",
    "decode_private_message_content",
    "MLSMessage",
    "MLSMessageBody",
    "ExtensionMessage",
    "register_extension_message",
]

_U32_MAX = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    """§6 Sender. ``index`` is the ``leaf_index`` of a member or the ``sender_index`` of an
    external sender (into the external_senders extension); it is 0 for new members."""

    sender_type: SenderType
    index: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.index <= _U32_MAX:
            raise ValueError(f"sender index {self.index} is not a uint32")
        if self.index and self.sender_type in (SenderType.NEW_MEMBER_PROPOSAL, SenderType.NEW_MEMBER_COMMIT):
            raise ValueError(f"a {self.sender_type.name} sender has no index")

    @classmethod
    def member(cls, leaf_index: int) -> Sender:
        return cls(sender_type=SenderType.MEMBER, index=leaf_index)

    @classmethod
    def external(cls, sender_index: int) -> Sender:
        return cls(sender_type=SenderType.EXTERNAL, index=sender_index)

    @classmethod
    def new_member_proposal(cls) -> Sender:
        return cls(sender_type=SenderType.NEW_MEMBER_PROPOSAL)

    @classmethod
    def new_member_commit(cls) -> Sender:
        return cls(sender_type=SenderType.NEW_MEMBER_COMMIT)

    def push(self, w: Writer) -> None:
        w.push_uint8(self.sender_type)
        if self.sender_type in (SenderType.MEMBER, SenderType.EXTERNAL):
            w.push_uint32(self.index)

    @classmethod
    def pull(cls, r: Reader) -> Sender:
        stype = pull_enum8(r, SenderType)
        if stype in (SenderType.MEMBER, SenderType.EXTERNAL):
            return cls(sender_type=stype, index=r.pull_uint32())
        return cls(sender_type=stype)


# The content select shared by FramedContent (§6) and PrivateMessageContent (§6.3.1).


def _check_content(
    content_type: ContentType,
    application_data: bytes,
    proposal: Proposal | None,
    commit: Commit | None,
    sheader: SHeader | None = None,
) -> None:
    present = {
        ContentType.APPLICATION: True,
        ContentType.PROPOSAL: proposal is not None,
        ContentType.COMMIT: commit is not None,
        ContentType.SHEADER: sheader is not None,
    }
    others = (proposal, commit, sheader)
    own = {ContentType.PROPOSAL: proposal, ContentType.COMMIT: commit, ContentType.SHEADER: sheader}
    ok = (
        present[content_type]
        and all(x is None or x is own.get(content_type) for x in others)
        and (content_type == ContentType.APPLICATION or not application_data)
    )
    if not ok:
        raise ValueError(f"content of type {content_type.name} must set exactly its own field")


#: The content of a FramedContent or PrivateMessageContent: ``application_data`` or one struct
_Content = Proposal | Commit | SHeader | None


def _push_content(w: Writer, content_type: ContentType, application_data: bytes, body: _Content) -> None:
    if content_type == ContentType.APPLICATION:
        w.push_opaque(application_data)
    else:
        assert body is not None
        body.push(w)


def _pull_content(
    r: Reader, content_type: ContentType
) -> tuple[bytes, Proposal | None, Commit | None, SHeader | None]:
    if content_type == ContentType.APPLICATION:
        return r.pull_opaque(), None, None, None
    if content_type == ContentType.PROPOSAL:
        return b"", Proposal.pull(r), None, None
    if content_type == ContentType.SHEADER:
        return b"", None, None, SHeader.pull(r)
    return b"", None, Commit.pull(r), None


@dataclass(frozen=True, slots=True, kw_only=True)
class FramedContent:
    """§6 FramedContent. Exactly the field named by ``content_type`` is set
    (``application_data``, ``proposal`` or ``commit``)."""

    group_id: bytes
    epoch: int
    sender: Sender
    authenticated_data: bytes = b""
    content_type: ContentType
    application_data: bytes = b""
    proposal: Proposal | None = None
    commit: Commit | None = None
    #: draft-mularczyk-mls-splitcommit's content type ``sheader`` (not RFC 9420)
    sheader: SHeader | None = None
    #: the encoding, kept from decoding or the first :meth:`encoded`: a commit's FramedContent
    #: is signed, MACed and transcript-hashed, and re-encoding a large UpdatePath each time
    #: would dominate processing it. Not a field of the struct (not compared, not copied by
    #: ``dataclasses.replace``); the object is immutable, so the bytes never go stale.
    #: :meth:`push` (hence :func:`~mlssim.mls.codec.encode`) always re-encodes, so that
    #: decode -> encode stays a real check of the codec.
    _wire: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_content(self.content_type, self.application_data, self.proposal, self.commit, self.sheader)

    def encoded(self) -> bytes:
        """The §6 FramedContent bytes: those it was decoded from, else encoded once."""
        return cached_encoding(self)

    def push(self, w: Writer) -> None:
        w.push_opaque(self.group_id)
        w.push_uint64(self.epoch)
        self.sender.push(w)
        w.push_opaque(self.authenticated_data)
        w.push_uint8(self.content_type)
        _push_content(
            w, self.content_type, self.application_data, self.proposal or self.commit or self.sheader
        )

    @classmethod
    def pull(cls, r: Reader) -> FramedContent:
        start = r.pos
        group_id = r.pull_opaque()
        epoch = r.pull_uint64()
        sender = Sender.pull(r)
        authenticated_data = r.pull_opaque()
        content_type = pull_enum8(r, ContentType)
        app, proposal, commit, sheader = _pull_content(r, content_type)
        content = cls(
            group_id=group_id,
            epoch=epoch,
            sender=sender,
            authenticated_data=authenticated_data,
            content_type=content_type,
            application_data=app,
            proposal=proposal,
            commit=commit,
            sheader=sheader,
        )
        object.__setattr__(content, "_wire", r.since(start))
        return content


@dataclass(frozen=True, slots=True, kw_only=True)
class FramedContentAuthData:
    """§6.1 FramedContentAuthData: the signature, and the confirmation tag of a commit.

    Whether ``confirmation_tag`` is on the wire depends on the content type, so
    :meth:`pull` takes it; the enclosing struct checks that the two agree.
    """

    signature: bytes
    confirmation_tag: bytes | None = None  # iff content_type == commit

    def push(self, w: Writer) -> None:
        w.push_opaque(self.signature)
        if self.confirmation_tag is not None:
            w.push_opaque(self.confirmation_tag)

    @classmethod
    def pull(cls, r: Reader, content_type: ContentType | None = None) -> FramedContentAuthData:
        """``content_type`` is required; it is optional only so that the class stays a codec
        ``Struct`` for :func:`encode`."""
        if content_type is None:
            raise TypeError("FramedContentAuthData.pull needs the content type")
        signature = r.pull_opaque()
        tag = r.pull_opaque() if content_type == ContentType.COMMIT else None
        return cls(signature=signature, confirmation_tag=tag)


def _check_auth(content_type: ContentType, auth: FramedContentAuthData) -> None:
    if (auth.confirmation_tag is not None) != (content_type == ContentType.COMMIT):
        raise ValueError("auth data has a confirmation_tag iff the content is a commit")


_SENDERS_WITH_CONTEXT = (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT)


def framed_content_tbs(
    wire_format: WireFormat, content: FramedContent, context: GroupContext | bytes | None
) -> bytes:
    """The §6.1 FramedContentTBS bytes signed with label "FramedContentTBS".

    The GroupContext is part of it iff the sender is a member or a new-member commit;
    ``context`` (the struct, or its encoding) is required then, and ignored otherwise.
    """
    # Joined in one copy: a commit's content can be megabytes, and every receiver builds this.
    head = _U16_PAIR.pack(ProtocolVersion.MLS10, wire_format)
    if content.sender.sender_type in _SENDERS_WITH_CONTEXT:
        if context is None:
            raise ValueError(f"a {content.sender.sender_type.name} sender signs over the GroupContext")
        ctx = context if isinstance(context, bytes) else encode(context)
        return b"".join((head, content.encoded(), ctx))
    return head + content.encoded()


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticatedContent:
    """§6.1 AuthenticatedContent: hashed into the transcript hash (§8.2) and ProposalRefs (§5.2)."""

    wire_format: WireFormat
    content: FramedContent
    auth: FramedContentAuthData

    def __post_init__(self) -> None:
        if self.wire_format not in (WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE):
            raise ValueError(f"{self.wire_format.name} does not carry FramedContent")
        _check_auth(self.content.content_type, self.auth)

    def push(self, w: Writer) -> None:
        w.push_uint16(self.wire_format)
        self.content.push(w)
        self.auth.push(w)

    def encoded(self) -> bytes:
        """The encoding, from the content's kept bytes (:meth:`FramedContent.encoded`)."""
        w = Writer()
        w.push_uint16(self.wire_format)
        w.push_bytes(self.content.encoded())
        self.auth.push(w)
        return w.data()

    @classmethod
    def pull(cls, r: Reader) -> AuthenticatedContent:
        wire_format = pull_enum16(r, WireFormat)
        content = FramedContent.pull(r)
        return cls(
            wire_format=wire_format, content=content, auth=FramedContentAuthData.pull(r, content.content_type)
        )


def confirmed_transcript_hash_input(content: AuthenticatedContent) -> bytes:
    """The §8.2 ConfirmedTranscriptHashInput bytes: wire_format, the commit's FramedContent,
    and its signature (the confirmation tag is left out)."""
    if content.content.content_type != ContentType.COMMIT:
        raise ValueError("only a commit enters the transcript hash")
    w = Writer()
    w.push_uint16(content.wire_format)
    w.push_bytes(content.content.encoded())
    w.push_opaque(content.auth.signature)
    return w.data()


def interim_transcript_hash_input(confirmation_tag: bytes) -> bytes:
    """The §8.2 InterimTranscriptHashInput bytes: ``MAC confirmation_tag`` as ``opaque<V>``."""
    w = Writer()
    w.push_opaque(confirmation_tag)
    return w.data()


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicMessage:
    """§6.2 PublicMessage; ``membership_tag`` is present iff the sender is a member."""

    content: FramedContent
    auth: FramedContentAuthData
    membership_tag: bytes | None = None

    def __post_init__(self) -> None:
        _check_auth(self.content.content_type, self.auth)
        if (self.membership_tag is not None) != (self.content.sender.sender_type == SenderType.MEMBER):
            raise ValueError("a PublicMessage has a membership_tag iff its sender is a member")

    def authenticated_content(self) -> AuthenticatedContent:
        return AuthenticatedContent(
            wire_format=WireFormat.PUBLIC_MESSAGE, content=self.content, auth=self.auth
        )

    def push(self, w: Writer) -> None:
        self.content.push(w)
        self.auth.push(w)
        if self.membership_tag is not None:
            w.push_opaque(self.membership_tag)

    def push_encoded(self, w: Writer) -> None:
        """:meth:`push` from the content's kept bytes (:meth:`FramedContent.encoded`)."""
        w.push_bytes(self.content.encoded())
        self.auth.push(w)
        if self.membership_tag is not None:
            w.push_opaque(self.membership_tag)

    @classmethod
    def pull(cls, r: Reader) -> PublicMessage:
        content = FramedContent.pull(r)
        auth = FramedContentAuthData.pull(r, content.content_type)
        tag = r.pull_opaque() if content.sender.sender_type == SenderType.MEMBER else None
        return cls(content=content, auth=auth, membership_tag=tag)


def authenticated_content_tbm(content_tbs: bytes, auth: FramedContentAuthData) -> bytes:
    """The §6.2 AuthenticatedContentTBM bytes that the membership tag MACs.

    ``content_tbs`` is ``framed_content_tbs(WireFormat.PUBLIC_MESSAGE, content, context)``,
    the same bytes the signature covers, so they are encoded once.
    """
    w = Writer()
    auth.push(w)
    return content_tbs + w.data()  # one copy of the (possibly large) content


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivateMessage:
    """§6.3 PrivateMessage: sender data and content encrypted under the secret tree."""

    group_id: bytes
    epoch: int
    content_type: ContentType
    authenticated_data: bytes = b""
    encrypted_sender_data: bytes
    ciphertext: bytes

    def push(self, w: Writer) -> None:
        w.push_opaque(self.group_id)
        w.push_uint64(self.epoch)
        w.push_uint8(self.content_type)
        w.push_opaque(self.authenticated_data)
        w.push_opaque(self.encrypted_sender_data)
        w.push_opaque(self.ciphertext)

    @classmethod
    def pull(cls, r: Reader) -> PrivateMessage:
        return cls(
            group_id=r.pull_opaque(),
            epoch=r.pull_uint64(),
            content_type=pull_enum8(r, ContentType),
            authenticated_data=r.pull_opaque(),
            encrypted_sender_data=r.pull_opaque(),
            ciphertext=r.pull_opaque(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderData:
    """§6.3.2 SenderData: who sent a PrivateMessage, with which generation and reuse guard."""

    leaf_index: int
    generation: int
    reuse_guard: bytes

    def __post_init__(self) -> None:
        if len(self.reuse_guard) != 4:
            raise ValueError(f"reuse_guard is 4 bytes, not {len(self.reuse_guard)}")

    def push(self, w: Writer) -> None:
        w.push_uint32(self.leaf_index)
        w.push_uint32(self.generation)
        w.push_bytes(self.reuse_guard)

    @classmethod
    def pull(cls, r: Reader) -> SenderData:
        return cls(leaf_index=r.pull_uint32(), generation=r.pull_uint32(), reuse_guard=r.pull_bytes(4))


def sender_data_aad(group_id: bytes, epoch: int, content_type: ContentType) -> bytes:
    """The §6.3.2 SenderDataAAD bytes."""
    w = Writer()
    w.push_opaque(group_id)
    w.push_uint64(epoch)
    w.push_uint8(content_type)
    return w.data()


def private_content_aad(
    group_id: bytes, epoch: int, content_type: ContentType, authenticated_data: bytes
) -> bytes:
    """The §6.3.1 PrivateContentAAD bytes."""
    w = Writer()
    w.push_opaque(group_id)
    w.push_uint64(epoch)
    w.push_uint8(content_type)
    w.push_opaque(authenticated_data)
    return w.data()


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivateMessageContent:
    """§6.3.1 PrivateMessageContent: the plaintext of ``PrivateMessage.ciphertext``.

    ``content_type`` is not on the wire (it comes from the PrivateMessage), so :meth:`pull`
    takes it. ``padding`` is the number of zero bytes appended; on decode, every byte
    after ``auth`` is padding and must be zero.
    """

    content_type: ContentType
    application_data: bytes = b""
    proposal: Proposal | None = None
    commit: Commit | None = None
    #: draft-mularczyk-mls-splitcommit's content type ``sheader`` (not RFC 9420)
    sheader: SHeader | None = None
    auth: FramedContentAuthData
    padding: int = 0

    def __post_init__(self) -> None:
        _check_content(self.content_type, self.application_data, self.proposal, self.commit, self.sheader)
        _check_auth(self.content_type, self.auth)
        if self.padding < 0:
            raise ValueError(f"negative padding {self.padding}")

    def push(self, w: Writer) -> None:
        _push_content(
            w, self.content_type, self.application_data, self.proposal or self.commit or self.sheader
        )
        self.auth.push(w)
        w.push_bytes(bytes(self.padding))

    @classmethod
    def pull(cls, r: Reader, content_type: ContentType | None = None) -> PrivateMessageContent:
        """Read to the end of ``r``: the content, the auth data, then zero padding.

        ``content_type`` (from the PrivateMessage) is required; it is optional only so that
        the class stays a codec ``Struct`` for :func:`encode`.
        """
        if content_type is None:
            raise TypeError("PrivateMessageContent.pull needs the content type")
        app, proposal, commit, sheader = _pull_content(r, content_type)
        auth = FramedContentAuthData.pull(r, content_type)
        padding = r.pull_bytes(r.remaining())
        if padding.count(0) != len(padding):
            raise DecodeError("non-zero byte in PrivateMessageContent padding (§6.3.1)")
        return cls(
            content_type=content_type,
            application_data=app,
            proposal=proposal,
            commit=commit,
            sheader=sheader,
            auth=auth,
            padding=len(padding),
        )

    def framed_content(
        self, group_id: bytes, epoch: int, sender: Sender, authenticated_data: bytes
    ) -> FramedContent:
        """The FramedContent this plaintext carries, with the fields from the PrivateMessage
        and its decrypted SenderData."""
        return FramedContent(
            group_id=group_id,
            epoch=epoch,
            sender=sender,
            authenticated_data=authenticated_data,
            content_type=self.content_type,
            application_data=self.application_data,
            proposal=self.proposal,
            commit=self.commit,
            sheader=self.sheader,
        )


def decode_private_message_content(data: bytes, content_type: ContentType) -> PrivateMessageContent:
    """Decode a decrypted §6.3.1 plaintext; only :class:`DecodeError` escapes."""
    r = Reader(bytes(data))
    try:
        return PrivateMessageContent.pull(r, content_type)
    except ValueError as exc:
        raise DecodeError(f"invalid PrivateMessageContent: {exc}") from exc


class ExtensionMessage:
    """Base of the MLSMessage bodies an MLS extension defines under its own wire format (here
    draft-mularczyk-mls-splitcommit's, in ``messages/split.py``): a subclass names its
    ``wire_format`` and is registered with :func:`register_extension_message`, so that this
    module needs no import of the extension."""

    __slots__ = ()
    wire_format: ClassVar[WireFormat]

    def push(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def pull(cls, r: Reader) -> ExtensionMessage:
        raise NotImplementedError


MLSMessageBody = PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage | ExtensionMessage

_WIRE_FORMAT_OF: dict[type, WireFormat] = {
    PublicMessage: WireFormat.PUBLIC_MESSAGE,
    PrivateMessage: WireFormat.PRIVATE_MESSAGE,
    Welcome: WireFormat.WELCOME,
    GroupInfo: WireFormat.GROUP_INFO,
    KeyPackage: WireFormat.KEY_PACKAGE,
}

_BODY_OF: dict[WireFormat, type[MLSMessageBody]] = {wf: cls for cls, wf in _WIRE_FORMAT_OF.items()}

E = TypeVar("E", bound=type[ExtensionMessage])


def register_extension_message(cls: E) -> E:
    """Class decorator: ``cls`` is the MLSMessage body of ``cls.wire_format``."""
    if cls.wire_format in _BODY_OF:
        raise ValueError(f"wire format {cls.wire_format!r} already has a body")
    _WIRE_FORMAT_OF[cls] = cls.wire_format
    _BODY_OF[cls.wire_format] = cls
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class MLSMessage:
    """§6 MLSMessage: the envelope every message travels in; ``wire_format`` follows the body."""

    version: ProtocolVersion = ProtocolVersion.MLS10
    body: MLSMessageBody

    def __post_init__(self) -> None:
        if type(self.body) not in _WIRE_FORMAT_OF:
            raise ValueError(f"{type(self.body).__name__} is not an MLSMessage body")

    @property
    def wire_format(self) -> WireFormat:
        return _WIRE_FORMAT_OF[type(self.body)]

    def push(self, w: Writer) -> None:
        w.push_uint16(self.version)
        w.push_uint16(_WIRE_FORMAT_OF[type(self.body)])
        self.body.push(w)

    def encoded(self) -> bytes:
        """The encoding; a PublicMessage's content from its kept bytes (:meth:`FramedContent.encoded`)."""
        w = Writer()
        w.push_uint16(self.version)
        w.push_uint16(_WIRE_FORMAT_OF[type(self.body)])
        body = self.body
        if isinstance(body, PublicMessage):
            body.push_encoded(w)
        else:
            body.push(w)
        return w.data()

    @classmethod
    def pull(cls, r: Reader) -> MLSMessage:
        version = pull_enum16(r, ProtocolVersion)
        wire_format = pull_enum16(r, WireFormat)
        body = _BODY_OF.get(wire_format)
        if body is None:
            raise DecodeError(f"no message body is known for wire format {wire_format!r}")
        return cls(version=version, body=body.pull(r))
