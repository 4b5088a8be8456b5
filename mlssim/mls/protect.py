"""Protecting and unprotecting framed content (RFC 9420 §6.1–§6.3).

``sign_content`` turns a FramedContent into an AuthenticatedContent (§6.1 signature,
plus the commit's confirmation tag supplied by the caller). ``protect_public`` /
``unprotect_public`` add and check the membership tag (§6.2); ``protect_private`` /
``unprotect_private`` encrypt and decrypt under the secret tree with the reuse guard
and encrypted sender data (§6.3). Epoch and group checks and the choice of signature
key belong to the group layer; this module only checks what the bytes themselves prove.
Nothing here changes state except the secret tree's ratchets, and only a message that
decrypts and verifies moves them (§9.2).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from .codec import Writer, decode, encode
from .crypto.suite import CipherSuite
from .errors import CryptoError, LocalProtocolError, RemoteProtocolError
from .messages.common import GroupContext
from .messages.enums import ContentType, SenderType, WireFormat
from .messages.framing import (
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    authenticated_content_tbm,
    decode_private_message_content,
    framed_content_tbs,
    private_content_aad,
    sender_data_aad,
)
from .rand import RandomSource
from .secret_tree import RatchetKey, SecretTree, sender_data_key_nonce
from .sharing import EpochCache, tables_of

__all__ = [
    "InvalidSignatureError",
    "InvalidMembershipTagError",
    "SenderDataError",
    "ContentDecryptionError",
    "PublicApplicationError",
    "sign_content",
    "verify_content",
    "protect_public",
    "unprotect_public",
    "protect_private",
    "unprotect_private",
    "membership_tag",
]


class InvalidSignatureError(RemoteProtocolError):
    """The FramedContentTBS signature does not verify under the sender's key."""

    rfc_section = "6.1"


class InvalidMembershipTagError(RemoteProtocolError):
    """A member's PublicMessage carries a wrong or missing membership tag."""

    rfc_section = "6.2"


class SenderDataError(RemoteProtocolError):
    """Sender data that does not decrypt, or names a leaf with no member."""

    rfc_section = "6.3.2"


class ContentDecryptionError(CryptoError):
    """A PrivateMessage's ciphertext does not open under the key, nonce and reuse guard its
    sender data names, with its PrivateContentAAD (§6.3.1)."""

    rfc_section = "6.3.1"


class PublicApplicationError(LocalProtocolError):
    """Application data must travel as PrivateMessage."""

    rfc_section = "6.2"


def sign_content(
    suite: CipherSuite,
    *,
    wire_format: WireFormat,
    content: FramedContent,
    signature_priv: bytes,
    context: GroupContext | None,
    confirmation_tag: bytes | None = None,
) -> AuthenticatedContent:
    """§6.1: SignWithLabel(., "FramedContentTBS", FramedContentTBS)."""
    tbs = framed_content_tbs(wire_format, content, context)
    signature = suite.sign_with_label(signature_priv, "FramedContentTBS", tbs)
    auth = FramedContentAuthData(signature=signature, confirmation_tag=confirmation_tag)
    return AuthenticatedContent(wire_format=wire_format, content=content, auth=auth)


def verify_content(
    suite: CipherSuite,
    ac: AuthenticatedContent,
    *,
    signature_pub: bytes,
    context: GroupContext | bytes | None,
) -> None:
    """§6.1: raise :class:`InvalidSignatureError` unless the signature verifies."""
    tbs = framed_content_tbs(ac.wire_format, ac.content, context)
    if not suite.verify_with_label(signature_pub, "FramedContentTBS", tbs, ac.auth.signature):
        raise InvalidSignatureError(
            f"signature of {ac.content.content_type.name} from {ac.content.sender} does not verify"
        )


def membership_tag(
    suite: CipherSuite, membership_key: bytes, ac: AuthenticatedContent, context: GroupContext
) -> bytes:
    """§6.2: MAC(membership_key, AuthenticatedContentTBM)."""
    tbs = framed_content_tbs(WireFormat.PUBLIC_MESSAGE, ac.content, context)
    return suite.mac(membership_key, authenticated_content_tbm(tbs, ac.auth))


def protect_public(
    suite: CipherSuite, ac: AuthenticatedContent, *, context: GroupContext, membership_key: bytes | None
) -> PublicMessage:
    """§6.2: wrap signed content as a PublicMessage; members add a membership tag."""
    if ac.wire_format != WireFormat.PUBLIC_MESSAGE:
        raise LocalProtocolError("content signed for another wire format cannot be sent as PublicMessage")
    if ac.content.content_type == ContentType.APPLICATION:
        raise PublicApplicationError("application messages MUST be sent as PrivateMessage")
    tag = None
    if ac.content.sender.sender_type == SenderType.MEMBER:
        if membership_key is None:
            raise LocalProtocolError("a member's PublicMessage needs the membership key")
        tag = membership_tag(suite, membership_key, ac, context)
    return PublicMessage(content=ac.content, auth=ac.auth, membership_tag=tag)


def unprotect_public(
    suite: CipherSuite,
    msg: PublicMessage,
    *,
    context: GroupContext | bytes,
    membership_key: bytes | None,
    signature_pub: bytes,
) -> AuthenticatedContent:
    """§6.2: check the membership tag (members) and the signature; return the content.
    ``context`` is the GroupContext or its encoding; FramedContentTBS is built once for both."""
    ac = msg.authenticated_content()
    if ac.content.content_type == ContentType.APPLICATION:
        raise PublicApplicationError("application data received as PublicMessage")
    tbs = framed_content_tbs(WireFormat.PUBLIC_MESSAGE, ac.content, context)
    if ac.content.sender.sender_type == SenderType.MEMBER:
        if membership_key is None or msg.membership_tag is None:
            raise InvalidMembershipTagError("membership tag missing")
        want = suite.mac(membership_key, authenticated_content_tbm(tbs, ac.auth))
        if not hmac.compare_digest(want, msg.membership_tag):
            raise InvalidMembershipTagError("membership tag does not verify")
    if not suite.verify_with_label(signature_pub, "FramedContentTBS", tbs, ac.auth.signature):
        raise InvalidSignatureError(
            f"signature of {ac.content.content_type.name} from {ac.content.sender} does not verify"
        )
    return ac


def _xor_guard(nonce: bytes, guard: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(nonce[:4], guard, strict=True)) + nonce[4:]


def protect_private(
    suite: CipherSuite,
    ac: AuthenticatedContent,
    *,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    rand: RandomSource,
    padding: int = 0,
) -> PrivateMessage:
    """§6.3: encrypt content under the sender's next ratchet key, then the sender data."""
    content = ac.content
    if ac.wire_format != WireFormat.PRIVATE_MESSAGE:
        raise LocalProtocolError("content signed for another wire format cannot be sent as PrivateMessage")
    if content.sender.sender_type != SenderType.MEMBER:
        raise LocalProtocolError("only members send PrivateMessage (§6.3.2)")
    leaf = content.sender.index
    key = secret_tree.next_send_key(leaf, content.content_type)
    guard = rand.random_bytes(4)
    pw = Writer()
    PrivateMessageContent(
        content_type=content.content_type,
        application_data=content.application_data,
        proposal=content.proposal,
        commit=content.commit,
        sheader=content.sheader,
        auth=ac.auth,
        padding=padding,
    ).push(pw)
    plaintext = pw.data()
    aad = private_content_aad(
        content.group_id, content.epoch, content.content_type, content.authenticated_data
    )
    ciphertext = suite.aead_seal(key.key, _xor_guard(key.nonce, guard), aad, plaintext)
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, ciphertext)
    sender_data = encode(SenderData(leaf_index=leaf, generation=key.generation, reuse_guard=guard))
    encrypted_sender_data = suite.aead_seal(
        sd_key, sd_nonce, sender_data_aad(content.group_id, content.epoch, content.content_type), sender_data
    )
    return PrivateMessage(
        group_id=content.group_id,
        epoch=content.epoch,
        content_type=content.content_type,
        authenticated_data=content.authenticated_data,
        encrypted_sender_data=encrypted_sender_data,
        ciphertext=ciphertext,
    )


def unprotect_private(
    suite: CipherSuite,
    msg: PrivateMessage,
    *,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    context: GroupContext | bytes,
    signature_key_of: Callable[[int], bytes | None],
    shared: EpochCache | None = None,
) -> AuthenticatedContent:
    """§6.3: decrypt sender data, take the ratchet key, decrypt, verify the signature.

    ``signature_key_of(leaf)`` returns the signature key of the member at ``leaf``, or
    None for a blank leaf. The ratchet key is consumed (§9.2) only once the content has
    decrypted and its signature verified: on any failure the secret tree is unchanged, so a
    forgery by a member who derived another member's key burns nothing. With ``shared``,
    results already computed from exactly the same inputs are looked up (each receiver still
    takes the key from its own secret tree, so a replayed or too old message fails for it as
    it would alone).
    """
    tables = tables_of(shared)
    # the key: the sample the sender-data key is derived from, and what the AEAD opens
    sender_data = tables.sender_data.get_or_compute(
        (
            sender_data_secret,
            msg.ciphertext[: suite.info.hash_len],
            msg.group_id,
            msg.epoch,
            msg.content_type,
            msg.encrypted_sender_data,
        ),
        _open_sender_data,
        suite,
        msg,
        sender_data_secret,
    )
    signature_pub = signature_key_of(sender_data.leaf_index)
    if signature_pub is None:
        raise SenderDataError(f"sender data names leaf {sender_data.leaf_index}, which is blank")
    pending = secret_tree.take(sender_data.leaf_index, msg.content_type, sender_data.generation)
    key = pending.key
    context_bytes = context if isinstance(context, bytes) else encode(context)
    ac = tables.private_content.get_or_compute(
        (
            key.key,
            key.nonce,
            sender_data.reuse_guard,
            sender_data.leaf_index,
            msg.group_id,
            msg.epoch,
            msg.content_type,
            msg.authenticated_data,
            msg.ciphertext,
            context_bytes,
            signature_pub,
        ),
        _open_content,
        suite,
        msg,
        key,
        sender_data,
        context_bytes,
        signature_pub,
    )
    # §9.2: only now has the key (successfully) decrypted a message of its sender
    secret_tree.consume(pending)
    return ac


def _open_sender_data(suite: CipherSuite, msg: PrivateMessage, sender_data_secret: bytes) -> SenderData:
    """§6.3.2: the SenderData of ``msg``."""
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, msg.ciphertext)
    try:
        sd_plain = suite.aead_open(
            sd_key,
            sd_nonce,
            sender_data_aad(msg.group_id, msg.epoch, msg.content_type),
            msg.encrypted_sender_data,
        )
    except CryptoError as exc:
        raise SenderDataError("sender data does not decrypt") from exc
    return decode(SenderData, sd_plain)


def _open_content(
    suite: CipherSuite,
    msg: PrivateMessage,
    key: RatchetKey,
    sender_data: SenderData,
    context: bytes,
    signature_pub: bytes,
) -> AuthenticatedContent:
    """§6.3.1 and §6.1: decrypt ``msg``'s content with the key its sender data names and verify
    the sender's signature; consumes nothing."""
    aad = private_content_aad(msg.group_id, msg.epoch, msg.content_type, msg.authenticated_data)
    try:
        nonce = _xor_guard(key.nonce, sender_data.reuse_guard)
        plaintext = suite.aead_open(key.key, nonce, aad, msg.ciphertext)
    except CryptoError as exc:
        raise ContentDecryptionError(
            f"content of leaf {sender_data.leaf_index} generation {sender_data.generation} does not decrypt"
        ) from exc
    pmc = decode_private_message_content(plaintext, msg.content_type)
    content = pmc.framed_content(
        msg.group_id, msg.epoch, Sender.member(sender_data.leaf_index), msg.authenticated_data
    )
    ac = AuthenticatedContent(wire_format=WireFormat.PRIVATE_MESSAGE, content=content, auth=pmc.auth)
    verify_content(suite, ac, signature_pub=signature_pub, context=context)
    return ac
