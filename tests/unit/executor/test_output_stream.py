"""The command executor streams a task's output to its framework when the task asks for
it: in order, at most OUTPUT_WINDOW unacknowledged chunks per stream, more on each
acknowledgement, the end of each stream once the task ended, and again from the
acknowledged offset when the framework stays silent (a virtual clock drives the polls)."""

from __future__ import annotations

import pytest

from actors.executor import CommandExecutor
from actors.executor.limits import NoLimits
from actors.executor.output_stream import RESEND_AFTER
from actors.runtime import Actor
from messages import (
    OUTPUT_CHUNK, OUTPUT_WINDOW, STREAM_LABEL, RunTask, TaskOutput, TaskOutputAck, TaskProcessExited, decode,
)
from tests.unit.executor.fakes import FakeRunner, env, registered, run, say, task

ADDRESS = "executor.a1.f1.mesobus-command"


class FakeFramework(Actor):
    """framework.f1's mailbox: records each TaskOutput; acknowledges nothing by itself."""

    def __init__(self, transport) -> None:
        super().__init__("framework.f1", transport)
        self.chunks: list[TaskOutput] = []

    def receive(self, delivery) -> None:
        self.chunks.append(decode(delivery.body).body)
        self.transport.ack(delivery)


@pytest.fixture
def framework(transport):
    ref = FakeFramework.start(transport)
    ref.proxy().address.get()
    yield ref._actor_weakref()
    ref.stop()


@pytest.fixture
def executor(transport, tmp_path, agent, framework):
    ref = CommandExecutor.start(env(tmp_path, idle_timeout=30.0), transport, runner=FakeRunner(), limits=NoLimits())
    ref.proxy().address.get()
    say(transport, ADDRESS, registered())
    yield ref._actor_weakref()
    if ref.is_alive():
        ref.stop()


def ack(transport, stream: str, offset: int) -> None:
    say(transport, ADDRESS, TaskOutputAck("f1", "t1", stream, offset), sender="framework.f1")


def tick(transport, clock, seconds: float = 0.2) -> None:
    clock.advance(seconds)
    transport.settle()


def stdout_of(chunks: list[TaskOutput]) -> list[tuple[int, int, bool]]:
    return [(c.offset, len(c.data), c.eof) for c in chunks if c.stream == "stdout"]


def test_output_is_sent_a_window_at_a_time_and_more_on_each_acknowledgement(executor, framework, transport, clock,
                                                                             tmp_path):
    say(transport, ADDRESS, run(task("t1", labels={STREAM_LABEL: "1"})))
    payload = bytes(range(256)) * (OUTPUT_CHUNK * (OUTPUT_WINDOW + 2) // 256)
    (tmp_path / "tasks" / "t1" / "stdout").write_bytes(payload)
    tick(transport, clock)
    assert stdout_of(framework.chunks) == [(i * OUTPUT_CHUNK, OUTPUT_CHUNK, False) for i in range(OUTPUT_WINDOW)]
    ack(transport, "stdout", 2 * OUTPUT_CHUNK)
    assert len(stdout_of(framework.chunks)) == OUTPUT_WINDOW + 2
    say(transport, ADDRESS, TaskProcessExited("t1", 0), sender=ADDRESS)
    ack(transport, "stdout", len(payload))
    received = b"".join(c.data for c in framework.chunks if c.stream == "stdout")
    assert received == payload
    assert stdout_of(framework.chunks)[-1] == (len(payload), 0, True)
    assert [(c.offset, c.eof) for c in framework.chunks if c.stream == "stderr"] == [(0, True)]


def test_a_task_that_did_not_ask_is_not_streamed(executor, framework, transport, clock, tmp_path):
    say(transport, ADDRESS, run(task("t1")))
    (tmp_path / "tasks" / "t1" / "stdout").write_bytes(b"hi\n")
    tick(transport, clock, 1.0)
    say(transport, ADDRESS, TaskProcessExited("t1", 0), sender=ADDRESS)
    assert framework.chunks == []


def test_a_silent_framework_gets_the_unacknowledged_output_again(executor, framework, transport, clock, tmp_path):
    say(transport, ADDRESS, run(task("t1", labels={STREAM_LABEL: "1"})))
    (tmp_path / "tasks" / "t1" / "stdout").write_bytes(b"x" * 100)
    tick(transport, clock)
    assert stdout_of(framework.chunks) == [(0, 100, False)]
    tick(transport, clock, RESEND_AFTER + 0.5)
    assert stdout_of(framework.chunks) == [(0, 100, False), (0, 100, False)]
    ack(transport, "stdout", 100)
    tick(transport, clock, RESEND_AFTER + 0.5)
    assert len(stdout_of(framework.chunks)) == 2  # acknowledged: nothing more to send


def test_another_principals_framework_is_streamed_to_through_the_master(transport, tmp_path, agent, framework, clock):
    # The executor publishes as its agent's principal ("mesobus"): the broker lets it reach
    # no framework of another principal, so its output goes to the master, which relays it
    # (actors/master/output_relay.py); the acknowledgements come back through the agent.
    from dataclasses import replace

    from messages import ExecutorRegistered, StatusUpdate, TaskState
    from tests.unit.executor.fakes import FRAMEWORK

    class FakeMaster(FakeFramework):
        def __init__(self, transport) -> None:
            Actor.__init__(self, "master", transport)
            self.chunks = []

    other = replace(FRAMEWORK, principal="alice")
    master_ref = FakeMaster.start(transport)
    ref = CommandExecutor.start(env(tmp_path, idle_timeout=30.0), transport, runner=FakeRunner(), limits=NoLimits())
    try:
        master = master_ref._actor_weakref()
        ref.proxy().address.get()
        reg = registered()
        say(transport, ADDRESS, ExecutorRegistered(reg.executor, other, reg.agent))
        say(transport, ADDRESS, RunTask(other, task("t1", labels={STREAM_LABEL: "1"})))
        (tmp_path / "tasks" / "t1" / "stdout").write_bytes(b"ran\n")
        tick(transport, clock, 1.0)
        say(transport, ADDRESS, TaskProcessExited("t1", 0), sender=ADDRESS)
        tick(transport, clock, 1.0)
        assert framework.chunks == []
        assert stdout_of(master.chunks) == [(0, 4, False), (4, 0, True)]
        say(transport, ADDRESS, TaskOutputAck("f1", "t1", "stdout", 4, "mesobus-command"), sender="agent.a1")
        say(transport, ADDRESS, TaskOutputAck("f1", "t1", "stderr", 0, "mesobus-command"), sender="agent.a1")
        assert ref._actor_weakref()._output_streams == {}  # both streams acknowledged to their end
        (final,) = [u.status for u in agent.bodies(StatusUpdate) if u.status.state is TaskState.TASK_FINISHED]
        assert b"ran\n" in final.data  # the tail is still in the terminal status
    finally:
        ref.stop()
        master_ref.stop()
