"""The group state machine with a malicious actor (issue 25).

:class:`AdversarialMachine` is :class:`~tests.test_group_properties.GroupMachine` with one more
rule: a member, or an outsider holding the group's GroupInfo, sends one to three messages drawn
from a catalogue of *authentic* violations (``tests/malicious.py``: every signature, membership
tag, confirmation tag and ciphertext computed honestly with the attacker's own keys; only its own
check of one semantic rule bypassed), each delivered (as bytes) to every honest member. Each
honest full member — a member the message would remove included — must reject it with the
catalogue's specific :class:`~mlssim.mls.errors.MLSError` subclass and keep its state exactly
(epoch, epoch authenticator, tree hash, proposal cache, path keys, the secret tree's ratchets:
``malicious.state_of``). The attacker forgets its own message and stays a member. The
machine's invariant (every member agrees on epoch, tree hash, epoch authenticator and an
exported secret after every step) then checks that honest members never diverge.

Every catalogue entry is a receiver MUST with its own test in ``tests/test_musts_*.py``; here
they arrive at random points of a group's life (pending proposals, held-back application
messages, blank leaves, shared epoch caches, both wire formats). The default run is a few
seconds; ``pytest -m slow`` runs many more examples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test

from mlssim.mls import commit_builder as commit_builder_module
from mlssim.mls.crypto import KeyPair, get_suite
from mlssim.mls.errors import MLSError
from mlssim.mls.group import GroupConfig, MissingPathError, UnknownProposalError
from mlssim.mls.group_state import EXTERNAL_INIT_LABEL
from mlssim.mls.keyschedule import ConfirmationTagError
from mlssim.mls.leaf_nodes import DuplicateEncryptionKeyError
from mlssim.mls.messages import MLSMessage, WireFormat
from mlssim.mls.messages.framing import PrivateMessage, Sender
from mlssim.mls.messages.proposals import Add, ExternalInit, GroupContextExtensions, Remove
from mlssim.mls.proposal_list import CommittedProposal, InvalidProposalError, InvalidProposalListError
from mlssim.mls.ratchet_tree import ParentHashMismatchError
from mlssim.mls.secret_tree import KeyConsumedError

from .group_harness import Harness, fresh_key_package, make_client, roundtrip
from .malicious import (
    committer_keys,
    forge_commit,
    forge_external_commit,
    group_of,
    leaf_of,
    member_proposal,
    open_sender_data,
    patched,
    path_changed,
    resigned_leaf,
    state_of,
    with_update_path,
)
from .test_group_properties import PRIVATE, PUBLIC, GroupMachine, machine_settings

#: the handshake ratchet's slot offset in ``SecretTree.ratchet_state`` (slot = 2 * leaf + kind)
HANDSHAKE_RATCHET = 0

#: (message, the error every receiver must raise), or None where the attack does not apply
Attack = tuple[MLSMessage, type[MLSError]] | None


class AdversarialMachine(GroupMachine):
    """The honest group of :class:`GroupMachine`, and a malicious member or outsider."""

    # -- the catalogue: member attacks (attacker ``a``; receivers: every other member) --------

    def _blank_leaves(self) -> list[int]:
        tree = next(iter(self.harness.members.values())).tree
        return [i for i in range(tree.n_leaves) if tree.leaf(i) is None]

    def _outside(self, data: st.DataObject) -> int:
        tree = next(iter(self.harness.members.values())).tree
        return data.draw(st.integers(tree.n_leaves, tree.n_leaves + 40), label="leaf outside the tree")

    def _victim(self, data: st.DataObject, a: str) -> str:
        return self.pick(data, "victim", exclude=[a])

    def remove_self(self, data: st.DataObject, a: str) -> Attack:
        """§12.2: the committer may not remove itself (not from the rightmost leaf: the tree
        would shrink past the committer's own leaf and its path could not be built)."""
        tree = self.harness.members[a].tree
        if max(int(i) for i, _ in tree.leaves()) == self.leaf(a):
            return None
        return forge_commit(self.harness, a, [Remove(removed=self.leaf(a))]).message, InvalidProposalListError

    def remove_twice(self, data: st.DataObject, a: str) -> Attack:
        """§12.2: two Removes of one leaf (the victim receives it too)."""
        v = self.leaf(self._victim(data, a))
        return forge_commit(self.harness, a, [Remove(removed=v)] * 2).message, InvalidProposalListError

    def remove_outside(self, data: st.DataObject, a: str) -> Attack:
        """§12.1.3: a committed Remove of a leaf outside the tree."""
        staged = forge_commit(self.harness, a, [Remove(removed=self._outside(data))])
        return staged.message, InvalidProposalError

    def remove_blank(self, data: st.DataObject, a: str) -> Attack:
        """§12.1.3: a committed Remove of a blank leaf."""
        blank = self._blank_leaves()
        if not blank:
            return None
        leaf = data.draw(st.sampled_from(blank), label="blank leaf")
        return forge_commit(self.harness, a, [Remove(removed=leaf)]).message, InvalidProposalError

    def add_member_again(self, data: st.DataObject, a: str) -> Attack:
        """§12.2: an Add of a client already in the group (a fresh KeyPackage of it)."""
        h = self.harness
        who = self.pick(data, "member added again")
        kp = fresh_key_package(h.suite, h.clients[who], h.rand).bundle.key_package
        return forge_commit(h, a, [Add(key_package=kp)]).message, InvalidProposalListError

    def add_twice(self, data: st.DataObject, a: str) -> Attack:
        """§12.2: two Adds of one new client (two KeyPackages)."""
        h = self.harness
        c = make_client(h.suite, "twice", h.rand)
        kps = [c.bundle.key_package, fresh_key_package(h.suite, c, h.rand).bundle.key_package]
        adds = [Add(key_package=kp) for kp in kps]
        return forge_commit(h, a, adds).message, InvalidProposalListError

    def empty_without_path(self, data: st.DataObject, a: str) -> Attack:
        """§12.4: an empty commit without a path."""
        return forge_commit(self.harness, a, [], path=False).message, MissingPathError

    def two_group_context_extensions(self, data: st.DataObject, a: str) -> Attack:
        """§12.2: at most one GroupContextExtensions."""
        gce = GroupContextExtensions(extensions=())
        return forge_commit(self.harness, a, [gce, gce]).message, InvalidProposalListError

    def external_init_in_a_regular_commit(self, data: st.DataObject, a: str) -> Attack:
        """§12.2: no ExternalInit in a member's commit."""
        h = self.harness
        s = h.suite
        kem_output, _ = s.hpke_export_sender(
            s.kem_generate_key_pair(h.rand).pub, b"", EXTERNAL_INIT_LABEL, s.info.hash_len, h.rand
        )
        staged = forge_commit(h, a, [ExternalInit(kem_output=kem_output)])
        return staged.message, InvalidProposalListError

    def wrong_confirmation_tag(self, data: st.DataObject, a: str) -> Attack:
        """§12.4.2: the confirmation tag does not verify (the membership tag, over it, does)."""

        def wrong(tag: Callable[..., bytes]) -> Callable[..., bytes]:
            return lambda *args, **kwargs: bytes(b ^ 0x5A for b in tag(*args, **kwargs))

        with patched(commit_builder_module, "confirmation_tag", wrong):
            staged = forge_commit(self.harness, a)
        return staged.message, ConfirmationTagError

    def unknown_reference(self, data: st.DataObject, a: str) -> Attack:
        """§12.4.2: a proposal by reference that no receiver holds."""
        v = self.leaf(self._victim(data, a))
        ref = data.draw(st.binary(min_size=32, max_size=32), label="phantom ref")
        if any(ref in g.pending_proposals for g in self.harness.members.values()):
            return None
        phantom = CommittedProposal(Remove(removed=v), Sender.member(v), ref=ref)
        return forge_commit(self.harness, a, [phantom]).message, UnknownProposalError

    def path_leaf_key_taken(self, data: st.DataObject, a: str) -> Attack:
        """§7.3: the committer's new leaf takes another member's encryption key."""
        h = self.harness
        v = self._victim(data, a)
        taken = h.members[v].tree.leaf(self.leaf(v)).encryption_key  # type: ignore[union-attr]
        with committer_keys({0: lambda kp: KeyPair(kp.priv, taken)}):
            staged = forge_commit(h, a)
        return staged.message, DuplicateEncryptionKeyError

    def path_leaf_parent_hash(self, data: st.DataObject, a: str) -> Attack:
        """§7.9.2: the committer's new leaf carries a wrong (but signed) parent_hash."""
        h = self.harness
        g = h.members[a]
        wrong = data.draw(st.binary(min_size=h.suite.info.hash_len, max_size=h.suite.info.hash_len))

        def change(result: Any) -> Any:
            if result.update_path.leaf_node.parent_hash == wrong:
                return result
            leaf = resigned_leaf(
                g.suite,
                result.update_path.leaf_node,
                g.identity.signature_priv,
                group_id=g.group_id,
                leaf_index=int(g.leaf_index),
                parent_hash=wrong,
            )
            return with_update_path(result, leaf_node=leaf)

        with patched(commit_builder_module, "create_update_path", path_changed(change)):
            staged = forge_commit(h, a)
        return staged.message, ParentHashMismatchError

    def proposal_remove_outside(self, data: st.DataObject, a: str) -> Attack:
        """§12.1.3: a Remove proposal of a leaf outside the tree (the attacker forgets it)."""
        msg, ref = member_proposal(self.harness, a, Remove(removed=self._outside(data)))
        del self.harness.members[a]._st.proposals[ref]
        return msg, InvalidProposalError

    def proposal_remove_blank(self, data: st.DataObject, a: str) -> Attack:
        """§12.1.3: a Remove proposal of a blank leaf."""
        blank = self._blank_leaves()
        if not blank:
            return None
        leaf = data.draw(st.sampled_from(blank), label="blank leaf")
        msg, ref = member_proposal(self.harness, a, Remove(removed=leaf))
        del self.harness.members[a]._st.proposals[ref]
        return msg, InvalidProposalError

    # -- the catalogue: an outsider's external commit (receivers: every member) --------------

    def _external(self, data: st.DataObject, edit: Callable[..., list[CommittedProposal]]) -> MLSMessage:
        h = self.harness
        via = self.pick(data, "group info from")
        return forge_external_commit(h, edit, joiner=h.fresh_name("x"), via=via).message

    def external_without_external_init(self, data: st.DataObject) -> Attack:
        """§12.2: an external commit without ExternalInit."""
        edit = lambda ps: [p for p in ps if not isinstance(p.proposal, ExternalInit)]  # noqa: E731
        return self._external(data, edit), InvalidProposalListError

    def external_two_external_inits(self, data: st.DataObject) -> Attack:
        """§12.2: an external commit with two ExternalInits."""
        return self._external(data, lambda ps: [*ps, ps[0]]), InvalidProposalListError

    def external_add(self, data: st.DataObject) -> Attack:
        """§12.2: an external commit that adds a client too."""
        h = self.harness
        kp = make_client(h.suite, "friend", h.rand).bundle.key_package
        edit = lambda ps: [*ps, CommittedProposal(Add(key_package=kp), ps[0].sender)]  # noqa: E731
        return self._external(data, edit), InvalidProposalListError

    def external_wrong_init_key(self, data: st.DataObject) -> Attack:
        """§12.4.3.2: the ExternalInit is to another key than the group's external_pub."""
        h = self.harness
        s = h.suite
        other = s.kem_generate_key_pair(h.rand).pub
        kem_output, _ = s.hpke_export_sender(other, b"", EXTERNAL_INIT_LABEL, s.info.hash_len, h.rand)

        def swapped(ps: list[CommittedProposal]) -> list[CommittedProposal]:
            out = []
            for p in ps:
                if isinstance(p.proposal, ExternalInit):
                    p = dataclasses.replace(p, proposal=ExternalInit(kem_output=kem_output))
                out.append(p)
            return out

        return self._external(data, swapped), ConfirmationTagError

    MEMBER_ATTACKS = (
        "remove_self",
        "remove_twice",
        "remove_outside",
        "remove_blank",
        "add_member_again",
        "add_twice",
        "empty_without_path",
        "two_group_context_extensions",
        "external_init_in_a_regular_commit",
        "wrong_confirmation_tag",
        "unknown_reference",
        "path_leaf_key_taken",
        "path_leaf_parent_hash",
        "proposal_remove_outside",
        "proposal_remove_blank",
    )
    OUTSIDER_ATTACKS = (
        "external_without_external_init",
        "external_two_external_inits",
        "external_add",
        "external_wrong_init_key",
    )

    # -- the rule --------------------------------------------------------------------------

    @precondition(lambda self: self.h is not None)
    @rule(data=st.data())
    def malicious(self, data: st.DataObject) -> None:
        """One to three attacks, each rejected by every honest member with its state unchanged."""
        for _ in range(data.draw(st.integers(1, 3), label="attacks")):
            kinds = list(self.OUTSIDER_ATTACKS)
            if len(self.harness.members) >= 2:
                kinds += self.MEMBER_ATTACKS
            self.attack(data, data.draw(st.sampled_from(kinds), label="attack"))

    def attack(self, data: st.DataObject, kind: str, attacker: str | None = None) -> bool:
        """Attack ``kind`` by ``attacker`` (a member drawn at random if None; an outsider for an
        external commit), delivered to every honest member; each must reject it without a
        trace. False where the attack does not apply to the group as it is."""
        h = self.harness
        if kind in self.OUTSIDER_ATTACKS:
            attacker = None
            attack = getattr(self, kind)(data)
        else:
            attacker = attacker or self.pick(data, "attacker")
            attack = getattr(self, kind)(data, attacker)
        if attack is None:
            return False
        msg, error = attack
        assert error is not MLSError and issubclass(error, MLSError)
        receivers = sorted(n for n in h.members if n != attacker)
        note(f"[epoch {self.epoch}] {attacker or 'an outsider'}: {kind} -> {error.__name__}")
        for name in receivers:
            rejected_without_a_trace(h, name, msg, error)
        return True


def rejected_without_a_trace(h: Harness, name: str, msg: MLSMessage, error: type[MLSError]) -> None:
    """Member ``name`` rejects ``msg`` with exactly ``error``, its state as it was.

    One exception, RFC 9420 §9.2: a PrivateMessage that decrypts (and whose signature verifies)
    has *consumed* its ratchet key, which must be deleted however the content is then judged.
    So for a PrivateMessage the sender's handshake ratchet may have moved past that one
    generation — and only that ratchet: the message, received again, fails on the deleted key.
    """
    g = h.members[name]
    before, before_ratchets = state_of(g), g._st.secret_tree.ratchet_state()
    with pytest.raises(MLSError) as ei:
        g.process(roundtrip(msg))
    assert ei.type is error, (name, ei.value)
    after = state_of(g)
    if not isinstance(msg.body, PrivateMessage):
        assert after == before, f"{name} changed state on rejecting {ei.value!r}"
        return
    assert after[:-1] == before[:-1], f"{name} changed state on rejecting {ei.value!r}"
    sd = open_sender_data(g, msg.body)
    slot = 2 * sd.leaf_index + HANDSHAKE_RATCHET
    was, now = before_ratchets, g._st.secret_tree.ratchet_state()
    assert {entry[0] for entry in set(was) ^ set(now)} <= {slot}, (name, was, now)
    (_, generation, _, kept), *_ = [e for e in now if e[0] == slot]
    assert generation > sd.generation and sd.generation not in kept
    with pytest.raises(KeyConsumedError):  # the key is deleted (§9.2), nothing else moves
        g.process(roundtrip(msg))
    assert state_of(g) == after


ADVERSARIAL_CASES = [
    pytest.param("real", PRIVATE, 12, 25, 15, id="real-private"),
    pytest.param("model", PUBLIC, 40, 15, 15, id="model-public"),
]


def run_adversarial(family: str, wire: WireFormat, max_initial: int, examples: int, steps: int) -> None:
    run_state_machine_as_test(
        lambda: AdversarialMachine(family, wire, max_initial), settings=machine_settings(examples, steps)
    )


@pytest.mark.parametrize(("family", "wire", "max_initial", "examples", "steps"), ADVERSARIAL_CASES)
def test_honest_members_reject_every_attack_and_stay_together(
    family: str, wire: WireFormat, max_initial: int, examples: int, steps: int
) -> None:
    run_adversarial(family, wire, max_initial, examples, steps)


@pytest.mark.parametrize("wire", [PUBLIC, PRIVATE], ids=["public", "private"])
@pytest.mark.parametrize("kind", AdversarialMachine.MEMBER_ATTACKS + AdversarialMachine.OUTSIDER_ATTACKS)
@settings(max_examples=1, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_each_attack_is_rejected_by_every_honest_member(
    kind: str, wire: WireFormat, data: st.DataObject
) -> None:
    """Every entry of the catalogue, once, in a group of five members with a blank leaf, c2
    the attacker (the random runs above reach only some entries with their default count)."""
    m = AdversarialMachine("real", wire, 1)
    h = m.h = group_of(get_suite(1), 6, GroupConfig(handshake_wire_format=wire))
    h.deliver(h.members["c1"].commit(h.rand, removes=[leaf_of(h, "c3")]), "c1")
    assert m.attack(data, kind, attacker="c2")
    h.check()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "wire", "max_initial", "examples", "steps"),
    [
        pytest.param(f, w, m, 100, 40, id=f"{f}-{w.name.split('_')[0].lower()}")
        for f, m in (("real", 12), ("model", 40))
        for w in (PUBLIC, PRIVATE)
    ],
)
def test_honest_members_reject_every_attack_and_stay_together_slow(
    family: str, wire: WireFormat, max_initial: int, examples: int, steps: int
) -> None:
    run_adversarial(family, wire, max_initial, examples, steps)
