"""App and group ids: Marathon's paths (`/team/web`), relative ids resolved from a base,
a leading or doubled slash accepted.

>>> normalize_id("team//web")
'/team/web'
>>> normalize_id("web", base="/team")
'/team/web'
>>> path_error("/Team/web")
"path segment 'Team' must be lowercase letters, digits, hyphens and dots, starting and ending with a letter or digit"
>>> canonical_id("../db", base="/prod/web")
'/prod/db'
>>> task_prefix("/team/web")
'team_web'
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")
MAX_ID_LENGTH = 200


def normalize_id(raw: str, base: str = "/") -> str:
    text = raw.strip()
    if not text.startswith("/"):
        text = base.rstrip("/") + "/" + text
    parts = [p for p in text.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def canonical_id(raw: str, base: str = "/") -> str:
    """As normalize_id, `..` going up a group (Marathon's relative dependencies)."""
    parts: list[str] = []
    for part in normalize_id(raw, base).strip("/").split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part:
            parts.append(part)
    return "/" + "/".join(parts)


def path_error(path: str) -> str | None:
    """Why `path` (normalized) is not a valid app id, or None."""
    if path == "/":
        return "an app id must name an app, not the root group"
    if len(path) > MAX_ID_LENGTH:
        return f"ids are at most {MAX_ID_LENGTH} characters"
    for part in path.strip("/").split("/"):
        if part == "..":
            return "'..' is not supported in ids"
        if not _SEGMENT.match(part):
            return (f"path segment {part!r} must be lowercase letters, digits, hyphens and dots, "
                    "starting and ending with a letter or digit")
    return None


def parent(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or "/"


def ancestors(path: str) -> list[str]:
    """'/a/b/c' -> ['/', '/a', '/a/b'] (the groups holding an app)."""
    out, current = ["/"], ""
    for part in path.strip("/").split("/")[:-1]:
        current += "/" + part
        out.append(current)
    return out


def task_prefix(app_id: str) -> str:
    """Marathon's task ids start with the app id, '/' turned into '_'."""
    return app_id.strip("/").replace("/", "_")


def app_of_task(task_id: str) -> str:
    return "/" + task_id.rsplit(".", 1)[0].replace("_", "/")
