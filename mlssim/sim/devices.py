"""Multi-device users (``population.device_add_rate``): a user's first device adds a new device
to every group it is in; the lazy mode defers the new device's path update."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from . import commits, workload
from .client import Client
from .context import Sim


def device_adds(w: Sim, rate: float) -> Generator[Any, Any, None]:
    rng = w.streams.stream("population/device-adds")
    while True:
        yield w.env.timeout(rng.expovariate(rate))
        if w.env.now >= w.stop_time:
            return
        device_add(w, rng.randrange(len(w.users)))


def device_add(w: Sim, user: int) -> None:
    """The user's first device adds a new device of the same user to every group it is in."""
    devices = w.users[user]
    adder = next((c for c in devices if c.groups), None)
    if adder is None:
        workload.skipped(w, "-", "device_add")
        return
    assert w.scenario.population is not None
    new = w.new_client(adder.provider, f"u{user}d{len(devices)}", population=True)
    devices.append(new)
    w.user_of[new.name] = user
    groups = sorted(adder.groups)
    w.device_adds_open[new.name] = (w.env.now, set(groups))
    w.recorder.event(w.env.now, "device_add", client=new.name, user=user, groups=len(groups))
    full = w.scenario.population.device_add_mode == "full-update"
    for group in groups:
        device_add_in(w, adder, group, new, full)


def device_add_in(w: Sim, adder: Client, group: str, new: Client, full: bool) -> None:
    if w.env.now >= w.stop_time or group not in adder.groups:
        return
    if not adder.free_in(group):
        w.env.timeout(1.0).callbacks.append(lambda _e: device_add_in(w, adder, group, new, full))
        return
    ev = w.fetch_key_package(adder, new, group)
    ev.callbacks.append(
        lambda e: commits.add(w, adder, group, new, e.value, None, path=full, kind="device-add")
    )


def device_joined(w: Sim, c: Client, group: str) -> None:
    """A new device joined one of its user's groups: the lazy mode's deferred update is due
    later; the device add is complete once it is in all of them."""
    open_ = w.device_adds_open.get(c.name)
    if open_ is None:
        return
    start, pending = open_
    pending.discard(group)
    if not pending:
        del w.device_adds_open[c.name]
        w.recorder.event(w.env.now, "device_added", client=c.name, duration=w.env.now - start)
    pop = w.scenario.population
    if pop is not None and pop.device_add_mode == "lazy-update":
        w.env.timeout(pop.lazy_delay).callbacks.append(lambda _e: deferred_update(w, c, group))


def deferred_update(w: Sim, c: Client, group: str) -> None:
    if w.env.now >= w.stop_time or group not in c.groups:
        return
    if not c.free_in(group):
        w.env.timeout(1.0).callbacks.append(lambda _e: deferred_update(w, c, group))
        return
    commits.update(w, c, group, None, kind="device-update")
