"""The active adversary in a run: forged application messages as a compromised member
(``adversary.compromises[].impersonate``; docs/security-model.md, "The active adversary").

After a member compromise the adversary holds the victim's signature key. Every ``1/app_rate``
seconds (exponential gaps) it seals an application message for the group's latest epoch it
can derive (the group key: :meth:`Adversary.epoch_secrets`) and signs it with the stolen key
(:class:`~mlssim.adversary.active.Forger`: the core's own sending code), and injects it through
the victim's DS as if the victim had sent it. Members process it like any message: the core's
verdict (accepted, or the error and its RFC section) is what is counted. The adversary keeps
sending after the impersonation ends, so that the rejections are measured too; it cannot seal
a message for an epoch whose group key it lacks (``not_sealed``).

The impersonation **ends** at the first accepted epoch in which a forgery can no longer be
accepted, with its cause: ``removed`` (the victim's leaf is gone), ``rotation`` (its leaf
carries another signature key: an update under ``signature_rotation: on-update``, §12.1.2,
§6.1), or ``group_key`` (the adversary cannot derive the epoch: healing, §16.6), in that order
of precedence when several hold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..adversary import Adversary
from ..adversary.active import Forger, leaf_with_key, signature_current
from ..mls.codec import encode
from ..mls.errors import MLSError
from ..mls.group import MemberIdentity, ProcessResult, PublicEpoch
from ..mls.messages import MLSMessage
from ..scenario.schema_adversary import ImpersonateSpec
from .delivery import CommitView
from .forged_commits import ForgedCommits, ForgedCommitWorld, ForgeryOrdering

__all__ = ["ForgeryOrdering", "Impersonations"]

#: what forgeries need of the world: the same for application messages and commits
ImpersonationWorld = ForgedCommitWorld


@dataclass
class _Case:
    spec: ImpersonateSpec
    index: int
    group: str
    victim: str
    leaf: int
    stolen: MemberIdentity
    at: float
    sent: int = 0
    not_sealed: int = 0
    #: receptions: members that accepted a forgery, and rejections by error
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    #: forgeries accepted by at least one member
    messages_accepted: set[int] = field(default_factory=set)
    accepted_after_end: int = 0
    ended_at: float | None = None
    end_cause: str | None = None
    end_epoch: int | None = None
    forger: Forger | None = None


class Impersonations:
    """The forgeries of every impersonating compromise in a run, and what members made of them."""

    def __init__(
        self, world: ImpersonationWorld, adversary: Adversary, public: dict[str, PublicEpoch]
    ) -> None:
        self.world = world
        self.adversary = adversary
        #: the groups' current public epochs (the compromise bookkeeping keeps it up to date)
        self.public = public
        self.cases: list[_Case] = []
        #: id of a forged message in flight -> (its case, its number); the message is kept alive
        self._forged: dict[int, tuple[_Case, int, MLSMessage]] = {}
        #: application messages the victims sent per (client, group, epoch): the generations
        #: the adversary reads from the sender data and must not reuse (§9.2)
        self._victim_sent: Counter[tuple[str, str, int]] = Counter()
        self._scanned = 0
        #: forged commits (``commit_rate``), when any impersonation sends them
        self.commits = ForgedCommits(world, adversary, public)

    def start(self, index: int, spec: ImpersonateSpec, group: str, victim: Any) -> None:
        """A member compromise of ``victim`` with ``impersonate``: the key is stolen now."""
        w = self.world
        g = victim.groups.get(group)
        if g is None:
            return
        case = _Case(spec, index, group, victim.name, int(g.leaf_index), g.identity, w.env.now)
        self.cases.append(case)
        w.recorder.event(w.env.now, "impersonation_started", group=group, client=victim.name, epoch=g.epoch)
        self._check_end(case)
        if spec.app_rate > 0:
            self._schedule(case)
        if spec.commit_rate > 0:
            self.commits.start(case)

    def _schedule(self, case: _Case) -> None:
        w = self.world
        gap = w.streams.stream(f"adversary/impersonate/{case.index}").expovariate(case.spec.app_rate)
        w.env.timeout(gap).callbacks.append(lambda _e: self._send(case))

    def _send(self, case: _Case) -> None:
        w = self.world
        if w.env.now >= w.stop_time:
            return
        self._schedule(case)
        public = self.public[case.group]
        epoch = public.context.epoch
        self._locate(case, public)
        secrets = self.adversary.epoch_secrets(case.group.encode(), epoch)
        if secrets is None or signature_current(public, case.leaf, case.stolen.signature_key) is None:
            case.not_sealed += 1  # no group key for the epoch, or no leaf to send as
            return
        if case.forger is None or case.forger.epoch != epoch:
            case.forger = Forger(
                w.suite,
                w.config_for(case.group),
                public,
                secrets,
                case.leaf,
                case.stolen,
            )
        self._count_victim_sends()
        case.forger.skip_to(self._victim_sent[(case.victim, case.group, epoch)])
        victim = w.clients[case.victim]
        msg = case.forger.application(bytes(case.spec.app_size), victim.rand)
        number = case.sent
        case.sent += 1
        self._forged[id(msg)] = (case, number, msg)
        n = len(encode(msg))
        w.recorder.event(w.env.now, "forged_sent", group=case.group, client=case.victim, epoch=epoch, bytes=n)
        w.ordering.send_application(victim, case.group, msg, n, secrets.epoch_authenticator)

    def _count_victim_sends(self) -> None:
        events = self.world.recorder.events
        victims = {c.victim for c in self.cases}
        for e in events[self._scanned :]:
            if e["kind"] == "app_sent" and e["client"] in victims:
                self._victim_sent[(e["client"], e["group"], e["epoch"])] += 1
        self._scanned = len(events)

    # -- what members make of it ---------------------------------------------------------------

    def is_forged(self, msg: MLSMessage) -> bool:
        return id(msg) in self._forged

    def commit_received(
        self, client: str, group: str, msg: MLSMessage, res: ProcessResult | MLSError
    ) -> None:
        self.commits.commit_received(client, group, msg, res)

    def before_observe(self, view: CommitView) -> None:
        self.commits.before_observe(view)

    def received(self, client: str, group: str, msg: MLSMessage, res: ProcessResult | MLSError) -> None:
        """A member processed a forged message: the core accepted it or raised ``res``."""
        w = self.world
        case, number, _ = self._forged[id(msg)]
        if isinstance(res, MLSError):
            reason = type(res).__name__
            case.rejected[reason] += 1
            w.recorder.event(
                w.env.now,
                "forged_received",
                group=group,
                client=client,
                accepted=False,
                reason=reason,
                rfc=getattr(res, "rfc_section", None),
            )
            return
        case.accepted += 1
        case.messages_accepted.add(number)
        if case.ended_at is not None:
            case.accepted_after_end += 1
        w.recorder.event(
            w.env.now, "forged_received", group=group, client=client, accepted=True, reason=None, rfc=None
        )

    # -- when it ends ------------------------------------------------------------------------------

    def commit_accepted(self, group: str) -> None:
        """The group has a new public epoch: does it end an impersonation?"""
        for case in self.cases:
            if case.group == group:
                self._check_end(case)

    def _check_end(self, case: _Case) -> None:
        if case.ended_at is not None:
            return
        public = self.public.get(case.group)
        if public is None:
            return
        epoch = public.context.epoch
        self._locate(case, public)
        current = signature_current(public, case.leaf, case.stolen.signature_key)
        if current is None:
            cause = "removed"
        elif not current:
            cause = "rotation"
        elif self.adversary.epoch_secrets(case.group.encode(), epoch) is None:
            cause = "group_key"
        else:
            return
        w = self.world
        case.ended_at, case.end_cause, case.end_epoch = w.env.now, cause, epoch
        w.recorder.event(
            w.env.now, "impersonation_ended", group=case.group, client=case.victim, epoch=epoch, cause=cause
        )

    @staticmethod
    def _locate(case: _Case, public: PublicEpoch) -> None:
        """Follow the victim's leaf: a re-join (a re-sync after a forged commit) may move it."""
        leaf = leaf_with_key(public, case.stolen.signature_key)
        if leaf is not None:
            case.leaf = leaf

    def summary(self) -> dict[str, Any]:
        cases: list[dict[str, Any]] = [
            {
                "group": c.group,
                "victim": c.victim,
                "at": round(c.at, 6),
                "forged_sent": c.sent,
                "not_sealed": c.not_sealed,
                "forged_accepted": len(c.messages_accepted),
                "receptions_accepted": c.accepted,
                "receptions_rejected": dict(sorted(c.rejected.items())),
                "accepted_after_end": c.accepted_after_end,
                "ended_at": round(c.ended_at, 6) if c.ended_at is not None else None,
                "duration_s": round(c.ended_at - c.at, 6) if c.ended_at is not None else None,
                "end_cause": c.end_cause,
                "end_epoch": c.end_epoch,
                # only with forged commits (without them the summary is as before)
                **({"commits": self.commits.case_summary(c)} if c.spec.commit_rate > 0 else {}),
            }
            for c in self.cases
        ]
        with_commits = [c["commits"] for c in cases if "commits" in c]
        totals = (
            {
                "commits_sent": sum(c["sent"] for c in with_commits),
                "commits_won": sum(c["won"] for c in with_commits),
                "commits_lost": sum(c["lost"] for c in with_commits),
                "commits_refused": sum(sum(c["refused"].values()) for c in with_commits),
                "commit_victim_detections": sum(c["victim_detections"] for c in with_commits),
            }
            if with_commits
            else {}
        )
        return {
            **totals,
            "forged_sent": sum(c["forged_sent"] for c in cases),
            "forged_accepted": sum(c["forged_accepted"] for c in cases),
            "receptions_accepted": sum(c["receptions_accepted"] for c in cases),
            "receptions_rejected": sum(sum(c["receptions_rejected"].values()) for c in cases),
            "ended": sum(1 for c in cases if c["ended_at"] is not None),
            "cases": cases,
        }
