"""What an executor process learns from the agent: the MESOBUS_* environment variables.

>>> env = ExecutorEnv(broker="amqp://h/", agent_id="a1", framework_id="f1",
...                   executor_id="mesobus-command", sandbox=Path("/tmp/s"))
>>> env.address, env.agent_address
('executor.a1.f1.mesobus-command', 'agent.a1')
>>> ExecutorEnv.from_environ(env.to_environ()) == env
True
>>> ExecutorEnv.from_environ({})
Traceback (most recent call last):
...
actors.executor.environment.ExecutorEnvError: MESOBUS_BROKER is not set (executors are started by an agent, which sets it)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from actors.fetcher.config import DEFAULT_CACHE_SIZE, DEFAULT_MAX_SIZE, DEFAULT_TIMEOUT, FetcherConfig
from messages.addresses import agent_address, executor_address

LIMIT_MODES = ("auto", "cgroups", "rlimits", "none")
DEFAULT_RECOVERY_TIMEOUT = 120.0  # Mesos: 15 min, far too long for tasks whose agent is gone


class ExecutorEnvError(ValueError):
    """A MESOBUS_* variable is missing or malformed; the text names it."""


@dataclass(frozen=True)
class ExecutorEnv:
    broker: str
    agent_id: str
    framework_id: str
    executor_id: str
    sandbox: Path
    checkpoint: bool = False
    kill_grace_period: float = 3.0  # for tasks that do not set their own
    idle_timeout: float = 60.0  # exit when idle this long (a guard: the agent decides first)
    # No word from the agent this long (it does not answer PingAgent either): it is gone;
    # end the tasks and exit (Mesos' MESOS_RECOVERY_TIMEOUT; 2 min here, 15 in Mesos). 0: never give up.
    recovery_timeout: float = DEFAULT_RECOVERY_TIMEOUT
    limits: str = "auto"  # how task resources are enforced
    root_tasks: bool = True  # tasks may run as root (the agent's --root-tasks)
    # The fetcher (the agent's --fetcher-* flags); no cache dir: no cache.
    fetcher_max_size: int = DEFAULT_MAX_SIZE
    fetcher_timeout: float = DEFAULT_TIMEOUT
    fetcher_cache_dir: Path | None = None
    fetcher_cache_size: int = DEFAULT_CACHE_SIZE

    @property
    def address(self) -> str:
        return executor_address(self.agent_id, self.framework_id, self.executor_id)

    @property
    def agent_address(self) -> str:
        return agent_address(self.agent_id)

    def to_environ(self) -> dict[str, str]:
        return {
            "MESOBUS_BROKER": self.broker,
            "MESOBUS_AGENT_ID": self.agent_id,
            "MESOBUS_FRAMEWORK_ID": self.framework_id,
            "MESOBUS_EXECUTOR_ID": self.executor_id,
            "MESOBUS_SANDBOX": str(self.sandbox),
            "MESOBUS_CHECKPOINT": "1" if self.checkpoint else "0",
            "MESOBUS_KILL_GRACE_PERIOD": repr(float(self.kill_grace_period)),
            "MESOBUS_EXECUTOR_IDLE_TIMEOUT": repr(float(self.idle_timeout)),
            "MESOBUS_RECOVERY_TIMEOUT": repr(float(self.recovery_timeout)),
            "MESOBUS_LIMITS": self.limits,
            "MESOBUS_ROOT_TASKS": "1" if self.root_tasks else "0",
            "MESOBUS_FETCHER_MAX_SIZE": str(self.fetcher_max_size),
            "MESOBUS_FETCHER_TIMEOUT": repr(float(self.fetcher_timeout)),
            "MESOBUS_FETCHER_CACHE_DIR": str(self.fetcher_cache_dir or ""),
            "MESOBUS_FETCHER_CACHE_SIZE": str(self.fetcher_cache_size),
        }

    @property
    def fetcher(self) -> FetcherConfig:
        return FetcherConfig(
            max_size=self.fetcher_max_size,
            timeout=self.fetcher_timeout,
            cache_dir=self.fetcher_cache_dir,
            cache_size=self.fetcher_cache_size,
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ExecutorEnv":
        def need(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise ExecutorEnvError(f"{name} is not set (executors are started by an agent, which sets it)")
            return value

        def number(name: str, default: float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ExecutorEnvError(f"{name}={raw!r} is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise ExecutorEnvError(f"{name}={raw!r} must be a non-negative number")
            return value

        def size(name: str, default: int) -> int:
            value = float(number(name, default))
            if not value.is_integer() or (name == "MESOBUS_FETCHER_MAX_SIZE" and value == 0):
                raise ExecutorEnvError(f"{name}={environ.get(name)!r} must be a whole, positive number of bytes")
            return int(value)

        timeout = number("MESOBUS_FETCHER_TIMEOUT", DEFAULT_TIMEOUT)
        if timeout == 0:
            raise ExecutorEnvError("MESOBUS_FETCHER_TIMEOUT must be more than 0 seconds")
        cache_dir = environ.get("MESOBUS_FETCHER_CACHE_DIR", "").strip()
        limits = environ.get("MESOBUS_LIMITS", "auto").strip() or "auto"
        if limits not in LIMIT_MODES:
            raise ExecutorEnvError(f"MESOBUS_LIMITS={limits!r} is not one of {', '.join(LIMIT_MODES)}")
        secret = environ.get("MESOBUS_BROKER_FILE", "").strip()
        return cls(
            broker=read_broker_file(Path(secret)) if secret else need("MESOBUS_BROKER"),
            agent_id=need("MESOBUS_AGENT_ID"),
            framework_id=need("MESOBUS_FRAMEWORK_ID"),
            executor_id=need("MESOBUS_EXECUTOR_ID"),
            sandbox=Path(need("MESOBUS_SANDBOX")),
            checkpoint=environ.get("MESOBUS_CHECKPOINT", "0").strip() in ("1", "true", "yes"),
            kill_grace_period=number("MESOBUS_KILL_GRACE_PERIOD", 3.0),
            idle_timeout=number("MESOBUS_EXECUTOR_IDLE_TIMEOUT", 60.0),
            recovery_timeout=number("MESOBUS_RECOVERY_TIMEOUT", DEFAULT_RECOVERY_TIMEOUT),
            limits=limits,
            root_tasks=environ.get("MESOBUS_ROOT_TASKS", "1").strip() in ("1", "true", "yes"),
            fetcher_max_size=size("MESOBUS_FETCHER_MAX_SIZE", DEFAULT_MAX_SIZE),
            fetcher_timeout=timeout,
            fetcher_cache_dir=Path(cache_dir) if cache_dir else None,
            fetcher_cache_size=size("MESOBUS_FETCHER_CACHE_SIZE", DEFAULT_CACHE_SIZE),
        )


def write_broker_file(path: Path, url: str) -> None:
    """Write the broker URL (it holds the password) for one executor: readable by the
    owner only, so that it never sits in an environment another process can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, url.encode())
    finally:
        os.close(fd)


def read_broker_file(path: Path) -> str:
    """Read the broker URL the agent left, and remove the file (nothing else needs it)."""
    try:
        url = path.read_text().strip()
    except OSError as err:
        raise ExecutorEnvError(f"MESOBUS_BROKER_FILE: cannot read {path}: {err.strerror}") from None
    try:
        path.unlink()
    except OSError:
        pass
    if not url:
        raise ExecutorEnvError(f"MESOBUS_BROKER_FILE: {path} is empty")
    return url
