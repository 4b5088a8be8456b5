"""What a client does with a handshake or application message it receives: the MLS work as a job
(it takes time under processing time, ``sim/processing.py``), then its effects — a commit
applied or a re-sync, a proposal cached, an application message counted or, when it does not
decrypt, the reason why (``app_undecryptable``'s reasons, docs/events.md)."""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

import simpy

from ..mls.errors import MLSError
from ..mls.group import CommitApplied, Group, GroupConfig, ProcessResult, ProposalReceived
from ..mls.messages import MLSMessage
from . import forks
from .processing import Processing
from .recorder import Recorder

__all__ = ["commit", "proposal", "application", "ReceivingWorld", "ReceivingClient"]


class MemberChecks(Protocol):
    """A misbehaving DS's bookkeeping of what members detect (``sim/misbehaviour.py``)."""

    def commit_rejected(self, client: str, group: str, g: Group, msg: MLSMessage) -> bool: ...
    def app_received(
        self, client: str, group: str, g: Group, msg: MLSMessage, err: MLSError | None, kept: int
    ) -> None: ...


class Forgeries(Protocol):
    """The active adversary's bookkeeping of its forged messages (``sim/impersonation.py``)."""

    def is_forged(self, msg: MLSMessage) -> bool: ...
    def received(self, client: str, group: str, msg: MLSMessage, res: ProcessResult | MLSError) -> None: ...
    def commit_received(
        self, client: str, group: str, msg: MLSMessage, res: ProcessResult | MLSError
    ) -> None: ...


class ReceivingWorld(Protocol):
    """The world, as a receiving client meets it."""

    env: simpy.Environment
    recorder: Recorder
    processing: Processing

    @property
    def misbehaviour(self) -> MemberChecks | None: ...
    @property
    def forgeries(self) -> Forgeries | None: ...

    def start_resync(self, c: Any, group: str, reason: str) -> None: ...
    def proposal_received(self, c: Any, group: str, g: Group, res: ProposalReceived) -> None: ...


class ReceivingClient(Protocol):
    """A client, as this module meets it (``sim/client.py``)."""

    name: str
    groups: dict[str, Group]
    joined_epoch: dict[str, int]
    resyncing: dict[str, dict[str, float]]
    forks: dict[str, forks.ForkState]

    @property
    def world(self) -> ReceivingWorld: ...
    @property
    def config(self) -> GroupConfig: ...
    def commit_applied(self, group: str, g: Group, res: CommitApplied) -> None: ...
    def process_message(self, group: str, g: Group, msg: MLSMessage) -> ProcessResult | MLSError: ...


def _live(c: ReceivingClient, group: str, g: Group) -> bool:
    """``g`` is still this client's state of ``group`` (a queued job may find it replaced)."""
    return c.groups.get(group) is g and g.active


def _dropped(c: ReceivingClient, g: Group | None) -> bool:
    """A message for a group the client has no state of is dropped, unless the client has jobs
    queued: under processing time a Welcome may still be in processing, and the message is
    handled after it, in turn (its job looks the state up then)."""
    return g is None and not c.world.processing.busy(c.name)


def commit(c: ReceivingClient, group: str, msg: MLSMessage) -> None:
    """Process a commit the orderer accepted; a failure means the client cannot follow the
    group any more: it re-syncs."""
    w = c.world
    g = c.groups.get(group)
    if _dropped(c, g) or (g is not None and (not g.active or group in c.resyncing)):
        return

    def work() -> ProcessResult | MLSError | None:
        nonlocal g
        if g is None:  # a Welcome queued before it has given the state now, or not
            g = c.groups.get(group)
        live = g is not None and _live(c, group, g) and group not in c.resyncing
        return c.process_message(group, g, msg) if g is not None and live else None

    def then(res: ProcessResult | MLSError | None) -> None:
        if g is None:  # no state even in its turn: dropped, as on arrival
            return
        fg = w.forgeries
        if fg is not None and res is not None:  # a forged commit's verdicts are counted too
            fg.commit_received(c.name, group, msg, res)
        if isinstance(res, MLSError):
            w.recorder.event(w.env.now, "process_error", group=group, client=c.name, error=type(res).__name__)
            mb = w.misbehaviour
            if mb is not None and mb.commit_rejected(c.name, group, g, msg):
                return  # an old epoch's commit (replayed, late): dropped, state unchanged (§12.4.2)
            w.start_resync(c, group, type(res).__name__)
        elif res is not None:
            assert isinstance(res, CommitApplied)
            c.commit_applied(group, g, res)

    w.processing.run(c.name, "commit", work, then)


def proposal(c: ReceivingClient, group: str, msg: MLSMessage) -> None:
    """Validate and cache a proposal the orderer accepted."""
    w = c.world
    g = c.groups.get(group)
    if _dropped(c, g) or (g is not None and not g.active):
        return

    def work() -> ProcessResult | MLSError | None:
        nonlocal g
        if g is None:  # a Welcome queued before it has given the state now, or not
            g = c.groups.get(group)
        return c.process_message(group, g, msg) if g is not None and _live(c, group, g) else None

    def then(res: ProcessResult | MLSError | None) -> None:
        if g is None:
            return
        if isinstance(res, MLSError):
            w.recorder.event(w.env.now, "process_error", group=group, client=c.name, error=type(res).__name__)
        elif res is not None:
            assert isinstance(res, ProposalReceived)
            w.proposal_received(c, group, g, res)

    w.processing.run(c.name, "proposal", work, then)


def application(c: ReceivingClient, group: str, msg: MLSMessage, sent_on: bytes = b"") -> None:
    """A received application message (``Client.on_application`` is this function: the DS's
    fan-out calls it on arrival, one frame from the link). ``sent_on`` is the sender's epoch
    authenticator (simulator metadata, not sent): it tells a message from another fork branch
    apart from a failure. A late message may use a kept past epoch: no liveness check."""
    w = c.world
    g = c.groups.get(group)
    processing = w.processing
    if g is None and processing.busy(c.name):  # a Welcome may be in processing: in turn
        _application_in_turn(c, group, msg, sent_on)
        return
    if g is None:
        w.recorder.event(w.env.now, "app_not_member", group=group, client=c.name)
        return
    if processing.instant:  # its run(compute, then) is then(compute()): skip the two partials
        res = c.process_message(group, g, msg)
        if w.forgeries is None and w.misbehaviour is None and not isinstance(res, MLSError):
            w.recorder.counts[("app_received", group)] += 1  # _decrypted's common case, inlined
        else:
            _decrypted(c, group, g, msg, sent_on, res)
        return
    processing.run(
        c.name,
        "application",
        partial(c.process_message, group, g, msg),
        partial(_decrypted, c, group, g, msg, sent_on),
    )


def _application_in_turn(c: ReceivingClient, group: str, msg: MLSMessage, sent_on: bytes) -> None:
    """An application message that arrived while the client had no state of the group but jobs
    queued: decrypted with the state it has when the job's turn comes."""
    w = c.world
    g: Group | None = None

    def work() -> ProcessResult | MLSError | None:
        nonlocal g
        g = c.groups.get(group)
        return c.process_message(group, g, msg) if g is not None else None

    def then(res: ProcessResult | MLSError | None) -> None:
        if g is None or res is None:
            w.recorder.event(w.env.now, "app_not_member", group=group, client=c.name)
        else:
            _decrypted(c, group, g, msg, sent_on, res)

    w.processing.run(c.name, "application", work, then)


def _decrypted(
    c: ReceivingClient, group: str, g: Group, msg: MLSMessage, sent_on: bytes, res: ProcessResult | MLSError
) -> None:
    w = c.world
    fg = w.forgeries
    if fg is not None and fg.is_forged(msg):  # counted apart from the honest messages
        fg.received(c.name, group, msg, res)
        return
    mb = w.misbehaviour
    if mb is not None:
        err = res if isinstance(res, MLSError) else None
        mb.app_received(c.name, group, g, msg, err, c.config.keep_past_epochs)
    if isinstance(res, MLSError):
        _undecryptable(c, group, g, msg, sent_on, res)
    else:
        w.recorder.counts[("app_received", group)] += 1


def _undecryptable(
    c: ReceivingClient, group: str, g: Group, msg: MLSMessage, sent_on: bytes, exc: MLSError
) -> None:
    w = c.world
    epoch = forks.message_epoch(msg)
    if epoch < c.joined_epoch.get(group, 0):
        # sent before this client joined: it never had the keys (not a failure)
        w.recorder.event(w.env.now, "app_predates_join", group=group, client=c.name)
        return
    reason = type(exc).__name__
    if sent_on and _authenticator_at(c, group, g, epoch) not in (None, sent_on):
        reason = "other_fork_branch"
    elif group in c.resyncing:
        reason = "member_out_of_sync"  # it missed commits and is re-syncing
    elif epoch > g.epoch:
        reason = "future_epoch"  # the receiver has not reached the sender's epoch
    elif epoch < g.epoch - c.config.keep_past_epochs:
        reason = "epoch_keys_deleted"  # older than the past epochs a member keeps
    w.recorder.event(w.env.now, "app_undecryptable", group=group, client=c.name, reason=reason)


def _authenticator_at(c: ReceivingClient, group: str, g: Group, epoch: int) -> bytes | None:
    if g.epoch == epoch:
        return g.epoch_authenticator
    st = c.forks.get(group)
    held = next((a.before for a in st.applied if a.epoch == epoch), None) if st else None
    return held.epoch_authenticator if held is not None else None
