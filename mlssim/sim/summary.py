"""The summary of a finished run: what ``summary.json`` holds, computed from the record.

Everything here reads the recorder's transmissions and events and the members' final states;
nothing changes the world. The metrics are documented in ``docs/metrics.md``.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

import simpy

from .client import Client
from .delivery import DeliveryService
from .ds_processing import DSQueue, ds_summary
from .fault_summary import faults_summary
from .faults import Faults
from .processing import Processing, Queued
from .recorder import Recorder

__all__ = ["Finished", "summarise"]


class _Healing(Protocol):
    def summary(self) -> dict[str, Any]: ...


class SummaryOrdering(Protocol):
    """The ordering design, as the summary asks it: what counts as accepted, how a group ends."""

    def accepted_commits(self, merged: int, accepted: int, dropped: int) -> int: ...
    def group_outcome(self, w: Finished, gname: str) -> dict[str, Any]: ...


class SummaryFanout(Protocol):
    """The fan-out strategy, as the summary asks it (``light``: the section per member kind)."""

    def members_by_kind(self, w: Any) -> dict[str, Any] | None: ...


class Finished(Protocol):
    """A world whose run is over, as the summary reads it."""

    recorder: Recorder

    @property
    def ordering(self) -> SummaryOrdering: ...
    @property
    def fanout(self) -> SummaryFanout: ...

    ds_groups: dict[str, str]

    #: (group, epoch, epoch authenticator) -> when each client reached that state
    @property
    def reached(self) -> Mapping[tuple[str, int, bytes], dict[str, float]]: ...

    @property
    def clients(self) -> Mapping[str, Client]: ...
    @property
    def compromises(self) -> _Healing | None: ...
    @property
    def processing(self) -> Processing: ...
    @property
    def ds_queue(self) -> DSQueue | None: ...
    @property
    def providers(self) -> Mapping[str, Any]: ...

    origin: float
    env: simpy.Environment

    @property
    def faults(self) -> Faults | None: ...
    @property
    def misbehaviour(self) -> _Healing | None: ...
    @property
    def reinits(self) -> _Healing | None: ...

    stop_time: float

    def ds_of(self, group: str) -> DeliveryService: ...


def _devices_summary(w: Finished) -> dict[str, Any]:
    rec = w.recorder
    adds = list(rec.of_kind("device_add"))
    if not adds:
        return {}
    spent: Counter[str] = Counter()
    for e in rec.of_kind("commit_sent"):
        if e["op"] in ("device-add", "device-update"):
            spent[e["op"]] += e["upload_bytes"] + e["welcome_bytes"] + e["public_state_bytes"]
    for e in rec.of_kind("commit_fanout"):
        if e["op"] in ("device-add", "device-update"):
            spent[e["op"]] += e["bytes"]
    done = [e["duration"] for e in rec.of_kind("device_added")]
    return {
        "adds": len(adds),
        "completed": len(done),
        "groups_per_add_mean": round(statistics.fmean(e["groups"] for e in adds), 3),
        "bytes_per_add_mean": round((spent["device-add"] + spent["device-update"]) / len(adds), 3),
        "deferred_bytes_per_add_mean": round(spent["device-update"] / len(adds), 3),
        "completion_s": _percentiles(done),
    }


def _commit_sizes(w: Finished, role: str) -> list[int]:
    """Bytes of each commit download by a member (``download``) or upload by a committer."""
    rec = w.recorder
    rows = zip(rec.msg_type, rec.role, rec.nbytes, strict=True)
    if role == "download":
        return [n for mt, r, n in rows if mt == "commit" and r == role]
    return [n for mt, r, n in rows if mt.startswith("commit:") and r == role]


def _resync_summary(w: Finished) -> dict[str, Any]:
    """Re-syncs: how many, how long from NACK to being back, and what they cost on the wire."""
    rec = w.recorder
    kinds = {"nack", "resync_request", "resync:group_info", "resync:ratchet_tree", "commit:resync"}
    kinds |= {"commit:readd"}
    wire = sum(n for mt, n in zip(rec.msg_type, rec.nbytes, strict=True) if mt in kinds)
    fanned = sum(e["bytes"] for e in rec.of_kind("commit_fanout") if e["op"] in ("resync", "readd"))
    return {
        "started": sum(1 for _ in rec.of_kind("resync_started")),
        "done": sum(1 for _ in rec.of_kind("resync_done")),
        "abandoned": sum(1 for _ in rec.of_kind("resync_abandoned")),
        "time_s": _percentiles([e["duration"] for e in rec.of_kind("resync_done")]),
        "bytes": wire + fanned,
    }


def _fork_resolution_times(w: Finished) -> list[float]:
    """Per forked epoch: from the first member noticing the fork to the last switch."""
    first: dict[tuple[str, int], float] = {}
    last: dict[tuple[str, int], float] = {}
    for kind in ("fork_detected", "fork_switch"):
        for e in w.recorder.of_kind(kind):
            key = (e["group"], e["epoch"])
            first[key] = min(first.get(key, e["t"]), e["t"])
            if kind == "fork_switch":
                last[key] = max(last.get(key, e["t"]), e["t"])
    return [max(0.0, last.get(k, first[k]) - first[k]) for k in sorted(first)]


def _joins_summary(w: Finished) -> dict[str, Any]:
    costs = [e for e in w.recorder.of_kind("join_cost") if e["op"] != "create"]
    by_mode: dict[str, dict[str, float]] = {}
    for mode in sorted({e["mode"] for e in costs}):
        mine = [e for e in costs if e["mode"] == mode]
        by_mode[mode] = {
            "count": len(mine),
            "download_bytes_mean": round(statistics.fmean(e["download"] for e in mine), 3),
            "upload_bytes_mean": round(statistics.fmean(e["upload"] for e in mine), 3),
            "adder_upload_bytes_mean": round(statistics.fmean(e["adder_upload"] for e in mine), 3),
        }
    return {
        "count": len(costs),
        "download_bytes_mean": round(statistics.fmean(e["download"] for e in costs), 3) if costs else 0.0,
        "adder_upload_bytes_mean": round(statistics.fmean(e["adder_upload"] for e in costs), 3)
        if costs
        else 0.0,
        "by_mode": by_mode,
        "failed": sum(1 for _ in w.recorder.of_kind("join_failed")),
    }


def _pre_summary(w: Finished) -> dict[str, Any]:
    rekeys = list(w.recorder.of_kind("pre_rekey"))
    sent = [e["pre_upload_bytes"] for e in w.recorder.of_kind("commit_sent") if e["pre_upload_bytes"]]
    return {
        "epochs": len(rekeys),
        "reencryptions": sum(e["reencryptions"] for e in rekeys),
        "reencryptions_per_epoch_mean": round(statistics.fmean(e["reencryptions"] for e in rekeys), 3)
        if rekeys
        else 0.0,
        "records_mean": round(statistics.fmean(e["records"] for e in rekeys), 3) if rekeys else 0.0,
        "upload_bytes_mean": round(statistics.fmean(sent), 3) if sent else 0.0,
    }


def _pre_path_summary(w: Finished) -> dict[str, Any] | None:
    """The ``pre`` strategy's DS work and deposits; ``None`` (no key) under other fan-outs."""
    reenc = list(w.recorder.of_kind("ds_reencrypt"))
    deps = list(w.recorder.of_kind("pre_deposits"))
    if not reenc and not deps:
        return None
    return {
        "commits": len(reenc),
        "reencryptions": sum(e["reencryptions"] for e in reenc),
        "reencryptions_per_commit_mean": round(statistics.fmean(e["reencryptions"] for e in reenc), 3)
        if reenc
        else 0.0,
        "kfrags_max": max((e["kfrags"] for e in reenc), default=0),
        "deposits": sum(e["deposits"] for e in deps),
        "announcements": sum(e["announcements"] for e in deps),
        "deposit_bytes": sum(e["bytes"] for e in deps),
    }


def summarise(w: Finished) -> dict[str, Any]:
    """The whole summary, in the key order of ``summary.json``."""
    rec = w.recorder
    states: dict[str, list[tuple[int, bytes, dict[str, float]]]] = {}
    for (group, epoch, auth), who in w.reached.items():  # one pass, indexed by group
        states.setdefault(group, []).append((epoch, auth, who))
    branches = {gname: final_branch(w, gname, states.get(gname, [])) for gname in sorted(w.ds_groups)}
    commits, forks, latencies, convergence = _commits_summary(w, branches)
    groups = {gname: w.ordering.group_outcome(w, gname) for gname in sorted(w.ds_groups)}
    pre_path = _pre_path_summary(w)
    by_kind = w.fanout.members_by_kind(w)
    return {
        **_bytes_summary(w),
        "commits": commits,
        "forks": forks,
        "resyncs": _resync_summary(w),
        "workload_skipped": dict(sorted(Counter(e["op"] for e in rec.of_kind("workload_skipped")).items())),
        "commit_latency_s": _percentiles(latencies),
        "convergence_s": _percentiles(convergence),
        # only under hardware.processing_time: on (without it the summary is as before)
        **({"processing": _processing_summary(w)} if isinstance(w.processing, Queued) else {}),
        "application": _application_summary(rec, branches),
        # only with a faults section (without one the summary is as before)
        **({"faults": _faults(w, w.faults, branches)} if w.faults is not None else {}),
        # only with a ds_misbehaviour section (without one the summary is as before)
        **({"ds_misbehaviour": w.misbehaviour.summary()} if w.misbehaviour is not None else {}),
        # only with groups[].reinit (without it the summary is as before)
        **({"reinit": w.reinits.summary()} if w.reinits is not None else {}),
        "healing": w.compromises.summary() if w.compromises is not None else {},
        "devices": _devices_summary(w),
        "joins": _joins_summary(w),
        "pre": _pre_summary(w),
        **({"pre_path": pre_path} if pre_path is not None else {}),
        # only with light members (groups[].light_share; without them the summary is as before)
        **({"light_members": by_kind} if by_kind is not None else {}),
        "ds_storage_bytes_mean": round(
            statistics.fmean(v.get("ds_storage_bytes", 0) for v in groups.values()), 3
        )
        if groups
        else 0.0,
        "groups": groups,
        "clients": len(w.clients),
        "all_converged": all(v["converged"] for v in groups.values()),
    }


def _faults(w: Finished, faults: Faults, branches: dict[str, dict[int, str]]) -> dict[str, Any]:
    members = {g: list(w.ds_of(g).groups[g].members.items()) for g in sorted(w.ds_groups)}
    return faults_summary(faults, w.recorder, w.reached, branches, members, w.stop_time, _percentiles)


def _processing_summary(w: Finished) -> dict[str, Any]:
    """Processing time (``processing`` events): per job kind the seconds a job took, the time
    jobs waited for their client, and each client's busy time."""
    by_op: dict[str, list[float]] = {}
    busy: Counter[str] = Counter()
    waited: list[float] = []
    for e in w.recorder.of_kind("processing"):
        by_op.setdefault(e["op"], []).append(e["seconds"])
        busy[e["client"]] += e["seconds"]
        waited.append(e["waited"])
    out: dict[str, Any] = {
        "jobs": len(waited),
        "seconds": {op: _percentiles(v) for op, v in sorted(by_op.items())},
        "waited_s": _percentiles(waited),
        "busy_s_per_client_mean": round(math.fsum(busy.values()) / max(len(w.clients), 1), 6),
    }
    if w.ds_queue is not None:  # only with hardware.ds (sim/ds_processing.py)
        span = w.env.now - w.origin
        events = w.recorder.of_kind("ds_processing")
        out["ds"] = ds_summary(events, list(w.providers), w.ds_queue.workers, span)
    return out


def _bytes_summary(w: Finished) -> dict[str, Any]:
    """Bytes on the wire: by message type and role, per client, DS egress, between providers, lost."""
    rec = w.recorder
    by_type: dict[str, dict[str, dict[str, int]]] = {}
    for msg_type, role, size in zip(rec.msg_type, rec.role, rec.nbytes, strict=True):
        d = by_type.setdefault(msg_type, {}).setdefault(role, {"count": 0, "bytes": 0})
        d["count"] += 1
        d["bytes"] += size
    by_type = {k: dict(sorted(v.items())) for k, v in by_type.items()}
    up: Counter[str] = Counter()
    down: Counter[str] = Counter()
    up_type: Counter[str] = Counter()
    down_type: Counter[str] = Counter()
    rows = zip(rec.link, rec.lost, rec.sender, rec.receiver, rec.msg_type, rec.nbytes, strict=True)
    for link, lost, sender, receiver, msg_type, size in rows:
        if link != "client_ds" or lost:
            continue
        if sender.startswith("c:"):
            up[sender] += size
            up_type[msg_type] += size
        else:
            down[receiver] += size
            down_type[msg_type] += size
    clients = sorted(f"c:{n}" for n in w.clients)
    n_clients = max(len(clients), 1)
    client_by_type = {
        k: {
            "up_mean": round(up_type[k] / n_clients, 3),
            "down_mean": round(down_type[k] / n_clients, 3),
        }
        for k in sorted(set(up_type) | set(down_type))
    }
    ds_to_clients = sum(
        n
        for link, sender, n in zip(rec.link, rec.sender, rec.nbytes, strict=True)
        if link == "client_ds" and sender.startswith("ds:")
    )
    return {
        "bytes_by_type_and_role": dict(sorted(by_type.items())),
        "client_bytes_by_type": client_by_type,
        "client_upload_bytes": _stats([up[c] for c in clients]),
        "client_download_bytes": _stats([down[c] for c in clients]),
        "ds_egress_to_clients_bytes": ds_to_clients,
        "inter_provider_bytes": sum(
            n for link, n in zip(rec.link, rec.nbytes, strict=True) if link == "ds_ds"
        ),
        "lost_bytes": sum(n for was_lost, n in zip(rec.lost, rec.nbytes, strict=True) if was_lost),
        "transmissions": len(rec.send_time),
    }


def majority_state(w: Finished, gname: str) -> tuple[tuple[int, bytes] | None, list[str]]:
    """The state most holders of the group end in (ties: the later epoch) and its holders."""
    # full members only: light members exist only under an orderer, where there is one branch
    holders = {n: g for n, c in w.clients.items() if (g := c.groups.get(gname)) is not None}
    if not holders:
        return None, []
    tally = Counter((g.epoch, g.epoch_authenticator) for g in holders.values())
    state, _ = max(tally.items(), key=lambda kv: (kv[1], kv[0]))
    return state, sorted(n for n, g in holders.items() if (g.epoch, g.epoch_authenticator) == state)


def final_branch(
    w: Finished, gname: str, states: list[tuple[int, bytes, dict[str, float]]] | None = None
) -> dict[int, str]:
    """Epoch → epoch authenticator (hex) of the branch the group ends on: at each epoch, the state
    the holders of its final state reached last (a member that switched branches reached the
    winner after the loser). With an orderer there is one branch; without one, commits and
    messages of other branches are lost. ``states``: the group's entries of ``w.reached`` as
    (epoch, authenticator, who reached it when), when the caller has indexed them already."""
    _, holders = majority_state(w, gname)
    if states is None:
        states = [(e, a, who) for (g, e, a), who in w.reached.items() if g == gname]
    last: dict[int, dict[str, tuple[float, bytes]]] = {}
    for epoch, auth, who in states:
        for m in holders:
            t = who.get(m)
            if t is not None and (m not in last.setdefault(epoch, {}) or t >= last[epoch][m][0]):
                last[epoch][m] = (t, auth)
    return {e: Counter(a for _, a in by.values()).most_common(1)[0][0].hex() for e, by in last.items() if by}


def _on_branch(branches: dict[str, dict[int, str]], e: dict[str, Any]) -> bool:
    return bool(branches.get(e["group"], {}).get(e["epoch"]) == e["auth"])


def _by_distance(rec: Recorder) -> dict[str, dict[str, float]]:
    """Attempts that reached the orderer, by where their committer is: at the ordering
    provider or elsewhere (farther: its commits wait a DS–DS hop more). Empty without an orderer."""
    out: dict[str, dict[str, float]] = {}
    for kind in ("commit_accepted", "commit_rejected"):
        for e in rec.of_kind(kind):
            d = out.setdefault(
                "at_orderer" if e["at_orderer"] else "elsewhere", {"attempts": 0, "rejected": 0}
            )
            d["attempts"] += 1
            d["rejected"] += kind == "commit_rejected"
    for d in out.values():
        d["collisions_per_1000_attempts"] = round(1000.0 * d["rejected"] / d["attempts"], 3)
    return dict(sorted(out.items()))


def _commits_summary(
    w: Finished, branches: dict[str, dict[int, str]]
) -> tuple[dict[str, Any], dict[str, Any], list[float], list[float]]:
    """Commits and forks, and each accepted commit's latency and convergence time."""
    rec = w.recorder
    merged = list(rec.of_kind("commit_merged"))
    accepted = list(rec.of_kind("commit_accepted"))
    dropped = sum(1 for _ in rec.of_kind("commit_dropped"))
    rejected = sum(1 for _ in rec.of_kind("commit_rejected")) + dropped
    gave_up = sum(1 for _ in rec.of_kind("commit_gave_up"))
    n_accepted = w.ordering.accepted_commits(len(merged), len(accepted), dropped)
    sent = sum(1 for _ in rec.of_kind("commit_sent"))
    latencies = [e["latency"] for e in merged if e["op"] != "create"]
    convergence = []
    dropped_digests = {e["digest"] for e in rec.of_kind("commit_dropped")}
    for e in merged:
        if e["op"] == "create" or e.get("digest") in dropped_digests:
            continue
        who = w.reached[(e["group"], e["epoch"], bytes.fromhex(e["auth"]))]
        convergence.append(round(max(who.values()) - (e["t"] - e["latency"]), 6))
    down_commit = _commit_sizes(w, "download")
    up_commit = _commit_sizes(w, "upload")
    commits = {
        "sent": sent,
        "accepted": n_accepted,
        "rejected": rejected,
        # a rate without a denominator is undefined (None, as a percentile of nothing), never 0:
        # a group that never got to commit did not commit without collisions
        "collisions_per_1000_attempts": round(1000.0 * rejected / sent, 3) if sent else None,
        "gave_up": gave_up,
        "retries_per_accepted": round((sent - n_accepted - gave_up) / n_accepted, 4) if n_accepted else None,
        "download_bytes_mean": round(statistics.fmean(down_commit) if down_commit else 0.0, 3),
        "upload_bytes_mean": round(statistics.fmean(up_commit) if up_commit else 0.0, 3),
        "wasted_bytes": sum(
            e["wasted_bytes"] for k in ("commit_rejected", "commit_dropped") for e in rec.of_kind(k)
        ),
        "lost_on_losing_branch": sum(
            1 for e in merged if e["op"] != "create" and not _on_branch(branches, e)
        ),
        "by_distance": _by_distance(rec),
    }
    forks = {
        "epochs": len(
            {(e["group"], e["epoch"]) for k in ("fork_detected", "fork_switch") for e in rec.of_kind(k)}
        ),
        "switches": sum(1 for _ in rec.of_kind("fork_switch")),
        "dropped_commits": dropped,
        "unresolved": sum(1 for _ in rec.of_kind("fork_unresolved")),
        "resolution_s": _percentiles(_fork_resolution_times(w)),
    }
    return commits, forks, latencies, convergence


def _application_summary(rec: Recorder, branches: dict[str, dict[int, str]]) -> dict[str, Any]:
    return {
        "sent": sum(1 for _ in rec.of_kind("app_sent")),
        "sent_on_losing_branch": sum(1 for e in rec.of_kind("app_sent") if not _on_branch(branches, e)),
        "received": rec.total("app_received"),
        "undecryptable": sum(1 for _ in rec.of_kind("app_undecryptable")),
        "predates_join": sum(1 for _ in rec.of_kind("app_predates_join")),
        "not_member": sum(1 for _ in rec.of_kind("app_not_member")),
        "expired_in_mailbox": sum(
            1 for e in rec.of_kind("mailbox_expired") if e["msg_type"] == "application"
        ),
    }


def _stats(xs: list[int]) -> dict[str, float]:
    if not xs:
        return {"mean": 0.0, "max": 0, "total": 0}
    return {"mean": round(sum(xs) / len(xs), 3), "max": max(xs), "total": sum(xs)}


def _percentiles(xs: list[float]) -> dict[str, float | int | None]:
    if not xs:
        return {"n": 0, "p50": None, "p95": None, "p99": None}
    s = sorted(xs)

    def q(p: float) -> float:
        k = max(0, min(len(s) - 1, math.ceil(p * len(s)) - 1))
        return round(s[k], 6)

    return {"n": len(s), "p50": q(0.5), "p95": q(0.95), "p99": q(0.99)}
