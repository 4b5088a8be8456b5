"""In-memory MLS groups for tests: pass messages between members, assert agreement.

Modelled on h11's ConnectionPair: after every step, all members agree on epoch, tree
hash, epoch authenticator and an exported secret (STYLE.md pattern 11).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import CipherSuite
from mlssim.mls.group import CommitApplied, Group, GroupConfig, MemberIdentity, ProcessResult, StagedCommit
from mlssim.mls.group_validation import TreeKeyIndex
from mlssim.mls.key_packages import KeyPackageBundle, make_key_package
from mlssim.mls.messages import Credential, GroupInfo, Lifetime, MLSMessage, Welcome
from mlssim.mls.rand import SeededRandom
from mlssim.mls.ratchet_tree import RatchetTree

FOREVER = Lifetime(not_before=0, not_after=2**63)


def roundtrip(msg: MLSMessage) -> MLSMessage:
    """Every message crosses the 'network' as bytes."""
    return decode(MLSMessage, encode(msg))


@dataclass
class Client:
    name: str
    identity: MemberIdentity
    bundle: KeyPackageBundle


def make_client(suite: CipherSuite, name: str, rand: SeededRandom) -> Client:
    sig = suite.signature_key_pair(rand)
    cred = Credential.basic(name.encode())
    bundle = make_key_package(suite, credential=cred, signature_key_pair=sig, rand=rand, lifetime=FOREVER)
    identity = MemberIdentity(
        credential=cred,
        signature_priv=sig.priv,
        signature_key=sig.pub,
        capabilities=bundle.key_package.leaf_node.capabilities,
    )
    return Client(name, identity, bundle)


def fresh_key_package(suite: CipherSuite, client: Client, rand: SeededRandom) -> Client:
    from mlssim.mls.crypto import KeyPair

    bundle = make_key_package(
        suite,
        credential=client.identity.credential,
        signature_key_pair=KeyPair(client.identity.signature_priv, client.identity.signature_key),
        rand=rand,
        lifetime=FOREVER,
    )
    return Client(client.name, client.identity, bundle)


class Harness:
    """A group whose members live in one process; ``members`` maps a name to its Group."""

    def __init__(self, suite: CipherSuite, seed: int = 1, config: GroupConfig | None = None) -> None:
        self.suite = suite
        self.rand = SeededRandom(seed, "harness")
        self.config = config or GroupConfig()
        self.clients: dict[str, Client] = {}
        self.members: dict[str, Group] = {}
        self.group_id = b"harness-group"
        self._seen_keys: set[bytes] = set()

    def client(self, name: str) -> Client:
        if name not in self.clients:
            self.clients[name] = make_client(self.suite, name, self.rand)
        return self.clients[name]

    def create(self, creator: str) -> Group:
        c = self.client(creator)
        g = Group.create(
            self.suite,
            group_id=self.group_id,
            identity=c.identity,
            rand=self.rand,
            config=self.config,
            encryption_priv=c.bundle.encryption_priv,
            leaf_node=c.bundle.key_package.leaf_node,
        )
        self.members[creator] = g
        self.check()
        return g

    def name_of(self, leaf: int) -> str:
        return next(n for n, g in self.members.items() if g.leaf_index == leaf)

    def deliver(self, staged: StagedCommit, committer: str, *, tree_out_of_band: bool = False) -> None:
        """The committer's commit reaches everyone; new members join from the Welcome."""
        msg = roundtrip(staged.message)
        for name, g in list(self.members.items()):
            if name == committer:
                g.process(msg)  # own commit coming back: merges the pending staged commit
            else:
                res = g.process(msg)
                if getattr(res, "removed_me", False):
                    del self.members[name]
        self.join_by_welcome(staged, tree_out_of_band=tree_out_of_band)
        self.check()

    def join_by_welcome(self, staged: StagedCommit, *, tree_out_of_band: bool = False) -> None:
        """The commit's new members join from its Welcome (received as bytes)."""
        if staged.welcome is None:
            return
        welcome = roundtrip(staged.welcome).body
        assert isinstance(welcome, Welcome)
        for leaf in staged.added:
            kp_leaf = staged.ratchet_tree.leaf(leaf)
            name = next(n for n, c in self.clients.items() if c.bundle.key_package.leaf_node == kp_leaf)
            c = self.clients[name]
            self.members[name] = Group.join(
                self.suite,
                welcome,
                key_package=c.bundle.key_package,
                init_priv=c.bundle.init_priv,
                encryption_priv=c.bundle.encryption_priv,
                identity=c.identity,
                ratchet_tree=staged.ratchet_tree if tree_out_of_band else None,
                config=self.config,
            )

    def add(self, committer: str, *names: str) -> StagedCommit:
        kps = []
        for n in names:
            c = self.client(n)
            if n in self.members or any(
                g.tree.leaf(i) == c.bundle.key_package.leaf_node
                for g in self.members.values()
                for i, _ in g.tree.leaves()
            ):
                c = self.clients[n] = fresh_key_package(self.suite, c, self.rand)
            kps.append(c.bundle.key_package)
        staged = self.members[committer].commit(self.rand, adds=kps)
        self.deliver(staged, committer)
        return staged

    def check(self) -> None:
        groups = list(self.members.values())
        first = groups[0]
        for g in groups:
            assert g.epoch == first.epoch, "epochs differ"
            assert g.tree_hash == first.tree_hash, "tree hashes differ"
            assert g.tree.tree_hash() == g.tree_hash
            assert g.epoch_authenticator == first.epoch_authenticator, "epoch authenticators differ"
            assert g.export_secret("harness", b"", 16) == first.export_secret("harness", b"", 16)
        leaves = sorted(int(g.leaf_index) for g in groups)
        assert leaves == sorted(int(i) for i, _ in first.tree.leaves()), "tree members != group members"
        for tree in {id(g.tree): g.tree for g in groups}.values():
            self.check_key_indexes(tree)

    def check_key_indexes(self, tree: RatchetTree) -> None:
        """The key indexes and credential counts a tree derives from its predecessor's at
        freeze (only the changed nodes, ``KeyIndex.patched``) are those of a full scan, and
        no key that left the tree is still found in it."""
        enc = {n.encryption_key: x for x in range(tree.width) if (n := tree.node(x)) is not None}
        sig = {leaf.signature_key: i for i, leaf in tree.leaves()}
        self._seen_keys |= enc.keys() | sig.keys()
        index = TreeKeyIndex(tree)
        for key, x in enc.items():
            assert key in index.encryption_keys
            found = tree.find_encryption_key(key)
            assert found is not None and tree.node(found).encryption_key == key, (key.hex(), x)  # type: ignore[union-attr]
        for key in sig:
            assert key in index.signature_keys
            found_leaf = tree.find_signature_key(key)
            assert found_leaf is not None and tree.leaf(found_leaf).signature_key == key  # type: ignore[union-attr]
        for key in self._seen_keys - enc.keys() - sig.keys():
            assert key not in index.encryption_keys and tree.find_encryption_key(key) is None
            assert key not in index.signature_keys and tree.find_signature_key(key) is None
        in_use: Counter[int] = Counter()
        supported: Counter[int] = Counter()
        for _, leaf in tree.leaves():
            in_use[leaf.credential.credential_type] += 1
            supported.update(set(leaf.capabilities.credentials))
        assert tree.credential_stats() == (in_use, supported)
        assert index.credential_types == frozenset(in_use)
        n = tree.member_count()
        assert index.supported == frozenset(t for t, c in supported.items() if c == n)

    # ---- additions for the property tests (tests/test_group_properties.py) -----------------

    def fresh_name(self, prefix: str = "m") -> str:
        """A client name never used in this harness."""
        i = len(self.clients)
        while f"{prefix}{i}" in self.clients:
            i += 1
        name = f"{prefix}{i}"
        self.client(name)
        return name

    def broadcast(self, msg: MLSMessage, sender: str) -> dict[str, ProcessResult]:
        """A proposal or application message from ``sender`` reaches every other member (as bytes)."""
        return {name: g.process(roundtrip(msg)) for name, g in self.members.items() if name != sender}

    def deliver_external(self, name: str, joiner: Group, staged: StagedCommit, *, via_process: bool) -> None:
        """An external commit by ``name`` reaches everyone; a member of that name (a resync) is
        its lost old state and must see itself removed. The joiner then merges (directly, or by
        processing its own commit as the DS returns it)."""
        msg = roundtrip(staged.message)
        for n, g in list(self.members.items()):
            res = g.process(msg)
            assert isinstance(res, CommitApplied), f"{n}: {res!r}"
            if n == name:
                assert res.removed_me, f"{n}'s old state was not removed by its resync"
            if res.removed_me:
                assert not g.active
                del self.members[n]
        if via_process:
            res = joiner.process(msg)
            assert isinstance(res, CommitApplied) and res.own
        else:
            joiner.merge(staged)
        self.members[name] = joiner
        self.check()

    def external_join(
        self,
        name: str,
        via: str,
        *,
        resync: bool = False,
        with_tree: bool = True,
        via_process: bool = False,
    ) -> StagedCommit:
        """``name`` joins by external commit from ``via``'s GroupInfo; with ``resync`` it is a
        member that lost its state and removes its old leaf (§12.4.3.2)."""
        joiner, staged = self.stage_external_join(name, via, resync=resync, with_tree=with_tree)
        self.deliver_external(name, joiner, staged, via_process=via_process)
        return staged

    def stage_external_join(
        self, name: str, via: str, *, resync: bool = False, with_tree: bool = True
    ) -> tuple[Group, StagedCommit]:
        g = self.members[via]
        gi = roundtrip(g.group_info(with_tree=with_tree)).body
        assert isinstance(gi, GroupInfo)
        return Group.external_join(
            self.suite,
            gi,
            identity=self.client(name).identity,
            rand=self.rand,
            ratchet_tree=None if with_tree else g.tree,
            resync_remove=int(self.members[name].leaf_index) if resync else None,
            config=self.config,
        )

    def snapshot(self, name: str) -> tuple[object, ...]:
        """What a rejected message must leave unchanged in ``name``'s state."""
        g = self.members[name]
        return (
            g.epoch,
            g.epoch_authenticator,
            g.tree_hash,
            g.tree.tree_hash(),
            g.active,
            int(g.leaf_index),
            g.pending_proposals,
            g.path_keys,
            g.export_secret("harness", b"", 16),
        )

    def check_private(self) -> None:
        """Each member's private TreeKEM state fits the public tree (§4.2 tree invariant):
        its leaf key is the tree's; it holds a node key only on its direct path, and holds the
        key of every non-blank parent there unless it is an unmerged leaf of that parent."""
        from mlssim.mls import treemath as tm
        from mlssim.mls.messages.tree import ParentNode

        for name, g in self.members.items():
            tree, leaf, keys = g.tree, g.leaf_index, g.path_keys
            node = tree.leaf(leaf)
            assert node is not None, f"{name}: own leaf {leaf} is blank"
            assert node.signature_key == self.clients[name].identity.signature_key, f"{name}: not my leaf"
            assert keys.leaf == leaf
            assert self.suite.kem_public_key(keys.leaf_priv) == node.encryption_key, f"{name}: leaf key"
            assert keys.mismatches(tree) == [], f"{name}: stale node keys {keys.mismatches(tree)}"
            path = tm.direct_path(tm.leaf_to_node(leaf), tree.n_leaves)
            assert set(keys.nodes) <= set(path), f"{name}: holds keys off its direct path"
            for x in path:
                p = tree.node(x)
                if isinstance(p, ParentNode) and leaf not in p.unmerged_leaves:
                    priv = keys.usable_key(tree, x)
                    assert priv is not None, f"{name}: no private key for node {x} above leaf {leaf}"
                    assert self.suite.kem_public_key(priv) == p.encryption_key
