"""Secret tree (RFC 9420 §9) and sender-data keys (§6.3.2): laziness, windows, deletion."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import InternalError, RemoteProtocolError
from mlssim.mls.messages.enums import ContentType
from mlssim.mls.secret_tree import (
    GenerationTooFarError,
    GenerationTooOldError,
    KeyConsumedError,
    LeafOutOfRangeError,
    RatchetExhaustedError,
    RatchetKey,
    RatchetPolicy,
    SecretTree,
    SecretTreeSizeError,
    sender_data_key_nonce,
)

SUITE = get_suite(1)
SECRET = bytes(range(32))
APP = ContentType.APPLICATION
HS = ContentType.COMMIT


def in_order(n_leaves: int, leaf: int, ct: ContentType, count: int) -> list[RatchetKey]:
    t = SecretTree(SUITE, SECRET, n_leaves)
    return [t.receive_key(leaf, ct, g) for g in range(count)]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 60))
def test_out_of_order_gives_in_order_keys(seed: int, count: int) -> None:
    want = in_order(8, 5, APP, count)
    order = list(range(count))
    random.Random(seed).shuffle(order)
    t = SecretTree(SUITE, SECRET, 8, policy=RatchetPolicy(max_forward=100, max_behind=100))
    got = {g: t.receive_key(5, APP, g) for g in order}
    assert [got[g] for g in range(count)] == want
    assert t.skipped_key_count == 0
    for g in range(count):  # every key was handed out once and is gone
        with pytest.raises(KeyConsumedError):
            t.receive_key(5, APP, g)


def test_sender_and_receiver_trees_agree() -> None:
    sender, receiver = SecretTree(SUITE, SECRET, 4), SecretTree(SUITE, SECRET, 4)
    for _ in range(5):
        for ct in (APP, HS, ContentType.PROPOSAL):
            k = sender.next_send_key(2, ct)
            assert receiver.receive_key(2, ct, k.generation) == k
    assert sender.next_send_key(2, APP).generation == 5
    assert sender.next_send_key(2, HS).generation == 10  # commit and proposal share the handshake ratchet


def test_keys_differ_by_leaf_type_and_generation() -> None:
    t = SecretTree(SUITE, SECRET, 4)
    keys = [t.receive_key(leaf, ct, g) for leaf in range(4) for ct in (APP, HS) for g in range(3)]
    assert len({k.key for k in keys}) == len(keys)
    assert len({k.nonce for k in keys}) == len(keys)
    assert all(
        len(k.key) == SUITE.info.aead_key_len and len(k.nonce) == SUITE.info.aead_nonce_len for k in keys
    )
    other = SecretTree(SUITE, b"\x01" + SECRET[1:], 4)
    assert other.receive_key(0, APP, 0) != keys[0]


def test_consumed_key_cannot_be_fetched_again() -> None:
    t = SecretTree(SUITE, SECRET, 2)
    k0 = t.receive_key(1, APP, 0)
    with pytest.raises(KeyConsumedError, match=r"§9\.2\b") as info:
        t.receive_key(1, APP, 0)
    assert isinstance(info.value, RemoteProtocolError)
    assert t.receive_key(1, APP, 1).generation == 1  # the failure left the ratchet usable
    k3 = t.receive_key(1, APP, 3)
    k2 = t.receive_key(1, APP, 2)  # skipped key, once
    with pytest.raises(KeyConsumedError):
        t.receive_key(1, APP, 2)
    with pytest.raises(KeyConsumedError):
        t.receive_key(1, APP, 3)
    assert len({k0.key, k2.key, k3.key}) == 3
    # The handshake ratchet of the same leaf is independent.
    assert t.receive_key(1, HS, 0).generation == 0


def test_forward_window() -> None:
    t = SecretTree(SUITE, SECRET, 2, policy=RatchetPolicy(max_forward=10, max_behind=5))
    with pytest.raises(GenerationTooFarError, match=r"§9\.1\b"):
        t.receive_key(0, APP, 11)
    with pytest.raises(GenerationTooFarError):
        t.receive_key(0, APP, 2**32)
    with pytest.raises(GenerationTooFarError):
        t.receive_key(0, APP, -1)
    # Nothing moved: generation 0 is still there, and 10 ahead of the next is the limit.
    assert t.receive_key(0, APP, 0) == in_order(2, 0, APP, 1)[0]
    assert t.receive_key(0, APP, 11) == in_order(2, 0, APP, 12)[11]
    with pytest.raises(GenerationTooFarError):
        t.receive_key(0, APP, 23)


def test_backward_window_deletes_old_keys() -> None:
    want = in_order(2, 0, APP, 40)
    t = SecretTree(SUITE, SECRET, 2, policy=RatchetPolicy(max_forward=100, max_behind=5))
    assert t.receive_key(0, APP, 20) == want[20]
    assert t.skipped_key_count == 5
    for g in range(15):
        with pytest.raises(GenerationTooOldError, match=r"§9\.2\b"):
            t.receive_key(0, APP, g)
    assert [t.receive_key(0, APP, g) for g in range(15, 20)] == want[15:20]
    t.receive_key(0, APP, 30)  # the window slides: 25..29 kept, 21..24 deleted
    with pytest.raises(GenerationTooOldError):
        t.receive_key(0, APP, 24)
    assert t.receive_key(0, APP, 25) == want[25]
    assert t.skipped_key_count == 4  # 26..29
    with pytest.raises(KeyConsumedError):
        t.receive_key(0, APP, 25)  # consumed is told apart from expired while inside the window
    with pytest.raises(GenerationTooOldError):
        t.receive_key(0, APP, 20)  # consumed earlier, now also outside the window


def test_no_reordering_when_window_is_zero() -> None:
    t = SecretTree(SUITE, SECRET, 1, policy=RatchetPolicy(max_forward=3, max_behind=0))
    t.receive_key(0, APP, 2)
    with pytest.raises(GenerationTooOldError):
        t.receive_key(0, APP, 1)


def test_take_changes_nothing_until_consumed() -> None:
    """§9.2: a key is consumed only once its message decrypted; taking it (for a message that
    then fails) moves no ratchet and deletes no key, however far ahead it names."""
    t = SecretTree(SUITE, SECRET, 2)
    t.receive_key(1, HS, 4)  # generations 0..3 are now retained, 4 consumed
    before = t.ratchet_state()
    assert before == ((2 * 1 + 0, 5, 0, (0, 1, 2, 3)),)
    for g in (2, 900, 1004):
        pending = t.take(1, HS, g)
        assert t.ratchet_state() == before, g
    far = SecretTree(SUITE, SECRET, 2, policy=RatchetPolicy(max_forward=2000))
    assert pending.key == far.receive_key(1, HS, 1004)
    k2 = t.take(1, HS, 2)
    t.consume(k2)
    assert t.ratchet_state() == ((2, 5, 0, (0, 1, 3)),)
    with pytest.raises(KeyConsumedError):
        t.take(1, HS, 2)
    with pytest.raises(InternalError):
        t.consume(k2)  # twice
    stale = t.take(1, HS, 7)
    t.consume(t.take(1, HS, 6))
    with pytest.raises(InternalError):
        t.consume(stale)  # taken before the ratchet moved


def test_consuming_a_far_key_keeps_the_window() -> None:
    """Consuming generation g keeps the keys of the skipped generations inside the window,
    exactly as receiving it did before take/consume were split."""
    policy = RatchetPolicy(max_forward=50, max_behind=5)
    t = SecretTree(SUITE, SECRET, 2, policy=policy)
    t.consume(t.take(0, APP, 20))
    assert t.ratchet_state() == ((1, 21, 15, (15, 16, 17, 18, 19)),)


def test_lazy_tree_and_deletion_schedule() -> None:
    n = 1 << 16
    t = SecretTree(SUITE, SECRET, n)
    assert (t.stored_node_count, t.ratchet_count) == (1, 0)
    t.receive_key(12345, APP, 0)
    # Root consumed; one copath sibling per level stays; the leaf secret became two ratchets.
    assert (t.stored_node_count, t.ratchet_count) == (16, 2)
    t.receive_key(12344, APP, 0)  # the sibling leaf: its stored secret is consumed
    assert t.stored_node_count == 15
    small = SecretTree(SUITE, SECRET, 8)
    for leaf in range(8):
        small.receive_key(leaf, HS, 0)
    assert (small.stored_node_count, small.ratchet_count) == (0, 16)


def test_lazy_tree_matches_any_derivation_order() -> None:
    n = 16
    leaves = list(range(n))
    ref = SecretTree(SUITE, SECRET, n)
    want = {leaf: ref.receive_key(leaf, APP, 0) for leaf in leaves}
    for seed in range(5):
        random.Random(seed).shuffle(leaves)
        t = SecretTree(SUITE, SECRET, n)
        assert {leaf: t.receive_key(leaf, APP, 0) for leaf in leaves} == want


def test_tree_shape_is_the_ratchet_trees() -> None:
    with pytest.raises(SecretTreeSizeError):
        SecretTree(SUITE, SECRET, 5)
    with pytest.raises(SecretTreeSizeError):
        SecretTree(SUITE, SECRET, 0)
    t = SecretTree(SUITE, SECRET, 4)
    with pytest.raises(LeafOutOfRangeError):
        t.receive_key(4, APP, 0)
    with pytest.raises(LeafOutOfRangeError):
        t.next_send_key(-1, APP)
    # A one-leaf tree's leaf secret is the encryption secret itself.
    one = SecretTree(SUITE, SECRET, 1)
    app_root = SUITE.expand_with_label(SECRET, "application", b"", 32)
    assert one.receive_key(0, APP, 0).key == SUITE.derive_tree_secret(app_root, "key", 0, 16)


def test_sender_data_sample_is_first_nh_bytes() -> None:
    sds = b"\x07" * 32
    ct = bytes(range(100))
    key, nonce = sender_data_key_nonce(SUITE, sds, ct)
    assert (len(key), len(nonce)) == (16, 12)
    assert sender_data_key_nonce(SUITE, sds, ct[:32] + b"other tail") == (key, nonce)
    assert sender_data_key_nonce(SUITE, sds, ct[:31]) != (key, nonce)
    short = bytes(10)
    assert sender_data_key_nonce(SUITE, sds, short) == (
        SUITE.expand_with_label(sds, "key", short, 16),
        SUITE.expand_with_label(sds, "nonce", short, 12),
    )


def test_default_window_is_a_thousand_generations_each_way() -> None:
    """The default :class:`RatchetPolicy`: a message may jump 1000 generations past the next
    expected one, not 1001; keys more than 1000 generations behind the newest are deleted."""
    t = SecretTree(SUITE, SECRET, 1)
    with pytest.raises(GenerationTooFarError, match="the limit is 1000"):
        t.take(0, APP, 1001)
    want = in_order(1, 0, APP, 1002)
    assert t.receive_key(0, APP, 1000) == want[1000]
    assert t.skipped_key_count == 1000  # 0..999, all inside the window
    far = SecretTree(SUITE, SECRET, 1, policy=RatchetPolicy(max_forward=2000))
    assert far.receive_key(0, APP, 1001) == want[1001]
    with pytest.raises(GenerationTooOldError, match="keys below 1 are deleted"):
        far.take(0, APP, 0)
    assert far.receive_key(0, APP, 1) == want[1]
    with pytest.raises(GenerationTooFarError, match="is 1001 past the next expected 1001; the limit is 1000"):
        t.take(0, APP, 2002)


def test_a_sliding_window_deletes_the_keys_it_leaves_behind() -> None:
    """§9.2: keys retained for reordering are deleted once the window moves past them; they
    cannot be taken again."""
    want = in_order(1, 0, APP, 21)
    t = SecretTree(SUITE, SECRET, 1, policy=RatchetPolicy(max_forward=100, max_behind=5))
    t.receive_key(0, APP, 10)  # retains 5..9
    assert t.ratchet_state() == ((1, 11, 5, (5, 6, 7, 8, 9)),)
    t.receive_key(0, APP, 20)  # window 15..19: 5..9 deleted, 15..19 retained
    assert t.ratchet_state() == ((1, 21, 15, (15, 16, 17, 18, 19)),)
    assert t.skipped_key_count == 5
    for g in (5, 9, 12):
        with pytest.raises(GenerationTooOldError):
            t.take(0, APP, g)
    assert t.receive_key(0, APP, 15) == want[15]


def test_generation_beyond_uint32_is_refused_as_such() -> None:
    """§6.3.2: ``generation`` is a uint32; 2**32 is refused for that, before the window."""
    t = SecretTree(SUITE, SECRET, 1)
    with pytest.raises(GenerationTooFarError, match="not a uint32"):
        t.take(0, APP, 2**32)
    assert t.ratchet_state() == ()


@pytest.mark.parametrize(("forward", "behind"), [(-1, 0), (0, -1)])
def test_ratchet_policy_bounds_are_non_negative(forward: int, behind: int) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        RatchetPolicy(max_forward=forward, max_behind=behind)
    assert RatchetPolicy(max_forward=0, max_behind=0).max_forward == 0  # zero is a window


def test_a_sender_stops_at_the_last_uint32_generation() -> None:
    """§6.3.2: a sender whose ratchet has used generation 2**32 - 1 cannot send on it."""
    t = SecretTree(SUITE, SECRET, 1)
    t.next_send_key(0, APP)
    t._ratchets[1].generation = 0xFFFFFFFF  # as after 2**32 - 1 messages
    assert t.next_send_key(0, APP).generation == 0xFFFFFFFF
    with pytest.raises(RatchetExhaustedError, match="every uint32 generation"):
        t.next_send_key(0, APP)
    assert t.next_send_key(0, HS).generation == 0  # the other ratchet is its own


def test_an_unknown_content_type_has_no_ratchet() -> None:
    """Only application (§9.1: application ratchet) and handshake content (and the split
    commit's header) have a ratchet; anything else is our bug, not the peer's."""
    t = SecretTree(SUITE, SECRET, 1)
    with pytest.raises(InternalError, match="no ratchet"):
        t.next_send_key(0, 7)  # type: ignore[arg-type]
    with pytest.raises(InternalError, match="no ratchet"):
        t.take(0, 0, 0)  # type: ignore[arg-type]


def test_a_lost_path_is_our_bug() -> None:
    """The secret of a leaf's ratchets is derived once and its path secrets deleted (§9); a
    tree that lost a leaf's ratchets (only a bug of ours can) says so instead of re-deriving."""
    t = SecretTree(SUITE, SECRET, 4)
    t.receive_key(1, APP, 0)
    t._ratchets.clear()  # the bug
    with pytest.raises(InternalError, match="lost the path to leaf 1"):
        t.take(1, APP, 1)
