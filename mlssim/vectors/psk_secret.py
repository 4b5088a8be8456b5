"""``psk_secret``: RFC 9420 §8.4 PSKLabel chain over external PSKs."""

from __future__ import annotations

from typing import Any

from ..mls.crypto import get_suite
from ..mls.messages.enums import PSKType
from ..mls.messages.psk_id import PreSharedKeyID
from ..mls.psk import psk_secret
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    psks = [
        (
            PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=h(p["psk_id"]), psk_nonce=h(p["psk_nonce"])),
            h(p["psk"]),
        )
        for p in case["psks"]
    ]
    c.eq(f"psk_secret ({len(psks)} PSKs)", psk_secret(suite, psks), h(case["psk_secret"]))
    return c.errors
