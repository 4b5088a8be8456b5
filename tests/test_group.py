"""Group operations end to end through the harness: every step keeps all members in agreement."""

from __future__ import annotations

import pytest

from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import MLSError
from mlssim.mls.group import ApplicationMessage, CommitApplied, GroupConfig, ProposalReceived
from mlssim.mls.messages import MLSMessage, WireFormat

from .group_harness import Harness, roundtrip

SUITES = [get_suite(1), get_suite(1, "model")]


@pytest.fixture(params=SUITES, ids=lambda s: s.info.name[:12])
def h(request: pytest.FixtureRequest) -> Harness:
    return Harness(request.param)


def test_create_add_update_remove(h: Harness) -> None:
    h.create("alice")
    h.add("alice", "bob", "carol", "dave")
    assert len(h.members) == 4
    # an empty commit (path only) by bob
    staged = h.members["bob"].commit(h.rand)
    assert h.members["bob"].epoch == staged.epoch - 1  # staged, not merged
    h.deliver(staged, "bob")
    # remove carol
    carol_leaf = h.members["carol"].leaf_index
    staged = h.members["dave"].commit(h.rand, removes=[carol_leaf])
    h.deliver(staged, "dave")
    assert "carol" not in h.members and len(h.members) == 3


def test_application_messages(h: Harness) -> None:
    h.create("alice")
    h.add("alice", "bob", "carol")
    msg = h.members["bob"].encrypt_application(b"hello", h.rand)
    for name in ("alice", "carol"):
        res = h.members[name].process(roundtrip(msg))
        assert isinstance(res, ApplicationMessage)
        assert res.data == b"hello" and res.sender == h.members["bob"].leaf_index


def test_proposals_by_reference_and_update(h: Harness) -> None:
    h.create("alice")
    h.add("alice", "bob", "carol")
    upd = h.members["bob"].propose_update(h.rand)
    for name in ("alice", "carol"):
        assert isinstance(h.members[name].process(roundtrip(upd)), ProposalReceived)
    staged = h.members["carol"].commit(h.rand)
    assert staged.updated == (h.members["bob"].leaf_index,)
    h.deliver(staged, "carol")
    # bob's new leaf key works: he can decrypt a commit path aimed at him
    h.deliver(h.members["alice"].commit(h.rand), "alice")


def test_commit_without_path_for_adds(h: Harness) -> None:
    h.create("alice")
    h.add("alice", "bob")
    kp = h.client("carol").bundle.key_package
    staged = h.members["alice"].commit(h.rand, adds=[kp], path=False)
    assert not staged.with_path
    h.deliver(staged, "alice")
    assert "carol" in h.members


def test_welcome_with_tree_out_of_band(h: Harness) -> None:
    h.config = GroupConfig(ratchet_tree_in_welcome=False)
    h.create("alice")
    kp = h.client("bob").bundle.key_package
    staged = h.members["alice"].commit(h.rand, adds=[kp])
    assert staged.welcome is not None
    h.deliver(staged, "alice", tree_out_of_band=True)
    assert "bob" in h.members


def test_welcome_is_smaller_without_tree(h: Harness) -> None:
    h.create("alice")
    h.add("alice", "bob", "carol")
    kp = h.client("dave").bundle.key_package
    with_tree = h.members["alice"].commit(h.rand, adds=[kp])
    h.members["alice"].discard(with_tree)
    h.members["alice"].config = GroupConfig(ratchet_tree_in_welcome=False)
    without = h.members["alice"].commit(h.rand, adds=[kp])
    assert with_tree.welcome is not None and without.welcome is not None
    assert len(encode(without.welcome)) < len(encode(with_tree.welcome))


def test_external_join_and_resync(h: Harness) -> None:
    from mlssim.mls.group import Group

    h.create("alice")
    h.add("alice", "bob")
    gi_msg = h.members["alice"].group_info(with_tree=True)
    erin = h.client("erin")
    joiner, staged = Group.external_join(h.suite, gi_msg.body, identity=erin.identity, rand=h.rand)  # type: ignore[arg-type]
    for g in h.members.values():
        res = g.process(roundtrip(staged.message))
        assert isinstance(res, CommitApplied)
    joiner.merge(staged)
    h.members["erin"] = joiner
    h.check()
    # bob lost his state: he re-joins externally, removing his old leaf
    old_leaf = h.members["bob"].leaf_index
    gi_msg = h.members["alice"].group_info(with_tree=True)
    bob2, staged = Group.external_join(
        h.suite,
        gi_msg.body,
        identity=h.client("bob").identity,
        rand=h.rand,
        resync_remove=old_leaf,  # type: ignore[arg-type]
    )
    del h.members["bob"]
    for g in h.members.values():
        g.process(roundtrip(staged.message))
    bob2.merge(staged)
    h.members["bob"] = bob2
    h.check()


def test_collision_loser_discards_and_retries(h: Harness) -> None:
    """Two members commit in the same epoch: the DS orders alice's; bob discards his and retries."""
    h.create("alice")
    h.add("alice", "bob", "carol")
    a = h.members["alice"].commit(h.rand)
    b = h.members["bob"].commit(h.rand)
    h.members["bob"].discard(b)
    h.deliver(a, "alice")
    with pytest.raises(MLSError):
        h.members["carol"].process(roundtrip(b.message))  # stale epoch: rejected, state unchanged
    h.check()
    h.deliver(h.members["bob"].commit(h.rand), "bob")


def test_private_handshake_messages() -> None:
    h = Harness(get_suite(1), config=GroupConfig(handshake_wire_format=WireFormat.PRIVATE_MESSAGE))
    h.create("alice")
    h.add("alice", "bob", "carol")
    staged = h.members["bob"].commit(h.rand)
    assert staged.message.wire_format == WireFormat.PRIVATE_MESSAGE
    h.deliver(staged, "bob")


def test_tampered_commit_rejected_without_state_change(h: Harness) -> None:
    h.create("alice")
    h.add("alice", "bob", "carol")
    staged = h.members["alice"].commit(h.rand)
    data = bytearray(encode(staged.message))
    bob = h.members["bob"]
    before = (bob.epoch, bob.epoch_authenticator, bob.tree_hash)
    from mlssim.mls.codec import decode

    for pos in range(0, len(data), max(1, len(data) // 40)):
        bad = bytearray(data)
        bad[pos] ^= 0x01
        try:
            msg = decode(MLSMessage, bytes(bad))
        except MLSError:
            continue
        with pytest.raises(MLSError):
            bob.process(msg)
        assert (bob.epoch, bob.epoch_authenticator, bob.tree_hash) == before
    h.deliver(staged, "alice")


def test_reinit_and_branch(h: Harness) -> None:
    from mlssim.mls.group import Group, InactiveGroupError
    from mlssim.mls.messages import ReInit, Welcome

    from .group_harness import fresh_key_package

    h.create("alice")
    h.add("alice", "bob", "carol")
    # branch: alice and carol continue in a subgroup
    carol = fresh_key_package(h.suite, h.clients["carol"], h.rand)
    sub, staged = h.members["alice"].branch(
        h.rand, group_id=b"subgroup", key_packages=[carol.bundle.key_package]
    )
    sub.merge(staged)
    assert staged.welcome is not None
    welcome = roundtrip(staged.welcome).body
    assert isinstance(welcome, Welcome)
    carol_sub = Group.join(
        h.suite,
        welcome,
        key_package=carol.bundle.key_package,
        init_priv=carol.bundle.init_priv,
        encryption_priv=carol.bundle.encryption_priv,
        identity=carol.identity,
        resumed_from=h.members["carol"],
    )
    assert carol_sub.epoch == sub.epoch == 1
    assert carol_sub.epoch_authenticator == sub.epoch_authenticator
    # without the old group's resumption PSK the Welcome cannot be opened
    with pytest.raises(MLSError):
        Group.join(
            h.suite,
            welcome,
            key_package=carol.bundle.key_package,
            init_priv=carol.bundle.init_priv,
            encryption_priv=carol.bundle.encryption_priv,
            identity=carol.identity,
        )
    # reinit: bob commits a ReInit; the group goes inactive; alice recreates it
    ri = ReInit(group_id=b"reborn", version=1, cipher_suite=h.suite.suite_id, extensions=())
    h.deliver(h.members["bob"].commit(h.rand, reinit=ri), "bob")
    assert not any(g.active for g in h.members.values())
    with pytest.raises(InactiveGroupError):
        h.members["alice"].encrypt_application(b"x", h.rand)
    kps = {n: fresh_key_package(h.suite, h.clients[n], h.rand) for n in ("bob", "carol")}
    reborn, staged = h.members["alice"].reinit(
        h.rand, key_packages=[c.bundle.key_package for c in kps.values()]
    )
    reborn.merge(staged)
    welcome = roundtrip(staged.welcome).body  # type: ignore[union-attr]
    assert isinstance(welcome, Welcome)
    for n, c in kps.items():
        g = Group.join(
            h.suite,
            welcome,
            key_package=c.bundle.key_package,
            init_priv=c.bundle.init_priv,
            encryption_priv=c.bundle.encryption_priv,
            identity=c.identity,
            resumed_from=h.members[n],
        )
        assert g.group_id == b"reborn" and g.epoch_authenticator == reborn.epoch_authenticator


def test_external_sender_and_new_member_proposals(h: Harness) -> None:
    from mlssim.mls.extensions import external_senders_extension
    from mlssim.mls.messages import (
        ContentType,
        Credential,
        ExternalSender,
        ExternalSenders,
        FramedContent,
        MLSMessage,
        Sender,
        WireFormat,
    )
    from mlssim.mls.messages.proposals import Add, Remove, Update
    from mlssim.mls.protect import protect_public, sign_content

    ds_key = h.suite.signature_key_pair(h.rand)
    ext = external_senders_extension(
        ExternalSenders(
            senders=(ExternalSender(signature_key=ds_key.pub, credential=Credential.basic(b"ds")),)
        )
    )
    h.client("alice")
    g = h.create("alice")
    h.deliver(g.commit(h.rand, extensions=(ext,)), "alice")
    h.add("alice", "bob", "carol")

    def external(proposal: object, sender: Sender, priv: bytes) -> MLSMessage:
        a = h.members["alice"]
        content = FramedContent(
            group_id=a.group_id,
            epoch=a.epoch,
            sender=sender,
            content_type=ContentType.PROPOSAL,
            proposal=proposal,  # type: ignore[arg-type]
        )
        ac = sign_content(
            h.suite,
            wire_format=WireFormat.PUBLIC_MESSAGE,
            content=content,
            signature_priv=priv,
            context=a.context,
        )
        return MLSMessage(body=protect_public(h.suite, ac, context=a.context, membership_key=None))

    # the DS (external sender 0) proposes removing carol; bob commits it by reference
    msg = external(Remove(removed=h.members["carol"].leaf_index), Sender.external(0), ds_key.priv)
    for n in ("alice", "bob", "carol"):
        h.members[n].process(roundtrip(msg))
    h.deliver(h.members["bob"].commit(h.rand), "bob")
    assert "carol" not in h.members
    # an external sender may not propose an Update
    bad = external(
        Update(leaf_node=h.members["bob"].tree.leaf(h.members["bob"].leaf_index)),
        Sender.external(0),
        ds_key.priv,
    )  # type: ignore[arg-type]
    with pytest.raises(MLSError):
        h.members["alice"].process(roundtrip(bad))
    # a would-be member asks to be added (new_member_proposal, signed with its KeyPackage key)
    dave = h.client("dave")
    msg = external(
        Add(key_package=dave.bundle.key_package), Sender.new_member_proposal(), dave.identity.signature_priv
    )
    for g2 in h.members.values():
        g2.process(roundtrip(msg))
    staged = h.members["alice"].commit(h.rand)
    h.deliver(staged, "alice")
    assert "dave" in h.members


@pytest.mark.parametrize("keep", [0, 1])
def test_late_application_message_of_the_previous_epoch(keep: int) -> None:
    h = Harness(get_suite(1, "model"), config=GroupConfig(keep_past_epochs=keep))
    h.create("alice")
    h.add("alice", "bob", "carol")
    late = h.members["bob"].encrypt_application(b"sent before the commit", h.rand)
    h.deliver(h.members["alice"].commit(h.rand), "alice")
    if keep:
        res = h.members["carol"].process(roundtrip(late))
        assert isinstance(res, ApplicationMessage) and res.data == b"sent before the commit"
        assert res.epoch == h.members["carol"].epoch - 1
    else:
        with pytest.raises(MLSError):
            h.members["carol"].process(roundtrip(late))
    # handshake messages of a past epoch are never accepted
    stale = h.members["bob"].commit(h.rand)
    h.members["bob"].discard(stale)
    h.deliver(h.members["carol"].commit(h.rand), "carol")
    with pytest.raises(MLSError):
        h.members["alice"].process(roundtrip(stale.message))
