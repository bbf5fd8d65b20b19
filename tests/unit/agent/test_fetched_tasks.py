"""Tasks with URIs on an embedded agent (in-process command executor, real processes):
the task sees its fetched files; a failed fetch fails the task before it starts; a kill
while fetching ends it; a container the agent cannot run fails it."""

from __future__ import annotations

import pytest

from messages import CommandInfo, CommandURI, ContainerInfo, ContainerType, KillTask, Resources, StatusReason, TaskInfo, TaskState
from tests.support.file_server import FileServer
from tests.unit.agent.fakes import command_task, run, wait_for

S = TaskState


@pytest.fixture
def files(tmp_path):
    path = tmp_path / "files"
    path.mkdir()
    return path


def fetching(task_id: str, command: str, *uris: CommandURI) -> TaskInfo:
    return TaskInfo(task_id, task_id, "", Resources.parse("cpus:0.1;mem:32"), command=CommandInfo(command, uris=uris))


def ended(cluster, task_id):
    return lambda: any(s.is_terminal for s in cluster.master.states(task_id))


def test_task_reads_files_fetched_from_a_file_uri_and_over_http(embedded, transport, files):
    (files / "greeting.txt").write_text("hello from a file uri\n")
    (files / "tool.sh").write_text("#!/bin/sh\necho hello from http\n")
    with FileServer(files) as server:
        task = fetching("t1", "cat greeting.txt && ./tool.sh",
                        CommandURI(f"file://{files}/greeting.txt"), CommandURI(server.url("tool.sh"), executable=True))
        embedded.say(run(task))
        assert wait_for(ended(embedded, "t1"), transport, timeout=30)
    assert embedded.master.states("t1") == [S.TASK_STARTING, S.TASK_RUNNING, S.TASK_FINISHED]
    (done,) = embedded.state()["completed_tasks"]
    sandbox = embedded.work_dir / done["sandbox"]
    assert (sandbox / "stdout").read_text() == "hello from a file uri\nhello from http\n"


def test_a_failed_fetch_fails_the_task_naming_the_uri_and_why(embedded, transport, files):
    with FileServer(files) as server:
        url = server.url("missing.tar.gz")
        embedded.say(run(fetching("t1", "echo never", CommandURI(url))))
        assert wait_for(ended(embedded, "t1"), transport, timeout=30)
    assert embedded.master.states("t1") == [S.TASK_STARTING, S.TASK_FAILED]
    last = embedded.master.updates("t1")[-1].status
    assert last.reason == StatusReason.REASON_CONTAINER_LAUNCH_FAILED
    assert last.message == f"fetcher: cannot fetch {url!r}: HTTP 404 File not found"


def test_a_kill_while_fetching_ends_the_task_killed(embedded, transport, files):
    (files / "a").write_text("x")
    with FileServer(files) as server:
        embedded.say(run(fetching("t1", "echo never", CommandURI(server.url("drip/a")))))
        assert wait_for(lambda: S.TASK_STARTING in embedded.master.states("t1"), transport, timeout=10)
        embedded.say(KillTask("f1", "t1"))
        assert wait_for(ended(embedded, "t1"), transport, timeout=10)
    assert embedded.master.states("t1")[-1] == S.TASK_KILLED


@pytest.mark.parametrize("container, says", [
    (ContainerInfo(ContainerType.DOCKER, image="nginx"), "has no docker containerizer"),
    (ContainerInfo(ContainerType.MESOS, image="alpine"), "cannot provision container images"),
])
def test_a_container_this_agent_cannot_run_fails_the_task(embedded, transport, container, says):
    embedded.say(run(command_task("t1", "echo never", container=container)))
    assert wait_for(ended(embedded, "t1"), transport)
    last = embedded.master.updates("t1")[-1].status
    assert (last.state, last.reason) == (S.TASK_FAILED, StatusReason.REASON_CONTAINER_LAUNCH_FAILED)
    assert says in last.message


def test_a_mesos_container_without_an_image_runs_as_a_plain_command(embedded, transport):
    embedded.say(run(command_task("t1", "echo plain", container=ContainerInfo(ContainerType.MESOS))))
    assert wait_for(ended(embedded, "t1"), transport, timeout=10)
    assert embedded.master.states("t1")[-1] == S.TASK_FINISHED
