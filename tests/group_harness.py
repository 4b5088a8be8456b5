"""In-memory MLS groups for tests: pass messages between members, assert agreement.

Modelled on h11's ConnectionPair: after every step, all members agree on epoch, tree
hash, epoch authenticator and an exported secret (STYLE.md pattern 11).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import CipherSuite
from mlssim.mls.group import Group, GroupConfig, MemberIdentity, StagedCommit
from mlssim.mls.key_packages import KeyPackageBundle, make_key_package
from mlssim.mls.messages import Credential, Lifetime, MLSMessage, Welcome
from mlssim.mls.rand import SeededRandom

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
        if staged.welcome is not None:
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
        self.check()

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
