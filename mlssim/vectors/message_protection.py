"""``message-protection``: PublicMessage and PrivateMessage protection (RFC 9420 §6)."""

from __future__ import annotations

from typing import Any

from ..mls.codec import decode, encode
from ..mls.crypto import get_suite
from ..mls.errors import MLSError
from ..mls.messages import (
    AuthenticatedContent,
    Commit,
    ContentType,
    FramedContent,
    GroupContext,
    MLSMessage,
    PrivateMessage,
    Proposal,
    PublicMessage,
    Sender,
    WireFormat,
)
from ..mls.protect import (
    protect_private,
    protect_public,
    sign_content,
    unprotect_private,
    unprotect_public,
)
from ..mls.rand import SeededRandom
from ..mls.secret_tree import SecretTree
from .common import Check, h

SENDER = 1


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    ctx = GroupContext(
        cipher_suite=case["cipher_suite"],
        group_id=h(case["group_id"]),
        epoch=case["epoch"],
        tree_hash=h(case["tree_hash"]),
        confirmed_transcript_hash=h(case["confirmed_transcript_hash"]),
    )
    sig_priv, sig_pub = h(case["signature_priv"]), h(case["signature_pub"])
    membership_key = h(case["membership_key"])
    sds = h(case["sender_data_secret"])
    enc_secret = h(case["encryption_secret"])
    rand = SeededRandom(0, "message-protection")

    def tree() -> SecretTree:
        return SecretTree(suite, enc_secret, 2)

    def key_of(leaf: int) -> bytes | None:
        return sig_pub if leaf == SENDER else None

    for kind in ("proposal", "commit", "application"):
        raw = h(case[kind])
        ctype = {"proposal": ContentType.PROPOSAL, "commit": ContentType.COMMIT}.get(
            kind, ContentType.APPLICATION
        )

        def raw_of(ac: AuthenticatedContent, kind: str = kind) -> bytes:
            fc = ac.content
            if kind == "proposal":
                assert fc.proposal is not None
                return encode(fc.proposal)
            if kind == "commit":
                assert fc.commit is not None
                return encode(fc.commit)
            return fc.application_data

        confirmation_tag: bytes | None = None
        if kind != "application":
            # 1. the vector's PublicMessage verifies and carries the raw value
            msg = decode(MLSMessage, h(case[f"{kind}_pub"]))
            c.eq(f"{kind}_pub wire format", msg.wire_format, WireFormat.PUBLIC_MESSAGE)
            if isinstance(msg.body, PublicMessage):
                confirmation_tag = msg.body.auth.confirmation_tag
                try:
                    ac = unprotect_public(
                        suite, msg.body, context=ctx, membership_key=membership_key, signature_pub=sig_pub
                    )
                    c.eq(f"{kind}_pub content", raw_of(ac), raw)
                except MLSError as exc:
                    c.errors.append(f"{kind}_pub does not verify: {exc}")
        content = FramedContent(
            group_id=ctx.group_id,
            epoch=ctx.epoch,
            sender=Sender.member(SENDER),
            content_type=ctype,
            application_data=raw if kind == "application" else b"",
            proposal=decode(Proposal, raw) if kind == "proposal" else None,
            commit=decode(Commit, raw) if kind == "commit" else None,
        )
        if kind == "commit" and confirmation_tag is None:
            confirmation_tag = suite.mac(membership_key, b"confirmation")
        # 2. our own PublicMessage verifies (and an application one is refused)
        pub_ac = sign_content(
            suite,
            wire_format=WireFormat.PUBLIC_MESSAGE,
            content=content,
            signature_priv=sig_priv,
            context=ctx,
            confirmation_tag=confirmation_tag,
        )
        if kind == "application":
            try:
                protect_public(suite, pub_ac, context=ctx, membership_key=membership_key)
                c.errors.append("application content was accepted as a PublicMessage")
            except MLSError:
                pass
        else:
            pub = protect_public(suite, pub_ac, context=ctx, membership_key=membership_key)
            pub = decode(PublicMessage, encode(pub))
            try:
                ac = unprotect_public(
                    suite, pub, context=ctx, membership_key=membership_key, signature_pub=sig_pub
                )
                c.eq(f"own {kind} PublicMessage content", raw_of(ac), raw)
            except MLSError as exc:
                c.errors.append(f"own {kind} PublicMessage does not verify: {exc}")
        # 3. the vector's PrivateMessage decrypts and verifies
        msg = decode(MLSMessage, h(case[f"{kind}_priv"]))
        c.eq(f"{kind}_priv wire format", msg.wire_format, WireFormat.PRIVATE_MESSAGE)
        if isinstance(msg.body, PrivateMessage):
            try:
                ac = unprotect_private(
                    suite,
                    msg.body,
                    secret_tree=tree(),
                    sender_data_secret=sds,
                    context=ctx,
                    signature_key_of=key_of,
                )
                c.eq(f"{kind}_priv content", raw_of(ac), raw)
            except MLSError as exc:
                c.errors.append(f"{kind}_priv does not unprotect: {exc}")
        # 4. our own PrivateMessage round-trips through a receiver's tree
        priv_ac = sign_content(
            suite,
            wire_format=WireFormat.PRIVATE_MESSAGE,
            content=content,
            signature_priv=sig_priv,
            context=ctx,
            confirmation_tag=confirmation_tag,
        )
        priv = protect_private(
            suite, priv_ac, secret_tree=tree(), sender_data_secret=sds, rand=rand, padding=7
        )
        priv = decode(PrivateMessage, encode(priv))
        try:
            ac = unprotect_private(
                suite, priv, secret_tree=tree(), sender_data_secret=sds, context=ctx, signature_key_of=key_of
            )
            c.eq(f"own {kind} PrivateMessage content", raw_of(ac), raw)
        except MLSError as exc:
            c.errors.append(f"own {kind} PrivateMessage does not unprotect: {exc}")
    return c.errors
