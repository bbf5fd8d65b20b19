"""How a process learns that one of its actors died.

The runtime catches whatever a message or a handler throws, so an actor should never
stop by itself; if one does anyway (a bug in the runtime, an exception pykka caught), its
process must not live on as a shell that consumes nothing: it should exit non-zero so
that its supervisor restarts it. Every actor death is reported here.

>>> deaths = ActorDeaths()
>>> seen = []
>>> deaths.subscribe(lambda address, error: seen.append((address, error)))
>>> deaths.report("master", RuntimeError("boom"))
>>> seen, deaths.first
([('master', 'RuntimeError: boom')], ('master', 'RuntimeError: boom'))
>>> deaths.wait(0)
('master', 'RuntimeError: boom')

A CLI waits on `actor_deaths.wait(...)` (or subscribes a callback) beside its other
reasons to stop, and exits 1 naming the actor.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from actors.runtime.bounded import describe

log = logging.getLogger(__name__)

Listener = Callable[[str, str], None]  # (actor address, "Type: message")


class ActorDeaths:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._listeners: list[Listener] = []
        self.first: tuple[str, str] | None = None

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(address, error)` on every death from now on (on the dying
        actor's thread: it must not block)."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def report(self, address: str, error: BaseException | str) -> None:
        """An actor stopped without being asked to."""
        text = error if isinstance(error, str) else describe(error)
        log.critical("mesobus: actor %s stopped: %s", address, text)
        with self._lock:
            if self.first is None:
                self.first = (address, text)
            listeners = list(self._listeners)
        self._event.set()
        for listener in listeners:
            try:
                listener(address, text)
            except Exception:  # noqa: BLE001  a listener must not hide the death
                log.exception("actor death listener failed")

    def wait(self, timeout: float | None = None) -> tuple[str, str] | None:
        """The first death (address, error) once one happened; None after `timeout`."""
        self._event.wait(timeout)
        return self.first

    def reset(self) -> None:
        """Forget past deaths (tests)."""
        with self._lock:
            self.first = None
            self._event.clear()


actor_deaths = ActorDeaths()  # the process's one registry
