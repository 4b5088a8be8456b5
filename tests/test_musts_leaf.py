"""Receiver MUSTs of RFC 9420 §7.3 (leaf node validation) and §10.1 (KeyPackage validation, which
§12.1.1 makes an Add's), one authentic violation each (issue 25 b).

Vehicles: a member's Update proposal (its leaf, checked by every receiver before caching it,
§12.1.2) and an Add committed by value (its KeyPackage, checked as part of the proposal list,
§12.2). The leaf or KeyPackage is signed honestly by its owner; the sender's own check is
bypassed (``tests/malicious.py``).
"""

from __future__ import annotations

from typing import Any

from mlssim.mls.credentials import CertificateChainError
from mlssim.mls.crypto import CipherSuite
from mlssim.mls.errors import DecodeError
from mlssim.mls.extensions import (
    DuplicateExtensionError,
    RequiredCapabilitiesError,
    required_capabilities_extension,
)
from mlssim.mls.group import GroupConfig
from mlssim.mls.group_validation import LeafPolicy
from mlssim.mls.key_packages import (
    InitKeyEqualsEncryptionKeyError,
    KeyPackageCipherSuiteError,
    KeyPackagePublicKeyError,
    KeyPackageSignatureError,
)
from mlssim.mls.leaf_nodes import (
    CredentialTypeNotListedError,
    CredentialTypeUnsupportedByMembersError,
    DuplicateEncryptionKeyError,
    DuplicateSignatureKeyError,
    LeafExtensionUnsupportedError,
    LeafNodeLifetimeError,
    LeafNodeLifetimeTooLongError,
    LeafNodeSignatureError,
    LeafNodeSourceError,
    MemberCredentialTypeUnsupportedError,
    UpdateEncryptionKeyReusedError,
)
from mlssim.mls.messages import Credential, MLSMessage
from mlssim.mls.messages.common import Extension
from mlssim.mls.messages.credentials import Certificate
from mlssim.mls.messages.enums import CredentialType, LeafNodeSource
from mlssim.mls.messages.proposals import Add, Update
from mlssim.mls.messages.tree import Capabilities, Lifetime, RequiredCapabilities

from .group_harness import Harness, make_client
from .malicious import (
    ON_SUITES,
    forge_commit,
    group_of,
    key_package_with,
    member_proposal,
    rejected_by_all,
    resigned_leaf,
)

pytestmark = ON_SUITES

UNKNOWN_EXTENSION = 0xF0F0


def _update(h: Harness, name: str, *, signer: bytes | None = None, **changes: Any) -> MLSMessage:
    """Member ``name``'s Update proposal of a fresh leaf with ``changes``, the leaf signed by
    ``name`` (or ``signer``) over the group and its leaf index, the proposal by ``name``."""
    g = h.members[name]
    current = g.tree.leaf(g.leaf_index)
    assert current is not None
    fields: dict[str, Any] = {
        "encryption_key": g.suite.kem_generate_key_pair(h.rand).pub,
        "leaf_node_source": LeafNodeSource.UPDATE,
        "lifetime": None,
        "parent_hash": b"",
    }
    fields.update(changes)
    group_id = fields.pop("group_id", g.group_id)
    leaf_index = fields.pop("leaf_index", int(g.leaf_index))
    leaf = resigned_leaf(
        g.suite,
        current,
        signer or g.identity.signature_priv,
        group_id=group_id,
        leaf_index=leaf_index,
        **fields,
    )
    return member_proposal(h, name, Update(leaf_node=leaf))[0]


def _caps(h: Harness, name: str, **changes: Any) -> Capabilities:
    import dataclasses

    leaf = h.members[name].tree.leaf(h.members[name].leaf_index)
    assert leaf is not None
    return dataclasses.replace(leaf.capabilities, **changes)


def _accept_any(
    credential: Credential, signature_key: bytes, now: int, /, *, predecessor: Credential | None
) -> None:
    """An AS that accepts every credential, so that the capability rules are reached."""


# ---- a member's Update (§7.3 via §12.1.2) ---------------------------------------------------------


def test_7_3_credential_must_be_valid(suite: CipherSuite) -> None:
    """§7.3 (§5.3.1): the credential in the LeafNode is valid (an x509 credential without a chain)."""
    h = group_of(suite, 3)
    msg = _update(h, "c3", credential=Credential.x509(()))
    rejected_by_all(h, msg, CertificateChainError, sender="c3")


def test_7_3_leaf_signature_must_verify(suite: CipherSuite) -> None:
    """§7.3: the signature over LeafNodeTBS (group_id, leaf_index) verifies: c3 signs for leaf 0."""
    h = group_of(suite, 3)
    msg = _update(h, "c3", leaf_index=0)
    rejected_by_all(h, msg, LeafNodeSignatureError, sender="c3")


def test_7_3_leaf_signed_for_another_group_is_rejected(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    msg = _update(h, "c3", group_id=b"another group")
    rejected_by_all(h, msg, LeafNodeSignatureError, sender="c3")


def test_7_3_required_capabilities_must_be_listed(suite: CipherSuite) -> None:
    """§7.3, §11.1: a leaf lists every credential type the group's required_capabilities names."""
    h = group_of(suite, 3)
    rc = RequiredCapabilities(credential_types=(CredentialType.X509,))
    h.deliver(h.members["c1"].commit(h.rand, extensions=(required_capabilities_extension(rc),)), "c1")
    msg = _update(h, "c3", capabilities=_caps(h, "c3", credentials=(CredentialType.BASIC,)))
    rejected_by_all(h, msg, RequiredCapabilitiesError, sender="c3")


def test_7_3_credential_type_must_be_supported_by_all_members(suite: CipherSuite) -> None:
    """§7.3: c2 supports only basic credentials; c3's new leaf brings an x509 one."""
    h = Harness(suite, seed=7, config=GroupConfig(leaf_policy=LeafPolicy(credential_validator=_accept_any)))
    c2 = make_client(suite, "c2", h.rand)
    import dataclasses

    from mlssim.mls.key_packages import make_key_package

    basic_only = dataclasses.replace(c2.identity.capabilities, credentials=(CredentialType.BASIC,))
    from mlssim.mls.crypto import KeyPair

    bundle = make_key_package(
        suite,
        credential=c2.identity.credential,
        signature_key_pair=KeyPair(c2.identity.signature_priv, c2.identity.signature_key),
        rand=h.rand,
        lifetime=Lifetime(not_before=0, not_after=2**63),
        capabilities=basic_only,
    )
    h.clients["c2"] = dataclasses.replace(
        c2, identity=dataclasses.replace(c2.identity, capabilities=basic_only), bundle=bundle
    )
    h.create("c1")
    h.add("c1", "c2", "c3")
    cert = Credential.x509((Certificate(cert_data=b"any"),))
    msg = _update(h, "c3", credential=cert)
    rejected_by_all(h, msg, CredentialTypeUnsupportedByMembersError, sender="c3")


def test_7_3_leaf_must_support_the_credential_types_in_use(suite: CipherSuite) -> None:
    """§7.3: c3's new leaf (an x509 credential) does not list basic, which the others use."""
    h = group_of(suite, 3, GroupConfig(leaf_policy=LeafPolicy(credential_validator=_accept_any)))
    cert = Credential.x509((Certificate(cert_data=b"any"),))
    msg = _update(h, "c3", credential=cert, capabilities=_caps(h, "c3", credentials=(CredentialType.X509,)))
    rejected_by_all(h, msg, MemberCredentialTypeUnsupportedError, sender="c3")


def test_7_2_leaf_must_list_its_own_credential_type(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    msg = _update(h, "c3", capabilities=_caps(h, "c3", credentials=(CredentialType.X509,)))
    rejected_by_all(h, msg, CredentialTypeNotListedError, sender="c3")


def test_7_3_leaf_extensions_must_be_listed_in_capabilities(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    msg = _update(h, "c3", extensions=(Extension(extension_type=UNKNOWN_EXTENSION, extension_data=b"x"),))
    rejected_by_all(h, msg, LeafExtensionUnsupportedError, sender="c3")


def test_13_leaf_extension_type_must_not_repeat(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    ext = Extension(extension_type=UNKNOWN_EXTENSION, extension_data=b"x")
    caps = _caps(h, "c3", extensions=(UNKNOWN_EXTENSION,))
    msg = _update(h, "c3", capabilities=caps, extensions=(ext, ext))
    rejected_by_all(h, msg, DuplicateExtensionError, sender="c3")


def test_7_3_update_leaf_source_must_be_update(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    msg = _update(h, "c3", leaf_node_source=LeafNodeSource.COMMIT)
    rejected_by_all(h, msg, LeafNodeSourceError, sender="c3")


def test_7_3_update_must_change_the_encryption_key(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    own = h.members["c3"].tree.leaf(h.members["c3"].leaf_index)
    assert own is not None
    msg = _update(h, "c3", encryption_key=own.encryption_key)
    rejected_by_all(h, msg, UpdateEncryptionKeyReusedError, sender="c3")


def test_7_3_encryption_key_must_be_unique(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    c2_leaf = h.members["c2"].tree.leaf(h.members["c2"].leaf_index)
    assert c2_leaf is not None
    msg = _update(h, "c3", encryption_key=c2_leaf.encryption_key)
    rejected_by_all(h, msg, DuplicateEncryptionKeyError, sender="c3")


def test_7_3_signature_key_must_be_unique(suite: CipherSuite) -> None:
    """c3, colluding with c4 (it holds c4's signing key), takes c4's signature key."""
    h = group_of(suite, 4)
    c4 = h.members["c4"].identity
    msg = _update(h, "c3", signature_key=c4.signature_key, signer=c4.signature_priv)
    rejected_by_all(h, msg, DuplicateSignatureKeyError, sender="c3")


# ---- an Add's KeyPackage (§10.1 via §12.1.1), committed by value ----------------------------------


def _commit_add(h: Harness, kp: Any) -> MLSMessage:
    return forge_commit(h, "c1", [Add(key_package=kp)]).message


def test_10_1_key_package_signature_must_verify(suite: CipherSuite) -> None:
    import dataclasses

    h = group_of(suite, 3)
    _, kp = key_package_with(h, "new")
    forged = dataclasses.replace(kp, init_key=suite.kem_generate_key_pair(h.rand).pub)  # not re-signed
    rejected_by_all(h, _commit_add(h, forged), KeyPackageSignatureError, sender="c1")


def test_10_1_key_package_cipher_suite_must_be_the_groups(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _, kp = key_package_with(h, "new", cipher_suite=3)
    rejected_by_all(h, _commit_add(h, kp), KeyPackageCipherSuiteError, sender="c1")


def test_10_1_key_package_version_must_be_the_groups(suite: CipherSuite) -> None:
    """§10.1: the version is the group's; an unknown version does not even decode (a KeyPackage
    of another version cannot be parsed), so the commit carrying it is malformed."""
    h = group_of(suite, 3)
    _, kp = key_package_with(h, "new", version=2)
    rejected_by_all(h, _commit_add(h, kp), DecodeError, sender="c1")


def test_10_key_package_keys_must_be_keys_of_the_suite(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _, kp = key_package_with(h, "new", leaf={"encryption_key": b"\x01" * 7})
    rejected_by_all(h, _commit_add(h, kp), KeyPackagePublicKeyError, sender="c1")


def test_10_1_init_key_must_differ_from_encryption_key(suite: CipherSuite) -> None:
    import dataclasses

    from mlssim.mls.key_packages import sign_key_package

    h = group_of(suite, 3)
    c, kp = key_package_with(h, "new")
    kp = sign_key_package(
        suite, dataclasses.replace(kp, init_key=kp.leaf_node.encryption_key), c.identity.signature_priv
    )
    rejected_by_all(h, _commit_add(h, kp), InitKeyEqualsEncryptionKeyError, sender="c1")


def test_7_3_key_package_leaf_source_must_be_key_package(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    _, kp = key_package_with(
        h,
        "new",
        leaf={
            "leaf_node_source": LeafNodeSource.UPDATE,
            "lifetime": None,
            "group_id": h.group_id,
            "leaf_index": 3,
        },
    )
    rejected_by_all(h, _commit_add(h, kp), LeafNodeSourceError, sender="c1")


def test_7_3_key_package_leaf_signature_must_verify(suite: CipherSuite) -> None:
    import dataclasses

    h = group_of(suite, 3)
    c, kp = key_package_with(h, "new")
    leaf = dataclasses.replace(kp.leaf_node, signature=kp.leaf_node.signature[::-1])
    from mlssim.mls.key_packages import sign_key_package

    kp = sign_key_package(suite, dataclasses.replace(kp, leaf_node=leaf), c.identity.signature_priv)
    rejected_by_all(h, _commit_add(h, kp), LeafNodeSignatureError, sender="c1")


def test_7_3_added_encryption_key_must_be_unique(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    c2_leaf = h.members["c2"].tree.leaf(h.members["c2"].leaf_index)
    assert c2_leaf is not None
    _, kp = key_package_with(h, "new", leaf={"encryption_key": c2_leaf.encryption_key})
    rejected_by_all(h, _commit_add(h, kp), DuplicateEncryptionKeyError, sender="c1")


def test_7_3_added_leaf_must_meet_required_capabilities(suite: CipherSuite) -> None:
    h = group_of(suite, 3)
    rc = RequiredCapabilities(credential_types=(CredentialType.X509,))
    h.deliver(h.members["c1"].commit(h.rand, extensions=(required_capabilities_extension(rc),)), "c1")
    c = h.client("new")
    caps = Capabilities(
        versions=c.identity.capabilities.versions,
        cipher_suites=c.identity.capabilities.cipher_suites,
        credentials=(CredentialType.BASIC,),
    )
    _, kp = key_package_with(h, "new", leaf={"capabilities": caps})
    rejected_by_all(h, _commit_add(h, kp), RequiredCapabilitiesError, sender="c1")


def test_7_3_added_leaf_lifetime_is_checked_when_time_is_modelled(suite: CipherSuite) -> None:
    """§7.3 RECOMMENDS (§10.1 via the lifetime rule) that a received KeyPackage's lifetime
    contain the current time; the core checks it whenever the receiver passes ``now``."""
    h = group_of(suite, 3)
    _, kp = key_package_with(h, "new", leaf={"lifetime": Lifetime(not_before=0, not_after=10)})
    rejected_by_all(h, _commit_add(h, kp), LeafNodeLifetimeError, sender="c1", now=1000)


def test_7_2_added_leaf_lifetime_longer_than_the_maximum_is_rejected(suite: CipherSuite) -> None:
    import dataclasses

    h = group_of(suite, 3)
    for g in h.members.values():  # the receivers' policy, once the group exists
        g.config = dataclasses.replace(g.config, leaf_policy=LeafPolicy(max_lifetime=86400))
    _, kp = key_package_with(h, "new", leaf={"lifetime": Lifetime(not_before=0, not_after=10 * 86400)})
    rejected_by_all(h, _commit_add(h, kp), LeafNodeLifetimeTooLongError, sender="c1")
