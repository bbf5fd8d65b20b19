"""The master's HTTP API knows the broker's principals: `mesobus auth ... --http-credentials
FILE` writes a principal with its password, `mesobus master --http-credentials FILE`
(on a private vhost of the real broker) refuses requests without it (401) and answers the
operator commands that give it."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import sys

import httpx
import pytest

from actors.cli.auth import write_http_credentials
from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


def mesobus(*words: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actors.cli.main", *words], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120, cwd=ROOT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_credentials_file_entries_are_set_replaced_and_taken_out(tmp_path):
    path = tmp_path / "http.json"
    write_http_credentials(path, "ops", "one")
    write_http_credentials(path, "dev", "two")
    write_http_credentials(path, "ops", "three")
    assert json.loads(path.read_text())["credentials"] == [{"principal": "dev", "secret": "two"},
                                                           {"principal": "ops", "secret": "three"}]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_http_credentials(path, "dev", None)
    assert [e["principal"] for e in json.loads(path.read_text())["credentials"]] == ["ops"]
    path.write_text("{not json")
    with pytest.raises(ValueError):
        write_http_credentials(path, "ops", "x")


def test_a_master_with_http_credentials_serves_only_its_principals(tmp_path):
    tag = os.urandom(3).hex()
    ops = f"hops_{tag}"
    creds, pw = tmp_path / "http.json", tmp_path / "pw"
    pw.write_text("http-secret\n")
    port = _free_port()
    with private_vhost("mesobus-http") as guest_url:
        vhost = guest_url.rsplit("/", 1)[1]
        cluster = ProcessCluster(guest_url, tmp_path / "cluster")
        try:
            done = mesobus("auth", "add-framework", ops, "--vhost", vhost, "--password-file", str(pw),
                           "--http-credentials", str(creds))
            assert done.returncode == 0, done.stderr
            master = cluster.start_master("--http", f"127.0.0.1:{port}", "--http-credentials", str(creds),
                                          "--no-journal")
            cluster.wait_log(master, "mesobus master: leading")
            assert "HTTP: 1 principals; authentication required for every request" in master.tail(100_000)
            url = f"http://127.0.0.1:{port}"

            refused = httpx.get(f"{url}/master/state", timeout=10)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Basic realm="mesobus"'
            token = base64.b64encode(f"{ops}:http-secret".encode()).decode()
            state = httpx.get(f"{url}/master/state", headers={"Authorization": f"Basic {token}"}, timeout=10)
            assert state.status_code == 200 and state.json()["activated_slaves"] == 0
            assert httpx.get(f"{url}/health", timeout=10).status_code == 200

            anonymous = mesobus("agents", "--master", url, env={"MESOBUS_PRINCIPAL": "", "MESOBUS_SECRET": ""})
            assert anonymous.returncode == 1 and "asks for a principal" in anonymous.stderr
            assert "Traceback" not in anonymous.stderr
            done = mesobus("weights", "--master", url, "dev=2",
                           env={"MESOBUS_PRINCIPAL": ops, "MESOBUS_SECRET": "http-secret"})
            assert done.returncode == 0, done.stderr
            assert "dev" in mesobus("weights", "--master", url.replace("http://", f"http://{ops}:http-secret@")).stdout
        finally:
            cluster.stop()
            subprocess.run(["rabbitmqctl", "-q", "delete_user", ops], capture_output=True, timeout=60)
