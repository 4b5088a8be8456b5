"""Counted work (issue 19, ``mls/crypto/counting.py``): the primitives a member executes, counted
at the suite interface, the same for a model twin and its real suite, charged in full to a member
served from an EpochCache, and nothing at all without an active tally."""

from __future__ import annotations

import pytest

from mlssim.mls import codec
from mlssim.mls.crypto import counting as counting_module
from mlssim.mls.crypto import get_suite
from mlssim.mls.crypto.counting import BYTE_COUNTED, PRIMITIVES, CountingSuite, WorkCounts, counting, measured
from mlssim.mls.group import EpochCache, GroupConfig
from mlssim.mls.messages import MLSMessage

from .group_harness import Harness, roundtrip


def _group(family: str, n: int, cache: EpochCache | None = None, seed: int = 5) -> Harness:
    """``n`` members a, m1, m2, … (leaves 0, 1, 2, …) on a counted suite 1 of ``family``."""
    h = Harness(CountingSuite(get_suite(1, family)), seed=seed, config=GroupConfig(epoch_cache=cache))
    h.create("a")
    h.add("a", *[f"m{i}" for i in range(1, n)])
    return h


def _counted(h: Harness, name: str, msg: MLSMessage) -> WorkCounts:
    tally = WorkCounts()
    with counting(tally):
        h.members[name].process(msg)
    return tally


def test_model_and_real_suite_count_the_same_work() -> None:
    """A path commit (made, then processed by two receivers at different depths) and an
    application message (sealed, then opened): count by count and byte by byte the same under
    model suite 1 and real suite 1, since the core makes the same interface calls on
    byte-exact twins."""
    seen: dict[str, list[WorkCounts]] = {}
    for family in ("model", "real"):
        h = _group(family, 4)
        made = WorkCounts()
        with counting(made):
            staged = h.members["a"].commit(h.rand)
        msg = roundtrip(staged.message)
        tallies = [made, _counted(h, "m1", msg), _counted(h, "m2", msg)]
        for name in ("a", "m3"):
            h.members[name].process(msg)
        sealed = WorkCounts()
        with counting(sealed):
            app = roundtrip(h.members["m3"].encrypt_application(b"x" * 100, h.rand))
        tallies += [sealed, _counted(h, "m1", app)]
        seen[family] = tallies
    assert seen["model"] == seen["real"]
    made = seen["model"][0]
    # the committer's new LeafNode (§7.3), the FramedContent (§6.1) and the GroupInfo it makes
    # with every commit for external joiners (§12.4.3)
    assert made["sign"] == 3
    # a path secret to each node of the copath's resolution (§7.6): m1 (leaf 1) for node 1, and
    # m2 and m3 for the root, since their parent (node 5) is blank after the add-all commit
    assert made["kem_encap"] == made["hpke_setup"] == made["aead_seal"] == 3


def test_receiver_of_a_path_commit_does_the_rfc_work() -> None:
    """4 members, a (leaf 0) commits with a path; m1 (leaf 1) and m2 (leaf 2) receive it
    as a PublicMessage. Derived from RFC 9420:

    * one HPKE open of one path secret (§7.6, §12.4.2): kem_decap 1, hpke_setup 1, aead_open 1
      over 32 + 16 bytes (a path secret and the tag; no aad); the HPKE info is EncryptContext
      (§5.1.3): opaque "MLS 1.0 UpdatePathNode" (1 + 22) and the 93-byte GroupContext (2 + 93);
    * two signatures verified: the FramedContent (§6.1) and the committer's new LeafNode (§7.3);
    * two MACs: the membership tag (§6.2) and the confirmation tag (§8.1);
    * the node key pairs from the decrypted node up to the root (§7.4): m1's common ancestor
      with a is node 1 (then the root, 2 pairs), m2's is the root (1 pair);
    * HKDF: Extract twice in the key schedule (§8: commit secret, then PSK secret); Expand 12
      times there (joiner, welcome, epoch, and nine epoch secrets: sender data, encryption,
      exporter, external, confirm, membership, resumption, authentication, init), plus per node
      held DeriveSecret "node" and "path" (§7.4): m2 2 (the root, then the commit secret),
      m1 4;
    * 7 hashes: the tree hashes of the committer's leaf, node 1 and the root (§7.8), the
      parent hashes of node 1 and the root (§7.9), the confirmed and interim transcript
      hashes (§8.2);
    * nothing sealed, signed or encapsulated."""
    h = _group("model", 4)
    msg = roundtrip(h.members["a"].commit(h.rand).message)
    common = {
        "kem_decap": 1,
        "hpke_setup": 1,
        "hpke_setup_bytes": 23 + 95,
        "aead_open": 1,
        "aead_open_bytes": 48,
        "verify": 2,
        "mac": 2,
        "kdf_extract": 2,
        "hash": 7,
    }
    for name, pairs, expands in (("m1", 2, 16), ("m2", 1, 14)):
        tally = _counted(h, name, msg)
        assert {k: tally[k] for k in common} == common
        assert tally["kem_derive_key_pair"] == pairs
        assert tally["kdf_expand"] == expands
        for absent in ("sign", "kem_encap", "aead_seal", "kem_public_key", "signature_public_key"):
            assert absent not in tally
        assert set(tally) <= set(PRIMITIVES) | {p + "_bytes" for p in BYTE_COUNTED}


def test_application_message_receiver_counts() -> None:
    """Opening a PrivateMessage (§6.3): two AEAD opens (sender data, content), one decode of the
    12-byte SenderData (leaf_index, generation, reuse_guard), one signature verified, and the
    secret tree (§9) walked from the root to the sender's leaf: m3 is leaf 3 of 8, 3 levels,
    each derivation giving both children (6), the leaf's handshake and application secrets (2),
    the key, nonce and next secret of ratchet generation 0 (3); plus the sender-data key and
    nonce (2): 13 HKDF-Expands."""
    h = _group("model", 6)
    app = roundtrip(h.members["m3"].encrypt_application(b"x" * 100, h.rand))
    tally = _counted(h, "m1", app)
    assert tally["aead_open"] == 2
    assert tally["decode"] == 1 and tally["decode_bytes"] == 12
    assert tally["verify"] == 1
    assert tally["kdf_expand"] == 13
    assert "kem_decap" not in tally and "mac" not in tally


def _hits(cache: EpochCache) -> int:
    return sum(t.hits for t in (cache.outcomes, cache.verified, cache.schedules, cache.private_content))


@pytest.mark.parametrize("filler_counted", [True, False])
def test_a_member_served_from_the_cache_is_charged_what_it_computes_alone(filler_counted: bool) -> None:
    """m2 processes first and fills the EpochCache (counted or not: a value kept while nothing
    was counted is measured when a counted member first hits it); m1 then finds the commit's
    public outcome, verdicts and key schedule there, yet is charged what it is charged without
    any cache. The same for an application message (sender data, content, secret tree)."""
    cache = EpochCache()
    charged: dict[tuple[bool, str, str], WorkCounts] = {}
    for h in (_group("model", 6, cache), _group("model", 6)):
        shared = h.config.epoch_cache is not None
        msg = roundtrip(h.members["a"].commit(h.rand).message)
        for step in ("commit", "application"):
            if step == "application":
                for name in ("a", "m3", "m4", "m5"):
                    h.members[name].process(msg)
                msg = roundtrip(h.members["m3"].encrypt_application(b"x" * 100, h.rand))
            if filler_counted or not shared:
                charged[shared, "m2", step] = _counted(h, "m2", msg)
            else:
                h.members["m2"].process(msg)
            before = _hits(cache)
            charged[shared, "m1", step] = _counted(h, "m1", msg)
            assert (_hits(cache) > before) == shared  # m1 was served from the cache
    for (shared, name, step), tally in charged.items():
        if shared:
            assert tally == charged[False, name, step], (name, step)
    assert charged[True, "m1", "commit"]["verify"] == 2
    assert charged[True, "m1", "application"]["verify"] == 1


def test_no_active_tally_counts_nothing_and_changes_nothing() -> None:
    """Without ``counting`` a CountingSuite only forwards: no tally fills, no cost is kept in
    the EpochCache, and the group reaches the same state as on the bare suite."""
    cache = EpochCache()
    idle = WorkCounts()
    counted = _group("model", 5, cache)
    h_bare = Harness(get_suite(1, "model"), seed=5, config=GroupConfig(epoch_cache=EpochCache()))
    h_bare.create("a")
    h_bare.add("a", *[f"m{i}" for i in range(1, 5)])
    for h in (counted, h_bare):
        h.deliver(h.members["m2"].commit(h.rand), "m2")
        app = roundtrip(h.members["m3"].encrypt_application(b"hi", h.rand))
        for name in ("a", "m1"):
            h.members[name].process(app)
    assert counting_module.active_tally is None and codec._decode_tally is None
    assert idle == WorkCounts() and not any(
        t._costs for t in (cache.outcomes, cache.verified, cache.schedules)
    )
    for name, g in counted.members.items():
        assert g.epoch_authenticator == h_bare.members[name].epoch_authenticator
        assert g.tree_hash == h_bare.members[name].tree_hash


def test_tallies_nest_and_measured_charges_the_outer_one() -> None:
    suite = CountingSuite(get_suite(1, "model"))
    outer, inner = WorkCounts(), WorkCounts()
    with counting(outer):
        suite.hash(b"abc")
        with counting(inner):
            suite.hash(b"de")
        value, cost = measured(suite.mac, b"k", b"12345")
        assert counting_module.active_tally is outer
    assert counting_module.active_tally is None
    assert inner == {"hash": 1, "hash_bytes": 2}
    assert cost == {"mac": 1, "mac_bytes": 5}
    assert outer == {"hash": 1, "hash_bytes": 3, "mac": 1, "mac_bytes": 5}
    assert value == get_suite(1, "model").mac(b"k", b"12345")
    assert CountingSuite(suite).inner is suite.inner
