"""``welcome``: decrypt a Welcome, verify its GroupInfo signature and confirmation tag (§12.4.3.1)."""

from __future__ import annotations

from typing import Any

from ..mls.codec import decode
from ..mls.crypto import get_suite
from ..mls.errors import MLSError
from ..mls.keyschedule import confirmation_tag
from ..mls.messages import KeyPackage, MLSMessage, Welcome
from ..mls.welcome import open_welcome, verify_group_info
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    kp_msg = decode(MLSMessage, h(case["key_package"]))
    w_msg = decode(MLSMessage, h(case["welcome"]))
    if not isinstance(kp_msg.body, KeyPackage) or not isinstance(w_msg.body, Welcome):
        return [f"wrong wire formats: {kp_msg.wire_format.name}, {w_msg.wire_format.name}"]
    try:
        opened = open_welcome(suite, w_msg.body, key_package=kp_msg.body, init_priv=h(case["init_priv"]))
    except MLSError as exc:
        return [f"Welcome does not open: {exc}"]
    gi = opened.group_info
    try:
        verify_group_info(suite, gi, h(case["signer_pub"]))
    except MLSError as exc:
        c.errors.append(str(exc))
    secrets = opened.joiner.epoch_secrets(gi.group_context)
    want = confirmation_tag(suite, secrets.confirmation_key, gi.group_context.confirmed_transcript_hash)
    c.eq("GroupInfo confirmation_tag", gi.confirmation_tag, want)
    return c.errors
