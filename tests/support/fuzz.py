"""Malformed and forged messages for a master and an agent on a broker, and a run that
checks they survive them (tests/security/test_fuzz.py, tests/benchmarks/fuzz.py).

Every generated message must be dead-lettered with a reason: bytes that are not an
envelope, envelopes that do not validate (unknown or deeply nested types, wrong field
types, numbers too big to parse, oversized texts), and well-formed envelopes that claim to
come from someone they were not published by (no verified `user_id`: forged senders,
epochs, long addresses).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

import msgpack
import pika

from tests.support.cluster_framework import ROOT, ProcessCluster

Maker = Callable[[random.Random, str], bytes]  # (rng, target address) -> body


def _envelope(target: str, type_name: object, body: object, sender: str = "master", epoch: int = 0) -> bytes:
    return msgpack.packb({"v": 1, "y": type_name, "i": f"fz-{os.urandom(4).hex()}", "s": sender, "t": target,
                          "c": "", "k": "", "e": epoch, "a": 0.0, "b": body}, use_bin_type=True)


def junk(rng: random.Random, target: str) -> bytes:
    return rng.randbytes(rng.randint(0, 300))


def not_a_map(rng: random.Random, target: str) -> bytes:
    return msgpack.packb(rng.choice([[1, 2, 3], 7, "envelope", None, {1: 2}, [{"v": 1}]]))


def missing_fields(rng: random.Random, target: str) -> bytes:
    full = msgpack.unpackb(_envelope(target, "PingAgent", {"connected": True}))
    for key in rng.sample(sorted(full), rng.randint(1, 4)):
        full.pop(key)
    return msgpack.packb(full)


def bad_version(rng: random.Random, target: str) -> bytes:
    raw = msgpack.unpackb(_envelope(target, "PingAgent", {"connected": True}))
    raw["v"] = rng.choice([0, -1, "1", 1.5, None, True, 2**63])
    return msgpack.packb(raw)


def unknown_type(rng: random.Random, target: str) -> bytes:
    name = "".join(rng.choice("abcXYZé_") for _ in range(rng.randint(1, 300)))
    return _envelope(target, name, {})


def nested_type(rng: random.Random, target: str) -> bytes:
    depth = rng.choice([100, 1000, 5000])
    nested = b"\x91" * depth + b"\xc0"  # [[[...[nil]...]]]
    head = msgpack.packb({"v": 1})[:-0 or None]
    return b"\x82" + head[1:] + msgpack.packb("y") + nested  # {"v": 1, "y": nested}


def wrong_field_types(rng: random.Random, target: str) -> bytes:
    return _envelope(target, rng.choice(["PongAgent", "RegisterAgent", "StatusUpdate", "KillTask"]),
                     {"agent_id": rng.choice([1, [], {}, None, 2.5]), "framework_id": {"x": 1}})


def huge_number(rng: random.Random, target: str) -> bytes:
    digits = "9" * rng.choice([400, 5000])
    agent = {"hostname": "h", "resources": f"cpus:{digits}", "attributes": {}, "agent_id": "fz", "port": 0}
    return _envelope(target, "RegisterAgent", {"agent": agent, "version": ""}, sender="agent.fz")


def big_text(rng: random.Random, target: str) -> bytes:
    size = rng.choice([10_000, 100_000])
    agent = {"hostname": "h" * size, "resources": "cpus:1", "attributes": {}, "agent_id": "fz-" + "x" * size, "port": 0}
    return _envelope(target, "RegisterAgent", {"agent": agent, "version": ""}, sender="agent." + "y" * 300)


def forged(rng: random.Random, target: str) -> bytes:
    """Well-formed, but published with no verified user: refused by the sender checks."""
    long_id = "é" * 200
    choices = [
        ("PingAgent", {"connected": True}, "master", 2**62),
        ("ResourcesAllocated", {"allocations": [], "run": 0}, "allocator", 0),
        ("PongAgent", {"agent_id": long_id}, "agent." + long_id, 0),
        ("UnregisterAgent", {"agent_id": "fz"}, "agent.fz", 0),
        ("AgentPingTimer", {"agent_id": "fz", "generation": 1}, "master", 0),
    ]
    name, body, sender, epoch = rng.choice(choices)
    return _envelope(target, name, body, sender=sender, epoch=epoch)


MAKERS: list[tuple[Maker, int]] = [  # (maker, weight)
    (junk, 20), (not_a_map, 10), (missing_fields, 10), (bad_version, 10), (unknown_type, 10),
    (nested_type, 5), (wrong_field_types, 10), (huge_number, 5), (big_text, 1), (forged, 19),
]


def messages(count: int, targets: list[str], seed: int = 1):
    """(target, body) pairs: `count` bad messages spread over the makers and targets."""
    rng = random.Random(seed)
    makers, weights = zip(*MAKERS)
    for n in range(count):
        target = targets[n % len(targets)]
        yield target, rng.choices(makers, weights)[0](rng, target)


@dataclass
class FuzzResult:
    sent: int = 0
    dead_lettered: int = 0
    without_reason: int = 0
    seconds_to_send: float = 0.0
    seconds_to_settle: float = 0.0
    rss_mb: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (before, after)
    alive: dict[str, bool] = field(default_factory=dict)
    run_true_exit: int | None = None
    notes: list[str] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _agent_address(url: str, timeout: float = 30.0) -> str:
    vhost = unquote(urlparse(url).path[1:]) or "/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name"], capture_output=True,
                             text=True, timeout=60).stdout
        found = re.findall(r"^mesobus\.(agent\.\S+)$", out, re.M)
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("the agent's mailbox never appeared")


def run_fuzz(url: str, work: Path, count: int, *, settle_timeout: float = 120.0, seed: int = 1) -> FuzzResult:
    """Start a master and an agent on `url` (a private vhost), send `count` bad messages
    to them, and report what happened."""
    result = FuzzResult()
    cluster = ProcessCluster(url, work)
    try:
        master = cluster.start_master()
        agent = cluster.start_agent("h1")
        cluster.wait_ready()
        targets = ["master", _agent_address(url)]
        time.sleep(1.0)  # registered and settled: RSS from here
        before = {"master": rss_mb(master.pid), "agent": rss_mb(agent.pid)}
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        # Our own view of what the actors dead-letter (the shared queue may be bounded).
        watch = channel.queue_declare("", exclusive=True).method.queue
        for key in targets:
            channel.queue_bind(watch, "mesobus.dlx", key)
        started = time.monotonic()
        for target, body in messages(count, targets, seed):
            channel.basic_publish("mesobus", target, body)
            result.sent += 1
            if result.sent % 1000 == 0:
                connection.process_data_events(0)
        result.seconds_to_send = time.monotonic() - started
        deadline = time.monotonic() + settle_timeout
        while time.monotonic() < deadline:
            count_now = channel.queue_declare(watch, passive=True).method.message_count
            if count_now >= result.sent:
                break
            connection.sleep(0.25)
        result.seconds_to_settle = time.monotonic() - started
        while True:
            method, props, _ = channel.basic_get(watch, auto_ack=True)
            if method is None:
                break
            result.dead_lettered += 1
            if not (props.headers or {}).get("x-mesobus-reason"):
                result.without_reason += 1
        connection.close()
        result.alive = {"master": master.alive(), "agent": agent.alive()}
        after = {"master": rss_mb(master.pid) if master.alive() else 0.0,
                 "agent": rss_mb(agent.pid) if agent.alive() else 0.0}
        result.rss_mb = {name: (before[name], after[name]) for name in before}
        done = subprocess.run([sys.executable, "-m", "actors.cli.main", "run", "--broker", url, "--", "true"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        result.run_true_exit = done.returncode
        if done.returncode != 0:
            result.notes.append(done.stderr[-2000:])
        if not all(result.alive.values()):
            result.notes.append(cluster.logs())
    finally:
        cluster.stop()
    return result
