"""Compromise and healing in the simulator, against ground truth the RFC fixes: a compromised
member that never commits and stays in the group keeps every later epoch exposed; its own path
commit heals the group at that epoch; its removal heals at the removal epoch; its commit with
known randomness does not heal, unless entropy mixing is on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlssim.scenario.loader import ScenarioError, load_scenario
from mlssim.sim.world import World

VICTIM = 3


def scenario(
    tmp_path: Path,
    compromise: dict[str, Any],
    *,
    mixing: bool = False,
    more: list[dict[str, Any]] | None = None,
    workload: dict[str, Any] | None = None,
    **extra: Any,
) -> World:
    doc: dict[str, Any] = {
        "name": "healing",
        "seed": 21,
        "duration": 150,
        "drain": 20,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "alpha"}, {"name": "beta"}],
        "groups": [
            {
                "name": "g",
                "size": 10,
                "workload": {"app_rate": 0.02, "update_group_rate": 0.1, **(workload or {})},
            },
        ],
        "adversary": {
            "entropy_mixing": mixing,
            "compromises": [{"at": 40, "group": "g", "member": VICTIM, **compromise}, *(more or [])],
        },
        **extra,
    }
    p = tmp_path / "healing.yaml"
    p.write_text(yaml.safe_dump(doc))
    w = World(load_scenario(p))
    w.run()
    return w


def exposures(w: World) -> dict[int, dict[str, Any]]:
    return {e["epoch"]: e for e in w.recorder.of_kind("epoch_exposure")}


def victim_commits(w: World) -> list[int]:
    victim = w.initial_members[("g", 0)][VICTIM].name
    return [e["epoch"] for e in w.recorder.of_kind("commit_accepted") if e["client"] == victim]


def test_a_silent_member_never_heals(tmp_path: Path) -> None:
    # the victim goes offline (and stays) right after the compromise: it never commits
    w = scenario(
        tmp_path,
        {"kind": "member"},
        script=[{"at": 40.5, "action": "offline", "group": "g", "member": VICTIM}],
    )
    case = w.summary()["healing"]["cases"][0]
    assert case["happened"] and case["healed_epoch"] is None and case["time_s"] is None
    later = {e: v for e, v in exposures(w).items() if e > case["epoch"]}
    assert len(later) >= 5, "other members kept committing"
    assert all(v["exposed"] for v in later.values())
    assert victim_commits(w) == [] or min(victim_commits(w)) <= case["epoch"]


def test_the_victims_own_path_commit_heals(tmp_path: Path) -> None:
    w = scenario(tmp_path, {"kind": "member", "victim_update_after": 30})
    h = w.summary()["healing"]
    case = h["cases"][0]
    mine = [e for e in victim_commits(w) if e > case["epoch"]]
    assert mine, "the policy made the victim commit"
    assert case["healed_epoch"] == mine[0]
    assert 30 <= case["time_s"] < 40
    assert case["epochs"] == mine[0] - case["epoch"]
    # what healing cost: the group's non-application transmissions from the compromise to the
    # acceptance of the healing commit (its fan-out, sent at that instant, included)
    healed_at = case["at"] + case["time_s"]
    spent = [
        t.bytes
        for t in w.recorder.transmissions
        if t.group == "g"
        and t.msg_type != "application"
        and case["at"] - 1e-6 <= t.send_time <= healed_at + 1e-6
    ]
    assert case["bytes"] == h["bytes_mean"] == sum(spent) > 0
    ex = exposures(w)
    assert all(ex[e]["exposed"] for e in range(case["epoch"] + 1, mine[0]))
    assert not any(v["exposed"] for e, v in ex.items() if e >= mine[0])
    assert h["healed"] == 1 and h["unhealed"] == 0


def test_removal_heals_at_the_removal_epoch(tmp_path: Path) -> None:
    w = scenario(
        tmp_path,
        {"kind": "member", "remove_after": 20},
        script=[{"at": 40.5, "action": "offline", "group": "g", "member": VICTIM}],
    )
    case = w.summary()["healing"]["cases"][0]
    policy = next(e for e in w.recorder.of_kind("policy") if e["action"] == "remove")
    assert policy["t"] >= 60
    removal = next(
        e
        for e in w.recorder.of_kind("commit_sent")
        if e["op"] == "remove" and e["client"] == policy["client"]
    )
    accepted = next(
        e["epoch"]
        for e in w.recorder.of_kind("commit_accepted")
        if e["client"] == removal["client"] and e["t"] >= removal["t"]
    )
    assert case["healed_epoch"] == accepted
    assert 20 <= case["time_s"] < 30
    ex = exposures(w)
    assert all(ex[e]["exposed"] for e in range(case["epoch"] + 1, accepted))


@pytest.mark.parametrize("mixing", [False, True])
def test_known_randomness_in_the_victims_commit(tmp_path: Path, mixing: bool) -> None:
    """State copied at 40 s, the device's draws known from 40 s to 100 s, and the victim's own
    update at 50 s: its path secrets come from known draws, so it does not heal — unless the
    device mixes a secret the compromise did not copy into its draws."""
    w = scenario(
        tmp_path,
        {"kind": "member", "victim_update_after": 10},
        mixing=mixing,
        more=[{"at": 40, "group": "g", "member": VICTIM, "kind": "randomness", "duration": 60}],
    )
    case = w.summary()["healing"]["cases"][0]
    mine = [e for e in victim_commits(w) if e > case["epoch"]]
    assert mine
    ex = exposures(w)
    if mixing:
        assert not ex[mine[0]]["exposed"] and case["healed_epoch"] == mine[0]
    else:
        assert ex[mine[0]]["exposed"] and ex[mine[0]]["how"] == "randomness"
        assert case["healed_epoch"] is None or case["healed_epoch"] > mine[0]


def test_healing_is_deterministic(tmp_path: Path) -> None:
    a = scenario(tmp_path, {"kind": "member", "victim_update_after": 30}).summary()
    b = scenario(tmp_path, {"kind": "member", "victim_update_after": 30}).summary()
    assert a == b


def test_compromise_keys_are_checked(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "duration": 10,
                "providers": [{"name": "alpha"}],
                "groups": [{"name": "g", "size": 4}],
                "adversary": {"compromises": [{"at": 1, "kind": "randomness", "group": "g", "member": 2}]},
            }
        )
    )
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert "adversary.compromises[0].duration" in str(exc.value)


@pytest.mark.parametrize("fanout", ["plain", "pre-join-store"])
def test_a_compromised_ds_under_pre_defeats_the_victims_update(tmp_path: Path, fanout: str) -> None:
    """A DS compromise adds nothing under plain fan-out (the network view is assumed anyway), so the
    victim's own update heals. Under pre the DS holds every node key PRE-encrypted to epoch keys the
    adversary derives from the exposed epochs: it opens them, decrypts the victim's new path secret
    from its copath, and the update does not heal."""
    w = scenario(
        tmp_path,
        {"kind": "member", "victim_update_after": 20},
        more=[{"at": 30, "group": "g", "kind": "ds"}],
        federation={"fanout": fanout},
    )
    case = w.summary()["healing"]["cases"][0]
    mine = [e for e in victim_commits(w) if e > case["epoch"]]
    assert mine
    ex = exposures(w)
    if fanout == "plain":
        assert case["healed_epoch"] == mine[0] and not ex[mine[0]]["exposed"]
        assert not list(w.recorder.of_kind("ds_store_opened"))
    else:
        assert ex[mine[0]]["exposed"] and ex[mine[0]]["how"] == "path"
        assert sum(e["node_keys"] for e in w.recorder.of_kind("ds_store_opened")) > 0
        assert case["healed_epoch"] is None or case["healed_epoch"] > mine[0]


def test_an_as_insider_is_exposure_mls_cannot_detect(tmp_path: Path) -> None:
    w = scenario(tmp_path, {"kind": "as", "member": 2, "remove_after": 40})
    s = w.summary()
    case = s["healing"]["cases"][0]
    assert case["kind"] == "as" and case["detectable_by_mls"] is False
    insider = next(e for e in w.recorder.of_kind("joined") if "insider" in e["client"])
    ex = exposures(w)
    removal = case["healed_epoch"]
    assert removal is not None and 40 <= case["time_s"] < 50
    # from the epoch after its join (its join epoch was judged before it joined) to the removal
    assert all(ex[e]["exposed"] for e in range(insider["epoch"] + 1, removal))
    assert not ex[removal]["exposed"]
    assert s["joins"]["failed"] == 0 and s["all_converged"]


def test_a_lazy_update_heals_only_with_the_commit_that_pays_its_path(tmp_path: Path) -> None:
    """The victim sends only a new leaf key (an Update proposal, update_mode: propose) 30 s after
    the compromise; the designated committer commits it lazily, 15 s later. Until that commit the
    group stays exposed; the commit carrying the Update (with the committer's path, §12.4: an
    Update needs one) heals it. The 2019 variant with no path at all is not RFC 9420 and is not
    modelled: without a path a commit would keep the old epoch's init_secret chain exposed."""
    doc_extra = {"commit_policy": {"lazy_timer": 15.0, "lazy_batch": 100}}
    w = scenario(
        tmp_path,
        {"kind": "member", "victim_update_after": 30},
        workload={"update_mode": "propose", "update_group_rate": 0.02},
        **doc_extra,
    )
    case = w.summary()["healing"]["cases"][0]
    victim = w.initial_members[("g", 0)][VICTIM].name
    proposal = next(e for e in w.recorder.of_kind("proposal_sent") if e["client"] == victim and e["t"] >= 70)
    ex = exposures(w)
    after = [e for e in w.recorder.of_kind("commit_accepted") if e["t"] > proposal["t"]]
    assert case["healed_epoch"] is not None
    heal_t = w.compromises.accepted_at[("g", case["healed_epoch"])]  # type: ignore[union-attr]
    assert heal_t > proposal["t"]
    assert all(ex[e]["exposed"] for e in range(case["epoch"] + 1, case["healed_epoch"]))
    assert after and case["healed_epoch"] >= after[0]["epoch"]


def test_update_after_k_messages_heals_at_the_victims_kth_message(tmp_path: Path) -> None:
    w = scenario(
        tmp_path,
        {"kind": "member"},
        workload={"app_rate": 0.1, "update_group_rate": 0.0, "update_after_messages": 3},
    )
    case = w.summary()["healing"]["cases"][0]
    victim = w.initial_members[("g", 0)][VICTIM].name
    policy = [
        e
        for e in w.recorder.of_kind("policy")
        if e["action"] == "update_after_messages" and e["client"] == victim and e["t"] >= 40
    ]
    assert policy, "the victim sent 3 messages after the compromise and updated"
    mine = [e for e in victim_commits(w) if e > case["epoch"]]
    assert case["healed_epoch"] == mine[0]
    # every member's updates come from the policy alone here
    triggers = [(e["client"], e["t"]) for e in w.recorder.of_kind("policy")]
    for e in w.recorder.of_kind("commit_sent"):
        if e["op"] == "update":
            assert any(c == e["client"] and t <= e["t"] for c, t in triggers)


def test_app_exposed_counts_each_message_once(tmp_path: Path) -> None:
    """Two compromise entries copying the same member at the same instant expose exactly the
    messages one of them does: the summary counts a message once, not once per case."""
    twin = {"at": 40, "group": "g", "member": VICTIM, "kind": "member"}
    w = scenario(tmp_path, {"kind": "member"}, more=[twin])
    h = w.summary()["healing"]
    one, two = h["cases"]
    assert one["app_exposed"] == two["app_exposed"] > 0
    assert one["app_exposed_before"] == two["app_exposed_before"]
    assert h["app_exposed"] == one["app_exposed"]
    assert h["app_exposed_before"] == one["app_exposed_before"]
    # the same count by hand from the events: messages of g sent from 40 s on in an epoch
    # the adversary reads
    adv = w.compromises.adversary  # type: ignore[union-attr]
    sent = [e for e in w.recorder.of_kind("app_sent") if e["group"] == "g"]
    assert h["app_exposed"] == sum(1 for e in sent if e["t"] >= 40 and adv.can_read(b"g", e["epoch"]))


def test_a_later_compromise_adds_only_messages_not_already_exposed(tmp_path: Path) -> None:
    """A second member copied at 60 s: every message it exposes after 60 s is already counted
    from the first one at 40 s, so the totals are the first case's."""
    later = {"at": 60, "group": "g", "member": VICTIM + 1, "kind": "member"}
    w = scenario(tmp_path, {"kind": "member"}, more=[later])
    h = w.summary()["healing"]
    first, second = h["cases"]
    # each case's count by hand: messages of g sent from its compromise on in an epoch the
    # adversary reads
    adv = w.compromises.adversary  # type: ignore[union-attr]
    sent = [e for e in w.recorder.of_kind("app_sent") if e["group"] == "g"]
    for case, at in ((first, 40), (second, 60)):
        assert case["at"] == at
        assert case["app_exposed"] == sum(1 for e in sent if e["t"] >= at and adv.can_read(b"g", e["epoch"]))
    assert second["app_exposed"] > 0
    assert h["app_exposed"] == first["app_exposed"] < first["app_exposed"] + second["app_exposed"]
    assert h["app_exposed_before"] == first["app_exposed_before"]


def test_randomness_epochs_count_from_the_first_epoch_its_draws_exposed(tmp_path: Path) -> None:
    """docs/metrics.md: for a randomness compromise, ``epochs`` counts from the first epoch the
    victim's known draws exposed, not from the victim's epoch at the compromise. The victim's
    state is copied at 40 s (exposing every later epoch) and its draws are known until 100 s:
    its update at 70 s is exposed by its draws (epoch m), its update at 110 s heals (epoch h).
    The randomness case counts h − m; the member case counts from its compromised epoch."""
    w = scenario(
        tmp_path,
        {"kind": "member", "victim_update_after": 30},
        more=[
            {
                "at": 40,
                "group": "g",
                "member": VICTIM,
                "kind": "randomness",
                "duration": 60,
                "victim_update_after": 70,
            }
        ],
    )
    member, randomness = w.summary()["healing"]["cases"]
    ex = exposures(w)
    mine = [e for e in victim_commits(w) if e > member["epoch"]]
    m, h = mine[0], mine[-1]
    assert len(mine) == 2 and ex[m]["how"] == "randomness" and not ex[h]["exposed"]
    assert m > member["epoch"] + 1, "other members committed in between"
    assert all(ex[e]["exposed"] for e in range(member["epoch"] + 1, h))
    assert member["healed_epoch"] == randomness["healed_epoch"] == h
    assert member["epochs"] == h - member["epoch"]
    assert randomness["epochs"] == h - m


@pytest.mark.parametrize(
    "compromise",
    [
        {"kind": "member", "victim_update_after": 30},
        {"kind": "member", "victim_update_after": 10, "mixing": "randomness"},
    ],
)
def test_split_commits_expose_and_heal_as_plain_ones(tmp_path: Path, compromise: dict[str, Any]) -> None:
    """The same run under ``fanout: split`` (draft-mularczyk-mls-splitcommit): the commits draw the
    same secrets, so the adversary — opening the SCommit's ciphertexts with the context of the
    draft's choice S2, confirming candidates with the locally computed tag of S4 — follows and
    loses the group at exactly the epochs it does under ``plain``."""
    spec = dict(compromise)
    more = []
    if spec.pop("mixing", None):
        more = [{"at": 40, "group": "g", "member": VICTIM, "kind": "randomness", "duration": 60}]
    runs = {
        fanout: scenario(tmp_path, spec, more=more, federation={"fanout": fanout})
        for fanout in ("plain", "split")
    }
    plain, split = (runs[f] for f in ("plain", "split"))
    assert len(list(split.recorder.of_kind("ds_split"))) > 10
    seen = {f: {e: (x["exposed"], x["how"]) for e, x in exposures(w).items()} for f, w in runs.items()}
    assert seen["split"] == seen["plain"]
    assert any(exposed for exposed, _ in seen["plain"].values())
    assert any(not exposed for exposed, _ in seen["plain"].values())

    # everything but the bytes spent until healing (split commits are smaller: the point of them)
    def timing(h: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in h.items() if "bytes" not in k and k != "cases"}
        out["cases"] = [{k: v for k, v in c.items() if "bytes" not in k} for c in h["cases"]]
        return out

    hp, hs = plain.summary()["healing"], split.summary()["healing"]
    assert timing(hs) == timing(hp)
    if compromise.get("mixing"):  # known draws in the victim's own commit: it never heals
        assert hs["bytes_mean"] is None and hp["bytes_mean"] is None
    else:
        assert hs["bytes_mean"] < hp["bytes_mean"]
