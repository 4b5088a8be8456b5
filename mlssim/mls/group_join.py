"""A member's first state in a group (RFC 9420 §11, §12.4.3): creating the group, joining
from a Welcome, or joining by an external commit.

Each returns plain :class:`~mlssim.mls.group_state.MemberState` values; ``Group.create``,
``Group.join`` and ``Group.external_join`` wrap them.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Protocol

from .codec import decode
from .commit_builder import Committer, build_commit
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .extensions import find_extension
from .group_state import (
    EXTERNAL_INIT_LABEL,
    CommitterError,
    DuplicateGroupIdError,
    GroupConfig,
    GroupInfoTreeHashError,
    MemberIdentity,
    MemberState,
    PublicEpoch,
    StagedCommit,
    fresh_leaf,
    new_secret_tree,
    tree_from_group_info,
)
from .group_validation import (
    validate_joined_leaves,
)
from .keyschedule import EpochSecrets, confirmation_tag, verify_confirmation_tag
from .messages.common import Extension, GroupContext
from .messages.enums import (
    ExtensionType,
    PSKType,
    ResumptionPSKUsage,
    WireFormat,
)
from .messages.framing import (
    AuthenticatedContent,
    MLSMessage,
    Sender,
)
from .messages.key_package import KeyPackage
from .messages.proposals import (
    ExternalInit,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
)
from .messages.psk_id import PreSharedKeyID
from .messages.tree import LeafNode
from .messages.welcome import ExternalPub, GroupInfo, Welcome
from .proposal_list import (
    CommittedProposal,
)
from .protect import (
    protect_public,
)
from .psk import chained_lookup
from .rand import RandomSource
from .ratchet_tree import RatchetTree
from .sharing import tables_of
from .transcript import interim_transcript_hash
from .tree_validation import validate_tree
from .treekem import PathKeys, path_keys_from_welcome
from .treemath import LeafIndex
from .welcome import open_welcome, verify_group_info

__all__ = [
    "OldGroupRequiredError",
    "ResumedGroup",
    "new_group_state",
    "join_state",
    "external_join_states",
    "verified_join_tree",
    "joined_state",
]


class OldGroupRequiredError(LocalProtocolError):
    """A Welcome with a ``reinit`` or ``branch`` resumption PSK, joined without naming the old
    group it references (``resumed_from``): the §11.2/§11.3 conditions on the new group, which
    a joiner MUST check (§12.4.3.1), cannot be checked, so the client does not join."""

    rfc_section = "12.4.3.1"


class ResumedGroup(Protocol):
    """The old group of a reinitialised or branched one, as a joiner sees it."""

    @property
    def context(self) -> GroupContext: ...

    @property
    def committed_reinit(self) -> ReInit | None: ...

    def lookup_psk(self, psk_id: PreSharedKeyID) -> bytes | None: ...


def new_group_state(
    suite: CipherSuite,
    *,
    group_id: bytes,
    identity: MemberIdentity,
    rand: RandomSource,
    extensions: tuple[Extension, ...],
    config: GroupConfig,
    encryption_priv: bytes | None,
    leaf_node: LeafNode | None,
) -> MemberState:
    """§11: the creator's state in a one-member group at epoch 0 with a random init secret, its
    confirmation tag over the empty confirmed transcript hash and the interim transcript hash
    that follows. A fresh leaf is signed unless ``leaf_node`` and ``encryption_priv`` are given."""
    if leaf_node is None or encryption_priv is None:
        kp, leaf_node = fresh_leaf(suite, identity, rand)
        encryption_priv = kp.priv
    tree = RatchetTree.from_nodes(suite, [leaf_node])
    ctx = GroupContext(
        cipher_suite=suite.suite_id,
        group_id=group_id,
        epoch=0,
        tree_hash=tree.tree_hash(),
        confirmed_transcript_hash=b"",
        extensions=extensions,
    )
    secrets = EpochSecrets.for_new_group(
        suite, init_secret=rand.random_bytes(suite.info.hash_len), group_context=ctx
    )
    # §11: a confirmation tag over the empty confirmed transcript hash, and the interim
    # transcript hash from it (§8.2), so that epoch 0's GroupInfo can be joined externally
    tag = confirmation_tag(suite, secrets.confirmation_key, b"")
    st = MemberState(
        public=PublicEpoch.make(ctx, tree, interim_transcript_hash(suite, b"", tag), tag),
        leaf=LeafIndex(0),
        identity=identity,
        path_keys=PathKeys.for_leaf(LeafIndex(0), encryption_priv),
        secrets=secrets,
        secret_tree=new_secret_tree(suite, secrets.encryption_secret, tree.n_leaves, config),
    )
    st.resumption_psks[0] = secrets.resumption_psk
    return st


def _check_joined_tree(
    suite: CipherSuite, cfg: GroupConfig, tree: RatchetTree, ctx: GroupContext, now: int | None
) -> None:
    """§12.4.3.1: the tree's structure, parent hashes and leaf signatures, then every leaf's
    content (§7.3) without verifying the signatures a second time."""
    validate_tree(tree, ctx.group_id)
    validate_joined_leaves(
        suite,
        cfg.leaf_policy,
        tree,
        group_id=ctx.group_id,
        extensions=ctx.extensions,
        now=now,
        signatures_verified=True,
    )


def join_state(
    suite: CipherSuite,
    welcome: Welcome,
    *,
    key_package: KeyPackage,
    init_priv: bytes,
    encryption_priv: bytes,
    identity: MemberIdentity,
    ratchet_tree: RatchetTree | None = None,
    config: GroupConfig | None = None,
    now: int | None = None,
    resumed_from: ResumedGroup | None = None,
    current_group_ids: Container[bytes] = (),
) -> MemberState:
    """§12.4.3.1: join from a Welcome; the tree comes from its extension or out of band.

    ``current_group_ids``: the ``group_id`` of every group the client participates in (the
    core holds one group, the client all of them), which the new one must not repeat.

    For a reinitialised or branched group, ``resumed_from`` is this client's old group:
    its resumption PSK is looked up there, and the §11.2/§11.3 conditions are checked."""
    cfg = config or GroupConfig()
    opened = open_welcome(
        suite,
        welcome,
        key_package=key_package,
        init_priv=init_priv,
        psk_lookup=chained_lookup(
            resumed_from.lookup_psk if resumed_from is not None else None, cfg.psk_lookup
        ),
        shared=cfg.epoch_cache,
    )
    gi = opened.group_info
    ctx = gi.group_context
    if ctx.group_id in current_group_ids:
        raise DuplicateGroupIdError(f"already participating in a group with group_id {ctx.group_id!r}")
    tree, my_leaf = verified_join_tree(suite, cfg, gi, ratchet_tree, key_package, now)
    path_secret = opened.group_secrets.path_secret
    path_keys = path_keys_from_welcome(
        suite,
        tree,
        my_leaf,
        encryption_priv,
        LeafIndex(gi.signer),
        path_secret.path_secret if path_secret is not None else None,
    )
    secrets = opened.joiner.epoch_secrets(ctx)
    verify_confirmation_tag(
        suite, secrets.confirmation_key, ctx.confirmed_transcript_hash, gi.confirmation_tag
    )
    special = [
        p
        for p in opened.group_secrets.psks
        if p.psktype == PSKType.RESUMPTION
        and p.usage in (ResumptionPSKUsage.REINIT, ResumptionPSKUsage.BRANCH)
    ]
    if special and ctx.epoch != 1:
        raise CommitterError("a reinit or branch Welcome must be for epoch 1 (§12.4.3.1)")
    if special:
        # §12.4.3.1: the new group is checked against the referenced old group, which only
        # the client can name (it holds the PSK even when it came through cfg.psk_lookup)
        if resumed_from is None:
            raise OldGroupRequiredError(
                f"a {special[0].usage.name.lower()} Welcome is joined only with its old group (resumed_from)"
            )
        old_ctx = resumed_from.context
        if special[0].psk_group_id != old_ctx.group_id:
            raise OldGroupRequiredError("resumed_from is not the group the Welcome's PSK references")
        if special[0].usage == ResumptionPSKUsage.REINIT:
            ri = resumed_from.committed_reinit
            if ri is None or (ri.group_id, ri.cipher_suite, ri.extensions) != (
                ctx.group_id,
                ctx.cipher_suite,
                ctx.extensions,
            ):
                raise CommitterError("the new group does not match the committed ReInit (§11.2)")
        elif ctx.cipher_suite != old_ctx.cipher_suite:
            raise CommitterError("a branched group keeps the old group's cipher suite (§11.3)")
    return joined_state(suite, cfg, gi, tree, my_leaf, identity, path_keys, secrets)


def verified_join_tree(
    suite: CipherSuite,
    cfg: GroupConfig,
    gi: GroupInfo,
    supplied: RatchetTree | None,
    key_package: KeyPackage,
    now: int | None,
) -> tuple[RatchetTree, LeafIndex]:
    """§12.4.3.1 checks every joiner runs on a GroupInfo and its tree, however it got them:
    the tree's leaves (§7.3), its hash against the GroupInfo, the GroupInfo signature, and
    the joiner's own leaf in it. Returns the tree and that leaf."""
    ctx = gi.group_context
    if ctx.cipher_suite != key_package.cipher_suite:
        raise CommitterError("GroupInfo cipher suite differs from the KeyPackage's")
    # the public checks: a byte-identical GroupInfo and tree get the same verdict for every
    # joiner, so simulated joiners of one Welcome share it (by the objects checked, each held
    # with the verdict so that their ids stay unique); a tree that fails is never kept, so every
    # joiner of a bad Welcome fails
    policy = cfg.leaf_policy
    tree = tables_of(cfg.epoch_cache).joined_trees.get_or_compute(
        (id(gi), id(supplied) if supplied is not None else 0, now, id(policy)),
        lambda: (gi, supplied, policy, _checked_group_info_tree(suite, cfg, gi, supplied, now)),
    )[3]
    my_leaf = _own_leaf(tree, key_package)
    if my_leaf is None:
        raise CommitterError("this KeyPackage's leaf is not in the tree (§12.4.3.1)")
    return tree, my_leaf


def _checked_group_info_tree(
    suite: CipherSuite, cfg: GroupConfig, gi: GroupInfo, supplied: RatchetTree | None, now: int | None
) -> RatchetTree:
    """The tree of ``gi`` (from its extension unless ``supplied``), after the checks of
    §12.4.3.1 that need no private key: its leaves and structure, its hash against the
    GroupInfo's, and the GroupInfo's signature by its signer's leaf."""
    ctx = gi.group_context
    tree = tree_from_group_info(suite, gi, supplied)
    _check_joined_tree(suite, cfg, tree, ctx, now)
    if tree.tree_hash() != ctx.tree_hash:
        raise GroupInfoTreeHashError("ratchet tree does not match the GroupInfo tree hash")
    signer = tree.leaf(LeafIndex(gi.signer)) if gi.signer < tree.n_leaves else None
    if signer is None:
        raise CommitterError("GroupInfo signer leaf is blank")
    verify_group_info(suite, gi, signer.signature_key)
    return tree


def _own_leaf(tree: RatchetTree, key_package: KeyPackage) -> LeafIndex | None:
    """The leaf holding this KeyPackage's LeafNode, found by its encryption key (unique in a
    valid tree, §7.3) rather than by comparing every leaf."""
    x = tree.find_encryption_key(key_package.leaf_node.encryption_key)
    if x is None or x % 2 == 1:
        return None
    i = LeafIndex(x // 2)
    return i if tree.leaf(i) == key_package.leaf_node else None


def joined_state(
    suite: CipherSuite,
    cfg: GroupConfig,
    gi: GroupInfo,
    tree: RatchetTree,
    my_leaf: LeafIndex,
    identity: MemberIdentity,
    path_keys: PathKeys,
    secrets: EpochSecrets,
) -> MemberState:
    """A new member's state once its secrets and tree are verified (confirmation tag checked)."""
    ctx = gi.group_context
    public = PublicEpoch.make(
        ctx,
        tree,
        interim_transcript_hash(suite, ctx.confirmed_transcript_hash, gi.confirmation_tag),
        gi.confirmation_tag,
    )
    st = MemberState(
        public=public,
        leaf=my_leaf,
        identity=identity,
        path_keys=path_keys,
        secrets=secrets,
        secret_tree=new_secret_tree(suite, secrets.encryption_secret, tree.n_leaves, cfg),
    )
    st.resumption_psks[ctx.epoch] = secrets.resumption_psk
    return st


def external_join_states(
    suite: CipherSuite,
    group_info: GroupInfo,
    *,
    identity: MemberIdentity,
    rand: RandomSource,
    ratchet_tree: RatchetTree | None = None,
    resync_remove: int | None = None,
    psks: Sequence[PreSharedKeyID] = (),
    config: GroupConfig | None = None,
    authenticated_data: bytes = b"",
) -> tuple[MemberState, StagedCommit]:
    """§12.4.3.2: join by external commit. Returns the joiner's pre-join state (the old
    public epoch) and the staged commit whose merge makes it a member."""
    cfg = config or GroupConfig()
    ctx = group_info.group_context
    # §12.4.3.2 refers to §12.4.3.1's validation: the same checks as a Welcome joiner's
    tree = _checked_group_info_tree(suite, cfg, group_info, ratchet_tree, None)
    ext_pub_data = find_extension(group_info.extensions, ExtensionType.EXTERNAL_PUB)  # §13: no type twice
    if ext_pub_data is None:
        raise LocalProtocolError("GroupInfo has no external_pub extension: external join impossible")
    external_pub = decode(ExternalPub, ext_pub_data).external_pub
    kem_output, init_secret = suite.hpke_export_sender(
        external_pub, b"", EXTERNAL_INIT_LABEL, suite.info.hash_len, rand
    )
    proposals: list[Proposal] = [ExternalInit(kem_output=kem_output)]
    if resync_remove is not None:
        proposals.append(Remove(removed=resync_remove))
    proposals += [PreSharedKey(psk=p) for p in psks]
    joiner = Sender.new_member_commit()
    old = PublicEpoch.make(
        ctx,
        tree,
        interim_transcript_hash(suite, ctx.confirmed_transcript_hash, group_info.confirmation_tag),
        group_info.confirmation_tag,
    )

    def protect(ac: AuthenticatedContent) -> MLSMessage:
        return MLSMessage(body=protect_public(suite, ac, context=ctx, membership_key=None))

    committer = Committer(
        identity=identity,
        leaf=None,
        path_keys=None,
        init_secret=init_secret,
        resumption_psks={},
        psk_lookup=cfg.psk_lookup or (lambda _id: None),
        wire_format=WireFormat.PUBLIC_MESSAGE,
        protect=protect,
    )
    staged = build_commit(
        suite,
        cfg,
        old,
        committer,
        [CommittedProposal(p, joiner) for p in proposals],
        with_path=True,
        rand=rand,
        authenticated_data=authenticated_data,
    )
    # the pre-join handle: the old public epoch, no secrets of its own yet
    pre = MemberState(
        public=old,
        leaf=staged.committer,
        identity=identity,
        path_keys=staged.path_keys,
        secrets=staged.secrets,
        secret_tree=staged._state.secret_tree,
        active=True,
    )
    return pre, staged
