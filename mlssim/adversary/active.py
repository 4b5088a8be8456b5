"""The active adversary's forgeries: application messages sent *as* a member (RFC 9420 §16.5).

A forged message needs two things, and RFC 9420 checks both (docs/security-model.md):

* the **group key** of its epoch (§16.5's first form of authentication, "a key derived from
  the group secrets"): the sender-data secret and the sender's ratchet of the secret tree to
  encrypt the PrivateMessage (§6.3). The adversary holds it for the epochs it can derive
  (a member compromise until healing; an insider's epochs until it is removed);
* the **signature key** of the impersonated leaf (§16.5's second form): receivers verify the
  content's signature with "the signature key contained in the LeafNode at the index indicated
  by leaf_index" of their tree (§6.1, checked on decryption, §6.3.2). A stolen key works until
  the member's leaf carries another one: a rotation (an Update or a commit's path leaf with a
  new signature key, §12.1.2, §7.3) or its removal.

The same holds for a forged **commit** (:meth:`Forger.commit`): the smallest commit that
changes the epoch, no proposals and a full UpdatePath (§12.4), built by ``Group.commit`` itself
on that state. Creating a path needs no TreeKEM private key (§7.4: fresh path secrets, encrypted
to the copath's public keys); the commit needs the epoch's ``init_secret`` for the key schedule
and its ``membership_key`` for the PublicMessage's membership tag (§6.2), both in the epoch
secrets the adversary derives, and the stolen key for the signature (§6.1). Having chosen the
path secrets, the adversary holds the new epoch and the private keys of the victim's new path.

The message is built by the core's own sending code on a member state the adversary assembles
from what it holds: nothing here re-implements MLS, and the receivers' verdict is the core's.
"""

from __future__ import annotations

from mlssim.mls.crypto.suite import CipherSuite
from mlssim.mls.group import Group
from mlssim.mls.group_send import application_message
from mlssim.mls.group_state import (
    GroupConfig,
    MemberIdentity,
    MemberState,
    PublicEpoch,
    StagedCommit,
    new_secret_tree,
)
from mlssim.mls.keyschedule import EpochSecrets
from mlssim.mls.messages import ContentType, MLSMessage
from mlssim.mls.rand import RandomSource
from mlssim.mls.treekem_keys import PathKeys
from mlssim.mls.treemath import LeafIndex

__all__ = ["Forger", "signature_current", "leaf_with_key"]


def signature_current(public: PublicEpoch, leaf: int, signature_key: bytes) -> bool | None:
    """Does ``leaf`` of this epoch's tree still carry ``signature_key``? ``None``: the leaf is
    blank or gone (the member was removed)."""
    tree = public.tree
    node = tree.leaf(LeafIndex(leaf)) if leaf < tree.n_leaves else None
    if node is None:
        return None
    return node.signature_key == signature_key


def leaf_with_key(public: PublicEpoch, signature_key: bytes) -> int | None:
    """The leaf of this epoch's tree that carries ``signature_key`` (the victim's, wherever a
    re-join put it; §7.3: no two leaves share a signature key), if any."""
    leaf = public.tree.find_signature_key(signature_key)
    return None if leaf is None else int(leaf)


class Forger:
    """Application messages of one epoch as the member at ``leaf``, signed with a stolen key."""

    def __init__(
        self,
        suite: CipherSuite,
        config: GroupConfig,
        public: PublicEpoch,
        secrets: EpochSecrets,
        leaf: int,
        stolen: MemberIdentity,
    ) -> None:
        self.suite = suite
        self.config = config
        self.epoch = public.context.epoch
        # no TreeKEM key is needed to send application data: a placeholder leaf key
        self._st = MemberState(
            public=public,
            leaf=LeafIndex(leaf),
            identity=stolen,
            path_keys=PathKeys.for_leaf(LeafIndex(leaf), b""),
            secrets=secrets,
            secret_tree=new_secret_tree(suite, secrets.encryption_secret, public.tree.n_leaves, config),
        )
        self.generation = 0

    def skip_to(self, generation: int) -> None:
        """Send from ``generation`` on: past the member's own generations, which the adversary
        reads from the sender data it can decrypt (a generation used twice is rejected, §9.2)."""
        while self.generation < generation:
            self._st.secret_tree.next_send_key(self._st.leaf, ContentType.APPLICATION)
            self.generation += 1

    def application(self, data: bytes, rand: RandomSource, authenticated_data: bytes = b"") -> MLSMessage:
        """A PrivateMessage as the member would send it (§6.3), signed with the stolen key."""
        msg = application_message(self.suite, self.config, self._st, data, rand, authenticated_data)
        self.generation += 1
        return msg

    def commit(self, rand: RandomSource) -> StagedCommit:
        """A path commit as the member (§12.4.1: no proposals, a full UpdatePath) by
        ``Group.commit`` on the assembled state; its staged state is the new epoch as the
        adversary now holds it (secrets, and the private keys of the path it chose)."""
        return Group(self.suite, self._st, self.config).commit(rand, include_cached=False)
