"""The vocabulary of tampering: who tampers (:class:`Capability`), what crosses the wire
(:class:`Kind`), what the DS holds around a genuine message (:class:`Wire`, :class:`Sent`,
:class:`StolenKeys`), an alteration (:class:`Tamper`) and what it delivers (:class:`Tampered`).

Kept apart from the alterations themselves so that the catalogue's modules, the delivery
helpers and the ledger all speak of the same few types without importing one another.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from mlssim.mls.crypto.suite import CipherSuite
from mlssim.mls.group import PublicEpoch
from mlssim.mls.keyschedule import EpochSecrets
from mlssim.mls.messages import (
    ContentType,
    GroupInfo,
    KeyPackage,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Welcome,
)
from mlssim.mls.ratchet_tree import RatchetTree

from .rules import Rule

__all__ = [
    "Capability",
    "Kind",
    "kind_of",
    "MEMBER_KINDS",
    "Sent",
    "StolenKeys",
    "Wire",
    "Tampered",
    "Served",
    "Apply",
    "Tamper",
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    """What an alteration returns when it is more than bytes from the genuine sender: a replay
    (another sender's message) or a Welcome with a ratchet tree the DS serves. :meth:`Tamper.apply`
    makes the :class:`Tampered` of it, so an alteration never has to look itself up."""

    data: bytes
    sender: int
    tree: RatchetTree | None = None


#: an alteration: what the DS delivers instead of the genuine message
Apply = Callable[[Wire, random.Random], Served | bytes]


@dataclass(frozen=True, slots=True)
class Tamper:
    """One alteration, the capability it needs, and the rule that must reject it."""

    name: str
    capability: Capability
    kinds: frozenset[Kind]
    altered: str
    rule: Rule
    _apply: Apply = field(repr=False)
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
        if isinstance(out, Served):
            return Tampered(tamper=self, data=out.data, sender=out.sender, tree=out.tree)
        return Tampered(tamper=self, data=out, sender=wire.sender)
