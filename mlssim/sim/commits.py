"""Commit operations: what a member commits for the workload and the policies (update, the
pending proposals, an add, a remove), each retried under the retry policy when it loses."""

from __future__ import annotations

from typing import Any

from .client import Client
from .context import Sim
from .records import PendingCommit


def add_member(w: Sim, adder: Client, group: str, newbie: Client) -> None:
    """``adder`` fetches ``newbie``'s KeyPackage and commits its Add (a policy's action)."""
    ev = w.fetch_key_package(adder, newbie, group)
    ev.callbacks.append(lambda e: add(w, adder, group, newbie, e.value, None))


def update(w: Sim, c: Client, group: str, prev: PendingCommit | None, kind: str = "update") -> None:
    """A commit with a path and no new proposals: an update, or (``proposals``) the commit of
    the proposals pending at ``c`` (they go in by reference)."""
    staged = c.stage_commit(group)
    retry = proposals if kind == "proposals" else update
    c.send_commit(
        group,
        kind,
        staged,
        retry=lambda prev: retry(w, c, group, prev),
        prev=prev,
    )


def proposals(w: Sim, c: Client, group: str, prev: PendingCommit | None) -> None:
    g = c.groups.get(group)
    if g is None or not g.active or group in c.pending or not g.pending_proposals:
        return
    update(w, c, group, prev, kind="proposals")


def add(
    w: Sim,
    adder: Client,
    group: str,
    newbie: Client,
    kp: Any,
    prev: PendingCommit | None,
    *,
    path: bool | None = None,
    kind: str = "add",
) -> None:
    g = adder.groups.get(group)
    if g is None or not g.active or group in adder.pending:
        return
    staged = adder.stage_commit(group, adds=[kp], path=path)
    secrets = w.fanout.join_secrets(adder, staged, kp, w.join_mode(group))
    adder.send_commit(
        group,
        kind,
        staged,
        added=(newbie.name,),
        pre_join=secrets,
        retry=lambda prev: w.ordering.retry_add(w, adder, group, newbie, kp, prev, path, kind),
        prev=prev,
    )


def refetch_add(
    w: Sim,
    adder: Client,
    group: str,
    newbie: Client,
    prev: PendingCommit,
    *,
    path: bool | None = None,
    kind: str = "add",
) -> None:
    ev = w.fetch_key_package(adder, newbie, group)
    ev.callbacks.append(lambda e: add(w, adder, group, newbie, e.value, prev, path=path, kind=kind))


def remove(w: Sim, remover: Client, group: str, target: str, prev: PendingCommit | None) -> None:
    g = remover.groups.get(group)
    if g is None or not g.active or group in remover.pending:
        return
    leaf = next((i for i, leaf in g.tree.leaves() if leaf.credential.identity == target.encode()), None)
    if leaf is None:
        return  # already gone
    staged = remover.stage_commit(group, removes=[leaf])
    remover.send_commit(
        group,
        "remove",
        staged,
        removed=(target,),
        retry=lambda prev: remove(w, remover, group, target, prev),
        prev=prev,
    )
