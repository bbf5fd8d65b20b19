"""A private RabbitMQ node for tests that stop or restart a broker (never the shared one).

    with broker_node() as node:            # started, waits until the broker runs
        transport = AmqpTransport(node.url)
        node.restart()                     # stop (graceful) and start on the same data
    # stopped, its files removed

or, in a test module, the `private_broker` fixture (`from tests.support.broker_node
import private_broker`).

The node has its own name (`mesobus-test-<random>@localhost`), AMQP and distribution
ports, data and log directories, an empty plugin list and its own config and env files
(so /etc/rabbitmq is not read), and runs with HOME set to its directory, where its own
Erlang cookie lives: rabbitmqctl talks to it with the same HOME, and nothing outside the
node's directory is touched. It runs as the current user.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

_SCRIPT_DIRS = [os.environ.get("MESOBUS_RABBITMQ_BIN", ""), "/usr/lib/rabbitmq/bin", "/usr/local/sbin", "/usr/sbin"]


def _script(name: str) -> str:
    """The real rabbitmq script (not the /usr/sbin wrapper that switches user when root)."""
    for directory in _SCRIPT_DIRS:
        path = Path(directory) / name
        if directory and path.exists():
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install rabbitmq-server or set MESOBUS_RABBITMQ_BIN")
    return found


def _free_port() -> int:
    # Below 55000: the CLI's distribution port is the node's + 10000.
    for _ in range(200):
        port = random.randint(20000, 54000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port found")


def make_certificates(directory: Path) -> dict[str, Path]:
    """A test CA and a server certificate it signed for localhost and 127.0.0.1 (openssl),
    plus a second CA that signed nothing here (a client trusting it must refuse the server)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.pem" for name in ("ca", "ca_key", "server", "server_key", "other_ca", "other_key")}

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    for ca, key, name in (("ca", "ca_key", "mesobus test CA"), ("other_ca", "other_key", "some other CA")):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                "-keyout", str(paths[key]), "-out", str(paths[ca]))
    request, extensions = directory / "server.csr", directory / "server.ext"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(paths["server_key"]), "-out", str(request))
    extensions.write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\nextendedKeyUsage = serverAuth\n")
    openssl("x509", "-req", "-in", str(request), "-CA", str(paths["ca"]), "-CAkey", str(paths["ca_key"]),
            "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(paths["server"]))
    for path in paths.values():
        path.chmod(0o644)  # the node runs as the current user; keys stay in its private directory
    return paths


class BrokerNode:
    """One private broker node; `start()`, `stop()`, `restart()`, `kill()`, `destroy()`.
    `tls=True` adds a TLS listener (certificates made by `make_certificates`): `tls_url`."""

    def __init__(self, base: Path | None = None, *, tls: bool = False) -> None:
        self.base = Path(base or tempfile.mkdtemp(prefix="mesobus-broker-"))
        suffix = os.urandom(4).hex()
        self.name = f"mesobus-test-{suffix}@localhost"
        self.port = _free_port()
        self.dist_port = _free_port()
        self.tls_port = _free_port() if tls else None
        self.certificates: dict[str, Path] = make_certificates(self.base / "tls") if tls else {}
        self.process: subprocess.Popen | None = None
        self._write_files()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def tls_url(self) -> str:
        """amqps:// to the TLS listener, trusting the test CA (peer verification on)."""
        assert self.tls_port is not None, "started without tls=True"
        return f"amqps://guest:guest@127.0.0.1:{self.tls_port}/%2F?cafile={self.certificates['ca']}"

    def _tls_config(self) -> str:
        if self.tls_port is None:
            return ""
        certs = self.certificates
        return (
            f"listeners.ssl.default = 127.0.0.1:{self.tls_port}\n"
            f"ssl_options.cacertfile = {certs['ca']}\n"
            f"ssl_options.certfile = {certs['server']}\n"
            f"ssl_options.keyfile = {certs['server_key']}\n"
            "ssl_options.verify = verify_none\n"
            "ssl_options.fail_if_no_peer_cert = false\n"
        )

    def _write_files(self) -> None:
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "log.console = false\nlog.file.level = warning\n" + self._tls_config()
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf
        cookie = self.base / ".erlang.cookie"
        cookie.write_text(os.urandom(16).hex())
        cookie.chmod(0o400)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.base),  # its own Erlang cookie, for the node and for rabbitmqctl
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_PID_FILE=str(self.base / "node.pid"),
            RABBITMQ_CONFIG_FILE=str(self.base / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run `rabbitmqctl -n <this node> ...`."""
        return subprocess.run(
            [_script("rabbitmqctl"), "-n", self.name, *args],
            env=self._env(), capture_output=True, text=True, timeout=timeout,
        )

    def start(self, timeout: float = 60) -> None:
        """Start the node and wait until it accepts AMQP connections."""
        assert self.process is None or self.process.poll() is not None, "already running"
        (self.base / "node.pid").unlink(missing_ok=True)
        log = open(self.base / "server.out", "ab")
        self.process = subprocess.Popen(
            [_script("rabbitmq-server")], env=self._env(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        waited = self.ctl("wait", str(self.base / "node.pid"), "--timeout", str(int(timeout)), timeout=timeout + 10)
        if waited.returncode != 0 or not self._answers(timeout=10):
            output = (self.base / "server.out").read_text(errors="replace")[-3000:]
            self.kill()
            raise RuntimeError(f"broker node {self.name} did not start:\n{waited.stdout}{waited.stderr}\n{output}")

    def _answers(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self, timeout: float = 60) -> None:
        """Stop gracefully (clients see CONNECTION_FORCED) and wait for the process to end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.ctl("stop", str(self.base / "node.pid"), timeout=timeout)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, stay down `down_for` seconds, start again on the same data."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def kill(self) -> None:
        """SIGKILL the node's process group (the node started in its own session)."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)

    def destroy(self) -> None:
        """Stop the node and delete its directory."""
        try:
            self.stop()
        finally:
            self.kill()
            shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def broker_node(*, tls: bool = False) -> Iterator[BrokerNode]:
    node = BrokerNode(tls=tls)
    try:
        node.start()
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="module")
def private_broker() -> Iterator[BrokerNode]:
    """A private broker node for this test module (started once, destroyed after)."""
    with broker_node() as node:
        yield node
