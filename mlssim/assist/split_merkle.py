"""The Merkle tree over a split commit's ciphertexts: root, audit proofs and their check.

The tree has the shape of RFC 6962 §2.1 over the C ciphertexts of the UpdatePath in wire order
(node by node, each in resolution order), leaf hash ``RefHash("MLS 1.0 split ciphertext",
HPKECiphertext)``, inner hash ``RefHash("MLS 1.0 split node", left || right)``. A ciphertext's
position fixes its path node and resolution node, and C is known from the tree, so a proof for
one position never verifies for another.

The signature covers only the root, so the DS can hand each member one ciphertext and a proof
of ``ceil(log2 C)`` hashes at most. Part of the format (the labels and the shape fix what a
member recomputes), kept apart from the structs because it is a self-contained algorithm.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..mls.codec import encode
from ..mls.crypto.suite import CipherSuite
from ..mls.messages.tree import HPKECiphertext
from .split_format import MerkleProofError

__all__ = ["merkle_root", "merkle_proof_length", "merkle_proof", "merkle_root_from_proof"]

_LEAF_LABEL = b"MLS 1.0 split ciphertext"
_NODE_LABEL = b"MLS 1.0 split node"


def _split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _leaf_hash(suite: CipherSuite, ct: HPKECiphertext) -> bytes:
    return suite.ref_hash(_LEAF_LABEL, encode(ct))


def _inner_hash(suite: CipherSuite, left: bytes, right: bytes) -> bytes:
    return suite.ref_hash(_NODE_LABEL, left + right)


def _subtree(
    suite: CipherSuite,
    leaves: Sequence[HPKECiphertext],
    start: int,
    size: int,
    memo: dict[tuple[int, int], bytes],
) -> bytes:
    key = (start, size)
    h = memo.get(key)
    if h is None:
        if size == 1:
            h = _leaf_hash(suite, leaves[start])
        else:
            k = _split_point(size)
            h = _inner_hash(
                suite,
                _subtree(suite, leaves, start, k, memo),
                _subtree(suite, leaves, start + k, size - k, memo),
            )
        memo[key] = h
    return h


def merkle_root(suite: CipherSuite, leaves: Sequence[HPKECiphertext]) -> bytes:
    """MerkleRoot over ``leaves``; over none (a path whose every resolution holds only new
    members) ``RefHash("MLS 1.0 split node", "")``."""
    if not leaves:
        return suite.ref_hash(_NODE_LABEL, b"")
    return _subtree(suite, leaves, 0, len(leaves), {})


def _sides(m: int, n: int) -> list[bool]:
    """Top-down: is the position in the left subtree at each level?"""
    out: list[bool] = []
    while n > 1:
        k = _split_point(n)
        if m < k:
            out.append(True)
            n = k
        else:
            out.append(False)
            m -= k
            n -= k
    return out


def merkle_proof_length(position: int, n: int) -> int:
    """Hashes in the audit path of leaf ``position`` of ``n`` (at most ceil(log2 n))."""
    length = 0
    while n > 1:
        k = _split_point(n)
        if position < k:
            # a left subtree of k = 2^j leaves: j more levels
            return length + 1 + (k.bit_length() - 1)
        position -= k
        n -= k
        length += 1
    return length


def merkle_proof(
    suite: CipherSuite,
    leaves: Sequence[HPKECiphertext],
    m: int,
    memo: dict[tuple[int, int], bytes] | None = None,
) -> bytes:
    """The audit path of leaf ``m``: sibling subtree hashes from the leaf up, concatenated.
    ``memo`` keeps subtree hashes between calls (O(C) once, then O(log C) per proof)."""
    memo = {} if memo is None else memo
    out: list[bytes] = []
    start, n = 0, len(leaves)
    while n > 1:
        k = _split_point(n)
        if m < k:
            out.append(_subtree(suite, leaves, start + k, n - k, memo))
            n = k
        else:
            out.append(_subtree(suite, leaves, start, k, memo))
            start, m, n = start + k, m - k, n - k
    return b"".join(reversed(out))


def merkle_root_from_proof(suite: CipherSuite, ct: HPKECiphertext, m: int, n: int, proof: bytes) -> bytes:
    """The root that leaf ``ct`` at position ``m`` of ``n`` and its audit ``proof`` give; a member
    compares it with the signed one by verifying the signature over it."""
    nh = suite.info.hash_len
    sides = _sides(m, n)
    if len(proof) != nh * len(sides):
        raise MerkleProofError(
            f"proof of {len(proof)} bytes for position {m} of {n}: expected {len(sides)} hashes of {nh} bytes"
        )
    h = _leaf_hash(suite, ct)
    for i, left in enumerate(reversed(sides)):
        sib = proof[i * nh : (i + 1) * nh]
        h = _inner_hash(suite, h, sib) if left else _inner_hash(suite, sib, h)
    return h
