"""What the world's processes and policies see of the world: one Protocol, below all of them.

Workloads, commit policy, retries, re-syncs, device adds and the commit operations are plain
functions of a :class:`Sim` (``sim/workload.py``, ``policies.py``, ``retry.py``, ``resync.py``,
``devices.py``, ``commits.py``, ``joins.py``). ``World`` builds the world, satisfies this
protocol and runs it; the functions never import ``world.py``, so the modules form no circle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import simpy

from ..assist.pre_store import PREJoinSecret
from ..mls.group import GroupConfig, StagedCommit
from ..mls.messages import KeyPackage
from ..scenario.schema import GroupSpec, Scenario
from .client import Client
from .delivery import DeliveryService
from .free import Candidates
from .processing import Processing
from .recorder import Recorder
from .records import PendingCommit
from .rng import Streams

__all__ = ["Sim"]


class SimFanout(Protocol):
    """The fan-out strategy, as the commit operations ask it."""

    def join_secrets(
        self, adder: Client, staged: StagedCommit, kp: KeyPackage, mode: str
    ) -> tuple[PREJoinSecret, ...]: ...
    def joiner(self, group: str, name: str, members: list[str]) -> None: ...


class SimOrdering(Protocol):
    """The ordering design, as the workload and the commit operations ask it."""

    def retry_add(
        self,
        w: Sim,
        adder: Client,
        group: str,
        newbie: Client,
        kp: KeyPackage,
        prev: PendingCommit,
        path: bool | None,
        kind: str,
    ) -> None: ...
    def removal_candidates(self, w: Sim, remover: Client, group: str) -> list[str]: ...


class Sim(Protocol):
    env: simpy.Environment
    recorder: Recorder
    #: how work takes time (``sim/processing.py``)
    processing: Processing
    streams: Streams
    scenario: Scenario
    #: the workload's candidate lists (``sim/free.py``)
    free: Candidates
    base_dir: Path | None
    stop_time: float
    #: when the run's clock starts (after the groups' histories, sim/warmup.py; else 0)
    origin: float
    #: the ordering design (``sim/orderings/``)

    @property
    def ordering(self) -> SimOrdering: ...
    @property
    def fanout(self) -> SimFanout: ...

    clients: dict[str, Client]
    group_specs: dict[str, GroupSpec]
    #: the population's users, each a list of devices, and each device's user
    users: list[list[Client]]
    user_of: dict[str, int]
    #: device adds in progress: new device name -> (start time, groups still to join)
    device_adds_open: dict[str, tuple[float, set[str]]]
    #: (client, group) with a lazy-commit timer running
    lazy_timers: set[tuple[str, str]]
    #: (client, group) -> attempts of re-proposing a voided Update proposal
    repropose_attempts: dict[tuple[str, str], int]
    #: clients the add workload has created so far (names them)
    new_clients: int
    #: groups whose workload has moved to the group that re-initialised them (``sim/reinit.py``)
    ended_workloads: set[str]

    def ds_of(self, group: str) -> DeliveryService: ...
    def join_mode(self, group: str) -> str: ...
    def config_for(self, group: str) -> GroupConfig: ...
    def new_client(self, provider: str, label: str, *, population: bool = False) -> Client: ...
    def members_of(self, group: str) -> list[str]: ...
    def fetch_key_package(self, requester: Client, target: Client, group: str) -> simpy.Event: ...
