"""Proposal lists of a Commit: validation (RFC 9420 §12.2) and application (§12.3).

Both the committer and every receiver run the same code on the same list, so a list
one side accepts the other accepts too. Application happens on a
:class:`~mlssim.mls.ratchet_tree.TreeEditor`, never on the shared tree, so a list that
fails halfway leaves no trace (§12.4.2: a rejected message changes no state).

Order of application (§12.3): GroupContextExtensions, then Updates, Removes, Adds (in
list order), then PSKs, ExternalInit and ReInit are noted for the key schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .codec import encode
from .crypto.suite import CipherSuite
from .errors import RemoteProtocolError
from .messages.common import Extension
from .messages.enums import ProposalType, PSKType, ResumptionPSKUsage, SenderType
from .messages.framing import Sender
from .messages.key_package import KeyPackage
from .messages.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from .messages.psk_id import PreSharedKeyID
from .ratchet_tree import RatchetTree, TreeEditor
from .treemath import LeafIndex

__all__ = [
    "InvalidProposalError",
    "InvalidProposalListError",
    "CommittedProposal",
    "AppliedProposals",
    "PATH_REQUIRED_TYPES",
    "EXTERNAL_SENDER_TYPES",
    "validate_proposal_list",
    "apply_proposals",
    "path_required",
]

#: §12.4: proposal types that make the UpdatePath mandatory.
PATH_REQUIRED_TYPES = frozenset(
    {
        ProposalType.UPDATE,
        ProposalType.REMOVE,
        ProposalType.EXTERNAL_INIT,
        ProposalType.GROUP_CONTEXT_EXTENSIONS,
    }
)

#: §12.1.8: proposal types an ``external`` sender may send.
EXTERNAL_SENDER_TYPES = frozenset(
    {
        ProposalType.ADD,
        ProposalType.REMOVE,
        ProposalType.PSK,
        ProposalType.REINIT,
        ProposalType.GROUP_CONTEXT_EXTENSIONS,
    }
)


class InvalidProposalError(RemoteProtocolError):
    """One proposal is invalid on its own (§12.1)."""

    rfc_section = "12.1"


class InvalidProposalListError(RemoteProtocolError):
    """The committed list breaks a §12.2 rule."""

    rfc_section = "12.2"


@dataclass(frozen=True, slots=True)
class CommittedProposal:
    """A proposal as committed: its content, who proposed it, and its ref if by reference."""

    proposal: Proposal
    sender: Sender
    ref: bytes | None = None


@dataclass(slots=True)
class AppliedProposals:
    """What applying a list produced; the editor holds the new tree (before any path)."""

    editor: TreeEditor
    extensions: tuple[Extension, ...]
    added: list[tuple[LeafIndex, KeyPackage]] = field(default_factory=list)
    removed: list[LeafIndex] = field(default_factory=list)
    updated: list[LeafIndex] = field(default_factory=list)
    psk_ids: list[PreSharedKeyID] = field(default_factory=list)
    external_init: ExternalInit | None = None
    reinit: ReInit | None = None


def path_required(proposals: Sequence[CommittedProposal]) -> bool:
    """§12.4: a path is needed for an empty list or any path-required type."""
    return not proposals or any(p.proposal.proposal_type in PATH_REQUIRED_TYPES for p in proposals)


def _signature_key_of_add(p: Add) -> bytes:
    return p.key_package.leaf_node.signature_key


def validate_proposal_list(
    suite: CipherSuite,
    tree: RatchetTree,
    proposals: Sequence[CommittedProposal],
    *,
    committer: LeafIndex | None,
    external: bool,
    version: int = 1,
    resumption_usage: ResumptionPSKUsage | None = None,
) -> None:
    """§12.2 rules on the whole list; ``committer`` is None for an external commit.

    Per-proposal content checks that need credentials and capabilities (KeyPackage and
    LeafNode validation, §10.1 and §7.3) are the caller's; structural rules are here.
    """
    _check_kinds(proposals, external)
    removed_keys = _check_each(
        suite, tree, proposals, committer=committer, version=version, resumption_usage=resumption_usage
    )
    _check_new_leaves(tree, proposals, removed_keys)


def _check_kinds(proposals: Sequence[CommittedProposal], external: bool) -> None:
    """§12.2 on the kinds of proposal in the list: what an external commit carries, and the
    proposals that must be alone or appear once."""
    types = [p.proposal.proposal_type for p in proposals]
    if external:
        if types.count(ProposalType.EXTERNAL_INIT) != 1:
            raise InvalidProposalListError("an external commit carries exactly one ExternalInit")
        if types.count(ProposalType.REMOVE) > 1:
            raise InvalidProposalListError("an external commit removes at most one leaf")
        allowed = {ProposalType.EXTERNAL_INIT, ProposalType.REMOVE, ProposalType.PSK}
        bad = [t.name for t in types if t not in allowed]
        if bad:
            raise InvalidProposalListError(f"an external commit may not carry {', '.join(bad)}")
        if any(p.ref is not None for p in proposals):
            raise InvalidProposalListError("an external commit may not include proposals by reference")
    elif ProposalType.EXTERNAL_INIT in types:
        raise InvalidProposalListError("ExternalInit outside an external commit")

    if ProposalType.REINIT in types and len(types) > 1:
        raise InvalidProposalListError("ReInit must be the only proposal of its commit")
    if types.count(ProposalType.GROUP_CONTEXT_EXTENSIONS) > 1:
        raise InvalidProposalListError("more than one GroupContextExtensions proposal")


def _check_each(
    suite: CipherSuite,
    tree: RatchetTree,
    proposals: Sequence[CommittedProposal],
    *,
    committer: LeafIndex | None,
    version: int,
    resumption_usage: ResumptionPSKUsage | None,
) -> set[bytes]:
    """§12.2 proposal by proposal, in list order: senders, one Update/Remove per leaf, removed
    leaves that exist, PSK ids, ReInit versions. Returns the signature keys of removed leaves."""
    touched: set[int] = set()
    removed_keys: set[bytes] = set()
    psk_ids: set[bytes] = set()
    for cp in proposals:
        p = cp.proposal
        if cp.sender.sender_type == SenderType.EXTERNAL and p.proposal_type not in EXTERNAL_SENDER_TYPES:
            raise InvalidProposalError(f"{p.proposal_type.name} may not come from an external sender")
        if isinstance(p, Update):
            if cp.sender.sender_type != SenderType.MEMBER:
                raise InvalidProposalError("an Update must come from a member")
            leaf = cp.sender.index
            if committer is not None and leaf == committer:
                raise InvalidProposalListError("the committer may not commit its own Update")
            if leaf in touched:
                raise InvalidProposalListError(f"several Update/Remove proposals for leaf {leaf}")
            touched.add(leaf)
        elif isinstance(p, Remove):
            if committer is not None and p.removed == committer:
                raise InvalidProposalListError("the committer may not remove itself")
            old = tree.leaf(LeafIndex(p.removed)) if p.removed < tree.n_leaves else None
            if old is None:
                raise InvalidProposalError(f"Remove of leaf {p.removed}, which is blank or outside the tree")
            if p.removed in touched:
                raise InvalidProposalListError(f"several Update/Remove proposals for leaf {p.removed}")
            touched.add(p.removed)
            removed_keys.add(old.signature_key)
        elif isinstance(p, PreSharedKey):
            psk = p.psk
            if len(psk.psk_nonce) != suite.info.hash_len:
                raise InvalidProposalError("psk_nonce must be KDF.Nh bytes (§12.1.4)")
            if (
                psk.psktype == PSKType.RESUMPTION
                and psk.usage in (ResumptionPSKUsage.REINIT, ResumptionPSKUsage.BRANCH)
                and psk.usage != resumption_usage
            ):
                raise InvalidProposalError(
                    "reinit and branch PSKs only appear in the first commit of a reinitialised or "
                    "branched group (§11.2, §11.3)"
                )
            key = encode(psk)
            if key in psk_ids:
                raise InvalidProposalListError("the same PreSharedKeyID is proposed twice")
            psk_ids.add(key)
        elif isinstance(p, ReInit) and p.version < version:
            raise InvalidProposalError("ReInit to an older protocol version (§12.1.5)")
    return removed_keys


def _check_new_leaves(
    tree: RatchetTree, proposals: Sequence[CommittedProposal], removed_keys: set[bytes]
) -> None:
    """§12.2 on the leaves the list brings in. Each (Adds, Updates) needs its own HPKE key
    (§7.3: encryption_key is unique in the group; each is checked against the tree by the
    caller, not each other). Adds: no duplicates among themselves, none of a client already
    in the group unless removed (the tree's signature-key index: O(1) per Add, not a scan)."""
    new_leaf_keys: set[bytes] = set()
    for cp in proposals:
        p = cp.proposal
        if isinstance(p, (Add, Update)):
            leaf_node = p.key_package.leaf_node if isinstance(p, Add) else p.leaf_node
            if leaf_node.encryption_key in new_leaf_keys:
                raise InvalidProposalListError("two proposals bring in leaves with the same encryption_key")
            new_leaf_keys.add(leaf_node.encryption_key)
    seen: set[bytes] = set()
    for cp in proposals:
        if isinstance(cp.proposal, Add):
            key = _signature_key_of_add(cp.proposal)
            if key in seen:
                raise InvalidProposalListError("two Adds for the same client (signature key)")
            seen.add(key)
            if key not in removed_keys and tree.find_signature_key(key) is not None:
                raise InvalidProposalListError("Add of a client already in the group")


def apply_proposals(
    tree: RatchetTree,
    extensions: tuple[Extension, ...],
    proposals: Sequence[CommittedProposal],
    *,
    on_update: Callable[[LeafIndex, Update], None] | None = None,
) -> AppliedProposals:
    """§12.3: apply a validated list to a fresh editor of ``tree``."""
    editor = tree.edit()
    out = AppliedProposals(editor=editor, extensions=extensions)
    for cp in proposals:
        if isinstance(cp.proposal, GroupContextExtensions):
            out.extensions = cp.proposal.extensions
    for cp in proposals:
        if isinstance(cp.proposal, Update):
            leaf = LeafIndex(cp.sender.index)
            if on_update is not None:
                on_update(leaf, cp.proposal)
            editor.update_leaf(leaf, cp.proposal.leaf_node)
            out.updated.append(leaf)
    for cp in proposals:
        if isinstance(cp.proposal, Remove):
            editor.remove_leaf(LeafIndex(cp.proposal.removed))
            out.removed.append(LeafIndex(cp.proposal.removed))
    for cp in proposals:
        if isinstance(cp.proposal, Add):
            leaf = editor.add_leaf(cp.proposal.key_package.leaf_node)
            out.added.append((leaf, cp.proposal.key_package))
    for cp in proposals:
        p = cp.proposal
        if isinstance(p, PreSharedKey):
            out.psk_ids.append(p.psk)
        elif isinstance(p, ExternalInit):
            out.external_init = p
        elif isinstance(p, ReInit):
            out.reinit = p
    return out
