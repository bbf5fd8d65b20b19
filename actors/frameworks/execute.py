"""Run one command as a task and report how it went: what `mesobus run` uses (like
Mesos' `mesos-execute`).

>>> handle = ExecuteScheduler.run(cluster, command="echo hi", cpus=0.1, mem=32)  # doctest: +SKIP
>>> handle.join(); handle.scheduler.final.exit_code                               # doctest: +SKIP
0

It launches the task on the first offer that fits, declines every other offer, then
suppresses offers; it stops (tearing the framework down) once the task is terminal.
`on_status(status)` is called on the scheduler's thread for each state change.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from actors.runtime import on
from actors.scheduler import Scheduler
from actors.scheduler.tasks import build_task
from messages import STREAM_LABEL, Offer, OutputWaitOver, TaskOutput, TaskOutputAck, TaskState, TaskStatus

log = logging.getLogger(__name__)

OUTPUT_WAIT = 10.0  # seconds the rest of a task's output may take to come after its end

class ExecuteScheduler(Scheduler):
    def __init__(
        self,
        command: str,
        cpus: float = 0.1,
        mem: float = 32,
        task_name: str = "",
        env: dict[str, str] | None = None,
        on_status: Callable[[TaskStatus], None] | None = None,
        on_note: Callable[[str], None] | None = None,
        on_output: Callable[[str, bytes], None] | None = None,
    ) -> None:
        super().__init__()
        self.command, self.cpus, self.mem = command, cpus, mem
        self.task_name, self.env = task_name, dict(env or {})
        self.on_status = on_status or (lambda status: None)
        self.on_note = on_note or (lambda text: log.warning("%s", text))
        # With on_output, the task's stdout and stderr are streamed here as it runs
        # (messages/output.py): on_output(stream, data) for each new piece, in order.
        self.on_output = on_output
        self.output_offsets = {"stdout": 0, "stderr": 0}  # bytes received of each stream
        self.output_ended: set[str] = set()  # the streams received whole
        self.output_seen = False  # any TaskOutput came
        self.output_cut = False  # the task ended, and the rest of its output did not come in time
        self.task_id = ""
        self.agent_id = ""
        self.hostname = ""
        self.executor_id = ""
        self.final: TaskStatus | None = None
        # For whoever reports progress (the CLI's watcher reads these from its thread):
        self.largest_offer: Offer | None = None  # the largest offer that did not fit, so far
        self.latest: TaskStatus | None = None  # the task's latest status
        self.latest_at = 0.0  # when it came, or the task was launched (time.monotonic())

    def resource_offers(self, offers: list[Offer]) -> None:
        for offer in offers:
            if self.task_id:
                self.decline(offer, 3600)
                continue
            task = build_task(
                offer,
                self.command,
                task_id=self.new_id(),
                name=self.task_name or "mesobus-run",
                cpus=self.cpus,
                mem=self.mem,
                env=self.env,
                labels={STREAM_LABEL: "1"} if self.on_output is not None else None,
            )
            if not offer.resources.contains(task.resources):
                self.decline(offer, 1.0)
                self._remember_unfit(offer)
                continue
            self.task_id, self.agent_id, self.hostname = task.task_id, offer.agent_id, offer.hostname
            self.latest_at = time.monotonic()  # launched: nothing heard of the task yet
            self.launch(offer, [task])
            self.suppress()

    def status_update(self, status: TaskStatus) -> None:
        if status.task_id != self.task_id:
            return
        self.executor_id = status.executor_id or self.executor_id
        self.latest, self.latest_at = status, time.monotonic()
        self.on_status(status)
        if status.state.is_terminal:
            self.final = status
            if self.on_output is not None and self.output_seen and len(self.output_ended) < 2:
                self.delay(OUTPUT_WAIT, OutputWaitOver(status.task_id))  # the rest may be on its way
            else:
                self.stop()

    @on(TaskOutput)
    def _on_task_output(self, msg: TaskOutput) -> None:
        if self.on_output is None or msg.task_id != self.task_id or msg.framework_id != self.framework_id:
            return
        if msg.problem() is not None:
            log.warning("%s: ignoring output of %s: %s", self.address, msg.task_id, msg.problem())
            return
        self.output_seen = True
        have = self.output_offsets[msg.stream]
        if msg.eof:
            if msg.offset == have:
                self.output_ended.add(msg.stream)
        elif msg.offset <= have < msg.offset + len(msg.data):  # new bytes (a resent chunk may overlap)
            fresh = msg.data[have - msg.offset:]
            self.output_offsets[msg.stream] = have + len(fresh)
            self.on_output(msg.stream, fresh)
        self.reply(TaskOutputAck(self.framework_id, msg.task_id, msg.stream, self.output_offsets[msg.stream]))
        if self.final is not None and len(self.output_ended) == 2:
            self.stop()

    @on(OutputWaitOver)
    def _on_output_wait_over(self, msg: OutputWaitOver) -> None:
        if self.final is not None and len(self.output_ended) < 2:
            self.output_cut = True
            self.stop()

    def reregistered(self, master_info) -> None:
        if self.task_id:  # we missed updates while away? ask for the task's state
            self.reconcile([(self.task_id, self.agent_id)])

    def error(self, message: str) -> None:
        self.on_note(f"the master refused the framework: {message}")

    def exit_code(self) -> int:
        """The task's exit code; without one: 0 for TASK_FINISHED, 1 for anything else."""
        if self.final is None:
            return 1
        if self.final.exit_code is not None:
            return self.final.exit_code
        return 0 if self.final.state is TaskState.TASK_FINISHED else 1

    def _remember_unfit(self, offer: Offer) -> None:
        best = self.largest_offer
        if best is None or (offer.resources.scalar("cpus"), offer.resources.scalar("mem")) > (
            best.resources.scalar("cpus"), best.resources.scalar("mem")
        ):
            self.largest_offer = offer
