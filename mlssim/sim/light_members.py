"""Light members in the simulator (draft-kiefer-mls-light; ``groups[].light_share``): the part of
the client adapter that drives :class:`~mlssim.mls.light_group.LightGroup`, as ``sim/client.py``
drives ``Group``. A light member joins by the AnnotatedWelcome its DS prepares, processes the
AnnotatedCommits and SenderAuthenticatedMessages it is sent (``sim/fanouts/light.py``) and sends
application messages; it never commits or proposes (the workload's commit candidates are the
members in ``Client.groups``, where light members are not). Its state is ``Client.light``.

Each piece of MLS work is a job under processing time (kinds ``light_welcome``,
``light_commit``, ``light_application``), so a light member's processing is counted apart from
a full member's. A light member that cannot process a commit (it missed one, L5) records
``light_out_of_sync``, drops its state and re-syncs as ``federation.resync`` says (:func:`resync`:
a full external join then a downgrade, §9, or a re-add by a full member); with ``resync: none``
it stays out and its group does not count as converged.

:func:`members_by_kind` is the run summary's ``light_members`` section (``docs/metrics.md``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from functools import partial
from typing import Any

from ..mls.codec import encode, varint_size
from ..mls.errors import MLSError
from ..mls.group import CommitApplied, Group
from ..mls.light import kept_state_bytes
from ..mls.light_group import LightGroup
from ..mls.messages import AnnotatedCommit, AnnotatedWelcome, SenderAuthenticatedMessage
from ..mls.messages.welcome import first_new_member
from ..mls.ratchet_tree import RatchetTree
from .client import Client
from .forks import message_epoch
from .recorder import Recorder

__all__ = [
    "commit",
    "downgrade",
    "kept_state",
    "members_by_kind",
    "message",
    "resync",
    "send_application",
    "welcome",
]


# -- joining (§8) --------------------------------------------------------------------------------


def welcome(c: Client, group: str, aw: AnnotatedWelcome) -> None:
    """An AnnotatedWelcome reached ``c``: join as a light member (a job of ``c``)."""
    ref = first_new_member(aw.welcome, c.bundles)
    if ref is not None:
        c.world.processing.run(
            c.name, "light_welcome", partial(_join, c, group, aw, ref), partial(_joined, c, group)
        )


def _join(c: Client, group: str, aw: AnnotatedWelcome, ref: bytes) -> LightGroup | MLSError | None:
    w = c.world
    b = c.bundles.pop(ref, None)
    if b is None:
        return None
    others = {h.group_id for name, h in c.groups.items() if name != group and h.active}
    others |= {h.group_id for name, h in c.light.items() if name != group and h.active}
    try:
        return LightGroup.join(
            w.suite,
            aw,
            key_package=b.key_package,
            init_priv=b.init_priv,
            encryption_priv=b.encryption_priv,
            identity=c.identity,
            config=w.config_for(group),
            current_group_ids=others,
        )
    except MLSError as exc:
        return exc


def _joined(c: Client, group: str, lg: LightGroup | MLSError | None) -> None:
    w = c.world
    if isinstance(lg, MLSError):
        w.recorder.event(w.env.now, "join_failed", group=group, client=c.name, error=type(lg).__name__)
    elif lg is not None:
        c.light[group] = lg
        c.joined_epoch[group] = lg.epoch
        w.recorder.event(w.env.now, "joined", group=group, client=c.name, epoch=lg.epoch)
        if group in c.resyncing:  # re-added by a full member: back in, light (L5)
            w.resync_done(c, group)
        w.epoch_reached(group, c.name, lg)


# -- falling behind (L5, §9) ---------------------------------------------------------------------


def resync(c: Client, group: str, reason: str) -> None:
    """A light member that cannot follow its group re-syncs as ``federation.resync`` says, as a
    full member would: by external commit — joining as a *full* client that removes its old
    leaf, then downgrading once its commit is accepted (§9; :func:`downgrade`) — or by being
    removed and re-added by a full member, whose Welcome reaches it annotated (it joins light).
    With ``resync: none`` it stays out."""
    c.world.start_resync(c, group, reason)
    st = c.resyncing.get(group)
    if st is not None:
        st["light"] = True


def downgrade(c: Client, group: str) -> None:
    """The re-sync of a light member is done: if it re-joined as a full client (external
    commit), it becomes a light member again (``LightGroup.downgrade``, §9)."""
    g = c.groups.pop(group, None)
    if g is not None:
        c.light[group] = LightGroup.downgrade(g)


# -- commits (§10) -------------------------------------------------------------------------------


def commit(c: Client, group: str, ann: AnnotatedCommit) -> None:
    """An AnnotatedCommit reached ``c``: process it (a job of ``c``)."""
    w = c.world
    lg = c.light.get(group)
    if lg is None or not lg.active:
        return

    def work() -> CommitApplied | MLSError | None:
        if c.light.get(group) is not lg or not lg.active:
            return None
        try:
            res = lg.process(ann)
        except MLSError as exc:
            return exc
        assert isinstance(res, CommitApplied)
        return res

    def then(res: CommitApplied | MLSError | None) -> None:
        if isinstance(res, MLSError):
            c.light.pop(group, None)
            w.recorder.event(
                w.env.now, "light_out_of_sync", group=group, client=c.name, error=type(res).__name__
            )
            resync(c, group, type(res).__name__)
        elif res is not None and res.removed_me:
            c.light.pop(group, None)
            w.recorder.event(w.env.now, "removed", group=group, client=c.name)
        elif res is not None:
            w.epoch_reached(group, c.name, lg)

    w.processing.run(c.name, "light_commit", work, then)


# -- application messages (§7, §11) --------------------------------------------------------------


def send_application(c: Client, group: str, size: int) -> None:
    """``c`` sends ``size`` bytes to ``group`` as a light member (the workload's ``_op_app``)."""
    w = c.world
    lg = c.light[group]
    msg = lg.encrypt_application(bytes(size), c.rand)
    auth = lg.epoch_authenticator
    w.recorder.event(w.env.now, "app_sent", group=group, client=c.name, epoch=lg.epoch, auth=auth.hex())
    w.ordering.send_application(c, group, msg, len(encode(msg)), auth)


def message(c: Client, group: str, sam: SenderAuthenticatedMessage | None) -> None:
    """A SenderAuthenticatedMessage reached ``c`` (``None``: the DS no longer had the tree of
    the message's epoch to prove its sender in)."""
    w = c.world
    lg = c.light.get(group)
    if lg is None:
        w.recorder.event(w.env.now, "app_not_member", group=group, client=c.name)
        return
    if sam is None:
        w.recorder.event(
            w.env.now, "app_undecryptable", group=group, client=c.name, reason="light_unannotated"
        )
        return

    def work() -> object:
        try:
            return lg.process(sam)
        except MLSError as exc:
            return exc

    def then(res: object) -> None:
        if not isinstance(res, MLSError):
            w.recorder.counts[("app_received", group)] += 1
            return
        epoch = message_epoch(sam.message)
        if epoch < c.joined_epoch.get(group, 0):
            w.recorder.event(w.env.now, "app_predates_join", group=group, client=c.name)
            return
        reason = type(res).__name__
        if epoch > lg.epoch:
            reason = "future_epoch"
        elif epoch < lg.epoch - lg.config.keep_past_epochs:
            reason = "epoch_keys_deleted"
        w.recorder.event(w.env.now, "app_undecryptable", group=group, client=c.name, reason=reason)

    w.processing.run(c.name, "light_application", work, then)


# -- the summary ---------------------------------------------------------------------------------


def kept_state(g: Group | LightGroup, tree_bytes: dict[int, int]) -> int:
    """L9: bytes of the encoding of what the member keeps (``light.kept_state_bytes``); a full
    member's tree is encoded once per tree object (members of an epoch share it), in
    ``tree_bytes`` by ``id``."""
    if isinstance(g, LightGroup):
        return len(g.kept_state())
    tree: RatchetTree = g.tree
    without = kept_state_bytes(
        g.context,
        g.public.interim_transcript_hash,
        g.public.confirmation_tag,
        tree.n_leaves,
        g.path_keys,
        g.secrets,
    )
    n = tree_bytes.get(id(tree))
    if n is None:
        size = len(tree.encode())
        n = tree_bytes[id(tree)] = varint_size(size) + size
    return len(without) + n


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 3) if xs else None


def members_by_kind(
    recorder: Recorder,
    members: Iterable[tuple[str, str, Group | LightGroup | None]],
    is_light: Any,
) -> dict[str, Any]:
    """Per member kind (``full``, ``light``): members at the end, join download (joins by the
    workload's adds, not the creation's Welcome), per-commit download, kept state (encoded, L9)
    and light processing; and the DS's annotation work. ``members``: (group, client, state) of
    every member of a group with light members; ``is_light(group, client)``."""
    groups = set()
    kinds: dict[str, dict[str, list[float]]] = {
        k: {"members": [], "join": [], "commit": [], "state": [], "work": []} for k in ("full", "light")
    }
    tree_bytes: dict[int, int] = {}
    members_seen = list(members)
    for group, name, g in members_seen:
        groups.add(group)
        k = kinds["light" if is_light(group, name) else "full"]
        k["members"].append(1)
        if g is not None:
            k["state"].append(kept_state(g, tree_bytes))
    for e in recorder.of_kind("join_cost"):
        if e["group"] in groups and e["op"] != "create":
            kinds["light" if is_light(e["group"], e["client"]) else "full"]["join"].append(e["download"])
    rec = recorder
    rows = zip(rec.msg_type, rec.role, rec.group, rec.receiver, rec.nbytes, rec.lost, strict=True)
    for mt, role, group, receiver, n, lost in rows:
        if mt == "commit" and role == "download" and group in groups and not lost:
            kinds["light" if is_light(group, receiver[2:]) else "full"]["commit"].append(n)
    # processing time (``hardware.processing_time: on``): a commit's job, by kind
    names: dict[str, set[str]] = {kind: set() for kind in kinds}
    for group, name, _ in members_seen:
        names["light" if is_light(group, name) else "full"].add(name)
    for e in recorder.of_kind("processing"):
        if e["op"] == "light_commit":
            kinds["light"]["work"].append(e["seconds"])
        elif e["op"] == "commit" and e["client"] in names["full"]:
            kinds["full"]["work"].append(e["seconds"])
    by_kind: dict[str, Any] = {}
    for kind, k in kinds.items():
        by_kind[kind] = {
            "members": len(k["members"]),
            "joins": len(k["join"]),
            "join_download_bytes_mean": _mean(k["join"]),
            "commit_downloads": len(k["commit"]),
            "commit_download_bytes_mean": _mean(k["commit"]),
            "kept_state_bytes_mean": _mean(k["state"]),
            "kept_state_bytes_max": max(k["state"], default=None),
            "processing_s_per_commit_mean": round(statistics.fmean(k["work"]), 9) if k["work"] else None,
        }
    ds = list(recorder.of_kind("ds_light"))
    ds_work = {
        "commits": sum(1 for e in ds if e["what"] == "commit"),
        "annotated_commits": sum(e["annotations"] for e in ds if e["what"] == "commit"),
        "annotated_commit_bytes": sum(e["bytes"] for e in ds if e["what"] == "commit"),
        "annotated_welcomes": sum(e["annotations"] for e in ds if e["what"] == "welcome"),
        "messages": recorder.total("ds_light_messages"),
    }
    return {"by_kind": by_kind, "ds_annotations": ds_work}
