"""What built-in frameworks (services, jobs) share: the framework process's leader lock,
its persisted state, and a runner that hosts a Scheduler subclass with its HTTP API.

>>> from actors.frameworks.hosting import MemoryStore
>>> store = MemoryStore()
>>> store.put("k", [1, 2])
>>> store.load()
{'k': [1, 2]}

See runner.py for the process (`host_framework`), store.py for the state, lock.py for
leadership.
"""

from actors.frameworks.hosting.lock import FrameworkLock, framework_lock
from actors.frameworks.hosting.runner import (
    FRAMEWORK_ID_KEY,
    LEADER_KEY,
    Hosted,
    Running,
    default_state_dir,
    host_framework,
    start_hosted,
)
from actors.frameworks.hosting.store import FileStore, MemoryStore, StateStore, StoreError, open_store
from actors.frameworks.hosting.switch import SwitchApp

__all__ = [
    "FRAMEWORK_ID_KEY",
    "LEADER_KEY",
    "FileStore",
    "FrameworkLock",
    "Hosted",
    "MemoryStore",
    "Running",
    "StateStore",
    "StoreError",
    "SwitchApp",
    "default_state_dir",
    "framework_lock",
    "host_framework",
    "open_store",
    "start_hosted",
]
