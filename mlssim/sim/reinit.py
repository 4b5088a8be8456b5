"""Re-initialisation in a run (RFC 9420 §11.2; ``groups[].reinit``, issue 20 item 5): the part
of the client adapter that drives a ReInit of ``mls.Group`` (the ReInit commit, ``Group.reinit``,
``Group.join(resumed_from=...)``), as ``sim/light_members.py`` drives ``LightGroup``, and the
summary's ``reinit`` section.

The steps, each a choice written down in ``docs/model.md`` ("Re-initialisation"):

1. At ``at`` a member free to act (``by``, else the first free one of the DS's record; polled
   every :data:`POLL_S` s until there is one) commits a ReInit alone (no pending proposals, no
   path: §12.2 forbids other proposals beside it) naming the new group ``<group>/reinit1`` in
   the new suite. The DS orders it like any commit; a collision is retried under the retry
   policy. Every member that applies it stops sending in the old group (§12.4.2).
2. The committer creates the new group, as §12.4.2 says it MUST: once its ReInit is merged it
   fetches a KeyPackage of the new suite for every other member of its tree (requester → DSs →
   the member's AS and back, like any fetch; the KeyPackage is assumed uploaded ahead of time,
   as for the run's own suite), builds the first commit (``Group.reinit``) and sends it to the
   orderer with its Welcome. Each member's credential comes with a new signature key of the
   new suite (its old one is of another suite).
3. When the DS has ordered that commit, it sends the Welcome (and the tree, when the Welcome
   lacks it) to every member, through mailboxes for those offline, and the group's workload
   moves to the new group (the old one's processes end). Each member joins with its old group
   as ``resumed_from``: it needs that group's ReInit epoch, so one whose ReInit commit or
   Welcome expired from its mailbox never joins (counted, not re-synced: the old group is over).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, cast

import simpy

from ..mls.codec import encode
from ..mls.crypto import CipherSuite, KeyPair, get_suite
from ..mls.errors import MLSError
from ..mls.group import Group, MemberIdentity, StagedCommit
from ..mls.key_packages import KeyPackageBundle, make_key_package
from ..mls.leaf_nodes import default_capabilities
from ..mls.light_group import LightGroup
from ..mls.messages import KeyPackage, MLSMessage, Welcome
from ..mls.messages.proposals import ReInit
from ..mls.messages.welcome import first_new_member
from ..scenario.schema import ReinitSpec
from . import commits, workload
from .client import Client
from .context import Sim
from .device import FOREVER
from .network import Network
from .records import GroupRecord
from .routing import fetch_key_package

__all__ = ["POLL_S", "Reinits", "ReinitWorld"]

#: how often a ReInit due but without a free committer looks again (s)
POLL_S = 0.1
#: the transmissions that fetch a KeyPackage (``sim/routing.py``)
_KP_TYPES = ("kp_request", "key_package")


class ReinitWorld(Sim, Protocol):
    """What the ReInit needs from the world besides a policy's view of it."""

    suite: CipherSuite
    network: Network
    ds_groups: dict[str, str]
    created: dict[str, simpy.Event]
    #: groups whose workload has moved to their new group (``sim/workload.poisson`` ends)
    ended_workloads: set[str]

    def epoch_reached(self, group: str, client: str, g: Group | LightGroup) -> None: ...


@dataclass
class _Reinit:
    """One group's re-initialisation as it goes."""

    old: str
    new: str
    spec: ReinitSpec
    suite: CipherSuite
    initial: Sequence[Client]
    committer: Client | None = None
    #: the ReInit commit's epoch in the old group (the last stage of it)
    epoch: int = 0
    #: the committer merged the ReInit: the old group is over
    merged: bool = False
    #: the other members the new group adds (from the committer's tree), in leaf order
    members: tuple[str, ...] = ()
    staged: StagedCommit | None = None
    #: when the DS ordered the new group's first commit
    created_t: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class _SuiteKeys:
    """A member as the KeyPackage fetch sees it, holding KeyPackages of the new suite: each is
    made when fetched (assumed uploaded ahead of time, not counted, like the run's own)."""

    def __init__(self, reinits: Reinits, c: Client, suite: CipherSuite) -> None:
        self.name, self.node, self.provider = c.name, c.node, c.provider
        self._reinits, self._client, self._suite = reinits, c, suite
        self.bundles = reinits.bundles_of(c, suite)

    def new_key_package(self) -> KeyPackageBundle:
        ident = self._reinits.identity(self._client, self._suite)
        b = make_key_package(
            self._suite,
            credential=ident.credential,
            signature_key_pair=KeyPair(ident.signature_priv, ident.signature_key),
            rand=self._client.rand,
            lifetime=FOREVER,
            capabilities=ident.capabilities,
        )
        ref = self._suite.key_package_ref(encode(b.key_package))
        self.bundles[ref] = b
        self._reinits.stored.setdefault(self.name, deque()).append(ref)
        return b


class Reinits:
    """Every ``groups[].reinit`` of a run: scheduled at build, driven by the world's hooks."""

    def __init__(self, w: ReinitWorld) -> None:
        self.w = w
        self.by_old: dict[str, _Reinit] = {}
        self.by_new: dict[str, _Reinit] = {}
        self._suites: dict[int, CipherSuite] = {}
        self._identities: dict[tuple[str, int], MemberIdentity] = {}
        self._bundles: dict[tuple[str, int], dict[bytes, KeyPackageBundle]] = {}
        #: KeyPackage references of the new suites at the members' ASs
        self.stored: dict[str, deque[bytes]] = {}

    # -- keys of the new suite ------------------------------------------------------------------

    def _suite(self, suite_id: int) -> CipherSuite:
        """One instance per suite and world (a model suite's registry is the world's)."""
        w = self.w
        if suite_id == w.scenario.crypto.suite:
            return w.suite
        if suite_id not in self._suites:
            self._suites[suite_id] = get_suite(suite_id, w.scenario.crypto.family)
        return self._suites[suite_id]

    def identity(self, c: Client, suite: CipherSuite) -> MemberIdentity:
        """``c``'s credential with a signature key of ``suite`` (its own in the run's suite)."""
        if suite is self.w.suite:
            return c.identity
        key = (c.name, suite.suite_id)
        ident = self._identities.get(key)
        if ident is None:
            kp = suite.signature_key_pair(c.rand)
            ident = self._identities[key] = MemberIdentity(
                credential=c.identity.credential,
                signature_priv=kp.priv,
                signature_key=kp.pub,
                capabilities=default_capabilities(suite.suite_id),
            )
        return ident

    def bundles_of(self, c: Client, suite: CipherSuite) -> dict[bytes, KeyPackageBundle]:
        return self._bundles.setdefault((c.name, suite.suite_id), {})

    def _take(self, name: str) -> bytes | None:
        q = self.stored.get(name)
        return q.popleft() if q else None

    # -- scheduling and the ReInit commit -------------------------------------------------------

    def schedule(self, group: str, spec: ReinitSpec, initial: Sequence[Client]) -> None:
        """Re-initialise ``group`` at ``spec.at`` (called once per group instance at build)."""
        suite_id = spec.suite if spec.suite is not None else self.w.scenario.crypto.suite
        st = _Reinit(group, f"{group}/reinit1", spec, self._suite(suite_id), initial)
        self.by_old[group] = st
        self.by_new[st.new] = st
        self.w.env.process(self._start(st))

    def _start(self, st: _Reinit) -> Generator[simpy.Event, Any, None]:
        w = self.w
        yield w.env.timeout(st.spec.at)
        while True:
            if w.env.now >= w.stop_time:
                w.recorder.event(w.env.now, "reinit_abandoned", group=st.old, reason="no_free_committer")
                return
            c = self._committer(st)
            if c is not None:
                break
            yield w.env.timeout(POLL_S)
        st.committer = c
        w.recorder.event(
            w.env.now,
            "reinit_started",
            group=st.old,
            client=c.name,
            new_group=st.new,
            suite=st.suite.suite_id,
        )
        self._commit(st, c, None)

    def _committer(self, st: _Reinit) -> Client | None:
        """``by``, once free; else the first member of the DS's record free to act."""
        if st.spec.by is not None:
            c = st.initial[st.spec.by]
            return c if c.free_in(st.old) else None
        clients = self.w.clients
        return next((clients[m] for m in self.w.members_of(st.old) if clients[m].free_in(st.old)), None)

    def _commit(self, st: _Reinit, c: Client, prev: Any) -> None:
        """``c`` commits the ReInit alone and without a path (§12.2: no other proposal beside it;
        the group is closing, so no new keys are worth sending); retried like any commit."""
        w = self.w

        def stage() -> StagedCommit:
            g = c.groups[st.old]
            ri = ReInit(
                group_id=st.new.encode(), cipher_suite=st.suite.suite_id, extensions=g.context.extensions
            )
            st.epoch = g.epoch + 1
            return g.commit(c.rand, reinit=ri, include_cached=False, path=False)

        commits.create(
            w,
            c,
            st.old,
            stage,
            lambda staged: c.send_commit(
                st.old, "reinit", staged, retry=lambda p: self._commit(st, c, p), prev=prev
            ),
        )

    # -- hooks of the world ---------------------------------------------------------------------

    def epoch_reached(self, group: str, client: str, g: Group | LightGroup) -> None:
        """A member reached an epoch; the committer's merge of its ReInit starts the new group."""
        st = self.by_old.get(group)
        if st is None or st.committer is None or client != st.committer.name or st.merged:
            return
        if isinstance(g, Group) and g.committed_reinit is not None:
            st.merged = True
            self.w.env.process(self._create(st, st.committer, g))

    def closed(self, c: Client, group: str, reason: str) -> bool:
        """A member cannot follow ``group`` (a handshake message expired, a commit failed): once
        the group is re-initialised it is over, so no re-sync; the member's only way into the new
        group is its Welcome, which it cannot use without the ReInit epoch."""
        st = self.by_old.get(group)
        if st is None or not st.merged:
            return False
        w = self.w
        w.recorder.event(w.env.now, "reinit_missed", group=group, client=c.name, reason=reason)
        return True

    # -- the new group --------------------------------------------------------------------------

    def _create(self, st: _Reinit, c: Client, old: Group) -> Generator[simpy.Event, Any, None]:
        """The committer fetches a KeyPackage of the new suite for every other member of its
        tree, then builds the new group's first commit and sends it with the Welcome."""
        w = self.w
        me = c.name.encode()
        st.members = tuple(
            leaf.credential.identity.decode()
            for _, leaf in old.tree.leaves()
            if leaf.credential.identity != me
        )
        clients = w.clients
        fetches = [
            fetch_key_package(w.env, w.network, self._take, c, _SuiteKeys(self, clients[m], st.suite), st.new)
            for m in st.members
        ]
        yield simpy.AllOf(w.env, fetches)
        kps = [cast(KeyPackage, ev.value) for ev in fetches]
        w.ds_groups[st.new] = w.ds_groups[st.old]
        w.group_specs[st.new] = w.group_specs[st.old]
        w.ds_of(st.new).groups[st.new] = GroupRecord(
            name=st.new, owner=w.ds_groups[st.new], members={c.name: c.provider}
        )
        w.created[st.new] = created = w.env.event()
        created.callbacks.append(partial(self._created, st))
        w.recorder.event(
            w.env.now,
            "reinit_group_created",
            group=st.new,
            old=st.old,
            client=c.name,
            suite=st.suite.suite_id,
            members=len(st.members) + 1,
        )
        w.processing.run(
            c.name, "commit_create", partial(self._stage_new, st, c, old, kps), partial(self._send_new, st, c)
        )

    def _stage_new(self, st: _Reinit, c: Client, old: Group, kps: list[KeyPackage]) -> StagedCommit:
        w = self.w
        g, staged = old.reinit(
            c.rand,
            key_packages=kps,
            suite=st.suite,
            config=w.config_for(st.new),
            identity=self.identity(c, st.suite),
        )
        c.groups[st.new] = g
        c.joined_epoch[st.new] = 0
        st.staged = staged
        return staged

    def _send_new(self, st: _Reinit, c: Client, staged: StagedCommit) -> None:
        """Sent like the first commit of any group: the DS adds nobody to its record and sends no
        Welcome for it (``added`` is empty); :meth:`_created` does, at the moment the DS orders it."""
        self.w.epoch_reached(st.new, c.name, c.groups[st.new])
        c.send_commit(st.new, "reinit-create", staged)

    def _created(self, st: _Reinit, _ev: simpy.Event) -> None:
        """The DS ordered the new group's first commit: it records the members, sends them the
        Welcome (and the tree, when the Welcome lacks it), and the workload moves over."""
        w = self.w
        assert st.staged is not None and st.staged.welcome is not None
        st.created_t = w.env.now
        ds = w.ds_of(st.new)
        rec = ds.groups[st.new]
        clients = w.clients
        joiners = list(st.members)
        for m in joiners:
            rec.members[m] = clients[m].provider
        welcome = st.staged.welcome
        wsize = len(encode(welcome))
        tree = None if w.config_for(st.new).ratchet_tree_in_welcome else st.staged.ratchet_tree
        tsize = len(tree.encode()) if tree is not None else 0
        for m in joiners:
            w.recorder.event(
                w.env.now,
                "join_cost",
                group=st.new,
                client=m,
                mode="welcome-with-tree" if tree is None else "tree-from-ds",
                op="reinit-create",
                download=wsize + tsize,
                upload=0,
                adder_upload=wsize,
            )
        fanned = 0
        if tree is not None:
            fanned += ds.fan_out(joiners, "ratchet_tree", st.new, tsize, tsize, "on_tree", (st.new, tree))
        fanned += ds.fan_out_each(
            joiners,
            "welcome",
            st.new,
            wsize,
            lambda m: (wsize, partial(self._welcome, st, clients[m.name], welcome)),
        )
        w.recorder.event(
            w.env.now, "reinit_welcomed", group=st.new, old=st.old, joiners=len(joiners), bytes=fanned
        )
        w.ended_workloads.add(st.old)
        workload.start(w, st.new, w.group_specs[st.new].workload)

    def _welcome(self, st: _Reinit, c: Client, msg: MLSMessage) -> None:
        welcome = msg.body
        assert isinstance(welcome, Welcome)
        bundles = self.bundles_of(c, st.suite)
        ref = first_new_member(welcome, bundles)
        if ref is not None:
            self.w.processing.run(
                c.name, "welcome", partial(self._join, st, c, welcome, ref), partial(self._joined, st, c)
            )

    def _join(self, st: _Reinit, c: Client, welcome: Welcome, ref: bytes) -> Group | MLSError | None:
        """§11.2: join with the old group's reinit resumption PSK (``resumed_from``), which the
        core checks: the old group's last commit must be the matching ReInit."""
        w = self.w
        b = self.bundles_of(c, st.suite).pop(ref, None)
        if b is None:
            return None
        try:
            return Group.join(
                st.suite,
                welcome,
                key_package=b.key_package,
                init_priv=b.init_priv,
                encryption_priv=b.encryption_priv,
                identity=self.identity(c, st.suite),
                ratchet_tree=c.trees.pop(st.new, None),
                config=w.config_for(st.new),
                resumed_from=c.groups.get(st.old),
                current_group_ids={h.group_id for name, h in c.groups.items() if name != st.new and h.active},
            )
        except MLSError as exc:
            return exc

    def _joined(self, st: _Reinit, c: Client, g: Group | MLSError | None) -> None:
        w = self.w
        if isinstance(g, MLSError):
            w.recorder.event(w.env.now, "join_failed", group=st.new, client=c.name, error=type(g).__name__)
        elif g is not None:
            c.groups[st.new] = g
            c.joined_epoch[st.new] = g.epoch
            w.recorder.event(w.env.now, "joined", group=st.new, client=c.name, epoch=g.epoch)
            w.epoch_reached(st.new, c.name, g)

    # -- the summary's ``reinit`` section (docs/metrics.md) ---------------------------------------

    def summary(self) -> dict[str, Any]:
        """Per re-initialised group (by its old name): times, members, bytes, messages lost."""
        rec = self.w.recorder
        return {old: _group_summary(st, rec.events, rec) for old, st in sorted(self.by_old.items())}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _percentiles(xs: list[float]) -> dict[str, float | int | None]:
    if not xs:
        return {"n": 0, "p50": None, "max": None}
    return {"n": len(xs), "p50": round(statistics.median(xs), 6), "max": round(max(xs), 6)}


def _online_at(events: Iterable[dict[str, Any]], t: float) -> dict[str, bool]:
    """Who was online at ``t`` (recorded before or at ``t``), for those that ever went offline."""
    online: dict[str, bool] = {}
    for e in events:
        if e["t"] > t:
            break
        if e["kind"] in ("offline", "online"):
            online[e["client"]] = e["kind"] == "online"
    return online


def _group_summary(st: _Reinit, events: list[dict[str, Any]], rec: Any) -> dict[str, Any]:
    old, new = st.old, st.new
    committer = st.committer.name if st.committer is not None else None
    accepted = next(
        (
            e["t"]
            for e in events
            if e["kind"] == "commit_accepted"
            and e["group"] == old
            and e["client"] == committer
            and e["epoch"] == st.epoch
        ),
        None,
    )
    merged = next(
        (e for e in events if e["kind"] == "commit_merged" and e["group"] == old and e["op"] == "reinit"),
        None,
    )
    sent_create = next(
        (
            e
            for e in events
            if e["kind"] == "commit_sent" and e["group"] == new and e["op"] == "reinit-create"
        ),
        None,
    )
    members = set(st.members)
    joined = {
        e["client"]: e["t"]
        for e in events
        if e["kind"] == "joined" and e["group"] == new and e["client"] in members
    }
    failed = sum(
        1 for e in events if e["kind"] == "join_failed" and e["group"] == new and e["client"] in members
    )
    online = _online_at(events, accepted) if accepted is not None else {}
    on = [m for m in st.members if online.get(m, True)]
    off = [m for m in st.members if not online.get(m, True)]

    def until_all(who: list[str]) -> float | None:
        if accepted is None or not who or any(m not in joined for m in who):
            return None
        return float(max(joined[m] for m in who) - accepted)

    upload = sum(
        e["upload_bytes"] + e["welcome_bytes"] + e["public_state_bytes"]
        for e in events
        if e["kind"] == "commit_sent" and e["op"] in ("reinit", "reinit-create") and e["group"] in (old, new)
    )
    fanout = sum(
        e["bytes"]
        for e in events
        if e["kind"] == "commit_fanout"
        and e["op"] in ("reinit", "reinit-create")
        and e["group"] in (old, new)
    )
    welcome = sum(e["bytes"] for e in events if e["kind"] == "reinit_welcomed" and e["group"] == new)
    kp_until = sent_create["t"] if sent_create is not None else float("inf")
    kps = sum(
        n
        for mt, g, t, n in zip(rec.msg_type, rec.group, rec.send_time, rec.nbytes, strict=True)
        if g == new and mt in _KP_TYPES and t <= kp_until
    )
    after = accepted if accepted is not None else float("inf")
    moved = st.created_t if st.created_t is not None else float("inf")
    return {
        "new_group": new,
        "suite": st.suite.suite_id,
        "committer": committer,
        "started_s": next(
            (e["t"] for e in events if e["kind"] == "reinit_started" and e["group"] == old), None
        ),
        "accepted_s": accepted,
        "commit_latency_s": merged["latency"] if merged is not None else None,
        "commit_attempts": merged["attempts"] if merged is not None else 0,
        "created_s": _r(st.created_t),
        "members": len(st.members),
        "online_at_reinit": len(on),
        "joined": len(joined),
        "to_online_s": _r(until_all(on)),
        "to_all_s": _r(until_all(list(st.members))),
        "late_joins": sum(1 for m in off if m in joined),
        "late_join_delay_s": _percentiles([joined[m] - after for m in off if m in joined]),
        "never_joined": len(members) - len(joined),
        "join_failed": failed,
        "bytes": {
            "commits_upload": upload,
            "commits_fanout": fanout,
            "key_packages": kps,
            "welcome_fanout": welcome,
            "total": upload + fanout + kps + welcome,
        },
        "app": {
            "sent_in_old_after": sum(
                1 for e in events if e["kind"] == "app_sent" and e["group"] == old and e["t"] >= after
            ),
            "refused_in_old": sum(
                1
                for e in events
                if e["kind"] == "app_undecryptable" and e["group"] == old and e["t"] >= after
            ),
            "deferred": sum(
                1
                for e in events
                if e["kind"] == "workload_skipped"
                and e["group"] == old
                and e["op"] == "app"
                and after <= e["t"] < moved
            ),
            "not_member_in_new": sum(
                1 for e in events if e["kind"] == "app_not_member" and e["group"] == new
            ),
        },
    }
