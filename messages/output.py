"""A task's output, streamed to its framework while the task runs (for `mesobus run` on
a broker, where the agent may be on another host).

A framework asks for it per task with the label `mesobus.stream_output` = "1". The
command executor then sends each of the task's streams (stdout, stderr) in order, in
chunks of at most OUTPUT_CHUNK bytes, straight to the framework when both are of one
principal (bulk data stays off the master), else to the master, which relays it
(actors/master/output_relay.py); the framework acknowledges each with the end offset it
has (the master passes it on through the agent); at most OUTPUT_WINDOW
chunks per stream are unacknowledged at a time, so a slow or gone framework only makes
the executor wait (the sandbox file is the buffer: nothing is dropped, nothing grows).
"""

from __future__ import annotations

from dataclasses import dataclass

from messages.catalogue import message

STREAM_LABEL = "mesobus.stream_output"  # TaskInfo label asking for the task's output
OUTPUT_STREAMS = ("stdout", "stderr")
OUTPUT_CHUNK = 16 * 1024  # bytes of one TaskOutput at most
OUTPUT_WINDOW = 4  # unacknowledged TaskOutput per stream at most


# executor -> scheduler (or -> master -> scheduler across principals): `data` is the
# stream's bytes from `offset` on; with eof, the task ended and the stream ends at
# `offset` (data is then empty).
@message
@dataclass(frozen=True)
class TaskOutput:
    framework_id: str
    executor_id: str
    agent_id: str
    task_id: str
    stream: str  # one of OUTPUT_STREAMS
    offset: int
    data: bytes
    eof: bool = False

    def problem(self) -> str | None:
        """Why this chunk must not be used (None when it may)."""
        if self.stream not in OUTPUT_STREAMS:
            return f"unknown stream {self.stream!r}"
        if self.offset < 0 or len(self.data) > OUTPUT_CHUNK:
            return f"a chunk of {len(self.data)} bytes at offset {self.offset} is out of bounds"
        if self.eof and self.data:
            return "an end-of-stream chunk carries no data"
        return None


# scheduler -> the sender of the TaskOutput (the executor, or the master that relayed it,
# which passes it on through the agent): the stream was received up to `offset`
# (exclusive); the executor may send what lies past it. `executor_id` is filled in by the
# master for the agent.
@message
@dataclass(frozen=True)
class TaskOutputAck:
    framework_id: str
    task_id: str
    stream: str
    offset: int
    executor_id: str = ""


# command executor -> itself (timer): look for new output of the tasks it streams.
@message
@dataclass(frozen=True)
class OutputPoll:
    generation: int


# scheduler -> itself (timer): a task ended; stop waiting for the rest of its output.
@message
@dataclass(frozen=True)
class OutputWaitOver:
    task_id: str
