"""Broker URLs and options: parsed once, and a bad value says which and why."""

from __future__ import annotations

import ssl

import pytest

from actors.runtime import TransportError
from rabbitmq import BrokerConfig, ConfigError, parse_url
from rabbitmq.config import with_options
from rabbitmq.topology import check_address, mailbox, queue_arguments


def test_a_plain_url_gives_the_defaults() -> None:
    cfg = parse_url("amqp://guest:guest@127.0.0.1:5672/%2F")
    assert (cfg.host, cfg.port, cfg.vhost, cfg.username, cfg.password) == ("127.0.0.1", 5672, "/", "guest", "guest")
    assert cfg.tls is None
    assert cfg.queue_type == "classic"
    assert cfg.prefetch == BrokerConfig().prefetch
    assert cfg.effective_ack_batch == cfg.prefetch // 4


def test_query_options_are_parsed_and_typed() -> None:
    cfg = parse_url(
        "amqp://u:p@broker:5673/prod?heartbeat=10&blocked_connection_timeout=2.5&prefetch=50"
        "&queue_type=quorum&send_timeout=4&ack_batch=10&ack_interval=0.02&name=agent-7"
    )
    assert (cfg.host, cfg.port, cfg.vhost) == ("broker", 5673, "prod")
    assert (cfg.heartbeat, cfg.blocked_connection_timeout, cfg.prefetch) == (10, 2.5, 50)
    assert (cfg.queue_type, cfg.send_timeout, cfg.ack_batch, cfg.ack_interval) == ("quorum", 4.0, 10, 0.02)
    assert cfg.name == "agent-7"


def test_user_password_and_vhost_are_percent_decoded() -> None:
    cfg = parse_url("amqp://us%40er:p%3Ass@h/my%2Fvhost")
    assert (cfg.username, cfg.password, cfg.vhost) == ("us@er", "p:ss", "my/vhost")


def test_keyword_overrides_win_over_the_url_and_none_means_keep() -> None:
    cfg = parse_url("amqp://h/?prefetch=10", prefetch=20, queue_type=None)
    assert (cfg.prefetch, cfg.queue_type) == (20, "classic")


def test_amqps_defaults_to_port_5671_and_a_verifying_tls_context() -> None:
    cfg = parse_url("amqps://broker.example/")
    assert cfg.port == 5671
    assert isinstance(cfg.tls, ssl.SSLContext)
    assert cfg.tls.verify_mode == ssl.CERT_REQUIRED and cfg.tls.check_hostname
    assert cfg.url.startswith("amqps://guest@broker.example:5671/")


def test_amqps_verify_false_turns_checking_off() -> None:
    cfg = parse_url("amqps://h/?verify=false&server_name=rabbit.internal")
    assert cfg.tls.verify_mode == ssl.CERT_NONE and not cfg.tls.check_hostname
    assert cfg.server_name == "rabbit.internal"


@pytest.mark.parametrize(
    "url, message",
    [
        ("amqp://h/?prefetch=0", "prefetch must be between 1 and 65535, got '0'"),
        ("amqp://h/?prefetch=lots", "prefetch must be an integer, got 'lots'"),
        ("amqp://h/?heartbeat=-1", "heartbeat must be between 0 and 3600"),
        ("amqp://h/?queue_type=stream", "queue_type must be one of classic, quorum, got 'stream'"),
        ("amqp://h/?send_timeout=0", "send_timeout must be more than 0"),
        ("amqp://h/?ack_interval=soon", "ack_interval must be a number of seconds, got 'soon'"),
        ("amqp://h/?prefecth=10", "unknown option prefecth"),
        ("amqp://h/?prefetch=1&prefetch=2", "option prefetch given twice"),
        ("amqp://h/?prefetch=10&ack_batch=20", "ack_batch (20) must not exceed prefetch (10)"),
        ("amqp://h/?cafile=/etc/ca.pem", "TLS options (cafile) need an amqps:// URL"),
        ("amqps://h/?cafile=/nonexistent/ca.pem", "cannot load TLS files"),
        ("amqps://h/?verify=maybe", "verify must be true or false, got 'maybe'"),
        ("http://h/", "the scheme must be amqp:// or amqps://, got 'http'"),
        ("amqp://h:notaport/", "bad port"),
    ],
)
def test_a_bad_value_names_the_option_and_the_value(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url(url)
    assert message in str(caught.value)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url("amqp://user:s3cret@h/?prefetch=0")
    assert "s3cret" not in str(caught.value)
    assert "user@h" in str(caught.value)


def test_a_config_error_is_a_transport_error_and_a_value_error() -> None:
    with pytest.raises(TransportError):
        parse_url("amqp://h/?prefetch=0")
    with pytest.raises(ValueError):
        parse_url("amqp://h/?prefetch=0")


def test_with_options_validates_like_the_url() -> None:
    cfg = parse_url("amqp://h/")
    assert with_options(cfg, prefetch=5).prefetch == 5
    with pytest.raises(ConfigError, match="queue_type must be one of"):
        with_options(cfg, queue_type="lazy")
    with pytest.raises(ConfigError, match="unknown option colour"):
        with_options(cfg, colour="blue")


def test_queue_arguments_come_from_one_place() -> None:
    assert queue_arguments("quorum") == {"x-queue-type": "quorum", "x-dead-letter-exchange": "mesobus.dlx"}
    reply = mailbox("reply.1", durable=False, queue_type="quorum")
    assert reply.arguments["x-queue-type"] == "classic"  # quorum queues cannot be exclusive
    assert (reply.durable, reply.exclusive, reply.auto_delete) == (False, True, True)


@pytest.mark.parametrize("address", ["", "agent.*", "a.#", "x" * 300])
def test_an_address_that_cannot_be_a_routing_key_is_refused(address: str) -> None:
    with pytest.raises(ValueError):
        check_address(address)
