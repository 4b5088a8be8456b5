"""What the adversary derives from one commit or Welcome, through the derivations a member runs:
:class:`Derivation` reads a commit, opens or regenerates its UpdatePath, recovers an external
commit's init_secret, opens a Welcome, and credits a candidate epoch only when the epoch's
confirmation tag verifies.

* a commit's UpdatePath opens with any held private key of a node in a copath resolution
  (:func:`~mlssim.mls.treekem.open_update_path_node`), or is regenerated from the
  committer's known leaf secret (:func:`~mlssim.mls.treekem.regenerate_update_path`);
* with the previous epoch's ``init_secret`` that gives the new epoch (``EpochSecrets.from_init``);
* a Welcome opens with a held KeyPackage init key (``open_welcome``) or by replaying the
  committer's known HPKE randomness; an external commit's ``kem_output`` opens with the old
  epoch's external private key or by replaying the joiner's randomness.

Apart from :class:`~.adversary.Adversary` because it is the cryptography only: it uses what the
adversary holds (its :class:`~.knowledge.Knowledge`, the leaf secrets of known draws), records
the path secrets it opens, and returns the epoch secrets and keys a commit gives; the
bookkeeping (which groups are tracked, which tree keys are still useful, the verdict per epoch)
stays with the adversary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from ..mls import treemath as tm
from ..mls.codec import decode, encode
from ..mls.crypto.hpke import hpke_core_for
from ..mls.crypto.suite import CipherSuite, KeyPair
from ..mls.errors import CryptoError, MLSError
from ..mls.group import PublicEpoch
from ..mls.group_state import EXTERNAL_INIT_LABEL
from ..mls.keyschedule import ConfirmationTagError, EpochSecrets, JoinerStage, verify_confirmation_tag
from ..mls.messages.enums import ContentType, PSKType, SenderType
from ..mls.messages.framing import (
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
)
from ..mls.messages.key_package import KeyPackage
from ..mls.messages.proposals import Commit, ExternalInit, PreSharedKey
from ..mls.messages.psk_id import PreSharedKeyID
from ..mls.messages.split import SCommit
from ..mls.messages.tree import HPKECiphertext, UpdatePath
from ..mls.messages.welcome import GroupInfo, GroupSecrets, Welcome
from ..mls.protect import unprotect_private
from ..mls.psk import psk_secret
from ..mls.secret_tree import RatchetPolicy, SecretTree
from ..mls.split_commit import as_commit, path_context
from ..mls.treekem import (
    OpenedPath,
    TreeKEMError,
    derive_update_path_from,
    open_update_path_node,
    regenerate_update_path,
    update_path_targets,
    welcome_path_keys,
)
from ..mls.treemath import LeafIndex, NodeIndex
from ..mls.welcome import open_welcome
from .knowledge import Knowledge
from .randomness import ReplayExhaustedError, ReplayRandom

__all__ = ["Derivation"]


class Derivation:
    """The member-side derivations, run with the adversary's keys. ``knowledge`` and
    ``leaf_secrets`` are the adversary's own (shared, not copied): they grow as it learns."""

    __slots__ = ("suite", "knowledge", "leaf_secrets")

    def __init__(self, suite: CipherSuite, knowledge: Knowledge, leaf_secrets: dict[bytes, bytes]) -> None:
        self.suite = suite
        self.knowledge = knowledge
        #: leaf public key -> leaf secret, for every known draw of KDF.Nh bytes
        self.leaf_secrets = leaf_secrets

    def commit_content(
        self, commit: MLSMessage | AuthenticatedContent, old: PublicEpoch, prev: EpochSecrets | None
    ) -> FramedContent | None:
        """The commit as the adversary can read it: a PublicMessage always; a PrivateMessage only
        with the old epoch's secrets (sender-data key and handshake ratchet)."""
        if isinstance(commit, AuthenticatedContent):
            return commit.content
        body = commit.body
        if isinstance(body, SCommit):  # draft-mularczyk-mls-splitcommit: its framed header
            header = self.commit_content(body.sheader, old, prev)
            return header if header is not None and header.sheader is not None else None
        if isinstance(body, PublicMessage):
            return body.content
        if isinstance(body, PrivateMessage) and prev is not None:
            tree = old.tree

            def key_of(leaf: int) -> bytes | None:
                node = tree.leaf(LeafIndex(leaf)) if leaf < tree.n_leaves else None
                return None if node is None else node.signature_key

            st = SecretTree(
                self.suite,
                prev.encryption_secret,
                tree.n_leaves,
                policy=RatchetPolicy(max_forward=1 << 20, max_behind=0),
            )
            try:
                ac = unprotect_private(
                    self.suite,
                    body,
                    secret_tree=st,
                    sender_data_secret=prev.sender_data_secret,
                    context=old.context,
                    signature_key_of=key_of,
                )
            except MLSError:
                return None
            kept = (ContentType.COMMIT, ContentType.SHEADER)
            return ac.content if ac.content.content_type in kept else None
        return None

    @staticmethod
    def commit_of(commit: MLSMessage | AuthenticatedContent, content: FramedContent) -> Commit | None:
        """The proposals and path of ``content``: its Commit, or a split commit's header and
        SUpdatePath as one (``split_commit.as_commit``)."""
        if content.commit is not None:
            return content.commit
        body = commit.body if isinstance(commit, MLSMessage) else None
        if content.sheader is not None and isinstance(body, SCommit):
            return as_commit(content.sheader, body.path)
        return None

    def from_commit(
        self,
        old: PublicEpoch,
        new: PublicEpoch,
        content: FramedContent,
        commit: Commit,
        prev: EpochSecrets | None,
        added: frozenset[int],
        learned: dict[NodeIndex, KeyPair],
        sender_device: str | None,
        *,
        tracked: bool,
        known: Mapping[int, bytes] | None = None,
    ) -> tuple[EpochSecrets | None, str]:
        """init_secret[n-1] + commit_secret (+ PSKs) -> epoch n, checked by the confirmation tag.
        ``tracked``: the adversary holds (or recently held) keys of the group's tree."""
        external = content.sender.sender_type == SenderType.NEW_MEMBER_COMMIT
        init: bytes | None = None
        if external:
            init = self._external_init(old, commit, prev, sender_device)
        elif prev is not None:
            init = prev.init_secret
        commit_secret, how = self._commit_secret(
            old,
            new,
            content,
            commit.path,
            added,
            learned,
            worth_opening=init is not None or tracked,
            known=known or {},
        )
        if init is None or commit_secret is None:
            return None, ""
        ok, psk = self._psk_secret(commit)
        if not ok:
            return None, ""
        cand = EpochSecrets.from_init(
            self.suite,
            init_secret=init,
            commit_secret=commit_secret,
            psk_secret=psk,
            group_context=new.context_bytes,
        )
        if not self._confirms(cand, new):
            return None, ""
        return cand, how

    def _commit_secret(
        self,
        old: PublicEpoch,
        new: PublicEpoch,
        content: FramedContent,
        path: UpdatePath | None,
        added: frozenset[int],
        learned: dict[NodeIndex, KeyPair],
        *,
        worth_opening: bool,
        known: Mapping[int, bytes],
    ) -> tuple[bytes | None, str]:
        """The commit_secret and how it was had: all zero without a path; else regenerated from
        the committer's known leaf secret, opened with a held key (tried only with a known
        leaf secret or when ``worth_opening``), or derived from a ``known`` path secret (had
        outside the UpdatePath, how = "pre"). The path's keys go to ``learned``."""
        suite = self.suite
        if path is None:
            return bytes(suite.info.hash_len), "no-path"
        leaf_secret = self.leaf_secrets.get(path.leaf_node.encryption_key)
        if leaf_secret is None and not worth_opening:
            return None, ""
        committer = self._committer_leaf(new, content)
        if committer is None:
            return None, ""
        opened: OpenedPath | None = None
        how = ""
        shaped = True
        try:
            targets = update_path_targets(new.tree, committer, path, added)
        except MLSError:
            # not the RFC's shape (one ciphertext per resolution node): only a known secret opens it
            targets, shaped = [], False
        nodes = [p for p, _ in new.tree.filtered_direct_path_with_copath(committer)]
        if known:
            index = min(known)
            try:
                opened = derive_update_path_from(suite, nodes, path, index, known[index])
                how = "pre"
            except MLSError:
                opened = None
        if opened is None and not shaped:
            return None, ""
        if opened is None and leaf_secret is not None:
            try:
                leaf_kp, opened = regenerate_update_path(suite, nodes, path, leaf_secret)
                learned[NodeIndex(2 * committer)] = leaf_kp
                how = "randomness"
            except TreeKEMError:
                opened = None
        if opened is None:
            if content.content_type == ContentType.SHEADER:
                context = path_context(old.context_bytes)  # the split draft's choice S2
            else:
                context = encode(
                    replace(new.context, confirmed_transcript_hash=old.context.confirmed_transcript_hash)
                )
            opened = self._open_path(new, targets, path, context)
            how = "path"
        if opened is None:
            return None, ""
        learned.update(opened.node_keys)
        for x, s in opened.path_secrets.items():
            self.knowledge.path_secrets[(new.context.group_id, new.context.epoch, int(x))] = s
        return opened.commit_secret, how

    def _open_path(
        self,
        new: PublicEpoch,
        targets: list[tuple[NodeIndex, NodeIndex, list[NodeIndex]]],
        path: UpdatePath,
        context: bytes,
    ) -> OpenedPath | None:
        """Open the lowest ciphertext whose recipient node's private key is held."""
        hpke = self.knowledge.hpke
        nodes = [p for p, _, _ in targets]
        for index, (_, _, res) in enumerate(targets):
            for position, r in enumerate(res):
                node = new.tree.node(r)
                priv = None if node is None else hpke.get(node.encryption_key)
                if priv is None:
                    continue
                try:
                    return open_update_path_node(
                        self.suite, nodes, path, index=index, position=position, priv=priv, context=context
                    )
                except TreeKEMError:
                    continue
        return None

    def _committer_leaf(self, new: PublicEpoch, content: FramedContent) -> LeafIndex | None:
        if content.sender.sender_type == SenderType.MEMBER:
            return LeafIndex(content.sender.index)
        path = content.commit.path if content.commit is not None else None
        if path is None:
            return None
        x = new.tree.find_encryption_key(path.leaf_node.encryption_key)
        return None if x is None or x % 2 else LeafIndex(x // 2)

    def _external_init(
        self, old: PublicEpoch, commit: Commit, prev: EpochSecrets | None, sender_device: str | None
    ) -> bytes | None:
        """§8.3: init_secret from ExternalInit.kem_output with the old epoch's external private
        key, or by replaying the joiner's known draws against the published external_pub."""
        suite = self.suite
        ei = next(
            (
                p.proposal
                for p in commit.proposals
                if p.proposal is not None and isinstance(p.proposal, ExternalInit)
            ),
            None,
        )
        if ei is None:
            return None
        nh = suite.info.hash_len
        if prev is not None:
            try:
                return suite.hpke_export_receiver(
                    prev.external_key_pair().priv, ei.kem_output, b"", EXTERNAL_INIT_LABEL, nh
                )
            except CryptoError:
                return None
        pub = self.knowledge.external_pubs.get(old.context_bytes)
        if pub is None:
            return None
        for draws, i in self._replay_starts(sender_device):
            try:
                enc, init = suite.hpke_export_sender(
                    pub, b"", EXTERNAL_INIT_LABEL, nh, ReplayRandom(draws, i)
                )
            except (ReplayExhaustedError, CryptoError):
                continue
            if enc == ei.kem_output:
                return init
        return None

    def _replay_starts(self, device: str | None) -> Iterable[tuple[list[bytes | None], int]]:
        devices = [device] if device is not None else list(self.knowledge.draws)
        for d in devices:
            outs = self.knowledge.draws.get(d, [])
            for i, out in enumerate(outs):
                if out is not None:
                    yield outs, i

    def from_welcome(
        self,
        new: PublicEpoch,
        welcome: Welcome,
        content: FramedContent | None,
        learned: dict[NodeIndex, KeyPair],
        sender_device: str | None,
    ) -> tuple[EpochSecrets | None, str]:
        """§12.4.3.1: a joiner_secret from any entry the adversary can open."""
        suite = self.suite
        k = self.knowledge
        for entry in welcome.secrets:
            kp = k.key_packages.get(entry.new_member)
            if kp is None:
                continue
            gs: GroupSecrets | None = None
            joiner: JoinerStage | None = None
            how = "welcome"
            priv = k.hpke.get(kp.init_key)
            if priv is not None:
                try:
                    opened = open_welcome(
                        suite, welcome, key_package=kp, init_priv=priv, psk_lookup=self._psk_value
                    )
                    gs, joiner = opened.group_secrets, opened.joiner
                except MLSError:
                    gs = None
            if gs is None:
                gs = self._replay_group_secrets(welcome, entry.encrypted_group_secrets, kp, sender_device)
                how = "welcome-randomness"
                if gs is None:
                    continue
                ok, psk = self._psk_pairs(gs.psks)
                if not ok:
                    continue
                try:
                    joiner = JoinerStage.start(suite, joiner_secret=gs.joiner_secret, psk_secret=psk)
                except MLSError:
                    continue
            assert joiner is not None
            cand = joiner.epoch_secrets(new.context_bytes)
            if not self._confirms(cand, new):
                continue
            if gs.path_secret is not None:
                self._welcome_path(new, welcome, joiner, kp, gs.path_secret.path_secret, content, learned)
            return cand, how
        return None, ""

    def _replay_group_secrets(
        self, welcome: Welcome, ct: HPKECiphertext, kp: KeyPackage, sender_device: str | None
    ) -> GroupSecrets | None:
        """Replay the committer's known draws as HPKE encapsulation randomness to the joiner's
        init key; a replay whose ``enc`` is the entry's kem_output gives the shared secret."""
        suite = self.suite
        info = suite.encrypt_context("Welcome", welcome.encrypted_group_info)
        core = hpke_core_for(suite.info.kem_id, suite.info.kdf_id, suite.info.aead_id)
        for draws, i in self._replay_starts(sender_device):
            try:
                ss, enc = suite.kem_encap(kp.init_key, ReplayRandom(draws, i))
            except (ReplayExhaustedError, CryptoError):
                continue
            if enc != ct.kem_output:
                continue
            try:
                return decode(GroupSecrets, core.open(ss, info, b"", ct.ciphertext))
            except MLSError:
                return None
        return None

    def _welcome_path(
        self,
        new: PublicEpoch,
        welcome: Welcome,
        joiner: JoinerStage,
        kp: KeyPackage,
        path_secret: bytes,
        content: FramedContent | None,
        learned: dict[NodeIndex, KeyPair],
    ) -> None:
        """The joiner's path secret gives the committer's path keys from their common ancestor."""
        committer: int | None = None
        if content is not None and content.sender.sender_type == SenderType.MEMBER:
            committer = content.sender.index
        else:
            key, nonce = joiner.welcome_key_nonce()
            try:
                gi = decode(GroupInfo, self.suite.aead_open(key, nonce, b"", welcome.encrypted_group_info))
                committer = gi.signer
            except MLSError:
                return
        x = new.tree.find_encryption_key(kp.leaf_node.encryption_key)
        if x is None or committer is None:
            return
        lca = tm.common_ancestor(x, tm.leaf_to_node(LeafIndex(committer)))
        try:
            keys = welcome_path_keys(self.suite, new.tree, committer, lca, path_secret)
        except MLSError:
            return
        learned.update(keys)

    def _psk_value(self, psk_id: PreSharedKeyID) -> bytes | None:
        """A PSK the adversary holds: an external one it was given, or the resumption_psk of an
        epoch it exposed (§8.6)."""
        if psk_id.psktype == PSKType.EXTERNAL:
            return self.knowledge.psks.get(psk_id.psk_id)
        s = self.knowledge.epoch_secrets(psk_id.psk_group_id, psk_id.psk_epoch)
        return None if s is None else s.resumption_psk

    def _psk_pairs(self, ids: Iterable[PreSharedKeyID]) -> tuple[bool, bytes | None]:
        pairs = []
        for i in ids:
            v = self._psk_value(i)
            if v is None:
                return False, None
            pairs.append((i, v))
        return True, (psk_secret(self.suite, pairs) if pairs else None)

    def _psk_secret(self, commit: Commit) -> tuple[bool, bytes | None]:
        """PSKs of the commit's PreSharedKey proposals given by value (one by reference is not
        seen; the confirmation tag then fails and the epoch counts as not derived)."""
        ids = [p.proposal.psk for p in commit.proposals if isinstance(p.proposal, PreSharedKey)]
        return self._psk_pairs(ids)

    def _confirms(self, secrets: EpochSecrets, new: PublicEpoch) -> bool:
        try:
            verify_confirmation_tag(
                self.suite,
                secrets.confirmation_key,
                new.context.confirmed_transcript_hash,
                new.confirmation_tag,
            )
        except ConfirmationTagError:
            return False
        return True
