"""`mesobus services` alone (an embedded cluster): its one-line errors, and apps kept in
its state file across a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _services(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "actors.cli.main", "services", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(url + "/v2/info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the services API did not come up")


def test_bad_options_and_a_taken_port_are_one_line_each() -> None:
    for args, code, text in ((["--http", "8080"], 2, "expected HOST:PORT"),
                             (["--name", "a/b"], 2, "--name 'a/b'")):
        proc = _services(*args)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code and text in err and len(err.strip().splitlines()) == 1, err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = _services("--http", f"127.0.0.1:{taken.getsockname()[1]}")
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "cannot listen" in err and len(err.strip().splitlines()) == 1, err


def test_apps_are_kept_in_the_state_file_across_a_restart(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("--http", f"127.0.0.1:{port}", "--agents", "1", "--state-dir", str(tmp_path))
    proc = _services(*args)
    try:
        _wait(url, proc)
        created = httpx.post(url + "/v2/apps", json={"id": "/keep", "cmd": "sleep 600", "cpus": 0.1, "mem": 16},
                             timeout=30)
        assert created.status_code == 201
        version = created.json()["version"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # 128 + SIGTERM, as every command
    assert "SIGTERM: stopping (the embedded cluster and its tasks end too)" in err
    assert (tmp_path / "services.state").exists()
    proc = _services(*args)
    try:
        _wait(url, proc)
        app = httpx.get(url + "/v2/apps/keep", timeout=30).json()["app"]
        assert app["version"] == version
        deadline = time.monotonic() + 30
        while app["tasksRunning"] != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            app = httpx.get(url + "/v2/apps/keep", timeout=30).json()["app"]
        assert app["tasksRunning"] == 1, httpx.get(url + "/v2/apps/keep", timeout=30).json()  # relaunched: an embedded cluster's tasks end with its process
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_basic_auth_when_credentials_are_set(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env_args = ("--http", f"127.0.0.1:{port}", "--agents", "1", "--state-dir", str(tmp_path),
                "--http-credentials", "ops:s3cret")
    proc = _services(*env_args)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1] if proc.poll() else ""
            try:
                if httpx.get(url + "/v2/info", auth=("ops", "s3cret"), timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        refused = httpx.get(url + "/v2/apps", timeout=10)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(url + "/v2/apps", auth=("ops", "wrong"), timeout=10).status_code == 401
        assert httpx.get(url + "/ping", timeout=10).text == "pong"
        import marathon

        assert marathon.MarathonClient(url, username="ops", password="s3cret").list_apps() == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_an_app_runs_with_its_fetched_files_and_a_docker_app_fails_saying_why(tmp_path: Path) -> None:
    from tests.support.file_server import FileServer

    files = tmp_path / "files"
    files.mkdir()
    (files / "greeting.txt").write_text("hello from http\n")
    seen = tmp_path / "seen.txt"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _services("--http", f"127.0.0.1:{port}", "--agents", "1", "--state-dir", str(tmp_path / "state"))
    try:
        with FileServer(files) as server:
            _wait(url, proc)
            app = {"id": "/fetched", "cmd": f"cp config/greeting.txt {seen} && sleep 600", "cpus": 0.1, "mem": 16,
                   "fetch": [{"uri": server.url("greeting.txt"), "destPath": "config/greeting.txt"}]}
            assert httpx.post(url + "/v2/apps", json=app, timeout=30).status_code == 201
            docker = {"id": "/docker", "container": {"type": "DOCKER", "docker": {"image": "nginx"}},
                      "cpus": 0.1, "mem": 16}
            assert httpx.post(url + "/v2/apps", json=docker, timeout=30).status_code == 201
            deadline = time.monotonic() + 60
            while not seen.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
        assert seen.read_text() == "hello from http\n"
        failure = {}
        while not failure and time.monotonic() < deadline:
            failure = httpx.get(url + "/v2/apps/docker?embed=app.lastTaskFailure", timeout=30).json()["app"].get(
                "lastTaskFailure") or {}
            time.sleep(0.2)
        assert failure["state"] == "TASK_FAILED" and "has no docker containerizer" in failure["message"], failure
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
