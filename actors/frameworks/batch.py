"""A batch framework: run a list of shell commands across the agents, retrying failures.

>>> from actors.frameworks.batch import BatchScheduler
>>> handle = BatchScheduler.run(cluster, commands=["echo one", "echo two"],  # doctest: +SKIP
...                             max_retries=2)
>>> handle.join(60); handle.scheduler.progress().done                     # doctest: +SKIP
True

Each command becomes a task of `cpus` x `mem`; offers are packed with as many pending
tasks as fit. A task that ends in any state but TASK_FINISHED is run again (with a new
task id) up to `max_retries` times. When every command has finished or run out of
retries, the framework stops (and is torn down). `on_progress(progress)` is called on the
scheduler's thread after every change with an immutable `BatchProgress`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from actors.scheduler import Scheduler
from actors.scheduler.tasks import build_task
from messages import Offer, Resources, TaskInfo, TaskState, TaskStatus

LONG_DECLINE = 60.0  # seconds an offer we cannot use stays away (we revive when we need more)


@dataclass
class Job:
    """One command of the batch and how its runs went."""

    index: int
    command: str
    attempts: int = 0
    state: str = "PENDING"  # PENDING, a TaskState name, or FAILED for good
    task_id: str = ""
    agent: str = ""  # hostname of the agent of the latest run
    done: bool = False


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot: counts by current state, runs per agent, retries, time."""

    total: int
    states: dict[str, int]
    finished: int
    failed: int
    retries: int
    per_agent: dict[str, int]
    started_at: float
    elapsed: float
    done: bool = False
    last: str = ""  # the latest event, for plain-line output

    def line(self) -> str:
        counts = " ".join(f"{k.removeprefix('TASK_').lower()}={v}" for k, v in sorted(self.states.items()))
        return (
            f"[{self.elapsed:6.1f}s] {self.finished + self.failed}/{self.total} done"
            f" (finished {self.finished}, failed {self.failed}, retries {self.retries}) {counts}"
        )


class BatchScheduler(Scheduler):
    def __init__(
        self,
        commands: Iterable[str],
        cpus: float = 0.1,
        mem: float = 32,
        max_retries: int = 2,
        on_progress: Callable[[BatchProgress], None] | None = None,
    ) -> None:
        super().__init__()
        self.jobs = [Job(i, c) for i, c in enumerate(commands)]
        if not self.jobs:
            raise ValueError("a batch needs at least one command")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.cpus, self.mem, self.max_retries = cpus, mem, max_retries
        self.on_progress = on_progress
        self._by_task: dict[str, Job] = {}
        self._hosts: dict[str, str] = {}  # agent id -> hostname, from offers
        self._pending = list(self.jobs)
        self._t0 = time.monotonic()
        self._last = ""

    # --- callbacks ------------------------------------------------------------------------

    def registered(self, framework_id, master_info) -> None:
        self._last = f"registered as {framework_id}"
        self._report()

    def resource_offers(self, offers: list[Offer]) -> None:
        for offer in offers:
            self._hosts[offer.agent_id] = offer.hostname
            tasks = []
            left = offer
            while self._pending and left.resources.contains(self._shape(left)):
                task = self._new_task(left, self._pending.pop(0))
                tasks.append(task)
                left = replace(left, resources=left.resources - task.resources)
            if tasks:
                self.launch(offer, tasks, filters=1.0)
            else:
                self.decline(offer, LONG_DECLINE)
        if not self._pending:
            self.suppress()  # nothing to run until a retry: no offers meanwhile
        self._report()

    def status_update(self, status: TaskStatus) -> None:
        job = self._by_task.get(status.task_id)
        if job is None or job.task_id != status.task_id:
            return  # an update for an earlier attempt, or not ours
        job.state = status.state.value
        if status.state is TaskState.TASK_FINISHED:
            job.done = True
            self._last = f"task {status.task_id} finished on {job.agent}"
        elif status.state.is_terminal:
            if job.attempts <= self.max_retries:
                job.state = "PENDING"
                self._pending.append(job)
                self.revive()
                why = status.message or status.reason.value or status.state.value
                self._last = f"task {status.task_id} {status.state.value}: {why}; retrying"
            else:
                job.done = True
                job.state = "FAILED"
                self._last = f"task {status.task_id} failed for good after {job.attempts} attempts"
        self._report()
        if all(j.done for j in self.jobs):
            self.stop()

    def offer_rescinded(self, offer_id: str) -> None:
        pass  # nothing was launched on it, or the launch reports TASK_LOST and is retried

    # --- state ----------------------------------------------------------------------------

    def progress(self) -> BatchProgress:
        """A snapshot of the batch (safe to call from any thread once it has stopped)."""
        jobs = list(self.jobs)
        runs = Counter(j.agent for j in jobs if j.attempts)
        return BatchProgress(
            total=len(jobs),
            states=dict(Counter(j.state for j in jobs)),
            finished=sum(1 for j in jobs if j.state == TaskState.TASK_FINISHED.value),
            failed=sum(1 for j in jobs if j.state == "FAILED"),
            retries=sum(max(j.attempts - 1, 0) for j in jobs),
            per_agent=dict(runs),
            started_at=self._t0,
            elapsed=time.monotonic() - self._t0,
            done=all(j.done for j in jobs),
            last=self._last,
        )

    def _shape(self, offer: Offer) -> Resources:
        """What one task takes from this offer (unreserved first, then the offer's role)."""
        return build_task(offer, "true", task_id="probe", cpus=self.cpus, mem=self.mem).resources

    def _new_task(self, offer: Offer, job: Job) -> TaskInfo:
        job.attempts += 1
        task_id = f"job{job.index}.try{job.attempts}"
        job.task_id = task_id
        job.state = TaskState.TASK_STAGING.value
        job.agent = offer.hostname or offer.agent_id
        self._by_task[task_id] = job
        return self.task(offer, job.command, task_id=task_id, name=f"job{job.index}", cpus=self.cpus, mem=self.mem)

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress())
