"""How unacknowledged status updates travel inside `ReregisterExecutor.updates` (bytes).

>>> from messages import StatusUpdate, TaskStatus, TaskState
>>> u = StatusUpdate("f1", "e1", "a1", TaskStatus("t1", TaskState.TASK_RUNNING, uuid="u1"), 1.0, "u1")
>>> decode_update(encode_update(u)) == u
True
"""

from __future__ import annotations

import msgpack

from messages import MessageError, StatusUpdate
from messages.schema import from_plain, to_plain


def encode_update(update: StatusUpdate) -> bytes:
    return msgpack.packb(to_plain(update), use_bin_type=True)


def decode_update(data: bytes) -> StatusUpdate:
    """Raises MessageError when `data` is not an encoded StatusUpdate."""
    try:
        plain = msgpack.unpackb(data, raw=False)
    except Exception as err:  # msgpack raises several unrelated types
        raise MessageError(f"not msgpack: {err}", message="StatusUpdate") from None
    return from_plain(StatusUpdate, plain)
