"""Alterations of a PrivateMessage (handshakes and application messages under the epoch's keys):
its clear header fields, ciphertext, sender data, and, with the epoch's secrets, re-sealed
sender data and a re-encrypted application message.

A DS alone is caught by the sender-data or content AEAD (§6.3); with the epoch's secrets it
re-seals the sender data and reaches the generation window, the reuse guard and the inner
signature. The sender-data and ratchet-key helpers live here because nothing else uses them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from mlssim.mls.codec import decode, encode
from mlssim.mls.messages import (
    ContentType,
    PrivateMessage,
    PrivateMessageContent,
    SenderData,
    decode_private_message_content,
    private_content_aad,
    sender_data_aad,
)
from mlssim.mls.secret_tree import MAX_GENERATION, RatchetPolicy, SecretTree, sender_data_key_nonce

from .forge import alter, body_of, epoch_keys, flip, unknown_leaf, wire_bytes
from .model import Kind, Tamper, Wire
from .registry import EPOCH_KEYS, WIRE, Registry

__all__ = ["TAMPERS"]

_PRIV = frozenset({Kind.PRIVATE_HANDSHAKE, Kind.APPLICATION})
_APP = frozenset({Kind.APPLICATION})
_tamper = Registry()


def _private(w: Wire) -> PrivateMessage:
    return body_of(w, PrivateMessage)


def _open_sender_data(w: Wire, pm: PrivateMessage) -> SenderData:
    key, nonce = sender_data_key_nonce(w.suite, epoch_keys(w).sender_data_secret, pm.ciphertext)
    aad = sender_data_aad(pm.group_id, pm.epoch, pm.content_type)
    return decode(SenderData, w.suite.aead_open(key, nonce, aad, pm.encrypted_sender_data))


def _seal_sender_data(w: Wire, pm: PrivateMessage, sd: SenderData) -> PrivateMessage:
    key, nonce = sender_data_key_nonce(w.suite, epoch_keys(w).sender_data_secret, pm.ciphertext)
    aad = sender_data_aad(pm.group_id, pm.epoch, pm.content_type)
    return replace(pm, encrypted_sender_data=w.suite.aead_seal(key, nonce, aad, encode(sd)))


def _xor_guard(nonce: bytes, guard: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(nonce[:4], guard, strict=True)) + nonce[4:]


def _ratchet_key_nonce(w: Wire, sd: SenderData, content_type: ContentType) -> tuple[bytes, bytes]:
    """The content key and nonce (reuse guard applied) of ``sd``, from the encryption secret."""
    tree = SecretTree(
        w.suite,
        epoch_keys(w).encryption_secret,
        w.public.tree.n_leaves,
        policy=RatchetPolicy(max_forward=MAX_GENERATION, max_behind=0),
    )
    key = tree.receive_key(sd.leaf_index, content_type, sd.generation)
    return key.key, _xor_guard(key.nonce, sd.reuse_guard)


def _reseal(w: Wire, change: Callable[[SenderData], SenderData]) -> bytes:
    pm = _private(w)
    return wire_bytes(_seal_sender_data(w, pm, change(_open_sender_data(w, pm))))


def _long_ciphertext(w: Wire) -> bool:
    return len(_private(w).ciphertext) > w.suite.info.hash_len


@_tamper("private.ciphertext", WIRE, _PRIV, "content-aead", _long_ciphertext)
def _priv_ciphertext(w: Wire, rng: random.Random) -> bytes:
    """A ciphertext byte after the sample.

    After the first KDF.Nh bytes: the sender data still opens, the content does not."""
    pm = _private(w)
    return wire_bytes(replace(pm, ciphertext=flip(pm.ciphertext, rng, lo=w.suite.info.hash_len)))


@_tamper("private.ciphertext-sample", WIRE, _PRIV, "sender-data")
def _priv_ciphertext_sample(w: Wire, rng: random.Random) -> bytes:
    """A byte of the ciphertext sample.

    The sender-data key and nonce are derived from it (§6.3.2)."""
    pm = _private(w)
    return wire_bytes(replace(pm, ciphertext=flip(pm.ciphertext, rng, hi=w.suite.info.hash_len)))


@_tamper("private.sender-data", WIRE, _PRIV, "sender-data")
def _priv_sender_data(w: Wire, rng: random.Random) -> bytes:
    """A byte of ``encrypted_sender_data``."""
    pm = _private(w)
    return wire_bytes(replace(pm, encrypted_sender_data=flip(pm.encrypted_sender_data, rng)))


def _other_private(w: Wire) -> list[PrivateMessage]:
    own = _private(w).encrypted_sender_data
    return [
        s.message.body
        for s in w.earlier
        if isinstance(s.message.body, PrivateMessage) and s.message.body.encrypted_sender_data != own
    ]


def _has_other_private(w: Wire) -> bool:
    return bool(_other_private(w))


@_tamper("private.splice-sender-data", WIRE, _PRIV, "sender-data", _has_other_private)
def _priv_splice_sender_data(w: Wire, rng: random.Random) -> bytes:
    """The ``encrypted_sender_data`` of another PrivateMessage.

    Say, to claim another sender or generation."""
    pm = _private(w)
    donor = rng.choice(_other_private(w))
    return wire_bytes(replace(pm, encrypted_sender_data=donor.encrypted_sender_data))


@_tamper("private.authenticated-data", WIRE, _PRIV, "content-aead")
def _priv_authenticated_data(w: Wire, rng: random.Random) -> bytes:
    """The ``authenticated_data`` field (in the content's AAD)."""
    pm = _private(w)
    return wire_bytes(replace(pm, authenticated_data=alter(pm.authenticated_data, rng)))


@_tamper("private.content-type", WIRE, _PRIV, "sender-data")
def _priv_content_type(w: Wire, rng: random.Random) -> bytes:
    """The ``content_type`` field (in the sender data's AAD)."""
    pm = _private(w)
    others = [
        t for t in (ContentType.APPLICATION, ContentType.PROPOSAL, ContentType.COMMIT) if t != pm.content_type
    ]
    return wire_bytes(replace(pm, content_type=rng.choice(others)))


@_tamper("private.epoch", WIRE, _PRIV, "epoch")
def _priv_epoch(w: Wire, rng: random.Random) -> bytes:
    """The ``epoch`` field (a later epoch).

    An earlier one may be a retained epoch (late application messages): the sender data would
    then fail instead."""
    pm = _private(w)
    return wire_bytes(replace(pm, epoch=pm.epoch + rng.randint(1, 5)))


@_tamper("private.group-id", WIRE, _PRIV, "group")
def _priv_group(w: Wire, rng: random.Random) -> bytes:
    """The ``group_id`` field."""
    pm = _private(w)
    return wire_bytes(replace(pm, group_id=alter(pm.group_id, rng)))


@_tamper("private.generation+seal", EPOCH_KEYS, _PRIV, "content-aead")
def _priv_generation(w: Wire, rng: random.Random) -> bytes:
    """SenderData generation +1..8; sender data re-sealed."""
    step = rng.randint(1, 8)
    return _reseal(w, lambda sd: replace(sd, generation=min(MAX_GENERATION, sd.generation + step)))


@_tamper("private.generation-far+seal", EPOCH_KEYS, _PRIV, "generation-window")
def _priv_generation_far(w: Wire, rng: random.Random) -> bytes:
    """SenderData generation +2^20..2^24; sender data re-sealed."""
    jump = rng.randint(2**20, 2**24)
    return _reseal(w, lambda sd: replace(sd, generation=min(MAX_GENERATION, sd.generation + jump)))


@_tamper("private.reuse-guard+seal", EPOCH_KEYS, _PRIV, "content-aead")
def _priv_reuse_guard(w: Wire, rng: random.Random) -> bytes:
    """SenderData ``reuse_guard``; sender data re-sealed."""
    return _reseal(w, lambda sd: replace(sd, reuse_guard=flip(sd.reuse_guard, rng)))


@_tamper("private.sender-unknown+seal", EPOCH_KEYS, _PRIV, "sender-data")
def _priv_sender_unknown(w: Wire, rng: random.Random) -> bytes:
    """SenderData leaf: blank or past the tree; re-sealed."""
    leaf = unknown_leaf(w.public.tree, rng)
    return _reseal(w, lambda sd: replace(sd, leaf_index=leaf))


@_tamper("private.content+encrypt", EPOCH_KEYS, _APP, "signature")
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
        application_data=alter(pmc.application_data, rng),
        auth=pmc.auth,
        padding=pmc.padding,
    )
    ciphertext = w.suite.aead_seal(key, nonce, aad, encode(forged))
    return wire_bytes(_seal_sender_data(w, replace(pm, ciphertext=ciphertext), sd))


#: the PrivateMessage alterations, in catalogue order
TAMPERS: tuple[Tamper, ...] = tuple(_tamper.tampers)
