"""Child-process actors for the multi-process and chaos tests (run from the project root).

    python -m tests.support.peer echo      --url U --address P.b
    python -m tests.support.peer sender    --url U --address P.a --target P.b --count 10000
    python -m tests.support.peer worker    --url U --address P.w --out FILE [--delay 0.001]
    python -m tests.support.peer publisher --url U --target P.w --count 2000 [--interval 0.001]

Each prints `ready` once its actor consumes (or, for the publisher, once connected), and
one `result {json}` line at the end. `echo` and `worker` run until stdin closes.
`worker` appends `<seq> <redelivered 0|1>` to FILE after handling each probe, unbuffered,
so the lines survive a SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from typing import Any

from actors.runtime import Actor, Delivery, on
from messages import Envelope
from rabbitmq import AmqpTransport
from tests.support.probe import TransportProbe


class OrderCheck:
    """Counts probes and checks that each sender's sequence numbers arrive in order."""

    def __init__(self) -> None:
        self.count = 0
        self.last: dict[str, int] = {}
        self.out_of_order: list[tuple[str, int, int]] = []

    def see(self, sender: str, seq: int) -> None:
        self.count += 1
        previous = self.last.get(sender, -1)
        if seq != previous + 1 and len(self.out_of_order) < 20:
            self.out_of_order.append((sender, previous, seq))
        self.last[sender] = seq

    def summary(self) -> dict[str, Any]:
        return {"received": self.count, "last": self.last, "out_of_order": self.out_of_order}


class Echo(Actor):
    """Answers every probe with the same probe."""

    def __init__(self, address: str, transport: AmqpTransport) -> None:
        super().__init__(address, transport)
        self.check = OrderCheck()

    @on(TransportProbe)
    def probe(self, msg: TransportProbe) -> None:
        self.check.see(self.envelope.sender, msg.seq)
        self.reply(msg)


class Sender(Actor):
    """Sends `count` probes to a target and counts the answers."""

    def __init__(self, address: str, transport: AmqpTransport, expect: int) -> None:
        super().__init__(address, transport)
        self.check = OrderCheck()
        self.expect = expect
        self.done = threading.Event()

    def blast(self, target: str, count: int) -> None:
        for seq in range(count):
            self.send(target, TransportProbe(seq=seq))

    @on(TransportProbe)
    def answer(self, msg: TransportProbe) -> None:
        self.check.see(self.envelope.sender, msg.seq)
        if self.check.count >= self.expect:
            self.done.set()


class Worker(Actor):
    """Records every handled probe in a file (the record of what was finished)."""

    def __init__(self, address: str, transport: AmqpTransport, out: str, delay: float) -> None:
        super().__init__(address, transport)
        self.fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.delay = delay
        self.redelivered = False

    def receive(self, delivery: Delivery) -> None:
        self.redelivered = delivery.redelivered
        super().receive(delivery)

    @on(TransportProbe)
    def probe(self, msg: TransportProbe) -> None:
        if self.delay:
            time.sleep(self.delay)  # simulated work, so that a kill lands mid-stream
        os.write(self.fd, f"{msg.seq} {int(self.redelivered)}\n".encode())


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peer")
    parser.add_argument("role", choices=["echo", "sender", "worker", "publisher"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--address", default="")
    parser.add_argument("--target", default="")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--out", default="")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--send-timeout", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s peer %(levelname)s %(name)s: %(message)s")

    transport = AmqpTransport(args.url, send_timeout=args.send_timeout)
    result: dict[str, Any] = {"role": args.role}
    if args.role == "publisher":
        result.update(publish(transport, args))
    else:
        if args.role == "echo":
            ref = Echo.start(args.address, transport)
        elif args.role == "worker":
            ref = Worker.start(args.address, transport, args.out, args.delay)
        else:
            ref = Sender.start(args.address, transport, args.count)
        ref.ask("started?")  # returns once on_start (the subscription) is done
        say("ready")
        if args.role == "sender":
            sys.stdin.readline()  # "go": the other side is ready
            started = time.monotonic()
            proxy = ref.proxy()
            proxy.blast(args.target, args.count)
            result["complete"] = proxy.done.get().wait(args.timeout)
            result["seconds"] = round(time.monotonic() - started, 3)
        else:
            sys.stdin.read()  # until the test closes our stdin
        transport.flush(30)
        result.update(ref.proxy().check.get().summary() if args.role != "worker" else {})
        ref.stop()
    result["stats"] = transport.stats()
    transport.close()
    say("result " + json.dumps(result))
    return 0


def publish(transport: AmqpTransport, args: argparse.Namespace) -> dict[str, Any]:
    say("ready")
    sender = f"{args.target}.publisher"
    started = time.monotonic()
    for seq in range(args.count):
        envelope = Envelope(id=f"{sender}-{seq}", sender=sender, target=args.target, body=TransportProbe(seq=seq))
        transport.publish(envelope)
        if args.interval:
            time.sleep(args.interval)
    transport.flush(args.send_timeout)
    return {"published": args.count, "seconds": round(time.monotonic() - started, 3)}


if __name__ == "__main__":
    sys.exit(main())
