"""The child processes of tests/benchmarks/transport.py, one role each.

    python tests/support/bench_roles.py raw-consumer --url U --address A --count N ...

Every role prints `ready` when it can start and `result {json}` when done. Raw roles use
pika directly (SelectConnection, everything on the I/O loop, tuned for speed); the others
use AmqpTransport and actors. Queues are declared alike (rabbitmq.topology.mailbox).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pika  # noqa: E402

from actors.runtime import Actor, on  # noqa: E402
from messages import Envelope, encode  # noqa: E402
from rabbitmq import AmqpTransport  # noqa: E402
from rabbitmq import parse_url, topology  # noqa: E402
from rabbitmq.connection import connection_parameters  # noqa: E402
from tests.support.probe import TransportProbe  # noqa: E402

PERSISTENT = pika.BasicProperties(delivery_mode=2)
WINDOW = 20_000  # unconfirmed messages in flight, as the transport's max_inflight


def say(tag: str, payload: dict[str, Any] | None = None) -> None:
    sys.stdout.write(tag + ("" if payload is None else " " + json.dumps(payload)) + "\n")
    sys.stdout.flush()


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


def _parameters(url: str) -> pika.ConnectionParameters:
    """Raw pika's connection to `url`: the same parameters (TLS context included) as the
    transport's, so that amqps:// compares like with like."""
    return connection_parameters(parse_url(url))


def sample_body(address: str, seq: int = 0) -> bytes:
    """The bytes the transport sends for one probe (raw roles send the same size)."""
    return encode(Envelope(id=f"bench-{seq}", sender="bench.publisher", target=address, body=TransportProbe(seq=seq)))


def declare(url: str, address: str, queue_type: str, *, durable: bool = True) -> str:
    spec = topology.mailbox(address, durable=durable, queue_type=queue_type)
    connection = pika.BlockingConnection(_parameters(url))
    channel = connection.channel()
    channel.exchange_declare(topology.EXCHANGE, "topic", durable=True)
    channel.queue_declare(spec.queue, durable=True, arguments=spec.arguments)
    channel.queue_bind(spec.queue, topology.EXCHANGE, routing_key=address)
    connection.close()
    return spec.queue


def delete_queues(url: str, addresses: list[str]) -> None:
    connection = pika.BlockingConnection(_parameters(url))
    channel = connection.channel()
    for address in addresses:
        channel.queue_delete(topology.queue_name(address))
    connection.close()


def run_select(url: str, on_channel: Callable[[Any, Any], None]) -> None:
    """Open a SelectConnection and one channel, call `on_channel(connection, channel)`,
    run the loop until the connection closes."""

    def opened(connection: Any) -> None:
        connection.channel(on_open_callback=lambda channel: on_channel(connection, channel))

    connection = pika.SelectConnection(
        _parameters(url),
        on_open_callback=opened,
        on_open_error_callback=lambda _c, err: sys.exit(f"cannot connect: {err}"),
        on_close_callback=lambda c, _reason: c.ioloop.stop(),
    )
    connection.ioloop.start()


# --- throughput: raw pika ---------------------------------------------------------------


def raw_consumer(args: argparse.Namespace) -> None:
    queue = declare(args.url, args.address, args.queue_type)
    ack_every = max(1, args.prefetch // 4)
    state = {"n": 0}

    def on_channel(connection: Any, channel: Any) -> None:
        def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
            state["n"] += 1
            n = state["n"]
            if n % ack_every == 0 or n == args.count:
                ch.basic_ack(method.delivery_tag, multiple=True)
            if n == args.count:
                say("result", {"last": time.time(), "cpu": cpu()})
                connection.close()

        channel.basic_qos(
            prefetch_count=args.prefetch,
            callback=lambda _f: channel.basic_consume(queue, on_message, callback=lambda _f: say("ready")),
        )

    run_select(args.url, on_channel)


def raw_publisher(args: argparse.Namespace) -> None:
    body = sample_body(args.address)
    state = {"published": 0, "confirmed": 0, "start": 0.0, "pumping": False}

    def on_channel(connection: Any, channel: Any) -> None:
        def pump() -> None:
            state["pumping"] = False
            limit = min(args.count, state["confirmed"] + WINDOW, state["published"] + 1000)
            while state["published"] < limit:
                channel.basic_publish(topology.EXCHANGE, args.address, body, PERSISTENT, True)
                state["published"] += 1
            if state["published"] < min(args.count, state["confirmed"] + WINDOW):
                state["pumping"] = True
                connection.ioloop.add_callback_threadsafe(pump)  # let the loop write and read

        def on_confirm(frame: Any) -> None:
            state["confirmed"] = frame.method.delivery_tag  # acks only; in order
            if state["confirmed"] >= args.count:
                say("result", {"start": state["start"], "confirmed": time.time(), "cpu": cpu()})
                connection.close()
            elif not state["pumping"] and state["published"] < args.count:
                pump()

        def start(_frame: Any) -> None:
            state["start"] = time.time()
            pump()

        channel.confirm_delivery(on_confirm, callback=start)

    run_select(args.url, on_channel)


# --- throughput: the transport ----------------------------------------------------------


class Sink(Actor):
    """Handles probes doing nothing but count them."""

    def __init__(self, address: str, transport: AmqpTransport, count: int) -> None:
        super().__init__(address, transport)
        self.count = count
        self.n = 0
        self.last = 0.0
        self.done = threading.Event()

    @on(TransportProbe)
    def probe(self, msg: TransportProbe) -> None:
        self.n += 1
        if self.n == self.count:
            self.last = time.time()
            self.done.set()


def mailbox_consumer(args: argparse.Namespace) -> None:
    transport = AmqpTransport(args.url, prefetch=args.prefetch, queue_type=args.queue_type)
    ref = Sink.start(args.address, transport, args.count)
    ref.ask("started?")
    sink = ref.proxy()
    done = sink.done.get()
    say("ready")
    done.wait()
    say("result", {"last": sink.last.get(), "cpu": cpu()})
    ref.stop()
    transport.close()


def mailbox_publisher(args: argparse.Namespace) -> None:
    transport = AmqpTransport(args.url, queue_type=args.queue_type)
    while not transport.connected:
        time.sleep(0.01)
    publish, target = transport.publish, args.address
    start = time.time()
    for seq in range(args.count):
        publish(Envelope(id=f"bench-{seq}", sender="bench.publisher", target=target, body=TransportProbe(seq=seq)))
    transport.flush(300)
    say("result", {"start": start, "confirmed": time.time(), "cpu": cpu()})
    transport.close()


# --- latency ------------------------------------------------------------------------------


def raw_server(args: argparse.Namespace) -> None:
    queue = declare(args.url, args.address, args.queue_type)

    def on_channel(connection: Any, channel: Any) -> None:
        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            ch.basic_publish(topology.EXCHANGE, props.reply_to, body, PERSISTENT, True)
            ch.basic_ack(method.delivery_tag)

        channel.confirm_delivery(
            lambda _f: None,
            callback=lambda _f: channel.basic_qos(
                prefetch_count=args.prefetch,
                callback=lambda _f: channel.basic_consume(queue, on_message, callback=lambda _f: say("ready")),
            ),
        )

    run_select(args.url, on_channel)


def raw_client(args: argparse.Namespace) -> None:
    reply_address = f"{args.address}-reply-{os.getpid()}"
    body = sample_body(args.address)
    props = pika.BasicProperties(delivery_mode=2, reply_to=reply_address)
    rtts: list[int] = []
    state = {"t0": 0.0}

    def on_channel(connection: Any, channel: Any) -> None:
        spec = topology.mailbox(reply_address, durable=False)

        def ping() -> None:
            state["t0"] = time.perf_counter()
            channel.basic_publish(topology.EXCHANGE, args.address, body, props, True)

        def on_reply(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
            rtts.append(int((time.perf_counter() - state["t0"]) * 1e6))
            ch.basic_ack(method.delivery_tag)
            if len(rtts) < args.count:
                ping()
            else:
                say("result", {"rtt_us": rtts, "cpu": cpu()})
                connection.close()

        def consume(_frame: Any) -> None:
            channel.basic_consume(spec.queue, on_reply, callback=lambda _f: ping())

        channel.confirm_delivery(
            lambda _f: None,
            callback=lambda _f: topology.declare_mailbox(channel, reply_address, spec, lambda: consume(None)),
        )

    run_select(args.url, on_channel)


class Echo(Actor):
    @on(TransportProbe)
    def probe(self, msg: TransportProbe) -> None:
        self.reply(msg)


def ask_server(args: argparse.Namespace) -> None:
    transport = AmqpTransport(args.url, prefetch=args.prefetch, queue_type=args.queue_type)
    ref = Echo.start(args.address, transport)
    ref.ask("started?")
    say("ready")
    try:
        threading.Event().wait()  # until terminated
    finally:
        transport.close()


def ask_client(args: argparse.Namespace) -> None:
    transport = AmqpTransport(args.url, queue_type=args.queue_type)
    rtts: list[int] = []
    for seq in range(args.count):
        envelope = Envelope(id=f"ask-{seq}", sender="", target=args.address, body=TransportProbe(seq=seq))
        t0 = time.perf_counter()
        transport.ask(envelope, timeout=10).result()
        rtts.append(int((time.perf_counter() - t0) * 1e6))
    say("result", {"rtt_us": rtts, "cpu": cpu()})
    transport.close()


ROLES = {
    "raw-consumer": raw_consumer, "raw-publisher": raw_publisher,
    "mailbox-consumer": mailbox_consumer, "mailbox-publisher": mailbox_publisher,
    "raw-server": raw_server, "raw-client": raw_client,
    "ask-server": ask_server, "ask-client": ask_client,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--url", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--prefetch", type=int, default=1000)
    parser.add_argument("--queue-type", default="classic")
    args = parser.parse_args()
    ROLES[args.role](args)


if __name__ == "__main__":
    main()
