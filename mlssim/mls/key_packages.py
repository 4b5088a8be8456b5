"""KeyPackages: creating them (RFC 9420 §10) and validating them (§10.1).

A KeyPackage is a client's signed, one-time offer to be added to a group: a protocol
version and cipher suite, an HPKE ``init_key`` that a Welcome is encrypted to, and the
LeafNode (source key_package) that will represent the client in the tree. The client keeps
the private halves in a :class:`KeyPackageBundle` until the KeyPackage is used (§10), then
discards ``init_priv`` (§12.4.3.1; its reuse would break forward secrecy).

Fresh keys come from the injected :class:`~mlssim.mls.rand.RandomSource`; validation takes
``now`` from the caller and changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from .credentials import CredentialValidator, default_credential_validator
from .crypto.suite import CipherSuite, KeyPair
from .errors import LocalProtocolError, RemoteProtocolError
from .extensions import DEFAULT_EXTENSION_TYPES, check_unique_extensions
from .leaf_nodes import GroupValidationContext, default_capabilities, make_leaf_node, validate_leaf_node
from .messages.common import Extension
from .messages.credentials import Credential
from .messages.enums import LeafNodeSource, ProtocolVersion
from .messages.framing import MLSMessage
from .messages.key_package import KeyPackage, key_package_tbs
from .messages.tree import Capabilities, Lifetime
from .rand import RandomSource

__all__ = [
    "KEY_PACKAGE_TBS_LABEL",
    "KeyPackageError",
    "NotAKeyPackageError",
    "KeyPackageVersionError",
    "KeyPackageCipherSuiteError",
    "KeyPackagePublicKeyError",
    "KeyPackageSignatureError",
    "InitKeyEqualsEncryptionKeyError",
    "KeyPackageBundle",
    "make_key_package",
    "sign_key_package",
    "verify_key_package_signature",
    "validate_key_package",
    "key_package_from_message",
]

KEY_PACKAGE_TBS_LABEL = "KeyPackageTBS"


class KeyPackageError(RemoteProtocolError):
    """A KeyPackage fails a rule of §10.1 KeyPackage Validation."""

    rfc_section = "10.1"


class NotAKeyPackageError(KeyPackageError):
    """An MLSMessage expected to carry a KeyPackage carries something else (§6)."""

    rfc_section = "6"


class KeyPackageVersionError(KeyPackageError):
    """The KeyPackage's version is not the group's, or not that of its MLSMessage (§10)."""


class KeyPackageCipherSuiteError(KeyPackageError):
    """The KeyPackage's cipher suite is not the group's."""


class KeyPackagePublicKeyError(KeyPackageError):
    """§10: ``init_key``, ``leaf_node.encryption_key`` or ``leaf_node.signature_key`` is not a
    public key of the cipher suite (checked by length; a point off the curve fails later, at
    its first use, with ``CryptoError``)."""

    rfc_section = "10"


class KeyPackageSignatureError(KeyPackageError):
    """The KeyPackage signature does not verify under ``leaf_node.signature_key``."""


class InitKeyEqualsEncryptionKeyError(KeyPackageError):
    """``init_key`` equals ``leaf_node.encryption_key``; they must differ."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPackageBundle:
    """A KeyPackage and the private keys its creator keeps until it is used (§10).

    ``init_priv`` opens the Welcome, ``encryption_priv`` is the leaf's HPKE private key in
    the tree, ``signature_priv`` signs as that leaf.
    """

    key_package: KeyPackage
    init_priv: bytes
    encryption_priv: bytes
    signature_priv: bytes

    def ref(self, suite: CipherSuite) -> bytes:
        """§5.2 KeyPackageRef, the name a Welcome gives this KeyPackage."""
        return suite.key_package_ref(self.key_package.encoded())


def sign_key_package(suite: CipherSuite, kp: KeyPackage, signature_priv: bytes) -> KeyPackage:
    """A copy of ``kp`` with ``signature = SignWithLabel(priv, "KeyPackageTBS", KeyPackageTBS)`` (§10)."""
    sig = suite.sign_with_label(signature_priv, KEY_PACKAGE_TBS_LABEL, key_package_tbs(kp))
    return dataclasses.replace(kp, signature=sig)


def make_key_package(
    suite: CipherSuite,
    *,
    credential: Credential,
    signature_key_pair: KeyPair | None,
    rand: RandomSource,
    lifetime: Lifetime,
    capabilities: Capabilities | None = None,
    extensions: Sequence[Extension] = (),
    leaf_extensions: Sequence[Extension] = (),
) -> KeyPackageBundle:
    """A fresh KeyPackage for ``suite`` (§10) and its private keys.

    Draws from ``rand``, in this order: a signature key pair when ``signature_key_pair`` is
    ``None`` (a client usually reuses its long-term one), the init key pair, the leaf's
    encryption key pair. ``capabilities`` defaults to :func:`default_capabilities`. Raises
    :class:`LocalProtocolError` for a KeyPackage that peers would reject: a non-default
    extension (of ``extensions`` or ``leaf_extensions``) not listed in the capabilities
    (§10), a repeated extension type (§13), or ``init_key`` equal to the encryption key
    (only a broken ``rand`` could cause it).
    """
    sig = signature_key_pair if signature_key_pair is not None else suite.signature_key_pair(rand)
    caps = capabilities if capabilities is not None else default_capabilities(suite.suite_id)
    kp_exts = tuple(extensions)
    try:
        check_unique_extensions(kp_exts)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(str(exc)) from None
    unlisted = [
        e.extension_type
        for e in kp_exts
        if e.extension_type not in DEFAULT_EXTENSION_TYPES and e.extension_type not in caps.extensions
    ]
    if unlisted:
        raise LocalProtocolError(f"KeyPackage extensions {unlisted} are not listed in capabilities (§10)")
    init = suite.kem_generate_key_pair(rand)
    enc = suite.kem_generate_key_pair(rand)
    if init.pub == enc.pub:
        raise LocalProtocolError("the random source gave the same init and encryption key (§10.1)")
    leaf = make_leaf_node(
        suite,
        encryption_key=enc.pub,
        signature_priv=sig.priv,
        signature_key=sig.pub,
        credential=credential,
        capabilities=caps,
        source=LeafNodeSource.KEY_PACKAGE,
        lifetime=lifetime,
        extensions=leaf_extensions,
    )
    kp = KeyPackage(
        version=ProtocolVersion.MLS10,
        cipher_suite=suite.suite_id,
        init_key=init.pub,
        leaf_node=leaf,
        extensions=kp_exts,
    )
    return KeyPackageBundle(
        key_package=sign_key_package(suite, kp, sig.priv),
        init_priv=init.priv,
        encryption_priv=enc.priv,
        signature_priv=sig.priv,
    )


def verify_key_package_signature(suite: CipherSuite, kp: KeyPackage) -> None:
    """§10.1: the KeyPackage signature verifies under ``leaf_node.signature_key``."""
    if not suite.verify_with_label(
        kp.leaf_node.signature_key, KEY_PACKAGE_TBS_LABEL, key_package_tbs(kp), kp.signature
    ):
        raise KeyPackageSignatureError("KeyPackage signature does not verify")


def validate_key_package(
    suite: CipherSuite,
    kp: KeyPackage,
    *,
    now: int,
    credential_validator: CredentialValidator = default_credential_validator,
    context: GroupValidationContext | None = None,
    version: ProtocolVersion = ProtocolVersion.MLS10,
    check_lifetime: bool = True,
    max_lifetime: int | None = None,
) -> None:
    """Every rule of §10.1, for a group using ``suite`` and ``version``.

    * version and cipher suite equal the group's;
    * ``init_key``, the leaf's ``encryption_key`` and ``signature_key`` have the suite's
      public-key lengths (§10: "MUST be a public key for ... cipher_suite");
    * the KeyPackage signature verifies under ``leaf_node.signature_key``;
    * ``init_key`` differs from ``leaf_node.encryption_key``;
    * the LeafNode is valid for a KeyPackage (:func:`validate_leaf_node` with source
      key_package, against ``context``; without one, only the rules about the leaf itself).

    ``now``, ``credential_validator``, ``check_lifetime`` and ``max_lifetime`` go to the
    leaf validation. Raises the first failing rule's error; changes nothing.
    """
    if kp.version != version:
        raise KeyPackageVersionError(f"KeyPackage version {kp.version} is not the group's {version}")
    if kp.cipher_suite != suite.suite_id:
        raise KeyPackageCipherSuiteError(
            f"KeyPackage cipher suite {kp.cipher_suite} is not the group's {suite.suite_id}"
        )
    info = suite.info
    leaf = kp.leaf_node
    for what, key, size in (
        ("init_key", kp.init_key, info.kem_pk_len),
        ("leaf_node.encryption_key", leaf.encryption_key, info.kem_pk_len),
        ("leaf_node.signature_key", leaf.signature_key, info.sig_pk_len),
    ):
        if len(key) != size:
            raise KeyPackagePublicKeyError(f"{what} has {len(key)} bytes, suite {suite.suite_id} uses {size}")
    verify_key_package_signature(suite, kp)
    if kp.init_key == leaf.encryption_key:
        raise InitKeyEqualsEncryptionKeyError("init_key equals leaf_node.encryption_key")
    validate_leaf_node(
        suite,
        leaf,
        context=context if context is not None else GroupValidationContext.standalone(),
        expected_source=LeafNodeSource.KEY_PACKAGE,
        now=now,
        credential_validator=credential_validator,
        check_lifetime=check_lifetime,
        max_lifetime=max_lifetime,
    )


def key_package_from_message(msg: MLSMessage) -> KeyPackage:
    """The KeyPackage an MLSMessage carries, after §10's check that both versions agree."""
    kp = msg.body
    if not isinstance(kp, KeyPackage):
        raise NotAKeyPackageError(f"MLSMessage carries {type(kp).__name__}, not a KeyPackage")
    if kp.version != msg.version:
        raise KeyPackageVersionError(
            f"KeyPackage version {kp.version} differs from its MLSMessage's {msg.version}"
        )
    return kp
