"""The workload of a group (``workload:``): Poisson processes of application messages, updates,
adds and removes over the members free to act, plus churn and the scenario's script."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from ..scenario.schema import WorkloadSpec
from . import commits, joins, light_members
from .client import Client
from .context import Sim
from .distributions import sample


def pick(mix: dict[str, float], rng: Any) -> str:
    names = list(mix)
    total = sum(mix.values())
    x = rng.random() * total
    for n in names:
        x -= mix[n]
        if x < 0:
            return n
    return names[-1]


def start(w: Sim, group: str, wl: WorkloadSpec) -> None:
    """Start the workload's processes once the group exists (after ``wl.start`` seconds)."""
    env = w.env
    stop = w.origin + wl.stop if wl.stop is not None else w.stop_time
    for rate, op in (
        (wl.app_rate, _op_app),
        (wl.update_rate, _op_update),
        (wl.add_rate, _op_add),
        (wl.remove_rate, _op_remove),
    ):
        if rate > 0:
            env.process(poisson(w, group, rate, op, stop, per_member=op in (_op_app, _op_update)))
    if wl.update_group_rate > 0:
        env.process(poisson(w, group, wl.update_group_rate, _op_update, stop, per_member=False, tag="group"))


def poisson(
    w: Sim,
    group: str,
    rate: float,
    op: Callable[[Sim, str, Any], None],
    stop: float,
    *,
    per_member: bool,
    tag: str = "",
) -> Generator[Any, Any, None]:
    """A Poisson process of ``rate`` (per member when ``per_member``, else per group)."""
    rng = w.streams.stream(f"group/{group}/{op.__name__}{'/' + tag if tag else ''}")
    env = w.env
    while True:
        n = len(w.ds_of(group).groups[group].members) if per_member else 1
        total = rate * max(n, 1)
        yield env.timeout(rng.expovariate(total))
        if env.now >= stop or group in w.ended_workloads:  # ended: moved by a ReInit (sim/reinit.py)
            return
        op(w, group, rng)


def candidates(w: Sim, group: str, *, senders: bool = False) -> list[Client]:
    """The members free to act in ``group`` now (``Client.free_in``'s rule, kept between
    workload events by ``sim/free.py``). Light members (``Client.light``) never commit or
    propose: they are candidates only as ``senders`` of application messages. The list is
    shared: callers only read it."""
    return w.free.get(w.ds_of(group).groups[group].members, w.clients, group, senders)


def skipped(w: Sim, group: str, op: str) -> None:
    """A workload event found no member free to act (all offline, catching up, or waiting
    for a verdict): recorded, so that a thinned workload is visible."""
    w.recorder.event(w.env.now, "workload_skipped", group=group, op=op)


def _op_app(w: Sim, group: str, rng: Any) -> None:
    cands = candidates(w, group, senders=True)
    if not cands:
        skipped(w, group, "app")
        return
    c = cands[rng.randrange(len(cands))]
    size = int(sample(w.group_specs[group].workload.app_size, rng, w.base_dir))
    g = c.groups.get(group)
    if g is None:
        light_members.send_application(c, group, size)  # a light member (groups[].light_share)
        return
    if g.pending_proposals:
        return  # §12.4: commit first; the workload skips this message
    c.send_application(group, size)


def _op_update(w: Sim, group: str, rng: Any) -> None:
    cands = candidates(w, group)
    if not cands:
        skipped(w, group, "update")
        return
    c = cands[rng.randrange(len(cands))]
    if w.group_specs[group].workload.update_mode == "commit":
        commits.update(w, c, group, None)
    elif group not in c.proposed:
        c.send_update_proposal(group)


def _op_add(w: Sim, group: str, rng: Any) -> None:
    cands = candidates(w, group)
    if not cands:
        skipped(w, group, "add")
        return
    adder = cands[rng.randrange(len(cands))]
    spec = w.group_specs[group]
    mix = spec.providers or {p.name: 1.0 for p in w.scenario.providers}
    w.new_clients += 1
    newbie = w.new_client(pick(mix, rng), f"{group}-new{w.new_clients}")
    w.fanout.joiner(group, newbie.name, w.members_of(group))  # light or full (groups[].light_share)
    if spec.workload.join_mode == "external-commit":
        joins.request_group_info(w, newbie, group, None)
        return
    ev = w.fetch_key_package(adder, newbie, group)
    ev.callbacks.append(lambda e: commits.add(w, adder, group, newbie, e.value, None))


def _op_remove(w: Sim, group: str, rng: Any) -> None:
    cands = candidates(w, group)
    if not cands:
        skipped(w, group, "remove")
        return
    remover = cands[rng.randrange(len(cands))]
    others = w.ordering.removal_candidates(w, remover, group)
    if len(others) < 2:
        return
    target = others[rng.randrange(len(others))]
    commits.remove(w, remover, group, target, None)


def churn(w: Sim, c: Client) -> Generator[Any, Any, None]:
    spec = w.scenario.churn
    rng = w.streams.stream(f"client/{c.name}/churn")
    env = w.env
    while True:
        yield env.timeout(rng.expovariate(1.0 / spec.mean_online))
        if env.now >= w.stop_time:
            return
        if not c.held:
            c.go_offline()
        yield env.timeout(rng.expovariate(1.0 / spec.mean_offline))
        if not c.held and not c.online:
            c.go_online()


def scripted(w: Sim, c: Client, action: str, _e: Any = None) -> None:
    w.recorder.event(w.env.now, "scripted", client=c.name, action=action)
    if action == "offline":
        c.held = True
        if c.online:
            c.go_offline()
    else:
        c.held = False
        if not c.online:
            c.go_online()
