"""The ``pre`` reading at the core (``assist/pre_path.py``): the split-commit draft whose path
secrets the committer PRE-encrypts once under its own key and the DS re-encrypts for each member.
A group follows adds, removes, updates and empty commits under it, with the real Umbral primitive
and the model twin, and reaches exactly the epochs of the same run under ``split`` (the draft's
transcript, so the authenticators of a ``split`` run, not of a ``plain`` one); the bytes are the
exact encodings; tampering and wrong keys are rejected; the knowledge rules hold."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import pytest

from mlssim.assist.pre import PRE, get_pre
from mlssim.assist.pre_path import (
    Holdings,
    KfragEntry,
    KfragStore,
    PREAnnouncement,
    PREDeposit,
    PREKeys,
    announce,
    deposit,
    deposit_batch_size,
    deposit_size,
    encode_batch,
    new_pre_keys,
    open_capsule,
    openable_delegators,
    path_secrets_opened,
    pre_framing,
    pre_opener,
    reencrypting_projection,
    unpack_download,
)
from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import CryptoError, MLSError
from mlssim.mls.group import StagedCommit
from mlssim.mls.messages import IndividualCommit, MLSMessage, SCommit
from mlssim.mls.messages.tree import HPKECiphertext, IndividualUpdatePath
from mlssim.mls.rand import SeededRandom
from mlssim.mls.split_commit import SPLIT_FRAMING, project_all
from mlssim.mls.treekem import PathSecretDecryptionError
from mlssim.mls.treemath import LeafIndex

from .group_harness import Harness, roundtrip
from .test_pre_store import FAMILIES


@dataclass
class Run:
    """A group driven commit by commit under ``split`` or ``pre``; every commit's randomness is
    its own stream, so both readings draw the same path secrets."""

    family: str
    mode: str  # "split" or "pre"
    refresh: bool = False  # pre: a committer refreshes its PRE keys with each of its commits
    seed: int = 3
    h: Harness = field(init=False)
    pre: PRE = field(init=False)
    store: KfragStore = field(default_factory=KfragStore)
    keys: dict[str, PREKeys] = field(default_factory=dict)
    pre_rand: SeededRandom = field(init=False)
    authenticators: list[bytes] = field(default_factory=list)
    uploads: list[tuple[int, int]] = field(default_factory=list)  # (bytes, ciphertexts)
    downloads: list[int] = field(default_factory=list)
    deposit_bytes: int = 0
    reencryptions: int = 0
    #: the last commit's SCommit and projections (for the knowledge tests)
    last: tuple[str, SCommit, dict[LeafIndex, IndividualCommit]] | None = None
    #: every kfrag the DS was ever given (a DS that keeps what an honest one drops)
    all_kfrags: list[KfragEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.h = Harness(get_suite(1, self.family), seed=self.seed)
        self.pre = get_pre(self.family)
        self.pre_rand = SeededRandom(self.seed, "pre")

    # -- PRE keys and deposits ------------------------------------------------------------------

    def _leaf(self, name: str) -> int:
        return int(self.h.members[name].leaf_index)

    def _announce(self, name: str, keys: PREKeys) -> PREAnnouncement:
        self.keys[name] = keys
        g = self.h.members[name]
        ann = roundtrip_ann(
            announce(
                self.h.suite, g.group_id, self._leaf(name), keys, self.h.clients[name].identity.signature_priv
            )
        )
        for other, og in self.h.members.items():  # every member checks it against the tree
            if other != name:
                leaf = og.tree.leaf(LeafIndex(ann.leaf))
                assert leaf is not None and ann.verify(self.h.suite, leaf.signature_key)
        self.store.announce(ann)
        return ann

    def _deposit(self, frm: str, to: str) -> None:
        dep = deposit(
            self.pre,
            self._leaf(frm),
            self.keys[frm],
            self._leaf(to),
            self.store.announcements[self._leaf(to)],
            self.pre_rand,
        )
        batch = encode_batch(self.h.group_id, [dep])
        assert len(batch) == deposit_batch_size(self.pre, self.h.group_id, 1)
        assert len(dep.encoded()) == deposit_size(self.pre)
        self.deposit_bytes += len(dep.encoded())
        self.store.deposit(dep)
        self.all_kfrags.append(self.store.entry(dep.delegator, dep.receiver))

    def new_key(self, name: str) -> None:
        """A join or a refresh: the owner deposits to everyone, everyone to the owner."""
        gen = self.keys[name].generation + 1 if name in self.keys else 0
        self._announce(name, new_pre_keys(self.pre, self.pre_rand, gen))
        for other in sorted(self.h.members):
            if other != name and other in self.keys:
                self._deposit(name, other)
                self._deposit(other, name)

    # -- one commit -----------------------------------------------------------------------------

    def commit(self, committer: str, step: int, **kw: object) -> StagedCommit:
        g = self.h.members[committer]
        rand = SeededRandom(self.seed, f"commit/{step}")
        if self.mode == "split":
            return g.commit(rand, framing=SPLIT_FRAMING, **kw)  # type: ignore[arg-type]
        if self.refresh:
            gen = self.keys[committer].generation + 1
            self._announce(committer, new_pre_keys(self.pre, self.pre_rand, gen))
            for other in sorted(self.h.members):
                if other != committer:
                    self._deposit(committer, other)
        framing = pre_framing(self.pre, self.keys[committer].key.pub, self.pre_rand)
        return g.commit(rand, framing=framing, **kw)  # type: ignore[arg-type]

    def deliver(self, committer: str, staged: StagedCommit) -> None:
        whole = roundtrip(staged.message)
        sc = whole.body
        assert isinstance(sc, SCommit)
        sender = self._leaf(committer)
        exclude = frozenset(int(x) for x in staged.added)
        cts = 0 if sc.path is None else sum(len(n.encrypted_path_secret) for n in sc.path.nodes)
        self.uploads.append((len(encode(staged.message)), cts))
        if self.mode == "split":
            individual = dict(project_all(sc, staged.ratchet_tree, sender, exclude))
        else:
            assert sc.path is None or all(len(n.encrypted_path_secret) <= 1 for n in sc.path.nodes)
            proj = reencrypting_projection(
                self.pre, sc, staged.ratchet_tree, sender, exclude, self.store.entry
            )
            individual = dict(proj.individual)
            self.reencryptions += proj.reencryptions
            self.last = (committer, sc, individual)
        for leaf in staged.removed:
            individual[leaf] = IndividualCommit(sheader=sc.sheader)
        ann = self.store.announcements.get(sender)
        for name, g in list(self.h.members.items()):
            if name == committer:
                g.merge(staged)
                continue
            msg = roundtrip(MLSMessage(body=individual[g.leaf_index]))
            self.downloads.append(len(encode(msg)))
            opener = None
            if self.mode == "pre":
                assert ann is not None
                opener = pre_opener(self.pre, self.keys[name].key.priv, ann.pre_key, ann.signer_key)
            res = g.process(msg, opener=opener)
            if getattr(res, "removed_me", False):
                del self.h.members[name]
        if self.mode == "pre":
            for leaf in staged.removed:
                self.store.drop(int(leaf))
            for name in [n for n in self.keys if n not in self.h.members]:
                del self.keys[name]
        if staged.welcome is not None:
            self.h.join_by_welcome(staged)
        self.h.check()
        if self.mode == "pre":
            for name in sorted(self.h.members):
                if name not in self.keys:
                    self.new_key(name)
            if self.refresh and sc.path is not None:
                for other in sorted(self.h.members):
                    if other != committer:
                        self._deposit(other, committer)
        self.authenticators.append(next(iter(self.h.members.values())).epoch_authenticator)

    def start(self, n: int) -> None:
        self.h.create("m0")
        self.h.add("m0", *[f"m{i}" for i in range(1, n)])
        if self.mode == "pre":
            for name in sorted(self.h.members):
                self.new_key(name)

    def follow(self, commits: int, seed: int = 11) -> dict[str, int]:
        """``commits`` commits: adds, removes, updates (Update proposals committed by reference,
        and path updates) and empty commits, chosen by a seeded stream."""
        rng = random.Random(seed)
        fresh = 100
        kinds = {"add": 0, "remove": 0, "update": 0, "empty": 0}
        for step in range(commits):
            names = sorted(self.h.members)
            committer = rng.choice(names)
            kind = ["add", "remove", "update", "empty"][step % 4]
            kinds[kind] += 1
            kw: dict[str, object] = {}
            if kind == "add":
                kw["adds"] = [
                    self.h.client(f"m{fresh + i}").bundle.key_package for i in range(rng.randint(1, 2))
                ]
                fresh += 2
            elif kind == "remove":
                victims = rng.sample([x for x in names if x != committer], rng.randint(1, 2))
                kw["removes"] = [self.h.members[v].leaf_index for v in victims]
            elif kind == "update":
                proposer = rng.choice([x for x in names if x != committer])
                self.h.broadcast(self.h.members[proposer].propose_update(self.h.rand), proposer)
            staged = self.commit(committer, step, **kw)
            self.deliver(committer, staged)
        return kinds


def roundtrip_ann(a: PREAnnouncement) -> PREAnnouncement:
    return PREAnnouncement.decode(a.encoded())


# ---- end to end --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_pre_reaches_the_epochs_of_split(family: str) -> None:
    """8 members, 24 commits (6 of each kind, group size 7–11): every member agrees on every
    epoch authenticator (``Harness.check``), and they are those of the same run under ``split``."""
    runs = {}
    for mode in ("split", "pre"):
        r = Run(family, mode)
        r.start(8)
        kinds = r.follow(24)
        assert min(kinds.values()) == 6
        runs[mode] = r
    split, pre = runs["split"], runs["pre"]
    assert len(pre.authenticators) == 24 and len(set(pre.authenticators)) == 24
    assert pre.authenticators == split.authenticators
    # one PRE ciphertext per path node (≤ log N), where split has one per resolution node
    assert all(c <= 4 for _, c in pre.uploads)
    assert sum(c for _, c in pre.uploads) < sum(c for _, c in split.uploads)
    assert pre.reencryptions > 0 and pre.deposit_bytes > 0


def test_refreshing_keys_with_each_commit_reaches_the_same_epochs() -> None:
    """Under the refresh policy (a committer's new PRE keys with each of its commits: it deposits
    to everyone, everyone to it) the epochs are the same, and the deposits cost more."""
    plain_keys, refreshed = Run("model", "pre"), Run("model", "pre", refresh=True)
    for r in (plain_keys, refreshed):
        r.start(8)
        r.follow(12)
    assert refreshed.authenticators == plain_keys.authenticators
    assert refreshed.deposit_bytes > plain_keys.deposit_bytes


def test_bytes_are_the_exact_encodings() -> None:
    """The upload is the SCommit (≤ 1 ciphertext per path node: capsule + DEM ciphertext); each
    download is one IndividualCommit whose ciphertext is capsule ‖ cfrag + DEM ciphertext, plus
    the keys below the member's slot; every deposit is 16 B + the kfrag."""
    r = Run("model", "pre")
    r.start(10)
    before = r.deposit_bytes
    assert before == 10 * 9 * deposit_size(r.pre)
    assert deposit_size(r.pre) == 16 + 2 + r.pre.kfrag_size == 328
    staged = r.commit("m3", 0)
    sc = staged.message.body
    assert isinstance(sc, SCommit) and sc.path is not None
    depth = len(sc.path.nodes)
    assert depth == 4
    for node in sc.path.nodes:
        (ct,) = node.encrypted_path_secret
        assert len(ct.kem_output) == r.pre.capsule_size and len(ct.ciphertext) == r.pre.ciphertext_size(32)
    r.deliver("m3", staged)
    up, cts = r.uploads[-1]
    assert up == len(encode(staged.message)) and cts == depth
    assert r.last is not None
    _, _, individual = r.last
    for ic in individual.values():
        assert ic.path is not None
        capsule, cfrag, dem = unpack_download(r.pre, ic.path.encrypted_path_secret)
        assert (len(capsule), len(cfrag), len(dem)) == (105, 381, 72)
        expected = len(encode(MLSMessage(body=IndividualCommit(sheader=sc.sheader)))) + len(encode(ic.path))
        assert len(encode(MLSMessage(body=ic))) == expected
    assert sorted(r.downloads[-9:]) == sorted(len(encode(MLSMessage(body=ic))) for ic in individual.values())
    assert r.reencryptions == 9 and r.deposit_bytes == before


def test_a_wrong_key_or_an_altered_download_is_rejected() -> None:
    """A download re-encrypted for another member, or altered, does not open; the receiver is
    unchanged."""
    r = Run("model", "pre")
    r.start(8)
    staged = r.commit("m0", 0)
    sc = staged.message.body
    assert isinstance(sc, SCommit)
    proj = reencrypting_projection(r.pre, sc, staged.ratchet_tree, 0, frozenset(), r.store.entry)
    victim = r.h.members["m5"]
    ann = r.store.announcements[0]
    opener = pre_opener(r.pre, r.keys["m5"].key.priv, ann.pre_key, ann.signer_key)
    other = proj.individual[LeafIndex(4)]
    mine = proj.individual[victim.leaf_index]
    assert mine.path is not None and other.path is not None
    ct = mine.path.encrypted_path_secret
    flipped = HPKECiphertext(
        kem_output=ct.kem_output, ciphertext=ct.ciphertext[:-1] + bytes([ct.ciphertext[-1] ^ 1])
    )
    for bad in (
        replace(mine, path=replace(mine.path, encrypted_path_secret=other.path.encrypted_path_secret)),
        replace(mine, path=IndividualUpdatePath(encrypted_path_secret=flipped, new_pks=mine.path.new_pks)),
    ):
        epoch = victim.epoch
        with pytest.raises(PathSecretDecryptionError):
            victim.process(roundtrip(MLSMessage(body=bad)), opener=opener)
        assert victim.epoch == epoch
    # without the PRE opener, the default HPKE open fails too (the DS's bytes are no HPKE)
    with pytest.raises(MLSError):
        victim.process(roundtrip(MLSMessage(body=mine)))
    victim.process(roundtrip(MLSMessage(body=mine)), opener=opener)
    assert victim.epoch == r.h.members["m1"].epoch + 1


def test_a_forged_announcement_does_not_verify() -> None:
    """A DS that substitutes its own PRE key in a member's announcement is caught: the
    signature is by the member's MLS signature key."""
    r = Run("model", "pre")
    r.start(4)
    ann = r.store.announcements[2]
    forged = replace(ann, pre_key=new_pre_keys(r.pre, r.pre_rand, 9).key.pub)
    sig_key = r.h.members["m0"].tree.leaf(LeafIndex(2))
    assert sig_key is not None
    assert ann.verify(r.h.suite, sig_key.signature_key)
    assert not forged.verify(r.h.suite, sig_key.signature_key)
    assert PREDeposit.pull  # the wire structs round-trip
    dep = next(iter(r.store.kfrags.values()))
    from mlssim.mls.codec import Reader

    assert PREDeposit.pull(Reader(dep.encoded())) == dep


# ---- knowledge rules --------------------------------------------------------------------------


def _committed(family: str, refresh: bool = False) -> Run:
    r = Run(family, "pre", refresh=refresh)
    r.start(8)
    r.deliver("m1", r.commit("m1", 0))
    return r


@pytest.mark.parametrize("family", FAMILIES)
def test_the_ds_alone_opens_nothing(family: str) -> None:
    """Every kfrag, capsule, cfrag and public key the DS ever held opens no path secret."""
    r = _committed(family)
    assert r.last is not None
    _, sc, individual = r.last
    ann = r.store.announcements[1]
    h = Holdings(secret_keys={}, kfrags=tuple(r.all_kfrags))
    assert openable_delegators(h) == frozenset()
    assert (
        path_secrets_opened(
            r.pre,
            h,
            ann.pre_key,
            ann.signer_key,
            sc,
            [ic.path.encrypted_path_secret for ic in individual.values() if ic.path is not None],
        )
        == {}
    )
    # nor does treating a kfrag as a key
    assert sc.path is not None
    ct = sc.path.nodes[0].encrypted_path_secret[0]
    for k in r.all_kfrags[:3]:
        with pytest.raises(CryptoError):
            r.pre.decrypt_original(k.kfrag[:32], ct.kem_output, ct.ciphertext)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_ds_with_a_current_member_opens_every_path_secret(family: str) -> None:
    """A member's PRE secret key and the DS's kfrag committer → member open every node of the
    committer's path, also those below the member's slot (which it does not learn alone): the
    collusion, performed with the scheme's calls."""
    r = _committed(family)
    assert r.last is not None
    _, sc, individual = r.last
    ann = r.store.announcements[1]
    assert sc.path is not None
    slots_seen = set()
    for m in sorted(r.h.members):
        if m == "m1":
            continue
        leaf = int(r.h.members[m].leaf_index)
        alone = Holdings(secret_keys={r.keys[m].key.pub: r.keys[m].key.priv})
        mine = individual[LeafIndex(leaf)]
        assert mine.path is not None
        seen = path_secrets_opened(
            r.pre, alone, ann.pre_key, ann.signer_key, sc, [mine.path.encrypted_path_secret]
        )
        k = len(mine.path.new_pks)
        slots_seen.add(k)
        assert sorted(seen) == [k]  # alone: its own slot, as a member should
        with_ds = Holdings(secret_keys=alone.secret_keys, kfrags=(r.store.entry(1, leaf),))
        assert openable_delegators(with_ds) == {ann.pre_key, r.keys[m].key.pub}
        opened = path_secrets_opened(r.pre, with_ds, ann.pre_key, ann.signer_key, sc)
        assert sorted(opened) == list(range(len(sc.path.nodes)))
        assert opened[k] == seen[k]
    assert len(slots_seen) == len(sc.path.nodes) == 3


@pytest.mark.parametrize("refresh", [False, True])
def test_the_ds_with_a_removed_member(refresh: bool) -> None:
    """A removed member's PRE key with the kfrags a DS kept (an honest one drops them) opens the
    path secrets of later commits by a committer whose PRE key has not changed since: without
    refreshes, removal does not exclude it; with a refresh at each commit, the next commit of
    each committer is closed to it."""
    r = Run("model", "pre", refresh=refresh)
    r.start(8)
    victim = "m6"
    held = {r.keys[victim].key.pub: r.keys[victim].key.priv}
    r.deliver("m2", r.commit("m2", 0, removes=[r.h.members[victim].leaf_index]))
    assert victim not in r.h.members
    assert all(6 not in pair for pair in r.store.kfrags)  # the honest DS dropped them
    r.deliver("m1", r.commit("m1", 1))
    assert r.last is not None
    _, sc, _ = r.last
    ann = r.store.announcements[1]
    honest = Holdings(secret_keys=held, kfrags=tuple(r.store.entry(*p) for p in r.store.kfrags))
    assert path_secrets_opened(r.pre, honest, ann.pre_key, ann.signer_key, sc) == {}
    kept = Holdings(secret_keys=held, kfrags=tuple(r.all_kfrags))
    opened = path_secrets_opened(r.pre, kept, ann.pre_key, ann.signer_key, sc)
    assert sc.path is not None
    if refresh:
        assert opened == {}
    else:
        assert sorted(opened) == list(range(len(sc.path.nodes)))
        assert (
            open_capsule(
                r.pre, kept, ann.pre_key, sc.path.nodes[0].encrypted_path_secret[0].kem_output, b"x" * 40
            )
            is None
        )
