"""What the operator commands (ps, tail, cat, state, agents, frameworks, weights, quota,
drain, teardown) share: `--master URL` (default $MESOBUS_MASTER, else
http://localhost:5050), the principal to authenticate as when the master asks for one
(`--principal` / `--secret`, else $MESOBUS_PRINCIPAL / $MESOBUS_SECRET, else the URL's
`user:secret@`), a client that follows a standby's redirect to the leader, and errors as
one line.

>>> master_url("host:5050"), master_url("http://h:1/")
('http://host:5050', 'http://h:1')
>>> split_login("http://ops:pw@h:1")
('http://h:1', ('ops', 'pw'))
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

MASTER_ENV = "MESOBUS_MASTER"
PRINCIPAL_ENV, SECRET_ENV = "MESOBUS_PRINCIPAL", "MESOBUS_SECRET"
DEFAULT_MASTER = "http://localhost:5050"
TIMEOUT = 10.0


class MasterError(Exception):
    """The master could not be reached or refused the request (one line, for the user)."""


def master_url(text: str) -> str:
    url = text if "://" in text else f"http://{text}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r}: expected the master's HTTP address, e.g. http://host:5050")
    return url.rstrip("/")


def split_login(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without its `user:secret@`, and that login (None when it has none)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)), (unquote(parts.username), unquote(parts.password or ""))


def add_master(parser: argparse.ArgumentParser) -> None:
    # a string default goes through master_url as the flag would: a bad $MESOBUS_MASTER is a usage error
    parser.add_argument("--master", type=master_url, default=os.environ.get(MASTER_ENV) or DEFAULT_MASTER,
                        metavar="URL", help=f"the master's HTTP API (default: ${MASTER_ENV}, else {DEFAULT_MASTER})")
    parser.add_argument("--principal", default=None,
                        help=f"authenticate to the master as this principal (default: ${PRINCIPAL_ENV})")
    parser.add_argument("--secret", default=None,
                        help=f"its secret (default: ${SECRET_ENV}; the environment keeps it out of `ps`)")


class MasterClient:
    """`MasterClient("http://h:5050").get("/master/state")` -> parsed JSON."""

    def __init__(self, url: str, login: tuple[str, str] | None = None) -> None:
        import httpx

        self.url, in_url = split_login(url)
        self.login = login or in_url
        self._http = httpx.Client(timeout=TIMEOUT, follow_redirects=False, auth=self.login)

    @classmethod
    def of(cls, args: argparse.Namespace) -> "MasterClient":
        """The client the command's flags ask for (--master, --principal, --secret, env)."""
        principal = getattr(args, "principal", None) or os.environ.get(PRINCIPAL_ENV)
        secret = getattr(args, "secret", None) or os.environ.get(SECRET_ENV)
        return cls(args.master, (principal, secret or "") if principal else None)

    def request(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        import httpx

        url = self.url + path
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for _ in range(4):  # a standby's 307 to the leader (//host:port/path)
            try:
                response = self._http.request(method, url, params=params, content=content, headers=headers)
            except httpx.HTTPError as err:
                raise MasterError(f"cannot reach the master at {self.url}: {_reason(err)}") from None
            if response.status_code == 307 and "location" in response.headers:
                leader = urlsplit(response.headers["location"]).netloc
                if not leader:
                    raise MasterError(f"{self.url}: a redirect to nowhere")
                self.url = f"{urlsplit(self.url).scheme}://{leader}"
                url = self.url + path
                continue
            if response.status_code == 401:
                raise MasterError(self._unauthorized())
            if response.status_code >= 400:
                text = response.text.strip().splitlines()[0] if response.text.strip() else response.reason_phrase
                raise MasterError(f"{response.status_code}: {text}")
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise MasterError(f"{url}: the answer is not JSON (is this a mesobus master?)") from None
        raise MasterError(f"{self.url}: too many redirects (no master leads?)")

    def _unauthorized(self) -> str:
        if self.login is None:
            return (f"the master at {self.url} asks for a principal: give --principal and --secret "
                    f"(or ${PRINCIPAL_ENV} and ${SECRET_ENV})")
        return f"the master at {self.url} refused principal {self.login[0]!r}: wrong principal or secret"

    def get(self, endpoint: str, **params: Any) -> Any:
        return self.request("GET", endpoint, params={k: v for k, v in params.items() if v is not None} or None)

    def call(self, body: dict) -> Any:
        return self.request("POST", "/api/v1", body=body)

    def close(self) -> None:
        self._http.close()


def _reason(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0]


def find_task(client: MasterClient, task_id: str) -> dict:
    """The task with this id (or the only one whose id starts so), from /master/tasks."""
    exact = client.get("/master/tasks", task_id=task_id, limit=10)["tasks"]
    if exact:
        return exact[0]
    every = client.get("/master/tasks", limit=100000)["tasks"]
    matches = [t for t in every if t["id"].startswith(task_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise MasterError(f"no task {task_id!r}")
    raise MasterError(f"{len(matches)} tasks start with {task_id!r}: give more of the id")


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)
