"""The adversary's knowledge, derived epoch by epoch through the MLS core's own API.

The adversary controls the network: it sees every handshake message and the public state of
every epoch (ratchet tree, GroupContext). What it learns beyond that comes only from
compromises (:meth:`Adversary.compromise_member`, randomness windows, leaked KeyPackages)
and from running the same derivations a member runs with the keys it holds:

* a commit's UpdatePath opens with any held private key of a node in a copath resolution
  (:func:`~mlssim.mls.treekem.open_update_path_node`), or is regenerated from the
  committer's known leaf secret (:func:`~mlssim.mls.treekem.regenerate_update_path`);
* with the previous epoch's ``init_secret`` that gives the new epoch (``EpochSecrets.from_init``),
  credited only when the epoch's confirmation tag verifies;
* a Welcome opens with a held KeyPackage init key (``open_welcome``) or by replaying the
  committer's known HPKE randomness; an external commit's ``kem_output`` opens with the old
  epoch's external private key or by replaying the joiner's randomness.

Holding a private key is the capability in the real and the model suite families alike
(the model suite's registry maps public to private keys internally), so nothing here
inspects a member's secrets except through a compromise. See docs/security-model.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..mls import treemath as tm
from ..mls.codec import decode, encode
from ..mls.crypto.hpke import hpke_core_for
from ..mls.crypto.suite import CipherSuite, KeyPair
from ..mls.errors import CryptoError, MLSError
from ..mls.group import Group, PublicEpoch
from ..mls.group_state import EXTERNAL_INIT_LABEL
from ..mls.key_packages import KeyPackageBundle
from ..mls.keyschedule import (
    ConfirmationTagError,
    EpochSecrets,
    JoinerStage,
    confirmation_tag,
    verify_confirmation_tag,
)
from ..mls.messages.enums import ContentType, PSKType, SenderType
from ..mls.messages.framing import (
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
)
from ..mls.messages.key_package import KeyPackage
from ..mls.messages.proposals import Add, Commit, ExternalInit, PreSharedKey
from ..mls.messages.psk_id import PreSharedKeyID
from ..mls.messages.tree import HPKECiphertext, UpdatePath
from ..mls.messages.welcome import GroupInfo, GroupSecrets, Welcome
from ..mls.protect import unprotect_private
from ..mls.psk import psk_secret
from ..mls.rand import RandomSource
from ..mls.secret_tree import RatchetPolicy, SecretTree
from ..mls.treekem import (
    OpenedPath,
    TreeKEMError,
    node_key_pair,
    open_update_path_node,
    regenerate_update_path,
    update_path_targets,
    welcome_path_keys,
)
from ..mls.treemath import LeafIndex, NodeIndex
from ..mls.welcome import open_welcome
from .knowledge import Knowledge
from .randomness import MixingRandom, RecordingRandom, ReplayExhaustedError, ReplayRandom, mix_entropy

__all__ = ["Adversary", "EpochExposure", "ObservationError", "HOW"]

#: how an epoch became exposed (``EpochExposure.how``)
HOW = (
    "held",  # its secrets were copied (a member compromised while its commit was staged)
    "path",  # previous init_secret + commit_secret from an UpdatePath ciphertext it opened
    "randomness",  # previous init_secret + commit_secret regenerated from known draws
    "no-path",  # previous init_secret + the all-zero commit_secret
    "welcome",  # joiner_secret from a Welcome, with a held KeyPackage init key
    "welcome-randomness",  # joiner_secret from a Welcome, replaying the committer's HPKE draws
    "created",  # epoch 0 regenerated from the creator's known draws
)


class ObservationError(ValueError):
    """The caller handed the adversary inconsistent public state (a simulator bug)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EpochExposure:
    """The verdict on one observed epoch."""

    group_id: bytes
    epoch: int
    exposed: bool
    #: one of :data:`HOW` when exposed, else ""
    how: str = ""
    #: private keys of the new tree the adversary learned from this commit
    keys_learned: int = 0


class Adversary:
    """One simulated world's adversary (one per run; give it the world's suite instance, so
    that with a model suite it shares the world's key registry)."""

    def __init__(self, suite: CipherSuite) -> None:
        self.suite = suite
        self.knowledge = Knowledge()
        #: devices whose random number generator is compromised now
        self._tapped: set[str] = set()
        #: leaf public key -> leaf secret, for every known draw of KDF.Nh bytes
        self._leaf_secrets: dict[bytes, bytes] = {}
        #: known outputs of KDF.Nh bytes (a group creator's random init_secret, §11)
        self._init_candidates: list[bytes] = []
        #: draws not yet turned into candidate keys: (device, position)
        self._unabsorbed: list[tuple[str, int]] = []
        #: groups where the adversary holds (or recently held) private keys of the tree
        self._tracked: set[bytes] = set()
        #: per group, public keys of its current tree whose private keys are held
        self._group_keys: dict[bytes, set[bytes]] = {}
        #: per group, observed epochs -> exposed (any fork)
        self._observed: dict[bytes, dict[int, bool]] = {}
        #: exposed verdicts by (group_id, epoch, encoded GroupContext): a repeated observation
        #: of the same commit returns the first one
        self._verdicts: dict[tuple[bytes, int, bytes], EpochExposure] = {}

    # ---- compromises ---------------------------------------------------------------------

    def compromise_member(
        self, group: Group, now: float | None = None, *, rand: RandomSource | None = None
    ) -> None:
        """Copy one member's state at this instant: leaf and path private keys, the keys of its
        own Update proposals not yet committed, the current epoch's secrets (init_secret
        included), the next epoch's if it has a commit staged, its signature key, and — with
        ``rand``, the device's RandomSource — the persistent entropy-mixing secret. Past
        epochs whose secret trees it keeps for late messages become readable (not exposed).
        ``now`` is for the caller's record; knowledge has no clock."""
        k = self.knowledge
        gid = group.group_id
        pubs = self._group_keys.setdefault(gid, set())
        pk = group.path_keys
        pubs.add(self._learn_priv(pk.leaf_priv))
        for kp in pk.nodes.values():
            pubs.add(self._learn(kp))
        for priv in group.pending_update_keys:
            self._learn_priv(priv)
        staged = group.staged_state
        if staged is not None:
            self._learn_priv(staged.path_keys.leaf_priv)
            for kp in staged.path_keys.nodes.values():
                self._learn(kp)
            k.store_epoch(gid, staged.public.context.epoch, staged.public.context_bytes, staged.secrets)
        k.store_epoch(gid, group.epoch, group.public.context_bytes, group.secrets)
        self._note(gid, group.epoch, True)
        for e in group.retained_epochs:
            k.readable.add((gid, e))
        ident = group.identity
        k.signature[ident.signature_key] = ident.signature_priv
        if rand is not None:
            self.compromise_device(rand)
        self._tracked.add(gid)

    def learn_tree_keys(self, group_id: bytes, privs: Iterable[bytes]) -> int:
        """HPKE private keys of nodes in a group's current tree, obtained elsewhere (e.g. PRE
        records of a compromised DS opened with an epoch key the adversary derived). Returns how
        many were new. They open later UpdatePath ciphertexts sent to those nodes."""
        pubs = self._group_keys.setdefault(group_id, set())
        new = 0
        for priv in privs:
            pub = self._learn_priv(priv)
            if pub not in pubs:
                new += 1
                pubs.add(pub)
        if pubs:
            self._tracked.add(group_id)
        return new

    def compromise_key_package(self, bundle: KeyPackageBundle) -> None:
        """A leaked KeyPackage with its private keys (e.g. from a client's store or the AS)."""
        self.observe_key_package(bundle.key_package)
        self._learn_priv(bundle.init_priv)
        self._learn_priv(bundle.encryption_priv)
        kp = bundle.key_package
        self.knowledge.signature[kp.leaf_node.signature_key] = bundle.signature_priv

    def compromise_randomness(self, device: str) -> None:
        """From now on ``device``'s raw draws reach the adversary (its RandomSource must be a
        :class:`RecordingRandom` with this adversary as tap, see ``device_random``)."""
        self._tapped.add(device)

    def restore_randomness(self, device: str) -> None:
        """The compromise window of ``device``'s random number generator ends."""
        self._tapped.discard(device)

    # ---- DrawTap --------------------------------------------------------------------------

    def tapping(self, device: str) -> bool:
        return device in self._tapped

    def record_draw(self, device: str, raw: bytes, mixed: bool) -> None:
        k = self.knowledge
        k.raw_draws.setdefault(device, []).append((raw, mixed))
        outs = k.draws.setdefault(device, [])
        outs.append(self._output(device, raw, mixed))
        self._unabsorbed.append((device, len(outs) - 1))

    def _output(self, device: str, raw: bytes, mixed: bool) -> bytes | None:
        if not mixed:
            return raw
        secret = self.knowledge.mixing.get(device)
        return None if secret is None else mix_entropy(secret, raw)

    def compromise_device(self, rand: RandomSource) -> None:
        """Copy the device state kept outside any group: the persistent entropy-mixing secret of
        ``rand`` (the device's RandomSource, see ``device_random``). Draws recorded earlier
        while it was unknown become usable."""
        src: object = rand
        while isinstance(src, MixingRandom | RecordingRandom):
            if isinstance(src, MixingRandom):
                self.knowledge.mixing[src.device] = src.persistent_secret
                self._redo_outputs(src.device)
            src = src.inner

    def _redo_outputs(self, device: str) -> None:
        """A mixing secret learned late makes earlier known raw draws usable."""
        k = self.knowledge
        outs = k.draws.get(device, [])
        for i, (raw, mixed) in enumerate(k.raw_draws.get(device, [])):
            if outs[i] is None:
                outs[i] = self._output(device, raw, mixed)
                if outs[i] is not None:
                    self._unabsorbed.append((device, i))

    def _absorb(self) -> None:
        """Known outputs -> the keys the core would derive from them: a KEM key pair
        (GenerateKeyPair draws Nsk bytes) and a leaf secret (an UpdatePath draws KDF.Nh)."""
        if not self._unabsorbed:
            return
        suite = self.suite
        info = suite.info
        for device, i in self._unabsorbed:
            out = self.knowledge.draws[device][i]
            if out is None:
                continue
            if len(out) == info.kem_sk_len:
                self._learn(suite.kem_derive_key_pair(out))
            if len(out) == info.hash_len:
                kp = node_key_pair(suite, out)
                self._learn(kp)
                self._leaf_secrets[kp.pub] = out
                self._init_candidates.append(out)
        self._unabsorbed.clear()

    # ---- public observations -------------------------------------------------------------

    def observe_key_package(self, key_package: KeyPackage) -> None:
        """A KeyPackage published at an AS or carried in an Add: Welcomes name it by ref."""
        self.knowledge.key_packages[self.suite.key_package_ref(key_package.encoded())] = key_package

    def observe_group_info(self, group_info: GroupInfo) -> None:
        """A GroupInfo as served to external joiners: its ``external_pub`` lets the adversary
        replay a joiner's known HPKE randomness (§12.4.3.2)."""
        from ..mls.messages.enums import ExtensionType
        from ..mls.messages.welcome import ExternalPub

        for e in group_info.extensions:
            if e.extension_type == ExtensionType.EXTERNAL_PUB:
                pub = decode(ExternalPub, e.extension_data).external_pub
                self.knowledge.external_pubs[encode(group_info.group_context)] = pub

    def observe_new_group(self, public: PublicEpoch) -> EpochExposure:
        """Epoch 0 of a new group (§11): exposed only if the creator's random init_secret is a
        known draw (checked against the epoch's confirmation tag over the empty transcript)."""
        self._absorb()
        gid = public.context.group_id
        for cand in self._init_candidates:
            s = EpochSecrets.for_new_group(self.suite, init_secret=cand, group_context=public.context_bytes)
            if confirmation_tag(self.suite, s.confirmation_key, b"") == public.confirmation_tag:
                self.knowledge.store_epoch(gid, 0, public.context_bytes, s)
                self._tracked.add(gid)
                self._note(gid, 0, True)
                return EpochExposure(group_id=gid, epoch=0, exposed=True, how="created")
        held = self.knowledge.epoch_secrets(gid, 0, public.context_bytes) is not None
        self._note(gid, 0, held)
        return EpochExposure(group_id=gid, epoch=0, exposed=held, how="held" if held else "")

    def observe_commit(
        self,
        old: PublicEpoch,
        new: PublicEpoch,
        commit: MLSMessage | AuthenticatedContent,
        *,
        added: Iterable[int] = (),
        welcome: MLSMessage | Welcome | None = None,
        sender_device: str | None = None,
    ) -> EpochExposure:
        """A commit moved the group from ``old`` to ``new`` (both public epochs, as members hold
        them); ``added`` are the leaves its Adds filled (``CommitApplied.added``), ``welcome``
        its Welcome, ``sender_device`` the device that sent it if the network shows it (only
        narrows the randomness replays). Returns whether the new epoch is exposed."""
        gid, n = new.context.group_id, new.context.epoch
        if old.context.group_id != gid or old.context.epoch + 1 != n:
            raise ObservationError(f"epoch {old.context.epoch} of another group or not followed by epoch {n}")
        self._absorb()
        k = self.knowledge
        prev = k.epoch_secrets(gid, n - 1, old.context_bytes)
        secrets = k.epoch_secrets(gid, n, new.context_bytes)
        if secrets is not None:
            # copied while staged, or this commit was observed before: the first verdict stands
            done = self._verdicts.get((gid, n, new.context_bytes))
            if done is not None:
                return done
        how = "held" if secrets is not None else ""
        learned: dict[NodeIndex, KeyPair] = {}
        added_leaves = frozenset(int(a) for a in added)

        content = self._commit_content(commit, old, prev)
        if secrets is None and content is not None and content.commit is not None:
            secrets, how = self._derive_from_commit(
                old, new, content, content.commit, prev, added_leaves, learned, sender_device
            )
        if secrets is None and welcome is not None:
            body = welcome.body if isinstance(welcome, MLSMessage) else welcome
            if isinstance(body, Welcome):
                if content is not None and content.commit is not None:
                    for por in content.commit.proposals:
                        if isinstance(por.proposal, Add):
                            self.observe_key_package(por.proposal.key_package)
                secrets, how = self._derive_from_welcome(new, body, content, learned, sender_device)

        pubs = self._group_keys.get(gid, set())
        pubs.update(self._learn(kp) for kp in learned.values())
        for leaf in added_leaves:
            node = new.tree.leaf(LeafIndex(leaf))
            if node is not None and node.encryption_key in k.hpke:
                pubs.add(node.encryption_key)
        # keys the new tree no longer holds (replaced, blanked) cannot open anything sent to it
        pubs = {p for p in pubs if new.tree.find_encryption_key(p) is not None}
        self._group_keys[gid] = pubs
        if secrets is not None:
            k.store_epoch(gid, n, new.context_bytes, secrets)
            self._tracked.add(gid)
        elif not pubs:
            self._tracked.discard(gid)
        self._note(gid, n, secrets is not None)
        verdict = EpochExposure(
            group_id=gid,
            epoch=n,
            exposed=secrets is not None,
            how=how if secrets else "",
            keys_learned=len(learned),
        )
        if secrets is not None:
            self._verdicts[(gid, n, new.context_bytes)] = verdict
        return verdict

    # ---- queries -------------------------------------------------------------------------

    def exposed(self, group_id: bytes, epoch: int, context: bytes | None = None) -> bool:
        """The adversary derived (or copied) this epoch's secrets: in some fork, or in the fork
        whose encoded GroupContext is ``context`` (``PublicEpoch.context_bytes``)."""
        return self.knowledge.epoch_secrets(group_id, epoch, context) is not None

    def can_read(self, group_id: bytes, epoch: int) -> bool:
        """The adversary holds application keys of this epoch: its encryption_secret (exposed) or
        a copied member's retained secret tree of it."""
        return self.exposed(group_id, epoch) or (group_id, epoch) in self.knowledge.readable

    def epoch_secrets(self, group_id: bytes, epoch: int) -> EpochSecrets | None:
        return self.knowledge.epoch_secrets(group_id, epoch)

    def observed_epochs(self, group_id: bytes) -> dict[int, bool]:
        """Every epoch of the group observed so far -> exposed."""
        return dict(self._observed.get(group_id, {}))

    def first_unexposed_after(self, group_id: bytes, epoch: int) -> int | None:
        """The first observed epoch after ``epoch`` whose secrets the adversary cannot derive:
        the healing epoch of a compromise at ``epoch`` (None: not healed yet)."""
        later = [e for e, exp in self._observed.get(group_id, {}).items() if e > epoch and not exp]
        return min(later) if later else None

    # ---- internals -----------------------------------------------------------------------

    def _note(self, gid: bytes, epoch: int, exposed: bool) -> None:
        seen = self._observed.setdefault(gid, {})
        seen[epoch] = seen.get(epoch, False) or exposed

    def _learn(self, kp: KeyPair) -> bytes:
        self.knowledge.hpke[kp.pub] = kp.priv
        return kp.pub

    def _learn_priv(self, priv: bytes) -> bytes:
        return self._learn(KeyPair(priv, self.suite.kem_public_key(priv)))

    def _commit_content(
        self, commit: MLSMessage | AuthenticatedContent, old: PublicEpoch, prev: EpochSecrets | None
    ) -> FramedContent | None:
        """The commit as the adversary can read it: a PublicMessage always; a PrivateMessage only
        with the old epoch's secrets (sender-data key and handshake ratchet)."""
        if isinstance(commit, AuthenticatedContent):
            return commit.content
        body = commit.body
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
            return ac.content if ac.content.content_type == ContentType.COMMIT else None
        return None

    def _derive_from_commit(
        self,
        old: PublicEpoch,
        new: PublicEpoch,
        content: FramedContent,
        commit: Commit,
        prev: EpochSecrets | None,
        added: frozenset[int],
        learned: dict[NodeIndex, KeyPair],
        sender_device: str | None,
    ) -> tuple[EpochSecrets | None, str]:
        """init_secret[n-1] + commit_secret (+ PSKs) -> epoch n, checked by the confirmation tag."""
        suite = self.suite
        gid = new.context.group_id
        external = content.sender.sender_type == SenderType.NEW_MEMBER_COMMIT
        init: bytes | None = None
        if external:
            init = self._external_init(old, commit, prev, sender_device)
        elif prev is not None:
            init = prev.init_secret

        path = commit.path
        commit_secret: bytes | None = None
        how = "no-path"
        if path is None:
            commit_secret = bytes(suite.info.hash_len)
        else:
            leaf_secret = self._leaf_secrets.get(path.leaf_node.encryption_key)
            if leaf_secret is not None or init is not None or gid in self._tracked:
                committer = self._committer_leaf(new, content)
                if committer is None:
                    return None, ""
                try:
                    targets = update_path_targets(new.tree, committer, path, added)
                except MLSError:
                    return None, ""
                nodes = [p for p, _, _ in targets]
                opened: OpenedPath | None = None
                if leaf_secret is not None:
                    try:
                        leaf_kp, opened = regenerate_update_path(suite, nodes, path, leaf_secret)
                        learned[NodeIndex(2 * committer)] = leaf_kp
                        how = "randomness"
                    except TreeKEMError:
                        opened = None
                if opened is None:
                    provisional = encode(
                        replace(new.context, confirmed_transcript_hash=old.context.confirmed_transcript_hash)
                    )
                    opened = self._open_path(new, targets, path, provisional)
                    how = "path"
                if opened is not None:
                    commit_secret = opened.commit_secret
                    learned.update(opened.node_keys)
                    for x, s in opened.path_secrets.items():
                        self.knowledge.path_secrets[(gid, new.context.epoch, int(x))] = s
        if init is None or commit_secret is None:
            return None, ""
        ok, psk = self._psk_secret(commit)
        if not ok:
            return None, ""
        cand = EpochSecrets.from_init(
            suite,
            init_secret=init,
            commit_secret=commit_secret,
            psk_secret=psk,
            group_context=new.context_bytes,
        )
        if not self._confirms(cand, new):
            return None, ""
        return cand, how

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

    def _derive_from_welcome(
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
