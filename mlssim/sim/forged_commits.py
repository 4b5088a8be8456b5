"""The active adversary's forged commits (``impersonate.commit_rate``; docs/security-model.md,
"The active adversary").

Every ``1/commit_rate`` seconds (exponential gaps) the adversary forges the smallest commit that
changes the epoch as the victim: no proposals, a full UpdatePath (RFC 9420 §12.4), for the
group's latest epoch it can derive, built by ``Group.commit`` on a state assembled from the
public epoch, the epoch secrets it derives and the stolen signature key
(:meth:`~mlssim.adversary.active.Forger.commit`). Without the epoch's secrets it cannot build one
(``not_sealed``: no ``init_secret`` for the key schedule, no ``membership_key`` for the tag).

**At the DS.** The commit is uploaded from the victim's network position to the ordering DS
as if the victim had sent it (it is the victim's account, §16.5). The ordering DS orders it like
any commit: another commit of the same epoch may have come first (``lost``, a collision), or it
wins (``won``). Before ordering it, the DS checks its signature against the sender's leaf in the
group's public tree (:func:`~mlssim.mls.group_process.verify_public_signature`, §6.1/§6.2: what
anyone holding the public tree can check of a PublicMessage; not the membership tag). An honest
member's commit always passes this check, so it is applied to forgeries only and costs nothing
in the model; a forgery that fails it is ``refused`` with the core's error (after a rotation
``InvalidSignatureError``, after a removal ``UnknownSenderError``). A DS that did not check would
order a commit every member then refuses, and the group would stall; that case needs
``mls.handshake: public`` so the DS can read the commit (scenario validation).

**At the members.** An accepted forgery reaches every member, the victim's device included (the
DS answers the connection that sent it; ``CommitView.reply_to``). Members verify it like any
commit (membership tag, signature against the victim's leaf, §6.1-§6.2, path, confirmation tag)
and the core's verdict is counted. The adversary chose the path secrets, so it holds the new
epoch and the private keys of the victim's new leaf and path
(:meth:`~mlssim.adversary.Adversary.authored_commit`, verdict ``forged``): later commits that
encrypt to those keys stay exposed until a commit replaces them (the victim's re-join or
removal). The victim gets a commit from its own leaf that it did not stage: the core refuses it
(``CommitterError``, §12.4.2) and leaves its state unchanged; the simulator records the
detection and the victim does what any member that cannot follow its group does:
``federation.resync`` (re-join by external commit, replacing its leaf, or be re-added; with
``none`` it stays out of sync).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import simpy

from ..adversary import Adversary
from ..adversary.active import Forger
from ..mls.codec import encode
from ..mls.crypto import CipherSuite
from ..mls.errors import MLSError
from ..mls.group import CommitterError, GroupConfig, MemberIdentity, ProcessResult, PublicEpoch, StagedCommit
from ..mls.group_process import verify_public_signature
from ..mls.messages import MLSMessage
from ..mls.rand import RandomSource
from ..scenario.schema import Scenario
from ..scenario.schema_adversary import ImpersonateSpec
from .delivery import CommitView, DeliveryService
from .recorder import Recorder
from .records import GroupRecord
from .rng import Streams

__all__ = ["CommitTally", "ForgedCommits"]


class _Case(Protocol):
    """An impersonation, as its forged commits need it (``impersonation._Case``)."""

    spec: ImpersonateSpec
    index: int
    group: str
    victim: str
    leaf: int
    stolen: MemberIdentity
    ended_at: float | None


class ForgeryOrdering(Protocol):
    """The ordering design, as a forgery leaves the victim's device."""

    def send_application(self, c: Any, group: str, msg: MLSMessage, n: int, auth: bytes) -> None: ...
    def accepts_commit(self, rec: GroupRecord, epoch: int) -> bool: ...


class ForgedCommitWorld(Protocol):
    """What forgeries need of the world (``sim/impersonation.py`` too)."""

    env: simpy.Environment
    recorder: Recorder
    streams: Streams
    scenario: Scenario
    suite: CipherSuite
    stop_time: float
    ds_groups: dict[str, str]

    @property
    def ordering(self) -> ForgeryOrdering: ...
    @property
    def clients(self) -> Any: ...
    def config_for(self, group: str) -> GroupConfig: ...
    def ds_of(self, group: str) -> DeliveryService: ...


@dataclass
class CommitTally:
    """One impersonation's forged commits."""

    sent: int = 0
    #: no group key for the latest epoch, or the victim's last leaf is outside the tree
    not_sealed: int = 0
    #: at the ordering DS: first for its epoch, or another commit came first
    won: int = 0
    lost: int = 0
    #: refused by the ordering DS's signature check, by the core's error
    refused: Counter[str] = field(default_factory=Counter)
    won_after_end: int = 0
    #: members' verdicts on the accepted forgeries (the victim's apart)
    receptions_accepted: int = 0
    receptions_rejected: Counter[str] = field(default_factory=Counter)
    #: the victim's refusals by error: ``CommitterError`` is its detection (§12.4.2)
    victim_refusals: Counter[str] = field(default_factory=Counter)
    #: epochs the accepted forgeries made
    epochs: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Forged:
    case: _Case
    staged: StagedCommit


class ForgedCommits:
    """The forged commits of every impersonation with ``commit_rate`` in a run."""

    def __init__(
        self, world: ForgedCommitWorld, adversary: Adversary, public: dict[str, PublicEpoch]
    ) -> None:
        self.world = world
        self.adversary = adversary
        #: the groups' current public epochs: also the ordering DS's view of each group
        self.public = public
        self.tallies: dict[int, CommitTally] = {}
        #: id of a forged commit message -> the forgery (the message is kept alive by it)
        self._forged: dict[int, _Forged] = {}
        self._rand: dict[int, RandomSource] = {}

    def start(self, case: _Case) -> None:
        self.tallies[case.index] = CommitTally()
        self._schedule(case)

    def _schedule(self, case: _Case) -> None:
        w = self.world
        gap = w.streams.stream(f"adversary/impersonate/{case.index}/commits").expovariate(
            case.spec.commit_rate
        )
        w.env.timeout(gap).callbacks.append(lambda _e: self._send(case))

    def _send(self, case: _Case) -> None:
        w = self.world
        if w.env.now >= w.stop_time:
            return
        self._schedule(case)
        t = self.tallies[case.index]
        group = case.group
        public = self.public[group]
        epoch = public.context.epoch
        secrets = self.adversary.epoch_secrets(group.encode(), epoch)
        if secrets is None or case.leaf >= public.tree.n_leaves:
            t.not_sealed += 1
            return
        rand = self._rand.get(case.index)
        if rand is None:
            rand = self._rand[case.index] = w.streams.mls(f"adversary/impersonate/{case.index}/commit")
        forger = Forger(w.suite, w.config_for(group), public, secrets, case.leaf, case.stolen)
        staged = forger.commit(rand)
        self._forged[id(staged.message)] = _Forged(case, staged)
        t.sent += 1
        victim = w.clients[case.victim]
        n = len(encode(staged.message))
        total = n + victim.public_state_bytes(group, staged)  # GroupInfo (and tree) as a committer's
        view = CommitView(
            message=staged.message,
            commit_bytes=n,
            public=staged.public,
            group_info=staged.group_info,
            welcome=None,
            committer=staged.committer,
            added_leaves=(),
            added=(),
            removed=(),
            kind="forged",
            upload_bytes=total * (2 if w.ds_groups[group] != victim.provider else 1),
            wire=n,
            reply_to=partial(self._verdict, case, staged),
        )
        w.recorder.event(
            w.env.now, "forged_commit_sent", group=group, client=case.victim, epoch=epoch, bytes=n
        )
        sent_to = w.ds_of(group)
        victim.upload(group, total, "commit:forged", lambda: self._at_orderer(case, sent_to, epoch, view))

    def _at_orderer(self, case: _Case, sent_to: DeliveryService, epoch: int, view: CommitView) -> None:
        """The ordering DS: the epoch first (a collision is lost like any commit's), then the
        signature against its public tree (§6.1), then its verdict (``order_commit``)."""
        w = self.world
        group = case.group
        ds = w.ds_of(group)
        if ds is not sent_to:  # a failover moved the orderer meanwhile: nobody forwards it
            self._ordered(case, epoch, "lost", "orderer_moved", None)
            self.tallies[case.index].lost += 1
            return
        if w.ordering.accepts_commit(ds.groups[group], epoch):
            try:
                verify_public_signature(w.suite, self.public[group], view.message)
            except MLSError as exc:
                reason = type(exc).__name__
                self.tallies[case.index].refused[reason] += 1
                self._ordered(case, epoch, "refused", reason, getattr(exc, "rfc_section", None))
                return
        ds.order_commit(group, epoch, case.victim, view)

    def _verdict(self, case: _Case, staged: StagedCommit, accepted: bool) -> None:
        """The ordering DS's verdict, to the connection that sent the forgery."""
        t = self.tallies[case.index]
        epoch = staged.epoch - 1
        if accepted:
            t.won += 1
            t.epochs.append(staged.epoch)
            if case.ended_at is not None:
                t.won_after_end += 1
            self._ordered(case, epoch, "won", None, None)
        else:
            t.lost += 1
            self._ordered(case, epoch, "lost", "collision", None)

    def _ordered(self, case: _Case, epoch: int, outcome: str, reason: str | None, rfc: str | None) -> None:
        w = self.world
        w.recorder.event(
            w.env.now,
            "forged_commit_ordered",
            group=case.group,
            client=case.victim,
            epoch=epoch,
            outcome=outcome,
            reason=reason,
            rfc=rfc,
        )

    # -- what the adversary and the members make of it ------------------------------------------

    def before_observe(self, view: CommitView) -> None:
        """The ordering DS accepted ``view``: if it is a forgery, its epoch is the adversary's."""
        forged = self._forged.get(id(view.message))
        if forged is not None:
            self.adversary.authored_commit(forged.staged)

    def commit_received(
        self, client: str, group: str, msg: MLSMessage, res: ProcessResult | MLSError
    ) -> None:
        """A member processed a commit; a forged one's verdict is counted, the victim's refusal
        recorded as its detection (its handling, a re-sync, is the receiving code's)."""
        forged = self._forged.get(id(msg))
        if forged is None:
            return
        case = forged.case
        t = self.tallies[case.index]
        w = self.world
        reason = type(res).__name__ if isinstance(res, MLSError) else None
        rfc = getattr(res, "rfc_section", None) if isinstance(res, MLSError) else None
        if client == case.victim and reason is not None:
            # the core refuses a commit from its own leaf that it did not stage (§12.4.2): the
            # victim learns of the forgery; a later one it refuses for being behind (its own
            # epoch is older) while it re-syncs or stays out of sync
            t.victim_refusals[reason] += 1
            if isinstance(res, CommitterError):
                w.recorder.event(
                    w.env.now,
                    "forged_commit_detected_by_victim",
                    group=group,
                    client=client,
                    error=reason,
                    rfc=rfc,
                    then=w.scenario.federation.resync,
                )
            return
        if reason is None:
            t.receptions_accepted += 1
        else:
            t.receptions_rejected[reason] += 1
        w.recorder.event(
            w.env.now,
            "forged_commit_received",
            group=group,
            client=client,
            accepted=reason is None,
            reason=reason,
        )

    # -- the summary -----------------------------------------------------------------------------

    def case_summary(self, case: _Case) -> dict[str, Any]:
        t = self.tallies[case.index]
        return {
            "sent": t.sent,
            "not_sealed": t.not_sealed,
            "won": t.won,
            "lost": t.lost,
            "refused": dict(sorted(t.refused.items())),
            "won_after_end": t.won_after_end,
            "receptions_accepted": t.receptions_accepted,
            "receptions_rejected": dict(sorted(t.receptions_rejected.items())),
            "victim_detections": t.victim_refusals["CommitterError"],
            "victim_refusals": dict(sorted(t.victim_refusals.items())),
            **self._victim_after(case),
            **self._exposure(case, t.epochs),
        }

    def _victim_after(self, case: _Case) -> dict[str, Any]:
        """What the victim did after its detections: re-syncs started and finished, and whether
        it follows the group at the end of the run."""
        w = self.world
        rec = w.recorder
        resyncs = [
            e
            for e in rec.of_kind("resync_started")
            if e["client"] == case.victim and e["group"] == case.group
        ]
        done = [
            e for e in rec.of_kind("resync_done") if e["client"] == case.victim and e["group"] == case.group
        ]
        c = w.clients[case.victim]
        g = c.groups.get(case.group)
        drec = w.ds_of(case.group).groups.get(case.group)
        in_sync = (
            g is not None
            and g.active
            and case.group not in c.resyncing
            and drec is not None
            and case.victim in drec.members
            and g.epoch == drec.epoch
        )
        return {
            "victim_resyncs": len(resyncs),
            "victim_resyncs_done": len(done),
            "victim_in_sync_at_end": in_sync,
        }

    def _exposure(self, case: _Case, epochs: list[int]) -> dict[str, Any]:
        """The epochs exposed from each accepted forgery on until the first the adversary cannot
        derive (the exposure a forged leaf and path keep open; with an insider every epoch is
        exposed anyway), and that healing epoch (None: exposed to the end)."""
        observed = self.adversary.observed_epochs(case.group.encode())
        exposed: set[int] = set()
        healed: int | None = None
        for f in epochs:
            e = f
            while observed.get(e, False):
                exposed.add(e)
                e += 1
            healed = e if e in observed else None
        return {"epochs": epochs, "epochs_exposed_from_forged": len(exposed), "healed_after_forged": healed}
