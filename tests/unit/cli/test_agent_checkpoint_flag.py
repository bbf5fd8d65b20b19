"""`mesobus agent --checkpoint/--no-checkpoint`: on by default, documented in --help, and
handed to the agent's configuration (here: a memory transport, a signal that comes at once,
and a start_agent that only records the configuration it got)."""

from __future__ import annotations

import pytest

import actors.agent
import actors.connect
from actors.cli.main import main
from actors.runtime import MemoryTransport


@pytest.fixture(autouse=True)
def no_broker_in_env(monkeypatch) -> None:
    monkeypatch.delenv("MESOBUS_BROKER", raising=False)


@pytest.fixture
def started(monkeypatch) -> list:
    """The AgentConfig of every agent the command started."""
    configs: list = []

    class Ref:
        def stop(self) -> None:
            pass

        def is_alive(self) -> bool:
            return True

    def start_agent(transport, config):
        configs.append(config)
        return Ref()

    monkeypatch.setattr(actors.connect, "connect_transport", lambda url: MemoryTransport())
    monkeypatch.setattr(actors.agent, "start_agent", start_agent)
    monkeypatch.setattr("actors.cli.agent.wait_for_signal", lambda stop=None, tick=None: "SIGTERM")
    return configs


def agent(tmp_path, *flags: str) -> int:
    return main(["agent", "--broker", "amqp://h", "--work-dir", str(tmp_path), "--resources", "cpus:2;mem:512",
                 "--executor-mode", "noop", *flags])


def test_agent_checkpoints_by_default(started, tmp_path) -> None:
    assert agent(tmp_path) == 143  # stopped by (a stand-in for) SIGTERM
    assert [c.checkpoint for c in started] == [True]


def test_no_checkpoint_turns_checkpointing_off(started, tmp_path) -> None:
    assert agent(tmp_path, "--no-checkpoint") == 143
    assert [c.checkpoint for c in started] == [False]


def test_the_last_of_checkpoint_and_no_checkpoint_wins(started, tmp_path) -> None:
    assert agent(tmp_path, "--no-checkpoint", "--checkpoint") == 143
    assert [c.checkpoint for c in started] == [True]


def test_help_documents_both_spellings_and_the_default(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["agent", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert exit_.value.code == 0
    assert "--checkpoint, --no-checkpoint" in out and "(default: on)" in out
