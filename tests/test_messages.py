"""RFC 9420 wire structs: the ``messages`` vectors, round trips over every struct in the other
vector files, the to-be-signed/MACed/AAD builders checked against the vectors' real
signatures, MACs and ciphertexts, and the structural rules each decoder enforces.

The signature, MAC and AEAD checks use ``cryptography`` directly, in a few lines below, so
that these tests exercise only the encodings in ``mlssim.mls.messages``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from mlssim.mls.codec import Reader, Writer, decode, encode
from mlssim.mls.errors import DecodeError
from mlssim.mls.messages import (
    Add,
    ApplicationId,
    AuthenticatedContent,
    Capabilities,
    Certificate,
    Commit,
    ContentType,
    Credential,
    CredentialType,
    EncryptedGroupSecrets,
    Extension,
    ExternalInit,
    ExternalPub,
    ExternalSender,
    ExternalSenders,
    FramedContent,
    FramedContentAuthData,
    GroupContext,
    GroupContextExtensions,
    GroupInfo,
    GroupSecrets,
    HPKECiphertext,
    IndividualCommit,
    IndividualUpdatePath,
    KeyPackage,
    LeafNode,
    LeafNodeSource,
    Lifetime,
    MLSMessage,
    Node,
    ParentNode,
    PathSecret,
    PreSharedKey,
    PreSharedKeyID,
    PrivateMessage,
    PrivateMessageContent,
    Proposal,
    ProposalOrRef,
    ProposalOrRefType,
    ProposalType,
    PSKType,
    PublicMessage,
    ReInit,
    Remove,
    RequiredCapabilities,
    SCommit,
    Sender,
    SenderData,
    SenderType,
    SHeader,
    SUpdatePath,
    Update,
    UpdatePath,
    UpdatePathNode,
    Welcome,
    WireFormat,
    authenticated_content_tbm,
    confirmed_transcript_hash_input,
    decode_body,
    decode_private_message_content,
    decode_ratchet_tree,
    encode_body,
    encode_ratchet_tree,
    framed_content_tbs,
    group_info_tbs,
    interim_transcript_hash_input,
    key_package_tbs,
    leaf_node_tbs,
    private_content_aad,
    sender_data_aad,
)
from mlssim.vectors import load_cases, run_file
from mlssim.vectors import messages as messages_runner

from .conftest import vector_dir

# --------------------------------------------------------------------------- vector files


def _cases(stem: str) -> list[dict[str, Any]]:
    d = vector_dir()
    if d is None or not (d / f"{stem}.json").exists():
        pytest.skip(f"{stem}.json not available")
    return load_cases(d / f"{stem}.json")


def _mls(data: bytes, wire_format: WireFormat) -> MLSMessage:
    msg = decode(MLSMessage, data)
    assert msg.wire_format == wire_format
    assert encode(msg) == data
    return msg


# ------------------------------------------------------------------------- messages.json


def test_messages_vector_all_cases_pass(vectors_path: Path) -> None:
    results = list(run_file(vectors_path / "messages.json"))
    assert len(results) == 300
    bad = [(r.index, r.messages) for r in results if r.status != "passed"]
    assert not bad, bad[:3]


def test_messages_runner_reports_each_bad_field() -> None:
    case = dict(_cases("messages")[0])
    assert messages_runner.check(case) == []
    case["commit"] = case["commit"] + "00"  # trailing byte: decode must refuse
    case["remove_proposal"] = case["remove_proposal"][:-2]  # truncated
    case["mls_welcome"] = case["mls_group_info"]  # decodes, but as the wrong kind
    del case["private_message"]
    errors = messages_runner.check(case)
    assert len(errors) == 4, errors
    for name in ("commit", "remove_proposal", "mls_welcome", "private_message"):
        assert any(e.startswith(name + ":") for e in errors), (name, errors)


def test_messages_runner_reports_public_message_of_wrong_content_type() -> None:
    case = dict(_cases("messages")[0])
    case["public_message_commit"] = case["public_message_proposal"]
    errors = messages_runner.check(case)
    assert len(errors) == 1 and "content_type" in errors[0]


def test_messages_vector_has_every_proposal_type_and_all_wire_formats() -> None:
    """The round trips above must have exercised each select arm, or they prove little."""
    seen_wf: set[WireFormat] = set()
    seen_sender: set[SenderType] = set()
    paths = 0
    for case in _cases("messages"):
        for f in ("mls_welcome", "mls_group_info", "mls_key_package", "private_message"):
            seen_wf.add(decode(MLSMessage, bytes.fromhex(case[f])).wire_format)
        for f in ("public_message_application", "public_message_proposal", "public_message_commit"):
            body = decode(MLSMessage, bytes.fromhex(case[f])).body
            assert isinstance(body, PublicMessage)
            seen_wf.add(WireFormat.PUBLIC_MESSAGE)
            seen_sender.add(body.content.sender.sender_type)
        paths += decode(Commit, bytes.fromhex(case["commit"])).path is not None
    # the official vectors cover RFC 9420's five; the split-commit draft's two are tested below
    assert seen_wf == set(WireFormat) - {WireFormat.MLS_SCOMMIT, WireFormat.MLS_INDIVIDUAL_COMMIT}
    assert paths > 0
    assert SenderType.MEMBER in seen_sender


def test_extension_payloads_in_messages_vector_round_trip() -> None:
    """GroupInfo carries ratchet_tree and external_pub, its GroupContext required_capabilities."""
    seen: set[int] = set()
    for case in _cases("messages"):
        gi = decode(MLSMessage, bytes.fromhex(case["mls_group_info"])).body
        assert isinstance(gi, GroupInfo)
        for e in (*gi.extensions, *gi.group_context.extensions):
            seen.add(e.extension_type)
            if e.extension_type == 2:
                again = encode_ratchet_tree(decode_ratchet_tree(e.extension_data))
            elif e.extension_type == 3:
                again = encode(decode(RequiredCapabilities, e.extension_data))
            elif e.extension_type == 4:
                again = encode(decode(ExternalPub, e.extension_data))
            else:
                continue
            assert again == e.extension_data
    assert seen >= {2, 3, 4}


# ---------------------------------------------------- round trips over the other vectors


def _round_trip_mls(wire_format: WireFormat | None = None) -> Callable[[bytes], bytes]:
    def f(data: bytes) -> bytes:
        msg = decode(MLSMessage, data)
        if wire_format is not None:
            assert msg.wire_format == wire_format
        else:
            assert msg.wire_format in (WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE)
        return encode(msg)

    return f


def _rt_tree(data: bytes) -> bytes:
    return encode_ratchet_tree(decode_ratchet_tree(data))


def _rt(cls: Any) -> Callable[[bytes], bytes]:
    return lambda data: encode(decode(cls, data))


def _blobs(stem: str) -> Iterator[tuple[str, Callable[[bytes], bytes], str]]:
    """(where, round trip, hex) for every struct-valued field of one vector file."""
    kp, welcome, priv = (
        _round_trip_mls(WireFormat.KEY_PACKAGE),
        _round_trip_mls(WireFormat.WELCOME),
        _round_trip_mls(WireFormat.PRIVATE_MESSAGE),
    )
    pub, framed = _round_trip_mls(WireFormat.PUBLIC_MESSAGE), _round_trip_mls()
    for i, c in enumerate(_cases(stem)):
        at = f"{stem}[{i}]"
        if stem == "welcome":
            yield f"{at}.key_package", kp, c["key_package"]
            yield f"{at}.welcome", welcome, c["welcome"]
        elif stem == "message-protection":
            yield f"{at}.proposal", _rt(Proposal), c["proposal"]
            yield f"{at}.commit", _rt(Commit), c["commit"]
            for f in ("proposal_pub", "commit_pub"):
                yield f"{at}.{f}", pub, c[f]
            for f in ("proposal_priv", "commit_priv", "application_priv"):
                yield f"{at}.{f}", priv, c[f]
        elif stem == "tree-validation":
            yield f"{at}.tree", _rt_tree, c["tree"]
        elif stem == "tree-operations":
            yield f"{at}.tree_before", _rt_tree, c["tree_before"]
            yield f"{at}.tree_after", _rt_tree, c["tree_after"]
            yield f"{at}.proposal", _rt(Proposal), c["proposal"]
        elif stem == "treekem":
            yield f"{at}.ratchet_tree", _rt_tree, c["ratchet_tree"]
            for j, up in enumerate(c["update_paths"]):
                yield f"{at}.update_paths[{j}]", _rt(UpdatePath), up["update_path"]
        elif stem == "transcript-hashes":
            yield f"{at}.authenticated_content", _rt(AuthenticatedContent), c["authenticated_content"]
        else:  # passive-client-*
            yield f"{at}.key_package", kp, c["key_package"]
            yield f"{at}.welcome", welcome, c["welcome"]
            if c.get("ratchet_tree"):
                yield f"{at}.ratchet_tree", _rt_tree, c["ratchet_tree"]
            for e, ep in enumerate(c["epochs"]):
                for k, p in enumerate(ep["proposals"]):
                    yield f"{at}.epochs[{e}].proposals[{k}]", framed, p
                yield f"{at}.epochs[{e}].commit", framed, ep["commit"]


OTHER_FILES = [
    "welcome",
    "message-protection",
    "tree-validation",
    "tree-operations",
    "treekem",
    "transcript-hashes",
    "passive-client-welcome",
    "passive-client-handling-commit",
    "passive-client-random",
]


@pytest.mark.parametrize("stem", OTHER_FILES)
def test_every_struct_in_other_vector_files_round_trips(stem: str) -> None:
    failures: list[str] = []
    n = 0
    for where, round_trip, hexdata in _blobs(stem):
        data = bytes.fromhex(hexdata)
        n += 1
        try:
            again = round_trip(data)
        except (DecodeError, AssertionError) as exc:
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
            continue
        if again != data:
            failures.append(f"{where}: re-encodes differently")
    assert n > 0
    assert not failures, f"{len(failures)} of {n}: {failures[:5]}"


# ------------------------------------- builders checked against real signatures and MACs

_HASH = {1: "sha256", 2: "sha256", 3: "sha256", 4: "sha512", 5: "sha512", 6: "sha512", 7: "sha384"}
_ECDSA = {
    2: (ec.SECP256R1(), hashes.SHA256()),
    5: (ec.SECP521R1(), hashes.SHA512()),
    7: (ec.SECP384R1(), hashes.SHA384()),
}


def _labeled(label: str, content: bytes) -> bytes:
    w = Writer()
    w.push_opaque(b"MLS 1.0 " + label.encode())
    w.push_opaque(content)
    return w.data()


def _verify(suite: int, pub: bytes, label: str, content: bytes, sig: bytes) -> bool:
    """§5.1.2 VerifyWithLabel for the seven suites."""
    msg = _labeled(label, content)
    try:
        if suite in (1, 3):
            ed25519.Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        elif suite in (4, 6):
            ed448.Ed448PublicKey.from_public_bytes(pub).verify(sig, msg)
        else:
            curve, hash_alg = _ECDSA[suite]
            ec.EllipticCurvePublicKey.from_encoded_point(curve, pub).verify(sig, msg, ec.ECDSA(hash_alg))
    except InvalidSignature:
        return False
    return True


def test_signature_check_can_fail() -> None:
    c = _cases("welcome")[0]
    kp = decode(MLSMessage, bytes.fromhex(c["key_package"])).body
    assert isinstance(kp, KeyPackage)
    tbs = key_package_tbs(kp)
    assert _verify(c["cipher_suite"], kp.leaf_node.signature_key, "KeyPackageTBS", tbs, kp.signature)
    assert not _verify(
        c["cipher_suite"], kp.leaf_node.signature_key, "KeyPackageTBS", tbs + b"\0", kp.signature
    )


def _key_packages() -> Iterator[tuple[int, KeyPackage]]:
    for stem in ("welcome", "passive-client-welcome", "passive-client-handling-commit"):
        for c in _cases(stem):
            kp = decode(MLSMessage, bytes.fromhex(c["key_package"])).body
            assert isinstance(kp, KeyPackage)
            yield c["cipher_suite"], kp


def test_key_package_and_leaf_node_tbs_verify() -> None:
    """KeyPackageTBS (§10) and a key_package LeafNodeTBS (§7.2) are what the vectors signed."""
    n = 0
    for suite, kp in _key_packages():
        ln = kp.leaf_node
        assert _verify(suite, ln.signature_key, "KeyPackageTBS", key_package_tbs(kp), kp.signature)
        assert _verify(suite, ln.signature_key, "LeafNodeTBS", leaf_node_tbs(ln), ln.signature)
        n += 1
    assert n >= 7


def test_tree_leaf_node_tbs_verify_with_group_id_and_leaf_index() -> None:
    """Update/commit leaves sign group_id and leaf_index too (§7.2): all tree-validation leaves."""
    sources: set[LeafNodeSource] = set()
    n = 0
    for c in _cases("tree-validation"):
        suite, group_id = c["cipher_suite"], bytes.fromhex(c["group_id"])
        tree = decode_ratchet_tree(bytes.fromhex(c["tree"]))
        for i in range(0, len(tree), 2):
            leaf = tree[i]
            if leaf is None:
                continue
            assert isinstance(leaf, LeafNode)
            sources.add(leaf.leaf_node_source)
            if leaf.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
                tbs = leaf_node_tbs(leaf)
            else:
                tbs = leaf_node_tbs(leaf, group_id, i // 2)
            assert _verify(suite, leaf.signature_key, "LeafNodeTBS", tbs, leaf.signature), (c["tree"][:20], i)
            n += 1
    assert n > 100
    assert LeafNodeSource.COMMIT in sources


def _group_context(c: dict[str, Any]) -> GroupContext:
    return GroupContext(
        cipher_suite=c["cipher_suite"],
        group_id=bytes.fromhex(c["group_id"]),
        epoch=c["epoch"],
        tree_hash=bytes.fromhex(c["tree_hash"]),
        confirmed_transcript_hash=bytes.fromhex(c["confirmed_transcript_hash"]),
    )


def test_public_message_tbs_and_tbm_verify() -> None:
    """FramedContentTBS (§6.1) signs and AuthenticatedContentTBM (§6.2) MACs as in the vectors."""
    for c in _cases("message-protection"):
        suite, ctx = c["cipher_suite"], _group_context(c)
        for f in ("proposal_pub", "commit_pub"):
            pm = decode(MLSMessage, bytes.fromhex(c[f])).body
            assert isinstance(pm, PublicMessage)
            tbs = framed_content_tbs(WireFormat.PUBLIC_MESSAGE, pm.content, ctx)
            sig_pub = bytes.fromhex(c["signature_pub"])
            assert _verify(suite, sig_pub, "FramedContentTBS", tbs, pm.auth.signature), f
            tbm = authenticated_content_tbm(tbs, pm.auth)
            tag = hmac.new(bytes.fromhex(c["membership_key"]), tbm, _HASH[suite]).digest()
            assert tag == pm.membership_tag, f
            # the inner content is the raw proposal / commit of the vector
            raw = encode(pm.content.proposal) if f == "proposal_pub" else encode(pm.content.commit)  # type: ignore[arg-type]
            assert raw == bytes.fromhex(c[f.removesuffix("_pub")])


def test_transcript_hash_inputs() -> None:
    """ConfirmedTranscriptHashInput and InterimTranscriptHashInput (§8.2) hash to the vectors."""
    for c in _cases("transcript-hashes"):
        ac = decode(AuthenticatedContent, bytes.fromhex(c["authenticated_content"]))
        assert ac.auth.confirmation_tag is not None
        h = _HASH[c["cipher_suite"]]
        interim_before = bytes.fromhex(c["interim_transcript_hash_before"])
        confirmed = hashlib.new(h, interim_before + confirmed_transcript_hash_input(ac)).digest()
        assert confirmed.hex() == c["confirmed_transcript_hash_after"]
        interim = hashlib.new(h, confirmed + interim_transcript_hash_input(ac.auth.confirmation_tag)).digest()
        assert interim.hex() == c["interim_transcript_hash_after"]
    with pytest.raises(ValueError):
        confirmed_transcript_hash_input(
            AuthenticatedContent(
                wire_format=WireFormat.PUBLIC_MESSAGE,
                content=_content(ContentType.PROPOSAL),
                auth=_auth(ContentType.PROPOSAL),
            )
        )


# ------------------------------------------------------- private messages, opened for real

_AEAD: dict[int, tuple[Any, int]] = {
    1: (AESGCM, 16),
    2: (AESGCM, 16),
    3: (ChaCha20Poly1305, 32),
    4: (AESGCM, 32),
    5: (AESGCM, 32),
    6: (ChaCha20Poly1305, 32),
    7: (AESGCM, 32),
}


def _expand_with_label(suite: int, secret: bytes, label: str, context: bytes, length: int) -> bytes:
    w = Writer()
    w.push_uint16(length)
    w.push_opaque(b"MLS 1.0 " + label.encode())
    w.push_opaque(context)
    algo = getattr(hashes, _HASH[suite].upper())()
    return HKDFExpand(algo, length, w.data()).derive(secret)


def _open(suite: int, key: bytes, nonce: bytes, aad: bytes, ct: bytes) -> bytes:
    return bytes(_AEAD[suite][0](key).decrypt(nonce, ct, aad))


def _open_private(c: dict[str, Any], pm: PrivateMessage) -> tuple[SenderData, PrivateMessageContent]:
    """§6.3: sender data, then content, for leaf 1 of the 2-leaf secret tree (§9)."""
    suite = c["cipher_suite"]
    nh, nk = hashlib.new(_HASH[suite]).digest_size, _AEAD[suite][1]
    sample = pm.ciphertext[:nh]
    sd_secret = bytes.fromhex(c["sender_data_secret"])
    sd_key = _expand_with_label(suite, sd_secret, "key", sample, nk)
    sd_nonce = _expand_with_label(suite, sd_secret, "nonce", sample, 12)
    sd_aad = sender_data_aad(pm.group_id, pm.epoch, pm.content_type)
    sender_data = decode(SenderData, _open(suite, sd_key, sd_nonce, sd_aad, pm.encrypted_sender_data))
    leaf_secret = _expand_with_label(suite, bytes.fromhex(c["encryption_secret"]), "tree", b"right", nh)
    label = "application" if pm.content_type == ContentType.APPLICATION else "handshake"
    secret = _expand_with_label(suite, leaf_secret, label, b"", nh)
    for g in range(sender_data.generation):
        secret = _expand_with_label(suite, secret, "secret", g.to_bytes(4, "big"), nh)
    gen = sender_data.generation.to_bytes(4, "big")
    key = _expand_with_label(suite, secret, "key", gen, nk)
    nonce = bytearray(_expand_with_label(suite, secret, "nonce", gen, 12))
    for i in range(4):
        nonce[i] ^= sender_data.reuse_guard[i]
    aad = private_content_aad(pm.group_id, pm.epoch, pm.content_type, pm.authenticated_data)
    plain = _open(suite, key, bytes(nonce), aad, pm.ciphertext)
    return sender_data, decode_private_message_content(plain, pm.content_type)


def test_private_message_aads_and_content_open_and_verify() -> None:
    """SenderDataAAD and PrivateContentAAD (§6.3) authenticate the vectors' ciphertexts;
    the plaintext decodes as PrivateMessageContent and its FramedContentTBS verifies."""
    for c in _cases("message-protection"):
        suite, ctx = c["cipher_suite"], _group_context(c)
        for f in ("proposal_priv", "commit_priv", "application_priv"):
            pm = decode(MLSMessage, bytes.fromhex(c[f])).body
            assert isinstance(pm, PrivateMessage)
            sender_data, pmc = _open_private(c, pm)
            assert sender_data.leaf_index == 1
            content = pmc.framed_content(
                pm.group_id, pm.epoch, Sender.member(sender_data.leaf_index), pm.authenticated_data
            )
            tbs = framed_content_tbs(WireFormat.PRIVATE_MESSAGE, content, ctx)
            assert _verify(
                suite, bytes.fromhex(c["signature_pub"]), "FramedContentTBS", tbs, pmc.auth.signature
            )
            raw = bytes.fromhex(c[f.removesuffix("_priv")])
            if f == "application_priv":
                assert pmc.application_data == raw
            elif f == "proposal_priv":
                assert pmc.proposal is not None and encode(pmc.proposal) == raw
            else:
                assert pmc.commit is not None and encode(pmc.commit) == raw
            # a wrong AAD must not authenticate: the builders are what make these pass
            with pytest.raises(InvalidTag):
                bad = replace(pm, authenticated_data=pm.authenticated_data + b"x")
                _open_private(c, bad)


# ----------------------------------------------------------------- hand-built structs

LEAF_KP = LeafNode(
    encryption_key=b"E" * 32,
    signature_key=b"S" * 32,
    credential=Credential.basic(b"alice"),
    capabilities=Capabilities(versions=(1,), cipher_suites=(1, 0x0A0A), credentials=(1,)),
    leaf_node_source=LeafNodeSource.KEY_PACKAGE,
    lifetime=Lifetime(not_before=0, not_after=2**64 - 1),
    extensions=(Extension(extension_type=0x0A0A, extension_data=b""),),
    signature=b"sig",
)
LEAF_COMMIT = replace(LEAF_KP, leaf_node_source=LeafNodeSource.COMMIT, lifetime=None, parent_hash=b"ph")
KP = KeyPackage(cipher_suite=1, init_key=b"I" * 32, leaf_node=LEAF_KP, signature=b"kpsig")
CTX = GroupContext(cipher_suite=1, group_id=b"g", epoch=7, tree_hash=b"t", confirmed_transcript_hash=b"c")
PSK = PreSharedKeyID(psktype=PSKType.EXTERNAL, psk_id=b"id", psk_nonce=b"n")
PATH = UpdatePath(
    leaf_node=LEAF_COMMIT,
    nodes=(
        UpdatePathNode(
            encryption_key=b"k", encrypted_path_secret=(HPKECiphertext(kem_output=b"o", ciphertext=b"c"),)
        ),
    ),
)
COMMIT = Commit(
    proposals=(ProposalOrRef(proposal=Remove(removed=3)), ProposalOrRef(reference=b"r" * 32)),
    path=PATH,
)

SHEADER = SHeader(proposals=COMMIT.proposals, leaf_node=LEAF_COMMIT, epoch_identifier=b"e" * 32)


def _content(content_type: ContentType, sender: Sender | None = None) -> FramedContent:
    bodies: dict[ContentType, dict[str, Any]] = {
        ContentType.APPLICATION: {"application_data": b"hello"},
        ContentType.PROPOSAL: {"proposal": Add(key_package=KP)},
        ContentType.COMMIT: {"commit": COMMIT},
        ContentType.SHEADER: {"sheader": SHEADER},
    }
    body = bodies[content_type]
    return FramedContent(
        group_id=b"g", epoch=7, sender=sender or Sender.member(2), content_type=content_type, **body
    )


def _auth(content_type: ContentType) -> FramedContentAuthData:
    tag = b"T" * 32 if content_type == ContentType.COMMIT else None
    return FramedContentAuthData(signature=b"s" * 64, confirmation_tag=tag)


ALL_STRUCTS: list[Any] = [
    Credential.basic(b"bob"),
    Credential.x509((Certificate(cert_data=b"der1"), Certificate(cert_data=b"der2"))),
    LEAF_KP,
    LEAF_COMMIT,
    replace(LEAF_KP, leaf_node_source=LeafNodeSource.UPDATE, lifetime=None),
    ParentNode(encryption_key=b"p", parent_hash=b"h", unmerged_leaves=(0, 2**32 - 1)),
    KP,
    PATH,
    Add(key_package=KP),
    Update(leaf_node=replace(LEAF_KP, leaf_node_source=LeafNodeSource.UPDATE, lifetime=None)),
    Remove(removed=2**32 - 1),
    PreSharedKey(psk=PSK),
    ReInit(group_id=b"new", cipher_suite=3, extensions=(Extension(extension_type=1, extension_data=b"x"),)),
    ExternalInit(kem_output=b"kem"),
    GroupContextExtensions(extensions=()),
    COMMIT,
    Commit(),
    GroupInfo(group_context=CTX, confirmation_tag=b"t", signer=4, signature=b"s"),
    GroupSecrets(joiner_secret=b"j", path_secret=PathSecret(path_secret=b"p"), psks=(PSK, PSK)),
    GroupSecrets(joiner_secret=b"j"),
    Welcome(
        cipher_suite=1,
        secrets=(
            EncryptedGroupSecrets(
                new_member=b"ref", encrypted_group_secrets=HPKECiphertext(kem_output=b"o", ciphertext=b"c")
            ),
        ),
        encrypted_group_info=b"egi",
    ),
    SenderData(leaf_index=5, generation=9, reuse_guard=b"\x01\x02\x03\x04"),
    PrivateMessage(
        group_id=b"g", epoch=1, content_type=ContentType.COMMIT, encrypted_sender_data=b"e", ciphertext=b"c"
    ),
    Sender.external(3),
    Sender.new_member_commit(),
    ApplicationId(application_id=b"app"),
    ExternalSenders(
        senders=(
            ExternalSender(signature_key=b"k1", credential=Credential.basic(b"ds")),
            ExternalSender(signature_key=b"k2", credential=Credential.x509((Certificate(cert_data=b"c"),))),
        )
    ),
    RequiredCapabilities(extension_types=(5,), proposal_types=(7, 8), credential_types=(2,)),
    ExternalPub(external_pub=b"pub"),
] + [
    AuthenticatedContent(wire_format=WireFormat.PRIVATE_MESSAGE, content=_content(ct), auth=_auth(ct))
    for ct in ContentType
]


@pytest.mark.parametrize("obj", ALL_STRUCTS, ids=lambda o: type(o).__name__)
def test_hand_built_struct_round_trips_and_is_hashable(obj: Any) -> None:
    data = encode(obj)
    again = decode(type(obj), data)
    assert again == obj
    assert hash(again) == hash(obj)
    with pytest.raises(FrozenInstanceError):
        setattr(obj, fields(obj)[0].name, b"")
    for cut in (len(data) - 1, len(data) // 2):
        with pytest.raises(DecodeError):
            decode(type(obj), data[:cut])
    with pytest.raises(DecodeError):
        decode(type(obj), data + b"\0")


@pytest.mark.parametrize("content_type", list(ContentType))
@pytest.mark.parametrize("sender", [Sender.member(2), Sender.external(0), Sender.new_member_commit()])
def test_mls_message_public_round_trip(content_type: ContentType, sender: Sender) -> None:
    if sender.sender_type == SenderType.NEW_MEMBER_COMMIT and content_type != ContentType.COMMIT:
        sender = Sender.new_member_proposal()
    tag = b"M" * 32 if sender.sender_type == SenderType.MEMBER else None
    pm = PublicMessage(content=_content(content_type, sender), auth=_auth(content_type), membership_tag=tag)
    msg = MLSMessage(body=pm)
    data = encode(msg)
    assert data[:4] == b"\x00\x01\x00\x01"
    assert decode(MLSMessage, data) == msg
    assert decode(PublicMessage, data[4:]) == pm


@pytest.mark.parametrize(
    ("body", "wire_format"),
    [
        (KP, WireFormat.KEY_PACKAGE),
        (Welcome(cipher_suite=1, encrypted_group_info=b""), WireFormat.WELCOME),
        (GroupInfo(group_context=CTX, confirmation_tag=b"", signer=0), WireFormat.GROUP_INFO),
    ],
)
def test_mls_message_wire_format_follows_body(body: Any, wire_format: WireFormat) -> None:
    msg = MLSMessage(body=body)
    assert msg.wire_format == wire_format
    assert encode(msg)[2:4] == wire_format.to_bytes(2, "big")
    with pytest.raises(ValueError):
        MLSMessage(body=Commit())  # type: ignore[arg-type]


def test_proposal_is_a_tagged_union_and_body_is_bare() -> None:
    rm = Remove(removed=0x01020304)
    assert encode(rm) == b"\x00\x03\x01\x02\x03\x04"
    assert encode_body(rm) == b"\x01\x02\x03\x04"
    assert decode(Proposal, encode(rm)) == rm
    assert decode(Remove, encode(rm)) == rm
    assert decode_body(Remove, b"\x01\x02\x03\x04") == rm
    with pytest.raises(DecodeError, match="expected a Add"):
        decode(Add, encode(rm))
    for bad in (b"\x00\x00", b"\x00\x08", b"\x0a\x0a"):  # reserved, unknown, GREASE proposal types
        with pytest.raises(DecodeError, match="ProposalType"):
            decode(Proposal, bad + b"\0\0\0\0")
    assert {cls.proposal_type for cls in (Add, Update, Remove, PreSharedKey, ReInit, ExternalInit)} | {
        GroupContextExtensions.proposal_type
    } == set(ProposalType)


def test_proposal_or_ref_exactly_one() -> None:
    assert ProposalOrRef(reference=b"").type == ProposalOrRefType.REFERENCE
    assert ProposalOrRef(proposal=Remove(removed=1)).type == ProposalOrRefType.PROPOSAL
    with pytest.raises(ValueError):
        ProposalOrRef()
    with pytest.raises(ValueError):
        ProposalOrRef(proposal=Remove(removed=1), reference=b"r")
    with pytest.raises(DecodeError):
        decode(ProposalOrRef, b"\x03\x00")


def test_unknown_credential_type_is_a_decode_error() -> None:
    assert encode(Credential.basic(b"a")) == b"\x00\x01\x01a"
    with pytest.raises(DecodeError, match="CredentialType"):
        decode(Credential, b"\x0a\x0a\x01a")
    with pytest.raises(ValueError):
        Credential(credential_type=CredentialType.BASIC, certificates=(Certificate(cert_data=b""),))
    with pytest.raises(ValueError):
        Credential(credential_type=CredentialType.X509, identity=b"a")


def test_leaf_node_source_invariants() -> None:
    with pytest.raises(ValueError):
        replace(LEAF_KP, lifetime=None)
    with pytest.raises(ValueError):
        replace(LEAF_COMMIT, lifetime=Lifetime(not_before=0, not_after=1))
    with pytest.raises(ValueError):
        replace(LEAF_KP, parent_hash=b"x")
    assert LEAF_KP.capabilities.cipher_suites == (1, 0x0A0A)  # GREASE kept as plain ints


def test_leaf_node_tbs_layout() -> None:
    data = encode(LEAF_KP)
    assert leaf_node_tbs(LEAF_KP) + b"\x03sig" == data
    tbs = leaf_node_tbs(LEAF_COMMIT, b"grp", 5)
    assert tbs == encode(LEAF_COMMIT)[: -len(b"\x03sig")] + b"\x03grp\x00\x00\x00\x05"
    with pytest.raises(ValueError):
        leaf_node_tbs(LEAF_COMMIT)
    with pytest.raises(ValueError):
        leaf_node_tbs(LEAF_KP, b"grp", 5)


def test_key_package_and_group_info_tbs_are_all_but_the_signature() -> None:
    assert key_package_tbs(KP) + b"\x05kpsig" == encode(KP)
    gi = GroupInfo(group_context=CTX, confirmation_tag=b"t", signer=4, signature=b"sig")
    assert group_info_tbs(gi) + b"\x03sig" == encode(gi)
    assert group_info_tbs(gi).endswith(b"\x01t\x00\x00\x00\x04")


def test_framed_content_tbs_has_context_only_for_member_and_new_member_commit() -> None:
    for sender, with_ctx in [
        (Sender.member(1), True),
        (Sender.new_member_commit(), True),
        (Sender.external(1), False),
        (Sender.new_member_proposal(), False),
    ]:
        ct = (
            ContentType.COMMIT if sender.sender_type == SenderType.NEW_MEMBER_COMMIT else ContentType.PROPOSAL
        )
        content = _content(ct, sender)
        head = b"\x00\x01\x00\x02" + encode(content)
        tbs = framed_content_tbs(WireFormat.PRIVATE_MESSAGE, content, CTX)
        assert tbs == (head + encode(CTX) if with_ctx else head)
        if with_ctx:
            with pytest.raises(ValueError):
                framed_content_tbs(WireFormat.PRIVATE_MESSAGE, content, None)
        else:
            assert framed_content_tbs(WireFormat.PRIVATE_MESSAGE, content, None) == head


def test_authenticated_content_tbm_and_aads() -> None:
    auth = _auth(ContentType.COMMIT)
    assert authenticated_content_tbm(b"TBS", auth) == b"TBS" + encode(auth)
    assert sender_data_aad(b"gg", 258, ContentType.PROPOSAL) == b"\x02gg" + (258).to_bytes(8, "big") + b"\x02"
    assert (
        private_content_aad(b"gg", 1, ContentType.APPLICATION, b"ad")
        == b"\x02gg" + (1).to_bytes(8, "big") + b"\x01\x02ad"
    )


def test_confirmation_tag_iff_commit_and_membership_tag_iff_member() -> None:
    with pytest.raises(ValueError):
        AuthenticatedContent(
            wire_format=WireFormat.PUBLIC_MESSAGE,
            content=_content(ContentType.COMMIT),
            auth=FramedContentAuthData(signature=b""),
        )
    with pytest.raises(ValueError):
        PublicMessage(
            content=_content(ContentType.PROPOSAL), auth=_auth(ContentType.COMMIT), membership_tag=b""
        )
    with pytest.raises(ValueError):
        PublicMessage(content=_content(ContentType.PROPOSAL), auth=_auth(ContentType.PROPOSAL))
    with pytest.raises(ValueError):
        PublicMessage(
            content=_content(ContentType.PROPOSAL, Sender.external(0)),
            auth=_auth(ContentType.PROPOSAL),
            membership_tag=b"",
        )
    with pytest.raises(ValueError):
        AuthenticatedContent(
            wire_format=WireFormat.WELCOME,
            content=_content(ContentType.PROPOSAL),
            auth=_auth(ContentType.PROPOSAL),
        )


def test_framed_content_exactly_its_own_field() -> None:
    with pytest.raises(ValueError):
        FramedContent(group_id=b"", epoch=0, sender=Sender.member(0), content_type=ContentType.COMMIT)
    with pytest.raises(ValueError):
        replace(_content(ContentType.PROPOSAL), commit=Commit())
    with pytest.raises(ValueError):
        replace(_content(ContentType.APPLICATION), proposal=Remove(removed=0))


def test_sender_rules() -> None:
    assert encode(Sender.member(1)) == b"\x01\x00\x00\x00\x01"
    assert encode(Sender.new_member_proposal()) == b"\x03"
    with pytest.raises(ValueError):
        Sender(sender_type=SenderType.NEW_MEMBER_COMMIT, index=1)
    with pytest.raises(ValueError):
        Sender.member(2**32)
    with pytest.raises(DecodeError):
        decode(Sender, b"\x05")


def test_split_commit_bodies_round_trip() -> None:
    """draft-mularczyk-mls-splitcommit §3: SCommit and IndividualCommit travel as MLSMessages
    under their own wire formats, each carrying a framed SHeader."""
    sheader = MLSMessage(
        body=PublicMessage(
            content=_content(ContentType.SHEADER), auth=_auth(ContentType.SHEADER), membership_tag=b"M" * 32
        )
    )
    ct = HPKECiphertext(kem_output=b"o", ciphertext=b"c")
    bodies = [
        (SCommit(sheader=sheader, path=SUpdatePath(nodes=PATH.nodes)), WireFormat.MLS_SCOMMIT),
        (SCommit(sheader=sheader), WireFormat.MLS_SCOMMIT),
        (
            IndividualCommit(
                sheader=sheader, path=IndividualUpdatePath(encrypted_path_secret=ct, new_pks=(b"a", b"bb"))
            ),
            WireFormat.MLS_INDIVIDUAL_COMMIT,
        ),
        (IndividualCommit(sheader=sheader), WireFormat.MLS_INDIVIDUAL_COMMIT),
    ]
    for body, wire_format in bodies:
        msg = MLSMessage(body=body)
        data = encode(msg)
        assert data[2:4] == wire_format.to_bytes(2, "big")
        assert decode(MLSMessage, data) == msg
        with pytest.raises(DecodeError):
            decode(MLSMessage, data[:-1])
    # the header is signed without a confirmation tag (draft §3, FramedContentAuthData)
    assert _auth(ContentType.SHEADER).confirmation_tag is None
    with pytest.raises(ValueError):
        AuthenticatedContent(
            wire_format=WireFormat.PUBLIC_MESSAGE,
            content=_content(ContentType.SHEADER),
            auth=FramedContentAuthData(signature=b"s", confirmation_tag=b"T"),
        )


def test_sender_data_reuse_guard_is_four_bytes() -> None:
    with pytest.raises(ValueError):
        SenderData(leaf_index=0, generation=0, reuse_guard=b"abc")
    assert len(encode(SenderData(leaf_index=0, generation=0, reuse_guard=b"abcd"))) == 12


@pytest.mark.parametrize("content_type", list(ContentType))
def test_private_message_content_padding(content_type: ContentType) -> None:
    fc = _content(content_type)
    pmc = PrivateMessageContent(
        content_type=content_type,
        application_data=fc.application_data,
        proposal=fc.proposal,
        commit=fc.commit,
        sheader=fc.sheader,
        auth=_auth(content_type),
        padding=37,
    )
    data = encode(pmc)
    assert data.endswith(bytes(37))
    assert decode_private_message_content(data, content_type) == pmc
    assert decode_private_message_content(data[:-37], content_type) == replace(pmc, padding=0)
    for pos in (len(data) - 1, len(data) - 37):
        bad = bytearray(data)
        bad[pos] = 1
        with pytest.raises(DecodeError, match="padding"):
            decode_private_message_content(bytes(bad), content_type)
    with pytest.raises(ValueError):
        replace(pmc, padding=-1)


def _tree_bytes(nodes: list[Node | None]) -> bytes:
    w = Writer()
    w.push_vector(nodes, lambda w2, n: w2.push_optional(n, _push_node_any))
    return w.data()


def _push_node_any(w: Writer, n: Any) -> None:
    w.push_uint8(1 if isinstance(n, LeafNode) else 2)
    n.push(w)


def test_ratchet_tree_structure_rules() -> None:
    parent = ParentNode(encryption_key=b"p")
    tree: list[Node | None] = [LEAF_KP, parent, LEAF_COMMIT, None, None]
    data = encode_ratchet_tree(tree)
    assert decode_ratchet_tree(data) == tree[:3]  # trailing blanks are not sent (§12.4.3.3)
    assert data == _tree_bytes(tree[:3])
    sparse: list[Node | None] = [None, None, LEAF_KP, parent]
    assert decode_ratchet_tree(_tree_bytes(sparse)) == sparse
    for bad in ([LEAF_KP, None], [parent], [LEAF_KP, LEAF_KP, LEAF_KP], [], [None, LEAF_KP]):
        with pytest.raises(DecodeError):
            decode_ratchet_tree(_tree_bytes(bad))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_ratchet_tree([None, None])


def test_integer_vectors_need_whole_items() -> None:
    with pytest.raises(DecodeError):
        decode(Capabilities, b"\x01\x00" + b"\x00" * 4)
    with pytest.raises(DecodeError):
        decode(ParentNode, b"\x00\x00\x03\x00\x00\x00")
    assert decode(ParentNode, b"\x00\x00\x04\x00\x00\x00\x07").unmerged_leaves == (7,)


def test_pull_leaves_the_rest_and_content_type_is_required() -> None:
    r = Reader(encode(Remove(removed=9)) + b"rest")
    assert Proposal.pull(r) == Remove(removed=9)
    assert r.remaining() == 4
    with pytest.raises(TypeError, match="content type"):
        decode(FramedContentAuthData, b"\x00")
    with pytest.raises(TypeError, match="content type"):
        decode(PrivateMessageContent, b"\x00")


def test_public_names_are_exported() -> None:
    import mlssim.mls.messages as m

    assert len(m.__all__) == len(set(m.__all__))
    for name in m.__all__:
        assert hasattr(m, name), name
