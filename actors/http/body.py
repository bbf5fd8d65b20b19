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


async def json_body(request: Request, limit: int) -> Any:
    """The body parsed as JSON (empty: None). Raises BadRequest for one over `limit`
    bytes (the Content-Length is trusted only to refuse early) or one that is not JSON."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"request body larger than {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"request body larger than {limit} bytes")
    try:
        return json.loads(bytes(data) or b"null")
    except ValueError as err:
        raise BadRequest(f"invalid JSON: {err}") from None
