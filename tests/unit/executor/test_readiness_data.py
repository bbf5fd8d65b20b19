"""The checks in a task's data are read without letting any bytes raise out of the
executor (a RecursionError escaped the old `except ValueError`)."""

from __future__ import annotations

from pathlib import Path

from actors.executor.readiness import checks_in


def test_task_data_nested_too_deeply_has_no_checks():
    assert checks_in(b"[" * 60_000, "readinessChecks", 1) == []
    assert checks_in(b'{"readinessChecks": [{"name": "r"}]}', "readinessChecks", 1) == [{"name": "r"}]


def test_a_check_path_that_would_name_another_host_is_not_requested():
    """`GET http://127.0.0.1:PORT@elsewhere/` is a request to `elsewhere`: such a path from
    a framework's data is refused, by the health and the readiness checks alike."""
    from actors.executor.health import probe
    from actors.executor.readiness import attempt, local_url

    assert local_url("http", 80, "/ok") == "http://127.0.0.1:80/ok"
    for bad in ("@example.com/", "example.com", "//example.com/", "/a b", 5):
        assert local_url("http", 80, bad) is None, bad
    env = {"PORT0": "9"}
    assert attempt({"portIndex": 0, "path": "@example.com/"}, env) is None
    ok, why = probe({"protocol": "HTTP", "portIndex": 0, "path": "@example.com/"}, env, Path("."))
    assert not ok and "not an absolute path" in why
