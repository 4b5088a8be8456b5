"""Group operations at scale: path commits, adds, joins, message sizes, memory, the crypto
floor of processing a commit, and mls-rs on the same operations.

Usage: ``python benchmarks/group_ops.py [--quick] [--sizes 10,100] [--no-mlsrs]``.
Default: N = 10, 100, 1,000, 10,000 with real suite 1 and N = 10 … 50,000 with its model
twin (up to ~20 min); ``--quick`` stops at N = 1,000 (< 2 min). Progress goes to stderr,
the tables to stdout.

What is measured, per suite and N (all members suite 1, PublicMessage handshakes):

* **Path commits** — an empty commit (UpdatePath only) by leaf 0, processed by leaf 1 (the
  committer's sibling: it decrypts at the lowest copath node and derives the whole path,
  the receiver with the most derivations). Two tree shapes:
  ``full``: every parent node above the N leaves is non-blank and no leaf is unmerged, so
  each copath resolution is one node (⌈log2 N⌉ ciphertexts). Such a tree needs ~N/2
  commits; it is built here directly with the public tree API (one TreeEditor applies an
  UpdatePath for every even leaf >= 2, then a signed GroupInfo/Welcome brings leaves 0 and
  1 in; leaf 0 commits once so that the parent of leaves 0 and 1 is set too).
  ``add-all``: right after the creator added N-1 members in one commit, so the copath
  resolutions hold every other leaf (N-1 ciphertexts).
  ``shared``: the same member (a second Group of leaf 1) processing the same commit when
  its ``EpochCache`` already holds the commit's public outcome, as every member after the
  first does in a simulated world.
* **Add / join** — the creator adds N-1 KeyPackages in one commit (with its UpdatePath,
  mlssim's default) and without (``path=False``, what the mls-rs binding's add_members
  does); one new member joins from that Welcome (ratchet tree in the Welcome up to
  N = 10,000; above, out of band, as the simulator passes it, to keep the largest runs short).
* **Bytes** — ``len`` of the encoded MLSMessage (commit, Welcome with and without the
  ratchet_tree extension).
* **Floor** — exactly the primitive operations RFC 9420 requires of the receiver of that
  commit, on the commit's own inputs, through mlssim's suite primitives: two signature
  verifications (FramedContentTBS, the UpdatePath LeafNodeTBS), one HPKE open, for each
  of the k path nodes from the receiver's copath node to the root DeriveSecret("node"),
  DeriveKeyPair and DeriveSecret("path"), one epoch of the key schedule (2 Extract, 2
  ExpandWithLabel, 9 DeriveSecret) with the two transcript hashes and the confirmation and
  membership MACs, and the hashes of the TreeHashInputs / ParentHashInputs along the
  committer's path. Encoding the inputs is not counted.
* **mls-rs** — the same operations through ``mls_rs_uniffi`` (mls-rs, suite 1): add N-1
  members, join, empty commit and processing it, on the same two tree shapes (the full
  tree is the same construction, with mls-rs KeyPackages at leaves 0 and 1).
* **Memory** — tracemalloc bytes held by the N members' Group objects (sharing one ratchet
  tree passed out of band, as the simulator does) plus the model suite's key registry.
  Joining is O(N) per member (the whole tree is validated), so all N members are
  instantiated only where that fits the time budget; above, a sample of evenly spaced
  members joins and the total is projected (the table says which).

Timing. Each cell is the minimum over R rounds; within a round mlssim, mls-rs and the floor
alternate, so load from other processes hits them alike (as ``benchmarks/crypto.py``). The
garbage collector is off inside timed sections. mlssim keeps process-wide LRU caches of
parsed keys and of DeriveKeyPair results (``crypto/hpke.py``); in one process a receiver
would find the path keys the committer just derived there, which no separate client can, so
every timed operation (mlssim and floor) starts with those caches emptied. mlssim times
include decoding the wire bytes (shown apart as ``dec``); mls-rs is handed its
``Message`` objects, because the binding's ``Message.from_bytes`` copies bytes in a Python
loop (~20 ms for 80 kB) that is no part of mls-rs.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from mlssim.mls.codec import Writer, decode, encode
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.crypto import hpke as _hpke
from mlssim.mls.group import EpochCache, Group, GroupConfig, MemberIdentity, StagedCommit
from mlssim.mls.key_packages import KeyPackageBundle, make_key_package
from mlssim.mls.keyschedule import JoinerStage, confirmation_tag
from mlssim.mls.leaf_nodes import make_leaf_node
from mlssim.mls.messages import (
    Credential,
    GroupContext,
    GroupInfo,
    GroupSecrets,
    KeyPackage,
    LeafNode,
    LeafNodeSource,
    Lifetime,
    MLSMessage,
    NodeType,
    ParentNode,
    PublicMessage,
    Welcome,
    WireFormat,
    authenticated_content_tbm,
    framed_content_tbs,
    leaf_node_tbs,
)
from mlssim.mls.messages.tree import decode_ratchet_tree
from mlssim.mls.rand import SeededRandom
from mlssim.mls.ratchet_tree import RatchetTree
from mlssim.mls.transcript import confirmed_hash_input
from mlssim.mls.treemath import LeafIndex, level, subtree_leaves
from mlssim.mls.welcome import seal_welcome, sign_group_info

try:
    import mls_rs_uniffi as rs
except ImportError:  # pragma: no cover - the binding is optional
    rs = None

FOREVER = Lifetime(not_before=0, not_after=2**63)
REAL_SIZES = (10, 100, 1_000, 10_000)
MODEL_SIZES = (10, 100, 1_000, 10_000, 50_000)
QUICK_MAX = 1_000
TARGET_N = 1_000  # process <= 1.5 x floor here
TARGET_RATIO = 1.5
MEMORY_N = 10_000  # all members under 8 GiB here
MEMORY_LIMIT = 8 * 2**30
#: above this N the add-all Welcome leaves the tree out (tree passed out of band, as the simulator
#: does), which keeps the largest runs short; seal_welcome is O(N) either way (one EncryptContext)
TREE_IN_WELCOME_MAX = 10_000
NO_TREE = GroupConfig(ratchet_tree_in_welcome=False)

_T0 = time.perf_counter()


def progress(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def rounds_for(n: int, quick: bool) -> int:
    if quick:
        return 3
    return 7 if n <= 100 else 5 if n <= 1_000 else 3 if n <= 10_000 else 2


# ---- timing ------------------------------------------------------------------------------------


def clear_crypto_caches(suite: CipherSuite) -> None:
    """Empty mlssim's process-wide LRU caches (parsed keys, DeriveKeyPair public keys, HPKE
    info hashes) of this suite's KEM, so a timed operation cannot reuse what another simulated
    member computed in the same process."""
    i = suite.info
    for obj in (_hpke.kem_for(i.kem_id), _hpke.hpke_core_for(i.kem_id, i.kdf_id, i.aead_id)):
        for name in dir(obj):
            fn = getattr(obj, name, None)
            if callable(getattr(fn, "cache_clear", None)):
                fn.cache_clear()


class Best:
    """Minimum seconds per key over rounds (every sample is kept too, for medians)."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self.samples: dict[str, list[float]] = {}

    def add(self, key: str, seconds: float) -> None:
        self.t[key] = min(self.t.get(key, math.inf), seconds)
        self.samples.setdefault(key, []).append(seconds)

    def ms(self, key: str) -> float | None:
        return self.t[key] * 1e3 if key in self.t else None

    def median_ms(self, key: str) -> float | None:
        return statistics.median(self.samples[key]) * 1e3 if key in self.samples else None


@contextmanager
def timed(best: Best, key: str, suite: CipherSuite | None = None) -> Iterator[None]:
    """Time the block into ``best[key]``: crypto caches emptied first, GC off inside."""
    if suite is not None:
        clear_crypto_caches(suite)
    gc.disable()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        best.add(key, time.perf_counter() - t0)
        gc.enable()


# ---- mlssim members ----------------------------------------------------------------------------


@dataclass
class Member:
    """An mlssim client: its KeyPackage bundle and the identity it brings to groups."""

    bundle: KeyPackageBundle
    identity: MemberIdentity

    @property
    def kp(self) -> KeyPackage:
        return self.bundle.key_package


def make_members(suite: CipherSuite, n: int, rand: SeededRandom) -> list[Member]:
    out = []
    for i in range(n):
        sig = suite.signature_key_pair(rand)
        cred = Credential.basic(b"member%d" % i)
        b = make_key_package(suite, credential=cred, signature_key_pair=sig, rand=rand, lifetime=FOREVER)
        ident = MemberIdentity(
            credential=cred,
            signature_priv=sig.priv,
            signature_key=sig.pub,
            capabilities=b.key_package.leaf_node.capabilities,
        )
        out.append(Member(b, ident))
    return out


def create(
    suite: CipherSuite, m: Member, group_id: bytes, rand: SeededRandom, config: GroupConfig | None = None
) -> Group:
    return Group.create(
        suite,
        group_id=group_id,
        identity=m.identity,
        rand=rand,
        config=config,
        encryption_priv=m.bundle.encryption_priv,
        leaf_node=m.kp.leaf_node,
    )


def join(
    suite: CipherSuite,
    m: Member,
    welcome: Welcome,
    tree: RatchetTree | None = None,
    config: GroupConfig | None = None,
) -> Group:
    return Group.join(
        suite,
        welcome,
        key_package=m.kp,
        init_priv=m.bundle.init_priv,
        encryption_priv=m.bundle.encryption_priv,
        identity=m.identity,
        ratchet_tree=tree,
        config=config,
    )


def welcome_of(staged: StagedCommit) -> Welcome:
    assert staged.welcome is not None and isinstance(staged.welcome.body, Welcome)
    return staged.welcome.body


# ---- a full tree, built with the public tree API ----------------------------------------------


def full_tree_welcome(
    suite: CipherSuite,
    group_id: bytes,
    joiners: tuple[KeyPackage, KeyPackage],
    others: list[Member],
    rand: SeededRandom,
) -> tuple[RatchetTree, Welcome]:
    """A tree of 2 + len(others) leaves whose parent nodes are all set (except the parent of
    leaves 0 and 1), and a Welcome for the two ``joiners`` at leaves 0 and 1.

    Leaves 2.. are ``others``' KeyPackage leaves; every even one of them then "commits": one
    TreeEditor applies its UpdatePath (fresh key pairs, parent hashes as §7.9) and its
    signed commit LeafNode, in leaf order, exactly as a sequence of path commits would leave
    the public tree. The GroupInfo (epoch 1, random transcript hash and joiner secret) is
    signed by leaf 2; the joiners get no path secret, so they hold only their leaf keys.
    """
    leaves: list[LeafNode] = [joiners[0].leaf_node, joiners[1].leaf_node] + [m.kp.leaf_node for m in others]
    nodes: list[LeafNode | ParentNode | None] = []
    for leaf in leaves:
        nodes += [leaf, None]
    editor = RatchetTree.from_nodes(suite, nodes[:-1]).edit()
    for i in range(2, len(leaves), 2):
        m = others[i - 2]
        n_path = len(editor.filtered_direct_path(LeafIndex(i)))
        keys = [suite.kem_generate_key_pair(rand).pub for _ in range(n_path)]
        ph = editor.apply_path(i, keys)
        leaf = make_leaf_node(
            suite,
            encryption_key=suite.kem_generate_key_pair(rand).pub,
            signature_priv=m.bundle.signature_priv,
            signature_key=m.identity.signature_key,
            credential=m.identity.credential,
            capabilities=m.identity.capabilities,
            source=LeafNodeSource.COMMIT,
            parent_hash=ph,
            group_id=group_id,
            leaf_index=i,
        )
        editor.set_node(2 * i, leaf)
    tree = editor.freeze()
    nh = suite.info.hash_len
    ctx = GroupContext(
        cipher_suite=suite.suite_id,
        group_id=group_id,
        epoch=1,
        tree_hash=tree.tree_hash(),
        confirmed_transcript_hash=rand.random_bytes(nh),
        extensions=(),
    )
    joiner_secret = rand.random_bytes(nh)
    stage = JoinerStage.start(suite, joiner_secret=joiner_secret)
    secrets = stage.epoch_secrets(ctx)
    tag = confirmation_tag(suite, secrets.confirmation_key, ctx.confirmed_transcript_hash)
    gi = sign_group_info(
        suite,
        GroupInfo(group_context=ctx, extensions=(), confirmation_tag=tag, signer=2),
        others[0].bundle.signature_priv,
    )
    welcome = seal_welcome(
        suite,
        joiner=stage,
        group_info=gi,
        recipients=[(kp, GroupSecrets(joiner_secret=joiner_secret)) for kp in joiners],
        rand=rand,
    )
    return tree, welcome


# ---- the crypto floor of processing one commit -------------------------------------------------


def _labeled(label: bytes, content: bytes) -> bytes:
    """SignContent / EncryptContext: opaque label<V> ("MLS 1.0 " + label), opaque content<V>."""
    w = Writer()
    w.push_opaque(b"MLS 1.0 " + label)
    w.push_opaque(content)
    return w.data()


@dataclass
class FloorInputs:
    """Everything the receiver's primitive operations take, encoded outside the timing."""

    sig_pub: bytes
    sig_msg: bytes
    sig: bytes
    leaf_pub: bytes
    leaf_msg: bytes
    leaf_sig: bytes
    hpke_priv: bytes
    hpke_enc: bytes
    hpke_ct: bytes
    hpke_info: bytes
    k: int  # path nodes to derive: from the receiver's copath node to the root
    first_pub: bytes  # the UpdatePath's key of the first of them (a sanity check)
    init_secret: bytes
    new_context: bytes
    transcript_input: bytes  # interim_before || ConfirmedTranscriptHashInput
    interim_tail: bytes  # opaque confirmation_tag<V>
    membership_key: bytes
    tbm: bytes  # AuthenticatedContentTBM
    tree_inputs: list[bytes] = field(default_factory=list)


def floor_inputs(
    suite: CipherSuite, receiver: Group, message: MLSMessage, new_tree: RatchetTree
) -> FloorInputs:
    """Inputs of the receiver's floor for this commit; uses only public state and the
    receiver's own keys (read before it processes the commit)."""
    body = message.body
    assert isinstance(body, PublicMessage)
    content, auth = body.content, body.auth
    commit = content.commit
    assert commit is not None and commit.path is not None
    path = commit.path
    old, tree, me = receiver.context, receiver.tree, receiver.leaf_index
    committer = content.sender.index
    tbs = framed_content_tbs(WireFormat.PUBLIC_MESSAGE, content, old)
    provisional = replace(old, epoch=old.epoch + 1, tree_hash=new_tree.tree_hash())

    fdp = tree.filtered_direct_path_with_copath(committer)
    k = next(j for j, (_, s) in enumerate(fdp) if subtree_leaves(s)[0] <= me < subtree_leaves(s)[1])
    res = tree.resolution(fdp[k][1])
    pos, priv = next(
        (p, key) for p, r in enumerate(res) if (key := receiver.path_keys.usable_key(tree, r)) is not None
    )
    ct = path.nodes[k].encrypted_path_secret[pos]

    transcript_input = receiver.public.interim_transcript_hash + confirmed_hash_input(
        WireFormat.PUBLIC_MESSAGE, encode(content), auth.signature
    )
    confirmed = suite.hash(transcript_input)
    new_ctx = replace(provisional, confirmed_transcript_hash=confirmed)
    tail = Writer()
    tail.push_opaque(auth.confirmation_tag or b"")

    # tree hashes: the committer's leaf, every node on its direct path, and the parent hash
    # input of every node of its filtered direct path (§7.8, §7.9)
    inputs: list[bytes] = []
    w = Writer()
    w.push_uint8(NodeType.LEAF)
    w.push_uint32(committer)
    w.push_uint8(1)
    path.leaf_node.push(w)
    inputs.append(w.data())
    for x in new_tree.direct_path(committer):
        node = new_tree.node(x)
        half = 1 << (level(x) - 1)  # distance to either child
        w = Writer()
        w.push_uint8(NodeType.PARENT)
        if isinstance(node, ParentNode):
            w.push_uint8(1)
            node.push(w)
        else:
            w.push_uint8(0)
        w.push_opaque(new_tree.node_tree_hash(x - half))
        w.push_opaque(new_tree.node_tree_hash(x + half))
        inputs.append(w.data())
    for p, s in new_tree.filtered_direct_path_with_copath(committer):
        node = new_tree.node(p)
        assert isinstance(node, ParentNode)
        w = Writer()
        w.push_opaque(node.encryption_key)
        w.push_opaque(node.parent_hash)
        w.push_opaque(new_tree.node_tree_hash(s))
        inputs.append(w.data())

    leaf_sender = tree.leaf(LeafIndex(committer))
    assert leaf_sender is not None
    return FloorInputs(
        sig_pub=leaf_sender.signature_key,
        sig_msg=_labeled(b"FramedContentTBS", tbs),
        sig=auth.signature,
        leaf_pub=path.leaf_node.signature_key,
        leaf_msg=_labeled(b"LeafNodeTBS", leaf_node_tbs(path.leaf_node, old.group_id, committer)),
        leaf_sig=path.leaf_node.signature,
        hpke_priv=priv,
        hpke_enc=ct.kem_output,
        hpke_ct=ct.ciphertext,
        hpke_info=_labeled(b"UpdatePathNode", encode(provisional)),
        k=len(fdp) - k,
        first_pub=path.nodes[k].encryption_key,
        init_secret=receiver.secrets.init_secret,
        new_context=encode(new_ctx),
        transcript_input=transcript_input,
        interim_tail=tail.data(),
        membership_key=receiver.secrets.membership_key,
        tbm=authenticated_content_tbm(tbs, auth),
        tree_inputs=inputs,
    )


FLOOR_PARTS = ("sigs", "hpke", "path", "schedule", "hashes")
FLOOR_HEAD = {
    "sigs": "2 verify",
    "hpke": "HPKE open",
    "path": "k x path",
    "schedule": "key sched",
    "hashes": "tree hash",
}

_EPOCH_LABELS = (
    "sender data",
    "encryption",
    "exporter",
    "external",
    "confirm",
    "membership",
    "resumption",
    "authentication",
    "init",
)


def time_floor(suite: CipherSuite, fi: FloorInputs, best: Best, tag: str) -> None:
    """Each component of the floor timed on its own, caches emptied first."""
    nh = suite.info.hash_len
    with timed(best, f"{tag}/sigs", suite):
        ok = suite.verify(fi.sig_pub, fi.sig_msg, fi.sig) and suite.verify(
            fi.leaf_pub, fi.leaf_msg, fi.leaf_sig
        )
    assert ok, "floor inputs: a signature does not verify"
    with timed(best, f"{tag}/hpke", suite):
        secret = suite.hpke_open(fi.hpke_priv, fi.hpke_enc, fi.hpke_info, b"", fi.hpke_ct)
    pubs = []
    with timed(best, f"{tag}/path", suite):
        s = secret
        for _ in range(fi.k):
            pubs.append(suite.kem_derive_key_pair(suite.derive_secret(s, "node")).pub)
            s = suite.derive_secret(s, "path")
    assert pubs[0] == fi.first_pub, "floor inputs: the decrypted path secret is not the UpdatePath's"
    commit_secret = s
    with timed(best, f"{tag}/schedule", suite):
        confirmed = suite.hash(fi.transcript_input)
        joiner = suite.expand_with_label(
            suite.kdf_extract(fi.init_secret, commit_secret), "joiner", fi.new_context, nh
        )
        member = suite.kdf_extract(joiner, bytes(nh))
        epoch = suite.expand_with_label(member, "epoch", fi.new_context, nh)
        derived = {label: suite.derive_secret(epoch, label) for label in _EPOCH_LABELS}
        suite.mac(derived["confirm"], confirmed)
        suite.hash(confirmed + fi.interim_tail)
        suite.mac(fi.membership_key, fi.tbm)
    with timed(best, f"{tag}/hashes", suite):
        for x in fi.tree_inputs:
            suite.hash(x)


def floor_ms(best: Best, tag: str) -> float:
    return sum(best.ms(f"{tag}/{p}") or 0.0 for p in FLOOR_PARTS)


# ---- mls-rs ------------------------------------------------------------------------------------


def rs_config(tree_in_welcome: bool = True):  # type: ignore[no-untyped-def]
    default = rs.client_config_default()
    return rs.ClientConfig(
        group_state_storage=default.group_state_storage, use_ratchet_tree_extension=tree_in_welcome
    )


def rs_client(i: int, tree_in_welcome: bool = True):  # type: ignore[no-untyped-def]
    suite = rs.CipherSuite.CURVE25519_AES128
    return rs.Client(b"member%d" % i, rs.generate_signature_keypair(suite), rs_config(tree_in_welcome))


# ---- one suite, one N --------------------------------------------------------------------------


@dataclass
class Row:
    family: str
    n: int
    tree_in_welcome: bool = True
    best: Best = field(default_factory=Best)
    ints: dict[str, int] = field(default_factory=dict)
    mem: dict[str, float | int | str] = field(default_factory=dict)


def bench_n(
    family: str,
    n: int,
    *,
    rounds: int,
    with_rs: bool,
    mem_budget: float,
    suite_id: int = 1,
    memory: bool = True,
) -> Row:
    """Every measurement of this script for one suite and N (``memory=False`` skips the
    memory part; mls-rs runs suite 1 only)."""
    if with_rs and suite_id != 1:
        raise ValueError("the mls-rs comparison runs suite 1 only")
    row = Row(family, n)
    best, ints = row.best, row.ints
    suite = get_suite(suite_id, family)
    rand = SeededRandom(n, f"group-ops-{family}" if suite_id == 1 else f"group-ops-{family}-{suite_id}")
    tag = f"{family} N={n}"

    progress(f"{tag}: {n} KeyPackages" + (" (mlssim and mls-rs)" if with_rs else ""))
    members = make_members(suite, n, rand)
    rs_clients = [rs_client(i) for i in range(n)] if with_rs else []
    rs_kps = [c.generate_key_package_message() for c in rs_clients[1:]]

    # -- add N-1 members in one commit, join from its Welcome --
    add_rounds = rounds if n < 10_000 else 2
    progress(f"{tag}: add {n - 1} members in one commit, {add_rounds} rounds")
    tree_in_welcome = n <= TREE_IN_WELCOME_MAX
    row.tree_in_welcome = tree_in_welcome
    g0 = create(suite, members[0], b"add-all", rand, None if tree_in_welcome else NO_TREE)
    kps = [m.kp for m in members[1:]]
    staged: StagedCommit | None = None
    rs_out = rs_g0 = None
    for _ in range(add_rounds):
        with timed(best, "add_nopath", suite):
            no_path = g0.commit(rand, adds=kps, path=False)
            no_path_bytes = encode(no_path.message)
            encode(no_path.welcome)  # type: ignore[arg-type]
        with timed(best, "add", suite):
            staged = g0.commit(rand, adds=kps)
            commit_bytes, welcome_bytes = encode(staged.message), encode(staged.welcome)  # type: ignore[arg-type]
        if with_rs:
            rs_g0 = rs_client(0).create_group(b"add-all")
            with timed(best, "rs/add"):
                rs_out = rs_g0.add_members(rs_kps)
                rs_commit_bytes = rs_out.commit_message.to_bytes()
                rs_welcome_bytes = rs_out.welcome_message.to_bytes()
    assert staged is not None
    g0.merge(staged)
    ints["add_commit_B"], ints["welcome_B"] = len(commit_bytes), len(welcome_bytes)
    with_tree = welcome_with_tree_length(g0, welcome_of(staged))
    if tree_in_welcome:
        assert with_tree == len(welcome_bytes), "welcome_with_tree_length is off"
    else:
        ints["welcome_B"] = with_tree
    oob = None if tree_in_welcome else staged.ratchet_tree
    ints["add_nopath_commit_B"] = len(no_path_bytes)
    del no_path
    if with_rs:
        rs_g0.process_incoming_message(rs_out.commit_message)
        ints["rs/add_commit_B"], ints["rs/welcome_B"] = len(rs_commit_bytes), len(rs_welcome_bytes)
        no_tree = rs_client(0, tree_in_welcome=False).create_group(b"add-all-no-tree")
        ints["rs/welcome_notree_B"] = len(no_tree.add_members(rs_kps).welcome_message.to_bytes())
        del no_tree

    progress(f"{tag}: join from the Welcome, {min(rounds, n - 1)} joiners")
    receiver = rs_receiver = None
    for r in range(1, min(rounds, n - 1) + 1):
        with timed(best, "join", suite):
            t0 = time.perf_counter()
            w = decode(MLSMessage, welcome_bytes).body
            best.add("join_dec", time.perf_counter() - t0)
            g = join(suite, members[r], w, oob)  # type: ignore[arg-type]
        receiver = receiver or g
        if with_rs:
            with timed(best, "rs/join"):
                rg = rs_clients[r].join_group(None, rs_out.welcome_message).group
            rs_receiver = rs_receiver or rg
    del g
    if with_rs:
        del rg
    assert receiver is not None
    sharing = clones(suite, members[1], w, oob)  # type: ignore[arg-type]
    del w, oob

    # -- path commits right after the add-all --
    progress(f"{tag}: path commits after the add-all, {rounds} rounds")
    path_rounds(suite, row, "addall", g0, (receiver, *sharing), rs_g0, rs_receiver, rand, rounds)
    del g0, receiver, sharing, staged, rs_g0, rs_receiver, rs_out

    # -- path commits in a full tree --
    progress(f"{tag}: build a full tree ({n // 2 - 1} UpdatePaths applied)")
    tree, welcome = full_tree_welcome(suite, b"full", (members[0].kp, members[1].kp), members[2:], rand)
    c0, c1 = join(suite, members[0], welcome, tree), join(suite, members[1], welcome, tree)
    sharing = clones(suite, members[1], welcome, tree)
    warm = c0.commit(rand)  # sets the parent of leaves 0 and 1
    for g in (c1, *sharing):
        g.process(warm.message)
    c0.merge(warm)
    rs_c0 = rs_c1 = None
    if with_rs:
        progress(f"{tag}: the same full tree for mls-rs")
        a, b = rs_client(0), rs_client(1)
        rs_pair = tuple(decode(MLSMessage, c.generate_key_package_message().to_bytes()).body for c in (a, b))
        rs_tree, rs_welcome = full_tree_welcome(suite, b"full-rs", rs_pair, members[2:], rand)  # type: ignore[arg-type]
        tree_arg = rs.RatchetTree(bytes=rs_tree.encode())
        welcome_msg = rs.Message.from_bytes(encode(MLSMessage(body=rs_welcome)))
        rs_c0 = a.join_group(tree_arg, welcome_msg).group
        rs_c1 = b.join_group(tree_arg, welcome_msg).group
        out = rs_c0.commit()
        rs_c1.process_incoming_message(out.commit_message)
        rs_c0.process_incoming_message(out.commit_message)
        del rs_tree, rs_welcome, tree_arg, welcome_msg
    progress(f"{tag}: path commits in the full tree, {rounds} rounds")
    path_rounds(suite, row, "full", c0, (c1, *sharing), rs_c0, rs_c1, rand, rounds)
    del c0, c1, sharing, tree, welcome, warm, rs_c0, rs_c1
    del members, rs_clients, rs_kps, kps
    gc.collect()

    # -- memory --
    if memory:
        row.mem = measure_memory(family, n, join_s=(best.ms("join") or 0.0) / 1e3, budget=mem_budget)
    return row


def welcome_with_tree_length(g0: Group, welcome: Welcome) -> int:
    """Length of the encoded add-all Welcome with the ratchet_tree extension in its GroupInfo:
    the same Welcome with an encrypted GroupInfo as long as ``g0``'s GroupInfo with the tree
    (the Welcome's is built the same way) plus the AEAD tag (16 bytes in every MLS suite)."""
    egi = bytes(len(encode(g0.group_info(with_tree=True).body)) + 16)
    return len(encode(MLSMessage(body=replace(welcome, encrypted_group_info=egi))))


def clones(suite: CipherSuite, m: Member, welcome: Welcome, tree: RatchetTree | None) -> tuple[Group, Group]:
    """Two more Groups of the same member, sharing one EpochCache: the first to process a
    commit computes its public outcome, the second (timed) finds it in the cache, as every
    member after the first does in a simulated world."""
    config = GroupConfig(epoch_cache=EpochCache())
    return join(suite, m, welcome, tree, config), join(suite, m, welcome, tree, config)


def path_rounds(
    suite: CipherSuite,
    row: Row,
    case: str,
    committer: Group,
    receivers: tuple[Group, Group, Group],
    rs_committer,  # type: ignore[no-untyped-def]
    rs_receiver,  # type: ignore[no-untyped-def]
    rand: SeededRandom,
    rounds: int,
) -> None:
    """Rounds of: mlssim empty commit, its floor, its processing (a plain receiver; then the
    same member with the outcome shared); mls-rs the same."""
    best = row.best
    receiver, first, shared = receivers
    for _ in range(rounds):
        with timed(best, f"{case}/create", suite):
            staged = committer.commit(rand)
            data = encode(staged.message)
        row.ints[f"{case}/commit_B"] = len(data)
        fi = floor_inputs(suite, receiver, staged.message, staged.ratchet_tree)
        row.ints[f"{case}/k"] = fi.k
        row.ints[f"{case}/hash_inputs"] = len(fi.tree_inputs)
        time_floor(suite, fi, best, f"{case}/floor")
        with timed(best, f"{case}/process", suite):
            t0 = time.perf_counter()
            msg = decode(MLSMessage, data)
            best.add(f"{case}/dec", time.perf_counter() - t0)
            receiver.process(msg)
        first.process(decode(MLSMessage, data))
        with timed(best, f"{case}/shared", suite):
            shared.process(decode(MLSMessage, data))
        committer.merge(staged)
        for g in receivers:
            assert g.epoch_authenticator == committer.epoch_authenticator
        if rs_committer is not None:
            with timed(best, f"rs/{case}/create"):
                out = rs_committer.commit()
                rs_data = out.commit_message.to_bytes()
            row.ints[f"rs/{case}/commit_B"] = len(rs_data)
            with timed(best, f"rs/{case}/process"):
                rs_receiver.process_incoming_message(out.commit_message)
            rs_committer.process_incoming_message(out.commit_message)
            assert rs_receiver.export_secret(b"x", b"", 16) == rs_committer.export_secret(b"x", b"", 16)


# ---- memory ------------------------------------------------------------------------------------


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure_memory(family: str, n: int, *, join_s: float, budget: float) -> dict[str, float | int | str]:
    """Bytes held by a group of N members, as the simulator holds them: the creator plus
    members joined from its add-all Welcome with the tree passed out of band (one shared tree),
    all with one EpochCache. All N members if their joins fit ``budget`` seconds, else an
    evenly spaced sample and a projection. Measured after the joins and again after every
    member processed one path commit by the creator."""
    tracing_slowdown = 2.0
    if (n - 1) * join_s * tracing_slowdown <= budget:
        joiners = list(range(1, n))
    else:
        s = max(4, min(32, int(budget / max(join_s * tracing_slowdown, 1e-6))))
        joiners = sorted({1 + (k * (n - 1)) // s for k in range(s)})
    all_in = len(joiners) == n - 1
    progress(
        f"{family} N={n}: memory, {'all' if all_in else len(joiners)} members join "
        f"(tracemalloc on, ~{len(joiners) * join_s * tracing_slowdown:.0f} s)"
    )
    suite = get_suite(1, family)  # a fresh world (a fresh model registry)
    rand = SeededRandom(n, f"group-ops-memory-{family}")
    config = GroupConfig(ratchet_tree_in_welcome=False, epoch_cache=EpochCache())
    gc.collect()
    tracemalloc.start()
    try:
        members = make_members(suite, n, rand)
        g0 = create(suite, members[0], b"memory", rand, config)
        staged = g0.commit(rand, adds=[m.kp for m in members[1:]])
        g0.merge(staged)
        welcome_notree_B = len(encode(staged.welcome))  # type: ignore[arg-type]
        tree, welcome = staged.ratchet_tree, welcome_of(staged)
        del staged
        # the first join may build caches of the shared tree: not a member's cost
        groups = [join(suite, members[joiners[0]], welcome, tree, config)]
        before = traced()
        groups += [join(suite, members[i], welcome, tree, config) for i in joiners[1:]]
        per_join = (traced() - before) / max(1, len(joiners) - 1)
        # one member's own copy of the tree, as when each decodes it from the Welcome
        before = traced()
        copy = RatchetTree.from_nodes(suite, decode_ratchet_tree(tree.encode()))
        tree_copy_B = traced() - before
        del copy, members, welcome, tree
        after_join = traced()
        staged = g0.commit(rand)
        g0.merge(staged)
        # the first member computes the commit's public outcome (the new tree: an O(N) copy of
        # the node list; the key indexes are derived from the old tree's) for all: not a
        # per-member cost either
        groups[0].process(staged.message)
        before = traced()
        for g in groups[1:]:
            g.process(staged.message)
        per_commit = (traced() - before) / max(1, len(groups) - 1)
        del staged, g
        after_commit = traced()
    finally:
        tracemalloc.stop()
    s = len(joiners)
    return {
        "instantiated": n if all_in else s + 1,
        "kind": "measured" if all_in else "projected",
        "shared_B": after_join - s * per_join,
        "per_member_B": per_join,
        "total_B": after_join + (n - 1 - s) * per_join,
        "shared_commit_B": after_commit - s * per_commit,
        "per_member_commit_B": per_commit,
        "total_commit_B": after_commit + (n - 1 - s) * per_commit,
        "tree_copy_B": tree_copy_B,
        "welcome_notree_B": welcome_notree_B,
    }


# ---- report ------------------------------------------------------------------------------------


def summary(row: Row) -> str:
    """One line per (suite, N) for stderr, so that an interrupted run still leaves its numbers."""
    b = row.best
    out = [f"{row.family} N={row.n:,} (ms):"]
    for case in ("full", "addall"):
        out.append(
            f"{case} create {fmt_ms(b.ms(f'{case}/create'))} process {fmt_ms(b.ms(f'{case}/process'))} "
            f"shared {fmt_ms(b.ms(f'{case}/shared'))} floor {floor_ms(b, f'{case}/floor'):.2f}"
            f" rs {fmt_ms(b.ms(f'rs/{case}/create'))}/{fmt_ms(b.ms(f'rs/{case}/process'))};"
        )
    out.append(f"add {fmt_ms(b.ms('add'))} np {fmt_ms(b.ms('add_nopath'))} join {fmt_ms(b.ms('join'))}")
    out.append(f"rs {fmt_ms(b.ms('rs/add'))}/{fmt_ms(b.ms('rs/join'))};")
    if row.mem:
        m = row.mem
        out.append(f"per member {fmt_size(float(m['per_member_B']))}, total {fmt_size(float(m['total_B']))}")
    return " ".join(out)


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def fmt_int(v: int | float | None) -> str:
    return "-" if v is None else f"{int(v):,}"


def fmt_size(b: float) -> str:
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= k:
            return f"{b / k:.2f} {unit}"
    return f"{b:.0f} B"


def table(head: list[str], rows: list[list[str]], left: int = 2) -> None:
    widths = (
        [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        if rows
        else [len(h) for h in head]
    )
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}"
    return f"{platform.node()}: {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {system}"


Col = tuple[str, Callable[[Row, str], str]]

CASES = (("full", "full"), ("addall", "add-all"))


def _ms(key: str) -> Callable[[Row, str], str]:
    return lambda r, c: fmt_ms(r.best.ms(key.format(c=c)))


def _ratio(a: str, b: str) -> Callable[[Row, str], str]:
    return lambda r, c: fmt_ratio(r.best.ms(a.format(c=c)), r.best.ms(b.format(c=c)))


def _int(key: str) -> Callable[[Row, str], str]:
    return lambda r, c: fmt_int(r.ints.get(key.format(c=c)))


def _floor_ratio(key: str) -> Callable[[Row, str], str]:
    return lambda r, c: fmt_ratio(r.best.ms(key.format(c=c)), floor_ms(r.best, f"{c}/floor"))


def _size(key: str) -> Callable[[Row, str], str]:
    return lambda r, c: fmt_size(float(r.mem[key]))


PATH_COLS: list[Col] = [
    ("R", lambda r, c: str(r.ints.get("rounds", ""))),
    ("create", _ms("{c}/create")),
    ("process", _ms("{c}/process")),
    ("dec", _ms("{c}/dec")),
    ("shared", _ms("{c}/shared")),
    ("floor", lambda r, c: fmt_ms(floor_ms(r.best, f"{c}/floor"))),
    ("k", _int("{c}/k")),
    ("proc/floor", _floor_ratio("{c}/process")),
    ("shared/floor", _floor_ratio("{c}/shared")),
    ("commit B", _int("{c}/commit_B")),
    ("rs create", _ms("rs/{c}/create")),
    ("rs process", _ms("rs/{c}/process")),
    ("rs commit B", _int("rs/{c}/commit_B")),
    ("create x", _ratio("{c}/create", "rs/{c}/create")),
    ("process x", _ratio("{c}/process", "rs/{c}/process")),
]
FLOOR_COLS: list[Col] = [
    ("k", _int("{c}/k")),
    *[(FLOOR_HEAD[p], lambda r, c, p=p: f"{r.best.ms(f'{c}/floor/{p}') or 0:.3f}") for p in FLOOR_PARTS],
    ("hash inputs", _int("{c}/hash_inputs")),
    ("floor", lambda r, c: f"{floor_ms(r.best, f'{c}/floor'):.3f}"),
    ("process", _ms("{c}/process")),
    ("ratio", _floor_ratio("{c}/process")),
]
ADD_COLS: list[Col] = [
    ("add", _ms("add")),
    ("add np", _ms("add_nopath")),
    ("join", _ms("join")),
    ("dec", _ms("join_dec")),
    ("commit B", _int("add_commit_B")),
    ("np commit B", _int("add_nopath_commit_B")),
    ("Welcome B", _int("welcome_B")),
    ("no tree B", lambda r, c: fmt_int(r.mem.get("welcome_notree_B"))),
    ("rs add", _ms("rs/add")),
    ("rs join", _ms("rs/join")),
    ("rs commit B", _int("rs/add_commit_B")),
    ("rs Welcome B", _int("rs/welcome_B")),
    ("rs no tree B", _int("rs/welcome_notree_B")),
    ("add x", _ratio("add_nopath", "rs/add")),
    ("join x", _ratio("join", "rs/join")),
]
MEMORY_COLS: list[Col] = [
    ("instantiated", lambda r, c: fmt_int(r.mem["instantiated"])),
    ("", lambda r, c: str(r.mem["kind"])),
    ("shared", _size("shared_B")),
    ("per member", _size("per_member_B")),
    ("total", _size("total_B")),
    ("shared, 1 commit", _size("shared_commit_B")),
    ("per member", _size("per_member_commit_B")),
    ("total", _size("total_commit_B")),
    ("own tree", _size("tree_copy_B")),
    (
        "total, own trees",
        lambda r, c: fmt_size(float(r.mem["total_B"]) + (r.n - 1) * float(r.mem["tree_copy_B"])),
    ),
]


def print_table(rows: list[Row], cols: list[Col], *, per_case: bool) -> None:
    head = ["suite", *(["tree"] if per_case else []), "N", *(h for h, _ in cols)]
    body = []
    for r in rows:
        n = fmt_int(r.n) + ("" if r.tree_in_welcome or cols is not ADD_COLS else "*")
        for case, label in CASES if per_case else (("", ""),):
            body.append([r.family, *([label] if per_case else []), n, *(f(r, case) for _, f in cols)])
    table(head, body, left=2 if per_case else 1)


def report(rows: list[Row], args: argparse.Namespace, wall: float) -> None:
    import cryptography

    rs_version = "not installed"
    if rs is not None:
        from importlib.metadata import version

        rs_version = f"agentvault-mls-rs-uniffi {version('agentvault-mls-rs-uniffi')}"
    skipped = " (skipped: --no-mlsrs)" if args.no_mlsrs else ""
    print(f"""mlssim group operations (benchmarks/group_ops.py)
machine: {machine()}
python {platform.python_version()}, cryptography {cryptography.__version__}, mls-rs: {rs_version}{skipped}
suite 1 MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: real = mlssim on cryptography; model = mlssim's
  hash-based twin (same sizes; real hash/HKDF/AEAD); mls-rs (real only) through its Python binding
times: ms, min over R interleaved rounds, GC off while timed, mlssim's crypto caches emptied before
  each timed op; bytes: len of the encoded MLSMessage; x = mlssim / mls-rs

1. Empty (path-only) commit by leaf 0, processed by leaf 1 (its sibling: decrypts at the bottom
   and derives all k path nodes).  tree: full = every parent node set, one ciphertext per copath
   node; add-all = right after the creator added N-1 members, the copath resolutions hold all
   other leaves.  process includes decoding the commit (dec); shared = process by a member whose
   EpochCache already holds the commit's public outcome (every member but the first, in a
   simulated world); floor = RFC 9420's primitive operations for this receiver (table 2).""")
    print_table(rows, PATH_COLS, per_case=True)
    print("""
2. The floor of processing that commit, by part (each part min over rounds): 2 verify = FramedContentTBS
   and UpdatePath LeafNodeTBS signatures; one HPKE open; k x (DeriveSecret node, DeriveKeyPair,
   DeriveSecret path); key sched = one epoch (2 Extract, 2 ExpandWithLabel, 9 DeriveSecret), both
   transcript hashes, confirmation and membership MACs; tree hash = hashes of the TreeHashInputs
   (committer's leaf and direct path) and ParentHashInputs (its filtered direct path)""")
    print_table(rows, FLOOR_COLS, per_case=True)
    print(f"""
3. Add N-1 members in one commit and join from that Welcome (one joiner; join includes decoding the
   Welcome: dec).  add = with the creator's UpdatePath (mlssim's default: its Welcome gives each
   joiner a path secret); add np = path=False, as the mls-rs binding's add_members (no UpdatePath),
   hence add x = add np / rs add.  Welcome B: ratchet tree in the Welcome; no tree B:
   GroupConfig(ratchet_tree_in_welcome=False) / use_ratchet_tree_extension=False.  N*: above
   {TREE_IN_WELCOME_MAX:,}, add and join run with the tree out of band (as the simulator passes it) and
   Welcome B is the computed length with the tree""")
    print_table(rows, ADD_COLS, per_case=False)
    print("""
4. Memory (tracemalloc) of the creator and members joined from its add-all Welcome with the tree
   passed out of band (one shared tree) and one EpochCache, as the simulator holds them; model:
   with the world's key registry.  Once joined, and once every member processed one path commit
   of the creator (1 commit).  shared = creator, tree, registry; per member = growth per member;
   total = measured if all N are instantiated, else projected as shared + (N-1) x per member.
   own tree = one decoded tree: what each member adds if it keeps the tree from its Welcome
   (Group.join without ratchet_tree=)""")
    print_table([r for r in rows if r.mem], MEMORY_COLS, per_case=False)
    print("\nTargets")
    targets(rows)
    print(f"\ntotal wall time {wall:.0f} s")


def targets(rows: list[Row]) -> None:
    found = False
    for row in (r for r in rows if r.family == "real" and r.n == TARGET_N):
        for case, label in CASES:
            fl = floor_ms(row.best, f"{case}/floor")
            for key, who in (("process", "process"), ("shared", "process, outcome shared")):
                p = row.best.ms(f"{case}/{key}")
                if p is None or not fl:
                    continue
                found = True
                verdict = "met" if p / fl <= TARGET_RATIO else "NOT met"
                print(
                    f"  {who} <= {TARGET_RATIO}x floor at N = {TARGET_N:,} (real, {label}): "
                    f"{p:.2f} ms / {fl:.2f} ms = {p / fl:.2f}x -> {verdict}"
                )
    if not found:
        print(f"  process vs floor at N = {TARGET_N:,} (real): not run")
    for family in ("real", "model"):
        cand = [r for r in rows if r.family == family and r.mem]
        if not cand:
            continue
        r = next((r for r in cand if r.n == MEMORY_N), None)
        if r is not None:
            total = max(float(r.mem["total_B"]), float(r.mem["total_commit_B"]))
            how = f"{r.mem['kind']}, {fmt_int(r.mem['instantiated'])} of {r.n:,} members instantiated"
        else:  # project from the largest N run
            r = max(cand, key=lambda x: x.n)
            total = max(
                float(r.mem[shared]) * MEMORY_N / r.n + (MEMORY_N - 1) * float(r.mem[per])
                for shared, per in (("shared_B", "per_member_B"), ("shared_commit_B", "per_member_commit_B"))
            )
            how = f"projected from N = {r.n:,}, shared part scaled linearly"
        verdict = "met" if total < MEMORY_LIMIT else "NOT met"
        print(
            f"  {MEMORY_N:,} members instantiated < 8 GiB ({family}, larger of joined / after 1 commit): "
            f"{fmt_size(total)} ({how}) -> {verdict}"
        )
        largest = max((x for x in cand if x.mem["kind"] == "measured"), key=lambda x: x.n, default=None)
        if largest is not None:
            print(f"    largest N with every member instantiated ({family}): {largest.n:,}")


# ---- main --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help=f"N up to {QUICK_MAX:,}, 3 rounds (< 2 min)")
    ap.add_argument("--sizes", help="comma-separated N values (for both suites), e.g. 10,100")
    ap.add_argument("--no-mlsrs", action="store_true", help="skip the mls-rs comparison")
    args = ap.parse_args()
    if args.sizes:
        sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
        if any(n < 3 for n in sizes):
            ap.error("N must be at least 3")
        plan = [("real", n) for n in sizes] + [("model", n) for n in sizes]
    else:
        limit = QUICK_MAX if args.quick else math.inf
        plan = [("real", n) for n in REAL_SIZES if n <= limit] + [
            ("model", n) for n in MODEL_SIZES if n <= limit
        ]
    with_rs = rs is not None and not args.no_mlsrs
    if rs is None and not args.no_mlsrs:
        progress("mls_rs_uniffi is not installed: mls-rs columns stay empty")
    budget = 15.0 if args.quick else 90.0  # seconds of traced joins per (suite, N)
    rows = []
    # interleave suites by size so that partial output is useful
    plan.sort(key=lambda fn: (fn[1], fn[0] != "real"))
    for family, n in plan:
        r = rounds_for(n, args.quick)
        row = bench_n(family, n, rounds=r, with_rs=with_rs and family == "real", mem_budget=budget)
        row.ints["rounds"] = r
        rows.append(row)
        progress(summary(row))
    rows.sort(key=lambda x: (x.family != "real", x.n))
    report(rows, args, time.perf_counter() - _T0)


if __name__ == "__main__":
    main()
