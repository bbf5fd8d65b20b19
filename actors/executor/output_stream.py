"""The command executor's side of output streaming (messages/output.py): for each task
whose TaskInfo carries the label `mesobus.stream_output`, its stdout and stderr files are
sent to the framework in order, at most OUTPUT_WINDOW unacknowledged chunks per stream:
straight to it when it is of this executor's principal, else through the master (which
relays the framework's acknowledgements back through the agent).

A mixin of CommandExecutor: `stream_output(task, sandbox)` when a task starts,
`output_ended(task_id)` when its process exited. The files are read through
`self.read_output` (swap it in tests). A stream whose acknowledgement does not come for
RESEND_AFTER seconds is sent again from the acknowledged offset (go-back-N), so a lost
message delays output but never loses it; a framework that is gone only makes the stream
wait, and the stream is dropped when the executor stops (the sandbox keeps the files).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from actors.runtime import on
from actors.security import own_principal
from messages import OUTPUT_CHUNK, OUTPUT_WINDOW, STREAM_LABEL, OutputPoll, TaskInfo, TaskOutput, TaskOutputAck
from messages.addresses import MASTER, framework_address
from messages.output import OUTPUT_STREAMS

log = logging.getLogger(__name__)

POLL_EVERY = 0.2  # seconds between looks at the files of streamed tasks
RESEND_AFTER = 10.0  # seconds without an acknowledgement before sending again
GIVE_UP_AFTER = 300.0  # seconds without any acknowledgement after the task ended: drop it


def read_output(path: Path, offset: int, size: int) -> bytes:
    """Up to `size` bytes of `path` from `offset` (b"" when it is not there yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(size)
    except FileNotFoundError:
        return b""


@dataclass
class _Stream:
    path: Path
    sent: int = 0  # bytes sent (acknowledged or not)
    acked: int = 0  # bytes the framework has
    eof_sent: bool = False
    done: bool = False  # eof acknowledged
    progress_at: float = 0.0  # when the last acknowledgement came (or the stream began)


@dataclass
class _StreamedTask:
    task_id: str
    streams: dict[str, _Stream] = field(default_factory=dict)
    ended: bool = False


class OutputStreaming:
    """Mixed into CommandExecutor (an Actor with `env`, `send`, `delay`, `now`)."""

    read_output = staticmethod(read_output)

    def stream_output(self, task: TaskInfo, sandbox: Path) -> None:
        if task.labels.get(STREAM_LABEL) != "1":
            return
        now = self.now()
        streamed = _StreamedTask(task.task_id, {n: _Stream(sandbox / n, progress_at=now) for n in OUTPUT_STREAMS})
        self._streamed()[task.task_id] = streamed
        self._arm_output_poll()

    def _output_target(self) -> str:
        """Straight to the framework when it is of this executor's principal (its agent's);
        else through the master: the broker lets an agent's principal reach no framework of
        another, and such a framework believes only the master (docs/protocol.md)."""
        info = getattr(self, "framework_info", None)
        framework = info.principal if info is not None else ""
        mine = own_principal(self.transport)  # type: ignore[attr-defined]
        if not framework or not mine or framework == mine:
            return framework_address(self.env.framework_id)  # type: ignore[attr-defined]
        return MASTER  # the relay (an executor is not told another master address)

    def output_ended(self, task_id: str) -> None:
        streamed = self._streamed().get(task_id)
        if streamed is not None:
            streamed.ended = True
            for stream in streamed.streams.values():
                stream.progress_at = self.now()
            self._pump(streamed)

    @on(OutputPoll)
    def _on_output_poll(self, msg: OutputPoll) -> None:
        if msg.generation != getattr(self, "_output_poll_generation", 0):
            return
        self._output_poll_timer = ""
        now = self.now()
        for streamed in list(self._streamed().values()):
            for stream in streamed.streams.values():
                if stream.sent > stream.acked and now - stream.progress_at >= RESEND_AFTER:
                    stream.sent, stream.eof_sent, stream.progress_at = stream.acked, False, now  # go back
            if streamed.ended and all(now - s.progress_at >= GIVE_UP_AFTER for s in streamed.streams.values()):
                log.info("%s: no acknowledgement of %s's output: stopping its stream", self.address, streamed.task_id)
                del self._streamed()[streamed.task_id]
                continue
            self._pump(streamed)
        self._arm_output_poll()

    @on(TaskOutputAck)
    def _on_output_ack(self, msg: TaskOutputAck) -> None:
        streamed = self._streamed().get(msg.task_id)
        stream = streamed.streams.get(msg.stream) if streamed is not None else None
        if stream is None or msg.framework_id != self.env.framework_id:
            return
        if msg.offset > stream.acked and msg.offset <= stream.sent:
            stream.acked, stream.progress_at = msg.offset, self.now()
        if stream.eof_sent and stream.acked == stream.sent:
            stream.done = True
        if all(s.done for s in streamed.streams.values()):
            del self._streamed()[msg.task_id]
            return
        self._pump(streamed)

    # --- internals ----------------------------------------------------------------------

    def _streamed(self) -> dict[str, _StreamedTask]:
        try:
            return self._output_streams  # type: ignore[has-type]
        except AttributeError:
            self._output_streams: dict[str, _StreamedTask] = {}
            return self._output_streams

    def _pump(self, streamed: _StreamedTask) -> None:
        for name, stream in streamed.streams.items():
            while not stream.eof_sent and stream.sent - stream.acked < OUTPUT_WINDOW * OUTPUT_CHUNK:
                room = min(OUTPUT_CHUNK, OUTPUT_WINDOW * OUTPUT_CHUNK - (stream.sent - stream.acked))
                data = self.read_output(stream.path, stream.sent, room)
                if data:
                    self._send_output(streamed.task_id, name, stream.sent, data, eof=False)
                    stream.sent += len(data)
                    continue
                if streamed.ended:  # all of it was read: say where it ends
                    self._send_output(streamed.task_id, name, stream.sent, b"", eof=True)
                    stream.eof_sent = True
                break

    def _send_output(self, task_id: str, stream: str, offset: int, data: bytes, *, eof: bool) -> None:
        env = self.env
        self.send(
            self._output_target(),
            TaskOutput(env.framework_id, env.executor_id, env.agent_id, task_id, stream, offset, data, eof),
        )

    def _arm_output_poll(self) -> None:
        if not self._streamed() or getattr(self, "_output_poll_timer", ""):
            return
        self._output_poll_generation = getattr(self, "_output_poll_generation", 0) + 1
        self._output_poll_timer = self.delay(POLL_EVERY, OutputPoll(self._output_poll_generation))
