"""Types of the group layer: configuration, shared public epoch state, the per-member state,
results, staged commits, errors, and the small helpers both sides of a commit use.

:class:`PublicEpoch` is the part of an epoch every member agrees on and may share;
:class:`MemberState` is everything one member knows in one epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .codec import encode
from .crypto.suite import CipherSuite, KeyPair
from .errors import LocalProtocolError, RemoteProtocolError
from .extensions import find_extension
from .group_validation import (
    LeafPolicy,
    TreeKeyIndex,
)
from .keyschedule import EpochSecrets
from .messages.common import Extension, GroupContext
from .messages.credentials import Credential
from .messages.enums import (
    ExtensionType,
    LeafNodeSource,
    WireFormat,
)
from .messages.framing import (
    AuthenticatedContent,
    MLSMessage,
    Sender,
)
from .messages.key_package import KeyPackage
from .messages.proposals import (
    ExternalInit,
    Proposal,
    ReInit,
)
from .messages.psk_id import PreSharedKeyID
from .messages.tree import Capabilities, LeafNode, Lifetime, decode_ratchet_tree, leaf_node_tbs
from .messages.welcome import ExternalPub, GroupInfo
from .proposal_list import (
    CommittedProposal,
)
from .rand import RandomSource
from .ratchet_tree import RatchetTree
from .secret_tree import RatchetPolicy, SecretTree
from .sharing import EpochCache
from .tree_validation import TreeHashMismatchError
from .treekem import PathKeys
from .treemath import LeafIndex
from .welcome import sign_group_info

__all__ = [
    "WrongEpochError",
    "WrongGroupError",
    "UnknownProposalError",
    "MissingPathError",
    "CommitterError",
    "UnknownSenderError",
    "GroupInfoTreeHashError",
    "InactiveGroupError",
    "DuplicateGroupIdError",
    "RejectedProposalError",
    "GroupConfig",
    "MemberIdentity",
    "PublicEpoch",
    "CommitOutcome",
    "ApplicationMessage",
    "ProposalReceived",
    "CommitApplied",
    "ProcessResult",
    "MemberState",
    "StagedCommit",
    "keep_psks",
    "tree_from_group_info",
    "sign_leaf",
    "fresh_leaf",
    "make_group_info",
    "next_identity",
    "rotated_identity",
    "EXTERNAL_INIT_LABEL",
]

EXTERNAL_INIT_LABEL = b"MLS 1.0 external init secret"


# ---- errors ------------------------------------------------------------------------------


class WrongEpochError(RemoteProtocolError):
    """A handshake message for another epoch than the group's current one."""

    rfc_section = "12.4.2"


class WrongGroupError(RemoteProtocolError):
    """A message for another group."""

    rfc_section = "6"


class UnknownProposalError(RemoteProtocolError):
    """A commit names a ProposalRef this member never received in the epoch."""

    rfc_section = "12.4"


class MissingPathError(RemoteProtocolError):
    """A commit without an UpdatePath although its proposals require one."""

    rfc_section = "12.4"


class CommitterError(RemoteProtocolError):
    """The commit's sender or its new leaf is not acceptable (§12.4.2)."""

    rfc_section = "12.4.2"


class UnknownSenderError(CommitterError):
    """A PublicMessage names a sender with no signature key: a member ``leaf_index`` that is
    blank or outside the tree, or an external ``sender_index`` the group's external_senders
    extension does not have (§6.1: the key is "the signature key contained in the LeafNode at
    the index indicated by leaf_index")."""

    rfc_section = "6.1"


class GroupInfoTreeHashError(CommitterError, TreeHashMismatchError):
    """The ratchet tree a joiner got, in the Welcome or out of band, does not hash to the
    GroupInfo's ``tree_hash`` (§12.4.3.1 "Verify the integrity of the ratchet tree"). Also a
    :class:`CommitterError`, as this check raised before it had its own class."""

    rfc_section = "12.4.3.1"


class DuplicateGroupIdError(RemoteProtocolError):
    """A Welcome for a ``group_id`` the client already uses in a group it participates in
    (§12.4.3.1: "unique among the groups they are currently participating in")."""

    rfc_section = "12.4.3.1"


class InactiveGroupError(LocalProtocolError):
    """The member was removed, or the group was reinitialised: it can send nothing."""

    rfc_section = "12.4.2"


class RejectedProposalError(LocalProtocolError):
    """This member was asked to propose what its receivers would reject (§12.1, §7.3, §10.1):
    nothing is sent or cached. ``__cause__`` is the receivers' error."""

    rfc_section = "12.1"


# ---- configuration, identity and shared public state -------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupConfig:
    """Per-member policy that RFC 9420 leaves to the application."""

    #: wire format of proposals and commits (§6: PrivateMessage SHOULD; PublicMessage lets a DS read them)
    handshake_wire_format: WireFormat = WireFormat.PUBLIC_MESSAGE
    #: zero bytes appended to every PrivateMessage plaintext (§6.3.1)
    padding: int = 0
    ratchet_policy: RatchetPolicy = field(default_factory=RatchetPolicy)
    #: external PSKs and resumption PSKs of other groups (§8.4); None if the member holds none
    psk_lookup: Callable[[PreSharedKeyID], bytes | None] | None = None
    #: put the ratchet tree in the Welcome's GroupInfo (§12.4.3.3); else it is fetched out of band
    ratchet_tree_in_welcome: bool = True
    #: publish ``external_pub`` in GroupInfo so that others can join by external commit
    external_pub_in_group_info: bool = True
    #: epochs whose resumption PSK is kept (§8.6)
    resumption_psk_epochs: int = 8
    #: past epochs whose secret tree is kept to decrypt late application messages (§14, §15.2:
    #: a client "might keep the secret tree for a short time"); 0 keeps none
    keep_past_epochs: int = 1
    #: how LeafNodes and KeyPackages are validated (§7.3, §10.1)
    leaf_policy: LeafPolicy = field(default_factory=LeafPolicy)
    #: shares the public outcome of a commit between the simulated members of one epoch
    epoch_cache: EpochCache | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberIdentity:
    """What a client brings to every group: credential and signature key pair."""

    credential: Credential
    signature_priv: bytes
    signature_key: bytes
    capabilities: Capabilities
    leaf_extensions: tuple[Extension, ...] = ()


class PublicEpoch:
    """The part of an epoch every member agrees on; immutable and shareable between members.

    Members that process the same commit through one :class:`EpochCache` end up holding
    the *same* object, so a 50,000-member group keeps one tree per epoch, not 50,000.
    """

    __slots__ = ("confirmation_tag", "context", "context_bytes", "interim_transcript_hash", "tree", "_keys")

    def __init__(self, context: GroupContext, tree: RatchetTree, interim: bytes, tag: bytes) -> None:
        self.context = context
        self.tree = tree
        self.interim_transcript_hash = interim
        self.confirmation_tag = tag
        self.context_bytes = encode(context)
        self._keys: TreeKeyIndex | None = None

    @classmethod
    def make(cls, context: GroupContext, tree: RatchetTree, interim: bytes, tag: bytes) -> PublicEpoch:
        return cls(context, tree, interim, tag)

    @property
    def key_index(self) -> TreeKeyIndex:
        """Keys and credential types of this epoch's tree, built once on first use."""
        if self._keys is None:
            self._keys = TreeKeyIndex(self.tree)
        return self._keys


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitOutcome:
    """The public result of a commit: the same for every member that processes it."""

    public: PublicEpoch
    committer_leaf: LeafIndex
    provisional_context: bytes
    added: tuple[tuple[LeafIndex, KeyPackage], ...]
    removed: tuple[LeafIndex, ...]
    updated: tuple[LeafIndex, ...]
    psk_ids: tuple[PreSharedKeyID, ...]
    external_init: ExternalInit | None
    reinit: ReInit | None
    #: the confirmed transcript hash the confirmation tag is checked against
    confirmed: bytes
    #: leaf indices of ``added``, built once: the ``exclude`` of §12.4.2 for every member (one
    #: shared object, so the tree's cached resolutions are found by identity, not by O(N) equality)
    added_leaves: frozenset[int] = frozenset()


# ---- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationMessage:
    """Decrypted application data (§15)."""

    sender: LeafIndex
    data: bytes
    authenticated_data: bytes
    epoch: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalReceived:
    """A valid proposal, cached for a later commit under ``ref`` (§5.2)."""

    ref: bytes
    proposal: Proposal
    sender: Sender


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitApplied:
    """The group moved to ``epoch``."""

    epoch: int
    committer: Sender
    own: bool
    added: tuple[LeafIndex, ...]
    removed: tuple[LeafIndex, ...]
    updated: tuple[LeafIndex, ...]
    #: this member was removed: the group is now inactive
    removed_me: bool = False
    reinit: ReInit | None = None
    with_path: bool = False


ProcessResult = ApplicationMessage | ProposalReceived | CommitApplied


@dataclass(slots=True)
class MemberState:
    """Everything one member knows in one epoch."""

    public: PublicEpoch
    leaf: LeafIndex
    identity: MemberIdentity
    path_keys: PathKeys
    secrets: EpochSecrets
    secret_tree: SecretTree
    proposals: dict[bytes, CommittedProposal] = field(default_factory=dict)
    #: ProposalRef of this member's own Update -> the new leaf's private key
    pending_updates: dict[bytes, bytes] = field(default_factory=dict)
    #: new signature key -> the identity of this member's own Update that rotates it (§12.1.2)
    pending_identities: dict[bytes, MemberIdentity] = field(default_factory=dict)
    resumption_psks: dict[int, bytes] = field(default_factory=dict)
    active: bool = True
    reinit: ReInit | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedCommit:
    """A commit built against the current epoch; ``merge`` it or drop it."""

    message: MLSMessage
    welcome: MLSMessage | None
    group_info: MLSMessage
    epoch: int
    added: tuple[LeafIndex, ...]
    removed: tuple[LeafIndex, ...]
    updated: tuple[LeafIndex, ...]
    with_path: bool
    authenticated_content: AuthenticatedContent
    _state: MemberState = field(repr=False)

    @property
    def message_bytes(self) -> bytes:
        return self.message.encoded()

    @property
    def ratchet_tree(self) -> RatchetTree:
        """The new epoch's tree (what a DS serves to joiners when the Welcome omits it)."""
        return self._state.public.tree

    @property
    def secrets(self) -> EpochSecrets:
        """The new epoch's secrets, as the committer will hold them once it merges."""
        return self._state.secrets

    @property
    def path_keys(self) -> PathKeys:
        """The committer's private TreeKEM state in the new epoch."""
        return self._state.path_keys

    @property
    def committer(self) -> LeafIndex:
        return self._state.leaf

    @property
    def public(self) -> PublicEpoch:
        """The new epoch's public state (tree and GroupContext), shared by all its members."""
        return self._state.public


# ---- helpers shared by creating, processing and joining ----------------------------------


def new_secret_tree(
    suite: CipherSuite, encryption_secret: bytes, n_leaves: int, cfg: GroupConfig
) -> SecretTree:
    """An epoch's secret tree, sharing its derivations through the config's EpochCache."""
    return SecretTree(suite, encryption_secret, n_leaves, policy=cfg.ratchet_policy, shared=cfg.epoch_cache)


def keep_psks(old: dict[int, bytes], epoch: int, psk: bytes, config: GroupConfig) -> dict[int, bytes]:
    kept = {e: v for e, v in old.items() if e > epoch - config.resumption_psk_epochs}
    kept[epoch] = psk
    return kept


def tree_from_group_info(suite: CipherSuite, gi: GroupInfo, supplied: RatchetTree | None) -> RatchetTree:
    if supplied is not None:
        return supplied
    data = find_extension(gi.extensions, ExtensionType.RATCHET_TREE)  # §13: no type twice
    if data is None:
        raise LocalProtocolError("no ratchet_tree extension and no tree supplied out of band (§12.4.3.3)")
    return RatchetTree.from_nodes(suite, decode_ratchet_tree(data))


def sign_leaf(
    suite: CipherSuite,
    identity: MemberIdentity,
    *,
    encryption_key: bytes,
    source: LeafNodeSource,
    lifetime: Lifetime | None = None,
    parent_hash: bytes = b"",
    group_id: bytes | None = None,
    leaf_index: int | None = None,
) -> LeafNode:
    """A LeafNode signed over LeafNodeTBS (§7.2)."""
    leaf = LeafNode(
        encryption_key=encryption_key,
        signature_key=identity.signature_key,
        credential=identity.credential,
        capabilities=identity.capabilities,
        leaf_node_source=source,
        lifetime=lifetime,
        parent_hash=parent_hash,
        extensions=identity.leaf_extensions,
    )
    tbs = leaf_node_tbs(leaf, group_id, leaf_index)
    return replace(leaf, signature=suite.sign_with_label(identity.signature_priv, "LeafNodeTBS", tbs))


def rotated_identity(suite: CipherSuite, identity: MemberIdentity, rand: RandomSource) -> MemberIdentity:
    """The same credential with a fresh signature key pair: what an Update or a commit's path
    leaf may carry (§7.3, §12.1.2), so that a stolen signature key stops verifying (§6.1)."""
    kp = suite.signature_key_pair(rand)
    return replace(identity, signature_priv=kp.priv, signature_key=kp.pub)


def next_identity(st: MemberState, tree: RatchetTree) -> MemberIdentity:
    """This member's identity in the epoch of ``tree``: the one of its own committed Update if
    that Update rotated the signature key, else the current one."""
    if not st.pending_identities:
        return st.identity
    leaf = tree.leaf(st.leaf) if st.leaf < tree.n_leaves else None
    return st.identity if leaf is None else st.pending_identities.get(leaf.signature_key, st.identity)


def fresh_leaf(suite: CipherSuite, identity: MemberIdentity, rand: RandomSource) -> tuple[KeyPair, LeafNode]:
    """A new HPKE key pair and a LeafNode for it of source key_package, valid forever: a new
    group's first leaf (§11), or an external joiner's placeholder (its path's leaf replaces it)."""
    kp = suite.kem_generate_key_pair(rand)
    leaf = sign_leaf(
        suite,
        identity,
        encryption_key=kp.pub,
        source=LeafNodeSource.KEY_PACKAGE,
        lifetime=Lifetime(not_before=0, not_after=0xFFFFFFFFFFFFFFFF),
    )
    return kp, leaf


def make_group_info(
    suite: CipherSuite,
    public: PublicEpoch,
    secrets: EpochSecrets,
    signer: LeafIndex,
    signature_priv: bytes,
    *,
    with_tree: bool,
    external_pub: bool,
) -> GroupInfo:
    """§12.4.3: a signed GroupInfo of ``public``'s epoch, optionally with the ratchet tree
    (§12.4.3.3) and the external public key that external joins need (§12.4.3.2)."""
    exts: list[Extension] = []
    if with_tree:
        exts.append(Extension(extension_type=ExtensionType.RATCHET_TREE, extension_data=public.tree.encode()))
    if external_pub:
        pub = secrets.external_key_pair().pub
        exts.append(
            Extension(
                extension_type=ExtensionType.EXTERNAL_PUB,
                extension_data=encode(ExternalPub(external_pub=pub)),
            )
        )
    gi = GroupInfo(
        group_context=public.context,
        extensions=tuple(exts),
        confirmation_tag=public.confirmation_tag,
        signer=signer,
    )
    return sign_group_info(suite, gi, signature_priv)
