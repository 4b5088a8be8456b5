"""Resuming a group in a new one (RFC 9420 §11.2 reinitialisation, §11.3 branching).

Both create a new group whose first commit adds the members with a resumption PSK of the old
group (§8.6); they differ in the PSK's usage and in where the new group's parameters come
from: the committed ReInit's (its group id, version, cipher suite and extensions) or the old
group's. Kept out of ``group.py`` so that the state machine stays one screenful of rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .group_send import resumption_psk_id
from .group_state import GroupConfig, StagedCommit
from .messages.common import Extension
from .messages.enums import ResumptionPSKUsage
from .messages.key_package import KeyPackage
from .psk import chained_lookup
from .rand import RandomSource

if TYPE_CHECKING:
    from .group import Group

__all__ = ["resumed_group", "reinit_group", "branch_group"]


def resumed_group(
    old: Group,
    rand: RandomSource,
    *,
    usage: ResumptionPSKUsage,
    suite: CipherSuite,
    group_id: bytes,
    extensions: tuple[Extension, ...],
    key_packages: Sequence[KeyPackage],
    config: GroupConfig | None,
) -> tuple[Group, StagedCommit]:
    """A new group created by ``old``'s member, its first commit adding ``key_packages`` with a
    resumption PSK of ``old``'s current epoch (§11.2, §11.3); the old group's resumption PSKs
    stay reachable through the new group's PSK lookup."""
    base = config or old.config
    cfg = replace(base, psk_lookup=chained_lookup(old.lookup_psk, base.psk_lookup))
    new = type(old).create(
        suite, group_id=group_id, identity=old.identity, rand=rand, extensions=extensions, config=cfg
    )
    psk = resumption_psk_id(suite, usage, old.group_id, old.epoch, rand)
    return new, new.commit(rand, adds=key_packages, resumption_psk=psk)


def reinit_group(
    old: Group,
    rand: RandomSource,
    *,
    key_packages: Sequence[KeyPackage],
    suite: CipherSuite | None,
    config: GroupConfig | None,
) -> tuple[Group, StagedCommit]:
    """§11.2 step 3: the new group with the committed ReInit's parameters (``suite`` must be
    given when the ReInit changes the cipher suite, and match it)."""
    reinit = old.committed_reinit
    if reinit is None:
        raise LocalProtocolError("no committed ReInit in this group")
    if suite is None:
        if reinit.cipher_suite != old.suite.suite_id:
            raise LocalProtocolError("the ReInit changes the cipher suite: pass the new suite")
        suite = old.suite
    if suite.suite_id != reinit.cipher_suite:
        raise LocalProtocolError("suite does not match the ReInit's cipher suite")
    return resumed_group(
        old,
        rand,
        usage=ResumptionPSKUsage.REINIT,
        suite=suite,
        group_id=reinit.group_id,
        extensions=reinit.extensions,
        key_packages=key_packages,
        config=config,
    )


def branch_group(
    old: Group,
    rand: RandomSource,
    *,
    group_id: bytes,
    key_packages: Sequence[KeyPackage],
    config: GroupConfig | None,
) -> tuple[Group, StagedCommit]:
    """§11.3: a subgroup with ``old``'s parameters, linked by a ``branch`` resumption PSK."""
    return resumed_group(
        old,
        rand,
        usage=ResumptionPSKUsage.BRANCH,
        suite=old.suite,
        group_id=group_id,
        extensions=old.context.extensions,
        key_packages=key_packages,
        config=config,
    )
