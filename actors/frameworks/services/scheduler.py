"""The services framework's scheduler: a `Scheduler` subclass holding `Services` (core.py)
and sending what it decides. The HTTP API runs its calls on this actor's thread with
`call(handle, fn)`, so that the state is only ever touched by one thread.

    handle = ServicesScheduler.run(cluster, name="services", store=FileStore(path))
    call(handle, lambda s: s.services.put_app({"id": "/web", "cmd": "sleep 100"}))
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, TypeVar

import pykka

from actors.frameworks.hosting.store import MemoryStore, StateStore
from actors.frameworks.services.core import Services
from actors.frameworks.services.events import EventBus
from actors.scheduler import Scheduler
from messages import MasterInfo, Offer, TaskStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
TICK_SECONDS = 1.0
# how often the master is asked about tasks whose agent is unreachable: an agent that
# comes back does not tell the framework, reconciliation does (as Marathon's periodic one)
RECONCILE_UNREACHABLE_SECONDS = 5.0


def executor_json(data: bytes) -> dict | None:
    """An executor's framework message as a JSON object, or None (too big, not JSON, or
    nested too deeply to parse: an executor's bytes must not stop the scheduler's actor)."""
    try:
        decoded = json.loads(data) if len(data) < 65536 else None
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


class _Run:
    def __init__(self, fn: Callable[["ServicesScheduler"], Any]) -> None:
        self.fn = fn


class _Tick:
    pass


class _Wake:
    pass


class ServicesScheduler(Scheduler):
    def __init__(self, store: StateStore | None = None, state: dict | None = None, leader_url: str = "",
                 events: EventBus | None = None) -> None:
        super().__init__()
        self.store = store or MemoryStore()
        self.events = events or EventBus()
        self.leader_url = leader_url
        self.services = Services(self.store, now=self.now, new_id=self.new_id, emit=self.events.publish)
        self.services.restore(state if state is not None else self.store.load())
        self.started_at = self.now()
        self._tick_handle: Any = None
        self._wake_pending = False
        self._reconciled_unreachable_at = 0.0

    @classmethod
    def run(cls, target: Any, **kwargs: Any) -> Any:
        """As `Scheduler.run`, always PARTITION_AWARE: tasks of an unreachable agent come
        as TASK_UNREACHABLE and follow their app's unreachableStrategy."""
        kwargs["capabilities"] = tuple(dict.fromkeys((*kwargs.get("capabilities", ()), "PARTITION_AWARE")))
        return super().run(target, **kwargs)

    # --- callbacks ------------------------------------------------------------------------

    def registered(self, framework_id: str, master_info: MasterInfo) -> None:
        known = self.services.adopt_stored()
        if known:
            self.reconcile(known)  # what became of the tasks we knew
        self.reconcile()  # and every task the master has for us (adopted when ours)
        self._resume()

    def reregistered(self, master_info: MasterInfo) -> None:
        self.reconcile()
        self._resume()

    def _resume(self) -> None:
        """Connected (again): kills asked while disconnected were dropped, ask again."""
        for app in list(self.services.apps.values()) + list(self.services.stopping.values()):
            for task in app.tasks.values():
                if task.killing:
                    self.kill(task.id, task.agent_id, app.definition.get("taskKillGracePeriodSeconds"))
        self.services.suppressed = False
        self.revive()
        self._after()

    def resource_offers(self, offers: list[Offer]) -> None:
        self.services.on_offers(offers)
        self._after()

    def status_update(self, status: TaskStatus) -> None:
        self.services.on_status(status)
        self._after()

    def framework_message(self, executor_id: str, agent_id: str, data: bytes) -> None:
        decoded = executor_json(data)
        if isinstance(decoded, dict) and "healthCheckResult" in decoded:
            self.services.on_health(decoded["healthCheckResult"], agent_id)
            self._after()
        elif isinstance(decoded, dict) and "readinessCheckResult" in decoded:
            self.services.on_readiness(decoded["readinessCheckResult"], agent_id)
            self._after()
        else:
            log.warning("%s: unexpected framework message from %s on %s", self.address, executor_id, agent_id)

    def agent_lost(self, agent_id: str) -> None:
        self.services.on_agent_lost(agent_id)

    # --- running things on this thread ------------------------------------------------------

    def on_start(self) -> None:
        super().on_start()
        self._schedule_tick()

    def on_stop(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        super().on_stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Run):
            try:
                return message.fn(self)
            finally:
                self._after()
        if isinstance(message, _Wake):
            self._wake_pending = False
            self.services.wake()
            self._after()
            return None
        if isinstance(message, _Tick):
            try:
                self.services.wake()
                self._reconcile_unreachable()
                self._after()
            except Exception:  # a bug must not stop the framework: logged, tried again next tick
                log.exception("%s: periodic check failed", self.address)
            finally:
                self._schedule_tick()
            return None
        return super().on_receive(message)

    def _reconcile_unreachable(self) -> None:
        if not self.connected or self.now() - self._reconciled_unreachable_at < RECONCILE_UNREACHABLE_SECONDS:
            return
        away = self.services.unreachable_tasks()
        if away:
            self._reconciled_unreachable_at = self.now()
            self.reconcile(away)

    def _schedule_tick(self) -> None:
        ref = self.actor_ref

        def fire() -> None:
            try:
                ref.tell(_Tick())
            except pykka.ActorDeadError:
                pass

        self._tick_handle = self.context.clock.call_later(TICK_SECONDS, fire)

    def _after(self) -> None:
        """Send what the state machine decided; plan again after the messages waiting now
        (a burst of status updates is planned once)."""
        if self.services.dirty and not self._wake_pending:
            self._wake_pending = True
            self.actor_ref.tell(_Wake())
        actions, self.services.actions = self.services.actions, []
        for action in actions:
            kind = action[0]
            if not self.connected and kind != "launch":
                continue
            if kind == "launch":
                self.launch(action[1], action[2])
            elif kind == "decline":
                self.decline(action[1], action[2])
            elif kind == "kill":
                self.kill(action[1], action[2], action[3])
            elif kind == "revive":
                self.revive()
            elif kind == "suppress":
                self.suppress()


def call(handle: Any, fn: Callable[[ServicesScheduler], T], timeout: float = 30.0) -> T:
    """Run `fn(scheduler)` on the scheduler's thread and return its result (or raise)."""
    return handle.ref.ask(_Run(fn), timeout=timeout)
