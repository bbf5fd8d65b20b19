"""HTTP basic auth for a framework's API, as Marathon's `--http_credentials user:password`
(the middleware is the project's one: actors/http/basic_auth.py).

>>> parse_credentials("ops:s3cret")
('ops', 's3cret')
>>> parse_credentials("nopassword")
Traceback (most recent call last):
...
ValueError: credentials must be USER:PASSWORD
"""

from __future__ import annotations

from typing import Any, Mapping

from actors.http.basic_auth import OPEN, REQUIRED, BasicAuth, Credentials

OPEN_PATHS = ("/ping",)  # load balancers' health checks need no password


def parse_credentials(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ValueError("credentials must be USER:PASSWORD")
    return user, password


def _policy(scope: Mapping[str, Any]) -> str:
    return OPEN if scope["path"] in OPEN_PATHS else REQUIRED


def framework_auth(app: Any, user: str, password: str, realm: str = "mesobus") -> BasicAuth:
    """`app` behind a 401 unless the request carries `user:password` (/ping stays open)."""
    return BasicAuth(app, Credentials({user: password}), _policy, realm)
