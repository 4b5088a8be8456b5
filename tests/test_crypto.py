"""Public-key half of the cipher suites: HPKE, signatures, real and model families.

Real suites are checked against published vectors (RFC 9180 Appendix A for HPKE, RFC 8032
for Ed25519, RFC 6979 for deterministic ECDSA) and by round trips; model suites by round
trips, failure cases and exact sizes. The MLS crypto-basics vectors run in the generic
vector test.
"""

from __future__ import annotations

import hmac
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlssim.mls.crypto import SUPPORTED_SUITES, CipherSuite, get_suite
from mlssim.mls.crypto.hpke import hmac_function
from mlssim.mls.errors import CryptoError
from mlssim.mls.rand import SeededRandom

FAMILIES = ("real", "model")
ECDSA_SUITES = frozenset({2, 5, 7})

INFO = b"MLS 1.0 test context"
AAD = b"aad"
PLAINTEXT = b"a path secret of thirty-two bytes"


@pytest.fixture(params=[(s, f) for f in FAMILIES for s in SUPPORTED_SUITES], ids=lambda p: f"{p[1]}-{p[0]}")
def suite(request: pytest.FixtureRequest) -> CipherSuite:
    sid, family = request.param
    return get_suite(sid, family)


def _flip(data: bytes, index: int = 0) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


class FixedRandom:
    """A RandomSource that hands out one given byte string (the RFC's ikmE)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def random_bytes(self, n: int) -> bytes:
        assert n == len(self._data), f"asked for {n} bytes, vector has {len(self._data)}"
        return self._data


# ---- HPKE -------------------------------------------------------------------------------


def test_hpke_round_trip(suite: CipherSuite) -> None:
    rand = SeededRandom(1, "hpke")
    kp = suite.kem_generate_key_pair(rand)
    enc, ct = suite.hpke_seal(kp.pub, INFO, AAD, PLAINTEXT, rand)
    assert suite.hpke_open(kp.priv, enc, INFO, AAD, ct) == PLAINTEXT
    assert suite.kem_public_key(kp.priv) == kp.pub
    # EncryptWithLabel on top (RFC 9420 §5.1.3)
    kem_output, ct2 = suite.encrypt_with_label(kp.pub, "UpdatePathNode", b"ctx", PLAINTEXT, rand)
    assert suite.decrypt_with_label(kp.priv, "UpdatePathNode", b"ctx", kem_output, ct2) == PLAINTEXT


def test_hpke_wrong_private_key(suite: CipherSuite) -> None:
    rand = SeededRandom(2, "hpke")
    kp = suite.kem_generate_key_pair(rand)
    other = suite.kem_generate_key_pair(rand)
    enc, ct = suite.hpke_seal(kp.pub, INFO, AAD, PLAINTEXT, rand)
    with pytest.raises(CryptoError):
        suite.hpke_open(other.priv, enc, INFO, AAD, ct)


def test_hpke_altered_inputs(suite: CipherSuite) -> None:
    rand = SeededRandom(3, "hpke")
    kp = suite.kem_generate_key_pair(rand)
    enc, ct = suite.hpke_seal(kp.pub, INFO, AAD, PLAINTEXT, rand)
    for i in (0, len(ct) // 2, len(ct) - 1):
        with pytest.raises(CryptoError):
            suite.hpke_open(kp.priv, enc, INFO, AAD, _flip(ct, i))
    for i in (1, len(enc) - 1):
        with pytest.raises(CryptoError):
            suite.hpke_open(kp.priv, _flip(enc, i), INFO, AAD, ct)
    with pytest.raises(CryptoError):
        suite.hpke_open(kp.priv, enc, INFO + b"x", AAD, ct)
    with pytest.raises(CryptoError):
        suite.hpke_open(kp.priv, enc, INFO, AAD + b"x", ct)
    with pytest.raises(CryptoError):
        suite.hpke_open(kp.priv, enc[:-1], INFO, AAD, ct)


def test_hpke_lengths(suite: CipherSuite) -> None:
    info = suite.info
    rand = SeededRandom(4, "hpke")
    kp = suite.kem_derive_key_pair(rand.random_bytes(info.hash_len))
    assert (len(kp.priv), len(kp.pub)) == (info.kem_sk_len, info.kem_pk_len)
    for n in (0, 1, 32, 100):
        enc, ct = suite.hpke_seal(kp.pub, INFO, AAD, bytes(n), rand)
        assert len(enc) == info.kem_enc_len
        assert len(ct) == n + 16  # every suite's AEAD has a 16-byte tag


def test_hpke_deterministic(suite: CipherSuite) -> None:
    """Same seed, same keys, enc and ciphertext — also across two model worlds."""
    sid, family = suite.info.suite_id, suite.family
    outs = []
    for _ in range(2):
        cs = get_suite(sid, family)
        rand = SeededRandom(99, "determinism")
        kp = cs.kem_generate_key_pair(rand)
        derived = cs.kem_derive_key_pair(b"fixed ikm")
        enc, ct = cs.hpke_seal(kp.pub, INFO, AAD, PLAINTEXT, rand)
        outs.append((kp, derived, enc, ct))
    assert outs[0] == outs[1]
    other = get_suite(sid, family).kem_generate_key_pair(SeededRandom(100, "determinism"))
    assert other != outs[0][0]


# ---- signatures -------------------------------------------------------------------------


def test_sign_verify(suite: CipherSuite) -> None:
    rand = SeededRandom(5, "sig")
    kp = suite.signature_key_pair(rand)
    other = suite.signature_key_pair(rand)
    msg = b"framed content to be signed"
    sig = suite.sign(kp.priv, msg)
    assert suite.verify(kp.pub, msg, sig)
    assert suite.signature_public_key(kp.priv) == kp.pub
    assert not suite.verify(kp.pub, msg + b"!", sig)
    assert not suite.verify(kp.pub, _flip(msg), sig)
    assert not suite.verify(kp.pub, msg, suite.sign(other.priv, msg))
    assert not suite.verify(other.pub, msg, sig)
    assert not suite.verify(kp.pub, msg, _flip(sig, len(sig) - 1))
    assert not suite.verify(kp.pub, msg, b"")
    # malformed or unknown keys: False, never an exception
    assert not suite.verify(b"", msg, sig)
    assert not suite.verify(_flip(kp.pub, len(kp.pub) - 1), msg, sig)
    assert not suite.verify(kp.pub[:-1], msg, sig)
    # SignWithLabel / VerifyWithLabel bind the label (RFC 9420 §5.1.2)
    lsig = suite.sign_with_label(kp.priv, "LeafNodeTBS", msg)
    assert suite.verify_with_label(kp.pub, "LeafNodeTBS", msg, lsig)
    assert not suite.verify_with_label(kp.pub, "GroupInfoTBS", msg, lsig)


def test_signature_lengths_and_determinism(suite: CipherSuite) -> None:
    info = suite.info
    sid, family = info.suite_id, suite.family
    kps = [get_suite(sid, family).signature_key_pair(SeededRandom(7, "sig")) for _ in range(2)]
    assert kps[0] == kps[1]
    kp = kps[0]
    assert len(kp.pub) == info.sig_pk_len
    sigs = [suite.sign(kp.priv, bytes([i]) * i) for i in range(20)]
    assert suite.sign(kp.priv, b"m") == suite.sign(kp.priv, b"m")  # EdDSA / RFC 6979 / model
    for s in sigs:
        if family == "real" and sid in ECDSA_SUITES:
            assert abs(len(s) - info.sig_len) <= 2
        else:
            assert len(s) == info.sig_len


# ---- published vectors for the real suites ----------------------------------------------

# RFC 9180 Appendix A.1.1 (suite 1's HPKE: X25519, HKDF-SHA256, AES-128-GCM), A.3.1 (suite 2's:
# P-256, HKDF-SHA256, AES-128-GCM), A.6.1 (suite 5's: P-521, HKDF-SHA512, AES-256-GCM), base mode,
# first encryption (sequence 0).
RFC9180 = {
    1: {
        "ikmE": "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
        "pkEm": "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
        "skEm": "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
        "ikmR": "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
        "pkRm": "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
        "skRm": "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
        "ct": "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
    },
    2: {
        "ikmE": "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
        "pkEm": "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f95"
        "1c0900be863c403ce65c9bfcb9382657222d18c4",
        "skEm": "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
        "ikmR": "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
        "pkRm": "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8a0e539c7f6"
        "2fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
        "skRm": "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
        "ct": "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f39513434",
    },
    5: {
        "ikmE": "7f06ab8215105fc46aceeb2e3dc5028b44364f960426eb0d8e4026c2f8b5d7e7a986688f1591abf5ab753c357a"
        "5d6f0440414b4ed4ede71317772ac98d9239f70904",
        "pkEm": "040138b385ca16bb0d5fa0c0665fbbd7e69e3ee29f63991d3e9b5fa740aab8900aaeed46ed73a49055758425a0"
        "ce36507c54b29cc5b85a5cee6bae0cf1c21f2731ece2013dc3fb7c8d21654bb161b463962ca19e8c654ff24c94dd"
        "2898de12051f1ed0692237fb02b2f8d1dc1c73e9b366b529eb436e98a996ee522aef863dd5739d2f29b0",
        "skEm": "014784c692da35df6ecde98ee43ac425dbdd0969c0c72b42f2e708ab9d535415a8569bdacfcc0a114c85b8e3f2"
        "6acf4d68115f8c91a66178cdbd03b7bcc5291e374b",
        "ikmR": "2ad954bbe39b7122529f7dde780bff626cd97f850d0784a432784e69d86eccaade43b6c10a8ffdb94bf943c6da"
        "479db137914ec835a7e715e36e45e29b587bab3bf1",
        "pkRm": "0401b45498c1714e2dce167d3caf162e45e0642afc7ed435df7902ccae0e84ba0f7d373f646b7738bbbdca11ed"
        "91bdeae3cdcba3301f2457be452f271fa6837580e661012af49583a62e48d44bed350c7118c0d8dc861c238c72a2"
        "bda17f64704f464b57338e7f40b60959480c0e58e6559b190d81663ed816e523b6b6a418f66d2451ec64",
        "skRm": "01462680369ae375e4b3791070a7458ed527842f6a98a79ff5e0d4cbde83c27196a3916956655523a6a2556a7a"
        "f62c5cadabe2ef9da3760bb21e005202f7b2462847",
        "ct": "170f8beddfe949b75ef9c387e201baf4132fa7374593dfafa90768788b7b2b200aafcc6d80ea4c795a7c5b841a",
    },
}
RFC9180_INFO = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")  # "Ode on a Grecian Urn"
RFC9180_PT = b"Beauty is truth, truth beauty"
RFC9180_AAD = b"Count-0"


@pytest.mark.parametrize("sid", sorted(RFC9180))
def test_rfc9180_vectors(sid: int) -> None:
    v = {k: bytes.fromhex(x) for k, x in RFC9180[sid].items()}
    cs = get_suite(sid)
    eph = cs.kem_derive_key_pair(v["ikmE"])
    rcp = cs.kem_derive_key_pair(v["ikmR"])
    assert (eph.priv, eph.pub) == (v["skEm"], v["pkEm"])
    assert (rcp.priv, rcp.pub) == (v["skRm"], v["pkRm"])
    enc, ct = cs.hpke_seal(v["pkRm"], RFC9180_INFO, RFC9180_AAD, RFC9180_PT, FixedRandom(v["ikmE"]))
    assert enc == v["pkEm"]
    assert ct == v["ct"]
    assert cs.hpke_open(v["skRm"], v["pkEm"], RFC9180_INFO, RFC9180_AAD, v["ct"]) == RFC9180_PT


def test_ed25519_rfc8032_vector() -> None:
    """RFC 8032 §7.1 TEST 1 (empty message)."""
    cs = get_suite(1)
    priv = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    pub = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f"
        "0595bbe24655141438e7a100b"
    )
    assert cs.signature_public_key(priv) == pub
    assert cs.sign(priv, b"") == sig
    assert cs.verify(pub, b"", sig)


def test_ecdsa_rfc6979_vector() -> None:
    """RFC 6979 A.2.5: P-256, SHA-256, message "sample" — signing is deterministic."""
    cs = get_suite(2)
    priv = bytes.fromhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
    r = bytes.fromhex("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716")
    s = bytes.fromhex("f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8")
    # both have the top bit set, so each DER INTEGER gets a leading zero byte
    der = b"\x30\x46" + b"\x02\x21\x00" + r + b"\x02\x21\x00" + s
    assert cs.sign(priv, b"sample") == der
    assert cs.verify(cs.signature_public_key(priv), b"sample", der)


# ---- invalid keys (real) ----------------------------------------------------------------


@pytest.mark.parametrize("sid", [1, 4])
def test_x_dh_low_order_point_rejected(sid: int) -> None:
    """An all-zero X25519/X448 shared secret (RFC 7748 §6) is a CryptoError, both ways."""
    cs = get_suite(sid)
    rand = SeededRandom(8, "lowo")
    zero_point = bytes(cs.info.kem_pk_len)
    with pytest.raises(CryptoError):
        cs.hpke_seal(zero_point, INFO, AAD, PLAINTEXT, rand)
    kp = cs.kem_generate_key_pair(rand)
    with pytest.raises(CryptoError):
        cs.hpke_open(kp.priv, zero_point, INFO, AAD, bytes(48))


@pytest.mark.parametrize("sid", [2, 5, 7])
def test_nist_invalid_public_keys_rejected(sid: int) -> None:
    cs = get_suite(sid)
    rand = SeededRandom(9, "badpk")
    kp = cs.kem_generate_key_pair(rand)
    off_curve = b"\x04" + bytes([1]) * (cs.info.kem_pk_len - 1)
    compressed = b"\x02" + kp.pub[1 : 1 + (cs.info.kem_pk_len - 1) // 2]
    for bad in (off_curve, compressed, kp.pub[:-1], b"", _flip(kp.pub, cs.info.kem_pk_len - 1)):
        with pytest.raises(CryptoError):
            cs.hpke_seal(bad, INFO, AAD, PLAINTEXT, rand)
    with pytest.raises(CryptoError):  # private key zero, too long, or >= the group order
        cs.kem_public_key(bytes(cs.info.kem_sk_len))
    with pytest.raises(CryptoError):
        cs.kem_public_key(kp.priv + b"\x01")
    with pytest.raises(CryptoError):
        cs.kem_public_key(b"\xff" * cs.info.kem_sk_len)
    with pytest.raises(CryptoError):
        cs.sign(b"\xff" * len(cs.signature_key_pair(rand).priv), b"m")


@pytest.mark.parametrize("sid", [2, 5, 7])
def test_nist_short_private_key_accepted(sid: int) -> None:
    """A scalar written without its leading zero byte (as in the interop vectors' 65-byte
    P-521 key) is the same key."""
    cs = get_suite(sid)
    rand = SeededRandom(13, "short")
    while True:
        sk = cs.signature_key_pair(rand)
        if sk.priv[0] == 0:
            break
    assert cs.signature_public_key(sk.priv[1:]) == sk.pub
    assert cs.verify(sk.pub, b"m", cs.sign(sk.priv[1:], b"m"))
    kem_priv = b"\x00" * (cs.info.kem_sk_len - 1) + b"\x07"
    assert cs.kem_public_key(kem_priv) == cs.kem_public_key(b"\x07")


# ---- model-specific ---------------------------------------------------------------------


@pytest.mark.parametrize("sid", SUPPORTED_SUITES)
def test_model_oracle_is_per_world(sid: int) -> None:
    """A model world knows only the keys derived in it; the registry is never shared."""
    world_a, world_b = get_suite(sid, "model"), get_suite(sid, "model")
    assert world_a.info.name == "model:" + get_suite(sid).info.name
    rand = SeededRandom(10, "worlds")
    kem = world_a.kem_generate_key_pair(rand)
    sig = world_a.signature_key_pair(rand)
    signature = world_a.sign(sig.priv, b"m")
    with pytest.raises(CryptoError):
        world_b.hpke_seal(kem.pub, INFO, AAD, PLAINTEXT, rand)
    assert not world_b.verify(sig.pub, b"m", signature)
    # ... until that world derives the same keys itself (same private bytes)
    assert world_b.kem_public_key(kem.priv) == kem.pub
    assert world_b.signature_public_key(sig.priv) == sig.pub
    enc, ct = world_b.hpke_seal(kem.pub, INFO, AAD, PLAINTEXT, rand)
    assert world_a.hpke_open(kem.priv, enc, INFO, AAD, ct) == PLAINTEXT
    assert world_b.verify(sig.pub, b"m", signature)
    with pytest.raises(CryptoError):
        world_a.hpke_seal(bytes(world_a.info.kem_pk_len), INFO, AAD, PLAINTEXT, rand)


def test_suites_pickle() -> None:
    """Real suites unpickle to the shared instance; a model world keeps its registry."""
    assert pickle.loads(pickle.dumps(get_suite(1))) is get_suite(1)
    world = get_suite(1, "model")
    rand = SeededRandom(12, "pickle")
    kem, sig = world.kem_generate_key_pair(rand), world.signature_key_pair(rand)
    copy = pickle.loads(pickle.dumps(world))
    enc, ct = copy.hpke_seal(kem.pub, INFO, AAD, PLAINTEXT, rand)
    assert world.hpke_open(kem.priv, enc, INFO, AAD, ct) == PLAINTEXT
    assert copy.verify(sig.pub, b"m", world.sign(sig.priv, b"m"))


def test_model_and_real_sizes_agree() -> None:
    rand = SeededRandom(11, "sizes")
    for sid in SUPPORTED_SUITES:
        real, model = get_suite(sid), get_suite(sid, "model")
        rk, mk = real.kem_generate_key_pair(rand), model.kem_generate_key_pair(rand)
        assert (len(rk.priv), len(rk.pub)) == (len(mk.priv), len(mk.pub))
        rs, ms = real.signature_key_pair(rand), model.signature_key_pair(rand)
        assert (len(rs.priv), len(rs.pub)) == (len(ms.priv), len(ms.pub))
        r_enc, r_ct = real.hpke_seal(rk.pub, INFO, AAD, PLAINTEXT, rand)
        m_enc, m_ct = model.hpke_seal(mk.pub, INFO, AAD, PLAINTEXT, rand)
        assert (len(r_enc), len(r_ct)) == (len(m_enc), len(m_ct))
        if sid not in ECDSA_SUITES:
            assert len(real.sign(rs.priv, b"x")) == len(model.sign(ms.priv, b"x"))


# ---- property tests ---------------------------------------------------------------------

_REAL1 = get_suite(1)


@settings(max_examples=40, deadline=None)
@given(
    family=st.sampled_from(FAMILIES),
    seed=st.integers(0, 2**32),
    info=st.binary(max_size=200),
    aad=st.binary(max_size=64),
    pt=st.binary(max_size=600),
)
def test_hpke_round_trip_property(family: str, seed: int, info: bytes, aad: bytes, pt: bytes) -> None:
    cs = _REAL1 if family == "real" else get_suite(1, "model")
    rand = SeededRandom(seed, "prop")
    kp = cs.kem_generate_key_pair(rand)
    enc, ct = cs.hpke_seal(kp.pub, info, aad, pt, rand)
    assert len(ct) == len(pt) + 16
    assert cs.hpke_open(kp.priv, enc, info, aad, ct) == pt


@settings(max_examples=40, deadline=None)
@given(family=st.sampled_from(FAMILIES), seed=st.integers(0, 2**32), msg=st.binary(max_size=300))
def test_sign_property(family: str, seed: int, msg: bytes) -> None:
    cs = _REAL1 if family == "real" else get_suite(1, "model")
    kp = cs.signature_key_pair(SeededRandom(seed, "prop"))
    sig = cs.sign(kp.priv, msg)
    assert cs.verify(kp.pub, msg, sig)
    assert not cs.verify(kp.pub, msg + b"\x00", sig)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(["sha256", "sha384", "sha512"]),
    key=st.binary(max_size=300),
    msg=st.binary(max_size=300),
)
def test_fast_hmac_matches_stdlib(name: str, key: bytes, msg: bytes) -> None:
    """Our HMAC (used by every HKDF call) equals the standard library's, keys of any length."""
    assert hmac_function(name)(key, msg) == hmac.digest(key, msg, name)
