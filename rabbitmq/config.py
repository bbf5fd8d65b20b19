"""Broker settings from an `amqp://` or `amqps://` URL, validated once, up front.

>>> cfg = parse_url("amqp://guest:guest@127.0.0.1:5672/%2F?prefetch=200&heartbeat=15")
>>> cfg.host, cfg.port, cfg.vhost, cfg.prefetch, cfg.heartbeat, cfg.queue_type
('127.0.0.1', 5672, '/', 200, 15, 'classic')
>>> parse_url("amqp://h/?prefetch=0")
Traceback (most recent call last):
...
rabbitmq.config.ConfigError: amqp://h/: prefetch must be between 1 and 65535, got '0'

Keyword arguments override the URL (`AmqpTransport(url, prefetch=...)` uses this):

>>> parse_url("amqp://h", queue_type="quorum").queue_type
'quorum'

Query options (all optional): heartbeat, blocked_connection_timeout, connection_timeout,
prefetch, queue_type, send_timeout, max_inflight, ack_batch, ack_interval,
reconnect_max_delay, name, max_message_bytes, fast, journal; TLS (amqps:// only): cafile, certfile, keyfile, server_name,
verify. Unknown options are errors, so a typo never silently becomes a default.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field, replace
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from actors.runtime.transport import TransportError

QUEUE_TYPES = ("classic", "quorum")
FAST_ENV = "MESOBUS_TRANSPORT_FAST"


class ConfigError(TransportError, ValueError):
    """A broker URL or option that makes no sense; names the option and the bad value."""


@dataclass(frozen=True)
class BrokerConfig:
    """Everything the transport needs to reach the broker and how to behave on it."""

    host: str = "127.0.0.1"
    port: int = 5672
    vhost: str = "/"
    username: str = "guest"
    password: str = field(default="guest", repr=False)
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    server_name: str | None = None  # TLS SNI / hostname check; defaults to host
    heartbeat: int = 30  # seconds; 0 turns heartbeats off
    blocked_connection_timeout: float = 60.0  # drop and reconnect if blocked this long
    connection_timeout: float = 10.0
    prefetch: int = 1000  # unacked deliveries per consumer (basic_qos)
    queue_type: str = "classic"  # for actor mailboxes; reply mailboxes are always classic
    send_timeout: float = 30.0  # how long publish()/subscribe() wait out an outage
    max_inflight: int = 20_000  # unconfirmed publishes before publish() waits
    ack_batch: int = 0  # acks per basic_ack(multiple=True); 0 = a quarter of prefetch
    ack_interval: float = 0.005  # seconds before settlements from other threads are picked up
    reconnect_max_delay: float = 5.0  # cap of the jittered exponential backoff
    name: str = "mesobus"  # shown as the connection name in the management UI
    journal: bool = True  # False: this process sends no journal copies or records at all
    max_message_bytes: int = 128 * 2**20  # RabbitMQ's default max_message_size: bigger is refused
    # False: pika's public API only (no PublishFrames, DeliveryReader, send_output); the
    # URL's `fast` wins over the environment's MESOBUS_TRANSPORT_FAST (CI runs both ways).
    fast: bool = field(default_factory=lambda: _flag(FAST_ENV, os.environ.get(FAST_ENV, "1")))

    @property
    def url(self) -> str:
        """The URL without the password, for messages and logs."""
        scheme = "amqps" if self.tls is not None else "amqp"
        vhost = "%2F" if self.vhost == "/" else self.vhost
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{vhost}"

    @property
    def effective_ack_batch(self) -> int:
        return self.ack_batch or max(1, self.prefetch // 4)


def _int(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer, got {value!r}") from None
        if isinstance(value, bool) or not low <= number <= high:
            raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
        return number

    return check


def _seconds(low: float, high: float, *, open_low: bool = False) -> Callable[[str, Any], float]:
    def check(name: str, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
        too_low = number <= low if open_low else number < low
        if too_low or number > high or number != number:  # NaN fails every comparison
            bound = f"more than {low}" if open_low else f"at least {low}"
            raise ValueError(f"{name} must be {bound} and at most {high} seconds, got {value!r}")
        return number

    return check


def _choice(*choices: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    return check


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


_OPTIONS: dict[str, Callable[[str, Any], Any]] = {
    "heartbeat": _int(0, 3600),
    "blocked_connection_timeout": _seconds(0, 86400, open_low=True),
    "connection_timeout": _seconds(0, 3600, open_low=True),
    "prefetch": _int(1, 65535),
    "queue_type": _choice(*QUEUE_TYPES),
    "send_timeout": _seconds(0, 86400, open_low=True),
    "max_inflight": _int(1, 10_000_000),
    "ack_batch": _int(0, 65535),
    "ack_interval": _seconds(0, 10),
    "reconnect_max_delay": _seconds(0, 3600, open_low=True),
    "name": _text,
    "server_name": _text,
    "max_message_bytes": _int(1, 512 * 2**20),  # RabbitMQ's hard limit is 512 MiB
    "fast": _flag,
    "journal": _flag,
}
_TLS_OPTIONS: dict[str, Callable[[str, Any], Any]] = {
    "cafile": _text,
    "certfile": _text,
    "keyfile": _text,
    "verify": _flag,
}


def parse_url(url: str, **overrides: Any) -> BrokerConfig:
    """Parse and validate a broker URL; keyword arguments (not None) override its query.

    Raises ConfigError naming the URL (without password), the option and the bad value.
    """
    try:
        return _parse(url, {k: v for k, v in overrides.items() if v is not None})
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{_redact(url)}: {err}") from None


def _parse(url: str, overrides: dict[str, Any]) -> BrokerConfig:
    if not isinstance(url, str):
        raise ValueError(f"the broker URL must be a string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise ValueError(f"the scheme must be amqp:// or amqps://, got {parts.scheme or 'none'!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {parts.netloc!r}") from None
    if parts.fragment:
        raise ValueError("a broker URL has no #fragment")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    vhost = unquote(path) if path else "/"
    options: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if key in options:
            raise ValueError(f"option {key} given twice")
        options[key] = value
    options.update(overrides)
    unknown = sorted(set(options) - set(_OPTIONS) - set(_TLS_OPTIONS))
    if unknown:
        known = ", ".join(sorted(_OPTIONS) + sorted(_TLS_OPTIONS))
        raise ValueError(f"unknown option {', '.join(unknown)} (known: {known})")
    values = {name: _OPTIONS[name](name, options[name]) for name in _OPTIONS if name in options}
    tls_values = {name: _TLS_OPTIONS[name](name, options[name]) for name in _TLS_OPTIONS if name in options}
    secure = parts.scheme == "amqps"
    if tls_values and not secure:
        raise ValueError(f"TLS options ({', '.join(sorted(tls_values))}) need an amqps:// URL")
    host = parts.hostname or "127.0.0.1"
    config = BrokerConfig(
        host=host,
        port=port or (5671 if secure else 5672),
        vhost=vhost,
        username=unquote(parts.username) if parts.username is not None else "guest",
        password=unquote(parts.password) if parts.password is not None else "guest",
        tls=_tls_context(**tls_values) if secure else None,
        **values,
    )
    if config.ack_batch > config.prefetch:
        raise ValueError(f"ack_batch ({config.ack_batch}) must not exceed prefetch ({config.prefetch})")
    return config


def _tls_context(
    cafile: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client TLS context: system CAs (or `cafile`), optional client certificate."""
    if keyfile and not certfile:
        raise ValueError("keyfile needs certfile")
    try:
        context = ssl.create_default_context(cafile=cafile)
        if certfile:
            context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as err:
        raise ValueError(f"cannot load TLS files: {err}") from None
    if not verify:  # for a test broker with a self-signed certificate only
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _redact(url: Any) -> str:
    """The URL with its password and query removed, for error messages."""
    if not isinstance(url, str):
        return repr(url)
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        return f"{parts.scheme}://{netloc}{parts.path or '/'}"
    except ValueError:
        return url.split("?", 1)[0].split("@")[-1]


def with_options(config: BrokerConfig, **changes: Any) -> BrokerConfig:
    """A copy of `config` with validated changes (unknown names or bad values raise)."""
    unknown = sorted(set(changes) - set(_OPTIONS))
    if unknown:
        raise ConfigError(f"{config.url}: unknown option {', '.join(unknown)}")
    try:
        checked = {k: _OPTIONS[k](k, v) for k, v in changes.items() if v is not None}
    except ValueError as err:
        raise ConfigError(f"{config.url}: {err}") from None
    return replace(config, **checked)


