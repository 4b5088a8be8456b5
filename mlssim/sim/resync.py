"""Re-sync (``federation.resync``): a member that cannot follow its group NACKs to the orderer
and gets back in, by external commit or by being removed and re-added by a helper member."""

from __future__ import annotations

from typing import Any

from . import commits, joins, light_members, retry
from .client import Client
from .context import Sim
from .records import CONTROL_BYTES, PendingCommit


def start(w: Sim, c: Client, group: str, reason: str) -> None:
    """``c`` cannot follow ``group``: it NACKs to the orderer and gets back in."""
    mode = w.scenario.federation.resync
    if mode == "none" or group in c.resyncing:
        return
    w.recorder.event(w.env.now, "resync_started", group=group, client=c.name, reason=reason)
    c.resyncing[group] = {"t0": w.env.now}
    if group in c.light:  # a light member whose mailbox lost messages (L5): light again after
        c.resyncing[group]["light"] = True
    p = c.pending.pop(group, None)
    g = c.groups.get(group)
    if p is not None and g is not None:
        g.discard(p.staged)
    c.owed_commits.discard(group)
    ds = w.ds_of(group)

    def at_orderer() -> None:
        rec = ds.groups[group]
        if c.name not in rec.members:  # removed meanwhile: nothing to re-sync
            c.groups.pop(group, None)
            c.resyncing.pop(group, None)
            w.recorder.event(w.env.now, "resync_abandoned", group=group, client=c.name)
            return
        if mode == "external-commit":
            joins.resync_fetch(w, c, group, None)
        else:
            ask_for_readd(w, c, group)

    c.upload(group, CONTROL_BYTES, "nack", at_orderer)


def ask_for_readd(w: Sim, c: Client, group: str) -> None:
    """The orderer asks a designated member (the lowest online leaf of a full member: a light
    member cannot commit) to remove and re-add ``c``."""
    ds = w.ds_of(group)
    helpers = [
        m
        for m in ds.groups[group].members
        if m != c.name
        and w.clients[m].ready
        and group in w.clients[m].groups
        and group not in w.clients[m].resyncing
    ]
    if not helpers:
        w.env.timeout(retry.backoff(w, c, 1)).callbacks.append(lambda _e: ask_for_readd(w, c, group))
        return
    helper = min(helpers, key=lambda m: w.clients[m].groups[group].leaf_index)
    ds.to_client(
        helper,
        CONTROL_BYTES,
        "resync_request",
        group,
        lambda: readd(w, w.clients[helper], group, c),
    )


def readd(w: Sim, helper: Client, group: str, c: Client, prev: PendingCommit | None = None) -> None:
    g = helper.groups.get(group)
    if g is None or not g.active or group in helper.pending or group not in c.resyncing:
        if group in c.resyncing:  # try another helper later
            w.env.timeout(retry.backoff(w, c, 1)).callbacks.append(lambda _e: ask_for_readd(w, c, group))
        return
    ev = w.fetch_key_package(helper, c, group)

    def commit(e: Any) -> None:
        g = helper.groups.get(group)
        if g is None or not g.active or group in helper.pending:
            ask_for_readd(w, c, group)
            return
        me = c.name.encode()
        old = next((i for i, leaf in g.tree.leaves() if leaf.credential.identity == me), None)
        commits.create(
            w,
            helper,
            group,
            lambda: helper.stage_commit(group, adds=[e.value], removes=[] if old is None else [old]),
            lambda staged: helper.send_commit(
                group,
                "readd",
                staged,
                added=(c.name,),
                removed=(c.name,),
                retry=lambda prev: readd(w, helper, group, c, prev),
                prev=prev,
            ),
        )

    ev.callbacks.append(commit)


def done(w: Sim, c: Client, group: str) -> None:
    st = c.resyncing.pop(group, None)
    if st is not None and st.get("light"):
        light_members.downgrade(c, group)  # a light member back in (L5): light again
    if st is not None:
        w.recorder.event(
            w.env.now,
            "resync_done",
            group=group,
            client=c.name,
            duration=round(w.env.now - st["t0"], 6),
        )
