"""The simulated world: built from a Scenario, run on simpy, summarised from its record.

Order of events is deterministic: simpy breaks ties by insertion order, every random draw
comes from a named stream (``rng.Streams``), and nothing iterates a set or a dict whose
order depends on ``hash()``.
"""

from __future__ import annotations

import dataclasses
import gc
from collections import defaultdict
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from typing import Any, cast

import simpy

from ..assist.pre import PRE, get_pre
from ..assist.pre_store import PREJoinSecret
from ..mls.codec import encode
from ..mls.crypto import CipherSuite, get_suite
from ..mls.group import EpochCache, Group, GroupConfig
from ..mls.group_state import ProposalReceived
from ..mls.messages import GroupInfo, KeyPackage, MLSMessage, WireFormat
from ..mls.ratchet_tree import RatchetTree
from ..scenario.schema import GroupSpec, Scenario
from .client import AS_LEAF_POLICY, Client
from .compromise import Compromises
from .delivery import AuthenticationService, DeliveryService
from .distributions import sample
from .fanout import make_fanout
from .network import Network
from .ordering import make_ordering
from .recorder import Recorder
from .records import CONTROL_BYTES, GroupRecord, PendingCommit
from .rng import Streams
from .routing import Hop, fetch_key_package, relay
from .summary import summarise

__all__ = ["World", "Provider"]


class Provider:
    def __init__(self, world: World, name: str, retention: float) -> None:
        self.name = name
        self.ds = DeliveryService(world, name, retention)
        self.as_ = AuthenticationService(name)


class World:
    def __init__(self, scenario: Scenario, base_dir: Path | None = None) -> None:
        self.scenario = scenario
        self.env = simpy.Environment()
        self.streams = Streams(scenario.seed)
        self.recorder = Recorder()
        self.network = Network(self.env, self.streams, scenario.network, self.recorder, base_dir)
        self.base_dir = base_dir
        self.suite: CipherSuite = get_suite(scenario.crypto.suite, scenario.crypto.family)
        self.group_config = GroupConfig(
            handshake_wire_format=(
                WireFormat.PUBLIC_MESSAGE
                if scenario.mls.handshake == "public"
                else WireFormat.PRIVATE_MESSAGE
            ),
            padding=scenario.mls.padding,
            keep_past_epochs=scenario.mls.keep_past_epochs,
            ratchet_tree_in_welcome=scenario.mls.ratchet_tree_in_welcome,
            leaf_policy=AS_LEAF_POLICY,
            epoch_cache=EpochCache(),
        )
        self.providers: dict[str, Provider] = {
            p.name: Provider(self, p.name, p.mailbox_retention) for p in scenario.providers
        }
        fed = scenario.federation
        self.ordering = make_ordering(fed.ordering)
        #: no orderer: committers merge at once and forks are resolved by members (sim/forks.py)
        self.leaderless = fed.ordering in ("client-fanout", "decentralised")
        self.topology = fed.topology or (
            "client-per-provider" if fed.ordering == "client-fanout" else "server"
        )
        self.fanout = make_fanout(scenario.federation.fanout, self.suite)
        #: the PRE scheme under ``fanout: pre`` (same family as the cipher suite)
        self.pre: PRE | None = (
            get_pre(scenario.crypto.family) if scenario.federation.fanout == "pre" else None
        )
        self._configs: dict[bool, GroupConfig] = {
            v: dataclasses.replace(self.group_config, ratchet_tree_in_welcome=v) for v in (True, False)
        }
        self.clients: dict[str, Client] = {}
        self._repropose_attempts: dict[tuple[str, str], int] = {}
        self.created: dict[str, simpy.Event] = {}
        self.initial_members: dict[tuple[str, int], list[Client]] = {}
        #: (client, group) with a lazy-commit timer running
        self._lazy: set[tuple[str, str]] = set()
        self.ds_groups: dict[str, str] = {}  # group -> provider whose DS orders it
        self.group_specs: dict[str, GroupSpec] = {}
        #: (group, epoch, epoch authenticator) -> when each client reached that state
        self.reached: dict[tuple[str, int, bytes], dict[str, float]] = defaultdict(dict)
        self.authenticators: dict[tuple[str, int], set[bytes]] = defaultdict(set)
        self._new_clients = 0
        self.stop_time = scenario.duration
        #: (groups entry name, instance) -> group name
        self.group_names: dict[tuple[str, int], str] = {}
        #: the population's users, each a list of devices, and each device's user
        self.users: list[list[Client]] = []
        self.user_of: dict[str, int] = {}
        #: device adds in progress: new device name -> (start time, groups still to join)
        self._device_adds_open: dict[str, tuple[float, set[str]]] = {}
        #: compromises and healing, when the scenario has any (sim/compromise.py)
        self.compromises: Compromises | None = Compromises(self) if scenario.adversary.compromises else None

    # -- lookups -------------------------------------------------------------------------------

    def ds_of(self, group: str) -> DeliveryService:
        return self.providers[self.ds_groups[group]].ds

    def join_mode(self, group: str) -> str:
        return self.group_specs[group].workload.join_mode

    def config_for(self, group: str) -> GroupConfig:
        """The members' GroupConfig in ``group``: its join mode decides whether Welcomes carry the tree."""
        mode = self.join_mode(group)
        if mode == "welcome-with-tree":
            return self._configs[True]
        if mode in ("tree-from-ds", "pre"):
            return self._configs[False]
        return self.group_config

    def needs_public_state(self, group: str) -> bool:
        """Does the DS keep this group's GroupInfo and tree (for joiners and re-syncs)?"""
        return (
            self.join_mode(group) in ("external-commit", "pre")
            or not self.config_for(group).ratchet_tree_in_welcome
            or self.pre is not None
            or (self.scenario.federation.resync == "external-commit" and not self.leaderless)
        )

    def new_client(self, provider: str, label: str) -> Client:
        name = f"{label}@{provider}"
        c = Client(self, name, provider)
        self.clients[name] = c
        self.providers[provider].ds.connected.add(name)
        if self.scenario.churn.enabled:
            self.env.process(self._churn(c))
        return c

    def epoch_reached(self, group: str, client: str, g: Group) -> None:
        self.reached[(group, g.epoch, g.epoch_authenticator)][client] = self.env.now
        self.authenticators[(group, g.epoch)].add(g.epoch_authenticator)
        self.recorder.event(self.env.now, "epoch", group=group, client=client, epoch=g.epoch)
        c = self.clients[client]
        if self.scenario.federation.acks and c.online:
            self.network.send(
                c.node,
                f"ds:{c.provider}",
                "client_ds",
                CONTROL_BYTES,
                role="upload",
                msg_type="ack",
                group=group,
                on_receive=lambda: None,
            )

    # -- re-sync ---------------------------------------------------------------------------------

    def start_resync(self, c: Client, group: str, reason: str) -> None:
        """``c`` cannot follow ``group``: it NACKs to the orderer and gets back in."""
        mode = self.scenario.federation.resync
        if mode == "none" or self.leaderless or group in c.resyncing:
            return
        self.recorder.event(self.env.now, "resync_started", group=group, client=c.name, reason=reason)
        c.resyncing[group] = {"t0": self.env.now}
        p = c.pending.pop(group, None)
        g = c.groups.get(group)
        if p is not None and g is not None:
            g.discard(p.staged)
        c.owed_commits.discard(group)
        ds = self.ds_of(group)

        def at_orderer() -> None:
            rec = ds.groups[group]
            if c.name not in rec.members:  # removed meanwhile: nothing to re-sync
                c.groups.pop(group, None)
                c.resyncing.pop(group, None)
                self.recorder.event(self.env.now, "resync_abandoned", group=group, client=c.name)
                return
            if mode == "external-commit":
                self._resync_fetch(c, group, None)
            else:
                self._ask_for_readd(c, group)

        c.upload(group, CONTROL_BYTES, "nack", at_orderer)

    def _resync_fetch(self, c: Client, group: str, prev: PendingCommit | None) -> None:
        ds = self.ds_of(group)
        ds.serve_group_info(
            group,
            c.name,
            lambda gi, tree: self._external_commit(c, group, gi, tree, prev, resync=True),
            prefix="resync:",
        )

    def _ask_for_readd(self, c: Client, group: str) -> None:
        """The orderer asks a designated member (the lowest online leaf) to remove and re-add ``c``."""
        ds = self.ds_of(group)
        helpers = [
            m
            for m in ds.groups[group].members
            if m != c.name and self.clients[m].ready and group not in self.clients[m].resyncing
        ]
        if not helpers:
            self.env.timeout(self._backoff(c, 1)).callbacks.append(lambda _e: self._ask_for_readd(c, group))
            return
        helper = min(helpers, key=lambda m: self.clients[m].groups[group].leaf_index)
        ds.to_client(
            helper,
            CONTROL_BYTES,
            "resync_request",
            group,
            lambda: self._readd(self.clients[helper], group, c),
        )

    def _readd(self, helper: Client, group: str, c: Client, prev: PendingCommit | None = None) -> None:
        g = helper.groups.get(group)
        if g is None or not g.active or group in helper.pending or group not in c.resyncing:
            if group in c.resyncing:  # try another helper later
                self.env.timeout(self._backoff(c, 1)).callbacks.append(
                    lambda _e: self._ask_for_readd(c, group)
                )
            return
        ev = self.fetch_key_package(helper, c, group)

        def commit(e: Any) -> None:
            g = helper.groups.get(group)
            if g is None or not g.active or group in helper.pending:
                self._ask_for_readd(c, group)
                return
            me = c.name.encode()
            old = next((i for i, leaf in g.tree.leaves() if leaf.credential.identity == me), None)
            staged = helper.stage_commit(group, adds=[e.value], removes=[] if old is None else [old])
            helper.send_commit(
                group,
                "readd",
                staged,
                added=(c.name,),
                removed=(c.name,),
                retry=lambda prev: self._readd(helper, group, c, prev),
                prev=prev,
            )

        ev.callbacks.append(commit)

    def resync_done(self, c: Client, group: str) -> None:
        st = c.resyncing.pop(group, None)
        if st is not None:
            self.recorder.event(
                self.env.now,
                "resync_done",
                group=group,
                client=c.name,
                duration=round(self.env.now - st["t0"], 6),
            )

    # -- building ------------------------------------------------------------------------------

    def _build_population(self) -> None:
        pop = self.scenario.population
        if pop is None:
            return
        mix = pop.providers or dict.fromkeys((p.name for p in self.scenario.providers), 1.0)
        place = self.streams.stream("population/placement")
        count = self.streams.stream("population/devices")
        for u in range(pop.users):
            provider = self._pick(mix, place)
            n = count.randint(pop.devices_min, pop.devices_max)
            self.users.append([self.new_client(provider, f"u{u}d{j}") for j in range(n)])
            for c in self.users[-1]:
                self.user_of[c.name] = u
        if pop.device_add_rate > 0:
            self.env.process(self._device_adds(pop.device_add_rate * pop.users))

    def _population_members(self, gname: str, size: int) -> list[Client]:
        rng = self.streams.stream(f"group/{gname}/users")
        return [c for u in rng.sample(range(len(self.users)), size) for c in self.users[u]]

    def build(self) -> None:
        provider_names = [p.name for p in self.scenario.providers]
        self._build_population()
        for gi, spec in enumerate(self.scenario.groups):
            mix = spec.providers or dict.fromkeys(provider_names, 1.0)
            owner = spec.owner or next(iter(mix))
            for k in range(spec.count):
                gname = (
                    f"{spec.name}{gi}.{k}" if spec.count > 1 or len(self.scenario.groups) > 1 else spec.name
                )
                self.group_specs[gname] = spec
                fed = self.scenario.federation
                self.ds_groups[gname] = owner if fed.ordering == "hub" else (fed.orderer or provider_names[0])
                rng = self.streams.stream(f"group/{gname}/placement")
                members = (
                    self._population_members(gname, spec.size)
                    if spec.from_population
                    else [
                        self.new_client(
                            self._pick(mix, rng),
                            f"{gname}-u{i // spec.devices_per_user}d{i % spec.devices_per_user}",
                        )
                        for i in range(spec.size)
                    ]
                )
                self.initial_members[(spec.name, k)] = members
                self.group_names[(spec.name, k)] = gname
                self.env.process(self._create_group(gname, members, spec))
        if self.compromises is not None:
            self.compromises.schedule(self.group_names)
        for ev in self.scenario.script:
            target = self.initial_members[(ev.group, ev.instance)][ev.member]
            self.env.timeout(ev.at).callbacks.append(partial(self._scripted, target, ev.action))

    def _scripted(self, c: Client, action: str, _e: Any = None) -> None:
        self.recorder.event(self.env.now, "scripted", client=c.name, action=action)
        if action == "offline":
            c.held = True
            if c.online:
                c.go_offline()
        else:
            c.held = False
            if not c.online:
                c.go_online()

    @staticmethod
    def _pick(mix: dict[str, float], rng: Any) -> str:
        names = list(mix)
        total = sum(mix.values())
        x = rng.random() * total
        for n in names:
            x -= mix[n]
            if x < 0:
                return n
        return names[-1]

    # -- key packages --------------------------------------------------------------------------

    def fetch_key_package(self, requester: Client, target: Client, group: str) -> simpy.Event:
        """The KeyPackage of ``target``, fetched by ``requester`` through the DSs and the AS."""
        take = self.providers[target.provider].as_.take
        return fetch_key_package(self.env, self.network, take, requester, target, group)

    # -- processes -----------------------------------------------------------------------------

    def _create_group(self, gname: str, members: list[Client], spec: GroupSpec) -> Generator[Any, Any, None]:
        creator = members[0]
        env = self.env
        g = creator.create_group(gname, self.config_for(gname))
        if self.compromises is not None:
            self.compromises.group_created(gname, g)
        self.providers[self.ds_groups[gname]].ds.groups[gname] = GroupRecord(
            name=gname, owner=self.ds_groups[gname], members={creator.name: creator.provider}
        )
        self.recorder.event(env.now, "group_created", group=gname, client=creator.name)
        self.epoch_reached(gname, creator.name, g)
        fetches = [self.fetch_key_package(creator, m, gname) for m in members[1:]]
        yield simpy.AllOf(env, fetches)
        kps = [cast(KeyPackage, ev.value) for ev in fetches]
        staged = creator.stage_commit(gname, adds=kps)
        # the workload's clock starts once the creation commit is ordered (merged, without an
        # orderer), so that per-member rates see the whole initial membership
        self.created[gname] = env.event()
        creator.send_commit(gname, "create", staged, added=tuple(m.name for m in members[1:]))
        yield self.created[gname]
        wl = spec.workload
        yield env.timeout(wl.start)
        stop = wl.stop if wl.stop is not None else self.scenario.duration
        for rate, op in (
            (wl.app_rate, self._op_app),
            (wl.update_rate, self._op_update),
            (wl.add_rate, self._op_add),
            (wl.remove_rate, self._op_remove),
        ):
            if rate > 0:
                env.process(
                    self._poisson(gname, rate, op, stop, per_member=op in (self._op_app, self._op_update))
                )
        if wl.update_group_rate > 0:
            env.process(
                self._poisson(
                    gname, wl.update_group_rate, self._op_update, stop, per_member=False, tag="group"
                )
            )

    def _poisson(
        self,
        group: str,
        rate: float,
        op: Callable[[str, Any], None],
        stop: float,
        *,
        per_member: bool,
        tag: str = "",
    ) -> Generator[Any, Any, None]:
        """A Poisson process of ``rate`` (per member when ``per_member``, else per group)."""
        rng = self.streams.stream(f"group/{group}/{op.__name__}{'/' + tag if tag else ''}")
        env = self.env
        while True:
            n = len(self.ds_of(group).groups[group].members) if per_member else 1
            total = rate * max(n, 1)
            yield env.timeout(rng.expovariate(total))
            if env.now >= stop:
                return
            op(group, rng)

    def members_of(self, group: str) -> list[str]:
        """The group's members as the world sees them (for workload rates and senders): the
        orderer's record; without an orderer, a directory the committers update as they merge
        (a dropped commit's change stays in it until redone: an approximation for the workload
        only, never for results, which come from the members' own states)."""
        return list(self.ds_of(group).groups[group].members)

    def view_members(self, c: Client, group: str) -> list[str]:
        """The other members in ``c``'s own tree: whom it addresses without an orderer."""
        g = c.groups[group]
        me = g.leaf_index
        return [leaf.credential.identity.decode() for i, leaf in g.tree.leaves() if i != me]

    def broadcast(
        self,
        sender: Client,
        group: str,
        up_type: str,
        down_type: str,
        wire_size: int,
        member_size: int | Callable[[str], int],
        recipients: list[str],
        handler: str,
        args: tuple[Any, ...],
    ) -> int:
        """Send one message from ``sender`` to ``recipients`` under the fan-out topology (no
        orderer): each recipient ``m`` downloads ``member_size`` bytes (an int, or
        ``member_size(m)``) and runs ``m.<handler>(*args)`` on arrival. Returns the bytes
        it puts on the network: uploads, forwards and downloads."""
        if not recipients:
            return 0
        home = self.providers[sender.provider].ds
        net = self.network
        clients = self.clients
        sizes = (
            dict.fromkeys(recipients, member_size)
            if isinstance(member_size, int)
            else {m: member_size(m) for m in recipients}
        )
        downloads = sum(sizes[m] for m in recipients)
        remote = {clients[m].provider for m in recipients} - {sender.provider}
        if self.topology == "server":
            net.send(
                sender.node,
                home.node,
                "client_ds",
                wire_size,
                role="upload",
                msg_type=up_type,
                group=group,
                on_receive=partial(
                    home.fan_out, recipients, down_type, group, wire_size, sizes.__getitem__, handler, args
                ),
            )
            return wire_size * (1 + len(remote)) + downloads
        if self.topology == "client-per-provider":
            by_home: dict[str, list[str]] = {}
            for m in recipients:
                by_home.setdefault(clients[m].provider, []).append(m)
            copies = list(by_home.items())
        else:
            copies = [(clients[m].provider, [m]) for m in recipients]
        for provider, members in copies:
            dest = self.providers[provider].ds
            local = partial(
                dest.deliver_many,
                [clients[m] for m in members],
                [sizes[m] for m in members],
                down_type,
                group,
                [partial(getattr(clients[m], handler), *args) for m in members],
            )
            forward = [Hop(home.node, dest.node, "ds_ds", "forward")]
            net.send(
                sender.node,
                home.node,
                "client_ds",
                wire_size,
                role="upload",
                msg_type=up_type,
                group=group,
                on_receive=partial(relay, net, forward, wire_size, down_type, group, local),
            )
        forwards = sum(1 for provider, _ in copies if provider != sender.provider)
        return wire_size * (len(copies) + forwards) + downloads

    def _candidates(self, group: str) -> list[Client]:
        """The members free to act in ``group`` now (``Client.free_in``, inlined: it runs over
        every member for every workload event)."""
        clients = self.clients
        out = []
        for name in self.ds_of(group).groups[group].members:
            c = clients[name]
            if c.online and c.synced and group not in c.pending and group not in c.resyncing:
                g = c.groups.get(group)
                if g is not None and g.active:
                    out.append(c)
        return out

    def _skipped(self, group: str, op: str) -> None:
        """A workload event found no member free to act (all offline, catching up, or waiting
        for a verdict): recorded, so that a thinned workload is visible."""
        self.recorder.event(self.env.now, "workload_skipped", group=group, op=op)

    def _op_app(self, group: str, rng: Any) -> None:
        cands = self._candidates(group)
        if not cands:
            self._skipped(group, "app")
            return
        c = cands[rng.randrange(len(cands))]
        size = int(sample(self.group_specs[group].workload.app_size, rng, self.base_dir))
        if c.groups[group].pending_proposals:
            return  # §12.4: commit first; the workload skips this message
        c.send_application(group, size)

    def _op_update(self, group: str, rng: Any) -> None:
        cands = self._candidates(group)
        if not cands:
            self._skipped(group, "update")
            return
        c = cands[rng.randrange(len(cands))]
        if self.group_specs[group].workload.update_mode == "commit":
            self._commit_update(c, group, None)
        elif group not in c.proposed:
            c.send_update_proposal(group)

    def proposal_received(self, c: Client, group: str, g: Group, res: ProposalReceived) -> None:
        """The designated committer commits (at once, or lazily: after ``lazy_timer`` unless
        ``lazy_batch`` proposals are pending first)."""
        policy = self.scenario.commit_policy
        proposer = res.sender.index
        leaves = [i for i, leaf in g.tree.leaves() if i != proposer]
        if policy.committer == "lowest-online-leaf":
            online = [
                i
                for i, leaf in g.tree.leaves()
                if i != proposer and (m := self.clients.get(leaf.credential.identity.decode())) and m.ready
            ]
            leaves = online or leaves
        if g.leaf_index != min(leaves):
            return
        if policy.lazy_timer > 0 and len(g.pending_proposals) < policy.lazy_batch:
            if (c.name, group) not in self._lazy:
                self._lazy.add((c.name, group))
                self.env.timeout(policy.lazy_timer).callbacks.append(lambda _e: self._lazy_due(c, group))
            return
        self._commit_or_owe(c, group)

    def _lazy_due(self, c: Client, group: str) -> None:
        self._lazy.discard((c.name, group))
        g = c.groups.get(group)
        if g is not None and g.active and g.pending_proposals:
            self._commit_or_owe(c, group)

    def _commit_or_owe(self, c: Client, group: str) -> None:
        if group not in c.pending and c.ready:
            self._commit_proposals(c, group, None)
        else:
            c.owed_commits.add(group)  # committed once it is free (see Client.caught_up)

    def pay_owed_commits(self, c: Client) -> None:
        for group in sorted(c.owed_commits):
            if group not in c.pending:
                c.owed_commits.discard(group)
                self._commit_proposals(c, group, None)

    def _commit_proposals(self, c: Client, group: str, prev: PendingCommit | None) -> None:
        g = c.groups.get(group)
        if g is None or not g.active or group in c.pending or not g.pending_proposals:
            return
        self._commit_update(c, group, prev, kind="proposals")

    def repropose(self, c: Client, group: str) -> None:
        """An epoch change voided ``c``'s Update proposal: propose again after the backoff."""
        key = (c.name, group)
        n = self._repropose_attempts.get(key, 0) + 1
        policy = self.scenario.retry
        if n > policy.max_retries:
            self._repropose_attempts.pop(key, None)
            self.recorder.event(self.env.now, "proposal_gave_up", group=group, client=c.name)
            return
        self._repropose_attempts[key] = n
        delay = self._backoff(c, n)

        def again(_e: Any) -> None:
            g = c.groups.get(group)
            live = g is not None and g.active and c.ready
            if live and group not in c.proposed and self.env.now < self.stop_time:
                c.send_update_proposal(group)
            else:
                self._repropose_attempts.pop(key, None)

        self.env.timeout(delay).callbacks.append(again)

    def proposal_done(self, c: Client, group: str) -> None:
        self._repropose_attempts.pop((c.name, group), None)

    def update_after_messages(self, c: Client, group: str) -> None:
        """The after-k-messages policy: ``c`` updates now if it is free (else at its next message)."""
        if not c.free_in(group):
            return
        c.sent_since_update[group] = 0
        self.recorder.event(
            self.env.now, "policy", group=group, client=c.name, action="update_after_messages"
        )
        if self.group_specs[group].workload.update_mode == "commit":
            self._commit_update(c, group, None)
        elif group not in c.proposed:
            c.send_update_proposal(group)

    def commit_update(self, c: Client, group: str) -> None:
        """``c`` commits a path update now (a policy's action; the caller checked it is free)."""
        self._commit_update(c, group, None)

    def commit_remove(self, remover: Client, group: str, target: str) -> None:
        self._commit_remove(remover, group, target, None)

    # -- multi-device: adding a device to a user (population.device_add_rate) ----------------

    def _device_adds(self, rate: float) -> Generator[Any, Any, None]:
        rng = self.streams.stream("population/device-adds")
        while True:
            yield self.env.timeout(rng.expovariate(rate))
            if self.env.now >= self.stop_time:
                return
            self._device_add(rng.randrange(len(self.users)))

    def _device_add(self, user: int) -> None:
        """The user's first device adds a new device of the same user to every group it is in."""
        devices = self.users[user]
        adder = next((c for c in devices if c.groups), None)
        if adder is None:
            self._skipped("-", "device_add")
            return
        assert self.scenario.population is not None
        new = self.new_client(adder.provider, f"u{user}d{len(devices)}")
        devices.append(new)
        self.user_of[new.name] = user
        groups = sorted(adder.groups)
        self._device_adds_open[new.name] = (self.env.now, set(groups))
        self.recorder.event(self.env.now, "device_add", client=new.name, user=user, groups=len(groups))
        full = self.scenario.population.device_add_mode == "full-update"
        for group in groups:
            self._device_add_in(adder, group, new, full)

    def _device_add_in(self, adder: Client, group: str, new: Client, full: bool) -> None:
        if self.env.now >= self.stop_time or group not in adder.groups:
            return
        if not adder.free_in(group):
            self.env.timeout(1.0).callbacks.append(lambda _e: self._device_add_in(adder, group, new, full))
            return
        ev = self.fetch_key_package(adder, new, group)
        ev.callbacks.append(
            lambda e: self._commit_add(adder, group, new, e.value, None, path=full, kind="device-add")
        )

    def device_joined(self, c: Client, group: str) -> None:
        """A new device joined one of its user's groups: the lazy mode's deferred update is due
        later; the device add is complete once it is in all of them."""
        open_ = self._device_adds_open.get(c.name)
        if open_ is None:
            return
        start, pending = open_
        pending.discard(group)
        if not pending:
            del self._device_adds_open[c.name]
            self.recorder.event(self.env.now, "device_added", client=c.name, duration=self.env.now - start)
        pop = self.scenario.population
        if pop is not None and pop.device_add_mode == "lazy-update":
            self.env.timeout(pop.lazy_delay).callbacks.append(lambda _e: self._deferred_update(c, group))

    def _deferred_update(self, c: Client, group: str) -> None:
        if self.env.now >= self.stop_time or group not in c.groups:
            return
        if not c.free_in(group):
            self.env.timeout(1.0).callbacks.append(lambda _e: self._deferred_update(c, group))
            return
        self._commit_update(c, group, None, kind="device-update")

    def add_member(self, adder: Client, group: str, newbie: Client) -> None:
        """``adder`` fetches ``newbie``'s KeyPackage and commits its Add (a policy's action)."""
        ev = self.fetch_key_package(adder, newbie, group)
        ev.callbacks.append(lambda e: self._commit_add(adder, group, newbie, e.value, None))

    def _commit_update(self, c: Client, group: str, prev: PendingCommit | None, kind: str = "update") -> None:
        """A commit with a path and no new proposals: an update, or (``proposals``) the commit of
        the proposals pending at ``c`` (they go in by reference)."""
        staged = c.stage_commit(group)
        retry = self._commit_proposals if kind == "proposals" else self._commit_update
        c.send_commit(
            group,
            kind,
            staged,
            retry=lambda prev: retry(c, group, prev),
            prev=prev,
        )

    def _op_add(self, group: str, rng: Any) -> None:
        cands = self._candidates(group)
        if not cands:
            self._skipped(group, "add")
            return
        adder = cands[rng.randrange(len(cands))]
        spec = self.group_specs[group]
        mix = spec.providers or {p.name: 1.0 for p in self.scenario.providers}
        self._new_clients += 1
        newbie = self.new_client(self._pick(mix, rng), f"{group}-new{self._new_clients}")
        if spec.workload.join_mode == "external-commit":
            self._request_group_info(newbie, group, None)
            return
        ev = self.fetch_key_package(adder, newbie, group)
        ev.callbacks.append(lambda e: self._commit_add(adder, group, newbie, e.value, None))

    def _request_group_info(self, newbie: Client, group: str, prev: PendingCommit | None) -> None:
        """An external joiner asks the group's DS for GroupInfo and tree, then commits."""
        ds = self.ds_of(group)

        def at_ds() -> None:
            rec = ds.groups[group]
            if rec.group_info is None:  # the group's first commit is not ordered yet
                self.env.timeout(self._backoff(newbie, 1)).callbacks.append(
                    lambda _e: self._request_group_info(newbie, group, prev)
                )
                return
            ds.serve_group_info(
                group, newbie.name, lambda gi, tree: self._external_commit(newbie, group, gi, tree, prev)
            )

        newbie.upload(group, CONTROL_BYTES, "group_info_request", at_ds)

    def _external_commit(
        self,
        c: Client,
        group: str,
        gi: MLSMessage,
        tree: RatchetTree,
        prev: PendingCommit | None,
        *,
        resync: bool = False,
    ) -> None:
        """Join ``group`` by external commit (§12.4.3.2); a re-syncing member also removes its
        old leaf in the same commit."""
        assert isinstance(gi.body, GroupInfo)
        me = c.name.encode()
        old = (
            next((i for i, leaf in tree.leaves() if leaf.credential.identity == me), None) if resync else None
        )
        staged = c.join_external(group, gi.body, tree, resync_remove=old, config=self.config_for(group))
        if not resync:
            self.recorder.event(
                self.env.now,
                "join_cost",
                group=group,
                client=c.name,
                mode="external-commit",
                op="external-join",
                download=len(encode(gi)) + self.ds_of(group).groups[group].tree_bytes(),
                upload=len(encode(staged.message)),
                adder_upload=0,
            )
        refetch = self._resync_fetch if resync else self._request_group_info
        c.send_commit(
            group,
            "resync" if resync else "external-join",
            staged,
            added=() if resync else (c.name,),
            retry=lambda prev: refetch(c, group, prev),
            prev=prev,
        )

    def _commit_add(
        self,
        adder: Client,
        group: str,
        newbie: Client,
        kp: Any,
        prev: PendingCommit | None,
        *,
        path: bool | None = None,
        kind: str = "add",
    ) -> None:
        g = adder.groups.get(group)
        if g is None or not g.active or group in adder.pending:
            return
        staged = adder.stage_commit(group, adds=[kp], path=path)
        secrets: tuple[PREJoinSecret, ...] = ()
        if self.join_mode(group) == "pre":
            secrets = (adder.seal_pre_join(staged, kp),)
        adder.send_commit(
            group,
            kind,
            staged,
            added=(newbie.name,),
            pre_join=secrets,
            retry=(
                (lambda prev: self._refetch_add(adder, group, newbie, prev, path=path, kind=kind))
                if self.leaderless  # a dropped Add's Welcome may have consumed the KeyPackage
                else (lambda prev: self._commit_add(adder, group, newbie, kp, prev, path=path, kind=kind))
            ),
            prev=prev,
        )

    def _refetch_add(
        self,
        adder: Client,
        group: str,
        newbie: Client,
        prev: PendingCommit,
        *,
        path: bool | None = None,
        kind: str = "add",
    ) -> None:
        ev = self.fetch_key_package(adder, newbie, group)
        ev.callbacks.append(
            lambda e: self._commit_add(adder, group, newbie, e.value, prev, path=path, kind=kind)
        )

    def _op_remove(self, group: str, rng: Any) -> None:
        cands = self._candidates(group)
        if not cands:
            self._skipped(group, "remove")
            return
        remover = cands[rng.randrange(len(cands))]
        others = (
            self.view_members(remover, group)
            if self.leaderless
            else [m for m in self.members_of(group) if m != remover.name]
        )
        if len(others) < 2:
            return
        target = others[rng.randrange(len(others))]
        self._commit_remove(remover, group, target, None)

    def _commit_remove(self, remover: Client, group: str, target: str, prev: PendingCommit | None) -> None:
        g = remover.groups.get(group)
        if g is None or not g.active or group in remover.pending:
            return
        leaf = next((i for i, leaf in g.tree.leaves() if leaf.credential.identity == target.encode()), None)
        if leaf is None:
            return  # already gone
        staged = remover.stage_commit(group, removes=[leaf])
        remover.send_commit(
            group,
            "remove",
            staged,
            removed=(target,),
            retry=lambda prev: self._commit_remove(remover, group, target, prev),
            prev=prev,
        )

    def _backoff(self, c: Client, attempt: int) -> float:
        """The retry policy's delay before attempt ``attempt + 1``."""
        policy = self.scenario.retry
        rng = self.streams.stream(f"client/{c.name}/retry")
        if policy.backoff == "none":
            delay = 0.0
        elif policy.backoff == "fixed":
            delay = policy.delay
        else:
            delay = policy.delay * 2 ** (attempt - 1)
        if policy.jitter:
            delay *= rng.uniform(0.5, 1.5)
        return delay

    def schedule_retry(self, c: Client, group: str, p: PendingCommit) -> None:
        if p.attempts > self.scenario.retry.max_retries or p.retry is None:
            self.recorder.event(self.env.now, "commit_gave_up", group=group, client=c.name, op=p.kind)
            return
        retry = p.retry
        ev = self.env.timeout(self._backoff(c, p.attempts))

        def again(_e: Any) -> None:
            g = c.groups.get(group)
            ready = (g is None) if p.kind in ("external-join", "resync") else (g is not None and g.active)
            if ready and c.ready and group not in c.pending and self.env.now < self.stop_time:
                retry(p)
            else:
                self.recorder.event(self.env.now, "commit_abandoned", group=group, client=c.name, op=p.kind)

        ev.callbacks.append(again)

    def _churn(self, c: Client) -> Generator[Any, Any, None]:
        spec = self.scenario.churn
        rng = self.streams.stream(f"client/{c.name}/churn")
        env = self.env
        while True:
            yield env.timeout(rng.expovariate(1.0 / spec.mean_online))
            if env.now >= self.stop_time:
                return
            if not c.held:
                c.go_offline()
            yield env.timeout(rng.expovariate(1.0 / spec.mean_offline))
            if not c.held and not c.online:
                c.go_online()

    # -- running -------------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        """Run the workload, then bring everyone online and let the network drain.

        The run creates millions of long-lived records (transmissions, epoch states) and almost
        no reference cycles, so the cyclic garbage collector's full passes over them are pure
        overhead: its thresholds are raised for the run and restored after (no effect on
        results, only on time)."""
        thresholds = gc.get_threshold()
        gc.set_threshold(100_000, 50, 1000)
        try:
            self._run(progress)
        finally:
            gc.set_threshold(*thresholds)

    def _run(self, progress: Callable[[float], None] | None) -> None:
        self.build()
        end = self.scenario.duration
        step = max(end / 100.0, 1e-3)
        t = 0.0
        while t < end:
            t = min(end, t + step)
            self.env.run(until=t)
            if progress is not None:
                progress(t)
        for c in self.clients.values():
            if not c.online:
                c.go_online()
        self.env.run(until=end + self.scenario.drain)
        if progress is not None:
            progress(end + self.scenario.drain)

    def summary(self) -> dict[str, Any]:
        """The run's results (``sim/summary.py``)."""
        return summarise(self)
