"""Delivering a tampered message to a receiver and judging what it did: a member processes it, a
joiner tries to join with it, a member commits an Add of a tampered KeyPackage; each yields a
:class:`Detection` (what was raised, and whether the receiver's state stayed as it was).

Separate from the catalogue because it only drives the calls a member makes anyway
(``Group.process``, ``Group.join``, ``Group.commit``) and compares state before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlssim.mls.codec import decode
from mlssim.mls.crypto.suite import CipherSuite
from mlssim.mls.errors import DecodeError, MLSError
from mlssim.mls.group import Group, GroupConfig, MemberIdentity
from mlssim.mls.key_packages import KeyPackageBundle, key_package_from_message
from mlssim.mls.messages import MLSMessage, Welcome
from mlssim.mls.rand import RandomSource
from mlssim.mls.ratchet_tree import RatchetTree

from .model import Tampered
from .rules import Rule

__all__ = ["Detection", "member_snapshot", "deliver_to_member", "deliver_to_joiner", "offer_key_package"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """One receiver and one tampered message."""

    tamper: str
    rule: Rule
    #: the class the receiver raised; None if it accepted the message
    raised: type[MLSError] | None
    reason: str
    state_unchanged: bool

    @property
    def detected(self) -> bool:
        """Rejected, and the state the rejection left is the state before."""
        return self.raised is not None and self.state_unchanged

    @property
    def as_expected(self) -> bool:
        """Detected by exactly the rule's check (its error class)."""
        return self.detected and self.raised is self.rule.error


def member_snapshot(group: Group) -> tuple[object, ...]:
    """What a rejected message must leave unchanged: epoch, epoch authenticator, tree hash (the
    GroupContext's and the tree's own), activity and the cached proposals."""
    return (
        group.epoch,
        group.epoch_authenticator,
        group.tree_hash,
        group.tree.tree_hash(),
        group.active,
        group.pending_proposals,
    )


def _attempt(t: Tampered, action: Callable[[], object], state: Callable[[], object]) -> Detection:
    before = state()
    raised: type[MLSError] | None = None
    reason = ""
    try:
        action()
    except MLSError as exc:
        raised, reason = type(exc), str(exc)
    return Detection(
        tamper=t.tamper.name, rule=t.rule, raised=raised, reason=reason, state_unchanged=state() == before
    )


def deliver_to_member(group: Group, t: Tampered, *, now: int | None = None) -> Detection:
    """A member receives the tampered bytes, decodes and processes them (``Group.process``)."""

    def action() -> object:
        return group.process(decode(MLSMessage, t.data), now=now)

    return _attempt(t, action, lambda: member_snapshot(group))


def deliver_to_joiner(
    suite: CipherSuite,
    t: Tampered,
    *,
    bundle: KeyPackageBundle,
    identity: MemberIdentity,
    config: GroupConfig | None = None,
    tree: RatchetTree | None = None,
    now: int | None = None,
) -> Detection:
    """A new member receives the tampered Welcome (and ``t.tree`` if the DS served one in place of
    ``tree``) and tries to join; a rejection leaves it with no group, its KeyPackage unused."""

    def action() -> object:
        welcome = decode(MLSMessage, t.data).body
        if not isinstance(welcome, Welcome):
            raise DecodeError(f"a {type(welcome).__name__} where a Welcome was expected")
        return Group.join(
            suite,
            welcome,
            key_package=bundle.key_package,
            init_priv=bundle.init_priv,
            encryption_priv=bundle.encryption_priv,
            identity=identity,
            ratchet_tree=t.tree if t.tree is not None else tree,
            config=config,
            now=now,
        )

    return _attempt(t, action, lambda: None)


def offer_key_package(group: Group, t: Tampered, rand: RandomSource, *, now: int | None = None) -> Detection:
    """A member fetches the tampered KeyPackage from the DS and commits an Add of it; a rejection
    stages nothing. (Accepted, the staged commit is discarded: it is not sent.)"""

    def action() -> object:
        kp = key_package_from_message(decode(MLSMessage, t.data))
        staged = group.commit(rand, adds=[kp], include_cached=False, now=now)
        group.discard(staged)
        return staged

    return _attempt(t, action, lambda: (member_snapshot(group), group.staged_state is None))
