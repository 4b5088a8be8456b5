"""``proposal_list`` rules that no received message can reach, called directly (mutation survivors
of ``benchmarks/mutation.py --module mlssim/mls/proposal_list.py``; docs/security-model.md).

A receiver never gets an external sender's Update or a ReInit below mls10 into a commit's list
(the first is refused on receipt, §6.1; the second does not decode), and a member's own empty
commit is refused before it is built; the list rules must still hold on their own (§12.2,
§12.1.5, §12.4).
"""

from __future__ import annotations

import pytest

from mlssim.mls.crypto import get_suite
from mlssim.mls.messages.framing import Sender
from mlssim.mls.messages.proposals import Add, ReInit, Remove, Update
from mlssim.mls.proposal_list import (
    CommittedProposal,
    InvalidProposalError,
    path_required,
    validate_proposal_list,
)
from mlssim.mls.treemath import LeafIndex

from .malicious import group_of

SUITE = get_suite(1, "model")


def test_an_empty_commit_requires_a_path_and_an_add_does_not() -> None:
    h = group_of(SUITE, 2)
    kp = h.client("new").bundle.key_package
    assert path_required([]) is True
    assert path_required([CommittedProposal(Add(key_package=kp), Sender.member(0))]) is False
    assert path_required([CommittedProposal(Remove(removed=1), Sender.member(0))]) is True


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        (Sender.external(0), "may not come from an external sender"),
        (Sender.new_member_proposal(), "must come from a member"),
    ],
    ids=["external", "new-member"],
)
def test_an_update_from_a_non_member_is_invalid(sender: Sender, reason: str) -> None:
    """§12.1.8 (external senders propose no Update), §12.1.2 (an Update is a member's)."""
    h = group_of(SUITE, 3)
    g = h.members["c1"]
    leaf = g.tree.leaf(LeafIndex(1))
    assert leaf is not None
    with pytest.raises(InvalidProposalError, match=reason):
        validate_proposal_list(
            SUITE,
            g.tree,
            [CommittedProposal(Update(leaf_node=leaf), sender)],
            committer=LeafIndex(0),
            external=False,
        )


def test_a_reinit_to_an_older_version_is_invalid() -> None:
    """§12.1.5, with the group's version passed as 2 (mls10 is the only version that decodes)."""
    h = group_of(SUITE, 2)
    g = h.members["c1"]
    reinit = ReInit(group_id=b"next", cipher_suite=SUITE.suite_id)
    validate_proposal_list(
        SUITE, g.tree, [CommittedProposal(reinit, Sender.member(0))], committer=LeafIndex(0), external=False
    )
    with pytest.raises(InvalidProposalError, match="older protocol version"):
        validate_proposal_list(
            SUITE,
            g.tree,
            [CommittedProposal(reinit, Sender.member(0))],
            committer=LeafIndex(0),
            external=False,
            version=2,
        )
