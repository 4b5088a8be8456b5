"""``pre`` fan-out: the split-commit draft with path secrets sealed by proxy re-encryption
(``mlssim/assist/pre_path.py``, ``docs/bandwidth.md``; mlssim's own design, issue 21b).

The committer frames its commit as the draft's SCommit whose every path node carries ONE
ciphertext, the path secret PRE-encrypted under the committer's own PRE key; the ordering DS
re-encrypts, for each member, the capsule of the node it needs with the kfrag committer → member
and sends it its IndividualCommit; the member opens it with its PRE secret key.

PRE keys and deposits (every byte recorded as a transmission and in the ``pre_deposits`` event):

* a member's first keys are made when it enters the group (the creation commit, an Add, an
  external join); it announces them (a signed :class:`~mlssim.assist.pre_path.PREAnnouncement`),
  downloads the announcements of the others and deposits a kfrag to each of them, and each other
  member downloads its announcement and deposits a kfrag to it when it processes the commit;
* under ``federation.pre_key_refresh: own-commit`` a committer makes new keys with each of its
  path commits: it uploads the announcement and its kfrags to every other member before the
  commit (the DS needs them to fan it out), and every other member deposits one to the new key
  when it processes the commit;
* the DS drops a removed member's kfrags (an honest DS).

Simulation shortcuts, neither of which changes a byte: a member's PRE secret keys are kept here
(per group and client: they are the client's), and a kfrag is generated when the DS first uses
it, from the delegator's keys and a stream named by the pair of keys (its deposit is counted
when it is made). A kfrag is used only while both of its keys are current.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from ...assist.pre import PRE
from ...assist.pre_path import (
    Holdings,
    KfragEntry,
    PREAnnouncement,
    PREKeys,
    announce,
    deposit_batch_size,
    new_pre_keys,
    pack_download,
    path_secrets_opened,
    pre_encryptor,
    pre_opener,
    reencrypting_projection,
)
from ...mls.codec import encode
from ...mls.commit_builder import CommitFraming
from ...mls.crypto import CipherSuite
from ...mls.group import StagedCommit
from ...mls.messages import IndividualCommit, MLSMessage, SCommit
from ...mls.messages.tree import HPKECiphertext, IndividualUpdatePath
from ...mls.rand import RandomSource, SeededRandom
from ...mls.ratchet_tree import RatchetTree, TreeView
from ...mls.split_commit import PathSecretOpener, SplitFraming, slots
from ...mls.treemath import LeafIndex, NodeIndex
from ..client import Client
from ..delivery import CommitView, DeliveryService, Recipient
from ..records import GroupRecord
from .plain import Plain
from .split import Split

__all__ = ["PREPath"]


@dataclass
class _Group:
    """One group's PRE layer: every member's keys (theirs; the DS sees the announcements)."""

    keys: dict[str, PREKeys] = field(default_factory=dict)
    announcements: dict[str, PREAnnouncement] = field(default_factory=dict)
    #: the delegating keys of the commit that ends each epoch: epoch -> (pre key, signer key)
    delegator_at: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    #: a committer's keys made for a commit not yet accepted: name -> (message, keys, announcement)
    pending: dict[str, tuple[MLSMessage, PREKeys, PREAnnouncement]] = field(default_factory=dict)
    #: kfrags made so far, by (delegator, its generation, receiver, its generation)
    kfrags: dict[tuple[str, int, str, int], KfragEntry] = field(default_factory=dict)
    #: the last generation made per member (never reset, so (name, generation) names one key)
    gens: dict[str, int] = field(default_factory=dict)
    #: every key ever made, and the epochs it was current: [first, end) (end None: still)
    history: dict[tuple[str, int], PREKeys] = field(default_factory=dict)
    life: dict[tuple[str, int], list[int | None]] = field(default_factory=dict)
    #: old epoch -> (committer, generation of the keys its commit was sealed under)
    sealed_under: dict[int, tuple[str, int]] = field(default_factory=dict)

    def retire(self, name: str, epoch: int) -> None:
        keys = self.keys.get(name)
        if keys is not None:
            self.life[(name, keys.generation)][1] = epoch

    def install(self, name: str, keys: PREKeys, ann: PREAnnouncement, epoch: int) -> None:
        self.retire(name, epoch)
        self.keys[name], self.announcements[name] = keys, ann
        self.history[(name, keys.generation)] = keys
        self.life[(name, keys.generation)] = [epoch, None]

    def overlap(self, a: tuple[str, int], b: tuple[str, int]) -> tuple[bool, int | None]:
        """Were both keys current at once (so a kfrag between them was deposited), and until
        when (``None``: still)?"""
        (s1, e1), (s2, e2) = self.life[a], self.life[b]
        assert s1 is not None and s2 is not None
        ends = [e for e in (e1, e2) if e is not None]
        end = min(ends) if ends else None
        return (end is None or max(s1, s2) < end), end


class _Sealer:
    """A committer's path encryptor for one commit, noting whether it sealed anything."""

    def __init__(self, pre: PRE, keys: PREKeys, rand: RandomSource) -> None:
        self.keys = keys
        self.used = False
        inner = pre_encryptor(pre, keys.key.pub, rand)

        def seal(
            suite: CipherSuite,
            tree: TreeView,
            node: NodeIndex,
            resolution: Sequence[NodeIndex],
            secret: bytes,
            context: bytes,
            commit_rand: RandomSource,
        ) -> tuple[HPKECiphertext, ...]:
            self.used = True
            return inner(suite, tree, node, resolution, secret, context, commit_rand)

        self.framing = SplitFraming(path_encryptor=seal)


def _names(tree: RatchetTree) -> dict[int, str]:
    return {int(i): leaf.credential.identity.decode() for i, leaf in tree.leaves()}


def _client(m: Recipient) -> Client:
    assert isinstance(m, Client)
    return m


def names_of_committer(view: CommitView) -> str:
    leaf = view.tree.leaf(view.committer)
    assert leaf is not None
    return leaf.credential.identity.decode()


def _announce(c: Client, group: str, leaf: int, keys: PREKeys) -> PREAnnouncement:
    return announce(c.world.suite, group.encode(), leaf, keys, c.identity.signature_priv)


class PREPath(Split):
    name = "pre"

    def __init__(self, scheme: PRE, streams: Callable[[str], SeededRandom], refresh: str = "never") -> None:
        super().__init__()
        #: the PRE scheme (same family as the cipher suite; the world's ``pre``)
        self.scheme: PRE = scheme
        #: ``federation.pre_key_refresh``
        self.refresh = refresh
        self._streams = streams
        self._groups: dict[str, _Group] = {}
        self._seal_rand: dict[tuple[str, str], SeededRandom] = {}
        self._staging: dict[tuple[str, str], _Sealer] = {}
        #: the last commit's projections: (view, by name, header alone, re-encryptions, refreshed)
        self._last_pre: tuple[CommitView, dict[str, MLSMessage], MLSMessage, int, bool] | None = None

    # -- keys ---------------------------------------------------------------------------------

    def _g(self, group: str) -> _Group:
        return self._groups.setdefault(group, _Group())

    def _new_keys(self, group: str, name: str) -> PREKeys:
        st = self._g(group)
        gen = st.gens[name] = st.gens.get(name, -1) + 1
        return new_pre_keys(self.scheme, self._streams(f"pre/{group}/{name}/keys/{gen}"), gen)

    def _kfrag(self, group: str, delegator: str, receiver: str) -> KfragEntry:
        """The kfrag ``delegator`` deposited to ``receiver``'s current key (made on first use)."""
        st = self._g(group)
        return self._kfrag_of(
            group, (delegator, st.keys[delegator].generation), (receiver, st.keys[receiver].generation)
        )

    def _kfrag_of(self, group: str, d: tuple[str, int], r: tuple[str, int]) -> KfragEntry:
        st = self._g(group)
        key = (*d, *r)
        e = st.kfrags.get(key)
        if e is None:
            dk, rk = st.history[d], st.history[r]
            rand = self._streams(f"pre/{group}/kfrag/{d[0]}/{d[1]}/{r[0]}/{r[1]}")
            (kfrag,) = self.scheme.generate_kfrags(dk.key.priv, rk.key.pub, dk.signer.priv, rand)
            e = st.kfrags[key] = KfragEntry(kfrag, dk.key.pub, rk.key.pub, dk.signer.pub)
        return e

    def _forget(self, group: str, name: str, epoch: int) -> None:
        """An honest DS drops a departed member's announcement and kfrags."""
        st = self._g(group)
        st.retire(name, epoch)
        st.keys.pop(name, None)
        st.announcements.pop(name, None)
        st.pending.pop(name, None)
        for key in [k for k in st.kfrags if name in (k[0], k[2])]:
            del st.kfrags[key]

    @staticmethod
    def _deposit(c: Client, group: str, size: int, deposits: int, announcements: int, why: str) -> None:
        """``c`` uploads ``size`` bytes of announcement and deposits to the ordering DS."""
        w = c.world
        w.recorder.event(
            w.env.now,
            "pre_deposits",
            group=group,
            client=c.name,
            deposits=deposits,
            announcements=announcements,
            bytes=size,
            why=why,
        )
        c.upload(group, size, "pre_deposit", lambda: None)

    @staticmethod
    def _fetch_keys(ds: DeliveryService, group: str, name: str, anns: list[PREAnnouncement]) -> None:
        """``name`` downloads the announcements it deposits to (one message)."""
        if anns:
            size = sum(len(a.encoded()) for a in anns)
            ds.to_client(name, size, "pre_keys", group, lambda: None)

    # -- the committer ------------------------------------------------------------------------

    def framing_for(self, c: Client, group: str) -> CommitFraming | None:
        """The draft's framing with PRE-sealed path secrets under ``c``'s current keys, or new
        ones (its first commit, or ``own-commit`` refresh)."""
        st = self._g(group)
        keys = st.keys.get(c.name)
        if keys is None or self.refresh == "own-commit":
            keys = self._new_keys(group, c.name)
        rand = self._seal_rand.get((group, c.name))
        if rand is None:
            rand = self._seal_rand[(group, c.name)] = self._streams(f"pre/{group}/{c.name}/seal")
        sealer = self._staging[(group, c.name)] = _Sealer(self.scheme, keys, rand)
        return sealer.framing

    def opener_for(self, c: Client, group: str) -> PathSecretOpener | None:
        """``c`` opens its path secret with its PRE secret key and the committer's announced keys."""
        st = self._g(group)
        keys = st.keys.get(c.name)
        g = c.groups.get(group)
        d = None if g is None else st.delegator_at.get(g.epoch)
        if keys is None or d is None:
            return None
        return pre_opener(self.scheme, keys.key.priv, d[0], d[1])

    def commit_sizes(
        self, staged: StagedCommit, commit_bytes: int, removed: tuple[str, ...]
    ) -> tuple[int, Mapping[str, int] | None]:
        """The SCommit is uploaded; each member downloads its IndividualCommit (its exact size:
        the cfrag has a fixed length), a removed member the header alone."""
        sc = staged.message.body
        if not isinstance(sc, SCommit):
            return commit_bytes, None  # an external join: an RFC 9420 commit, sent plain
        tree = staged.ratchet_tree
        names = _names(tree)
        header_only = len(encode(MLSMessage(body=IndividualCommit(sheader=sc.sheader))))
        sizes: dict[str, int] = {}
        if sc.path is None:
            sizes = {
                n: header_only for i, n in names.items() if i != staged.committer and i not in staged.added
            }
        else:
            nodes = sc.path.nodes
            keys = tuple(n.encryption_key for n in nodes)
            stand_in = bytes(self.scheme.cfrag_size)
            for leaf, slot in slots(tree, int(staged.committer), frozenset(staged.added)).items():
                (ct,) = nodes[slot.k].encrypted_path_secret
                path = IndividualUpdatePath(
                    encrypted_path_secret=pack_download(ct.kem_output, stand_in, ct.ciphertext),
                    new_pks=keys[: slot.k],
                )
                sizes[names[int(leaf)]] = len(
                    encode(MLSMessage(body=IndividualCommit(sheader=sc.sheader, path=path)))
                )
        sizes.update((name, header_only) for name in removed)
        return commit_bytes, sizes

    def committer_upload(self, c: Client, group: str, staged: StagedCommit) -> None:
        """New keys of this commit (the committer's first, or a refresh with a path): the
        announcement and a kfrag to every other member go to the DS ahead of the commit (the
        same route, so they arrive first). Nothing rides with the commit itself."""
        sealer = self._staging.pop((group, c.name), None)
        st = self._g(group)
        if sealer is None or sealer.keys is st.keys.get(c.name):
            return
        if not sealer.used and c.name in st.keys:
            return  # no path: the current keys stay
        ann = _announce(c, group, int(staged.committer), sealer.keys)
        st.pending[c.name] = (staged.message, sealer.keys, ann)
        others = sum(
            1 for i, _ in staged.ratchet_tree.leaves() if i != staged.committer and i not in staged.added
        )
        size = len(ann.encoded()) + (deposit_batch_size(self.scheme, group.encode(), others) if others else 0)
        self._deposit(c, group, size, others, 1, "refresh" if c.name in st.keys else "join")

    # -- the ordering DS ----------------------------------------------------------------------

    def _promote(self, group: str, view: CommitView) -> bool:
        """An accepted commit's new keys become the committer's current ones, and the keys it
        was sealed under are noted for its epoch (once); returns whether it refreshed them."""
        st = self._g(group)
        old = view.public.context.epoch - 1
        if old in st.sealed_under:
            return False
        sender = names_of_committer(view)
        for name in view.removed:  # their keys end with this commit (kfrags dropped at the DS)
            st.retire(name, old + 1)
        pend = st.pending.get(sender)
        refreshed = False
        if pend is not None and pend[0] is view.message:
            del st.pending[sender]
            refreshed = sender in st.keys
            st.install(sender, pend[1], pend[2], old + 1)
        keys = st.keys.get(sender)
        if keys is not None:
            st.delegator_at[old] = (keys.key.pub, keys.signer.pub)
            st.sealed_under[old] = (sender, keys.generation)
        return refreshed

    def _project(self, group: str, view: CommitView) -> tuple[dict[str, MLSMessage], MLSMessage, int, bool]:
        """Each member's IndividualCommit, re-encrypted (once per commit); an accepted commit's
        new keys become the committer's current ones first."""
        last = self._last_pre
        if last is not None and last[0] is view:
            return last[1], last[2], last[3], last[4]
        sc = view.message.body
        assert isinstance(sc, SCommit)
        tree = view.tree
        names = _names(tree)
        refreshed = self._promote(group, view)

        def kfrag_of(d: int, r: int) -> KfragEntry:
            return self._kfrag(group, names[d], names[r])

        proj = reencrypting_projection(
            self.scheme, sc, tree, int(view.committer), frozenset(view.added_leaves), kfrag_of
        )
        by_name = {names[int(i)]: MLSMessage(body=ic) for i, ic in proj.individual.items()}
        header_only = MLSMessage(body=IndividualCommit(sheader=sc.sheader))
        self._last_pre = (view, by_name, header_only, proj.reencryptions, refreshed)
        return by_name, header_only, proj.reencryptions, refreshed

    def commit_for(self, group: str, view: CommitView, m: Recipient) -> tuple[int, Callable[[], None]]:
        if not isinstance(view.message.body, SCommit):
            return Plain.commit_for(self, group, view, m)
        by_name, header_only, _, refreshed = self._project(group, view)
        msg = by_name.get(m.name, header_only)
        owners = (*view.added, *((names_of_committer(view),) if refreshed else ()))
        return view.download(m.name), partial(self._arrive, group, m, msg, owners)

    def _arrive(self, group: str, m: Recipient, msg: MLSMessage, owners: tuple[str, ...]) -> None:
        """``m`` processes its IndividualCommit, then fetches the new keys of ``owners`` (the
        joiners, a refreshing committer) and deposits a kfrag to each."""
        m.on_commit(group, msg)
        if not owners or not isinstance(m, Client) or group not in m.groups:
            return
        st = self._g(group)
        anns = [a for a in (st.announcements.get(o) for o in owners) if a is not None]
        self._fetch_keys(m.world.ds_of(group), group, m.name, anns)
        n = len(owners)
        self._deposit(m, group, deposit_batch_size(self.scheme, group.encode(), n), n, 0, "new-keys")

    def at_ds(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> None:
        """The DS's work (re-encryptions, the ``ds_reencrypt`` event); departed members' kfrags
        dropped; joiners' keys made, announced and deposited."""
        w = ds.world
        names = _names(view.tree)
        epoch = view.public.context.epoch
        for name in view.removed:
            self._forget(group, name, epoch)
        joiners = list(view.added)
        if isinstance(view.message.body, SCommit):
            by_name, _, reencryptions, _ = self._project(group, view)
            members = len(names)
            built = sum(len(encode(m)) for m in by_name.values())
            self.charge_ds(encodes=len(by_name), encode_bytes=built, reencryptions=reencryptions)
            w.recorder.event(
                w.env.now,
                "ds_reencrypt",
                group=group,
                epoch=rec.epoch,
                downloads=len(by_name),
                reencryptions=reencryptions,
                bytes=built,
                expected_bytes=sum(view.download(n) for n in by_name),
                scommit_bytes=view.commit_bytes,
                kfrags=members * (members - 1),
            )
        else:  # an external join or resync: the joiner is the committer
            sender = names[int(view.committer)]
            self._forget(group, sender, epoch)
            joiners.append(sender)
        st = self._g(group)
        by_leaf = {n: i for i, n in names.items()}
        for j in joiners:
            keys = self._new_keys(group, j)
            st.install(j, keys, _announce(_client(w.clients[j]), group, by_leaf[j], keys), epoch)
        for j in joiners:
            others = [n for n in names.values() if n != j]
            ann = st.announcements[j]
            size = len(ann.encoded()) + deposit_batch_size(self.scheme, group.encode(), len(others))
            self._fetch_keys(ds, group, j, [st.announcements[n] for n in others if n in st.announcements])
            self._deposit(_client(w.clients[j]), group, size, len(others), 1, "join")
        if joiners and isinstance(view.message.body, SCommit):  # the committer deposits to them
            sender = names[int(view.committer)]
            self._fetch_keys(ds, group, sender, [st.announcements[j] for j in joiners])
            batch = deposit_batch_size(self.scheme, group.encode(), len(joiners))
            self._deposit(_client(w.clients[sender]), group, batch, len(joiners), 0, "new-keys")

    # -- what an adversary opens (docs/security-model.md) -----------------------------------------

    def pre_key_held(self, group: str, name: str) -> tuple[str, int] | None:
        """The key a compromise of ``name`` gives the adversary in ``group`` (its current one)."""
        keys = self._g(group).keys.get(name)
        return None if keys is None else (name, keys.generation)

    def adversary_path_secrets(
        self, group: str, view: CommitView, held: Sequence[tuple[str, int]], ds_since: int | None
    ) -> dict[int, bytes]:
        """Path secrets of ``view``'s commit the adversary opens with the PRE keys ``held`` (by
        member and generation), by the rules of ``assist/pre_path.py``, performed:

        * the cfrag an honest DS sent a member whose key is held (on the network) opens that
          member's slot, when the commit was re-encrypted to that key;
        * a DS compromised since epoch ``ds_since`` keeps every kfrag it held from then on (an
          honest one drops a departed member's), so a held key with a kfrag from the
          committer's keys opens every node."""
        sc = view.message.body
        if not isinstance(sc, SCommit) or sc.path is None or not held:
            return {}
        self._promote(group, view)
        st = self._g(group)
        old = view.public.context.epoch - 1
        sealed = st.sealed_under.get(old)
        if sealed is None:
            return {}
        dk = st.history[sealed]
        tree = view.tree
        names = _names(tree)
        by_name = {n: i for i, n in names.items()}
        receivers = slots(tree, int(view.committer), frozenset(view.added_leaves))
        out: dict[int, bytes] = {}
        for r in held:
            if r not in st.history:
                continue
            rk = st.history[r]
            if r == sealed:  # the committer's own key: every capsule opens directly
                own = Holdings(secret_keys={rk.key.pub: rk.key.priv})
                out.update(path_secrets_opened(self.scheme, own, dk.key.pub, dk.signer.pub, sc))
                continue
            if r[0] == sealed[0]:
                continue  # an older key of the committer: nothing is re-encrypted to it
            current, end = st.overlap(sealed, r)
            mine = Holdings(secret_keys={rk.key.pub: rk.key.priv})
            if current and ds_since is not None and (end is None or end >= ds_since):
                kept = Holdings(secret_keys=mine.secret_keys, kfrags=(self._kfrag_of(group, sealed, r),))
                out.update(path_secrets_opened(self.scheme, kept, dk.key.pub, dk.signer.pub, sc))
                continue
            start, stop = st.life[r]
            assert start is not None
            leaf = by_name.get(r[0])
            slot = None if leaf is None else receivers.get(LeafIndex(leaf))
            if slot is None or not current or (stop is not None and stop <= old) or start > old:
                continue  # the DS re-encrypted nothing to this key for this commit
            (ct,) = sc.path.nodes[slot.k].encrypted_path_secret
            e = self._kfrag_of(group, sealed, r)
            cfrag = self.scheme.reencrypt(
                ct.kem_output,
                e.kfrag,
                signer_pub=e.signer_pub,
                delegating_pub=e.delegating_pub,
                receiving_pub=e.receiving_pub,
            )
            seen = pack_download(ct.kem_output, cfrag, ct.ciphertext)
            out.update(path_secrets_opened(self.scheme, mine, dk.key.pub, dk.signer.pub, sc, [seen]))
        return out
