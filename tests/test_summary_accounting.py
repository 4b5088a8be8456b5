"""``summary.json`` recomputed from the run's own record (issue 25): every byte figure is a sum
over ``w.recorder.transmissions`` (the rows, not the columns the summary reads), every count a
count of ``w.recorder.of_kind(...)`` events, and each is compared with the summary exactly.

One small ordered run with two providers, lossy client links and two groups (so that there are
lost transmissions, DS-to-DS hops, rejected commits on both sides of the orderer, joins and
removals), and the summary's two helpers on fixed inputs.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import pytest

from mlssim.scenario.schema import Scenario
from mlssim.sim.recorder import Transmission
from mlssim.sim.summary import _percentiles, _stats
from mlssim.sim.world import World


def _scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "accounting",
            "seed": 3,
            "duration": 60,
            "drain": 30,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "a"}, {"name": "b"}],
            "network": {
                "ds_ds": {"latency": {"dist": "constant", "value": 0.2}},
                "client_ds": {"latency": {"dist": "exponential", "mean": 0.05}, "loss": 0.03},
            },
            "federation": {"ordering": "hub"},
            "groups": [
                {
                    "name": "g",
                    "size": 6,
                    "workload": {"app_rate": 0.1, "update_rate": 0.08, "add_rate": 0.04, "remove_rate": 0.03},
                },
                {"name": "h", "size": 4, "workload": {"app_rate": 0.05, "update_rate": 0.05}},
            ],
        }
    )


@pytest.fixture(scope="module")
def run() -> tuple[World, dict[str, Any], list[Transmission]]:
    w = World(_scenario())
    w.run()
    return w, w.summary(), list(w.recorder.transmissions)


def _count(w: World, kind: str) -> int:
    return sum(1 for _ in w.recorder.of_kind(kind))


def test_the_run_exercises_every_term(run: tuple[World, dict[str, Any], list[Transmission]]) -> None:
    """The record has what the sums below must account for: lost rows, DS-to-DS rows, both
    directions of client links, rejections at and away from the orderer, joins."""
    w, s, rows = run
    assert any(t.lost for t in rows) and any(not t.lost for t in rows)
    assert {t.link for t in rows} >= {"client_ds", "ds_ds"}
    assert _count(w, "commit_rejected") > 0 and _count(w, "join_cost") > 0
    assert set(s["commits"]["by_distance"]) == {"at_orderer", "elsewhere"}
    assert s["all_converged"] and s["clients"] == len(w.clients)


def test_bytes_by_type_and_role(run: tuple[World, dict[str, Any], list[Transmission]]) -> None:
    _w, s, rows = run
    want: dict[str, dict[str, dict[str, int]]] = {}
    for t in rows:
        d = want.setdefault(t.msg_type, {}).setdefault(t.role, {"count": 0, "bytes": 0})
        d["count"] += 1
        d["bytes"] += t.bytes
    assert s["bytes_by_type_and_role"] == want
    assert list(s["bytes_by_type_and_role"]) == sorted(want)
    assert s["transmissions"] == len(rows)
    assert s["lost_bytes"] == sum(t.bytes for t in rows if t.lost) > 0
    assert s["inter_provider_bytes"] == sum(t.bytes for t in rows if t.link == "ds_ds") > 0
    # what the DSes sent their clients, lost copies included
    egress = [t.bytes for t in rows if t.link == "client_ds" and t.sender.startswith("ds:")]
    assert s["ds_egress_to_clients_bytes"] == sum(egress)
    assert any(t.lost for t in rows if t.link == "client_ds" and t.sender.startswith("ds:"))


def test_client_bytes_count_what_arrived(run: tuple[World, dict[str, Any], list[Transmission]]) -> None:
    """Per client: what it put on its access link and what reached it over that link (lost
    transmissions are not counted); statistics over every client, idle ones included."""
    w, s, rows = run
    names = sorted(f"c:{n}" for n in w.clients)
    arrived = [t for t in rows if t.link == "client_ds" and not t.lost]
    up = {n: sum(t.bytes for t in arrived if t.sender == n) for n in names}
    down = {n: sum(t.bytes for t in arrived if t.receiver == n) for n in names}
    for got, per in ((s["client_upload_bytes"], up), (s["client_download_bytes"], down)):
        values = [per[n] for n in names]
        assert got == {"mean": round(sum(values) / len(values), 3), "max": max(values), "total": sum(values)}
    assert s["client_download_bytes"]["total"] < s["ds_egress_to_clients_bytes"]  # losses
    by_type = s["client_bytes_by_type"]
    types = sorted({t.msg_type for t in arrived})
    assert list(by_type) == types
    for mt in types:
        sent_up = sum(t.bytes for t in arrived if t.msg_type == mt and t.sender.startswith("c:"))
        sent_down = sum(t.bytes for t in arrived if t.msg_type == mt and t.sender.startswith("ds:"))
        assert by_type[mt] == {
            "up_mean": round(sent_up / len(names), 3),
            "down_mean": round(sent_down / len(names), 3),
        }


def test_commits(run: tuple[World, dict[str, Any], list[Transmission]]) -> None:
    w, s, rows = run
    c = s["commits"]
    sent, rejected, accepted = (
        _count(w, "commit_sent"),
        _count(w, "commit_rejected"),
        _count(w, "commit_accepted"),
    )
    assert c["sent"] == sent == accepted + rejected + _count(w, "commit_dropped")
    assert c["accepted"] == accepted and c["rejected"] == rejected > 0
    assert c["gave_up"] == _count(w, "commit_gave_up")
    assert c["collisions_per_1000_attempts"] == round(1000.0 * rejected / sent, 3)
    assert c["retries_per_accepted"] == round((sent - accepted - c["gave_up"]) / accepted, 4)
    assert c["wasted_bytes"] == sum(e["wasted_bytes"] for e in w.recorder.of_kind("commit_rejected")) > 0
    assert c["lost_on_losing_branch"] == 0
    downloads = [t.bytes for t in rows if t.msg_type == "commit" and t.role == "download"]
    uploads = [t.bytes for t in rows if t.msg_type.startswith("commit:") and t.role == "upload"]
    assert c["download_bytes_mean"] == round(statistics.fmean(downloads), 3)
    assert c["upload_bytes_mean"] == round(statistics.fmean(uploads), 3)
    # attempts that reached the orderer, by where their committer is
    where: dict[str, Counter[str]] = {}
    for kind in ("commit_accepted", "commit_rejected"):
        for e in w.recorder.of_kind(kind):
            side = "at_orderer" if w.clients[e["client"]].provider == w.ds_groups[e["group"]] else "elsewhere"
            where.setdefault(side, Counter())[kind] += 1
    for side, n in where.items():
        attempts = n["commit_accepted"] + n["commit_rejected"]
        assert c["by_distance"][side] == {
            "attempts": attempts,
            "rejected": n["commit_rejected"],
            "collisions_per_1000_attempts": round(1000.0 * n["commit_rejected"] / attempts, 3),
        }
    assert sum(d["rejected"] for d in c["by_distance"].values()) == rejected
    assert all(d["rejected"] > 0 for d in c["by_distance"].values())


def test_latencies_and_convergence(run: tuple[World, dict[str, Any], list[Transmission]]) -> None:
    w, s, _rows = run
    merged = [e for e in w.recorder.of_kind("commit_merged") if e["op"] != "create"]
    assert s["commit_latency_s"] == _percentiles([e["latency"] for e in merged])
    # from the commit's first attempt to the last member reaching its epoch
    conv = [
        round(
            max(w.reached[(e["group"], e["epoch"], bytes.fromhex(e["auth"]))].values())
            - (e["t"] - e["latency"]),
            6,
        )
        for e in merged
    ]
    assert s["convergence_s"] == _percentiles(conv)
    assert s["convergence_s"]["n"] == len(merged) == s["commits"]["accepted"] - len(w.ds_groups)


def test_application_joins_and_groups(run: tuple[World, dict[str, Any], list[Transmission]]) -> None:
    w, s, rows = run
    app = s["application"]
    assert app["sent"] == _count(w, "app_sent") > 0
    assert app["sent_on_losing_branch"] == 0
    assert (
        app["received"] == sum(n for (kind, _g), n in w.recorder.counts.items() if kind == "app_received") > 0
    )
    for key, kind in (
        ("undecryptable", "app_undecryptable"),
        ("predates_join", "app_predates_join"),
        ("not_member", "app_not_member"),
    ):
        assert app[key] == _count(w, kind)
    expired = [e for e in w.recorder.of_kind("mailbox_expired") if e["msg_type"] == "application"]
    assert app["expired_in_mailbox"] == len(expired)
    joins = [e for e in w.recorder.of_kind("join_cost") if e["op"] != "create"]
    assert s["joins"]["count"] == len(joins) > 0 and s["joins"]["failed"] == _count(w, "join_failed")
    assert s["joins"]["download_bytes_mean"] == round(statistics.fmean(e["download"] for e in joins), 3)
    assert s["joins"]["adder_upload_bytes_mean"] == round(
        statistics.fmean(e["adder_upload"] for e in joins), 3
    )
    (mode,) = {e["mode"] for e in joins}
    assert s["joins"]["by_mode"] == {
        mode: {
            "count": len(joins),
            "download_bytes_mean": s["joins"]["download_bytes_mean"],
            "upload_bytes_mean": round(statistics.fmean(e["upload"] for e in joins), 3),
            "adder_upload_bytes_mean": s["joins"]["adder_upload_bytes_mean"],
        }
    }
    # each joiner's download is its Welcome and the tree, as transmitted to it
    for e in joins:
        got = [
            t.bytes
            for t in rows
            if t.receiver == f"c:{e['client']}" and t.msg_type in ("welcome", "ratchet_tree")
        ]
        assert e["download"] == sum(got)
    assert s["workload_skipped"] == dict(
        sorted(Counter(e["op"] for e in w.recorder.of_kind("workload_skipped")).items())
    )
    assert list(s["groups"]) == sorted(w.ds_groups) and len(w.ds_groups) == 2
    storage = [s["groups"][g]["ds_storage_bytes"] for g in sorted(w.ds_groups)]
    assert s["ds_storage_bytes_mean"] == round(statistics.fmean(storage), 3)
    assert s["forks"]["epochs"] == s["forks"]["switches"] == s["forks"]["dropped_commits"] == 0
    assert s["resyncs"]["started"] == s["resyncs"]["bytes"] == 0
    assert s["healing"] == {} and s["devices"] == {}


def test_percentiles_and_stats_on_fixed_inputs() -> None:
    assert _percentiles([]) == {"n": 0, "p50": None, "p95": None, "p99": None}
    assert _percentiles([2.5]) == {"n": 1, "p50": 2.5, "p95": 2.5, "p99": 2.5}
    # nearest rank: the ceil(p * n)-th smallest, whatever the input order
    hundred = [float(x) for x in range(100, 0, -1)]
    assert _percentiles(hundred) == {"n": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert _percentiles([4.0, 1.0, 3.0, 2.0]) == {"n": 4, "p50": 2.0, "p95": 4.0, "p99": 4.0}
    assert _percentiles([0.1234567]) == {"n": 1, "p50": 0.123457, "p95": 0.123457, "p99": 0.123457}
    assert _stats([]) == {"mean": 0.0, "max": 0, "total": 0}
    assert _stats([3, 0, 4]) == {"mean": 2.333, "max": 4, "total": 7}
