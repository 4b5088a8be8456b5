"""Mixed groups of mlssim and mls-rs members, for the interop tests.

mls-rs is driven through its UniFFI binding (PyPI ``agentvault-mls-rs-uniffi``, module
``mls_rs_uniffi``, cipher suite 1 only). Everything crosses between the two implementations
as MLSMessage wire bytes, never as objects.

A :class:`MixedGroup` holds :class:`SimMember` and :class:`RsMember` behind one interface and,
after every epoch change, asserts that all members agree on an exported secret (RFC 9420
§8.5, the only epoch secret the binding exposes), that every mlssim member agrees on the epoch
number, tree hash and epoch authenticator, and that every member exports the same ratchet tree
bytes (§12.4.3.3) whose tree hash is the one in the mlssim members' GroupContext.

Binding facts these helpers rely on (mls-rs-uniffi, checked against its source):
- ``Client(id, keypair, config)`` makes a basic credential ``id``; ``ClientConfig`` carries only
  ``group_state_storage`` and ``use_ratchet_tree_extension`` (default ``True``).
- ``Group.commit()`` / ``add_members`` / ``remove_members`` build a commit but leave the group in
  its epoch: the committer merges by processing its own ``commit_message``.
- Handshake messages are always PublicMessage (the binding builds ``DefaultMlsRules`` with the
  default ``EncryptionOptions``; there is no knob). Application messages are PrivateMessage.
- ``remove_members`` / ``propose_remove_members`` take ``SigningIdentity`` objects, opaque in
  Python, and find the leaf by the basic credential's identity.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mls_rs_uniffi as rs  # type: ignore[import-untyped]

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import CipherSuite, KeyPair, get_suite
from mlssim.mls.group import (
    ApplicationMessage,
    CommitApplied,
    Group,
    GroupConfig,
    MemberIdentity,
    ProposalReceived,
)
from mlssim.mls.key_packages import (
    KeyPackageBundle,
    key_package_from_message,
    make_key_package,
    validate_key_package,
)
from mlssim.mls.messages import (
    Credential,
    Extension,
    Lifetime,
    MLSMessage,
    Proposal,
    PublicMessage,
    Welcome,
)
from mlssim.mls.messages.tree import decode_ratchet_tree
from mlssim.mls.rand import SeededRandom
from mlssim.mls.ratchet_tree import RatchetTree
from mlssim.mls.treemath import LeafIndex

SUITE: CipherSuite = get_suite(1)
RS_SUITE = rs.CipherSuite.CURVE25519_AES128
FOREVER = Lifetime(not_before=0, not_after=2**63)
EXPORT_LABEL = b"mlssim interop"
EXPORT_CONTEXT = b"epoch check"


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit as it leaves its committer: wire bytes only."""

    message: bytes
    welcome: bytes | None
    ratchet_tree: bytes | None  # out-of-band tree, when the Welcome carries none


@dataclass(frozen=True, slots=True)
class Received:
    """What a member made of one incoming message, normalised across the implementations."""

    kind: str  # "application" | "commit" | "proposal"
    data: bytes = b""
    removed_me: bool = False
    sender: Any = None  # mlssim: sender's credential identity; mls-rs: a SigningIdentity
    proposal: Proposal | None = None  # mlssim only: the proposal received
    ref: bytes | None = None  # mlssim only: its ProposalRef (§5.2)


def rs_config(*, ratchet_tree_extension: bool = True) -> rs.ClientConfig:
    """A fresh in-memory mls-rs client config (one state storage per client)."""
    default = rs.client_config_default()
    return rs.ClientConfig(
        group_state_storage=default.group_state_storage,
        use_ratchet_tree_extension=ratchet_tree_extension,
    )


def rs_keypair(pair: KeyPair) -> rs.SignatureKeypair:
    """An mlssim Ed25519 key pair in the binding's form (secret key = seed ‖ public key)."""
    return rs.SignatureKeypair(
        cipher_suite=RS_SUITE,
        public_key=rs.SignaturePublicKey(bytes=pair.pub),
        secret_key=rs.SignatureSecretKey(bytes=pair.priv + pair.pub),
    )


class SimMember:
    """An mlssim client: long-term identity, its latest KeyPackage, and its Group once joined."""

    impl = "mlssim"

    def __init__(self, name: str, rand: SeededRandom, config: GroupConfig) -> None:
        self.name = name
        self.rand = rand
        self.config = config
        self.sig = SUITE.signature_key_pair(rand)
        self.credential = Credential.basic(name.encode())
        self.bundle: KeyPackageBundle | None = None
        self.group: Group | None = None
        self.identity = MemberIdentity(
            credential=self.credential,
            signature_priv=self.sig.priv,
            signature_key=self.sig.pub,
            capabilities=self._fresh_bundle().key_package.leaf_node.capabilities,
        )
        # the binding's view of this member, for mls-rs remove_members(): same credential, same key
        self.rs_identity = rs.Client(name.encode(), rs_keypair(self.sig), rs_config()).signing_identity()

    def _fresh_bundle(self) -> KeyPackageBundle:
        self.bundle = make_key_package(
            SUITE, credential=self.credential, signature_key_pair=self.sig, rand=self.rand, lifetime=FOREVER
        )
        return self.bundle

    @property
    def g(self) -> Group:
        assert self.group is not None, f"{self.name} is not in a group"
        return self.group

    def key_package(self) -> bytes:
        return encode(MLSMessage(body=self._fresh_bundle().key_package))

    def create(self, group_id: bytes) -> None:
        bundle = self._fresh_bundle()
        self.group = Group.create(
            SUITE,
            group_id=group_id,
            identity=self.identity,
            rand=self.rand,
            config=self.config,
            encryption_priv=bundle.encryption_priv,
            leaf_node=bundle.key_package.leaf_node,
        )

    def join(self, welcome: bytes, ratchet_tree: bytes | None) -> None:
        assert self.bundle is not None
        msg = decode(MLSMessage, welcome)
        assert isinstance(msg.body, Welcome)
        tree = (
            None if ratchet_tree is None else RatchetTree.from_nodes(SUITE, decode_ratchet_tree(ratchet_tree))
        )
        self.group = Group.join(
            SUITE,
            msg.body,
            key_package=self.bundle.key_package,
            init_priv=self.bundle.init_priv,
            encryption_priv=self.bundle.encryption_priv,
            identity=self.identity,
            ratchet_tree=tree,
            config=self.config,
            now=int(time.time()),
        )

    def leaf_of(self, name: str) -> LeafIndex:
        for i, leaf in self.g.tree.leaves():
            if leaf.credential.identity == name.encode():
                return i
        raise AssertionError(f"{name} is not in {self.name}'s tree")

    def commit(
        self,
        *,
        adds: Sequence[bytes] = (),
        removes: Sequence[str] = (),
        path: bool | None = None,
        extensions: tuple[Extension, ...] | None = None,
    ) -> Commit:
        kps = []
        for data in adds:
            kp = key_package_from_message(decode(MLSMessage, data))
            # §10.1 in full, lifetime included: mls-rs stamps not_before with its clock
            validate_key_package(SUITE, kp, now=int(time.time()))
            kps.append(kp)
        staged = self.g.commit(
            self.rand,
            adds=kps,
            removes=[self.leaf_of(n) for n in removes],
            path=path,
            extensions=extensions,
            now=int(time.time()),
        )
        welcome = None if staged.welcome is None else encode(staged.welcome)
        tree = (
            staged.ratchet_tree.encode()
            if welcome is not None and not self.config.ratchet_tree_in_welcome
            else None
        )
        return Commit(encode(staged.message), welcome, tree)

    def propose_update(self) -> bytes:
        return encode(self.g.propose_update(self.rand))

    def process(self, message: bytes) -> Received:
        res = self.g.process(decode(MLSMessage, message), now=int(time.time()))
        if isinstance(res, ApplicationMessage):
            return Received("application", res.data, sender=self._identity_at(res.sender))
        if isinstance(res, ProposalReceived):
            return Received(
                "proposal", sender=self._identity_at(res.sender.index), proposal=res.proposal, ref=res.ref
            )
        assert isinstance(res, CommitApplied)
        return Received("commit", removed_me=res.removed_me)

    def _identity_at(self, leaf: int) -> bytes:
        node = self.g.tree.leaf(LeafIndex(leaf))
        assert node is not None
        return node.credential.identity

    def encrypt(self, data: bytes) -> bytes:
        return encode(self.g.encrypt_application(data, self.rand))

    def export(self) -> bytes:
        return self.g.export_secret(EXPORT_LABEL, EXPORT_CONTEXT, 32)

    def tree_bytes(self) -> bytes:
        return self.g.tree.encode()


class RsMember:
    """An mls-rs client through the UniFFI binding."""

    impl = "mls-rs"

    def __init__(self, name: str, *, ratchet_tree_extension: bool = True) -> None:
        self.name = name
        self.ratchet_tree_extension = ratchet_tree_extension
        self.client = rs.Client(
            name.encode(),
            rs.generate_signature_keypair(RS_SUITE),
            rs_config(ratchet_tree_extension=ratchet_tree_extension),
        )
        self.rs_identity = self.client.signing_identity()
        self.group: rs.Group | None = None

    @property
    def g(self) -> rs.Group:
        assert self.group is not None, f"{self.name} is not in a group"
        return self.group

    def key_package(self) -> bytes:
        return bytes(self.client.generate_key_package_message().to_bytes())

    def create(self, group_id: bytes) -> None:
        self.group = self.client.create_group(group_id)

    def join(self, welcome: bytes, ratchet_tree: bytes | None) -> None:
        tree = None if ratchet_tree is None else rs.RatchetTree(bytes=ratchet_tree)
        self.group = self.client.join_group(tree, rs.Message.from_bytes(welcome)).group

    @staticmethod
    def _commit(out: rs.CommitOutput) -> Commit:
        welcome = None if out.welcome_message is None else bytes(out.welcome_message.to_bytes())
        tree = None if out.ratchet_tree is None else bytes(out.ratchet_tree.bytes)
        return Commit(bytes(out.commit_message.to_bytes()), welcome, tree)

    def commit(
        self, *, adds: Sequence[bytes] = (), removes: Sequence[Any] = (), path: bool | None = None
    ) -> Commit:
        """``removes`` are the targets' binding SigningIdentity objects. ``path`` cannot be chosen:
        mls-rs sends an UpdatePath only when the proposals require one (§12.4)."""
        assert path is None, "the binding has no commit options"
        assert not (adds and removes), "the binding commits adds and removes separately"
        if adds:
            return self._commit(self.g.add_members([rs.Message.from_bytes(kp) for kp in adds]))
        if removes:
            return self._commit(self.g.remove_members(list(removes)))
        return self._commit(self.g.commit())

    def process(self, message: bytes) -> Received:
        res = self.g.process_incoming_message(rs.Message.from_bytes(message))
        if res.is_application_message():
            return Received("application", bytes(res.data), sender=res.sender)
        if res.is_received_proposal():
            return Received("proposal", sender=res.sender)
        assert res.is_commit(), f"unexpected {res}"
        return Received("commit", removed_me=res.effect.is_removed(), sender=res.committer)

    def encrypt(self, data: bytes) -> bytes:
        return bytes(self.g.encrypt_application_message(data).to_bytes())

    def export(self) -> bytes:
        return bytes(self.g.export_secret(EXPORT_LABEL, EXPORT_CONTEXT, 32))

    def tree_bytes(self) -> bytes:
        return bytes(self.g.export_tree().bytes)


Member = SimMember | RsMember


def commit_has_path(message: bytes) -> bool | None:
    """Whether a PublicMessage commit carries an UpdatePath; ``None`` for a PrivateMessage."""
    body = decode(MLSMessage, message).body
    if not isinstance(body, PublicMessage):
        return None
    commit = body.content.commit
    assert commit is not None, "not a commit"
    return commit.path is not None


class MixedGroup:
    """One MLS group whose members are a mix of mlssim and mls-rs clients.

    Every message is delivered as bytes to every current member, the sender included (both
    implementations merge their own commit by processing it); joiners then join from the
    Welcome. :meth:`check` runs after every epoch change.
    """

    def __init__(
        self, *, seed: int = 1, config: GroupConfig | None = None, rs_tree_extension: bool = True
    ) -> None:
        self.rand = SeededRandom(seed, "interop")
        self.config = config or GroupConfig()
        self.rs_tree_extension = rs_tree_extension
        self.clients: dict[str, Member] = {}
        self.members: dict[str, Member] = {}
        self.group_id = b"interop-group"
        self.epoch = 0
        self.seen_exports: set[bytes] = set()

    def client(self, name: str, impl: str) -> Member:
        if name not in self.clients:
            if impl == "mlssim":
                self.clients[name] = SimMember(name, self.rand, self.config)
            else:
                self.clients[name] = RsMember(name, ratchet_tree_extension=self.rs_tree_extension)
        member = self.clients[name]
        assert member.impl == impl
        return member

    def create(self, name: str, impl: str) -> Member:
        m = self.client(name, impl)
        m.create(self.group_id)
        self.members[name] = m
        self.check()
        return m

    def deliver(self, commit: Commit, committer: str, joiners: Sequence[str] = ()) -> dict[str, Received]:
        """Every member processes ``commit``; removed members leave; ``joiners`` join from the Welcome."""
        results: dict[str, Received] = {}
        for name, m in list(self.members.items()):
            res = m.process(commit.message)
            assert res.kind == "commit", f"{name} ({m.impl}) saw a {res.kind}, not a commit"
            results[name] = res
            if res.removed_me:
                del self.members[name]
        self.epoch += 1
        if joiners:
            assert commit.welcome is not None, "a commit with adds must come with a Welcome"
            for name in joiners:
                self.clients[name].join(commit.welcome, commit.ratchet_tree)
                self.members[name] = self.clients[name]
        else:
            assert commit.welcome is None
        self.check()
        return results

    def add(self, committer: str, joiners: dict[str, str], *, path: bool | None = None) -> Commit:
        """``committer`` adds ``joiners`` (name -> implementation) in one commit."""
        kps = [self.client(n, impl).key_package() for n, impl in joiners.items()]
        commit = self.members[committer].commit(adds=kps, path=path)
        self.deliver(commit, committer, list(joiners))
        return commit

    def remove(self, committer: str, *names: str) -> Commit:
        c = self.members[committer]
        if isinstance(c, RsMember):
            commit = c.commit(removes=[self.members[n].rs_identity for n in names])
        else:
            commit = c.commit(removes=names)
        results = self.deliver(commit, committer)
        for n in names:
            assert results[n].removed_me, f"{n} did not learn of its removal"
            assert n not in self.members
        return commit

    def update(self, committer: str) -> Commit:
        """An empty commit: a full UpdatePath from ``committer``."""
        commit = self.members[committer].commit()
        assert commit_has_path(commit.message) is not False, "an empty commit must carry a path (§12.4)"
        self.deliver(commit, committer)
        return commit

    def broadcast(self, sender: str, data: bytes) -> None:
        """``sender``'s application message reaches every other member, attributed to ``sender``."""
        s = self.members[sender]
        msg = s.encrypt(data)
        for name, m in self.members.items():
            if name == sender:
                continue
            res = m.process(msg)
            assert res.kind == "application" and res.data == data, f"{name} ({m.impl}) got {res}"
            if isinstance(m, SimMember):
                assert res.sender == sender.encode(), f"{name} attributes it to {res.sender!r}"
            else:
                assert res.sender == s.rs_identity, f"{name} (mls-rs) attributes it to someone else"

    def check(self) -> None:
        """All members agree on the epoch: exporter secret, tree bytes, and mlssim's own views."""
        members = list(self.members.items())
        first_name, first = members[0]
        export = first.export()
        tree = first.tree_bytes()
        for name, m in members:
            assert m.export() == export, f"exporter secret: {name} ({m.impl}) != {first_name} ({first.impl})"
            assert m.tree_bytes() == tree, f"ratchet tree: {name} ({m.impl}) != {first_name} ({first.impl})"
        assert export not in self.seen_exports, "exporter secret repeated: the epoch did not advance"
        self.seen_exports.add(export)
        sims = [m.g for _, m in members if isinstance(m, SimMember)]
        for g in sims:
            assert g.epoch == self.epoch, f"mlssim epoch {g.epoch}, expected {self.epoch}"
            assert g.tree_hash == sims[0].tree_hash
            assert g.epoch_authenticator == sims[0].epoch_authenticator
        if sims:
            # mls-rs's exported tree hashes to the GroupContext tree hash mlssim holds
            assert RatchetTree.from_nodes(SUITE, decode_ratchet_tree(tree)).tree_hash() == sims[0].tree_hash
        n_leaves = len([n for n in decode_ratchet_tree(tree)[::2] if n is not None])
        assert n_leaves == len(self.members), "tree members != group members"
