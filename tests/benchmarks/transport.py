"""Throughput and latency of the AMQP transport against raw pika, on the same broker.

    python tests/benchmarks/transport.py [--messages 50000] [--queue-type classic|quorum]

Throughput: a publisher process and a consumer process, persistent messages, publisher
confirms without a round trip per message, prefetch and batched acks, same message
bytes. Raw: pika SelectConnection in both. Mailbox: `AmqpTransport.publish` in one
process, an `Actor` with a no-op handler in the other. Rate = messages / (time from the
first publish to the last message handled). Each side runs --repeat times, alternating
(the shared broker is noisy), and the median run counts; likewise for latency.

Latency: ping-pong, one message in flight. Raw: pika SelectConnection on both sides, the
client publishing from its I/O loop. Ask: `transport.ask(...).result()` against an Actor
that replies. Reported as p50/p99 in microseconds.

TLS: the same throughput comparison over amqps:// on a private broker node with a TLS
listener (certificates made on the spot, peer verification on; tests/support/broker_node.py),
raw pika and the mailbox both over TLS, printed beside the plaintext ratio (--skip-tls
leaves it out).

Prints human lines, then one JSON object on the last line (raw_rate, mailbox_rate, ratio,
raw_rtt_p50_us, ask_rtt_p50_us, ...). Not a test: no assertions, exit status 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support import bench_roles as roles  # noqa: E402


def child(role: str, args: argparse.Namespace, **extra: Any) -> subprocess.Popen:
    options = {"url": args.url, "queue-type": args.queue_type, "prefetch": args.prefetch, **extra}
    argv = [sys.executable, str(Path(roles.__file__)), role]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    return subprocess.Popen(argv, cwd=ROOT, text=True, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def expect(process: subprocess.Popen, prefix: str, timeout: float = 300) -> dict[str, Any]:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            rest = line[len(prefix):].strip()
            return json.loads(rest) if rest else {}
    process.wait(timeout)
    raise SystemExit(f"benchmark child {process.args[2]} exited ({process.returncode}) without {prefix!r}")


def throughput(kind: str, args: argparse.Namespace, queue_address: str) -> dict[str, Any]:
    consumer = child(f"{kind}-consumer", args, address=queue_address, count=args.messages)
    expect(consumer, "ready")
    publisher = child(f"{kind}-publisher", args, address=queue_address, count=args.messages)
    sent = expect(publisher, "result")
    got = expect(consumer, "result")
    publisher.wait(60)
    consumer.wait(60)
    seconds = got["last"] - sent["start"]
    return {
        "rate": args.messages / seconds,
        "seconds": seconds,
        "publish_rate": args.messages / (sent["confirmed"] - sent["start"]),
        "cpu": {"publisher": sent["cpu"], "consumer": got["cpu"]},
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda run: run["rate"])[len(runs) // 2]


def rates(runs: list[dict[str, Any]]) -> str:
    return "[" + ", ".join(f"{run['rate']:.0f}" for run in runs) + "]"


def median_p50(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda run: run["p50"])[len(runs) // 2]


def p50s(runs: list[dict[str, Any]]) -> str:
    return "[" + ", ".join(f"{run['p50']:.0f}" for run in runs) + "]"


def latency(kind: str, args: argparse.Namespace, address: str) -> dict[str, Any]:
    server = child(f"{kind}-server", args, address=address)
    expect(server, "ready")
    client = child(f"{kind}-client", args, address=address, count=args.rounds)
    result = expect(client, "result")
    client.wait(60)
    server.terminate()
    server.wait(30)
    samples = sorted(result["rtt_us"][args.rounds // 10:])  # drop the warm-up tenth
    return {
        "p50": statistics.median(samples),
        "p99": samples[int(len(samples) * 0.99) - 1],
        "mean": statistics.fmean(samples),
    }


def tls_throughput(args: argparse.Namespace, run: str) -> dict[str, Any]:
    """Raw pika vs the mailbox, both over amqps:// to a private node (alternating)."""
    from tests.support.broker_node import broker_node

    with broker_node(tls=True) as node:
        tls_args = argparse.Namespace(**{**vars(args), "url": node.tls_url})
        raws, boxes = [], []
        for _ in range(args.repeat):
            raws.append(throughput("raw", tls_args, f"{run}.tlsraw"))
            boxes.append(throughput("mailbox", tls_args, f"{run}.tlsmailbox"))
    raw, box = median_run(raws), median_run(boxes)
    ratio = box["rate"] / raw["rate"]
    print(f"  amqps:// (private node, TLS, peer verified): raw pika {raw['rate']:9.0f} msg/s median of {rates(raws)}")
    print(f"  amqps://                                    mailbox  {box['rate']:9.0f} msg/s median of {rates(boxes)}")
    print(f"  amqps:// ratio mailbox/raw = {ratio:.2f}  (goal >= 0.85)")
    return {"tls_raw_rate": round(raw["rate"]), "tls_mailbox_rate": round(box["rate"]), "tls_ratio": round(ratio, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("MESOBUS_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2_000, help="ping-pong round trips per side")
    parser.add_argument("--queue-type", choices=["classic", "quorum"], default="classic")
    parser.add_argument("--prefetch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="throughput and latency runs per side (median)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-tls", action="store_true", help="no amqps:// comparison")
    args = parser.parse_args()

    run = f"bench-{os.getpid()}-{os.urandom(2).hex()}"
    addresses = [f"{run}.raw", f"{run}.mailbox", f"{run}.rawpong", f"{run}.echo"]
    print(f"transport benchmark: {args.messages} messages, {args.queue_type} queues, prefetch {args.prefetch}, broker {args.url.split('@')[-1]}")
    try:
        raws, boxes = [], []
        for _ in range(args.repeat):  # alternate, so that drift on a shared broker hits both
            raws.append(throughput("raw", args, addresses[0]))
            boxes.append(throughput("mailbox", args, addresses[1]))
        raw, box = median_run(raws), median_run(boxes)
        ratio = box["rate"] / raw["rate"]
        print(f"  raw pika      {raw['rate']:9.0f} msg/s  median of {rates(raws)}; cpu s {raw['cpu']}")
        print(f"  actor mailbox {box['rate']:9.0f} msg/s  median of {rates(boxes)}; cpu s {box['cpu']}")
        print(f"  ratio mailbox/raw = {ratio:.2f}  (goal >= 0.85)")
        summary: dict[str, Any] = {
            "messages": args.messages, "queue_type": args.queue_type, "prefetch": args.prefetch,
            "repeat": args.repeat,
            "raw_rate": round(raw["rate"]), "mailbox_rate": round(box["rate"]), "ratio": round(ratio, 3),
        }
        if not args.skip_latency:
            raw_rtts, ask_rtts = [], []
            for _ in range(args.repeat):  # alternating too: one run alone may hit a noisy spell
                raw_rtts.append(latency("raw", args, addresses[2]))
                ask_rtts.append(latency("ask", args, addresses[3]))
            raw_rtt, ask_rtt = median_p50(raw_rtts), median_p50(ask_rtts)
            rtt_ratio = ask_rtt["p50"] / raw_rtt["p50"]
            print(f"  raw ping-pong  p50 {raw_rtt['p50']:7.0f} us  p99 {raw_rtt['p99']:7.0f} us  median of {p50s(raw_rtts)}")
            print(f"  actor ask      p50 {ask_rtt['p50']:7.0f} us  p99 {ask_rtt['p99']:7.0f} us  median of {p50s(ask_rtts)}")
            print(f"  ratio ask/raw p50 = {rtt_ratio:.2f}  (goal <= 1.3)")
            summary.update(
                raw_rtt_p50_us=round(raw_rtt["p50"]), raw_rtt_p99_us=round(raw_rtt["p99"]),
                ask_rtt_p50_us=round(ask_rtt["p50"]), ask_rtt_p99_us=round(ask_rtt["p99"]),
                rtt_ratio=round(rtt_ratio, 3),
            )
        if not args.skip_tls:
            summary.update(tls_throughput(args, run))
    finally:
        roles.delete_queues(args.url, addresses)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
