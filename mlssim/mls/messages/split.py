"""The two MLSMessage bodies of draft-mularczyk-mls-splitcommit §3 (not RFC 9420).

An :class:`SCommit` is what a committer sends: its framed SHeader (a PublicMessage or
PrivateMessage whose content type is ``sheader``) and the splittable update path. An
:class:`IndividualCommit` is one receiver's projection of it: the same framed SHeader and only
the ciphertext and public keys that receiver needs. Their rules (framing, transcript hash,
projection, processing) are in ``mls/split_commit.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..codec import Reader, Writer
from .enums import WireFormat
from .framing import ExtensionMessage, MLSMessage, register_extension_message
from .tree import IndividualUpdatePath, SUpdatePath

__all__ = ["SCommit", "IndividualCommit"]


def _push_message(w: Writer, m: MLSMessage) -> None:
    m.push(w)


@register_extension_message
@dataclass(frozen=True, slots=True, kw_only=True)
class SCommit(ExtensionMessage):
    """``struct { MLSMessage sheader; optional<SUpdatePath> path; } SCommit``."""

    wire_format: ClassVar[WireFormat] = WireFormat.MLS_SCOMMIT
    sheader: MLSMessage
    path: SUpdatePath | None = None

    def push(self, w: Writer) -> None:
        _push_message(w, self.sheader)
        w.push_optional(self.path, _push_spath)

    @classmethod
    def pull(cls, r: Reader) -> SCommit:
        return cls(sheader=MLSMessage.pull(r), path=r.pull_optional(SUpdatePath.pull))


@register_extension_message
@dataclass(frozen=True, slots=True, kw_only=True)
class IndividualCommit(ExtensionMessage):
    """``struct { MLSMessage sheader; optional<IndividualUpdatePath> path; } IndividualCommit``."""

    wire_format: ClassVar[WireFormat] = WireFormat.MLS_INDIVIDUAL_COMMIT
    sheader: MLSMessage
    path: IndividualUpdatePath | None = None

    def push(self, w: Writer) -> None:
        _push_message(w, self.sheader)
        w.push_optional(self.path, _push_ipath)

    @classmethod
    def pull(cls, r: Reader) -> IndividualCommit:
        return cls(sheader=MLSMessage.pull(r), path=r.pull_optional(IndividualUpdatePath.pull))


def _push_spath(w: Writer, p: SUpdatePath) -> None:
    p.push(w)


def _push_ipath(w: Writer, p: IndividualUpdatePath) -> None:
    p.push(w)
