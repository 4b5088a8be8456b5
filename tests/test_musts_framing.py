"""Receiver MUSTs of RFC 9420 §6 (message framing), one authentic violation each (issue 25 b).

Every message is signed, tagged and encrypted honestly by its (malicious) sender; see
``tests/malicious.py``. Each test asserts the exact error class, that every receiver reaches
it, and that each receiver's state, secret-tree ratchets included, is unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mlssim.mls.crypto import CipherSuite
from mlssim.mls.errors import DecodeError, LocalProtocolError
from mlssim.mls.extensions import external_senders_extension
from mlssim.mls.group import CommitterError, UnknownSenderError, WrongEpochError, WrongGroupError
from mlssim.mls.messages import Credential, ExternalSender, ExternalSenders, MLSMessage
from mlssim.mls.messages.enums import ContentType, WireFormat
from mlssim.mls.messages.framing import (
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    private_content_aad,
)
from mlssim.mls.messages.proposals import Add, Commit, Remove, Update
from mlssim.mls.protect import (
    InvalidMembershipTagError,
    InvalidSignatureError,
    PublicApplicationError,
    SenderDataError,
    protect_private,
    protect_public,
    sign_content,
    unprotect_public,
)

from .group_harness import Harness
from .malicious import ON_SUITES, framed, group_of, open_sender_data, public_message, rejected_by_all, seal

pytestmark = ON_SUITES


# ---- epoch and group (§6, §12.1, §12.4.2) ----------------------------------------------------------


def test_6_proposal_of_a_past_epoch_is_rejected(suite: CipherSuite) -> None:
    """§12.1 / §6: the epoch of a handshake message MUST be the current epoch."""
    h = group_of(suite, 4)
    stale = h.members["c2"].propose_remove(int(h.members["c4"].leaf_index), h.rand)
    h.deliver(h.members["c1"].commit(h.rand, include_cached=False), "c1")
    rejected_by_all(h, stale, WrongEpochError, sender="c2")


def test_6_commit_of_a_past_epoch_is_rejected(suite: CipherSuite) -> None:
    """§12.4.2: a commit for an epoch the group has left (it lost the race) is rejected."""
    h = group_of(suite, 4)
    late = h.members["c2"].commit(h.rand)
    h.deliver(h.members["c1"].commit(h.rand), "c1")
    h.members["c2"].discard(late)
    rejected_by_all(h, late.message, WrongEpochError, sender="c2")


def test_6_handshake_private_message_of_a_past_epoch_is_rejected(suite: CipherSuite) -> None:
    """§6: a PrivateMessage proposal of a kept past epoch is not read (only application data is)."""
    from mlssim.mls.group import GroupConfig

    h = group_of(suite, 4, GroupConfig(handshake_wire_format=WireFormat.PRIVATE_MESSAGE))
    stale = h.members["c2"].propose_remove(int(h.members["c4"].leaf_index), h.rand)
    h.deliver(h.members["c1"].commit(h.rand, include_cached=False), "c1")
    rejected_by_all(h, stale, WrongEpochError, sender="c2")


def test_6_message_of_a_future_epoch_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    g = h.members["c2"]
    content = dataclasses.replace(
        framed(g, Sender.member(g.leaf_index), proposal=Remove(removed=2)), epoch=g.epoch + 1
    )
    rejected_by_all(h, public_message(h, "c2", content), WrongEpochError, sender="c2")


def test_6_message_for_another_group_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    g = h.members["c2"]
    content = dataclasses.replace(
        framed(g, Sender.member(g.leaf_index), proposal=Remove(removed=2)), group_id=b"another group"
    )
    rejected_by_all(h, public_message(h, "c2", content), WrongGroupError, sender="c2")


# ---- the sender and its signature key (§6.1) -------------------------------------------------------


def test_6_1_member_sender_at_a_blank_leaf_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    blank = int(h.members["c2"].leaf_index)
    h.deliver(h.members["c1"].commit(h.rand, removes=[blank]), "c1")
    g = h.members["c3"]
    msg = public_message(h, "c3", framed(g, Sender.member(blank), proposal=Remove(removed=3)))
    rejected_by_all(h, msg, UnknownSenderError, sender="c3")


def test_6_1_member_sender_outside_the_tree_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    g = h.members["c3"]
    msg = public_message(h, "c3", framed(g, Sender.member(64), proposal=Remove(removed=1)))
    rejected_by_all(h, msg, UnknownSenderError, sender="c3")


def test_6_1_member_signature_by_another_key_is_rejected(suite: CipherSuite) -> None:
    """§6.1: recipients MUST verify the signature with the sender's leaf key (c3 poses as c2)."""
    h = group_of(suite, 4)
    c2 = h.members["c2"]
    content = framed(c2, Sender.member(c2.leaf_index), proposal=Remove(removed=3))
    msg = public_message(h, "c2", content, signature_priv=h.members["c3"].identity.signature_priv)
    rejected_by_all(h, msg, InvalidSignatureError, names=["c1", "c4"])


def _with_external_sender(suite: CipherSuite) -> tuple[Harness, bytes]:
    """A group of three whose GroupContext names one external sender (a DS) whose key we hold."""
    h = group_of(suite, 3)
    ds = suite.signature_key_pair(h.rand)
    senders = ExternalSenders(
        senders=(ExternalSender(signature_key=ds.pub, credential=Credential.basic(b"ds")),)
    )
    h.deliver(h.members["c1"].commit(h.rand, extensions=(external_senders_extension(senders),)), "c1")
    return h, ds.priv


def _external(h: Harness, sender: Sender, priv: bytes, **body: object) -> MLSMessage:
    g = h.members["c1"]
    content = framed(g, sender, **body)
    tag = b"\x00" * suite_hash_len(g.suite) if "commit" in body else None
    ac = sign_content(
        g.suite,
        wire_format=WireFormat.PUBLIC_MESSAGE,
        content=content,
        signature_priv=priv,
        context=g.context,
        confirmation_tag=tag,
    )
    return MLSMessage(body=PublicMessage(content=ac.content, auth=ac.auth))


def suite_hash_len(suite: CipherSuite) -> int:
    return suite.info.hash_len


def test_6_1_external_sender_without_external_senders_extension_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    priv = suite.signature_key_pair(h.rand).priv
    msg = _external(h, Sender.external(0), priv, proposal=Remove(removed=2))
    rejected_by_all(h, msg, UnknownSenderError)


def test_6_1_external_sender_index_out_of_range_is_rejected(suite: CipherSuite) -> None:
    h, priv = _with_external_sender(suite)
    msg = _external(h, Sender.external(1), priv, proposal=Remove(removed=2))
    rejected_by_all(h, msg, UnknownSenderError)


def test_6_1_external_sender_signature_must_verify(suite: CipherSuite) -> None:
    h, _ = _with_external_sender(suite)
    msg = _external(h, Sender.external(0), suite.signature_key_pair(h.rand).priv, proposal=Remove(removed=2))
    rejected_by_all(h, msg, InvalidSignatureError)


def test_6_1_external_sender_may_not_commit(suite: CipherSuite) -> None:
    """§6.1: an external sender's content_type MUST be proposal."""
    h, priv = _with_external_sender(suite)
    msg = _external(h, Sender.external(0), priv, commit=Commit(proposals=(), path=None))
    rejected_by_all(h, msg, CommitterError)


def test_6_1_external_sender_may_not_propose_an_update(suite: CipherSuite) -> None:
    """§6.1, §12.1.8: the proposal type MUST be one allowed for external senders."""
    h, priv = _with_external_sender(suite)
    leaf = h.members["c2"].tree.leaf(h.members["c2"].leaf_index)
    assert leaf is not None
    msg = _external(h, Sender.external(0), priv, proposal=Update(leaf_node=leaf))
    rejected_by_all(h, msg, CommitterError)


def test_6_1_new_member_commit_sender_must_send_a_commit(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    priv = suite.signature_key_pair(h.rand).priv
    msg = _external(h, Sender.new_member_commit(), priv, proposal=Remove(removed=2))
    rejected_by_all(h, msg, CommitterError)


def test_6_1_new_member_proposal_sender_may_only_propose_add(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    priv = suite.signature_key_pair(h.rand).priv
    msg = _external(h, Sender.new_member_proposal(), priv, proposal=Remove(removed=2))
    rejected_by_all(h, msg, CommitterError)


def test_6_1_new_member_proposal_signed_by_another_key_is_rejected(suite: CipherSuite) -> None:
    """The key is the one of the KeyPackage's leaf in the Add."""
    h = group_of(suite, 3)
    kp = h.client("joiner").bundle.key_package
    priv = suite.signature_key_pair(h.rand).priv
    msg = _external(h, Sender.new_member_proposal(), priv, proposal=Add(key_package=kp))
    rejected_by_all(h, msg, InvalidSignatureError)


# ---- the membership tag (§6.2) ------------------------------------------------------------------


def test_6_2_membership_tag_under_another_key_is_rejected(suite: CipherSuite) -> None:
    """§6.2: the membership tag MUST be checked (c2's signing key, the last epoch's membership key)."""
    h = group_of(suite, 4)
    old_key = h.members["c2"].secrets.membership_key
    h.deliver(h.members["c1"].commit(h.rand), "c1")
    c2 = h.members["c2"]
    content = framed(c2, Sender.member(c2.leaf_index), proposal=Remove(removed=3))
    rejected_by_all(
        h, public_message(h, "c2", content, membership_key=old_key), InvalidMembershipTagError, sender="c2"
    )


def test_6_application_data_as_public_message_is_rejected(suite: CipherSuite) -> None:
    """§6: applications MUST use PrivateMessage for application messages."""
    h = group_of(suite, 3)
    c2 = h.members["c2"]
    content = framed(c2, Sender.member(c2.leaf_index), application_data=b"in the clear")
    ac = sign_content(
        suite,
        wire_format=WireFormat.PUBLIC_MESSAGE,
        content=content,
        signature_priv=c2.identity.signature_priv,
        context=c2.context,
    )
    from mlssim.mls.protect import membership_tag

    tag = membership_tag(suite, c2.secrets.membership_key, ac, c2.context)
    msg = MLSMessage(body=PublicMessage(content=ac.content, auth=ac.auth, membership_tag=tag))
    rejected_by_all(h, msg, PublicApplicationError, sender="c2")


# ---- PrivateMessage (§6.3) ---------------------------------------------------------------------


def test_6_3_1_non_zero_padding_is_rejected(suite: CipherSuite) -> None:
    """§6.3.1: a receiver MUST verify that the padding is all zero bytes."""
    h = group_of(suite, 3)
    c2 = h.members["c2"]
    st = c2._st
    content = framed(c2, Sender.member(c2.leaf_index), application_data=b"covert")
    ac = sign_content(
        suite,
        wire_format=WireFormat.PRIVATE_MESSAGE,
        content=content,
        signature_priv=c2.identity.signature_priv,
        context=c2.context,
    )
    plain = PrivateMessageContent(
        content_type=ContentType.APPLICATION, application_data=b"covert", auth=ac.auth
    )
    from mlssim.mls.codec import encode

    plaintext = encode(plain) + b"\x00\x01"
    key = st.secret_tree.next_send_key(int(c2.leaf_index), ContentType.APPLICATION)
    aad = private_content_aad(c2.group_id, c2.epoch, ContentType.APPLICATION, b"")
    guard = b"\x00\x00\x00\x00"
    ciphertext = suite.aead_seal(key.key, key.nonce, aad, plaintext)
    pm = PrivateMessage(
        group_id=c2.group_id,
        epoch=c2.epoch,
        content_type=ContentType.APPLICATION,
        authenticated_data=b"",
        encrypted_sender_data=b"",
        ciphertext=ciphertext,
    )
    sd = SenderData(leaf_index=int(c2.leaf_index), generation=key.generation, reuse_guard=guard)
    rejected_by_all(h, seal(c2, pm, ciphertext, sd), DecodeError, sender="c2")


def test_6_3_2_sender_data_naming_a_blank_leaf_is_rejected(suite: CipherSuite) -> None:
    """§6.3.2: the sender data's leaf_index MUST identify a non-blank leaf."""
    h = group_of(suite, 4)
    blank = int(h.members["c2"].leaf_index)
    h.deliver(h.members["c1"].commit(h.rand, removes=[blank]), "c1")
    c3 = h.members["c3"]
    genuine = c3.encrypt_application(b"hi", h.rand)
    pm = genuine.body
    assert isinstance(pm, PrivateMessage)
    sd = dataclasses.replace(open_sender_data(c3, pm), leaf_index=blank)
    rejected_by_all(h, seal(c3, pm, pm.ciphertext, sd), SenderDataError, sender="c3")


def test_6_3_2_sender_data_that_does_not_decrypt_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    genuine = h.members["c2"].encrypt_application(b"hi", h.rand)
    pm = genuine.body
    assert isinstance(pm, PrivateMessage)
    junk = bytes(b ^ 0x55 for b in pm.encrypted_sender_data)
    msg = MLSMessage(body=dataclasses.replace(pm, encrypted_sender_data=junk))
    rejected_by_all(h, msg, SenderDataError, sender="c2")


def test_6_3_content_auth_data_signature_of_a_private_message_is_verified(suite: CipherSuite) -> None:
    """§6.3.1: the FramedContentAuthData of a decrypted PrivateMessage MUST be valid: c2 signs its
    proposal as a PrivateMessage over another group's context."""
    from mlssim.mls.group import GroupConfig

    h = group_of(suite, 3, GroupConfig(handshake_wire_format=WireFormat.PRIVATE_MESSAGE))
    c2 = h.members["c2"]
    content = framed(c2, Sender.member(c2.leaf_index), proposal=Remove(removed=2))
    other_context = dataclasses.replace(c2.context, tree_hash=bytes(len(c2.context.tree_hash)))
    ac = sign_content(
        suite,
        wire_format=WireFormat.PRIVATE_MESSAGE,
        content=content,
        signature_priv=c2.identity.signature_priv,
        context=other_context,
    )
    from mlssim.mls.group_send import protect

    msg = protect(suite, c2.config, c2._st, ac, h.rand)
    rejected_by_all(h, msg, InvalidSignatureError, sender="c2")


# ---- the protection API's own checks: a sender's mistakes, a receiver without the key ---------


def _signed_remove(suite: CipherSuite, wire_format: WireFormat) -> tuple[Harness, Any]:
    h = group_of(suite, 2)
    c1 = h.members["c1"]
    ac = sign_content(
        suite,
        wire_format=wire_format,
        content=framed(c1, Sender.member(c1.leaf_index), proposal=Remove(removed=1)),
        signature_priv=c1.identity.signature_priv,
        context=c1.context,
    )
    return h, ac


def test_6_2_content_signed_for_private_message_is_not_sent_as_public_message(suite: CipherSuite) -> None:
    """The wire format is signed (FramedContentTBS): content signed for PrivateMessage cannot
    be wrapped as a PublicMessage."""
    h, ac = _signed_remove(suite, WireFormat.PRIVATE_MESSAGE)
    c1 = h.members["c1"]
    with pytest.raises(LocalProtocolError, match="another wire format"):
        protect_public(suite, ac, context=c1.context, membership_key=c1.secrets.membership_key)


def test_6_3_content_signed_for_public_message_is_not_sent_as_private_message(suite: CipherSuite) -> None:
    """The other way round; refused before the sender's ratchet moves."""
    h, ac = _signed_remove(suite, WireFormat.PUBLIC_MESSAGE)
    c1 = h.members["c1"]
    before = c1._st.secret_tree.ratchet_state()
    with pytest.raises(LocalProtocolError, match="another wire format"):
        protect_private(
            suite,
            ac,
            secret_tree=c1._st.secret_tree,
            sender_data_secret=c1.secrets.sender_data_secret,
            rand=h.rand,
        )
    assert c1._st.secret_tree.ratchet_state() == before


def test_6_3_2_only_members_send_private_messages(suite: CipherSuite) -> None:
    h = group_of(suite, 2)
    c1 = h.members["c1"]
    ac = sign_content(
        suite,
        wire_format=WireFormat.PRIVATE_MESSAGE,
        content=framed(c1, Sender.new_member_proposal(), proposal=Remove(removed=1)),
        signature_priv=c1.identity.signature_priv,
        context=c1.context,
    )
    before = c1._st.secret_tree.ratchet_state()
    with pytest.raises(LocalProtocolError, match="only members"):
        protect_private(
            suite,
            ac,
            secret_tree=c1._st.secret_tree,
            sender_data_secret=c1.secrets.sender_data_secret,
            rand=h.rand,
        )
    assert c1._st.secret_tree.ratchet_state() == before


def test_6_2_a_members_public_message_needs_the_membership_key(suite: CipherSuite) -> None:
    h, ac = _signed_remove(suite, WireFormat.PUBLIC_MESSAGE)
    with pytest.raises(LocalProtocolError, match="needs the membership key"):
        protect_public(suite, ac, context=h.members["c1"].context, membership_key=None)


def test_6_2_a_receiver_without_the_membership_key_refuses_a_members_message(suite: CipherSuite) -> None:
    """A member's PublicMessage cannot be checked without the membership key: refused as a
    missing tag, never passed on unchecked (nor a crash)."""
    h, ac = _signed_remove(suite, WireFormat.PUBLIC_MESSAGE)
    c1 = h.members["c1"]
    msg = protect_public(suite, ac, context=c1.context, membership_key=c1.secrets.membership_key)
    leaf = c1.tree.leaf(c1.leaf_index)
    assert leaf is not None
    pub = leaf.signature_key
    with pytest.raises(InvalidMembershipTagError, match="missing"):
        unprotect_public(suite, msg, context=c1.context, membership_key=None, signature_pub=pub)
    # with the key it is accepted: the refusal above is the key's absence alone
    got = unprotect_public(
        suite,
        msg,
        context=c1.context,
        membership_key=c1.secrets.membership_key,
        signature_pub=pub,
    )
    assert got == ac
