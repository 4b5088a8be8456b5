"""Property tests of the group state machine (RFC 9420 §12) and of message integrity (§6).

1. :class:`GroupMachine` drives a harness group through random sequences of adds, updates,
   removes, empty commits, external joins and resyncs, application messages, proposals by
   reference committed later, and two commits racing in one epoch. After every step every
   member agrees on epoch, tree hash, epoch authenticator and an exported secret (the
   harness check), each member's private path keys fit the public tree (§4.2 tree
   invariant), and all hold the same proposal cache. Run for suite 1 (real and model) and
   both handshake wire formats.
2. A message altered in any one byte is rejected — by decoding (``DecodeError``) or by
   processing (an ``MLSError``) — and leaves the receiver's state as it was; the original
   is then accepted (an altered application message must not burn the real one's key).

The default run stays well under a minute; ``pytest -m slow`` runs many more examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import DecodeError, LocalProtocolError, MLSError, RemoteProtocolError
from mlssim.mls.group import (
    ApplicationMessage,
    EpochCache,
    Group,
    GroupConfig,
    ProposalReceived,
    StagedCommit,
    WrongEpochError,
    WrongGroupError,
)
from mlssim.mls.leaf_nodes import DuplicateSignatureKeyError
from mlssim.mls.messages import MLSMessage, WireFormat
from mlssim.mls.messages.enums import ContentType
from mlssim.mls.messages.framing import PrivateMessage
from mlssim.mls.proposal_list import InvalidProposalListError
from mlssim.mls.protect import ContentDecryptionError, InvalidMembershipTagError, SenderDataError
from mlssim.mls.secret_tree import GenerationTooOldError, KeyConsumedError
from mlssim.mls.tree_validation import parent_hash_valid

from .group_harness import Client, Harness, fresh_key_package, roundtrip

PUBLIC = WireFormat.PUBLIC_MESSAGE
PRIVATE = WireFormat.PRIVATE_MESSAGE
MAX_MEMBERS = 40
MAX_PENDING = 5

#: Bugs reported to the lead whose minimal reproducers below are xfail(strict=True). While a bug
#: is listed here the state machine steers around it (so that it can find others); remove the
#: entry together with the xfail mark once the bug is fixed.
KNOWN_BUGS: set[str] = set()


# ---- 1. the group state machine ------------------------------------------------------------


@dataclass
class Pending:
    """A proposal sent in the current epoch and not yet committed."""

    kind: str  # "add" | "remove" | "update"
    proposer: str
    proposer_leaf: int
    ref: bytes
    target: int | None = None  # the leaf a Remove removes
    client: str | None = None  # the client an Add adds
    bundle: Client | None = None  # with the KeyPackage this Add carries


@dataclass
class InFlight:
    """An application message sent in ``epoch`` and not yet delivered to ``receivers``
    (the member objects of that epoch: a resynced member is a new object)."""

    sender: str
    sender_leaf: int
    epoch: int
    data: bytes
    payload: bytes
    receivers: dict[str, Group]
    sender_group: Group


def rejection(name: str, g: Group, m: InFlight, msg: MLSMessage) -> type[MLSError]:
    """The error member ``name`` (object ``g``) raises for ``msg``, a copy of the held-back
    ``m`` (maybe with one byte altered) that it must reject. The checks run in the order of
    §6.3: the group, then the epoch (a past one only for an application message whose epoch
    ``g`` retains), then the sender data (its AAD binds epoch and content type, its key the
    ciphertext's sample), then the sender's generation (``g``'s own ratchet is past its own
    message; a receiver used the key of the unaltered message already), then the content."""
    if msg.wire_format != PRIVATE:
        # an altered wire_format that still decodes: a body a member does not process, or a
        # PublicMessage made of a PrivateMessage's bytes (rejected, the class not modelled)
        return RemoteProtocolError if msg.wire_format == PUBLIC else LocalProtocolError
    was, now = decode(MLSMessage, m.data).body, msg.body
    assert isinstance(was, PrivateMessage) and isinstance(now, PrivateMessage)
    if now.group_id != was.group_id:
        return WrongGroupError
    retained = now.content_type == ContentType.APPLICATION and now.epoch in g.retained_epochs
    if now.epoch != g.epoch and not retained:
        return WrongEpochError
    sample = g.suite.info.hash_len  # §6.3.2: the sender-data key comes from the first Nh bytes
    if (now.epoch, now.content_type, now.encrypted_sender_data, now.ciphertext[:sample]) != (
        was.epoch,
        was.content_type,
        was.encrypted_sender_data,
        was.ciphertext[:sample],
    ):
        return SenderDataError
    if g is m.sender_group:
        return GenerationTooOldError
    if m.receivers.get(name) is not g:
        # g keeps a handle for the epoch without being sent the message: an external joiner
        # keeps its pre-join handle of the old epoch, which carries the new epoch's secrets
        return SenderDataError
    return KeyConsumedError if now == was else ContentDecryptionError


@dataclass
class Expected:
    added: int = 0
    removed: set[int] = field(default_factory=set)
    updated: set[int] = field(default_factory=set)


def expected_effect(pending: Iterable[Pending], committer_leaf: int) -> Expected:
    """What committing ``pending`` by reference does: a committer leaves out its own Update and
    a Remove of itself; of several Updates/Removes for one leaf a Remove wins (§12.2, §12.4)."""
    pending = list(pending)
    out = Expected(added=len({p.client for p in pending if p.kind == "add"}))
    out.removed = {p.target for p in pending if p.kind == "remove" and p.target != committer_leaf}  # type: ignore[misc]
    out.updated = {
        p.proposer_leaf
        for p in pending
        if p.kind == "update" and p.proposer_leaf != committer_leaf and p.proposer_leaf not in out.removed
    }
    return out


def check_effect(staged: StagedCommit, want: Expected) -> None:
    assert len(staged.added) == want.added, (staged.added, want)
    assert set(map(int, staged.removed)) == want.removed, (staged.removed, want)
    assert set(map(int, staged.updated)) == want.updated, (staged.updated, want)


class GroupMachine(RuleBasedStateMachine):
    """One group of harness members; every rule is one step of the group's life."""

    def __init__(self, family: str, wire_format: WireFormat, max_initial: int) -> None:
        super().__init__()
        self.family = family
        self.wire_format = wire_format
        self.max_initial = max_initial
        self.h: Harness | None = None
        self.pending: list[Pending] = []
        self.in_flight: list[InFlight] = []
        self.tree_out_of_band = False
        self.keep_past_epochs = 1

    # -- helpers ---------------------------------------------------------------------------

    @property
    def harness(self) -> Harness:
        assert self.h is not None
        return self.h

    def pick(self, data: st.DataObject, label: str, exclude: Iterable[str] = ()) -> str:
        ex = set(exclude)
        return data.draw(st.sampled_from(sorted(n for n in self.harness.members if n not in ex)), label=label)

    def leaf(self, name: str) -> int:
        return int(self.harness.members[name].leaf_index)

    @property
    def epoch(self) -> int:
        return next(iter(self.harness.members.values())).epoch

    def room(self) -> int:
        return MAX_MEMBERS - len(self.harness.members) - len(self.pending_clients())

    def touched(self) -> set[int]:
        """Leaves with a pending Update or Remove: a Remove by value of them would conflict (§12.2)."""
        out = {p.proposer_leaf for p in self.pending if p.kind == "update"}
        out |= {p.target for p in self.pending if p.kind == "remove" and p.target is not None}
        return out

    def path_required_pending(self) -> bool:
        return any(p.kind != "add" for p in self.pending)

    def deliver(self, staged: StagedCommit, committer: str) -> None:
        h = self.harness
        # of several pending Adds of one client the committer chose one: that KeyPackage joins
        for leaf in staged.added:
            node = staged.ratchet_tree.leaf(leaf)
            for p in self.pending:
                if p.bundle is not None and p.bundle.bundle.key_package.leaf_node == node:
                    h.clients[p.bundle.name] = p.bundle
        h.deliver(staged, committer, tree_out_of_band=self.tree_out_of_band)
        self.pending.clear()

    def log(self, text: str) -> None:
        note(f"[epoch {self.epoch}] {text}")

    def new_key_package(self) -> tuple[str, object]:
        h = self.harness
        name = h.fresh_name()
        return name, h.clients[name].bundle.key_package

    # -- setup -----------------------------------------------------------------------------

    @initialize(
        seed=st.integers(0, 2**16),
        tree_in_welcome=st.booleans(),
        shared_cache=st.booleans(),
        data=st.data(),
    )
    def setup(self, seed: int, tree_in_welcome: bool, shared_cache: bool, data: st.DataObject) -> None:
        size = data.draw(st.integers(1, self.max_initial), label="initial size")
        self.keep_past_epochs = data.draw(st.sampled_from([1, 0, 2]), label="keep_past_epochs")
        config = GroupConfig(
            handshake_wire_format=self.wire_format,
            ratchet_tree_in_welcome=tree_in_welcome,
            epoch_cache=EpochCache() if shared_cache else None,
            keep_past_epochs=self.keep_past_epochs,
            padding=data.draw(st.sampled_from([0, 5, 64]), label="padding"),
        )
        self.h = Harness(get_suite(1, self.family), seed=seed, config=config)
        self.tree_out_of_band = not tree_in_welcome
        self.h.create("m0")
        if size > 1:
            kps = [self.new_key_package()[1] for _ in range(size - 1)]
            self.deliver(self.h.members["m0"].commit(self.h.rand, adds=kps), "m0")  # type: ignore[arg-type]
        note(f"setup: {size} members, {self.wire_format.name}, tree_in_welcome={tree_in_welcome}")

    # -- commits by value ------------------------------------------------------------------

    @precondition(lambda self: self.h is not None and self.room() >= 1)
    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        h = self.harness
        committer = self.pick(data, "committer")
        k = data.draw(st.integers(1, min(3, self.room())), label="how many")
        paths = [None, True] if self.path_required_pending() else [None, True, False]
        path = data.draw(st.sampled_from(paths), label="path")
        kps = [self.new_key_package()[1] for _ in range(k)]
        self.log(f"{committer} adds {k} (path={path}), {len(self.pending)} pending")
        want = expected_effect(self.pending, self.leaf(committer))
        want.added += k
        staged = h.members[committer].commit(h.rand, adds=kps, path=path)  # type: ignore[arg-type]
        check_effect(staged, want)
        assert staged.with_path == (path is not False)
        self.deliver(staged, committer)

    @precondition(lambda self: self.h is not None and self.room() >= 1)
    @rule(data=st.data())
    def readd(self, data: st.DataObject) -> None:
        """A client with the same signature key comes back with a fresh KeyPackage: a removed
        client, or a member removed and re-added in one commit (§12.2 allows an Add of a
        client whose leaf the same commit removes)."""
        h = self.harness
        gone = sorted(n for n in h.clients if n not in h.members and n not in self.pending_clients())
        busy = self.touched()
        current = sorted(n for n in h.members if self.leaf(n) not in busy)
        choices = [("removed", n) for n in gone]
        if len(h.members) >= 2:
            choices += [("current", n) for n in current]
        if not choices:
            return
        kind, who = data.draw(st.sampled_from(choices), label="comes back")
        committer = self.pick(data, "committer", exclude=[who])
        h.clients[who] = fresh_key_package(h.suite, h.clients[who], h.rand)
        kp = h.clients[who].bundle.key_package
        want = expected_effect(self.pending, self.leaf(committer))
        want.added += 1
        removes = []
        if kind == "current":
            removes = [self.leaf(who)]
            want.removed.add(self.leaf(who))
        self.log(f"{committer} re-adds {kind} client {who}")
        staged = h.members[committer].commit(h.rand, adds=[kp], removes=removes)
        check_effect(staged, want)
        old = h.members.get(who)
        self.deliver(staged, committer)
        assert who in h.members and h.members[who] is not old

    def pending_clients(self) -> set[str]:
        return {p.client for p in self.pending if p.client is not None}

    @precondition(lambda self: self.h is not None and len(self.h.members) >= 2)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        h = self.harness
        committer = self.pick(data, "committer")
        busy = self.touched()
        targets = sorted(n for n in h.members if n != committer and self.leaf(n) not in busy)
        if not targets:
            return
        k = data.draw(st.integers(1, min(3, len(targets))), label="how many")
        removed = data.draw(st.permutations(targets), label="removed")[:k]
        leaves = [self.leaf(n) for n in removed]
        path = data.draw(st.sampled_from([None, True]), label="path")
        g = h.members[committer]
        before = h.snapshot(committer)
        with pytest.raises(LocalProtocolError, match="these proposals require an UpdatePath"):
            g.commit(h.rand, removes=leaves, path=False)  # §12.4: a Remove needs a path
        assert h.snapshot(committer) == before
        self.log(f"{committer} removes {removed} (path={path}), {len(self.pending)} pending")
        want = expected_effect(self.pending, self.leaf(committer))
        want.removed |= set(leaves)
        want.updated -= set(leaves)
        staged = g.commit(h.rand, removes=leaves, path=path)
        check_effect(staged, want)
        self.deliver(staged, committer)
        assert not set(removed) & set(h.members)

    @precondition(lambda self: self.h is not None)
    @rule(data=st.data())
    def empty_commit(self, data: st.DataObject) -> None:
        h = self.harness
        committer = self.pick(data, "committer")
        g = h.members[committer]
        if not self.pending:
            before = h.snapshot(committer)
            with pytest.raises(LocalProtocolError, match="these proposals require an UpdatePath"):
                g.commit(h.rand, path=False)  # §12.4: an empty commit needs a path
            assert h.snapshot(committer) == before
        path = data.draw(st.sampled_from([None, True]), label="path")
        self.log(f"{committer} commits (path={path}), {len(self.pending)} pending")
        staged = g.commit(h.rand, path=path)
        check_effect(staged, expected_effect(self.pending, self.leaf(committer)))
        self.deliver(staged, committer)

    # -- proposals -------------------------------------------------------------------------

    @precondition(lambda self: self.h is not None and len(self.h.members) >= 2)
    @rule(data=st.data())
    def update(self, data: st.DataObject) -> None:
        """One member proposes an Update; another commits it (with whatever else is pending)."""
        h = self.harness
        updater = self.pick(data, "updater")
        committer = self.pick(data, "committer", exclude=[updater])
        self.propose_and_broadcast(updater, "update")
        path = data.draw(st.sampled_from([None, True]), label="path")
        self.log(f"{updater} proposes an update, {committer} commits (path={path})")
        want = expected_effect(self.pending, self.leaf(committer))
        old_key = h.members[updater].tree.leaf(self.leaf(updater)).encryption_key  # type: ignore[union-attr]
        staged = h.members[committer].commit(h.rand, path=path)
        check_effect(staged, want)
        self.deliver(staged, committer)
        if updater in h.members:
            assert h.members[updater].tree.leaf(self.leaf(updater)).encryption_key != old_key  # type: ignore[union-attr]

    def propose_and_broadcast(
        self, proposer: str, kind: str, target: int | None = None, client: str | None = None
    ) -> Pending:
        h = self.harness
        g = h.members[proposer]
        bundle = None
        if kind in ("add", "add-again"):
            if kind == "add":
                client = h.fresh_name()
            else:  # another KeyPackage of a client with a pending Add (§12.2: the committer picks one)
                client = client or sorted(self.pending_clients())[0]
                h.clients[client] = fresh_key_package(h.suite, h.clients[client], h.rand)
            bundle = h.clients[client]
            msg = g.propose_add(bundle.bundle.key_package, h.rand)
            kind = "add"
        elif kind == "remove":
            assert target is not None
            msg = g.propose_remove(target, h.rand)
        else:
            msg = g.propose_update(h.rand)
        assert msg.wire_format == self.wire_format
        results = h.broadcast(msg, proposer)
        refs = {r.ref for r in results.values() if isinstance(r, ProposalReceived)}
        assert len(refs) <= 1 and all(isinstance(r, ProposalReceived) for r in results.values()), results
        new = set(g.pending_proposals) - {p.ref for p in self.pending}
        if not new:  # the very same proposal again (same content and signature): the same ref
            assert kind == "remove"
            same = [p for p in self.pending if (p.kind, p.proposer, p.target) == (kind, proposer, target)]
            assert len(same) == 1 and refs <= {same[0].ref}
            return same[0]
        (ref,) = new
        assert refs <= {ref}
        p = Pending(kind, proposer, self.leaf(proposer), ref, target=target, client=client, bundle=bundle)
        self.pending.append(p)
        return p

    @precondition(lambda self: self.h is not None and len(self.pending) < MAX_PENDING)
    @rule(data=st.data())
    def propose(self, data: st.DataObject) -> None:
        """A proposal that stays pending until some later commit."""
        proposer = self.pick(data, "proposer")
        kinds = ["remove", "update"] + (["add"] if self.room() >= 1 else [])
        if self.pending_clients():
            kinds.append("add-again")
        kind = data.draw(st.sampled_from(kinds), label="kind")
        target = None
        if kind == "remove":
            target = self.leaf(self.pick(data, "target"))
        self.log(f"{proposer} proposes {kind} {'' if target is None else target}")
        self.propose_and_broadcast(proposer, kind, target)

    @precondition(
        lambda self: self.h is not None and len(self.pending) < MAX_PENDING - 1 and self.room() >= 1
    )
    @rule(data=st.data())
    def propose_add_twice(self, data: st.DataObject) -> None:
        """Two members propose Adds of one new client, with two KeyPackages (§12.2)."""
        first = self.pick(data, "first proposer")
        second = self.pick(data, "second proposer")
        p = self.propose_and_broadcast(first, "add")
        self.log(f"{first} and {second} propose adding {p.client}")
        self.propose_and_broadcast(second, "add-again", client=p.client)

    @precondition(lambda self: self.h is not None and bool(self.pending))
    @rule(data=st.data())
    def commit_pending(self, data: st.DataObject) -> None:
        """A member commits pending proposals by reference: all of them, or a valid subset."""
        h = self.harness
        committer = self.pick(data, "committer")
        me = self.leaf(committer)
        subset = data.draw(st.booleans(), label="explicit subset")
        chosen = self.pending
        references = None
        if subset:
            # a valid subset: at most one Update/Remove per leaf, none of the committer's own,
            # at most one Add per client (§12.2: of several, the committer chooses one)
            ok: list[Pending] = []
            leaves: set[int] = set()
            clients: set[str] = set()
            second_adds: list[Pending] = []
            for p in data.draw(st.permutations(self.pending), label="order"):
                leaf = p.target if p.kind == "remove" else p.proposer_leaf
                if p.kind != "add" and (leaf == me or leaf in leaves):
                    continue
                if p.kind == "add" and p.client in clients:
                    second_adds.append(p)
                    continue
                if p.kind != "add":
                    leaves.add(leaf)  # type: ignore[arg-type]
                else:
                    clients.add(p.client)  # type: ignore[arg-type]
                ok.append(p)
            k = data.draw(st.integers(0, len(ok)), label="subset size")
            chosen = ok[:k]
            references = [p.ref for p in chosen]
            both = [p for p in second_adds if p.client in {c.client for c in chosen}]
            if both and data.draw(st.booleans(), label="try both Adds of one client"):
                before = h.snapshot(committer)
                with pytest.raises(InvalidProposalListError, match="two Adds for the same client"):  # §12.2
                    h.members[committer].commit(h.rand, references=[*references, both[0].ref])
                assert h.snapshot(committer) == before
        adds_only = all(p.kind == "add" for p in chosen) and bool(chosen)
        path = data.draw(st.sampled_from([None, True, False] if adds_only else [None, True]), label="path")
        self.log(f"{committer} commits {len(chosen)}/{len(self.pending)} pending (path={path})")
        want = expected_effect(chosen, me)
        staged = h.members[committer].commit(h.rand, references=references, path=path)
        check_effect(staged, want)
        self.deliver(staged, committer)

    # -- external joins --------------------------------------------------------------------

    @precondition(lambda self: self.h is not None and self.room() >= 1)
    @rule(data=st.data(), with_tree=st.booleans(), via_process=st.booleans())
    def external_join(self, data: st.DataObject, with_tree: bool, via_process: bool) -> None:
        h = self.harness
        via = self.pick(data, "group info from")
        name = h.fresh_name()
        self.log(f"{name} joins externally via {via} (with_tree={with_tree})")
        h.external_join(name, via, with_tree=with_tree, via_process=via_process)
        self.pending.clear()

    @precondition(lambda self: self.h is not None)
    @rule(data=st.data(), with_tree=st.booleans(), via_process=st.booleans())
    def resync(self, data: st.DataObject, with_tree: bool, via_process: bool) -> None:
        h = self.harness
        who = self.pick(data, "resyncing member")
        via = self.pick(data, "group info from")
        old_leaf = self.leaf(who)
        self.log(f"{who} (leaf {old_leaf}) resyncs via {via} (with_tree={with_tree})")
        h.external_join(who, via, resync=True, with_tree=with_tree, via_process=via_process)
        self.pending.clear()

    # -- application data ------------------------------------------------------------------

    @precondition(lambda self: self.h is not None)
    @rule(data=st.data())
    def application(self, data: st.DataObject) -> None:
        h = self.harness
        sender = self.pick(data, "sender")
        g = h.members[sender]
        if self.pending:
            with pytest.raises(LocalProtocolError, match="pending proposals must be committed"):  # §12.4
                g.encrypt_application(b"too early", h.rand)
            return
        k = data.draw(st.integers(1, 3), label="messages")
        payloads = [f"{sender} says {i} in epoch {g.epoch}".encode() for i in range(k)]
        msgs = [
            encode(g.encrypt_application(p, h.rand, authenticated_data=bytes([i])))
            for i, p in enumerate(payloads)
        ]
        order = data.draw(st.permutations(range(k)), label="delivery order")
        self.log(f"{sender} sends {k} application messages, delivered in order {order}")
        for name, r in h.members.items():
            if name == sender:
                continue
            for i in order:
                res = r.process(decode(MLSMessage, msgs[i]))
                assert isinstance(res, ApplicationMessage)
                assert (res.data, int(res.sender), res.authenticated_data) == (
                    payloads[i],
                    g.leaf_index,
                    bytes([i]),
                )
        # a replay and the sender's own message are rejected without a trace
        for name in sorted(h.members):
            before = h.snapshot(name)
            # the sender's own ratchet is past the message's generation; a receiver used its key
            with pytest.raises(GenerationTooOldError if name == sender else KeyConsumedError):
                h.members[name].process(decode(MLSMessage, msgs[order[0]]))
            assert h.snapshot(name) == before

    @precondition(lambda self: self.h is not None and not self.pending and len(self.in_flight) < 4)
    @rule(data=st.data())
    def send_late(self, data: st.DataObject) -> None:
        """An application message that the network holds back until some later step."""
        h = self.harness
        sender = self.pick(data, "sender")
        g = h.members[sender]
        payload = f"late from {sender} in epoch {g.epoch}".encode()
        msg = encode(g.encrypt_application(payload, h.rand))
        receivers = {n: r for n, r in h.members.items() if n != sender}
        self.log(f"{sender} sends a message that is held back")
        self.in_flight.append(InFlight(sender, self.leaf(sender), g.epoch, msg, payload, receivers, g))

    @precondition(lambda self: self.h is not None and bool(self.in_flight))
    @rule(data=st.data())
    def deliver_late(self, data: st.DataObject) -> None:
        """A held-back message arrives, first as an altered copy: members of its epoch that
        keep that epoch's secret tree (GroupConfig.keep_past_epochs) decrypt it once; everyone
        else, and any replay or altered copy, is rejected without a state change."""
        i = data.draw(st.integers(0, len(self.in_flight) - 1), label="which held-back message")
        m = self.in_flight.pop(i)
        pos = data.draw(st.integers(0, len(m.data) - 1), label="altered byte")
        mask = data.draw(st.integers(1, 255), label="mask")
        self.arrive(m, pos, mask)

    def teardown(self) -> None:
        """Whatever the network still holds arrives at the end."""
        if self.h is not None:
            for m in self.in_flight:
                self.arrive(m, len(m.data) // 2, 0x10)

    def arrive(self, m: InFlight, pos: int, mask: int) -> None:
        h = self.harness
        age = self.epoch - m.epoch
        self.log(f"{m.sender}'s message of epoch {m.epoch} arrives {age} epochs late")
        for name in sorted(h.members):
            g = h.members[name]
            before = h.snapshot(name)
            try:
                bad = decode(MLSMessage, flip(m.data, pos, mask))
            except DecodeError:
                pass
            else:
                want = rejection(name, g, m, bad)
                with pytest.raises(want) as ei:
                    g.process(bad)
                assert ei.type is want or want is RemoteProtocolError, (ei.type, want)
                assert h.snapshot(name) == before
            if m.receivers.get(name) is g and age <= self.keep_past_epochs:
                res = g.process(decode(MLSMessage, m.data))
                assert isinstance(res, ApplicationMessage), res
                assert (res.data, int(res.sender), res.epoch) == (m.payload, m.sender_leaf, m.epoch)
                assert h.snapshot(name) == before
            msg = decode(MLSMessage, m.data)
            want = rejection(name, g, m, msg)  # not a receiver, too late, or a replay
            with pytest.raises(want) as ei:
                g.process(msg)
            assert ei.type is want, (ei.type, want)
            assert h.snapshot(name) == before

    # -- two commits in one epoch ----------------------------------------------------------

    def stage_one(
        self, data: st.DataObject, label: str, busy: set[str]
    ) -> tuple[str, Group | None, StagedCommit]:
        """A commit by a member not in ``busy``, or an external join; (name, joiner, staged)."""
        h = self.harness
        free = [n for n in h.members if n not in busy]
        kinds = ["empty"] + (["remove"] if len(h.members) >= 2 else [])
        if self.room() >= 2:
            kinds += ["add", "external"]
        if not free:
            kinds = [k for k in kinds if k == "external"]
        kind = data.draw(st.sampled_from(kinds), label=f"{label} kind")
        if kind == "external":
            via = self.pick(data, f"{label} group info from")
            name = h.fresh_name()
            joiner, staged = h.stage_external_join(name, via, with_tree=True)
            self.log(f"  {label}: {name} joins externally")
            return name, joiner, staged
        committer = data.draw(st.sampled_from(sorted(free)), label=f"{label} committer")
        g = h.members[committer]
        want = expected_effect(self.pending, self.leaf(committer))
        if kind == "add":
            kp = self.new_key_package()[1]
            path = data.draw(st.sampled_from([None] if self.path_required_pending() else [None, False]))
            staged = g.commit(h.rand, adds=[kp], path=path)  # type: ignore[list-item]
            want.added += 1
        elif kind == "remove":
            targets = sorted(n for n in h.members if n != committer and self.leaf(n) not in self.touched())
            if not targets:
                staged = g.commit(h.rand)
            else:
                target = data.draw(st.sampled_from(targets), label=f"{label} removes")
                staged = g.commit(h.rand, removes=[self.leaf(target)])
                want.removed.add(self.leaf(target))
                want.updated.discard(self.leaf(target))
        else:
            staged = g.commit(h.rand)
        check_effect(staged, want)
        self.log(f"  {label}: {committer} stages {kind}")
        return committer, None, staged

    def two_committers_possible(self) -> bool:
        return len(self.harness.members) >= 2 or self.room() >= 2

    @precondition(lambda self: self.h is not None and self.two_committers_possible())
    @rule(data=st.data())
    def concurrent_commits(self, data: st.DataObject) -> None:
        """Two commits in one epoch; the DS takes one, the other committer discards, and the
        stale commit is then rejected by everyone (§12.4: one commit per epoch)."""
        h = self.harness
        self.log("two commits race")
        a = self.stage_one(data, "first", set())
        b = self.stage_one(data, "second", {a[0]})
        win, lose = (a, b) if data.draw(st.booleans(), label="first wins") else (b, a)
        discard = data.draw(st.booleans(), label="loser discards explicitly")
        if lose[1] is None and discard:
            h.members[lose[0]].discard(lose[2])
        self.log(f"  {win[0]} wins, {lose[0]} loses (explicit discard: {discard})")
        if win[1] is None:
            self.deliver(win[2], win[0])
        else:
            h.deliver_external(win[0], win[1], win[2], via_process=False)
            self.pending.clear()
        if lose[1] is None and lose[0] in h.members:
            before = h.snapshot(lose[0])
            with pytest.raises(
                LocalProtocolError, match="this staged commit does not follow the current epoch"
            ):
                h.members[lose[0]].merge(lose[2])
            assert h.snapshot(lose[0]) == before
        stale = encode(lose[2].message)
        for name in sorted(h.members):
            before = h.snapshot(name)
            with pytest.raises(WrongEpochError):
                h.members[name].process(decode(MLSMessage, stale))
            assert h.snapshot(name) == before, name
        if lose[1] is not None:  # a losing joiner cannot go ahead
            if win[1] is not None:
                # both joined externally into the same new leaf: the winner's commit carries
                # an UpdatePath from the loser's own leaf, which it does not process (§12.4.2)
                want: type[MLSError] = LocalProtocolError
            else:  # a member's commit of an epoch whose keys the loser does not hold
                want = InvalidMembershipTagError if self.wire_format == PUBLIC else SenderDataError
            with pytest.raises(want) as ei:
                lose[1].process(roundtrip(win[2].message))
            assert ei.type is want, (ei.type, want)

    # -- after every step --------------------------------------------------------------------

    @invariant()
    def members_agree(self) -> None:
        if self.h is None:
            return
        h = self.h
        h.check()  # epoch, tree hash, epoch authenticator, exporter; tree leaves == members
        h.check_private()
        assert 1 <= len(h.members) <= MAX_MEMBERS
        caches = {frozenset(g.pending_proposals) for g in h.members.values()}
        assert caches == {frozenset(p.ref for p in self.pending)}, "proposal caches differ"
        assert all(g.active for g in h.members.values())
        first = next(iter(h.members.values()))
        assert parent_hash_valid(first.tree)
        assert first.context.epoch == first.epoch


def machine_settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink, Phase.explain],
    )


MACHINE_CASES = [
    pytest.param("real", PUBLIC, 12, 10, 20, id="real-public"),
    pytest.param("real", PRIVATE, 12, 10, 20, id="real-private"),
    pytest.param("model", PUBLIC, 40, 25, 25, id="model-public"),
    pytest.param("model", PRIVATE, 40, 25, 25, id="model-private"),
]


def run_machine(family: str, wire: WireFormat, max_initial: int, examples: int, steps: int) -> None:
    run_state_machine_as_test(
        lambda: GroupMachine(family, wire, max_initial), settings=machine_settings(examples, steps)
    )


@pytest.mark.parametrize(("family", "wire", "max_initial", "examples", "steps"), MACHINE_CASES)
def test_group_state_machine(
    family: str, wire: WireFormat, max_initial: int, examples: int, steps: int
) -> None:
    run_machine(family, wire, max_initial, examples, steps)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "wire", "max_initial", "examples", "steps"), MACHINE_CASES)
def test_group_state_machine_slow(
    family: str, wire: WireFormat, max_initial: int, examples: int, steps: int
) -> None:
    run_machine(family, wire, max_initial, examples * 20, steps * 3)


# ---- 2. altered messages -----------------------------------------------------------------


def flip(data: bytes, pos: int, mask: int) -> bytes:
    out = bytearray(data)
    out[pos] ^= mask
    return bytes(out)


@dataclass
class Sample:
    """A message to alter, who receives the altered copies, and what to do with the original."""

    data: bytes
    receivers: list[str]
    then: Callable[[], None]
    #: (receiver, position) pairs exempt from the property, with the reason in the kind's docstring
    exempt: Callable[[str, int], bool] = lambda name, pos: False


def reject_altered(h: Harness, sample: Sample, alterations: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """Every alteration fails to decode or is rejected by every receiver, state unchanged.
    Returns how many failed to decode and how many were processed (and rejected)."""
    undecodable = rejected = 0
    for pos, mask in alterations:
        bad = flip(sample.data, pos, mask)
        try:
            msg = decode(MLSMessage, bad)
        except DecodeError:
            undecodable += 1
            continue
        assert encode(msg) == bad
        for name in sample.receivers:
            if sample.exempt(name, pos):
                continue
            before = h.snapshot(name)
            try:
                res = h.members[name].process(msg)
            except MLSError:
                pass
            else:
                raise AssertionError(
                    f"byte {pos} ^ {mask:#04x}: {name} accepted the altered message: {res!r}"
                )
            assert h.snapshot(name) == before, f"byte {pos} ^ {mask:#04x}: {name}'s state changed"
        rejected += 1
    return undecodable, rejected


def tamper_group(family: str, seed: int, size: int, wire: WireFormat) -> Harness:
    h = Harness(get_suite(1, family), seed=seed, config=GroupConfig(handshake_wire_format=wire))
    h.create("alice")
    h.add("alice", *[f"m{i}" for i in range(1, size)])
    return h


def commit_sample(h: Harness) -> Sample:
    """A commit with an Add, a Remove and a path; received by the removed member, another
    member and the committer itself (whose staged commit must survive)."""
    names = sorted(h.members)
    committer, removed, other = names[0], names[1], names[2]
    staged = h.members[committer].commit(
        h.rand, adds=[h.client(h.fresh_name()).bundle.key_package], removes=[h.members[removed].leaf_index]
    )
    return Sample(encode(staged.message), [removed, other, committer], lambda: h.deliver(staged, committer))


def commit_by_reference_sample(h: Harness) -> Sample:
    """A commit without path of an Add proposal by reference (a changed ref names nothing)."""
    names = sorted(h.members)
    h.broadcast(
        h.members[names[1]].propose_add(h.client(h.fresh_name()).bundle.key_package, h.rand), names[1]
    )
    staged = h.members[names[0]].commit(h.rand, path=False)
    assert len(staged.added) == 1 and not staged.with_path
    return Sample(encode(staged.message), names, lambda: h.deliver(staged, names[0]))


def external_commit_sample(h: Harness) -> Sample:
    """An external resync: a PublicMessage without membership tag, signed by the joiner's new key.

    Exempt: the resyncing member's old state, for the confirmation tag (the message's last
    Nh bytes). Nothing but the key schedule authenticates that tag in an external commit,
    and a removed member cannot run it: its leaf is blanked before the path is encrypted,
    so it never learns the commit secret (§12.4.2, §12.4.3.2). It learns it was removed
    from the signed content and stops; every other member rejects the altered tag.
    """
    names = sorted(h.members)
    joiner, staged = h.stage_external_join(names[1], names[0], resync=True)
    data = encode(staged.message)
    tag_start = len(data) - h.suite.info.hash_len
    assert data[tag_start:] == staged.authenticated_content.auth.confirmation_tag
    return Sample(
        data,
        names,
        lambda: h.deliver_external(names[1], joiner, staged, via_process=False),
        exempt=lambda name, pos: name == names[1] and pos >= tag_start,
    )


def proposal_sample(kind: str) -> Callable[[Harness], Sample]:
    def make(h: Harness) -> Sample:
        names = sorted(h.members)
        g = h.members[names[1]]
        if kind == "update":
            msg = g.propose_update(h.rand)
        elif kind == "add":
            msg = g.propose_add(h.client(h.fresh_name()).bundle.key_package, h.rand)
        else:
            msg = g.propose_remove(h.members[names[2]].leaf_index, h.rand)

        def then() -> None:
            res = h.broadcast(msg, names[1])
            assert all(isinstance(r, ProposalReceived) for r in res.values())
            staged = h.members[names[0]].commit(h.rand)
            assert len(staged.updated + staged.added + staged.removed) == 1
            h.deliver(staged, names[0])

        return Sample(encode(msg), [n for n in names if n != names[1]], then)

    return make


def application_sample(h: Harness) -> Sample:
    """The second of two application messages, altered before either is received: an altered
    copy whose sender data is intact ratchets past the first; both keys must survive."""
    names = sorted(h.members)
    g = h.members[names[1]]
    first = g.encrypt_application(b"first", h.rand)
    second = g.encrypt_application(b"second message", h.rand, authenticated_data=b"ad")
    receivers = [n for n in names if n != names[1]]

    def then() -> None:
        for name in receivers:
            for msg, want in ((second, b"second message"), (first, b"first")):
                res = h.members[name].process(roundtrip(msg))
                assert isinstance(res, ApplicationMessage) and res.data == want

    return Sample(encode(second), receivers, then)


KINDS: dict[str, tuple[Callable[[Harness], Sample], list[WireFormat]]] = {
    "commit": (commit_sample, [PUBLIC, PRIVATE]),
    "commit-by-ref": (commit_by_reference_sample, [PUBLIC, PRIVATE]),
    "external-commit": (external_commit_sample, [PUBLIC]),
    "proposal-update": (proposal_sample("update"), [PUBLIC, PRIVATE]),
    "proposal-add": (proposal_sample("add"), [PUBLIC, PRIVATE]),
    "proposal-remove": (proposal_sample("remove"), [PUBLIC, PRIVATE]),
    "application": (application_sample, [PRIVATE]),
}
TAMPER_CASES = [
    pytest.param(kind, wire, id=f"{kind}-{wire.name.split('_')[0].lower()}")
    for kind, (_, wires) in KINDS.items()
    for wire in wires
]


@pytest.mark.parametrize(("kind", "wire"), TAMPER_CASES)
def test_every_byte_altered_is_rejected(kind: str, wire: WireFormat) -> None:
    """Suite 1 (real): every byte position of the message, flipped in its low and high bit."""
    h = tamper_group("real", 7, 4, wire)
    sample = KINDS[kind][0](h)
    alterations = [(pos, mask) for pos in range(len(sample.data)) for mask in (0x01, 0x80)]
    undecodable, rejected = reject_altered(h, sample, alterations)
    assert undecodable + rejected == len(alterations) >= 200
    assert rejected > len(alterations) // 2  # most alterations get past decoding to the checks
    sample.then()  # the original still goes through, and everyone agrees after it
    h.check()


@pytest.mark.parametrize(("kind", "wire"), TAMPER_CASES)
@settings(max_examples=15, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_altered_message_is_rejected(kind: str, wire: WireFormat, data: st.DataObject) -> None:
    """Random groups (suite 1 model), random positions and bit masks."""
    size = data.draw(st.integers(3, 12), label="size")
    h = tamper_group("model", data.draw(st.integers(0, 2**16), label="seed"), size, wire)
    sample = KINDS[kind][0](h)
    n = len(sample.data)
    alterations = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 255)), min_size=1, max_size=30),
        label="alterations",
    )
    reject_altered(h, sample, alterations)
    sample.then()
    h.check()


# ---- minimal reproducers of reported bugs ----------------------------------------------------


@pytest.mark.parametrize("family", ["real", "model"])
def test_external_join_at_epoch_0(family: str) -> None:
    h = Harness(get_suite(1, family))
    h.create("alice")
    h.external_join("bob", "alice")  # §11: epoch 0 has a confirmation tag and interim hash


def test_two_add_proposals_of_one_client_can_be_committed() -> None:
    h = Harness(get_suite(1, "model"))
    h.create("alice")
    h.add("alice", "bob", "carol")
    first = h.client("dave")
    second = fresh_key_package(h.suite, first, h.rand)
    h.broadcast(h.members["alice"].propose_add(first.bundle.key_package, h.rand), "alice")
    h.broadcast(h.members["bob"].propose_add(second.bundle.key_package, h.rand), "bob")
    staged = h.members["carol"].commit(h.rand)  # §12.2: the committer chooses one of the two
    assert len(staged.added) == 1


def test_proposer_refuses_a_proposal_its_receivers_reject() -> None:
    """Either the proposer refuses the Add up front, or its proposal does not block it."""
    h = Harness(get_suite(1, "model"))
    h.create("alice")
    h.add("alice", "bob", "carol")
    bob_again = fresh_key_package(h.suite, h.client("bob"), h.rand)  # bob is a member
    alice = h.members["alice"]
    before = h.snapshot("alice")
    try:
        msg = alice.propose_add(bob_again.bundle.key_package, h.rand)
    except LocalProtocolError:
        assert h.snapshot("alice") == before
        return
    for name in ("bob", "carol"):
        with pytest.raises(DuplicateSignatureKeyError):  # §7.3
            h.members[name].process(roundtrip(msg))
    h.deliver(alice.commit(h.rand), "alice")  # raises InvalidProposalListError (§12.2)
