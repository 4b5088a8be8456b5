"""The ``faults`` section of the summary (issue 20), read from the record and the fault
timeline; present only when the scenario has faults. The keys are in ``docs/metrics.md``.

- availability: per (group, member) the share of the workload's time it could get a commit
  accepted (its home DS up and, with an orderer, reaching the group's orderer of the time),
  from the timeline; mean and worst member;
- commits first tried during a fault: their latency (first attempt → merged) and how many
  were merged while a fault was on;
- what was lost: epochs reached on a branch the group did not keep, application messages a
  recipient never read (in flight at the end, expired, or undecryptable), those expired;
- forks (epochs with two or more states) and their lifetime: from the first losing state to
  the last member reaching the kept state of that epoch;
- recovery: per fault, from its end to the arrival of the last transmission it delayed, and the
  catch-up traffic (transmissions held or cut by a fault and sent again, with their bytes);
- failovers: how many, their bytes (state upload and announcements), the time from the
  orderer going down to the new orderer holding the state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from .faults import Faults
from .recorder import Recorder

__all__ = ["faults_summary"]


def faults_summary(
    faults: Faults,
    rec: Recorder,
    reached: Mapping[tuple[str, int, bytes], dict[str, float]],
    branches: dict[str, dict[int, str]],
    members: Mapping[str, list[tuple[str, str]]],
    duration: float,
    percentiles: Callable[[list[float]], dict[str, Any]],
) -> dict[str, Any]:
    """The section; ``percentiles`` is the summary's own rule (``sim/summary.py``)."""
    sched = faults.schedule
    windows = sched.windows
    avail = faults.availability(members, duration)
    merged = [e for e in rec.of_kind("commit_merged") if e["op"] != "create"]
    during = [e["latency"] for e in merged if sched.any_active(e["t"] - e["latency"])]
    lost_epochs = 0
    first_losing: dict[tuple[str, int], float] = {}
    kept_last: dict[tuple[str, int], float] = {}
    states: dict[tuple[str, int], int] = defaultdict(int)
    for (group, epoch, auth), who in reached.items():
        states[(group, epoch)] += 1
        kept = branches.get(group, {}).get(epoch) == auth.hex()
        key = (group, epoch)
        if kept:
            kept_last[key] = max(kept_last.get(key, 0.0), max(who.values()))
        else:
            lost_epochs += 1
            first_losing[key] = min(first_losing.get(key, float("inf")), min(who.values()))
    lifetimes = [
        round(max(0.0, kept_last[k] - first_losing[k]), 6) for k in sorted(first_losing) if k in kept_last
    ]
    fanned = sum(e["receivers"] for e in rec.of_kind("app_fanout"))
    ends = list(rec.of_kind("fault_end"))
    failovers = list(rec.of_kind("failover"))
    return {
        "count": len(windows),
        "duration_s": round(sum(w.end - w.start for w in windows), 6),
        "availability": round(sum(avail) / len(avail), 6) if avail else 1.0,
        "availability_min": round(min(avail), 6) if avail else 1.0,
        "commit_latency_s": percentiles(during),
        "commits_during": sum(1 for e in merged if sched.any_active(e["t"])),
        "epochs_lost": lost_epochs,
        "app_lost": max(0, fanned - rec.total("app_received")),
        "app_expired": sum(1 for e in rec.of_kind("mailbox_expired") if e["msg_type"] == "application"),
        "forks": sum(1 for n in states.values() if n > 1),
        "fork_lifetime_s": percentiles(lifetimes),
        "recovery_s": percentiles([e["recovery"] for e in ends]),
        "catchup_messages": sum(e["resent"] for e in ends),
        "catchup_bytes": sum(e["resent_bytes"] for e in ends),
        "failovers": len(failovers),
        "handover_bytes": sum(e["bytes"] for e in failovers),
        "handover_s": percentiles([e["duration"] for e in failovers]),
        "redirected_commits": sum(1 for _ in rec.of_kind("commit_redirected")),
    }
