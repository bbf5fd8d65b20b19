"""The MESOBUS_* variables an executor process is started with."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.executor import ExecutorEnv, ExecutorEnvError, run_executor
from actors.executor.run import load_executor_class

GOOD = {
    "MESOBUS_BROKER": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "MESOBUS_AGENT_ID": "a1",
    "MESOBUS_FRAMEWORK_ID": "f1",
    "MESOBUS_EXECUTOR_ID": "mesobus-command",
    "MESOBUS_SANDBOX": "/tmp/box",
    "MESOBUS_CHECKPOINT": "1",
}


def test_environment_is_read_into_an_executor_env():
    env = ExecutorEnv.from_environ(GOOD)
    assert (env.address, env.agent_address, env.sandbox, env.checkpoint) == (
        "executor.a1.f1.mesobus-command", "agent.a1", Path("/tmp/box"), True)
    assert env.kill_grace_period == 3.0


@pytest.mark.parametrize("name", ["MESOBUS_BROKER", "MESOBUS_AGENT_ID", "MESOBUS_FRAMEWORK_ID",
                                  "MESOBUS_EXECUTOR_ID", "MESOBUS_SANDBOX"])
def test_missing_variable_is_named(name):
    with pytest.raises(ExecutorEnvError, match=f"^{name} is not set"):
        ExecutorEnv.from_environ({k: v for k, v in GOOD.items() if k != name})


@pytest.mark.parametrize("name, value, words", [
    ("MESOBUS_KILL_GRACE_PERIOD", "soon", "is not a number"),
    ("MESOBUS_EXECUTOR_IDLE_TIMEOUT", "-1", "must be a non-negative number"),
    ("MESOBUS_LIMITS", "docker", "is not one of"),
])
def test_malformed_variable_is_named(name, value, words):
    with pytest.raises(ExecutorEnvError, match=name) as err:
        ExecutorEnv.from_environ({**GOOD, name: value})
    assert words in str(err.value)


def test_executor_refuses_to_start_without_its_environment(capsys):
    from actors.executor import Executor

    assert run_executor(Executor, environ={}) == 2
    assert "MESOBUS_BROKER is not set" in capsys.readouterr().err


def test_executor_refuses_memory_broker(capsys):
    from actors.executor import Executor

    assert run_executor(Executor, environ={**GOOD, "MESOBUS_BROKER": "memory://"}) == 2
    assert "memory:// cannot reach an agent in another process" in capsys.readouterr().err


@pytest.mark.parametrize("spec, words", [
    ("nomodule", "expected module:ClassName"),
    ("no.such.module:X", "No module named"),
    ("actors.executor.base:Nope", "has no attribute"),
    ("messages:Resources", "is not a subclass of actors.Executor"),
])
def test_bad_executor_class_is_refused_with_the_reason(spec, words):
    with pytest.raises(ValueError) as err:
        load_executor_class(spec)
    assert words in str(err.value)
