"""Authorization in the style of Mesos' `--acls`: a JSON file of rules per action.

    {
      "permissive": false,
      "register_frameworks": [
        {"principals": {"values": ["analytics"]}, "roles": {"values": ["analytics", "batch"]}},
        {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
      ],
      "run_tasks": [{"principals": {"values": ["analytics"]}, "users": {"values": ["analytics"]}}]
    }

Actions and the object each rule names (as Mesos): `register_frameworks` (roles),
`run_tasks` (users), `teardown_frameworks` (framework_principals), `reserve_resources`
(roles), `unreserve_resources` (reserver_principals: who made the reservation),
`set_quotas` / `update_quotas` / `get_quotas` (roles), `update_weights` (roles),
`view_frameworks` / `view_tasks` / `view_executors` (users), `view_roles` (roles),
`get_endpoints` (paths), `access_sandboxes` (users). An entity is `{"values": [...]}`,
`{"type": "ANY"}` or `{"type": "NONE"}`.

Some objects are implicit (Mesos: "use types ANY and NONE"): `view_flags` (flags),
`register_agents`, `mark_agents_gone`, `drain_agents`, `deactivate_agents`,
`reactivate_agents` (agents), and the maintenance actions `update_maintenance_schedules`,
`get_maintenance_schedules`, `start_maintenances`, `stop_maintenances`,
`get_maintenance_statuses` (machines). Their rules take only ANY or NONE (a list of values
could never match: it is refused); they are checked with `allows(action, principal)`.

A request of the HTTP API that did not authenticate has no principal (None): only rules
whose principals are ANY decide for it, as in Mesos.

The rules of an action are read in order; the first whose principals include the
principal and whose object matches decides: allowed, unless its object is NONE. When no
rule decides, `permissive` does: false by default when a file is given. Without a file
everything is allowed (`ACLs.permissive_default()`), and the master says so at start.

>>> acls = parse_acls('{"run_tasks": [{"principals": {"values": ["a"]}, "users": {"values": ["a"]}}]}')
>>> acls.allows("run_tasks", "a", "a"), acls.allows("run_tasks", "a", "root"), acls.allows("run_tasks", "b", "b")
(True, False, False)
>>> parse_acls('{"run_task": []}')
Traceback (most recent call last):
...
actors.master.acls.ACLError: unknown action 'run_task' (known: register_frameworks, run_tasks, teardown_frameworks, reserve_resources, unreserve_resources, set_quotas, update_quotas, get_quotas, update_weights, view_frameworks, view_tasks, view_executors, view_roles, get_endpoints, access_sandboxes, view_flags, register_agents, mark_agents_gone, drain_agents, deactivate_agents, reactivate_agents, update_maintenance_schedules, get_maintenance_schedules, start_maintenances, stop_maintenances, get_maintenance_statuses)
>>> parse_acls('{"drain_agents": [{"principals": {"type": "ANY"}, "agents": {"values": ["a1"]}}]}')
Traceback (most recent call last):
...
actors.master.acls.ACLError: drain_agents[0].agents: the object is implicit: give {"type": "ANY"} or {"type": "NONE"}, not values
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from actors.config_text import read_config_text

# action -> the name of the object its rules restrict
OBJECTS: dict[str, str] = {
    "register_frameworks": "roles",
    "run_tasks": "users",
    "teardown_frameworks": "framework_principals",
    "reserve_resources": "roles",
    "unreserve_resources": "reserver_principals",
    "set_quotas": "roles",
    "update_quotas": "roles",
    "get_quotas": "roles",
    "update_weights": "roles",
    "view_frameworks": "users",
    "view_tasks": "users",
    "view_executors": "users",
    "view_roles": "roles",
    "get_endpoints": "paths",
    "access_sandboxes": "users",
    "view_flags": "flags",
    "register_agents": "agents",
    "mark_agents_gone": "agents",
    "drain_agents": "agents",
    "deactivate_agents": "agents",
    "reactivate_agents": "agents",
    "update_maintenance_schedules": "machines",
    "get_maintenance_schedules": "machines",
    "start_maintenances": "machines",
    "stop_maintenances": "machines",
    "get_maintenance_statuses": "machines",
}
# Actions whose object is implicit (Mesos: "use types ANY and NONE"): no values in their rules.
IMPLICIT = frozenset({"view_flags", "register_agents", "mark_agents_gone", "drain_agents", "deactivate_agents",
                      "reactivate_agents", "update_maintenance_schedules", "get_maintenance_schedules",
                      "start_maintenances", "stop_maintenances", "get_maintenance_statuses"})


class ACLError(ValueError):
    """The ACL file is not what it must be; the text says where and what."""


@dataclass(frozen=True)
class Entity:
    """ANY, NONE, or a set of values."""

    kind: str  # "ANY", "NONE" or "SOME"
    values: frozenset[str] = frozenset()

    def matches(self, value: str) -> bool:
        return self.kind in ("ANY", "NONE") or value in self.values


@dataclass(frozen=True)
class Rule:
    principals: Entity
    objects: Entity

    def decides(self, principal: str | None, obj: str) -> bool:
        if principal is None:  # anonymous: only a rule for ANY principal speaks for it
            return self.principals.kind == "ANY" and self.objects.matches(obj)
        return self.principals.kind != "NONE" and self.principals.matches(principal) and self.objects.matches(obj)


@dataclass(frozen=True)
class ACLs:
    permissive: bool = True
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    source: str = ""  # the file, or "" when none was given

    @classmethod
    def permissive_default(cls) -> "ACLs":
        return cls()

    @property
    def restricts(self) -> bool:
        """Whether anything can be refused (False: every check allows, so skip the work)."""
        return not self.permissive or any(self.rules.values())

    def allows(self, action: str, principal: str | None, obj: str = "") -> bool:
        """Whether `principal` (None: an anonymous HTTP request) may do `action` on `obj`
        (a role, a user, ...; none for an action whose object is implicit)."""
        if action not in OBJECTS:
            raise KeyError(f"unknown action {action!r}")
        for rule in self.rules.get(action, ()):
            if rule.decides(principal, obj):
                return rule.objects.kind != "NONE"
        return self.permissive

    def describe(self) -> str:
        if not self.source:
            return "permissive: no --acls file given, every principal may do everything"
        count = sum(len(r) for r in self.rules.values())
        text = f"{count} rules from {self.source}; {'permissive' if self.permissive else 'deny'} when no rule decides"
        if not self.permissive and not self.rules.get("register_agents"):
            text += ("; no register_agents rule: EVERY AGENT IS REFUSED (add one, e.g. "
                     '{"principals": {"type": "ANY"}, "agents": {"type": "ANY"}}, or use mesobus auth add-agent --acls)')
        return text


def load_acls(path: str | Path) -> ACLs:
    """Read and check an ACL file; ACLError names the problem."""
    text = read_config_text(path, ACLError)
    try:
        return parse_acls(text, source=str(path))
    except ACLError as err:
        raise ACLError(f"{path}: {err}") from None


def parse_acls(text: str, source: str = "<text>") -> ACLs:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ACLError(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ACLError("must be a JSON object of actions")
    permissive = data.get("permissive", False)
    if not isinstance(permissive, bool):
        raise ACLError(f"permissive must be true or false, not {permissive!r}")
    rules: dict[str, tuple[Rule, ...]] = {}
    for action, entries in data.items():
        if action == "permissive":
            continue
        if action not in OBJECTS:
            raise ACLError(f"unknown action {action!r} (known: {', '.join(OBJECTS)})")
        if not isinstance(entries, list):
            raise ACLError(f"{action} must be a list of rules")
        rules[action] = tuple(_rule(action, i, entry) for i, entry in enumerate(entries))
    return ACLs(permissive=permissive, rules=rules, source=source)


def _rule(action: str, index: int, entry: object) -> Rule:
    where = f"{action}[{index}]"
    if not isinstance(entry, dict):
        raise ACLError(f"{where} must be an object with principals and {OBJECTS[action]}")
    wanted = {"principals", OBJECTS[action]}
    unknown = set(entry) - wanted
    if unknown:
        raise ACLError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} (expected {', '.join(sorted(wanted))})")
    missing = wanted - set(entry)
    if missing:
        raise ACLError(f"{where}: missing {', '.join(sorted(missing))}")
    objects = _entity(f"{where}.{OBJECTS[action]}", entry[OBJECTS[action]])
    if action in IMPLICIT and objects.kind == "SOME":
        raise ACLError(f'{where}.{OBJECTS[action]}: the object is implicit: '
                       'give {"type": "ANY"} or {"type": "NONE"}, not values')
    return Rule(_entity(f"{where}.principals", entry["principals"]), objects)


def _entity(where: str, value: object) -> Entity:
    if not isinstance(value, dict) or not value:
        raise ACLError(f'{where} must be {{"values": [...]}} or {{"type": "ANY"}} / {{"type": "NONE"}}')
    if set(value) - {"values", "type"} or ("values" in value and "type" in value):
        raise ACLError(f'{where}: give either "values" or "type", not {sorted(value)}')
    if "type" in value:
        kind = value["type"]
        if kind not in ("ANY", "NONE"):
            raise ACLError(f'{where}.type must be "ANY" or "NONE", not {kind!r}')
        return Entity(kind)
    values = value["values"]
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ACLError(f"{where}.values must be a list of non-empty strings")
    return Entity("SOME", frozenset(values))
