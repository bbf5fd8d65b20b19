"""A request's JSON body, bounded before it is read whole: what every API of the project
(Mesos', Marathon's, Chronos') accepts the same way.

>>> BadRequest("x").args
('x',)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


class BadRequest(ValueError):
    """400: a request that cannot be taken (each API words its own error body)."""


async def bounded_body(request: Request, limit: int) -> bytes:
    """The body, read only while it stays within `limit` bytes (the Content-Length is
    trusted only to refuse early). Raises BadRequest for a larger one."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"request body larger than {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"request body larger than {limit} bytes")
    return bytes(data)


async def json_body(request: Request, limit: int) -> Any:
    """The body parsed as JSON (empty: None). Raises BadRequest for one over `limit`
    bytes or one that is not JSON."""
    data = await bounded_body(request, limit)
    try:
        return json.loads(data or b"null")
    except ValueError as err:
        raise BadRequest(f"invalid JSON: {err}") from None
    except RecursionError:  # '[[[[...' within the limit: the parser's stack, not ours
        raise BadRequest("invalid JSON: nested too deeply") from None
