"""An embedded LocalCluster runs real shell tasks end to end (real clock, real processes)."""

from __future__ import annotations

import pytest

from actors import Scheduler
from actors.cli.main import main
from actors.cluster import LocalCluster
from messages import Resources, TaskState

TASK = Resources.parse("cpus:0.1;mem:32")


class Echoes(Scheduler):
    """Launches `count` echo tasks, packing offers; stops when every task has ended."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count, self.to_launch = count, count
        self.final: dict[str, TaskState] = {}
        self.agents: set[str] = set()

    def resource_offers(self, offers):
        for offer in offers:
            tasks, free = [], offer.resources
            while self.to_launch and free.contains(TASK):
                self.to_launch -= 1
                tasks.append(self.task(offer, f"echo task {self.to_launch}", resources=TASK))
                free -= TASK
            self.agents.update(t.agent_id for t in tasks)
            self.launch(offer, tasks)

    def status_update(self, status):
        if status.state.is_terminal:
            self.final[status.task_id] = status.state
            if len(self.final) == self.count:
                self.stop()


def test_two_agents_run_twenty_echo_tasks_to_finished() -> None:
    # 1 cpu per agent: ten 0.1-cpu tasks fill one, so both agents get work.
    with LocalCluster(agents=2, agent_resources="cpus:1;mem:1024;disk:1024") as cluster:
        handle = Echoes.run(cluster, name="echoes", count=20)
        assert handle.join(timeout=60), "the framework did not finish in 60 s"
        sched = handle.scheduler
        assert sorted(set(sched.final.values())) == [TaskState.TASK_FINISHED]
        assert len(sched.final) == 20 and len(sched.agents) == 2
        outputs = [
            (box / "stdout").read_text()
            for task_id in sched.final
            for box in cluster.sandboxes(handle.framework_id, task_id)
        ]
        assert sorted(outputs) == sorted(f"task {i}\n" for i in range(20))


def test_state_shows_the_agents_and_the_framework() -> None:
    with LocalCluster(agents=2) as cluster:
        handle = Echoes.run(cluster, name="echoes", count=1)
        assert handle.join(timeout=30)
        state = cluster.state()
    assert len(state["agents"]) == 2 and "frameworks" in state


def test_mesobus_run_prints_the_output_and_exits_with_the_command_code(capsys, monkeypatch) -> None:
    monkeypatch.delenv("MESOBUS_BROKER", raising=False)
    code = main(["run", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3"])
    captured = capsys.readouterr()
    assert code == 3
    assert captured.out == "hi\n"
    assert "oops" in captured.err and "TASK_FAILED" in captured.err


def test_mesobus_run_of_a_good_command_exits_zero(capsys, monkeypatch) -> None:
    monkeypatch.delenv("MESOBUS_BROKER", raising=False)
    assert main(["run", "-q", "--", "echo hello | tr a-z A-Z"]) == 0
    assert capsys.readouterr().out == "HELLO\n"


def test_local_cluster_refuses_bad_agent_resources() -> None:
    with pytest.raises(ValueError, match="bad scalar for cpus"):
        LocalCluster(agents=1, agent_resources="cpus:many")


class AttributeWatcher(Scheduler):
    """Records the attributes of the first offer from each agent, then stops."""

    def __init__(self, agents: int) -> None:
        super().__init__()
        self.agents = agents
        self.attributes: dict[str, dict] = {}

    def resource_offers(self, offers):
        for offer in offers:
            self.attributes.setdefault(offer.hostname, dict(offer.attributes))
            self.decline(offer)
        if len(self.attributes) == self.agents:
            self.stop()


def test_agent_attributes_reach_the_master_and_the_offers() -> None:
    with LocalCluster(agents=2, agent_attributes=["rack:r1;zone:a", "rack:r2;zone:a"], hostname="h") as cluster:
        handle = AttributeWatcher.run(cluster, name="watcher", agents=2)
        assert handle.join(timeout=30)
        seen = handle.scheduler.attributes
        state = cluster.state()
    assert seen == {"h-1": {"rack": "r1", "zone": "a"}, "h-2": {"rack": "r2", "zone": "a"}}
    assert sorted(a["attributes"]["rack"] for a in state["agents"]) == ["r1", "r2"]


def test_one_attributes_text_applies_to_every_agent() -> None:
    with LocalCluster(agents=2, agent_attributes="gpu:none") as cluster:
        state = cluster.state()
    assert [a["attributes"] for a in state["agents"]] == [{"gpu": "none"}] * 2


@pytest.mark.parametrize("given, message", [
    ("rack", "is not name:value"),
    (["rack:r1"], "a list of 2 texts"),
])
def test_local_cluster_refuses_bad_agent_attributes(given, message) -> None:
    with pytest.raises(ValueError, match=message):
        LocalCluster(agents=2, agent_attributes=given)


def test_the_custom_executor_example_of_the_framework_api_runs_embedded() -> None:
    from examples.greeter import Greetings

    with LocalCluster(agents=1) as cluster:
        handle = Greetings.run(cluster, name="greetings", names=("ada", "alan"))
        assert handle.join(timeout=30)
    assert sorted(handle.scheduler.said.values()) == ["hello, ada", "hello, alan"]
