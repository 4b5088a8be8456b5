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

from ..assist.pre import PRE
from ..mls.crypto import CipherSuite, get_suite
from ..mls.crypto.counting import CountingSuite
from ..mls.group import EpochCache, Group, GroupConfig
from ..mls.group_state import ProposalReceived
from ..mls.light_group import LightGroup
from ..mls.messages import KeyPackage, WireFormat
from ..scenario.schema import GroupSpec, Scenario
from . import commits, devices, policies, resync, retry, workload
from .client import AS_LEAF_POLICY, Client
from .compromise import Compromises
from .delivery import AuthenticationService, DeliveryService
from .ds_processing import DSQueue, make_ds_queue
from .fanouts import make_fanout
from .faults import Faults, region_latencies
from .free import Candidates, Changes
from .misbehaviour import Misbehaviour
from .network import Network
from .orderings import make_ordering
from .processing import Hardware, Processing, make_processing
from .recorder import Recorder
from .records import CONTROL_BYTES, GroupRecord, PendingCommit
from .reinit import Reinits
from .rng import Streams
from .routing import fetch_key_package
from .summary import summarise
from .warmup import Warmup
from .workload import pick

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
        #: what makes a member free to act, and the workload's candidate lists (sim/free.py)
        self.changes = Changes()
        self.free = Candidates(self.changes)
        self.network = Network(self.env, self.streams, scenario.network, self.recorder, base_dir)
        self.base_dir = base_dir
        self.suite: CipherSuite = get_suite(scenario.crypto.suite, scenario.crypto.family)
        if scenario.hardware is not None and scenario.hardware.processing_time:
            # every primitive a client executes is counted at the suite interface (issue 19)
            self.suite = CountingSuite(self.suite)
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
        #: the ordering design (sim/orderings/): what happens to every handshake message
        self.ordering = make_ordering(fed)
        self.fanout = make_fanout(
            fed.fanout,
            self.suite,
            scenario.crypto.family,
            self.streams.mls,
            fed.pre_key_refresh,
            light=any(g.light_share is not None for g in scenario.groups),
        )
        #: the PRE scheme under ``fanout: pre`` (same family as the cipher suite)
        self.pre: PRE | None = self.fanout.scheme
        self._configs: dict[bool, GroupConfig] = {
            v: dataclasses.replace(self.group_config, ratchet_tree_in_welcome=v) for v in (True, False)
        }
        self.clients: dict[str, Client] = {}
        self.repropose_attempts: dict[tuple[str, str], int] = {}
        self.created: dict[str, simpy.Event] = {}
        self.initial_members: dict[tuple[str, int], list[Client]] = {}
        #: (client, group) with a lazy-commit timer running
        self.lazy_timers: set[tuple[str, str]] = set()
        self.ds_groups: dict[str, str] = {}  # group -> provider whose DS orders it
        self.group_specs: dict[str, GroupSpec] = {}
        #: (group, epoch, epoch authenticator) -> when each client reached that state
        self.reached: dict[tuple[str, int, bytes], dict[str, float]] = defaultdict(dict)
        self.authenticators: dict[tuple[str, int], set[bytes]] = defaultdict(set)
        self.new_clients = 0
        self.stop_time = scenario.duration
        #: groups replaying a history before the run (``groups[].steady_state``, sim/warmup.py);
        #: the run's clock starts at ``origin``, when all are done (0 without any)
        self.warmups: dict[str, Warmup] = {}
        self.origin = 0.0
        self._measured: simpy.Event = self.env.event()
        #: (groups entry name, instance) -> group name
        self.group_names: dict[tuple[str, int], str] = {}
        #: the population's users, each a list of devices, and each device's user
        self.users: list[list[Client]] = []
        self.user_of: dict[str, int] = {}
        #: device adds in progress: new device name -> (start time, groups still to join)
        self.device_adds_open: dict[str, tuple[float, set[str]]] = {}
        #: hardware profiles and processing time (sim/processing.py); without a hardware section,
        #: none and Instant: nothing changes
        hw = scenario.hardware
        self.hardware: Hardware | None = Hardware(hw, scenario.seed) if hw is not None else None
        if self.hardware is not None:
            hardware = self.hardware
            self.network.use_access_links(
                lambda node, spec, upload: hardware.access_link(node[2:], spec, upload=upload)
            )
        self.processing: Processing = make_processing(
            hw, self.env, self.recorder, scenario.crypto.suite, self.hardware, base_dir or Path(".")
        )
        #: every DS a queue of jobs (``hardware.ds``, sim/ds_processing.py); None: DS work is instant
        self.ds_queue: DSQueue | None = make_ds_queue(
            hw, self.env, self.recorder, scenario.crypto.suite, self.fanout, base_dir or Path(".")
        )
        for p in self.providers.values():
            p.ds.queue = self.ds_queue
        #: regions and faults (issue 20, sim/faults.py): without them, none and nothing changes
        regional = region_latencies(scenario)
        if regional is not None:
            self.network.use_ds_latency(regional)
        self.faults: Faults | None = Faults(self, scenario.faults) if scenario.faults is not None else None
        if self.faults is not None:
            self.network.use_gate(self.faults)
        #: a misbehaving DS and the authenticator check (sim/misbehaviour.py): without, none
        mis = scenario.ds_misbehaviour
        self.misbehaviour: Misbehaviour | None = None
        if mis is not None:
            self.misbehaviour = Misbehaviour(self, mis, scenario.groups[0].name)
        #: compromises and healing, when the scenario has any (sim/compromise.py)
        self.compromises: Compromises | None = Compromises(self) if scenario.adversary.compromises else None
        #: the active adversary's forged messages, when a compromise impersonates (sim/impersonation.py)
        self.forgeries = self.compromises.impersonation if self.compromises is not None else None
        #: re-initialisations (``groups[].reinit``, sim/reinit.py): without any, none
        self.reinits: Reinits | None = Reinits(self) if any(g.reinit for g in scenario.groups) else None
        #: groups whose workload has moved to the group that re-initialised them
        self.ended_workloads: set[str] = set()

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
            or self.ordering.public_state_for_resync(self.scenario.federation.resync)
        )

    def new_client(self, provider: str, label: str, *, population: bool = False) -> Client:
        name = f"{label}@{provider}"
        if self.hardware is not None:
            self.hardware.profile_name(name, provider, population)
        c = Client(self, name, provider)
        self.clients[name] = c
        self.providers[provider].ds.connected.add(name)
        if self.scenario.churn.enabled:
            self.env.process(workload.churn(self, c))
        return c

    def epoch_reached(self, group: str, client: str, g: Group | LightGroup) -> None:
        self.changes.group(group)  # a new epoch may have made the state inactive (sim/free.py)
        if self.warmups and (wu := self.warmups.get(group)) is not None and not wu.done.triggered:
            wu.epoch(client, g)
        self.reached[(group, g.epoch, g.epoch_authenticator)][client] = self.env.now
        self.authenticators[(group, g.epoch)].add(g.epoch_authenticator)
        self.recorder.event(self.env.now, "epoch", group=group, client=client, epoch=g.epoch)
        if self.misbehaviour is not None:
            self.misbehaviour.epoch_reached(client, group, g)
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
        if self.reinits is not None:
            self.reinits.epoch_reached(group, client, g)

    # -- re-sync ---------------------------------------------------------------------------------

    # -- building ------------------------------------------------------------------------------

    def _build_population(self) -> None:
        pop = self.scenario.population
        if pop is None:
            return
        mix = pop.providers or dict.fromkeys((p.name for p in self.scenario.providers), 1.0)
        place = self.streams.stream("population/placement")
        count = self.streams.stream("population/devices")
        for u in range(pop.users):
            provider = pick(mix, place)
            n = count.randint(pop.devices_min, pop.devices_max)
            self.users.append([self.new_client(provider, f"u{u}d{j}", population=True) for j in range(n)])
            for c in self.users[-1]:
                self.user_of[c.name] = u
        if pop.device_add_rate > 0:
            self.env.process(devices.device_adds(self, pop.device_add_rate * pop.users))

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
                self.ds_groups[gname] = self.ordering.orderer_of(owner, provider_names)
                rng = self.streams.stream(f"group/{gname}/placement")
                members = (
                    self._population_members(gname, spec.size)
                    if spec.from_population
                    else [
                        self.new_client(
                            pick(mix, rng),
                            f"{gname}-u{i // spec.devices_per_user}d{i % spec.devices_per_user}",
                        )
                        for i in range(spec.size)
                    ]
                )
                self.initial_members[(spec.name, k)] = members
                if spec.light_share is not None:
                    rng_light = self.streams.stream(f"group/{gname}/light")
                    self.fanout.place_light(gname, [m.name for m in members], spec.light_share, rng_light)
                self.group_names[(spec.name, k)] = gname
                if spec.steady_state is not None:
                    self.warmups[gname] = Warmup(self, gname, members, spec.steady_state)
                self.env.process(self._create_group(gname, members, spec))
                if spec.reinit is not None and self.reinits is not None:
                    self.reinits.schedule(gname, spec.reinit, members)
        if self.compromises is not None:
            self.compromises.schedule(self.group_names)
        for ev in self.scenario.script:
            target = self.initial_members[(ev.group, ev.instance)][ev.member]
            self.env.timeout(ev.at).callbacks.append(partial(workload.scripted, self, target, ev.action))
        if self.faults is not None:
            self.faults.start()
        if self.misbehaviour is not None:
            self.misbehaviour.start()

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
        # the workload's clock starts once the creation commit is ordered (merged, without an
        # orderer), so that per-member rates see the whole initial membership
        self.created[gname] = env.event()
        commits.create(
            self,
            creator,
            gname,
            lambda: creator.stage_commit(gname, adds=kps),
            lambda staged: creator.send_commit(
                gname, "create", staged, added=tuple(m.name for m in members[1:])
            ),
        )
        yield self.created[gname]
        if gname in self.warmups:
            yield env.process(self.warmups[gname].run())
            yield self._measured
        yield env.timeout(spec.workload.start)
        workload.start(self, gname, spec.workload)

    def members_of(self, group: str) -> list[str]:
        """The group's members as the world sees them (for workload rates and senders): the
        orderer's record; without an orderer, a directory the committers update as they merge
        (a dropped commit's change stays in it until redone: an approximation for the workload
        only, never for results, which come from the members' own states)."""
        return list(self.ds_of(group).groups[group].members)

    # -- what clients and the compromise bookkeeping report (ClientWorld, CompromiseWorld) -------

    def schedule_retry(self, c: Client, group: str, p: PendingCommit) -> None:
        retry.schedule_retry(self, c, group, p)

    def start_resync(self, c: Client, group: str, reason: str) -> None:
        if self.reinits is not None and self.reinits.closed(c, group, reason):
            return  # the group was re-initialised: over, nothing to re-sync to (sim/reinit.py)
        self.ordering.start_resync(self, c, group, reason)

    def resync_done(self, c: Client, group: str) -> None:
        resync.done(self, c, group)

    def pay_owed_commits(self, c: Client) -> None:
        policies.pay_owed_commits(self, c)

    def proposal_received(self, c: Client, group: str, g: Group, res: ProposalReceived) -> None:
        if self.warmups and (wu := self.warmups.get(group)) is not None and not wu.done.triggered:
            wu.proposal(c.name)  # the history's committer is planned: no policy commits
            return
        policies.proposal_received(self, c, group, g, res)

    def proposal_done(self, c: Client, group: str) -> None:
        retry.proposal_done(self, c, group)

    def repropose(self, c: Client, group: str) -> None:
        retry.repropose(self, c, group)

    def update_after_messages(self, c: Client, group: str) -> None:
        policies.update_after_messages(self, c, group)

    def device_joined(self, c: Client, group: str) -> None:
        devices.device_joined(self, c, group)

    def add_member(self, adder: Client, group: str, newbie: Client) -> None:
        commits.add_member(self, adder, group, newbie)

    def commit_update(self, c: Client, group: str) -> None:
        """``c`` commits a path update now (a policy's action; the caller checked it is free)."""
        commits.update(self, c, group, None)

    def commit_remove(self, remover: Client, group: str, target: str) -> None:
        commits.remove(self, remover, group, target, None)

    # -- running -------------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        """Run the workload, then bring everyone online and let the network drain.

        The run creates millions of long-lived records (transmissions, epoch states) and almost
        no reference cycles, so the cyclic garbage collector's full passes over them are pure
        overhead: its thresholds are raised for the run and restored after, and what exists
        once the world is built and again once every group is created (clients, trees, keys)
        is frozen (``gc.freeze``: never traversed again) until the run ends — unless the caller
        froze objects of its own, which the run then leaves alone. No effect on results, only
        on time."""
        thresholds = gc.get_threshold()
        gc.set_threshold(100_000, 50, 1000)
        freeze = gc.get_freeze_count() == 0
        try:
            self._run(progress, freeze)
        finally:
            gc.set_threshold(*thresholds)
            if freeze:
                gc.unfreeze()

    def _run(self, progress: Callable[[float], None] | None, freeze: bool = False) -> None:
        self.build()
        if freeze:
            gc.freeze()
        if self.warmups:
            self._replay_histories()
        end = self.origin + self.scenario.duration
        step = max(self.scenario.duration / 100.0, 1e-3)
        t = self.origin
        while t < end:
            t = min(end, t + step)
            self.env.run(until=t)
            if freeze and all(e.triggered for e in self.created.values()):
                gc.freeze()  # the groups are built (checked between steps: no simulated event)
                freeze = False
            if progress is not None:
                progress(t)
        for c in self.clients.values():
            if not c.online:
                c.go_online()
        self.env.run(until=end + self.scenario.drain)
        if progress is not None:
            progress(end + self.scenario.drain)

    def _replay_histories(self) -> None:
        """Run until every group's history is replayed and the network is quiet, then forget
        it all and start the run's clock (``sim/warmup.py``)."""
        env = self.env
        done = simpy.AllOf(env, [wu.done for wu in self.warmups.values()])
        env.run(until=done)
        while not self.network.idle():
            env.step()
        self.recorder.restart()
        self.origin = env.now
        self.stop_time = self.origin + self.scenario.duration
        for gname, wu in self.warmups.items():
            assert wu.plan is not None
            g = wu.members[0].groups[gname]
            self.recorder.event(
                env.now,
                "history_replayed",
                group=gname,
                epoch=g.epoch,
                played=len(wu.plan.played),
                replayed=len(wu.plan.rounds),
                filled=len(wu.plan.filled),
            )
        self._measured.succeed()

    def summary(self) -> dict[str, Any]:
        """The run's results (``sim/summary.py``)."""
        return summarise(self)
