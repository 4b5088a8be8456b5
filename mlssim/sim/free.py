"""The members free to act in a group, for the workload (issue 23): the candidates a Poisson
process draws from, kept between its events instead of scanned on each.

A member is free in group G when it is online and caught up (``Device.online``,
``Device.synced``), has no commit of its own in flight in G (``Client.pending``), is not
re-syncing G (``Client.resyncing``) and holds an active state of G (``Client.groups``, then
``Group.active``) or, for application messages only, an active light state (``Client.light``).
The list is in the ordering DS's membership order (``GroupRecord.members``): the draw picks
by index.

The cache is exact because counters, :class:`Changes`, move whenever an input of that rule
may have changed: the clients' dicts above are :class:`WatchedDict`\\ s (a change of their
entry for G counts for G), ``online`` and ``synced`` are properties that count for every
group, a state's ``active`` changes only when the state reaches a new epoch
(``World.epoch_reached`` counts it for its group), and the membership is a
:class:`MembersDict` with its own version. A list is reused only while the counters, the DS's
record and the membership's version are those it was built under; anything else rebuilds it
with the full scan. With ``Candidates.check`` on (the tests' fixture), every call also scans
and compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from ..mls.group import Group
from ..mls.light_group import LightGroup

__all__ = ["Candidates", "Changes", "MembersDict", "WatchedDict"]

V = TypeVar("V")


class Changes:
    """Counters of changes to what makes a member free (one set per world): ``of[group]`` for
    a change that concerns one group, ``n`` for one that may concern all of a client's."""

    __slots__ = ("n", "of")

    def __init__(self) -> None:
        self.n = 0
        self.of: dict[str, int] = {}

    def group(self, group: str) -> None:
        self.of[group] = self.of.get(group, 0) + 1


class WatchedDict(dict[str, V]):
    """A client's dict keyed by group name that counts each mutation as a change of that group
    (``changes.of``), or of every group when the keys are not known (reads are plain dict reads)."""

    __slots__ = ("_changes",)

    def __init__(self, changes: Changes) -> None:
        super().__init__()
        self._changes = changes

    def __setitem__(self, key: str, value: V) -> None:
        self._changes.group(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._changes.group(key)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._changes.group(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, V]:
        self._changes.n += 1
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._changes.group(key)
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changes.n += 1
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self._changes.n += 1
        super().clear()

    def __ior__(self, other: Any) -> WatchedDict[V]:  # type: ignore[override,misc]
        self._changes.n += 1
        super().update(other)
        return self


class MembersDict(dict[str, str]):
    """A group's membership at the ordering DS (client name → provider), with a version that
    moves on every mutation (copying it, ``dict(members)``, gives a plain dict)."""

    __slots__ = ("version",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0

    def __setitem__(self, key: str, value: str) -> None:
        self.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.version += 1
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        self.version += 1
        return super().pop(*args)

    def popitem(self) -> tuple[str, str]:
        self.version += 1
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.version += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.version += 1
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self.version += 1
        super().clear()

    def __ior__(self, other: Any) -> MembersDict:  # type: ignore[override,misc]
        self.version += 1
        super().update(other)
        return self


class Member(Protocol):
    """A client, as the rule above reads it (``sim/client.py``)."""

    @property
    def online(self) -> bool: ...
    @property
    def synced(self) -> bool: ...

    @property
    def pending(self) -> Mapping[str, Any]: ...
    @property
    def resyncing(self) -> Mapping[str, Any]: ...
    @property
    def groups(self) -> Mapping[str, Group]: ...
    @property
    def light(self) -> Mapping[str, LightGroup]: ...


M = TypeVar("M", bound=Member)


def scan(members: Mapping[str, str], clients: Mapping[str, M], group: str, senders: bool) -> list[M]:
    """The rule above, over every member (inlined: it runs over every member)."""
    out = []
    for name in members:
        c = clients[name]
        if c.online and c.synced and group not in c.pending and group not in c.resyncing:
            g = c.groups.get(group)
            if g is not None and g.active:
                out.append(c)
            elif senders:
                lg = c.light.get(group)
                if lg is not None and lg.active:
                    out.append(c)
    return out


class Candidates:
    """The cached candidate lists of every group of one world (see the module docstring)."""

    #: scan on every call as well and fail on any difference (set by the tests)
    check = False

    def __init__(self, changes: Changes) -> None:
        self.changes = changes
        #: (group, senders) -> (counters n and of[group], record's membership, its version, list)
        self._lists: dict[tuple[str, bool], tuple[int, int, MembersDict, int, list[Any]]] = {}

    def get(self, members: Mapping[str, str], clients: Mapping[str, M], group: str, senders: bool) -> list[M]:
        """The members free to act in ``group`` (``senders``: light members count), in
        ``members``' order. The caller must not change the list."""
        key = (group, senders)
        hit = self._lists.get(key)
        ch = self.changes
        n, of = ch.n, ch.of.get(group, 0)
        if (
            hit is not None
            and hit[0] == n
            and hit[1] == of
            and hit[2] is members
            and isinstance(members, MembersDict)
            and hit[3] == members.version
        ):
            out: list[M] = hit[4]
        else:
            out = scan(members, clients, group, senders)
            if isinstance(members, MembersDict):
                self._lists[key] = (n, of, members, members.version, out)
        if self.check:
            fresh = scan(members, clients, group, senders)
            if fresh != out:
                raise AssertionError(
                    f"cached candidates of {group} differ from a scan: {len(out)} kept, {len(fresh)} scanned"
                )
        return out
