"""HTTP basic auth for a framework's API, as Marathon's `--http_credentials user:password`.

>>> parse_credentials("ops:s3cret")
('ops', 's3cret')
>>> parse_credentials("nopassword")
Traceback (most recent call last):
...
ValueError: credentials must be USER:PASSWORD
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

OPEN_PATHS = ("/ping",)  # load balancers' health checks need no password


def parse_credentials(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ValueError("credentials must be USER:PASSWORD")
    return user, password


class BasicAuth:
    """ASGI middleware: 401 with `WWW-Authenticate` unless the request carries the credentials."""

    def __init__(self, app: Any, user: str, password: str, realm: str = "mesobus") -> None:
        self.app, self.realm = app, realm
        self._expected = f"{user}:{password}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        body = b'{"message":"Invalid username or password."}'
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", f'Basic realm="{self.realm}"'.encode())]})
        await send({"type": "http.response.body", "body": body})

    def _allowed(self, scope: dict) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:6].lower() == b"basic ":
                try:
                    given = base64.b64decode(value[6:].strip(), validate=True)
                except (binascii.Error, ValueError):
                    return False
                return hmac.compare_digest(given, self._expected)
        return False
