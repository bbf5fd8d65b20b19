"""Run a built-in framework as a process: leader lock, cluster, state, scheduler, HTTP.

    spec = Hosted(name="services", scheduler=ServicesScheduler, build_app=services_app)
    sys.exit(host_framework(spec, broker=None, http="127.0.0.1:8080", agents=3, prog="mesobus services"))

What it does, in order:
1. On a broker, take the framework's leader lock (lock.py); while another process leads,
   serve HTTP as a standby that forwards every request to the leader (proxy.py; with
   `Hosted.proxy_standby`, else a 307 there), whose address it reads from the state
   store, where the leader writes it.
2. No broker: start an embedded cluster with `agents` agents (state in a file).
3. Open the state store, start the scheduler with the framework id kept there (a
   restarted or failed-over process re-registers as the same framework and keeps its
   tasks for `failover_timeout`), give it the store, serve `build_app(handle)`.
4. Until SIGINT/SIGTERM (or the lock is lost): then stop with failover, so that tasks
   keep running for the next leader.
Errors a user can cause (a taken port, no broker) are one line and exit 1; bad options 2.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from actors.frameworks.hosting.auth import framework_auth, parse_credentials
from actors.frameworks.hosting.lock import framework_lock
from actors.frameworks.hosting.proxy import StandbyProxy
from actors.frameworks.hosting.store import StateStore, StoreError, open_store
from actors.frameworks.hosting.switch import SwitchApp
from actors.http import HttpServer, listen_address

log = logging.getLogger(__name__)

FRAMEWORK_ID_KEY = "framework-id"
LEADER_KEY = "leader"
DEFAULT_FAILOVER_TIMEOUT = 7 * 24 * 3600.0  # a week, as Marathon's default


@dataclass
class Hosted:
    """What to host: a Scheduler subclass, taking `store=` (and `leader_url=`) in its
    `__init__`, and a function from its SchedulerHandle to an ASGI app."""

    name: str
    scheduler: type
    build_app: Callable[[Any], Any]
    failover_timeout: float = DEFAULT_FAILOVER_TIMEOUT
    scheduler_kwargs: dict[str, Any] = field(default_factory=dict)
    proxy_standby: bool = False  # a standby forwards requests to the leader (else: 307 there)


@dataclass
class Running:
    """A hosted framework that leads (what `start_hosted` returns; tests use it)."""

    handle: Any
    server: HttpServer
    store: StateStore
    cluster: Any = None

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        try:
            self.handle.stop(failover=True)
        finally:
            self.server.stop()
            self.store.close()
            if self.cluster is not None:
                self.cluster.stop()


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mesobus"


def start_hosted(spec: Hosted, *, target: Any, store: StateStore, server: HttpServer, switch: SwitchApp,
                 role: str = "*", cluster: Any = None) -> Running:
    """Start the scheduler on `target` with the state in `store` and serve its API."""
    state = store.load()
    known = state.get(FRAMEWORK_ID_KEY)
    handle = spec.scheduler.run(
        target, name=spec.name, roles=(role,), failover_timeout=spec.failover_timeout,
        framework_id=known if isinstance(known, str) and known else None,
        store=store, state=state, leader_url=server.url, **spec.scheduler_kwargs,
    )
    try:
        if known != handle.framework_id:
            store.put(FRAMEWORK_ID_KEY, handle.framework_id)
        store.put(LEADER_KEY, {"url": advertised_url(server), "host": socket.gethostname(), "pid": os.getpid(),
                               "since": time.time()})
        switch.app = spec.build_app(handle)
    except BaseException:
        handle.stop(failover=True)
        raise
    return Running(handle, server, store, cluster)


def advertised_url(server: HttpServer) -> str:
    """Where the other processes reach this one's API: listening on every address, by
    this host's name (127.0.0.1 would lead a standby on another host to itself)."""
    if server.host in ("0.0.0.0", "::"):
        return f"http://{socket.gethostname()}:{server.port}"
    return server.url


def host_framework(spec: Hosted, *, prog: str, broker: str | None, http: str, agents: int = 3,
                   role: str = "*", state_dir: str | None = None, credentials: str | None = None,
                   stop: threading.Event | None = None) -> int:
    """The whole life of a framework process (see the module docstring); the exit code."""
    from actors.console import fail, signals_set

    try:
        address = listen_address(http)
    except ValueError as err:
        return fail(prog, str(err), 2)
    if address is None:
        return fail(prog, "--http off: this framework is used through its HTTP API", 2)
    try:
        login = parse_credentials(credentials) if credentials else None
    except ValueError as err:
        return fail(prog, f"--http-credentials: {err}", 2)
    stop = stop or threading.Event()
    with signals_set(stop) as signals:
        switch = SwitchApp(_standby_app(None))
        try:
            served = framework_auth(switch, *login) if login else switch
            server = HttpServer(served, *address, name=spec.name).start()
        except OSError as err:
            return fail(prog, str(err), 1)
        try:
            return _lead_when_possible(spec, prog, broker, server, switch, agents, role, state_dir, stop, signals)
        except StoreError as err:
            return fail(prog, str(err), 1)
        except (RuntimeError, ValueError, OSError) as err:
            return fail(prog, str(err), 1)
        finally:
            server.stop()


def _lead_when_possible(spec: Hosted, prog: str, broker: str | None, server: HttpServer, switch: SwitchApp,
                        agents: int, role: str, state_dir: str | None, stop: threading.Event,
                        signals: list[str]) -> int:
    from actors.console import redact, signal_exit_code

    lock = None
    store: StateStore | None = None
    if broker:
        holder = f"{spec.name} on {socket.gethostname()} (pid {os.getpid()}) http {server.url}"
        lock = framework_lock(broker, spec.name, holder)
        store = open_store(broker, spec.name)
        switch.app = _standby_app(store, spec.proxy_standby)

        def standing_by(why: str) -> None:
            why = why.replace("another master leads", f"another {spec.name} process leads")
            serving = "forwarding requests to the leader" if spec.proxy_standby else "serving redirects"
            print(f"{prog}: standing by ({why}); {serving} on {server.url}", file=sys.stderr)

        if lock is not None and not lock.acquire(stop, on_standby=standing_by):
            lock.close()
            store.close()
            print(f"{prog}: stopped while standing by", file=sys.stderr)
            return signal_exit_code(signals[0]) if signals else 0
    cluster = None
    running: Running | None = None
    try:
        if broker:
            target: Any = broker
        else:
            from actors.cluster import LocalCluster

            cluster = LocalCluster(agents=agents).start()
            target = cluster
            store = open_store("memory://", spec.name, state_dir=state_dir or default_state_dir())
        assert store is not None
        running = start_hosted(spec, target=target, store=store, server=server, switch=switch, role=role,
                               cluster=cluster)
        where = redact(broker) if broker else f"an embedded cluster of {agents} agent(s)"
        print(f"{prog}: leading on {where} as framework {running.handle.framework_id}; "
              f"API on {server.url}; Ctrl-C to stop", file=sys.stderr)
        while not stop.wait(0.5):
            if lock is not None and lock.lost.is_set():
                break
            if running.handle.join(0):
                print(f"{prog}: the framework stopped: {running.handle.error or 'removed'}", file=sys.stderr)
                return 1
        if lock is not None and lock.lost.is_set() and not signals:
            print(f"{prog}: lost the leader lock: stopping, another process may lead now", file=sys.stderr)
            return 1
        # on a broker the tasks outlive this process (a successor adopts them); embedded, they end with its cluster
        kept = "tasks keep running" if broker else "the embedded cluster and its tasks end too"
        print(f"{prog}: {signals[0] if signals else 'stop'}: stopping ({kept})", file=sys.stderr)
        return signal_exit_code(signals[0]) if signals else 0  # 143 / 130, as every command
    finally:
        if running is not None:
            running.handle.stop(failover=True)
        if store is not None:
            store.close()
        if cluster is not None:
            cluster.stop()
        if lock is not None:
            lock.close()


def _standby_app(store: StateStore | None, proxy: bool = False) -> Any:
    """Answers while this process does not lead: forwarded to the leader (proxy.py) or a
    307 there; 503 while none is known. The leader's address is read from the store at
    most every 2 s."""
    cache: dict[str, Any] = {"at": 0.0, "url": None}
    lock = threading.Lock()

    def leader_url() -> str | None:
        if store is None:
            return None
        with lock:
            if time.monotonic() - cache["at"] > 2.0:
                try:
                    leader = store.load().get(LEADER_KEY) or {}
                    url = leader.get("url") if isinstance(leader, dict) else None
                    cache["url"] = url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
                except StoreError as err:
                    log.warning("standby: cannot read the leader's address: %s", err)
                cache["at"] = time.monotonic()
            return cache["url"]

    if proxy:
        return StandbyProxy(leader_url)

    async def redirect(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse, RedirectResponse

        url = await run_in_threadpool(leader_url)
        if url:
            query = scope.get("query_string", b"").decode("latin-1")
            path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")  # escapes kept (proxy.py)
            target = url + path + (f"?{query}" if query else "")
            response: Any = RedirectResponse(target, status_code=307)
        else:
            response = JSONResponse({"message": "no leader elected yet"}, status_code=503)
        await response(scope, receive, send)

    return redirect
