"""Error classes of the MLS core.

One abstract :class:`MLSError`; every protocol violation is a subclass that names the
RFC 9420 section it enforces. ``RemoteProtocolError`` is what a peer's bad message raises,
``LocalProtocolError`` is what a caller's bad request raises (h11's split), and
``InternalError`` is our own bug, never a peer's.
"""

from __future__ import annotations

__all__ = [
    "MLSError",
    "DecodeError",
    "RemoteProtocolError",
    "LocalProtocolError",
    "CryptoError",
    "InternalError",
]


class MLSError(Exception):
    """Base of every error the MLS core raises on purpose."""

    rfc_section: str = ""

    def __str__(self) -> str:
        msg = super().__str__()
        return f"{msg} (RFC 9420 §{self.rfc_section})" if self.rfc_section else msg


class RemoteProtocolError(MLSError):
    """A message from a peer violates RFC 9420; group state is unchanged."""


class LocalProtocolError(MLSError):
    """The caller asked for something RFC 9420 forbids."""


class DecodeError(RemoteProtocolError):
    """Bytes that are not a valid TLS-presentation encoding of the expected struct."""

    rfc_section = "2.1"


class CryptoError(RemoteProtocolError):
    """A signature, MAC or AEAD tag does not verify, or a key is malformed."""

    rfc_section = "5.1"


class InternalError(Exception):
    """A bug in mlssim itself (never caused by peer input)."""
