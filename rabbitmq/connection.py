"""The I/O thread: one pika IOLoop, one SelectConnection at a time, reconnecting by itself.

Every pika object is touched on this thread, or by another thread holding the I/O lock
while this one waits in epoll (`run_here`, see ioloop.py): one thread at a time. Other
threads hand work over through `call_soon(fn)` (pika's `add_callback_threadsafe`).
The IOLoop outlives connections, so a callback handed over during an outage simply runs
once the loop turns again.

    io = IoThread(config, on_open=lambda conn: ..., on_lost=lambda why: ...)
    io.start()
    io.call_soon(lambda: print("on the I/O thread"))
    io.close()

Reconnecting: tenacity retries the connection with jittered exponential backoff
(`wait_random_exponential`, capped by `reconnect_max_delay`); a connection that was up
and then dropped starts a fresh backoff, so the first retry after an outage is immediate.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any, Callable

import pika
import pika.exceptions
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from actors.runtime.transport import AccessRefused, TransportError
from rabbitmq.config import BrokerConfig
from rabbitmq.inbound import DeliveryReader
from rabbitmq.ioloop import Loop, PlainLoop, send_output

log = logging.getLogger(__name__)

# pika's own log levels are set by the command line (actors.connect.set_library_log_levels),
# not here: importing a module changes no logging.


class _NotConnected(Exception):
    """A connection attempt failed before the connection opened (tenacity retries it)."""


def describe(error: BaseException | str | None) -> str:
    """One line for any pika error, e.g. `ConnectionClosedByBroker: (320) 'CONNECTION_FORCED ...'`."""
    if error is None:
        return "unknown reason"
    if isinstance(error, str):
        return error
    text = str(error) or repr(error)
    return f"{type(error).__name__}: {text}"


_REFUSALS = (pika.exceptions.ProbableAuthenticationError, pika.exceptions.ProbableAccessDeniedError,
             pika.exceptions.AuthenticationError)
_REFUSAL_CODES = (403, 530)  # ACCESS_REFUSED; NOT_ALLOWED (no access to the vhost, or no such vhost)


def refusal(config: BrokerConfig, error: BaseException | None) -> str | None:
    """A one-line AccessRefused message if `error` means the broker refused this user
    (wrong password, no vhost access, no permission), None for anything else (an outage)."""
    code = getattr(error, "reply_code", None)
    if not isinstance(error, _REFUSALS) and code not in _REFUSAL_CODES:
        return None
    detail = error.args[0] if isinstance(error, _REFUSALS) and error.args else error
    text = describe(detail) if isinstance(detail, BaseException) else str(detail)
    text = text.replace("ConnectionClosedByBroker: ", "").replace("ChannelClosedByBroker: ", "")
    text = text.replace(" For details see the broker logfile.", "")
    return (
        f"the broker at {config.host}:{config.port} refused user {config.username!r} "
        f"on vhost {config.vhost!r}: {text}"
    )


class CertificateRejected(TransportError):
    """The broker's TLS certificate failed verification (wrong CA, wrong host name,
    expired): not an outage, so never retried."""


_VERIFY_FAILED = re.compile(r"certificate verify failed: ([^(']+)")


def certificate_rejection(config: BrokerConfig, error: BaseException | None) -> str | None:
    """A one-line message if `error` is a failed TLS verification of the broker, else None."""
    found = _VERIFY_FAILED.search(describe(error) if error is not None else "")
    if config.tls is None or found is None:
        return None
    return (
        f"TLS: the certificate of the broker at {config.host}:{config.port} failed verification: "
        f"{found.group(1).strip()} (server name {config.server_name or config.host!r}; trust its CA with "
        f"?cafile=PATH)"
    )


def connection_parameters(config: BrokerConfig) -> pika.ConnectionParameters:
    """pika's parameters for `config`; pika retries nothing itself (we do, with backoff)."""
    ssl_options = None
    if config.tls is not None:
        ssl_options = pika.SSLOptions(config.tls, config.server_name or config.host)
    return pika.ConnectionParameters(
        host=config.host,
        port=config.port,
        virtual_host=config.vhost,
        credentials=pika.PlainCredentials(config.username, config.password),
        heartbeat=config.heartbeat,
        blocked_connection_timeout=config.blocked_connection_timeout,
        socket_timeout=config.connection_timeout,
        stack_timeout=config.connection_timeout * 2,
        connection_attempts=1,
        ssl_options=ssl_options,
        client_properties={"connection_name": f"{config.name} pid {os.getpid()}"},
    )


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a pika callback so that a bug in it is logged instead of unwinding the IOLoop."""

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            log.exception("mesobus I/O callback %s failed", getattr(fn, "__qualname__", fn))
            return None

    return call


class IoThread:
    """Owns the IOLoop and the current connection; calls `on_open(connection)` after each
    (re)connection and `on_lost(reason)` after each loss, both on the I/O thread."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        on_open: Callable[[Any], None],
        on_lost: Callable[[str], None],
        on_refused: Callable[[TransportError], None] = lambda error: None,
    ) -> None:
        self.config = config
        self.connected = False
        self.refused: TransportError | None = None  # the broker refused us (user, certificate): no retries
        self.last_error = "not connected yet"
        self.connections = 0  # how many times a connection opened
        self.ran_here = self.ran_elsewhere = 0  # run_here() outcomes
        self._on_open = on_open
        self._on_lost = on_lost
        self._on_refused = on_refused
        self._params = connection_parameters(config)
        self._ioloop: Loop | PlainLoop
        if config.fast:
            self._ioloop = Loop()
            self._ioloop.before_wait = self._flush_output
        else:  # pika's public API only: no I/O lock, no frames written or read by mesobus
            self._ioloop = PlainLoop(config.ack_interval)
        self._before_send: list[Callable[[], None]] = []
        self._connection: Any = None
        self.reader: DeliveryReader | None = None  # the current connection's (I/O thread)
        self._closing = threading.Event()
        self._loop_lock = threading.Lock()  # guards call_soon against the loop's close
        self._loop_closed = False
        self._thread = threading.Thread(target=self._run, name=f"{config.name}-io", daemon=True)
        self.ident: int | None = None

    # --- any thread -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def in_io_thread(self) -> bool:
        return threading.get_ident() == self.ident

    def call_soon(self, fn: Callable[[], None]) -> bool:
        """Run `fn()` on the I/O thread soon; False once the transport is closed."""
        with self._loop_lock:
            if self._loop_closed:
                return False
            self._ioloop.add_callback_threadsafe(guarded(fn))
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Close the connection and stop the thread (pending callbacks still run first)."""
        self._closing.set()
        self.call_soon(self._close_connection)
        if not self.in_io_thread():
            self._thread.join(timeout)

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    # --- the I/O thread -----------------------------------------------------------------

    def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
        return self._ioloop.call_later(delay, guarded(fn))

    def remove_timeout(self, handle: Any) -> None:
        self._ioloop.remove_timeout(handle)

    def at_turn_end(self, fn: Callable[[], None]) -> None:
        """Run `fn()` at the end of this turn of the loop (the I/O thread only)."""
        self._ioloop.at_turn_end(fn)

    def each_turn(self, fn: Callable[[], None]) -> None:
        """Run `fn()` at the end of every turn of the loop, from now on (any thread,
        before start())."""
        self._ioloop.each_turn.append(fn)

    def before_send(self, fn: Callable[[], None]) -> None:
        """Run `fn()` whenever a turn is about to send output, so that it can add
        frames that need not go alone (e.g. acks); before start()."""
        self._before_send.append(fn)

    def _flush_output(self) -> None:
        """Send what was written in this turn (see ioloop.send_output)."""
        send_output(self._connection, self._before_send)

    def run_here(self, fn: Callable[[], None]) -> bool:
        """From another thread: if the I/O thread is waiting in epoll, run `fn()` and send
        its output on this thread, holding the I/O lock (so pika is still used by one
        thread at a time), and return True. Else return False and do nothing: hand the
        work over with call_soon(). Saves waking the I/O thread for a few frames."""
        lock = self._ioloop.lock
        if lock is None or not lock.acquire(False):
            self.ran_elsewhere += 1
            return False
        self.ran_here += 1
        try:
            fn()
            self._flush_output()
        except Exception:  # as on the I/O thread: a bug is logged, the caller goes on
            log.exception("mesobus: %s failed outside the I/O thread", getattr(fn, "__qualname__", fn))
        finally:
            lock.release()
        return True

    def _run(self) -> None:
        self.ident = threading.get_ident()
        try:
            while not self._closing.is_set():
                retrying = Retrying(
                    wait=wait_random_exponential(
                        multiplier=0.2, max=self.config.reconnect_max_delay,
                        min=min(0.05, self.config.reconnect_max_delay),
                    ),
                    retry=retry_if_exception_type(_NotConnected),
                    stop=lambda _state: self._closing.is_set(),
                    sleep=self._closing.wait,  # close() cuts the backoff short
                    before_sleep=self._log_retry,
                    reraise=True,
                )
                try:
                    retrying(self._serve)
                except _NotConnected:
                    break  # closing
        finally:
            with self._loop_lock:
                self._loop_closed = True
            self._ioloop.close()

    def refuse(self, error: TransportError) -> None:
        """The broker refused us (I/O thread): no more attempts; publish() and subscribe()
        raise `error` (AccessRefused, CertificateRejected) from now on."""
        if self.refused is None:
            self.refused = error
            log.error("mesobus: %s", error)
            self._closing.set()
            self._on_refused(error)
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close(200, "mesobus: access refused")

    def _log_retry(self, state: RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "mesobus: cannot reach %s (%s); retry %d in %.2fs",
            self.config.url, self.last_error, state.attempt_number, wait,
        )

    def _serve(self) -> None:
        """Connect and run the loop until the connection is gone. Raises _NotConnected if it
        never opened (so tenacity backs off); returns if it was up (fresh backoff)."""
        if self._closing.is_set():
            return
        opened = False

        def on_open(connection: Any) -> None:
            nonlocal opened
            opened = True
            self.connected = True
            self.connections += 1
            if self.connections > 1:
                log.warning("mesobus: reconnected to %s", self.config.url)
            self.reader = DeliveryReader(connection) if self.config.fast else None
            self._on_open(connection)

        def on_open_error(_connection: Any, error: BaseException) -> None:
            self.last_error = describe(error)
            message = refusal(self.config, error)
            if message is not None:
                self.refuse(AccessRefused(message))
            message = certificate_rejection(self.config, error)
            if message is not None:
                self.refuse(CertificateRejected(message))
            self._ioloop.stop()

        def on_close(_connection: Any, reason: BaseException) -> None:
            self.connected = False
            self.last_error = describe(reason)
            if not self._closing.is_set():
                log.warning("mesobus: lost the connection to %s: %s", self.config.url, self.last_error)
            self._on_lost(self.last_error)
            self._ioloop.stop()

        self._connection = pika.SelectConnection(
            self._params,
            on_open_callback=guarded(on_open),
            on_open_error_callback=guarded(on_open_error),
            on_close_callback=guarded(on_close),
            custom_ioloop=self._ioloop,
        )
        try:
            self._loop_until_stopped()
        finally:
            self._connection = None
            self.reader = None
        if not opened:
            raise _NotConnected(self.last_error)

    def _loop_until_stopped(self) -> None:
        while True:
            try:
                self._ioloop.start()
                return
            except Exception as err:  # pika itself failed: drop this connection, reconnect
                log.exception("mesobus: the I/O loop failed")
                self.last_error = describe(err)
                connection = self._connection
                if connection is None or connection.is_closed:
                    return
                try:
                    connection.close(320, f"mesobus I/O loop failed: {err}")
                except Exception:
                    return

    def _close_connection(self) -> None:
        connection = self._connection
        if connection is not None and not (connection.is_closing or connection.is_closed):
            connection.close(200, "mesobus transport closed")
        elif connection is None:
            self._ioloop.stop()
