"""What a scenario problem is and how it names its place: file, line and dotted key path.

Every step of the loader (YAML, overrides, pydantic validation, sample files) reports in the
same two types, :class:`ScenarioIssue` and :class:`ScenarioError`, and names keys in the same
notation (``groups[0].workload.app_rate``), which :func:`parse_path` reads back for overrides
and sweep keys. They live apart from the loader so that each step can use them without
importing the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["Segment", "KeyPath", "ScenarioIssue", "ScenarioError", "format_path", "parse_path"]

Segment = str | int | float | None  # a mapping key as YAML typed it, or a list index
KeyPath = tuple[Segment, ...]


class ScenarioIssue(NamedTuple):
    """One problem in a scenario: where it is and what is wrong, phrased for the user."""

    file: str
    line: int | None  # 1-based; None when the problem has no place in the file (an override)
    key: str  # dotted key path, "" for file-level problems (syntax, not a mapping)
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario file (or its overrides) is invalid; ``issues`` lists every problem found.

    The only exception the loader raises on purpose, so a caller (the CLI, the sweep runner)
    catches one class and prints ``str(error)``: one issue per line.
    """

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        self.issues: list[ScenarioIssue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[list[ScenarioIssue]]]:
        # a run on a process pool sends its exception back pickled; the default
        # reduction would call ScenarioError(str) and lose the issues
        return (ScenarioError, (self.issues,))


# ---- dotted key paths ---------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["([^"\]]*)"\]')


def format_path(path: Sequence[Segment]) -> str:
    """``("groups", 0, "size")`` → ``groups[0].size``; keys that are not names are quoted."""
    out = ""
    for seg in path:
        if isinstance(seg, bool) or seg is None:  # YAML keys such as `no:` or `~:`
            out += "[" + ("null" if seg is None else str(seg).lower()) + "]"
        elif not isinstance(seg, str):  # a list index (or a numeric key)
            out += f"[{seg}]"
        elif _IDENT.fullmatch(seg):
            out += f".{seg}" if out else seg
        else:
            out += '["' + seg + '"]'
    return out


def parse_path(text: str) -> KeyPath:
    """The inverse of :func:`format_path`; raises ``ValueError`` on text that is not a path."""
    segs: list[Segment] = []
    pos = 0
    while pos < len(text):
        m = _PATH_TOKEN.match(text, pos)
        dotted = m is not None and m.group(0).startswith(".")
        if m is None or (dotted and pos == 0) or (m.group(1) is not None and pos > 0 and not dotted):
            raise ValueError(f"cannot read key path {text!r} (write it like groups[0].workload.app_rate)")
        name, index, quoted = m.groups()
        segs.append(int(index) if index is not None else name if name is not None else quoted)
        pos = m.end()
    if not segs:
        raise ValueError("empty key path")
    return tuple(segs)
