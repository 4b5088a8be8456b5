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
from types import SimpleNamespace
from typing import Any

import pytest

from mlssim.scenario.schema import Scenario
from mlssim.sim.recorder import Recorder, Transmission
from mlssim.sim.summary import (
    _application_summary,
    _bytes_summary,
    _commit_sizes,
    _commits_summary,
    _joins_summary,
    _percentiles,
    _pre_summary,
    _resync_summary,
    _stats,
    majority_state,
)
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


def _recorded(*events: tuple[str, dict[str, Any]]) -> Any:
    """A finished world whose record holds only ``events`` (kind, fields), one second apart."""
    rec = Recorder()
    for i, (kind, fields) in enumerate(events):
        rec.event(float(i), kind, **fields)
    return SimpleNamespace(recorder=rec)


def test_resyncs_joins_and_pre_on_fixed_events() -> None:
    """The counts no small run produces (an abandoned re-sync, a failed join) and means with
    more than three decimals, on a hand-made record."""
    w = _recorded(
        ("resync_started", {}),
        ("resync_abandoned", {}),
        ("resync_started", {}),
        ("resync_done", {"duration": 0.25}),
        ("commit_fanout", {"op": "resync", "bytes": 700}),
        ("commit_fanout", {"op": "update", "bytes": 50}),
    )
    assert _resync_summary(w) == {
        "started": 2,
        "done": 1,
        "abandoned": 1,
        "time_s": {"n": 1, "p50": 0.25, "p95": 0.25, "p99": 0.25},
        "bytes": 700,
    }
    cost = {"download": 10, "upload": 1, "adder_upload": 2}
    w = _recorded(
        ("join_cost", {**cost, "mode": "welcome", "op": "create"}),
        ("join_cost", {**cost, "mode": "welcome", "op": "add"}),
        ("join_cost", {**cost, "mode": "external-commit", "op": "external-join", "download": 11}),
        ("join_cost", {**cost, "mode": "external-commit", "op": "external-join", "upload": 2}),
        ("join_cost", {**cost, "mode": "external-commit", "op": "external-join", "adder_upload": 0}),
        ("join_failed", {}),
        ("join_failed", {}),
    )
    assert _joins_summary(w) == {
        "count": 4,
        "download_bytes_mean": 10.25,
        "adder_upload_bytes_mean": 1.5,
        "by_mode": {
            "external-commit": {
                "count": 3,
                "download_bytes_mean": 10.333,
                "upload_bytes_mean": 1.333,
                "adder_upload_bytes_mean": 1.333,
            },
            "welcome": {
                "count": 1,
                "download_bytes_mean": 10.0,
                "upload_bytes_mean": 1.0,
                "adder_upload_bytes_mean": 2.0,
            },
        },
        "failed": 2,
    }
    w = _recorded(
        ("pre_rekey", {"reencryptions": 1, "records": 2}),
        ("pre_rekey", {"reencryptions": 1, "records": 2}),
        ("pre_rekey", {"reencryptions": 2, "records": 3}),
        ("commit_sent", {"pre_upload_bytes": 100}),
        ("commit_sent", {"pre_upload_bytes": 0}),
        ("commit_sent", {"pre_upload_bytes": 101}),
        ("commit_sent", {"pre_upload_bytes": 101}),
    )
    assert _pre_summary(w) == {
        "epochs": 3,
        "reencryptions": 4,
        "reencryptions_per_epoch_mean": 1.333,
        "records_mean": 2.333,
        "upload_bytes_mean": 100.667,  # commits without a PRE upload are not averaged in
    }
    assert _joins_summary(_recorded())["download_bytes_mean"] == 0.0
    assert _pre_summary(_recorded())["upload_bytes_mean"] == 0.0


def test_the_majority_state_breaks_ties_by_the_later_epoch() -> None:
    def holder(epoch: int) -> Any:
        return SimpleNamespace(groups={"g": SimpleNamespace(epoch=epoch, epoch_authenticator=bytes([epoch]))})

    w: Any = SimpleNamespace(
        clients={"a": holder(3), "b": holder(3), "c": holder(5), "d": holder(5), "e": holder(4)}
    )
    assert majority_state(w, "g") == ((5, b"\x05"), ["c", "d"])
    w.clients["f"] = holder(3)
    assert majority_state(w, "g") == ((3, b"\x03"), ["a", "b", "f"])
    assert majority_state(w, "other") == (None, [])


def test_commits_forks_and_application_on_fixed_events() -> None:
    """Five attempts: two accepted (one at the orderer), two rejected elsewhere, one given up;
    the second accepted commit is not on the branch the group ends on; one fork unresolved."""
    w = _recorded(
        *[("commit_sent", {})] * 5,  # t = 0..4
        ("commit_accepted", {"group": "g", "epoch": 1, "at_orderer": True}),
        ("commit_accepted", {"group": "g", "epoch": 2, "at_orderer": False}),
        ("commit_rejected", {"wasted_bytes": 10, "at_orderer": False}),
        ("commit_rejected", {"wasted_bytes": 11, "at_orderer": False}),
        ("commit_gave_up", {}),
        (
            "commit_merged",
            {"op": "update", "group": "g", "epoch": 1, "auth": "aa", "latency": 0.5, "digest": "d1"},
        ),
        (
            "commit_merged",
            {"op": "update", "group": "g", "epoch": 2, "auth": "bb", "latency": 0.25, "digest": "d2"},
        ),
        ("fork_unresolved", {}),
        ("app_sent", {"group": "g", "epoch": 1, "auth": "aa"}),
        ("app_sent", {"group": "g", "epoch": 2, "auth": "bb"}),
        ("app_sent", {"group": "g", "epoch": 2, "auth": "bb"}),
        ("app_predates_join", {}),
        ("app_not_member", {}),
        ("app_undecryptable", {}),
        ("mailbox_expired", {"msg_type": "application"}),
        ("mailbox_expired", {"msg_type": "commit"}),
    )
    w.ordering = SimpleNamespace(accepted_commits=lambda merged, accepted, dropped: accepted)
    # merged at t = 10 and 11: members reached the epochs 0.75 s and 0.5 s after (to the microsecond)
    w.reached = {("g", 1, b"\xaa"): {"m": 10.7500004, "n": 10.0}, ("g", 2, b"\xbb"): {"m": 11.5}}
    branches = {"g": {1: "aa", 2: "cc"}}
    commits, forks, latencies, convergence = _commits_summary(w, branches)
    assert commits == {
        "sent": 5,
        "accepted": 2,
        "rejected": 2,
        "collisions_per_1000_attempts": 400.0,
        "gave_up": 1,
        "retries_per_accepted": 1.0,  # (5 - 2 - 1) / 2
        "download_bytes_mean": 0.0,
        "upload_bytes_mean": 0.0,
        "wasted_bytes": 21,
        "lost_on_losing_branch": 1,
        "by_distance": {
            "at_orderer": {"attempts": 1, "rejected": 0, "collisions_per_1000_attempts": 0.0},
            "elsewhere": {"attempts": 3, "rejected": 2, "collisions_per_1000_attempts": 666.667},
        },
    }
    assert forks == {
        "epochs": 0,
        "switches": 0,
        "dropped_commits": 0,
        "unresolved": 1,
        "resolution_s": {"n": 0, "p50": None, "p95": None, "p99": None},
    }
    assert latencies == [0.5, 0.25] and convergence == [1.25, 0.75]
    w.recorder.counts[("app_received", "g")] += 7
    assert _application_summary(w.recorder, branches) == {
        "sent": 3,
        "sent_on_losing_branch": 2,
        "received": 7,
        "undecryptable": 1,
        "predates_join": 1,
        "not_member": 1,
        "expired_in_mailbox": 1,
    }


@pytest.mark.parametrize("column", ["role", "receiver"])
def test_a_record_whose_columns_disagree_is_refused(column: str) -> None:
    """The transmission record is one list per field; a row missing from one of them is our
    bug, and the summary says so instead of summing the shorter columns."""
    rec = Recorder()
    rec.transmit(0.0, "c:a", "ds:p", "client_ds", "upload", "commit:update", "g", 100)
    rec.transmit(0.1, "ds:p", "c:b", "client_ds", "download", "commit", "g", 90)
    w: Any = SimpleNamespace(recorder=rec, clients={"a": None, "b": None})
    assert _bytes_summary(w)["client_upload_bytes"] == {"mean": 50.0, "max": 100, "total": 100}
    assert _commit_sizes(w, "download") == [90] and _commit_sizes(w, "upload") == [100]
    getattr(rec, column).append(getattr(rec, column)[0])
    with pytest.raises(ValueError, match="zip"):
        _bytes_summary(w)
    if column == "role":
        with pytest.raises(ValueError, match="zip"):
            _commit_sizes(w, "upload")
    rec = Recorder()
    rec.msg_type.append("nack")
    with pytest.raises(ValueError, match="zip"):
        _resync_summary(SimpleNamespace(recorder=rec))


def test_a_run_without_an_attempt_has_no_collision_rate() -> None:
    """No attempt, nothing accepted: the rates are undefined (None), never a reassuring 0."""
    w = _recorded()
    w.ordering = SimpleNamespace(accepted_commits=lambda merged, accepted, dropped: accepted)
    w.reached = {}
    commits, *_ = _commits_summary(w, {})
    assert commits["sent"] == 0 and commits["collisions_per_1000_attempts"] is None
    assert commits["retries_per_accepted"] is None
