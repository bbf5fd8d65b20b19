"""The jobs framework's scheduler: a `Scheduler` subclass holding `Jobs` (core.py) and
sending what it decides. Time comes from `self.now()` and the wake-ups from
`self.delay`, so the framework runs on a virtual clock in tests and replays from its log.
The HTTP API runs its calls on this actor's thread with `call(handle, fn)`.

    handle = JobsScheduler.run(cluster, name="jobs", store=FileStore(path))
    call(handle, lambda s: s.jobs.put({"name": "etl", "command": "date", "schedule": "R//PT1M"}))
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from actors.frameworks.hosting.store import MemoryStore, StateStore, wait_durable
from actors.frameworks.jobs.core import Jobs
from actors.runtime.actor import on
from actors.scheduler import Scheduler
from messages import MasterInfo, Offer, TaskStatus, message

log = logging.getLogger(__name__)

T = TypeVar("T")
REVIVE_EVERY = 0.1  # seconds: at most one revive this often (each makes the allocator offer again)
REFUSE_SECONDS = 1.0  # what is left of an offer is declined for this long (a revive clears it)
MAX_SLEEP = 5.0  # seconds: the longest between two looks at the jobs


@message
@dataclass(frozen=True)
class JobsWake:
    """jobs scheduler -> itself: time to look at the jobs again."""

    generation: int = 0


class _Run:
    def __init__(self, fn: Callable[["JobsScheduler"], Any]) -> None:
        self.fn = fn


@dataclass(frozen=True)
class _Reply:
    """What a `_Run` returns: its value, and the store record the caller waits for before
    answering (off this thread, so concurrent calls share an fsync)."""

    value: Any
    store: Any
    record: int | None


class JobsScheduler(Scheduler):
    def __init__(self, store: StateStore | None = None, state: dict | None = None, leader_url: str = "",
                 epsilon: float | None = None) -> None:
        super().__init__()
        self.store = store or MemoryStore()
        self.leader_url = leader_url
        self.jobs = Jobs(self.store, now=self.now, new_id=self.new_id, epsilon=epsilon)
        self.jobs.restore(state if state is not None else self.store.load())
        self.started_at = self.now()
        self._wake_timer: str | None = None
        self._wake_at: float | None = None
        self._generation = 0
        self.suppressed = False
        self._revived_at = float("-inf")
        self._revive_owed = False  # a revive asked for within REVIVE_EVERY of the last: sent when that is up

    # --- callbacks ------------------------------------------------------------------------

    def registered(self, framework_id: str, master_info: MasterInfo) -> None:
        launched = [(r["task"], r.get("agent", "")) for r in self.jobs.runs.values() if r.get("task")]
        if launched:
            self.reconcile(launched)  # what became of the runs we left
        self.suppressed = False
        self.revive()
        self._after()

    def reregistered(self, master_info: MasterInfo) -> None:
        self.reconcile([(r["task"], r.get("agent", "")) for r in self.jobs.runs.values() if r.get("task")])
        self.suppressed = False
        self.revive()
        self._after()

    def resource_offers(self, offers: list[Offer]) -> None:
        self.jobs.wake()
        self.jobs.on_offers(offers)
        self._after()

    def status_update(self, status: TaskStatus) -> None:
        self.jobs.on_status(status)
        self._after()

    @on(JobsWake)
    def _on_wake(self, msg: JobsWake) -> None:
        if msg.generation == self._generation:
            self._wake_timer = self._wake_at = None
        self._after()

    # --- running things on this thread ------------------------------------------------------

    def on_start(self) -> None:
        super().on_start()
        self._after()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Run):
            try:
                value = message.fn(self)
            finally:
                self._after()
            return _Reply(value, self.store, self.jobs.unsynced)
        return super().on_receive(message)

    def _after(self) -> None:
        """Look at the time, send what the state machine decided, and sleep until the next
        thing due."""
        try:
            next_at = self.jobs.wake()
        except Exception:  # a bug must not stop the framework: logged, tried again later
            log.exception("%s: looking at the jobs failed", self.address)
            next_at = None
        actions, self.jobs.actions = self.jobs.actions, []
        if any(action[0] in ("launch", "kill") for action in actions):
            self.jobs.durable()  # what a launch or kill acts on is on disk first
        revive = suppress = False
        for action in actions:
            kind = action[0]
            if kind == "launch":
                self.launch(action[1], action[2], REFUSE_SECONDS)
            elif not self.connected:
                continue
            elif kind == "kill":
                self.kill(action[1], action[2], action[3])
            elif kind == "revive":
                revive, suppress = True, False
            elif kind == "suppress":
                suppress = not revive
        revive = revive or (self._revive_owed and self.connected)
        self._revive_owed = False
        revive_at = self._revived_at + REVIVE_EVERY  # (one sum, so the timer and this test agree)
        if revive and not self.suppressed and self.now() < revive_at:
            self._revive_owed = True  # not dropped: a run queued just after a revive waits for it
            next_at = revive_at if next_at is None else min(next_at, revive_at)
        elif revive:
            self.suppressed = False  # new runs: clear the decline filters for a prompt offer
            self._revived_at = self.now()
            self.revive()
        elif suppress and not self.suppressed and not self.jobs.runs:
            self.suppressed = True
            self.suppress()
        self._sleep_until(next_at)

    def _sleep_until(self, when: float | None) -> None:
        now = self.now()
        when = min(when if when is not None else now + MAX_SLEEP, now + MAX_SLEEP)
        if self._wake_at is not None and self._wake_at <= when:
            return  # an earlier wake-up is already set
        if self._wake_timer is not None:
            self.cancel(self._wake_timer)
        self._generation += 1
        self._wake_at = when
        self._wake_timer = self.delay(max(when - now, 0.0), JobsWake(self._generation))


def call(handle: Any, fn: Callable[[JobsScheduler], T], timeout: float = 30.0) -> T:
    """Run `fn(scheduler)` on the scheduler's thread and return its result (or raise),
    once what it changed is durable."""
    reply = handle.ref.ask(_Run(fn), timeout=timeout)
    wait_durable(reply.store, reply.record)
    return reply.value
