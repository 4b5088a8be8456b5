"""The short table ``mlssim run`` prints from a run's ``summary.json``, and the run's warnings
(``manifest.json``) under it, so a run that measured nothing does not look like a result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["summary_table", "human_bytes"]


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _rate(v: float | None, fmt: str) -> str:
    """A rate, or "-" when it has no denominator (no attempt, nothing accepted)."""
    return "-" if v is None else format(v, fmt)


def summary_table(s: dict[str, Any], warnings: Sequence[str] = ()) -> str:
    """The table of summary ``s``, ending with one ``warning:`` line per run warning."""
    lines: list[str] = []
    groups = s["groups"]
    conv = sum(1 for g in groups.values() if g["converged"])
    lines.append(
        f"{s['clients']} clients, {len(groups)} groups ({conv} converged), {s['transmissions']} transmissions"
    )
    lines.append("")
    lines.append(f"{'per client, by message type':30} {'up (mean)':>12} {'down (mean)':>12}")
    for mtype, d in s["client_bytes_by_type"].items():
        lines.append(f"  {mtype:28} {human_bytes(d['up_mean']):>12} {human_bytes(d['down_mean']):>12}")
    up, down = s["client_upload_bytes"], s["client_download_bytes"]
    lines.append(f"  {'all':28} {human_bytes(up['mean']):>12} {human_bytes(down['mean']):>12}")
    lines.append("")
    lines.append(f"{'DS egress to clients':30} {human_bytes(s['ds_egress_to_clients_bytes']):>12}")
    lines.append(f"{'inter-provider (DS-DS)':30} {human_bytes(s['inter_provider_bytes']):>12}")
    if s["lost_bytes"]:
        lines.append(f"{'lost and resent':30} {human_bytes(s['lost_bytes']):>12}")
    c = s["commits"]
    lines.append(
        f"{'commits':30} {c['sent']:>6} sent, {c['accepted']} accepted, {c['rejected']} rejected"
        f" ({_rate(c['collisions_per_1000_attempts'], '.1f')}/1000), {c['gave_up']} gave up"
    )
    lines.append(
        f"{'':30} {_rate(c['retries_per_accepted'], '.2f')} retries per accepted commit,"
        f" {human_bytes(c['wasted_bytes'])} wasted on losing attempts"
    )
    f = s["forks"]
    if f["epochs"] or f["switches"]:
        lines.append(
            f"{'forks':30} {f['epochs']:>6} forked epochs, {f['switches']} switches,"
            f" {f['dropped_commits']} commits dropped, {f['unresolved']} unresolved;"
            f" resolved in p95 {_secs(f['resolution_s']['p95'])}"
        )
    r = s["resyncs"]
    if r["started"]:
        lines.append(
            f"{'re-syncs':30} {r['started']:>6} started, {r['done']} done,"
            f" p95 {_secs(r['time_s']['p95'])}, {human_bytes(r['bytes'])}"
        )
    for label, key in (("commit latency", "commit_latency_s"), ("convergence time", "convergence_s")):
        p = s[key]
        lines.append(
            f"{label:30} p50 {_secs(p['p50']):>8}  p95 {_secs(p['p95']):>8}  p99 {_secs(p['p99']):>8}"
            f"  (n={p['n']})"
        )
    a = s["application"]
    lines.append(
        f"{'application messages':30} {a['sent']:>6} sent, {a['received']} deliveries,"
        f" {a['undecryptable']} undecryptable"
    )
    if warnings:
        lines.append("")
        lines.extend(f"warning: {w}" for w in warnings)
    return "\n".join(lines)
