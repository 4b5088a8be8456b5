"""PreSharedKeyID (RFC 9420 §8.4): names a PSK in a proposal and in GroupSecrets."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader, Writer
from .enums import PSKType, ResumptionPSKUsage, pull_enum8

__all__ = ["PreSharedKeyID"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PreSharedKeyID:
    """An external PSK (``psk_id``) or a resumption PSK (usage, group, epoch) plus a nonce."""

    psktype: PSKType
    psk_nonce: bytes
    psk_id: bytes = b""  # external
    usage: ResumptionPSKUsage = ResumptionPSKUsage.APPLICATION  # resumption
    psk_group_id: bytes = b""  # resumption
    psk_epoch: int = 0  # resumption

    def push(self, w: Writer) -> None:
        w.push_uint8(self.psktype)
        if self.psktype == PSKType.EXTERNAL:
            w.push_opaque(self.psk_id)
        else:
            w.push_uint8(self.usage)
            w.push_opaque(self.psk_group_id)
            w.push_uint64(self.psk_epoch)
        w.push_opaque(self.psk_nonce)

    @classmethod
    def pull(cls, r: Reader) -> PreSharedKeyID:
        psktype = pull_enum8(r, PSKType)
        if psktype == PSKType.EXTERNAL:
            psk_id = r.pull_opaque()
            return cls(psktype=psktype, psk_id=psk_id, psk_nonce=r.pull_opaque())
        usage = pull_enum8(r, ResumptionPSKUsage)
        group_id = r.pull_opaque()
        epoch = r.pull_uint64()
        return cls(
            psktype=psktype,
            usage=usage,
            psk_group_id=group_id,
            psk_epoch=epoch,
            psk_nonce=r.pull_opaque(),
        )
