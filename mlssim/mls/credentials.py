"""Credential validation (RFC 9420 §5.3, §5.3.1).

§5.3.1 leaves the judgement "is this credential acceptable for this signature key?" to the
application's Authentication Service. The core therefore asks a pluggable
:class:`CredentialValidator` — any callable ``(credential, signature_key, now, *,
predecessor) -> None`` that raises a :class:`CredentialError` to reject — wherever §5.3.1
says a credential MUST be validated (KeyPackages, Add/Update proposals, UpdatePath leaves,
joining). Where a credential *replaces* another (an Update, a commit's own path leaf, an
external commit that removes the joiner's old leaf: §5.3.1, §12.2) the validator is given
the old credential as ``predecessor`` and checks that the new one is a valid successor
"according to the application's policy". The simulator's authentication services plug in
their own; :class:`DefaultCredentialValidator` is what the
core offers by itself:

* ``basic``: accepted as it is. The identity is an application-defined assertion (§5.3);
  the RFC puts no rule on it, not even non-emptiness.
* ``x509``: every certificate parses as DER; each one's issuer is the next one's subject and
  its signature verifies under the next one's key where the key type is one ``cryptography``
  can check; the end-entity key (``certificates[0]``), re-encoded in the MLS signature-key
  format (raw for EdDSA, uncompressed point for ECDSA, as in ``crypto/signature.py``), is
  byte-identical to the LeafNode's ``signature_key`` (§5.3: "MUST be identical"); every
  certificate's validity window contains ``now``. Optionally the chain ends at a configured
  trust anchor.
* successors: the new credential must present the same identifiers as the old one
  (:func:`presented_identifiers`: the identity of a basic credential; the subject and
  subjectAltName of an x509 end-entity certificate). This is the core's choice where the
  RFC defers to the application: a member may renew its keys and certificate, not become
  someone else.

Time comes in as ``now`` (seconds since the Unix epoch) from the caller: the core never
reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import RemoteProtocolError
from .messages.credentials import Credential
from .messages.enums import CredentialType

__all__ = [
    "CredentialError",
    "UnsupportedCredentialTypeError",
    "CertificateParseError",
    "CertificateChainError",
    "CertificateKeyMismatchError",
    "CertificateValidityError",
    "UntrustedCertificateChainError",
    "CredentialSuccessorError",
    "CredentialValidator",
    "DefaultCredentialValidator",
    "default_credential_validator",
    "validate_credential",
    "certificate_signature_key",
    "presented_identifiers",
    "check_same_identifiers",
]


class CredentialError(RemoteProtocolError):
    """A credential is not valid for the signature key it is presented with (§5.3.1)."""

    rfc_section = "5.3.1"


class UnsupportedCredentialTypeError(CredentialError):
    """The validator does not know how to validate this credential type."""


class CertificateParseError(CredentialError):
    """An entry of an x509 chain is not a DER-encoded X.509 certificate (§5.3)."""


class CertificateChainError(CredentialError):
    """An x509 chain is empty, or a certificate's issuer is not the next one's subject, or its
    signature does not verify under the next one's key."""


class CertificateKeyMismatchError(CredentialError):
    """§5.3: the end-entity certificate's public key is not identical to the LeafNode's
    ``signature_key`` (or is not a key of the suite's signature scheme)."""


class CertificateValidityError(CredentialError):
    """``now`` lies outside a certificate's notBefore..notAfter window (§5.3.2 expiry)."""


class UntrustedCertificateChainError(CredentialError):
    """The chain does not end at (or under) one of the validator's trust anchors."""


class CredentialSuccessorError(CredentialError):
    """§5.3.1 (and §12.2 for external commits): the new credential's identifiers are not a
    valid successor of those of the credential it replaces."""


class CredentialValidator(Protocol):
    """The Authentication Service hook of §5.3.1.

    Called with the credential, the ``signature_key`` of the LeafNode (or ExternalSender) that
    carries it, the caller's current time in seconds and, when the credential replaces a
    member's credential, that old credential as ``predecessor`` (``None`` for a new member).
    Returns ``None`` to accept; raises a :class:`CredentialError` (or another
    ``RemoteProtocolError``) to reject. It must not change any group state.
    """

    def __call__(
        self, credential: Credential, signature_key: bytes, now: int, /, *, predecessor: Credential | None
    ) -> None: ...


# §17.1: the signature scheme of each suite, as (key class, curve name or None).
_SUITE_KEY_KIND: dict[int, tuple[str, str | None]] = {
    1: ("ed25519", None),
    2: ("ecdsa", "secp256r1"),
    3: ("ed25519", None),
    4: ("ed448", None),
    5: ("ecdsa", "secp521r1"),
    6: ("ed448", None),
    7: ("ecdsa", "secp384r1"),
}


@lru_cache(maxsize=4096)
def _parse_certificate(der: bytes) -> x509.Certificate:
    """Parse (and cache, by DER bytes) one certificate; raises CertificateParseError."""
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateParseError(f"certificate is not valid DER X.509: {exc}") from None


def certificate_signature_key(cert: x509.Certificate, suite_id: int | None = None) -> bytes:
    """The certificate's public key in the MLS ``SignaturePublicKey`` encoding.

    Raw 32/57 bytes for Ed25519/Ed448, the uncompressed SEC1 point for ECDSA keys. With a
    ``suite_id``, a key of another algorithm than the suite's (§17.1) is rejected.
    Raises :class:`CertificateKeyMismatchError` for keys no MLS suite can use.
    """
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateKeyMismatchError(f"certificate public key cannot be loaded: {exc}") from None
    kind: tuple[str, str | None]
    if isinstance(key, ed25519.Ed25519PublicKey):
        kind, raw = ("ed25519", None), key.public_bytes_raw()
    elif isinstance(key, ed448.Ed448PublicKey):
        kind, raw = ("ed448", None), key.public_bytes_raw()
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind = ("ecdsa", key.curve.name)
        raw = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    else:
        raise CertificateKeyMismatchError(
            f"certificate key type {type(key).__name__} is not an MLS signature key"
        )
    if suite_id is not None and _SUITE_KEY_KIND.get(suite_id) != kind:
        raise CertificateKeyMismatchError(
            f"certificate key {kind} does not belong to cipher suite {suite_id}"
        )
    return raw


def _verify_issued_by(cert: x509.Certificate, issuer: x509.Certificate, position: int) -> None:
    """Name link then signature; a key or signature algorithm ``cryptography`` cannot check
    is skipped (the "where the key type allows" of the design), a bad signature is not."""
    if cert.issuer != issuer.subject:
        raise CertificateChainError(
            f"certificate {position}: issuer {cert.issuer.rfc4514_string()!r} is not the subject "
            f"{issuer.subject.rfc4514_string()!r} of certificate {position + 1}"
        )
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        raise CertificateChainError(
            f"certificate {position}: signature does not verify under certificate {position + 1}"
        ) from None
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return  # unsupported key or signature algorithm: structure checked, signature not


def _check_validity(cert: x509.Certificate, position: int, now: int) -> None:
    not_before = int(cert.not_valid_before_utc.timestamp())
    not_after = int(cert.not_valid_after_utc.timestamp())
    if not not_before <= now <= not_after:
        raise CertificateValidityError(
            f"certificate {position} is valid from {not_before} to {not_after}, not at {now}"
        )


def validate_credential(
    credential: Credential,
    signature_key: bytes,
    now: int,
    *,
    suite_id: int | None = None,
    trust_anchors: Sequence[bytes] = (),
    check_validity: bool = True,
) -> None:
    """§5.3.1: accept ``credential`` for ``signature_key`` at time ``now`` or raise.

    ``suite_id`` additionally pins the end-entity key algorithm to the suite's signature
    scheme; ``trust_anchors`` (DER certificates) require the chain to end at an anchor or at
    a certificate an anchor issued; ``check_validity=False`` skips the validity windows
    (§5.3.2: messages processed long after they were sent).
    """
    if credential.credential_type == CredentialType.BASIC:
        return
    if credential.credential_type != CredentialType.X509:
        raise UnsupportedCredentialTypeError(f"cannot validate credential type {credential.credential_type}")
    if not credential.certificates:
        raise CertificateChainError("x509 credential with an empty certificate chain")
    chain = [_parse_certificate(c.cert_data) for c in credential.certificates]
    if certificate_signature_key(chain[0], suite_id) != signature_key:
        raise CertificateKeyMismatchError("end-entity certificate key is not the LeafNode's signature_key")
    for i in range(len(chain) - 1):
        _verify_issued_by(chain[i], chain[i + 1], i)
    if check_validity:
        for i, cert in enumerate(chain):
            _check_validity(cert, i, now)
    if trust_anchors:
        _check_anchored(credential, chain[-1], trust_anchors, len(chain) - 1)


def _check_anchored(
    credential: Credential, last: x509.Certificate, anchors: Sequence[bytes], pos: int
) -> None:
    last_der = credential.certificates[-1].cert_data
    if last_der in anchors:
        return
    for der in anchors:
        anchor = _parse_certificate(der)
        if last.issuer != anchor.subject:
            continue
        try:
            _verify_issued_by(last, anchor, pos)
        except CertificateChainError:
            continue
        return
    raise UntrustedCertificateChainError("the certificate chain does not end at a trust anchor")


def presented_identifiers(credential: Credential) -> tuple[bytes, ...]:
    """The identifiers a credential presents (§5.3): a basic credential's identity; an x509
    credential's end-entity subject (DER) and subjectAltName extension (DER, if present)."""
    if credential.credential_type == CredentialType.BASIC:
        return (b"basic", credential.identity)
    if credential.credential_type == CredentialType.X509 and credential.certificates:
        cert = _parse_certificate(credential.certificates[0].cert_data)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.public_bytes()
        except x509.ExtensionNotFound:
            san = b""
        return (b"x509", cert.subject.public_bytes(), san)
    raise UnsupportedCredentialTypeError(
        f"no identifiers known for credential type {credential.credential_type}"
    )


def check_same_identifiers(credential: Credential, predecessor: Credential) -> None:
    """The core's successor policy (§5.3.1): the new credential presents exactly the old one's
    identifiers. Raises :class:`CredentialSuccessorError`."""
    if presented_identifiers(credential) != presented_identifiers(predecessor):
        raise CredentialSuccessorError(
            "the new credential's identifiers are not a valid successor of the replaced credential's"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultCredentialValidator:
    """The core's own :class:`CredentialValidator`: :func:`validate_credential` with fixed options.

    Immutable, so one instance may be shared by any number of simulated members.
    """

    suite_id: int | None = None
    trust_anchors: tuple[bytes, ...] = ()
    check_validity: bool = True

    def __call__(
        self,
        credential: Credential,
        signature_key: bytes,
        now: int,
        /,
        *,
        predecessor: Credential | None = None,
    ) -> None:
        validate_credential(
            credential,
            signature_key,
            now,
            suite_id=self.suite_id,
            trust_anchors=self.trust_anchors,
            check_validity=self.check_validity,
        )
        if predecessor is not None:
            check_same_identifiers(credential, predecessor)


#: Basic credentials accepted, x509 chains checked structurally, no trust anchors.
default_credential_validator: CredentialValidator = DefaultCredentialValidator()
