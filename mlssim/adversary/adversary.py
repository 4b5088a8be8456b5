"""The adversary's knowledge, derived epoch by epoch through the MLS core's own API.

The adversary controls the network: it sees every handshake message and the public state of
every epoch (ratchet tree, GroupContext). What it learns beyond that comes only from
compromises (:meth:`Adversary.compromise_member`, randomness windows, leaked KeyPackages)
and from running the same derivations a member runs with the keys it holds
(:mod:`.derivation`: UpdatePaths, Welcomes, external inits), an epoch credited only when its
confirmation tag verifies. This module holds the entry points and the bookkeeping around them:
compromises, known random draws turned into keys, which tree keys of each group are still
useful, and the verdict on every observed epoch.

Holding a private key is the capability in the real and the model suite families alike
(the model suite's registry maps public to private keys internally), so nothing here
inspects a member's secrets except through a compromise. See docs/security-model.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..mls.codec import decode, encode
from ..mls.crypto.suite import CipherSuite, KeyPair
from ..mls.group import Group, PublicEpoch, StagedCommit
from ..mls.key_packages import KeyPackageBundle
from ..mls.keyschedule import EpochSecrets, confirmation_tag
from ..mls.messages.framing import AuthenticatedContent, MLSMessage
from ..mls.messages.key_package import KeyPackage
from ..mls.messages.proposals import Add
from ..mls.messages.welcome import GroupInfo, Welcome
from ..mls.rand import RandomSource
from ..mls.treekem import node_key_pair
from ..mls.treemath import LeafIndex, NodeIndex
from .derivation import Derivation
from .knowledge import Knowledge
from .randomness import MixingRandom, RecordingRandom, mix_entropy

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
    "forged",  # the adversary made it: a forged commit with a stolen signature key (sim/forged_commits.py)
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
        #: epochs the adversary made itself (forged commits the DS accepted): (group_id, epoch,
        #: encoded GroupContext)
        self._authored: set[tuple[bytes, int, bytes]] = set()
        #: what one commit or Welcome gives, with the keys above
        self._derivation = Derivation(suite, self.knowledge, self._leaf_secrets)

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

    def authored_commit(self, staged: StagedCommit) -> None:
        """A commit the adversary built (a forgery as a member whose signature key it stole,
        ``active.Forger.commit``) was accepted: it chose the path secrets, so it holds the new
        epoch's secrets and the private keys of the committer's new leaf and path — which later
        commits encrypt to until a commit replaces them. Call before :meth:`observe_commit` of
        the same commit (whose verdict is then ``forged``)."""
        public = staged.public
        gid, n = public.context.group_id, public.context.epoch
        self.knowledge.store_epoch(gid, n, public.context_bytes, staged.secrets)
        self._authored.add((gid, n, public.context_bytes))
        pk = staged.path_keys
        privs = [pk.leaf_priv, *(kp.priv for kp in pk.nodes.values())]
        self.learn_tree_keys(gid, privs)

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
        path_secrets: Mapping[int, bytes] | None = None,
    ) -> EpochExposure:
        """A commit moved the group from ``old`` to ``new`` (both public epochs, as members hold
        them); ``added`` are the leaves its Adds filled (``CommitApplied.added``), ``welcome``
        its Welcome, ``sender_device`` the device that sent it if the network shows it (only
        narrows the randomness replays); ``path_secrets`` are path secrets of this commit had
        elsewhere, by index in the committer's filtered path (a server-aided reading whose path
        ciphertexts are no HPKE, e.g. PRE: ``assist/pre_path.py``). Returns whether the new
        epoch is exposed."""
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
        how = "" if secrets is None else "forged" if (gid, n, new.context_bytes) in self._authored else "held"
        learned: dict[NodeIndex, KeyPair] = {}
        added_leaves = frozenset(int(a) for a in added)

        derive = self._derivation
        content = derive.commit_content(commit, old, prev)
        commit_struct = None if content is None else derive.commit_of(commit, content)
        if secrets is None and content is not None and commit_struct is not None:
            secrets, how = derive.from_commit(
                old,
                new,
                content,
                commit_struct,
                prev,
                added_leaves,
                learned,
                sender_device,
                tracked=gid in self._tracked,
                known=path_secrets or {},
            )
        if secrets is None and welcome is not None:
            body = welcome.body if isinstance(welcome, MLSMessage) else welcome
            if isinstance(body, Welcome):
                if commit_struct is not None:
                    for por in commit_struct.proposals:
                        if isinstance(por.proposal, Add):
                            self.observe_key_package(por.proposal.key_package)
                secrets, how = derive.from_welcome(new, body, content, learned, sender_device)

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
