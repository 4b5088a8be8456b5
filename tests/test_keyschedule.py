"""Key schedule (RFC 9420 §8) and PSK chain (§8.4): properties beyond the interop vectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import LocalProtocolError, RemoteProtocolError
from mlssim.mls.keyschedule import (
    ConfirmationTagError,
    EpochSecrets,
    ExporterError,
    JoinerSecretError,
    JoinerStage,
    KeyScheduleError,
    derive_joiner_secret,
    zero_secret,
)
from mlssim.mls.messages.common import GroupContext
from mlssim.mls.messages.enums import PSKType, ResumptionPSKUsage
from mlssim.mls.messages.psk_id import PreSharedKeyID
from mlssim.mls.psk import MissingPSKError, PSKLabel, psk_secret, resolve_psks

SUITE = get_suite(1)
NH = SUITE.info.hash_len

TABLE_4 = (
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
    "epoch_authenticator",
    "init_secret",
)


def ctx(epoch: int = 1, tree_hash: bytes = b"\x11" * 32, suite: int = 1) -> GroupContext:
    return GroupContext(
        cipher_suite=suite,
        group_id=b"group",
        epoch=epoch,
        tree_hash=tree_hash,
        confirmed_transcript_hash=b"\x22" * 32,
    )


def ext_psk(i: int) -> PreSharedKeyID:
    return PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"id%d" % i, psk_nonce=bytes([i]) * NH)


def epoch(**kw: object) -> EpochSecrets:
    args: dict[str, object] = {
        "init_secret": b"\x01" * NH,
        "commit_secret": b"\x02" * NH,
        "psk_secret": b"\x03" * NH,
        "group_context": ctx(),
    }
    args.update(kw)
    return EpochSecrets.from_init(SUITE, **args)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(
    init=st.binary(min_size=NH, max_size=NH),
    commit=st.none() | st.binary(min_size=NH, max_size=NH),
    psk=st.none() | st.binary(min_size=NH, max_size=NH),
    n=st.integers(0, 2**64 - 1),
)
def test_joiner_path_equals_init_path(init: bytes, commit: bytes | None, psk: bytes | None, n: int) -> None:
    gc = ctx(epoch=n)
    member = EpochSecrets.from_init(
        SUITE, init_secret=init, commit_secret=commit, psk_secret=psk, group_context=gc
    )
    joiner = derive_joiner_secret(SUITE, init_secret=init, commit_secret=commit, group_context=gc)
    assert member.joiner_secret == joiner
    # In one go, and stepwise as a Welcome receiver does (welcome key before the GroupContext).
    assert EpochSecrets.from_joiner(SUITE, joiner_secret=joiner, psk_secret=psk, group_context=gc) == member
    stage = JoinerStage.start(SUITE, joiner_secret=joiner, psk_secret=psk)
    assert stage.welcome_key_nonce() == member.welcome_key_nonce()
    assert stage.epoch_secrets(encode(gc)) == member


def test_zero_defaults_and_new_group() -> None:
    gc = ctx(epoch=0)
    zero = zero_secret(SUITE)
    assert zero == bytes(NH)
    assert psk_secret(SUITE, []) == zero
    a = EpochSecrets.from_init(
        SUITE, init_secret=b"\x05" * NH, commit_secret=None, psk_secret=None, group_context=gc
    )
    b = EpochSecrets.from_init(
        SUITE, init_secret=b"\x05" * NH, commit_secret=zero, psk_secret=zero, group_context=gc
    )
    assert a == b
    assert EpochSecrets.for_new_group(SUITE, init_secret=b"\x05" * NH, group_context=gc) == a


def test_every_input_changes_every_secret() -> None:
    base = epoch()
    variants = [
        epoch(init_secret=b"\x09" * NH),
        epoch(commit_secret=b"\x09" * NH),
        epoch(psk_secret=b"\x09" * NH),
        epoch(group_context=ctx(epoch=2)),
        epoch(group_context=ctx(tree_hash=b"\x12" * 32)),
    ]
    for v in variants:
        for name in TABLE_4:
            assert getattr(v, name) != getattr(base, name), name
    # The PSK only enters after joiner_secret; the GroupContext enters at both ends.
    assert epoch(psk_secret=b"\x09" * NH).joiner_secret == base.joiner_secret
    assert epoch(psk_secret=b"\x09" * NH).welcome_secret != base.welcome_secret


def test_table_4_secrets_are_distinct_and_chain() -> None:
    e1 = epoch()
    values = [e1.joiner_secret, e1.welcome_secret, *(getattr(e1, n) for n in TABLE_4)]
    assert all(len(v) == NH for v in values)
    assert len(set(values)) == len(values)
    e2 = epoch(init_secret=e1.init_secret, group_context=ctx(epoch=2))
    assert e2.init_secret != e1.init_secret
    assert e2 == EpochSecrets.from_init(
        SUITE,
        init_secret=e1.init_secret,
        commit_secret=b"\x02" * NH,
        psk_secret=b"\x03" * NH,
        group_context=ctx(2),
    )


def test_exporter_binds_label_context_and_length() -> None:
    e = epoch()
    base = e.exporter("label", b"ctx", 32)
    assert len(base) == 32
    derived = SUITE.derive_secret(e.exporter_secret, "label")
    assert base == SUITE.expand_with_label(derived, "exported", SUITE.hash(b"ctx"), 32)  # §8.5 as written
    assert e.exporter("label", b"ctx", 32) == base
    assert e.exporter(b"label", b"ctx", 32) == base
    assert e.exporter("label2", b"ctx", 32) != base
    assert e.exporter("label", b"ctx2", 32) != base
    assert e.exporter("label", b"ctx", 16) != base[:16]  # the length is in the KDF label
    assert epoch(group_context=ctx(epoch=2)).exporter("label", b"ctx", 32) != base
    with pytest.raises(ExporterError):
        e.exporter("label", b"", 255 * NH + 1)
    with pytest.raises(ExporterError):
        e.exporter("label", b"", -1)


def test_wrong_inputs_are_refused() -> None:
    with pytest.raises(KeyScheduleError, match="init_secret"):
        epoch(init_secret=b"\x01" * (NH - 1))
    with pytest.raises(KeyScheduleError, match="commit_secret"):
        epoch(commit_secret=b"\x01" * (NH + 1))
    with pytest.raises(KeyScheduleError, match="psk_secret"):
        epoch(psk_secret=b"")
    with pytest.raises(KeyScheduleError, match="cipher suite 2"):
        epoch(group_context=ctx(suite=2))
    with pytest.raises(JoinerSecretError) as info:
        EpochSecrets.from_joiner(SUITE, joiner_secret=b"\x01" * 16, psk_secret=None, group_context=ctx())
    assert isinstance(info.value, RemoteProtocolError)
    assert "§12.4.3.1" in str(info.value)
    assert issubclass(KeyScheduleError, LocalProtocolError)


def test_confirmation_tag() -> None:
    e = epoch()
    cth = b"\x33" * NH
    tag = e.confirmation_tag(cth)
    assert tag == SUITE.mac(e.confirmation_key, cth)
    e.verify_confirmation_tag(cth, tag)
    with pytest.raises(ConfirmationTagError, match=r"§6\.1\b"):
        e.verify_confirmation_tag(cth, bytes([tag[0] ^ 1]) + tag[1:])
    with pytest.raises(ConfirmationTagError):
        epoch(commit_secret=b"\x07" * NH).verify_confirmation_tag(cth, tag)


def test_welcome_key_nonce_sizes() -> None:
    for suite_id in (1, 2, 3):
        s = get_suite(suite_id)
        e = EpochSecrets.for_new_group(
            s, init_secret=b"\x01" * s.info.hash_len, group_context=ctx(epoch=0, suite=suite_id)
        )
        key, nonce = e.welcome_key_nonce()
        assert (len(key), len(nonce)) == (s.info.aead_key_len, s.info.aead_nonce_len)
        assert key != nonce[: len(key)]


def test_psk_chain_order_and_labels() -> None:
    psks = [(ext_psk(i), bytes([0x40 + i]) * 20) for i in range(3)]
    s = psk_secret(SUITE, psks)
    assert len(s) == NH and s != zero_secret(SUITE)
    assert psk_secret(SUITE, psks[::-1]) != s  # order is bound by PSKLabel.index
    assert psk_secret(SUITE, psks[:2]) != s
    other_nonce = PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"id0", psk_nonce=b"\xff" * NH)
    assert psk_secret(SUITE, [(other_nonce, psks[0][1]), *psks[1:]]) != s  # the nonce is bound too
    resumption = PreSharedKeyID(
        psktype=PSKType.RESUMPTION,
        usage=ResumptionPSKUsage.BRANCH,
        psk_group_id=b"g",
        psk_epoch=7,
        psk_nonce=b"\x01" * NH,
    )
    label = PSKLabel(id=resumption, index=1, count=2)
    assert decode(PSKLabel, encode(label)) == label
    assert encode(label).endswith(b"\x00\x01\x00\x02")
    with pytest.raises(ValueError):
        PSKLabel(id=resumption, index=2, count=2)


def test_resolve_psks() -> None:
    known = {ext_psk(0): b"v0", ext_psk(1): b"v1"}
    assert resolve_psks([ext_psk(1), ext_psk(0)], known.get) == [(ext_psk(1), b"v1"), (ext_psk(0), b"v0")]
    with pytest.raises(MissingPSKError, match=b"id2".hex()):
        resolve_psks([ext_psk(0), ext_psk(2)], known.get)
