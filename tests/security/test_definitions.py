"""deploy/rabbitmq/definitions.json shows the same permissions `mesobus auth` grants."""

from __future__ import annotations

import json
from pathlib import Path

from actors.security.permissions import GRANTS

DEFINITIONS = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "definitions.json"
EXAMPLES = {"mesos_master": "master", "agents_rack1": "agent", "analytics": "framework"}


def test_the_example_principals_have_the_permissions_mesobus_auth_grants():
    data = json.loads(DEFINITIONS.read_text())
    assert {u["name"] for u in data["users"]} == set(EXAMPLES)
    assert all(u["password_hash"] == "" for u in data["users"])  # no password shipped
    for entry in data["permissions"]:
        grant = GRANTS[EXAMPLES[entry["user"]]](entry["user"])
        assert (entry["configure"], entry["write"], entry["read"]) == (grant.configure, grant.write, grant.read)
    for entry in data["topic_permissions"]:
        grant = GRANTS[EXAMPLES[entry["user"]]](entry["user"])
        assert entry["exchange"] == "mesobus"
        assert (entry["write"], entry["read"]) == (grant.topic_write, grant.topic_read)
