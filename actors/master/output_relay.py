"""The master's relay of task output between principals (docs/protocol.md "Task output").

An executor publishes as its agent's principal, which the broker lets reach no framework
of another principal; so such an executor sends its TaskOutput to the master, which relays
it to the framework, and relays the framework's TaskOutputAck back through the agent (the
only principal the executor believes). Who published each is checked before this code
runs (actors/security/master_checks.py: the agent's principal, the task on that agent and
executor; the framework's principal); here the master bounds its own cost.

Flow control stays end to end: the executor sends at most OUTPUT_WINDOW unacknowledged
chunks per stream and resends from the acknowledged offset when no acknowledgement comes
(go-back-N), so the master keeps no data, only a few numbers per stream, and may drop a
chunk whenever relaying it would cost too much: the executor sends it again later.
It drops a chunk that
- lies past the stream's window (acknowledged offset + OUTPUT_WINDOW chunks);
- would take the bytes relayed to the framework since its last acknowledgement of the
  stream past two windows (a framework that does not acknowledge gets the window and one
  resend, then nothing until it acknowledges or RELAY_CREDIT_AFTER passed);
- would take what the framework has not acknowledged, over all its streams, past
  FRAMEWORK_LIMIT (many tasks streaming to one slow framework);
- is for a framework that is not connected.
A chunk the framework already acknowledged is answered at once with the acknowledgement
(the executor missed it) instead of being relayed again.

Metrics: master/output_relayed_bytes, master/output_relayed_messages,
master/output_acks_relayed, master/output_dropped (chunks not relayed),
master/output_acks_dropped, master/output_streams (streams it keeps numbers for).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.runtime import on
from messages import OUTPUT_CHUNK, OUTPUT_WINDOW, TaskOutput, TaskOutputAck
from messages.addresses import agent_address, framework_address

if TYPE_CHECKING:
    from actors.master.actor import Master

log = logging.getLogger(__name__)

WINDOW = OUTPUT_WINDOW * OUTPUT_CHUNK  # bytes past the acknowledged offset an executor may send
RELAY_CREDIT = 2 * WINDOW  # bytes relayed per stream between two acknowledgements at most
RELAY_CREDIT_AFTER = 30.0  # seconds after which a silent stream gets its credit again
FRAMEWORK_LIMIT = 8 * 1024 * 1024  # unacknowledged relayed bytes per framework at most
FORGET_AFTER = 600.0  # seconds: a stream idle this long is forgotten (the executor gave up)
SWEEP_AT = 4096  # streams kept before idle ones are looked for


@dataclass
class _Relayed:
    """One stream of one task, as far as the master relayed it."""

    agent_id: str
    executor_id: str
    acked: int  # the framework has everything before this offset
    end: int  # the end of what was relayed
    since_ack: int = 0  # bytes relayed since the last acknowledgement (resends included)
    credit_at: float = 0.0  # when `since_ack` was last reset
    touched_at: float = 0.0
    eof: int = -1  # where the stream ends, once relayed
    confirmed: bool = False  # `acked` came from the framework (not the first chunk's offset)


Key = tuple[str, str, str]  # (framework_id, task_id, stream)


class OutputRelay:
    """Mixed into the Master, before SenderChecks: handles TaskOutput and TaskOutputAck."""

    @on(TaskOutput)
    def _relay_output(self: "Master", msg: TaskOutput) -> None:
        relay = _relay_state(self)
        framework = self.frameworks.get(msg.framework_id)
        key = (msg.framework_id, msg.task_id, msg.stream)
        problem = msg.problem()
        if problem is None and (framework is None or not framework.connected):
            problem = "the framework is not connected"
        if problem is not None:
            return _drop(self, msg, problem)
        now = self.now()
        stream = relay.streams.get(key)
        if stream is None:  # a new stream (or a new leader): believe the executor's offset
            stream = relay.streams[key] = _Relayed(msg.agent_id, msg.executor_id, msg.offset, msg.offset, credit_at=now)
            relay.sweep(self)
            self.metrics["master/output_streams"] = len(relay.streams)
        stream.touched_at = now
        end = msg.offset + len(msg.data)
        if stream.confirmed and end <= stream.acked and not msg.eof:  # the executor missed the ack
            self.send(agent_address(stream.agent_id),
                      TaskOutputAck(msg.framework_id, msg.task_id, msg.stream, stream.acked, stream.executor_id))
            return _drop(self, msg, "")
        if end > stream.acked + WINDOW:
            return _drop(self, msg, f"past the window (acknowledged: {stream.acked})")
        if now - stream.credit_at >= RELAY_CREDIT_AFTER:
            stream.since_ack, stream.credit_at = 0, now
        if stream.since_ack + len(msg.data) > RELAY_CREDIT:
            return _drop(self, msg, "the framework has not acknowledged the stream's last window")
        if msg.data and relay.unacked(msg.framework_id) + max(0, end - stream.end) > FRAMEWORK_LIMIT:
            return _drop(self, msg, "the framework has too much output unacknowledged")
        stream.since_ack += len(msg.data)
        if end > stream.end:
            relay.add_unacked(msg.framework_id, end - stream.end)
            stream.end = end
        if msg.eof:
            stream.eof = msg.offset
        self.send(framework_address(msg.framework_id), msg)
        self.metrics["master/output_relayed_messages"] += 1
        self.metrics["master/output_relayed_bytes"] += len(msg.data)

    @on(TaskOutputAck)
    def _relay_output_ack(self: "Master", msg: TaskOutputAck) -> None:
        relay = _relay_state(self)
        key = (msg.framework_id, msg.task_id, msg.stream)
        stream = relay.streams.get(key)
        gone = self.frameworks.get(msg.framework_id) is None  # (then no principal is bound to its id)
        # Acknowledgements only go forward, but the first one may be behind the offset the
        # stream was first seen at (a new leader joined a stream midway): the framework knows.
        behind = stream is not None and stream.confirmed and msg.offset < stream.acked
        if gone or stream is None or behind or msg.offset > stream.end:
            self.metrics["master/output_acks_dropped"] += 1
            return
        if msg.offset != stream.acked:
            relay.add_unacked(msg.framework_id, stream.acked - msg.offset)
            stream.acked = msg.offset
            stream.since_ack, stream.credit_at = 0, self.now()
        stream.confirmed = True
        stream.touched_at = self.now()
        self.send(agent_address(stream.agent_id),
                  TaskOutputAck(msg.framework_id, msg.task_id, msg.stream, msg.offset, stream.executor_id))
        self.metrics["master/output_acks_relayed"] += 1
        if stream.eof >= 0 and stream.acked == stream.eof:
            relay.forget(key)
            self.metrics["master/output_streams"] = len(relay.streams)


class _RelayState:
    def __init__(self) -> None:
        self.streams: dict[Key, _Relayed] = {}
        self._unacked: dict[str, int] = {}  # framework id -> relayed bytes it has not acknowledged
        self._sweep_at = SWEEP_AT

    def unacked(self, framework_id: str) -> int:
        return self._unacked.get(framework_id, 0)

    def add_unacked(self, framework_id: str, delta: int) -> None:
        left = self._unacked.get(framework_id, 0) + delta
        if left > 0:
            self._unacked[framework_id] = left
        else:
            self._unacked.pop(framework_id, None)

    def forget(self, key: Key) -> None:
        stream = self.streams.pop(key)
        self.add_unacked(key[0], stream.acked - stream.end)

    def sweep(self, master: "Master") -> None:
        """Forget streams idle for FORGET_AFTER, or whose task the master no longer knows."""
        if len(self.streams) < self._sweep_at:
            return
        now = master.now()
        for key in [k for k, s in self.streams.items()
                    if now - s.touched_at >= FORGET_AFTER or master.tasks.find(k[0], k[1]) is None]:
            self.forget(key)
        self._sweep_at = max(SWEEP_AT, 2 * len(self.streams))


def _relay_state(master: "Master") -> _RelayState:
    try:
        return master._output_relay  # type: ignore[attr-defined]
    except AttributeError:
        master._output_relay = _RelayState()  # type: ignore[attr-defined]
        return master._output_relay  # type: ignore[attr-defined]


def _drop(master: "Master", msg: TaskOutput, why: str) -> None:
    master.metrics["master/output_dropped"] += 1
    if why:
        log.debug("master: not relaying output of %s (%s at %d): %s", msg.task_id[:80], msg.stream, msg.offset, why)
