"""``plain`` fan-out, and the behaviour the other strategies share: every member downloads the
whole commit; the committer uploads it; joiners get the Welcome (and the tree from the DS when
the Welcome omits it).

A fan-out strategy owns three steps of a commit's path: what the committer uploads
(:meth:`Plain.commit_sizes`, :meth:`Plain.committer_upload`), what the ordering DS does with
it (:meth:`Plain.at_ds`, :meth:`Plain.commit_for` for each recipient, :meth:`Plain.to_joiners`),
and what a joiner receives. ``commit_for`` is the per-recipient hook: one group can mix
recipients of different kinds (full members next to members that receive a split or annotated
message). What the ordering DS builds for a message beyond copying it (split and PRE
IndividualCommits, re-encryptions, light annotations) the strategy reports with
:meth:`Plain.charge_ds`, which a DS that is a queue (``sim/ds_processing.py``) drains per job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from random import Random
from typing import Any

from ...assist.pre import PRE
from ...assist.pre_store import PREJoinSecret, PREUpload
from ...mls.codec import encode
from ...mls.commit_builder import CommitFraming
from ...mls.crypto.counting import WorkCounts
from ...mls.group import StagedCommit
from ...mls.messages import KeyPackage, MLSMessage
from ...mls.split_commit import PathSecretOpener
from ..client import Client
from ..delivery import CommitView, DeliveryService, Recipient
from ..records import GroupRecord

__all__ = ["Plain"]


class Plain:
    name = "plain"
    #: the PRE scheme the strategy uses (``pre`` only)
    scheme: PRE | None = None
    #: how members frame their commits (``None``: RFC 9420's; ``split``: the draft's)
    framing: CommitFraming | None = None
    #: the ordering DS's building work since it was last taken (:meth:`charge_ds`)
    _ds_work: WorkCounts | None = None
    #: a DS queue reads the work (:meth:`take_ds_work`); without one nothing is kept
    charges_ds: bool = False

    # -- the DS's work (``sim/ds_processing.py``) ---------------------------------------------

    def charge_ds(self, *, encodes: int = 0, encode_bytes: int = 0, reencryptions: int = 0) -> None:
        """The ordering DS built ``encodes`` messages of ``encode_bytes`` bytes in all and made
        ``reencryptions`` PRE re-encryptions (the numbers its ``ds_*`` events record)."""
        if not self.charges_ds:
            return
        work = self._ds_work
        if work is None:
            work = self._ds_work = WorkCounts()
        work.merge({"encode": encodes, "encode_bytes": encode_bytes, "pre_reencrypt": reencryptions})

    def take_ds_work(self) -> WorkCounts:
        """The work charged since the last call (zero counts dropped), and start afresh."""
        work, self._ds_work = self._ds_work, None
        return WorkCounts({k: n for k, n in (work or {}).items() if n})

    # -- the committer ----------------------------------------------------------------------

    def framing_for(self, c: Client, group: str) -> CommitFraming | None:
        """How ``c`` frames its next commit in ``group`` (``pre``: sealed under its PRE key)."""
        return self.framing

    def opener_for(self, c: Client, group: str) -> PathSecretOpener | None:
        """How ``c`` opens a split commit's path ciphertext (``None``: HPKE, the default)."""
        return None

    # -- the adversary (``pre`` only) -------------------------------------------------------

    def pre_key_held(self, group: str, name: str) -> tuple[str, int] | None:
        """The PRE key a compromise of ``name`` gives the adversary; none here."""
        return None

    def adversary_path_secrets(
        self, group: str, view: CommitView, held: Sequence[tuple[str, int]], ds_since: int | None
    ) -> dict[int, bytes]:
        """Path secrets of the commit the adversary opens outside its UpdatePath; none here."""
        return {}

    def commit_sizes(
        self, staged: StagedCommit, commit_bytes: int, removed: tuple[str, ...]
    ) -> tuple[int, Mapping[str, int] | None]:
        """Bytes the committer uploads (and DSs forward) for this commit, and what each member
        downloads (``None``: the plain commit, ``commit_bytes``); ``removed`` are the members
        the commit removes. Computed by the committer, which holds the staged commit; the DS
        receives only the sizes."""
        return commit_bytes, None

    def committer_upload(self, c: Client, group: str, staged: StagedCommit) -> PREUpload | None:
        """What the committer uploads for the DS's own use besides the commit (PRE: its
        records and re-encryption key)."""
        return None

    def join_secrets(
        self, adder: Client, staged: StagedCommit, kp: KeyPackage, mode: str
    ) -> tuple[PREJoinSecret, ...]:
        """What the adder sends its joiner instead of the Welcome (the PRE join); none here."""
        return ()

    # -- the ordering DS --------------------------------------------------------------------

    def commit_for(self, group: str, view: CommitView, m: Recipient) -> tuple[int, Callable[[], None]]:
        """The per-recipient step: the bytes ``m`` downloads and what runs on arrival."""
        return view.download(m.name), partial(m.on_commit, group, view.message)

    def at_ds(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> None:
        """What the DS keeps from an accepted commit besides the public state; nothing here."""

    def message_step(
        self, ds: DeliveryService, group: str, sender: str, msg: MLSMessage, size: int
    ) -> Callable[[Recipient], tuple[int, Callable[[], None]]] | None:
        """A per-recipient step for an application message (``light``: a proof for light
        members); ``None``: every receiver gets ``msg`` as it is."""
        return None

    # -- which members are light (``light`` only) ---------------------------------------------

    def place_light(self, group: str, members: Sequence[str], share: float | None, rng: Random) -> None:
        """Draw a group's light initial members; every member is full here."""

    def joiner(self, group: str, name: str, members: Sequence[str]) -> None:
        """A joiner the workload adds: full here."""

    def is_light(self, group: str, name: str) -> bool:
        return False

    def members_by_kind(self, w: Any) -> dict[str, Any] | None:
        """The summary's section per member kind (``light`` only); none here."""
        return None

    def to_joiners(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> int:
        """The Welcome, and the tree when the Welcome omits it, to each joiner; returns the
        bytes put on the network."""
        return self.welcome_to(ds, group, rec, view, view.added)

    def welcome_to(
        self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView, joiners: Sequence[str]
    ) -> int:
        """:meth:`to_joiners` for ``joiners`` (some of the commit's)."""
        w = ds.world
        if view.welcome is None:
            return 0
        fanned = 0
        wsize = len(encode(view.welcome))
        welcome = view.welcome
        tree = None if w.config_for(group).ratchet_tree_in_welcome else view.tree
        joiners = list(joiners)
        mode = "welcome-with-tree" if tree is None else "tree-from-ds"
        for name in joiners:
            w.recorder.event(
                w.env.now,
                "join_cost",
                group=group,
                client=name,
                mode=mode,
                op=view.kind,
                download=wsize + (rec.tree_bytes() if tree is not None else 0),
                upload=0,
                adder_upload=wsize,
            )
        if tree is not None:
            tsize = rec.tree_bytes()
            fanned += ds.fan_out(joiners, "ratchet_tree", group, tsize, tsize, "on_tree", (group, tree))
        fanned += ds.fan_out(joiners, "welcome", group, wsize, wsize, "on_welcome", (group, welcome))
        return fanned
