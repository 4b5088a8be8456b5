"""The workload's kept candidate lists (``sim/free.py``): every change to what makes a member
free to act moves them, and the tests' check catches a change that does not."""

from __future__ import annotations

from typing import Any

import pytest

from mlssim.scenario.schema import Scenario
from mlssim.sim import workload
from mlssim.sim.free import Candidates
from mlssim.sim.world import World


def _world() -> World:
    s = Scenario.model_validate(
        {
            "name": "free",
            "seed": 3,
            "duration": 20,
            "drain": 5,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "a"}, {"name": "b"}],
            "network": {
                "client_ds": {"latency": {"dist": "constant", "value": 0.05}},
                "ds_ds": {"latency": {"dist": "constant", "value": 0.05}},
            },
            "groups": [{"name": "g", "size": 6, "workload": {"app_rate": 0.1}}],
        }
    )
    w = World(s)
    w.run()
    return w


def _names(w: World, senders: bool = False) -> list[str]:
    return [c.name for c in workload.candidates(w, next(iter(w.ds_groups)), senders=senders)]


def test_kept_list_follows_each_input_of_the_rule() -> None:
    w = _world()
    group = next(iter(w.ds_groups))
    everyone = _names(w)
    assert len(everyone) == 6
    assert workload.candidates(w, group) is workload.candidates(w, group)  # kept, not rebuilt
    c = w.clients[everyone[2]]
    changes: list[tuple[str, Any, Any]] = [
        ("pending", lambda: c.pending.__setitem__(group, None), lambda: c.pending.pop(group)),
        ("resyncing", lambda: c.resyncing.__setitem__(group, {}), lambda: c.resyncing.pop(group)),
        ("online", lambda: setattr(c, "online", False), lambda: setattr(c, "online", True)),
        ("synced", lambda: setattr(c, "synced", False), lambda: setattr(c, "synced", True)),
    ]
    held = c.groups[group]
    changes.append(("groups", lambda: c.groups.pop(group), lambda: c.groups.__setitem__(group, held)))
    for what, drop, back in changes:
        drop()
        assert c.name not in _names(w), what
        back()
        assert _names(w) == everyone, what
    members = w.ds_of(group).groups[group].members
    provider = members.pop(c.name)  # the DS's membership
    assert _names(w) == [n for n in everyone if n != c.name]
    members[c.name] = provider  # back, now last in the DS's order
    assert _names(w) == [n for n in everyone if n != c.name] + [c.name]


def test_check_catches_a_change_the_counter_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    w = _world()
    group = next(iter(w.ds_groups))
    c = w.clients[_names(w)[0]]
    dict.__setitem__(c.pending, group, None)  # behind the WatchedDict's back
    monkeypatch.setattr(Candidates, "check", True)
    with pytest.raises(AssertionError, match="differ from a scan"):
        workload.candidates(w, group)
    monkeypatch.setattr(Candidates, "check", False)
    assert c in workload.candidates(w, group)  # unchecked, the stale list is what comes back
