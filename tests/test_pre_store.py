"""The ``pre`` strategy end to end: a member joins from a peer's small secret plus DS downloads,
reaches everyone's epoch authenticator and then processes commits as a member; the DS store
never holds a cleartext secret; the DS's re-encryption opens for the next epoch's key."""

from __future__ import annotations

import pytest

from mlssim.assist.pre import PRE, get_pre
from mlssim.assist.pre_store import (
    PREJoinDownload,
    PREJoinSecret,
    PREStore,
    PREUpload,
    committer_upload,
    group_pre_keys,
    pre_join,
    seal_join_secret,
)
from mlssim.mls.codec import varint_size
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import StagedCommit
from mlssim.mls.group_state import CommitterError
from mlssim.mls.messages.welcome import GroupInfo

from .group_harness import Harness, roundtrip


def _has_umbral() -> bool:
    try:
        import umbral_pre  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


FAMILIES = [
    pytest.param("model", id="model"),
    pytest.param(
        "real", id="real", marks=pytest.mark.skipif(not _has_umbral(), reason="needs umbral-pre (pre extra)")
    ),
]


class World:
    """A harness group whose every commit also goes through the DS's PRE store."""

    def __init__(self, family: str) -> None:
        self.suite = get_suite(1, family)
        self.pre: PRE = get_pre(family)
        self.h = Harness(self.suite, seed=7)
        self.store = PREStore(self.pre)
        self.uploads: list[bytes] = []
        self.secrets: set[bytes] = set()  # every secret the DS must never see in the clear

    def remember_secrets(self) -> None:
        for g in self.h.members.values():
            self.secrets.add(g.path_keys.leaf_priv)
            self.secrets.update(kp.priv for kp in g.path_keys.nodes.values())
            self.secrets.add(g.secrets.joiner_secret)
            self.secrets.update(
                (g.secrets.init_secret, g.secrets.exporter_secret, g.secrets.encryption_secret)
            )
            self.secrets.add(group_pre_keys(self.pre, g).key.priv)

    def commit(self, committer: str, **kw: object) -> tuple[StagedCommit, PREUpload]:
        g = self.h.members[committer]
        staged = g.commit(self.h.rand, **kw)  # type: ignore[arg-type]
        upload = committer_upload(self.suite, self.pre, g, staged, self.h.rand)
        wire = upload.encoded()
        assert PREUpload.decode(wire) == upload
        self.uploads.append(wire)
        self.store.apply(PREUpload.decode(wire), staged.ratchet_tree)
        return staged, upload

    def deliver(self, staged: StagedCommit, committer: str) -> None:
        self.h.deliver(staged, committer)
        self.remember_secrets()


def grown(family: str, n: int = 9) -> World:
    w = World(family)
    w.h.create("m0")
    w.remember_secrets()
    for i in range(1, n):
        staged, _ = w.commit("m0", adds=[w.h.client(f"m{i}").bundle.key_package])
        w.deliver(staged, "m0")
    for name in ("m3", "m6", "m1"):  # fill parent nodes with path commits
        staged, _ = w.commit(name)
        w.deliver(staged, name)
    return w


@pytest.mark.parametrize("family", FAMILIES)
def test_join_from_small_secret_and_ds_downloads(family: str) -> None:
    w = grown(family)
    h = w.h
    joiner = h.client("new")
    committer = "m5"
    staged, _upload = w.commit(committer, adds=[joiner.bundle.key_package])
    # the peer's small secret: the new epoch's PRE key sealed to the joiner's init key
    small = seal_join_secret(w.suite, w.pre, staged, joiner.bundle.key_package, h.rand)
    small_wire = small.encoded()
    assert len(small_wire) == (
        varint_size(32)
        + 32
        + varint_size(len(small.group_id))
        + len(small.group_id)
        + 8
        + 1
        + 32
        + 1
        + 32
        + 16
    )
    # everyone else moves on with the commit (no Welcome is used)
    msg = roundtrip(staged.message)
    for g in h.members.values():
        g.process(msg)
    # the DS serves the public GroupInfo and tree, and the records this joiner needs
    tree = staged.ratchet_tree
    gi = roundtrip(staged.group_info).body
    assert isinstance(gi, GroupInfo)
    leaf = next(i for i, node in tree.leaves() if node == joiner.bundle.key_package.leaf_node)
    download = w.store.download_for(tree, leaf, staged.committer)
    assert download.nodes, "the committer's path reaches the joiner's LCA: at least one node key"
    g = pre_join(
        w.suite,
        w.pre,
        small,
        download,
        group_info=gi,
        ratchet_tree=tree,
        key_package=joiner.bundle.key_package,
        init_priv=joiner.bundle.init_priv,
        encryption_priv=joiner.bundle.encryption_priv,
        identity=joiner.identity,
        config=h.config,
    )
    h.members["new"] = g
    h.check()  # same epoch, tree hash, epoch authenticator and exporter as every member
    w.remember_secrets()
    # the joiner holds exactly the node keys a Welcome would have given it
    reference = h.members[committer].path_keys.nodes
    for x, kp in g.path_keys.nodes.items():
        assert reference[x] == kp
    # it is a full member: it processes later commits (whose path may encrypt to its new keys)
    for name in ("m0", "m7", "new"):
        staged, _ = w.commit(name)
        w.deliver(staged, name)
    # and reads and writes application messages
    ct = h.members["m2"].encrypt_application(b"hello", h.rand)
    assert h.members["new"].process(roundtrip(ct)).data == b"hello"  # type: ignore[union-attr]

    # the DS never held a cleartext secret: not in any upload, not in its store
    held = b"".join(w.uploads) + b"".join(r.encoded() for r in w.store.records.values())
    assert w.store.joiner_secret is not None
    held += w.store.joiner_secret.encoded()
    assert len(w.secrets) > 40
    for secret in w.secrets:
        assert secret not in held


@pytest.mark.parametrize("family", FAMILIES)
def test_ds_reencryption_opens_with_the_next_epoch_key(family: str) -> None:
    w = grown(family)
    before = dict(w.store.records)
    epoch_pub = w.store.epoch_pub
    staged, upload = w.commit("m2", path=False, adds=[w.h.client("late").bundle.key_package])
    w.deliver(staged, "m2")
    assert not upload.nodes
    g = w.h.members["m0"]
    key = group_pre_keys(w.pre, g).key
    assert key.pub == w.store.epoch_pub
    reencrypted = [(x, r) for x, r in w.store.records.items() if x in before and r.cfrag]
    assert reencrypted, "records kept across the epoch change are re-encrypted"
    assert w.store.reencryptions >= len(reencrypted)
    for x, rec in reencrypted:
        assert rec.epoch == before[x].epoch
        if rec.epoch != w.store.epoch - 1:
            continue  # a second hop (module docstring)
        plain = w.pre.decrypt_reencrypted(
            key.priv, epoch_pub, rec.capsule, [rec.cfrag], rec.ciphertext, signer_pub=w.store.signer_pub
        )
        node = g.tree.parent_node(x)
        assert node is not None and w.suite.kem_public_key(plain) == node.encryption_key
    # records of blanked nodes (the removed member's path) are gone
    staged, _ = w.commit("m2", removes=[6])
    w.deliver(staged, "m2")
    g = w.h.members["m0"]
    for x in w.store.records:
        assert g.tree.node(x) is not None
    assert w.store.storage_bytes() > 0


def test_wrong_init_key_or_swapped_record_is_rejected() -> None:
    w = grown("model")
    h = w.h
    joiner, other = h.client("new"), h.client("other")
    staged, _ = w.commit("m4", adds=[joiner.bundle.key_package])
    small = seal_join_secret(w.suite, w.pre, staged, joiner.bundle.key_package, h.rand)
    tree = staged.ratchet_tree
    gi = staged.group_info.body
    assert isinstance(gi, GroupInfo)
    leaf = next(i for i, node in tree.leaves() if node == joiner.bundle.key_package.leaf_node)
    download = w.store.download_for(tree, leaf, staged.committer)

    def join(secret: PREJoinSecret, dl: PREJoinDownload, init_priv: bytes | None = None) -> None:
        pre_join(
            w.suite,
            w.pre,
            secret,
            dl,
            group_info=gi,
            ratchet_tree=tree,
            config=h.config,
            key_package=joiner.bundle.key_package,
            init_priv=init_priv or joiner.bundle.init_priv,
            encryption_priv=joiner.bundle.encryption_priv,
            identity=joiner.identity,
        )

    with pytest.raises(CommitterError, match="init key"):
        join(small, download, init_priv=other.bundle.init_priv)
    x, _rec = download.nodes[0]
    # another fresh record of the same commit: it opens with the epoch key but is another node's
    wrong = next(r for y, r in w.store.records.items() if y != x and r.epoch == w.store.epoch)
    with pytest.raises(CommitterError, match="does not match the tree"):
        join(small, PREJoinDownload(download.joiner_secret, ((x, wrong), *download.nodes[1:])))
    stale = PREJoinSecret(small.new_member, small.group_id, small.epoch - 1, small.encrypted_epoch_key)
    with pytest.raises(CommitterError, match="another group or epoch"):
        join(stale, download)
    older = next(r for r in w.store.records.values() if r.epoch != w.store.epoch)
    with pytest.raises(CommitterError, match="does not open with the epoch key"):
        join(small, PREJoinDownload(download.joiner_secret, ((x, older),)))
