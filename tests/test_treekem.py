"""TreeKEM (RFC 9420 §7.4–§7.6, §12.4.2, §12.4.3.1) and tree validation (§7.9.2) over random groups.

A tiny in-test group drives commits through the public API only: the committer builds an
UpdatePath on its editor, every other member applies the same proposals on its own editor and
processes the path, new members derive their keys from the Welcome path secret. After every
commit all members must agree on the commit secret and the tree hash, the new tree must pass
``validate_tree``, and every member's private keys must match the tree and cover every node
above it that it is merged at (the tree invariant, §4.2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlssim.mls import treekem
from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.crypto.suite import CipherSuite, KeyPair
from mlssim.mls.messages import (
    Capabilities,
    Credential,
    CredentialType,
    GroupContext,
    HPKECiphertext,
    LeafNode,
    LeafNodeSource,
    Lifetime,
    UpdatePath,
    UpdatePathNode,
    leaf_node_tbs,
)
from mlssim.mls.rand import SeededRandom
from mlssim.mls.ratchet_tree import (
    ParentHashMismatchError,
    RatchetTree,
    TreeEditor,
    UpdatePathShapeError,
)
from mlssim.mls.tree_validation import (
    DuplicateKeyError,
    LeafSignatureError,
    ParentHashError,
    UnmergedLeavesError,
    validate_tree,
)
from mlssim.mls.treekem import (
    PathDecryption,
    PathKeyMismatchError,
    PathKeys,
    PathSecretDecryptionError,
    UpdatePathResult,
    WelcomePathError,
    create_update_path,
    decrypt_update_path,
    derive_path,
    next_path_secret,
    node_key_pair,
    path_keys_from_welcome,
    process_update_path,
)
from mlssim.mls.treemath import LeafIndex, subtree_leaves

GROUP_ID = b"test group"


@dataclass
class Member:
    name: str
    leaf: LeafIndex
    sig_priv: bytes
    sig_pub: bytes
    keys: PathKeys


class Group:
    """Members sharing one frozen tree per epoch; every step checked for agreement."""

    def __init__(self, suite: CipherSuite, seed: int) -> None:
        self.suite = suite
        self.rand = SeededRandom(seed, "test group")
        self.epoch = 0
        self.counter = 0
        first, lf, enc_priv = self.new_member()
        self.tree = RatchetTree.from_nodes(suite, [lf])
        first.keys = PathKeys.for_leaf(LeafIndex(0), enc_priv)
        self.members: dict[int, Member] = {0: first}

    # -- helpers --

    def context_for(self, tree_hash: bytes) -> bytes:
        return encode(
            GroupContext(
                cipher_suite=1,
                group_id=GROUP_ID,
                epoch=self.epoch + 1,
                tree_hash=tree_hash,
                confirmed_transcript_hash=b"",
                extensions=(),
            )
        )

    def sign(self, m: Member, lf: LeafNode, index: int | None) -> LeafNode:
        tbs = leaf_node_tbs(lf) if index is None else leaf_node_tbs(lf, GROUP_ID, index)
        return replace(lf, signature=self.suite.sign_with_label(m.sig_priv, "LeafNodeTBS", tbs))

    def new_member(self) -> tuple[Member, LeafNode, bytes]:
        self.counter += 1
        name = f"m{self.counter}"
        sig = self.suite.signature_key_pair(self.rand)
        enc = self.suite.kem_generate_key_pair(self.rand)
        m = Member(name, LeafIndex(-1), sig.priv, sig.pub, PathKeys.for_leaf(LeafIndex(-1), b""))
        unsigned = LeafNode(
            encryption_key=enc.pub,
            signature_key=sig.pub,
            credential=Credential(credential_type=CredentialType.BASIC, identity=name.encode()),
            capabilities=Capabilities(versions=(1,), cipher_suites=(1,), credentials=(1,)),
            leaf_node_source=LeafNodeSource.KEY_PACKAGE,
            lifetime=Lifetime(not_before=0, not_after=2**63),
        )
        return m, self.sign(m, unsigned, None), enc.priv

    def make_leaf_for(self, m: Member, index: int):  # type: ignore[no-untyped-def]
        old = self.tree.leaf(index)
        assert old is not None

        def make_leaf(encryption_key: bytes, parent_hash: bytes) -> LeafNode:
            unsigned = replace(
                old,
                encryption_key=encryption_key,
                leaf_node_source=LeafNodeSource.COMMIT,
                lifetime=None,
                parent_hash=parent_hash,
            )
            return self.sign(m, unsigned, index)

        return make_leaf

    # -- one commit --

    def commit(
        self, committer: int, *, adds: int, removes: list[int], updates: list[int], path: bool
    ) -> UpdatePathResult | None:
        joiners = [self.new_member() for _ in range(adds)]
        update_leaves: dict[int, tuple[LeafNode, bytes]] = {}
        for u in updates:
            m = self.members[u]
            kp = self.suite.kem_generate_key_pair(self.rand)
            old = self.tree.leaf(u)
            assert old is not None
            lf = replace(
                old,
                encryption_key=kp.pub,
                leaf_node_source=LeafNodeSource.UPDATE,
                lifetime=None,
                parent_hash=b"",
            )
            update_leaves[u] = (self.sign(m, lf, u), kp.priv)

        def apply(ed: TreeEditor) -> list[LeafIndex]:
            for u in updates:
                ed.update_leaf(u, update_leaves[u][0])
            for r in removes:
                ed.remove_leaf(r)
            return [ed.add_leaf(lf) for _, lf, _ in joiners]

        ed = self.tree.edit()
        new_leaves = apply(ed)
        exclude = frozenset(int(i) for i in new_leaves)
        result = None
        if path:
            result = create_update_path(
                self.suite,
                ed,
                LeafIndex(committer),
                make_leaf=self.make_leaf_for(self.members[committer], committer),
                exclude=exclude,
                context_for=self.context_for,
                rand=self.rand,
            )
        new_tree = ed.freeze()
        context = self.context_for(new_tree.tree_hash())

        survivors = [i for i in self.members if i not in removes]
        for i in survivors:
            m = self.members[i]
            keys = m.keys
            if i in update_leaves:
                keys = keys.with_leaf_key(update_leaves[i][1])
            if i == committer and result is not None:
                m.keys = result.path_keys
                continue
            mine = self.tree.edit()
            apply(mine)
            if result is not None:
                secret, keys = process_update_path(
                    self.suite,
                    mine,
                    LeafIndex(committer),
                    result.update_path,
                    receiver=keys,
                    exclude=exclude,
                    context_for=self.context_for,
                )
                assert secret == result.commit_secret
                shared: PathDecryption = decrypt_update_path(
                    self.suite,
                    new_tree,
                    committer,
                    result.update_path,
                    receiver=m.keys if i not in update_leaves else m.keys.with_leaf_key(update_leaves[i][1]),
                    exclude=exclude,
                    context=context,
                )
                assert shared.commit_secret == secret and shared.path_keys == keys
            assert mine.freeze().tree_hash() == new_tree.tree_hash()
            m.keys = keys.pruned(new_tree)
        self.members = {i: self.members[i] for i in survivors}
        for (m, _, enc_priv), leaf_index in zip(joiners, new_leaves, strict=True):
            m.leaf = leaf_index
            ps = result.path_secret_for(leaf_index) if result is not None else None
            m.keys = path_keys_from_welcome(
                self.suite, new_tree, leaf_index, enc_priv, LeafIndex(committer), ps
            )
            self.members[leaf_index] = m
        self.tree = new_tree
        self.epoch += 1
        self.check()
        return result

    def check(self) -> None:
        validate_tree(self.tree, GROUP_ID, tree_hash=self.tree.tree_hash())
        assert sorted(self.members) == [int(i) for i, _ in self.tree.leaves()]
        for i, m in self.members.items():
            assert m.keys.leaf == i
            assert m.keys.mismatches(self.tree) == []
            for x in self.tree.direct_path(i):  # §4.2: merged at a non-blank node => holds its key
                node = self.tree.parent_node(x)
                if node is not None and i not in node.unmerged_leaves:
                    assert m.keys.private_key(x) is not None, (i, x)


def grow(g: Group, size: int, draw_batch: list[int]) -> None:
    """Add members in batches (each by a path commit of a random member) up to ``size``."""
    k = 0
    while len(g.members) < size:
        batch = min(draw_batch[k % len(draw_batch)], size - len(g.members))
        committer = sorted(g.members)[draw_batch[(k + 1) % len(draw_batch)] % len(g.members)]
        g.commit(committer, adds=batch, removes=[], updates=[], path=k % 3 != 2)
        k += 1


STEPS = st.lists(
    st.tuples(
        st.integers(0, 10**6),  # committer choice
        st.integers(0, 3),  # adds
        st.integers(0, 2),  # removes
        st.integers(0, 2),  # updates
        st.booleans(),  # path (forced when a remove or update is committed)
    ),
    min_size=1,
    max_size=4,
)


def run_random_group(suite: CipherSuite, seed: int, size: int, batches: list[int], steps: list) -> None:  # type: ignore[type-arg]
    g = Group(suite, seed)
    grow(g, size, batches)
    for who, adds, n_remove, n_update, path in steps:
        leaves = sorted(g.members)
        committer = leaves[who % len(leaves)]
        others = [i for i in leaves if i != committer]
        removes = others[: min(n_remove, len(others) - 1)] if len(others) > 1 else []
        updates = [i for i in others if i not in removes][:n_update]
        g.commit(
            committer, adds=adds, removes=removes, updates=updates, path=path or bool(removes or updates)
        )


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(2, 40),
    batches=st.lists(st.integers(1, 12), min_size=2, max_size=5),
    steps=STEPS,
)
def test_random_groups_model_suite(seed: int, size: int, batches: list[int], steps: list) -> None:  # type: ignore[type-arg]
    run_random_group(get_suite(1, "model"), seed, size, batches, steps)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(2, 40),
    batches=st.lists(st.integers(4, 16), min_size=2, max_size=3),
    steps=STEPS,
)
def test_random_groups_real_suite(seed: int, size: int, batches: list[int], steps: list) -> None:  # type: ignore[type-arg]
    run_random_group(get_suite(1), seed, size, batches, steps)


# ---- derivation ----------------------------------------------------------------------------------


def test_path_secret_chain_and_commit_secret() -> None:
    suite = get_suite(1)
    s0 = bytes(range(32))
    secrets, commit = derive_path(suite, s0, 3)
    assert secrets[0] == s0
    assert secrets[1] == suite.derive_secret(s0, "path") == next_path_secret(suite, s0)
    assert commit == suite.derive_secret(secrets[2], "path")
    kp = node_key_pair(suite, s0)
    assert kp == suite.kem_derive_key_pair(suite.derive_secret(s0, "node"))
    assert suite.kem_public_key(kp.priv) == kp.pub


# ---- tampering -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed() -> tuple[Group, UpdatePathResult, RatchetTree, int]:
    """A 9-member model group (some unmerged leaves), and a fresh commit from leaf 2 not yet applied."""
    g = Group(get_suite(1, "model"), 7)
    grow(g, 9, [3, 5, 1])
    before = g.tree
    ed = before.edit()
    result = create_update_path(
        g.suite,
        ed,
        LeafIndex(2),
        make_leaf=g.make_leaf_for(g.members[2], 2),
        exclude=frozenset(),
        context_for=g.context_for,
        rand=g.rand,
    )
    receiver = max(g.members)  # far from the committer: decrypts at the root
    return g, result, before, receiver


def _process(g: Group, before: RatchetTree, up: UpdatePath, receiver: int) -> bytes:
    secret, _ = process_update_path(
        g.suite,
        before.edit(),
        LeafIndex(2),
        up,
        receiver=g.members[receiver].keys,
        exclude=frozenset(),
        context_for=g.context_for,
    )
    return secret


def test_untampered_path_processes(committed: tuple[Group, UpdatePathResult, RatchetTree, int]) -> None:
    g, result, before, receiver = committed
    assert _process(g, before, result.update_path, receiver) == result.commit_secret


def test_changed_public_key_breaks_the_parent_hash(
    committed: tuple[Group, UpdatePathResult, RatchetTree, int],
) -> None:
    g, result, before, receiver = committed
    up = result.update_path
    nodes = list(up.nodes)
    nodes[-1] = replace(nodes[-1], encryption_key=g.suite.kem_generate_key_pair(g.rand).pub)
    with pytest.raises(ParentHashMismatchError) as exc:
        _process(g, before, replace(up, nodes=tuple(nodes)), receiver)
    assert exc.value.rfc_section == "7.9.2"


def test_changed_leaf_parent_hash_is_rejected(
    committed: tuple[Group, UpdatePathResult, RatchetTree, int],
) -> None:
    g, result, before, receiver = committed
    up = result.update_path
    bad = replace(up, leaf_node=replace(up.leaf_node, parent_hash=bytes(32)))
    with pytest.raises(ParentHashMismatchError):
        _process(g, before, bad, receiver)


def test_consistent_but_wrong_public_key_is_caught_on_derivation(
    committed: tuple[Group, UpdatePathResult, RatchetTree, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malicious committer publishes a root key that is not the one its path secret derives,
    with parent hashes and encryption context consistent with it: merging succeeds, the key the
    receiver derives differs (§12.4.2)."""
    g, _, before, receiver = committed
    real = treekem.node_key_pair
    n_path = len(before.filtered_direct_path(2))
    calls: list[int] = []
    fake = g.suite.kem_generate_key_pair(g.rand)

    def lying(suite: CipherSuite, secret: bytes) -> KeyPair:
        calls.append(1)
        return fake if len(calls) == 1 + n_path else real(suite, secret)  # leaf first, root last

    monkeypatch.setattr(treekem, "node_key_pair", lying)
    bad = create_update_path(
        g.suite,
        before.edit(),
        LeafIndex(2),
        make_leaf=g.make_leaf_for(g.members[2], 2),
        exclude=frozenset(),
        context_for=g.context_for,
        rand=g.rand,
    )
    monkeypatch.setattr(treekem, "node_key_pair", real)
    assert bad.update_path.nodes[-1].encryption_key == fake.pub
    with pytest.raises(PathKeyMismatchError) as exc:
        _process(g, before, bad.update_path, receiver)
    assert exc.value.rfc_section == "12.4.2"


def test_missing_ciphertext_and_wrong_context(
    committed: tuple[Group, UpdatePathResult, RatchetTree, int],
) -> None:
    g, result, before, receiver = committed
    up = result.update_path
    nodes = list(up.nodes)
    nodes[-1] = UpdatePathNode(
        encryption_key=nodes[-1].encryption_key, encrypted_path_secret=nodes[-1].encrypted_path_secret[1:]
    )
    with pytest.raises(UpdatePathShapeError):
        _process(g, before, replace(up, nodes=tuple(nodes)), receiver)
    with pytest.raises(UpdatePathShapeError):
        _process(g, before, replace(up, nodes=up.nodes[:-1]), receiver)
    g.epoch += 5  # another provisional GroupContext: the HPKE context differs
    try:
        with pytest.raises(PathSecretDecryptionError):
            _process(g, before, up, receiver)
    finally:
        g.epoch -= 5
    garbled = list(up.nodes)
    ct = garbled[-1].encrypted_path_secret
    garbled[-1] = replace(
        garbled[-1],
        encrypted_path_secret=tuple(
            HPKECiphertext(kem_output=c.kem_output, ciphertext=bytes(len(c.ciphertext))) for c in ct
        ),
    )
    with pytest.raises(PathSecretDecryptionError):
        _process(g, before, replace(up, nodes=tuple(garbled)), receiver)


def test_wrong_welcome_path_secret(committed: tuple[Group, UpdatePathResult, RatchetTree, int]) -> None:
    g, result, before, receiver = committed
    ed = before.edit()
    ed.merge_update_path(2, result.update_path)
    after = ed.freeze()
    m = g.members[receiver]
    with pytest.raises(WelcomePathError):
        path_keys_from_welcome(g.suite, after, m.leaf, m.keys.leaf_priv, LeafIndex(2), bytes(32))
    with pytest.raises(WelcomePathError):  # not my leaf's key
        path_keys_from_welcome(g.suite, after, m.leaf, g.members[0].keys.leaf_priv, LeafIndex(2), None)


def test_validation_rejects_broken_trees(committed: tuple[Group, UpdatePathResult, RatchetTree, int]) -> None:
    g, _, tree, _ = committed
    validate_tree(tree, GROUP_ID)
    nodes = tree.to_nodes()
    with pytest.raises(LeafSignatureError):
        validate_tree(tree, b"another group")
    # a parent key replaced: its chain breaks
    x = next(x for x in range(1, len(nodes), 2) if nodes[x] is not None)
    broken = list(nodes)
    broken[x] = replace(nodes[x], encryption_key=g.suite.kem_generate_key_pair(g.rand).pub)  # type: ignore[type-var]
    with pytest.raises(ParentHashError):
        validate_tree(RatchetTree.from_nodes(g.suite, broken), GROUP_ID)
    # two nodes with one key
    dup = list(nodes)
    dup[x] = replace(nodes[x], encryption_key=nodes[0].encryption_key)  # type: ignore[union-attr, type-var]
    with pytest.raises(DuplicateKeyError):
        validate_tree(RatchetTree.from_nodes(g.suite, dup), GROUP_ID)
    # an unmerged leaf listed at an ancestor but not at a non-blank node between them
    root = tree.root()
    y = next(y for y in range(1, len(nodes), 2) if nodes[y] is not None and y != root)
    under = tree.parent_node(y)
    assert under is not None
    u = next(
        i for i in range(*subtree_leaves(y)) if tree.leaf(i) is not None and i not in under.unmerged_leaves
    )
    top = tree.parent_node(root)
    assert top is not None and u not in top.unmerged_leaves
    listed = tree.to_nodes()
    listed[root] = replace(top, unmerged_leaves=tuple(sorted((*top.unmerged_leaves, u))))
    with pytest.raises(UnmergedLeavesError):
        validate_tree(RatchetTree.from_nodes(g.suite, listed), GROUP_ID)
    # ... and one that is blank
    listed[root] = replace(top, unmerged_leaves=(*top.unmerged_leaves, tree.n_leaves - 1))
    assert tree.leaf(tree.n_leaves - 1) is None
    with pytest.raises(UnmergedLeavesError):
        validate_tree(RatchetTree.from_nodes(g.suite, listed), GROUP_ID)
