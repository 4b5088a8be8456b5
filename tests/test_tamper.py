"""Tampering by a delivery service or authentication service (docs/security-model.md, "Tampering").

A scripted, seeded group runs (commits with paths, adds by value and by reference, removes,
updates, application messages, Welcomes, KeyPackages fetched from the DS); before each genuine
message is delivered, the DS delivers altered copies drawn from ``mlssim.adversary.tamper``'s
catalogue. Every receiver must reject each copy with exactly the error class of the copy's rule
and keep its state (epoch, epoch authenticator, tree hash); then the genuine message goes through
and the harness checks that all members still agree.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlssim.adversary import (
    CATALOGUE,
    RULES,
    Capability,
    Directory,
    Kind,
    Sent,
    StolenKeys,
    Tamper,
    Tampered,
    TamperLedger,
    Wire,
    applicable,
    deliver_to_joiner,
    deliver_to_member,
    issue_insider,
    member_snapshot,
    offer_key_package,
    tamper_named,
)
from mlssim.mls.credentials import CredentialError
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.group import (
    ApplicationMessage,
    CommitApplied,
    EpochCache,
    Group,
    GroupConfig,
    ProposalReceived,
    StagedCommit,
)
from mlssim.mls.group_validation import LeafPolicy
from mlssim.mls.messages import GroupInfo, KeyPackage, MLSMessage, WireFormat

from .group_harness import Client, Harness, roundtrip

DOC = Path(__file__).resolve().parent.parent / "docs" / "security-model.md"


@dataclass
class Arena:
    """A harness group whose delivery service tampers with what it relays."""

    h: Harness
    directory: Directory
    ledger: TamperLedger
    budget: int
    tree_from_ds: bool
    rng: random.Random
    adversary_rng: random.Random
    min_size: int
    max_size: int
    #: weights of the events commit, update, add-by-ref, remove
    weights: tuple[int, int, int, int] = (4, 2, 1, 2)
    sent: list[Sent] = field(default_factory=list)
    made: int = 0
    used: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> bool:
        return self.made >= self.budget

    def client(self, name: str) -> Client:
        c = self.h.client(name)
        self.directory.vouch(c.identity.credential.identity, c.identity.signature_key)
        return c

    def new_client(self) -> Client:
        return self.client(self.h.fresh_name())

    def choose(self, wire: Wire) -> list[Tamper]:
        """One to three applicable alterations (two to five of a Welcome or KeyPackage), the least
        used first so that every rule gets its turn; one that consumes the genuine message's key
        goes last."""
        if self.done:
            return []
        ops = applicable(wire)
        self.rng.shuffle(ops)
        ops.sort(key=lambda t: self.used[t.name])
        rare = wire.kind in (Kind.WELCOME, Kind.KEY_PACKAGE)  # fewer of these cross the DS
        k = min(len(ops), self.rng.randint(2, 5) if rare else self.rng.randint(1, 3), self.budget - self.made)
        return ops[:k]

    def record(self, t: Tampered, detections: list[object]) -> None:
        self.ledger.record(t, detections)  # type: ignore[arg-type]
        self.used[t.tamper.name] += 1
        self.made += 1

    # ---- what the DS relays ----------------------------------------------------------------

    def attack_member_message(
        self, msg: MLSMessage, sender: str, removed: frozenset[int] = frozenset()
    ) -> None:
        """Tampered copies of a member's message to every other member (each rejected with
        the receiver's state unchanged, so the genuine message is accepted after them)."""
        h = self.h
        me = h.members[sender]
        other = next(g for n, g in h.members.items() if n != sender)
        wire = Wire(
            suite=h.suite,
            message=roundtrip(msg),
            public=other.public,
            sender=int(me.leaf_index),
            earlier=tuple(self.sent),
            keys=StolenKeys(epoch=other.secrets, signature_priv=me.identity.signature_priv),
        )
        for tamper in self.choose(wire):
            t = tamper.apply(wire, self.adversary_rng)
            receivers = [
                g
                for g in h.members.values()
                if int(g.leaf_index) != t.sender
                and (t.rule.reached_by_removed or int(g.leaf_index) not in removed)
            ]
            self.record(t, [deliver_to_member(g, t) for g in receivers])

    def attack_welcome(self, staged: StagedCommit, committer: str, joiners: list[Client]) -> None:
        h = self.h
        assert staged.welcome is not None
        gi = staged.group_info.body
        assert isinstance(gi, GroupInfo)
        wire = Wire(
            suite=h.suite,
            message=roundtrip(staged.welcome),
            public=h.members[committer].public,
            sender=int(staged.committer),
            key_packages=tuple(c.bundle.key_package for c in joiners),
            tree=staged.ratchet_tree,
            tree_from_ds=self.tree_from_ds,
            group_info=gi,
            keys=StolenKeys(next_epoch=staged.secrets),
        )
        served = staged.ratchet_tree if self.tree_from_ds else None
        for tamper in self.choose(wire):
            t = tamper.apply(wire, self.adversary_rng)
            self.record(
                t,
                [
                    deliver_to_joiner(
                        h.suite, t, bundle=c.bundle, identity=c.identity, config=h.config, tree=served
                    )
                    for c in joiners
                ],
            )

    def attack_key_package(self, adder: str, kp: KeyPackage) -> None:
        h = self.h
        g = h.members[adder]
        wire = Wire(suite=h.suite, message=MLSMessage(body=kp), public=g.public)
        for tamper in self.choose(wire):
            t = tamper.apply(wire, self.adversary_rng)
            self.record(t, [offer_key_package(g, t, h.rand)])

    # ---- the group's life --------------------------------------------------------------------

    def others(self, name: str) -> list[str]:
        return [n for n in sorted(self.h.members) if n != name]

    def pick(self, names: list[str] | None = None) -> str:
        return self.rng.choice(names if names is not None else sorted(self.h.members))

    def commit(
        self,
        committer: str,
        *,
        adds: int = 0,
        remove: str | None = None,
        path: bool | None = None,
        joining: tuple[Client, ...] = (),
    ) -> None:
        h = self.h
        new = [self.new_client() for _ in range(adds)]
        for c in new:
            self.attack_key_package(committer, c.bundle.key_package)
        g = h.members[committer]
        removes = [int(h.members[remove].leaf_index)] if remove is not None else []
        staged = g.commit(h.rand, adds=[c.bundle.key_package for c in new], removes=removes, path=path)
        self.attack_member_message(staged.message, committer, frozenset(int(x) for x in staged.removed))
        if staged.welcome is not None:
            self.attack_welcome(staged, committer, [*joining, *new])
        sender = int(g.leaf_index)
        h.deliver(staged, committer, tree_out_of_band=self.tree_from_ds)
        self.sent.append(Sent(roundtrip(staged.message), sender))

    def propose(self, proposer: str, msg: MLSMessage) -> None:
        self.attack_member_message(msg, proposer)
        res = self.h.broadcast(msg, proposer)
        assert all(isinstance(r, ProposalReceived) for r in res.values())
        self.sent.append(Sent(roundtrip(msg), int(self.h.members[proposer].leaf_index)))

    def applications(self, count: int) -> None:
        h = self.h
        for i in range(count):
            sender = self.pick()
            g = h.members[sender]
            msg = g.encrypt_application(f"message {self.made}.{i}".encode(), h.rand)
            self.attack_member_message(msg, sender)
            for name in self.others(sender):
                # even after a forgery under its own key (private.content+encrypt): §9.2
                # consumes a key only when it (successfully) decrypts, so nothing was burnt
                assert isinstance(h.members[name].process(roundtrip(msg)), ApplicationMessage)
            self.sent.append(Sent(roundtrip(msg), int(g.leaf_index)))

    def step(self) -> None:
        h = self.h
        n = len(h.members)
        event = self.rng.choices(["commit", "update", "add-by-ref", "remove"], weights=self.weights)[0]
        self.applications(self.rng.randint(1, 3))
        committer = self.pick()
        if event == "update" or (event == "remove" and n <= self.min_size):
            proposer = self.pick(self.others(committer))
            self.propose(proposer, h.members[proposer].propose_update(h.rand))
            self.commit(committer)
        elif event == "add-by-ref" and n < self.max_size:
            proposer = self.pick(self.others(committer))
            c = self.new_client()
            self.propose(proposer, h.members[proposer].propose_add(c.bundle.key_package, h.rand))
            self.commit(committer, path=False, joining=(c,))
        elif event == "remove":
            self.commit(committer, remove=self.pick(self.others(committer)), adds=self.rng.randint(0, 1))
        else:
            adds = self.rng.randint(0, 2) if n < self.max_size else 0
            self.commit(committer, adds=adds)
        h.check()


def make_arena(
    suite: CipherSuite,
    *,
    seed: int,
    size: int,
    budget: int,
    ledger: TamperLedger,
    wire_format: WireFormat = WireFormat.PUBLIC_MESSAGE,
    tree_from_ds: bool = False,
    weights: tuple[int, int, int, int] = (4, 2, 1, 2),
) -> Arena:
    directory = Directory()
    config = GroupConfig(
        handshake_wire_format=wire_format,
        ratchet_tree_in_welcome=not tree_from_ds,
        leaf_policy=LeafPolicy(credential_validator=directory),
        epoch_cache=EpochCache(),
    )
    arena = Arena(
        h=Harness(suite, seed=seed, config=config),
        directory=directory,
        ledger=ledger,
        budget=budget,
        tree_from_ds=tree_from_ds,
        rng=random.Random(seed),
        adversary_rng=random.Random(seed + 1),
        min_size=max(3, size - 3),
        max_size=size + 3,
        weights=weights,
    )
    arena.client("m0")
    arena.h.create("m0")
    kps = [arena.new_client().bundle.key_package for _ in range(size - 1)]
    arena.h.deliver(arena.h.members["m0"].commit(arena.h.rand, adds=kps), "m0", tree_out_of_band=tree_from_ds)
    return arena


def run(arena: Arena, max_steps: int = 400) -> Arena:
    for _ in range(max_steps):
        if arena.done:
            break
        arena.step()
    assert arena.done, f"only {arena.made} tampered messages in {max_steps} steps"
    return arena


def print_ledger(ledger: TamperLedger, title: str) -> None:
    print(f"\n{title}")
    print(f"{'rule':26} {'§':9} {'error':28} {'messages':>8} {'detected':>8} {'deliveries':>10}")
    for row in ledger.rows():
        cells = f"{row.rule:26} {row.rfc_section:9} {row.error:28}"
        print(f"{cells} {row.messages:8} {row.detected:8} {row.deliveries:10}")


def assert_clean(ledger: TamperLedger) -> None:
    bad = ledger.failures[:10]
    assert not bad, "\n".join(
        f"{d.tamper}: expected {d.rule.error.__name__} (§{d.rule.rfc_section}), got "
        f"{d.raised.__name__ if d.raised else 'ACCEPTED'} {d.reason!r}, state unchanged={d.state_unchanged}"
        for d in bad
    )
    for row in ledger.rows():
        if row.rule != "insider":
            assert row.detected == row.messages, row


# ---- the 1,000 tampered messages -------------------------------------------------------------------


def test_a_thousand_tampered_messages_are_all_rejected_where_the_rfc_says() -> None:
    """Model suite 1: a 12-member group with PublicMessage handshakes and the ratchet tree in its
    Welcomes (700 tampered messages), and an 8-member group with PrivateMessage handshakes whose
    joiners fetch the tree from the DS (300)."""
    suite = get_suite(1, "model")
    ledger = TamperLedger()
    public = run(make_arena(suite, seed=11, size=12, budget=700, ledger=ledger))
    private = run(
        make_arena(
            suite,
            seed=12,
            size=8,
            budget=300,
            ledger=ledger,
            wire_format=WireFormat.PRIVATE_MESSAGE,
            tree_from_ds=True,
            weights=(4, 1, 3, 3),  # more joins: the tree the DS serves is tampered with at each
        )
    )
    print_ledger(ledger, "model suite 1, 1,000 tampered messages")
    assert public.made + private.made == sum(ledger.by_tamper().values()) == 1000
    assert_clean(ledger)
    assert set(ledger.by_tamper()) == {t.name for t in CATALOGUE}, "every alteration was tried"
    assert set(ledger.summary()) == set(RULES), "every rule caught something"
    assert ledger.by_tamper()["private.content+encrypt"] > 0  # and no genuine message was lost


def test_real_suite_1_sample() -> None:
    """Real suite 1 (X25519, AES-128-GCM, SHA-256, Ed25519): 50 tampered messages."""
    ledger = TamperLedger()
    arena = run(make_arena(get_suite(1), seed=21, size=5, budget=50, ledger=ledger, tree_from_ds=True))
    print_ledger(ledger, "real suite 1, 50 tampered messages")
    assert arena.made == 50
    assert_clean(ledger)


# ---- focused cases -----------------------------------------------------------------------------------


def small_arena(size: int = 5, **kw: object) -> Arena:
    return make_arena(get_suite(1, "model"), seed=31, size=size, budget=10**6, ledger=TamperLedger(), **kw)  # type: ignore[arg-type]


def test_an_as_issued_insider_is_admitted_and_undetectable_by_mls() -> None:
    """§16.10: a compromised AS vouches for the adversary's key as a new device of ``m2``; its
    KeyPackage is valid, every member processes the Add, and the device joins and reads. Without
    the AS's word the same kind of KeyPackage is rejected (§5.3.1)."""
    a = small_arena()
    h = a.h
    unvouched = issue_insider(h.suite, Directory(), b"m2", h.rand)  # vouched by another AS only
    with pytest.raises(CredentialError):
        h.members["m0"].commit(h.rand, adds=[unvouched.bundle.key_package])

    insider = issue_insider(h.suite, a.directory, b"m2", h.rand)
    assert not insider.detectable_by_mls
    before = {n: member_snapshot(g) for n, g in h.members.items()}
    staged = h.members["m0"].commit(h.rand, adds=[insider.bundle.key_package])
    for name, g in h.members.items():
        res = g.process(roundtrip(staged.message))
        assert isinstance(res, CommitApplied) and len(res.added) == 1, name
        assert member_snapshot(g) != before[name]
    assert staged.welcome is not None
    welcome = roundtrip(staged.welcome).body
    mallory = Group.join(
        h.suite,
        welcome,  # type: ignore[arg-type]
        key_package=insider.bundle.key_package,
        init_priv=insider.bundle.init_priv,
        encryption_priv=insider.bundle.encryption_priv,
        identity=insider.identity,
        config=h.config,
    )
    assert mallory.epoch_authenticator == h.members["m0"].epoch_authenticator
    secret = h.members["m1"].encrypt_application(b"for the group only", h.rand)
    res = mallory.process(roundtrip(secret))
    assert isinstance(res, ApplicationMessage) and res.data == b"for the group only"

    a.ledger.record_insider()
    assert a.ledger.summary() == {"insider": 0}
    assert a.ledger.undetectable() == {"insider": 1}
    assert a.ledger.rows()[-1].error == "none: undetectable by MLS"


def test_a_replayed_public_proposal_is_accepted_and_changes_nothing() -> None:
    """Not in the catalogue: a PublicMessage carries no replay protection within its epoch (only
    PrivateMessage has the ratchet). The replayed proposal has the same ProposalRef, so the
    receiver caches the same entry again: nothing changes."""
    a = small_arena()
    h = a.h
    msg = h.members["m1"].propose_update(h.rand)
    h.broadcast(msg, "m1")
    before = member_snapshot(h.members["m2"])
    res = h.members["m2"].process(roundtrip(msg))
    assert isinstance(res, ProposalReceived)
    assert member_snapshot(h.members["m2"]) == before


def test_capabilities_gate_the_catalogue() -> None:
    """A DS alone gets only wire alterations; keys it does not hold open no entry."""
    a = small_arena()
    h = a.h
    msg = h.members["m1"].commit(h.rand).message
    bare = Wire(suite=h.suite, message=msg, public=h.members["m2"].public, sender=1)
    assert {t.capability for t in applicable(bare)} == {Capability.WIRE}
    keyed = Wire(
        suite=h.suite,
        message=msg,
        public=h.members["m2"].public,
        sender=1,
        keys=StolenKeys(
            epoch=h.members["m2"].secrets, signature_priv=h.members["m1"].identity.signature_priv
        ),
    )
    assert {t.capability for t in applicable(keyed)} == {
        Capability.WIRE,
        Capability.EPOCH_KEYS,
        Capability.SIGNER,
    }
    assert {t.name for t in applicable(keyed, capabilities=[Capability.WIRE])} == {
        t.name for t in applicable(bare)
    }
    assert tamper_named("public.path-parent-key+sign").kinds == frozenset({Kind.PUBLIC_COMMIT})


def test_the_security_model_doc_lists_every_alteration() -> None:
    """docs/security-model.md, section "Tampering": one table row per catalogue entry with its
    rule, RFC section and error class."""
    text = DOC.read_text()
    section = text[text.index("## Tampering") :]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z-]+\.[a-z.+-]+)` \|.*$", section, re.M)}
    assert set(rows) == {t.name for t in CATALOGUE}
    for t in CATALOGUE:
        row = rows[t.name]
        assert f"§{t.rule.rfc_section}" in row and t.rule.error.__name__ in row and t.rule.name in row, row
