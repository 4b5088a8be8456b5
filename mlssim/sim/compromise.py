"""Compromises in a run and the healing they are measured by (``adversary:`` in a scenario).

The world feeds one :class:`~mlssim.adversary.Adversary` what it would see: every group's
creation and every commit the ordering DS accepts (public state, the commit, its Welcome), and
the compromise events of the scenario. The adversary decides from its real key holdings which
epochs it can derive (docs/security-model.md); this module turns those verdicts into healing
metrics:

* a compromise at time t of a device in group G at epoch c **heals** at the first epoch h > c
  of G the adversary cannot derive; healing time = when the DS accepted h − t, healing epochs =
  h − c, healing bytes = every non-application byte the group's traffic put on the network
  between t and then;
* application messages **exposed** are those sent in an epoch the adversary can read (exposed,
  or whose secret tree it copied): after the compromise (until healing), and before it (the
  forward-secrecy exposure: earlier epochs readable).

Policies of a compromise event: the victim commits a path update ``victim_update_after`` seconds
later, or another member removes it ``remove_after`` seconds later (each waits until the actor is
free to commit).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import simpy

from ..adversary import Adversary, device_random
from ..assist.pre import PRE
from ..assist.pre_store import PRE_EPOCH_LABEL, epoch_pre_keys
from ..mls.crypto import CipherSuite
from ..mls.errors import CryptoError
from ..mls.group import Group, GroupConfig
from ..mls.group_state import PublicEpoch
from ..mls.rand import RandomSource
from ..scenario.schema import CompromiseSpec, GroupSpec, Scenario
from .client import Client
from .delivery import CommitView, DeliveryService
from .impersonation import ForgeryOrdering, Impersonations
from .recorder import Recorder
from .rng import Streams

__all__ = ["Compromises"]

#: seconds between attempts of a policy action whose actor is busy
POLICY_RETRY_S = 1.0


@dataclass
class _Case:
    spec: CompromiseSpec
    group: str
    victim: str
    #: the victim's epoch when compromised (None: not yet happened, or not in the group)
    epoch: int | None = None
    at: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Seen:
    """An accepted commit as the adversary saw it on the network."""

    epoch: int
    old: PublicEpoch
    new: PublicEpoch
    commit: CommitView
    welcome_sent: bool
    sender: str


#: how an epoch is exposed from a device's known draws (the committer's: its path secrets, or
#: its Welcome's HPKE encapsulations, regenerated)
FROM_DRAWS = ("randomness", "welcome-randomness")

#: accepted commits kept per group for re-observation after a compromise
HISTORY = 16


class CompromiseFanout(Protocol):
    """The fan-out strategy, as the compromise bookkeeping meets it (``pre``: PRE keys)."""

    def pre_key_held(self, group: str, name: str) -> tuple[str, int] | None: ...
    def adversary_path_secrets(
        self, group: str, view: CommitView, held: Sequence[tuple[str, int]], ds_since: int | None
    ) -> dict[int, bytes]: ...


class CompromiseWorld(Protocol):
    """What the compromise bookkeeping needs from the world, and the policy actions it takes."""

    env: simpy.Environment
    recorder: Recorder
    streams: Streams
    scenario: Scenario
    suite: CipherSuite
    pre: PRE | None
    stop_time: float
    ds_groups: dict[str, str]
    group_specs: dict[str, GroupSpec]
    initial_members: dict[tuple[str, int], list[Client]]

    @property
    def clients(self) -> dict[str, Client]: ...
    @property
    def fanout(self) -> CompromiseFanout: ...
    @property
    def ordering(self) -> ForgeryOrdering: ...
    def config_for(self, group: str) -> GroupConfig: ...
    def ds_of(self, group: str) -> DeliveryService: ...
    def members_of(self, group: str) -> list[str]: ...
    def new_client(self, provider: str, label: str) -> Client: ...
    def add_member(self, adder: Client, group: str, newbie: Client) -> None: ...
    def commit_update(self, c: Client, group: str) -> None: ...
    def commit_remove(self, remover: Client, group: str, target: str) -> None: ...


class Compromises:
    def __init__(self, world: CompromiseWorld) -> None:
        self.world = world
        adv = world.scenario.adversary
        self.adversary = Adversary(world.suite)
        self.mixing = adv.entropy_mixing
        self.secret_copied = adv.mixing_secret_copied
        #: the current public epoch of every group (what the adversary sees on the network)
        self.public: dict[str, PublicEpoch] = {}
        #: (group, epoch) -> when the ordering DS accepted it
        self.accepted_at: dict[tuple[str, int], float] = {}
        self.cases: list[_Case] = []
        #: providers whose DS the adversary sees into
        self.ds_compromised: set[str] = set()
        #: adversary-controlled devices (kind as) -> their compromise
        self.insiders: dict[str, _Case] = {}
        #: the last accepted commits per group (re-observed after a compromise)
        self.history: dict[str, deque[_Seen]] = {}
        #: group -> epoch -> the device whose known draws exposed it (``FROM_DRAWS`` verdicts)
        self.exposed_by_draws: dict[str, dict[int, str]] = {}
        #: PRE records already opened: (group, node, public key)
        self._opened: set[tuple[str, int, bytes]] = set()
        #: ``fanout: pre``: PRE keys taken from compromised members, per group (member, generation)
        self.pre_held: dict[str, list[tuple[str, int]]] = {}
        #: ``fanout: pre``: the group's epoch when its ordering DS was compromised
        self.ds_since: dict[str, int] = {}
        #: the active adversary, when a compromise impersonates its victim (sim/impersonation.py)
        self.impersonation = (
            Impersonations(world, self.adversary, self.public)
            if any(c.impersonate is not None for c in adv.compromises)
            else None
        )

    def device_random(self, name: str, base: RandomSource) -> RandomSource:
        """The RandomSource a device gives its MLS core: recorded for the adversary while
        compromised, and mixed with a persistent secret under entropy mixing."""
        secret = self.world.streams.mls(f"client/{name}/mixing").random_bytes(32) if self.mixing else None
        return device_random(base, self.adversary, name, mixing_secret=secret)

    def schedule(self, group_names: dict[tuple[str, int], str]) -> None:
        w = self.world
        for spec in w.scenario.adversary.compromises:
            victim = w.initial_members[(spec.group, spec.instance)][spec.member]
            case = _Case(spec, group_names[(spec.group, spec.instance)], victim.name)
            self.cases.append(case)
            self._at(spec.at, partial(self._compromise, case))

    def _at(self, t: float, action: Callable[[], None]) -> None:
        w = self.world
        w.env.timeout(max(0.0, t - w.env.now)).callbacks.append(lambda _e: action())

    # -- events ------------------------------------------------------------------------------

    def _compromise(self, case: _Case) -> None:
        w = self.world
        victim = w.clients[case.victim]
        g = victim.groups.get(case.group)
        case.at = w.env.now
        case.epoch = g.epoch if g is not None else None
        spec = case.spec
        if spec.kind == "member":
            for gname, group in victim.groups.items():
                self.adversary.compromise_member(
                    group, w.env.now, rand=victim.rand if self.secret_copied else None
                )
                held = w.fanout.pre_key_held(gname, victim.name)
                if held is not None:
                    self.pre_held.setdefault(gname, []).append(held)
                self._replay(gname, group.epoch)
            if spec.impersonate is not None and self.impersonation is not None:
                self.impersonation.start(self.cases.index(case), spec.impersonate, case.group, victim)
        elif spec.kind == "randomness":
            self.adversary.compromise_randomness(victim.name)
            self._at(w.env.now + spec.duration, lambda: self.adversary.restore_randomness(victim.name))
        elif spec.kind == "ds":
            provider = w.ds_groups[case.group]
            self.ds_compromised.add(provider)
            for gname, owner in w.ds_groups.items():
                if owner == provider:
                    rec = w.ds_of(gname).groups.get(gname)
                    self.ds_since.setdefault(gname, rec.epoch if rec is not None else 0)
                    self.pre_store_seen(gname)
        else:  # as: an insider device, added by the victim (its AS vouches for the credential)
            self._insider(case, victim)
        w.recorder.event(
            w.env.now, "compromise", group=case.group, client=victim.name, what=spec.kind, epoch=case.epoch
        )
        if spec.victim_update_after is not None:
            self._at(w.env.now + spec.victim_update_after, lambda: self._victim_update(case))
        if spec.remove_after is not None:
            self._at(w.env.now + spec.remove_after, lambda: self._remove(case))

    def _insider(self, case: _Case, adder: Client) -> None:
        w = self.world
        insider = w.new_client(adder.provider, f"{case.group}-insider{len(self.insiders)}")
        self.insiders[insider.name] = case
        # the adversary runs the device: every draw it makes is known
        self.adversary.compromise_randomness(insider.name)
        case.victim = insider.name

        def add() -> None:
            if w.env.now >= w.stop_time:
                return
            if not adder.free_in(case.group):
                self._at(w.env.now + POLICY_RETRY_S, add)
                return
            w.add_member(adder, case.group, insider)

        add()

    def joined(self, c: Client, group: str, g: Group) -> None:
        """A client joined ``group``: an insider's state is the adversary's from its first epoch."""
        case = self.insiders.get(c.name)
        if case is not None and group == case.group:
            self.adversary.compromise_member(g, self.world.env.now)
            self._replay(group, g.epoch)
            if case.epoch is None:
                case.epoch = g.epoch

    def pre_store_seen(self, group: str) -> None:
        """A compromised DS's PRE store for ``group`` (after its latest epoch change): open every
        record with an epoch PRE key derivable from an exposed epoch, and hand the node keys that
        are still in the tree to the adversary. Records whose capsule key the adversary holds open
        directly; records re-encrypted one hop open with the current epoch's key; older
        re-encryptions are stand-ins (pre_store.py: single hop) and stay closed, so the exposure
        measured here is a lower bound of what a multi-hop scheme would give."""
        w = self.world
        if w.pre is None or w.ds_groups[group] not in self.ds_compromised:
            return
        rec = w.ds_of(group).groups.get(group)
        if rec is None or rec.pre_store is None or rec.tree is None:
            return
        store, tree = rec.pre_store, rec.tree
        gid = group.encode()
        keys: dict[int, bytes] = {}
        for e in {r.epoch for r in store.records.values()} | {store.epoch}:
            secrets = self.adversary.epoch_secrets(gid, e)
            if secrets is not None:
                keys[e] = epoch_pre_keys(w.pre, secrets.exporter(PRE_EPOCH_LABEL, b"", 32)).key.priv
        if not keys:
            return
        privs = []
        for x, r in store.records.items():
            node = tree.parent_node(x) if x < tree.width else None
            if node is None or (group, x, node.encryption_key) in self._opened:
                continue
            priv = None
            try:
                if r.epoch in keys:
                    priv = w.pre.decrypt_original(keys[r.epoch], r.capsule, r.ciphertext)
                elif r.cfrag and store.epoch in keys and r.epoch == store.epoch - 1:
                    priv = w.pre.decrypt_reencrypted(
                        keys[store.epoch],
                        store.epoch_pubs[r.epoch],
                        r.capsule,
                        [r.cfrag],
                        r.ciphertext,
                        signer_pub=store.signer_pub,
                    )
            except (CryptoError, KeyError):
                priv = None
            if priv is not None and w.suite.kem_public_key(priv) == node.encryption_key:
                self._opened.add((group, x, node.encryption_key))
                privs.append(priv)
        if privs:
            learned = self.adversary.learn_tree_keys(gid, privs)
            w.recorder.event(w.env.now, "ds_store_opened", group=group, node_keys=learned)

    def _victim_update(self, case: _Case) -> None:
        w = self.world
        c = w.clients[case.victim]
        if case.group not in c.groups or w.env.now >= w.stop_time:
            return
        if not c.free_in(case.group):
            self._at(w.env.now + POLICY_RETRY_S, lambda: self._victim_update(case))
            return
        if w.group_specs[case.group].workload.update_mode == "propose":
            # the lazy form: a new leaf key in an Update proposal; the path is paid by whoever
            # commits it (the designated committer, after commit_policy.lazy_timer)
            w.recorder.event(w.env.now, "policy", group=case.group, client=c.name, action="victim_propose")
            c.send_update_proposal(case.group)
            return
        w.recorder.event(w.env.now, "policy", group=case.group, client=c.name, action="victim_update")
        w.commit_update(c, case.group)

    def _remove(self, case: _Case) -> None:
        w = self.world
        if case.victim not in w.members_of(case.group) or w.env.now >= w.stop_time:
            return
        remover = next(
            (
                w.clients[m]
                for m in sorted(w.members_of(case.group))
                if m != case.victim and w.clients[m].free_in(case.group)
            ),
            None,
        )
        if remover is None:
            self._at(w.env.now + POLICY_RETRY_S, lambda: self._remove(case))
            return
        w.recorder.event(w.env.now, "policy", group=case.group, client=remover.name, action="remove")
        w.commit_remove(remover, case.group, case.victim)

    # -- observations --------------------------------------------------------------------------

    def group_created(self, group: str, g: Group) -> None:
        self.public[group] = g.public
        self.accepted_at[(group, 0)] = self.world.env.now
        self.adversary.observe_new_group(g.public)

    def commit_accepted(
        self, group: str, epoch: int, sender: str, commit: CommitView, welcome_sent: bool
    ) -> None:
        """The ordering DS accepted ``commit`` as the group's epoch ``epoch``."""
        w = self.world
        old = self.public.get(group)
        new = commit.public
        self.public[group] = new
        self.accepted_at[(group, epoch)] = w.env.now
        if old is None:
            return
        # a compromised DS's store still holds the old tree's records: open what it can first
        self.pre_store_seen(group)
        seen = _Seen(epoch, old, new, commit, welcome_sent, sender)
        hist = self.history.setdefault(group, deque(maxlen=HISTORY))
        hist.append(seen)
        if self.impersonation is not None:  # a forged commit's epoch is the adversary's own
            self.impersonation.before_observe(commit)
        self._observe(group, seen, late=False)
        if self.impersonation is not None:
            self.impersonation.commit_accepted(group)

    def _observe(self, group: str, seen: _Seen, *, late: bool) -> None:
        w = self.world
        held = self.pre_held.get(group)
        known = (
            w.fanout.adversary_path_secrets(group, seen.commit, held, self.ds_since.get(group))
            if held
            else None
        )
        verdict = self.adversary.observe_commit(
            seen.old,
            seen.new,
            seen.commit.message,
            added=seen.commit.added_leaves,
            welcome=seen.commit.welcome if seen.welcome_sent else None,
            sender_device=seen.sender,
            path_secrets=known,
        )
        if late and not verdict.exposed:
            return
        if verdict.exposed and verdict.how in FROM_DRAWS:
            self.exposed_by_draws.setdefault(group, {}).setdefault(seen.epoch, seen.sender)
        w.recorder.event(
            w.env.now,
            "epoch_exposure",
            group=group,
            epoch=seen.epoch,
            exposed=verdict.exposed,
            how=verdict.how,
            late=late,
        )

    def _replay(self, group: str, after: int) -> None:
        """The adversary keeps what it saw on the network: commits accepted before a compromise
        but after the victim's epoch (in flight to it) are tried again with the new knowledge."""
        for seen in list(self.history.get(group, ())):
            if seen.epoch > after:
                self._observe(group, seen, late=True)

    # -- metrics -----------------------------------------------------------------------------

    def _readable_count(
        self, apps: dict[str, list[tuple[float, int]]], first_at: dict[str, float], *, after: bool
    ) -> int:
        """Application messages the adversary can read, each counted once: sent at or after
        (``after``) or before the group's first measured compromise."""
        n = 0
        for group, at in first_at.items():
            gid = group.encode()
            n += sum(
                1 for t, ep in apps.get(group, []) if (t >= at) == after and self.adversary.can_read(gid, ep)
            )
        return n

    def summary(self) -> dict[str, Any]:
        w = self.world
        rec = w.recorder
        apps: dict[str, list[tuple[float, int]]] = {}
        for e in rec.of_kind("app_sent"):
            apps.setdefault(e["group"], []).append((e["t"], e["epoch"]))
        cases = []
        #: per group, the earliest compromise whose exposure was measured: messages are counted
        #: once per group against it (a message is one message whatever the number of cases)
        first_at: dict[str, float] = {}
        for case in self.cases:
            cases.append(self._case_summary(case, apps, first_at))
        done = [c for c in cases if c.get("time_s") is not None]
        happened = [c for c in cases if c["happened"]]

        def mean(key: str, xs: list[dict[str, Any]]) -> float | None:
            return round(statistics.fmean(c[key] for c in xs), 6) if xs else None

        def median(key: str, xs: list[dict[str, Any]]) -> float | None:
            return round(statistics.median(c[key] for c in xs), 6) if xs else None

        return {
            "compromises": len(happened),
            "healed": len(done),
            "unhealed": len(happened) - len(done),
            "time_s_median": median("time_s", done),
            "time_s_mean": mean("time_s", done),
            "epochs_mean": mean("epochs", done),
            "bytes_mean": mean("bytes", done),
            "app_exposed": self._readable_count(apps, first_at, after=True),
            "app_exposed_before": self._readable_count(apps, first_at, after=False),
            "epochs_exposed": sum(1 for e in rec.of_kind("epoch_exposure") if e["exposed"]),
            "cases": cases,
            # only with an impersonating compromise (without one the summary is as before)
            **({"impersonation": self.impersonation.summary()} if self.impersonation is not None else {}),
        }

    def _case_summary(
        self, case: _Case, apps: dict[str, list[tuple[float, int]]], first_at: dict[str, float]
    ) -> dict[str, Any]:
        """One compromise: when it healed, what it cost, what it exposed (``first_at`` records
        the group's earliest measured compromise)."""
        w = self.world
        rec = w.recorder
        if case.at is None or case.epoch is None:
            return {"group": case.group, "kind": case.spec.kind, "happened": False}
        gid = case.group.encode()
        # the exposure starts at the compromised epoch (member state), at the first epoch the
        # victim's known draws exposed (randomness: docs/metrics.md), or at the first exposed
        # epoch (ds, as); none: the compromise exposed nothing
        start = self._exposure_start(case, gid)
        head = {
            "group": case.group,
            "kind": case.spec.kind,
            "happened": True,
            "at": round(case.at, 6),
            "epoch": case.epoch,
        }
        if start is None:
            return {
                **head,
                "healed_epoch": None,
                "time_s": 0.0,
                "epochs": 0,
                "bytes": 0,
                "app_exposed": 0,
                "app_exposed_before": 0,
            }
        first_at[case.group] = min(first_at.get(case.group, case.at), case.at)
        healed = self.adversary.first_unexposed_after(gid, start)
        t_heal = self.accepted_at.get((case.group, healed)) if healed is not None else None
        end = t_heal if t_heal is not None else w.env.now
        handshake = sum(
            n
            for group, msg_type, sent, n in zip(
                rec.group, rec.msg_type, rec.send_time, rec.nbytes, strict=True
            )
            if group == case.group and msg_type != "application" and case.at <= sent <= end
        )
        readable = [(t, ep) for t, ep in apps.get(case.group, []) if self.adversary.can_read(gid, ep)]
        return {
            **head,
            "healed_epoch": healed,
            "time_s": round(t_heal - case.at, 6) if t_heal is not None else None,
            "epochs": healed - (start if case.spec.kind == "randomness" else case.epoch)
            if healed is not None
            else None,
            "bytes": handshake,
            "app_exposed": sum(1 for t, _ in readable if t >= case.at),
            "app_exposed_before": sum(1 for t, _ in readable if t < case.at),
            # an AS-issued insider is a member by every MLS check: nothing flags it
            "detectable_by_mls": case.spec.kind != "as",
        }

    def _exposure_start(self, case: _Case, gid: bytes) -> int | None:
        """The first epoch a case exposed (None: it exposed nothing)."""
        assert case.epoch is not None
        if case.spec.kind == "member":
            return case.epoch
        if case.spec.kind == "randomness":
            mine = [e for e, dev in self.exposed_by_draws.get(case.group, {}).items() if dev == case.victim]
            return min((e for e in mine if e >= case.epoch), default=None)
        later = [e for e, x in self.adversary.observed_epochs(gid).items() if x and e >= case.epoch]
        return min(later, default=None)
