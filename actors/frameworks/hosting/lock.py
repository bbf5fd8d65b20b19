"""Which process of a named framework leads: the master's leader lock, per framework.

>>> framework_lock("memory://", "services", "me") is None   # embedded: alone by construction
True

On a broker it is rabbitmq/framework_lock.py (an exclusive queue per framework name):
`acquire(stop, on_standby)` blocks while another process leads; `lost` is set when the
held lock goes (the process must stop leading at once); `close()` gives it up.
"""

from __future__ import annotations

import threading
from typing import Callable, Protocol


class FrameworkLock(Protocol):
    lost: threading.Event

    def acquire(self, stop: threading.Event, on_standby: Callable[[str], None] = ...) -> bool: ...

    def close(self) -> None: ...


def framework_lock(url: str, name: str, holder: str, *, retry: float = 1.0) -> FrameworkLock | None:
    """The lock for framework `name` on the broker at `url`; None for `memory://` or no URL."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in ("amqp", "amqps"):
        return None
    from rabbitmq.framework_lock import framework_lock as on_broker  # lazily: no pika in actors/

    return on_broker(url, name, holder, retry=retry)
