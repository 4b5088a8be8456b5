"""Path secrets sealed by proxy re-encryption: the split-commit draft with a DS that re-encrypts
(the ``pre`` fan-out strategy). Not RFC 9420, and not the draft: mlssim's own design, after the
issue-21 reading ("the committer encrypts each new path secret once under its own PRE key, and
the DS re-encrypts it for each member below that path node"), in ``docs/bandwidth.md``.

* **Keys.** Every member holds a long-lived PRE key pair and a kfrag-signer pair (one
  *generation*, :class:`PREKeys`), published as a :class:`PREAnnouncement` signed with its MLS
  signature key (so that a DS cannot substitute its own key and receive kfrags to it).
* **Deposits.** Ahead of time each member deposits at the DS one re-encryption key
  (:class:`PREDeposit`, a kfrag with threshold 1) from its key to every other member's; a new key
  generation (a join, or a refresh under the strategy's policy) makes its owner deposit to every
  other member and every other member deposit to it. The DS keeps the newest kfrag per ordered
  pair of leaves (:class:`KfragStore`).
* **Committing.** The committer's :func:`pre_framing` is the draft's ``SplitFraming`` whose path
  encryptor returns, per path node with a non-empty resolution, ONE ciphertext: the path secret
  PRE-encrypted to the committer's own key. Packing (:func:`pack_upload`): ``kem_output`` is the
  Umbral capsule, ``ciphertext`` the DEM ciphertext. The upload is the SCommit: O(log N)
  ciphertexts instead of one per resolution node.
* **The DS** (:func:`reencrypting_projection`) finds each member's slot ``k`` (the draft's
  ``split_commit.slots``), re-encrypts node ``k``'s capsule with the kfrag committer → member
  and sends the member an IndividualCommit whose ciphertext packs capsule ‖ cfrag as
  ``kem_output`` (both of fixed length, :func:`pack_download`) and the DEM ciphertext as
  ``ciphertext``, with the path keys below ``k``.
* **The member** processes it with ``Group.process(msg, opener=pre_opener(...))``: the opener
  ignores the node key and the draft's context and decrypts with its own PRE secret key. The PRE
  DEM has no associated data: the binding of choice S2 (the path secret to the commit epoch's
  context) comes from ``epoch_identifier``, which every receiver checks.

What each party can open is in :func:`openable_delegators`, :func:`open_capsule` and
``docs/security-model.md``: the knowledge rules of this reading, tested against Umbral.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..mls.codec import Reader, Writer, varint_size
from ..mls.crypto.suite import CipherSuite, KeyPair
from ..mls.errors import CryptoError, DecodeError
from ..mls.messages.split import IndividualCommit, SCommit
from ..mls.messages.tree import HPKECiphertext, IndividualUpdatePath
from ..mls.rand import RandomSource
from ..mls.ratchet_tree import TreeView
from ..mls.split_commit import PathSecretOpener, SplitFraming, slots
from ..mls.treemath import LeafIndex, NodeIndex
from .pre_scheme import PRE

__all__ = [
    "PRE_KEY_LABEL",
    "PREKeys",
    "new_pre_keys",
    "PREAnnouncement",
    "announce",
    "PREDeposit",
    "deposit",
    "DEPOSIT_OVERHEAD",
    "deposit_size",
    "deposit_batch_size",
    "KfragEntry",
    "KfragStore",
    "pack_upload",
    "pack_download",
    "unpack_download",
    "pre_encryptor",
    "pre_framing",
    "pre_opener",
    "Projection",
    "reencrypting_projection",
    "Holdings",
    "openable_delegators",
    "open_capsule",
    "path_secrets_opened",
    "encode_batch",
]

#: SignWithLabel label of a PRE key announcement (RFC 9420 §5.1.2 form)
PRE_KEY_LABEL = "mlssim PRE key"


# ---- keys and their announcement --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PREKeys:
    """One generation of a member's PRE keys: the encryption key pair (it delegates its own
    capsules and receives re-encrypted ones) and the pair that signs its kfrags."""

    generation: int
    key: KeyPair
    signer: KeyPair


def new_pre_keys(pre: PRE, rand: RandomSource, generation: int) -> PREKeys:
    """A fresh generation from ``rand``."""
    return PREKeys(generation, pre.generate_key_pair(rand), pre.signer_key_pair(rand))


@dataclass(frozen=True, slots=True)
class PREAnnouncement:
    """``struct { opaque group_id<V>; uint32 leaf; uint32 generation; opaque pre_key<V>;
    opaque signer_key<V>; opaque signature<V>; }``; the signature is
    SignWithLabel(member's MLS signature key, "mlssim PRE key", the fields before it)."""

    group_id: bytes
    leaf: int
    generation: int
    pre_key: bytes
    signer_key: bytes
    signature: bytes = b""

    def tbs(self) -> bytes:
        w = Writer()
        w.push_opaque(self.group_id)
        w.push_uint32(self.leaf)
        w.push_uint32(self.generation)
        w.push_opaque(self.pre_key)
        w.push_opaque(self.signer_key)
        return w.data()

    def encoded(self) -> bytes:
        w = Writer()
        w.push_bytes(self.tbs())
        w.push_opaque(self.signature)
        return w.data()

    @classmethod
    def decode(cls, data: bytes) -> PREAnnouncement:
        r = Reader(data)
        out = cls(
            r.pull_opaque(),
            r.pull_uint32(),
            r.pull_uint32(),
            r.pull_opaque(),
            r.pull_opaque(),
            r.pull_opaque(),
        )
        if not r.eof():
            raise DecodeError("trailing bytes after a PREAnnouncement")
        return out

    def verify(self, suite: CipherSuite, signature_key: bytes) -> bool:
        """Does the member whose leaf has ``signature_key`` vouch for these keys?"""
        return suite.verify_with_label(signature_key, PRE_KEY_LABEL, self.tbs(), self.signature)


def announce(
    suite: CipherSuite, group_id: bytes, leaf: int, keys: PREKeys, signature_priv: bytes
) -> PREAnnouncement:
    """The signed announcement of ``keys`` by the member at ``leaf``."""
    unsigned = PREAnnouncement(group_id, leaf, keys.generation, keys.key.pub, keys.signer.pub)
    sig = suite.sign_with_label(signature_priv, PRE_KEY_LABEL, unsigned.tbs())
    return PREAnnouncement(group_id, leaf, keys.generation, keys.key.pub, keys.signer.pub, sig)


# ---- deposits ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PREDeposit:
    """``struct { uint32 delegator; uint32 delegator_generation; uint32 receiver;
    uint32 receiver_generation; opaque kfrag<V>; }``: one re-encryption key at the DS
    (delegator and receiver are leaf indices of the group the upload is for)."""

    delegator: int
    delegator_generation: int
    receiver: int
    receiver_generation: int
    kfrag: bytes

    def push(self, w: Writer) -> None:
        w.push_uint32(self.delegator)
        w.push_uint32(self.delegator_generation)
        w.push_uint32(self.receiver)
        w.push_uint32(self.receiver_generation)
        w.push_opaque(self.kfrag)

    @classmethod
    def pull(cls, r: Reader) -> PREDeposit:
        return cls(r.pull_uint32(), r.pull_uint32(), r.pull_uint32(), r.pull_uint32(), r.pull_opaque())

    def encoded(self) -> bytes:
        w = Writer()
        self.push(w)
        return w.data()


#: a deposit's bytes besides the kfrag: four uint32
DEPOSIT_OVERHEAD = 16


def deposit_size(pre: PRE) -> int:
    """The exact encoded size of one :class:`PREDeposit` (every field has a fixed length)."""
    return DEPOSIT_OVERHEAD + varint_size(pre.kfrag_size) + pre.kfrag_size


def deposit_batch_size(pre: PRE, group_id: bytes, count: int) -> int:
    """The exact size of ``struct { opaque group_id<V>; PREDeposit deposits<V>; }`` holding
    ``count`` deposits: what one member uploads at once."""
    inner = count * deposit_size(pre)
    return varint_size(len(group_id)) + len(group_id) + varint_size(inner) + inner


def encode_batch(group_id: bytes, deposits: Sequence[PREDeposit]) -> bytes:
    w = Writer()
    w.push_opaque(group_id)
    w.push_vector(deposits, lambda w2, d: d.push(w2))
    return w.data()


def deposit(
    pre: PRE, delegator: int, keys: PREKeys, receiver: int, receiver_ann: PREAnnouncement, rand: RandomSource
) -> PREDeposit:
    """The kfrag from ``keys`` (at leaf ``delegator``) to the announced key of ``receiver``."""
    (kfrag,) = pre.generate_kfrags(keys.key.priv, receiver_ann.pre_key, keys.signer.priv, rand)
    return PREDeposit(delegator, keys.generation, receiver, receiver_ann.generation, kfrag)


@dataclass(frozen=True, slots=True)
class KfragEntry:
    """A kfrag as the DS uses it: with the three public keys it is verified against."""

    kfrag: bytes
    delegating_pub: bytes
    receiving_pub: bytes
    signer_pub: bytes


@dataclass
class KfragStore:
    """The DS's directory: the newest announcement per leaf and the newest kfrag per ordered
    pair of leaves. An honest DS forgets a removed leaf's kfrags (:meth:`drop`)."""

    announcements: dict[int, PREAnnouncement] = field(default_factory=dict)
    kfrags: dict[tuple[int, int], PREDeposit] = field(default_factory=dict)

    def announce(self, ann: PREAnnouncement) -> None:
        self.announcements[ann.leaf] = ann

    def deposit(self, dep: PREDeposit) -> None:
        self.kfrags[(dep.delegator, dep.receiver)] = dep

    def drop(self, leaf: int) -> None:
        self.announcements.pop(leaf, None)
        for pair in [p for p in self.kfrags if leaf in p]:
            del self.kfrags[pair]

    def entry(self, delegator: int, receiver: int) -> KfragEntry:
        dep = self.kfrags.get((delegator, receiver))
        d, r = self.announcements.get(delegator), self.announcements.get(receiver)
        if dep is None or d is None or r is None:
            raise CryptoError(f"no kfrag from leaf {delegator} to leaf {receiver}")
        if (dep.delegator_generation, dep.receiver_generation) != (d.generation, r.generation):
            raise CryptoError(f"the kfrag from leaf {delegator} to leaf {receiver} is for older keys")
        return KfragEntry(dep.kfrag, d.pre_key, r.pre_key, d.signer_key)

    def storage_bytes(self) -> int:
        return sum(len(d.encoded()) for d in self.kfrags.values()) + sum(
            len(a.encoded()) for a in self.announcements.values()
        )


# ---- the committer, the DS and the member -----------------------------------------------------


def pack_upload(capsule: bytes, ciphertext: bytes) -> HPKECiphertext:
    """The committer's ciphertext of one path node: ``kem_output`` = capsule, ``ciphertext`` =
    the DEM ciphertext of the path secret."""
    return HPKECiphertext(kem_output=capsule, ciphertext=ciphertext)


def pack_download(capsule: bytes, cfrag: bytes, ciphertext: bytes) -> HPKECiphertext:
    """A member's ciphertext: ``kem_output`` = capsule ‖ cfrag (fixed lengths), ``ciphertext``
    = the DEM ciphertext."""
    return HPKECiphertext(kem_output=capsule + cfrag, ciphertext=ciphertext)


def unpack_download(pre: PRE, ct: HPKECiphertext) -> tuple[bytes, bytes, bytes]:
    """``(capsule, cfrag, DEM ciphertext)`` of a member's ciphertext; ``CryptoError`` if the
    lengths are not the scheme's."""
    n = pre.capsule_size
    if len(ct.kem_output) != n + pre.cfrag_size:
        raise CryptoError(
            f"a PRE download's kem_output is {len(ct.kem_output)} bytes, not {n + pre.cfrag_size}"
        )
    return ct.kem_output[:n], ct.kem_output[n:], ct.ciphertext


def pre_encryptor(pre: PRE, pub: bytes, rand: RandomSource) -> Callable[..., tuple[HPKECiphertext, ...]]:
    """A ``treekem.PathEncryptor``: one PRE ciphertext per path node under the committer's key
    ``pub`` (none for a node whose resolution is empty: nobody needs it). Its randomness is
    ``rand``, not the commit's, so the path secrets and the MLS stream do not depend on it."""

    def seal(
        suite: CipherSuite,
        tree: TreeView,
        node: NodeIndex,
        resolution: Sequence[NodeIndex],
        secret: bytes,
        context: bytes,
        _commit_rand: RandomSource,
    ) -> tuple[HPKECiphertext, ...]:
        if not resolution:
            return ()
        return (pack_upload(*pre.encrypt(pub, secret, rand)),)

    return seal


def pre_framing(pre: PRE, pub: bytes, rand: RandomSource) -> SplitFraming:
    """The draft's framing with PRE-sealed path secrets (``Group.commit(framing=...)``)."""
    return SplitFraming(path_encryptor=pre_encryptor(pre, pub, rand))


def pre_opener(pre: PRE, receiving_priv: bytes, delegating_pub: bytes, signer_pub: bytes) -> PathSecretOpener:
    """A ``split_commit.PathSecretOpener`` for a member whose PRE secret key is
    ``receiving_priv``, for a commit by the member whose announced keys are ``delegating_pub``
    and ``signer_pub``: verifies the cfrag and opens the path secret."""

    def open_(suite: CipherSuite, _node_priv: bytes, _context: bytes, ct: HPKECiphertext) -> bytes:
        capsule, cfrag, dem = unpack_download(pre, ct)
        return pre.decrypt_reencrypted(
            receiving_priv, delegating_pub, capsule, [cfrag], dem, signer_pub=signer_pub
        )

    return open_


@dataclass(frozen=True, slots=True)
class Projection:
    """The DS's work on one commit: each receiver's IndividualCommit and the re-encryptions."""

    individual: Mapping[LeafIndex, IndividualCommit]
    reencryptions: int


def reencrypting_projection(
    pre: PRE,
    scommit: SCommit,
    tree: TreeView,
    sender: int,
    exclude: frozenset[int],
    kfrag_of: Callable[[int, int], KfragEntry],
) -> Projection:
    """Every receiver's IndividualCommit: its slot ``k`` (``split_commit.slots``), node ``k``'s
    capsule re-encrypted with ``kfrag_of(sender, receiver)``, the keys below ``k``. ``tree`` is
    the commit's tree; ``exclude`` the leaves it adds (they join by Welcome)."""
    if scommit.path is None:
        bare = IndividualCommit(sheader=scommit.sheader)
        return Projection({i: bare for i, _ in tree.leaves() if i != sender and i not in exclude}, 0)
    nodes = scommit.path.nodes
    keys = tuple(n.encryption_key for n in nodes)
    out: dict[LeafIndex, IndividualCommit] = {}
    for leaf, slot in slots(tree, sender, exclude).items():
        (ct,) = nodes[slot.k].encrypted_path_secret
        e = kfrag_of(sender, int(leaf))
        cfrag = pre.reencrypt(
            ct.kem_output,
            e.kfrag,
            signer_pub=e.signer_pub,
            delegating_pub=e.delegating_pub,
            receiving_pub=e.receiving_pub,
        )
        path = IndividualUpdatePath(
            encrypted_path_secret=pack_download(ct.kem_output, cfrag, ct.ciphertext), new_pks=keys[: slot.k]
        )
        out[leaf] = IndividualCommit(sheader=scommit.sheader, path=path)
    return Projection(out, len(out))


# ---- knowledge rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holdings:
    """What an adversary holds of the PRE layer: secret keys (by public key) taken from
    members, and kfrags taken from a DS (each with its public keys)."""

    secret_keys: Mapping[bytes, bytes] = field(default_factory=dict)
    kfrags: tuple[KfragEntry, ...] = ()


def openable_delegators(h: Holdings) -> frozenset[bytes]:
    """The PRE public keys every capsule of which the adversary opens (threshold 1):

    * its own secret keys (``decrypt_original``);
    * a delegator with a kfrag to a key whose secret it holds: it re-encrypts any capsule of
      that delegator and opens it (the DS + that member). With Umbral the pair also yields the
      delegator's secret key itself (the scheme is not secure against a delegatee colluding
      with threshold proxies); the capsules opened are the same.

    A DS alone (kfrags, capsules, public keys) opens nothing."""
    held = frozenset(h.secret_keys)
    return held | frozenset(k.delegating_pub for k in h.kfrags if k.receiving_pub in held)


def open_capsule(
    pre: PRE, h: Holdings, delegating_pub: bytes, capsule: bytes, ciphertext: bytes
) -> bytes | None:
    """Open one capsule under ``delegating_pub`` with what ``h`` holds, by the scheme's own
    calls (the collusion of :func:`openable_delegators` is performed, not assumed); ``None``
    when nothing held opens it."""
    priv = h.secret_keys.get(delegating_pub)
    if priv is not None:
        try:
            return pre.decrypt_original(priv, capsule, ciphertext)
        except CryptoError:
            return None
    for k in h.kfrags:
        if k.delegating_pub != delegating_pub or k.receiving_pub not in h.secret_keys:
            continue
        try:
            cfrag = pre.reencrypt(
                capsule,
                k.kfrag,
                signer_pub=k.signer_pub,
                delegating_pub=k.delegating_pub,
                receiving_pub=k.receiving_pub,
            )
            return pre.decrypt_reencrypted(
                h.secret_keys[k.receiving_pub],
                delegating_pub,
                capsule,
                [cfrag],
                ciphertext,
                signer_pub=k.signer_pub,
            )
        except CryptoError:
            continue
    return None


def path_secrets_opened(
    pre: PRE,
    h: Holdings,
    delegating_pub: bytes,
    signer_pub: bytes,
    scommit: SCommit,
    downloads: Iterable[HPKECiphertext] = (),
) -> dict[int, bytes]:
    """Path-node index → path secret for every node of ``scommit`` (by the member whose keys
    are ``delegating_pub`` and ``signer_pub``) that the adversary opens: each node's capsule by
    :func:`open_capsule`, and the re-encrypted ``downloads`` it saw on the network with any
    receiving key it holds (what a member compromise gives it while the DS is honest)."""
    out: dict[int, bytes] = {}
    if scommit.path is None:
        return out
    nodes = scommit.path.nodes
    for i, node in enumerate(nodes):
        for ct in node.encrypted_path_secret:
            secret = open_capsule(pre, h, delegating_pub, ct.kem_output, ct.ciphertext)
            if secret is not None:
                out[i] = secret
    for d in downloads:
        capsule, cfrag, dem = unpack_download(pre, d)
        at = next(
            (j for j, n in enumerate(nodes) if any(c.kem_output == capsule for c in n.encrypted_path_secret)),
            None,
        )
        if at is None or at in out:
            continue
        for priv in h.secret_keys.values():
            try:
                out[at] = pre.decrypt_reencrypted(
                    priv, delegating_pub, capsule, [cfrag], dem, signer_pub=signer_pub
                )
                break
            except CryptoError:
                continue
    return out
