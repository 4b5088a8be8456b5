"""A mixed group of full members (``Group``) and light members (``LightGroup``) for the Light MLS
tests: the test plays the delivery service, which keeps the tree and annotates (choice L2).
Every message crosses as bytes; after every step all members agree on the epoch authenticator.
"""

from __future__ import annotations

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import CipherSuite
from mlssim.mls.group import Group, GroupConfig, StagedCommit
from mlssim.mls.light import annotate_commits, annotate_welcome, sender_authenticated
from mlssim.mls.light_group import LightGroup
from mlssim.mls.messages import (
    AnnotatedCommit,
    AnnotatedWelcome,
    MLSMessage,
    SenderAuthenticatedMessage,
    Welcome,
)
from mlssim.mls.ratchet_tree import RatchetTree

from .group_harness import Harness, roundtrip


def wire_commit(a: AnnotatedCommit) -> AnnotatedCommit:
    return decode(AnnotatedCommit, encode(a))


def wire_sam(a: SenderAuthenticatedMessage) -> SenderAuthenticatedMessage:
    return decode(SenderAuthenticatedMessage, encode(a))


class LightHarness:
    """Full members live in ``h.members``, light ones in ``light``; ``tree`` is the DS's copy."""

    def __init__(self, suite: CipherSuite, seed: int = 1, config: GroupConfig | None = None) -> None:
        # L8: no tree in Welcomes; full joiners get it from the DS
        self.h = Harness(suite, seed, config or GroupConfig(ratchet_tree_in_welcome=False))
        self.suite = suite
        self.light: dict[str, LightGroup] = {}
        self.tree: RatchetTree | None = None
        self.light_names: set[str] = set()
        self.commits = 0

    @property
    def full(self) -> dict[str, Group]:
        return self.h.members

    def create(self, name: str) -> None:
        g = self.h.create(name)
        self.tree = g.tree

    def every(self) -> dict[str, Group | LightGroup]:
        return {**self.full, **self.light}

    def leaf_of(self, name: str) -> int:
        return int(self.every()[name].leaf_index)

    def annotations(self, committer: str, staged: StagedCommit) -> dict[int, AnnotatedCommit]:
        """What the DS sends each light member for ``staged`` (before it is delivered)."""
        assert self.tree is not None
        sender = self.leaf_of(committer)
        anns = annotate_commits(
            self.tree,
            staged.ratchet_tree,
            roundtrip(staged.message),
            sender_before=sender,
            sender_after=sender,
            receivers=[int(g.leaf_index) for g in self.light.values()],
            added=frozenset(int(x) for x in staged.added),
            removed=frozenset(int(x) for x in staged.removed),
            with_path=staged.with_path,
        )
        return {int(k): v for k, v in anns.items()}

    def deliver(self, committer: str, staged: StagedCommit, *, skip: frozenset[str] = frozenset()) -> None:
        """The commit reaches every full member as the plain message, every light member (but
        ``skip``) as its AnnotatedCommit; new members join (light ones by AnnotatedWelcome)."""
        anns = self.annotations(committer, staged)
        msg = roundtrip(staged.message)
        for name, g in list(self.full.items()):
            res = g.process(msg)
            if getattr(res, "removed_me", False):
                del self.full[name]
        for name, lg in list(self.light.items()):
            if name in skip:
                continue
            res = lg.process(wire_commit(anns[int(lg.leaf_index)]))
            if getattr(res, "removed_me", False):
                assert not lg.active
                del self.light[name]
        self.tree = staged.ratchet_tree
        self.commits += 1
        self.join(committer, staged)
        self.check(skip)

    def join(self, committer: str, staged: StagedCommit) -> None:
        if staged.welcome is None:
            return
        welcome = roundtrip(staged.welcome).body
        assert isinstance(welcome, Welcome)
        signer = int(staged.committer)
        for leaf in staged.added:
            kp_leaf = staged.ratchet_tree.leaf(leaf)
            name = next(n for n, c in self.h.clients.items() if c.bundle.key_package.leaf_node == kp_leaf)
            c = self.h.clients[name]
            if name in self.light_names:
                aw = decode(
                    AnnotatedWelcome, encode(annotate_welcome(staged.ratchet_tree, welcome, signer, leaf))
                )
                self.light[name] = LightGroup.join(
                    self.suite,
                    aw,
                    key_package=c.bundle.key_package,
                    init_priv=c.bundle.init_priv,
                    encryption_priv=c.bundle.encryption_priv,
                    identity=c.identity,
                    config=self.h.config,
                )
            else:
                self.full[name] = Group.join(
                    self.suite,
                    welcome,
                    key_package=c.bundle.key_package,
                    init_priv=c.bundle.init_priv,
                    encryption_priv=c.bundle.encryption_priv,
                    identity=c.identity,
                    ratchet_tree=staged.ratchet_tree,
                    config=self.h.config,
                )

    def add(self, committer: str, *names: str, light: bool = False, path: bool | None = None) -> StagedCommit:
        if light:
            self.light_names.update(names)
        kps = [self.h.client(n).bundle.key_package for n in names]
        staged = self.full[committer].commit(self.h.rand, adds=kps, path=path)
        self.deliver(committer, staged)
        return staged

    def broadcast(self, sender: str, message: MLSMessage) -> None:
        """A handshake or application message to everyone but ``sender``: full members get it
        plain, light members with the sender's proof (§7, §11)."""
        assert self.tree is not None
        sam = sender_authenticated(self.tree, message, self.leaf_of(sender))
        for name, g in self.every().items():
            if name == sender:
                continue
            if isinstance(g, LightGroup):
                g.process(wire_sam(sam))
            else:
                g.process(roundtrip(message))

    def check(self, skip: frozenset[str] = frozenset()) -> None:
        """Every member (but ``skip``) in one epoch with one epoch authenticator and tree hash."""
        groups = [g for n, g in self.every().items() if n not in skip]
        first = groups[0]
        for g in groups:
            assert g.epoch == first.epoch, "epochs differ"
            assert g.tree_hash == first.tree_hash, "tree hashes differ"
            assert g.epoch_authenticator == first.epoch_authenticator, "epoch authenticators differ"
        assert self.tree is not None and self.tree.tree_hash() == first.tree_hash
