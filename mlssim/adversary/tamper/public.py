"""Alterations of a PublicMessage (proposals and commits in the clear): its framing fields,
signature, membership and confirmation tags, and a commit's UpdatePath and inline Adds.

A DS alone is caught by the membership tag (§6.2); with the epoch's secrets it recomputes the
tag and reaches the signature and confirmation-tag checks; with the sender's signature key it
re-signs and reaches the UpdatePath's leaf signature, parent hash and path secrets, and an
Add's KeyPackage signature. The PublicMessage helpers (re-MAC, re-sign, path access) live here
because nothing else uses them.
"""

from __future__ import annotations

import random
from dataclasses import replace

from mlssim.mls.codec import Writer
from mlssim.mls.leaf_nodes import LEAF_NODE_TBS_LABEL
from mlssim.mls.messages import (
    Add,
    Commit,
    ContentType,
    FramedContent,
    HPKECiphertext,
    PublicMessage,
    Sender,
    SenderType,
    WireFormat,
)
from mlssim.mls.messages.tree import UpdatePath, leaf_node_tbs
from mlssim.mls.protect import membership_tag, protect_public, sign_content
from mlssim.mls.ratchet_tree import RatchetTree

from .forge import Rand, alter, bad_signature, body_of, epoch_keys, flip, unknown_leaf, wire_bytes
from .model import Kind, Tamper, Wire
from .registry import EPOCH_KEYS, SIGNER, WIRE, Registry

__all__ = ["TAMPERS"]

_PUB = frozenset({Kind.PUBLIC_PROPOSAL, Kind.PUBLIC_COMMIT})
_COMMIT = frozenset({Kind.PUBLIC_COMMIT})
_tamper = Registry()


def _public(w: Wire) -> PublicMessage:
    return body_of(w, PublicMessage)


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


def _remac(w: Wire, pm: PublicMessage) -> PublicMessage:
    """Recompute the membership tag (the adversary holds the epoch's membership key)."""
    tag = membership_tag(w.suite, epoch_keys(w).membership_key, pm.authenticated_content(), w.public.context)
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
    return protect_public(w.suite, ac, context=w.public.context, membership_key=epoch_keys(w).membership_key)


# ---- PublicMessage: a DS alone -------------------------------------------------------------------


@_tamper("public.authenticated-data", WIRE, _PUB, "membership-tag", _member_sender)
def _pub_authenticated_data(w: Wire, rng: random.Random) -> bytes:
    """The ``authenticated_data`` field."""
    pm = _public(w)
    ad = alter(pm.content.authenticated_data, rng)
    return wire_bytes(_with_content(pm, replace(pm.content, authenticated_data=ad)))


def _has_path_ciphertext(w: Wire) -> bool:
    path = _path(w)
    return path is not None and any(len(n.encrypted_path_secret) for n in path.nodes)


@_tamper("public.path-ciphertext", WIRE, _COMMIT, "membership-tag", _has_path_ciphertext)
def _pub_path_ciphertext(w: Wire, rng: random.Random) -> bytes:
    """A byte of an encrypted path secret."""
    pm = _public(w)
    path = _path(w)
    assert path is not None
    i = rng.choice([i for i, n in enumerate(path.nodes) if len(n.encrypted_path_secret)])
    node = path.nodes[i]
    cts = list(node.encrypted_path_secret)
    j = rng.randrange(len(cts))
    cts[j] = HPKECiphertext(kem_output=cts[j].kem_output, ciphertext=flip(cts[j].ciphertext, rng))
    nodes = list(path.nodes)
    nodes[i] = replace(node, encrypted_path_secret=tuple(cts))
    return wire_bytes(_with_content(pm, _with_path(pm, replace(path, nodes=tuple(nodes)))))


def _has_path_nodes(w: Wire) -> bool:
    path = _path(w)
    return path is not None and len(path.nodes) > 0


@_tamper("public.path-key", WIRE, _COMMIT, "membership-tag", _has_path_nodes)
def _pub_path_key(w: Wire, rng: random.Random) -> bytes:
    """An UpdatePath node's public key."""
    pm = _public(w)
    path = _path(w)
    assert path is not None
    i = rng.randrange(len(path.nodes))
    nodes = list(path.nodes)
    nodes[i] = replace(nodes[i], encryption_key=rng.randbytes(len(nodes[i].encryption_key)))
    return wire_bytes(_with_content(pm, _with_path(pm, replace(path, nodes=tuple(nodes)))))


@_tamper("public.signature", WIRE, _PUB, "membership-tag", _member_sender)
def _pub_signature(w: Wire, rng: random.Random) -> bytes:
    """A byte of the signature."""
    pm = _public(w)
    return wire_bytes(replace(pm, auth=replace(pm.auth, signature=flip(pm.auth.signature, rng))))


@_tamper("public.membership-tag", WIRE, _PUB, "membership-tag", _member_sender)
def _pub_membership_tag(w: Wire, rng: random.Random) -> bytes:
    """A byte of the membership tag."""
    pm = _public(w)
    assert pm.membership_tag is not None
    return wire_bytes(replace(pm, membership_tag=flip(pm.membership_tag, rng)))


@_tamper("public.empty-membership-tag", WIRE, _PUB, "membership-tag", _member_sender)
def _pub_empty_membership_tag(w: Wire, _rng: random.Random) -> bytes:
    """Membership tag set to zero bytes."""
    return wire_bytes(replace(_public(w), membership_tag=b""))


@_tamper("public.strip-membership-tag", WIRE, _PUB, "decode", _member_sender)
def _pub_strip_membership_tag(w: Wire, _rng: random.Random) -> bytes:
    """Membership tag cut off the bytes.

    The encoding says a member's PublicMessage has a tag, so the bytes no longer parse."""
    pm = _public(w)
    assert pm.membership_tag is not None
    data = wire_bytes(pm)
    tail = Writer()
    tail.push_opaque(pm.membership_tag)
    cut = len(tail.data())
    if data[-cut:] != tail.data():
        raise ValueError("membership tag is not at the end of the encoding")
    return data[:-cut]


def _is_commit(w: Wire) -> bool:
    return _member_sender(w) and _public(w).content.content_type == ContentType.COMMIT


@_tamper("public.confirmation-tag", WIRE, _COMMIT, "membership-tag", _is_commit)
def _pub_confirmation_tag(w: Wire, rng: random.Random) -> bytes:
    """A byte of the confirmation tag."""
    pm = _public(w)
    assert pm.auth.confirmation_tag is not None
    return wire_bytes(
        replace(pm, auth=replace(pm.auth, confirmation_tag=flip(pm.auth.confirmation_tag, rng)))
    )


def _other_member(w: Wire, rng: random.Random) -> int:
    me = _public(w).content.sender.index
    return rng.choice([i for i in _members(w.public.tree) if i != me])


def _has_other_member(w: Wire) -> bool:
    return _member_sender(w) and len(_members(w.public.tree)) > 1


@_tamper("public.sender-other", WIRE, _PUB, "membership-tag", _has_other_member)
def _pub_sender_other(w: Wire, rng: random.Random) -> bytes:
    """The sender: another member's leaf."""
    pm = _public(w)
    content = replace(pm.content, sender=Sender.member(_other_member(w, rng)))
    return wire_bytes(_with_content(pm, content))


@_tamper("public.sender-unknown", WIRE, _PUB, "sender", _member_sender)
def _pub_sender_unknown(w: Wire, rng: random.Random) -> bytes:
    """The sender: a blank leaf, or one past the tree."""
    pm = _public(w)
    content = replace(pm.content, sender=Sender.member(unknown_leaf(w.public.tree, rng)))
    return wire_bytes(_with_content(pm, content))


def _new_epoch(epoch: int, rng: random.Random) -> int:
    if epoch > 0 and rng.random() < 0.5:
        return epoch - rng.randint(1, epoch)
    return epoch + rng.randint(1, 5)


@_tamper("public.epoch", WIRE, _PUB, "epoch", _member_sender)
def _pub_epoch(w: Wire, rng: random.Random) -> bytes:
    """The ``epoch`` field."""
    pm = _public(w)
    return wire_bytes(_with_content(pm, replace(pm.content, epoch=_new_epoch(pm.content.epoch, rng))))


@_tamper("public.group-id", WIRE, _PUB, "group", _member_sender)
def _pub_group(w: Wire, rng: random.Random) -> bytes:
    """The ``group_id`` field."""
    pm = _public(w)
    return wire_bytes(_with_content(pm, replace(pm.content, group_id=alter(pm.content.group_id, rng))))


# ---- PublicMessage: with the epoch's secrets, or the sender's signature key -----------------------


@_tamper("public.signature+mac", EPOCH_KEYS, _PUB, "signature", _member_sender)
def _pub_signature_remac(w: Wire, rng: random.Random) -> bytes:
    """A byte of the signature; membership tag recomputed."""
    pm = _public(w)
    forged = replace(pm, auth=replace(pm.auth, signature=flip(pm.auth.signature, rng)))
    return wire_bytes(_remac(w, forged))


@_tamper("public.sender-other+mac", EPOCH_KEYS, _PUB, "signature", _has_other_member)
def _pub_sender_other_remac(w: Wire, rng: random.Random) -> bytes:
    """The sender: another member; membership tag recomputed."""
    pm = _public(w)
    forged = _with_content(pm, replace(pm.content, sender=Sender.member(_other_member(w, rng))))
    return wire_bytes(_remac(w, forged))


@_tamper("public.confirmation-tag+mac", EPOCH_KEYS, _COMMIT, "confirmation-tag", _is_commit)
def _pub_confirmation_tag_remac(w: Wire, rng: random.Random) -> bytes:
    """A byte of the confirmation tag; membership tag recomputed."""
    pm = _public(w)
    assert pm.auth.confirmation_tag is not None
    forged = replace(pm, auth=replace(pm.auth, confirmation_tag=flip(pm.auth.confirmation_tag, rng)))
    return wire_bytes(_remac(w, forged))


@_tamper("public.path-parent-key+sign", SIGNER, _COMMIT, "parent-hash", _has_path_nodes)
def _pub_path_parent_key_resign(w: Wire, rng: random.Random) -> bytes:
    """An UpdatePath parent node's key; content re-signed."""
    pm = _public(w)
    path = _path(w)
    assert path is not None
    i = rng.randrange(len(path.nodes))
    nodes = list(path.nodes)
    nodes[i] = replace(nodes[i], encryption_key=w.suite.kem_generate_key_pair(Rand(rng)).pub)
    return wire_bytes(_resign(w, pm, _with_path(pm, replace(path, nodes=tuple(nodes)))))


def _has_path(w: Wire) -> bool:
    return _path(w) is not None


def _swap_leaf_key(w: Wire, rng: random.Random, *, sign_leaf: bool) -> bytes:
    pm = _public(w)
    path = _path(w)
    assert path is not None and w.keys.signature_priv is not None
    leaf = replace(path.leaf_node, encryption_key=w.suite.kem_generate_key_pair(Rand(rng)).pub)
    if sign_leaf:
        tbs = leaf_node_tbs(leaf, pm.content.group_id, pm.content.sender.index)
        leaf = replace(
            leaf, signature=w.suite.sign_with_label(w.keys.signature_priv, LEAF_NODE_TBS_LABEL, tbs)
        )
    return wire_bytes(_resign(w, pm, _with_path(pm, replace(path, leaf_node=leaf))))


@_tamper("public.path-leaf-key+sign", SIGNER, _COMMIT, "leaf-signature", _has_path)
def _pub_leaf_key_resign(w: Wire, rng: random.Random) -> bytes:
    """The UpdatePath leaf's key, leaf not re-signed; content re-signed."""
    return _swap_leaf_key(w, rng, sign_leaf=False)


@_tamper("public.path-leaf-key+sign-leaf", SIGNER, _COMMIT, "path-secret", _has_path)
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


@_tamper("public.add-bad-key-package+sign", SIGNER, _PUB, "key-package-signature", _inline_add)
def _pub_bad_key_package_resign(w: Wire, rng: random.Random) -> bytes:
    """An Add's KeyPackage signature; content re-signed."""
    pm = _public(w)
    content = pm.content
    if isinstance(content.proposal, Add):
        forged = replace(content, proposal=Add(key_package=bad_signature(content.proposal.key_package, rng)))
    else:
        commit = content.commit
        assert commit is not None
        proposals = list(commit.proposals)
        i = rng.choice([i for i, p in enumerate(proposals) if isinstance(p.proposal, Add)])
        add = proposals[i].proposal
        assert isinstance(add, Add)
        proposals[i] = replace(proposals[i], proposal=Add(key_package=bad_signature(add.key_package, rng)))
        forged = replace(content, commit=Commit(proposals=tuple(proposals), path=commit.path))
    return wire_bytes(_resign(w, pm, forged))


#: the PublicMessage alterations, in catalogue order
TAMPERS: tuple[Tamper, ...] = tuple(_tamper.tampers)
