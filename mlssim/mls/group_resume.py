"""Resuming a group in a new one (RFC 9420 §11.2 reinitialisation, §11.3 branching): the
checks and parameters that ``Group.reinit`` and ``Group.branch`` take from here, so that the
state machine in ``group.py`` stays one screenful of rules.

Both create a new group whose first commit adds the members with a resumption PSK of the old
group (§8.6); they differ in the PSK's usage and in where the new group's parameters come
from: the committed ReInit's (its group id, version, cipher suite and extensions) or the old
group's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .group_state import GroupConfig
from .messages.proposals import ReInit
from .messages.psk_id import PreSharedKeyID
from .psk import chained_lookup

__all__ = ["reinit_target", "resumed_config"]


def reinit_target(
    reinit: ReInit | None, current: CipherSuite, suite: CipherSuite | None
) -> tuple[ReInit, CipherSuite]:
    """§11.2 step 3: the committed ReInit and the suite of the new group (``suite`` must be
    given when the ReInit changes the cipher suite, and match it)."""
    if reinit is None:
        raise LocalProtocolError("no committed ReInit in this group")
    if suite is None:
        if reinit.cipher_suite != current.suite_id:
            raise LocalProtocolError("the ReInit changes the cipher suite: pass the new suite")
        suite = current
    if suite.suite_id != reinit.cipher_suite:
        raise LocalProtocolError("suite does not match the ReInit's cipher suite")
    return reinit, suite


def resumed_config(base: GroupConfig, old_lookup: Callable[[PreSharedKeyID], bytes | None]) -> GroupConfig:
    """The new group's config: the old group's resumption PSKs stay reachable (§11.2, §11.3)."""
    return replace(base, psk_lookup=chained_lookup(old_lookup, base.psk_lookup))
