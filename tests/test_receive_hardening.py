"""Six receive-side defects found by building authentic but invalid messages (issue 25, part 1).

Each message here is what a malicious member or outsider can send: every signature, tag and
MAC is computed honestly with the attacker's own keys (the committer-side check that would
refuse it is bypassed by patching the committer's code for that one call), so a rejection can
only come from the receiver's semantic check. Each test asserts the specific error class and
that every receiver reaches the same verdict with its state unchanged, the secret tree's
ratchets included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from mlssim.mls import commit_builder as commit_builder_module
from mlssim.mls import group_send as group_send_module
from mlssim.mls import group_state as group_state_module
from mlssim.mls.codec import encode
from mlssim.mls.credentials import CredentialSuccessorError
from mlssim.mls.crypto import CipherSuite
from mlssim.mls.extensions import DuplicateExtensionError
from mlssim.mls.group import ApplicationMessage, Group, GroupConfig
from mlssim.mls.messages import Credential, GroupInfo, Welcome
from mlssim.mls.messages.enums import ContentType, ExtensionType
from mlssim.mls.messages.framing import (
    PrivateMessage,
    PrivateMessageContent,
    decode_private_message_content,
    private_content_aad,
)
from mlssim.mls.protect import ContentDecryptionError, InvalidSignatureError
from mlssim.mls.ratchet_tree import UpdatePathShapeError
from mlssim.mls.secret_tree import GenerationTooFarError, RatchetPolicy, SecretTree

from .group_harness import roundtrip
from .malicious import ON_SUITES, group_of, join, open_sender_data, patched, seal, verdicts

pytestmark = ON_SUITES

# ---- 1. an external joiner may remove only an old version of itself (§12.2) ---------------------


def test_external_commit_cannot_remove_another_member(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    gi = roundtrip(h.members["c1"].group_info(with_tree=True)).body
    assert isinstance(gi, GroupInfo)
    victim = int(h.members["c3"].leaf_index)
    _, staged = Group.external_join(
        h.suite, gi, identity=h.client("ext").identity, rand=h.rand, resync_remove=victim, config=h.config
    )
    got = verdicts(h, staged.message, sorted(h.members))
    assert got == dict.fromkeys(sorted(h.members), CredentialSuccessorError), got
    assert CredentialSuccessorError.rfc_section == "5.3.1"
    # the same external commit by c3 itself (a resync) is accepted by everyone
    h.external_join("c3", "c1", resync=True)


def test_validator_sees_the_removed_members_credential(suite: CipherSuite) -> None:
    """The AS hook gets the replaced leaf's credential, so an application can apply its own
    successor policy (here: a device of user 'c3' may replace another device of 'c3')."""
    from mlssim.mls.credentials import DefaultCredentialValidator
    from mlssim.mls.group_validation import LeafPolicy

    seen: list[tuple[bytes, bytes | None]] = []

    def same_user(
        credential: Credential, signature_key: bytes, now: int, /, *, predecessor: Credential | None
    ) -> None:
        DefaultCredentialValidator()(credential, signature_key, now)
        seen.append((credential.identity, predecessor.identity if predecessor else None))
        user = credential.identity.split(b"/")[0]
        if predecessor is not None and user != predecessor.identity.split(b"/")[0]:
            raise CredentialSuccessorError("another user")

    h = group_of(suite, 3, GroupConfig(leaf_policy=LeafPolicy(credential_validator=same_user)))
    h.add("c1", "c3/phone")
    gi = roundtrip(h.members["c1"].group_info(with_tree=True)).body
    assert isinstance(gi, GroupInfo)
    old = int(h.members["c3/phone"].leaf_index)
    _, staged = Group.external_join(
        h.suite, gi, identity=h.client("c3/laptop").identity, rand=h.rand, resync_remove=old, config=h.config
    )
    seen.clear()
    got = verdicts(h, staged.message, ["c1", "c2"])
    assert got == {"c1": "accepted", "c2": "accepted"}
    assert (b"c3/laptop", b"c3/phone") in seen


# ---- 2. the UpdatePath's shape is checked at every node, by every receiver (§7.6) ---------------


def _ciphertexts_changed(
    node: int, change: Callable[[tuple[Any, ...]], tuple[Any, ...]]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A wrapper of ``create_update_path`` that changes the ciphertext vector of one
    UpdatePathNode (the committer signs and tags the result honestly)."""

    def wrap(create: Callable[..., Any]) -> Callable[..., Any]:
        def build(*args: Any, **kwargs: Any) -> Any:
            result = create(*args, **kwargs)
            nodes = list(result.update_path.nodes)
            cts = tuple(nodes[node].encrypted_path_secret)
            nodes[node] = dataclasses.replace(nodes[node], encrypted_path_secret=change(cts))
            path = dataclasses.replace(result.update_path, nodes=tuple(nodes))
            return dataclasses.replace(result, update_path=path)

        return build

    return wrap


def test_extra_ciphertext_in_one_node_is_rejected_by_every_member(suite: CipherSuite) -> None:
    h = group_of(suite, 8)
    padded = _ciphertexts_changed(-1, lambda cts: (*cts, cts[0]))  # the top node: one too many
    with patched(commit_builder_module, "create_update_path", padded):
        staged = h.members["c1"].commit(h.rand)
    others = [f"c{i}" for i in range(2, 9)]
    got = verdicts(h, staged.message, others)
    assert got == dict.fromkeys(others, UpdatePathShapeError), got


def test_bad_path_shape_is_rejected_by_a_member_being_removed(suite: CipherSuite) -> None:
    """A removed member stops before decrypting; it still checks the shape (public data)."""
    h = group_of(suite, 8)
    short = _ciphertexts_changed(0, lambda cts: cts[1:])  # the lowest node: one too few
    victim = int(h.members["c8"].leaf_index)
    with patched(commit_builder_module, "create_update_path", short):
        staged = h.members["c1"].commit(h.rand, removes=[victim])
    others = [f"c{i}" for i in range(2, 9)]
    assert verdicts(h, staged.message, others) == dict.fromkeys(others, UpdatePathShapeError)


# ---- 3. a credential may only be replaced by a valid successor (§5.3.1) --------------------------


def _posing_as(g: Group, identity: bytes) -> None:
    """The member signs its next leaves with another identity in its credential."""
    st = g._st
    g._st = dataclasses.replace(
        st, identity=dataclasses.replace(st.identity, credential=Credential.basic(identity))
    )


def test_commit_leaf_with_another_members_identity_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    attacker = h.members["c3"]
    _posing_as(attacker, b"c2")
    staged = attacker.commit(h.rand)
    others = ["c1", "c2", "c4"]
    assert verdicts(h, staged.message, others) == dict.fromkeys(others, CredentialSuccessorError)


def test_update_with_another_members_identity_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    attacker = h.members["c3"]
    _posing_as(attacker, b"c2")
    with patched(group_send_module, "validate_proposal", lambda _check: lambda *_args, **_kw: None):
        msg = attacker.propose_update(h.rand)  # the proposer's own check of its Update, bypassed
    others = ["c1", "c2", "c4"]
    assert verdicts(h, msg, others) == dict.fromkeys(others, CredentialSuccessorError)


# ---- 4. a forgery that decrypts but fails its signature burns no key (§9.2) ----------------------


def _ratchet_key(g: Group, leaf: int, generation: int, ct: ContentType) -> tuple[bytes, bytes]:
    """What any member can derive: another member's ratchet key, from the epoch's encryption secret."""
    tree = SecretTree(
        g.suite, g.secrets.encryption_secret, g.tree.n_leaves, policy=RatchetPolicy(max_forward=10**6)
    )
    k = tree.receive_key(leaf, ct, generation)
    return k.key, k.nonce


def _xor(nonce: bytes, guard: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(nonce[:4], guard, strict=True)) + nonce[4:]


def test_forgery_under_a_derived_key_does_not_burn_the_genuine_message(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    genuine = h.members["c2"].encrypt_application(b"hello", h.rand)
    pm = genuine.body
    assert isinstance(pm, PrivateMessage)
    forger = h.members["c3"]
    sd = open_sender_data(forger, pm)
    key, nonce = _ratchet_key(forger, sd.leaf_index, sd.generation, ContentType.APPLICATION)
    aad = private_content_aad(pm.group_id, pm.epoch, pm.content_type, pm.authenticated_data)
    nonce = _xor(nonce, sd.reuse_guard)
    plain = forger.suite.aead_open(key, nonce, aad, pm.ciphertext)
    pmc = decode_private_message_content(plain, pm.content_type)
    forged_pmc = PrivateMessageContent(
        content_type=pmc.content_type, application_data=b"HELLO", auth=pmc.auth, padding=pmc.padding
    )
    forged = seal(forger, pm, forger.suite.aead_seal(key, nonce, aad, encode(forged_pmc)), sd)
    receivers = ["c1", "c4"]
    assert verdicts(h, forged, receivers) == dict.fromkeys(receivers, InvalidSignatureError)
    for name in receivers:
        res = h.members[name].process(roundtrip(genuine))
        assert isinstance(res, ApplicationMessage) and res.data == b"hello"


# ---- 5. a message that fails to decrypt moves no ratchet (§9.2, §14) -----------------------------


def test_undecryptable_messages_do_not_move_the_ratchet(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    genuine = h.members["c2"].encrypt_application(b"first", h.rand)  # generation 0
    pm = genuine.body
    assert isinstance(pm, PrivateMessage)
    forger = h.members["c4"]
    sd = open_sender_data(forger, pm)
    receivers = ["c1", "c3"]
    # The first forgery is within the step limit (§14, 1,000 by default) and fails to decrypt;
    # the second names 2001, which is past the limit because the first moved nothing.
    for generation, error in ((1000, ContentDecryptionError), (2001, GenerationTooFarError)):
        junk = bytes((generation + i) % 256 for i in range(len(pm.ciphertext)))
        forged = seal(forger, pm, junk, dataclasses.replace(sd, generation=generation))
        assert verdicts(h, forged, receivers) == dict.fromkeys(receivers, error)
    for name in receivers:
        res = h.members[name].process(roundtrip(genuine))
        assert isinstance(res, ApplicationMessage) and res.data == b"first"


# ---- 6. no extension type twice in a GroupInfo (§13) ----------------------------------------------


def _doubling(ext_type: ExtensionType) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(sign: Callable[..., Any]) -> Callable[..., Any]:
        def signed(suite: CipherSuite, gi: GroupInfo, priv: bytes) -> GroupInfo:
            twice = [e for e in gi.extensions if e.extension_type == ext_type]
            return sign(suite, dataclasses.replace(gi, extensions=(*gi.extensions, *twice)), priv)  # type: ignore[no-any-return]

        return signed

    return wrap


def test_welcome_with_two_ratchet_tree_extensions_is_refused(suite: CipherSuite) -> None:
    h = group_of(suite, 2)
    joiner = h.client("new")
    with patched(group_state_module, "sign_group_info", _doubling(ExtensionType.RATCHET_TREE)):
        staged = h.members["c1"].commit(h.rand, adds=[joiner.bundle.key_package])
    assert staged.welcome is not None
    welcome = roundtrip(staged.welcome).body
    assert isinstance(welcome, Welcome)
    with pytest.raises(DuplicateExtensionError):
        join(h, joiner, welcome, config=h.config)


def test_group_info_with_two_external_pub_extensions_is_refused(suite: CipherSuite) -> None:
    h = group_of(suite, 2)
    with patched(group_state_module, "sign_group_info", _doubling(ExtensionType.EXTERNAL_PUB)):
        gi = roundtrip(h.members["c1"].group_info(with_tree=True)).body
    assert isinstance(gi, GroupInfo)
    assert [e.extension_type for e in gi.extensions].count(ExtensionType.EXTERNAL_PUB) == 2
    with pytest.raises(DuplicateExtensionError):
        Group.external_join(h.suite, gi, identity=h.client("ext").identity, rand=h.rand, config=h.config)


# ---- decided with the six: group_id uniqueness and the shared join verdict ----------------------


def test_welcome_for_a_group_id_the_client_already_uses_is_refused(suite: CipherSuite) -> None:
    """§12.4.3.1: only the client knows its other groups, so it passes their ids to the core."""
    from mlssim.mls.group import DuplicateGroupIdError

    h = group_of(suite, 2)
    joiner = h.client("new")
    staged = h.members["c1"].commit(h.rand, adds=[joiner.bundle.key_package])
    assert staged.welcome is not None
    welcome = roundtrip(staged.welcome).body
    assert isinstance(welcome, Welcome)

    def join_with(current: set[bytes]) -> Group:
        return join(h, joiner, welcome, config=h.config, current_group_ids=current)

    with pytest.raises(DuplicateGroupIdError):
        join_with({b"other", h.group_id})
    assert join_with({b"other"}).epoch == staged.epoch


def test_a_stricter_joiner_does_not_reuse_a_laxer_joiners_verdict(suite: CipherSuite) -> None:
    """The shared cache of verified join trees is keyed by the joiner's leaf policy too."""
    from mlssim.mls.credentials import CredentialError
    from mlssim.mls.group import EpochCache
    from mlssim.mls.group_validation import LeafPolicy

    cache = EpochCache()
    h = group_of(suite, 3, GroupConfig(epoch_cache=cache))
    a, b = h.client("a"), h.client("b")
    staged = h.members["c1"].commit(h.rand, adds=[a.bundle.key_package, b.bundle.key_package])
    assert staged.welcome is not None
    welcome = roundtrip(staged.welcome).body
    assert isinstance(welcome, Welcome)

    class NoC2(CredentialError):
        pass

    def no_c2(
        credential: Credential, signature_key: bytes, now: int, /, *, predecessor: Credential | None
    ) -> None:
        if credential.identity == b"c2":
            raise NoC2("c2 is not trusted here")

    def join_as(who: Any, config: GroupConfig) -> Group:
        return join(h, who, welcome, config=config)

    join_as(a, GroupConfig(epoch_cache=cache))  # the lax joiner verifies and caches the tree
    with pytest.raises(NoC2):
        join_as(b, GroupConfig(epoch_cache=cache, leaf_policy=LeafPolicy(credential_validator=no_c2)))
