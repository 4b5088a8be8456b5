"""A group's history before the run (``groups[].steady_state``, issue 21 item 3).

The rounds ``sim/tree_history.py`` plans are replayed by the real members through the
simulated DSs, one at a time: the round's members propose their Updates, and once every member
holds them, the committer commits them by reference with a path; the next round waits until
every member has merged it. One round at a time, so no commit collides and the tree is exactly
the planned one (checked at the end against the committer's tree). Nothing of the history is
measured: when every group's history is over and the network is quiet, the recorder starts
afresh and the run's clock (``duration``, the workload) counts from there (``World._run``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from ..mls.group import Group
from ..mls.light_group import LightGroup
from ..scenario.schema_groups import SteadyStateSpec
from . import commits
from .client import Client
from .context import Sim
from .tree_history import HistoryPlan, plan_history

__all__ = ["Warmup", "HistoryMismatch"]


class HistoryMismatch(RuntimeError):
    """The replayed tree is not the planned one: a bug, never a result."""


class Warmup:
    """The replay of one group's history; ``World`` passes it epochs and proposals."""

    def __init__(self, w: Sim, group: str, members: list[Client], spec: SteadyStateSpec) -> None:
        self.w = w
        self.group = group
        self.members = members
        self.spec = spec
        self.done: simpy.Event = w.env.event()
        self.plan: HistoryPlan | None = None
        #: what the current step waits for: (epoch every member must reach, proposals every
        #: member must hold), and the event that fires then
        self._epoch = 1
        self._reached: set[str] = set()
        self._proposals = 0
        self._held: dict[str, int] = {}
        #: members holding ``_proposals`` proposals (kept as they arrive: one O(1) step per
        #: member per proposal, not a scan of all members)
        self._holding = 0
        self._wake: simpy.Event | None = None

    # -- what World reports ----------------------------------------------------------------

    def epoch(self, client: str, g: Group | LightGroup) -> None:
        if g.epoch >= self._epoch:
            self._reached.add(client)
            self._check()

    def proposal(self, client: str) -> None:
        held = self._held[client] = self._held.get(client, 0) + 1
        if held == self._proposals:
            self._holding += 1
        self._check()

    def _check(self) -> None:
        n = len(self.members)
        if self._wake is None or self._wake.triggered:
            return
        if len(self._reached) < n:
            return
        if self._proposals and self._holding < n:
            return
        self._wake.succeed()

    def _wait(self, epoch: int, proposals: int) -> simpy.Event:
        self._epoch = epoch
        self._reached = {
            c.name for c in self.members if (g := c.groups.get(self.group)) is not None and g.epoch >= epoch
        }
        self._proposals = proposals
        self._holding = sum(1 for k in self._held.values() if k >= proposals)
        self._wake = self.w.env.event()
        self._check()
        return self._wake

    # -- the replay ------------------------------------------------------------------------

    def run(self) -> Generator[Any, Any, None]:
        w, group = self.w, self.group
        yield self._wait(1, 0)  # every member has joined
        creator = self.members[0].groups[group]  # the creator's state: it merges every round
        by_leaf = {int(i): w.clients[leaf.credential.identity.decode()] for i, leaf in creator.tree.leaves()}
        rng = w.streams.stream(f"group/{group}/history")
        n = len(by_leaf)
        plan = plan_history(n, self.spec.proposals_per_commit, round(self.spec.rounds_per_member * n), rng)
        self.plan = plan
        for rnd in plan.rounds:
            epoch = creator.epoch
            self._held = {c.name: 0 for c in self.members}
            for u in rnd.updaters:
                by_leaf[u].send_update_proposal(group)
            # the proposer holds its own proposal without receiving it
            for u in rnd.updaters:
                self._held[by_leaf[u].name] += 1
            yield self._wait(epoch, len(rnd.updaters))
            committer = by_leaf[rnd.committer]
            commits.update(w, committer, group, None, kind="proposals" if rnd.updaters else "update")
            yield self._wait(epoch + 1, 0)
        self._wake = None
        tree = by_leaf[plan.rounds[-1].committer if plan.rounds else 0].groups[group].tree
        filled = frozenset(x for x in range(1, tree.width, 2) if tree.node(x) is not None)
        if filled != plan.filled:
            raise HistoryMismatch(f"group {group}: the replayed tree is not the planned one")
        self.done.succeed()
