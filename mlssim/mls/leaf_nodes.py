"""LeafNodes: creating and signing them (RFC 9420 §7.2) and validating them (§7.3).

A LeafNode is a member's signed self-description in the ratchet tree: its HPKE
``encryption_key``, its ``signature_key`` and credential, what it supports, and how it got
there (``leaf_node_source``). The signature covers LeafNodeTBS, which binds ``group_id``
and ``leaf_index`` for update and commit leaves but not for key-package leaves, created
before the group is known.

Validation follows §7.3 rule by rule, each failure its own ``RemoteProtocolError``
subclass, and changes nothing: the group layer calls :func:`validate_leaf_node` on a
staged change before merging it. What the rules need from the group (its id, GroupContext
extensions, the credential types of the other members, and the keys already in the tree)
travels in one frozen :class:`GroupValidationContext`, which the group layer can build once
per epoch with :meth:`GroupValidationContext.from_members` or keep up to date itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Container, Iterable, Sequence
from dataclasses import dataclass, field

from .credentials import CredentialValidator, default_credential_validator
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError, RemoteProtocolError
from .extensions import (
    DEFAULT_EXTENSION_TYPES,
    DEFAULT_PROPOSAL_TYPES,
    check_capabilities_support,
    check_unique_extensions,
)
from .messages.common import Extension
from .messages.credentials import Credential
from .messages.enums import CredentialType, LeafNodeSource, ProtocolVersion
from .messages.tree import Capabilities, LeafNode, Lifetime, leaf_node_tbs

__all__ = [
    "LEAF_NODE_TBS_LABEL",
    "LeafNodeError",
    "LeafNodeSignatureError",
    "LeafNodeSourceError",
    "UpdateEncryptionKeyReusedError",
    "LeafNodeLifetimeError",
    "LeafNodeLifetimeTooLongError",
    "LeafExtensionUnsupportedError",
    "CredentialTypeNotListedError",
    "CredentialTypeUnsupportedByMembersError",
    "MemberCredentialTypeUnsupportedError",
    "DuplicateEncryptionKeyError",
    "DuplicateSignatureKeyError",
    "GroupValidationContext",
    "default_capabilities",
    "sign_leaf_node",
    "make_leaf_node",
    "verify_leaf_node_signature",
    "validate_leaf_node",
]

LEAF_NODE_TBS_LABEL = "LeafNodeTBS"


class LeafNodeError(RemoteProtocolError):
    """A LeafNode fails a rule of §7.3 Leaf Node Validation."""

    rfc_section = "7.3"


class LeafNodeSignatureError(LeafNodeError):
    """The LeafNode signature does not verify under its own ``signature_key``."""


class LeafNodeSourceError(LeafNodeError):
    """``leaf_node_source`` is not the one its carrier demands (key_package in a KeyPackage,
    update in an Update proposal, commit in an UpdatePath)."""


class UpdateEncryptionKeyReusedError(LeafNodeError):
    """An Update proposal's LeafNode keeps the ``encryption_key`` of the leaf it replaces."""


class LeafNodeLifetimeError(LeafNodeError):
    """The current time lies outside a key-package leaf's ``lifetime``."""


class LeafNodeLifetimeTooLongError(LeafNodeLifetimeError):
    """§7.2: the lifetime is longer than the application's maximum (or ends before it begins)."""

    rfc_section = "7.2"


class LeafExtensionUnsupportedError(LeafNodeError):
    """A non-default extension in the LeafNode is not listed in its ``capabilities.extensions``."""


class CredentialTypeNotListedError(LeafNodeError):
    """§7.2: the LeafNode's own credential type is not in its ``capabilities.credentials``."""

    rfc_section = "7.2"


class CredentialTypeUnsupportedByMembersError(LeafNodeError):
    """The LeafNode's credential type is not supported by every member of the group."""


class MemberCredentialTypeUnsupportedError(LeafNodeError):
    """The LeafNode does not support a credential type in use by another member."""


class DuplicateEncryptionKeyError(LeafNodeError):
    """The ``encryption_key`` is already used by another member of the group."""


class DuplicateSignatureKeyError(LeafNodeError):
    """The ``signature_key`` is already used by another member of the group."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupValidationContext:
    """What §7.3 needs to know about the group a LeafNode is validated for.

    ``member_credential_types`` holds the credential types in use by the *other* members;
    ``member_supported_credential_types`` the types every other member lists in its
    capabilities (``None``: no other members, so no constraint). ``encryption_keys`` and
    ``signature_keys`` hold the keys of the other members: for an Update or a commit leaf,
    leave out the leaf being replaced (its owner keeps its signature key). Any container
    works, so a caller with a large tree may pass its own index instead of a set.

    For key-package leaves validated outside a group (e.g. by an AS at upload) use
    :meth:`standalone`.
    """

    group_id: bytes
    extensions: tuple[Extension, ...] = ()
    member_credential_types: frozenset[int] = frozenset()
    member_supported_credential_types: frozenset[int] | None = None
    encryption_keys: Container[bytes] = field(default_factory=frozenset)
    signature_keys: Container[bytes] = field(default_factory=frozenset)

    @classmethod
    def from_members(
        cls, *, group_id: bytes, extensions: Sequence[Extension], members: Iterable[LeafNode]
    ) -> GroupValidationContext:
        """Collect credential types and keys from the other members' LeafNodes (O(n))."""
        in_use: set[int] = set()
        supported: set[int] | None = None
        enc: set[bytes] = set()
        sig: set[bytes] = set()
        for leaf in members:
            in_use.add(leaf.credential.credential_type)
            caps = set(leaf.capabilities.credentials)
            supported = caps if supported is None else supported & caps
            enc.add(leaf.encryption_key)
            sig.add(leaf.signature_key)
        return cls(
            group_id=group_id,
            extensions=tuple(extensions),
            member_credential_types=frozenset(in_use),
            member_supported_credential_types=None if supported is None else frozenset(supported),
            encryption_keys=frozenset(enc),
            signature_keys=frozenset(sig),
        )

    @classmethod
    def standalone(cls) -> GroupValidationContext:
        """No group: only the rules about the LeafNode itself apply."""
        return cls(group_id=b"")


def default_capabilities(suite_id: int) -> Capabilities:
    """Capabilities of an mlssim client for one suite (§7.2).

    Version mls10, the suite, and the basic and x509 credential types. The default
    extension and proposal types are implied and MUST NOT be listed (§7.2).
    """
    return Capabilities(
        versions=(ProtocolVersion.MLS10,),
        cipher_suites=(suite_id,),
        extensions=(),
        proposals=(),
        credentials=(CredentialType.BASIC, CredentialType.X509),
    )


def _check_group_binding(source: LeafNodeSource, group_id: bytes | None, leaf_index: int | None) -> None:
    if source == LeafNodeSource.KEY_PACKAGE:
        if group_id is not None or leaf_index is not None:
            raise LocalProtocolError(
                "a key_package LeafNode is signed without group_id and leaf_index (§7.2)"
            )
    elif group_id is None or leaf_index is None:
        raise LocalProtocolError(f"a {source.name} LeafNode is signed with group_id and leaf_index (§7.2)")


def sign_leaf_node(
    suite: CipherSuite,
    leaf: LeafNode,
    signature_priv: bytes,
    *,
    group_id: bytes | None = None,
    leaf_index: int | None = None,
) -> LeafNode:
    """A copy of ``leaf`` with ``signature = SignWithLabel(priv, "LeafNodeTBS", LeafNodeTBS)`` (§7.2).

    ``group_id`` and ``leaf_index`` are given exactly when the source is update or commit.
    No content rule is checked here (see :func:`make_leaf_node`).
    """
    _check_group_binding(leaf.leaf_node_source, group_id, leaf_index)
    tbs = leaf_node_tbs(leaf, group_id, leaf_index)
    return dataclasses.replace(
        leaf, signature=suite.sign_with_label(signature_priv, LEAF_NODE_TBS_LABEL, tbs)
    )


def make_leaf_node(
    suite: CipherSuite,
    *,
    encryption_key: bytes,
    signature_priv: bytes,
    signature_key: bytes,
    credential: Credential,
    capabilities: Capabilities,
    source: LeafNodeSource,
    lifetime: Lifetime | None = None,
    parent_hash: bytes = b"",
    extensions: Sequence[Extension] = (),
    group_id: bytes | None = None,
    leaf_index: int | None = None,
) -> LeafNode:
    """Build and sign a LeafNode (§7.2), refusing to create one its peers would reject.

    ``lifetime`` is given iff ``source`` is key_package; ``parent_hash`` only for commit;
    ``group_id``/``leaf_index`` iff update or commit. Raises :class:`LocalProtocolError` if
    ``signature_priv`` does not belong to ``signature_key``, if the credential type or a
    non-default leaf extension is missing from ``capabilities``, if ``capabilities`` lists a
    default extension or proposal type (§7.2 "MUST NOT be listed"), or if an extension
    type repeats (§13).
    """
    if (lifetime is not None) != (source == LeafNodeSource.KEY_PACKAGE):
        raise LocalProtocolError("a LeafNode has a lifetime iff its source is key_package (§7.2)")
    if parent_hash and source != LeafNodeSource.COMMIT:
        raise LocalProtocolError("only a commit LeafNode carries a parent_hash (§7.2)")
    _check_group_binding(source, group_id, leaf_index)
    if suite.signature_public_key(signature_priv) != signature_key:
        raise LocalProtocolError("signature_priv does not belong to signature_key")
    if credential.credential_type not in capabilities.credentials:
        raise LocalProtocolError(
            f"capabilities do not list credential type {credential.credential_type} (§7.2)"
        )
    listed_defaults = [t for t in capabilities.extensions if t in DEFAULT_EXTENSION_TYPES] + [
        t for t in capabilities.proposals if t in DEFAULT_PROPOSAL_TYPES
    ]
    if listed_defaults:
        raise LocalProtocolError(f"capabilities list default types {listed_defaults} (§7.2)")
    exts = tuple(extensions)
    try:
        check_unique_extensions(exts)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(str(exc)) from None
    unlisted = _unlisted_extensions(exts, capabilities)
    if unlisted:
        raise LocalProtocolError(f"leaf extensions {unlisted} are not listed in capabilities (§7.2)")
    leaf = LeafNode(
        encryption_key=encryption_key,
        signature_key=signature_key,
        credential=credential,
        capabilities=capabilities,
        leaf_node_source=source,
        lifetime=lifetime,
        parent_hash=parent_hash,
        extensions=exts,
    )
    return sign_leaf_node(suite, leaf, signature_priv, group_id=group_id, leaf_index=leaf_index)


def _unlisted_extensions(exts: Sequence[Extension], caps: Capabilities) -> list[int]:
    return [
        e.extension_type
        for e in exts
        if e.extension_type not in DEFAULT_EXTENSION_TYPES and e.extension_type not in caps.extensions
    ]


def verify_leaf_node_signature(
    suite: CipherSuite, leaf: LeafNode, *, group_id: bytes | None = None, leaf_index: int | None = None
) -> None:
    """§7.3: the signature verifies under ``leaf.signature_key``.

    ``group_id``/``leaf_index`` are used only for update and commit leaves, where they are
    required; a key-package leaf ignores them (it was signed before it had a group).
    """
    if leaf.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
        group_id = leaf_index = None
    elif group_id is None or leaf_index is None:
        raise LocalProtocolError(
            f"verifying a {leaf.leaf_node_source.name} LeafNode needs group_id and leaf_index"
        )
    tbs = leaf_node_tbs(leaf, group_id, leaf_index)
    if not suite.verify_with_label(leaf.signature_key, LEAF_NODE_TBS_LABEL, tbs, leaf.signature):
        raise LeafNodeSignatureError(f"{leaf.leaf_node_source.name} LeafNode signature does not verify")


def validate_leaf_node(
    suite: CipherSuite,
    leaf: LeafNode,
    *,
    context: GroupValidationContext,
    expected_source: LeafNodeSource | None,
    now: int,
    leaf_index: int | None = None,
    credential_validator: CredentialValidator = default_credential_validator,
    replaced_leaf: LeafNode | None = None,
    predecessor: Credential | None = None,
    check_lifetime: bool = True,
    max_lifetime: int | None = None,
    signature_verified: bool = False,
) -> None:
    """Every rule of §7.3 Leaf Node Validation (plus the §7.2 and §13 rules it leans on).

    * ``leaf_node_source`` equals ``expected_source`` (``None``: any source, e.g. a leaf of
      a ratchet tree being joined); for an Update, ``encryption_key`` differs from that of
      ``replaced_leaf`` (when given);
    * no extension type repeats (§13);
    * the signature verifies — update and commit leaves over ``context.group_id`` and
      ``leaf_index``, which must then be given;
    * ``credential_validator`` accepts the credential for ``signature_key`` at ``now`` and, when
      it replaces a member's credential ``predecessor``, as that one's successor (§5.3.1);
    * the capabilities cover the group's required_capabilities (§11.1) and every non-default
      GroupContext extension (§13);
    * the leaf lists its own credential type (§7.2); every other member supports that type;
      the leaf supports every credential type the other members use;
    * a key-package leaf's ``lifetime`` contains ``now`` (skipped when ``check_lifetime`` is
      false: §7.3 only RECOMMENDS it for received leaves) and, with ``max_lifetime``
      (seconds, the application's maximum of §7.2), is not longer than that;
    * every non-default leaf extension is listed in ``capabilities.extensions``;
    * ``encryption_key`` and ``signature_key`` are not already used by another member.

    ``signature_verified``: the caller has verified the signature already (a joiner checks
    every leaf signature of the tree in ``validate_tree``); it is then not verified twice.

    Raises the first failing rule's error; changes nothing.
    """
    source = leaf.leaf_node_source
    if expected_source is not None and source != expected_source:
        raise LeafNodeSourceError(f"leaf_node_source is {source.name}, expected {expected_source.name}")
    if (
        source == LeafNodeSource.UPDATE
        and replaced_leaf is not None
        and leaf.encryption_key == replaced_leaf.encryption_key
    ):
        raise UpdateEncryptionKeyReusedError("an Update must replace the leaf's encryption_key")
    check_unique_extensions(leaf.extensions)

    if source == LeafNodeSource.KEY_PACKAGE:
        if not signature_verified:
            verify_leaf_node_signature(suite, leaf)
    else:
        if leaf_index is None:
            raise LocalProtocolError(f"validating a {source.name} LeafNode needs its leaf_index")
        if not signature_verified:
            verify_leaf_node_signature(suite, leaf, group_id=context.group_id, leaf_index=leaf_index)

    credential_validator(leaf.credential, leaf.signature_key, now, predecessor=predecessor)

    caps = leaf.capabilities
    check_capabilities_support(caps, context.extensions)
    _check_credential_types(leaf, context)

    if leaf.lifetime is not None:  # exactly the key_package leaves (LeafNode.__post_init__)
        _check_lifetime(leaf.lifetime, now, check_lifetime, max_lifetime)

    unlisted = _unlisted_extensions(leaf.extensions, caps)
    if unlisted:
        raise LeafExtensionUnsupportedError(f"leaf extensions {unlisted} are not listed in its capabilities")

    if leaf.encryption_key in context.encryption_keys:
        raise DuplicateEncryptionKeyError("encryption_key is already used by a member of the group")
    if leaf.signature_key in context.signature_keys:
        raise DuplicateSignatureKeyError("signature_key is already used by a member of the group")


def _check_credential_types(leaf: LeafNode, context: GroupValidationContext) -> None:
    ctype = leaf.credential.credential_type
    supported: Collection[int] = leaf.capabilities.credentials
    if ctype not in supported:
        raise CredentialTypeNotListedError(f"capabilities do not list the leaf's credential type {ctype}")
    by_members = context.member_supported_credential_types
    if by_members is not None and ctype not in by_members:
        raise CredentialTypeUnsupportedByMembersError(
            f"credential type {ctype} is not supported by all members"
        )
    missing = sorted(t for t in context.member_credential_types if t not in supported)
    if missing:
        raise MemberCredentialTypeUnsupportedError(f"leaf does not support credential types {missing} in use")


def _check_lifetime(lifetime: Lifetime, now: int, check_now: bool, max_lifetime: int | None) -> None:
    if max_lifetime is not None and (
        lifetime.not_after < lifetime.not_before or lifetime.not_after - lifetime.not_before > max_lifetime
    ):
        raise LeafNodeLifetimeTooLongError(
            f"lifetime {lifetime.not_before}..{lifetime.not_after} exceeds the maximum of {max_lifetime} s"
        )
    if check_now and not lifetime.not_before <= now <= lifetime.not_after:
        raise LeafNodeLifetimeError(
            f"now={now} is outside the lifetime {lifetime.not_before}..{lifetime.not_after}"
        )
