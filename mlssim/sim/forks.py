"""Leaderless designs (``client-fanout``, ``decentralised``): forks and their resolution.

Without an orderer, every committer merges its own commit at once and sends it to the members
of its epoch; two commits for one epoch fork the group. The rule, applied by every member:

- A member applies the first commit it can for its current epoch, keeping its state before
  it (a checkpoint: :meth:`mlssim.mls.group.Group.copy`, no re-implementation of MLS).
- The commit with the lowest SHA-256 of its encoded ``MLSMessage`` wins an epoch. A member that
  applied X for epoch e and then receives a valid Y for e with H(Y) < H(X) rolls back to its
  checkpoint at e, applies Y, and drops everything it applied after X (a *switch*). A Y with
  H(Y) > H(X) is dropped (the fork is *detected*).
- Commits that cannot be applied now (a later epoch, one built on another branch, or one that
  overtook the joiner's Welcome on another path) wait in a buffer and are tried again whenever
  the member's state changes.
- A member keeps checkpoints of its last ``HISTORY`` epochs; a fork deeper than that cannot be
  rolled back (``fork_unresolved``, counted; such a member needs a re-sync).
- A committer whose commit was dropped by a switch redoes its operation on the winning branch
  under the retry policy. A joiner welcomed by a dropped commit holds a dead branch until the
  redone Add welcomes it again (its new Welcome replaces the dead state).

Every member of epoch e receives every commit for e, so all members end on the same branch once
the network drains: at each epoch, the lowest-hash commit built on the previous winner.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

import simpy

from ..mls.codec import encode
from ..mls.errors import MLSError
from ..mls.group import CommitApplied, Group
from ..mls.messages import MLSMessage, PrivateMessage, PublicMessage
from .recorder import Recorder
from .records import PendingCommit

__all__ = [
    "HISTORY",
    "ForkState",
    "commit_digest",
    "joined",
    "message_epoch",
    "receive_commit",
    "record_own_commit",
]

#: epochs of checkpoints a member keeps for rolling back
HISTORY = 32


def commit_digest(msg: MLSMessage) -> bytes:
    return hashlib.sha256(encode(msg)).digest()


def message_epoch(msg: MLSMessage) -> int:
    body = msg.body
    if isinstance(body, PublicMessage):
        return body.content.epoch
    if isinstance(body, PrivateMessage):
        return body.epoch
    raise TypeError(f"not a framed message: {type(body).__name__}")


class _World(Protocol):
    env: simpy.Environment
    recorder: Recorder


class ForkMember(Protocol):
    """A client as fork resolution sees it: its states, its fork bookkeeping, and the two
    things it reports (a commit applied, an own commit dropped)."""

    name: str
    groups: dict[str, Group]
    forks: dict[str, ForkState]

    @property
    def world(self) -> _World: ...
    def commit_applied(self, group: str, g: Group, res: CommitApplied) -> None: ...
    def commit_dropped(self, group: str, p: PendingCommit, digest: bytes) -> None: ...


@dataclass
class Applied:
    """A commit this member applied: built on ``epoch``, with the state before it."""

    epoch: int
    digest: bytes
    before: Group
    mine: PendingCommit | None = None


@dataclass
class ForkState:
    applied: list[Applied] = field(default_factory=list)
    #: commits not applicable yet, by digest
    buffer: dict[bytes, MLSMessage] = field(default_factory=dict)
    #: this member was removed by the last commit it applied (it may still be rolled back)
    removed: bool = False


def _state(c: ForkMember, group: str) -> ForkState:
    return c.forks.setdefault(group, ForkState())


def record_own_commit(
    c: ForkMember, group: str, before: Group, msg: MLSMessage, pending: PendingCommit
) -> None:
    st = _state(c, group)
    st.applied.append(Applied(before.epoch, commit_digest(msg), before, pending))
    _trim(st)


def receive_commit(c: ForkMember, group: str, msg: MLSMessage) -> None:
    st = _state(c, group)
    st.buffer[commit_digest(msg)] = msg
    _settle(c, group, st)


def joined(c: ForkMember, group: str) -> None:
    """The client joined (again) from a Welcome: its old branch, if any, is gone; commits that
    reached it before the Welcome (they travel other paths) are tried now."""
    old = c.forks.pop(group, None)
    st = _state(c, group)
    if old is not None:
        st.buffer = old.buffer
        _settle(c, group, st)


def _current_epoch(c: ForkMember, group: str, st: ForkState) -> int | None:
    g = c.groups.get(group)
    if g is not None:
        return g.epoch
    if st.removed and st.applied:
        return st.applied[-1].epoch + 1
    return None


def _settle(c: ForkMember, group: str, st: ForkState) -> None:
    w = c.world
    progress = True
    while progress:
        progress = False
        cur = _current_epoch(c, group, st)
        if cur is None:  # not (yet) a member: keep what came, a Welcome may follow
            while len(st.buffer) > HISTORY:
                del st.buffer[min(st.buffer, key=lambda d: message_epoch(st.buffer[d]))]
            return
        for digest in sorted(st.buffer):
            msg = st.buffer[digest]
            e = message_epoch(msg)
            if e == cur and not st.removed:
                g = c.groups[group]
                before = g.copy()
                try:
                    res = g.process(msg)
                except MLSError:
                    continue  # built on another branch, or not for us: keep it for later
                del st.buffer[digest]
                assert isinstance(res, CommitApplied)
                st.applied.append(Applied(e, digest, before))
                c.commit_applied(group, g, res)
                st.removed = res.removed_me
                progress = True
                break
            if e < cur:
                idx = next((i for i, a in enumerate(st.applied) if a.epoch == e), None)
                if idx is None:
                    del st.buffer[digest]
                    w.recorder.event(w.env.now, "fork_unresolved", group=group, client=c.name, epoch=e)
                    continue
                held = st.applied[idx]
                if digest == held.digest:
                    del st.buffer[digest]
                    continue
                if digest > held.digest:
                    del st.buffer[digest]
                    w.recorder.event(w.env.now, "fork_detected", group=group, client=c.name, epoch=e)
                    continue
                trial = held.before.copy()
                try:
                    res = trial.process(msg)
                except MLSError:
                    continue  # not built on our state at e: another branch's; keep it
                del st.buffer[digest]
                assert isinstance(res, CommitApplied)
                dropped = st.applied[idx:]
                st.applied = [*st.applied[:idx], Applied(e, digest, held.before.copy())]
                c.groups[group] = trial
                w.recorder.event(
                    w.env.now, "fork_switch", group=group, client=c.name, epoch=e, dropped=len(dropped)
                )
                c.commit_applied(group, trial, res)
                st.removed = res.removed_me
                for a in dropped:
                    if a.mine is not None:
                        c.commit_dropped(group, a.mine, a.digest)
                progress = True
                break
    _trim(st)


def _trim(st: ForkState) -> None:
    if len(st.applied) > HISTORY:
        del st.applied[: len(st.applied) - HISTORY]
    if st.applied:
        oldest = st.applied[0].epoch
        for d in [d for d, m in st.buffer.items() if message_epoch(m) < oldest]:
            del st.buffer[d]
