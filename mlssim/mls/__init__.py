"""A sans-IO RFC 9420 core: no clock, no I/O, randomness injected.

See ``docs/mls-core.md`` for what is implemented, section by section.
"""

from .errors import (
    CryptoError,
    DecodeError,
    InternalError,
    LocalProtocolError,
    MLSError,
    RemoteProtocolError,
)

__all__ = [
    "CryptoError",
    "DecodeError",
    "InternalError",
    "LocalProtocolError",
    "MLSError",
    "RemoteProtocolError",
]
