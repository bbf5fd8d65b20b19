"""The jobs state machine on a virtual clock: due runs become tasks, retries, soft
errors, dependencies, concurrency, maxCompletionTime, epsilon, and a restart from the
store that neither loses nor repeats a run."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from actors.frameworks.hosting import MemoryStore
from actors.frameworks.jobs.core import Jobs, NotFound
from actors.frameworks.jobs.model import JobInvalid
from actors.runtime import VirtualClock
from messages import CommandURI, ContainerType, Offer, Resources, TaskState, TaskStatus

START = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc).timestamp()
AGENT = "cpus:4;mem:4096;disk:1000"


class World:
    def __init__(self, store: MemoryStore | None = None, epsilon: float | None = None) -> None:
        self.clock = VirtualClock(start=START)
        self.store = store or MemoryStore()
        self.ids = itertools.count(1)
        self.j = Jobs(self.store, now=self.clock.now, new_id=lambda: f"r{next(self.ids)}", epsilon=epsilon)
        self.j.restore(self.store.load())
        self.offers = itertools.count(1)

    def launch(self, host: str = "h1", resources: str = AGENT, **attributes: str) -> list:
        """Wake, offer one agent; the TaskInfos launched."""
        self.j.wake()
        offer = Offer(f"o{next(self.offers)}", "fw", f"agent-{host}", host, Resources.parse(resources),
                      attributes=attributes)
        self.j.on_offers([offer])
        tasks = [t for a in self.j.actions if a[0] == "launch" for t in a[2]]
        self.j.actions[:] = [a for a in self.j.actions if a[0] != "launch"]
        return tasks

    def status(self, task, state: str, message: str = "") -> None:
        self.j.on_status(TaskStatus(task.task_id, TaskState(state), message, agent_id=task.agent_id))

    def finish(self, task, ok: bool = True, seconds: float = 0.0) -> None:
        self.status(task, "TASK_RUNNING")
        self.clock.advance(seconds)
        self.status(task, "TASK_FINISHED" if ok else "TASK_FAILED", "" if ok else "exit 1")

    def kills(self) -> list[str]:
        return [a[1] for a in self.j.actions if a[0] == "kill"]


def job(name: str, **fields) -> dict:
    return {"name": name, "command": f"echo {name}", **fields}


def test_a_due_run_becomes_one_task_with_the_jobs_command_and_resources() -> None:
    w = World()
    w.j.put(job("etl", schedule="R/2024-06-01T12:00:00Z/PT1M", cpus=0.5, mem=64, shell=True,
                environmentVariables=[{"name": "A", "value": "1"}], runAsUser="nobody"))
    [task] = w.launch()
    assert task.command.value == "echo etl" and task.command.shell and task.command.user == "nobody"
    assert task.command.environment["A"] == "1" and task.command.environment["CHRONOS_JOB_NAME"] == "etl"
    assert str(task.resources) == "cpus:0.5;mem:64"
    assert w.launch() == []  # the next is a minute away
    w.finish(task, seconds=3)
    assert w.j.view("etl")["successCount"] == 1 and w.j.view("etl")["schedule"].startswith("R/2024-06-01T12:01:00")
    w.clock.advance(60)
    assert len(w.launch()) == 1


def test_shell_false_runs_the_command_with_its_arguments_and_put_overrides_them() -> None:
    w = World()
    w.j.put(job("argv", command="/bin/echo", shell=False, arguments=["a", "b"], parents=None,
                schedule="R1//PT1H"))
    [task] = w.launch()
    assert task.command.arguments == ("/bin/echo", "a", "b") and not task.command.shell
    w.finish(task)
    w.j.start_now("argv", ["x"])
    [again] = w.launch()
    assert again.command.arguments == ("/bin/echo", "x")


def test_failures_are_retried_with_backoff_then_counted_once() -> None:
    w = World()
    w.j.put(job("flaky", schedule="R1//PT1H", retries=2))
    first = w.launch()[0]
    w.finish(first, ok=False)
    assert w.launch() == []  # backing off
    w.clock.advance(1)
    second = w.launch()[0]
    w.finish(second, ok=False)
    w.clock.advance(2)
    third = w.launch()[0]
    assert len({first.task_id, second.task_id, third.task_id}) == 3
    w.finish(third, ok=False)
    w.clock.advance(10)
    assert w.launch() == []
    view = w.j.view("flaky")
    assert (view["errorCount"], view["errorsSinceLastSuccess"], view["successCount"]) == (1, 1, 0)
    assert view["lastError"].startswith("2024-06-01T12:00:03")


def test_a_child_runs_once_after_all_its_parents_succeeded() -> None:
    w = World()
    w.j.put(job("a", schedule="R1//PT1H"))
    w.j.put(job("b", schedule="R1//PT1H"))
    w.j.put(job("c", parents=["a", "b"]), dependent=True)
    tasks = {t.name.split(":")[1]: t for t in w.launch()}
    assert set(tasks) == {"a", "b"}
    w.finish(tasks["a"])
    assert w.launch() == []
    w.finish(tasks["b"])
    [child] = w.launch()
    assert child.name == "ChronosTask:c"
    w.finish(child)
    assert w.launch() == []


def test_a_failed_parent_holds_its_child_unless_soft_error() -> None:
    w = World()
    w.j.put(job("hard", schedule="R1//PT1H", retries=0))
    w.j.put(job("soft", schedule="R1//PT1H", retries=0, softError=True))
    w.j.put(job("after-hard", parents=["hard"]))
    w.j.put(job("after-soft", parents=["soft"]))
    for t in w.launch():
        w.finish(t, ok=False)
    assert [t.name for t in w.launch()] == ["ChronosTask:after-soft"]


def test_cycles_unknown_parents_and_bad_fields_are_refused() -> None:
    w = World()
    w.j.put(job("a", schedule="R//PT1H"))
    w.j.put(job("b", parents=["a"]))
    with pytest.raises(JobInvalid, match="cycle"):
        w.j.put(job("a", parents=["b"]))
    with pytest.raises(JobInvalid, match="no job named nope"):
        w.j.put(job("c", parents=["nope"]))
    with pytest.raises(JobInvalid, match="retries"):
        w.j.put(job("d", schedule="R//PT1H", retries="many"))
    with pytest.raises(JobInvalid, match="schedule"):
        w.j.put(job("e", schedule="every day"))
    with pytest.raises(JobInvalid, match="parent of b"):
        w.j.delete("a")
    with pytest.raises(NotFound):
        w.j.get("zzz")


def test_concurrent_false_waits_for_the_running_run_and_does_not_pile_up() -> None:
    w = World()
    w.j.put(job("slow", schedule="R/2024-06-01T12:00:00Z/PT10S", epsilon="PT1H"))
    [first] = w.launch()
    w.status(first, "TASK_RUNNING")
    for _ in range(5):  # five periods pass while it runs
        w.clock.advance(10)
        assert w.launch() == []
    assert w.j.stats["slow"].skipped == 4  # one run waits; the others are skipped
    w.status(first, "TASK_FINISHED")
    assert len(w.launch()) == 1


def test_concurrent_true_runs_side_by_side() -> None:
    w = World()
    w.j.put(job("par", schedule="R/2024-06-01T12:00:00Z/PT10S", concurrent=True))
    [first] = w.launch()
    w.status(first, "TASK_RUNNING")
    w.clock.advance(10)
    assert len(w.launch()) == 1


def test_max_completion_time_kills_the_task() -> None:
    w = World()
    w.j.put(job("bounded", schedule="R1//PT1H", maxCompletionTime=30, retries=0))
    [task] = w.launch()
    w.status(task, "TASK_RUNNING")
    w.clock.advance(29)
    w.j.wake()
    assert w.kills() == []
    w.clock.advance(1)
    w.j.wake()
    assert w.kills() == [task.task_id]
    w.status(task, "TASK_KILLED")
    assert w.j.view("bounded")["errorCount"] == 1


def test_high_priority_goes_first_when_resources_are_short() -> None:
    w = World()
    w.j.put(job("low", schedule="R1//PT1H", cpus=1))
    w.j.put(job("high", schedule="R1//PT1H", cpus=1, highPriority=True))
    [task] = w.launch(resources="cpus:1;mem:1024")
    assert task.name == "ChronosTask:high"


def test_constraints_choose_the_agent() -> None:
    w = World()
    w.j.put(job("pinned", schedule="R1//PT1H", constraints=[["rack", "EQUALS", "r2"]]))
    assert w.launch(rack="r1") == []
    assert len(w.launch(rack="r2")) == 1


def test_runs_missed_by_more_than_epsilon_are_skipped_and_counted() -> None:
    w = World(epsilon=5)
    w.j.put(job("tick", schedule="R/2024-06-01T12:00:00Z/PT10S"))
    w.clock.advance(3600)  # an hour away
    [task] = w.launch()  # only the run that is still on time
    assert w.j.stats["tick"].skipped == 360
    assert task.task_id.startswith(f"ct:{int((START + 3600) * 1000)}:")


def test_disabled_jobs_do_not_run_and_do_not_pile_up() -> None:
    w = World()
    w.j.put(job("off", schedule="R/2024-06-01T12:00:00Z/PT10S", disabled=True))
    w.clock.advance(100)
    assert w.launch() == []
    w.j.put(job("off", schedule="R/2024-06-01T12:00:00Z/PT10S", disabled=False))
    assert len(w.launch()) <= 1


def test_a_restart_from_the_store_neither_loses_nor_repeats_a_run() -> None:
    store = MemoryStore()
    w = World(store)
    w.j.put(job("etl", schedule="R/2024-06-01T12:00:00Z/PT1M"))
    [task] = w.launch()
    w.status(task, "TASK_RUNNING")
    # The process dies here; a new one loads the same store at the same time.
    again = World(store)
    again.clock.set(w.clock.now())
    assert again.launch() == []  # not launched twice
    again.status(task, "TASK_FINISHED")
    assert again.j.view("etl")["successCount"] == 1
    again.clock.advance(60)
    assert len(again.launch()) == 1  # and the next one comes


def test_a_task_lost_before_it_started_is_launched_again_without_using_a_retry() -> None:
    w = World()
    w.j.put(job("once", schedule="R1//PT1H", retries=0))
    [task] = w.launch()
    w.status(task, "TASK_LOST", "unknown task")
    w.clock.advance(1)
    [again] = w.launch()
    w.finish(again)
    assert w.j.view("once")["successCount"] == 1 and w.j.view("once")["errorCount"] == 0


def test_the_view_is_chronos_json_with_run_time_stats() -> None:
    w = World()
    w.j.put(job("v", schedule="R/2024-06-01T05:00:00/P1D", scheduleTimeZone="Europe/Berlin"))
    view = w.j.view("v")
    assert view["retries"] == 2 and view["scheduleTimeZone"] == "Europe/Berlin" and view["disabled"] is False
    assert view["schedule"] == "R/2024-06-01T05:00:00.000/P1D"
    w.j.start_now("v")
    [task] = w.launch()
    w.finish(task, seconds=4)
    assert w.j.stats["v"].histogram()["median"] == 4


def test_a_daily_job_in_a_zone_keeps_its_wall_time_across_dst() -> None:
    w = World()
    w.clock.set(datetime(2024, 3, 29, 12, 0, tzinfo=timezone.utc).timestamp())
    w.j.put(job("daily", schedule="R/2024-03-30T05:00:00/P1D", scheduleTimeZone="Europe/Berlin"))
    starts = []
    for _ in range(3):
        w.clock.set(w.j.positions["daily"].due().timestamp())
        [task] = w.launch()
        starts.append(datetime.fromtimestamp(int(task.task_id.split(":")[1]) / 1000, timezone.utc))
        w.finish(task)
    # 05:00 in Berlin each day: 04:00 UTC before the change on the 31st, 03:00 UTC after
    assert [s.hour for s in starts] == [4, 3, 3]
    assert w.j.view("daily")["schedule"] == "R/2024-04-02T05:00:00.000/P1D"


def test_without_epsilon_a_run_late_by_more_than_its_period_is_skipped() -> None:
    w = World()
    w.j.put(job("p", schedule="R/2024-06-01T12:00:00Z/PT1M"))
    w.clock.advance(59)  # late, but within one period: it still runs
    assert len(w.launch()) == 1
    w2 = World()
    w2.j.put(job("p", schedule="R/2024-06-01T12:00:00Z/PT1M"))
    w2.clock.advance(61)  # the 12:00 run is more than a period late: skipped; 12:01 runs
    [task] = w2.launch()
    assert w2.j.stats["p"].skipped == 1 and task.task_id.startswith(f"ct:{int((START + 60) * 1000)}:")


def test_a_cron_schedule_runs_on_the_minute() -> None:
    w = World()
    w.j.put(job("c", schedule="*/5 * * * *"))
    assert w.launch() == []
    w.clock.advance(300)
    [task] = w.launch()
    assert task.task_id.startswith(f"ct:{int((START + 300) * 1000)}:")


def test_mark_success_starts_the_waiting_children() -> None:
    w = World()
    w.j.put(job("p", schedule="R0//PT1H"))
    w.j.put(job("kid", parents=["p"]))
    w.j.mark_success("p")
    assert [t.name for t in w.launch()] == ["ChronosTask:kid"]


def test_a_run_costs_three_store_writes() -> None:
    w = World()
    w.j.put(job("w", schedule="R/2024-06-01T12:00:10Z/PT1M"))
    before = w.store.writes
    w.clock.advance(10)
    [task] = w.launch()  # queued with its position moved on: 1; launched: 2
    w.finish(task)  # running: not written; finished with its counts: 3
    assert w.store.writes - before == 3


def test_uris_fetch_and_container_go_into_the_runs_task() -> None:
    w = World()
    w.j.put(job("get", schedule="R/2024-06-01T12:00:00Z/PT1M", uris=["http://h/data.tgz"],
                fetch=[{"uri": "http://h/tool", "executable": True, "output_file": "bin/tool"}],
                container={"type": "MESOS", "image": ""}))
    (task,) = w.launch()
    assert task.command.uris == (CommandURI("http://h/data.tgz"),
                                 CommandURI("http://h/tool", executable=True, output_file="bin/tool"))
    assert (task.container.type, task.container.image) == (ContainerType.MESOS, "")


def test_a_docker_job_asks_for_its_image_and_a_bad_output_file_is_refused() -> None:
    w = World()
    w.j.put({"name": "d", "command": "", "shell": False, "schedule": "R/2024-06-01T12:00:00Z/PT1M",
             "container": {"type": "DOCKER", "image": "busybox"}})
    (task,) = w.launch()
    assert (task.container.type, task.container.image, task.problem()) == (ContainerType.DOCKER, "busybox", None)
    with pytest.raises(JobInvalid, match="output_file"):
        w.j.put(job("x", schedule="R/2024-06-01T12:00:00Z/PT1M", fetch=[{"uri": "http://h/a", "output_file": "../a"}]))


def test_a_scheduled_run_that_waits_past_its_epsilon_for_an_offer_is_skipped() -> None:
    w = World()
    w.j.put(job("p", schedule="R/2024-06-01T12:00:00Z/PT1M"))
    assert w.launch(resources="cpus:0.01;mem:1") == []  # offers too small: the 12:00 run waits
    w.clock.advance(60.5)  # more than its epsilon (the period) late; the 12:01 run is due
    [task] = w.launch()
    assert task.task_id.startswith(f"ct:{int((START + 60) * 1000)}:")
    assert w.j.stats["p"].skipped == 1


def test_the_last_run_of_a_schedule_keeps_its_epsilon_while_it_waits() -> None:
    w = World()
    w.j.put(job("once", schedule="R1/2024-06-01T12:00:00Z/PT1H"))
    assert w.launch(resources="cpus:0.01;mem:1") == []
    w.clock.advance(600)  # ten minutes without a fitting offer: within the hour
    [task] = w.launch()
    assert task.task_id.startswith(f"ct:{int(START * 1000)}:") and w.j.stats["once"].skipped == 0


def test_runs_started_by_hand_and_retries_are_not_dropped_for_epsilon() -> None:
    w = World(epsilon=1)
    w.j.put(job("manual", schedule="R0//PT1M", retries=1))
    w.j.start_now("manual")
    w.clock.advance(120)
    [first] = w.launch()
    w.finish(first, ok=False)
    w.clock.advance(120)
    assert len(w.launch()) == 1


def test_a_retry_asks_for_offers_when_its_backoff_ends() -> None:
    w = World()
    w.j.put(job("flaky", schedule="R1//PT1H", retries=3))
    [first] = w.launch()
    w.finish(first, ok=False)
    w.j.actions.clear()
    w.clock.advance(0.5)
    assert w.j.wake() == START + 1.0  # wakes when the backoff ends
    assert ("revive",) not in w.j.actions
    w.clock.advance(0.5)
    w.j.wake()
    assert ("revive",) in w.j.actions  # not left to the end of a decline filter
    w.j.actions.clear()
    w.j.wake()
    assert ("revive",) not in w.j.actions  # once


def test_retries_back_off_1_2_4_seconds_up_to_a_minute() -> None:
    w = World()
    w.j.put(job("flaky", schedule="R1//PT1H", retries=8))
    task = w.launch()[0]
    gaps = []
    for _ in range(8):
        failed_at = w.clock.now()
        w.finish(task, ok=False)
        waited = 0.0
        while not (launched := w.launch()):
            w.clock.advance(0.25)
            waited += 0.25
        gaps.append(w.clock.now() - failed_at)
        task = launched[0]
    assert gaps == [1, 2, 4, 8, 16, 32, 60, 60]


def _indexes_agree(j: Jobs) -> None:
    assert j._waiting == {r for r, run in j.runs.items() if not run.get("task")}
    assert j._launched == {r for r, run in j.runs.items() if run.get("task")}
    assert {n: set(rs) for n, rs in j._runs_of.items()} == {
        n: {r for r, run in j.runs.items() if run["job"] == n} for n in {run["job"] for run in j.runs.values()}}
    assert j._limited == {n for n, job in j.jobs.items() if job["maxCompletionTime"]}


def test_the_run_indexes_follow_every_change() -> None:
    store = MemoryStore()
    w = World(store)
    w.j.put(job("flaky", schedule="R/2024-06-01T12:00:00Z/PT10S", retries=1, maxCompletionTime=30))
    w.j.put(job("par", schedule="R/2024-06-01T12:00:00Z/PT5S", concurrent=True))
    w.j.put(job("child", parents=["par"]))
    _indexes_agree(w.j)
    tasks = w.launch()
    _indexes_agree(w.j)
    for task in tasks:
        w.finish(task, ok="flaky" not in task.task_id)
        _indexes_agree(w.j)
    for _ in range(6):
        w.clock.advance(5)
        for task in w.launch():
            w.status(task, "TASK_RUNNING")
        _indexes_agree(w.j)
    w.j.kill_tasks("flaky")
    _indexes_agree(w.j)
    w.j.delete("child")
    _indexes_agree(w.j)
    restarted = World(store)
    restarted.clock.set(w.clock.now())
    _indexes_agree(restarted.j)
    assert set(restarted.j.runs) == set(w.j.runs)  # ("started" is not written: a restart measures from launch)


def test_a_start_with_an_impossible_offset_is_refused_and_leaves_the_jobs_working():
    """'+99:99' parsed, the job was kept, and every later flush of the jobs raised (the
    API answered 500 and the scheduler's ticks failed until the job was deleted)."""
    w = World()
    with pytest.raises(JobInvalid, match="start"):
        w.j.put({"name": "bad", "command": "true", "owner": "", "schedule": "R/2030-01-01T00:00:00+99:99/PT1H"})
    assert "bad" not in w.j.jobs
    w.j.put({"name": "ok", "command": "true", "owner": "", "schedule": "R1//PT1H"})
    assert len(w.launch()) == 1
