"""Joining by external commit (§12.4.3.2): the joiner (or a re-syncing member) fetches GroupInfo
and tree from the group's DS, then commits; a lost commit fetches again."""

from __future__ import annotations

from ..mls.codec import encode
from ..mls.messages import GroupInfo, MLSMessage
from ..mls.ratchet_tree import RatchetTree
from . import retry
from .client import Client
from .context import Sim
from .records import CONTROL_BYTES, PendingCommit


def request_group_info(w: Sim, newbie: Client, group: str, prev: PendingCommit | None) -> None:
    """An external joiner asks the group's DS for GroupInfo and tree, then commits."""
    ds = w.ds_of(group)

    def at_ds() -> None:
        rec = ds.groups[group]
        if rec.group_info is None:  # the group's first commit is not ordered yet
            w.env.timeout(retry.backoff(w, newbie, 1)).callbacks.append(
                lambda _e: request_group_info(w, newbie, group, prev)
            )
            return
        ds.serve_group_info(
            group, newbie.name, lambda gi, tree: external_commit(w, newbie, group, gi, tree, prev)
        )

    newbie.upload(group, CONTROL_BYTES, "group_info_request", at_ds)


def external_commit(
    w: Sim,
    c: Client,
    group: str,
    gi: MLSMessage,
    tree: RatchetTree,
    prev: PendingCommit | None,
    *,
    resync: bool = False,
) -> None:
    """Join ``group`` by external commit (§12.4.3.2); a re-syncing member also removes its
    old leaf in the same commit."""
    assert isinstance(gi.body, GroupInfo)
    me = c.name.encode()
    old = next((i for i, leaf in tree.leaves() if leaf.credential.identity == me), None) if resync else None
    staged = c.join_external(group, gi.body, tree, resync_remove=old, config=w.config_for(group))
    if not resync:
        w.recorder.event(
            w.env.now,
            "join_cost",
            group=group,
            client=c.name,
            mode="external-commit",
            op="external-join",
            download=len(encode(gi)) + w.ds_of(group).groups[group].tree_bytes(),
            upload=len(encode(staged.message)),
            adder_upload=0,
        )
    refetch = resync_fetch if resync else request_group_info
    c.send_commit(
        group,
        "resync" if resync else "external-join",
        staged,
        added=() if resync else (c.name,),
        retry=lambda prev: refetch(w, c, group, prev),
        prev=prev,
    )


def resync_fetch(w: Sim, c: Client, group: str, prev: PendingCommit | None) -> None:
    ds = w.ds_of(group)
    ds.serve_group_info(
        group,
        c.name,
        lambda gi, tree: external_commit(w, c, group, gi, tree, prev, resync=True),
        prefix="resync:",
    )
