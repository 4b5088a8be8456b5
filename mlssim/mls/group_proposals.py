"""One member's proposals in one epoch (RFC 9420 §12.1–§12.2, §12.4).

What ``Group`` does with proposals, as functions of its state: the check a proposer and its
receivers run on a single proposal, receiving and caching one by its ProposalRef, choosing the
proposals a commit carries (by value, and cached ones by reference, §12.4: SHOULD include all
valid ones), and resolving the list of a received commit against the cache. The cache itself
is ``MemberState.proposals``, dropped at the next epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

from .codec import encode
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .group_state import (
    CommitterError,
    MemberState,
    ProposalReceived,
    PublicEpoch,
    UnknownProposalError,
)
from .group_validation import LeafPolicy, validate_added_key_package, validate_member_leaf
from .messages.common import Extension
from .messages.enums import LeafNodeSource, SenderType
from .messages.framing import AuthenticatedContent, Sender
from .messages.key_package import KeyPackage
from .messages.proposals import (
    Add,
    Commit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from .messages.psk_id import PreSharedKeyID
from .proposal_list import EXTERNAL_SENDER_TYPES, CommittedProposal, InvalidProposalError
from .treemath import LeafIndex

__all__ = [
    "validate_proposal",
    "receive_proposal",
    "proposals_to_commit",
    "resolve_committed",
]


def validate_proposal(
    suite: CipherSuite,
    policy: LeafPolicy,
    public: PublicEpoch,
    proposal: Proposal,
    sender: Sender,
    now: int | None,
) -> None:
    """What a receiver checks of a proposal before caching it, and a proposer before
    sending it (§12.1): an Update's leaf (§7.3), an Add's KeyPackage (§10.1) and a
    Remove's leaf (non-blank, §12.1.3) against this epoch's tree; the rest waits for the
    commit's list (§12.2). The tree is fixed within an epoch, so a cached proposal stays
    valid on its own until the epoch ends."""
    group_id = public.context.group_id
    if isinstance(proposal, Update):
        validate_member_leaf(
            suite,
            policy,
            proposal.leaf_node,
            source=LeafNodeSource.UPDATE,
            leaf_index=LeafIndex(sender.index),
            replaced=public.tree.leaf(LeafIndex(sender.index)),
            index=public.key_index,
            group_id=group_id,
            extensions=public.context.extensions,
            now=now,
        )
    elif isinstance(proposal, Add):
        validate_added_key_package(
            suite,
            policy,
            proposal.key_package,
            index=public.key_index,
            group_id=group_id,
            extensions=public.context.extensions,
            now=now,
        )
    elif isinstance(proposal, Remove):
        tree = public.tree
        if proposal.removed >= tree.n_leaves or tree.leaf(LeafIndex(proposal.removed)) is None:
            raise InvalidProposalError(
                f"Remove of leaf {proposal.removed}, which is blank or outside the tree"
            )


def receive_proposal(
    suite: CipherSuite,
    policy: LeafPolicy,
    st: MemberState,
    ac: AuthenticatedContent,
    proposal: Proposal,
    now: int | None,
) -> ProposalReceived:
    """§12.1: verify a proposal and cache it in ``st`` by its ref."""
    sender = ac.content.sender
    if sender.sender_type == SenderType.EXTERNAL and proposal.proposal_type not in EXTERNAL_SENDER_TYPES:
        raise CommitterError(f"{proposal.proposal_type.name} may not come from an external sender")
    validate_proposal(suite, policy, st.public, proposal, sender, now)
    ref = suite.proposal_ref(ac.encoded())
    st.proposals[ref] = CommittedProposal(proposal, sender, ref)
    return ProposalReceived(ref=ref, proposal=proposal, sender=sender)


def proposals_to_commit(
    st: MemberState,
    *,
    adds: Sequence[KeyPackage],
    removes: Sequence[int],
    psks: Sequence[PreSharedKeyID],
    extensions: tuple[Extension, ...] | None,
    reinit: ReInit | None,
    include_cached: bool,
    references: Sequence[bytes] | None,
) -> list[CommittedProposal]:
    """§12.4.1: the list of a commit by this member: the given proposals by value, then
    ``references`` from the cache, or (``include_cached``) the cached ones it may include."""
    by_value: list[Proposal] = [Add(key_package=kp) for kp in adds]
    by_value += [Remove(removed=r) for r in removes]
    by_value += [PreSharedKey(psk=p) for p in psks]
    if extensions is not None:
        by_value.append(GroupContextExtensions(extensions=extensions))
    if reinit is not None:
        by_value.append(reinit)
    if references is not None:
        try:
            cached = [st.proposals[r] for r in references]
        except KeyError as exc:
            raise LocalProtocolError("commit names a proposal reference not in the cache") from exc
    else:
        cached = _default_references(st, by_value) if include_cached else []
    me = Sender.member(st.leaf)
    return [CommittedProposal(p, me) for p in by_value] + cached


def _default_references(st: MemberState, by_value: Sequence[Proposal] = ()) -> list[CommittedProposal]:
    """Cached proposals a committer may include (§12.4: SHOULD include all valid ones),
    chosen so that together with ``by_value`` they form a valid list (§12.2).

    Own Updates and Removes of this member cannot be committed by it; of several
    Updates/Removes for one leaf a Remove wins, else the latest Update; a leaf that a
    Remove given by value removes takes no cached Update/Remove. Of several Adds of one
    client (signature key) the first received is chosen, and none if the caller adds
    that client by value; a PreSharedKey or GroupContextExtensions proposal given by
    value, or cached earlier, makes an equal cached one redundant.
    """
    me = st.leaf
    removed_by_value = {p.removed for p in by_value if isinstance(p, Remove)}
    added = {p.key_package.leaf_node.signature_key for p in by_value if isinstance(p, Add)}
    psks = {encode(p.psk) for p in by_value if isinstance(p, PreSharedKey)}
    extensions = any(isinstance(p, GroupContextExtensions) for p in by_value)
    chosen: dict[int, CommittedProposal] = {}
    rest: list[CommittedProposal] = []
    for cp in st.proposals.values():
        p = cp.proposal
        if isinstance(p, Update):
            if cp.sender.index == me or cp.sender.index in removed_by_value:
                continue
            prev = chosen.get(cp.sender.index)
            if prev is None or not isinstance(prev.proposal, Remove):
                chosen[cp.sender.index] = cp
        elif isinstance(p, Remove):
            if p.removed == me or p.removed in removed_by_value:
                continue
            chosen[p.removed] = cp
        elif isinstance(p, Add):
            key = p.key_package.leaf_node.signature_key
            if key in added:
                continue
            added.add(key)
            rest.append(cp)
        elif isinstance(p, PreSharedKey):
            psk = encode(p.psk)
            if psk in psks:
                continue
            psks.add(psk)
            rest.append(cp)
        elif isinstance(p, GroupContextExtensions):
            if extensions:
                continue
            extensions = True
            rest.append(cp)
        else:
            rest.append(cp)
    return [*chosen.values(), *rest]


def resolve_committed(st: MemberState, commit: Commit, sender: Sender) -> list[CommittedProposal]:
    """The proposals a received commit applies: inline ones from the committer, referenced
    ones from this member's cache (§12.4.2)."""
    committed: list[CommittedProposal] = []
    for por in commit.proposals:
        if por.proposal is not None:
            committed.append(CommittedProposal(por.proposal, sender))
        else:
            assert por.reference is not None
            cp = st.proposals.get(por.reference)
            if cp is None:
                raise UnknownProposalError("commit references a proposal this member does not hold")
            committed.append(cp)
    return committed
