"""Who may reach the master's HTTP API: Mesos' `--http_credentials` with
`--authenticate_http_readonly` / `--authenticate_http_readwrite`, as HTTP Basic auth.

Read-only requests (GET, HEAD) and read-write ones (every other method, so `POST /api/v1`
too, as in Mesos) are each either required to authenticate or not. Credentials given on a
request that does not require them are still checked (wrong ones: 401), and their principal
is what the ACLs see. `/health`, `/version`, `/redirect` and the web UI's static files are
open (the UI's own requests then ask for credentials).

>>> auth = HttpAuth(Credentials({"ops": "pw"}), readonly=False, readwrite=True)
>>> auth.describe()
'HTTP: 1 principals; authentication required for read-write requests, optional for read-only ones'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from starlette.routing import BaseRoute, Match

from actors.http.basic_auth import OPEN, OPTIONAL, REQUIRED, BasicAuth, Credentials

OPEN_PATHS = frozenset({"/health", "/master/health", "/version", "/redirect", "/master/redirect"})
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class HttpAuth:
    credentials: Credentials
    readonly: bool = True
    readwrite: bool = True

    def describe(self) -> str:
        def need(on: bool) -> str:
            return "required" if on else "optional"

        if self.readonly == self.readwrite:
            return f"HTTP: {len(self.credentials)} principals; authentication {need(self.readonly)} for every request"
        return (f"HTTP: {len(self.credentials)} principals; authentication {need(self.readwrite)} for read-write "
                f"requests, {need(self.readonly)} for read-only ones")

    def wrap(self, app: Any, api_routes: Iterable[BaseRoute]) -> BasicAuth:
        """`app` behind Basic auth; `api_routes` are the paths that are not open."""
        routes = tuple(api_routes)

        def policy(scope: Mapping[str, Any]) -> str:
            if scope["path"] in OPEN_PATHS or not any(r.matches(scope)[0] != Match.NONE for r in routes):
                return OPEN  # health checks, and the web UI's files (no data in them)
            required = self.readonly if scope["method"] in READ_METHODS else self.readwrite
            return REQUIRED if required else OPTIONAL

        return BasicAuth(app, self.credentials, policy, realm="mesobus",
                         body=b"Unauthorized: give a principal and secret (HTTP Basic)\n", media_type=b"text/plain")


def no_http_auth_line() -> str:
    return "HTTP: no --http-credentials given: the HTTP API takes requests from anyone who reaches it"
