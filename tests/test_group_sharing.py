"""Shared public state: members of one epoch share one PublicEpoch through an EpochCache,
with exactly the results they reach alone; validation still runs where only a member can."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import MLSError
from mlssim.mls.group import EpochCache, GroupConfig, UnknownProposalError

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
    with pytest.raises(MLSError):
        h.members["a"].commit(h.rand, adds=[forged])
    # a receiver rejects a commit carrying it, even if a (lax) committer sent it
    lax = GroupConfig(leaf_policy=replace(GroupConfig().leaf_policy, enabled=False))
    h.members["a"].config = lax
    staged = h.members["a"].commit(h.rand, adds=[forged])
    with pytest.raises(MLSError):
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
