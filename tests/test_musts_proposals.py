"""Receiver MUSTs of RFC 9420 §12.1 (each proposal) and §12.2 (the committed list of a regular
commit), one authentic violation each (issue 25 b).

The proposer or committer builds the message with its own code and keys, its own validity check
bypassed (``tests/malicious.py``: ``member_proposal`` and ``forge_commit``). Where the commit
removes a member, that member is among the receivers and reaches the same verdict.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mlssim.mls.crypto import CipherSuite
from mlssim.mls.errors import DecodeError
from mlssim.mls.extensions import (
    GroupExtensionUnsupportedError,
    RequiredCapabilitiesError,
    required_capabilities_extension,
)
from mlssim.mls.group_state import EXTERNAL_INIT_LABEL
from mlssim.mls.messages.common import Extension
from mlssim.mls.messages.enums import CredentialType, PSKType, ResumptionPSKUsage
from mlssim.mls.messages.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    ReInit,
    Remove,
)
from mlssim.mls.messages.psk_id import PreSharedKeyID
from mlssim.mls.messages.tree import RequiredCapabilities
from mlssim.mls.proposal_list import InvalidProposalError, InvalidProposalListError

from .group_harness import Harness, fresh_key_package
from .malicious import (
    ON_SUITES,
    forge_commit,
    group_of,
    key_package_with,
    leaf_of,
    member_proposal,
    rejected_by_all,
    verdicts,
)

pytestmark = ON_SUITES


def _psk(suite: CipherSuite, name: bytes, *, nonce_len: int | None = None, **kw: Any) -> PreSharedKeyID:
    n = suite.info.hash_len if nonce_len is None else nonce_len
    if kw:
        return PreSharedKeyID(psktype=PSKType.RESUMPTION, psk_nonce=b"\x01" * n, **kw)
    return PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=name, psk_nonce=b"\x01" * n)


def _everyone_holds_psks(h: Harness) -> None:
    """Every member (the committer included) holds every external PSK, so only the rule fails."""
    for g in h.members.values():
        g.config = dataclasses.replace(g.config, psk_lookup=lambda _id: b"shared psk")


def _cached(h: Harness, holder: str, ref: bytes) -> Any:
    return h.members[holder]._st.proposals[ref]


# ---- §12.1: each proposal ------------------------------------------------------------------------


def test_12_1_3_remove_proposal_of_a_blank_leaf_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    blank = leaf_of(h, "c2")
    h.deliver(h.members["c1"].commit(h.rand, removes=[blank]), "c1")
    msg, _ = member_proposal(h, "c3", Remove(removed=blank))
    rejected_by_all(h, msg, InvalidProposalError, sender="c3")


def test_12_1_3_remove_proposal_outside_the_tree_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    msg, _ = member_proposal(h, "c3", Remove(removed=40))
    rejected_by_all(h, msg, InvalidProposalError, sender="c3")


def test_12_1_3_committed_remove_of_a_blank_leaf_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    blank = leaf_of(h, "c2")
    h.deliver(h.members["c1"].commit(h.rand, removes=[blank]), "c1")
    rejected_by_all(
        h, forge_commit(h, "c1", [Remove(removed=blank)]).message, InvalidProposalError, sender="c1"
    )


def test_12_1_4_psk_nonce_must_be_nh_bytes(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _everyone_holds_psks(h)
    psk = _psk(suite, b"short nonce", nonce_len=suite.info.hash_len - 1)
    rejected_by_all(
        h, forge_commit(h, "c1", [PreSharedKey(psk=psk)]).message, InvalidProposalError, sender="c1"
    )


@pytest.mark.parametrize("usage", [ResumptionPSKUsage.REINIT, ResumptionPSKUsage.BRANCH])
def test_12_1_4_reinit_and_branch_psks_only_in_a_new_groups_first_commit(
    suite: CipherSuite, usage: ResumptionPSKUsage
) -> None:
    h = group_of(suite, 3)
    _everyone_holds_psks(h)
    psk = _psk(suite, b"", usage=usage, psk_group_id=h.group_id, psk_epoch=0)
    rejected_by_all(
        h, forge_commit(h, "c1", [PreSharedKey(psk=psk)]).message, InvalidProposalError, sender="c1"
    )


def test_12_1_5_reinit_to_an_older_version_is_rejected(suite: CipherSuite) -> None:
    """§12.1.5: a ReInit's version is not below the group's. mls10 is the only version, so an
    older one (0, reserved) is not a ProtocolVersion: the commit does not decode."""
    h = group_of(suite, 3)
    reinit = ReInit(group_id=b"next", version=0, cipher_suite=suite.suite_id)  # type: ignore[arg-type]
    rejected_by_all(h, forge_commit(h, "c1", [reinit]).message, DecodeError, sender="c1")


def test_12_1_7_required_capabilities_unsupported_by_a_member_is_rejected(suite: CipherSuite) -> None:
    """c1 requires the credential type 0xF000 that no member lists; c1's own path leaf is checked
    against the new extensions, so only c1's leaf is made to list it."""
    from mlssim.mls.messages.tree import Capabilities

    h = group_of(suite, 3)
    c1 = h.members["c1"]
    ident = c1.identity
    caps: Capabilities = dataclasses.replace(
        ident.capabilities, credentials=(*ident.capabilities.credentials, 0xF000)
    )
    c1._st = dataclasses.replace(c1._st, identity=dataclasses.replace(ident, capabilities=caps))
    rc = RequiredCapabilities(credential_types=(CredentialType.BASIC, 0xF000))
    gce = GroupContextExtensions(extensions=(required_capabilities_extension(rc),))
    rejected_by_all(h, forge_commit(h, "c1", [gce]).message, RequiredCapabilitiesError, sender="c1")


def test_12_1_7_group_extension_unsupported_by_a_member_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    c1 = h.members["c1"]
    ident = c1.identity
    caps = dataclasses.replace(ident.capabilities, extensions=(0xF0F0,))
    c1._st = dataclasses.replace(c1._st, identity=dataclasses.replace(ident, capabilities=caps))
    gce = GroupContextExtensions(extensions=(Extension(extension_type=0xF0F0, extension_data=b"x"),))
    rejected_by_all(h, forge_commit(h, "c1", [gce]).message, GroupExtensionUnsupportedError, sender="c1")


def _lists_extension(h: Harness, name: str, ext_type: int) -> None:
    """``name``'s next leaves (its path leaves) list the GroupContext extension ``ext_type``."""
    g = h.members[name]
    ident = g.identity
    caps = dataclasses.replace(ident.capabilities, extensions=(*ident.capabilities.extensions, ext_type))
    g._st = dataclasses.replace(g._st, identity=dataclasses.replace(ident, capabilities=caps))


def test_12_1_7_only_the_members_the_commit_keeps_must_support_new_extensions(suite: CipherSuite) -> None:
    """§12.1.7 counts the members after the commit: c4, which does not list 0xF0F0, is removed by
    the same commit, and c1 (whose current leaf does not list it either) is judged by its path
    leaf, which does; c2 and c3 list it since their own commits. Everyone accepts."""
    h = group_of(suite, 4)
    for name in ("c2", "c3"):
        _lists_extension(h, name, 0xF0F0)
        h.deliver(h.members[name].commit(h.rand), name)
    _lists_extension(h, "c1", 0xF0F0)
    ext = Extension(extension_type=0xF0F0, extension_data=b"x")
    staged = h.members["c1"].commit(h.rand, removes=[leaf_of(h, "c4")], extensions=(ext,))
    got = verdicts(h, staged.message, ["c2", "c3", "c4"])
    assert got == {"c2": "accepted", "c3": "accepted", "c4": "removed"}, got
    assert h.members["c2"].context.extensions == (ext,)


# ---- §12.2: the list of a regular commit -------------------------------------------------------------


def test_12_2_committer_may_not_commit_its_own_update(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    msg = h.members["c1"].propose_update(h.rand)
    h.broadcast(msg, "c1")
    own = _cached(h, "c1", h.members["c1"].pending_proposals[0])
    rejected_by_all(h, forge_commit(h, "c1", [own]).message, InvalidProposalListError, sender="c1")


def test_12_2_committer_may_not_remove_itself(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    staged = forge_commit(h, "c1", [Remove(removed=leaf_of(h, "c1"))])
    rejected_by_all(h, staged.message, InvalidProposalListError, sender="c1")


def test_12_2_two_removes_of_one_leaf_are_rejected(suite: CipherSuite) -> None:
    """The removed member reaches the same verdict."""
    h = group_of(suite, 4)
    victim = leaf_of(h, "c4")
    staged = forge_commit(h, "c1", [Remove(removed=victim), Remove(removed=victim)])
    rejected_by_all(h, staged.message, InvalidProposalListError, sender="c1")


def test_12_2_update_and_remove_of_one_leaf_are_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    h.broadcast(h.members["c3"].propose_update(h.rand), "c3")
    update = _cached(h, "c1", h.members["c1"].pending_proposals[0])
    staged = forge_commit(h, "c1", [update, Remove(removed=leaf_of(h, "c3"))])
    rejected_by_all(h, staged.message, InvalidProposalListError, sender="c1")


def test_12_2_two_updates_of_one_leaf_are_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    h.broadcast(h.members["c3"].propose_update(h.rand), "c3")
    h.broadcast(h.members["c3"].propose_update(h.rand), "c3")
    first, second = (_cached(h, "c1", r) for r in h.members["c1"].pending_proposals)
    rejected_by_all(h, forge_commit(h, "c1", [first, second]).message, InvalidProposalListError, sender="c1")


def test_12_2_two_adds_of_one_client_are_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    a = h.client("new").bundle.key_package
    b = fresh_key_package(suite, h.client("new"), h.rand).bundle.key_package
    staged = forge_commit(h, "c1", [Add(key_package=a), Add(key_package=b)])
    rejected_by_all(h, staged.message, InvalidProposalListError, sender="c1")


def test_12_2_add_of_a_client_already_in_the_group_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    again = fresh_key_package(suite, h.client("c3"), h.rand).bundle.key_package
    rejected_by_all(
        h, forge_commit(h, "c1", [Add(key_package=again)]).message, InvalidProposalListError, sender="c1"
    )


def test_12_2_two_new_leaves_with_one_encryption_key_are_rejected(suite: CipherSuite) -> None:
    """§7.3 uniqueness among the leaves one list brings in (two clients, one HPKE key)."""
    h = group_of(suite, 3)
    a = h.client("new-a").bundle.key_package
    _, b = key_package_with(h, "new-b", leaf={"encryption_key": a.leaf_node.encryption_key})
    staged = forge_commit(h, "c1", [Add(key_package=a), Add(key_package=b)])
    rejected_by_all(h, staged.message, InvalidProposalListError, sender="c1")


def test_12_2_two_psk_proposals_with_one_id_are_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _everyone_holds_psks(h)
    psk = PreSharedKey(psk=_psk(suite, b"twice"))
    rejected_by_all(h, forge_commit(h, "c1", [psk, psk]).message, InvalidProposalListError, sender="c1")


def test_12_2_two_group_context_extensions_are_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    gce = GroupContextExtensions(extensions=())
    rejected_by_all(h, forge_commit(h, "c1", [gce, gce]).message, InvalidProposalListError, sender="c1")


def test_12_2_reinit_must_be_alone(suite: CipherSuite) -> None:
    h = group_of(suite, 4)
    reinit = ReInit(group_id=b"next", cipher_suite=suite.suite_id)
    staged = forge_commit(h, "c1", [reinit, Remove(removed=leaf_of(h, "c4"))])
    rejected_by_all(h, staged.message, InvalidProposalListError, sender="c1")


def test_12_2_external_init_in_a_regular_commit_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    kem_output, _ = suite.hpke_export_sender(
        suite.kem_generate_key_pair(h.rand).pub, b"", EXTERNAL_INIT_LABEL, suite.info.hash_len, h.rand
    )
    staged = forge_commit(h, "c1", [ExternalInit(kem_output=kem_output)])
    rejected_by_all(h, staged.message, InvalidProposalListError, sender="c1")


def test_12_1_7_a_member_will_not_commit_extensions_another_member_lacks(suite: CipherSuite) -> None:
    """The committer's side of the same rule: its own commit of an unsupported GroupContext
    extension fails locally, before anything is sent."""
    h = group_of(suite, 3)
    c1 = h.members["c1"]
    ident = c1.identity
    caps = dataclasses.replace(ident.capabilities, extensions=(0xF0F0,))
    c1._st = dataclasses.replace(c1._st, identity=dataclasses.replace(ident, capabilities=caps))
    gce = GroupContextExtensions(extensions=(Extension(extension_type=0xF0F0, extension_data=b"x"),))
    before = c1.epoch
    with pytest.raises(GroupExtensionUnsupportedError):
        c1.commit(h.rand, references=[], extensions=gce.extensions)
    assert c1.epoch == before
