"""The `--http HOST:PORT` option of `mesobus master` and `mesobus local`, and starting
the operator's HTTP API (actors/operator/) beside the master."""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any

from actors.http import listen_address
from messages.addresses import MASTER

DEFAULT_HTTP = "0.0.0.0:5050"
HTTP_ENV = "MESOBUS_HTTP"


def http_address(text: str) -> tuple[str, int] | None:
    try:
        return listen_address(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_http_auth_flags(parser: argparse.ArgumentParser) -> None:
    """Mesos' --http_credentials and --[no-]authenticate_http_readonly|readwrite."""
    parser.add_argument("--http-credentials", metavar="FILE",
                        help='principals and secrets of the HTTP API, as Mesos\' JSON: {"credentials": '
                             '[{"principal": P, "secret": S}]} (docs/security.md)')
    for kind in ("readonly", "readwrite"):
        parser.add_argument(f"--authenticate-http-{kind}", action=argparse.BooleanOptionalAction, default=None,
                            help=f"require HTTP authentication for {kind.replace('read', 'read-')} requests "
                                 "(default: on when --http-credentials is given)")


def http_auth_from(args: argparse.Namespace) -> Any:
    """The HttpAuth the flags ask for (None: no authentication). Raises ValueError naming
    the flag that is wrong."""
    from actors.http.basic_auth import CredentialsError, load_credentials
    from actors.operator.authenticate import HttpAuth

    wanted = [f"--authenticate-http-{k}" for k in ("readonly", "readwrite") if getattr(args, f"authenticate_http_{k}")]
    if not args.http_credentials:
        if wanted:
            raise ValueError(f"{wanted[0]} needs --http-credentials FILE (the principals to authenticate)")
        return None
    try:
        credentials = load_credentials(args.http_credentials)
    except CredentialsError as err:
        raise ValueError(f"--http-credentials: {err}") from None
    if not len(credentials):
        raise ValueError(f"--http-credentials: {args.http_credentials}: no principals in it")
    readonly, readwrite = args.authenticate_http_readonly, args.authenticate_http_readwrite
    return HttpAuth(credentials, readonly is not False, readwrite is not False)


def add_http_flag(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get(HTTP_ENV) or DEFAULT_HTTP
    parser.add_argument("--http", type=http_address, default=default, metavar="HOST:PORT",
                        help=f"serve the Mesos-style HTTP API and web UI here, or 'off' "
                             f"(default: ${HTTP_ENV}, else {DEFAULT_HTTP})")


class OperatorHttp:
    """The HTTP API of one master process: serves as a standby until `lead()`.

    On a broker, the leader announces where it serves (rabbitmq/leader_address.py) and a
    standby reads it to redirect there."""

    def __init__(self, where: tuple[str, int] | None, broker: str | None, hostname: str = "", *,
                 auth: Any = None, acls: Any = None) -> None:
        self.where, self.broker = where, broker
        self.auth, self.acls = auth, acls  # actors/operator/authenticate.py HttpAuth, actors/master/acls.py ACLs
        self.hostname = hostname or socket.gethostname()
        self.server: Any = None
        self.source: Any = None
        self._directory: Any = None

    def start(self) -> "OperatorHttp":
        """Listen (raises OSError naming the address if it cannot)."""
        if self.where is None:
            return self
        from actors.http import HttpServer
        from actors.operator import MasterSource, operator_app

        host, port = self.where
        self._directory = self._make_directory()
        lookup = self._directory.lookup if self._directory is not None else None
        self.source = MasterSource(f"{self.hostname}:{port}", lookup)
        app = operator_app(self.source, auth=self.auth, acls=self.acls)
        self.server = HttpServer(app, host, port, name="operator-http").start()
        if port == 0:  # an ephemeral port: say the real one
            self.source.http_address = f"{self.hostname}:{self.server.port}"
        return self

    def _make_directory(self) -> Any:
        if not self.broker or self.broker.startswith("memory"):
            return None
        from rabbitmq import parse_url
        from rabbitmq.leader_address import LeaderAddress

        return LeaderAddress(parse_url(self.broker))

    def lead(self, master_ref: Any, transport: Any, master_address: str = MASTER, allocator_ref: Any = None,
             publisher: Any = None) -> None:
        """This process leads now: serve its master's snapshot and take operator writes.
        `publisher`: the master's SnapshotPublisher if the caller has it (else asked from
        the actor, behind whatever its mailbox holds)."""
        if self.source is None:
            return
        from actors.operator.files import SandboxReader
        from actors.operator.writes import master_sender

        publisher = publisher if publisher is not None else master_ref.proxy().snapshots.get()
        self.source.lead(publisher, master_sender(transport, master_address))
        self.source.files = SandboxReader(transport)
        if allocator_ref is not None:
            from actors.operator.explain import latest_explanation

            self.source.explain = lambda: latest_explanation(allocator_ref)
        if self._directory is not None:
            self._directory.keep_announcing(self.source.http_address)

    def stop(self) -> None:
        if self.source is not None:
            self.source.stand_down()
        if self.server is not None:
            self.server.stop()
        if self._directory is not None:
            self._directory.close()
