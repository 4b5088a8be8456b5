"""Light members in the simulator (issue 22, items 2 and 3; ``groups[].light_share``): a group of
light and full members over many commits by full members (adds, removes, updates) with
application messages from both kinds; every member agrees on every epoch authenticator; what a
light member downloads per commit and keeps is what the core's encodings say; runs are
deterministic; the scenario refuses what light members cannot do, by the key that clashes."""

from __future__ import annotations

import json
import re
import statistics
from typing import Any

import pytest

from mlssim.mls.codec import decode, encode
from mlssim.mls.group import Group
from mlssim.mls.light import kept_state_bytes
from mlssim.mls.light_group import LightGroup
from mlssim.mls.messages import AnnotatedCommit
from mlssim.scenario.schema import Scenario
from mlssim.sim import light_members
from mlssim.sim.fanouts import Light
from mlssim.sim.world import World


def scenario(group: dict[str, Any] | None = None, **top: Any) -> Scenario:
    g = {
        "name": "g",
        "size": 16,
        "light_share": 0.5,
        "workload": {
            "app_rate": 0.02,
            "update_group_rate": 0.8,
            "add_rate": 0.15,
            "remove_rate": 0.12,
            "join_mode": "tree-from-ds",
        },
        **(group or {}),
    }
    return Scenario.model_validate(
        {
            "name": "light",
            "seed": 7,
            "duration": 150,
            "drain": 30,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "a"}, {"name": "b"}],
            "groups": [g],
            **top,
        }
    )


def _light_kinds(w: World) -> Light:
    assert isinstance(w.fanout, Light)
    return w.fanout


@pytest.fixture(scope="module")
def run() -> tuple[World, dict[tuple[str, int], int]]:
    """One run; every AnnotatedCommit crosses as bytes, its encoded size kept by (member, epoch)."""
    sizes: dict[tuple[str, int], int] = {}
    original = light_members.commit

    def over_the_wire(c: Any, group: str, ann: AnnotatedCommit) -> None:
        data = encode(ann)
        lg = c.light.get(group)
        if lg is not None:
            sizes[(c.name, lg.epoch)] = len(data)
        original(c, group, decode(AnnotatedCommit, data))

    mp = pytest.MonkeyPatch()
    mp.setattr(light_members, "commit", over_the_wire)
    try:
        w = World(scenario())
        w.run()
    finally:
        mp.undo()
    return w, sizes


def test_light_and_full_members_agree_on_every_epoch_authenticator(
    run: tuple[World, dict[tuple[str, int], int]],
) -> None:
    w, _ = run
    s = w.summary()
    assert s["all_converged"], s["groups"]
    assert s["commits"]["accepted"] >= 100
    # one authenticator per epoch, reached by light and full members alike
    epochs = {e for (g, e) in w.authenticators}
    assert all(len(w.authenticators[("g", e)]) == 1 for e in epochs)
    light = _light_kinds(w)
    members = w.ds_of("g").groups["g"].members
    light_now = [n for n in members if light.is_light("g", n)]
    assert len(light_now) >= 3 and len(members) - len(light_now) >= 3
    final = {(st.epoch, st.epoch_authenticator) for n in members if (st := w.clients[n].state_in("g"))}
    assert len(final) == 1
    for n in light_now:
        assert isinstance(w.clients[n].light["g"], LightGroup) and "g" not in w.clients[n].groups
    kinds = [e["kind"] for e in w.recorder.events]
    assert "light_out_of_sync" not in kinds and "process_error" not in kinds
    assert s["application"]["undecryptable"] == 0
    # light members sent application messages, and received them
    senders = {e["client"] for e in w.recorder.of_kind("app_sent")}
    assert senders & set(light_now)


def test_the_workload_never_picks_a_light_member_to_commit(
    run: tuple[World, dict[tuple[str, int], int]],
) -> None:
    w, _ = run
    light = _light_kinds(w)
    committers = {e["client"] for e in w.recorder.of_kind("commit_sent")}
    assert committers and not any(light.is_light("g", c) for c in committers)
    removed = {e["client"] for e in w.recorder.of_kind("removed")}
    assert any(light.is_light("g", c) for c in removed), "light members are removed too"
    assert any(e["mode"] == "annotated-welcome" and e["op"] == "add" for e in w.recorder.of_kind("join_cost"))


def test_light_download_and_kept_state_are_the_cores_encodings(
    run: tuple[World, dict[tuple[str, int], int]],
) -> None:
    w, sizes = run
    light = _light_kinds(w)
    rec = w.recorder
    # each commit download of a light member is its AnnotatedCommit's encoding, in epoch order
    down: dict[str, list[int]] = {}
    rows = zip(rec.msg_type, rec.role, rec.receiver, rec.nbytes, rec.lost, strict=True)
    for mt, role, receiver, n, lost in rows:
        if mt == "commit" and role == "download" and not lost and light.is_light("g", receiver[2:]):
            down.setdefault(receiver[2:], []).append(n)
    for name, got in down.items():
        mine = [size for (n, _), size in sorted(sizes.items(), key=lambda kv: kv[0][1]) if n == name]
        assert got == mine, name
    lm = w.summary()["light_members"]
    by_kind = lm["by_kind"]
    every = [n for ns in down.values() for n in ns]
    assert by_kind["light"]["commit_download_bytes_mean"] == round(statistics.fmean(every), 3)
    # kept state: the encodings of light.kept_state_bytes, the full member's with its tree
    members = w.ds_of("g").groups["g"].members
    light_states, full_states = [], []
    for n in members:
        st = w.clients[n].state_in("g")
        if isinstance(st, LightGroup):
            light_states.append(len(st.kept_state()))
        else:
            assert isinstance(st, Group)
            full_states.append(
                len(
                    kept_state_bytes(
                        st.context,
                        st.public.interim_transcript_hash,
                        st.public.confirmation_tag,
                        st.tree.n_leaves,
                        st.path_keys,
                        st.secrets,
                        st.tree,
                    )
                )
            )
    assert by_kind["light"]["kept_state_bytes_mean"] == round(statistics.fmean(light_states), 3)
    assert by_kind["full"]["kept_state_bytes_mean"] == round(statistics.fmean(full_states), 3)
    assert max(light_states) < min(full_states)
    assert lm["ds_annotations"]["annotated_commits"] == len(every)


def test_same_seed_same_summary() -> None:
    runs = []
    for _ in range(2):
        w = World(scenario(duration=40))
        w.run()
        runs.append(json.dumps(w.summary(), sort_keys=True))
    assert runs[0] == runs[1]
    assert "light_members" in json.loads(runs[0])


def test_a_group_without_light_members_dumps_and_summarises_as_before() -> None:
    s = scenario({"light_share": None})
    assert "light_share" not in s.model_dump()["groups"][0]
    assert "light_share" in scenario().model_dump()["groups"][0]
    w = World(scenario({"light_share": None}, duration=20))
    w.run()
    assert not isinstance(w.fanout, Light)
    assert "light_members" not in w.summary()


@pytest.mark.parametrize(
    ("group", "top", "key"),
    [
        ({"light_share": 0.99}, {}, "groups[0].light_share: 16 of 16 members"),
        ({}, {"federation": {"fanout": "split"}}, "needs federation.fanout plain"),
        (
            {},
            {"federation": {"ordering": "client-fanout", "topology": "client-per-provider"}},
            "needs federation.ordering",
        ),
        (
            {"workload": {"join_mode": "welcome-with-tree"}},
            {},
            "groups[0].workload.join_mode: a group with light members",
        ),
        ({"workload": {"join_mode": "tree-from-ds", "update_mode": "propose"}}, {}, "workload.update_mode"),
        ({"steady_state": {}}, {}, "groups[0].steady_state: cannot be combined with light_share"),
        (
            {},
            {"adversary": {"compromises": [{"at": 1, "kind": "member", "group": "g", "member": 1}]}},
            "adversary.compromises[0].group",
        ),
    ],
)
def test_what_light_members_cannot_do_is_refused_by_its_key(
    group: dict[str, Any], top: dict[str, Any], key: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(key)):
        scenario(group, **top)


def test_welcome_mode_without_the_tree_is_accepted() -> None:
    scenario({"workload": {"join_mode": "welcome"}}, mls={"ratchet_tree_in_welcome": False})
