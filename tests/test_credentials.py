"""Credential validation (RFC 9420 §5.3, §5.3.1): basic credentials, and x509 chains built here
with ``cryptography`` on Ed25519 and P-256 keys — valid, broken link, bad signature, wrong key,
expired, not yet valid, unparsable, untrusted.

Certificate times are fixed numbers, never the clock; the end-entity keys are MLS signature
keys from a suite, so the chain is checked against a real LeafNode ``signature_key``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mlssim.mls.credentials import (
    CertificateChainError,
    CertificateKeyMismatchError,
    CertificateParseError,
    CertificateValidityError,
    CredentialError,
    CredentialValidator,
    DefaultCredentialValidator,
    UntrustedCertificateChainError,
    default_credential_validator,
    validate_credential,
)
from mlssim.mls.crypto import CipherSuite, KeyPair, get_suite
from mlssim.mls.errors import RemoteProtocolError
from mlssim.mls.messages import Certificate, Credential
from mlssim.mls.rand import SeededRandom

T0 = 1_700_000_000  # all certificates are valid from T0 for a year
YEAR = 365 * 86400
NOW = T0 + 1000

PrivKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    subject: str,
    issuer: str,
    subject_pub: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey,
    issuer_priv: PrivKey,
    *,
    not_before: int = T0,
    not_after: int = T0 + YEAR,
    serial: int = 1,
) -> bytes:
    """One DER certificate; Ed25519 issuers sign without a hash, ECDSA issuers with SHA-256."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(subject_pub)
        .serial_number(serial)
        .not_valid_before(datetime.fromtimestamp(not_before, UTC))
        .not_valid_after(datetime.fromtimestamp(not_after, UTC))
    )
    algorithm = None if isinstance(issuer_priv, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_priv, algorithm).public_bytes(Encoding.DER)


def ca_key(kind: str, seed: int) -> PrivKey:
    """A deterministic CA key of ``kind`` ("ed25519" or "p256")."""
    raw = SeededRandom(seed, "ca-key").random_bytes(32)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    return ec.derive_private_key(int.from_bytes(raw, "big") % (2**255) + 1, ec.SECP256R1())


def mls_key_as_crypto(suite: CipherSuite, kp: KeyPair) -> PrivKey:
    """The MLS signature private key of suites 1 (Ed25519) or 2 (P-256) as a ``cryptography`` key."""
    if suite.suite_id == 1:
        return ed25519.Ed25519PrivateKey.from_private_bytes(kp.priv)
    return ec.derive_private_key(int.from_bytes(kp.priv, "big"), ec.SECP256R1())


def x509_chain(
    suite: CipherSuite, sig: KeyPair, *, ca_kind: str = "ed25519", leaf_not_after: int = T0 + YEAR
) -> tuple[Credential, bytes]:
    """A three-certificate credential (end entity, intermediate, root) for ``sig``, and the root's DER."""
    root = ca_key(ca_kind, 1)
    inter = ca_key(ca_kind, 2)
    leaf_pub = mls_key_as_crypto(suite, sig).public_key()
    root_der = make_cert("root", "root", root.public_key(), root)
    inter_der = make_cert("intermediate", "root", inter.public_key(), root, serial=2)
    leaf_der = make_cert("alice", "intermediate", leaf_pub, inter, not_after=leaf_not_after, serial=3)
    cred = Credential.x509(tuple(Certificate(cert_data=d) for d in (leaf_der, inter_der, root_der)))
    return cred, root_der


@pytest.fixture(params=[1, 2], ids=["ed25519", "p256"])
def suite(request: pytest.FixtureRequest) -> CipherSuite:
    return get_suite(request.param)


@pytest.fixture
def sig(suite: CipherSuite) -> KeyPair:
    return suite.signature_key_pair(SeededRandom(7, "sig"))


def test_basic_credential_is_accepted_even_with_empty_identity() -> None:
    for identity in (b"alice", b""):
        default_credential_validator(Credential.basic(identity), b"\x01" * 32, NOW)


@pytest.mark.parametrize("ca_kind", ["ed25519", "p256"])
def test_valid_chain(suite: CipherSuite, sig: KeyPair, ca_kind: str) -> None:
    cred, root = x509_chain(suite, sig, ca_kind=ca_kind)
    validate_credential(cred, sig.pub, NOW, suite_id=suite.suite_id)
    validate_credential(cred, sig.pub, NOW, trust_anchors=(root,))
    DefaultCredentialValidator(suite_id=suite.suite_id, trust_anchors=(root,))(cred, sig.pub, NOW)


def test_chain_without_root_is_anchored_by_issuer(suite: CipherSuite, sig: KeyPair) -> None:
    """§5.3: a chain MAY omit certificates peers already hold; the anchor then issued the last one."""
    cred, root = x509_chain(suite, sig)
    short = Credential.x509(cred.certificates[:2])
    validate_credential(short, sig.pub, NOW, trust_anchors=(root,))
    single = Credential.x509(cred.certificates[:1])
    validate_credential(single, sig.pub, NOW)  # structure only: nothing to link
    with pytest.raises(UntrustedCertificateChainError):
        validate_credential(single, sig.pub, NOW, trust_anchors=(root,))


def test_untrusted_anchor(suite: CipherSuite, sig: KeyPair) -> None:
    cred, _ = x509_chain(suite, sig)
    other = ca_key("ed25519", 99)
    other_root = make_cert("other root", "other root", other.public_key(), other)
    with pytest.raises(UntrustedCertificateChainError):
        validate_credential(cred, sig.pub, NOW, trust_anchors=(other_root,))
    # same subject name as the real root, different key: the signature decides
    impostor = make_cert("root", "root", other.public_key(), other)
    short = Credential.x509(cred.certificates[:2])
    with pytest.raises(UntrustedCertificateChainError):
        validate_credential(short, sig.pub, NOW, trust_anchors=(impostor,))


def test_broken_link(suite: CipherSuite, sig: KeyPair) -> None:
    """Issuer of certificate 0 is not the subject of certificate 1."""
    cred, _ = x509_chain(suite, sig)
    leaf, _inter, root = cred.certificates
    with pytest.raises(CertificateChainError, match="issuer"):
        validate_credential(Credential.x509((leaf, root)), sig.pub, NOW)


def test_bad_signature_in_chain(suite: CipherSuite, sig: KeyPair) -> None:
    """Right issuer name, wrong issuer key."""
    cred, _ = x509_chain(suite, sig)
    forger = ca_key("ed25519", 50)
    leaf_pub = mls_key_as_crypto(suite, sig).public_key()
    forged = make_cert("alice", "intermediate", leaf_pub, forger, serial=3)
    chain = (Certificate(cert_data=forged), *cred.certificates[1:])
    with pytest.raises(CertificateChainError, match="signature"):
        validate_credential(Credential.x509(chain), sig.pub, NOW)


def test_wrong_key(suite: CipherSuite, sig: KeyPair) -> None:
    """§5.3: the end-entity key MUST be identical to the LeafNode's signature_key."""
    cred, _ = x509_chain(suite, sig)
    other = suite.signature_key_pair(SeededRandom(8, "other"))
    with pytest.raises(CertificateKeyMismatchError):
        validate_credential(cred, other.pub, NOW)


def test_key_of_another_suite(sig: KeyPair, suite: CipherSuite) -> None:
    cred, _ = x509_chain(suite, sig)
    wrong_suite = 2 if suite.suite_id == 1 else 1
    with pytest.raises(CertificateKeyMismatchError, match="cipher suite"):
        validate_credential(cred, sig.pub, NOW, suite_id=wrong_suite)


@pytest.mark.parametrize("now", [T0 - 1, T0 + 2 * YEAR], ids=["not-yet-valid", "expired"])
def test_validity_window(suite: CipherSuite, sig: KeyPair, now: int) -> None:
    cred, _ = x509_chain(suite, sig)
    with pytest.raises(CertificateValidityError):
        validate_credential(cred, sig.pub, now)
    validate_credential(cred, sig.pub, now, check_validity=False)


def test_expired_end_entity_only(suite: CipherSuite, sig: KeyPair) -> None:
    cred, _ = x509_chain(suite, sig, leaf_not_after=T0 + 10)
    validate_credential(cred, sig.pub, T0 + 10)  # the bounds are inclusive
    with pytest.raises(CertificateValidityError, match="certificate 0"):
        validate_credential(cred, sig.pub, T0 + 11)


def test_unparsable_and_empty_chain(suite: CipherSuite, sig: KeyPair) -> None:
    with pytest.raises(CertificateParseError):
        validate_credential(Credential.x509((Certificate(cert_data=b"\x30\x03junk"),)), sig.pub, NOW)
    with pytest.raises(CertificateChainError, match="empty"):
        validate_credential(Credential.x509(()), sig.pub, NOW)


def test_errors_are_remote_and_name_5_3_1() -> None:
    for cls in (
        CertificateChainError,
        CertificateKeyMismatchError,
        CertificateParseError,
        CertificateValidityError,
        UntrustedCertificateChainError,
    ):
        assert issubclass(cls, CredentialError)
        assert issubclass(cls, RemoteProtocolError)
        assert cls.rfc_section == "5.3.1"


def test_custom_validator_fits_the_protocol() -> None:
    """An authentication service plugs any callable of the right shape."""
    seen: list[tuple[Credential, bytes, int]] = []

    def as_validator(credential: Credential, signature_key: bytes, now: int, /) -> None:
        seen.append((credential, signature_key, now))

    v: CredentialValidator = as_validator
    v(Credential.basic(b"bob"), b"k", 5)
    assert seen == [(Credential.basic(b"bob"), b"k", 5)]
