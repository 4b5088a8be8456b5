"""A misbehaving DS in a run (issue 20, increment b): its windows as events, what it does to
the messages it carries, and what members detect (``docs/misbehaving-ds.md``).

Opt-in: ``World`` builds a :class:`Misbehaviour` only for a scenario with a ``ds_misbehaviour``
section. The DS asks it, at the last step of every delivery to a client (``deliver_local``,
``deliver_many``), whether it takes the message (drop, delay, reorder, withhold; replay
delivers and sends the copy later); the ordering DS asks it before deciding a commit
(equivocation). Members report every message the MLS core rejects, with the rule that
rejected it, and run the epoch authenticator check; nothing here touches MLS state: the core
alone decides what a member accepts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import simpy

from ..mls.errors import MLSError
from ..mls.group import Group
from ..mls.light_group import LightGroup
from ..mls.messages import MLSMessage, PrivateMessage, PublicMessage
from ..scenario.schema import MisbehaviourEvent, MisbehaviourSpec
from .delivery import CommitView, DeliveryService
from .forks import message_epoch
from .recorder import Recorder
from .records import CONTROL_BYTES, GroupRecord

__all__ = ["Misbehaviour", "Tagged"]


class Tagged:
    """A commit's delivery step that remembers which commit it delivers (for equivocation)."""

    __slots__ = ("call", "view")

    def __init__(self, call: Callable[[], None], view: CommitView) -> None:
        self.call = call
        self.view = view

    def __call__(self) -> None:
        self.call()


class _Member(Protocol):
    name: str
    provider: str

    def on_accept(self, group: str) -> None: ...


class _Provider(Protocol):
    @property
    def ds(self) -> DeliveryService: ...


class MisbehaviourWorld(Protocol):
    env: simpy.Environment
    recorder: Recorder
    ds_groups: dict[str, str]
    group_names: dict[tuple[str, int], str]

    @property
    def streams(self) -> Any: ...
    @property
    def initial_members(self) -> Mapping[tuple[str, int], list[Any]]: ...
    @property
    def providers(self) -> Mapping[str, _Provider]: ...
    @property
    def clients(self) -> Mapping[str, _Member]: ...


Held = tuple[DeliveryService, str, int, str, str, Callable[[], None]]


@dataclass
class _Window:
    index: int
    ev: MisbehaviourEvent
    group: str
    targets: set[str] = field(default_factory=set)
    members: list[str] = field(default_factory=list)
    active: bool = False
    #: when it first acted on a message (equivocation: when it accepted the second commit)
    acted_at: float | None = None
    acted: int = 0
    held: list[Held] = field(default_factory=list)
    #: equivocation: waiting → holding (commit A accepted, held from the targets) → split | missed
    phase: str = "waiting"
    epoch: int = -1
    #: equivocation: the commits accepted on A's branch while holding
    branch_a: list[CommitView] = field(default_factory=list)


#: (rule, RFC 9420 section) of a message the core rejected, by what it was and what it claimed
def _commit_rule(msg: MLSMessage, mine: int) -> tuple[str, str]:
    e = message_epoch(msg)
    if e < mine:
        return "commit_old_epoch", "12.4.2"
    if e > mine:
        return "commit_future_epoch", "12.4.2"
    return "commit_unverifiable", "6.2" if isinstance(msg.body, PublicMessage) else "6.3.2"


#: the core's rejections that an honest DS never causes (lag signs, a message from an epoch
#: the receiver has left or not reached, happen in honest runs and do not count as detection)
ANOMALIES = frozenset(
    {"commit_old_epoch", "commit_future_epoch", "commit_unverifiable", "app_key_deleted", "app_undecryptable"}
)


def _app_rule(exc: MLSError, msg: MLSMessage, mine: int, kept: int) -> tuple[str, str]:
    e = message_epoch(msg)
    name = type(exc).__name__
    if name in ("KeyConsumedError", "GenerationTooOldError"):
        return "app_key_deleted", "9.2"
    if e > mine:
        return "app_future_epoch", "6.3"
    if e < mine - kept:
        return "app_epoch_deleted", "9.2"
    return "app_undecryptable", "6.3.2"


class Misbehaviour:
    """The run's misbehaviour windows, the check, and every detection."""

    def __init__(self, world: MisbehaviourWorld, spec: MisbehaviourSpec, first_group: str) -> None:
        self.world = world
        self.spec = spec
        self.first_group = first_group
        self.windows: list[_Window] = []  # built once the groups are named (start)
        self.reorder = world.streams.stream("misbehaviour/reorder")
        self.check_rng = world.streams.stream("misbehaviour/check")
        #: (client, group) -> epoch -> (epoch authenticator, when reached)
        self.history: dict[tuple[str, str], dict[int, tuple[bytes, float]]] = {}
        #: (time, group, client, rule, section, by)
        self.detections: list[tuple[float, str, str, str, str, str]] = []
        self.check_messages = 0
        self.check_bytes = 0

    # -- the timeline ------------------------------------------------------------------------

    def start(self) -> None:
        env = self.world.env
        names = self.world.group_names
        self.windows = [
            _Window(i, ev, names[(ev.group or self.first_group, ev.instance)])
            for i, ev in enumerate(self.spec.events)
        ]
        for w in self.windows:
            env.timeout(w.ev.at).callbacks.append(partial(self._started, w))
            env.timeout(w.ev.at + w.ev.duration).callbacks.append(partial(self._ended, w))

    def _started(self, w: _Window, _ev: simpy.Event) -> None:
        world = self.world
        ev = w.ev
        rec = world.providers[world.ds_groups[w.group]].ds.groups.get(w.group)
        w.members = sorted(rec.members) if rec is not None else []
        initial = world.initial_members[(ev.group or self.first_group, ev.instance)]
        picked = {initial[i].name for i in ev.members}
        if ev.share is not None:
            pool = sorted(m for m in w.members if m not in picked)
            k = max(1, round(ev.share * len(w.members)) - len(picked))
            if ev.kind == "equivocate":
                k = min(k, len(pool) - 1)
            rng = random.Random(world.streams.stream(f"misbehaviour/targets/{w.index}").random())
            picked |= set(rng.sample(pool, max(0, min(k, len(pool)))))
        w.targets = picked if (ev.members or ev.share is not None) else set(w.members)
        w.active = True
        world.recorder.event(
            world.env.now,
            "ds_misbehaviour_start",
            window=w.index,
            misbehaviour=ev.kind,
            provider=ev.provider,
            group=w.group,
            targets=sorted(w.targets),
        )

    def _ended(self, w: _Window, _ev: simpy.Event) -> None:
        w.active = False
        released = 0
        if (w.ev.kind == "withhold" and w.ev.release) or w.phase == "holding":
            for ds, client, size, msg_type, group, call in w.held:
                ds.deliver_now(client, size, msg_type, group, call)
            released = len(w.held)
            w.held.clear()
        if w.phase == "holding":
            w.phase = "missed"
        self.world.recorder.event(
            self.world.env.now,
            "ds_misbehaviour_end",
            window=w.index,
            acted=w.acted,
            released=released,
            never_delivered=len(w.held),
            phase=w.phase if w.ev.kind == "equivocate" else "",
        )

    # -- what the DS asks ----------------------------------------------------------------------

    def _on_path(self, w: _Window, ds: DeliveryService, group: str) -> bool:
        p = w.ev.provider
        return ds.provider == p or self.world.ds_groups.get(group) == p

    def intercept(
        self, ds: DeliveryService, client: str, size: int, msg_type: str, group: str, call: Callable[[], None]
    ) -> bool:
        """Does a window take this delivery (True: the caller must not deliver it now)?"""
        for w in self.windows:
            if not (w.group == group and client in w.targets):
                continue
            kind = w.ev.kind
            if kind == "equivocate":
                if self._equivocation_takes(w, ds, client, size, msg_type, group, call):
                    return True
                continue
            if not (w.active and msg_type in w.ev.msg_types and self._on_path(w, ds, group)):
                continue
            return self._act(w, ds, client, size, msg_type, group, call)
        return False

    def _act(
        self,
        w: _Window,
        ds: DeliveryService,
        client: str,
        size: int,
        msg_type: str,
        group: str,
        call: Callable[[], None],
    ) -> bool:
        now = self.world.env.now
        w.acted += 1
        if w.acted_at is None:
            w.acted_at = now
        self.world.recorder.event(
            now, "ds_acted", window=w.index, action=w.ev.kind, client=client, group=group, msg_type=msg_type
        )
        later = partial(ds.deliver_now, client, size, msg_type, group, call)
        kind = w.ev.kind
        if kind == "drop":
            return True
        if kind == "withhold":
            w.held.append((ds, client, size, msg_type, group, call))
            return True
        if kind == "replay":
            self._after(w.ev.replay_after, later)
            return False
        self._after(w.ev.extra_delay if kind == "delay" else self.reorder.uniform(0, w.ev.spread), later)
        return True

    def _after(self, delay: float, then: Callable[[], None]) -> None:
        self.world.env.timeout(delay).callbacks.append(lambda _ev: then())

    def _equivocation_takes(
        self,
        w: _Window,
        ds: DeliveryService,
        client: str,
        size: int,
        msg_type: str,
        group: str,
        call: Callable[[], None],
    ) -> bool:
        """Commit A (and what follows it on its branch) is held from the targets until the split,
        then dropped, and so is every commit of A's branch until the window ends (the DS keeps
        the split); held commits reach the targets if no target's commit came to split."""
        if msg_type != "commit":
            return False
        if w.phase == "holding":
            w.held.append((ds, client, size, msg_type, group, call))
            return True
        # A's branch goes on without the targets
        if (
            w.phase == "split"
            and w.active
            and isinstance(call, Tagged)
            and any(v is call.view for v in w.branch_a)
        ):
            w.acted += 1
            return True
        return False

    def tag_step(
        self, step: Callable[[Any], tuple[int, Callable[[], None]]], view: CommitView
    ) -> Callable[[Any], tuple[int, Callable[[], None]]]:
        """The commit fan-out's per-recipient step, its calls tagged with the commit."""

        def tagged(m: Any) -> tuple[int, Callable[[], None]]:
            size, call = step(m)
            return size, Tagged(call, view)

        return tagged

    def equivocates(
        self, ds: DeliveryService, group: str, rec: GroupRecord, epoch: int, sender: str, view: CommitView
    ) -> bool:
        """At the ordering DS, before its verdict: does an equivocation window decide this commit
        (True: it accepted it as the second commit of an epoch)?"""
        plain = not view.added and not view.removed and view.kind not in ("create", "external-join", "resync")
        for w in self.windows:
            if w.ev.kind != "equivocate" or w.group != group or ds.provider != w.ev.provider:
                continue
            if w.phase == "holding" and w.active and plain and sender in w.targets and epoch == w.epoch:
                self._split(w, ds, group, rec, sender, view)
                return True
            if w.phase in ("holding", "split") and w.active:
                w.branch_a.append(view)  # accepted normally on A's branch: held from the targets
            if w.phase == "waiting" and w.active and plain and sender not in w.targets and epoch == rec.epoch:
                w.phase, w.epoch = "holding", epoch
                w.branch_a.append(view)
        return False

    def _split(
        self, w: _Window, ds: DeliveryService, group: str, rec: GroupRecord, sender: str, view: CommitView
    ) -> None:
        world = self.world
        now = world.env.now
        w.phase, w.acted_at = "split", now
        w.acted += len(w.held)
        w.held.clear()  # commit A and its successors never reach the targets
        world.recorder.event(
            now,
            "commit_accepted",
            group=group,
            client=sender,
            epoch=w.epoch + 1,
            at_orderer=world.clients[sender].provider == ds.provider,
        )
        world.recorder.event(
            now,
            "ds_equivocated",
            window=w.index,
            group=group,
            epoch=w.epoch + 1,
            client=sender,
            targets=len(w.targets),
        )
        receivers = [m for m in sorted(w.targets) if m != sender and m in rec.members]
        step = self.tag_step(partial(ds.world.fanout.commit_for, group, view), view)
        ds.fan_out_each(receivers, "commit", group, view.wire or view.commit_bytes, step)
        ds.to_client(
            sender, CONTROL_BYTES, "commit_accept", group, partial(world.clients[sender].on_accept, group)
        )

    # -- what members report ------------------------------------------------------------------

    def epoch_reached(self, client: str, group: str, g: Group | LightGroup) -> None:
        self.history.setdefault((client, group), {})[g.epoch] = (g.epoch_authenticator, self.world.env.now)

    def check_data(self, client: str, group: str, g: Group) -> bytes:
        """The authenticated_data of an application message: the sender's epoch authenticator
        when the check is on and this message is one of its share, else nothing."""
        check = self.spec.check
        if check is None or (check.share < 1 and self.check_rng.random() >= check.share):
            return b""
        auth = g.epoch_authenticator
        self.check_messages += 1
        self.check_bytes += len(auth)
        return auth

    def _detected(self, client: str, group: str, rule: str, section: str, by: str) -> None:
        now = self.world.env.now
        self.detections.append((now, group, client, rule, section, by))
        self.world.recorder.event(
            now, "ds_detected", group=group, client=client, rule=rule, section=section, by=by
        )

    def commit_rejected(self, client: str, group: str, g: Group, msg: MLSMessage) -> bool:
        """The core rejected a commit: record the rule; True when the member just drops it
        (an old epoch's commit: its state is unchanged and it is not behind)."""
        rule, section = _commit_rule(msg, g.epoch)
        self._detected(client, group, rule, section, "mls")
        return rule == "commit_old_epoch"

    def app_received(
        self, client: str, group: str, g: Group, msg: MLSMessage, err: MLSError | None, kept: int
    ) -> None:
        """An application message arrived: the rule that rejected it, if any, and the check on
        the authenticator it carries (readable without decrypting: PrivateMessage's
        authenticated_data is sent in the clear, §6.3)."""
        if err is not None:
            rule, section = _app_rule(err, msg, g.epoch, kept)
            self._detected(client, group, rule, section, "mls")
        body = msg.body
        check = self.spec.check
        if check is None or not isinstance(body, PrivateMessage) or not body.authenticated_data:
            return
        hist = self.history.get((client, group), {})
        mine = hist.get(body.epoch)
        if mine is not None and mine[0] != body.authenticated_data:
            self._detected(client, group, "check_split_view", "8.7", "check")
            return
        moved = hist.get(body.epoch + 1)
        if moved is not None and self.world.env.now - moved[1] > check.lag_tolerance:
            self._detected(client, group, "check_lag", "8.7", "check")

    # -- the summary ----------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The ``ds_misbehaviour`` section (keys in docs/metrics.md)."""
        acted: dict[str, int] = {}
        for w in self.windows:
            acted[w.ev.kind] = acted.get(w.ev.kind, 0) + w.acted
        rules: dict[str, int] = {}
        for _, _, _, rule, _, _ in self.detections:
            rules[rule] = rules.get(rule, 0) + 1
        first = next((w for w in sorted(self.windows, key=lambda w: w.ev.at) if w.acted_at is not None), None)
        detection = {by: self._detection(first, by) for by in ("mls", "check")}
        return {
            "windows": len(self.windows),
            "acted": dict(sorted(acted.items())),
            "equivocations": sum(1 for w in self.windows if w.phase == "split"),
            "never_delivered": sum(len(w.held) for w in self.windows),
            "by_rule": dict(sorted(rules.items())),
            "check_messages": self.check_messages,
            "check_bytes": self.check_bytes,
            "detection": detection,
        }

    def _detection(self, w: _Window | None, by: str) -> dict[str, Any]:
        """From the first window's first act to the first member detecting (by the core's rules
        or by the check), and to every member of the group at the window's start."""
        out: dict[str, Any] = {"detected": 0, "first_s": None, "all_s": None, "members": 0, "of": 0}
        if w is None or w.acted_at is None:
            return out
        start = w.acted_at
        firsts: dict[str, float] = {}
        for t, group, client, rule, _, how in self.detections:
            if (
                how == by
                and (by == "check" or rule in ANOMALIES)
                and group == w.group
                and t >= start
                and client not in firsts
            ):
                firsts[client] = t - start
        out["of"] = len(w.members)
        out["members"] = sum(1 for m in w.members if m in firsts)
        if firsts:
            out["detected"] = 1
            out["first_s"] = round(min(firsts.values()), 6)
        if w.members and all(m in firsts for m in w.members):
            out["all_s"] = round(max(firsts[m] for m in w.members), 6)
        return out
