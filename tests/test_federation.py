"""Federation designs: who orders, who fans out, and what happens to forks (issue 6)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mlssim.mls.crypto import get_suite
from mlssim.scenario.schema import Scenario
from mlssim.sim.summary import _percentiles
from mlssim.sim.world import World

from .group_harness import Harness

KNOWN_REASONS = {"other_fork_branch", "future_epoch", "epoch_keys_deleted"}


def concurrent(ordering: str, seed: int = 4, **fed: Any) -> Scenario:
    """Slow inter-provider links and frequent commits: commits collide."""
    return Scenario.model_validate(
        {
            "name": "fed",
            "seed": seed,
            "duration": 90,
            "drain": 40,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "network": {
                "ds_ds": {"latency": {"dist": "constant", "value": 0.3}},
                "client_ds": {"latency": {"dist": "exponential", "mean": 0.1}},
            },
            "federation": {"ordering": ordering, **fed},
            "groups": [
                {
                    "name": "x",
                    "size": 10,
                    "workload": {
                        "app_rate": 0.05,
                        "update_rate": 0.05,
                        "add_rate": 0.05,
                        "remove_rate": 0.03,
                    },
                }
            ],
        }
    )


def run(s: Scenario) -> tuple[World, dict[str, Any], Counter[str]]:
    w = World(s)
    w.run()
    return w, w.summary(), Counter(e["kind"] for e in w.recorder.events)


def assert_commit_accounting(w: World, s: dict[str, Any], k: Counter[str]) -> None:
    """``commits`` recomputed from the record: each accepted commit (the group's creation
    included) made one epoch of the chain the group ends on, every other attempt was rejected
    by the orderer or dropped by a fork switch, and the bytes of those attempts are wasted."""
    c = s["commits"]
    accepted = s["groups"]["x"]["epoch"]
    assert c["sent"] == k["commit_sent"] == accepted + k["commit_rejected"] + k["commit_dropped"]
    assert c["accepted"] == accepted and c["gave_up"] == k["commit_gave_up"]
    assert c["retries_per_accepted"] == round(
        (k["commit_sent"] - accepted - k["commit_gave_up"]) / accepted, 4
    )
    assert c["retries_per_accepted"] > 0
    assert c["collisions_per_1000_attempts"] == round(1000.0 * c["rejected"] / k["commit_sent"], 3)
    wasted = [
        e["wasted_bytes"] for kind in ("commit_rejected", "commit_dropped") for e in w.recorder.of_kind(kind)
    ]
    assert c["wasted_bytes"] == sum(wasted) and min(wasted) > 0


@pytest.mark.parametrize("ordering", ["single", "hub"])
def test_ordered_designs_never_fork(ordering: str) -> None:
    w, s, k = run(concurrent(ordering))
    # there was concurrency: the orderer rejected attempts, each counted once (none dropped)
    assert s["commits"]["rejected"] == k["commit_rejected"] > 0 and k["commit_dropped"] == 0
    assert_commit_accounting(w, s, k)
    forks = {k: v for k, v in s["forks"].items() if k != "resolution_s"}
    assert forks == {"epochs": 0, "switches": 0, "dropped_commits": 0, "unresolved": 0}
    assert s["forks"]["resolution_s"]["n"] == 0
    # every epoch has one authenticator across all members that reached it
    assert all(len(auths) == 1 for auths in w.authenticators.values())
    assert s["all_converged"]
    # late messages are counted with their reason (here: keys of old epochs deleted), never forks
    reasons = Counter(e["reason"] for e in w.recorder.of_kind("app_undecryptable"))
    assert set(reasons) <= {"epoch_keys_deleted"}, reasons


@pytest.mark.parametrize("ordering", ["decentralised", "client-fanout"])
@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_leaderless_designs_fork_and_reconverge(ordering: str, seed: int) -> None:
    w, s, k = run(concurrent(ordering, seed))
    forks = s["forks"]
    # forks happened: each epoch someone saw forked counted once, each switch once
    noticed = {
        (e["group"], e["epoch"])
        for kind in ("fork_detected", "fork_switch")
        for e in w.recorder.of_kind(kind)
    }
    assert forks["epochs"] == len(noticed) > 0 and forks["switches"] == k["fork_switch"] > 0
    assert any(len(auths) > 1 for auths in w.authenticators.values())
    assert forks["unresolved"] == 0 and forks["resolution_s"]["n"] == forks["epochs"]
    # each forked epoch resolved from the first member noticing it to the last switch
    first: dict[tuple[str, int], float] = {}
    last: dict[tuple[str, int], float] = {}
    for kind in ("fork_detected", "fork_switch"):
        for e in w.recorder.of_kind(kind):
            key = (e["group"], e["epoch"])
            first[key] = min(first.get(key, e["t"]), e["t"])
            if kind == "fork_switch":
                last[key] = max(last.get(key, e["t"]), e["t"])
    assert last.keys() == first.keys()  # every noticed fork was switched away from
    assert forks["resolution_s"] == _percentiles([last[k] - first[k] for k in first])
    assert forks["resolution_s"]["p99"] > 0
    assert s["commits"]["rejected"] == forks["dropped_commits"] == k["commit_dropped"] > 0
    assert k["commit_rejected"] == 0  # no orderer
    assert_commit_accounting(w, s, k)
    assert s["all_converged"], s["groups"]  # ...and the rule resolved every one of them
    assert s["groups"]["x"]["orphaned"] == 0
    assert s["ds_storage_bytes_mean"] == 0.0  # no DS keeps the group's state
    assert k["process_error"] == 0 and k["join_failed"] == 0
    # each dropped commit was redone (or given up, counted)
    assert s["commits"]["accepted"] + s["commits"]["rejected"] == s["commits"]["sent"]
    reasons = Counter(e["reason"] for e in w.recorder.of_kind("app_undecryptable"))
    assert set(reasons) <= KNOWN_REASONS, reasons


def test_lowest_hash_wins_every_forked_epoch() -> None:
    """In the final chain, each epoch's commit is the lowest-hash commit any member built on the
    chain's previous state; and all members keep the same chain."""
    w, s, _ = run(concurrent("decentralised", 6))
    assert s["all_converged"]
    chains = []
    for c in w.clients.values():
        st = c.forks.get("x")
        if "x" in c.groups and st is not None:
            chains.append({a.epoch: (a.before.epoch_authenticator.hex(), a.digest.hex()) for a in st.applied})
    # one chain: wherever two members kept the same epoch, they kept the same commit
    for a in chains:
        for b in chains:
            for e in a.keys() & b.keys():
                assert a[e] == b[e]
    chain = {e: v for c in chains for e, v in c.items()}
    built_on: dict[str, list[str]] = {}
    for e in w.recorder.of_kind("commit_merged"):
        built_on.setdefault(e["parent"], []).append(e["digest"])
    contested = 0
    for parent, winner in chain.values():
        competitors = built_on.get(parent, [])
        assert winner == min(competitors, default=winner)
        contested += len(set(competitors)) > 1
    assert contested > 0, "no contested epoch in the kept chain"


@pytest.mark.parametrize(
    ("topology", "copies"),
    [("server", "one"), ("client-per-provider", "providers"), ("client-per-member", "members")],
)
def test_leaderless_topologies_upload_one_copy_per_provider_or_member(topology: str, copies: str) -> None:
    s = concurrent("decentralised", topology=topology).model_dump()
    s["groups"][0]["workload"] = {"app_rate": 0.1}
    w, summary, _ = run(Scenario.model_validate(s))
    sent = list(w.recorder.of_kind("app_sent"))
    uploads = summary["bytes_by_type_and_role"]["application"]["upload"]["count"]
    providers = {c.provider for c in w.clients.values()}
    members = len(w.clients)
    expected = {
        "one": len(sent),
        "providers": len(sent) * len(providers),
        "members": len(sent) * (members - 1),
    }
    if copies == "providers":
        assert len(sent) < uploads <= expected["providers"]
    else:
        assert uploads == expected[copies]
    assert summary["application"]["undecryptable"] == 0


def test_client_fanout_and_ordered_topologies_are_checked() -> None:
    with pytest.raises(ValueError, match="needs server fan-out"):
        concurrent("hub", topology="client-per-member")
    with pytest.raises(ValueError, match="client sends the copies"):
        concurrent("client-fanout", topology="server")


def test_group_copy_is_an_independent_checkpoint() -> None:
    h = Harness(get_suite(1, "model"))
    h.create("alice")
    h.add("alice", "bob", "carol")
    bob = h.members["bob"]
    keep = bob.copy()
    epoch, auth = bob.epoch, bob.epoch_authenticator
    staged = h.members["alice"].commit(h.rand)
    h.deliver(staged, "alice")
    assert bob.epoch == epoch + 1 and keep.epoch == epoch and keep.epoch_authenticator == auth
    # the checkpoint processes the same commit again and reaches the same state
    keep.process(staged.message)
    assert (keep.epoch, keep.epoch_authenticator) == (bob.epoch, bob.epoch_authenticator)


# ---- commit policies ---------------------------------------------------------------------------


def proposals(**policy: Any) -> Scenario:
    s = concurrent("hub").model_dump()
    s["groups"][0]["workload"] = {"update_rate": 0.05, "update_mode": "propose", "app_rate": 0.02}
    s["commit_policy"] = policy
    s["churn"] = {"enabled": True, "mean_online": 30, "mean_offline": 10}
    return Scenario.model_validate(s)


def proposals_per_commit(w: World) -> float:
    commits = sum(1 for e in w.recorder.of_kind("commit_merged") if e["op"] == "proposals")
    committed = sum(1 for _ in w.recorder.of_kind("proposal_committed"))
    return committed / commits


def test_lazy_commits_batch_proposals() -> None:
    eager, s_eager, _ = run(proposals())
    lazy, s_lazy, _ = run(proposals(lazy_timer=3.0, lazy_batch=4))
    for s in (s_eager, s_lazy):
        assert s["all_converged"]
    assert proposals_per_commit(lazy) > 1.3 * proposals_per_commit(eager)
    assert s_lazy["commits"]["sent"] < s_eager["commits"]["sent"]


def test_lowest_online_leaf_commits_sooner_under_churn() -> None:
    """With churn, the lowest leaf is often offline; choosing among online members commits sooner."""

    def delay(w: World) -> float:
        sent = {}
        waits = []
        for e in w.recorder.events:
            if e["kind"] == "proposal_sent":
                sent[e["client"]] = e["t"]
            elif e["kind"] == "proposal_committed" and e["client"] in sent:
                waits.append(e["t"] - sent.pop(e["client"]))
        return sum(waits) / len(waits)

    fixed, s_fixed, _ = run(proposals())
    online, s_online, _ = run(proposals(committer="lowest-online-leaf"))
    assert s_fixed["all_converged"] and s_online["all_converged"]
    assert delay(online) < delay(fixed)


# ---- ACK/NACK and re-sync ----------------------------------------------------------------------


def scripted_absence(resync: str, ordering: str = "hub") -> Scenario:
    """Member 3 is offline from t=30 to t=120, past its provider's 20 s mailbox retention."""
    return Scenario.model_validate(
        {
            "name": "resync",
            "seed": 2,
            "duration": 200,
            "drain": 60,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "a", "mailbox_retention": 20}, {"name": "b", "mailbox_retention": 20}],
            "federation": {"ordering": ordering, "acks": True, "resync": resync},
            "groups": [{"name": "g", "size": 8, "workload": {"app_rate": 0.05, "update_rate": 0.02}}],
            "script": [
                {"at": 30, "action": "offline", "group": "g", "member": 3},
                {"at": 120, "action": "online", "group": "g", "member": 3},
            ],
        }
    )


@pytest.mark.parametrize("resync", ["external-commit", "readd"])
def test_a_member_that_misses_commits_resyncs_into_the_current_epoch(resync: str) -> None:
    w, s, _k = run(scripted_absence(resync))
    absent = w.initial_members[("g", 0)][3]
    expired = [e for e in w.recorder.of_kind("mailbox_expired") if e["client"] == absent.name]
    assert any(e["msg_type"] == "commit" for e in expired)  # the scripted loss happened
    assert s["resyncs"]["started"] == s["resyncs"]["done"] == 1
    (done,) = w.recorder.of_kind("resync_done")
    assert done["client"] == absent.name and 0 < done["duration"] < 5
    # what it cost, from the transmission record: the re-sync's own messages (NACK, re-add
    # request, GroupInfo and tree downloads, the re-sync commit's upload with its Welcome, every
    # hop) plus the DSes' fan-out of the re-sync commit (and Welcome), sent from its acceptance
    # until the member is back; no other commit is accepted in that window
    op = "resync" if resync == "external-commit" else "readd"
    own = (
        {"nack", "resync:group_info", "resync:ratchet_tree", "commit:resync"}
        if op == "resync"
        else {"nack", "resync_request", "commit:readd"}
    )
    wire = [t for t in w.recorder.transmissions if t.msg_type in own]
    assert {t.msg_type for t in wire} == own
    (accepted,) = (e for e in w.recorder.of_kind("commit_fanout") if e["op"] == op)
    fanned = [
        t
        for t in w.recorder.transmissions
        if t.sender.startswith("ds:")
        and t.msg_type in ("commit", "welcome")
        and accepted["t"] - 1e-6 <= t.send_time <= done["t"] + 1e-6
    ]
    assert sum(t.bytes for t in fanned) == accepted["bytes"]
    assert s["resyncs"]["bytes"] == sum(t.bytes for t in wire) + sum(t.bytes for t in fanned)
    # back in the current epoch with everyone else, and still a member
    assert s["all_converged"]
    assert absent.name in w.ds_of("g").groups["g"].members
    assert absent.groups["g"].epoch == s["groups"]["g"]["epoch"]
    lost_apps = [e for e in w.recorder.of_kind("mailbox_expired") if e["msg_type"] == "application"]
    assert s["application"]["expired_in_mailbox"] == len(lost_apps) > 0
    assert any(e["op"] == op for e in w.recorder.of_kind("commit_merged"))


def test_without_resync_the_member_stays_behind() -> None:
    _w, s, k = run(scripted_absence("none"))
    assert s["resyncs"]["started"] == 0 and k["process_error"] > 0
    assert not s["all_converged"]


def test_acks_cost_one_control_message_per_epoch_reached() -> None:
    w, s, _ = run(scripted_absence("external-commit"))
    acks = s["bytes_by_type_and_role"]["ack"]["upload"]
    reached_online = sum(1 for e in w.recorder.of_kind("epoch"))
    assert 0 < acks["count"] <= reached_online


def assert_no_silent_loss(w: World) -> None:
    """Every application message copy a sender addressed is accounted for exactly once."""
    s = w.summary()["application"]
    addressed = sum(e["receivers"] for e in w.recorder.of_kind("app_fanout"))
    outcomes = (
        s["received"] + s["undecryptable"] + s["predates_join"] + s["not_member"] + s["expired_in_mailbox"]
    )
    assert addressed == outcomes > 0, (addressed, s)


@pytest.mark.parametrize(
    "make",
    [
        lambda: concurrent("hub"),
        lambda: concurrent("decentralised", 5),
        lambda: concurrent("client-fanout", 6),
        lambda: scripted_absence("external-commit"),
        lambda: scripted_absence("readd"),
        lambda: proposals(lazy_timer=2.0, lazy_batch=3),
    ],
    ids=["hub", "decentralised", "client-fanout", "resync-external", "resync-readd", "lazy-proposals"],
)
def test_no_application_message_is_lost_silently(make: Any) -> None:
    w, _, _ = run(make())
    assert_no_silent_loss(w)
