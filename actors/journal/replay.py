"""`mesobus replay`: re-run an actor from the journal and compare what it sends.

The actor is rebuilt from its ActorStarted record (config, id prefix, random seed) on a
transport that only records, and fed its recorded inputs in the recorded handling order,
each at its recorded time. After each input, what it sent is compared with what it sent
in the recorded run; the first difference is reported. Messages an actor sends to itself
(timers) are not compared as outputs: they are replayed as the inputs they became. Each
input is dispatched with the principal that published it in the recorded run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import import_module
from typing import Any, Callable, Sequence

from actors.runtime import Actor, ActorContext, IdSource, Transport, VirtualClock
from actors.runtime.transport import Delivery
from messages import Envelope

from actors.journal.index import Incarnation, JournalIndex
from actors.journal.timeline import line

# kind (ActorStarted.kind) -> "module:Class"; the class rebuilds itself with from_journal.
REPLAYABLE = {
    "master": "actors.master:Master",
    "allocator": "actors.allocator.actor:AllocatorActor",
    "agent": "actors.agent:Agent",
}

Factory = Callable[[dict, Transport, ActorContext], Actor]


class RecordingTransport(Transport):
    """A transport that delivers nothing and remembers what was published."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.outputs: list[Envelope] = []

    def subscribe(
        self, address: str, on_delivery: Any, *, durable: bool = True, groups: Sequence[str] = (),
        exclusive: bool = False,
    ) -> None:
        pass

    def unsubscribe(self, address: str) -> None:
        pass

    def publish(self, envelope: Envelope) -> None:
        self.outputs.append(envelope)

    def ack(self, delivery: Delivery) -> None:
        pass

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> list[Envelope]:
        out, self.outputs = self.outputs, []
        return out


@dataclass
class Divergence:
    input: Envelope | None  # None: while starting
    position: int  # which output of that input
    expected: Envelope | None
    actual: Envelope | None
    note: str = ""

    def report(self) -> list[str]:
        what = "start-up" if self.input is None else f"input {line(self.input)}"
        out = [f"first divergence while handling {what}", f"  output #{self.position + 1}:"]
        out.append(f"    expected: {line(self.expected) if self.expected else '(nothing)'}")
        out.append(f"    actual:   {line(self.actual) if self.actual else '(nothing)'}")
        if self.note:
            out.append(f"  {self.note}")
        return out


@dataclass
class ReplayResult:
    address: str
    inputs: int = 0
    outputs: int = 0
    divergence: Divergence | None = None
    state: Any = None
    actor: Actor | None = field(default=None, repr=False)
    # Why the replay stopped short without a divergence: the journal lacks part of the
    # actor's history (it begins after the actor started, or an input is missing).
    incomplete: str = ""

    @property
    def matched(self) -> bool:
        return self.divergence is None and not self.incomplete


def default_factory(kind: str) -> Factory:
    try:
        module, _, name = REPLAYABLE[kind].partition(":")
    except KeyError:
        raise ValueError(f"actors of kind {kind!r} cannot be replayed") from None
    cls = getattr(import_module(module), name)
    return cls.from_journal


def replay(
    index: JournalIndex,
    address: str,
    *,
    until: str | None = None,
    incarnation: int = -1,
    factory: Factory | None = None,
) -> ReplayResult:
    """Replay one incarnation (default: the last) of the actor at `address`."""
    runs = index.incarnations.get(address)
    if not runs:
        known = ", ".join(index.actors()) or "none"
        raise KeyError(f"no recorded start of {address!r} in the journal (recorded actors: {known})")
    run = runs[incarnation]
    info = run.info
    gap = run.history_gap()
    if gap is not None and gap[0] == 0:
        return ReplayResult(address, incomplete=(
            f"the journal does not hold its history from its start (at {moment(info.started_at)}; "
            f"its journal records from #{gap[1]} on are missing); replay a journal or an export "
            f"that starts at or before it"
        ))
    limit = gap[0] if gap is not None else None
    clock = VirtualClock(start=info.started_at)
    transport = RecordingTransport(clock)
    transport.user = _own_user(index, run, address)  # it checks senders against its own principal
    context = ActorContext(clock=clock, ids=IdSource(info.id_prefix), seed=info.seed)
    actor = (factory or default_factory(info.kind))(dict(info.config), transport, context)
    result = ReplayResult(address, actor=actor)
    expected = _expected_outputs(index, run)

    actor.on_start()
    result.divergence = _compare(None, expected.pop("", []), _to_others(transport.take(), address))
    remaining = Counter(msg_id for msg_id, _ in run.handled)
    for msg_id, at in run.handled:
        if result.divergence is not None:
            break
        if result.inputs == limit:
            result.incomplete = f"the journal lacks its records from #{gap[1]} on, after input #{limit}"
            break
        envelope = index.by_id.get(msg_id)
        if envelope is None:
            result.incomplete = f"input #{result.inputs + 1} ({msg_id}) is not in the journal"
            break
        clock.set(at)
        failure = actor.dispatch(envelope, run.users.get(msg_id, ""))
        result.inputs += 1
        actual = _to_others(transport.take(), address)
        result.outputs += len(actual)
        # A redelivered input is handled again: its recorded outputs are split between
        # its handlings, in order; the last handling must account for the rest.
        remaining[msg_id] -= 1
        queue = expected.get(msg_id, [])
        share = queue if remaining[msg_id] == 0 else queue[: len(actual)]
        expected[msg_id] = queue[len(share):]
        result.divergence = _compare(envelope, share, actual)
        if result.divergence is None and failure is not None:
            result.divergence = Divergence(envelope, 0, None, None, f"handler failed in replay: {failure}")
        if msg_id == until:
            break
    state = getattr(actor, "state", None)
    result.state = state() if callable(state) else None
    return result


def moment(t: float) -> str:
    """A recorded time as `--since` takes it: ISO 8601 UTC (virtual clocks: seconds)."""
    if t < 10**8:
        return f"{t:g}"
    floor = datetime.fromtimestamp(int(t * 1000) / 1000, timezone.utc)  # not after t
    return floor.strftime("%Y-%m-%dT%H:%M:%S.") + f"{floor.microsecond // 1000:03d}Z"


def _to_others(outputs: list[Envelope], address: str) -> list[Envelope]:
    return [e for e in outputs if e.target != address]


def _expected_outputs(index: JournalIndex, run: Incarnation) -> dict[str, list[Envelope]]:
    """What this incarnation sent to other actors, grouped by the input that caused it."""
    address, prefix = run.info.address, run.prefix + "-"
    grouped: dict[str, list[Envelope]] = {}
    for env in index.messages:
        if env.sender == address and env.target != address and env.id.startswith(prefix):
            grouped.setdefault(env.causation_id, []).append(env)
    return grouped


def _same(a: Envelope, b: Envelope) -> bool:
    return (a.id, a.target, a.body, a.correlation_id, a.epoch) == (
        b.id, b.target, b.body, b.correlation_id, b.epoch,
    )


def _compare(inp: Envelope | None, expected: list[Envelope], actual: list[Envelope]) -> Divergence | None:
    for i in range(max(len(expected), len(actual))):
        exp = expected[i] if i < len(expected) else None
        act = actual[i] if i < len(actual) else None
        if exp is None or act is None or not _same(exp, act):
            return Divergence(inp, i, exp, act)
    return None


def _own_user(index: JournalIndex, run: Incarnation, address: str) -> str:
    """The principal the actor published as in the recorded run, as the transport verified
    it on an actor that handled one of its messages (its own timers first); "" if none."""
    others = (other for runs in index.incarnations.values() for other in runs if other is not run)
    for incarnation in (run, *others):
        for msg_id, user in incarnation.users.items():
            envelope = index.by_id.get(msg_id)
            # its ids carry its IdSource prefix: an earlier run at this address is not it
            if envelope is not None and envelope.sender == address and msg_id.startswith(f"{run.prefix}-") and user:
                return user
    return ""
