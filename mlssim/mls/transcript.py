"""Transcript hashes (RFC 9420 §8.2).

::

    confirmed_[n] = Hash(interim_[n-1] || ConfirmedTranscriptHashInput_[n])
    interim_[n]   = Hash(confirmed_[n] || InterimTranscriptHashInput_[n])

``ConfirmedTranscriptHashInput`` is the commit's wire format, FramedContent and
signature; ``InterimTranscriptHashInput`` is its confirmation tag. Both start as the
empty string at epoch 0.
"""

from __future__ import annotations

from .codec import Writer
from .crypto.suite import CipherSuite

__all__ = ["confirmed_transcript_hash", "interim_transcript_hash", "confirmed_hash_input"]


def confirmed_hash_input(wire_format: int, framed_content: bytes, signature: bytes) -> bytes:
    """Encoded ``ConfirmedTranscriptHashInput`` from the commit's encoded FramedContent."""
    w = Writer()
    w.push_uint16(wire_format)
    w.push_bytes(framed_content)
    w.push_opaque(signature)
    return w.data()


def confirmed_transcript_hash(
    suite: CipherSuite, interim_before: bytes, wire_format: int, framed_content: bytes, signature: bytes
) -> bytes:
    """``confirmed_[n]`` from ``interim_[n-1]`` and the commit that starts epoch n."""
    return suite.hash(interim_before + confirmed_hash_input(wire_format, framed_content, signature))


def interim_transcript_hash(suite: CipherSuite, confirmed: bytes, confirmation_tag: bytes) -> bytes:
    """``interim_[n]`` from ``confirmed_[n]`` and the commit's confirmation tag."""
    w = Writer()
    w.push_opaque(confirmation_tag)
    return suite.hash(confirmed + w.data())
