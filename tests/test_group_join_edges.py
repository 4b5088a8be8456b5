"""Edges of ``group_join`` the other tests left open (issue 25's mutation run): a new group's first
leaf and its epoch-0 resumption PSK (§11, §8.6), and an external join (§12.4.3.2) from a GroupInfo
without ``external_pub`` or with PSKs of the joiner's own lookup."""

from __future__ import annotations

import dataclasses

import pytest

from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import LocalProtocolError
from mlssim.mls.group import CommitApplied, Group, GroupConfig
from mlssim.mls.messages import GroupInfo
from mlssim.mls.messages.enums import LeafNodeSource, PSKType, ResumptionPSKUsage
from mlssim.mls.messages.psk_id import PreSharedKeyID
from mlssim.mls.psk import MissingPSKError
from mlssim.mls.rand import SeededRandom

from .group_harness import Harness, make_client, roundtrip

SUITE = get_suite(1, "model")


def test_a_new_group_starts_from_the_given_leaf_only_when_both_halves_are_given() -> None:
    """§11: the creator's leaf is the one passed with its private key; given only one of the
    two, the group starts from a fresh leaf (never from a leaf whose key it does not hold)."""
    rand = SeededRandom(5, "edges")
    c = make_client(SUITE, "c1", rand)
    leaf, priv = c.bundle.key_package.leaf_node, c.bundle.encryption_priv
    g = Group.create(
        SUITE, group_id=b"g", identity=c.identity, rand=rand, encryption_priv=priv, leaf_node=leaf
    )
    assert g.tree.leaf(0) == leaf and g.tree.n_leaves == 1
    for half in ({}, {"leaf_node": leaf}, {"encryption_priv": priv}):
        other = Group.create(SUITE, group_id=b"g", identity=c.identity, rand=rand, **half)  # type: ignore[arg-type]
        fresh = other.tree.leaf(0)
        assert fresh is not None and fresh != leaf, half
        assert fresh.encryption_key != leaf.encryption_key
        assert fresh.signature_key == c.identity.signature_key
        assert fresh.leaf_node_source == LeafNodeSource.KEY_PACKAGE


def test_the_creator_holds_the_resumption_psk_of_epoch_0() -> None:
    """§8.6: every epoch's resumption_psk is kept under its epoch, epoch 0 included."""
    h = Harness(SUITE, seed=3)
    g = h.create("c1")

    def psk_id(epoch: int) -> PreSharedKeyID:
        return PreSharedKeyID(
            psktype=PSKType.RESUMPTION,
            usage=ResumptionPSKUsage.APPLICATION,
            psk_group_id=h.group_id,
            psk_epoch=epoch,
            psk_nonce=bytes(SUITE.info.hash_len),
        )

    assert g.epoch == 0
    assert g.lookup_psk(psk_id(0)) == g.secrets.resumption_psk
    assert g.lookup_psk(psk_id(1)) is None


def test_external_join_needs_the_external_pub_extension() -> None:
    """§12.4.3.2: without ``external_pub`` in the GroupInfo there is nothing to join with."""
    h = Harness(SUITE, seed=3)
    h.create("c1")
    h.add("c1", "c2")
    c1 = h.members["c1"]
    c1.config = dataclasses.replace(c1.config, external_pub_in_group_info=False)
    gi = roundtrip(c1.group_info(with_tree=True)).body
    assert isinstance(gi, GroupInfo)
    with pytest.raises(LocalProtocolError, match="no external_pub extension"):
        Group.external_join(SUITE, gi, identity=h.client("ext").identity, rand=h.rand)


def test_an_external_joiner_takes_its_psks_from_its_own_lookup() -> None:
    """§12.4.3.2 allows PreSharedKey proposals in an external commit; the joiner's PSK values
    come from its configured lookup, and the members, holding the same PSK, accept."""
    h = Harness(SUITE, seed=3)
    h.create("c1")
    h.add("c1", "c2")
    psk = PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"shared", psk_nonce=bytes(SUITE.info.hash_len))

    def lookup(i: PreSharedKeyID) -> bytes | None:
        return b"the shared psk" if i.psk_id == b"shared" else None

    for g in h.members.values():
        g.config = dataclasses.replace(g.config, psk_lookup=lookup)
    gi = roundtrip(h.members["c1"].group_info(with_tree=True)).body
    assert isinstance(gi, GroupInfo)
    ext = h.client("ext")
    with pytest.raises(MissingPSKError):  # without the lookup it has no value for it
        Group.external_join(SUITE, gi, identity=ext.identity, rand=h.rand, psks=[psk])
    joiner, staged = Group.external_join(
        SUITE, gi, identity=ext.identity, rand=h.rand, psks=[psk], config=GroupConfig(psk_lookup=lookup)
    )
    for g in h.members.values():
        assert isinstance(g.process(roundtrip(staged.message)), CommitApplied)
    joiner.merge(staged)
    h.members["ext"] = joiner
    h.check()
