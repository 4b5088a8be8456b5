"""Shared public state: members of one epoch share one PublicEpoch through an EpochCache,
with exactly the results they reach alone; validation still runs where only a member can."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import EpochCache, GroupConfig, UnknownProposalError
from mlssim.mls.key_packages import KeyPackageSignatureError

from .group_harness import Harness, roundtrip


def _build(config: GroupConfig, seed: int = 7) -> Harness:
    h = Harness(get_suite(1, "model"), seed=seed, config=config)
    h.create("m0")
    h.add("m0", *[f"m{i}" for i in range(1, 12)])
    h.deliver(h.members["m3"].commit(h.rand), "m3")
    h.deliver(h.members["m5"].commit(h.rand, removes=[h.members["m7"].leaf_index]), "m5")
    return h


def test_cache_gives_identical_results_and_shares_one_public_epoch() -> None:
    cache = EpochCache()
    shared = _build(GroupConfig(epoch_cache=cache))
    alone = _build(GroupConfig())
    for name, g in shared.members.items():
        assert g.epoch_authenticator == alone.members[name].epoch_authenticator
        assert g.tree_hash == alone.members[name].tree_hash
    # everyone who processed the last commit (all but its committer) holds the same object
    publics = {id(g.public) for n, g in shared.members.items() if n != "m5"}
    assert len(publics) == 1
    assert cache.hits > 0 and cache.misses > 0


def test_cache_hit_still_needs_the_referenced_proposal() -> None:
    cache = EpochCache()
    h = Harness(get_suite(1, "model"), seed=3, config=GroupConfig(epoch_cache=cache))
    h.create("a")
    h.add("a", "b", "c", "d")
    upd = h.members["b"].propose_update(h.rand)
    h.members["a"].process(roundtrip(upd))
    h.members["c"].process(roundtrip(upd))
    # d never receives the proposal
    staged = h.members["a"].commit(h.rand)
    assert h.members["c"].process(roundtrip(staged.message))  # fills the cache
    before = (h.members["d"].epoch, h.members["d"].epoch_authenticator)
    with pytest.raises(UnknownProposalError):
        h.members["d"].process(roundtrip(staged.message))
    assert (h.members["d"].epoch, h.members["d"].epoch_authenticator) == before


def test_invalid_key_package_is_rejected_by_the_committer_and_by_receivers() -> None:
    h = Harness(get_suite(1))
    h.create("a")
    h.add("a", "b")
    kp = h.client("c").bundle.key_package
    forged = replace(kp, signature=bytes(len(kp.signature)))
    with pytest.raises(KeyPackageSignatureError):
        h.members["a"].commit(h.rand, adds=[forged])
    # a receiver rejects a commit carrying it, even if a (lax) committer sent it
    lax = GroupConfig(leaf_policy=replace(GroupConfig().leaf_policy, enabled=False))
    h.members["a"].config = lax
    staged = h.members["a"].commit(h.rand, adds=[forged])
    with pytest.raises(KeyPackageSignatureError):
        h.members["b"].process(roundtrip(staged.message))
    assert len(encode(staged.message)) > 0


def test_joiners_of_one_welcome_share_the_validated_tree_but_a_wrong_tree_still_fails() -> None:
    """Joiners of one Welcome decode and validate its GroupInfo and tree once (EpochCache): they
    hold the same tree object and reach the states they reach alone. The cache is keyed by the
    objects validated, so a different tree (here the previous epoch's, as a lying DS would serve)
    is validated afresh and rejected even after a good one was cached."""
    from mlssim.mls.group import Group
    from mlssim.mls.group_state import GroupInfoTreeHashError
    from mlssim.mls.messages import Welcome

    from .group_harness import fresh_key_package

    cache = EpochCache()
    for tree_out_of_band in (False, True):
        config = GroupConfig(epoch_cache=cache, ratchet_tree_in_welcome=not tree_out_of_band)
        shared = Harness(get_suite(1, "model"), seed=11, config=config)
        alone = Harness(get_suite(1, "model"), seed=11, config=replace(config, epoch_cache=None))
        for h in (shared, alone):
            h.create("m0")
            names = [f"m{i}" for i in range(1, 8)]
            kps = [h.client(n).bundle.key_package for n in names]
            staged = h.members["m0"].commit(h.rand, adds=kps)
            h.deliver(staged, "m0", tree_out_of_band=tree_out_of_band)
        joiners = [shared.members[f"m{i}"] for i in range(1, 8)]
        assert len({id(g.tree) for g in joiners}) == 1
        for name, g in shared.members.items():
            assert g.epoch_authenticator == alone.members[name].epoch_authenticator
        # a late joiner served the wrong tree for the same Welcome
        old_tree = shared.members["m0"].tree
        shared.clients["late"] = fresh_key_package(shared.suite, shared.client("late"), shared.rand)
        late = shared.clients["late"]
        staged = shared.members["m0"].commit(shared.rand, adds=[late.bundle.key_package])
        welcome = roundtrip(staged.welcome).body  # type: ignore[arg-type]
        assert isinstance(welcome, Welcome)
        if not tree_out_of_band:
            continue
        good = dict(
            key_package=late.bundle.key_package,
            init_priv=late.bundle.init_priv,
            encryption_priv=late.bundle.encryption_priv,
            identity=late.identity,
            config=config,
        )
        Group.join(shared.suite, welcome, ratchet_tree=staged.ratchet_tree, **good)  # type: ignore[arg-type]
        with pytest.raises(GroupInfoTreeHashError):
            Group.join(shared.suite, welcome, ratchet_tree=old_tree, **good)  # type: ignore[arg-type]


def test_shared_verdicts_and_key_schedules_need_every_input_of_their_check() -> None:
    """Members share the membership-tag and signature verdict on a PublicMessage and the key
    schedule of an epoch (EpochCache), but only where every input is the same: a member with
    another membership key, or another init secret, computes its own result, and fails."""
    from mlssim.mls.keyschedule import ConfirmationTagError
    from mlssim.mls.protect import InvalidMembershipTagError

    cache = EpochCache()
    h = Harness(get_suite(1, "model"), seed=5, config=GroupConfig(epoch_cache=cache))
    h.create("a")
    h.add("a", "b", "c", "d", "e")
    staged = h.members["a"].commit(h.rand)
    msg = roundtrip(staged.message)
    h.members["a"].merge(staged)
    assert h.members["b"].process(msg)  # verifies and derives; fills the cache
    verified, scheduled = cache.verified_hits, cache.schedule_hits

    c = h.members["c"]
    st = c._st
    c._st = replace(st, secrets=replace(st.secrets, membership_key=bytes(len(st.secrets.membership_key))))
    with pytest.raises(InvalidMembershipTagError):
        c.process(msg)
    c._st = st

    d = h.members["d"]
    st = d._st
    d._st = replace(st, secrets=replace(st.secrets, init_secret=bytes(len(st.secrets.init_secret))))
    with pytest.raises(ConfirmationTagError):
        d.process(msg)
    assert cache.verified_hits == verified + 1  # d's message check was shared, its schedule not
    d._st = st

    for name in "cde":
        assert h.members[name].process(msg)
    assert cache.verified_hits == verified + 4
    assert cache.schedule_hits == scheduled + 3
    assert len({g.epoch_authenticator for g in h.members.values()}) == 1


def test_a_cached_verdict_does_not_cover_a_changed_membership_tag() -> None:
    from mlssim.mls.messages.framing import MLSMessage
    from mlssim.mls.protect import InvalidMembershipTagError

    cache = EpochCache()
    h = Harness(get_suite(1, "model"), seed=6, config=GroupConfig(epoch_cache=cache))
    h.create("a")
    h.add("a", "b", "c")
    msg = roundtrip(h.members["a"].commit(h.rand).message)
    assert h.members["b"].process(msg)
    body = msg.body
    tag = body.membership_tag
    assert tag is not None
    forged = MLSMessage(version=msg.version, body=replace(body, membership_tag=bytes([tag[0] ^ 1]) + tag[1:]))
    with pytest.raises(InvalidMembershipTagError):
        h.members["c"].process(forged)
    assert h.members["c"].process(msg)


def test_members_share_a_path_open_only_with_the_same_private_key() -> None:
    """Members under one copath child whose key they all hold open the same ciphertext: they
    share the open and the derivations above it (EpochCache.path_opens and .path_chains), but a
    member whose key for that node differs opens with its own key, and fails."""
    from mlssim.mls.crypto.suite import KeyPair
    from mlssim.mls.treekem import PathKeys, PathSecretDecryptionError
    from mlssim.mls.treemath import NodeIndex

    cache = EpochCache()
    h = Harness(get_suite(1, "model"), seed=8, config=GroupConfig(epoch_cache=cache))
    h.create("m0")
    h.add("m0", *[f"m{i}" for i in range(1, 8)])
    assert [int(h.members[f"m{i}"].leaf_index) for i in range(8)] == list(range(8))
    h.deliver(h.members["m1"].commit(h.rand), "m1")  # sets nodes 1, 3 and 7: leaves 0-3 hold node 3
    staged = h.members["m4"].commit(h.rand)  # leaves 0-3 open node 3's one ciphertext
    msg = roundtrip(staged.message)
    h.members["m4"].merge(staged)
    assert h.members["m2"].process(msg)

    def path_hits() -> int:
        return cache.path_opens.hits + cache.path_chains.hits

    opened = path_hits()

    m3 = h.members["m3"]
    st = m3._st
    pk = st.path_keys
    good = pk.nodes[NodeIndex(3)]
    bad = KeyPair(priv=bytes(len(good.priv)), pub=good.pub)
    m3._st = replace(
        st, path_keys=PathKeys(pk.leaf, pk.leaf_priv, pk.leaf_pub, {**pk.nodes, NodeIndex(3): bad})
    )
    with pytest.raises(PathSecretDecryptionError):
        m3.process(msg)
    m3._st = st

    for name in ("m0", "m1", "m3", "m5", "m6", "m7"):
        assert h.members[name].process(msg)
    assert path_hits() >= opened + 3 * 2  # m0, m1, m3: the open and the chain above it
    assert len({g.epoch_authenticator for g in h.members.values()}) == 1


def _chat(config: GroupConfig, seed: int) -> tuple[Harness, list[tuple[str, list[bytes]]]]:
    """Five members; three of them send application messages, delivered to the others out of
    order; returns what each member decrypted."""
    h = Harness(get_suite(1, "model"), seed=seed, config=config)
    h.create("a")
    h.add("a", "b", "c", "d", "e")
    sent = [
        (name, h.members[name].encrypt_application(f"{name}{k}".encode(), h.rand))
        for k in range(3)
        for name in "abc"
    ]
    got: list[tuple[str, list[bytes]]] = []
    for name, g in h.members.items():
        mine = []
        for sender, msg in reversed(sent):  # newest first: the ratchets skip and cache keys
            if sender != name:
                res = g.process(msg)
                mine.append(res.data)  # type: ignore[union-attr]
        got.append((name, mine))
    return h, got


def test_shared_private_message_decryption_gives_what_each_member_gets_alone() -> None:
    cache = EpochCache()
    shared, got_shared = _chat(GroupConfig(epoch_cache=cache), seed=9)
    alone, got_alone = _chat(GroupConfig(), seed=9)
    assert got_shared == got_alone
    assert [g.epoch_authenticator for g in shared.members.values()] == [
        g.epoch_authenticator for g in alone.members.values()
    ]
    assert cache.private_content.hits > 0 and cache.sender_data.hits > 0 and cache.secret_tree.hits > 0


def test_a_shared_decryption_does_not_spare_a_member_its_own_ratchet() -> None:
    """A member that already used a message's key rejects a replay of it even though the
    message's decryption is shared; a member whose epoch secrets differ cannot use the
    shared one at all (its keys are other keys) and fails as it would alone."""
    from mlssim.mls.protect import ContentDecryptionError, SenderDataError
    from mlssim.mls.secret_tree import KeyConsumedError, SecretTree

    cache = EpochCache()
    h = Harness(get_suite(1, "model"), seed=10, config=GroupConfig(epoch_cache=cache))
    h.create("a")
    h.add("a", "b", "c", "d")
    msg = h.members["a"].encrypt_application(b"hello", h.rand)
    assert h.members["b"].process(msg).data == b"hello"  # type: ignore[union-attr]
    with pytest.raises(KeyConsumedError):
        h.members["b"].process(msg)

    c = h.members["c"]
    st = c._st
    c._st = replace(
        st, secrets=replace(st.secrets, sender_data_secret=bytes(len(st.secrets.sender_data_secret)))
    )
    with pytest.raises(SenderDataError):
        c.process(msg)
    c._st = st

    d = h.members["d"]
    st = d._st
    other = SecretTree(
        h.suite, bytes(len(st.secrets.encryption_secret)), st.public.tree.n_leaves, shared=cache
    )
    d._st = replace(st, secret_tree=other)
    with pytest.raises(ContentDecryptionError):
        d.process(msg)
    d._st = st
    assert c.process(msg).data == d.process(msg).data == b"hello"  # type: ignore[union-attr]
