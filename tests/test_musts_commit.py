"""Receiver MUSTs of RFC 9420 §7.6 (UpdatePath), §7.9.2 (parent hash when processing a commit)
and §12.4.2 (processing a commit), one authentic violation each (issue 25 b).

The committer is c1 of a group of eight (its filtered direct path has three nodes); it builds
its UpdatePath with its own code, changed at one step (``tests/malicious.py``: the path result,
or the key pairs TreeKEM derives), and signs, tags and confirms the commit honestly. Where the
commit removes a member, that member is a receiver too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from mlssim.mls import commit_builder as commit_builder_module
from mlssim.mls.crypto import CipherSuite, KeyPair
from mlssim.mls.group import CommitterError, MissingPathError, UnknownProposalError
from mlssim.mls.group_validation import DuplicatePublicKeyError
from mlssim.mls.keyschedule import ConfirmationTagError
from mlssim.mls.leaf_nodes import DuplicateEncryptionKeyError, LeafNodeSignatureError
from mlssim.mls.messages.enums import LeafNodeSource, PSKType
from mlssim.mls.messages.framing import PublicMessage, Sender
from mlssim.mls.messages.proposals import GroupContextExtensions, PreSharedKey, Proposal, Remove
from mlssim.mls.messages.psk_id import PreSharedKeyID
from mlssim.mls.messages.tree import HPKECiphertext
from mlssim.mls.proposal_list import CommittedProposal
from mlssim.mls.psk import MissingPSKError
from mlssim.mls.ratchet_tree import ParentHashMismatchError, UpdatePathShapeError
from mlssim.mls.treekem import PathKeyMismatchError, PathSecretDecryptionError

from .group_harness import Harness
from .malicious import (
    ON_SUITES,
    committer_keys,
    forge_commit,
    forge_external_commit,
    group_of,
    leaf_of,
    patched,
    path_changed,
    rejected_by_all,
    resigned_leaf,
    verdicts,
    with_update_path,
)

pytestmark = ON_SUITES


def _key_of(h: Harness, name: str) -> bytes:
    leaf = h.members[name].tree.leaf(h.members[name].leaf_index)
    assert leaf is not None
    return leaf.encryption_key


def _with_changed_path(h: Harness, change: Callable[[Any], Any], proposals: list[Proposal]) -> Any:
    with patched(commit_builder_module, "create_update_path", path_changed(change)):
        return forge_commit(h, "c1", proposals)


def _resigned_path_leaf(h: Harness, leaf_index: int | None = None, **changes: Any) -> Callable[[Any], Any]:
    """A path change: the committer's new leaf with ``changes``, signed again by c1."""
    c1 = h.members["c1"]

    def change(result: Any) -> Any:
        leaf = resigned_leaf(
            c1.suite,
            result.update_path.leaf_node,
            c1.identity.signature_priv,
            group_id=c1.group_id,
            leaf_index=int(c1.leaf_index) if leaf_index is None else leaf_index,
            **changes,
        )
        return with_update_path(result, leaf_node=leaf)

    return change


# ---- §7.6: the UpdatePath's shape and contents --------------------------------------------------


def test_7_6_update_path_with_a_node_missing_is_rejected(suite: CipherSuite) -> None:
    """§7.6: one UpdatePathNode per node of the filtered direct path (one fewer here); the
    member the commit removes rejects it too."""
    h = group_of(suite, 8)
    staged = _with_changed_path(
        h,
        lambda r: with_update_path(r, nodes=r.update_path.nodes[:-1]),
        [Remove(removed=leaf_of(h, "c8"))],
    )
    rejected_by_all(h, staged.message, UpdatePathShapeError, sender="c1")


def test_7_6_path_secret_that_does_not_decrypt_is_rejected(suite: CipherSuite) -> None:
    """§7.6 / §12.4.2: DecryptWithLabel of the receiver's ciphertext must succeed."""
    h = group_of(suite, 8)

    def garbled(result: Any) -> Any:
        nodes = tuple(
            dataclasses.replace(
                n,
                encrypted_path_secret=tuple(
                    HPKECiphertext(kem_output=ct.kem_output, ciphertext=bytes(b ^ 1 for b in ct.ciphertext))
                    for ct in n.encrypted_path_secret
                ),
            )
            for n in result.update_path.nodes
        )
        return with_update_path(result, nodes=nodes)

    staged = _with_changed_path(h, garbled, [])
    rejected_by_all(h, staged.message, PathSecretDecryptionError, sender="c1")


def test_12_4_2_derived_path_keys_must_match_the_update_path(suite: CipherSuite) -> None:
    """§7.5 / §12.4.2: the public keys derived from the decrypted path secret are the
    UpdatePath's. The committer advertises a root key not derived from the root's secret
    (every receiver derives up to the root)."""
    h = group_of(suite, 8)
    with committer_keys({3: lambda _kp: suite.kem_generate_key_pair(h.rand)}):
        staged = forge_commit(h, "c1")
    rejected_by_all(h, staged.message, PathKeyMismatchError, sender="c1")


# ---- §12.4.2: the path's leaf and keys ----------------------------------------------------------


def test_12_4_2_path_leaf_source_must_be_commit(suite: CipherSuite) -> None:
    h = group_of(suite, 8)
    change = _resigned_path_leaf(h, leaf_node_source=LeafNodeSource.UPDATE, parent_hash=b"")
    staged = _with_changed_path(h, change, [])
    rejected_by_all(h, staged.message, CommitterError, sender="c1")


def test_7_3_path_leaf_signature_must_verify(suite: CipherSuite) -> None:
    """§7.3 on the UpdatePath's leaf: signed over another leaf index."""
    h = group_of(suite, 8)
    staged = _with_changed_path(h, _resigned_path_leaf(h, leaf_index=5), [])
    rejected_by_all(h, staged.message, LeafNodeSignatureError, sender="c1")


def test_12_4_2_path_leaf_must_change_the_encryption_key(suite: CipherSuite) -> None:
    h = group_of(suite, 8)
    own = _key_of(h, "c1")
    with committer_keys({0: lambda kp: KeyPair(kp.priv, own)}):
        staged = forge_commit(h, "c1")
    rejected_by_all(h, staged.message, CommitterError, sender="c1")


def test_7_3_path_leaf_encryption_key_must_be_unique(suite: CipherSuite) -> None:
    h = group_of(suite, 8)
    taken = _key_of(h, "c5")
    with committer_keys({0: lambda kp: KeyPair(kp.priv, taken)}):
        staged = forge_commit(h, "c1")
    rejected_by_all(h, staged.message, DuplicateEncryptionKeyError, sender="c1")


def test_12_4_2_path_node_key_must_not_be_in_the_tree(suite: CipherSuite) -> None:
    """§12.4.2: none of the UpdatePath's public keys appears in any node of the new tree (the
    lowest path node takes c5's leaf key; parent hashes and signature are computed over it)."""
    h = group_of(suite, 8)
    taken = _key_of(h, "c5")
    with committer_keys({1: lambda kp: KeyPair(kp.priv, taken)}):
        staged = forge_commit(h, "c1")
    rejected_by_all(h, staged.message, DuplicatePublicKeyError, sender="c1")


def test_12_4_2_external_commit_path_key_must_not_be_in_the_tree(suite: CipherSuite) -> None:
    """§12.4.2 for an external commit: its new leaf's own key is in the new tree (the joiner's
    leaf is added before the path is merged) and exempt, but no other key may be. The joiner's
    one path node (the root) takes c3's leaf key; every member refuses with its state unchanged."""
    h = group_of(suite, 4)
    taken = _key_of(h, "c3")
    with committer_keys({1: lambda kp: KeyPair(kp.priv, taken)}):
        staged = forge_external_commit(h, lambda ps: ps)
    pm = staged.message.body
    assert isinstance(pm, PublicMessage) and pm.content.commit is not None
    assert pm.content.commit.path is not None and pm.content.commit.path.nodes[-1].encryption_key == taken
    rejected_by_all(h, staged.message, DuplicatePublicKeyError)


def test_7_9_2_path_leaf_parent_hash_must_match(suite: CipherSuite) -> None:
    """§7.9.2: receivers recompute the committer's new leaf's parent_hash (signed, but wrong)."""
    h = group_of(suite, 8)
    change = _resigned_path_leaf(h, parent_hash=bytes(suite.info.hash_len))
    staged = _with_changed_path(h, change, [Remove(removed=leaf_of(h, "c8"))])
    rejected_by_all(h, staged.message, ParentHashMismatchError, sender="c1")


# ---- §12.4.2: when a path is required ---------------------------------------------------------


def _pathless(h: Harness, kind: str) -> list[Proposal]:
    if kind == "empty":
        return []
    if kind == "remove":
        return [Remove(removed=leaf_of(h, "c4"))]
    return [GroupContextExtensions(extensions=())]


@pytest.mark.parametrize("kind", ["empty", "remove", "group_context_extensions"])
def test_12_4_2_path_required(suite: CipherSuite, kind: str) -> None:
    """§12.4: the path MUST be populated for an empty commit or one with a path-required
    proposal (Remove, GroupContextExtensions; Update and ExternalInit likewise)."""
    h = group_of(suite, 4)
    staged = forge_commit(h, "c1", _pathless(h, kind), path=False)
    rejected_by_all(h, staged.message, MissingPathError, sender="c1")


def test_12_4_2_update_by_reference_requires_a_path(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    h.broadcast(h.members["c2"].propose_update(h.rand), "c2")
    ref = h.members["c1"].pending_proposals[0]
    cached = h.members["c1"]._st.proposals[ref]
    staged = forge_commit(h, "c1", [cached], path=False)
    rejected_by_all(h, staged.message, MissingPathError, sender="c1")


# ---- §12.4.2: the proposals, PSKs and confirmation tag --------------------------------------------


def test_12_4_2_commit_referencing_an_unknown_proposal_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    phantom = CommittedProposal(Remove(removed=leaf_of(h, "c3")), Sender.member(1), ref=b"\x07" * 32)
    staged = forge_commit(h, "c1", [phantom])
    rejected_by_all(h, staged.message, UnknownProposalError, sender="c1")


def test_12_4_2_committed_psks_must_be_available(suite: CipherSuite) -> None:
    """§12.4.2: verify that all PreSharedKey proposals are available (only c1 holds this one)."""
    h = group_of(suite, 4)
    psk = PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"c1 only", psk_nonce=bytes(suite.info.hash_len))
    c1 = h.members["c1"]
    c1.config = dataclasses.replace(c1.config, psk_lookup=lambda i: b"secret" if i == psk else None)
    staged = forge_commit(h, "c1", [PreSharedKey(psk=psk)])
    rejected_by_all(h, staged.message, MissingPSKError, sender="c1")


def _wrong_tag(tag: Callable[..., bytes]) -> Callable[..., bytes]:
    return lambda *args, **kwargs: bytes(b ^ 0xFF for b in tag(*args, **kwargs))


def test_12_4_2_confirmation_tag_must_verify(suite: CipherSuite) -> None:
    """§12.4.2: the confirmation tag (covered by the honest membership tag) is wrong."""
    h = group_of(suite, 8)
    with patched(commit_builder_module, "confirmation_tag", _wrong_tag):
        staged = forge_commit(h, "c1")
    rejected_by_all(h, staged.message, ConfirmationTagError, sender="c1")


def test_12_4_2_a_removed_member_cannot_check_the_confirmation_tag(suite: CipherSuite) -> None:
    """The member a commit removes gets no path secret, so it cannot derive the confirmation key:
    it sees itself removed while the others reject. (Not a defect: §12.4.2 gives it no key.)"""
    h = group_of(suite, 8)
    with patched(commit_builder_module, "confirmation_tag", _wrong_tag):
        staged = forge_commit(h, "c1", [Remove(removed=leaf_of(h, "c8"))])
    receivers = [f"c{i}" for i in range(2, 9)]
    got = verdicts(h, staged.message, receivers)
    assert got == {**dict.fromkeys(receivers[:-1], ConfirmationTagError), "c8": "removed"}, got
