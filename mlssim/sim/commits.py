"""Commit operations: what a member commits for the workload and the policies (update, the
pending proposals, an add, a remove), each retried under the retry policy when it loses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..mls.group import StagedCommit
from .client import Client
from .context import Sim
from .records import PendingCommit

T = TypeVar("T")


def create(w: Sim, c: Client, group: str, stage: Callable[[], T], send: Callable[[T], None]) -> None:
    """Build a commit as a job of ``c`` (it takes time under processing time, and the client is
    not free meanwhile), then ``send`` it; a job that finds the group gone or a commit of ``c``
    already pending builds nothing."""
    c.creating.add(group)

    def work() -> T | None:
        g = c.groups.get(group)
        if g is None or not g.active or group in c.pending:
            return None
        return stage()

    def then(built: T | None) -> None:
        c.creating.discard(group)
        if built is not None:
            send(built)

    w.processing.run(c.name, "commit_create", work, then)


def add_member(w: Sim, adder: Client, group: str, newbie: Client) -> None:
    """``adder`` fetches ``newbie``'s KeyPackage and commits its Add (a policy's action)."""
    ev = w.fetch_key_package(adder, newbie, group)
    ev.callbacks.append(lambda e: add(w, adder, group, newbie, e.value, None))


def update(w: Sim, c: Client, group: str, prev: PendingCommit | None, kind: str = "update") -> None:
    """A commit with a path and no new proposals: an update, or (``proposals``) the commit of
    the proposals pending at ``c`` (they go in by reference)."""
    retry = proposals if kind == "proposals" else update
    create(
        w,
        c,
        group,
        lambda: c.stage_commit(group, rotate=kind == "update"),
        lambda staged: c.send_commit(
            group, kind, staged, retry=lambda prev: retry(w, c, group, prev), prev=prev
        ),
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

    def stage() -> tuple[StagedCommit, Any]:
        staged = adder.stage_commit(group, adds=[kp], path=path)
        return staged, w.fanout.join_secrets(adder, staged, kp, w.join_mode(group))

    def send(built: tuple[StagedCommit, Any]) -> None:
        adder.send_commit(
            group,
            kind,
            built[0],
            added=(newbie.name,),
            pre_join=built[1],
            retry=lambda prev: w.ordering.retry_add(w, adder, group, newbie, kp, prev, path, kind),
            prev=prev,
        )

    create(w, adder, group, stage, send)


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
    create(
        w,
        remover,
        group,
        lambda: remover.stage_commit(group, removes=[leaf]),
        lambda staged: remover.send_commit(
            group,
            "remove",
            staged,
            removed=(target,),
            retry=lambda prev: remove(w, remover, group, target, prev),
            prev=prev,
        ),
    )
