"""Receiver MUSTs of RFC 9420 §12.4.3.1 (joining from a Welcome) and §12.4.3.2 (external
commits, as the group's members receive them), one authentic violation each (issue 25 b).

Welcome: c1 adds the client "new"; its GroupInfo, tree or GroupSecrets are changed by c1's own
code before c1 signs and seals them (``tests/malicious.py``), and the joiner must refuse.
External commit: the joiner builds its commit with its own code, its proposal list changed and
its list check bypassed; every member must refuse it with its state unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from mlssim.mls import commit_builder as commit_builder_module
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.extensions import ratchet_tree_extension
from mlssim.mls.group import CommitterError, Group, GroupConfig, StagedCommit
from mlssim.mls.group_join import OldGroupRequiredError
from mlssim.mls.group_state import GroupInfoTreeHashError
from mlssim.mls.keyschedule import ConfirmationTagError, JoinerStage
from mlssim.mls.leaf_nodes import LeafExtensionUnsupportedError
from mlssim.mls.messages import GroupInfo, MLSMessage, Welcome
from mlssim.mls.messages.common import Extension
from mlssim.mls.messages.enums import ExtensionType, PSKType, ResumptionPSKUsage, WireFormat
from mlssim.mls.messages.framing import PublicMessage
from mlssim.mls.messages.proposals import Add, ExternalInit, PreSharedKey, Remove
from mlssim.mls.messages.psk_id import PreSharedKeyID
from mlssim.mls.messages.tree import HPKECiphertext, LeafNode, ParentNode
from mlssim.mls.messages.welcome import PathSecret
from mlssim.mls.proposal_list import CommittedProposal, InvalidProposalError, InvalidProposalListError
from mlssim.mls.protect import InvalidSignatureError, sign_content
from mlssim.mls.psk import MissingPSKError
from mlssim.mls.ratchet_tree import RatchetTree
from mlssim.mls.tree_validation import (
    DuplicateKeyError,
    LeafSignatureError,
    ParentHashError,
    UnmergedLeavesError,
)
from mlssim.mls.treekem import WelcomePathError
from mlssim.mls.welcome import GroupInfoSignatureError, NoMatchingKeyPackageError, WelcomeError

from .group_harness import Client, Harness, fresh_key_package, make_client
from .malicious import (
    ON_SUITES,
    forge_commit,
    forge_external_commit,
    group_of,
    join_verdict,
    patched,
    rejected_by_all,
    resigned_leaf,
    signed_group_infos,
    welcome_for,
)

pytestmark = ON_SUITES


# ---- Welcome (§12.4.3.1) -------------------------------------------------------------------------


def _welcome(
    h: Harness, change: Callable[[GroupInfo], GroupInfo] | None = None, **commit: Any
) -> StagedCommit:
    """c1's commit adding "new", its GroupInfo changed by ``change`` before c1 signs it."""
    kp = h.client("new").bundle.key_package
    if change is None:
        return h.members["c1"].commit(h.rand, adds=[kp], **commit)
    with signed_group_infos(change):
        return h.members["c1"].commit(h.rand, adds=[kp], **commit)


def _refused(h: Harness, staged: StagedCommit, error: type[Exception], **kwargs: Any) -> None:
    got = join_verdict(h, h.client("new"), welcome_for(staged), **kwargs)
    assert got is error, got


def _context(**changes: Any) -> Callable[[GroupInfo], GroupInfo]:
    return lambda gi: dataclasses.replace(gi, group_context=dataclasses.replace(gi.group_context, **changes))


def _tree_changed(suite: CipherSuite, edit: Callable[[list[Any]], None]) -> Callable[[GroupInfo], GroupInfo]:
    """The GroupInfo's ratchet_tree extension with ``edit`` applied to its nodes, and the tree
    hash in its GroupContext made that of the changed tree (so only the tree's rule is broken)."""

    def change(gi: GroupInfo) -> GroupInfo:
        exts = list(gi.extensions)
        i = next((k for k, e in enumerate(exts) if e.extension_type == ExtensionType.RATCHET_TREE), None)
        if i is None:  # the commit's GroupInfo without the tree: not the Welcome's
            return gi
        from mlssim.mls.extensions import decode_ratchet_tree

        nodes = list(decode_ratchet_tree(exts[i].extension_data))
        edit(nodes)
        exts[i] = ratchet_tree_extension(nodes)
        tree_hash = RatchetTree.from_nodes(suite, nodes).tree_hash()
        ctx = dataclasses.replace(gi.group_context, tree_hash=tree_hash)
        return dataclasses.replace(gi, extensions=tuple(exts), group_context=ctx)

    return change


def test_12_4_3_1_welcome_without_an_entry_for_the_key_package(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    staged = _welcome(h)
    stranger = h.client("stranger")
    assert join_verdict(h, stranger, welcome_for(staged)) is NoMatchingKeyPackageError


def test_12_4_3_1_welcome_cipher_suite_must_match_the_key_package(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    staged = _welcome(h)
    welcome = dataclasses.replace(welcome_for(staged), cipher_suite=3)
    assert join_verdict(h, h.client("new"), welcome) is NoMatchingKeyPackageError


def test_12_4_3_1_group_secrets_must_decrypt(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    welcome = welcome_for(_welcome(h))
    entry = welcome.secrets[0]
    ct = entry.encrypted_group_secrets
    bad = HPKECiphertext(kem_output=ct.kem_output, ciphertext=bytes(b ^ 1 for b in ct.ciphertext))
    welcome = dataclasses.replace(welcome, secrets=(dataclasses.replace(entry, encrypted_group_secrets=bad),))
    assert join_verdict(h, h.client("new"), welcome) is WelcomeError


class _OtherJoinerSecret:
    """The committer encrypts the GroupInfo under another joiner secret's welcome key."""

    @staticmethod
    def start(suite: CipherSuite, *, joiner_secret: bytes, psk_secret: bytes) -> JoinerStage:
        return JoinerStage.start(suite, joiner_secret=bytes(len(joiner_secret)), psk_secret=psk_secret)


def test_12_4_3_1_group_info_must_decrypt_with_the_welcome_key(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    with patched(commit_builder_module, "JoinerStage", lambda _orig: _OtherJoinerSecret):
        staged = _welcome(h)
    _refused(h, staged, WelcomeError)


def test_12_4_3_1_psks_of_the_welcome_must_be_available(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    for g in h.members.values():
        g.config = dataclasses.replace(g.config, psk_lookup=lambda _id: b"members only")
    psk = PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"m", psk_nonce=bytes(suite.info.hash_len))
    _refused(h, _welcome(h, psks=[psk]), MissingPSKError, config=GroupConfig())


def test_12_4_3_1_a_reinit_or_branch_psk_must_be_the_only_psk(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    for g in h.members.values():
        g.config = dataclasses.replace(g.config, psk_lookup=lambda _id: b"known")
    n = bytes(suite.info.hash_len)
    branch = PreSharedKeyID(
        psktype=PSKType.RESUMPTION, usage=ResumptionPSKUsage.BRANCH, psk_group_id=b"old", psk_nonce=n
    )
    external = PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"e", psk_nonce=n)
    kp = h.client("new").bundle.key_package
    staged = forge_commit(
        h, "c1", [Add(key_package=kp), PreSharedKey(psk=branch), PreSharedKey(psk=external)]
    )
    _refused(h, staged, WelcomeError, config=GroupConfig(psk_lookup=lambda _id: b"known"))


def test_12_4_3_1_an_application_resumption_psk_may_come_with_others(suite: CipherSuite) -> None:
    """The only-PSK rule is for reinit and branch PSKs: a Welcome whose GroupSecrets hold an
    application resumption PSK and an external PSK is joined."""
    h = group_of(suite, 3)
    for g in h.members.values():
        g.config = dataclasses.replace(g.config, psk_lookup=lambda _id: b"known")
    n = bytes(suite.info.hash_len)
    application = PreSharedKeyID(
        psktype=PSKType.RESUMPTION, usage=ResumptionPSKUsage.APPLICATION, psk_group_id=b"old", psk_nonce=n
    )
    external = PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"e", psk_nonce=n)
    staged = _welcome(h, psks=[application, external])
    cfg = GroupConfig(psk_lookup=lambda _id: b"known")
    got = join_verdict(h, h.client("new"), welcome_for(staged), config=cfg)
    assert got == "joined", got


def test_12_4_3_1_a_branch_welcome_must_be_for_epoch_1(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    for g in h.members.values():
        g.config = dataclasses.replace(g.config, psk_lookup=lambda _id: b"known")
    branch = PreSharedKeyID(
        psktype=PSKType.RESUMPTION,
        usage=ResumptionPSKUsage.BRANCH,
        psk_group_id=b"old",
        psk_nonce=bytes(suite.info.hash_len),
    )
    kp = h.client("new").bundle.key_package
    staged = forge_commit(h, "c1", [Add(key_package=kp), PreSharedKey(psk=branch)])
    assert staged.epoch != 1
    _refused(h, staged, CommitterError, config=GroupConfig(psk_lookup=lambda _id: b"known"))


def test_12_4_3_1_group_info_signature_must_verify(suite: CipherSuite) -> None:
    """c1 signs, but names c2 as the signer."""
    h = group_of(suite, 3)
    signer = int(h.members["c2"].leaf_index)
    _refused(h, _welcome(h, lambda gi: dataclasses.replace(gi, signer=signer)), GroupInfoSignatureError)


def test_12_4_3_1_group_info_signer_must_be_a_member(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _refused(h, _welcome(h, lambda gi: dataclasses.replace(gi, signer=40)), CommitterError)


def test_12_4_3_1_group_cipher_suite_must_be_the_key_packages(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _refused(h, _welcome(h, _context(cipher_suite=3)), CommitterError)


def test_12_4_3_1_tree_hash_must_match_the_group_info(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _refused(h, _welcome(h, _context(tree_hash=bytes(suite.info.hash_len))), GroupInfoTreeHashError)


def _root(nodes: list[Any]) -> int:
    x = max(i for i, n in enumerate(nodes) if isinstance(n, ParentNode))
    return x


def test_7_9_2_joined_tree_parent_nodes_must_be_parent_hash_valid(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    fresh = suite.kem_generate_key_pair(h.rand).pub

    def edit(nodes: list[Any]) -> None:
        x = _root(nodes)
        nodes[x] = dataclasses.replace(nodes[x], encryption_key=fresh)

    _refused(h, _welcome(h, _tree_changed(suite, edit)), ParentHashError)


def test_12_4_3_1_joined_tree_leaf_signatures_must_verify(suite: CipherSuite) -> None:
    """c1's own leaf, whose signature no parent hash covers, with a broken signature."""
    h = group_of(suite, 3)

    def edit(nodes: list[Any]) -> None:
        leaf = nodes[0]
        assert isinstance(leaf, LeafNode)
        nodes[0] = dataclasses.replace(leaf, signature=leaf.signature[::-1])

    _refused(h, _welcome(h, _tree_changed(suite, edit)), LeafSignatureError)


def test_12_4_3_1_joined_tree_leaves_must_be_valid(suite: CipherSuite) -> None:
    """§7.3 on every leaf of the tree: c1 re-signs its own leaf with an unlisted extension."""
    h = group_of(suite, 3)
    c1 = h.members["c1"]

    def edit(nodes: list[Any]) -> None:
        ext = Extension(extension_type=0xF0F0, extension_data=b"x")
        nodes[0] = resigned_leaf(
            suite, nodes[0], c1.identity.signature_priv, group_id=c1.group_id, leaf_index=0, extensions=(ext,)
        )

    _refused(h, _welcome(h, _tree_changed(suite, edit)), LeafExtensionUnsupportedError)


def test_12_4_3_1_unmerged_leaves_must_be_below_their_node(suite: CipherSuite) -> None:
    h = group_of(suite, 3)

    def edit(nodes: list[Any]) -> None:
        nodes[1] = dataclasses.replace(nodes[1], unmerged_leaves=(2,))  # leaf 2 is not under node 1

    _refused(h, _welcome(h, _tree_changed(suite, edit)), UnmergedLeavesError)


def test_12_4_3_1_tree_encryption_keys_must_be_unique(suite: CipherSuite) -> None:
    h = group_of(suite, 3)

    def edit(nodes: list[Any]) -> None:
        nodes[1] = dataclasses.replace(nodes[1], encryption_key=nodes[2].encryption_key)

    _refused(h, _welcome(h, _tree_changed(suite, edit)), DuplicateKeyError)


def test_12_4_3_1_own_leaf_must_be_in_the_tree(suite: CipherSuite) -> None:
    """c1 adds another KeyPackage of "new" but seals the GroupSecrets to the one "new" holds."""
    h = group_of(suite, 3)
    held = h.client("new").bundle.key_package
    added = fresh_key_package(suite, h.client("new"), h.rand).bundle.key_package

    def to_held(seal: Callable[..., Any]) -> Callable[..., Any]:
        def sealed(suite: CipherSuite, *, recipients: Any, **kw: Any) -> Any:
            return seal(suite, recipients=[(held, gs) for _, gs in recipients], **kw)

        return sealed

    with patched(commit_builder_module, "seal_welcome", to_held):
        staged = h.members["c1"].commit(h.rand, adds=[added])
    _refused(h, staged, CommitterError)


def test_12_4_3_1_path_secret_must_give_the_trees_keys(suite: CipherSuite) -> None:
    h = group_of(suite, 3)

    def wrong_path_secret(seal: Callable[..., Any]) -> Callable[..., Any]:
        def sealed(suite: CipherSuite, *, recipients: Any, **kw: Any) -> Any:
            bad = PathSecret(path_secret=bytes(suite.info.hash_len))
            return seal(
                suite,
                recipients=[(kp, dataclasses.replace(gs, path_secret=bad)) for kp, gs in recipients],
                **kw,
            )

        return sealed

    with patched(commit_builder_module, "seal_welcome", wrong_path_secret):
        staged = _welcome(h)
    _refused(h, staged, WelcomePathError)


def test_12_4_3_1_group_info_confirmation_tag_must_verify(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    change = lambda gi: dataclasses.replace(gi, confirmation_tag=bytes(b ^ 1 for b in gi.confirmation_tag))  # noqa: E731
    _refused(h, _welcome(h, change), ConfirmationTagError)


# ---- external commits (§12.4.3.2), as the members receive them -------------------------------------


def _external(h: Harness, edit: Callable[[list[CommittedProposal]], list[CommittedProposal]]) -> StagedCommit:
    """ "ext" joins by external commit from c1's GroupInfo, its proposal list changed by ``edit``."""
    return forge_external_commit(h, edit)


def test_12_2_external_commit_needs_an_external_init(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    staged = _external(h, lambda ps: [p for p in ps if not isinstance(p.proposal, ExternalInit)])
    rejected_by_all(h, staged.message, InvalidProposalListError)


def test_12_2_external_commit_has_exactly_one_external_init(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    staged = _external(h, lambda ps: [*ps, ps[0]])
    rejected_by_all(h, staged.message, InvalidProposalListError)


def test_12_2_external_commit_removes_at_most_one_leaf(suite: CipherSuite) -> None:
    """Both removed members reach the verdict too."""
    h = group_of(suite, 4)
    s = ps_sender = None
    del s, ps_sender

    def two_removes(ps: list[CommittedProposal]) -> list[CommittedProposal]:
        return [*ps, *(CommittedProposal(Remove(removed=i), ps[0].sender) for i in (2, 3))]

    rejected_by_all(h, _external(h, two_removes).message, InvalidProposalListError)


def test_12_2_external_commit_may_not_add(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    kp = h.client("friend").bundle.key_package
    staged = _external(h, lambda ps: [*ps, CommittedProposal(Add(key_package=kp), ps[0].sender)])
    rejected_by_all(h, staged.message, InvalidProposalListError)


def test_12_4_3_2_external_commit_may_not_reference_proposals(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    msg = h.members["c2"].propose_remove(int(h.members["c4"].leaf_index), h.rand)
    h.broadcast(msg, "c2")
    cached = h.members["c1"]._st.proposals[h.members["c1"].pending_proposals[0]]
    rejected_by_all(h, _external(h, lambda ps: [*ps, cached]).message, InvalidProposalListError)


def test_12_1_3_external_commit_remove_of_a_blank_leaf_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    staged = _external(h, lambda ps: [*ps, CommittedProposal(Remove(removed=30), ps[0].sender)])
    rejected_by_all(h, staged.message, InvalidProposalError)


def _resigned_external(h: Harness, staged: StagedCommit, priv: bytes, **commit_changes: Any) -> MLSMessage:
    pm = staged.message.body
    assert isinstance(pm, PublicMessage)
    content = pm.content
    if commit_changes:
        assert content.commit is not None
        content = dataclasses.replace(content, commit=dataclasses.replace(content.commit, **commit_changes))
    ac = sign_content(
        h.suite,
        wire_format=WireFormat.PUBLIC_MESSAGE,
        content=content,
        signature_priv=priv,
        context=h.members["c1"].context,
        confirmation_tag=pm.auth.confirmation_tag,
    )
    return MLSMessage(body=PublicMessage(content=ac.content, auth=ac.auth))


def test_12_4_3_2_external_commit_must_be_signed_with_the_path_leafs_key(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    staged = _external(h, lambda ps: ps)
    other = suite.signature_key_pair(h.rand).priv
    rejected_by_all(h, _resigned_external(h, staged, other), InvalidSignatureError)


def test_12_4_3_2_external_commit_must_have_a_path(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    staged = _external(h, lambda ps: ps)
    msg = _resigned_external(h, staged, h.client("ext").identity.signature_priv, path=None)
    rejected_by_all(h, msg, CommitterError)


def test_12_4_3_2_members_must_use_the_external_init_secret(suite: CipherSuite) -> None:
    """The ExternalInit's kem_output is for another key than the group's external_pub: the
    joiner's init secret is not the one the members export, so the confirmation tag fails."""
    h = group_of(suite, 3)
    other = suite.kem_generate_key_pair(h.rand).pub
    from mlssim.mls.group_state import EXTERNAL_INIT_LABEL

    kem_output, _ = suite.hpke_export_sender(other, b"", EXTERNAL_INIT_LABEL, suite.info.hash_len, h.rand)

    def swapped(ps: list[CommittedProposal]) -> list[CommittedProposal]:
        return [
            CommittedProposal(ExternalInit(kem_output=kem_output), p.sender)
            if isinstance(p.proposal, ExternalInit)
            else p
            for p in ps
        ]

    rejected_by_all(h, _external(h, swapped).message, ConfirmationTagError)


def test_12_4_3_1_reinit_welcome_must_match_the_committed_reinit(suite: CipherSuite) -> None:
    """§12.4.3.1 / §11.2: c2 committed a ReInit to group "reborn"; c1 creates "elsewhere"
    with a reinit PSK of the old group, and c3 must refuse to join it as the reinitialised group."""
    from mlssim.mls.messages.proposals import ReInit

    from .group_harness import fresh_key_package as fresh

    h = group_of(suite, 3)
    reinit = ReInit(group_id=b"reborn", cipher_suite=suite.suite_id)
    h.deliver(h.members["c2"].commit(h.rand, reinit=reinit), "c2")
    c3 = fresh(suite, h.client("c3"), h.rand)
    _, staged = h.members["c1"]._resumed_group(
        h.rand,
        usage=ResumptionPSKUsage.REINIT,
        suite=suite,
        group_id=b"elsewhere",
        extensions=(),
        key_packages=[c3.bundle.key_package],
        config=None,
    )
    got = join_verdict(h, c3, welcome_for(staged), resumed_from=h.members["c3"])
    assert got is CommitterError, got


def _branch_to_suite_3(h: Harness, suite: CipherSuite) -> tuple[CipherSuite, Client, Welcome]:
    """c1 branches the group (cipher suite 1) into one of cipher suite 3, as ``Group.branch``
    does but with another suite (c1 and c3 hold keys and KeyPackages of suite 3). Returns the
    new suite, c3's new client and the Welcome."""
    other = get_suite(3, suite.family)
    c1, c3 = (make_client(other, name, h.rand) for name in ("c1", "c3"))
    old = h.members["c1"]
    new = Group.create(
        other,
        group_id=b"branch",
        identity=c1.identity,
        rand=h.rand,
        config=GroupConfig(psk_lookup=old.lookup_psk),
        encryption_priv=c1.bundle.encryption_priv,
        leaf_node=c1.bundle.key_package.leaf_node,
    )
    psk = PreSharedKeyID(
        psktype=PSKType.RESUMPTION,
        usage=ResumptionPSKUsage.BRANCH,
        psk_group_id=old.group_id,
        psk_epoch=old.epoch,
        psk_nonce=h.rand.random_bytes(other.info.hash_len),
    )
    staged = new.commit(h.rand, adds=[c3.bundle.key_package], resumption_psk=psk)
    return other, c3, welcome_for(staged)


def _join_as(suite: CipherSuite, c: Client, welcome: Welcome, **kwargs: Any) -> Group:
    return Group.join(
        suite,
        welcome,
        key_package=c.bundle.key_package,
        init_priv=c.bundle.init_priv,
        encryption_priv=c.bundle.encryption_priv,
        identity=c.identity,
        **kwargs,
    )


def test_11_3_branch_welcome_must_keep_the_old_groups_cipher_suite(suite: CipherSuite) -> None:
    """§11.3 / §12.4.3.1: c3 must refuse to join a branch of its group (suite 1) into suite 3.
    (The version is the other half of the rule: mls10 is the only version, another does not
    decode.)"""
    h = group_of(suite, 3)
    other, c3, welcome = _branch_to_suite_3(h, suite)
    with pytest.raises(CommitterError, match="cipher suite"):
        _join_as(other, c3, welcome, resumed_from=h.members["c3"])


def test_11_3_branch_welcome_is_not_joined_without_the_old_group(suite: CipherSuite) -> None:
    """§11.3 / §11.2: the rules need the old group. A client that holds the resumption PSK
    (here through its PSK lookup) but does not name its old group cannot check them, and must
    not join."""
    h = group_of(suite, 3)
    other, c3, welcome = _branch_to_suite_3(h, suite)
    cfg = GroupConfig(psk_lookup=h.members["c3"].lookup_psk)
    with pytest.raises(OldGroupRequiredError):
        _join_as(other, c3, welcome, config=cfg)


def test_11_3_branch_welcome_must_reference_the_old_group_given(suite: CipherSuite) -> None:
    """The old group the client names is the one the branch PSK references: c3 names another
    group of its own (of suite 3, so the suite check alone would pass)."""
    h = group_of(suite, 3)
    other, c3, welcome = _branch_to_suite_3(h, suite)
    elsewhere = Harness(other, seed=11)
    elsewhere.group_id = b"elsewhere"
    elsewhere.create("c3")
    cfg = GroupConfig(psk_lookup=h.members["c3"].lookup_psk)
    with pytest.raises(OldGroupRequiredError):
        _join_as(other, c3, welcome, config=cfg, resumed_from=elsewhere.members["c3"])
