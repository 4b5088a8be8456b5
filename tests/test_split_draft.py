"""Splittable and individual commits per draft-mularczyk-mls-splitcommit (``mls/split_commit.py``,
``mls/split_process.py``): a mixed group follows over 100 commits, half its members processing
the whole SCommit and half their IndividualCommits, all agreeing on every epoch authenticator;
tampered individual commits are rejected, the receiver unchanged."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import pytest

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.errors import MLSError
from mlssim.mls.group import CommitterError, Group, GroupConfig, StagedCommit
from mlssim.mls.messages import (
    AuthenticatedContent,
    ContentType,
    FramedContentAuthData,
    HPKECiphertext,
    IndividualCommit,
    MLSMessage,
    PublicMessage,
    SCommit,
    WireFormat,
    framed_content_tbs,
)
from mlssim.mls.protect import protect_public
from mlssim.mls.ratchet_tree import ParentHashMismatchError
from mlssim.mls.split_commit import (
    SPLIT_FRAMING,
    EpochIdentifierError,
    SplitCommitError,
    SplitShapeError,
    project_all,
    slots,
    split_confirmed_transcript_hash,
)
from mlssim.mls.treekem import PathSecretDecryptionError
from mlssim.mls.treemath import LeafIndex

from .group_harness import Harness, roundtrip

SUITE = get_suite(1)


def individual_commits(h: Harness, committer: str, staged: StagedCommit) -> dict[LeafIndex, IndividualCommit]:
    """The DS's split, from the new epoch's tree (a DS that tracks the tree); members the commit
    removes get the header alone (S6)."""
    sc = roundtrip(staged.message).body
    assert isinstance(sc, SCommit)
    sender = int(h.members[committer].leaf_index)
    out = dict(project_all(sc, staged.ratchet_tree, sender, frozenset(int(x) for x in staged.added)))
    for leaf in staged.removed:
        out[leaf] = IndividualCommit(sheader=sc.sheader)
    return out


def deliver_split(h: Harness, committer: str, staged: StagedCommit, full: Callable[[str], bool]) -> int:
    """Every member but the committer gets either the whole SCommit (``full(name)``) or its
    IndividualCommit, as bytes; new members join by the Welcome. Returns the number that
    processed an IndividualCommit."""
    individual = individual_commits(h, committer, staged)
    whole = roundtrip(staged.message)
    n = 0
    for name, g in list(h.members.items()):
        if name == committer:
            g.merge(staged)
            continue
        if full(name):
            res = g.process(whole)
        else:
            res = g.process(roundtrip(MLSMessage(body=individual[g.leaf_index])))
            n += 1
        if getattr(res, "removed_me", False):
            assert not g.active
            del h.members[name]
    h.join_by_welcome(staged)
    h.check()
    return n


def _group(n: int, config: GroupConfig | None = None, seed: int = 1) -> Harness:
    h = Harness(SUITE, seed=seed, config=config)
    h.create("m0")
    h.add("m0", *[f"m{i}" for i in range(1, n)])
    return h


@pytest.mark.parametrize("wire_format", [WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE])
def test_mixed_group_follows_100_split_commits(wire_format: WireFormat) -> None:
    """Adds, removes, updates (by value in the path and by reference as Update proposals) and
    empty commits by changing committers; members alternate between the whole SCommit and their
    IndividualCommit (which half changes every commit), and agree on every epoch authenticator
    (``Harness.check``) with each other and with the joiners."""
    h = _group(8, GroupConfig(handshake_wire_format=wire_format))
    rng = random.Random(7)
    fresh = 100
    individual = 0
    kinds: dict[str, int] = {"add": 0, "remove": 0, "update": 0, "empty": 0}
    for step in range(104):
        names = sorted(h.members)
        committer = rng.choice(names)
        g = h.members[committer]
        kind = rng.choice(["add", "remove", "update", "empty"]) if len(names) > 4 else "add"
        if len(names) > 14:
            kind = "remove"
        kinds[kind] += 1
        if kind == "add":
            new = [f"m{fresh + i}" for i in range(rng.randint(1, 3))]
            fresh += len(new)
            staged = g.commit(
                h.rand, adds=[h.client(n).bundle.key_package for n in new], framing=SPLIT_FRAMING
            )
        elif kind == "remove":
            victims = rng.sample([n for n in names if n != committer], rng.randint(1, 2))
            staged = g.commit(
                h.rand, removes=[h.members[v].leaf_index for v in victims], framing=SPLIT_FRAMING
            )
        elif kind == "update":
            proposer = rng.choice([n for n in names if n != committer])
            proposal = h.members[proposer].propose_update(h.rand)
            h.broadcast(proposal, proposer)
            staged = g.commit(h.rand, framing=SPLIT_FRAMING)
            assert staged.updated == (h.members[proposer].leaf_index,)
        else:
            staged = g.commit(h.rand, framing=SPLIT_FRAMING)
        individual += deliver_split(h, committer, staged, lambda name, s=step: (int(name[1:]) + s) % 2 == 0)
    assert min(kinds.values()) >= 10, kinds
    assert individual >= 200
    assert {g.epoch for g in h.members.values()} == {105}


# ---- rejections: each leaves the receiver exactly as it was -------------------------------------


def snapshot(g: Group) -> tuple[object, ...]:
    return (g.epoch, g.epoch_authenticator, g.tree_hash, g.active, g.retained_epochs)


def split_round(n: int = 8) -> tuple[Harness, StagedCommit, dict[LeafIndex, IndividualCommit]]:
    """An 8-member group and a staged splittable commit by m0 that removes m7."""
    h = _group(n)
    staged = h.members["m0"].commit(h.rand, removes=[h.members["m7"].leaf_index], framing=SPLIT_FRAMING)
    return h, staged, individual_commits(h, "m0", staged)


def resigned(h: Harness, committer: str, ic: IndividualCommit, **header_changes: object) -> IndividualCommit:
    """``ic`` with its SHeader changed and signed and MACed again by the committer: what a
    malicious committer (or anyone holding its signature key and the epoch) can send."""
    g = h.members[committer]
    pm = ic.sheader.body
    assert isinstance(pm, PublicMessage) and pm.content.sheader is not None
    content = replace(pm.content, sheader=replace(pm.content.sheader, **header_changes))  # type: ignore[arg-type]
    tbs = framed_content_tbs(WireFormat.PUBLIC_MESSAGE, content, g.context)
    sig = h.suite.sign_with_label(h.clients[committer].identity.signature_priv, "FramedContentTBS", tbs)
    ac = AuthenticatedContent(
        wire_format=WireFormat.PUBLIC_MESSAGE, content=content, auth=FramedContentAuthData(signature=sig)
    )
    msg = protect_public(h.suite, ac, context=g.context, membership_key=g.secrets.membership_key)
    return replace(ic, sheader=MLSMessage(body=msg))


def _flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def rejects(g: Group, body: IndividualCommit | SCommit, error: type[MLSError]) -> None:
    before = snapshot(g)
    with pytest.raises(error):
        g.process(roundtrip(MLSMessage(body=body)))
    assert snapshot(g) == before


def test_a_wrong_epoch_identifier_is_the_drafts_rejection() -> None:
    """§3 processing step 3: a header whose ``epoch_identifier`` is not the one the new epoch
    exports — validly signed and MACed, as a malicious committer sends it — is rejected by
    every receiver, whether it processes the whole SCommit or its own IndividualCommit."""
    h, staged, ics = split_round()
    for name in ("m1", "m4", "m6"):
        g = h.members[name]
        ic = ics[g.leaf_index]
        bad = resigned(h, "m0", ic, epoch_identifier=_flip(ic.sheader.body.content.sheader.epoch_identifier))  # type: ignore[union-attr]
        rejects(g, bad, EpochIdentifierError)
        sc = roundtrip(staged.message).body
        assert isinstance(sc, SCommit)
        rejects(g, replace(sc, sheader=bad.sheader), EpochIdentifierError)
        g.process(roundtrip(MLSMessage(body=ic)))  # the genuine one still goes through


def test_tampered_individual_paths_are_rejected() -> None:
    """What a DS could alter in an IndividualCommit (it is neither signed nor MACed): a key
    below the common ancestor (the leaf's parent hash no longer matches, §7.9.2), the
    ciphertext (HPKE fails), another member's ciphertext (not for this receiver's key), or one
    key too many or too few (the draft's shape)."""
    h, staged, ics = split_round()
    m1 = h.members["m1"]  # m1's common ancestor with m0 is their parent: no keys below it
    m6 = h.members["m6"]  # under the root's copath child: two keys below
    ic6 = ics[m6.leaf_index]
    assert ic6.path is not None and len(ic6.path.new_pks) == 2
    p6 = ic6.path
    rejects(
        m6,
        replace(ic6, path=replace(p6, new_pks=(p6.new_pks[0], _flip(p6.new_pks[1])))),
        ParentHashMismatchError,
    )
    ct = p6.encrypted_path_secret
    rejects(
        m6,
        replace(
            ic6,
            path=replace(
                p6,
                encrypted_path_secret=HPKECiphertext(
                    kem_output=ct.kem_output, ciphertext=_flip(ct.ciphertext)
                ),
            ),
        ),
        PathSecretDecryptionError,
    )
    ic4 = ics[h.members["m4"].leaf_index]
    assert ic4.path is not None and ic4.path.encrypted_path_secret != ct
    rejects(
        m6,
        replace(ic6, path=replace(p6, encrypted_path_secret=ic4.path.encrypted_path_secret)),
        PathSecretDecryptionError,
    )
    rejects(m6, replace(ic6, path=replace(p6, new_pks=p6.new_pks[:1])), SplitShapeError)
    rejects(m6, replace(ic6, path=replace(p6, new_pks=(*p6.new_pks, p6.new_pks[0]))), SplitShapeError)
    rejects(m6, replace(ic6, path=None), SplitShapeError)
    rejects(m1, ics[m6.leaf_index], SplitShapeError)  # m6's download: two keys where m1 has none
    for name in ("m1", "m6"):  # both still follow the genuine commit
        h.members[name].process(roundtrip(MLSMessage(body=ics[h.members[name].leaf_index])))
        assert h.members[name].epoch_authenticator == staged.secrets.epoch_authenticator


def test_removed_member_learns_from_the_header_alone() -> None:
    """S6: the member a split commit removes gets no path, verifies the header, is inactive."""
    h, staged, ics = split_round()
    m7 = h.members["m7"]
    ic7 = ics[m7.leaf_index]
    assert ic7.path is None
    res = m7.process(roundtrip(MLSMessage(body=ic7)))
    assert getattr(res, "removed_me", False) and not m7.active
    assert len(encode(MLSMessage(body=ic7))) < len(encode(staged.message))


def test_an_sheader_outside_a_split_commit_and_a_non_member_sender_are_rejected() -> None:
    h, _, ics = split_round()
    m3 = h.members["m3"]
    ic = ics[m3.leaf_index]
    before = snapshot(m3)
    with pytest.raises(SplitCommitError):
        m3.process(roundtrip(ic.sheader))  # the framed header alone, as a PublicMessage
    assert snapshot(m3) == before
    # a split commit the member itself did not stage, "from" itself
    own = h.members["m3"].commit(h.rand, framing=SPLIT_FRAMING)
    m3.discard(own)
    other = individual_commits(h, "m3", own)
    with pytest.raises(CommitterError):
        h.members["m3"].process(
            roundtrip(MLSMessage(body=IndividualCommit(sheader=other[h.members["m1"].leaf_index].sheader)))
        )


def test_transcript_covers_the_header_without_its_identifier() -> None:
    """§4 with S3: the confirmed transcript hash is Hash(interim || FramedContent) over the
    header with an empty ``epoch_identifier`` — recomputed here from the wire, it is the new
    epoch's; and the interim hash adds the locally computed confirmation tag (S4), so a
    GroupInfo of the new epoch verifies for a joiner like any other."""
    h, staged, ics = split_round()
    old = h.members["m1"]
    interim_before = old.public.interim_transcript_hash
    pm = ics[old.leaf_index].sheader.body
    assert isinstance(pm, PublicMessage) and pm.content.content_type == ContentType.SHEADER
    assert pm.auth.confirmation_tag is None
    confirmed = split_confirmed_transcript_hash(h.suite, interim_before, pm.content)
    assert confirmed == staged.public.context.confirmed_transcript_hash
    old.process(roundtrip(MLSMessage(body=ics[old.leaf_index])))
    assert old.context.confirmed_transcript_hash == confirmed
    # a Welcome of the next (plain) commit joins a member into the epoch the split commit made
    for name, g in list(h.members.items()):
        if name not in ("m0", "m1"):
            if g.leaf_index in staged.removed:
                del h.members[name]
            else:
                g.process(roundtrip(MLSMessage(body=ics[g.leaf_index])))
    h.members["m0"].merge(staged)
    h.check()
    h.add("m1", "late")
    assert "late" in h.members


def test_projection_sizes_are_logarithmic() -> None:
    """Each receiver's download holds one ciphertext and at most log2(N) keys; the slots cover
    every member but the committer and the joiners, once."""
    h = _group(32)
    g = h.members["m5"]
    staged = g.commit(h.rand, framing=SPLIT_FRAMING)
    sc = roundtrip(staged.message).body
    assert isinstance(sc, SCommit)
    tree = staged.ratchet_tree
    placed = slots(tree, int(g.leaf_index), frozenset())
    assert sorted(placed) == sorted(i for i, _ in tree.leaves() if i != g.leaf_index)
    ics = project_all(sc, tree, int(g.leaf_index), frozenset())
    for leaf, ic in ics.items():
        assert ic.path is not None and len(ic.path.new_pks) == placed[leaf].k <= 5
    assert max(len(encode(MLSMessage(body=ic))) for ic in ics.values()) < len(encode(staged.message)) / 2
    assert decode(MLSMessage, encode(MLSMessage(body=ics[LeafIndex(0)]))).body == ics[LeafIndex(0)]
