"""``transcript-hashes``: confirmed and interim transcript hashes (RFC 9420 §8.2)."""

from __future__ import annotations

from typing import Any

from ..mls.codec import decode, encode
from ..mls.crypto import get_suite
from ..mls.keyschedule import confirmation_tag
from ..mls.messages import AuthenticatedContent, ContentType
from ..mls.transcript import confirmed_transcript_hash, interim_transcript_hash
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    ac = decode(AuthenticatedContent, h(case["authenticated_content"]))
    c.eq("content type", ac.content.content_type, ContentType.COMMIT)
    confirmed = confirmed_transcript_hash(
        suite,
        h(case["interim_transcript_hash_before"]),
        ac.wire_format,
        encode(ac.content),
        ac.auth.signature,
    )
    c.eq("confirmed_transcript_hash_after", confirmed, h(case["confirmed_transcript_hash_after"]))
    tag = ac.auth.confirmation_tag or b""
    want_tag = confirmation_tag(
        suite, h(case["confirmation_key"]), h(case["confirmed_transcript_hash_after"])
    )
    c.eq("confirmation_tag", tag, want_tag)
    interim = interim_transcript_hash(suite, confirmed, tag)
    c.eq("interim_transcript_hash_after", interim, h(case["interim_transcript_hash_after"]))
    return c.errors
