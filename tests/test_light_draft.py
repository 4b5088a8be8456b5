"""Light clients per draft-kiefer-mls-light (``mls/light.py``, ``mls/light_process.py``,
``mls/light_group.py``): light members follow over 100 commits of full members and agree on every
epoch authenticator; tampered annotations and proofs are rejected by the draft's rule with the
member unchanged; a light member's kept state grows as O(log N); it cannot commit, and can after
upgrading; a full member downgrades; a light member that fell behind re-syncs (§9)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.errors import DecodeError
from mlssim.mls.group import Group, GroupConfig
from mlssim.mls.group_state import GroupInfoTreeHashError
from mlssim.mls.keyschedule import ConfirmationTagError
from mlssim.mls.light import (
    AnnotationError,
    DifferentTreesError,
    InvalidMembershipProofError,
    LightBehindError,
    LightCommitError,
    SenderProofError,
    annotate_commits,
    annotate_welcome,
    kept_state_bytes,
    membership_proof,
    proof_root,
    sender_authenticated,
)
from mlssim.mls.light_group import LightGroup
from mlssim.mls.messages import AnnotatedCommit, GroupInfo, MembershipProof, WireFormat
from mlssim.mls.rand import SeededRandom
from mlssim.mls.ratchet_tree import ParentHashMismatchError

from .group_harness import make_client, roundtrip
from .light_harness import LightHarness, wire_commit, wire_sam

SUITE = get_suite(1)
MODEL = get_suite(1, "model")


def flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


def bad_copath(p: MembershipProof) -> MembershipProof:
    return replace(p, copath_hashes=(flip(p.copath_hashes[0]), *p.copath_hashes[1:]))


# ---- following ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wire", [WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE])
def test_light_members_follow_over_100_commits_and_agree_on_every_epoch_authenticator(
    wire: WireFormat,
) -> None:
    lh = LightHarness(
        SUITE, seed=3, config=GroupConfig(ratchet_tree_in_welcome=False, handshake_wire_format=wire)
    )
    rng = random.Random(11)
    lh.create("F0")
    lh.add("F0", "F1", "F2")
    lh.add("F1", "L0", "L1", light=True)
    start = lh.commits
    kinds = {
        "add-full": 0,
        "add-light": 0,
        "remove-full": 0,
        "remove-light": 0,
        "update": 0,
        "update-by-ref": 0,
    }
    fresh = 0
    while lh.commits - start < 104:
        committer = rng.choice(sorted(lh.full))
        op = rng.random()
        if op < 0.3:
            fresh += 1
            light = rng.random() < 0.5
            name = f"{'L' if light else 'F'}n{fresh}"
            lh.add(committer, name, light=light, path=rng.choice([None, False]))
            kinds["add-light" if light else "add-full"] += 1
            continue
        if op < 0.5:
            victims = [
                n for n in lh.every() if n not in (committer, "L0") and (n in lh.light or len(lh.full) > 3)
            ]
            if len(lh.every()) > 5 and victims:
                victim = rng.choice(sorted(victims))
                kinds["remove-light" if victim in lh.light else "remove-full"] += 1
                lh.deliver(committer, lh.full[committer].commit(lh.h.rand, removes=[lh.leaf_of(victim)]))
                continue
        if op < 0.65 and len(lh.full) > 1:
            proposer = rng.choice(sorted(n for n in lh.full if n != committer))
            lh.broadcast(proposer, lh.full[proposer].propose_update(lh.h.rand))  # light members cache it (L6)
            lh.deliver(committer, lh.full[committer].commit(lh.h.rand))
            kinds["update-by-ref"] += 1
            continue
        if op < 0.75:
            for sender in (rng.choice(sorted(lh.light)), committer):
                g = lh.every()[sender]
                lh.broadcast(sender, g.encrypt_application(f"{sender}@{g.epoch}".encode(), lh.h.rand))
        lh.deliver(committer, lh.full[committer].commit(lh.h.rand))
        kinds["update"] += 1
    assert lh.commits - start >= 100 and "L0" in lh.light
    assert all(v > 0 for v in kinds.values()), kinds
    assert len(lh.light) >= 2


# ---- tampering: each rejected by the draft's rule, the member unchanged --------------------------


def small(suite: CipherSuite = SUITE) -> LightHarness:
    lh = LightHarness(suite, seed=5)
    lh.create("A")
    lh.add("A", "B", "C", "D", "E")
    lh.add("B", "L", "M", light=True)
    lh.deliver("E", lh.full["E"].commit(lh.h.rand))
    return lh


def rejected(lh: LightHarness, exc: type[Exception], match: str | None, ann: AnnotatedCommit) -> None:
    light = lh.light["L"]
    before = (light.epoch, light.epoch_authenticator, light.kept_state())
    with pytest.raises(exc, match=match):
        light.process(wire_commit(ann))
    assert (light.epoch, light.epoch_authenticator, light.kept_state()) == before


def test_tampered_annotated_commit_is_rejected_by_the_rule_it_breaks() -> None:
    lh = small()
    staged = lh.full["C"].commit(lh.h.rand)
    ann = lh.annotations("C", staged)[lh.leaf_of("L")]
    assert ann.sender_membership_proof is not None
    other = membership_proof(lh.tree, lh.leaf_of("D"))  # type: ignore[arg-type]
    r_other = membership_proof(staged.ratchet_tree, lh.leaf_of("M"))
    rejected(
        lh, InvalidMembershipProofError, "§10 step 1", replace(ann, sender_membership_proof=bad_copath(other))
    )
    rejected(
        lh,
        InvalidMembershipProofError,
        "§10 step 1",
        replace(ann, sender_membership_proof=bad_copath(ann.sender_membership_proof)),
    )
    rejected(
        lh,
        DifferentTreesError,
        "§10 step 2",
        replace(ann, receiver_membership_proof_after=bad_copath(ann.receiver_membership_proof_after)),
    )
    rejected(
        lh, InvalidMembershipProofError, "§10 step 2", replace(ann, tree_hash_after=flip(ann.tree_hash_after))
    )
    rejected(lh, SenderProofError, "names", replace(ann, sender_membership_proof=other))
    rejected(
        lh, SenderProofError, "needs its sender_membership_proof", replace(ann, sender_membership_proof=None)
    )
    rejected(lh, AnnotationError, "iff the Commit has a path", replace(ann, resolution_index=None))
    rejected(lh, AnnotationError, "resolution_index 99", replace(ann, resolution_index=99))
    rejected(lh, AnnotationError, "names another leaf", replace(ann, receiver_membership_proof_after=r_other))
    lh.deliver("C", staged)  # the genuine annotation still works


def test_forged_tree_after_is_caught_by_the_confirmation_tag() -> None:
    """§10: "It is safe for the recipient to accept the tree_hash supplied by an unauthenticated
    party because the tree hash is authenticated by the confirmation_tag": proofs of a forged
    tree that agree with each other and with a forged tree_hash_after still fail (a commit
    without a path: the confirmation tag; with one: the parent hashes of the committer's path)."""
    lh = small()
    for path in (False, None):
        kp = lh.h.client(f"N{path}").bundle.key_package
        staged = lh.full["A"].commit(lh.h.rand, adds=[kp], path=path)
        editor = staged.ratchet_tree.edit()
        editor.set_node(2 * lh.leaf_of("D"), staged.ratchet_tree.leaf(lh.leaf_of("E")))  # a tree that was not
        forged = editor.freeze()
        leaf_l = lh.leaf_of("L")
        ann = annotate_commits(
            lh.tree,
            forged,
            roundtrip(staged.message),
            sender_before=lh.leaf_of("A"),
            sender_after=lh.leaf_of("A"),
            receivers=[leaf_l],
            added=frozenset(int(x) for x in staged.added),
            removed=frozenset(),
            with_path=staged.with_path,
        )[leaf_l]  # type: ignore[index]
        # with a path, L7's parent-hash chain (which binds every copath subtree) catches it first
        exc = ConfirmationTagError if path is False else ParentHashMismatchError
        rejected(lh, exc, None, ann)
        lh.deliver("A", staged)


def test_tampered_annotated_welcome_is_rejected_by_the_rule_it_breaks() -> None:
    lh = small()
    c = lh.h.client("J")
    staged = lh.full["A"].commit(lh.h.rand, adds=[c.bundle.key_package])
    welcome = roundtrip(staged.welcome).body  # type: ignore[union-attr]
    tree, joiner, signer = staged.ratchet_tree, int(staged.added[0]), lh.leaf_of("A")
    aw = annotate_welcome(tree, welcome, signer, joiner)  # type: ignore[arg-type]
    editor = tree.edit()
    editor.remove_leaf(lh.leaf_of("D"))
    forged = annotate_welcome(editor.freeze(), welcome, signer, joiner)  # type: ignore[arg-type]
    cases = [
        (
            DifferentTreesError,
            "§8 step 1",
            replace(aw, joiner_membership_proof=bad_copath(aw.joiner_membership_proof)),
        ),
        (
            SenderProofError,
            "§8 step 2",
            replace(aw, sender_membership_proof=membership_proof(tree, lh.leaf_of("B"))),
        ),
        (InvalidMembershipProofError, "§8 step 2", forged),
    ]
    for exc, match, bad in cases:
        with pytest.raises(exc, match=match):
            LightGroup.join(
                SUITE,
                bad,
                key_package=c.bundle.key_package,
                init_priv=c.bundle.init_priv,
                encryption_priv=c.bundle.encryption_priv,
                identity=c.identity,
            )
    lh.light_names.add("J")
    lh.deliver("A", staged)
    assert "J" in lh.light


def test_tampered_sender_authenticated_message_is_rejected_by_section_7() -> None:
    lh = small()
    msg = lh.full["B"].encrypt_application(b"x", lh.h.rand)
    good = sender_authenticated(lh.tree, msg, lh.leaf_of("B"))  # type: ignore[arg-type]
    light = lh.light["L"]
    with pytest.raises(SenderProofError, match="§7"):
        light.process(wire_sam(replace(good, sender_membership_proof=membership_proof(lh.tree, 0))))  # type: ignore[arg-type]
    with pytest.raises(InvalidMembershipProofError, match="§7"):
        light.process(
            wire_sam(replace(good, sender_membership_proof=bad_copath(good.sender_membership_proof)))
        )
    assert light.process(wire_sam(good)).data == b"x"  # type: ignore[union-attr]


def test_membership_proof_codec_and_shape() -> None:
    lh = small()
    assert lh.tree is not None
    p = membership_proof(lh.tree, lh.leaf_of("L"))
    assert decode(MembershipProof, encode(p)) == p
    assert proof_root(SUITE, p) == lh.tree.tree_hash()
    data = bytearray(encode(p))
    data[7] = 3  # n_leaves not a power of two
    with pytest.raises(DecodeError, match="power of two"):
        decode(MembershipProof, bytes(data))


# ---- kept state is O(log N) ---------------------------------------------------------------------


def kept_sizes(n: int) -> tuple[int, int, int]:
    """A group of ``n`` leaves built in one Add commit; a light member at the last leaf, its
    sibling (full) commits a path, so the light member holds a key on every level. Returns
    (light kept bytes, full kept bytes, number of node keys the light member holds)."""
    rand = SeededRandom(n, "light-sizes")
    clients = [make_client(MODEL, f"m{i}", rand) for i in range(n)]
    cfg = GroupConfig(ratchet_tree_in_welcome=False)
    a = Group.create(
        MODEL,
        group_id=b"g",
        identity=clients[0].identity,
        rand=rand,
        config=cfg,
        encryption_priv=clients[0].bundle.encryption_priv,
        leaf_node=clients[0].bundle.key_package.leaf_node,
    )
    staged = a.commit(rand, adds=[c.bundle.key_package for c in clients[1:]])
    a.merge(staged)
    tree, welcome = staged.ratchet_tree, roundtrip(staged.welcome).body  # type: ignore[union-attr]
    sib, me = clients[n - 2], clients[n - 1]
    b = Group.join(
        MODEL,
        welcome,  # type: ignore[arg-type]
        key_package=sib.bundle.key_package,
        init_priv=sib.bundle.init_priv,
        encryption_priv=sib.bundle.encryption_priv,
        identity=sib.identity,
        ratchet_tree=tree,
        config=cfg,
    )
    light = LightGroup.join(
        MODEL,
        annotate_welcome(tree, welcome, 0, n - 1),  # type: ignore[arg-type]
        key_package=me.bundle.key_package,
        init_priv=me.bundle.init_priv,
        encryption_priv=me.bundle.encryption_priv,
        identity=me.identity,
        config=cfg,
    )
    staged = b.commit(rand)
    ann = annotate_commits(
        tree,
        staged.ratchet_tree,
        staged.message,
        sender_before=n - 2,
        sender_after=n - 2,
        receivers=[n - 1],
        added=frozenset(),
        removed=frozenset(),
        with_path=True,
    )
    light.process(wire_commit(ann[n - 1]))  # type: ignore[index]
    b.merge(staged)
    assert light.epoch_authenticator == b.epoch_authenticator
    full = kept_state_bytes(
        b.context,
        b.public.interim_transcript_hash,
        b.public.confirmation_tag,
        b.tree.n_leaves,
        b.path_keys,
        b.secrets,
        b.tree,
    )
    return len(light.kept_state()), len(full), len(light.path_keys.nodes)


def test_light_kept_state_grows_as_log_n_and_stays_far_below_the_tree() -> None:
    info = MODEL.info
    per_level = 4 + (1 + info.kem_sk_len) + (1 + info.kem_pk_len)  # node index, private and public key
    sizes = {n: kept_sizes(n) for n in (8, 64, 512, 4096)}
    for n, (light, _full, keys) in sizes.items():
        assert keys == n.bit_length() - 1, f"N={n}: a key per level"
        # far below the tree: a light member of any N keeps less than a full member of 8 does
        assert light < sizes[8][1], f"N={n}: light {light} B, full at N=8 {sizes[8][1]} B"
    for n in (64, 512, 4096):
        grown = sizes[n][0] - sizes[n // 8][0]
        assert 0 < grown <= 3 * per_level, f"state({n}) - state({n // 8}) = {grown} B (3 levels)"
        # while the full member's grows with the tree: its ratio to the light state at least x4 per x8
        assert sizes[n][1] * sizes[n // 8][0] > 4 * sizes[n // 8][1] * sizes[n][0], f"N={n}: full grows O(N)"


# ---- commit, upgrade, downgrade, falling behind --------------------------------------------------


def test_light_member_cannot_commit_upgrades_then_commits() -> None:
    lh = small()
    old_tree = lh.tree
    lh.deliver("A", lh.full["A"].commit(lh.h.rand))
    light = lh.light["L"]
    with pytest.raises(LightCommitError, match="cannot commit"):
        light.commit(lh.h.rand)
    with pytest.raises(GroupInfoTreeHashError):
        light.upgrade(old_tree)  # type: ignore[arg-type]
    assert lh.tree is not None
    full = light.upgrade(decode_tree(lh))
    del lh.light["L"]
    lh.light_names.discard("L")
    lh.full["L"] = full
    lh.deliver("L", full.commit(lh.h.rand, removes=[lh.leaf_of("D")]))
    lh.deliver("B", lh.full["B"].commit(lh.h.rand))
    assert "L" in lh.full and "D" not in lh.every()


def decode_tree(lh: LightHarness) -> object:
    """The tree as the DS serves it: encoded, then rebuilt by the member."""
    from mlssim.mls.messages import decode_ratchet_tree
    from mlssim.mls.ratchet_tree import RatchetTree

    assert lh.tree is not None
    return RatchetTree.from_nodes(lh.suite, decode_ratchet_tree(lh.tree.encode()))


def test_full_member_downgrades_and_keeps_following() -> None:
    lh = small()
    full_state = len(
        kept_state_bytes(
            lh.full["C"].context,
            lh.full["C"].public.interim_transcript_hash,
            lh.full["C"].public.confirmation_tag,
            lh.full["C"].tree.n_leaves,
            lh.full["C"].path_keys,
            lh.full["C"].secrets,
            lh.full["C"].tree,
        )
    )
    lh.light["C"] = LightGroup.downgrade(lh.full.pop("C"))
    lh.light_names.add("C")
    assert len(lh.light["C"].kept_state()) < full_state
    for committer in ("A", "E", "B"):
        lh.deliver(committer, lh.full[committer].commit(lh.h.rand))
    lh.broadcast("C", lh.light["C"].encrypt_application(b"still here", lh.h.rand))


def test_light_member_that_falls_behind_resyncs_by_external_join_then_downgrade() -> None:
    lh = small()
    lh.deliver("A", lh.full["A"].commit(lh.h.rand), skip=frozenset({"L"}))
    staged = lh.full["B"].commit(lh.h.rand)
    behind = lh.light["L"]
    with pytest.raises(LightBehindError):
        behind.process(wire_commit(lh.annotations("B", staged)[int(behind.leaf_index)]))
    del lh.light["L"]
    lh.deliver("B", staged)
    # L5: join as a full client by external commit (removing the old leaf), then downgrade (§9)
    gi = roundtrip(lh.full["A"].group_info()).body
    assert isinstance(gi, GroupInfo)
    old_leaf = int(behind.leaf_index)
    ident = lh.h.clients["L"].identity
    g, ext = Group.external_join(
        SUITE,
        gi,
        identity=ident,
        rand=lh.h.rand,
        ratchet_tree=lh.tree,
        resync_remove=old_leaf,
        config=lh.h.config,
    )
    anns = annotate_commits(
        lh.tree,
        ext.ratchet_tree,
        roundtrip(ext.message),
        sender_before=None,
        sender_after=int(ext.committer),
        receivers=[int(x.leaf_index) for x in lh.light.values()],
        added=frozenset(),
        removed=frozenset({old_leaf}),
        with_path=True,
    )
    for f in lh.full.values():
        f.process(roundtrip(ext.message))
    for x in lh.light.values():
        x.process(wire_commit(anns[x.leaf_index]))
    g.merge(ext)
    lh.tree = ext.ratchet_tree
    lh.light["L"] = LightGroup.downgrade(g)
    lh.check()
    lh.deliver("C", lh.full["C"].commit(lh.h.rand))
