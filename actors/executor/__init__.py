"""Executors: the `Executor` base class framework authors subclass, the built-in command
executor, and `run_executor`, the entry of an executor process.

>>> from actors.executor import Executor, CommandExecutor, run_executor
"""

from actors.executor.base import Executor
from actors.executor.command import COMMAND_EXECUTOR_ID, CommandExecutor
from actors.executor.environment import ExecutorEnv, ExecutorEnvError
from actors.executor.run import run_executor

__all__ = [
    "COMMAND_EXECUTOR_ID",
    "CommandExecutor",
    "Executor",
    "ExecutorEnv",
    "ExecutorEnvError",
    "run_executor",
]
