"""Typed access to extension lists (RFC 9420 §13) and the capability rules built on them.

An extension list travels as ``Extension(extension_type, extension_data)`` pairs with opaque
data (``messages.common``), because unknown types are legal on the wire and MUST be ignored
(§13). This module is the one place that turns the five default extensions (§17.3:
application_id, ratchet_tree, required_capabilities, external_pub, external_senders) into
typed values and back, and that enforces the two rules every extension list obeys:

* no list holds two extensions of one type (§13);
* a client's ``Capabilities`` must cover the group's ``required_capabilities`` (§11.1) and
  every non-default extension in the GroupContext (§13), which is what Add (§12.1.1),
  GroupContextExtensions (§12.1.7) and joining (§12.4.3.1) check.

Readers return ``None`` when the extension is absent and raise ``DecodeError`` (a
``RemoteProtocolError``) when its data is malformed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .codec import decode, encode
from .errors import RemoteProtocolError
from .messages.common import Extension
from .messages.credentials import ApplicationId, ExternalSenders
from .messages.enums import ExtensionType, ProposalType
from .messages.tree import Capabilities, Node, RequiredCapabilities, decode_ratchet_tree, encode_ratchet_tree
from .messages.welcome import ExternalPub

__all__ = [
    "DEFAULT_EXTENSION_TYPES",
    "DEFAULT_PROPOSAL_TYPES",
    "ExtensionError",
    "DuplicateExtensionError",
    "RequiredCapabilitiesError",
    "GroupExtensionUnsupportedError",
    "check_unique_extensions",
    "find_extension",
    "put_extension",
    "required_capabilities",
    "external_senders",
    "external_pub",
    "application_id",
    "ratchet_tree_nodes",
    "required_capabilities_extension",
    "external_senders_extension",
    "external_pub_extension",
    "application_id_extension",
    "ratchet_tree_extension",
    "check_capabilities_support",
    "validate_group_context_extensions",
]

#: §7.2: extension types every client implements; they are never listed in capabilities.
DEFAULT_EXTENSION_TYPES: frozenset[int] = frozenset(int(t) for t in ExtensionType)
#: §7.2: proposal types every client implements; they are never listed in capabilities.
DEFAULT_PROPOSAL_TYPES: frozenset[int] = frozenset(int(t) for t in ProposalType)


class ExtensionError(RemoteProtocolError):
    """An extension list breaks a rule of §13."""

    rfc_section = "13"


class DuplicateExtensionError(ExtensionError):
    """§13: "Any field containing a list of extensions MUST NOT have more than one extension
    of any given type"."""


class RequiredCapabilitiesError(RemoteProtocolError):
    """§11.1: a client's capabilities lack an extension, proposal or credential type that the
    group's required_capabilities extension demands."""

    rfc_section = "11.1"


class GroupExtensionUnsupportedError(ExtensionError):
    """§13: a client's capabilities do not list a (non-default) extension in use in the
    GroupContext; every GroupContext extension must be supported by every member."""


# ---- finding and replacing -------------------------------------------------------------------


def check_unique_extensions(exts: Sequence[Extension]) -> None:
    """Raise :class:`DuplicateExtensionError` if two entries share a type (§13)."""
    seen: set[int] = set()
    for ext in exts:
        if ext.extension_type in seen:
            raise DuplicateExtensionError(f"extension type {ext.extension_type} appears more than once")
        seen.add(ext.extension_type)


def find_extension(exts: Sequence[Extension], ext_type: int) -> bytes | None:
    """The ``extension_data`` of the extension of type ``ext_type``, or ``None`` if absent.

    The whole list is checked for duplicates first (§13), so a list with two entries of one
    type is rejected whichever type is asked for.
    """
    check_unique_extensions(exts)
    for ext in exts:
        if ext.extension_type == ext_type:
            return ext.extension_data
    return None


def put_extension(exts: Sequence[Extension], ext: Extension) -> tuple[Extension, ...]:
    """A copy of ``exts`` with ``ext`` in place of any entry of its type (appended otherwise).

    The position of a replaced entry is kept, so re-putting an unchanged extension gives the
    same bytes on the wire.
    """
    out: list[Extension] = []
    replaced = False
    for old in exts:
        if old.extension_type == ext.extension_type:
            if not replaced:
                out.append(ext)
                replaced = True
        else:
            out.append(old)
    if not replaced:
        out.append(ext)
    return tuple(out)


# ---- typed readers ---------------------------------------------------------------------------


def required_capabilities(exts: Sequence[Extension]) -> RequiredCapabilities | None:
    """The §11.1 required_capabilities GroupContext extension, decoded."""
    data = find_extension(exts, ExtensionType.REQUIRED_CAPABILITIES)
    return None if data is None else decode(RequiredCapabilities, data)


def external_senders(exts: Sequence[Extension]) -> ExternalSenders | None:
    """The §12.1.8.1 external_senders GroupContext extension, decoded."""
    data = find_extension(exts, ExtensionType.EXTERNAL_SENDERS)
    return None if data is None else decode(ExternalSenders, data)


def external_pub(exts: Sequence[Extension]) -> ExternalPub | None:
    """The §12.4.3.2 external_pub GroupInfo extension, decoded."""
    data = find_extension(exts, ExtensionType.EXTERNAL_PUB)
    return None if data is None else decode(ExternalPub, data)


def application_id(exts: Sequence[Extension]) -> ApplicationId | None:
    """The §5.3.3 application_id LeafNode extension, decoded (not authenticated by the AS)."""
    data = find_extension(exts, ExtensionType.APPLICATION_ID)
    return None if data is None else decode(ApplicationId, data)


def ratchet_tree_nodes(exts: Sequence[Extension]) -> list[Node | None] | None:
    """The §12.4.3.3 ratchet_tree GroupInfo extension, decoded in array order (not validated)."""
    data = find_extension(exts, ExtensionType.RATCHET_TREE)
    return None if data is None else decode_ratchet_tree(data)


# ---- builders --------------------------------------------------------------------------------


def required_capabilities_extension(rc: RequiredCapabilities) -> Extension:
    """§11.1 required_capabilities as an Extension."""
    return Extension(extension_type=ExtensionType.REQUIRED_CAPABILITIES, extension_data=encode(rc))


def external_senders_extension(senders: ExternalSenders) -> Extension:
    """§12.1.8.1 external_senders as an Extension."""
    return Extension(extension_type=ExtensionType.EXTERNAL_SENDERS, extension_data=encode(senders))


def external_pub_extension(pub: bytes) -> Extension:
    """§12.4.3.2 external_pub (an HPKE public key) as an Extension."""
    return Extension(
        extension_type=ExtensionType.EXTERNAL_PUB, extension_data=encode(ExternalPub(external_pub=pub))
    )


def application_id_extension(app_id: bytes) -> Extension:
    """§5.3.3 application_id as an Extension."""
    return Extension(
        extension_type=ExtensionType.APPLICATION_ID,
        extension_data=encode(ApplicationId(application_id=app_id)),
    )


def ratchet_tree_extension(nodes: Sequence[Node | None]) -> Extension:
    """§12.4.3.3 ratchet_tree as an Extension (trailing blank nodes are dropped)."""
    return Extension(extension_type=ExtensionType.RATCHET_TREE, extension_data=encode_ratchet_tree(nodes))


# ---- capability rules ------------------------------------------------------------------------


def check_capabilities_support(caps: Capabilities, group_extensions: Sequence[Extension]) -> None:
    """Does a client with ``caps`` fit a group whose GroupContext has ``group_extensions``?

    §11.1: every non-default extension and proposal type and every credential type in
    required_capabilities is listed in ``caps`` (default types "need not be listed", and
    §7.2 forbids listing them, so they count as supported; credential types have no
    defaults). §13: every non-default extension in the GroupContext is listed in
    ``caps.extensions``.
    """
    rc = required_capabilities(group_extensions)
    if rc is not None:
        missing_ext = [
            t for t in rc.extension_types if t not in DEFAULT_EXTENSION_TYPES and t not in caps.extensions
        ]
        missing_prop = [
            t for t in rc.proposal_types if t not in DEFAULT_PROPOSAL_TYPES and t not in caps.proposals
        ]
        missing_cred = [t for t in rc.credential_types if t not in caps.credentials]
        if missing_ext or missing_prop or missing_cred:
            raise RequiredCapabilitiesError(
                f"capabilities lack required extension types {missing_ext}, "
                f"proposal types {missing_prop}, credential types {missing_cred}"
            )
    for ext in group_extensions:
        if ext.extension_type not in DEFAULT_EXTENSION_TYPES and ext.extension_type not in caps.extensions:
            raise GroupExtensionUnsupportedError(
                f"capabilities do not list GroupContext extension type {ext.extension_type}"
            )


def validate_group_context_extensions(exts: Sequence[Extension], members: Iterable[Capabilities]) -> None:
    """§12.1.7: a GroupContextExtensions proposal is valid only if every member (after the
    commit's adds and removes, which the caller reflects in ``members``) supports the new
    required capabilities and extensions; the list itself has no duplicate types (§13).
    """
    check_unique_extensions(exts)
    for caps in members:
        check_capabilities_support(caps, exts)
