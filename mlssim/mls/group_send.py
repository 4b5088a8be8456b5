"""What one member sends in its current epoch (RFC 9420 §6, §12.1, §12.4.1, §15).

The sending half of ``Group``, as functions of the member's state: framing and signing its
content, protecting it as a PublicMessage or a PrivateMessage (the latter moves the member's
own ratchet), application messages, proposals (checked first as their receivers will check
them, then cached by their ProposalRef like a received one), and the :class:`Committer` that
``commit_builder`` builds this member's commits with.
"""

from __future__ import annotations

from collections.abc import Callable

from .commit_builder import Committer
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError, RemoteProtocolError
from .group_proposals import validate_proposal
from .group_state import GroupConfig, MemberIdentity, MemberState, RejectedProposalError, make_group_info
from .messages.enums import ContentType, PSKType, ResumptionPSKUsage, WireFormat
from .messages.framing import (
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from .messages.proposals import Proposal
from .messages.psk_id import PreSharedKeyID
from .proposal_list import CommittedProposal
from .protect import protect_private, protect_public, sign_content
from .rand import RandomSource

__all__ = [
    "protect",
    "application_message",
    "proposal_message",
    "member_committer",
    "group_info_message",
    "resumption_psk_id",
]


def _framed(
    st: MemberState, content_type: ContentType, authenticated_data: bytes, **body: object
) -> FramedContent:
    return FramedContent(
        group_id=st.public.context.group_id,
        epoch=st.public.context.epoch,
        sender=Sender.member(st.leaf),
        authenticated_data=authenticated_data,
        content_type=content_type,
        **body,  # type: ignore[arg-type]
    )


def protect(
    suite: CipherSuite, cfg: GroupConfig, st: MemberState, ac: AuthenticatedContent, rand: RandomSource
) -> MLSMessage:
    """§6.2–§6.3: ``ac`` as the wire format it was signed for; a PrivateMessage takes the next
    key of this member's ratchet."""
    if ac.wire_format == WireFormat.PUBLIC_MESSAGE:
        msg: PublicMessage | PrivateMessage = protect_public(
            suite, ac, context=st.public.context, membership_key=st.secrets.membership_key
        )
    else:
        msg = protect_private(
            suite,
            ac,
            secret_tree=st.secret_tree,
            sender_data_secret=st.secrets.sender_data_secret,
            rand=rand,
            padding=cfg.padding,
        )
    return MLSMessage(body=msg)


def application_message(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    data: bytes,
    rand: RandomSource,
    authenticated_data: bytes,
) -> MLSMessage:
    """§15: application data as a PrivateMessage under this member's application ratchet."""
    if st.proposals:
        # §12.4: a member that saw proposals must commit before sending application data.
        raise LocalProtocolError("pending proposals must be committed before application data")
    content = _framed(st, ContentType.APPLICATION, authenticated_data, application_data=data)
    ac = sign_content(
        suite,
        wire_format=WireFormat.PRIVATE_MESSAGE,
        content=content,
        signature_priv=st.identity.signature_priv,
        context=st.public.context,
    )
    return protect(suite, cfg, st, ac, rand)


def proposal_message(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    proposal: Proposal,
    rand: RandomSource,
    authenticated_data: bytes,
    now: int | None,
) -> tuple[MLSMessage, bytes]:
    """§12.1: sign, protect and cache one proposal of this member; returns the message and
    the ProposalRef. It is first checked as its receivers check it
    (:func:`~mlssim.mls.group_proposals.validate_proposal`); one they would reject raises
    :class:`RejectedProposalError` before anything is signed, sent or cached."""
    me = Sender.member(st.leaf)
    try:
        validate_proposal(suite, cfg.leaf_policy, st.public, proposal, me, now)
    except RemoteProtocolError as exc:
        raise RejectedProposalError(f"receivers would reject this proposal: {exc}") from exc
    content = _framed(st, ContentType.PROPOSAL, authenticated_data, proposal=proposal)
    ac = sign_content(
        suite,
        wire_format=cfg.handshake_wire_format,
        content=content,
        signature_priv=st.identity.signature_priv,
        context=st.public.context,
    )
    ref = suite.proposal_ref(ac.encoded())
    msg = protect(suite, cfg, st, ac, rand)
    st.proposals[ref] = CommittedProposal(proposal, content.sender, ref)
    return msg, ref


def member_committer(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    psk_lookup: Callable[[PreSharedKeyID], bytes | None],
    rand: RandomSource,
    next_identity: MemberIdentity | None = None,
) -> Committer:
    """This member as the committer of a commit in its current epoch (§12.4.1); with
    ``next_identity``, its path leaf carries that identity's new signature key."""
    return Committer(
        identity=st.identity,
        leaf=st.leaf,
        path_keys=st.path_keys,
        init_secret=st.secrets.init_secret,
        resumption_psks=st.resumption_psks,
        psk_lookup=psk_lookup,
        wire_format=cfg.handshake_wire_format,
        protect=lambda ac: protect(suite, cfg, st, ac, rand),
        next_identity=next_identity,
    )


def group_info_message(
    suite: CipherSuite, cfg: GroupConfig, st: MemberState, *, with_tree: bool
) -> MLSMessage:
    """A signed GroupInfo of this member's epoch (for external joins, §12.4.3.2)."""
    gi = make_group_info(
        suite,
        st.public,
        st.secrets,
        st.leaf,
        st.identity.signature_priv,
        with_tree=with_tree,
        external_pub=cfg.external_pub_in_group_info,
    )
    return MLSMessage(body=gi)


def resumption_psk_id(
    suite: CipherSuite, usage: ResumptionPSKUsage, group_id: bytes, epoch: int, rand: RandomSource
) -> PreSharedKeyID:
    """§8.6: the resumption PSK id a reinitialised or branched group's first commit uses."""
    return PreSharedKeyID(
        psktype=PSKType.RESUMPTION,
        usage=usage,
        psk_group_id=group_id,
        psk_epoch=epoch,
        psk_nonce=rand.random_bytes(suite.info.hash_len),
    )
