"""Serve an ASGI app with uvicorn on a daemon thread, beside the actors.

Why Starlette + uvicorn: a route table of plain functions (easy to hold against each API's
own documentation), streaming responses for Server-Sent Events and RecordIO, a test client,
and one small event loop per server that never runs on an actor's thread.

>>> listen_address("127.0.0.1:5050")
('127.0.0.1', 5050)
>>> listen_address("off") is None
True
>>> listen_address("5050")
Traceback (most recent call last):
...
ValueError: '5050': expected HOST:PORT (e.g. 0.0.0.0:5050) or 'off'
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn


def listen_address(text: str) -> tuple[str, int] | None:
    """Parse `HOST:PORT` (or `off`: None). Raises ValueError naming what is wrong."""
    if text.strip().lower() == "off":
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT (e.g. 0.0.0.0:5050) or 'off'")
    return host.strip("[]"), int(port)


class HttpServer:
    """`HttpServer(app, "127.0.0.1", 0).start()` serves `app`; `.port` is the bound port.

    `start()` returns once the socket listens (or raises OSError, e.g. the port is taken);
    `stop()` closes it and waits for the thread.
    """

    def __init__(self, app: Any, host: str, port: int, *, name: str = "http") -> None:
        self.app, self.host, self.port, self.name = app, host, port, name
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> "HttpServer":
        # Bound here, on the caller's thread, so that a taken port is an OSError to the
        # caller (uvicorn would log it and exit the process).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted connections: without it a kept-alive client waits out its
        # delayed ACK (40 ms) for every response written in two parts (headers, body).
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._socket.bind((self.host, self.port))
        except OSError as err:
            self._socket.close()
            raise OSError(err.errno, f"cannot listen on {self.host}:{self.port}: {err.strerror}") from None
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name=f"mesobus-{self.name}", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if self._server.started or self._error is not None or not self._thread.is_alive():
                break
            deadline.wait(0.01)
        if not self._server.started:
            self.stop()
            raise OSError(f"cannot serve on {self.host}:{self.port}" + (f": {self._error}" if self._error else ""))
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            # uvicorn's own signal handlers belong to the main thread: the CLI owns signals.
            self._server.capture_signals = _no_signals  # type: ignore[method-assign]
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        except BaseException as err:  # noqa: BLE001  reported by start()
            self._error = err
        finally:
            loop.close()
            self._socket.close()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://{self.host if self.host not in ('0.0.0.0', '::') else '127.0.0.1'}:{self.port}"


def _no_signals():  # a context manager that installs nothing
    from contextlib import nullcontext

    return nullcontext()
