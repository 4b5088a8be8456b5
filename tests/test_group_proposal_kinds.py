"""The proposals a member sends with ``propose_psk``, ``propose_group_context_extensions`` and
``propose_reinit`` (§12.1.4, §12.1.7, §12.1.5): each reaches the other members as bytes, is
cached by all of them, is committed by reference by another member, and takes effect in the
epoch that commit starts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlssim.mls.crypto import get_suite
from mlssim.mls.extensions import external_senders, external_senders_extension
from mlssim.mls.group import GroupConfig, InactiveGroupError, ProposalReceived, StagedCommit
from mlssim.mls.messages import (
    Credential,
    ExternalSender,
    ExternalSenders,
    MLSMessage,
    PreSharedKeyID,
    PSKType,
    ReInit,
)
from mlssim.mls.messages.proposals import GroupContextExtensions, PreSharedKey, Proposal
from mlssim.mls.psk import MissingPSKError

from .group_harness import Harness, roundtrip

SUITES = [get_suite(1), get_suite(1, "model")]

PSK_NAME = b"shared-external-psk"
PSK_VALUE = b"\x42" * 32


def _lookup(psk_id: PreSharedKeyID) -> bytes | None:
    """The one external PSK every member of the harness holds."""
    return PSK_VALUE if psk_id.psktype == PSKType.EXTERNAL and psk_id.psk_id == PSK_NAME else None


@pytest.fixture(params=SUITES, ids=lambda s: s.info.name[:12])
def h(request: pytest.FixtureRequest) -> Harness:
    h = Harness(request.param, config=GroupConfig(psk_lookup=_lookup))
    h.create("alice")
    h.add("alice", "bob", "carol")
    return h


def _send(h: Harness, sender: str, msg: MLSMessage, expected: Proposal) -> bytes:
    """``sender``'s proposal reaches every other member, who all cache ``expected`` under one
    ref (the sender caches it too); returns that ref."""
    results = h.broadcast(msg, sender)
    refs = set()
    for res in results.values():
        assert isinstance(res, ProposalReceived)
        assert res.proposal == expected
        refs.add(res.ref)
    assert len(refs) == 1
    ref = refs.pop()
    assert all(g.pending_proposals == (ref,) for g in h.members.values())
    return ref


def _references(staged: StagedCommit) -> list[bytes | None]:
    commit = staged.authenticated_content.content.commit
    assert commit is not None
    return [por.reference for por in commit.proposals]


def test_committed_psk_proposal_enters_the_key_schedule(h: Harness) -> None:
    psk_id = PreSharedKeyID(
        psktype=PSKType.EXTERNAL, psk_id=PSK_NAME, psk_nonce=h.rand.random_bytes(h.suite.info.hash_len)
    )
    ref = _send(h, "bob", h.members["bob"].propose_psk(psk_id, h.rand), PreSharedKey(psk=psk_id))
    # carol as she would be without the PSK: same epoch, same cached proposal
    lacking = h.members["carol"].copy()
    lacking.config = replace(lacking.config, psk_lookup=None)
    epoch = h.members["alice"].epoch

    staged = h.members["alice"].commit(h.rand)  # the cached PSK proposal, by reference
    assert _references(staged) == [ref]
    # the PSK is in the new epoch's key schedule: a member without it cannot follow the commit
    with pytest.raises(MissingPSKError):
        lacking.process(roundtrip(staged.message))
    assert lacking.epoch == epoch

    h.deliver(staged, "alice")  # and the members with it agree on the epoch authenticator
    assert all(g.epoch == epoch + 1 and g.pending_proposals == () for g in h.members.values())


def test_committed_group_context_extensions_proposal_changes_the_context(h: Harness) -> None:
    ds_key = h.suite.signature_key_pair(h.rand).pub
    senders = ExternalSenders(
        senders=(ExternalSender(signature_key=ds_key, credential=Credential.basic(b"ds")),)
    )
    ext = external_senders_extension(senders)
    assert all(external_senders(g.context.extensions) is None for g in h.members.values())

    ref = _send(
        h,
        "bob",
        h.members["bob"].propose_group_context_extensions((ext,), h.rand),
        GroupContextExtensions(extensions=(ext,)),
    )
    staged = h.members["alice"].commit(h.rand)
    assert _references(staged) == [ref]
    h.deliver(staged, "alice")

    for g in h.members.values():
        assert g.context.extensions == (ext,)
        assert external_senders(g.context.extensions) == senders


def test_committed_reinit_proposal_ends_the_group(h: Harness) -> None:
    reinit = ReInit(group_id=b"reborn", cipher_suite=h.suite.suite_id, extensions=())
    assert all(g.committed_reinit is None and g.active for g in h.members.values())

    ref = _send(h, "bob", h.members["bob"].propose_reinit(reinit, h.rand), reinit)
    staged = h.members["alice"].commit(h.rand)
    assert _references(staged) == [ref]
    h.deliver(staged, "alice")

    for g in h.members.values():
        assert g.committed_reinit == reinit
        assert not g.active
        with pytest.raises(InactiveGroupError):
            g.commit(h.rand)
