"""Server-held group secrets under proxy re-encryption (the ``pre`` strategy). Not RFC 9420.

mlssim's reading of the 2019 interim proposal ("PRE for server assist"), written down in
``docs/bandwidth.md``. Built from RFC 9420 parts (§8.5 MLS-Exporter, §5.1.3 EncryptWithLabel,
§7.4 node keys) and a unidirectional PRE (:mod:`mlssim.assist.pre`):

* **Epoch PRE key.** ``seed = MLS-Exporter("mlssim pre epoch key", "", 32)`` of epoch n gives
  the epoch's PRE key pair ``(sk_n, pk_n)`` and a kfrag-signer pair. Every member of epoch n
  can compute them; the DS never can.
* **Committer upload** (epoch n → n+1), beside the commit: the new epoch's ``joiner_secret``
  and the private key of every node on the committer's new filtered direct path, each
  PRE-encrypted to ``pk_{n+1}``; and one re-encryption key ``kfrag(sk_n → pk_{n+1})``.
* **DS store** (:class:`PREStore`): replaces the records of overwritten nodes, drops those of
  blanked nodes and re-encrypts every other record with the kfrag (one re-encryption per
  persisting record per epoch: the DS's CPU work). It holds capsules, ciphertexts, cfrags and
  public keys only.
* **Join from a small secret**: a peer (the committer that adds the joiner) seals ``sk_{n+1}``
  to the joiner's KeyPackage init key (:class:`PREJoinSecret`, ~150 B). The joiner downloads
  the public GroupInfo and ratchet tree and the records it needs (:class:`PREJoinDownload`:
  the joiner secret and the node keys from its lowest common ancestor with the committer up),
  opens them with ``sk_{n+1}``, checks every derived public key against the tree, the GroupInfo
  signature and confirmation tag, and checks that ``sk_{n+1}`` is the epoch's exported key.

Single hop. Umbral (the real primitive) is single-hop: a record re-encrypted from epoch n to
n+1 cannot be re-encrypted again. A joiner only ever needs records written by the commit that
adds it (an RFC 9420 joiner needs no older node secret: every older node above it lists it as
unmerged), so joins never need more than the original capsule. The DS's epoch-to-epoch
re-encryption is performed and counted as the proposal describes, on each record's original
capsule with the current kfrag; a steady state in which re-encrypted records stay readable
epoch after epoch needs a multi-hop scheme of the same sizes (stated in the docs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mls import treemath as tm
from ..mls.codec import Reader, Writer
from ..mls.crypto.suite import CipherSuite, KeyPair
from ..mls.errors import CryptoError, DecodeError, LocalProtocolError
from ..mls.group import Group, GroupConfig, MemberIdentity, StagedCommit
from ..mls.group_join import joined_state, verified_join_tree
from ..mls.group_state import CommitterError
from ..mls.keyschedule import JoinerStage
from ..mls.messages.key_package import KeyPackage
from ..mls.messages.tree import HPKECiphertext
from ..mls.messages.welcome import GroupInfo
from ..mls.rand import RandomSource, SeededRandom
from ..mls.ratchet_tree import RatchetTree
from ..mls.treekem import PathKeys
from ..mls.treemath import LeafIndex, NodeIndex
from .pre import PRE

__all__ = [
    "PRE_EPOCH_LABEL",
    "EpochPREKeys",
    "epoch_pre_keys",
    "StoredSecret",
    "PREUpload",
    "PREStore",
    "PREJoinSecret",
    "PREJoinDownload",
    "committer_upload",
    "seal_join_secret",
    "pre_join",
]

PRE_EPOCH_LABEL = "mlssim pre epoch key"
PRE_JOIN_LABEL = "mlssim PRE join"


@dataclass(frozen=True, slots=True)
class EpochPREKeys:
    """One epoch's PRE key pair and kfrag-signer pair (every member can derive them)."""

    key: KeyPair
    signer: KeyPair


def epoch_pre_keys(pre: PRE, exporter_seed: bytes) -> EpochPREKeys:
    """The epoch's PRE keys from ``MLS-Exporter(PRE_EPOCH_LABEL, "", 32)``."""
    rng = SeededRandom(exporter_seed, PRE_EPOCH_LABEL)
    return EpochPREKeys(
        key=pre.generate_key_pair(rng.child("key")), signer=pre.signer_key_pair(rng.child("signer"))
    )


def _keys_of(pre: PRE, export: bytes) -> EpochPREKeys:
    return epoch_pre_keys(pre, export)


def group_pre_keys(pre: PRE, group: Group) -> EpochPREKeys:
    return _keys_of(pre, group.export_secret(PRE_EPOCH_LABEL, b"", 32))


def staged_pre_keys(pre: PRE, staged: StagedCommit) -> EpochPREKeys:
    return _keys_of(pre, staged.secrets.exporter(PRE_EPOCH_LABEL, b"", 32))


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """One PRE-encrypted secret as the DS keeps it.

    ``struct { uint64 epoch; opaque capsule<V>; opaque ciphertext<V>; opaque cfrag<V>; }`` —
    ``epoch`` is the one whose key the capsule was made for, ``cfrag`` the DS's latest
    re-encryption of the capsule (empty until the first epoch change)."""

    epoch: int
    capsule: bytes
    ciphertext: bytes
    cfrag: bytes = b""

    def push(self, w: Writer) -> None:
        w.push_uint64(self.epoch)
        w.push_opaque(self.capsule)
        w.push_opaque(self.ciphertext)
        w.push_opaque(self.cfrag)

    @classmethod
    def pull(cls, r: Reader) -> StoredSecret:
        return cls(r.pull_uint64(), r.pull_opaque(), r.pull_opaque(), r.pull_opaque())

    def encoded(self) -> bytes:
        w = Writer()
        self.push(w)
        return w.data()


def _push_nodes(w: Writer, nodes: tuple[tuple[int, StoredSecret], ...]) -> None:
    inner = Writer()
    for node, rec in nodes:
        inner.push_uint32(node)
        rec.push(inner)
    w.push_opaque(inner.data())


def _pull_nodes(r: Reader) -> tuple[tuple[int, StoredSecret], ...]:
    inner = Reader(r.pull_opaque())
    out = []
    while not inner.eof():
        node = inner.pull_uint32()
        out.append((node, StoredSecret.pull(inner)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PREUpload:
    """What the committer uploads beside its commit.

    ``struct { uint64 epoch; opaque epoch_pub<V>; opaque signer_pub<V>; opaque kfrag<V>;
    StoredSecret joiner_secret; NodeSecret nodes<V>; }`` with
    ``struct { uint32 node; StoredSecret secret; } NodeSecret``. ``epoch`` is the new epoch;
    ``kfrag`` delegates the old epoch's key to ``epoch_pub`` and is signed by the old
    epoch's signer, whose public key ``signer_pub`` is."""

    epoch: int
    epoch_pub: bytes
    signer_pub: bytes
    prev_epoch_pub: bytes
    kfrag: bytes
    joiner_secret: StoredSecret
    nodes: tuple[tuple[int, StoredSecret], ...]

    def encoded(self) -> bytes:
        w = Writer()
        w.push_uint64(self.epoch)
        w.push_opaque(self.epoch_pub)
        w.push_opaque(self.signer_pub)
        w.push_opaque(self.prev_epoch_pub)
        w.push_opaque(self.kfrag)
        self.joiner_secret.push(w)
        _push_nodes(w, self.nodes)
        return w.data()

    @classmethod
    def decode(cls, data: bytes) -> PREUpload:
        r = Reader(data)
        out = cls(
            r.pull_uint64(),
            r.pull_opaque(),
            r.pull_opaque(),
            r.pull_opaque(),
            r.pull_opaque(),
            StoredSecret.pull(r),
            _pull_nodes(r),
        )
        if not r.eof():
            raise DecodeError("trailing bytes after a PREUpload")
        return out


def committer_upload(
    suite: CipherSuite, pre: PRE, group: Group, staged: StagedCommit, rand: RandomSource
) -> PREUpload:
    """The committer's PRE upload for ``staged`` (made from ``group``, still in the old epoch)."""
    old = group_pre_keys(pre, group)
    new = staged_pre_keys(pre, staged)
    epoch = staged.epoch
    tree = staged.ratchet_tree

    def seal(secret: bytes) -> StoredSecret:
        capsule, ct = pre.encrypt(new.key.pub, secret, rand)
        return StoredSecret(epoch, capsule, ct)

    nodes: list[tuple[int, StoredSecret]] = []
    if staged.with_path:
        keys = staged.path_keys
        for x in tree.filtered_direct_path(staged.committer):
            priv = keys.private_key(x)
            if priv is None:
                raise LocalProtocolError(f"committer holds no key for its path node {x}")
            nodes.append((int(x), seal(priv)))
    (kfrag,) = pre.generate_kfrags(old.key.priv, new.key.pub, old.signer.priv, rand)
    return PREUpload(
        epoch=epoch,
        epoch_pub=new.key.pub,
        signer_pub=old.signer.pub,
        prev_epoch_pub=old.key.pub,
        kfrag=kfrag,
        joiner_secret=seal(staged.secrets.joiner_secret),
        nodes=tuple(nodes),
    )


@dataclass(frozen=True, slots=True)
class PREJoinDownload:
    """What the DS sends a joiner besides the public GroupInfo and tree:
    ``struct { StoredSecret joiner_secret; NodeSecret nodes<V>; }``."""

    joiner_secret: StoredSecret
    nodes: tuple[tuple[int, StoredSecret], ...]

    def encoded(self) -> bytes:
        w = Writer()
        self.joiner_secret.push(w)
        _push_nodes(w, self.nodes)
        return w.data()


@dataclass
class PREStore:
    """The DS's store for one group: ciphertexts and public keys, never a cleartext secret."""

    pre: PRE
    epoch: int = -1
    epoch_pub: bytes = b""
    joiner_secret: StoredSecret | None = None
    records: dict[int, StoredSecret] = field(default_factory=dict)
    #: public PRE keys by epoch, for the records that still name that epoch
    epoch_pubs: dict[int, bytes] = field(default_factory=dict)
    #: the kfrag signer of the last epoch change (a reader verifies cfrags against it)
    signer_pub: bytes = b""
    #: cumulative re-encryptions done (the DS's CPU work)
    reencryptions: int = 0

    def apply(self, upload: PREUpload, tree: RatchetTree, *, reencrypt: bool = True) -> int:
        """Take ``upload`` for the epoch ``tree`` belongs to; returns the re-encryptions done.

        Records of nodes the commit overwrote are replaced, those of nodes now blank dropped,
        the rest re-encrypted from the previous epoch's key to the new one. ``reencrypt=False``
        counts without running the PRE (for size-only simulations; the bytes are the same)."""
        fresh = dict(upload.nodes)
        kept: dict[int, StoredSecret] = {}
        work = 0
        for node, rec in self.records.items():
            if node in fresh or node >= tree.width or tree.node(node) is None:
                continue
            if reencrypt and rec.epoch == self.epoch:
                cfrag = self.pre.reencrypt(
                    rec.capsule,
                    upload.kfrag,
                    signer_pub=upload.signer_pub,
                    delegating_pub=upload.prev_epoch_pub,
                    receiving_pub=upload.epoch_pub,
                )
            else:
                # an older record needs a second hop, which Umbral cannot do (module docstring),
                # or a size-only run: the work is counted and a cfrag of the same size stands in
                cfrag = bytes(self.pre.cfrag_size)
            kept[node] = StoredSecret(rec.epoch, rec.capsule, rec.ciphertext, cfrag)
            work += 1
        kept.update(fresh)
        self.records = kept
        self.joiner_secret = upload.joiner_secret
        self.epoch = upload.epoch
        self.epoch_pub = upload.epoch_pub
        self.epoch_pubs[upload.epoch] = upload.epoch_pub
        self.epoch_pubs.setdefault(upload.epoch - 1, upload.prev_epoch_pub)
        self.signer_pub = upload.signer_pub
        live = {rec.epoch for rec in kept.values()} | {upload.epoch}
        self.epoch_pubs = {e: k for e, k in self.epoch_pubs.items() if e in live or e == upload.epoch - 1}
        self.reencryptions += work
        return work

    def storage_bytes(self) -> int:
        """Bytes held: every record (with its node index), the joiner secret and the epoch keys."""
        total = sum(4 + len(rec.encoded()) for rec in self.records.values())
        if self.joiner_secret is not None:
            total += len(self.joiner_secret.encoded())
        keys = sum(8 + 1 + len(k) for k in self.epoch_pubs.values())
        return total + keys + 1 + len(self.signer_pub)

    def download_for(self, tree: RatchetTree, joiner: LeafIndex, committer: LeafIndex) -> PREJoinDownload:
        """The records a joiner at ``joiner`` needs: its LCA with the committer and above."""
        if self.joiner_secret is None:
            raise LocalProtocolError("the PRE store holds no epoch yet")
        path = tree.filtered_direct_path(committer)
        lca = tm.common_ancestor(tm.leaf_to_node(joiner), tm.leaf_to_node(committer))
        mine = set(tree.direct_path(joiner))
        nodes = tuple(
            (int(x), self.records[int(x)])
            for x in path
            if int(x) in mine and tm.level(x) >= tm.level(lca) and int(x) in self.records
        )
        return PREJoinDownload(self.joiner_secret, nodes)


@dataclass(frozen=True, slots=True)
class PREJoinSecret:
    """The peer's small secret for a joiner: ``struct { opaque new_member<V>; opaque group_id<V>;
    uint64 epoch; HPKECiphertext encrypted_epoch_key; }`` — the epoch's PRE private key sealed
    with EncryptWithLabel(init_key, "mlssim PRE join", group_id || epoch)."""

    new_member: bytes
    group_id: bytes
    epoch: int
    encrypted_epoch_key: HPKECiphertext

    def encoded(self) -> bytes:
        w = Writer()
        w.push_opaque(self.new_member)
        w.push_opaque(self.group_id)
        w.push_uint64(self.epoch)
        self.encrypted_epoch_key.push(w)
        return w.data()


def _join_context(group_id: bytes, epoch: int) -> bytes:
    w = Writer()
    w.push_opaque(group_id)
    w.push_uint64(epoch)
    return w.data()


def seal_join_secret(
    suite: CipherSuite, pre: PRE, staged: StagedCommit, key_package: KeyPackage, rand: RandomSource
) -> PREJoinSecret:
    """The committer's small secret for one member its commit adds."""
    keys = staged_pre_keys(pre, staged)
    group_id = staged.authenticated_content.content.group_id
    kem_output, ct = suite.encrypt_with_label(
        key_package.init_key, PRE_JOIN_LABEL, _join_context(group_id, staged.epoch), keys.key.priv, rand
    )
    return PREJoinSecret(
        new_member=suite.key_package_ref(key_package.encoded()),
        group_id=group_id,
        epoch=staged.epoch,
        encrypted_epoch_key=HPKECiphertext(kem_output=kem_output, ciphertext=ct),
    )


def _open(pre: PRE, priv: bytes, rec: StoredSecret) -> bytes:
    try:
        return pre.decrypt_original(priv, rec.capsule, rec.ciphertext)
    except CryptoError as exc:
        raise CommitterError("a PRE record does not open with the epoch key") from exc


def pre_join(
    suite: CipherSuite,
    pre: PRE,
    join_secret: PREJoinSecret,
    download: PREJoinDownload,
    *,
    group_info: GroupInfo,
    ratchet_tree: RatchetTree,
    key_package: KeyPackage,
    init_priv: bytes,
    encryption_priv: bytes,
    identity: MemberIdentity,
    config: GroupConfig | None = None,
    now: int | None = None,
) -> Group:
    """Join from a peer's :class:`PREJoinSecret` plus the DS's public GroupInfo, tree and records."""
    cfg = config or GroupConfig()
    ctx = group_info.group_context
    if (join_secret.group_id, join_secret.epoch) != (ctx.group_id, ctx.epoch):
        raise CommitterError("the PRE join secret is for another group or epoch")
    ct = join_secret.encrypted_epoch_key
    try:
        epoch_priv = suite.decrypt_with_label(
            init_priv, PRE_JOIN_LABEL, _join_context(ctx.group_id, ctx.epoch), ct.kem_output, ct.ciphertext
        )
    except CryptoError as exc:
        raise CommitterError("the PRE join secret does not open with this init key") from exc
    tree, my_leaf = verified_join_tree(suite, cfg, group_info, ratchet_tree, key_package, now)
    joiner = JoinerStage.start(suite, joiner_secret=_open(pre, epoch_priv, download.joiner_secret))
    secrets = joiner.epoch_secrets(ctx)
    nodes: dict[NodeIndex, KeyPair] = {}
    for x, rec in download.nodes:
        priv = _open(pre, epoch_priv, rec)
        node = tree.parent_node(x)
        pub = suite.kem_public_key(priv)
        if node is None or node.encryption_key != pub:
            raise CommitterError(f"node key {x} from the DS does not match the tree")
        nodes[NodeIndex(x)] = KeyPair(priv=priv, pub=pub)
    my_pub = suite.kem_public_key(encryption_priv)
    leaf = tree.leaf(my_leaf)
    if leaf is None or leaf.encryption_key != my_pub:
        raise CommitterError("the joiner's encryption key does not match its leaf")
    path_keys = PathKeys.for_leaf(my_leaf, encryption_priv, my_pub).with_nodes(nodes)
    state = joined_state(suite, cfg, group_info, tree, my_leaf, identity, path_keys, secrets)
    group = Group(suite, state, cfg)
    if group_pre_keys(pre, group).key.priv != epoch_priv:
        raise CommitterError("the PRE join secret is not this epoch's exported key")
    return group
