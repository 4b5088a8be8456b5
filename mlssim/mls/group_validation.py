"""LeafNode and KeyPackage validation inside a group (RFC 9420 §7.3, §10.1, §12.4.2).

The group layer asks three questions of every leaf that enters its tree — from an Add,
an Update, a commit's UpdatePath, or a tree it joins — and this module answers them with
the rules in ``leaf_nodes`` and ``key_packages``, against a :class:`TreeKeyIndex` built
once per epoch (the index is shared by every member of that epoch, so a 50,000-member
group does not rebuild it per member).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field

from .credentials import CredentialValidator, DefaultCredentialValidator
from .crypto.suite import CipherSuite
from .errors import RemoteProtocolError
from .key_packages import validate_key_package
from .leaf_nodes import GroupValidationContext, validate_leaf_node
from .messages.common import Extension
from .messages.enums import LeafNodeSource
from .messages.key_package import KeyPackage
from .messages.tree import LeafNode
from .ratchet_tree import RatchetTree
from .treemath import LeafIndex

__all__ = ["LeafPolicy", "TreeKeyIndex", "DuplicatePublicKeyError"]


class DuplicatePublicKeyError(RemoteProtocolError):
    """An UpdatePath or joined tree repeats an HPKE public key already in the tree."""

    rfc_section = "12.4.2"


@dataclass(frozen=True, slots=True, kw_only=True)
class LeafPolicy:
    """How strictly a member validates leaves; the simulator's AS may plug its own validator.

    Lifetimes and certificate validity need ``now``: when a call passes ``now=None`` they
    are not checked (the caller chose not to model time), everything else still is.
    """

    enabled: bool = True
    credential_validator: CredentialValidator = field(
        default_factory=lambda: DefaultCredentialValidator(check_validity=True)
    )
    max_lifetime: int | None = None


class _Without:
    """A container view that hides some keys (the leaf being replaced keeps its own)."""

    __slots__ = ("_base", "_hidden")

    def __init__(self, base: Container[bytes], hidden: frozenset[bytes]) -> None:
        self._base = base
        self._hidden = hidden

    def __contains__(self, key: object) -> bool:
        return key not in self._hidden and key in self._base


class TreeKeyIndex:
    """Keys and credential types of one tree, for O(1) uniqueness and support checks.

    A view of the tree's own indexes (:meth:`RatchetTree.encryption_keys`,
    :meth:`~RatchetTree.signature_keys`, :meth:`~RatchetTree.credential_stats`): the
    first tree a member sees builds them in O(N); every later epoch's tree derives them
    from its predecessor's at freeze, from the nodes the commit changed only. Building
    this view is O(number of credential types)."""

    __slots__ = ("encryption_keys", "signature_keys", "credential_types", "supported")

    def __init__(self, tree: RatchetTree) -> None:
        in_use, supported = tree.credential_stats()
        n = tree.member_count()
        self.encryption_keys: Container[bytes] = tree.encryption_keys()
        self.signature_keys: Container[bytes] = tree.signature_keys()
        self.credential_types = frozenset(in_use)
        self.supported = frozenset(t for t, c in supported.items() if c == n) if n else None

    def context(
        self, group_id: bytes, extensions: tuple[Extension, ...], gone: Sequence[LeafNode] = ()
    ) -> GroupValidationContext:
        """A validation context whose key sets omit ``gone`` (the leaf being replaced and
        the leaves this commit removes: their keys may come back, §12.2)."""
        hidden = frozenset(leaf.encryption_key for leaf in gone)
        hidden_sig = frozenset(leaf.signature_key for leaf in gone)
        return GroupValidationContext(
            group_id=group_id,
            extensions=extensions,
            member_credential_types=self.credential_types,
            member_supported_credential_types=self.supported,
            encryption_keys=_Without(self.encryption_keys, hidden),
            signature_keys=_Without(self.signature_keys, hidden_sig),
        )


def validate_added_key_package(
    suite: CipherSuite,
    policy: LeafPolicy,
    kp: KeyPackage,
    *,
    index: TreeKeyIndex,
    group_id: bytes,
    extensions: tuple[Extension, ...],
    now: int | None,
    removed: Sequence[LeafNode] = (),
) -> None:
    """§12.1.1: an Add is valid if its KeyPackage is (§10.1) for this group."""
    if not policy.enabled:
        return
    validate_key_package(
        suite,
        kp,
        now=0 if now is None else now,
        credential_validator=_validator(policy, now),
        context=index.context(group_id, extensions, removed),
        check_lifetime=now is not None,
        max_lifetime=policy.max_lifetime,
    )


def validate_member_leaf(
    suite: CipherSuite,
    policy: LeafPolicy,
    leaf: LeafNode,
    *,
    source: LeafNodeSource,
    leaf_index: LeafIndex,
    replaced: LeafNode | None,
    index: TreeKeyIndex,
    group_id: bytes,
    extensions: tuple[Extension, ...],
    now: int | None,
    removed: Sequence[LeafNode] = (),
) -> None:
    """§7.3 for an Update proposal's leaf or a commit's UpdatePath leaf. ``replaced`` is the
    leaf it takes the place of (the sender's own; for an external commit, the leaf it
    removes, §12.2): its credential must be succeeded validly (§5.3.1)."""
    if not policy.enabled:
        return
    validate_leaf_node(
        suite,
        leaf,
        context=index.context(group_id, extensions, (*removed, *([replaced] if replaced else []))),
        expected_source=source,
        now=0 if now is None else now,
        leaf_index=leaf_index,
        credential_validator=_validator(policy, now),
        replaced_leaf=replaced if source == LeafNodeSource.UPDATE else None,
        predecessor=replaced.credential if replaced is not None else None,
        check_lifetime=now is not None,
        max_lifetime=policy.max_lifetime,
    )


def validate_joined_leaves(
    suite: CipherSuite,
    policy: LeafPolicy,
    tree: RatchetTree,
    *,
    group_id: bytes,
    extensions: tuple[Extension, ...],
    now: int | None,
    signatures_verified: bool = False,
) -> None:
    """§12.4.3.1: every leaf of a joined tree is valid (keys' uniqueness is checked tree-wide).
    ``signatures_verified``: the leaf signatures were checked already (``validate_tree`` does),
    so they are not verified a second time."""
    if not policy.enabled:
        return
    index = TreeKeyIndex(tree)
    base = GroupValidationContext(
        group_id=group_id,
        extensions=extensions,
        member_credential_types=index.credential_types,
        member_supported_credential_types=index.supported,
    )
    validator = _validator(policy, now)
    for i, leaf in tree.leaves():
        validate_leaf_node(
            suite,
            leaf,
            context=base,
            expected_source=None,
            now=0 if now is None else now,
            leaf_index=i,
            credential_validator=validator,
            check_lifetime=False,  # §7.3: lifetimes of leaves already in a tree are not re-checked
            max_lifetime=None,
            signature_verified=signatures_verified,
        )


def _validator(policy: LeafPolicy, now: int | None) -> CredentialValidator:
    if now is None and isinstance(policy.credential_validator, DefaultCredentialValidator):
        return DefaultCredentialValidator(
            suite_id=policy.credential_validator.suite_id,
            trust_anchors=policy.credential_validator.trust_anchors,
            check_validity=False,
        )
    return policy.credential_validator
