"""The entry of an executor process: `run_executor(MyExecutor)` in the program the agent starts.

>>> run_executor(Executor, environ={})
2

It reads the MESOBUS_* variables (see `ExecutorEnv`), connects to the broker, starts the
executor actor and returns (the process's exit status) once the executor has exited.
SIGTERM or SIGINT asks the executor to shut down (kill its tasks, then exit).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from importlib import import_module
from typing import Mapping

from actors.connect import connect_transport, poster, set_library_log_levels
from actors.executor.base import Executor
from actors.executor.environment import ExecutorEnv, ExecutorEnvError
from actors.runtime import IdSource, MemoryTransport
from messages import ShutdownExecutor

log = logging.getLogger(__name__)


def run_executor(cls: type[Executor], environ: Mapping[str, str] | None = None) -> int:
    """Run executor class `cls` until it exits; returns the process exit status."""
    try:
        env = ExecutorEnv.from_environ(os.environ if environ is None else environ)
        transport = connect_transport(env.broker)
    except (ExecutorEnvError, ValueError) as err:
        print(f"mesobus executor: {err}", file=sys.stderr)
        return 2
    if isinstance(transport, MemoryTransport):
        print("mesobus executor: memory:// cannot reach an agent in another process", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        set_library_log_levels()
    ref = cls.start(env, transport)
    post = poster(transport, env.address, IdSource().new_id)

    def ask_to_shut_down(signum: int, frame: object) -> None:
        log.info("%s: signal %d; shutting down", env.address, signum)
        post(ShutdownExecutor(env.framework_id, env.executor_id))

    signal.signal(signal.SIGTERM, ask_to_shut_down)
    signal.signal(signal.SIGINT, ask_to_shut_down)
    while not ref.actor_stopped.wait(0.5):
        pass
    try:
        transport.flush()
    finally:
        transport.close()
    return 0


def load_executor_class(spec: str) -> type[Executor]:
    """`package.module:ClassName` -> the class (an Executor subclass), with clear errors.

    >>> load_executor_class("actors.executor.command:CommandExecutor").__name__
    'CommandExecutor'
    >>> load_executor_class("actors.executor.command")
    Traceback (most recent call last):
    ...
    ValueError: executor class 'actors.executor.command': expected module:ClassName
    """
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ValueError(f"executor class {spec!r}: expected module:ClassName")
    try:
        cls = getattr(import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"executor class {spec!r}: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise ValueError(f"executor class {spec!r} is not a subclass of actors.Executor")
    return cls
