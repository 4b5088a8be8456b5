"""A misbehaving DS (issue 20, increment b): each misbehaviour inside a running simulation, what
members detect by RFC 9420's rules and by the epoch authenticator check (docs/misbehaving-ds.md),
determinism, and the configuration errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlssim.scenario.schema import Scenario
from mlssim.sim.world import World

TARGETS = [1, 2]


def scenario(kind: str, *, check: dict[str, Any] | None = None, seed: int = 3, **ev: Any) -> Scenario:
    event: dict[str, Any] = {"kind": kind, "provider": "alpha", "at": 50, "duration": 60, **ev}
    if "share" not in ev:
        event.setdefault("members", TARGETS)
    mis: dict[str, Any] = {"events": [event]}
    if check is not None:
        mis["check"] = check
    return Scenario.model_validate(
        {
            "name": "mb",
            "seed": seed,
            "duration": 200,
            "drain": 60,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "alpha"}, {"name": "beta"}, {"name": "gamma"}],
            "federation": {"ordering": "hub"},
            "groups": [
                {
                    "name": "team",
                    "size": 9,
                    "providers": {"alpha": 1, "beta": 1, "gamma": 1},
                    "owner": "alpha",
                    "workload": {"app_rate": 0.05, "update_rate": 0.02},
                }
            ],
            "ds_misbehaviour": mis,
        }
    )


def run(s: Scenario) -> tuple[World, dict[str, Any]]:
    w = World(s)
    w.run()
    return w, w.summary()


def detected(w: World, rule: str) -> list[dict[str, Any]]:
    return [e for e in w.recorder.of_kind("ds_detected") if e["rule"] == rule]


def targets(w: World) -> set[str]:
    return set(next(iter(w.recorder.of_kind("ds_misbehaviour_start")))["targets"])


def test_replayed_commits_are_rejected_for_their_old_epoch_and_change_nothing() -> None:
    w, s = run(scenario("replay", replay_after=5))
    old = detected(w, "commit_old_epoch")
    assert old and all(e["section"] == "12.4.2" for e in old)
    assert {e["client"] for e in old} <= targets(w)
    # the member drops it: no re-sync (its state is unchanged), and the group converges
    assert s["resyncs"]["started"] == 0
    assert s["all_converged"]
    assert s["ds_misbehaviour"]["detection"]["mls"]["detected"] == 1


def test_replayed_application_messages_hit_a_deleted_key() -> None:
    w, s = run(scenario("replay", replay_after=5, msg_types=["application"]))
    hits = detected(w, "app_key_deleted")
    assert hits and all(e["section"] == "9.2" for e in hits)
    replayed = s["ds_misbehaviour"]["acted"]["replay"]
    # every replayed copy is rejected (by §9.2, or its epoch's keys are gone)
    assert len(hits) + s["ds_misbehaviour"]["by_rule"].get("app_epoch_deleted", 0) >= replayed
    assert s["application"]["received"] > 0


def test_a_dropped_commit_leaves_the_target_behind_until_it_sees_a_later_epoch() -> None:
    w, s = run(scenario("drop", msg_types=["commit"]))
    ahead = detected(w, "commit_future_epoch")
    assert ahead and {e["client"] for e in ahead} <= targets(w)
    assert s["resyncs"]["started"] >= 1 and s["all_converged"]


def test_dropped_application_messages_are_not_detected() -> None:
    _, s = run(scenario("drop", msg_types=["application"]))
    mb = s["ds_misbehaviour"]
    assert mb["acted"]["drop"] > 0
    assert mb["detection"]["mls"]["detected"] == 0  # §16.9: MLS leaves loss detection to the app


def test_delayed_application_messages_are_not_detected() -> None:
    _, s = run(scenario("delay", extra_delay=5, msg_types=["application"]))
    assert s["ds_misbehaviour"]["acted"]["delay"] > 0
    assert s["ds_misbehaviour"]["detection"]["mls"]["detected"] == 0


def test_reordered_commits_are_rejected_by_epoch() -> None:
    w, s = run(scenario("reorder", spread=20, msg_types=["commit"], seed=5))
    rules = s["ds_misbehaviour"]["by_rule"]
    assert rules.get("commit_future_epoch", 0) + rules.get("commit_old_epoch", 0) > 0
    assert all(e["section"] == "12.4.2" for e in w.recorder.of_kind("ds_detected") if "commit" in e["rule"])


def test_withholding_is_seen_only_by_the_check() -> None:
    kw: dict[str, Any] = {"share": 0.5, "duration": 120}
    _, plain = run(scenario("withhold", **kw))
    _, checked = run(scenario("withhold", check={"share": 1.0, "lag_tolerance": 10}, **kw))
    assert plain["ds_misbehaviour"]["detection"]["mls"]["detected"] == 0
    assert plain["ds_misbehaviour"]["detection"]["check"]["detected"] == 0
    assert checked["ds_misbehaviour"]["by_rule"].get("check_lag", 0) > 0
    assert checked["ds_misbehaviour"]["detection"]["check"]["detected"] == 1
    # released at the window's end: everyone catches up
    assert plain["all_converged"] and plain["ds_misbehaviour"]["never_delivered"] == 0


def test_withholding_forever_never_delivers() -> None:
    _, s = run(scenario("withhold", release=False, msg_types=["application"]))
    assert s["ds_misbehaviour"]["never_delivered"] == s["ds_misbehaviour"]["acted"]["withhold"] > 0


def test_an_equivocating_ds_is_detected_by_the_check_within_one_check_period() -> None:
    w, s = run(scenario("equivocate", share=0.5, duration=140, check={"share": 1.0}))
    mb = s["ds_misbehaviour"]
    assert mb["equivocations"] == 1
    split = next(iter(w.recorder.of_kind("ds_equivocated")))
    # two states for the split epoch
    epoch = split["epoch"]
    auths = {a for (g, e, a) in w.reached if g == "team" and e == epoch}
    assert len(auths) == 2
    # the first application message across the split after it is flagged: the first checked
    # message of the targets' side that any other member received
    sent = [
        e["t"]
        for e in w.recorder.of_kind("app_sent")
        if e["t"] >= split["t"] and e["client"] in targets(w) and e["epoch"] == epoch
    ]
    assert sent
    first = detected(w, "check_split_view")[0]
    assert first["t"] - sent[0] < 2.0  # delivery latency, not another message
    assert mb["detection"]["check"]["first_s"] == pytest.approx(first["t"] - split["t"], abs=1e-5)
    # without the check, MLS alone rejects the other side's messages only as lag signs
    _, plain = run(scenario("equivocate", share=0.5, duration=140))
    assert plain["ds_misbehaviour"]["equivocations"] == 1
    assert plain["ds_misbehaviour"]["detection"]["check"]["detected"] == 0


def test_same_seed_same_summary() -> None:
    a = run(scenario("equivocate", share=0.5, check={"share": 0.5}))[1]
    b = run(scenario("equivocate", share=0.5, check={"share": 0.5}))[1]
    assert a == b
    assert a["ds_misbehaviour"]["check_bytes"] == 32 * a["ds_misbehaviour"]["check_messages"] > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"provider": "delta"}, "ds_misbehaviour.events[0].provider: unknown provider 'delta'"),
        ({"group": "nope"}, "ds_misbehaviour.events[0].group: no groups entry named 'nope'"),
        ({"members": [42]}, "ds_misbehaviour.events[0].members: team has 9 initial members"),
        ({"duration": 500}, "ds_misbehaviour.events[0].duration: the window ends after the duration"),
    ],
)
def test_cross_section_errors_name_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("[", r"\[")):
        scenario("drop", **change)


def test_shape_errors() -> None:
    with pytest.raises(ValidationError, match="a delay window needs extra_delay > 0"):
        scenario("delay")
    with pytest.raises(ValidationError, match="spread belongs to reorder windows"):
        scenario("drop", spread=3)
    with pytest.raises(ValidationError, match="needs members or a share < 1"):
        scenario("equivocate", share=1.0)
    with pytest.raises(ValidationError, match="equivocate needs a DS that orders"):
        Scenario.model_validate(
            {**scenario("equivocate", share=0.5).model_dump(), "federation": {"ordering": "decentralised"}}
        )
