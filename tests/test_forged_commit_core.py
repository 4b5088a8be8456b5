"""A forged commit at the protocol level (RFC 9420 §12.4, §6.1, §16.5): built by ``Group.commit``
on a state assembled from the public epoch, the epoch secrets and a stolen signature key
(``Forger.commit``), accepted by every other member; the impersonated member refuses it
(§12.4.2); a holder of the public tree (the ordering DS) refuses it once the leaf carries another
key or is blank (§6.1); the adversary holds the epoch it made."""

from __future__ import annotations

import pytest

from mlssim.adversary import Adversary
from mlssim.adversary.active import Forger, leaf_with_key
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import CommitApplied, CommitterError, StagedCommit, UnknownSenderError
from mlssim.mls.group_process import verify_public_signature
from mlssim.mls.group_state import MemberIdentity, rotated_identity
from mlssim.mls.protect import InvalidSignatureError

from .group_harness import Harness, roundtrip
from .malicious import group_of


def _forge(h: Harness, victim: str, stolen: MemberIdentity) -> StagedCommit:
    """A path commit as ``victim`` with the epoch's secrets (the insider c1 holds them)."""
    insider = h.members["c1"]
    leaf = leaf_with_key(insider.public, stolen.signature_key)
    leaf = int(h.members[victim].leaf_index) if leaf is None else leaf
    f = Forger(h.suite, h.config, insider.public, insider.secrets, leaf, stolen)
    return f.commit(h.rand)


@pytest.mark.parametrize("suite_id", [1, 3])
def test_a_forged_path_commit_is_accepted_by_the_others_and_refused_by_the_victim(suite_id: int) -> None:
    h = group_of(get_suite(suite_id), 4)
    stolen = h.members["c3"].identity
    staged = _forge(h, "c3", stolen)
    msg = roundtrip(staged.message)
    verify_public_signature(h.suite, h.members["c1"].public, msg)  # the DS's check passes
    before = h.members["c3"].epoch_authenticator
    with pytest.raises(CommitterError) as exc:
        h.members["c3"].process(msg)
    assert exc.value.rfc_section == "12.4.2" and h.members["c3"].epoch_authenticator == before
    for name in ("c1", "c2", "c4"):
        res = h.members[name].process(msg)
        assert isinstance(res, CommitApplied) and res.with_path and not res.added and not res.removed
        # the members are in the epoch the adversary made: it knows its secrets
        assert h.members[name].epoch_authenticator == staged.secrets.epoch_authenticator
    assert staged.public.tree.leaf(h.members["c3"].leaf_index).signature_key == stolen.signature_key  # type: ignore[union-attr]


def test_the_ds_check_refuses_it_after_a_rotation_and_after_a_removal() -> None:
    h = group_of(get_suite(1), 4)
    stolen = h.members["c3"].identity
    leaf = int(h.members["c3"].leaf_index)
    h.deliver(h.members["c3"].commit(h.rand, new_identity=rotated_identity(h.suite, stolen, h.rand)), "c3")
    assert leaf_with_key(h.members["c1"].public, stolen.signature_key) is None
    msg = roundtrip(_forge(h, "c3", stolen).message)
    with pytest.raises(InvalidSignatureError) as exc:
        verify_public_signature(h.suite, h.members["c1"].public, msg)
    assert exc.value.rfc_section == "6.1"
    with pytest.raises(InvalidSignatureError):  # the members' own check agrees
        h.members["c2"].process(msg)
    h.deliver(h.members["c1"].commit(h.rand, removes=[leaf]), "c1")
    f = Forger(h.suite, h.config, h.members["c1"].public, h.members["c1"].secrets, leaf, stolen)
    msg = roundtrip(f.commit(h.rand).message)
    with pytest.raises(UnknownSenderError) as exc2:
        verify_public_signature(h.suite, h.members["c1"].public, msg)
    assert exc2.value.rfc_section == "6.1"


def test_the_adversary_holds_the_epoch_it_forged() -> None:
    h = group_of(get_suite(1), 4)
    adv = Adversary(h.suite)
    old = h.members["c1"].public
    staged = _forge(h, "c3", h.members["c3"].identity)
    adv.authored_commit(staged)
    verdict = adv.observe_commit(old, staged.public, staged.message)
    assert verdict.exposed and verdict.how == "forged"
    gid, n = old.context.group_id, staged.epoch
    assert adv.epoch_secrets(gid, n) == staged.secrets
    # and the private keys of the victim's new leaf: a later commit's path to it opens
    for name in ("c1", "c2", "c4"):
        h.members[name].process(roundtrip(staged.message))
    del h.members["c3"]  # out of sync: it refused the forgery
    prev = h.members["c2"].public
    nxt = h.members["c2"].commit(h.rand)
    verdict = adv.observe_commit(prev, nxt.public, nxt.message)
    assert verdict.exposed and verdict.how == "path"
