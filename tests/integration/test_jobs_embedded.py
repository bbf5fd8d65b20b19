"""`mesobus jobs` alone (an embedded cluster), driven with chronos-python: a job every
2 s runs, a child after its parent, a failing job counted once after its retries,
run-now, kill, the graph and stats; errors as Chronos' {"message", "status"}; jobs and
counts kept in the state file across a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import chronos
import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jobs(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "actors.cli.main", "jobs", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(url + "/v1/scheduler/jobs", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the jobs API did not come up")


def _until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout} s")


def _job(name: str, **fields) -> dict:
    return {"name": name, "command": f"echo {name}", "owner": "", "disabled": False, **fields}


def test_bad_options_are_one_line() -> None:
    for args, text in ((["--http", "4400"], "expected HOST:PORT"), (["--epsilon", "soon"], "--epsilon")):
        proc = _jobs(*args)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and text in err and len(err.strip().splitlines()) == 1, err


def test_chronos_client_drives_jobs_and_they_survive_a_restart(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("--http", f"127.0.0.1:{port}", "--agents", "2", "--state-dir", str(tmp_path))
    proc = _jobs(*args)
    try:
        _wait(url, proc)
        client = chronos.connect(f"127.0.0.1:{port}")
        client.add(_job("tick", schedule="R//PT2S"))
        client.add(_job("child", parents=["tick"]))
        client.add(_job("broken", command="exit 3", schedule="R1//PT1H", retries=1))
        client.add(_job("manual", schedule="R0//PT1H", shell=False, command="/bin/echo", arguments=["x"]))
        by_name = lambda: {j["name"]: j for j in client.list()}  # noqa: E731
        _until(lambda: by_name()["tick"]["successCount"] >= 2 and by_name()["child"]["successCount"] >= 1)
        broken = _until(lambda: by_name()["broken"] if by_name()["broken"]["errorCount"] else None)
        assert (broken["errorCount"], broken["errorsSinceLastSuccess"], broken["successCount"]) == (1, 1, 0)
        assert broken["lastError"].endswith("Z") and broken["retries"] == 1
        client.run("manual")
        _until(lambda: by_name()["manual"]["successCount"] == 1)
        assert client.job_stat("tick")["histogram"]["count"] >= 2
        assert "link,tick,child" in client.scheduler_graph()
        assert any(row["jobNameLabel"] == "tick" for row in client.scheduler_stat_99th())
        assert [j["name"] for j in client.search(name="chi")] == ["child"]
        summary = httpx.get(url + "/v1/scheduler/jobs/summary", timeout=10).json()["jobs"]
        assert {j["name"] for j in summary} == {"tick", "child", "broken", "manual"}
        bad = httpx.post(url + "/v1/scheduler/iso8601", json=_job("a b", schedule="R//PT1S"), timeout=10)
        assert bad.status_code == 400 and set(bad.json()) == {"message", "status"}
        cycle = httpx.post(url + "/v1/scheduler/dependency", json=_job("tick", parents=["child"]), timeout=10)
        assert cycle.status_code == 400 and "cycle" in cycle.json()["message"]
        assert httpx.get(url + "/v1/scheduler/job/nope", timeout=10).status_code == 404
        assert "digraph" in httpx.get(url + "/v1/scheduler/graph/dot", timeout=10).text
        assert "tick" in httpx.get(url + "/", timeout=10).text
        client.delete("manual")
        counts = by_name()["tick"]["successCount"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # 128 + SIGTERM, as every command
    proc = _jobs(*args)
    try:
        _wait(url, proc)
        client = chronos.connect(f"127.0.0.1:{port}")
        jobs = {j["name"]: j for j in client.list()}
        assert set(jobs) == {"tick", "child", "broken"}
        assert jobs["tick"]["successCount"] >= counts and jobs["broken"]["errorCount"] == 1
        _until(lambda: {j["name"]: j for j in client.list()}["tick"]["successCount"] > counts)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_http_credentials_are_required_when_set(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _jobs("--http", f"127.0.0.1:{port}", "--agents", "1", "--state-dir", str(tmp_path),
                 "--http-credentials", "ops:secret")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1] if proc.poll() else ""
            try:
                if httpx.get(url + "/v1/scheduler/jobs", auth=("ops", "secret"), timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert httpx.get(url + "/v1/scheduler/jobs", timeout=10).status_code == 401
        assert httpx.get(url + "/v1/scheduler/jobs", auth=("ops", "wrong"), timeout=10).status_code == 401
        client = chronos.connect(f"127.0.0.1:{port}", username="ops", password="secret")
        client.add(_job("guarded", schedule="R//PT1H"))
        assert [j["name"] for j in client.list()] == ["guarded"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_a_job_runs_with_its_fetched_archive_unpacked(tmp_path: Path) -> None:
    import tarfile

    from tests.support.file_server import FileServer

    files = tmp_path / "files"
    (files / "data").mkdir(parents=True)
    (files / "data" / "rows.csv").write_text("a,b\n1,2\n")
    with tarfile.open(files / "data.tgz", "w:gz") as tar:
        tar.add(files / "data" / "rows.csv", arcname="data/rows.csv")
    seen = tmp_path / "seen.csv"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _jobs("--http", f"127.0.0.1:{port}", "--agents", "1", "--state-dir", str(tmp_path / "state"))
    try:
        with FileServer(files) as server:
            _wait(url, proc)
            job = _job("load", command=f"cp data/rows.csv {seen}", schedule="R1//PT1H",
                       fetch=[{"uri": server.url("data.tgz"), "extract": True, "executable": False, "cache": False}])
            assert httpx.post(url + "/v1/scheduler/iso8601", json=job, timeout=30).status_code == 204
            _until(lambda: httpx.get(url + "/v1/scheduler/job/load", timeout=30).json()["successCount"] == 1)
        assert seen.read_text() == "a,b\n1,2\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_jobs_acknowledged_before_a_sigkill_are_there_after_a_restart(tmp_path: Path) -> None:
    """Creates answered 204 by concurrent clients (group commit: they share fsyncs) are on
    disk: a SIGKILL right after the last answer loses none of them."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("--http", f"127.0.0.1:{port}", "--agents", "1", "--state-dir", str(tmp_path))
    proc = _jobs(*args)
    try:
        _wait(url, proc)

        def create(i: int) -> int:
            job = _job(f"kept-{i}", schedule="R/2099-01-01T00:00:00Z/PT1H")
            return httpx.post(url + "/v1/scheduler/iso8601", json=job, timeout=30).status_code

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(create, range(200)))
        assert answers == [204] * 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    proc = _jobs(*args)
    try:
        _wait(url, proc)
        names = {j["name"] for j in httpx.get(url + "/v1/scheduler/jobs", timeout=30).json()}
        assert names == {f"kept-{i}" for i in range(200)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
