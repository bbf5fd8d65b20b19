"""pika's IOLoop, tuned for the transport's one I/O thread (see connection.py).

Three changes, each saving work on every message:

* Hooks at the end of each loop turn, once its I/O events, callbacks and timers are
  done and just before the loop waits again: `each_turn` functions (every turn),
  `at_turn_end(fn)` (once), then `before_wait()`. Deliveries are handed to actor
  threads there, in one go: waking a thread while this one still holds the GIL makes
  it wake, find the GIL taken and sleep again.
* One send() per turn (`send_output`): pika buffers every frame as a chunk of its own
  (a publish is three) and sends them one send() each when the poller next reports the
  socket writable: a syscall and a TCP segment per frame, two epoll_ctl calls and one
  more loop turn per burst. Here the turn's chunks are joined and sent at its end; only
  what the socket does not take waits for writability, as pika would.
* An I/O lock (`Loop.lock`), held by the I/O thread except while it waits in epoll.
  Another thread that takes it may do loop work itself (`IoThread.run_here`) instead of
  waking the I/O thread for it: pika objects are still used by one thread at a time.

    loop = Loop()
    loop.each_turn.append(lambda: ...)
    loop.before_wait = lambda: send_output(connection, hooks=[])

pika internals used (pika 1.x): `BaseConnection._transport`, and of
`_AsyncPlaintextTransport` `_tx_buffers`, `_buffer_tx_data`, `_on_socket_writable`,
`_nbio`, `_sock`, `_state`; `EPollPoller._create_poller` and `IOLoop._get_poller`. Without
them (another pika, TLS) pika's own write path is used; `?fast=0` uses `PlainLoop`, on
pika's public API only. tests/unit/test_rabbitmq_canaries.py checks each of them.
"""

from __future__ import annotations

import logging
import select
import threading
from typing import Any, Callable

from pika.adapters.select_connection import EPollPoller, IOLoop

try:
    from pika.adapters.utils.io_services_utils import _AsyncPlaintextTransport
except ImportError:  # pragma: no cover - another pika
    _AsyncPlaintextTransport = None

log = logging.getLogger(__name__)

COALESCE = 64 * 1024  # at most this many bytes joined into one send()
_PATCHED = "_mesobus_buffered_writes"


def run_hook(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        log.exception("mesobus I/O hook %s failed", getattr(fn, "__qualname__", fn))


class _UnlockedWhileWaiting:
    """An epoll object whose poll() releases the I/O lock while it waits."""

    def __init__(self, lock: threading.Lock) -> None:
        epoll = select.epoll()
        self._epoll = epoll
        self._lock = lock
        self.register = epoll.register
        self.modify = epoll.modify
        self.unregister = epoll.unregister
        self.close = epoll.close
        self.fileno = epoll.fileno

    def poll(self, timeout: float = -1) -> list[tuple[int, int]]:
        self._lock.release()
        try:
            return self._epoll.poll(timeout)
        finally:
            self._lock.acquire()


class _Poller(EPollPoller):
    def __init__(self, get_wait_seconds: Callable[[], Any], process_timeouts: Callable[[], None],
                 lock: threading.Lock) -> None:
        self._io_lock = lock
        super().__init__(get_wait_seconds, process_timeouts)

    def _create_poller(self) -> Any:  # type: ignore[override]
        return _UnlockedWhileWaiting(self._io_lock)


class Loop(IOLoop):
    """See the module docstring. `lock` is None where epoll is missing (no lock then:
    other threads always hand work over)."""

    def __init__(self) -> None:
        self.lock: threading.Lock | None = threading.Lock()
        self.lock.acquire()  # the I/O thread's from the start: released only in epoll
        self.each_turn: list[Callable[[], None]] = []
        self._turn_end: list[Callable[[], None]] = []
        self.before_wait: Callable[[], None] = lambda: None
        super().__init__()  # calls _get_poller, and hands it our process_timeouts

    def _get_poller(  # type: ignore[override]
        self, get_wait_seconds: Callable[[], Any], process_timeouts: Callable[[], None]
    ) -> Any:
        if hasattr(select, "epoll"):
            return _Poller(get_wait_seconds, process_timeouts, self.lock)
        self.lock = None
        return IOLoop._get_poller(get_wait_seconds, process_timeouts)

    def at_turn_end(self, fn: Callable[[], None]) -> None:
        self._turn_end.append(fn)

    def process_timeouts(self) -> None:
        super().process_timeouts()
        for fn in self.each_turn:
            run_hook(fn)
        while self._turn_end:  # a hook may add another (e.g. a hand-over that acks)
            hooks, self._turn_end = self._turn_end, []
            for fn in hooks:
                run_hook(fn)
        run_hook(self.before_wait)


class PlainLoop(IOLoop):
    """`Loop`'s interface on pika's public IOLoop API only (`?fast=0`): no I/O lock (other
    threads always hand work over), turn-end work as callbacks, `each_turn` hooks on a
    timer every `tick` seconds, output sent by pika itself."""

    def __init__(self, tick: float) -> None:
        super().__init__()
        self.lock: threading.Lock | None = None
        self.each_turn: list[Callable[[], None]] = []
        self.before_wait: Callable[[], None] = lambda: None
        self._tick = max(tick, 0.001)
        self.call_later(self._tick, self._run_each_turn)

    def at_turn_end(self, fn: Callable[[], None]) -> None:
        self.add_callback_threadsafe(lambda: run_hook(fn))

    def _run_each_turn(self) -> None:
        for fn in self.each_turn:
            run_hook(fn)
        self.call_later(self._tick, self._run_each_turn)


def send_output(connection: Any, before_send: list[Callable[[], None]]) -> None:
    """Send what is buffered for `connection` now, joined into few send() calls; first
    run `before_send` hooks (they may add frames that need not go alone, e.g. acks).
    What the socket does not take is sent by pika once it is writable."""
    transport = getattr(connection, "_transport", None)
    buffers = getattr(transport, "_tx_buffers", None)
    if not buffers:
        return
    for fn in before_send:
        run_hook(fn)
    if _AsyncPlaintextTransport is None or type(transport) is not _AsyncPlaintextTransport:
        return  # TLS: pika's own write path (its write() asked for writability)
    if not getattr(transport, _PATCHED, False):
        _buffer_writes(transport)
    if len(buffers) > 1:
        chunks = list(buffers)
        buffers.clear()
        piece: list[bytes] = []
        size = 0
        for chunk in chunks:
            piece.append(chunk)
            size += len(chunk)
            if size >= COALESCE:
                buffers.append(b"".join(piece))
                piece, size = [], 0
        if piece:
            buffers.append(b"".join(piece))
    transport._on_socket_writable()  # sends; keeps the rest on EAGAIN; aborts on errors
    if transport._tx_buffers and transport._state == transport._STATE_ACTIVE:
        transport._nbio.set_writer(transport._sock.fileno(), transport._on_socket_writable)


def _buffer_writes(transport: Any) -> None:
    """From now on pika's write() only buffers: send_output() sends at the end of the
    turn (or of run_here), without asking the poller for writability first."""

    def write(data: bytes) -> None:
        if transport._state == transport._STATE_ACTIVE:  # else dropped, as pika does
            transport._buffer_tx_data(data)

    transport.write = write
    setattr(transport, _PATCHED, True)
