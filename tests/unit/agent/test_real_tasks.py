"""Real command tasks through the agent and an in-process command executor (embedded
mode): each task is a real child process. Time is virtual, except that the processes
themselves take a little real time."""

from __future__ import annotations

from messages import KillTask, StatusReason, TaskState
from tests.unit.agent.fakes import Recorder, command_task, run, wait_for

S = TaskState


def finished(cluster, task_id):
    return lambda: any(s.is_terminal for s in cluster.master.states(task_id))


def test_echo_task_finishes_with_its_output_in_the_sandbox(embedded, transport):
    embedded.say(run(command_task("t1", "echo hi")))
    assert wait_for(finished(embedded, "t1"), transport)
    assert embedded.master.states("t1") == [S.TASK_STARTING, S.TASK_RUNNING, S.TASK_FINISHED]
    (task,) = embedded.state()["completed_tasks"]
    sandbox = embedded.work_dir / task["sandbox"]
    assert (sandbox / "stdout").read_text() == "hi\n"
    assert (sandbox / "stderr").read_text() == ""


def test_failing_task_reports_its_exit_code_and_stderr_stays_in_the_sandbox(embedded, transport):
    embedded.say(run(command_task("t1", "echo oops >&2; exit 7")))
    assert wait_for(finished(embedded, "t1"), transport)
    last = embedded.master.updates("t1")[-1]
    assert (last.status.state, last.status.exit_code) == (S.TASK_FAILED, 7)
    (task,) = embedded.state()["completed_tasks"]
    assert (embedded.work_dir / task["sandbox"] / "stderr").read_text() == "oops\n"


def test_kill_ends_a_sleeping_task_with_sigterm(embedded, transport):
    embedded.say(run(command_task("t1", "sleep 30")))
    assert wait_for(lambda: S.TASK_RUNNING in embedded.master.states("t1"), transport)
    embedded.say(KillTask("f1", "t1"))
    assert wait_for(finished(embedded, "t1"), transport)
    last = embedded.master.updates("t1")[-1]
    assert last.status.state == S.TASK_KILLED and "SIGTERM" in last.status.message


def test_task_ignoring_sigterm_is_sigkilled_after_the_grace_period(embedded, transport, clock):
    embedded.say(run(command_task("t1", "trap '' TERM; echo ready; sleep 30")))
    stdout = lambda: embedded.state()["tasks"] and (  # noqa: E731
        embedded.work_dir / embedded.state()["tasks"][0]["sandbox"] / "stdout").read_text()
    assert wait_for(lambda: stdout() == "ready\n", transport)
    embedded.say(KillTask("f1", "t1"))
    assert not wait_for(finished(embedded, "t1"), transport, timeout=0.3)  # SIGTERM is ignored
    clock.advance(3)  # the default grace period
    assert wait_for(finished(embedded, "t1"), transport)
    last = embedded.master.updates("t1")[-1]
    assert last.status.state == S.TASK_KILLED and "SIGKILL" in last.status.message


def test_executor_gone_fails_its_running_task(embedded, transport):
    embedded.say(run(command_task("t1", "sleep 30")))
    assert wait_for(lambda: S.TASK_RUNNING in embedded.master.states("t1"), transport)
    embedded.launcher.close()  # the in-process executor stops: its task dies with it
    # What is sent to the stopped executor's mailbox stays there; drain it.
    drain = Recorder.start("executor.a1.f1.mesobus-command", transport)
    assert wait_for(finished(embedded, "t1"), transport)
    drain.stop()
    last = embedded.master.updates("t1")[-1]
    assert last.status.state == S.TASK_FAILED
    assert last.status.reason == StatusReason.REASON_EXECUTOR_TERMINATED
    assert embedded.state()["executors"] == []


def test_idle_command_executor_stops_and_a_new_task_starts_another(embedded, transport, clock):
    embedded.say(run(command_task("t1", "true")))
    assert wait_for(finished(embedded, "t1"), transport)
    clock.advance(5)
    assert wait_for(lambda: embedded.state()["executors"] == [], transport)
    embedded.say(run(command_task("t2", "echo again")))
    assert wait_for(finished(embedded, "t2"), transport)
    assert embedded.master.states("t2")[-1] == S.TASK_FINISHED
