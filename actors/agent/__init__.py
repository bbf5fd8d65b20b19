"""The agent: runs tasks on one host for the master, through executors.

>>> from actors.agent import Agent, AgentConfig, start_agent

Names are imported lazily so that the small modules (`sandbox`, `state`, `config`) can be
used by executors without loading the whole agent.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Agent": "actors.agent.actor",
    "start_agent": "actors.agent.actor",
    "make_launcher": "actors.agent.actor",
    "AgentConfig": "actors.agent.config",
    "ConfigError": "actors.agent.config",
    "parse_attributes": "actors.agent.config",
    "parse_resources": "actors.agent.config",
    "CheckpointError": "actors.agent.checkpoint",
    "InProcessLauncher": "actors.agent.launcher",
    "NoopLauncher": "actors.agent.launcher",
    "ProcessLauncher": "actors.agent.launcher",
    "StatusUpdateManager": "actors.agent.status_updates",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'actors.agent' has no attribute {name!r}")
    return getattr(import_module(module), name)
