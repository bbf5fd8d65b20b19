"""Apps' `dependencies`: the order in which a deployment starts, changes and stops them.

As Marathon: an app's level is the length of the longest chain of dependencies below it
(an app that depends on nothing: 0); a deployment changes its apps level by level, the
lowest first, and stops removed apps the other way round (dependents first). A cycle is
refused (422) before anything changes. A dependency on an app that does not exist is
ignored, as Marathon does since 1.4.2.

>>> graph = {"/db": [], "/api": ["/db"], "/web": ["/api", "/db"]}
>>> levels(graph)
{'/db': 0, '/api': 1, '/web': 2}
>>> cycle({"/a": ["/b"], "/b": ["/a"]})
['/a', '/b', '/a']
>>> cycle(graph) is None
True
"""

from __future__ import annotations

from typing import Iterable, Mapping

from actors.frameworks.services.appdef import AppInvalid

CYCLE_MESSAGE = "Dependency graph has cyclic dependencies."


def _walk(graph: Mapping[str, Iterable[str]]) -> tuple[list[str], list[str] | None]:
    """(the apps, each after its dependencies; the first cycle found as a path, or None).
    Iterative: a chain of thousands of apps must not hit Python's recursion limit."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    order: list[str] = []
    for root in graph:
        if state.get(root):
            continue
        path = [root]
        stack = [iter(graph.get(root, ()))]
        state[root] = 1
        while stack:
            for dep in stack[-1]:
                if dep not in graph:
                    continue  # an app that does not exist: ignored
                if state.get(dep) == 1:
                    return order, path[path.index(dep):] + [dep]
                if not state.get(dep):
                    state[dep] = 1
                    path.append(dep)
                    stack.append(iter(graph.get(dep, ())))
                    break
            else:
                done = path.pop()
                state[done] = 2
                order.append(done)
                stack.pop()
    return order, None


def cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle of the graph (app -> its dependencies) as a path, or None."""
    return _walk(graph)[1]


def levels(graph: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Each app's level: the longest chain of (known) dependencies below it. No cycles."""
    out: dict[str, int] = {}
    for app in _walk(graph)[0]:
        out[app] = max((out[d] + 1 for d in graph.get(app, ()) if d in out), default=0)
    return {app: out[app] for app in graph if app in out}


def refuse_cycles(graph: Mapping[str, Iterable[str]]) -> None:
    """AppInvalid (422, Marathon's message) if the apps' dependencies make a cycle."""
    found = cycle(graph)
    if found is not None:
        raise AppInvalid([{"path": "/", "errors": [f"{CYCLE_MESSAGE} ({' -> '.join(found)})"]}])
