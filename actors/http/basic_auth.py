"""HTTP Basic authentication for every API of the project: the master's (principals from a
Mesos-style `--http-credentials` file) and the built-in frameworks' (one user, as
Marathon's `--http_credentials user:password`).

>>> creds = parse_credentials_json('{"credentials": [{"principal": "ops", "secret": "s3cret"}]}')
>>> creds.check("ops", "s3cret"), creds.check("ops", "guess"), creds.check("nobody", "s3cret")
(True, False, False)
>>> parse_credentials_json('{"credentials": [{"principal": "ops"}]}')
Traceback (most recent call last):
...
actors.http.basic_auth.CredentialsError: credentials[0]: expected {"principal": TEXT, "secret": TEXT}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, Callable, Mapping

from actors.config_text import read_config_text

PRINCIPAL_KEY = "mesobus.principal"  # where the middleware leaves the authenticated principal in the scope
MAX_HEADER_BYTES = 4096  # a longer Authorization header is refused before decoding


class CredentialsError(ValueError):
    """A credentials file that is not what it must be (the text says where and what)."""


class Credentials:
    """principal -> secret, compared in constant time (also for principals it does not know)."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        # Digests of equal length: compare_digest then takes the same time whatever was sent.
        self._digests = {p: _digest(s) for p, s in secrets.items()}
        self._nobody = _digest("\0no such principal")

    def __len__(self) -> int:
        return len(self._digests)

    def __contains__(self, principal: str) -> bool:
        return principal in self._digests

    def check(self, principal: str, secret: str) -> bool:
        expected = self._digests.get(principal)
        same = hmac.compare_digest(_digest(secret), expected if expected is not None else self._nobody)
        return same and expected is not None

    def authenticate(self, header: bytes | None) -> str | None:
        """The principal of an `Authorization: Basic ...` header value, or None when it is
        missing, malformed or wrong."""
        if header is None or len(header) > MAX_HEADER_BYTES or header[:6].lower() != b"basic ":
            return None
        try:
            text = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        principal, sep, secret = text.partition(":")
        return principal if sep and self.check(principal, secret) else None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def parse_credentials_json(text: str) -> Credentials:
    """Mesos' credentials format: {"credentials": [{"principal": P, "secret": S}, ...]}."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise CredentialsError(f"not JSON: {err}") from None
    entries = data.get("credentials") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CredentialsError('expected {"credentials": [{"principal": ..., "secret": ...}, ...]}')
    secrets: dict[str, str] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry.get(k) for k in
                                                  ("principal", "secret")):
            raise CredentialsError(f'credentials[{i}]: expected {{"principal": TEXT, "secret": TEXT}}')
        if ":" in entry["principal"]:
            raise CredentialsError(f"credentials[{i}]: a principal cannot contain ':' (HTTP Basic splits on it)")
        if entry["principal"] in secrets:
            raise CredentialsError(f"credentials[{i}]: principal {entry['principal']!r} is given twice")
        secrets[entry["principal"]] = entry["secret"]
    return Credentials(secrets)


def load_credentials(path: str | Path) -> Credentials:
    """Read a credentials file; CredentialsError names the file and the problem."""
    text = read_config_text(path, CredentialsError)
    try:
        return parse_credentials_json(text)
    except CredentialsError as err:
        raise CredentialsError(f"{path}: {err}") from None


def principal_of(scope: Mapping[str, Any]) -> str | None:
    """The principal the middleware authenticated for this request (None: anonymous)."""
    return scope.get(PRINCIPAL_KEY)


OPEN, OPTIONAL, REQUIRED = "open", "optional", "required"  # what a Policy says of a request


Policy = Callable[[Mapping[str, Any]], str]  # scope -> OPEN | OPTIONAL | REQUIRED


class BasicAuth:
    """ASGI middleware. `policy(scope)` says what a request needs: OPEN (credentials not
    even looked at, e.g. health checks), OPTIONAL (checked when given: wrong ones are a 401;
    none is anonymous) or REQUIRED (none is a 401 too). A 401 carries `WWW-Authenticate:
    Basic realm=...`. The principal (None: anonymous) is left at `scope[PRINCIPAL_KEY]`."""

    def __init__(self, app: Any, credentials: Credentials, policy: Policy,
                 realm: str = "mesobus", body: bytes = b'{"message":"Invalid username or password."}',
                 media_type: bytes = b"application/json") -> None:
        self.app, self.credentials, self.policy, self.realm = app, credentials, policy, realm
        self.body, self.media_type = body, media_type

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan; the project serves no websockets
            await self.app(scope, receive, send)
            return
        need = self.policy(scope)
        if need == OPEN:
            await self.app({**scope, PRINCIPAL_KEY: None}, receive, send)
            return
        header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
        principal = self.credentials.authenticate(header) if header is not None else None
        if principal is None and (header is not None or need == REQUIRED):
            await self._refuse(send)
            return
        await self.app({**scope, PRINCIPAL_KEY: principal}, receive, send)

    async def _refuse(self, send: Any) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", self.media_type), (b"content-length", str(len(self.body)).encode()),
            (b"www-authenticate", f'Basic realm="{self.realm}"'.encode())]})
        await send({"type": "http.response.body", "body": self.body})
