"""The dependency graph of jobs: parents -> children, cycles refused, and the graph as
Chronos exports it (`/graph/dot`, `/graph/csv`).

>>> jobs = {"a": {"name": "a", "schedule": "R//PT1H"}, "b": {"name": "b", "parents": ["a"]}}
>>> children_of(jobs, "a")
['b']
>>> creates_cycle(jobs, "a", ["b"])
True
"""

from __future__ import annotations

from typing import Iterable


def children_of(jobs: dict[str, dict], name: str) -> list[str]:
    return sorted(child for child, job in jobs.items() if name in job.get("parents", ()))


def creates_cycle(jobs: dict[str, dict], name: str, parents: Iterable[str]) -> bool:
    """Would giving `name` these parents make a job its own ancestor?"""
    seen: set[str] = set()
    stack = list(parents)
    while stack:
        current = stack.pop()
        if current == name:
            return True
        if current in seen:
            continue
        seen.add(current)
        stack.extend(jobs.get(current, {}).get("parents", ()))
    return False


def dot(jobs: dict[str, dict], last_result: dict[str, str]) -> str:
    """Graphviz text: one node per job (filled by its last result), parent -> child edges."""
    colors = {"success": "lightgreen", "failure": "salmon", "fresh": "white"}
    lines = ["digraph G {", "  node [style=filled];"]
    for name in sorted(jobs):
        lines.append(f'  "{name}" [fillcolor={colors.get(last_result.get(name, "fresh"), "white")}];')
    for name in sorted(jobs):
        for parent in jobs[name].get("parents", ()):
            lines.append(f'  "{parent}" -> "{name}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def csv(jobs: dict[str, dict], last_result: dict[str, str], state: dict[str, str]) -> str:
    """Chronos' /graph/csv: `node,<name>,<last result>,<state>` per job, then
    `link,<parent>,<child>` per edge."""
    rows = [f"node,{name},{last_result.get(name, 'fresh')},{state.get(name, 'idle')}" for name in sorted(jobs)]
    rows += [f"link,{parent},{name}" for name in sorted(jobs) for parent in jobs[name].get("parents", ())]
    return "".join(row + "\n" for row in rows)
