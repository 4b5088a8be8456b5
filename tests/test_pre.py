"""Proxy re-encryption (``mlssim.assist.pre``): both families round-trip, fail on wrong keys,
and the model's objects have exactly the real (Umbral) lengths."""

from __future__ import annotations

import pickle

import pytest

from mlssim.assist.pre import PRE, UMBRAL_INFO, ModelPRE, get_pre
from mlssim.mls.errors import CryptoError
from mlssim.mls.rand import SeededRandom


def _has_umbral() -> bool:
    try:
        import umbral_pre  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


FAMILIES = [
    "model",
    pytest.param("real", marks=pytest.mark.skipif(not _has_umbral(), reason="needs umbral-pre (pre extra)")),
]


@pytest.fixture(params=FAMILIES)
def pre(request: pytest.FixtureRequest) -> PRE:
    return get_pre(request.param)


def _world(pre: PRE, seed: int = 1) -> dict[str, object]:
    rand = SeededRandom(seed, "pre")
    return {
        "rand": rand,
        "alice": pre.generate_key_pair(rand),
        "bob": pre.generate_key_pair(rand),
        "carol": pre.generate_key_pair(rand),
        "signer": pre.signer_key_pair(rand),
    }


def test_round_trip_original(pre: PRE) -> None:
    rand = SeededRandom(1, "pre")
    alice = pre.generate_key_pair(rand)
    assert pre.public_key(alice.priv) == alice.pub
    for plaintext in (b"", b"node secret " * 3, bytes(1000)):
        capsule, ciphertext = pre.encrypt(alice.pub, plaintext, rand)
        assert pre.decrypt_original(alice.priv, capsule, ciphertext) == plaintext


def test_original_wrong_key_fails(pre: PRE) -> None:
    rand = SeededRandom(2, "pre")
    alice, bob = pre.generate_key_pair(rand), pre.generate_key_pair(rand)
    capsule, ciphertext = pre.encrypt(alice.pub, b"secret", rand)
    with pytest.raises(CryptoError):
        pre.decrypt_original(bob.priv, capsule, ciphertext)
    tampered = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
    with pytest.raises(CryptoError):
        pre.decrypt_original(alice.priv, capsule, tampered)


def test_reencryption_round_trip(pre: PRE) -> None:
    rand = SeededRandom(3, "pre")
    alice, bob, signer = pre.generate_key_pair(rand), pre.generate_key_pair(rand), pre.signer_key_pair(rand)
    capsule, ciphertext = pre.encrypt(alice.pub, b"path secret 32 bytes............", rand)
    (kfrag,) = pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand)
    keys = {"signer_pub": signer.pub, "delegating_pub": alice.pub, "receiving_pub": bob.pub}
    cfrag = pre.reencrypt(capsule, kfrag, **keys)
    got = pre.decrypt_reencrypted(bob.priv, alice.pub, capsule, [cfrag], ciphertext, signer_pub=signer.pub)
    assert got == b"path secret 32 bytes............"
    # one kfrag serves every capsule of the delegator
    capsule2, ciphertext2 = pre.encrypt(alice.pub, b"another", rand)
    cfrag2 = pre.reencrypt(capsule2, kfrag, **keys)
    assert pre.decrypt_reencrypted(
        bob.priv, alice.pub, capsule2, [cfrag2], ciphertext2, signer_pub=signer.pub
    ) == (b"another")


def test_threshold(pre: PRE) -> None:
    rand = SeededRandom(4, "pre")
    alice, bob, signer = pre.generate_key_pair(rand), pre.generate_key_pair(rand), pre.signer_key_pair(rand)
    capsule, ciphertext = pre.encrypt(alice.pub, b"m", rand)
    kfrags = pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand, threshold=2, shares=3)
    assert len(kfrags) == 3
    keys = {"signer_pub": signer.pub, "delegating_pub": alice.pub, "receiving_pub": bob.pub}
    cfrags = [pre.reencrypt(capsule, k, **keys) for k in kfrags]
    for pair in ([0, 1], [1, 2], [0, 2], [0, 1, 2]):
        chosen = [cfrags[i] for i in pair]
        assert (
            pre.decrypt_reencrypted(bob.priv, alice.pub, capsule, chosen, ciphertext, signer_pub=signer.pub)
            == b"m"
        )
    with pytest.raises(CryptoError):
        pre.decrypt_reencrypted(bob.priv, alice.pub, capsule, cfrags[:1], ciphertext, signer_pub=signer.pub)
    with pytest.raises(ValueError):
        pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand, threshold=3, shares=2)


def test_reencryption_wrong_keys_fail(pre: PRE) -> None:
    rand = SeededRandom(5, "pre")
    alice, bob, carol = (pre.generate_key_pair(rand) for _ in range(3))
    signer, other_signer = pre.signer_key_pair(rand), pre.signer_key_pair(rand)
    capsule, ciphertext = pre.encrypt(alice.pub, b"secret", rand)
    (kfrag,) = pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand)
    keys = {"signer_pub": signer.pub, "delegating_pub": alice.pub, "receiving_pub": bob.pub}
    cfrag = pre.reencrypt(capsule, kfrag, **keys)
    # a receiver other than the delegated one cannot open
    with pytest.raises(CryptoError):
        pre.decrypt_reencrypted(carol.priv, alice.pub, capsule, [cfrag], ciphertext, signer_pub=signer.pub)
    # ... nor can the proxy retarget the kfrag to itself or to carol
    with pytest.raises(CryptoError):
        pre.reencrypt(capsule, kfrag, **{**keys, "receiving_pub": carol.pub})
    # the kfrag is bound to its signer and delegator
    with pytest.raises(CryptoError):
        pre.reencrypt(capsule, kfrag, **{**keys, "signer_pub": other_signer.pub})
    with pytest.raises(CryptoError):
        pre.reencrypt(capsule, kfrag, **{**keys, "delegating_pub": carol.pub})
    # the cfrag is checked against the signer, and the capsule it was made for
    with pytest.raises(CryptoError):
        pre.decrypt_reencrypted(
            bob.priv, alice.pub, capsule, [cfrag], ciphertext, signer_pub=other_signer.pub
        )
    capsule2, _ = pre.encrypt(alice.pub, b"other", rand)
    with pytest.raises(CryptoError):
        pre.decrypt_reencrypted(bob.priv, alice.pub, capsule2, [cfrag], ciphertext, signer_pub=signer.pub)
    # a capsule of carol's, re-encrypted with alice's kfrag, opens for nobody
    capsule3, ciphertext3 = pre.encrypt(carol.pub, b"carol's", rand)
    cfrag3 = pre.reencrypt(capsule3, kfrag, **keys)
    with pytest.raises(CryptoError):
        pre.decrypt_reencrypted(bob.priv, alice.pub, capsule3, [cfrag3], ciphertext3, signer_pub=signer.pub)
    # altered kfrag
    with pytest.raises(CryptoError):
        pre.reencrypt(capsule, kfrag[:-1] + bytes([kfrag[-1] ^ 1]), **keys)


def test_sizes(pre: PRE) -> None:
    """Every object has the length in ``pre.info`` (the measured Umbral lengths) in both families."""
    assert pre.info.secret_key_len == pre.secret_key_size == 32
    assert pre.public_key_size == 33
    assert pre.capsule_size == 105
    assert pre.kfrag_size == 310
    assert pre.cfrag_size == 381
    assert pre.ciphertext_overhead == 40
    rand = SeededRandom(6, "pre")
    for _ in range(5):
        alice, bob, signer = (
            pre.generate_key_pair(rand),
            pre.generate_key_pair(rand),
            pre.signer_key_pair(rand),
        )
        for kp in (alice, bob, signer):
            assert (len(kp.priv), len(kp.pub)) == (pre.secret_key_size, pre.public_key_size)
        for n in (0, 32, 100):
            capsule, ciphertext = pre.encrypt(alice.pub, bytes(n), rand)
            assert len(capsule) == pre.capsule_size
            assert len(ciphertext) == pre.ciphertext_size(n) == n + 40
        kfrags = pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand, threshold=2, shares=3)
        assert [len(k) for k in kfrags] == [pre.kfrag_size] * 3
        keys = {"signer_pub": signer.pub, "delegating_pub": alice.pub, "receiving_pub": bob.pub}
        assert [len(pre.reencrypt(capsule, k, **keys)) for k in kfrags] == [pre.cfrag_size] * 3


def test_model_info_equals_real_lengths() -> None:
    model = get_pre("model").info
    for field in (
        "secret_key_len",
        "public_key_len",
        "capsule_len",
        "kfrag_len",
        "cfrag_len",
        "ciphertext_overhead",
    ):
        assert getattr(model, field) == getattr(UMBRAL_INFO, field)


def test_umbral_library_sizes() -> None:
    """Measured on umbral-pre 0.11.0: capsule 105 B, kfrag 310 B, cfrag 381 B (the issue's
    "381 B" is the re-encryption *fragment*, the cfrag, not the kfrag)."""
    u = pytest.importorskip("umbral_pre")
    a, b, s = u.SecretKey.random(), u.SecretKey.random(), u.SecretKey.random()
    capsule, ciphertext = u.encrypt(a.public_key(), b"x" * 32)
    (kfrag,) = u.generate_kfrags(a, b.public_key(), u.Signer(s), 1, 1, True, True)
    cfrag = u.reencrypt(capsule, kfrag)
    assert len(bytes(capsule)) == 105
    assert len(bytes(kfrag)) == 310
    assert len(bytes(cfrag)) == 381
    assert len(ciphertext) == 32 + 40
    assert len(a.to_be_bytes()) == 32
    assert len(a.public_key().to_compressed_bytes()) == 33
    # the header-less forms, in case a wire format drops the type header
    assert len(capsule.to_bytes_simple()) == 98
    assert len(cfrag.to_bytes_simple()) == 359


def test_model_is_deterministic_and_key_gated_per_world() -> None:
    def run() -> tuple[bytes, ...]:
        pre = get_pre("model")
        rand = SeededRandom(7, "pre")
        alice, bob, signer = (
            pre.generate_key_pair(rand),
            pre.generate_key_pair(rand),
            pre.signer_key_pair(rand),
        )
        capsule, ciphertext = pre.encrypt(alice.pub, b"m", rand)
        (kfrag,) = pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand)
        cfrag = pre.reencrypt(
            capsule, kfrag, signer_pub=signer.pub, delegating_pub=alice.pub, receiving_pub=bob.pub
        )
        return capsule, ciphertext, kfrag, cfrag

    assert run() == run()
    # keys of another world are unknown here
    world1, world2 = get_pre("model"), get_pre("model")
    alice = world1.generate_key_pair(SeededRandom(8, "pre"))
    with pytest.raises(CryptoError):
        world2.encrypt(alice.pub, b"m", SeededRandom(9, "pre"))


def test_model_pickle_forks_world() -> None:
    pre = get_pre("model")
    rand = SeededRandom(10, "pre")
    alice, bob, signer = pre.generate_key_pair(rand), pre.generate_key_pair(rand), pre.signer_key_pair(rand)
    capsule, ciphertext = pre.encrypt(alice.pub, b"m", rand)
    (kfrag,) = pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand)
    fork = pickle.loads(pickle.dumps(pre))
    assert isinstance(fork, ModelPRE)
    cfrag = fork.reencrypt(
        capsule, kfrag, signer_pub=signer.pub, delegating_pub=alice.pub, receiving_pub=bob.pub
    )
    assert (
        fork.decrypt_reencrypted(bob.priv, alice.pub, capsule, [cfrag], ciphertext, signer_pub=signer.pub)
        == b"m"
    )


def test_real_without_umbral_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "umbral_pre", None)  # makes `import umbral_pre` raise ImportError
    with pytest.raises(ImportError, match=r"mlssim\[pre\]"):
        get_pre("real")
    assert get_pre("model").family == "model"


def test_unknown_family() -> None:
    with pytest.raises(ValueError):
        get_pre("fast")
