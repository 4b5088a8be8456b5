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

The package is split by concern: :mod:`.rules` (the RFC checks), :mod:`.model` (capabilities,
kinds, the wire, an alteration), :mod:`.forge` and :mod:`.registry` (what the alterations
share), the alterations of :mod:`.public`, :mod:`.private`, :mod:`.replay` and :mod:`.joining`,
:mod:`.catalogue` (all of them, in order), :mod:`.delivery`, :mod:`.ledger` and
:mod:`.authentication`.
"""

from __future__ import annotations

from .authentication import Directory, Insider, issue_insider
from .catalogue import CATALOGUE, applicable, tamper_named
from .delivery import Detection, deliver_to_joiner, deliver_to_member, member_snapshot, offer_key_package
from .ledger import RuleRow, TamperLedger
from .model import Capability, Kind, Sent, StolenKeys, Tamper, Tampered, Wire, kind_of
from .rules import RULES, Rule

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
