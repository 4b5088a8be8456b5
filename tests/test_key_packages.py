"""KeyPackage creation (RFC 9420 §10) and validation (§10.1).

Round trips on real suites 1 and 2 and the model twin of 1; one test per §10.1 rule that
breaks exactly that rule (re-signing where needed); and every KeyPackage of the official
welcome and passive-client-welcome vectors passes validation for its suite.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.errors import LocalProtocolError, RemoteProtocolError
from mlssim.mls.extensions import (
    RequiredCapabilitiesError,
    application_id_extension,
    required_capabilities_extension,
)
from mlssim.mls.key_packages import (
    InitKeyEqualsEncryptionKeyError,
    KeyPackageBundle,
    KeyPackageCipherSuiteError,
    KeyPackagePublicKeyError,
    KeyPackageSignatureError,
    KeyPackageVersionError,
    NotAKeyPackageError,
    key_package_from_message,
    make_key_package,
    sign_key_package,
    validate_key_package,
    verify_key_package_signature,
)
from mlssim.mls.leaf_nodes import (
    GroupValidationContext,
    LeafNodeLifetimeError,
    LeafNodeSignatureError,
    LeafNodeSourceError,
    default_capabilities,
    sign_leaf_node,
)
from mlssim.mls.messages import (
    Credential,
    Extension,
    KeyPackage,
    LeafNodeSource,
    Lifetime,
    MLSMessage,
    ProtocolVersion,
    RequiredCapabilities,
    Welcome,
)
from mlssim.mls.rand import SeededRandom

NOW = 1_700_000_000
LIFETIME = Lifetime(not_before=NOW - 3600, not_after=NOW + 3600)
UNKNOWN_EXT = 0x0A0A


@pytest.fixture(params=[(1, "real"), (2, "real"), (1, "model")], ids=["s1", "s2", "s1-model"])
def suite(request: pytest.FixtureRequest) -> CipherSuite:
    suite_id, family = request.param
    return get_suite(suite_id, family)


def _bundle(suite: CipherSuite, seed: int = 1, **kw: object) -> KeyPackageBundle:
    rand = SeededRandom(seed, "kp")
    return make_key_package(
        suite,
        credential=Credential.basic(b"alice"),
        signature_key_pair=suite.signature_key_pair(rand),
        rand=rand,
        lifetime=LIFETIME,
        **kw,  # type: ignore[arg-type]
    )


def test_round_trip_and_private_halves(suite: CipherSuite) -> None:
    b = _bundle(
        suite,
        extensions=(Extension(extension_type=UNKNOWN_EXT, extension_data=b"g"),),
        capabilities=replace(default_capabilities(suite.suite_id), extensions=(UNKNOWN_EXT,)),
        leaf_extensions=(application_id_extension(b"dev"),),
    )
    kp = b.key_package
    assert decode(KeyPackage, encode(kp)) == kp
    assert kp.cipher_suite == suite.suite_id and kp.version == ProtocolVersion.MLS10
    assert kp.leaf_node.leaf_node_source == LeafNodeSource.KEY_PACKAGE and kp.leaf_node.lifetime == LIFETIME
    assert suite.kem_public_key(b.init_priv) == kp.init_key
    assert suite.kem_public_key(b.encryption_priv) == kp.leaf_node.encryption_key
    assert suite.signature_public_key(b.signature_priv) == kp.leaf_node.signature_key
    assert kp.init_key != kp.leaf_node.encryption_key
    assert b.ref(suite) == suite.key_package_ref(encode(kp))
    validate_key_package(suite, kp, now=NOW)


def test_deterministic_from_seed() -> None:
    s = get_suite(1)
    assert encode(_bundle(s, 5).key_package) == encode(_bundle(s, 5).key_package)
    assert _bundle(s, 5).key_package != _bundle(s, 6).key_package


def test_fresh_signature_key_when_none(suite: CipherSuite) -> None:
    rand = SeededRandom(3, "fresh")
    b = make_key_package(
        suite, credential=Credential.basic(b"a"), signature_key_pair=None, rand=rand, lifetime=LIFETIME
    )
    assert suite.signature_public_key(b.signature_priv) == b.key_package.leaf_node.signature_key
    validate_key_package(suite, b.key_package, now=NOW)


def test_make_key_package_refuses_invalid() -> None:
    s = get_suite(1)
    with pytest.raises(
        LocalProtocolError, match="not listed in capabilities"
    ):  # unlisted non-default extension
        _bundle(s, extensions=(Extension(extension_type=UNKNOWN_EXT, extension_data=b""),))
    with pytest.raises(LocalProtocolError, match="appears more than once"):  # duplicate
        _bundle(s, extensions=(application_id_extension(b"a"), application_id_extension(b"b")))

    class Stuck:
        def random_bytes(self, n: int) -> bytes:
            return b"\x01" * n

    with pytest.raises(LocalProtocolError, match="same init and encryption key"):
        make_key_package(
            s, credential=Credential.basic(b"a"), signature_key_pair=None, rand=Stuck(), lifetime=LIFETIME
        )


# ---- §10.1, one rule at a time ------------------------------------------------------------------


def test_version_must_match(suite: CipherSuite) -> None:
    b = _bundle(suite)
    kp = sign_key_package(suite, replace(b.key_package, version=cast(ProtocolVersion, 2)), b.signature_priv)
    with pytest.raises(KeyPackageVersionError):
        validate_key_package(suite, kp, now=NOW)


def test_cipher_suite_must_match() -> None:
    s1 = get_suite(1)
    kp = _bundle(s1).key_package
    with pytest.raises(KeyPackageCipherSuiteError):
        validate_key_package(get_suite(3), kp, now=NOW)  # same key sizes, other suite


def test_keys_must_fit_the_suite(suite: CipherSuite) -> None:
    b = _bundle(suite)
    kp = sign_key_package(
        suite, replace(b.key_package, init_key=b.key_package.init_key[:-1]), b.signature_priv
    )
    with pytest.raises(KeyPackagePublicKeyError):
        validate_key_package(suite, kp, now=NOW)


def test_signature(suite: CipherSuite) -> None:
    kp = _bundle(suite).key_package
    with pytest.raises(KeyPackageSignatureError):
        validate_key_package(suite, replace(kp, extensions=(application_id_extension(b"x"),)), now=NOW)
    other = _bundle(suite, seed=9)
    with pytest.raises(KeyPackageSignatureError):  # signed with a key that is not the leaf's
        validate_key_package(suite, sign_key_package(suite, kp, other.signature_priv), now=NOW)


def test_init_key_differs_from_encryption_key(suite: CipherSuite) -> None:
    b = _bundle(suite)
    same = replace(b.key_package, init_key=b.key_package.leaf_node.encryption_key)
    with pytest.raises(InitKeyEqualsEncryptionKeyError):
        validate_key_package(suite, sign_key_package(suite, same, b.signature_priv), now=NOW)


def test_leaf_node_is_validated(suite: CipherSuite) -> None:
    b = _bundle(suite)
    with pytest.raises(LeafNodeLifetimeError):
        validate_key_package(suite, b.key_package, now=LIFETIME.not_after + 1)
    validate_key_package(suite, b.key_package, now=LIFETIME.not_after + 1, check_lifetime=False)
    leaf = b.key_package.leaf_node
    # a leaf whose own signature is broken, inside a correctly signed KeyPackage
    broken = replace(leaf, signature=bytes([leaf.signature[0] ^ 1]) + leaf.signature[1:])
    kp = sign_key_package(suite, replace(b.key_package, leaf_node=broken), b.signature_priv)
    with pytest.raises(LeafNodeSignatureError):
        validate_key_package(suite, kp, now=NOW)
    # an update leaf in a KeyPackage
    upd = sign_leaf_node(
        suite,
        replace(leaf, leaf_node_source=LeafNodeSource.UPDATE, lifetime=None),
        b.signature_priv,
        group_id=b"g",
        leaf_index=0,
    )
    kp = sign_key_package(suite, replace(b.key_package, leaf_node=upd), b.signature_priv)
    with pytest.raises(LeafNodeSourceError):
        validate_key_package(suite, kp, now=NOW)


def test_validated_against_the_group(suite: CipherSuite) -> None:
    kp = _bundle(suite).key_package
    rc = RequiredCapabilities(extension_types=(UNKNOWN_EXT,))
    ctx = GroupValidationContext(group_id=b"g", extensions=(required_capabilities_extension(rc),))
    with pytest.raises(RequiredCapabilitiesError):
        validate_key_package(suite, kp, now=NOW, context=ctx)


def test_key_package_from_message() -> None:
    kp = _bundle(get_suite(1)).key_package
    assert key_package_from_message(MLSMessage(body=kp)) == kp
    with pytest.raises(KeyPackageVersionError):
        key_package_from_message(MLSMessage(version=cast(ProtocolVersion, 2), body=kp))
    with pytest.raises(NotAKeyPackageError):
        key_package_from_message(
            MLSMessage(body=Welcome(cipher_suite=1, secrets=(), encrypted_group_info=b""))
        )


def test_errors_are_remote() -> None:
    for cls in (KeyPackageVersionError, KeyPackageSignatureError, InitKeyEqualsEncryptionKeyError):
        assert issubclass(cls, RemoteProtocolError) and cls.rfc_section == "10.1"


# ---- official vectors ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["welcome.json", "passive-client-welcome.json"])
def test_vector_key_packages_are_valid(vectors_path: Path, name: str) -> None:
    """Every vector KeyPackage passes §10.1 for its suite, at a time inside its lifetime."""
    cases = json.loads((vectors_path / name).read_text())
    for case in cases:
        suite = get_suite(case["cipher_suite"])
        kp = key_package_from_message(decode(MLSMessage, bytes.fromhex(case["key_package"])))
        assert kp.leaf_node.lifetime is not None
        validate_key_package(suite, kp, now=kp.leaf_node.lifetime.not_before)
        verify_key_package_signature(suite, kp)
        with pytest.raises(KeyPackageSignatureError):
            verify_key_package_signature(suite, replace(kp, init_key=kp.init_key[::-1]))
    assert len(cases) >= 7
