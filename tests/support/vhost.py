"""A private virtual host on the shared broker, for tests that run whole clusters.

Every cluster on a broker uses the same addresses (`master`, `allocator`, ...), so a test
cluster gets its own vhost: nothing it sends can reach another cluster, and deleting the
vhost afterwards removes every queue it made. The broker's own configuration is not
touched.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def private_vhost(prefix: str = "mesobus-test") -> Iterator[str]:
    """Yields an amqp:// URL for a fresh vhost (guest has full rights), then deletes it."""
    name = f"{prefix}-{os.getpid()}-{os.urandom(3).hex()}"
    _ctl("add_vhost", name)
    try:
        _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{quote(name, safe='')}"
    finally:
        _ctl("delete_vhost", name)
