"""Malformed and forged messages for a master and an agent on a broker, and a run that
checks they survive them (tests/security/test_fuzz.py, tests/benchmarks/fuzz.py).

Every generated message must be dead-lettered with a reason: bytes that are not an
envelope, envelopes that do not validate (unknown or deeply nested types, wrong field
types, numbers too big to parse, oversized texts), and well-formed envelopes that claim to
come from someone they were not published by (no verified `user_id`: forged senders,
epochs, long addresses).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

import msgpack
import pika

from tests.support.cluster_framework import ROOT, ProcessCluster

QUEUE_PREFIX = "mesobus."  # a mailbox's queue is the prefix and its address

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


def forged(rng: random.Random, target: str, agent_id: str = "fz") -> bytes:
    """Well-formed, but published with no verified user: refused by the sender checks.

    Each names someone who exists: an UnregisterAgent for an agent id nobody registered is
    a harmless no-op the master handles (as Mesos ignores it), not a forgery, so it names
    the running agent (`agent_id`), whose id is bound to the agent's principal."""
    long_id = "é" * 200
    choices = [
        ("PingAgent", {"connected": True}, "master", 2**62),
        ("ResourcesAllocated", {"allocations": [], "run": 0}, "allocator", 0),
        ("PongAgent", {"agent_id": long_id}, "agent." + long_id, 0),
        ("UnregisterAgent", {"agent_id": agent_id}, "agent." + agent_id, 0),
        ("AgentPingTimer", {"agent_id": "fz", "generation": 1}, "master", 0),
    ]
    name, body, sender, epoch = rng.choice(choices)
    return _envelope(target, name, body, sender=sender, epoch=epoch)


MAKERS: list[tuple[Maker, int]] = [  # (maker, weight)
    (junk, 20), (not_a_map, 10), (missing_fields, 10), (bad_version, 10), (unknown_type, 10),
    (nested_type, 5), (wrong_field_types, 10), (huge_number, 5), (big_text, 1), (forged, 19),
]


def messages(count: int, targets: list[str], seed: int = 1):
    """(target, body, maker name) triples: `count` bad messages spread over the makers and targets."""
    rng = random.Random(seed)
    makers, weights = zip(*MAKERS)
    agent_id = next((t.removeprefix("agent.") for t in targets if t.startswith("agent.")), "fz")
    for n in range(count):
        target = targets[n % len(targets)]
        maker = rng.choices(makers, weights)[0]
        body = forged(rng, target, agent_id) if maker is forged else maker(rng, target)
        yield target, body, maker.__name__


@dataclass
class FuzzResult:
    sent: int = 0
    dead_lettered: int = 0
    without_reason: int = 0
    seconds_to_send: float = 0.0
    seconds_to_settle: float = 0.0
    not_dead_lettered: dict[str, int] = field(default_factory=dict)  # maker name -> messages never dead-lettered
    left_in_mailboxes: int | None = None  # ready + unacked in the targets' mailboxes when counting
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


def _mailbox_depth(url: str, queues: list[str]) -> int | None:
    """Messages ready or unacked in `queues` (None if rabbitmqctl did not answer)."""
    vhost = unquote(urlparse(url).path[1:]) or "/"
    try:
        out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
                             capture_output=True, text=True, timeout=60).stdout
    except subprocess.TimeoutExpired:
        return None
    depths = dict(line.split("\t")[:2] for line in out.splitlines() if line.count("\t") >= 1)
    if not all(q in depths and depths[q].isdigit() for q in queues):
        return None
    return sum(int(depths[q]) for q in queues)


def run_fuzz(url: str, work: Path, count: int, *, settle_timeout: float = 120.0, max_settle: float = 900.0,
             seed: int = 1) -> FuzzResult:
    """Start a master and an agent on `url` (a private vhost), send `count` bad messages
    to them, wait until their mailboxes drain (or nothing moves for `settle_timeout`
    seconds), and report what happened."""
    result = FuzzResult()
    cluster = ProcessCluster(url, work)
    try:
        master = cluster.start_master()
        agent = cluster.start_agent("h1")
        cluster.wait_ready()
        # Registered, not only started: an UnregisterAgent naming an agent the master does not
        # know yet is a harmless no-op it handles, not a forgery it refuses.
        cluster.wait_log(agent, "registered as ", timeout=60)
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
        pending: Counter[tuple[str, bytes]] = Counter()  # (target, digest) of what is not dead-lettered yet
        maker_of: dict[tuple[str, bytes], str] = {}
        for target, body, maker in messages(count, targets, seed):
            key = (target, hashlib.blake2b(body, digest_size=16).digest())
            pending[key] += 1
            maker_of[key] = maker
            channel.basic_publish("mesobus", target, body)
            result.sent += 1
            if result.sent % 1000 == 0:
                connection.process_data_events(0)
        result.seconds_to_send = time.monotonic() - started
        # Wait for the mailboxes to drain, not for a fixed time: on a loaded machine the
        # actors may still be working through the backlog. Give up only when nothing moves
        # for `settle_timeout` seconds (a wedged actor) or after `max_settle` in all.
        queues = [f"{QUEUE_PREFIX}{key}" for key in targets]
        give_up = time.monotonic() + max_settle
        last_progress, last_seen = time.monotonic(), None
        while time.monotonic() < give_up:
            count_now = channel.queue_declare(watch, passive=True).method.message_count
            result.left_in_mailboxes = _mailbox_depth(url, queues)
            if count_now >= result.sent or result.left_in_mailboxes == 0:
                break
            if (count_now, result.left_in_mailboxes) != last_seen:
                last_seen, last_progress = (count_now, result.left_in_mailboxes), time.monotonic()
            elif time.monotonic() - last_progress > settle_timeout:
                break
            connection.sleep(1.0)
        result.seconds_to_settle = time.monotonic() - started
        while True:
            method, props, body = channel.basic_get(watch, auto_ack=True)
            if method is None:
                break
            result.dead_lettered += 1
            key = (method.routing_key, hashlib.blake2b(body, digest_size=16).digest())
            if pending[key] > 0:
                pending[key] -= 1
            if not (props.headers or {}).get("x-mesobus-reason"):
                result.without_reason += 1
        for key, left in pending.items():
            if left:
                result.not_dead_lettered[maker_of[key]] = result.not_dead_lettered.get(maker_of[key], 0) + left
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
