"""The framework of the journal tests: N quick tasks, one declined offer, one killed task.

The first offer it sees is declined with a long filter (so `log explain` has a filter to
name); one task sleeps and is killed once it runs; every other task is `echo`. It stops
when every task has ended. Run as a script against a broker:
`python tests/support/recorded_framework.py URL TASKS EVENTS_FILE`.
"""

from __future__ import annotations

import json
import sys

from actors import Scheduler
from messages import Resources, TaskState

TASK = Resources.parse("cpus:0.1;mem:16")
SLEEPER = "sleeper"
REFUSE_SECONDS = 600.0


class RecordedFramework(Scheduler):
    def __init__(self, tasks: int = 50, events: str | None = None) -> None:
        super().__init__()
        self.to_launch = [f"task-{i}" for i in range(tasks - 1)] + [SLEEPER]
        self.total = tasks
        self.ended: dict[str, str] = {}
        self.declined_agent = ""
        self.events = open(events, "a", buffering=1) if events else None

    def resource_offers(self, offers):
        for offer in offers:
            if not self.declined_agent:
                self.declined_agent = offer.agent_id
                self._event("declined", agent_id=offer.agent_id, offer_id=offer.offer_id)
                self.decline(offer, refuse_seconds=REFUSE_SECONDS)
                continue
            tasks, free = [], offer.resources
            while self.to_launch and free.contains(TASK):
                task_id = self.to_launch.pop()
                command = "sleep 60" if task_id == SLEEPER else f"echo {task_id}"
                tasks.append(self.task(offer, command, task_id=task_id, resources=TASK))
                free = free - TASK
            self.launch(offer, tasks)

    def status_update(self, status):
        self._event("status", task_id=status.task_id, state=status.state.value, agent_id=status.agent_id)
        if status.task_id == SLEEPER and status.state is TaskState.TASK_RUNNING:
            self.kill(SLEEPER)
        if status.state.is_terminal:
            self.ended[status.task_id] = status.state.value
            if len(self.ended) == self.total:
                self.stop()

    def _event(self, kind: str, **fields) -> None:
        if self.events is not None:
            self.events.write(json.dumps({"event": kind, **fields}) + "\n")


if __name__ == "__main__":
    url, count, events = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handle = RecordedFramework.run(url, name="recorded", tasks=count, events=events)
    sys.exit(0 if handle.join(120) else 1)
