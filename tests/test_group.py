"""Group operations end to end through the harness: every step keeps all members in agreement."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlssim.mls.codec import Reader, Writer, encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import DecodeError, MLSError
from mlssim.mls.group import (
    ApplicationMessage,
    CommitApplied,
    CommitterError,
    Group,
    GroupConfig,
    ProposalReceived,
    RejectedProposalError,
    UnknownSenderError,
    WrongEpochError,
    WrongGroupError,
)
from mlssim.mls.messages import MLSMessage, WireFormat
from mlssim.mls.messages.enums import ContentType
from mlssim.mls.messages.framing import FramedContent, PublicMessage, Sender
from mlssim.mls.messages.proposals import Remove
from mlssim.mls.messages.tree import HPKECiphertext, HPKECiphertextBlock, pull_hpke_ciphertexts
from mlssim.mls.proposal_list import InvalidProposalError, InvalidProposalListError
from mlssim.mls.protect import InvalidMembershipTagError, protect_public, sign_content
from mlssim.mls.psk import MissingPSKError
from mlssim.mls.treemath import LeafIndex

from .group_harness import Harness, fresh_key_package, roundtrip

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
    with pytest.raises(WrongEpochError):
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


def tampered_commit_error(receiver: Group, original: MLSMessage, tampered: MLSMessage) -> type[MLSError]:
    """The error a member raises for a PublicMessage commit with one bit flipped: the checks
    run in the order group_id, epoch (§6), sender (§6.1), then the membership tag (§6.2), which
    covers every other byte of the message, itself included."""
    was, now = original.body, tampered.body
    assert isinstance(was, PublicMessage) and isinstance(now, PublicMessage)
    if now.content.group_id != was.content.group_id:
        return WrongGroupError
    if now.content.epoch != was.content.epoch:
        return WrongEpochError
    sender = now.content.sender
    if sender != was.content.sender and (
        sender.index >= receiver.tree.n_leaves or receiver.tree.leaf(LeafIndex(sender.index)) is None
    ):
        return UnknownSenderError
    return InvalidMembershipTagError


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
        with pytest.raises(tampered_commit_error(bob, staged.message, msg)) as ei:
            bob.process(msg)
        assert ei.type is tampered_commit_error(bob, staged.message, msg)
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
    with pytest.raises(MissingPSKError, match="resumption PSK"):
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
    with pytest.raises(CommitterError, match="UPDATE may not come from an external sender") as ei:
        h.members["alice"].process(roundtrip(bad))
    assert ei.type is CommitterError
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
        with pytest.raises(WrongEpochError):
            h.members["carol"].process(roundtrip(late))
    # handshake messages of a past epoch are never accepted
    stale = h.members["bob"].commit(h.rand)
    h.members["bob"].discard(stale)
    h.deliver(h.members["carol"].commit(h.rand), "carol")
    with pytest.raises(WrongEpochError):
        h.members["alice"].process(roundtrip(stale.message))


def test_epoch_0_has_confirmation_tag_and_interim_hash(h: Harness) -> None:
    """§11: epoch 0 carries MAC(confirmation_key, "") and the interim hash derived from it (§8.2)."""
    from mlssim.mls.transcript import interim_transcript_hash

    g = h.create("alice")
    tag = h.suite.mac(g.secrets.confirmation_key, b"")
    assert g.public.confirmation_tag == tag
    assert g.public.interim_transcript_hash == interim_transcript_hash(h.suite, b"", tag)
    h.external_join("bob", "alice")
    h.add("bob", "carol")


def test_cached_add_of_a_client_added_by_value_is_left_out(h: Harness) -> None:
    """§12.2: the same client once, whether proposed and also given by value."""
    h.create("alice")
    h.add("alice", "bob")
    kp = h.client("carol").bundle.key_package
    h.broadcast(h.members["bob"].propose_add(kp, h.rand), "bob")
    again = fresh_key_package(h.suite, h.clients["carol"], h.rand)
    staged = h.members["alice"].commit(h.rand, adds=[again.bundle.key_package])
    assert len(staged.added) == 1
    assert staged.ratchet_tree.leaf(staged.added[0]) == again.bundle.key_package.leaf_node
    h.clients["carol"] = again
    h.deliver(staged, "alice")
    assert "carol" in h.members


def test_cached_remove_of_a_leaf_removed_by_value_is_left_out(h: Harness) -> None:
    h.create("alice")
    h.add("alice", "bob", "carol", "dave")
    carol = h.members["carol"].leaf_index
    h.broadcast(h.members["bob"].propose_remove(carol, h.rand), "bob")
    h.broadcast(h.members["carol"].propose_update(h.rand), "carol")
    staged = h.members["alice"].commit(h.rand, removes=[carol])
    assert staged.removed == (carol,) and staged.updated == ()
    h.deliver(staged, "alice")
    assert "carol" not in h.members


def test_remove_of_a_blank_leaf_is_refused_and_rejected(h: Harness) -> None:
    """§12.1.3: the proposer refuses it unchanged; a receiver rejects one sent anyway."""
    h.create("alice")
    h.add("alice", "bob", "carol")
    carol = h.members["carol"].leaf_index
    h.deliver(h.members["alice"].commit(h.rand, removes=[carol]), "alice")
    for leaf in (carol, 7):
        before = h.snapshot("bob")
        with pytest.raises(RejectedProposalError) as info:
            h.members["bob"].propose_remove(leaf, h.rand)
        assert isinstance(info.value.__cause__, InvalidProposalError)
        assert h.snapshot("bob") == before
    # a Remove of the blank leaf, signed by bob outside the API, reaches alice
    bob = h.members["bob"]
    content = FramedContent(
        group_id=bob.group_id,
        epoch=bob.epoch,
        sender=Sender.member(bob.leaf_index),
        authenticated_data=b"",
        content_type=ContentType.PROPOSAL,
        proposal=Remove(removed=carol),
    )
    ac = sign_content(
        h.suite,
        wire_format=WireFormat.PUBLIC_MESSAGE,
        content=content,
        signature_priv=h.clients["bob"].identity.signature_priv,
        context=bob.context,
    )
    forged = MLSMessage(
        body=protect_public(h.suite, ac, context=bob.context, membership_key=bob.secrets.membership_key)
    )
    before = h.snapshot("alice")
    with pytest.raises(InvalidProposalError):
        h.members["alice"].process(roundtrip(forged))
    assert h.snapshot("alice") == before
    h.deliver(h.members["alice"].commit(h.rand), "alice")


# ---- a commit to a large group: many ciphertexts in one UpdatePathNode (§7.6) -------------------


def test_large_path_commit_decodes_its_ciphertexts_as_a_block() -> None:
    """Right after an add-all, the creator's next path commit seals one node's path secret to
    every leaf of a blank subtree; decoded, those ciphertexts are an HPKECiphertextBlock that
    reads, compares, hashes and re-encodes as the tuple it was built from."""
    h = Harness(get_suite(1, "model"))
    h.create("alice")
    h.add("alice", *(f"m{i}" for i in range(40)))
    staged = h.members["alice"].commit(h.rand)
    sent = staged.message.body
    assert isinstance(sent, PublicMessage) and sent.content.commit is not None
    got = roundtrip(staged.message).body
    assert isinstance(got, PublicMessage) and got.content.commit is not None
    assert encode(got) == encode(sent)
    assert got == sent
    sent_path, got_path = sent.content.commit.path, got.content.commit.path
    assert sent_path is not None and got_path is not None
    blocks = 0
    for want_node, got_node in zip(sent_path.nodes, got_path.nodes, strict=True):
        want, cts = tuple(want_node.encrypted_path_secret), got_node.encrypted_path_secret
        blocks += isinstance(cts, HPKECiphertextBlock)
        assert cts == want and want == cts and hash(cts) == hash(want)
        assert len(cts) == len(want) and list(cts) == list(want)
        assert cts[0] == want[0] and cts[-1] == want[-1] and cts[1:4] == want[1:4]
        with pytest.raises(IndexError):
            cts[len(want)]
    assert blocks >= 1
    h.deliver(staged, "alice")


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(
    n=st.integers(16, 40),
    k_len=st.sampled_from([32, 65, 133]),
    c_len=st.sampled_from([48, 64, 80]),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
    header_edits=st.lists(st.tuples(st.integers(0, 39), st.booleans(), st.integers(0, 255)), max_size=2),
)
def test_ciphertext_block_decodes_as_the_item_by_item_parser(
    n: int,
    k_len: int,
    c_len: int,
    edits: list[tuple[int, int]],
    header_edits: list[tuple[int, bool, int]],
) -> None:
    """The block decoder (strided header checks) accepts, rejects and reads exactly what the
    HPKECiphertext-by-HPKECiphertext parser does, for altered headers and lengths too."""
    w = Writer()
    inner = Writer()
    for i in range(n):
        HPKECiphertext(kem_output=bytes([i]) * k_len, ciphertext=bytes([255 - i]) * c_len).push(inner)
    body = bytearray(inner.data())
    k_hdr, c_hdr = (1 if k_len < 64 else 2), (1 if c_len < 64 else 2)
    stride = k_hdr + k_len + c_hdr + c_len
    for item, second, value in header_edits:  # a length header of a later item
        body[(item % n) * stride + (k_hdr + k_len if second else 0)] = value
    for pos, value in edits:
        body[pos % len(body)] = value
    w.push_opaque(bytes(body))
    data = w.data()

    def reference() -> object:
        try:
            r = Reader(data)
            out = tuple(r.pull_vector(HPKECiphertext.pull))
            r.expect_end()
            return out
        except DecodeError:
            return DecodeError

    def fast() -> object:
        try:
            r = Reader(data)
            out = pull_hpke_ciphertexts(r)
            r.expect_end()
            return out
        except DecodeError:
            return DecodeError

    want, got = reference(), fast()
    assert got == want
    if not edits and not header_edits:
        assert isinstance(got, HPKECiphertextBlock)


def test_key_indexes_stay_exact_over_many_epochs() -> None:
    """Each epoch's key indexes are derived from the last one's (an overlay of the changed keys,
    merged into a new base once it grows); the harness compares them with a full scan after
    every commit, here long enough for several merges, with removes and re-adds between."""
    h = Harness(get_suite(1, "model"))
    h.create("alice")
    h.add("alice", "bob", "carol", "dave", "erin")
    names = ["alice", "bob", "carol", "dave", "erin"]
    for i in range(90):
        committer = names[i % len(names)]
        if committer not in h.members:
            continue
        if i % 15 == 7:
            victim = names[(i + 2) % len(names)]
            if victim in h.members and victim != committer:
                h.deliver(
                    h.members[committer].commit(h.rand, removes=[h.members[victim].leaf_index]), committer
                )
                continue
        if i % 15 == 11:
            gone = [n for n in names if n not in h.members]
            if gone:
                h.add(committer, *gone)
                continue
        h.deliver(h.members[committer].commit(h.rand), committer)
    assert len(h.members) >= 2


def test_two_adds_with_one_encryption_key_are_refused(h: Harness) -> None:
    """§7.3: every leaf's encryption_key is unique in the group, also among the leaves one
    commit adds (each KeyPackage is valid on its own: same randomness, other clients)."""
    from mlssim.mls.crypto import KeyPair
    from mlssim.mls.key_packages import make_key_package
    from mlssim.mls.rand import SeededRandom

    from .group_harness import FOREVER, Client

    h.create("alice")
    h.add("alice", "bob")
    bundles = []
    for name in ("carol", "dave"):
        ident = h.client(name).identity
        bundle = make_key_package(
            h.suite,
            credential=ident.credential,
            signature_key_pair=KeyPair(ident.signature_priv, ident.signature_key),
            rand=SeededRandom(7, "the same draws"),
            lifetime=FOREVER,
        )
        bundles.append(Client(name, ident, bundle))
    kps = [c.bundle.key_package for c in bundles]
    assert kps[0].leaf_node.encryption_key == kps[1].leaf_node.encryption_key
    before = h.snapshot("alice")
    with pytest.raises(InvalidProposalListError):
        h.members["alice"].commit(h.rand, adds=kps)
    assert h.snapshot("alice") == before
    h.clients["carol"] = bundles[0]
    h.deliver(h.members["alice"].commit(h.rand, adds=kps[:1]), "alice")
    assert "carol" in h.members


def test_external_joiner_validates_the_leaves_it_joins() -> None:
    """§12.4.3.2: an external joiner checks the tree's leaves as a Welcome joiner does (§7.3),
    here through its credential validator."""
    from mlssim.mls.credentials import CredentialError
    from mlssim.mls.group import Group, GroupConfig
    from mlssim.mls.group_validation import LeafPolicy
    from mlssim.mls.messages import Credential, GroupInfo

    h = Harness(get_suite(1, "model"))
    h.create("alice")
    h.add("alice", "bob", "carol")
    gi = roundtrip(h.members["alice"].group_info(with_tree=True)).body
    assert isinstance(gi, GroupInfo)
    seen: list[bytes] = []

    class Banned(CredentialError):
        pass

    def no_bob(
        credential: Credential, signature_key: bytes, now: int | None, /, *, predecessor: Credential | None
    ) -> None:
        seen.append(credential.identity)
        if credential.identity == b"bob":
            raise Banned("bob is not allowed here")

    dave = h.client("dave").identity
    with pytest.raises(Banned):
        Group.external_join(
            h.suite,
            gi,
            identity=dave,
            rand=h.rand,
            config=GroupConfig(leaf_policy=LeafPolicy(credential_validator=no_bob)),
        )
    assert b"bob" in seen
    Group.external_join(h.suite, gi, identity=dave, rand=h.rand)  # the default policy accepts the tree
