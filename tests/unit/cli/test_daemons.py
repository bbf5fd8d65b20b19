"""`mesobus master` and `mesobus agent` start their actors on the given broker and stop
them on a signal (here: a memory transport, and a signal that comes at once)."""

from __future__ import annotations

import pytest

import actors.connect
from actors.cli import common
from actors.cli.main import main
from actors.runtime import MemoryTransport


@pytest.fixture
def memory_broker(monkeypatch):
    made: list[MemoryTransport] = []
    seen: list[str] = []

    def connect(url: str) -> MemoryTransport:
        made.append(MemoryTransport())
        return made[-1]

    def signal_now(stop=None) -> str:
        seen.append("waited")
        return "SIGTERM"

    monkeypatch.setattr(actors.connect, "connect_transport", connect)
    for module in ("master", "agent"):
        monkeypatch.setattr(f"actors.cli.{module}.wait_for_signal", signal_now)
    return made, seen


def test_master_starts_and_stops_on_a_signal(memory_broker, capsys) -> None:
    made, seen = memory_broker
    assert main(["master", "--no-journal", "--broker", "amqp://h", "--ping-interval", "2", "--offer-timeout", "30"]) == 0
    err = capsys.readouterr().err
    assert seen == ["waited"] and "running on amqp://h" in err and "SIGTERM: stopping" in err


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
    assert code == 0 and seen == ["waited"]
    assert "node7 offering cpus:2;mem:512" in err


def test_broker_password_is_not_printed(memory_broker, capsys) -> None:
    assert main(["master", "--no-journal", "--broker", "amqp://user:secret@h:5672/%2F"]) == 0
    err = capsys.readouterr().err
    assert "secret" not in err and "user:***@h:5672" in err


def test_redact_leaves_urls_without_password_alone() -> None:
    assert common.redact("amqp://h:5672/%2F") == "amqp://h:5672/%2F"
