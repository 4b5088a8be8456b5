"""``pre-join-store`` fan-out: a DS-held store of node secrets under proxy re-encryption, for joins
from a small secret (mlssim's reading of the 2019 interim proposal; see
``mlssim/assist/pre_store.py`` and ``docs/bandwidth.md``). The bandwidth reading of PRE is
``pre`` (``pre_path.py``).

Members download the plain commit. The committer also uploads its PRE records and re-encryption
key, which the ordering DS keeps in the group's PRE store and re-encrypts at each epoch; under
``workload.join_mode: pre`` a joiner gets a small secret from its adder instead of the Welcome
and downloads GroupInfo, tree and its PRE records from the DS.
"""

from __future__ import annotations

from functools import partial

from ...assist.pre import PRE
from ...assist.pre_store import PREJoinSecret, PREStore, PREUpload
from ...mls.codec import encode
from ...mls.group import StagedCommit
from ...mls.messages import KeyPackage
from ..client import Client
from ..delivery import CommitView, DeliveryService
from ..records import GroupRecord
from .plain import Plain

__all__ = ["PREFanout"]


class PREFanout(Plain):
    name = "pre-join-store"

    def __init__(self, scheme: PRE) -> None:
        #: the PRE scheme (same family as the cipher suite; the world's ``pre``)
        self.scheme: PRE = scheme

    def committer_upload(self, c: Client, group: str, staged: StagedCommit) -> PREUpload | None:
        return c.pre_upload(group, staged)

    def join_secrets(
        self, adder: Client, staged: StagedCommit, kp: KeyPackage, mode: str
    ) -> tuple[PREJoinSecret, ...]:
        return (adder.seal_pre_join(staged, kp),) if mode == "pre" else ()

    def at_ds(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> None:
        """Apply the committer's upload to the group's PRE store (re-encrypting what it holds)."""
        if view.pre_upload is None:
            return
        w = ds.world
        if rec.pre_store is None:
            rec.pre_store = PREStore(self.scheme)
        work = rec.pre_store.apply(view.pre_upload, view.tree)
        self.charge_ds(reencryptions=work)
        w.recorder.event(
            w.env.now,
            "pre_rekey",
            group=group,
            epoch=rec.epoch,
            reencryptions=work,
            records=len(rec.pre_store.records),
            storage_bytes=rec.pre_store.storage_bytes(),
        )
        if w.compromises is not None:
            w.compromises.pre_store_seen(group)

    def to_joiners(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> int:
        """Each joiner gets the adder's small secret and downloads GroupInfo, tree and its PRE
        records (without join secrets: the Welcome path)."""
        if not view.pre_join:
            return super().to_joiners(ds, group, rec, view)
        w = ds.world
        assert rec.pre_store is not None and rec.group_info is not None and rec.tree is not None
        gi, tree = rec.group_info, rec.tree
        gi_size, tree_size = len(encode(gi)), rec.tree_bytes()
        by_leaf = {leaf.credential.identity.decode(): i for i, leaf in tree.leaves()}
        sent = 0
        for name, secret in zip(view.added, view.pre_join, strict=True):
            download = rec.pre_store.download_for(tree, by_leaf[name], view.committer)
            records = len(download.encoded())
            self.charge_ds(encodes=1, encode_bytes=records)
            parts = (
                ("group_info", gi_size),
                ("ratchet_tree", tree_size),
                ("pre_records", records),
                ("pre_join_secret", len(secret.encoded())),
            )
            for i, (msg_type, size) in enumerate(parts):
                last = i == len(parts) - 1
                then = (
                    partial(w.clients[name].on_pre_join, group, secret, download, gi, tree)
                    if last
                    else (lambda: None)
                )
                ds.to_client(name, size, msg_type, group, then)
            total = sum(size for _, size in parts)
            w.recorder.event(
                w.env.now,
                "join_cost",
                group=group,
                client=name,
                mode="pre",
                op=view.kind,
                download=total,
                upload=0,
                adder_upload=len(secret.encoded()),
            )
            sent += total
        return sent
