"""Replays: genuine messages the DS relayed earlier, delivered again in place of a new one
(a PrivateMessage of the current epoch, a commit of an earlier epoch).

Apart from the PublicMessage and PrivateMessage alterations because a replay alters nothing:
it is caught by state the receiver keeps (a consumed ratchet key, §9.2; its current epoch),
and it is delivered as coming from the replayed message's sender.
"""

from __future__ import annotations

import random

from mlssim.mls.codec import encode
from mlssim.mls.messages import ContentType, MLSMessage, PrivateMessage, PublicMessage

from .model import MEMBER_KINDS, Sent, Served, Tamper, Wire
from .registry import WIRE, Registry

__all__ = ["TAMPERS"]

_tamper = Registry()


def _header(message: MLSMessage) -> tuple[bytes, int, ContentType] | None:
    """(group_id, epoch, content_type) of a PublicMessage or PrivateMessage, as a DS reads them."""
    body = message.body
    if isinstance(body, PublicMessage):
        return body.content.group_id, body.content.epoch, body.content.content_type
    if isinstance(body, PrivateMessage):
        return body.group_id, body.epoch, body.content_type
    return None


def _current_private(w: Wire) -> list[Sent]:
    here = (w.public.context.group_id, w.public.context.epoch)
    return [
        s
        for s in w.earlier
        if isinstance(s.message.body, PrivateMessage) and (_header(s.message) or (b"", -1))[:2] == here
    ]


def _has_current_private(w: Wire) -> bool:
    return bool(_current_private(w))


@_tamper("replay.private", WIRE, MEMBER_KINDS, "key-reuse", _has_current_private)
def _replay_private(w: Wire, rng: random.Random) -> Served:
    """A PrivateMessage of this epoch, delivered again."""
    sent = rng.choice(_current_private(w))
    return Served(data=encode(sent.message), sender=sent.sender)


def _old_commits(w: Wire) -> list[Sent]:
    gid, epoch = w.public.context.group_id, w.public.context.epoch
    out = []
    for s in w.earlier:
        h = _header(s.message)
        if h is not None and h[0] == gid and h[1] < epoch and h[2] == ContentType.COMMIT:
            out.append(s)
    return out


def _has_old_commit(w: Wire) -> bool:
    return bool(_old_commits(w))


@_tamper("replay.old-commit", WIRE, MEMBER_KINDS, "epoch", _has_old_commit)
def _replay_old_commit(w: Wire, rng: random.Random) -> Served:
    """A commit of an earlier epoch, delivered again."""
    sent = rng.choice(_old_commits(w))
    return Served(data=encode(sent.message), sender=sent.sender)


#: the replays, in catalogue order
TAMPERS: tuple[Tamper, ...] = tuple(_tamper.tampers)
