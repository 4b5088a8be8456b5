"""Axis labels and table headers: one registry, the only place a metric's label and unit live.

``docs/metrics.md`` shows this registry in its "Labels in figures" section, generated from it
(``python -m mlssim.report.labels`` prints the section; ``tests/test_labels.py`` fails on drift),
so the documentation and the figures cannot disagree. A key with a statistic suffix
(``.p95``, ``.mean``, …) takes its family's label with the statistic before the unit:
``commit_latency_s.p95`` → "commit latency p95 (s)". Nothing on an axis is a raw key.
"""

from __future__ import annotations

import re

__all__ = ["FAMILIES", "GRID", "label_of", "markdown"]

#: metric family → label with its unit
FAMILIES = {
    "transmissions": "transmissions (count)",
    "lost_bytes": "bytes lost and sent again",
    "inter_provider_bytes": "inter-provider bytes",
    "ds_egress_to_clients_bytes": "DS egress to clients (bytes)",
    "client_download_bytes": "download per client (bytes)",
    "client_upload_bytes": "upload per client (bytes)",
    "clients": "clients (devices)",
    "commits.sent": "commit attempts",
    "commits.accepted": "commits accepted",
    "commits.rejected": "commit attempts lost",
    "commits.gave_up": "commits given up",
    "commits.collisions_per_1000_attempts": "collisions per 1,000 commit attempts",
    "commits.retries_per_accepted": "retries per accepted commit",
    "commits.download_bytes_mean": "commit download per member (bytes)",
    "commits.upload_bytes_mean": "commit upload per committer (bytes)",
    "commits.wasted_bytes": "bytes of losing commit attempts",
    "commits.lost_on_losing_branch": "commits lost on a losing branch",
    "commits.by_distance.at_orderer.attempts": "commit attempts, committer at the orderer",
    "commits.by_distance.at_orderer.rejected": "attempts lost, committer at the orderer",
    "commits.by_distance.at_orderer.collisions_per_1000_attempts": (
        "collisions per 1,000 attempts, committer at the orderer"
    ),
    "commits.by_distance.elsewhere.attempts": "commit attempts, committer elsewhere",
    "commits.by_distance.elsewhere.rejected": "attempts lost, committer elsewhere",
    "commits.by_distance.elsewhere.collisions_per_1000_attempts": (
        "collisions per 1,000 attempts, committer elsewhere"
    ),
    "commit_latency_s": "commit latency (s)",
    "convergence_s": "commit → all members merged (s)",
    "forks.epochs": "forked epochs",
    "forks.switches": "fork switches",
    "forks.dropped_commits": "commits dropped by a fork switch",
    "forks.unresolved": "forks too deep to roll back",
    "forks.resolution_s": "fork resolution time (s)",
    "resyncs.started": "re-syncs started",
    "resyncs.done": "re-syncs done",
    "resyncs.abandoned": "re-syncs abandoned",
    "resyncs.time_s": "re-sync time (s)",
    "resyncs.bytes": "re-sync bytes",
    "application.sent": "application messages sent",
    "application.sent_on_losing_branch": "application messages sent on a losing branch",
    "application.received": "application messages received",
    "application.undecryptable": "application messages undecryptable",
    "application.predates_join": "application messages older than the receiver's join",
    "application.not_member": "application messages to non-members",
    "application.expired_in_mailbox": "application messages expired in a mailbox",
    "joins.count": "joins",
    "joins.failed": "joins failed",
    "joins.download_bytes_mean": "joiner's download per join (bytes)",
    "joins.adder_upload_bytes_mean": "adding member's upload per join (bytes)",
    "processing.jobs": "jobs processed (count)",
    "processing.seconds.commit": "time to process a commit (s)",
    "processing.seconds.commit_create": "time to create a commit (s)",
    "processing.seconds.proposal": "time to process a proposal (s)",
    "processing.seconds.application": "time to decrypt an application message (s)",
    "processing.seconds.welcome": "time to join from a Welcome (s)",
    "processing.seconds.light_commit": "time for a light member to process a commit (s)",
    "processing.seconds.light_application": "time for a light member to read an application message (s)",
    "processing.seconds.light_welcome": "time to join as a light member (s)",
    "processing.waited_s": "queueing delay before a job (s)",
    "processing.busy_s_per_client_mean": "busy time per client (s)",
    "processing.ds.jobs": "DS jobs processed (count)",
    "processing.ds.seconds.commit": "DS time to order and fan out a commit (s)",
    "processing.ds.seconds.commit_rejected": "DS time to reject a commit (s)",
    "processing.ds.seconds.proposal": "DS time to order and fan out a proposal (s)",
    "processing.ds.seconds.proposal_rejected": "DS time to reject a proposal (s)",
    "processing.ds.seconds.application": "DS time to fan out an application message (s)",
    "processing.ds.waited_s": "queueing delay before a DS job (s)",
    "faults.count": "faults (count)",
    "faults.duration_s": "time under faults, summed over faults (s)",
    "faults.availability": "availability: share of time a member could commit",
    "faults.availability_min": "availability of the worst member",
    "faults.commit_latency_s": "commit latency, first tried during a fault (s)",
    "faults.commits_during": "commits merged during a fault",
    "faults.epochs_lost": "epoch states on a losing branch",
    "faults.app_lost": "application messages never read by a recipient",
    "faults.app_expired": "application messages expired in a mailbox",
    "faults.forks": "forked epochs (two or more states)",
    "faults.fork_lifetime_s": "fork lifetime (s)",
    "faults.recovery_s": "recovery after a fault ends (s)",
    "faults.catchup_messages": "catch-up transmissions after faults",
    "faults.catchup_bytes": "catch-up bytes after faults",
    "faults.failovers": "failovers",
    "faults.handover_bytes": "failover handover bytes",
    "faults.handover_s": "orderer down → new orderer ordering (s)",
    "faults.redirected_commits": "commits redone at a new orderer",
    "ds_misbehaviour.windows": "misbehaviour windows",
    "ds_misbehaviour.equivocations": "split views made by the DS",
    "ds_misbehaviour.never_delivered": "messages withheld for good",
    "ds_misbehaviour.check_messages": "application messages carrying the authenticator",
    "ds_misbehaviour.check_bytes": "authenticator check bytes",
    "ds_misbehaviour.acted.drop": "deliveries the DS acted on: drop",
    "ds_misbehaviour.acted.delay": "deliveries the DS acted on: delay",
    "ds_misbehaviour.acted.reorder": "deliveries the DS acted on: reorder",
    "ds_misbehaviour.acted.replay": "deliveries the DS acted on: replay",
    "ds_misbehaviour.acted.withhold": "deliveries the DS acted on: withhold",
    "ds_misbehaviour.acted.equivocate": "deliveries the DS acted on: equivocate",
    "ds_misbehaviour.by_rule.commit_old_epoch": "messages flagged: commit_old_epoch",
    "ds_misbehaviour.by_rule.commit_future_epoch": "messages flagged: commit_future_epoch",
    "ds_misbehaviour.by_rule.commit_unverifiable": "messages flagged: commit_unverifiable",
    "ds_misbehaviour.by_rule.app_key_deleted": "messages flagged: app_key_deleted",
    "ds_misbehaviour.by_rule.app_undecryptable": "messages flagged: app_undecryptable",
    "ds_misbehaviour.by_rule.app_future_epoch": "messages flagged: app_future_epoch",
    "ds_misbehaviour.by_rule.app_epoch_deleted": "messages flagged: app_epoch_deleted",
    "ds_misbehaviour.by_rule.check_split_view": "messages flagged: check_split_view",
    "ds_misbehaviour.by_rule.check_lag": "messages flagged: check_lag",
    "ds_misbehaviour.detection.mls.detected": "misbehaviour detected by RFC 9420 rules (0/1)",
    "ds_misbehaviour.detection.mls.first_s": "misbehaviour → first member detecting, RFC 9420 rules (s)",
    "ds_misbehaviour.detection.mls.all_s": "misbehaviour → all members detecting, RFC 9420 rules (s)",
    "ds_misbehaviour.detection.mls.members": "members detecting by RFC 9420 rules",
    "ds_misbehaviour.detection.mls.of": "members at the misbehaviour's start",
    "ds_misbehaviour.detection.check.detected": "misbehaviour detected by authenticator check (0/1)",
    "ds_misbehaviour.detection.check.first_s": "misbehaviour → first member detecting, check (s)",
    "ds_misbehaviour.detection.check.all_s": "misbehaviour → all members detecting, check (s)",
    "ds_misbehaviour.detection.check.members": "members detecting by authenticator check",
    "ds_misbehaviour.detection.check.of": "members at the misbehaviour's start",
    "pre.epochs": "PRE store epochs",
    "pre.reencryptions": "PRE re-encryptions",
    "pre.reencryptions_per_epoch_mean": "PRE re-encryptions per epoch",
    "pre.records_mean": "PRE records kept",
    "pre.upload_bytes_mean": "PRE upload per commit (bytes)",
    "pre_path.commits": "PRE-sealed commits fanned out",
    "pre_path.reencryptions": "PRE re-encryptions by the DS",
    "pre_path.reencryptions_per_commit_mean": "PRE re-encryptions per commit",
    "pre_path.kfrags_max": "kfrags held by the DS, max",
    "pre_path.deposits": "kfrags deposited",
    "pre_path.announcements": "PRE keys announced",
    "pre_path.deposit_bytes": "PRE key and kfrag uploads (bytes)",
    "ds_storage_bytes_mean": "DS storage per group (bytes)",
    "healing.compromises": "compromises",
    "healing.healed": "compromises healed",
    "healing.unhealed": "compromises not healed by the end of the run",
    "healing.time_s_median": "healing time, median (s)",
    "healing.time_s_mean": "healing time, mean (s)",
    "healing.epochs_mean": "epochs until healed, mean",
    "healing.bytes_mean": "handshake bytes until healed, mean",
    "healing.app_exposed": "application messages exposed",
    "healing.app_exposed_before": "application messages exposed before the compromise",
    "healing.epochs_exposed": "epochs exposed",
    "healing.impersonation.forged_sent": "forged application messages sent",
    "healing.impersonation.forged_accepted": "forged messages accepted by a member",
    "healing.impersonation.receptions_accepted": "forged message receptions accepted",
    "healing.impersonation.receptions_rejected": "forged message receptions rejected",
    "healing.impersonation.ended": "impersonations ended",
    "healing.impersonation.commits_sent": "forged commits sent",
    "healing.impersonation.commits_won": "forged commits accepted by the ordering DS",
    "healing.impersonation.commits_lost": "forged commits lost to another commit",
    "healing.impersonation.commits_refused": "forged commits refused by the DS's signature check",
    "healing.impersonation.commit_victim_detections": "forged commits the victim detected",
    "devices.adds": "device adds",
    "devices.completed": "device adds completed",
    "devices.groups_per_add_mean": "groups per device add",
    "devices.bytes_per_add_mean": "bytes per device add (all groups)",
    "devices.deferred_bytes_per_add_mean": "deferred bytes per device add",
    "devices.completion_s": "device add → in all groups (s)",
}
#: per member kind (groups[].light_share): ``light_members.by_kind.<kind>.<key>``
_BY_KIND = {
    "members": "members at the end",
    "joins": "joins",
    "join_download_bytes_mean": "download per join (bytes)",
    "commit_downloads": "commit downloads",
    "commit_download_bytes_mean": "download per commit (bytes)",
    "kept_state_bytes_mean": "kept state, encoded (bytes)",
    "kept_state_bytes_max": "kept state, encoded, max (bytes)",
    "processing_s_per_commit_mean": "processing per commit (s)",
}
FAMILIES.update(
    {
        f"light_members.by_kind.{kind}.{key}": f"{kind} member {text}"
        for kind in ("full", "light")
        for key, text in _BY_KIND.items()
    }
)
FAMILIES.update(
    {
        "light_members.ds_annotations.commits": "commits the DS annotated",
        "light_members.ds_annotations.annotated_commits": "AnnotatedCommits built by the DS",
        "light_members.ds_annotations.annotated_commit_bytes": "AnnotatedCommit bytes built by the DS",
        "light_members.ds_annotations.annotated_welcomes": "AnnotatedWelcomes built by the DS",
        "light_members.ds_annotations.messages": "application messages the DS annotated",
    }
)
#: grid key → axis label with its unit
GRID = {
    "network.ds_ds.latency": "DS–DS one-way latency (s)",
    "network.ds_ds.latency.value": "DS–DS one-way latency (s)",
    "network.client_ds.latency.value": "client–DS one-way latency (s)",
    "network.ds_ds.loss": "DS–DS loss probability",
    "network.ds_ds.bandwidth": "DS–DS link rate (bit/s)",
    "groups[0].size": "group size (members)",
    "groups[0].workload.update_rate": "updates per member per second",
    "groups[0].workload.app_rate": "application messages per member per second",
    "groups[0].workload.update_group_rate": "path updates per group per second",
    "groups[0].workload.join_mode": "join mode",
    "groups[0].count": "groups (scenarios/devices.yaml: a user is in about count / 2)",
    "federation.ordering": "ordering design",
    "faults.events[0].duration": "outage duration (s)",
    "faults.failover.enabled": "hub failover",
    "federation.fanout": "fan-out strategy",
    "crypto.suite": "cipher suite",
    "hardware.ds.workers": "DS workers",
    "hardware.ds.cpu_factor": "DS cpu factor (× the calibration machine)",
    "hardware.kem_cost": "post-quantum KEM cost",
    "hardware.profiles.phone.cpu_factor": "phone cpu factor (× the calibration machine; assumed 4)",
    "hardware.profiles.phone.link.up_mbps": "phone uplink rate (Mbit/s; assumed 9)",
}
_STAT = re.compile(r"^(?P<family>.+)\.(?P<stat>p50|p95|p99|n|mean|max|total)$")


def label_of(key: str) -> str:
    """The label of a metric or grid key (its family's, with a statistic before the unit)."""
    if key in FAMILIES:
        return FAMILIES[key]
    if key in GRID:
        return GRID[key]
    m = _STAT.match(key)
    if m and m["family"] in FAMILIES:
        base, stat = FAMILIES[m["family"]], m["stat"]
        head, unit = base.rsplit(" (", 1) if base.endswith(")") and " (" in base else (base, "")
        if stat == "n":
            return f"{head}, number of values"
        if unit:
            return f"{head} {stat} ({unit}"
        return f"{base}, {stat}"
    return key


def markdown() -> str:
    """The "Labels in figures" section of docs/metrics.md."""
    lines = [
        "| key | label in figures and tables |",
        "| --- | --- |",
        *(f"| `{k}` | {v} |" for k, v in FAMILIES.items()),
        "",
        "A key with a statistic (`.p50`, `.p95`, `.p99`, `.mean`, `.max`, `.total`) takes its "
        "family's label with the statistic before the unit. Grid keys on an x axis:",
        "",
        "| grid key | axis label |",
        "| --- | --- |",
        *(f"| `{k}` | {v} |" for k, v in GRID.items()),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
