"""Groups: apps nested under a path, created, scaled (`scaleBy`) and removed together, in
one deployment. A group is not stored by itself: it is the apps whose ids it prefixes.

>>> flatten({"id": "/prod", "apps": [{"id": "web"}], "groups": [{"id": "db", "apps": [{"id": "pg"}]}]})
[{'id': '/prod/web'}, {'id': '/prod/db/pg'}]
"""

from __future__ import annotations

from typing import Any

from actors.frameworks.services.appdef import AppInvalid, normalize
from actors.frameworks.services.errors import BadRequest, Conflict, NotFound
from actors.frameworks.services.model import AppRecord, Deployment
from actors.frameworks.services.paths import normalize_id

MAX_GROUP_APPS = 10_000


def flatten(group: Any, base: str = "/") -> list[dict[str, Any]]:
    """The apps of a group definition (and its subgroups), with absolute ids."""
    if not isinstance(group, dict):
        raise BadRequest("a group is a JSON object")
    gid = normalize_id(str(group.get("id") or base), base)
    out: list[dict[str, Any]] = []
    for app in group.get("apps") or []:
        if not isinstance(app, dict) or not isinstance(app.get("id"), str):
            raise AppInvalid([{"path": "/apps", "errors": ["each app needs an id"]}])
        out.append(dict(app, id=normalize_id(app["id"], gid)))
    for sub in group.get("groups") or []:
        out += flatten(sub, gid)
    if len(out) > MAX_GROUP_APPS:
        raise BadRequest(f"a group of more than {MAX_GROUP_APPS} apps")
    return out


def in_group(app_id: str, group_id: str) -> bool:
    return group_id == "/" or app_id.startswith(group_id.rstrip("/") + "/")


def put_group(services: Any, body: Any, *, group_id: str | None, force: bool) -> Deployment | None:
    """Create or change the apps of a group (or scale them all by `scaleBy`) at once."""
    if isinstance(body, dict) and "scaleBy" in body:
        factor = body["scaleBy"]
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
            raise BadRequest("scaleBy must be a number >= 0")
        gid = normalize_id(group_id or "/")
        apps = [a for a in services.apps.values() if in_group(a.id, gid)]
        if not apps:
            raise NotFound(f"Group '{gid}' does not exist")
        changes = [({"instances": int(round(a.definition["instances"] * factor))}, a.id) for a in apps]
    else:
        if group_id is not None and isinstance(body, dict):
            body = dict(body, id=body.get("id") or group_id)
        changes = [(app, None) for app in flatten(body)]
    targets, originals = {}, {}
    prepared = []
    for raw, app_id in changes:
        key = app_id or raw["id"]
        existing = services.apps.get(key)
        definition = normalize(raw, app_id=app_id, previous=existing.definition if existing else None)
        services._check_unlocked(definition["id"], force)
        prepared.append((existing, definition))
    services.check_dependencies([definition for _, definition in prepared])
    for existing, definition in prepared:
        if definition["id"] in services.stopping:
            raise Conflict(f"App '{definition['id']}' is being removed", services._deployments_of(definition["id"]))
        services._stamp(definition, existing.definition if existing else None)
        record = existing or AppRecord(definition)
        record.definition = definition
        services.apps[definition["id"]] = record
        services._save_app(record, new_version=True)
        targets[definition["id"]] = definition
        originals[definition["id"]] = existing.definition if existing else None
    if not targets:
        return None
    return services._deploy(targets, originals, restart=False)


def delete_group(services: Any, group_id: str, *, force: bool) -> Deployment:
    gid = normalize_id(group_id)
    ids = [a for a in services.apps if in_group(a, gid)]
    if not ids:
        raise NotFound(f"Group '{gid}' does not exist")
    for app_id in ids:
        services._check_unlocked(app_id, force)
    return services.remove_apps(ids)
