"""Welcome messages (RFC 9420 §12.4.3.1): sealing and opening the secrets and GroupInfo.

A Welcome carries one ``EncryptedGroupSecrets`` per new member, each
``EncryptWithLabel(init_key, "Welcome", encrypted_group_info, group_secrets)``, and the
GroupInfo encrypted under the ``welcome_key``/``welcome_nonce`` of the new epoch's
``welcome_secret``. This module does the cryptographic steps of both sides; joining a
group from the result (tree validation, private path keys) is the group layer's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .codec import decode, encode
from .crypto.suite import CipherSuite
from .errors import CryptoError, RemoteProtocolError
from .extensions import check_unique_extensions
from .keyschedule import JoinerStage
from .messages.enums import PSKType, ResumptionPSKUsage
from .messages.key_package import KeyPackage
from .messages.psk_id import PreSharedKeyID
from .messages.tree import HPKECiphertext
from .messages.welcome import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupSecrets,
    Welcome,
    group_info_tbs,
    secrets_index,
)
from .psk import psk_secret, resolve_psks
from .rand import RandomSource
from .sharing import EpochCache, tables_of

__all__ = [
    "WelcomeError",
    "NoMatchingKeyPackageError",
    "GroupInfoSignatureError",
    "OpenedWelcome",
    "sign_group_info",
    "verify_group_info",
    "seal_welcome",
    "open_welcome",
]


class WelcomeError(RemoteProtocolError):
    """A Welcome that cannot be opened or is inconsistent."""

    rfc_section = "12.4.3.1"


class NoMatchingKeyPackageError(WelcomeError):
    """No ``secrets`` entry names this client's KeyPackage, or the suite differs."""


class GroupInfoSignatureError(RemoteProtocolError):
    """The GroupInfo signature does not verify under the signer's leaf key."""

    rfc_section = "12.4.3"


def sign_group_info(suite: CipherSuite, gi: GroupInfo, signature_priv: bytes) -> GroupInfo:
    """§12.4.3: SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)."""
    sig = suite.sign_with_label(signature_priv, "GroupInfoTBS", group_info_tbs(gi))
    return GroupInfo(
        group_context=gi.group_context,
        extensions=gi.extensions,
        confirmation_tag=gi.confirmation_tag,
        signer=gi.signer,
        signature=sig,
    )


def verify_group_info(suite: CipherSuite, gi: GroupInfo, signer_pub: bytes) -> None:
    """§12.4.3: the signature, and §13's rule that no extension list repeats a type (the
    GroupInfo's own and its GroupContext's), whoever reads which extension later."""
    check_unique_extensions(gi.extensions)
    check_unique_extensions(gi.group_context.extensions)
    if not suite.verify_with_label(signer_pub, "GroupInfoTBS", group_info_tbs(gi), gi.signature):
        raise GroupInfoSignatureError(f"GroupInfo signature of leaf {gi.signer} does not verify")


def seal_welcome(
    suite: CipherSuite,
    *,
    joiner: JoinerStage,
    group_info: GroupInfo,
    recipients: Sequence[tuple[KeyPackage, GroupSecrets]],
    rand: RandomSource,
    key_package_refs: Sequence[bytes] | None = None,
) -> Welcome:
    """Encrypt a signed GroupInfo once and the GroupSecrets to each new member's init key.

    ``key_package_refs`` may pass precomputed refs (one per recipient) to avoid re-hashing.
    """
    key, nonce = joiner.welcome_key_nonce()
    encrypted_group_info = suite.aead_seal(key, nonce, b"", encode(group_info))
    # EncryptWithLabel(init_key, "Welcome", encrypted_group_info, group_secrets) for each new
    # member: the EncryptContext holds the whole encrypted GroupInfo (with the ratchet tree,
    # O(N) bytes), so it is built once and HPKE hashes it once (an O(N) step per recipient
    # would make the Welcome O(N^2)).
    info = suite.encrypt_context("Welcome", encrypted_group_info)
    secrets = []
    for i, (kp, gs) in enumerate(recipients):
        ref = key_package_refs[i] if key_package_refs is not None else suite.key_package_ref(kp.encoded())
        kem_output, ct = suite.hpke_seal(kp.init_key, info, b"", encode(gs), rand)
        secrets.append(
            EncryptedGroupSecrets(
                new_member=ref,
                encrypted_group_secrets=HPKECiphertext(kem_output=kem_output, ciphertext=ct),
            )
        )
    return Welcome(
        cipher_suite=suite.suite_id, secrets=tuple(secrets), encrypted_group_info=encrypted_group_info
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedWelcome:
    """What a new member learns from a Welcome before it validates the tree."""

    group_secrets: GroupSecrets
    joiner: JoinerStage
    group_info: GroupInfo


def open_welcome(
    suite: CipherSuite,
    welcome: Welcome,
    *,
    key_package: KeyPackage,
    init_priv: bytes,
    psk_lookup: Callable[[PreSharedKeyID], bytes | None] = lambda _id: None,
    key_package_ref: bytes | None = None,
    shared: EpochCache | None = None,
) -> OpenedWelcome:
    """§12.4.3.1 steps 1–4: find our entry, decrypt GroupSecrets, derive the welcome key,
    decrypt the GroupInfo. The GroupInfo signature and confirmation tag are checked by
    the caller once it knows the signer's key (from the tree) and the epoch secrets."""
    if welcome.cipher_suite != suite.suite_id or key_package.cipher_suite != suite.suite_id:
        raise NoMatchingKeyPackageError(
            f"Welcome suite {welcome.cipher_suite}, KeyPackage suite {key_package.cipher_suite}, "
            f"local suite {suite.suite_id}"
        )
    ref = key_package_ref if key_package_ref is not None else suite.key_package_ref(key_package.encoded())
    pos = secrets_index(welcome).get(ref)
    if pos is None:
        raise NoMatchingKeyPackageError("no EncryptedGroupSecrets for this KeyPackage")
    ct = welcome.secrets[pos].encrypted_group_secrets
    try:
        plain = suite.decrypt_with_label(
            init_priv, "Welcome", welcome.encrypted_group_info, ct.kem_output, ct.ciphertext
        )
    except CryptoError as exc:
        raise WelcomeError("group secrets do not decrypt with this init key") from exc
    gs = decode(GroupSecrets, plain)
    reinit_or_branch = [
        p
        for p in gs.psks
        if p.psktype == PSKType.RESUMPTION
        and p.usage in (ResumptionPSKUsage.REINIT, ResumptionPSKUsage.BRANCH)
    ]
    if reinit_or_branch and len(gs.psks) > 1:
        raise WelcomeError("a reinit or branch PSK must be the only PSK")
    psks = resolve_psks(gs.psks, psk_lookup)
    joiner = JoinerStage.start(suite, joiner_secret=gs.joiner_secret, psk_secret=psk_secret(suite, psks))
    key, nonce = joiner.welcome_key_nonce()

    def open_group_info() -> GroupInfo:
        try:
            gi_bytes = suite.aead_open(key, nonce, b"", welcome.encrypted_group_info)
        except CryptoError as exc:
            raise WelcomeError("GroupInfo does not decrypt with the welcome key") from exc
        return decode(GroupInfo, gi_bytes)

    # keyed by every input of the open (the sealed GroupInfo is one bytes object for all the
    # joiners of one Welcome, whose hash Python computes once)
    gi = tables_of(shared).group_infos.get_or_compute(
        (suite.suite_id, key, nonce, welcome.encrypted_group_info), open_group_info
    )
    return OpenedWelcome(group_secrets=gs, joiner=joiner, group_info=gi)
