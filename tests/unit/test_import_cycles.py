"""The packages import each other one way only: no cycle between `messages`, `rabbitmq`
and the subpackages of `actors` (`actors.agent`, `actors.executor`, ...). Every import
counts, also one inside a function or under TYPE_CHECKING: a cycle there is still two
packages that cannot be read, tested or changed apart."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("actors", "messages", "rabbitmq")


def unit(module: str) -> str:
    """The part of the tree a module belongs to: `actors.<x>` or a top-level package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "actors" and len(parts) > 1 else parts[0]


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The modules an import statement names (for `from a import b`, also `a.b`, which
    may be a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        return [base] + [f"{base}.{alias.name}" for alias in node.names]
    return []


def import_graph() -> dict[str, dict[str, set[str]]]:
    """unit -> unit it imports -> the imports that make that edge ("module -> name")."""
    modules = {module_of(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in imported(node, module, path.name == "__init__.py"):
                if name.split(".")[0] not in PACKAGES:
                    continue
                # the longest prefix that is a module of the tree (`from actors import X`: X's unit
                # if X is a subpackage, else the `actors` package itself)
                while name not in modules and "." in name:
                    name = name.rsplit(".", 1)[0]
                source, target = unit(module), unit(name)
                if source != target:
                    graph[source][target].add(f"{module} -> {name}")
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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

    for node in sorted(set(graph) | {t for edges in graph.values() for t in edges}):
        if node not in index:
            visit(node)
    return found


def describe(graph: dict[str, dict[str, set[str]]], component: list[str]) -> str:
    members = set(component)
    lines = [" <-> ".join(component) + ":"]
    for source in component:
        for target, why in sorted(graph[source].items()):
            if target in members:
                lines += [f"    {line}" for line in sorted(why)]
    return "\n".join(lines)


def test_the_cycle_finder_names_a_cycle():
    graph = {"a": {"b": {"a.x -> b.y"}}, "b": {"c": {"b.y -> c"}}, "c": {"a": {"c -> a.x"}}, "d": {"a": {"d -> a"}}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert "a.x -> b.y" in describe(graph, ["a", "b", "c"])


def test_no_import_cycle_between_packages():
    graph = import_graph()
    assert graph["rabbitmq"], "the graph was not read"  # rabbitmq imports messages, at least
    found = cycles(graph)
    assert not found, "import cycles between packages:\n" + "\n".join(describe(graph, c) for c in found)
