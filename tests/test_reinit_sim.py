"""Re-initialisation driven inside a run (RFC 9420 §11.2; ``groups[].reinit``, issue 20 item 5):
a ReInit to a post-quantum suite completes with every online member in the new group, offline
members join when they return, expired Welcomes are counted, bad specs are refused by their key,
and the run is the same under any hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import MLSError
from mlssim.mls.group import Group, MemberIdentity
from mlssim.mls.leaf_nodes import default_capabilities
from mlssim.mls.messages import Welcome
from mlssim.mls.messages.proposals import ReInit
from mlssim.scenario import ScenarioError, parse_scenario
from mlssim.scenario.schema import Scenario
from mlssim.sim.world import World

from .group_harness import fresh_key_package, make_client, roundtrip
from .test_metrics_doc import _covered, key_paths

ROOT = Path(__file__).resolve().parents[1]
PQ = 0xF001


def scenario(group: dict[str, Any] | None = None, **top: Any) -> Scenario:
    """Twelve members over two providers on model suite 1, traffic, a ReInit to 0xF001 at 20 s."""
    g: dict[str, Any] = {
        "name": "g",
        "size": 12,
        "workload": {"app_rate": 0.2, "update_rate": 0.01},
        "reinit": {"at": 20, "suite": PQ},
    }
    g.update(group or {})
    base: dict[str, Any] = {
        "name": "reinit-test",
        "seed": 3,
        "duration": 60,
        "drain": 30,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [
            {"name": "alpha", "mailbox_retention": 3600},
            {"name": "beta", "mailbox_retention": 3600},
        ],
        "groups": [g],
    }
    base.update(top)
    return Scenario.model_validate(base)


def run(s: Scenario) -> tuple[World, dict[str, Any]]:
    w = World(s)
    w.run()
    return w, w.summary()


def away(member: int, start: float, end: float) -> list[dict[str, Any]]:
    return [
        {"at": start, "action": "offline", "group": "g", "member": member},
        {"at": end, "action": "online", "group": "g", "member": member},
    ]


# ---- the core: a creator's identity in a new suite ------------------------------------------------


def test_group_reinit_takes_the_creators_identity_of_the_new_suite() -> None:
    """With model suites a signature key belongs to one suite's registry (as a key of another
    scheme would in real life): the new group verifies only with a key of its own suite, which
    ``Group.reinit(identity=...)`` gives the creator."""
    from .malicious import group_of

    h = group_of(get_suite(1, "model"), 2)
    target = get_suite(PQ, "model")
    h.deliver(h.members["c2"].commit(h.rand, reinit=ReInit(group_id=b"pq", cipher_suite=PQ)), "c2")
    joiner = make_client(target, "c2", h.rand)
    kp = fresh_key_package(target, joiner, h.rand)

    def join(identity: MemberIdentity | None) -> Group:
        _, staged = h.members["c1"].reinit(
            h.rand, key_packages=[kp.bundle.key_package], suite=target, identity=identity
        )
        welcome = roundtrip(staged.welcome).body  # type: ignore[union-attr]
        assert isinstance(welcome, Welcome)
        return Group.join(
            target,
            welcome,
            key_package=kp.bundle.key_package,
            init_priv=kp.bundle.init_priv,
            encryption_priv=kp.bundle.encryption_priv,
            identity=kp.identity,
            resumed_from=h.members["c2"],
        )

    with pytest.raises(MLSError):  # the old suite's key does not verify in the new suite
        join(None)
    old = h.members["c1"].identity
    sig = target.signature_key_pair(h.rand)
    g = join(
        MemberIdentity(
            credential=old.credential,
            signature_priv=sig.priv,
            signature_key=sig.pub,
            capabilities=default_capabilities(PQ),
        )
    )
    assert g.suite.suite_id == PQ and g.group_id == b"pq" and g.epoch == 1


# ---- the run ----------------------------------------------------------------------------------------


def test_a_reinit_to_a_pq_suite_completes_and_traffic_continues_in_the_new_group() -> None:
    w, s = run(scenario())
    ri = s["reinit"]["g"]
    new = "g/reinit1"
    assert ri["new_group"] == new and ri["suite"] == PQ
    assert ri["accepted_s"] is not None and 20 <= ri["accepted_s"] < ri["created_s"]
    assert ri["members"] == ri["online_at_reinit"] == ri["joined"] == 11
    assert ri["never_joined"] == 0 and ri["to_online_s"] == ri["to_all_s"] > 0
    # every member holds the new group in the new suite, at one epoch and authenticator
    rec = w.ds_of(new).groups[new]
    states = [w.clients[m].groups[new] for m in rec.members]
    assert len(states) == 12
    assert {g.suite.suite_id for g in states} == {PQ}
    assert {(g.epoch, g.epoch_authenticator) for g in states} == {(rec.epoch, states[0].epoch_authenticator)}
    assert rec.epoch > 1  # the workload's updates went on in the new group
    # and in the old group every member applied the ReInit and sends nothing more
    for m in rec.members:
        old = w.clients[m].groups["g"]
        assert not old.active and old.committed_reinit is not None
    created = ri["created_s"]
    events = w.recorder.events
    assert sum(1 for e in events if e["kind"] == "app_sent" and e["group"] == new) > 20
    assert not [
        e
        for e in events
        if e["kind"] in ("app_sent", "commit_sent") and e["group"] == "g" and e["t"] > created
    ]
    assert not [
        e for e in events if e["kind"] == "workload_skipped" and e["group"] == "g" and e["t"] > created
    ]
    assert s["groups"][new]["converged"] and s["all_converged"]
    b = ri["bytes"]
    assert b["key_packages"] > 11 * 2645  # one ML-KEM KeyPackage per other member at least
    assert b["total"] == b["commits_upload"] + b["commits_fanout"] + b["key_packages"] + b["welcome_fanout"]


def test_a_member_offline_during_the_reinit_joins_when_it_returns() -> None:
    w, s = run(scenario(script=away(3, 10, 40)))
    ri = s["reinit"]["g"]
    name = w.initial_members[("g", 0)][3].name
    assert ri["online_at_reinit"] == 10 and ri["late_joins"] == 1 and ri["never_joined"] == 0
    (joined,) = [
        e for e in w.recorder.events if e["kind"] == "joined" and e["client"] == name and e["group"] != "g"
    ]
    assert joined["group"] == "g/reinit1" and joined["t"] >= 40
    assert ri["late_join_delay_s"]["max"] == pytest.approx(joined["t"] - ri["accepted_s"], abs=1e-6)
    assert ri["to_all_s"] == ri["late_join_delay_s"]["max"] > ri["to_online_s"]
    assert w.clients[name].groups["g/reinit1"].suite.suite_id == PQ
    assert s["all_converged"]


def test_a_member_whose_welcome_expired_is_counted_as_never_joined() -> None:
    short = [{"name": "alpha", "mailbox_retention": 5}, {"name": "beta", "mailbox_retention": 5}]
    w, s = run(scenario(script=away(3, 10, 40), providers=short))
    ri = s["reinit"]["g"]
    name = w.initial_members[("g", 0)][3].name
    assert ri["never_joined"] == 1 and ri["joined"] == 10 and ri["late_joins"] == 0
    assert ri["to_all_s"] is None and ri["to_online_s"] is not None
    assert "g/reinit1" not in w.clients[name].groups
    # its ReInit commit expired too: the old group is over, so it is not re-synced into it
    missed = [e for e in w.recorder.events if e["kind"] == "reinit_missed"]
    assert [(e["client"], e["reason"]) for e in missed] == [(name, "mailbox_expired")]
    assert not [e for e in w.recorder.events if e["kind"] == "resync_started"]
    assert not s["groups"]["g/reinit1"]["converged"] and not s["all_converged"]


def test_a_welcome_without_the_reinit_epoch_fails_and_is_counted() -> None:
    """The ReInit commit expired but the Welcome did not: the member cannot open the Welcome
    (its old group lacks the ReInit epoch's resumption PSK, §11.2) and never joins."""
    w, _ = run(scenario(script=away(3, 10, 40)))
    ri = w.summary()["reinit"]["g"]
    accepted, created = ri["accepted_s"], ri["created_s"]
    assert created - accepted > 0.2
    back = 40.0
    retention = back - (accepted + created) / 2  # the commit waited longer, the Welcome less
    providers = [{"name": p, "mailbox_retention": retention} for p in ("alpha", "beta")]
    w, s = run(scenario(script=away(3, 10, back), providers=providers))
    ri = s["reinit"]["g"]
    name = w.initial_members[("g", 0)][3].name
    assert ri["join_failed"] == 1 and ri["never_joined"] == 1
    (failed,) = [e for e in w.recorder.events if e["kind"] == "join_failed"]
    assert failed["client"] == name and failed["group"] == "g/reinit1"


def test_the_committer_can_be_named_and_waits_until_it_is_free() -> None:
    w, s = run(scenario({"reinit": {"at": 20, "suite": PQ, "by": 4}}, script=away(4, 15, 30)))
    ri = s["reinit"]["g"]
    assert ri["committer"] == w.initial_members[("g", 0)][4].name
    assert ri["started_s"] >= 30 and ri["never_joined"] == 0


def test_messages_lost_to_the_migration_are_counted() -> None:
    """Members that have not yet applied the ReInit still send in the old group; members that
    have refuse those messages (the core treats the old group as inactive)."""
    _, s = run(scenario({"workload": {"app_rate": 2.0}}, duration=30))
    app = s["reinit"]["g"]["app"]
    assert app["sent_in_old_after"] > 0 and app["refused_in_old"] > 0
    assert app["refused_in_old"] <= s["application"]["undecryptable"]


def test_a_reinit_in_the_same_suite_keeps_the_suite() -> None:
    w, s = run(scenario({"reinit": {"at": 20}}, duration=30))
    ri = s["reinit"]["g"]
    assert ri["suite"] == 1 and ri["never_joined"] == 0
    assert {w.clients[m].groups["g/reinit1"].suite.suite_id for m in w.members_of("g/reinit1")} == {1}


def test_without_the_key_nothing_changes() -> None:
    s = scenario({"reinit": None})
    assert "reinit" not in s.model_dump()["groups"][0]
    w, summary = run(s)
    assert w.reinits is None and "reinit" not in summary


def test_the_reinit_section_is_documented() -> None:
    _, s = run(scenario(duration=30))
    doc = (ROOT / "docs" / "metrics.md").read_text()
    paths = {p.replace("reinit.g.", "reinit.<group>.") for p in key_paths({"reinit": s["reinit"]})}
    missing = sorted(p for p in paths if f"`{p}`" not in doc and not _covered(p, doc))
    assert not missing, f"docs/metrics.md lacks: {missing}"


# ---- what the key refuses ------------------------------------------------------------------------

YAML = """name: bad
duration: 30
providers:
  - name: a
groups:
  - size: 4
    reinit:
      at: {at}
      suite: {suite}
"""


@pytest.mark.parametrize(
    ("at", "suite", "extra", "expected"),
    [
        (30, 1, "", "x.yaml:8: groups[0].reinit.at: 30 is not before the duration (30)"),
        (5, 9999, "", "x.yaml:9: groups[0].reinit.suite: unknown cipher suite 9999"),
        (5, 1, "    light_share: 0.5\n", "x.yaml:7: groups[0].reinit: cannot be combined with light_share"),
        (5, 1, "    steady_state: {}\n", "x.yaml:7: groups[0].reinit: cannot be combined with steady_state"),
        (
            5,
            1,
            "federation: {ordering: decentralised}\n",
            "x.yaml:7: groups[0].reinit: cannot be combined with federation.ordering",
        ),
        (
            5,
            1,
            "federation: {fanout: split}\n",
            "x.yaml:7: groups[0].reinit: cannot be combined with federation.fanout",
        ),
    ],
)
def test_bad_specs_are_refused_at_their_line(at: float, suite: int, extra: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(YAML.format(at=at, suite=suite) + extra, "x.yaml")
    assert any(line.startswith(expected) for line in str(exc.value).splitlines()), str(exc.value)


def test_by_must_name_an_initial_member() -> None:
    with pytest.raises(ScenarioError, match=r"groups\[0\]\.reinit\.by: g has 4 initial members"):
        parse_scenario(YAML.format(at=5, suite=1) + "      by: 4\n", "x.yaml")


# ---- determinism -----------------------------------------------------------------------------------


def test_the_shipped_scenario_is_the_same_under_any_hash_seed() -> None:
    code = (
        "import json,hashlib;from mlssim.scenario import load_scenario;from mlssim.sim.world import World;"
        "w=World(load_scenario('scenarios/reinit-pq.yaml'));w.run();"
        "ev=hashlib.sha256(json.dumps(w.recorder.events,sort_keys=True).encode()).hexdigest();"
        "print(json.dumps(w.summary(),sort_keys=True), ev, len(w.recorder.send_time))"
    )
    outs = set()
    for hs in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hs, "PYTHONPATH": str(ROOT)}
        outs.add(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    assert len(outs) == 1
    summary = json.loads(outs.pop().rsplit(" ", 2)[0])
    ri = summary["reinit"]["team"]
    assert ri["late_joins"] == 3 and ri["never_joined"] == 0 and summary["all_converged"]


@pytest.mark.parametrize(
    ("mls", "family", "size"),
    [({"ratchet_tree_in_welcome": False, "handshake": "private"}, "model", 12), ({}, "real", 4)],
    ids=["tree-from-ds-private", "real-crypto"],
)
def test_the_migration_works_without_the_tree_in_the_welcome_and_with_real_crypto(
    mls: dict[str, Any], family: str, size: int
) -> None:
    """Members download the new group's tree from the DS when the Welcome lacks it; with the
    real suites, every member holds the new group in real ML-KEM-768 + X25519."""
    if family == "real":
        from mlssim.mls.crypto import suite_available

        if not suite_available(PQ, "real"):
            pytest.skip("no PQ KEM in this environment")
    s = scenario({"size": size}, mls=mls, crypto={"suite": 1, "family": family}, duration=30)
    w, summary = run(s)
    ri = summary["reinit"]["g"]
    assert ri["joined"] == ri["members"] == size - 1 and summary["all_converged"]
    trees = [t for t in w.recorder.transmissions if t.msg_type == "ratchet_tree" and t.group == "g/reinit1"]
    assert bool(trees) == (mls.get("ratchet_tree_in_welcome") is False)
    assert {type(w.clients[m].groups["g/reinit1"].suite).__name__ for m in w.members_of("g/reinit1")} == {
        "ModelSuite" if family == "model" else type(get_suite(PQ)).__name__
    }
