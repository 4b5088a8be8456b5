"""The import graph of ``mlssim`` against the layer order written in ``docs/architecture.md``.

Every import counts: module level, inside functions, and under ``TYPE_CHECKING``, because each
is a dependency a reader has to hold in their head. A package may import only packages of
lower layers (and itself); no set of modules may import each other in a circle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mlssim"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

#: Circles that exist today, listed so that no new circle can appear unnoticed; the test also
#: fails when one of these is gone, so that the list is shortened as the work lands. Empty since
#: the simulator's circle (actors, world, forks, ordering, compromise) was broken (issue 17).
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every ``mlssim`` module ``path`` imports, resolved to the module (``from a import b``
    counts as ``a.b`` when ``a.b`` is a module, else as ``a``)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join([*base, *([node.module] if node.module else [])])
            targets = [f"{mod}.{a.name}" if _is_module(f"{mod}.{a.name}") else mod for a in node.names]
        else:
            continue
        out.update(t for t in targets if t == "mlssim" or t.startswith("mlssim."))
    out.discard(name)
    return {t for t in out if _is_module(t)}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def cycles(g: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    counter = 0
    for start in sorted(g):
        if start in index:
            continue
        work = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in g:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(g[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                scc = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    scc.add(w)
                    if w == v:
                        break
                if len(scc) > 1:
                    found.add(frozenset(scc))
    return found


def layers() -> list[set[str]]:
    """The ```layers block of docs/architecture.md: one line per layer, top first, each a
    space-separated list of top-level names under ``mlssim`` (packages or modules)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    m = re.search(r"```layers\n(.*?)```", text, re.S)
    assert m, "docs/architecture.md has no ```layers block"
    return [set(line.split("#")[0].split()) for line in m.group(1).splitlines() if line.split("#")[0].strip()]


def top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_layer() -> None:
    named = set().union(*layers())
    tops = {top(m) for m in graph()} - {"__init__"}
    assert tops <= named, f"not in the layers block of docs/architecture.md: {sorted(tops - named)}"
    assert named <= tops, f"layers block names what does not exist: {sorted(named - tops)}"


def test_imports_follow_the_layer_order() -> None:
    """The root package (``__version__`` only) is below every layer and imports nothing."""
    rank = {name: i for i, layer in enumerate(layers()) for name in layer}
    g = graph()
    assert g["mlssim"] == set(), "mlssim/__init__.py must import no mlssim module"
    wrong = []
    for mod, targets in g.items():
        a = top(mod)
        if a == "__init__":
            continue
        for t in sorted(targets):
            b = top(t)
            if b != a and b != "__init__" and rank[b] <= rank[a]:
                wrong.append(f"{mod} imports {t} ({a} may import only layers below it)")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_beyond_the_known_ones() -> None:
    found = cycles(graph())
    new = found - KNOWN_CYCLES
    assert not new, "new import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in new)
    gone = KNOWN_CYCLES - found
    assert not gone, "these cycles are broken now; remove them from KNOWN_CYCLES: " + str(gone)


def test_the_cycle_finder_finds_a_cycle() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(g) == {frozenset({"a", "b", "c"})}
    assert cycles({"a": {"b"}, "b": set()}) == set()


def test_mls_core_never_imports_the_rest() -> None:
    """DESIGN.md: the MLS core never imports the simulator (nor anything above it)."""
    bad = {m: sorted(t for t in ts if top(t) != "mls") for m, ts in graph().items() if top(m) == "mls"}
    assert not {m: ts for m, ts in bad.items() if ts}


def sim_table() -> list[str]:
    """The ``sim/`` modules in the order of their table in ``docs/architecture.md``."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text[text.index("## sim/") : text.index("### The path of one commit")]
    names = re.findall(r"^\| `([a-z_]+)(?:\.py|/)` \|", section, re.MULTILINE)
    return [f"mlssim.sim.{n}" for n in names]


def test_the_sim_table_lists_every_module_bottom_up() -> None:
    """docs/architecture.md lists ``sim/`` bottom-up: each module (or package) imports only the
    ones above it in the table, and every one is there."""
    order = sim_table()
    rank = {name: i for i, name in enumerate(order)}

    def entry(mod: str) -> str | None:
        return next((n for n in order if mod == n or mod.startswith(n + ".")), None)

    g = graph()
    mods = {m for m in g if m.startswith("mlssim.sim.")}
    assert not {m for m in mods if entry(m) is None}, "sim modules missing from the table"
    wrong = [
        f"{m} imports {t}, listed below it"
        for m in sorted(mods)
        for t in sorted(g[m])
        if t.startswith("mlssim.sim.")
        and (a := entry(m)) != (b := entry(t))
        and rank[b or ""] > rank[a or ""]
    ]
    assert not wrong, "\n".join(wrong)
