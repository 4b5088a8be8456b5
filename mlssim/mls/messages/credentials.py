"""Credentials (RFC 9420 §5.3) and the extension payloads built on identities
(application_id §5.3.3, external_senders §12.1.8.1).

The ``Credential`` select has no length prefix, so a credential of a type this core
does not know cannot be skipped: decoding it raises :class:`DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader, Writer
from .enums import CredentialType, pull_enum16

__all__ = ["Certificate", "Credential", "ApplicationId", "ExternalSender", "ExternalSenders"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Certificate:
    """``struct { opaque cert_data<V>; } Certificate`` (§5.3): one DER certificate."""

    cert_data: bytes

    def push(self, w: Writer) -> None:
        w.push_opaque(self.cert_data)

    @classmethod
    def pull(cls, r: Reader) -> Certificate:
        return cls(cert_data=r.pull_opaque())


def _push_certificate(w: Writer, c: Certificate) -> None:
    w.push_opaque(c.cert_data)


def _pull_certificate(r: Reader) -> Certificate:
    return Certificate(cert_data=r.pull_opaque())


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """§5.3 Credential: ``identity`` for basic, a ``certificates`` chain for x509.

    The field of the other type must stay empty, so that a decoded credential compares
    equal to the one that was encoded.
    """

    credential_type: CredentialType
    identity: bytes = b""  # basic
    certificates: tuple[Certificate, ...] = ()  # x509

    def __post_init__(self) -> None:
        if self.credential_type == CredentialType.BASIC:
            if self.certificates:
                raise ValueError("a basic credential carries no certificates")
        elif self.credential_type == CredentialType.X509:
            if self.identity:
                raise ValueError("an x509 credential carries no identity field")
        else:
            raise ValueError(f"unsupported credential type {self.credential_type}")

    @classmethod
    def basic(cls, identity: bytes) -> Credential:
        return cls(credential_type=CredentialType.BASIC, identity=identity)

    @classmethod
    def x509(cls, certificates: tuple[Certificate, ...]) -> Credential:
        return cls(credential_type=CredentialType.X509, certificates=certificates)

    def push(self, w: Writer) -> None:
        w.push_uint16(self.credential_type)
        if self.credential_type == CredentialType.BASIC:
            w.push_opaque(self.identity)
        else:
            w.push_vector(self.certificates, _push_certificate)

    @classmethod
    def pull(cls, r: Reader) -> Credential:
        ctype = pull_enum16(r, CredentialType)
        if ctype == CredentialType.BASIC:
            return cls(credential_type=ctype, identity=r.pull_opaque())
        return cls(credential_type=ctype, certificates=tuple(r.pull_vector(_pull_certificate)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationId:
    """§5.3.3 ``opaque application_id<V>``: the data of a leaf's application_id extension."""

    application_id: bytes

    def push(self, w: Writer) -> None:
        w.push_opaque(self.application_id)

    @classmethod
    def pull(cls, r: Reader) -> ApplicationId:
        return cls(application_id=r.pull_opaque())


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalSender:
    """§12.1.8.1 ExternalSender: a key and credential allowed to send external proposals."""

    signature_key: bytes
    credential: Credential

    def push(self, w: Writer) -> None:
        w.push_opaque(self.signature_key)
        self.credential.push(w)

    @classmethod
    def pull(cls, r: Reader) -> ExternalSender:
        return cls(signature_key=r.pull_opaque(), credential=Credential.pull(r))


def _push_external_sender(w: Writer, e: ExternalSender) -> None:
    e.push(w)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalSenders:
    """§12.1.8.1 ``ExternalSender external_senders<V>``: the external_senders extension data.

    ``Sender.index`` of an external sender indexes ``senders``.
    """

    senders: tuple[ExternalSender, ...] = ()

    def push(self, w: Writer) -> None:
        w.push_vector(self.senders, _push_external_sender)

    @classmethod
    def pull(cls, r: Reader) -> ExternalSenders:
        return cls(senders=tuple(r.pull_vector(ExternalSender.pull)))
