"""The secret tree and its per-sender hash ratchets (RFC 9420 §9), and sender-data keys (§6.3.2).

One :class:`SecretTree` per member and epoch, rooted at the epoch's ``encryption_secret``.
It is lazy, because a simulated member of a 50,000-member group must not hold 100,000
node secrets: the tree starts as ``{root: encryption_secret}``; asking for a leaf's
ratchets walks down from the nearest stored ancestor, replaces each node on the way by
its two children and drops it (§9.2: a parent whose children are both derived is
consumed), and finally turns the leaf secret into its handshake and application ratchet
roots and drops the leaf secret too. At every moment each leaf without ratchets has
exactly one stored node on its path to the root.

Receiving tolerates reordering within a :class:`RatchetPolicy` window: keys skipped on
the way to a newer generation are cached (at most ``max_behind`` generations back). A
receiver *takes* a key without changing anything and *consumes* it only once the message
has decrypted and authenticated (§9.2), so a forged message moves no ratchet; a consumed
key is deleted, and asking for it again raises :class:`KeyConsumedError`. The nonce
returned is the ratchet's nonce; XORing in the reuse guard (§6.3.1) is the framing
layer's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import treemath as tm
from .crypto.suite import CipherSuite
from .errors import InternalError, LocalProtocolError, RemoteProtocolError
from .messages.enums import ContentType
from .sharing import EpochCache, tables_of

__all__ = [
    "SecretTreeError",
    "LeafOutOfRangeError",
    "GenerationTooFarError",
    "GenerationTooOldError",
    "KeyConsumedError",
    "RatchetExhaustedError",
    "SecretTreeSizeError",
    "RatchetKey",
    "PendingKey",
    "RatchetPolicy",
    "SecretTree",
    "sender_data_key_nonce",
    "MAX_GENERATION",
]

#: ``SenderData.generation`` is a uint32 (§6.3.2).
MAX_GENERATION = 0xFFFFFFFF

_HANDSHAKE = 0
_APPLICATION = 1


class SecretTreeError(RemoteProtocolError):
    """A PrivateMessage asks the secret tree for a key it cannot or must not give (§9)."""

    rfc_section = "9"


class LeafOutOfRangeError(SecretTreeError):
    """The sender's leaf index is outside the tree (§6.3.2, §9)."""

    rfc_section = "9"


class GenerationTooFarError(SecretTreeError):
    """The generation is further ahead than the receiver will ratchet (§9.1; policy of §15.3)."""

    rfc_section = "9.1"


class GenerationTooOldError(SecretTreeError):
    """The generation fell out of the out-of-order window; its key is deleted (§9.2)."""

    rfc_section = "9.2"


class KeyConsumedError(SecretTreeError):
    """The key of this generation was already handed out once and deleted (§9.2)."""

    rfc_section = "9.2"


class RatchetExhaustedError(LocalProtocolError):
    """The sender's ratchet passed the last uint32 generation (§9.1)."""

    rfc_section = "9.1"


class SecretTreeSizeError(LocalProtocolError):
    """The leaf count is not the ratchet tree's: a power of two, at least 1 (§7.7, §9)."""

    rfc_section = "9"


@dataclass(frozen=True, slots=True, kw_only=True)
class RatchetKey:
    """The AEAD key and nonce of one ratchet generation (§9.1)."""

    generation: int
    key: bytes
    nonce: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RatchetPolicy:
    """The receiver's reordering window (§15.3: bound forward steps and kept keys).

    ``max_forward``: how many generations past the next expected one a message may
    jump (each skipped generation costs three derivations). ``max_behind``: keys
    older than the newest received generation minus ``max_behind`` are deleted, which
    also bounds the cache of skipped keys per ratchet to ``max_behind`` entries.
    """

    max_forward: int = 1000
    max_behind: int = 1000

    def __post_init__(self) -> None:
        if self.max_forward < 0 or self.max_behind < 0:
            raise ValueError("RatchetPolicy bounds must be non-negative")


@dataclass(frozen=True, slots=True)
class _Advance:
    """Where a ratchet goes once a newer generation's key is consumed."""

    secret: bytes  # the secret of the generation after the consumed one
    low: int
    skipped: tuple[tuple[int, tuple[bytes, bytes]], ...]  # (generation, (key, nonce)) kept


@dataclass(frozen=True, slots=True)
class PendingKey:
    """A ratchet key taken for one message but not consumed (see :meth:`SecretTree.take`)."""

    slot: int
    key: RatchetKey
    at: int  # the ratchet's next generation when the key was taken
    advance: _Advance | None  # None: the key is a retained skipped one


class _Ratchet:
    """One hash ratchet: the secret of the next unused generation and the skipped keys."""

    __slots__ = ("secret", "generation", "low", "skipped")

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.generation = 0  # next generation not yet derived
        self.low = 0  # generations below are deleted for good
        self.skipped: dict[int, tuple[bytes, bytes]] | None = None  # ascending generation order


def _kind(content_type: ContentType | int) -> int:
    """Application messages use the application ratchet, proposals and commits the handshake one (§9.1)."""
    if content_type == ContentType.APPLICATION:
        return _APPLICATION
    if content_type in (ContentType.PROPOSAL, ContentType.COMMIT, ContentType.SHEADER):  # S5 (split_commit)
        return _HANDSHAKE
    raise InternalError(f"no ratchet for content type {content_type}")


def _expand_two(
    suite: CipherSuite, secret: bytes, a: tuple[str, bytes], b: tuple[str, bytes]
) -> tuple[bytes, bytes]:
    nh = suite.info.hash_len
    return suite.expand_with_label(secret, *a, nh), suite.expand_with_label(secret, *b, nh)


def _ratchet_step(suite: CipherSuite, secret: bytes, generation: int) -> tuple[bytes, bytes, bytes]:
    info = suite.info
    return (
        suite.derive_tree_secret(secret, "key", generation, info.aead_key_len),
        suite.derive_tree_secret(secret, "nonce", generation, info.aead_nonce_len),
        suite.derive_tree_secret(secret, "secret", generation, info.hash_len),
    )


class SecretTree:
    """§9 secret tree of one epoch, derived on demand (see the module docstring).

    ``n_leaves`` is the ratchet tree's leaf count, which §7.7 keeps a power of two; the
    shape decides the secrets, so a member count is refused rather than rounded.
    """

    __slots__ = ("suite", "n_leaves", "policy", "_root", "_nodes", "_ratchets", "_shared")

    def __init__(
        self,
        suite: CipherSuite,
        encryption_secret: bytes,
        n_leaves: int,
        *,
        policy: RatchetPolicy | None = None,
        shared: EpochCache | None = None,
    ) -> None:
        """``shared``: derivations shared with the other members of the epoch (each a pure
        function of one secret, keyed by it; see :mod:`~mlssim.mls.sharing`)."""
        if n_leaves < 1 or n_leaves & (n_leaves - 1):
            raise SecretTreeSizeError(f"secret tree over {n_leaves} leaves: need a power of two >= 1")
        self.suite = suite
        self.n_leaves = n_leaves
        self.policy = policy if policy is not None else RatchetPolicy()
        self._root = tm.root(n_leaves)
        self._nodes: dict[int, bytes] = {self._root: encryption_secret}
        self._ratchets: dict[int, _Ratchet] = {}  # 2 * leaf + kind
        self._shared = tables_of(shared).secret_tree

    @property
    def stored_node_count(self) -> int:
        """Tree-node secrets currently held (not counting ratchets): memory and §9.2 checks."""
        return len(self._nodes)

    @property
    def ratchet_count(self) -> int:
        """Hash ratchets currently held (two per leaf whose secret was consumed)."""
        return len(self._ratchets)

    @property
    def skipped_key_count(self) -> int:
        """Out-of-order keys cached over all ratchets (each ratchet keeps at most ``max_behind``)."""
        return sum(len(r.skipped) for r in self._ratchets.values() if r.skipped is not None)

    # ---- tree ----------------------------------------------------------------------------

    def _ratchet(self, leaf: int, kind: int) -> _Ratchet:
        r = self._ratchets.get(2 * leaf + kind)
        if r is not None:
            return r
        if not 0 <= leaf < self.n_leaves:
            raise LeafOutOfRangeError(f"leaf {leaf} outside a secret tree of {self.n_leaves} leaves")
        x = 2 * leaf
        path: list[int] = []
        while x not in self._nodes:
            if x == self._root:
                raise InternalError(f"secret tree lost the path to leaf {leaf}")
            path.append(x)
            x = tm.parent(x, self.n_leaves)
        secret = self._nodes.pop(x)
        while path:
            child = path.pop()
            left, right = tm.left(x), tm.right(x)
            left_secret, right_secret = self._two(secret, ("tree", b"left"), ("tree", b"right"))
            if child == left:
                self._nodes[right] = right_secret
                secret = left_secret
            else:
                self._nodes[left] = left_secret
                secret = right_secret
            x = child
        hs_root, app_root = self._two(secret, ("handshake", b""), ("application", b""))
        hs, app = _Ratchet(hs_root), _Ratchet(app_root)
        self._ratchets[2 * leaf + _HANDSHAKE] = hs
        self._ratchets[2 * leaf + _APPLICATION] = app
        return app if kind == _APPLICATION else hs

    def _two(self, secret: bytes, a: tuple[str, bytes], b: tuple[str, bytes]) -> tuple[bytes, bytes]:
        """``ExpandWithLabel(secret, label, context, Nh)`` for the two (label, context) pairs:
        a node's children, or a leaf's two ratchet roots (§9); ``a``'s label names the pair."""
        return self._shared.get_or_compute((a[0], secret), _expand_two, self.suite, secret, a, b)

    def _next_secret(self, secret: bytes, generation: int) -> bytes:
        return self.suite.derive_tree_secret(secret, "secret", generation, self.suite.info.hash_len)

    def _step(self, secret: bytes, generation: int) -> tuple[bytes, bytes, bytes]:
        """Generation ``generation`` of a ratchet at ``secret``: its key, its nonce and the
        next generation's secret (§9.1 DeriveTreeSecret "key", "nonce", "secret")."""
        return self._shared.get_or_compute(
            (secret, generation), _ratchet_step, self.suite, secret, generation
        )

    # ---- sending -------------------------------------------------------------------------

    def next_send_key(self, leaf: int, content_type: ContentType) -> RatchetKey:
        """Key, nonce and generation for this member's next message; the ratchet moves on (§9.1)."""
        r = self._ratchet(leaf, _kind(content_type))
        g = r.generation
        if g > MAX_GENERATION:
            raise RatchetExhaustedError(f"leaf {leaf} has used every uint32 generation")
        key, nonce, r.secret = self._step(r.secret, g)
        r.generation = g + 1
        r.low = r.generation  # a sender never needs its own old keys
        return RatchetKey(generation=g, key=key, nonce=nonce)

    # ---- receiving -----------------------------------------------------------------------

    def receive_key(self, leaf: int, content_type: ContentType, generation: int) -> RatchetKey:
        """Key and nonce of ``leaf``'s ``generation``, consumed at once (§9.1, §9.2): the
        sender's own vectors and tests; a receiver of a message uses :meth:`take` and
        :meth:`consume` around the decryption instead."""
        pending = self.take(leaf, content_type, generation)
        self.consume(pending)
        return pending.key

    def take(self, leaf: int, content_type: ContentType, generation: int) -> PendingKey:
        """Key and nonce of ``leaf``'s ``generation``, without consuming anything yet.

        §9.2 consumes a key only once it has (successfully) decrypted a message, so nothing
        changes until :meth:`consume`: a forged or corrupted message naming a far generation
        moves no ratchet and deletes no key (§14's step limit still bounds the work). Raises
        :class:`GenerationTooFarError`, :class:`GenerationTooOldError` or
        :class:`KeyConsumedError`. (Deriving a leaf's two ratchet roots from the tree is
        not a consumption of a ratchet value and may happen here; see :meth:`ratchet_state`.)
        """
        if not 0 <= generation <= MAX_GENERATION:
            raise GenerationTooFarError(f"generation {generation} is not a uint32")
        kind = _kind(content_type)
        r = self._ratchet(leaf, kind)
        if generation < r.generation:
            kn = r.skipped.get(generation) if r.skipped is not None else None
            if kn is not None:
                key = RatchetKey(generation=generation, key=kn[0], nonce=kn[1])
                return PendingKey(slot=2 * leaf + kind, key=key, at=r.generation, advance=None)
            if generation < r.low:
                raise GenerationTooOldError(
                    f"leaf {leaf} generation {generation}: keys below {r.low} are deleted"
                )
            raise KeyConsumedError(f"leaf {leaf} generation {generation} was already used")
        if generation - r.generation > self.policy.max_forward:
            raise GenerationTooFarError(
                f"leaf {leaf} generation {generation} is {generation - r.generation} past the next "
                f"expected {r.generation}; the limit is {self.policy.max_forward}"
            )
        new_low = max(r.low, generation - self.policy.max_behind)
        secret, g = r.secret, r.generation
        skipped: list[tuple[int, tuple[bytes, bytes]]] = []
        while g < generation:
            if g >= new_low:
                k, n, secret = self._step(secret, g)
                skipped.append((g, (k, n)))
            else:
                secret = self._next_secret(secret, g)  # a key outside the window is never made
            g += 1
        key_bytes, nonce, next_secret = self._step(secret, generation)
        key = RatchetKey(generation=generation, key=key_bytes, nonce=nonce)
        advance = _Advance(secret=next_secret, low=new_low, skipped=tuple(skipped))
        return PendingKey(slot=2 * leaf + kind, key=key, at=r.generation, advance=advance)

    def consume(self, pending: PendingKey) -> None:
        """§9.2: the key of ``pending`` decrypted its message: delete it, and move the ratchet
        past it (keeping the skipped keys inside the window). ``pending`` must come from
        :meth:`take` on this tree with no other consumption of that ratchet in between."""
        r = self._ratchets.get(pending.slot)
        if r is None or r.generation != pending.at:
            raise InternalError("a pending ratchet key was consumed after its ratchet moved")
        g = pending.key.generation
        adv = pending.advance
        if adv is None:
            if r.skipped is None or r.skipped.pop(g, None) is None:
                raise InternalError(f"generation {g} was consumed twice")
            if not r.skipped:
                r.skipped = None
            return
        if adv.skipped:
            if r.skipped is None:
                r.skipped = {}
            r.skipped.update(adv.skipped)
        r.secret = adv.secret
        r.generation = g + 1
        r.low = adv.low
        self._evict(r)

    def ratchet_state(self) -> tuple[tuple[int, int, int, tuple[int, ...]], ...]:
        """What receiving can change, for tests that a rejected message changed nothing: per
        ratchet that has moved (slot ``2 * leaf + kind``), its next generation, its low-water
        mark and the generations of its retained keys. A ratchet still at its root is left
        out: it holds exactly what the tree node it came from held."""
        out = []
        for slot, r in sorted(self._ratchets.items()):
            kept = tuple(r.skipped) if r.skipped is not None else ()
            if r.generation or r.low or kept:
                out.append((slot, r.generation, r.low, kept))
        return tuple(out)

    @staticmethod
    def _evict(r: _Ratchet) -> None:
        """Delete cached keys below the window (they are in ascending order)."""
        skipped = r.skipped
        if skipped is None:
            return
        while skipped:
            oldest = next(iter(skipped))
            if oldest >= r.low:
                break
            del skipped[oldest]
        if not skipped:
            r.skipped = None


def sender_data_key_nonce(
    suite: CipherSuite, sender_data_secret: bytes, ciphertext: bytes
) -> tuple[bytes, bytes]:
    """§6.3.2 ``(sender_data_key, sender_data_nonce)`` from the first ``KDF.Nh`` ciphertext bytes."""
    sample = ciphertext[: suite.info.hash_len]
    key = suite.expand_with_label(sender_data_secret, "key", sample, suite.info.aead_key_len)
    nonce = suite.expand_with_label(sender_data_secret, "nonce", sample, suite.info.aead_nonce_len)
    return key, nonce
