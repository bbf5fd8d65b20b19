"""`register_agents` on a real broker: the master reads an ACL file that lets one agent
principal in; an agent connected as another broker user (made by `mesobus auth` on a
private vhost) is refused, for the user the broker verified, not for what it claims."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.security.requirements import NEEDS_USERS, transport_stamps_users
from tests.security.test_principals_cluster import auth
from tests.support.cluster_framework import ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = [pytest.mark.broker, pytest.mark.xfail(not transport_stamps_users(), reason=NEEDS_USERS, strict=False)]


@pytest.fixture
def principals(tmp_path):
    tag = os.urandom(3).hex()
    names = {"master": f"rm_{tag}", "agent": f"ra_{tag}", "intruder": f"ri_{tag}"}
    pw = tmp_path / "pw"
    pw.write_text("agents-secret\n")
    with private_vhost("mesobus-register-agents") as guest_url:
        vhost = guest_url.rsplit("/", 1)[1]
        try:
            for kind, name in names.items():
                auth(f"add-{'master' if kind == 'master' else 'agent'}", name, "--vhost", vhost,
                     "--password-file", str(pw))
            yield names, {k: f"amqp://{n}:agents-secret@127.0.0.1:5672/{vhost}" for k, n in names.items()}
        finally:
            for name in names.values():
                subprocess.run(["rabbitmqctl", "-q", "delete_user", name], capture_output=True, timeout=60)


def test_only_an_agent_principal_the_acls_name_may_register(principals, tmp_path):
    names, urls = principals
    acls = tmp_path / "acls.json"
    acls.write_text(json.dumps({"register_agents": [{"principals": {"values": [names["agent"]]},
                                                     "agents": {"type": "ANY"}}]}))
    cluster = ProcessCluster(urls["master"], tmp_path / "cluster")
    try:
        master = cluster.start_master("--acls", str(acls))
        cluster.wait_log(master, "mesobus master: leading")
        agents = {}
        for kind, host in (("intruder", "h2"), ("agent", "h1")):
            agents[kind] = cluster.mesobus(f"agent-{host}", "agent", "--broker", urls[kind], "--work-dir",
                                           str(tmp_path / host), "--resources", "cpus:1;mem:256", "--hostname", host,
                                           "--master-principal", names["master"])
            cluster.wait_log(agents[kind], "Ctrl-C to stop")
        cluster.wait_log(agents["agent"], "registered as")
        cluster.wait_log(master, f"principal '{names['intruder']}' may not register agents (ACL register_agents)")
        assert "registered as" not in agents["intruder"].tail(100_000), cluster.logs()
    finally:
        cluster.stop()
