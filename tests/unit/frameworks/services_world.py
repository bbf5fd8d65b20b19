"""The services state machine in a test harness: a virtual clock, an in-memory store,
offers built from a resources string, status updates by task id."""

from __future__ import annotations

import itertools

from actors.frameworks.hosting import MemoryStore
from actors.frameworks.services.core import Services
from actors.runtime import VirtualClock
from messages import Offer, Resources, TaskState, TaskStatus

AGENT = "cpus:4;mem:4096;disk:1000;ports:[31000-31009]"


class World:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.clock = VirtualClock(start=1_700_000_000.0)
        self.store = store or MemoryStore()
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        self.s = Services(self.store, now=self.clock.now, new_id=lambda: f"id{next(self.ids)}", emit=self.events.append)
        self.offers = itertools.count(1)

    def offer(self, host: str = "h1", resources: str = AGENT, **attributes: str) -> Offer:
        return Offer(f"o{next(self.offers)}", "fw", f"agent-{host}", host, Resources.parse(resources),
                     attributes=attributes)

    def launch(self, *offers: Offer) -> list:
        """Offer these; returns the TaskInfos launched (and clears the actions)."""
        self.s.on_offers(list(offers))
        tasks = [t for a in self.s.actions if a[0] == "launch" for t in a[2]]
        self.s.actions.clear()
        return tasks

    def status(self, task_id: str, state: str, message: str = "") -> None:
        app = self.s.apps.get(self.s.task_app.get(task_id, ""))
        agent = app.tasks[task_id].agent_id if app and task_id in app.tasks else ""
        self.s.on_status(TaskStatus(task_id, TaskState(state), message, agent_id=agent, timestamp=self.clock.now()))
        if self.s.dirty:  # as the scheduler does after a burst of updates
            self.s.wake()

    def run_all(self, tasks) -> None:
        for t in tasks:
            self.status(t.task_id, "TASK_RUNNING")

    def kills(self) -> list[str]:
        out = [a[1] for a in self.s.actions if a[0] == "kill"]
        self.s.actions[:] = [a for a in self.s.actions if a[0] != "kill"]
        return out
