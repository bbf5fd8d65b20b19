"""`mesobus run` says what it waits for: a request no agent could ever fit ends at once in
an embedded cluster, waits with a periodic line where more agents may come, gives up at
--timeout; no master is said once then periodically; a task stuck in STAGING is named."""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

from actors.cli.run_watch import REPEAT_EVERY, RunWatch
from messages import Resources, TaskState, TaskStatus
from tests.support.cluster_framework import ROOT

SMALL = Resources.parse("cpus:2;mem:2048")


def scheduler(**fields) -> SimpleNamespace:
    base = dict(connected=True, task_id="", largest_offer=None, latest=None, latest_at=0.0, hostname="", final=None)
    return SimpleNamespace(**{**base, **fields})


def test_mesobus_run_says_at_once_that_no_embedded_agent_could_fit_the_task() -> None:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "actors.cli.main", "run", "--cpus", "64", "--", "true"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert result.stderr.startswith("mesobus run: no agent could ever fit cpus:64;mem:32: ")
    assert result.stderr.count("\n") == 1


def test_where_more_agents_may_come_the_wait_goes_on_with_a_periodic_line_until_the_timeout() -> None:
    lines: list[str] = []
    watch = RunWatch(scheduler(), lines.append, needed=Resources.parse("cpus:64"), agents=lambda: [("h1", SMALL)],
                     timeout=100.0)
    for now in range(0, 100, 1):
        assert watch.tick(float(now)) is None
    assert lines[0] == "no agent could ever fit cpus:64: h1 has cpus:2;mem:2048 in all; waiting for more agents"
    assert lines[1:] == [f"still no agent that could fit cpus:64 after {n}s" for n in (30, 60, 90)]
    assert watch.tick(100.0) == 1
    assert lines[-1] == "gave up: the task did not start within --timeout 100s"


def test_no_master_is_said_once_then_every_so_often_and_its_arrival_once() -> None:
    lines: list[str] = []
    sched = scheduler(connected=False)
    watch = RunWatch(sched, lines.append, needed=SMALL)
    for now in range(0, 40):
        watch.tick(float(now))
    sched.connected = True
    watch.tick(40.0)
    watch.tick(41.0)
    assert lines == [
        "no master has answered yet (is `mesobus master` running on this broker?); still trying",
        f"still no master after {int(REPEAT_EVERY + 5)}s",
        "registered with the master",
    ]


def test_a_task_stuck_in_staging_is_named_with_its_agent() -> None:
    lines: list[str] = []
    staging = TaskStatus(task_id="t1", state=TaskState.TASK_STAGING)
    sched = scheduler(task_id="t1", hostname="h7", latest=staging, latest_at=0.0)
    watch = RunWatch(sched, lines.append, needed=SMALL)
    for now in range(0, 45):
        watch.tick(float(now))
    assert lines == ["still STAGING on agent h7 (last heard 10s ago)", "still STAGING on agent h7 (last heard 40s ago)"]
    sched.latest = TaskStatus(task_id="t1", state=TaskState.TASK_RUNNING)
    watch.tick(46.0)
    assert len(lines) == 2


def test_a_scheduler_leaving_after_its_task_ended_is_not_a_lost_master() -> None:
    lines: list[str] = []
    sched = scheduler(task_id="t1", latest=TaskStatus(task_id="t1", state=TaskState.TASK_RUNNING), latest_at=0.0)
    watch = RunWatch(sched, lines.append, needed=SMALL)
    watch.tick(1.0)
    sched.final = TaskStatus(task_id="t1", state=TaskState.TASK_FINISHED)
    sched.connected = False  # it stops once the task is terminal
    watch.tick(2.0)
    assert lines == []
