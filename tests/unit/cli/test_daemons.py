"""`mesobus master` and `mesobus agent` start their actors on the given broker and stop
them on a signal (here: a memory transport, and a signal that comes at once)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

import actors.connect
from actors.cli import common
from actors.cli.main import main
from actors.registry import MemoryRegistryLog
from actors.runtime import MemoryTransport


@pytest.fixture
def memory_broker(monkeypatch):
    made: list[MemoryTransport] = []
    seen: list[str] = []

    def connect(url: str) -> MemoryTransport:
        made.append(MemoryTransport())
        return made[-1]

    def signal_now(stop=None, tick=None) -> str:
        seen.append("waited")
        return "SIGTERM"

    monkeypatch.setattr(actors.connect, "connect_transport", connect)
    monkeypatch.setattr("actors.cli.agent.wait_for_signal", signal_now)
    return made, seen


class FakeLock:
    """Stands in for rabbitmq.leader.LeaderLock: leads at once, or stands by until stopped."""

    def __init__(self, leads: bool = True) -> None:
        self.leads = leads
        self.epoch = 1234 if leads else 0
        self.lost = threading.Event()
        self.closed = False
        self.transport = MemoryTransport() if leads else None  # the one the leader's actors use

    def acquire(self, stop: threading.Event, on_standby) -> bool:
        if self.leads:
            return True
        on_standby("another master leads")
        stop.wait(10)
        return False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def lock(monkeypatch):
    made: list[FakeLock] = []

    def leader_lock(url: str, holder: str) -> FakeLock:
        assert "pid" in holder
        return made[-1]

    made.append(FakeLock())
    monkeypatch.setattr(actors.connect, "leader_lock", leader_lock)
    monkeypatch.setattr(actors.connect, "registry_log", lambda url, transport: MemoryRegistryLog())
    return made


def soon(action) -> None:
    threading.Timer(1.0, action).start()  # once the command set its signal handlers (imports take time)


def test_master_leads_and_stops_on_a_signal(memory_broker, lock, capsys) -> None:
    made, _ = memory_broker
    soon(lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert main(["master", "--no-journal", "--broker", "amqp://h", "--ping-interval", "2", "--offer-timeout", "30"]) == 143  # 128 + SIGTERM, as for every command
    err = capsys.readouterr().err
    # The epoch comes from the registry: the position of this leader's Elected record + 1.
    assert "leading on amqp://h (epoch 1)" in err and "SIGTERM: stopping" in err
    assert made == [] and lock[0].closed  # the actors run on the lock's own transport


def test_a_master_that_loses_the_leader_lock_stops_and_exits_1(memory_broker, lock, capsys) -> None:
    soon(lock[0].lost.set)
    assert main(["master", "--no-journal", "--broker", "amqp://h"]) == 1
    assert "lost the leader lock" in capsys.readouterr().err


def test_a_standby_master_says_why_and_connects_nothing_until_it_leads(memory_broker, lock, capsys) -> None:
    made, _ = memory_broker
    lock[0] = FakeLock(leads=False)
    soon(lambda: os.kill(os.getpid(), signal.SIGINT))
    assert main(["master", "--no-journal", "--broker", "amqp://h"]) == 130  # 128 + SIGINT
    err = capsys.readouterr().err
    assert "standing by: another master leads" in err and "stopped while standing by" in err
    assert made == [] and lock[0].closed


def test_master_config_errors_are_one_line(memory_broker, capsys, monkeypatch) -> None:
    from actors.cli import master

    monkeypatch.setattr(master, "positive_int", int)  # let 0 past argparse: MasterConfig refuses it
    code = main(["master", "--no-journal", "--broker", "amqp://h", "--max-missed-pings", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "mesobus master: error: MasterConfig.max_missed_pings must be a whole number >= 1, not 0\n"


def test_agent_starts_with_its_resources_and_stops_on_a_signal(memory_broker, capsys, tmp_path) -> None:
    made, seen = memory_broker
    code = main([
        "agent", "--broker", "amqp://h", "--work-dir", str(tmp_path), "--resources", "cpus:2;mem:512",
        "--attributes", "rack:r1", "--hostname", "node7", "--executor-mode", "noop",
    ])
    err = capsys.readouterr().err
    assert code == 143 and seen == ["waited"]
    assert "node7 offers cpus:2;mem:512" in err


def test_broker_password_is_not_printed(memory_broker, lock, capsys) -> None:
    soon(lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert main(["master", "--no-journal", "--broker", "amqp://user:secret@h:5672/%2F"]) == 143
    err = capsys.readouterr().err
    assert "secret" not in err and "user:***@h:5672" in err


def test_redact_leaves_urls_without_password_alone() -> None:
    assert common.redact("amqp://h:5672/%2F") == "amqp://h:5672/%2F"


def test_a_master_whose_actor_dies_exits_1_naming_it(memory_broker, lock, capsys) -> None:
    from actors.runtime import actor_deaths

    actor_deaths.reset()
    soon(lambda: actor_deaths.report("allocator", "RuntimeError: boom"))
    try:
        assert main(["master", "--no-journal", "--broker", "amqp://h"]) == 1
    finally:
        actor_deaths.reset()
    assert "error: actor allocator stopped: RuntimeError: boom: stopping" in capsys.readouterr().err
