"""``key-schedule``: RFC 9420 §8 epoch chain, GroupContext encoding, exporter, external_pub."""

from __future__ import annotations

from typing import Any

from ..mls.codec import encode
from ..mls.crypto import get_suite
from ..mls.keyschedule import EpochSecrets
from ..mls.messages.common import GroupContext
from . import NotSupported
from .common import Check, h

_FIELDS = (
    "joiner_secret",
    "welcome_secret",
    "init_secret",
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "epoch_authenticator",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
)


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    group_id = h(case["group_id"])
    init_secret = h(case["initial_init_secret"])
    external: list[tuple[str, EpochSecrets, bytes]] = []
    for i, ep in enumerate(case["epochs"]):
        at = f"epochs[{i}]"
        gc = GroupContext(
            cipher_suite=suite.suite_id,
            group_id=group_id,
            epoch=i,
            tree_hash=h(ep["tree_hash"]),
            confirmed_transcript_hash=h(ep["confirmed_transcript_hash"]),
        )
        c.eq(f"{at}.group_context", encode(gc), h(ep["group_context"]))
        psk = ep.get("psk_secret")
        secrets = EpochSecrets.from_init(
            suite,
            init_secret=init_secret,
            commit_secret=h(ep["commit_secret"]),
            psk_secret=h(psk) if psk else None,
            group_context=gc,
        )
        for name in _FIELDS:
            c.eq(f"{at}.{name}", getattr(secrets, name), h(ep[name]))
        joined = EpochSecrets.from_joiner(
            suite, joiner_secret=h(ep["joiner_secret"]), psk_secret=h(psk) if psk else None, group_context=gc
        )
        c.true(f"{at}: a joiner entering at joiner_secret derives other epoch secrets", joined == secrets)
        exp = ep["exporter"]
        c.eq(
            f"{at}.exporter.secret",
            secrets.exporter(exp["label"], h(exp["context"]), exp["length"]),
            h(exp["secret"]),
        )
        external.append((at, secrets, h(ep["external_pub"])))
        # The chain goes on from the vector's init_secret, so one wrong epoch reports once.
        init_secret = h(ep["init_secret"])
    # external_pub last: every symmetric field is checked even while the KEM is missing.
    for at, secrets, want in external:
        try:
            pub = secrets.external_key_pair().pub
        except NotImplementedError:
            if c.errors:
                c.errors.append(f"{at}.external_pub: KEM DeriveKeyPair not implemented yet")
                return c.errors
            raise NotSupported(
                "every symmetric field passed; external_pub needs KEM DeriveKeyPair, not implemented yet"
            ) from None
        c.eq(f"{at}.external_pub", pub, want)
    return c.errors
