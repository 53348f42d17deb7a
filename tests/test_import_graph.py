"""The modules of openkling import one another without circles (function-level and
type-checking imports count too: a circle there is a circle in the design)."""

from __future__ import annotations

import ast
from pathlib import Path

import openkling

PACKAGE = Path(openkling.__file__).parent
ROOT = "openkling"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The openkling modules ``module`` imports, wherever the import statement stands. A
    package's ``__init__`` counts as the package itself."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, is_package, node)
            # ``from pkg import mod`` imports the submodule pkg.mod when there is one
            names = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in known else source
                for a in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in known:  # ``openkling.x.y.attr`` -> ``openkling.x.y``
                name = name.rpartition(".")[0]
            if name.startswith(ROOT) and name != module:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def path_within(edges: dict[str, set[str]], component: list[str]) -> list[str]:
    """One circle through ``component``'s first module, to name in the failure."""
    members = set(component)
    start = component[0]
    trail = [start]
    seen = {start}

    def walk(node: str) -> bool:
        for nxt in sorted(edges[node] & members):
            if nxt == start:
                trail.append(start)
                return True
            if nxt not in seen:
                seen.add(nxt)
                trail.append(nxt)
                if walk(nxt):
                    return True
                trail.pop()
        return False

    walk(start)
    return trail


def test_the_graph_sees_every_kind_of_import():
    edges = graph()
    assert len(edges) > 100  # every module of the package was read
    # top-level, relative, function-level and TYPE_CHECKING imports are all edges
    assert "openkling.config" in edges["openkling.api.app"]
    assert "openkling.tasks.service" in edges["openkling.runtime"]


def test_finder_reports_a_circle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert path_within(edges, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    edges = graph()
    circles = [" -> ".join(path_within(edges, c)) for c in cycles(edges)]
    assert not circles, "import circles:\n" + "\n".join(circles)
