"""Tampering: what a delivery service (DS) or authentication service (AS) adversary can alter,
and the RFC 9420 check that rejects each alteration (docs/security-model.md, "Tampering").

Every message crosses the network as bytes, so a DS can rewrite, replay and splice anything
it relays. :data:`CATALOGUE` lists such alterations as :class:`Tamper` entries, each tagged
with the :class:`Rule` that must reject it: the RFC 9420 check, its section, and the error
class the core raises. A DS holds no key, so every alteration of a member's message is caught
by the outer layer: the membership tag of a PublicMessage (§6.2), the AEAD of a PrivateMessage
(§6.3), the HPKE of a Welcome (§12.4.3.1), the signature of a KeyPackage (§10.1). The inner
checks (signature, confirmation tag, parent hash, ...) are reached only by an adversary that
also holds the epoch's secrets (:attr:`Capability.EPOCH_KEYS`, e.g. an epoch exposed by a
compromise) or the sender's signature key (:attr:`Capability.SIGNER`, a compromised member),
so the catalogue has entries for those too: each check is shown to fire where the RFC puts it.

An AS that vouches for a signature key the adversary holds is different: the device it
vouches for is a legitimate member as far as MLS can tell (§16.10). :func:`issue_insider`
makes one; :class:`TamperLedger` counts it as admitted and undetectable by MLS.

How it is used (the simulator's DS, or a test)::

    wire = Wire(suite=suite, message=msg, public=receiver.public, sender=leaf, earlier=sent)
    for tamper in applicable(wire):
        t = tamper.apply(wire, rng)                     # bytes the DS delivers instead
        ledger.record(t, [deliver_to_member(g, t) for g in receivers_of(t)])
    ledger.summary()                                    # rule -> tampered messages detected

Imports only :mod:`mlssim.mls`. Nothing here changes a member's state except through the calls
a member makes anyway (``Group.process``, ``Group.join``, ``Group.commit``); the delivery
helpers compare each receiver's state before and after the tampered message.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TypeVar

from mlssim.mls.codec import Writer, decode, encode
from mlssim.mls.credentials import CredentialError, UnsupportedCredentialTypeError, check_same_identifiers
from mlssim.mls.crypto.suite import CipherSuite
from mlssim.mls.errors import DecodeError, MLSError
from mlssim.mls.group import (
    Group,
    GroupConfig,
    MemberIdentity,
    PublicEpoch,
    UnknownSenderError,
    WrongEpochError,
    WrongGroupError,
)
from mlssim.mls.group_state import GroupInfoTreeHashError
from mlssim.mls.key_packages import (
    KeyPackageBundle,
    KeyPackageSignatureError,
    key_package_from_message,
    make_key_package,
)
from mlssim.mls.keyschedule import ConfirmationTagError, EpochSecrets, JoinerStage
from mlssim.mls.leaf_nodes import LEAF_NODE_TBS_LABEL, LeafNodeSignatureError
from mlssim.mls.messages import (
    Add,
    Commit,
    ContentType,
    Credential,
    CredentialType,
    FramedContent,
    GroupInfo,
    HPKECiphertext,
    KeyPackage,
    Lifetime,
    MLSMessage,
    MLSMessageBody,
    ParentNode,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    SenderType,
    Welcome,
    WireFormat,
    decode_private_message_content,
    private_content_aad,
    sender_data_aad,
)
from mlssim.mls.messages.tree import Node, UpdatePath, leaf_node_tbs
from mlssim.mls.messages.welcome import GroupSecrets
from mlssim.mls.protect import (
    ContentDecryptionError,
    InvalidMembershipTagError,
    InvalidSignatureError,
    SenderDataError,
    membership_tag,
    protect_public,
    sign_content,
)
from mlssim.mls.rand import RandomSource
from mlssim.mls.ratchet_tree import ParentHashMismatchError, RatchetTree
from mlssim.mls.secret_tree import (
    MAX_GENERATION,
    GenerationTooFarError,
    KeyConsumedError,
    RatchetPolicy,
    SecretTree,
    sender_data_key_nonce,
)
from mlssim.mls.tree_validation import ParentHashError
from mlssim.mls.treekem import PathSecretDecryptionError
from mlssim.mls.welcome import GroupInfoSignatureError, NoMatchingKeyPackageError, WelcomeError, seal_welcome

__all__ = [
    "Capability",
    "Kind",
    "kind_of",
    "Rule",
    "RULES",
    "Sent",
    "StolenKeys",
    "Wire",
    "Tamper",
    "Tampered",
    "CATALOGUE",
    "tamper_named",
    "applicable",
    "Detection",
    "member_snapshot",
    "deliver_to_member",
    "deliver_to_joiner",
    "offer_key_package",
    "RuleRow",
    "TamperLedger",
    "Directory",
    "Insider",
    "issue_insider",
]


# ---- who tampers, and with what ----------------------------------------------------------------


class Capability(Enum):
    """What the adversary holds besides the bytes it relays."""

    #: a DS (or anyone on the path): reads, rewrites, replays, splices; holds no key
    WIRE = "wire"
    #: also the secrets of the message's epoch (membership, sender-data, encryption, joiner and
    #: welcome secrets): an epoch exposed by a compromise, or an insider's state
    EPOCH_KEYS = "epoch keys"
    #: also the sender's signature key (and the epoch's secrets): a compromised member
    SIGNER = "signer"
    #: an AS: vouches for an identity / signature key binding of its choice (§5.3.1, §16.10)
    AS = "as"


class Kind(Enum):
    """What a message on the wire is, as a DS sees it."""

    PUBLIC_PROPOSAL = "public proposal"
    PUBLIC_COMMIT = "public commit"
    PRIVATE_HANDSHAKE = "private handshake"
    APPLICATION = "application"
    WELCOME = "welcome"
    KEY_PACKAGE = "key package"
    GROUP_INFO = "group info"


def kind_of(message: MLSMessage) -> Kind:
    body = message.body
    if isinstance(body, PublicMessage):
        return Kind.PUBLIC_COMMIT if body.content.content_type == ContentType.COMMIT else Kind.PUBLIC_PROPOSAL
    if isinstance(body, PrivateMessage):
        return Kind.APPLICATION if body.content_type == ContentType.APPLICATION else Kind.PRIVATE_HANDSHAKE
    if isinstance(body, Welcome):
        return Kind.WELCOME
    if isinstance(body, KeyPackage):
        return Kind.KEY_PACKAGE
    return Kind.GROUP_INFO


MEMBER_KINDS = frozenset({Kind.PUBLIC_PROPOSAL, Kind.PUBLIC_COMMIT, Kind.PRIVATE_HANDSHAKE, Kind.APPLICATION})


# ---- the RFC checks -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One RFC 9420 check that rejects tampered input."""

    name: str
    #: where RFC 9420 requires the check
    rfc_section: str
    #: the exact class the core raises when the check fails
    error: type[MLSError]
    #: what the receiver verifies
    check: str
    #: False if a member that the commit removes stops before this check: it learns its removal
    #: from the authenticated content and cannot derive the new epoch (§12.4.2)
    reached_by_removed: bool = True


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.name: r for r in rules}


RULES: dict[str, Rule] = _rules(
    Rule(
        "decode", "6.2", DecodeError, "the bytes parse as an MLSMessage (a member's PublicMessage has a tag)"
    ),
    Rule("group", "6", WrongGroupError, "group_id names the receiver's group"),
    Rule("epoch", "12.4.2", WrongEpochError, "epoch is the receiver's current epoch"),
    Rule("sender", "6.1", UnknownSenderError, "the sender index names a member (a signature key)"),
    Rule("membership-tag", "6.2", InvalidMembershipTagError, "MAC(membership_key, AuthenticatedContentTBM)"),
    Rule("signature", "6.1", InvalidSignatureError, "SignWithLabel over FramedContentTBS, sender's key"),
    Rule("sender-data", "6.3.2", SenderDataError, "SenderData opens (key from the ciphertext sample)"),
    Rule("content-aead", "6.3.1", ContentDecryptionError, "ciphertext opens with PrivateContentAAD"),
    Rule("key-reuse", "9.2", KeyConsumedError, "a ratchet key decrypts once, then is deleted"),
    Rule(
        "generation-window", "9.1", GenerationTooFarError, "generation within the receiver's window (§15.3)"
    ),
    Rule("leaf-signature", "7.3", LeafNodeSignatureError, "the UpdatePath LeafNode's signature (§12.4.2)"),
    Rule("parent-hash", "7.9.2", ParentHashMismatchError, "the leaf's parent_hash matches the path"),
    Rule(
        "path-secret",
        "12.4.2",
        PathSecretDecryptionError,
        "path secret opens under the provisional GroupContext",
        reached_by_removed=False,
    ),
    Rule(
        "confirmation-tag",
        "12.4.2",
        ConfirmationTagError,
        "MAC(confirmation_key, confirmed_transcript_hash)",
        reached_by_removed=False,
    ),
    Rule("key-package-signature", "10.1", KeyPackageSignatureError, "KeyPackage signature, leaf's key"),
    Rule("credential", "5.3.1", CredentialError, "the AS vouches for identity + signature key"),
    Rule("welcome-secrets", "12.4.3.1", WelcomeError, "GroupSecrets open (EncryptWithLabel, GroupInfo ctx)"),
    Rule("welcome-ref", "12.4.3.1", NoMatchingKeyPackageError, "an entry names this KeyPackageRef"),
    Rule("group-info-signature", "12.4.3.1", GroupInfoSignatureError, "GroupInfo signed by its signer leaf"),
    Rule("tree-hash", "12.4.3.1", GroupInfoTreeHashError, "tree hash of the tree = GroupInfo tree_hash"),
    Rule("tree-parent-hash", "7.9.2", ParentHashError, "every parent node is parent-hash valid (§12.4.3.1)"),
    Rule("welcome-confirmation-tag", "12.4.3.1", ConfirmationTagError, "GroupInfo confirmation tag"),
)


# ---- what the adversary has in hand ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """A message the DS relayed earlier, and the leaf that sent it (the DS knows who uploaded it)."""

    message: MLSMessage
    sender: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StolenKeys:
    """Keys beyond the wire: ground truth handed over by whoever models the compromise."""

    #: the secrets of the message's epoch
    epoch: EpochSecrets | None = None
    #: the secrets of the epoch a commit leads to (a Welcome's joiner and welcome secrets)
    next_epoch: EpochSecrets | None = None
    #: the sender's signature private key
    signature_priv: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Wire:
    """One genuine message in the DS's hands, with what the DS holds around it.

    ``public`` is the receivers' current epoch (what a DS may hold, §16.9); ``sender`` the leaf
    that uploaded the message. For a Welcome: ``public`` is the epoch before the commit,
    ``key_packages`` the new members' KeyPackages, ``tree`` the new epoch's public tree (served by
    the DS when ``tree_from_ds``), ``group_info`` the new epoch's published GroupInfo.
    """

    suite: CipherSuite
    message: MLSMessage
    public: PublicEpoch
    sender: int = 0
    earlier: Sequence[Sent] = ()
    key_packages: Sequence[KeyPackage] = ()
    tree: RatchetTree | None = None
    tree_from_ds: bool = False
    group_info: GroupInfo | None = None
    keys: StolenKeys = field(default_factory=StolenKeys)

    @property
    def kind(self) -> Kind:
        return kind_of(self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tampered:
    """What the DS delivers instead of the genuine message."""

    tamper: Tamper
    data: bytes
    #: the leaf that sent what this was made from: it is not a receiver
    sender: int
    #: a ratchet tree the DS serves with a Welcome (None: the genuine one, if any)
    tree: RatchetTree | None = None

    @property
    def rule(self) -> Rule:
        return self.tamper.rule


@dataclass(frozen=True, slots=True)
class Tamper:
    """One alteration, the capability it needs, and the rule that must reject it."""

    name: str
    capability: Capability
    kinds: frozenset[Kind]
    altered: str
    rule: Rule
    _apply: Callable[[Wire, random.Random], Tampered | bytes] = field(repr=False)
    _needs: Callable[[Wire], bool] = field(repr=False)

    def applies(self, wire: Wire) -> bool:
        """``wire`` is of a kind this alteration targets, has what it needs, and the keys its
        capability asks for are in ``wire.keys`` (a Welcome's: ``next_epoch``)."""
        keys = wire.keys
        if self.capability == Capability.EPOCH_KEYS and wire.kind != Kind.WELCOME and keys.epoch is None:
            return False
        if self.capability == Capability.SIGNER and (keys.signature_priv is None or keys.epoch is None):
            return False
        return wire.kind in self.kinds and self._needs(wire)

    def apply(self, wire: Wire, rng: random.Random) -> Tampered:
        """The altered bytes (or tree) for ``wire``; call only if :meth:`applies`."""
        out = self._apply(wire, rng)
        if isinstance(out, Tampered):
            return out
        return Tampered(tamper=self, data=out, sender=wire.sender)


# ---- small helpers ------------------------------------------------------------------------------


class _Rand:
    """A RandomSource over a ``random.Random`` (fresh keys the adversary generates)."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def _flip(data: bytes, rng: random.Random, lo: int = 0, hi: int | None = None) -> bytes:
    """``data`` with one byte in ``[lo, hi)`` XORed with a random non-zero mask."""
    end = len(data) if hi is None else min(hi, len(data))
    if end <= lo:
        raise ValueError(f"nothing to flip in bytes {lo}..{end}")
    out = bytearray(data)
    out[rng.randrange(lo, end)] ^= rng.randrange(1, 256)
    return bytes(out)


def _alter(data: bytes, rng: random.Random) -> bytes:
    """``data`` with a byte flipped, or one appended."""
    return _flip(data, rng) if data and rng.random() < 0.5 else data + bytes([rng.randrange(256)])


def _wire_bytes(body: MLSMessageBody) -> bytes:
    return encode(MLSMessage(body=body))


_B = TypeVar("_B")


def _body(w: Wire, cls: type[_B]) -> _B:
    body = w.message.body
    if not isinstance(body, cls):
        raise TypeError(f"not a {cls.__name__}")
    return body


def _public(w: Wire) -> PublicMessage:
    return _body(w, PublicMessage)


def _private(w: Wire) -> PrivateMessage:
    return _body(w, PrivateMessage)


def _welcome(w: Wire) -> Welcome:
    return _body(w, Welcome)


def _key_package(w: Wire) -> KeyPackage:
    return _body(w, KeyPackage)


def _epoch_keys(w: Wire) -> EpochSecrets:
    if w.keys.epoch is None:
        raise TypeError("no epoch secrets")
    return w.keys.epoch


def _member_sender(w: Wire) -> bool:
    body = w.message.body
    return isinstance(body, PublicMessage) and body.content.sender.sender_type == SenderType.MEMBER


def _path(w: Wire) -> UpdatePath | None:
    if not _member_sender(w):
        return None
    commit = _public(w).content.commit
    return None if commit is None else commit.path


def _with_content(pm: PublicMessage, content: FramedContent) -> PublicMessage:
    return replace(pm, content=content)


def _with_path(pm: PublicMessage, path: UpdatePath) -> FramedContent:
    commit = pm.content.commit
    if commit is None:
        raise TypeError("not a commit")
    return replace(pm.content, commit=replace(commit, path=path))


def _members(tree: RatchetTree) -> list[int]:
    return [int(i) for i, _ in tree.leaves()]


def _unknown_leaf(tree: RatchetTree, rng: random.Random) -> int:
    """A leaf index with no member: a blank leaf, or one past the tree."""
    blanks = [i for i in range(tree.n_leaves) if tree.leaf(i) is None]
    return rng.choice([*blanks, tree.n_leaves + rng.randrange(1000)])


def _remac(w: Wire, pm: PublicMessage) -> PublicMessage:
    """Recompute the membership tag (the adversary holds the epoch's membership key)."""
    tag = membership_tag(w.suite, _epoch_keys(w).membership_key, pm.authenticated_content(), w.public.context)
    return replace(pm, membership_tag=tag)


def _resign(w: Wire, pm: PublicMessage, content: FramedContent) -> PublicMessage:
    """Sign ``content`` with the sender's key and tag it as the sender would (§6.1, §6.2)."""
    priv = w.keys.signature_priv
    if priv is None:
        raise TypeError("no signature key")
    ac = sign_content(
        w.suite,
        wire_format=WireFormat.PUBLIC_MESSAGE,
        content=content,
        signature_priv=priv,
        context=w.public.context,
        confirmation_tag=pm.auth.confirmation_tag,
    )
    return protect_public(w.suite, ac, context=w.public.context, membership_key=_epoch_keys(w).membership_key)


def _open_sender_data(w: Wire, pm: PrivateMessage) -> SenderData:
    key, nonce = sender_data_key_nonce(w.suite, _epoch_keys(w).sender_data_secret, pm.ciphertext)
    aad = sender_data_aad(pm.group_id, pm.epoch, pm.content_type)
    return decode(SenderData, w.suite.aead_open(key, nonce, aad, pm.encrypted_sender_data))


def _seal_sender_data(w: Wire, pm: PrivateMessage, sd: SenderData) -> PrivateMessage:
    key, nonce = sender_data_key_nonce(w.suite, _epoch_keys(w).sender_data_secret, pm.ciphertext)
    aad = sender_data_aad(pm.group_id, pm.epoch, pm.content_type)
    return replace(pm, encrypted_sender_data=w.suite.aead_seal(key, nonce, aad, encode(sd)))


def _xor_guard(nonce: bytes, guard: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(nonce[:4], guard, strict=True)) + nonce[4:]


def _ratchet_key_nonce(w: Wire, sd: SenderData, content_type: ContentType) -> tuple[bytes, bytes]:
    """The content key and nonce (reuse guard applied) of ``sd``, from the encryption secret."""
    tree = SecretTree(
        w.suite,
        _epoch_keys(w).encryption_secret,
        w.public.tree.n_leaves,
        policy=RatchetPolicy(max_forward=MAX_GENERATION, max_behind=0),
    )
    key = tree.receive_key(sd.leaf_index, content_type, sd.generation)
    return key.key, _xor_guard(key.nonce, sd.reuse_guard)


def _reseal(w: Wire, change: Callable[[SenderData], SenderData]) -> bytes:
    pm = _private(w)
    return _wire_bytes(_seal_sender_data(w, pm, change(_open_sender_data(w, pm))))


def _tree_nodes(tree: RatchetTree) -> list[Node | None]:
    return [tree.node(x) for x in range(tree.width)]


def _always(_w: Wire) -> bool:
    return True


# ---- the catalogue: each alteration registers itself with its rule ----------------------------------

_W, _K, _S = Capability.WIRE, Capability.EPOCH_KEYS, Capability.SIGNER
_PUB = frozenset({Kind.PUBLIC_PROPOSAL, Kind.PUBLIC_COMMIT})
_COMMIT = frozenset({Kind.PUBLIC_COMMIT})
_PRIV = frozenset({Kind.PRIVATE_HANDSHAKE, Kind.APPLICATION})
_APP = frozenset({Kind.APPLICATION})
_WEL = frozenset({Kind.WELCOME})
_KP = frozenset({Kind.KEY_PACKAGE})

_Apply = Callable[[Wire, random.Random], "Tampered | bytes"]
_REGISTRY: list[Tamper] = []


def _tamper(
    name: str,
    capability: Capability,
    kinds: frozenset[Kind],
    rule: str,
    needs: Callable[[Wire], bool] = _always,
) -> Callable[[_Apply], _Apply]:
    """Register the decorated alteration; the first line of its docstring says what it alters."""

    def register(fn: _Apply) -> _Apply:
        altered = (fn.__doc__ or name).strip().splitlines()[0].rstrip(".")
        _REGISTRY.append(Tamper(name, capability, kinds, altered, RULES[rule], fn, needs))
        return fn

    return register


# ---- PublicMessage: a DS alone -------------------------------------------------------------------


@_tamper("public.authenticated-data", _W, _PUB, "membership-tag", _member_sender)
def _pub_authenticated_data(w: Wire, rng: random.Random) -> bytes:
    """The ``authenticated_data`` field."""
    pm = _public(w)
    ad = _alter(pm.content.authenticated_data, rng)
    return _wire_bytes(_with_content(pm, replace(pm.content, authenticated_data=ad)))


def _has_path_ciphertext(w: Wire) -> bool:
    path = _path(w)
    return path is not None and any(len(n.encrypted_path_secret) for n in path.nodes)


@_tamper("public.path-ciphertext", _W, _COMMIT, "membership-tag", _has_path_ciphertext)
def _pub_path_ciphertext(w: Wire, rng: random.Random) -> bytes:
    """A byte of an encrypted path secret."""
    pm = _public(w)
    path = _path(w)
    assert path is not None
    i = rng.choice([i for i, n in enumerate(path.nodes) if len(n.encrypted_path_secret)])
    node = path.nodes[i]
    cts = list(node.encrypted_path_secret)
    j = rng.randrange(len(cts))
    cts[j] = HPKECiphertext(kem_output=cts[j].kem_output, ciphertext=_flip(cts[j].ciphertext, rng))
    nodes = list(path.nodes)
    nodes[i] = replace(node, encrypted_path_secret=tuple(cts))
    return _wire_bytes(_with_content(pm, _with_path(pm, replace(path, nodes=tuple(nodes)))))


def _has_path_nodes(w: Wire) -> bool:
    path = _path(w)
    return path is not None and len(path.nodes) > 0


@_tamper("public.path-key", _W, _COMMIT, "membership-tag", _has_path_nodes)
def _pub_path_key(w: Wire, rng: random.Random) -> bytes:
    """An UpdatePath node's public key."""
    pm = _public(w)
    path = _path(w)
    assert path is not None
    i = rng.randrange(len(path.nodes))
    nodes = list(path.nodes)
    nodes[i] = replace(nodes[i], encryption_key=rng.randbytes(len(nodes[i].encryption_key)))
    return _wire_bytes(_with_content(pm, _with_path(pm, replace(path, nodes=tuple(nodes)))))


@_tamper("public.signature", _W, _PUB, "membership-tag", _member_sender)
def _pub_signature(w: Wire, rng: random.Random) -> bytes:
    """A byte of the signature."""
    pm = _public(w)
    return _wire_bytes(replace(pm, auth=replace(pm.auth, signature=_flip(pm.auth.signature, rng))))


@_tamper("public.membership-tag", _W, _PUB, "membership-tag", _member_sender)
def _pub_membership_tag(w: Wire, rng: random.Random) -> bytes:
    """A byte of the membership tag."""
    pm = _public(w)
    assert pm.membership_tag is not None
    return _wire_bytes(replace(pm, membership_tag=_flip(pm.membership_tag, rng)))


@_tamper("public.empty-membership-tag", _W, _PUB, "membership-tag", _member_sender)
def _pub_empty_membership_tag(w: Wire, _rng: random.Random) -> bytes:
    """Membership tag set to zero bytes."""
    return _wire_bytes(replace(_public(w), membership_tag=b""))


@_tamper("public.strip-membership-tag", _W, _PUB, "decode", _member_sender)
def _pub_strip_membership_tag(w: Wire, _rng: random.Random) -> bytes:
    """Membership tag cut off the bytes.

    The encoding says a member's PublicMessage has a tag, so the bytes no longer parse."""
    pm = _public(w)
    assert pm.membership_tag is not None
    data = _wire_bytes(pm)
    tail = Writer()
    tail.push_opaque(pm.membership_tag)
    cut = len(tail.data())
    if data[-cut:] != tail.data():
        raise ValueError("membership tag is not at the end of the encoding")
    return data[:-cut]


def _is_commit(w: Wire) -> bool:
    return _member_sender(w) and _public(w).content.content_type == ContentType.COMMIT


@_tamper("public.confirmation-tag", _W, _COMMIT, "membership-tag", _is_commit)
def _pub_confirmation_tag(w: Wire, rng: random.Random) -> bytes:
    """A byte of the confirmation tag."""
    pm = _public(w)
    assert pm.auth.confirmation_tag is not None
    return _wire_bytes(
        replace(pm, auth=replace(pm.auth, confirmation_tag=_flip(pm.auth.confirmation_tag, rng)))
    )


def _other_member(w: Wire, rng: random.Random) -> int:
    me = _public(w).content.sender.index
    return rng.choice([i for i in _members(w.public.tree) if i != me])


def _has_other_member(w: Wire) -> bool:
    return _member_sender(w) and len(_members(w.public.tree)) > 1


@_tamper("public.sender-other", _W, _PUB, "membership-tag", _has_other_member)
def _pub_sender_other(w: Wire, rng: random.Random) -> bytes:
    """The sender: another member's leaf."""
    pm = _public(w)
    content = replace(pm.content, sender=Sender.member(_other_member(w, rng)))
    return _wire_bytes(_with_content(pm, content))


@_tamper("public.sender-unknown", _W, _PUB, "sender", _member_sender)
def _pub_sender_unknown(w: Wire, rng: random.Random) -> bytes:
    """The sender: a blank leaf, or one past the tree."""
    pm = _public(w)
    content = replace(pm.content, sender=Sender.member(_unknown_leaf(w.public.tree, rng)))
    return _wire_bytes(_with_content(pm, content))


def _new_epoch(epoch: int, rng: random.Random) -> int:
    if epoch > 0 and rng.random() < 0.5:
        return epoch - rng.randint(1, epoch)
    return epoch + rng.randint(1, 5)


@_tamper("public.epoch", _W, _PUB, "epoch", _member_sender)
def _pub_epoch(w: Wire, rng: random.Random) -> bytes:
    """The ``epoch`` field."""
    pm = _public(w)
    return _wire_bytes(_with_content(pm, replace(pm.content, epoch=_new_epoch(pm.content.epoch, rng))))


@_tamper("public.group-id", _W, _PUB, "group", _member_sender)
def _pub_group(w: Wire, rng: random.Random) -> bytes:
    """The ``group_id`` field."""
    pm = _public(w)
    return _wire_bytes(_with_content(pm, replace(pm.content, group_id=_alter(pm.content.group_id, rng))))


# ---- PublicMessage: with the epoch's secrets, or the sender's signature key -----------------------


@_tamper("public.signature+mac", _K, _PUB, "signature", _member_sender)
def _pub_signature_remac(w: Wire, rng: random.Random) -> bytes:
    """A byte of the signature; membership tag recomputed."""
    pm = _public(w)
    forged = replace(pm, auth=replace(pm.auth, signature=_flip(pm.auth.signature, rng)))
    return _wire_bytes(_remac(w, forged))


@_tamper("public.sender-other+mac", _K, _PUB, "signature", _has_other_member)
def _pub_sender_other_remac(w: Wire, rng: random.Random) -> bytes:
    """The sender: another member; membership tag recomputed."""
    pm = _public(w)
    forged = _with_content(pm, replace(pm.content, sender=Sender.member(_other_member(w, rng))))
    return _wire_bytes(_remac(w, forged))


@_tamper("public.confirmation-tag+mac", _K, _COMMIT, "confirmation-tag", _is_commit)
def _pub_confirmation_tag_remac(w: Wire, rng: random.Random) -> bytes:
    """A byte of the confirmation tag; membership tag recomputed."""
    pm = _public(w)
    assert pm.auth.confirmation_tag is not None
    forged = replace(pm, auth=replace(pm.auth, confirmation_tag=_flip(pm.auth.confirmation_tag, rng)))
    return _wire_bytes(_remac(w, forged))


@_tamper("public.path-parent-key+sign", _S, _COMMIT, "parent-hash", _has_path_nodes)
def _pub_path_parent_key_resign(w: Wire, rng: random.Random) -> bytes:
    """An UpdatePath parent node's key; content re-signed."""
    pm = _public(w)
    path = _path(w)
    assert path is not None
    i = rng.randrange(len(path.nodes))
    nodes = list(path.nodes)
    nodes[i] = replace(nodes[i], encryption_key=w.suite.kem_generate_key_pair(_Rand(rng)).pub)
    return _wire_bytes(_resign(w, pm, _with_path(pm, replace(path, nodes=tuple(nodes)))))


def _has_path(w: Wire) -> bool:
    return _path(w) is not None


def _swap_leaf_key(w: Wire, rng: random.Random, *, sign_leaf: bool) -> bytes:
    pm = _public(w)
    path = _path(w)
    assert path is not None and w.keys.signature_priv is not None
    leaf = replace(path.leaf_node, encryption_key=w.suite.kem_generate_key_pair(_Rand(rng)).pub)
    if sign_leaf:
        tbs = leaf_node_tbs(leaf, pm.content.group_id, pm.content.sender.index)
        leaf = replace(
            leaf, signature=w.suite.sign_with_label(w.keys.signature_priv, LEAF_NODE_TBS_LABEL, tbs)
        )
    return _wire_bytes(_resign(w, pm, _with_path(pm, replace(path, leaf_node=leaf))))


@_tamper("public.path-leaf-key+sign", _S, _COMMIT, "leaf-signature", _has_path)
def _pub_leaf_key_resign(w: Wire, rng: random.Random) -> bytes:
    """The UpdatePath leaf's key, leaf not re-signed; content re-signed."""
    return _swap_leaf_key(w, rng, sign_leaf=False)


@_tamper("public.path-leaf-key+sign-leaf", _S, _COMMIT, "path-secret", _has_path)
def _pub_leaf_key_resign_leaf(w: Wire, rng: random.Random) -> bytes:
    """The UpdatePath leaf's key, leaf and content re-signed."""
    return _swap_leaf_key(w, rng, sign_leaf=True)


def _inline_add(w: Wire) -> bool:
    if not _member_sender(w):
        return False
    content = _public(w).content
    if isinstance(content.proposal, Add):
        return True
    commit = content.commit
    return commit is not None and any(isinstance(p.proposal, Add) for p in commit.proposals)


def _bad_signature(kp: KeyPackage, rng: random.Random) -> KeyPackage:
    return replace(kp, signature=_flip(kp.signature, rng))


@_tamper("public.add-bad-key-package+sign", _S, _PUB, "key-package-signature", _inline_add)
def _pub_bad_key_package_resign(w: Wire, rng: random.Random) -> bytes:
    """An Add's KeyPackage signature; content re-signed."""
    pm = _public(w)
    content = pm.content
    if isinstance(content.proposal, Add):
        forged = replace(content, proposal=Add(key_package=_bad_signature(content.proposal.key_package, rng)))
    else:
        commit = content.commit
        assert commit is not None
        proposals = list(commit.proposals)
        i = rng.choice([i for i, p in enumerate(proposals) if isinstance(p.proposal, Add)])
        add = proposals[i].proposal
        assert isinstance(add, Add)
        proposals[i] = replace(proposals[i], proposal=Add(key_package=_bad_signature(add.key_package, rng)))
        forged = replace(content, commit=Commit(proposals=tuple(proposals), path=commit.path))
    return _wire_bytes(_resign(w, pm, forged))


# ---- PrivateMessage ------------------------------------------------------------------------------


def _long_ciphertext(w: Wire) -> bool:
    return len(_private(w).ciphertext) > w.suite.info.hash_len


@_tamper("private.ciphertext", _W, _PRIV, "content-aead", _long_ciphertext)
def _priv_ciphertext(w: Wire, rng: random.Random) -> bytes:
    """A ciphertext byte after the sample.

    After the first KDF.Nh bytes: the sender data still opens, the content does not."""
    pm = _private(w)
    return _wire_bytes(replace(pm, ciphertext=_flip(pm.ciphertext, rng, lo=w.suite.info.hash_len)))


@_tamper("private.ciphertext-sample", _W, _PRIV, "sender-data")
def _priv_ciphertext_sample(w: Wire, rng: random.Random) -> bytes:
    """A byte of the ciphertext sample.

    The sender-data key and nonce are derived from it (§6.3.2)."""
    pm = _private(w)
    return _wire_bytes(replace(pm, ciphertext=_flip(pm.ciphertext, rng, hi=w.suite.info.hash_len)))


@_tamper("private.sender-data", _W, _PRIV, "sender-data")
def _priv_sender_data(w: Wire, rng: random.Random) -> bytes:
    """A byte of ``encrypted_sender_data``."""
    pm = _private(w)
    return _wire_bytes(replace(pm, encrypted_sender_data=_flip(pm.encrypted_sender_data, rng)))


def _other_private(w: Wire) -> list[PrivateMessage]:
    own = _private(w).encrypted_sender_data
    return [
        s.message.body
        for s in w.earlier
        if isinstance(s.message.body, PrivateMessage) and s.message.body.encrypted_sender_data != own
    ]


def _has_other_private(w: Wire) -> bool:
    return bool(_other_private(w))


@_tamper("private.splice-sender-data", _W, _PRIV, "sender-data", _has_other_private)
def _priv_splice_sender_data(w: Wire, rng: random.Random) -> bytes:
    """The ``encrypted_sender_data`` of another PrivateMessage.

    Say, to claim another sender or generation."""
    pm = _private(w)
    donor = rng.choice(_other_private(w))
    return _wire_bytes(replace(pm, encrypted_sender_data=donor.encrypted_sender_data))


@_tamper("private.authenticated-data", _W, _PRIV, "content-aead")
def _priv_authenticated_data(w: Wire, rng: random.Random) -> bytes:
    """The ``authenticated_data`` field (in the content's AAD)."""
    pm = _private(w)
    return _wire_bytes(replace(pm, authenticated_data=_alter(pm.authenticated_data, rng)))


@_tamper("private.content-type", _W, _PRIV, "sender-data")
def _priv_content_type(w: Wire, rng: random.Random) -> bytes:
    """The ``content_type`` field (in the sender data's AAD)."""
    pm = _private(w)
    others = [
        t for t in (ContentType.APPLICATION, ContentType.PROPOSAL, ContentType.COMMIT) if t != pm.content_type
    ]
    return _wire_bytes(replace(pm, content_type=rng.choice(others)))


@_tamper("private.epoch", _W, _PRIV, "epoch")
def _priv_epoch(w: Wire, rng: random.Random) -> bytes:
    """The ``epoch`` field (a later epoch).

    An earlier one may be a retained epoch (late application messages): the sender data would
    then fail instead."""
    pm = _private(w)
    return _wire_bytes(replace(pm, epoch=pm.epoch + rng.randint(1, 5)))


@_tamper("private.group-id", _W, _PRIV, "group")
def _priv_group(w: Wire, rng: random.Random) -> bytes:
    """The ``group_id`` field."""
    pm = _private(w)
    return _wire_bytes(replace(pm, group_id=_alter(pm.group_id, rng)))


@_tamper("private.generation+seal", _K, _PRIV, "content-aead")
def _priv_generation(w: Wire, rng: random.Random) -> bytes:
    """SenderData generation +1..8; sender data re-sealed."""
    step = rng.randint(1, 8)
    return _reseal(w, lambda sd: replace(sd, generation=min(MAX_GENERATION, sd.generation + step)))


@_tamper("private.generation-far+seal", _K, _PRIV, "generation-window")
def _priv_generation_far(w: Wire, rng: random.Random) -> bytes:
    """SenderData generation +2^20..2^24; sender data re-sealed."""
    jump = rng.randint(2**20, 2**24)
    return _reseal(w, lambda sd: replace(sd, generation=min(MAX_GENERATION, sd.generation + jump)))


@_tamper("private.reuse-guard+seal", _K, _PRIV, "content-aead")
def _priv_reuse_guard(w: Wire, rng: random.Random) -> bytes:
    """SenderData ``reuse_guard``; sender data re-sealed."""
    return _reseal(w, lambda sd: replace(sd, reuse_guard=_flip(sd.reuse_guard, rng)))


@_tamper("private.sender-unknown+seal", _K, _PRIV, "sender-data")
def _priv_sender_unknown(w: Wire, rng: random.Random) -> bytes:
    """SenderData leaf: blank or past the tree; re-sealed."""
    leaf = _unknown_leaf(w.public.tree, rng)
    return _reseal(w, lambda sd: replace(sd, leaf_index=leaf))


@_tamper("private.content+encrypt", _K, _APP, "signature")
def _priv_content_reencrypt(w: Wire, rng: random.Random) -> bytes:
    """Application data, re-encrypted under its own key.

    The forgery decrypts under the genuine message's key and nonce, and the signature (inside
    the ciphertext) does not verify; the key is not consumed (§9.2 consumes it only with a
    successful decryption), so the genuine message is still read."""
    pm = _private(w)
    sd = _open_sender_data(w, pm)
    key, nonce = _ratchet_key_nonce(w, sd, pm.content_type)
    aad = private_content_aad(pm.group_id, pm.epoch, pm.content_type, pm.authenticated_data)
    pmc = decode_private_message_content(w.suite.aead_open(key, nonce, aad, pm.ciphertext), pm.content_type)
    forged = PrivateMessageContent(
        content_type=pmc.content_type,
        application_data=_alter(pmc.application_data, rng),
        auth=pmc.auth,
        padding=pmc.padding,
    )
    ciphertext = w.suite.aead_seal(key, nonce, aad, encode(forged))
    return _wire_bytes(_seal_sender_data(w, replace(pm, ciphertext=ciphertext), sd))


# ---- replays ---------------------------------------------------------------------------------------


def _header(message: MLSMessage) -> tuple[bytes, int, ContentType] | None:
    """(group_id, epoch, content_type) of a PublicMessage or PrivateMessage, as a DS reads them."""
    body = message.body
    if isinstance(body, PublicMessage):
        return body.content.group_id, body.content.epoch, body.content.content_type
    if isinstance(body, PrivateMessage):
        return body.group_id, body.epoch, body.content_type
    return None


def _current_private(w: Wire) -> list[Sent]:
    here = (w.public.context.group_id, w.public.context.epoch)
    return [
        s
        for s in w.earlier
        if isinstance(s.message.body, PrivateMessage) and (_header(s.message) or (b"", -1))[:2] == here
    ]


def _has_current_private(w: Wire) -> bool:
    return bool(_current_private(w))


@_tamper("replay.private", _W, MEMBER_KINDS, "key-reuse", _has_current_private)
def _replay_private(w: Wire, rng: random.Random) -> Tampered:
    """A PrivateMessage of this epoch, delivered again."""
    sent = rng.choice(_current_private(w))
    return Tampered(tamper=tamper_named("replay.private"), data=encode(sent.message), sender=sent.sender)


def _old_commits(w: Wire) -> list[Sent]:
    gid, epoch = w.public.context.group_id, w.public.context.epoch
    out = []
    for s in w.earlier:
        h = _header(s.message)
        if h is not None and h[0] == gid and h[1] < epoch and h[2] == ContentType.COMMIT:
            out.append(s)
    return out


def _has_old_commit(w: Wire) -> bool:
    return bool(_old_commits(w))


@_tamper("replay.old-commit", _W, MEMBER_KINDS, "epoch", _has_old_commit)
def _replay_old_commit(w: Wire, rng: random.Random) -> Tampered:
    """A commit of an earlier epoch, delivered again."""
    sent = rng.choice(_old_commits(w))
    return Tampered(tamper=tamper_named("replay.old-commit"), data=encode(sent.message), sender=sent.sender)


# ---- Welcome and the tree a DS serves with it --------------------------------------------------------


@_tamper("welcome.group-secrets", _W, _WEL, "welcome-secrets")
def _welcome_group_secrets(w: Wire, rng: random.Random) -> bytes:
    """A byte of each ``encrypted_group_secrets``."""
    wm = _welcome(w)
    entries = tuple(
        replace(
            e,
            encrypted_group_secrets=HPKECiphertext(
                kem_output=e.encrypted_group_secrets.kem_output,
                ciphertext=_flip(e.encrypted_group_secrets.ciphertext, rng),
            ),
        )
        for e in wm.secrets
    )
    return _wire_bytes(replace(wm, secrets=entries))


@_tamper("welcome.group-info", _W, _WEL, "welcome-secrets")
def _welcome_group_info(w: Wire, rng: random.Random) -> bytes:
    """A byte of ``encrypted_group_info``."""
    wm = _welcome(w)
    return _wire_bytes(replace(wm, encrypted_group_info=_flip(wm.encrypted_group_info, rng)))


@_tamper("welcome.key-package-ref", _W, _WEL, "welcome-ref")
def _welcome_ref(w: Wire, rng: random.Random) -> bytes:
    """Each ``new_member`` KeyPackageRef."""
    wm = _welcome(w)
    return _wire_bytes(
        replace(wm, secrets=tuple(replace(e, new_member=_flip(e.new_member, rng)) for e in wm.secrets))
    )


def _can_forge_welcome(w: Wire) -> bool:
    return w.group_info is not None and w.tree is not None and len(w.key_packages) > 0


@_tamper("welcome.forged-joiner-secret", _W, _WEL, "welcome-confirmation-tag", _can_forge_welcome)
def _welcome_forged_joiner_secret(w: Wire, rng: random.Random) -> Tampered:
    """A new Welcome: published GroupInfo, the DS's joiner secret.

    From public material only: the published (genuinely signed) GroupInfo, the public tree,
    the new members' KeyPackages, and a joiner secret of the DS's choosing."""
    assert w.group_info is not None
    rand = _Rand(rng)
    joiner_secret = rand.random_bytes(w.suite.info.hash_len)
    forged = seal_welcome(
        w.suite,
        joiner=JoinerStage.start(w.suite, joiner_secret=joiner_secret),
        group_info=w.group_info,
        recipients=[(kp, GroupSecrets(joiner_secret=joiner_secret)) for kp in w.key_packages],
        rand=rand,
    )
    return Tampered(
        tamper=tamper_named("welcome.forged-joiner-secret"),
        data=_wire_bytes(forged),
        sender=w.sender,
        tree=w.tree,
    )


def _can_reseal_welcome(w: Wire) -> bool:
    return w.keys.next_epoch is not None and len(w.key_packages) > 0


@_tamper("welcome.group-info+seal", _K, _WEL, "group-info-signature", _can_reseal_welcome)
def _welcome_group_info_reseal(w: Wire, rng: random.Random) -> bytes:
    """The GroupInfo's confirmation tag; Welcome sealed again.

    The GroupInfo opened with the new epoch's welcome secret, altered, sealed again, and
    GroupSecrets for it sent to each new member's (public) init key."""
    secrets = w.keys.next_epoch
    assert secrets is not None
    key, nonce = secrets.welcome_key_nonce()
    gi = decode(GroupInfo, w.suite.aead_open(key, nonce, b"", _welcome(w).encrypted_group_info))
    forged = replace(gi, confirmation_tag=_flip(gi.confirmation_tag, rng))
    welcome = seal_welcome(
        w.suite,
        joiner=JoinerStage.start(w.suite, joiner_secret=secrets.joiner_secret),
        group_info=forged,
        recipients=[(kp, GroupSecrets(joiner_secret=secrets.joiner_secret)) for kp in w.key_packages],
        rand=_Rand(rng),
    )
    return _wire_bytes(welcome)


def _has_parent(w: Wire) -> bool:
    tree = w.tree
    return (
        w.tree_from_ds
        and tree is not None
        and any(isinstance(tree.node(x), ParentNode) for x in range(1, tree.width, 2))
    )


@_tamper("tree.parent-key", _W, _WEL, "tree-parent-hash", _has_parent)
def _tree_parent_key(w: Wire, rng: random.Random) -> Tampered:
    """A parent node's key in the tree the DS serves."""
    assert w.tree is not None
    nodes = _tree_nodes(w.tree)
    x = rng.choice([x for x, n in enumerate(nodes) if isinstance(n, ParentNode)])
    node = nodes[x]
    assert isinstance(node, ParentNode)
    nodes[x] = replace(node, encryption_key=w.suite.kem_generate_key_pair(_Rand(rng)).pub)
    return Tampered(
        tamper=tamper_named("tree.parent-key"),
        data=encode(w.message),
        sender=w.sender,
        tree=RatchetTree.from_nodes(w.suite, nodes),
    )


def _tree_from_ds(w: Wire) -> bool:
    return w.tree_from_ds and w.tree is not None


@_tamper("tree.stale", _W, _WEL, "tree-hash", _tree_from_ds)
def _tree_stale(w: Wire, _rng: random.Random) -> Tampered:
    """The tree served is the previous epoch's."""
    return Tampered(
        tamper=tamper_named("tree.stale"), data=encode(w.message), sender=w.sender, tree=w.public.tree
    )


# ---- KeyPackages a DS serves ----------------------------------------------------------------------


@_tamper("key-package.signature", _W, _KP, "key-package-signature")
def _kp_signature(w: Wire, rng: random.Random) -> bytes:
    """A byte of the KeyPackage signature."""
    return _wire_bytes(_bad_signature(_key_package(w), rng))


@_tamper("key-package.init-key", _W, _KP, "key-package-signature")
def _kp_init_key(w: Wire, rng: random.Random) -> bytes:
    """The ``init_key``, replaced by the adversary's.

    The Welcome would then open for the adversary."""
    kp = _key_package(w)
    return _wire_bytes(replace(kp, init_key=w.suite.kem_generate_key_pair(_Rand(rng)).pub))


@_tamper("key-package.forged-credential", _W, _KP, "credential")
def _kp_forged_credential(w: Wire, rng: random.Random) -> bytes:
    """The client's identity with the adversary's keys, self-signed.

    Every signature verifies: only the AS's binding of identity to signature key (§5.3.1) tells."""
    genuine = _key_package(w)
    forged = make_key_package(
        w.suite,
        credential=genuine.leaf_node.credential,
        signature_key_pair=None,
        rand=_Rand(rng),
        lifetime=genuine.leaf_node.lifetime or Lifetime(not_before=0, not_after=2**63),
        capabilities=genuine.leaf_node.capabilities,
    )
    return _wire_bytes(forged.key_package)


CATALOGUE: tuple[Tamper, ...] = tuple(_REGISTRY)
_BY_NAME = {t.name: t for t in CATALOGUE}


def tamper_named(name: str) -> Tamper:
    return _BY_NAME[name]


def applicable(wire: Wire, *, capabilities: Iterable[Capability] = tuple(Capability)) -> list[Tamper]:
    """The catalogue entries that apply to ``wire`` for an adversary with ``capabilities``."""
    allowed = set(capabilities)
    return [t for t in CATALOGUE if t.capability in allowed and t.applies(wire)]


# ---- delivering, and what a receiver does with it -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """One receiver and one tampered message."""

    tamper: str
    rule: Rule
    #: the class the receiver raised; None if it accepted the message
    raised: type[MLSError] | None
    reason: str
    state_unchanged: bool

    @property
    def detected(self) -> bool:
        """Rejected, and the state the rejection left is the state before."""
        return self.raised is not None and self.state_unchanged

    @property
    def as_expected(self) -> bool:
        """Detected by exactly the rule's check (its error class)."""
        return self.detected and self.raised is self.rule.error


def member_snapshot(group: Group) -> tuple[object, ...]:
    """What a rejected message must leave unchanged: epoch, epoch authenticator, tree hash (the
    GroupContext's and the tree's own), activity and the cached proposals."""
    return (
        group.epoch,
        group.epoch_authenticator,
        group.tree_hash,
        group.tree.tree_hash(),
        group.active,
        group.pending_proposals,
    )


def _attempt(t: Tampered, action: Callable[[], object], state: Callable[[], object]) -> Detection:
    before = state()
    raised: type[MLSError] | None = None
    reason = ""
    try:
        action()
    except MLSError as exc:
        raised, reason = type(exc), str(exc)
    return Detection(
        tamper=t.tamper.name, rule=t.rule, raised=raised, reason=reason, state_unchanged=state() == before
    )


def deliver_to_member(group: Group, t: Tampered, *, now: int | None = None) -> Detection:
    """A member receives the tampered bytes, decodes and processes them (``Group.process``)."""

    def action() -> object:
        return group.process(decode(MLSMessage, t.data), now=now)

    return _attempt(t, action, lambda: member_snapshot(group))


def deliver_to_joiner(
    suite: CipherSuite,
    t: Tampered,
    *,
    bundle: KeyPackageBundle,
    identity: MemberIdentity,
    config: GroupConfig | None = None,
    tree: RatchetTree | None = None,
    now: int | None = None,
) -> Detection:
    """A new member receives the tampered Welcome (and ``t.tree`` if the DS served one in place of
    ``tree``) and tries to join; a rejection leaves it with no group, its KeyPackage unused."""

    def action() -> object:
        welcome = decode(MLSMessage, t.data).body
        if not isinstance(welcome, Welcome):
            raise DecodeError(f"a {type(welcome).__name__} where a Welcome was expected")
        return Group.join(
            suite,
            welcome,
            key_package=bundle.key_package,
            init_priv=bundle.init_priv,
            encryption_priv=bundle.encryption_priv,
            identity=identity,
            ratchet_tree=t.tree if t.tree is not None else tree,
            config=config,
            now=now,
        )

    return _attempt(t, action, lambda: None)


def offer_key_package(group: Group, t: Tampered, rand: RandomSource, *, now: int | None = None) -> Detection:
    """A member fetches the tampered KeyPackage from the DS and commits an Add of it; a rejection
    stages nothing. (Accepted, the staged commit is discarded: it is not sent.)"""

    def action() -> object:
        kp = key_package_from_message(decode(MLSMessage, t.data))
        staged = group.commit(rand, adds=[kp], include_cached=False, now=now)
        group.discard(staged)
        return staged

    return _attempt(t, action, lambda: (member_snapshot(group), group.staged_state is None))


# ---- counting ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleRow:
    """Tampered messages per rule; a message counts as detected when every receiver rejected it
    and kept its state."""

    rule: str
    rfc_section: str
    error: str
    messages: int
    detected: int
    #: rejected, but by another check than the rule's
    other_error: int
    #: accepted by at least one receiver
    accepted: int
    #: rejected with a state change at some receiver
    state_changed: int
    deliveries: int


INSIDER = "insider"


class TamperLedger:
    """Counts tampered messages per rule, and AS-issued insiders (admitted: undetectable by MLS)."""

    __slots__ = ("_rows", "_by_tamper", "failures", "insiders")

    def __init__(self) -> None:
        self._rows: dict[str, Counter[str]] = {}
        self._by_tamper: Counter[str] = Counter()
        #: every delivery that was not rejected by exactly the expected check with state unchanged
        self.failures: list[Detection] = []
        self.insiders = 0

    def record(self, t: Tampered, detections: Sequence[Detection]) -> None:
        """One tampered message and what each of its receivers did with it."""
        if not detections:
            raise ValueError(f"{t.tamper.name}: a tampered message with no receiver proves nothing")
        row = self._rows.setdefault(t.rule.name, Counter())
        self._by_tamper[t.tamper.name] += 1
        row["messages"] += 1
        row["deliveries"] += len(detections)
        self.failures += [d for d in detections if not d.as_expected]
        if any(d.raised is None for d in detections):
            row["accepted"] += 1
        elif not all(d.state_unchanged for d in detections):
            row["state_changed"] += 1
        elif all(d.as_expected for d in detections):
            row["detected"] += 1
        else:
            row["other_error"] += 1

    def record_insider(self) -> None:
        """An AS-vouched device of the adversary was added: MLS accepted it, as it must."""
        self.insiders += 1

    def by_tamper(self) -> dict[str, int]:
        return dict(self._by_tamper)

    def rows(self) -> list[RuleRow]:
        out = []
        for name, rule in RULES.items():
            c = self._rows.get(name)
            if c is None:
                continue
            out.append(
                RuleRow(
                    rule=name,
                    rfc_section=rule.rfc_section,
                    error=rule.error.__name__,
                    messages=c["messages"],
                    detected=c["detected"],
                    other_error=c["other_error"],
                    accepted=c["accepted"],
                    state_changed=c["state_changed"],
                    deliveries=c["deliveries"],
                )
            )
        if self.insiders:
            out.append(
                RuleRow(
                    rule=INSIDER,
                    rfc_section="16.10",
                    error="none: undetectable by MLS",
                    messages=self.insiders,
                    detected=0,
                    other_error=0,
                    accepted=self.insiders,
                    state_changed=0,
                    deliveries=0,
                )
            )
        return out

    def summary(self) -> dict[str, int]:
        """Rule -> tampered messages detected; ``insider`` -> 0 (never detectable by MLS)."""
        return {row.rule: row.detected for row in self.rows()}

    def undetectable(self) -> dict[str, int]:
        """Attacks MLS cannot detect: AS-issued insiders admitted."""
        return {INSIDER: self.insiders} if self.insiders else {}


# ---- the authentication service --------------------------------------------------------------------


class Directory:
    """The application's record of what its AS vouches for: the signature keys each identity may
    use (§5.3.1). A :class:`~mlssim.mls.credentials.CredentialValidator` for ``LeafPolicy``:
    a basic credential is valid for a signature key iff the AS vouched for that pair."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[bytes, set[bytes]] = {}

    def vouch(self, identity: bytes, signature_key: bytes) -> None:
        self._keys.setdefault(identity, set()).add(signature_key)

    def __call__(
        self,
        credential: Credential,
        signature_key: bytes,
        now: int,
        /,
        *,
        predecessor: Credential | None = None,
    ) -> None:
        if credential.credential_type != CredentialType.BASIC:
            raise UnsupportedCredentialTypeError(f"the directory holds basic credentials, not {credential}")
        if signature_key not in self._keys.get(credential.identity, ()):
            raise CredentialError(f"the AS never vouched for this key for identity {credential.identity!r}")
        if predecessor is not None:
            check_same_identifiers(credential, predecessor)  # a device keeps its user's identity


@dataclass(frozen=True, slots=True, kw_only=True)
class Insider:
    """A device the adversary controls that a compromised AS vouched for (§16.10). MLS accepts it
    like any member: nothing in the protocol can tell, so it is undetectable by MLS."""

    bundle: KeyPackageBundle
    identity: MemberIdentity
    detectable_by_mls: bool = False


def issue_insider(
    suite: CipherSuite,
    directory: Directory,
    identity: bytes,
    rand: RandomSource,
    *,
    lifetime: Lifetime | None = None,
) -> Insider:
    """The AS vouches for a fresh signature key of the adversary under ``identity`` (e.g. a new
    device of an existing user) and the adversary publishes a valid KeyPackage for it."""
    sig = suite.signature_key_pair(rand)
    directory.vouch(identity, sig.pub)
    credential = Credential.basic(identity)
    bundle = make_key_package(
        suite,
        credential=credential,
        signature_key_pair=sig,
        rand=rand,
        lifetime=lifetime or Lifetime(not_before=0, not_after=2**63),
    )
    return Insider(
        bundle=bundle,
        identity=MemberIdentity(
            credential=credential,
            signature_priv=sig.priv,
            signature_key=sig.pub,
            capabilities=bundle.key_package.leaf_node.capabilities,
        ),
    )
