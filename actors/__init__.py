"""mesobus actors: the runtime, the cluster's actors and the framework API.

>>> from actors import Scheduler, Executor   # what framework authors subclass

Names are imported lazily so that `import actors.allocator` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Scheduler": "actors.scheduler",
    "Executor": "actors.executor",
    "Actor": "actors.runtime",
    "on": "actors.runtime",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'actors' has no attribute {name!r}")
    return getattr(import_module(module), name)
