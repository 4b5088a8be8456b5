"""The retry policy (``retry:`` in a scenario): backoff, retrying a commit that lost, re-proposing
a voided Update proposal. The attempt bookkeeping itself is ``records.PendingCommit.next_attempt``."""

from __future__ import annotations

from typing import Any

from .client import Client
from .context import Sim
from .records import PendingCommit


def backoff(w: Sim, c: Client, attempt: int) -> float:
    """The retry policy's delay before attempt ``attempt + 1``."""
    policy = w.scenario.retry
    rng = w.streams.stream(f"client/{c.name}/retry")
    if policy.backoff == "none":
        delay = 0.0
    elif policy.backoff == "fixed":
        delay = policy.delay
    else:
        delay = policy.delay * 2 ** (attempt - 1)
    if policy.jitter:
        delay *= rng.uniform(0.5, 1.5)
    return delay


def schedule_retry(w: Sim, c: Client, group: str, p: PendingCommit) -> None:
    if p.attempts > w.scenario.retry.max_retries or p.retry is None:
        w.recorder.event(w.env.now, "commit_gave_up", group=group, client=c.name, op=p.kind)
        return
    retry = p.retry
    ev = w.env.timeout(backoff(w, c, p.attempts))

    def again(_e: Any) -> None:
        g = c.groups.get(group)
        ready = (g is None) if p.kind in ("external-join", "resync") else (g is not None and g.active)
        if ready and c.ready and group not in c.pending and w.env.now < w.stop_time:
            retry(p)
        else:
            w.recorder.event(w.env.now, "commit_abandoned", group=group, client=c.name, op=p.kind)

    ev.callbacks.append(again)


def repropose(w: Sim, c: Client, group: str) -> None:
    """An epoch change voided ``c``'s Update proposal: propose again after the backoff."""
    key = (c.name, group)
    n = w.repropose_attempts.get(key, 0) + 1
    policy = w.scenario.retry
    if n > policy.max_retries:
        w.repropose_attempts.pop(key, None)
        w.recorder.event(w.env.now, "proposal_gave_up", group=group, client=c.name)
        return
    w.repropose_attempts[key] = n
    delay = backoff(w, c, n)

    def again(_e: Any) -> None:
        g = c.groups.get(group)
        live = g is not None and g.active and c.ready
        if live and group not in c.proposed and w.env.now < w.stop_time:
            c.send_update_proposal(group)
        else:
            w.repropose_attempts.pop(key, None)

    w.env.timeout(delay).callbacks.append(again)


def proposal_done(w: Sim, c: Client, group: str) -> None:
    w.repropose_attempts.pop((c.name, group), None)
