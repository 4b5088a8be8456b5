"""The MLS key schedule (RFC 9420 §8) as a guarded sequence of derivations.

::

                        init_secret_[n-1]
                              |
                              |
                              V
        commit_secret --> KDF.Extract
                              |
                              |
                              V
                      ExpandWithLabel(., "joiner", GroupContext_[n], KDF.Nh)
                              |
                              |
                              V
                         joiner_secret
                              |
                              |
                              V
    psk_secret (or 0) --> KDF.Extract
                              |
                              |
                              +--> DeriveSecret(., "welcome")
                              |    = welcome_secret
                              |
                              V
                      ExpandWithLabel(., "epoch", GroupContext_[n], KDF.Nh)
                              |
                              |
                              V
                         epoch_secret
                              |
                              |
                              +--> DeriveSecret(., <label>)
                              |    = <secret>
                              |
                              V
                        DeriveSecret(., "init")
                              |
                              |
                              V
                        init_secret_[n]

    <label> / <secret> (table 4): "sender data" sender_data_secret, "encryption"
    encryption_secret, "exporter" exporter_secret, "external" external_secret,
    "confirm" confirmation_key, "membership" membership_key, "resumption"
    resumption_psk, "authentication" epoch_authenticator.

The sequence has two entry points, one per way into an epoch:

* a member who processed (or created) the Commit holds ``init_secret_[n-1]`` and the
  ``commit_secret`` and starts at the top: :meth:`EpochSecrets.from_init`;
* a joiner gets ``joiner_secret`` in the Welcome's GroupSecrets, needs the
  ``welcome_secret`` *before* it knows the GroupContext (to decrypt the GroupInfo), and
  only then derives the epoch: :meth:`JoinerStage.start` → :meth:`JoinerStage.welcome_key_nonce`
  → :meth:`JoinerStage.epoch_secrets` (or :meth:`EpochSecrets.from_joiner` in one go).

Every input is checked on entry (length ``KDF.Nh``, the GroupContext's cipher suite),
and each stage is a frozen value, so a later stage cannot be computed from an
unchecked earlier one. ``epoch_secret`` itself is consumed inside the derivation and
never stored (§9.2 deletion schedule).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from .codec import encode
from .crypto.suite import CipherSuite, KeyPair
from .errors import LocalProtocolError, RemoteProtocolError
from .messages.common import GroupContext

__all__ = [
    "KeyScheduleError",
    "JoinerSecretError",
    "ExporterError",
    "ConfirmationTagError",
    "zero_secret",
    "derive_joiner_secret",
    "JoinerStage",
    "EpochSecrets",
    "mls_exporter",
    "external_key_pair",
    "welcome_key_nonce",
    "confirmation_tag",
    "verify_confirmation_tag",
]


class KeyScheduleError(LocalProtocolError):
    """A key-schedule input has the wrong length or belongs to another suite (§8)."""

    rfc_section = "8"


class JoinerSecretError(RemoteProtocolError):
    """The ``joiner_secret`` of a Welcome's GroupSecrets is not ``KDF.Nh`` bytes (§12.4.3.1)."""

    rfc_section = "12.4.3.1"


class ExporterError(LocalProtocolError):
    """An MLS-Exporter length ExpandWithLabel cannot produce (§8.5)."""

    rfc_section = "8.5"


class ConfirmationTagError(RemoteProtocolError):
    """A confirmation tag does not match MAC(confirmation_key, confirmed_transcript_hash) (§6.1)."""

    rfc_section = "6.1"


def zero_secret(suite: CipherSuite) -> bytes:
    """The all-zero ``KDF.Nh`` string §8 writes as ``0`` (no path, no PSKs)."""
    return bytes(suite.info.hash_len)


def _check_len(suite: CipherSuite, name: str, value: bytes) -> None:
    nh = suite.info.hash_len
    if len(value) != nh:
        raise KeyScheduleError(f"{name} has {len(value)} bytes, the suite's KDF.Nh is {nh}")


def _context_bytes(suite: CipherSuite, group_context: GroupContext | bytes) -> bytes:
    """The encoded GroupContext; a struct must name this suite (§8.1)."""
    if isinstance(group_context, GroupContext):
        if group_context.cipher_suite != suite.suite_id:
            raise KeyScheduleError(
                f"GroupContext names cipher suite {group_context.cipher_suite}, "
                f"the key schedule runs suite {suite.suite_id}"
            )
        return encode(group_context)
    return bytes(group_context)


def derive_joiner_secret(
    suite: CipherSuite,
    *,
    init_secret: bytes,
    commit_secret: bytes | None,
    group_context: GroupContext | bytes,
) -> bytes:
    """§8 ``ExpandWithLabel(Extract(init_secret, commit_secret), "joiner", GroupContext, Nh)``.

    ``commit_secret=None`` is the all-zero value of a Commit without a path.
    """
    _check_len(suite, "init_secret", init_secret)
    commit = zero_secret(suite) if commit_secret is None else commit_secret
    _check_len(suite, "commit_secret", commit)
    ctx = _context_bytes(suite, group_context)
    extracted = suite.kdf_extract(init_secret, commit)
    return suite.expand_with_label(extracted, "joiner", ctx, suite.info.hash_len)


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinerStage:
    """§8 after the PSK extract: what exists before the GroupContext is known.

    A joiner needs ``welcome_secret`` to decrypt the GroupInfo that carries the
    GroupContext; the committer needs it to encrypt that GroupInfo.
    """

    suite: CipherSuite = field(repr=False, compare=False)
    joiner_secret: bytes
    #: KDF.Extract(joiner_secret, psk_secret): the "member" / intermediate secret.
    member_secret: bytes = field(repr=False)
    welcome_secret: bytes

    @classmethod
    def start(
        cls, suite: CipherSuite, *, joiner_secret: bytes, psk_secret: bytes | None = None
    ) -> JoinerStage:
        """Enter at ``joiner_secret`` (from GroupSecrets, or from :func:`derive_joiner_secret`).

        ``psk_secret=None`` is the all-zero value of an epoch without PSKs (§8.4).
        A ``joiner_secret`` of the wrong length came from a peer, so it is a remote error.
        """
        nh = suite.info.hash_len
        if len(joiner_secret) != nh:
            raise JoinerSecretError(f"joiner_secret has {len(joiner_secret)} bytes, KDF.Nh is {nh}")
        psk = zero_secret(suite) if psk_secret is None else psk_secret
        _check_len(suite, "psk_secret", psk)
        member = suite.kdf_extract(joiner_secret, psk)
        return cls(
            suite=suite,
            joiner_secret=joiner_secret,
            member_secret=member,
            welcome_secret=suite.derive_secret(member, "welcome"),
        )

    def welcome_key_nonce(self) -> tuple[bytes, bytes]:
        """``(welcome_key, welcome_nonce)`` for the Welcome's encrypted GroupInfo (§12.4.3.1)."""
        return welcome_key_nonce(self.suite, self.welcome_secret)

    def epoch_secrets(self, group_context: GroupContext | bytes) -> EpochSecrets:
        """Derive ``epoch_secret`` with the epoch's GroupContext and everything of table 4."""
        s = self.suite
        ctx = _context_bytes(s, group_context)
        epoch = s.expand_with_label(self.member_secret, "epoch", ctx, s.info.hash_len)
        return EpochSecrets(
            suite=s,
            joiner_secret=self.joiner_secret,
            welcome_secret=self.welcome_secret,
            sender_data_secret=s.derive_secret(epoch, "sender data"),
            encryption_secret=s.derive_secret(epoch, "encryption"),
            exporter_secret=s.derive_secret(epoch, "exporter"),
            external_secret=s.derive_secret(epoch, "external"),
            confirmation_key=s.derive_secret(epoch, "confirm"),
            membership_key=s.derive_secret(epoch, "membership"),
            resumption_psk=s.derive_secret(epoch, "resumption"),
            epoch_authenticator=s.derive_secret(epoch, "authentication"),
            init_secret=s.derive_secret(epoch, "init"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EpochSecrets:
    """The secrets of one epoch (§8 table 4), plus the joiner/welcome secrets of its Welcome.

    ``init_secret`` is the *next* epoch's input. The group layer should drop
    ``encryption_secret`` once its :class:`~mlssim.mls.secret_tree.SecretTree` exists and
    ``joiner_secret``/``welcome_secret`` once the Welcome is sent (§9.2).
    """

    suite: CipherSuite = field(repr=False, compare=False)
    joiner_secret: bytes
    welcome_secret: bytes
    sender_data_secret: bytes
    encryption_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes

    @classmethod
    def from_init(
        cls,
        suite: CipherSuite,
        *,
        init_secret: bytes,
        commit_secret: bytes | None,
        psk_secret: bytes | None,
        group_context: GroupContext | bytes,
    ) -> EpochSecrets:
        """A member's path: previous ``init_secret`` + ``commit_secret`` + PSKs → epoch (§8).

        ``None`` for ``commit_secret`` / ``psk_secret`` means the all-zero value.
        """
        joiner = derive_joiner_secret(
            suite, init_secret=init_secret, commit_secret=commit_secret, group_context=group_context
        )
        stage = JoinerStage.start(suite, joiner_secret=joiner, psk_secret=psk_secret)
        return stage.epoch_secrets(group_context)

    @classmethod
    def from_joiner(
        cls,
        suite: CipherSuite,
        *,
        joiner_secret: bytes,
        psk_secret: bytes | None,
        group_context: GroupContext | bytes,
    ) -> EpochSecrets:
        """A joiner's path: GroupSecrets' ``joiner_secret`` + PSKs + GroupContext → epoch (§8, §12.4.3.1)."""
        stage = JoinerStage.start(suite, joiner_secret=joiner_secret, psk_secret=psk_secret)
        return stage.epoch_secrets(group_context)

    @classmethod
    def for_new_group(
        cls, suite: CipherSuite, *, init_secret: bytes, group_context: GroupContext | bytes
    ) -> EpochSecrets:
        """Epoch 0 of a new group (§11): a fresh random ``init_secret``, no path, no PSKs.

        §11 asks for a fresh random epoch secret; deriving it from a fresh random
        ``init_secret`` is indistinguishable and keeps one code path. The caller draws
        ``init_secret`` (``KDF.Nh`` bytes) from its injected randomness.
        """
        return cls.from_init(
            suite, init_secret=init_secret, commit_secret=None, psk_secret=None, group_context=group_context
        )

    def exporter(self, label: bytes | str, context: bytes, length: int) -> bytes:
        """MLS-Exporter of this epoch (§8.5)."""
        return mls_exporter(self.suite, self.exporter_secret, label, context, length)

    def external_key_pair(self) -> KeyPair:
        """``KEM.DeriveKeyPair(external_secret)``; its public half goes in GroupInfo (§8, §12.4.3.2)."""
        return external_key_pair(self.suite, self.external_secret)

    def welcome_key_nonce(self) -> tuple[bytes, bytes]:
        """``(welcome_key, welcome_nonce)`` for this epoch's Welcome (§12.4.3.1)."""
        return welcome_key_nonce(self.suite, self.welcome_secret)

    def confirmation_tag(self, confirmed_transcript_hash: bytes) -> bytes:
        """``MAC(confirmation_key, confirmed_transcript_hash)`` (§6.1)."""
        return confirmation_tag(self.suite, self.confirmation_key, confirmed_transcript_hash)

    def verify_confirmation_tag(self, confirmed_transcript_hash: bytes, tag: bytes) -> None:
        """Raise :class:`ConfirmationTagError` unless ``tag`` confirms this epoch (§6.1)."""
        verify_confirmation_tag(self.suite, self.confirmation_key, confirmed_transcript_hash, tag)


def mls_exporter(
    suite: CipherSuite, exporter_secret: bytes, label: bytes | str, context: bytes, length: int
) -> bytes:
    """§8.5 ``ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length)``."""
    limit = min(0xFFFF, 255 * suite.info.hash_len)  # uint16 KDFLabel.length; HKDF-Expand's bound
    if not 0 <= length <= limit:
        raise ExporterError(f"exporter length {length} outside [0, {limit}]")
    derived = suite.derive_secret(exporter_secret, label)
    return suite.expand_with_label(derived, "exported", suite.hash(context), length)


def external_key_pair(suite: CipherSuite, external_secret: bytes) -> KeyPair:
    """§8 ``external_priv, external_pub = KEM.DeriveKeyPair(external_secret)``."""
    return suite.kem_derive_key_pair(external_secret)


def welcome_key_nonce(suite: CipherSuite, welcome_secret: bytes) -> tuple[bytes, bytes]:
    """§12.4.3.1 ``welcome_key``/``welcome_nonce``.

    ``ExpandWithLabel(welcome_secret, "key"/"nonce", "", AEAD.Nk/AEAD.Nn)``.
    """
    key = suite.expand_with_label(welcome_secret, "key", b"", suite.info.aead_key_len)
    nonce = suite.expand_with_label(welcome_secret, "nonce", b"", suite.info.aead_nonce_len)
    return key, nonce


def confirmation_tag(suite: CipherSuite, confirmation_key: bytes, confirmed_transcript_hash: bytes) -> bytes:
    """§6.1 ``confirmation_tag = MAC(confirmation_key, GroupContext.confirmed_transcript_hash)``."""
    return suite.mac(confirmation_key, confirmed_transcript_hash)


def verify_confirmation_tag(
    suite: CipherSuite, confirmation_key: bytes, confirmed_transcript_hash: bytes, tag: bytes
) -> None:
    """Constant-time check of a received confirmation tag (§6.1, §12.4.2, §12.4.3.1)."""
    want = confirmation_tag(suite, confirmation_key, confirmed_transcript_hash)
    if not hmac.compare_digest(want, tag):
        raise ConfirmationTagError("confirmation tag does not match this epoch's confirmation_key")
