"""The RabbitMQ transport: each actor's mailbox is a durable queue on the `mesobus` exchange.

    from rabbitmq import AmqpTransport
    transport = AmqpTransport("amqp://guest:guest@127.0.0.1:5672/%2F")

pika stays inside this package; callers see `TransportError` (and `ConfigError`, a
subclass, for a bad URL or option). See docs/transport.md.
"""

from actors.runtime.transport import AccessRefused, TransportError
from rabbitmq.config import BrokerConfig, ConfigError, parse_url
from rabbitmq.connection import CertificateRejected
from rabbitmq.frames import Unpublishable
from rabbitmq.transport import AmqpTransport

__all__ = [
    "AccessRefused", "AmqpTransport", "BrokerConfig", "CertificateRejected", "ConfigError", "TransportError",
    "Unpublishable", "parse_url",
]
