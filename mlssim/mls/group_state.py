"""Types of the group layer: configuration, shared public epoch state, the per-member state,
results, staged commits, errors, and the small helpers both sides of a commit use.

:class:`PublicEpoch` is the part of an epoch every member agrees on and may share;
:class:`MemberState` is everything one member knows in one epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .codec import encode
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError, RemoteProtocolError
from .extensions import find_extension
from .group_validation import (
    LeafPolicy,
    TreeKeyIndex,
)
from .keyschedule import EpochSecrets
from .memo import Memo
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
from .protect import PrivateMemo
from .ratchet_tree import RatchetTree
from .secret_tree import RatchetPolicy, SecretTree
from .tree_validation import TreeHashMismatchError
from .treekem import PathKeys, PathMemo
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
    "EpochCache",
    "ApplicationMessage",
    "ProposalReceived",
    "CommitApplied",
    "ProcessResult",
    "MemberState",
    "StagedCommit",
    "keep_psks",
    "tree_from_group_info",
    "sign_leaf",
    "make_group_info",
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


#: An EpochCache key: the old epoch's encoded GroupContext, then what determines the commit's
#: AuthenticatedContent encoding (wire format, FramedContent bytes, signature, confirmation tag).
CommitKey = tuple[bytes, int, bytes, bytes, "bytes | None"]

#: A verified PublicMessage: the epoch's encoded GroupContext, the FramedContent bytes, the
#: signature, the confirmation tag, the membership tag, then the receiver's inputs to the two
#: checks (its membership key, or None for a non-member sender, and the sender's signature key).
VerifiedKey = tuple[bytes, bytes, bytes, "bytes | None", "bytes | None", "bytes | None", bytes]

#: Inputs of one epoch's key schedule (§8): init secret, commit secret, PSK secret and the new
#: epoch's encoded GroupContext.
ScheduleKey = tuple[bytes, bytes, bytes, bytes]


class EpochCache:
    """Shares the public outcome of a commit among the simulated members of one epoch, and the
    decoded, validated GroupInfo and tree among the joiners of one Welcome (each joiner still
    opens its own GroupSecrets and checks the confirmation tag with its own key schedule).

    Keyed by the old epoch's encoded GroupContext and the commit's AuthenticatedContent,
    so only byte-identical commits to byte-identical epochs share a result; a tampered
    message is a different key. Each member still checks what only it can check (its
    proposal cache, its removal, its path secret, the confirmation tag with its own key
    schedule). Bounded: the oldest entries are dropped.

    It also remembers the verdicts of pure functions on byte-identical inputs, so that members
    who would compute the same value compute it once: a PublicMessage whose membership tag and
    signature verified under the same keys in the same epoch (the two checks hash the whole
    message, the dominant cost of a large commit), an epoch's key schedule from the same
    init, commit and PSK secrets, (``paths``) the open of one path ciphertext with one
    node key and the derivations above it, (``secrets``) the secret tree's derivations and
    (``private``) a PrivateMessage's sender data and verified content under one ratchet
    key. Each key holds every input of its function, including the receiver's own keys, so
    a member whose inputs differ in any byte computes its own. What a member holds
    afterwards is its own state (ratchet positions, consumed keys), built as it would be
    alone.
    """

    __slots__ = (
        "_entries",
        "_max",
        "hits",
        "misses",
        "_joins",
        "_join_trees",
        "_verified",
        "_schedules",
        "paths",
        "private",
        "secrets",
    )

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: dict[CommitKey, CommitOutcome] = {}
        self._max = max_entries
        self.hits = 0
        self.misses = 0
        #: decoded GroupInfos by the digest of their bytes (joiners of one Welcome share one)
        self._joins: dict[bytes, GroupInfo] = {}
        #: trees a joiner validated: (id of the GroupInfo, id of the supplied tree or 0, now, id
        #: of the leaf policy) -> (GroupInfo, supplied tree, policy, validated tree); the objects
        #: are held so ids stay unique
        self._join_trees: dict[
            tuple[int, int, int | None, int],
            tuple[GroupInfo, RatchetTree | None, LeafPolicy, RatchetTree],
        ] = {}
        self._verified: Memo[bool] = Memo(max_entries)
        self._schedules: Memo[EpochSecrets] = Memo(max_entries)
        #: shared path-secret opens and derivations (treekem.decrypt_update_path)
        self.paths = PathMemo()
        #: shared decryptions of PrivateMessages (protect.unprotect_private)
        self.private = PrivateMemo()
        #: shared secret-tree derivations (secret_tree.SecretTree)
        self.secrets: Memo[tuple[bytes, ...]] = Memo()

    def verified(self, key: VerifiedKey) -> bool:
        """Whether a PublicMessage with exactly these bytes passed both checks under these keys."""
        return self._verified.get(key) is not None

    def put_verified(self, key: VerifiedKey) -> None:
        self._verified.put(key, True)

    def schedule(self, key: ScheduleKey) -> EpochSecrets | None:
        return self._schedules.get(key)

    def put_schedule(self, key: ScheduleKey, secrets: EpochSecrets) -> None:
        self._schedules.put(key, secrets)

    @property
    def verified_hits(self) -> int:
        return self._verified.hits

    @property
    def schedule_hits(self) -> int:
        return self._schedules.hits

    def group_info(self, digest: bytes) -> GroupInfo | None:
        return self._joins.get(digest)

    def put_group_info(self, digest: bytes, gi: GroupInfo) -> None:
        if len(self._joins) >= 8:
            del self._joins[next(iter(self._joins))]
        self._joins[digest] = gi

    def joined_tree(
        self, gi: GroupInfo, supplied: RatchetTree | None, now: int | None, policy: LeafPolicy
    ) -> RatchetTree | None:
        """A tree another joiner verified from the same GroupInfo and tree objects, at the same
        ``now`` and under the same leaf policy (a stricter joiner never reuses a laxer one's
        verdict)."""
        hit = self._join_trees.get((id(gi), id(supplied) if supplied is not None else 0, now, id(policy)))
        return hit[3] if hit is not None else None

    def put_joined_tree(
        self,
        gi: GroupInfo,
        supplied: RatchetTree | None,
        now: int | None,
        policy: LeafPolicy,
        tree: RatchetTree,
    ) -> None:
        if len(self._join_trees) >= 8:
            del self._join_trees[next(iter(self._join_trees))]
        key = (id(gi), id(supplied) if supplied is not None else 0, now, id(policy))
        self._join_trees[key] = (gi, supplied, policy, tree)  # the objects whose ids are the key stay alive

    def get(self, key: CommitKey) -> CommitOutcome | None:
        out = self._entries.get(key)
        if out is None:
            self.misses += 1
        else:
            self.hits += 1
        return out

    def put(self, key: CommitKey, outcome: CommitOutcome) -> None:
        if len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = outcome


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
    shared = cfg.epoch_cache
    return SecretTree(
        suite,
        encryption_secret,
        n_leaves,
        policy=cfg.ratchet_policy,
        memo=shared.secrets if shared is not None else None,
    )


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
