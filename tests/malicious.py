"""A malicious committer, proposer and joiner for the receiver-MUST tests (issue 25).

Every message built here is *authentic*: each signature, membership tag, confirmation tag,
HPKE ciphertext and AEAD is computed honestly with the attacker's own keys and the epoch's
secrets the attacker holds as a member. Only the sender's own check of the semantic rule is
bypassed, by patching the function the builder calls for that one message (or by building the
proposal list directly), so a rejection can only come from the receiver's semantic check.

The helpers shared with ``test_receive_hardening.py`` (``group_of``, ``state_of``, ``verdicts``,
``join``, ``patched``) live here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from mlssim.mls import commit_builder as commit_builder_module
from mlssim.mls import group_join as group_join_module
from mlssim.mls import group_send as group_send_module
from mlssim.mls import group_state as group_state_module
from mlssim.mls import treekem as treekem_module
from mlssim.mls.codec import decode, encode
from mlssim.mls.commit_builder import build_commit
from mlssim.mls.crypto import CipherSuite, KeyPair, get_suite
from mlssim.mls.errors import MLSError
from mlssim.mls.group import CommitApplied, Group, GroupConfig, StagedCommit
from mlssim.mls.group_send import member_committer
from mlssim.mls.key_packages import sign_key_package
from mlssim.mls.leaf_nodes import sign_leaf_node
from mlssim.mls.messages import GroupInfo, MLSMessage, Welcome
from mlssim.mls.messages.enums import ContentType, LeafNodeSource, WireFormat
from mlssim.mls.messages.framing import FramedContent, PrivateMessage, Sender, SenderData, sender_data_aad
from mlssim.mls.messages.key_package import KeyPackage
from mlssim.mls.messages.proposals import Proposal, Remove
from mlssim.mls.messages.tree import LeafNode
from mlssim.mls.proposal_list import CommittedProposal, apply_proposals
from mlssim.mls.protect import protect_public, sign_content
from mlssim.mls.secret_tree import sender_data_key_nonce

from .group_harness import Client, Harness, fresh_key_package, roundtrip

__all__ = [
    "leaf_of",
    "SUITES",
    "ON_SUITES",
    "group_of",
    "state_of",
    "verdicts",
    "rejected_by_all",
    "join",
    "patched",
    "lax_commits",
    "forge_commit",
    "forge_external_commit",
    "member_proposal",
    "public_message",
    "resigned_leaf",
    "key_package_with",
    "path_changed",
    "node_keys_replaced",
    "group_info_changed",
    "welcome_for",
    "others",
    "roundtrip",
    "open_sender_data",
    "seal",
]

SUITES = [get_suite(1), get_suite(1, "model")]

Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]


#: every test of a module runs on the real suite 1 and the model suite 1 (``pytestmark = ON_SUITES``)
ON_SUITES = pytest.mark.parametrize("suite", SUITES, ids=["suite1", "model1"])


# ---- the group and the verdicts ------------------------------------------------------------------


def group_of(suite: CipherSuite, n: int, config: GroupConfig | None = None) -> Harness:
    """Members c1..cn, added by c1 in one commit."""
    h = Harness(suite, seed=7, config=config)
    h.create("c1")
    h.add("c1", *(f"c{i}" for i in range(2, n + 1)))
    return h


def others(h: Harness, *senders: str) -> list[str]:
    """Every full member except ``senders`` (the committer or proposer): the receivers."""
    return sorted(name for name in h.members if name not in senders)


def state_of(g: Group) -> tuple[object, ...]:
    """What a rejected message must leave as it was: the epoch's public and private state and
    the positions and retained keys of every ratchet of the secret tree."""
    st = g._st
    return (
        g.epoch,
        g.epoch_authenticator,
        g.tree_hash,
        g.active,
        int(g.leaf_index),
        g.pending_proposals,
        g.path_keys,
        st.secret_tree.ratchet_state(),
    )


def verdicts(
    h: Harness, msg: MLSMessage, names: list[str], *, now: int | None = None
) -> dict[str, type[BaseException] | str]:
    """Deliver ``msg`` (as bytes) to each of ``names``; a rejection must leave the state as it was."""
    out: dict[str, type[BaseException] | str] = {}
    for name in names:
        g = h.members[name]
        before = state_of(g)
        try:
            res = g.process(roundtrip(msg), now=now)
        except MLSError as exc:
            assert state_of(g) == before, f"{name} changed state on rejecting {exc!r}"
            out[name] = type(exc)
        else:
            out[name] = "accepted" if not isinstance(res, CommitApplied) or not res.removed_me else "removed"
    return out


def rejected_by_all(
    h: Harness,
    msg: MLSMessage,
    error: type[MLSError],
    *,
    sender: str | None = None,
    names: list[str] | None = None,
    now: int | None = None,
) -> None:
    """Every receiver (all members but ``sender``, or ``names``) rejects ``msg`` with exactly
    ``error``, its state unchanged."""
    receivers = names if names is not None else others(h, *([sender] if sender else []))
    assert receivers
    got = verdicts(h, msg, receivers, now=now)
    assert got == dict.fromkeys(receivers, error), got


def join(h: Harness, who: Any, welcome: Welcome, **kwargs: Any) -> Group:
    """``who`` (a harness client) joins from ``welcome`` with its KeyPackage's keys."""
    return Group.join(
        h.suite,
        welcome,
        key_package=who.bundle.key_package,
        init_priv=who.bundle.init_priv,
        encryption_priv=who.bundle.encryption_priv,
        identity=who.identity,
        **kwargs,
    )


@contextmanager
def patched(module: Any, name: str, wrap: Wrap) -> Iterator[None]:
    """Replace ``module.name`` by ``wrap(original)`` for the committer's one call."""
    original = getattr(module, name)
    setattr(module, name, wrap(original))
    try:
        yield
    finally:
        setattr(module, name, original)


# ---- commits and proposals with the sender's checks bypassed -------------------------------------


def _lax_checked_proposals(
    suite: CipherSuite,
    policy: Any,
    old_public: Any,
    committed: list[CommittedProposal],
    *,
    committer: Any,
    now: int | None,
    resumption_usage: Any = None,
) -> tuple[Any, tuple[LeafNode, ...]]:
    """The committer's ``checked_proposals`` without the checks: the list is only applied, less
    the Removes its own tree cannot apply (of a blank leaf, or of a leaf removed already), which
    the committer leaves out of its own view only."""
    tree = old_public.tree
    gone: set[int] = set()
    applicable = []
    for cp in committed:
        p = cp.proposal
        if isinstance(p, Remove):
            if p.removed >= tree.n_leaves or tree.leaf(p.removed) is None or p.removed in gone:
                continue
            gone.add(p.removed)
        applicable.append(cp)
    applied = apply_proposals(tree, old_public.context.extensions, applicable)
    leaves = tuple(leaf for leaf in (tree.leaf(r) for r in applied.removed) if leaf is not None)
    return applied, leaves


@contextmanager
def lax_commits() -> Iterator[None]:
    """The committer neither validates its proposal list (§12.2) nor insists on a path (§12.4)."""
    with (
        patched(commit_builder_module, "checked_proposals", lambda _orig: _lax_checked_proposals),
        patched(commit_builder_module, "path_required", lambda _orig: lambda _committed: False),
    ):
        yield


def leaf_of(h: Harness, name: str) -> int:
    """The leaf index of member ``name``."""
    return int(h.members[name].leaf_index)


def forge_commit(
    h: Harness,
    committer: str,
    proposals: Sequence[Proposal | CommittedProposal] = (),
    *,
    path: bool = True,
    wire_format: WireFormat | None = None,
) -> StagedCommit:
    """A commit by member ``committer`` of exactly ``proposals`` (by value, or a
    :class:`CommittedProposal` with a ref for one by reference), built and protected by the
    committer's own code with its list and path checks bypassed."""
    g = h.members[committer]
    st = g._st
    me = Sender.member(st.leaf)
    committed = [p if isinstance(p, CommittedProposal) else CommittedProposal(p, me) for p in proposals]
    cfg = (
        g.config if wire_format is None else dataclasses.replace(g.config, handshake_wire_format=wire_format)
    )
    with lax_commits():
        return build_commit(
            g.suite,
            cfg,
            st.public,
            member_committer(g.suite, cfg, st, g.lookup_psk, h.rand),
            committed,
            with_path=path,
            rand=h.rand,
        )


def forge_external_commit(
    h: Harness,
    edit: Callable[[list[CommittedProposal]], list[CommittedProposal]],
    *,
    joiner: str = "ext",
    via: str = "c1",
) -> StagedCommit:
    """Client ``joiner`` joins by external commit from ``via``'s GroupInfo, built by its own
    code with its proposal list changed by ``edit`` and the list and path checks bypassed."""

    def wrap(build: Callable[..., StagedCommit]) -> Callable[..., StagedCommit]:
        def built(
            suite: CipherSuite, cfg: Any, old: Any, committer: Any, committed: Any, **kw: Any
        ) -> StagedCommit:
            return build(suite, cfg, old, committer, edit(list(committed)), **kw)

        return built

    with lax_commits(), patched(group_join_module, "build_commit", wrap):
        _, staged = h.stage_external_join(joiner, via)
    return staged


def member_proposal(h: Harness, proposer: str, proposal: Proposal) -> tuple[MLSMessage, bytes]:
    """``proposer`` sends ``proposal`` with its own validity check bypassed; returns the
    message and its ProposalRef (the proposer caches it, as for any proposal it sends)."""
    g = h.members[proposer]
    with patched(group_send_module, "validate_proposal", lambda _check: lambda *_a, **_k: None):
        return g._propose(proposal, h.rand, b"")


def public_message(
    h: Harness,
    signer: str,
    content: FramedContent,
    *,
    signature_priv: bytes | None = None,
    membership_key: bytes | None = None,
    confirmation_tag: bytes | None = None,
) -> MLSMessage:
    """``content`` as a PublicMessage signed by ``signer`` (or with ``signature_priv``) and, for
    a member sender, tagged with ``signer``'s membership key of its current epoch."""
    g = h.members[signer]
    ac = sign_content(
        g.suite,
        wire_format=WireFormat.PUBLIC_MESSAGE,
        content=content,
        signature_priv=signature_priv or g.identity.signature_priv,
        context=g.context,
        confirmation_tag=confirmation_tag,
    )
    key = membership_key if membership_key is not None else g.secrets.membership_key
    return MLSMessage(body=protect_public(g.suite, ac, context=g.context, membership_key=key))


def framed(g: Group, sender: Sender, **body: Any) -> FramedContent:
    """A FramedContent of ``g``'s group and epoch."""
    content_type = (
        ContentType.COMMIT
        if "commit" in body
        else ContentType.PROPOSAL
        if "proposal" in body
        else ContentType.APPLICATION
    )
    return FramedContent(
        group_id=g.group_id,
        epoch=g.epoch,
        sender=sender,
        authenticated_data=b"",
        content_type=content_type,
        **body,
    )


# ---- leaves, KeyPackages, paths ------------------------------------------------------------------


def resigned_leaf(
    suite: CipherSuite,
    leaf: LeafNode,
    priv: bytes,
    *,
    group_id: bytes | None = None,
    leaf_index: int | None = None,
    **changes: Any,
) -> LeafNode:
    """``leaf`` with ``changes``, signed honestly with ``priv`` (over ``group_id`` and
    ``leaf_index`` unless it is a key-package leaf)."""
    new = dataclasses.replace(leaf, **changes)
    if new.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
        group_id = leaf_index = None
    return sign_leaf_node(suite, new, priv, group_id=group_id, leaf_index=leaf_index)


def key_package_with(
    h: Harness, name: str, *, leaf: dict[str, Any] | None = None, **changes: Any
) -> tuple[Client, KeyPackage]:
    """A fresh KeyPackage of client ``name`` with ``changes`` (and ``leaf`` changes to its
    LeafNode), every signature recomputed with the client's key."""
    c = h.client(name)
    c = h.clients[name] = fresh_key_package(h.suite, c, h.rand)
    kp = c.bundle.key_package
    priv = c.identity.signature_priv
    if leaf:
        changes["leaf_node"] = resigned_leaf(h.suite, kp.leaf_node, priv, **leaf)
    return c, sign_key_package(h.suite, dataclasses.replace(kp, **changes), priv)


def path_changed(change: Callable[[Any], Any]) -> Wrap:
    """A wrapper of ``create_update_path`` whose result (an ``UpdatePathResult``) is changed
    by ``change`` before the committer signs and tags the commit that carries it."""

    def wrap(create: Callable[..., Any]) -> Callable[..., Any]:
        def build(*args: Any, **kwargs: Any) -> Any:
            return change(create(*args, **kwargs))

        return build

    return wrap


def with_update_path(result: Any, **changes: Any) -> Any:
    return dataclasses.replace(result, update_path=dataclasses.replace(result.update_path, **changes))


def node_keys_replaced(replace: dict[int, Callable[[KeyPair], KeyPair]]) -> Wrap:
    """A wrapper of TreeKEM's ``node_key_pair``: the committer's ``i``-th derived key pair
    (0: its new leaf, 1: the lowest node of its filtered direct path, …) is ``replace[i](kp)``.
    The committer builds everything else — parent hashes, leaf signature, ciphertexts — over
    the replaced keys, honestly."""

    def wrap(derive: Callable[..., KeyPair]) -> Callable[..., KeyPair]:
        calls = [0]

        def node_key_pair(suite: CipherSuite, secret: bytes) -> KeyPair:
            kp = derive(suite, secret)
            i = calls[0]
            calls[0] += 1
            return replace[i](kp) if i in replace else kp

        return node_key_pair

    return wrap


@contextmanager
def committer_keys(replace: dict[int, Callable[[KeyPair], KeyPair]]) -> Iterator[None]:
    with patched(treekem_module, "node_key_pair", node_keys_replaced(replace)):
        yield


def group_info_changed(change: Callable[[GroupInfo], GroupInfo]) -> Wrap:
    """A wrapper of ``sign_group_info``: the committer changes the GroupInfo, then signs it."""

    def wrap(sign: Callable[..., GroupInfo]) -> Callable[..., GroupInfo]:
        def signed(suite: CipherSuite, gi: GroupInfo, priv: bytes) -> GroupInfo:
            return sign(suite, change(gi), priv)

        return signed

    return wrap


@contextmanager
def signed_group_infos(change: Callable[[GroupInfo], GroupInfo]) -> Iterator[None]:
    with patched(group_state_module, "sign_group_info", group_info_changed(change)):
        yield


def welcome_for(staged: StagedCommit) -> Welcome:
    """The Welcome of ``staged`` as its joiners receive it (as bytes)."""
    assert staged.welcome is not None
    welcome = roundtrip(staged.welcome).body
    assert isinstance(welcome, Welcome)
    return welcome


def join_verdict(h: Harness, who: Client, welcome: Welcome, **kwargs: Any) -> type[BaseException] | str:
    """What ``who`` makes of ``welcome``: the error class, or "joined"."""
    kwargs.setdefault("config", h.config)
    try:
        join(h, who, welcome, **kwargs)
    except MLSError as exc:
        return type(exc)
    return "joined"


# ---- PrivateMessages -----------------------------------------------------------------------------


def open_sender_data(g: Group, pm: PrivateMessage) -> SenderData:
    """What any member can read: the sender data of ``pm``, under the epoch's sender_data_secret."""
    key, nonce = sender_data_key_nonce(g.suite, g.secrets.sender_data_secret, pm.ciphertext)
    aad = sender_data_aad(pm.group_id, pm.epoch, pm.content_type)
    return decode(SenderData, g.suite.aead_open(key, nonce, aad, pm.encrypted_sender_data))


def seal(g: Group, pm: PrivateMessage, ciphertext: bytes, sd: SenderData) -> MLSMessage:
    """``pm`` with ``ciphertext`` and the sender data ``sd``, sealed honestly by member ``g``."""
    key, nonce = sender_data_key_nonce(g.suite, g.secrets.sender_data_secret, ciphertext)
    aad = sender_data_aad(pm.group_id, pm.epoch, pm.content_type)
    esd = g.suite.aead_seal(key, nonce, aad, encode(sd))
    return MLSMessage(body=dataclasses.replace(pm, ciphertext=ciphertext, encrypted_sender_data=esd))
