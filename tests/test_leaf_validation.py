"""LeafNode creation (RFC 9420 §7.2) and validation (§7.3), and the extension helpers (§11.1, §13).

Every validation rule has one test that builds a valid leaf, breaks exactly that rule (and
re-signs, so that no other rule fails first), and expects that rule's error class. Suites:
real 1 and 2 and the model twin of 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mlssim.mls.codec import decode, encode
from mlssim.mls.credentials import CertificateKeyMismatchError, CredentialError, DefaultCredentialValidator
from mlssim.mls.crypto import CipherSuite, KeyPair, get_suite
from mlssim.mls.errors import DecodeError, LocalProtocolError, RemoteProtocolError
from mlssim.mls.extensions import (
    DuplicateExtensionError,
    GroupExtensionUnsupportedError,
    RequiredCapabilitiesError,
    application_id,
    application_id_extension,
    check_unique_extensions,
    external_pub,
    external_pub_extension,
    external_senders,
    external_senders_extension,
    find_extension,
    put_extension,
    ratchet_tree_extension,
    ratchet_tree_nodes,
    required_capabilities,
    required_capabilities_extension,
    validate_group_context_extensions,
)
from mlssim.mls.leaf_nodes import (
    CredentialTypeNotListedError,
    CredentialTypeUnsupportedByMembersError,
    DuplicateEncryptionKeyError,
    DuplicateSignatureKeyError,
    GroupValidationContext,
    LeafExtensionUnsupportedError,
    LeafNodeLifetimeError,
    LeafNodeLifetimeTooLongError,
    LeafNodeSignatureError,
    LeafNodeSourceError,
    MemberCredentialTypeUnsupportedError,
    UpdateEncryptionKeyReusedError,
    default_capabilities,
    make_leaf_node,
    sign_leaf_node,
    validate_leaf_node,
    verify_leaf_node_signature,
)
from mlssim.mls.messages import (
    ApplicationId,
    Capabilities,
    Credential,
    Extension,
    ExtensionType,
    ExternalPub,
    ExternalSender,
    ExternalSenders,
    LeafNode,
    LeafNodeSource,
    Lifetime,
    Node,
    ParentNode,
    RequiredCapabilities,
    decode_ratchet_tree,
)
from mlssim.mls.rand import SeededRandom

from .test_credentials import NOW, x509_chain

GROUP = b"group-id"
INDEX = 3
LIFETIME = Lifetime(not_before=NOW - 100, not_after=NOW + 100)
UNKNOWN_EXT = 0x0A0A  # a GREASE value: never a default type
UNKNOWN_PROP = 0x1A1A
KP, UPD, CMT = LeafNodeSource.KEY_PACKAGE, LeafNodeSource.UPDATE, LeafNodeSource.COMMIT


@pytest.fixture(params=[(1, "real"), (2, "real"), (1, "model")], ids=["s1", "s2", "s1-model"])
def suite(request: pytest.FixtureRequest) -> CipherSuite:
    suite_id, family = request.param
    return get_suite(suite_id, family)


class Maker:
    """Builds valid leaves of one suite, each with fresh keys."""

    def __init__(self, suite: CipherSuite) -> None:
        self.suite = suite
        self.rand = SeededRandom(42, f"leaves-{suite.info.name}")
        self.sig = suite.signature_key_pair(self.rand)

    def leaf(self, source: LeafNodeSource = KP, *, sig: KeyPair | None = None, **kw: object) -> LeafNode:
        sig = sig or self.sig
        args: dict[str, object] = {
            "encryption_key": self.suite.kem_generate_key_pair(self.rand).pub,
            "signature_priv": sig.priv,
            "signature_key": sig.pub,
            "credential": Credential.basic(b"alice"),
            "capabilities": default_capabilities(self.suite.suite_id),
            "source": source,
            "lifetime": LIFETIME if source == KP else None,
        }
        if source != KP:
            args |= {"group_id": GROUP, "leaf_index": INDEX}
        args |= kw
        return make_leaf_node(self.suite, **args)  # type: ignore[arg-type]

    def resign(self, leaf: LeafNode, sig: KeyPair | None = None) -> LeafNode:
        """Re-sign a leaf changed with ``replace`` (no content rule is checked)."""
        sig = sig or self.sig
        if leaf.leaf_node_source == KP:
            return sign_leaf_node(self.suite, leaf, sig.priv)
        return sign_leaf_node(self.suite, leaf, sig.priv, group_id=GROUP, leaf_index=INDEX)

    def validate(
        self,
        leaf: LeafNode,
        context: GroupValidationContext | None = None,
        *,
        expected: LeafNodeSource | None = None,
        **kw: object,
    ) -> None:
        src = expected if expected is not None else leaf.leaf_node_source
        validate_leaf_node(
            self.suite,
            leaf,
            context=context or GroupValidationContext(group_id=GROUP),
            expected_source=src,
            now=NOW,
            leaf_index=None if src == KP else INDEX,
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
def mk(suite: CipherSuite) -> Maker:
    return Maker(suite)


# ---- creation ------------------------------------------------------------------------------


def test_default_capabilities() -> None:
    caps = default_capabilities(2)
    assert caps == Capabilities(
        versions=(1,), cipher_suites=(2,), extensions=(), proposals=(), credentials=(1, 2)
    )


@pytest.mark.parametrize("source", [KP, UPD, CMT])
def test_round_trip_and_valid(mk: Maker, source: LeafNodeSource) -> None:
    ph = b"\x07" * 32 if source == CMT else b""
    leaf = mk.leaf(source, parent_hash=ph, extensions=(application_id_extension(b"dev-1"),))
    assert decode(LeafNode, encode(leaf)) == leaf
    mk.validate(leaf)
    if source != KP:
        verify_leaf_node_signature(mk.suite, leaf, group_id=GROUP, leaf_index=INDEX)


def test_make_leaf_node_refuses_invalid_leaves(mk: Maker) -> None:
    caps = default_capabilities(mk.suite.suite_id)
    # each refusal is the one of its §7.2 rule, named by its message
    bad: list[tuple[dict[str, object], str]] = [
        ({"lifetime": None}, "a LeafNode has a lifetime iff its source is key_package"),
        ({"parent_hash": b"x"}, "only a commit LeafNode carries a parent_hash"),
        ({"group_id": GROUP, "leaf_index": 0}, "a key_package LeafNode is signed without group_id"),
        ({"signature_key": mk.suite.signature_key_pair(mk.rand).pub}, "signature_priv does not belong"),
        ({"capabilities": replace(caps, credentials=(2,))}, "capabilities do not list credential type 1"),
        ({"capabilities": replace(caps, extensions=(ExtensionType.APPLICATION_ID,))}, "list default types"),
        ({"capabilities": replace(caps, proposals=(1,))}, r"capabilities list default types \[1\]"),
        (
            {"extensions": (Extension(extension_type=UNKNOWN_EXT, extension_data=b""),)},
            "leaf extensions .* are not listed in capabilities",
        ),
        (
            {"extensions": (application_id_extension(b"a"), application_id_extension(b"b"))},
            "appears more than once",
        ),
    ]
    for kw, message in bad:
        with pytest.raises(LocalProtocolError, match=message):
            mk.leaf(**kw)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="a UPDATE LeafNode is signed with group_id and leaf_index"):
        mk.leaf(UPD, group_id=None)  # update not bound to a group
    with pytest.raises(LocalProtocolError, match="a LeafNode has a lifetime iff its source is key_package"):
        mk.leaf(UPD, lifetime=LIFETIME)  # update with a lifetime


# ---- §7.3, one rule at a time ------------------------------------------------------------------


def test_source_must_match(mk: Maker) -> None:
    with pytest.raises(LeafNodeSourceError):
        mk.validate(mk.leaf(KP), expected=UPD)
    with pytest.raises(LeafNodeSourceError):
        mk.validate(mk.leaf(UPD), expected=CMT)
    with pytest.raises(LeafNodeSourceError):
        mk.validate(mk.leaf(CMT), expected=KP)
    for leaf in (mk.leaf(KP), mk.leaf(UPD), mk.leaf(CMT)):  # None: any source, as in a joined tree
        validate_leaf_node(
            mk.suite,
            leaf,
            context=GroupValidationContext(group_id=GROUP),
            expected_source=None,
            now=NOW,
            leaf_index=INDEX,
        )


def test_update_must_change_encryption_key(mk: Maker) -> None:
    old = mk.leaf(CMT)
    new = mk.leaf(UPD)
    mk.validate(new, replaced_leaf=old)
    same = mk.resign(replace(new, encryption_key=old.encryption_key))
    with pytest.raises(UpdateEncryptionKeyReusedError):
        mk.validate(same, replaced_leaf=old)


def test_duplicate_leaf_extensions(mk: Maker) -> None:
    leaf = mk.leaf()
    dup = mk.resign(
        replace(leaf, extensions=(application_id_extension(b"a"), application_id_extension(b"b")))
    )
    with pytest.raises(DuplicateExtensionError):
        mk.validate(dup)


@pytest.mark.parametrize("source", [KP, UPD, CMT])
def test_signature(mk: Maker, source: LeafNodeSource) -> None:
    leaf = mk.leaf(source)
    flipped = bytes([leaf.signature[0] ^ 1]) + leaf.signature[1:]
    with pytest.raises(LeafNodeSignatureError):
        mk.validate(replace(leaf, signature=flipped))
    other = mk.suite.signature_key_pair(mk.rand)
    with pytest.raises(LeafNodeSignatureError):  # signed by a key that is not signature_key
        mk.validate(mk.resign(leaf, sig=other))


@pytest.mark.parametrize("source", [UPD, CMT])
def test_signature_binds_group_and_index(mk: Maker, source: LeafNodeSource) -> None:
    leaf = mk.leaf(source)
    with pytest.raises(LeafNodeSignatureError):
        verify_leaf_node_signature(mk.suite, leaf, group_id=GROUP, leaf_index=INDEX + 1)
    with pytest.raises(LeafNodeSignatureError):
        verify_leaf_node_signature(mk.suite, leaf, group_id=b"other", leaf_index=INDEX)
    with pytest.raises(LocalProtocolError, match=f"validating a {source.name} LeafNode needs its leaf_index"):
        validate_leaf_node(
            mk.suite,
            leaf,
            context=GroupValidationContext(group_id=GROUP),
            expected_source=source,
            now=NOW,
        )


@pytest.mark.parametrize("source", [UPD, CMT])
@pytest.mark.parametrize("binding", [{"group_id": GROUP}, {"leaf_index": INDEX}, {}])
def test_update_and_commit_leaves_need_both_halves_of_the_binding(
    mk: Maker, source: LeafNodeSource, binding: dict[str, object]
) -> None:
    """§7.2: an update or commit leaf is signed and verified over group_id *and* leaf_index;
    with either missing the call is refused, never signed or checked over a partial binding."""
    leaf = mk.leaf(source)
    with pytest.raises(
        LocalProtocolError, match=f"a {source.name} LeafNode is signed with group_id and leaf_index"
    ):
        sign_leaf_node(mk.suite, leaf, mk.sig.priv, **binding)  # type: ignore[arg-type]
    with pytest.raises(
        LocalProtocolError, match=f"verifying a {source.name} LeafNode needs group_id and leaf_index"
    ):
        verify_leaf_node_signature(mk.suite, leaf, **binding)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "binding", [{"group_id": GROUP}, {"leaf_index": INDEX}, {"group_id": GROUP, "leaf_index": 0}]
)
def test_a_key_package_leaf_is_signed_without_a_binding(mk: Maker, binding: dict[str, object]) -> None:
    """§7.2: a key_package leaf has no group yet; signing it with any part of a binding is refused
    (verifying ignores one: the same signature verifies with or without)."""
    leaf = mk.leaf(KP)
    with pytest.raises(
        LocalProtocolError, match="key_package LeafNode is signed without group_id and leaf_index"
    ):
        sign_leaf_node(mk.suite, leaf, mk.sig.priv, **binding)  # type: ignore[arg-type]
    verify_leaf_node_signature(mk.suite, leaf, **binding)  # type: ignore[arg-type]


def test_credential_validator_is_consulted(mk: Maker) -> None:
    seen: list[tuple[Credential, bytes, int]] = []

    class Rejected(CredentialError):
        pass

    def reject(
        credential: Credential, signature_key: bytes, now: int, /, *, predecessor: Credential | None
    ) -> None:
        seen.append((credential, signature_key, now))
        raise Rejected("not on the allow list")

    leaf = mk.leaf()
    with pytest.raises(Rejected):
        mk.validate(leaf, credential_validator=reject)
    assert seen == [(leaf.credential, leaf.signature_key, NOW)]


def test_x509_credential_in_a_leaf() -> None:
    suite = get_suite(2)
    mk = Maker(suite)
    cred, root = x509_chain(suite, mk.sig)
    validator = DefaultCredentialValidator(suite_id=2, trust_anchors=(root,))
    mk.validate(mk.leaf(credential=cred), credential_validator=validator)
    other = suite.signature_key_pair(mk.rand)
    wrong = mk.leaf(credential=cred, sig=other)  # chain certifies mk.sig, leaf uses other
    with pytest.raises(CertificateKeyMismatchError):
        mk.validate(wrong, credential_validator=validator)


def _rc_context(rc: RequiredCapabilities) -> GroupValidationContext:
    return GroupValidationContext(group_id=GROUP, extensions=(required_capabilities_extension(rc),))


@pytest.mark.parametrize(
    "rc",
    [
        RequiredCapabilities(extension_types=(UNKNOWN_EXT,)),
        RequiredCapabilities(proposal_types=(UNKNOWN_PROP,)),
        RequiredCapabilities(credential_types=(0x2A2A,)),
    ],
    ids=["extension", "proposal", "credential"],
)
def test_required_capabilities(mk: Maker, rc: RequiredCapabilities) -> None:
    with pytest.raises(RequiredCapabilitiesError):
        mk.validate(mk.leaf(), _rc_context(rc))
    caps = default_capabilities(mk.suite.suite_id)
    supporting = replace(
        caps,
        extensions=rc.extension_types,
        proposals=rc.proposal_types,
        credentials=caps.credentials + rc.credential_types,
    )
    mk.validate(mk.leaf(capabilities=supporting), _rc_context(rc))


def test_required_default_types_need_not_be_listed(mk: Maker) -> None:
    rc = RequiredCapabilities(
        extension_types=(ExtensionType.EXTERNAL_SENDERS,), proposal_types=(7,), credential_types=(1,)
    )
    mk.validate(mk.leaf(), _rc_context(rc))
    with pytest.raises(RequiredCapabilitiesError):  # credential types have no defaults
        mk.validate(mk.leaf(), _rc_context(replace(rc, credential_types=(1, 3))))


def test_group_context_extension_must_be_supported(mk: Maker) -> None:
    ctx = GroupValidationContext(
        group_id=GROUP,
        extensions=(
            external_senders_extension(ExternalSenders()),
            Extension(extension_type=UNKNOWN_EXT, extension_data=b"x"),
        ),
    )
    with pytest.raises(GroupExtensionUnsupportedError):
        mk.validate(mk.leaf(), ctx)
    caps = replace(default_capabilities(mk.suite.suite_id), extensions=(UNKNOWN_EXT,))
    mk.validate(mk.leaf(capabilities=caps), ctx)


def test_own_credential_type_must_be_listed(mk: Maker) -> None:
    leaf = mk.leaf()
    unlisted = mk.resign(replace(leaf, capabilities=replace(leaf.capabilities, credentials=(2,))))
    with pytest.raises(CredentialTypeNotListedError):
        mk.validate(unlisted)


def test_credential_type_supported_by_all_members(mk: Maker) -> None:
    ctx = GroupValidationContext(
        group_id=GROUP,
        member_credential_types=frozenset({2}),
        member_supported_credential_types=frozenset({2}),
    )
    with pytest.raises(CredentialTypeUnsupportedByMembersError):
        mk.validate(mk.leaf(), ctx)  # a basic leaf; members only take x509


def test_leaf_supports_members_credential_types(mk: Maker) -> None:
    ctx = GroupValidationContext(
        group_id=GROUP,
        member_credential_types=frozenset({1, 2}),
        member_supported_credential_types=frozenset({1, 2}),
    )
    mk.validate(mk.leaf(), ctx)
    caps = replace(default_capabilities(mk.suite.suite_id), credentials=(1,))
    with pytest.raises(MemberCredentialTypeUnsupportedError):
        mk.validate(mk.leaf(capabilities=caps), ctx)


@pytest.mark.parametrize("lifetime", [(NOW + 1, NOW + 100), (NOW - 100, NOW - 1)], ids=["future", "expired"])
def test_lifetime(mk: Maker, lifetime: tuple[int, int]) -> None:
    leaf = mk.leaf(lifetime=Lifetime(not_before=lifetime[0], not_after=lifetime[1]))
    with pytest.raises(LeafNodeLifetimeError):
        mk.validate(leaf)
    mk.validate(leaf, check_lifetime=False)  # §7.3: only RECOMMENDED for received leaves
    edge = mk.leaf(lifetime=Lifetime(not_before=NOW, not_after=NOW))
    mk.validate(edge)  # bounds inclusive


def test_lifetime_maximum(mk: Maker) -> None:
    leaf = mk.leaf()  # 200 s
    mk.validate(leaf, max_lifetime=200)
    with pytest.raises(LeafNodeLifetimeTooLongError):
        mk.validate(leaf, max_lifetime=199)
    backwards = mk.leaf(lifetime=Lifetime(not_before=NOW + 1, not_after=NOW - 1))
    with pytest.raises(LeafNodeLifetimeTooLongError):
        mk.validate(backwards, max_lifetime=10**9)


def test_leaf_extensions_must_be_listed(mk: Maker) -> None:
    ext = Extension(extension_type=UNKNOWN_EXT, extension_data=b"grease")
    caps = replace(default_capabilities(mk.suite.suite_id), extensions=(UNKNOWN_EXT,))
    leaf = mk.leaf(capabilities=caps, extensions=(ext, application_id_extension(b"id")))
    mk.validate(leaf)  # application_id is default: needs no listing
    unlisted = mk.resign(replace(leaf, capabilities=default_capabilities(mk.suite.suite_id)))
    with pytest.raises(LeafExtensionUnsupportedError):
        mk.validate(unlisted)


def test_keys_unique_in_group(mk: Maker) -> None:
    member = mk.leaf(CMT, sig=mk.suite.signature_key_pair(mk.rand))
    ctx = GroupValidationContext.from_members(group_id=GROUP, extensions=(), members=[member])
    mk.validate(mk.leaf(), ctx)
    same_enc = mk.leaf(encryption_key=member.encryption_key)
    with pytest.raises(DuplicateEncryptionKeyError):
        mk.validate(same_enc, ctx)
    same_sig = mk.leaf(UPD, sig=KeyPair(mk.sig.priv, mk.sig.pub))
    ctx_sig = GroupValidationContext(group_id=GROUP, signature_keys=frozenset({mk.sig.pub}))
    with pytest.raises(DuplicateSignatureKeyError):
        mk.validate(same_sig, ctx_sig)


def test_context_from_members(mk: Maker) -> None:
    a = mk.leaf(CMT, sig=mk.suite.signature_key_pair(mk.rand))
    caps_x509 = replace(default_capabilities(mk.suite.suite_id), credentials=(2, 1))
    b = mk.leaf(UPD, sig=mk.suite.signature_key_pair(mk.rand), capabilities=caps_x509)
    ctx = GroupValidationContext.from_members(group_id=GROUP, extensions=(), members=[a, b])
    assert ctx.member_credential_types == {1}
    assert ctx.member_supported_credential_types == frozenset({1, 2})
    assert a.encryption_key in ctx.encryption_keys and b.signature_key in ctx.signature_keys
    empty = GroupValidationContext.from_members(group_id=GROUP, extensions=(), members=[])
    assert empty.member_supported_credential_types is None


def test_errors_name_their_sections() -> None:
    assert LeafNodeSignatureError.rfc_section == "7.3"
    assert CredentialTypeNotListedError.rfc_section == "7.2"
    assert RequiredCapabilitiesError.rfc_section == "11.1"
    assert DuplicateExtensionError.rfc_section == "13"
    for cls in (LeafNodeSourceError, DuplicateSignatureKeyError, RequiredCapabilitiesError):
        assert issubclass(cls, RemoteProtocolError)


# ---- tree-validation vectors: every leaf of every tree is valid ---------------------------------


def test_tree_validation_vector_leaves(vectors_path: Path) -> None:
    """Each leaf of the tree-validation trees passes §7.3 against the other leaves of its tree."""
    checked = 0
    for case in json.loads((vectors_path / "tree-validation.json").read_text()):
        if case["cipher_suite"] not in (1, 2):
            continue
        suite = get_suite(case["cipher_suite"])
        nodes = decode_ratchet_tree(bytes.fromhex(case["tree"]))
        leaves = {i // 2: n for i, n in enumerate(nodes) if isinstance(n, LeafNode)}
        for index, leaf in leaves.items():
            others = [other for j, other in leaves.items() if j != index]
            ctx = GroupValidationContext.from_members(
                group_id=bytes.fromhex(case["group_id"]), extensions=(), members=others
            )
            validate_leaf_node(
                suite, leaf, context=ctx, expected_source=None, now=0, leaf_index=index, check_lifetime=False
            )
            checked += 1
    assert checked > 100


# ---- extension helpers (§13) ---------------------------------------------------------------------


def test_extension_readers_and_builders(suite: CipherSuite) -> None:
    mk = Maker(suite)
    rc = RequiredCapabilities(extension_types=(UNKNOWN_EXT,), credential_types=(1,))
    senders = ExternalSenders(
        senders=(ExternalSender(signature_key=b"k", credential=Credential.basic(b"ds")),)
    )
    tree: list[Node | None] = [
        mk.leaf(CMT),
        ParentNode(encryption_key=b"p"),
        mk.leaf(CMT, sig=suite.signature_key_pair(mk.rand)),
    ]
    exts = (
        required_capabilities_extension(rc),
        external_senders_extension(senders),
        external_pub_extension(b"pub"),
        application_id_extension(b"app"),
        ratchet_tree_extension([*tree, None, None]),
    )
    assert required_capabilities(exts) == rc
    assert external_senders(exts) == senders
    assert external_pub(exts) == ExternalPub(external_pub=b"pub")
    assert application_id(exts) == ApplicationId(application_id=b"app")
    assert ratchet_tree_nodes(exts) == tree
    assert find_extension(exts, UNKNOWN_EXT) is None
    none: tuple[Extension, ...] = ()
    readers: list[Callable[[tuple[Extension, ...]], object]] = [
        required_capabilities,
        external_senders,
        external_pub,
        application_id,
        ratchet_tree_nodes,
    ]
    assert all(read(none) is None for read in readers)


def test_find_and_put_extension() -> None:
    a = Extension(extension_type=UNKNOWN_EXT, extension_data=b"1")
    b = application_id_extension(b"x")
    exts = put_extension((a,), b)
    assert exts == (a, b)
    a2 = Extension(extension_type=UNKNOWN_EXT, extension_data=b"2")
    assert put_extension(exts, a2) == (a2, b)
    assert find_extension(exts, UNKNOWN_EXT) == b"1"
    with pytest.raises(DuplicateExtensionError):
        find_extension((a, b, a2), ExtensionType.APPLICATION_ID)
    with pytest.raises(DuplicateExtensionError):
        check_unique_extensions((a, a))


def test_malformed_extension_data_is_a_decode_error() -> None:
    bad = Extension(extension_type=ExtensionType.REQUIRED_CAPABILITIES, extension_data=b"\x01")
    with pytest.raises(DecodeError):
        required_capabilities((bad,))
    with pytest.raises(DecodeError):
        ratchet_tree_nodes((Extension(extension_type=ExtensionType.RATCHET_TREE, extension_data=b"\x00"),))


def test_group_context_extensions_proposal_rule() -> None:
    """§12.1.7: every member must support the new required capabilities and extensions."""
    plain = default_capabilities(1)
    extended = replace(plain, extensions=(UNKNOWN_EXT,))
    new = (required_capabilities_extension(RequiredCapabilities(extension_types=(UNKNOWN_EXT,))),)
    validate_group_context_extensions(new, [extended, extended])
    with pytest.raises(RequiredCapabilitiesError):
        validate_group_context_extensions(new, [extended, plain])
    with pytest.raises(GroupExtensionUnsupportedError):
        validate_group_context_extensions(
            (Extension(extension_type=UNKNOWN_EXT, extension_data=b""),), [plain]
        )
    with pytest.raises(DuplicateExtensionError):
        validate_group_context_extensions(new + new, [extended])
