"""An actor's output that the transport cannot take now waits here, in order.

During a broker outage a transport's `publish` waits `send_timeout` and raises
TransportError. If that reached the handler, its state would have changed while its
output was lost: an allocation made but never sent stays allocated for good, a
heartbeat timer that failed before re-arming itself ends its chain. So the runtime
sends a handler's output through an `Outbox`: what cannot be sent now is kept, with
everything that follows it (messages, acks, dead letters: the order of settling matters
for at-least-once), and sent again later (`flush`, which the actor calls on a timer)
until the transport takes it. A message the transport refuses for good (a refusal is
also a ValueError: too big, an address no broker takes) raises to the handler as before.

The actor also holds its output here on purpose: after `hold()`, everything waits
behind a gate until `release()` (`Actor.hold_output_until`: output that must not leave
before something it relies on is durable), or is thrown away by `drop()`. (A message
the transport refuses for good is then logged and dropped at the release, no longer
raised to its handler.)

>>> from types import SimpleNamespace
>>> from actors.runtime.memory import MemoryTransport
>>> box = Outbox(SimpleNamespace(transport=MemoryTransport()))
>>> box.waiting, box.flush()
(0, True)
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from actors.runtime.transport import Delivery, Transport, TransportError

log = logging.getLogger(__name__)

MAX_WAITING = 200_000  # items kept through an outage; beyond, publish raises as the transport did
_GATE = ("gate", None, None)  # in the queue while holding: nothing behind it is sent


def transient(err: BaseException) -> bool:
    """An outage (the transport could not send now), as opposed to a message that can
    never be sent (a refusal is also a ValueError)."""
    return isinstance(err, TransportError) and not isinstance(err, ValueError)


class Outbox:
    """`owner.transport` is used at each call (an actor may wrap its transport after
    it was built, as the agent does with its output gate)."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self._items: deque[tuple[str, Any, Any]] = deque()
        self.held = 0  # items that ever had to wait for the transport (a counter for metrics and tests)
        self._gated = False  # _GATE is in _items

    @property
    def transport(self) -> Transport:
        return self.owner.transport

    @property
    def waiting(self) -> int:
        """Items that wait for the transport (or behind the gate)."""
        return len(self._items) - self._gated

    def hold(self) -> None:
        """From now on everything waits, behind what waits already, until `release()`."""
        if not self._gated:
            self._gated = True
            self._items.append(_GATE)

    def release(self) -> bool:
        """Open the gate and send what waits, as `flush` does; True when all went."""
        if self._gated:
            self._items.remove(_GATE)
            self._gated = False
        return self.flush()

    def drop(self) -> int:
        """Throw away everything that waits (the actor is stopping: none of it may go);
        returns how many items there were."""
        dropped = self.waiting
        self._items.clear()
        self._gated = False
        return dropped

    def publish(self, envelope: Any) -> None:
        if self._items:
            self._hold("publish", envelope, None)
            return
        try:
            self.transport.publish(envelope)
        except TransportError as err:
            if not transient(err):
                raise
            self._hold("publish", envelope, None)
            log.warning("mesobus: %s: output waits for the transport: %s", envelope.sender, err)

    def ack(self, delivery: Delivery) -> None:
        if self._items:
            self._hold("ack", delivery, None)
        else:
            self.transport.ack(delivery)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        if self._items:
            self._hold("dead_letter", delivery, reason)
        else:
            self.transport.dead_letter(delivery, reason)

    def timer_done(self) -> None:
        if self._items:
            self._hold("timer_done", None, None)
        else:
            self.transport.timer_done()

    def flush(self) -> bool:
        """Send what waits, in order, until the transport fails again or the gate is
        reached; True when empty."""
        items = self._items
        while items:
            kind, what, reason = items[0]
            if kind == "gate":
                return False
            try:
                if kind == "publish":
                    self.transport.publish(what)
                elif kind == "ack":
                    self.transport.ack(what)
                elif kind == "dead_letter":
                    self.transport.dead_letter(what, reason)
                else:
                    self.transport.timer_done()
            except TransportError as err:
                if transient(err):
                    return False
                log.error("mesobus: dropping a waiting message the transport refuses: %s", err)
            items.popleft()
        return True

    def _hold(self, kind: str, what: Any, reason: Any) -> None:
        if len(self._items) >= MAX_WAITING:
            raise TransportError(f"the transport has taken nothing for a while: {len(self._items)} outputs wait")
        self._items.append((kind, what, reason))
        if not self._gated:
            self.held += 1
