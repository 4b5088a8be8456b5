"""The plain path commit's size in a full tree follows from the RFC 9420 structures (issue 7).

In a tree of N = 2^k members whose parent nodes are all set and hold no unmerged leaves, every
copath node's resolution is the node itself, so a path commit's UpdatePath has k entries of one
HPKE ciphertext each. With V(x) = x + the varint size of x (RFC 9420 §2.1.2):

  entry P     = V(Npk) + V( V(Nenc) + V(Nh + Nt) )          (UpdatePathNode, one HPKECiphertext)
  commit S(k) = 4 + V(group_id) + 8 + 5 + V(aad) + 1          (MLSMessage header, FramedContent)
              + 1 + 1 + |LeafNode| + V(k·P)                   (empty proposals, path present)
              + V(|signature|) + V(Nh) + V(Nh)                (auth data, confirmation and membership tags)

so doubling N adds exactly P bytes (while V(k·P) keeps its 2-byte prefix: k·P < 16,384).
docs/validation.md states the same.
"""

from __future__ import annotations

import pytest

from mlssim.mls.codec import encode, varint_size
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.messages import MLSMessage, PublicMessage

from .group_harness import Harness

AEAD_TAG = 16  # Nt of every RFC 9420 AEAD (AES-GCM, ChaCha20-Poly1305)


def v(n: int) -> int:
    return varint_size(n) + n


def entry_size(suite: CipherSuite) -> int:
    i = suite.info
    return v(i.kem_pk_len) + v(v(i.kem_enc_len) + v(i.hash_len + AEAD_TAG))


def predicted(suite: CipherSuite, msg: MLSMessage, k: int) -> int:
    body = msg.body
    assert isinstance(body, PublicMessage)
    c = body.content
    assert c.commit is not None and c.commit.path is not None
    nh = suite.info.hash_len
    leaf = len(encode(c.commit.path.leaf_node))
    framed = v(len(c.group_id)) + 8 + 5 + v(len(c.authenticated_data)) + 1
    commit = 1 + 1 + leaf + v(k * entry_size(suite))
    auth = v(len(body.auth.signature)) + v(nh) + v(nh)
    return 4 + framed + commit + auth


def full_tree_commit(suite: CipherSuite, k: int) -> MLSMessage:
    h = Harness(suite)
    names = [f"m{i}" for i in range(2**k)]
    h.create(names[0])
    h.add(names[0], *names[1:])
    for name in names:  # everyone commits once: every parent node set, no unmerged leaves
        h.deliver(h.members[name].commit(h.rand), name)
    g = h.members[names[0]]
    parents = g.tree.to_nodes()[1::2]
    assert all(node is not None and not node.unmerged_leaves for node in parents)
    return g.commit(h.rand).message


@pytest.mark.parametrize(
    ("suite_id", "family"), [(1, "real"), (3, "real"), (1, "model"), (5, "model"), (7, "model")]
)
def test_path_commit_size_in_a_full_tree_matches_the_formula(suite_id: int, family: str) -> None:
    suite = get_suite(suite_id, family)
    ks = (1, 2, 3, 4) if family == "real" else (2, 3, 4, 5)
    sizes, sigs = {}, {}
    for k in ks:
        msg = full_tree_commit(suite, k)
        body = msg.body
        assert isinstance(body, PublicMessage) and body.content.commit is not None
        path = body.content.commit.path
        assert path is not None and len(path.nodes) == k
        assert all(len(n.encrypted_path_secret) == 1 for n in path.nodes)
        sizes[k] = len(encode(msg))
        sigs[k] = len(body.auth.signature) + len(path.leaf_node.signature)
        assert sizes[k] == predicted(suite, msg, k), (k, sizes[k], predicted(suite, msg, k))
    # doubling N adds exactly one path entry (net of ECDSA's signature-length jitter)
    for k in ks[1:]:
        assert (sizes[k] - sigs[k]) - (sizes[k - 1] - sigs[k - 1]) == entry_size(suite)
