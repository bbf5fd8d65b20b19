"""Timers of an actor (a part of `Actor`): armed on the actor's clock, delivered to the
actor itself in-process, never through the broker (docs/runtime.md).

When a timer is due, the clock's thread puts it in the actor's own delivery queue (it never
blocks and never touches the transport); the actor handles it in turn with its mailbox's
deliveries, journals its envelope as an input (a message from the actor to itself, so
`mesobus replay` feeds it back) and dispatches it as published by the actor's own principal.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.runtime.outbox import transient
from messages import Envelope

log = logging.getLogger("actors.runtime.actor")

TIMER_RETRY_SECONDS = 1.0  # a timer whose handler met an outage runs again this much later


class TimerDue:
    """In an actor's delivery queue: one of its timers that is due."""

    __slots__ = ("envelope",)

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope


class Timers:
    """`delay` and `cancel`, and the handling of due timers; mixed into `Actor`, whose
    state (`_timers`, `_out`, `dispatch`, `_enqueue`...) it uses."""

    def delay(self, seconds: float, body: Any) -> str:
        """Deliver `body` to this actor after `seconds`; returns a timer id for `cancel`.

        A timer never goes through the broker: when it is due, the clock hands its
        envelope straight to this actor's own delivery queue, and the runtime journals
        it as an input (`transport.record`) when it is handled, so replay gets it like
        any message. An outage cannot delay or drop it; a handler that fails on it
        because the transport is down is run again later (see `_handle_timer`)."""
        envelope = self.make_envelope(self.address, body)
        self._arm(envelope, seconds)
        return envelope.id

    def cancel(self, timer_id: str) -> None:
        """Forget a timer: it is not handled, even if it is already due."""
        handle = self._timers.pop(timer_id, None)
        if handle is not None:
            handle.cancel()

    def _arm(self, envelope: Envelope, seconds: float) -> None:
        def due() -> None:  # on the clock's thread: never blocks, never touches the broker
            if envelope.id not in self._timers or self.actor_stopped.is_set():
                return
            self.transport.timer_pending()  # the memory transport's settle() waits for it
            self._enqueue(TimerDue(envelope))

        self._timers[envelope.id] = self.context.clock.call_later(seconds, due)

    def _handle_timer(self, envelope: Envelope) -> None:
        """Handle a due timer, unless it was cancelled meanwhile. It is journaled as an
        input first (the journal then holds it as a message to this actor). If its handler
        fails because the transport is unavailable (an outage: TransportError), the timer
        is run again TIMER_RETRY_SECONDS later, so that a chain of timers that re-arm
        themselves (ticks, heartbeats, retries) survives any outage."""
        try:
            if self._timers.pop(envelope.id, None) is None:
                return  # cancelled after it was due
            self.counters["timers"] += 1
            self.transport.record(envelope)
            failure = self._run_timer(envelope)
        finally:
            self._out.timer_done()
        if failure is None:
            return
        if transient(failure):
            self.counters["timer_retries"] += 1
            log.info("%s: timer %s (%s) met an outage; running it again in %gs", self.address,
                     envelope.id, envelope.type, TIMER_RETRY_SECONDS)
            self._arm(envelope, TIMER_RETRY_SECONDS)
        else:
            self.counters["failed"] += 1

    def _run_timer(self, envelope: Envelope) -> BaseException | None:
        self._last_error = None
        reason = self.dispatch(envelope, self.transport.user)
        if reason is None:
            return None
        return self._last_error or RuntimeError(reason)

