"""Signature-key rotation (RFC 9420 §12.1.2, §7.3) and the forgeries it ends (§6.1, §16.5).

A member may put a new signature key in an Update's leaf or in its commit's path leaf; from the
new epoch on, receivers verify its messages against that key (§6.1: "the signature key
contained in the LeafNode at the index indicated by leaf_index"), so a stolen old key stops
verifying. A forger that holds the group key of an epoch (an insider, an exposed epoch) and
the member's current signature key is accepted (§16.5).
"""

from __future__ import annotations

import pytest

from mlssim.adversary.active import Forger, signature_current
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import LocalProtocolError
from mlssim.mls.group import ApplicationMessage
from mlssim.mls.group_state import rotated_identity
from mlssim.mls.protect import InvalidSignatureError

from .group_harness import Harness, roundtrip
from .malicious import group_of


def _forge(h: Harness, victim: str, stolen: object, data: bytes = b"forged") -> object:
    """A forged application message as ``victim``, sealed with the epoch's secrets (which the
    insider c1 holds), signed with ``stolen``."""
    insider = h.members["c1"]
    v = h.members[victim]
    f = Forger(h.suite, h.config, insider.public, insider.secrets, v.leaf_index, stolen)  # type: ignore[arg-type]
    f.skip_to(5)  # past the victim's own generations
    return roundtrip(f.application(data, h.rand))


@pytest.mark.parametrize("suite_id", [1, 3])
def test_commit_path_rotates_the_signature_key(suite_id: int) -> None:
    h = group_of(get_suite(suite_id), 4)
    stolen = h.members["c3"].identity
    # before the rotation: a forgery signed with c3's key is accepted as c3's (§16.5)
    res = h.members["c2"].process(_forge(h, "c3", stolen))  # type: ignore[arg-type]
    assert isinstance(res, ApplicationMessage) and res.sender == h.members["c3"].leaf_index
    new = rotated_identity(h.suite, stolen, h.rand)
    h.deliver(h.members["c3"].commit(h.rand, new_identity=new), "c3")
    g3 = h.members["c3"]
    assert g3.identity == new and g3.tree.leaf(g3.leaf_index).signature_key == new.signature_key  # type: ignore[union-attr]
    assert signature_current(g3.public, g3.leaf_index, stolen.signature_key) is False
    # after: the same forgery fails the §6.1 signature check, and leaves the receiver unchanged
    before = h.members["c2"].epoch_authenticator
    with pytest.raises(InvalidSignatureError) as exc:
        h.members["c2"].process(_forge(h, "c3", stolen))  # type: ignore[arg-type]
    assert exc.value.rfc_section == "6.1"
    assert h.members["c2"].epoch_authenticator == before
    # the rotated member still sends, and others still commit and process its commits
    msg = roundtrip(g3.encrypt_application(b"hi", h.rand))
    assert isinstance(h.members["c2"].process(msg), ApplicationMessage)
    h.deliver(g3.commit(h.rand), "c3")
    h.deliver(h.members["c2"].commit(h.rand), "c2")


def test_update_proposal_rotates_the_signature_key() -> None:
    h = group_of(get_suite(1), 3)
    stolen = h.members["c3"].identity
    new = rotated_identity(h.suite, stolen, h.rand)
    prop = roundtrip(h.members["c3"].propose_update(h.rand, new_identity=new))
    for n in ("c1", "c2"):
        h.members[n].process(prop)
    h.deliver(h.members["c1"].commit(h.rand), "c1")
    assert h.members["c3"].identity == new
    with pytest.raises(InvalidSignatureError):
        h.members["c2"].process(_forge(h, "c3", stolen))  # type: ignore[arg-type]
    assert isinstance(h.members["c2"].process(_forge(h, "c3", new)), ApplicationMessage)  # type: ignore[arg-type]


def test_rotation_needs_a_path() -> None:
    h = group_of(get_suite(1), 2)
    new = rotated_identity(h.suite, h.members["c2"].identity, h.rand)
    with pytest.raises(LocalProtocolError):
        h.members["c2"].commit(h.rand, new_identity=new, path=False)


def test_removed_leaf_has_no_key() -> None:
    h = group_of(get_suite(1), 3)
    stolen = h.members["c3"].identity
    leaf = h.members["c3"].leaf_index
    h.deliver(h.members["c1"].commit(h.rand, removes=[leaf]), "c1")
    assert signature_current(h.members["c1"].public, leaf, stolen.signature_key) is None


@pytest.mark.parametrize("new_suite", [3, 0xF001])
def test_reinit_migrates_to_another_suite(new_suite: int) -> None:
    """§11.2 across suites (the building block of a suite migration): a ReInit to ``new_suite``
    is committed, the old group goes inactive, the new group's Welcome is joined by every member
    with the reinit resumption PSK of the old group, and all agree on the epoch authenticator."""
    from mlssim.mls.crypto import real_available
    from mlssim.mls.group import Group
    from mlssim.mls.messages import Welcome
    from mlssim.mls.messages.proposals import ReInit

    from .group_harness import fresh_key_package, make_client

    if new_suite >= 0xF000 and not real_available(new_suite):
        pytest.skip("no PQ KEM in this environment")
    h = group_of(get_suite(1), 3)
    target = get_suite(new_suite)
    ri = ReInit(group_id=b"migrated", version=1, cipher_suite=new_suite, extensions=())
    h.deliver(h.members["c2"].commit(h.rand, reinit=ri), "c2")
    assert not any(g.active for g in h.members.values())
    # each member's client in the new suite: keys of the new suite (suites 1, 3 and 0xF001 all
    # sign with Ed25519, so the creator keeps its identity, as Group.reinit does)
    clients = {n: make_client(target, n, h.rand) for n in ("c2", "c3")}
    kps = {n: fresh_key_package(target, c, h.rand) for n, c in clients.items()}
    old = h.members["c1"]
    with pytest.raises(LocalProtocolError):  # the new suite must be passed
        old.reinit(h.rand, key_packages=[k.bundle.key_package for k in kps.values()])
    new, staged = old.reinit(
        h.rand,
        key_packages=[k.bundle.key_package for k in kps.values()],
        suite=target,
    )
    new.merge(staged)
    welcome = roundtrip(staged.welcome).body  # type: ignore[union-attr]
    assert isinstance(welcome, Welcome)
    for n, k in kps.items():
        g = Group.join(
            target,
            welcome,
            key_package=k.bundle.key_package,
            init_priv=k.bundle.init_priv,
            encryption_priv=k.bundle.encryption_priv,
            identity=k.identity,
            resumed_from=h.members[n],
        )
        assert g.suite.suite_id == new_suite and g.group_id == b"migrated"
        assert g.epoch_authenticator == new.epoch_authenticator
