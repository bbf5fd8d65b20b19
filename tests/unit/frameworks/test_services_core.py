"""The services state machine on plain values and a virtual clock: offers become tasks,
lost tasks are replaced after backoff, rolling restarts hold the health floor,
constraints and the queue's reasons, state restored without killing anything."""

from __future__ import annotations

import pytest

from actors.frameworks.services.appdef import AppInvalid
from actors.frameworks.services.errors import Conflict
from messages import CommandURI, ContainerType
from tests.unit.frameworks.services_world import World


def test_instances_are_launched_with_ports_and_marathon_environment() -> None:
    w = World()
    w.s.put_app({"id": "/team/web", "cmd": "serve", "instances": 2, "cpus": 0.5, "mem": 64,
                 "portDefinitions": [{"port": 0}, {"port": 0}], "env": {"A": "1"}})
    tasks = w.launch(w.offer())
    assert len(tasks) == 2
    env = tasks[0].command.environment
    assert env["PORT0"] == "31000" and env["PORTS"] == "31000,31001" and env["HOST"] == "h1"
    assert env["MARATHON_APP_ID"] == "/team/web" and env["A"] == "1"
    assert tasks[0].task_id.startswith("team_web.")
    assert w.s.apps["/team/web"].definition["ports"] == [10000, 10001]  # service ports assigned


def test_a_deployment_ends_when_every_instance_runs() -> None:
    w = World()
    _, deployment, _ = w.s.put_app({"id": "/a", "cmd": "x", "instances": 2, "cpus": 0.1, "mem": 8})
    w.run_all(w.launch(w.offer()))
    assert deployment.id not in w.s.deployments
    assert [e["eventType"] for e in w.events if e["eventType"].startswith("deployment")][-1] == "deployment_success"


def test_a_failed_task_is_replaced_after_its_backoff() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 8, "backoffSeconds": 10,
                 "backoffFactor": 2})
    [task] = w.launch(w.offer())
    w.status(task.task_id, "TASK_FAILED", "exit 1")
    assert w.launch(w.offer()) == []  # within the backoff
    assert w.s.apps["/a"].last_failure["message"] == "exit 1"
    w.clock.advance(10.5)
    [again] = w.launch(w.offer())
    w.status(again.task_id, "TASK_FAILED")
    w.clock.advance(10.5)
    assert w.launch(w.offer()) == []  # doubled: 20 s now
    w.clock.advance(10)
    assert len(w.launch(w.offer())) == 1


def test_scaling_down_kills_the_youngest_first() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 8})
    [old] = w.launch(w.offer())
    w.s.put_app({"id": "/a", "instances": 3}, app_id="/a", force=True)
    w.clock.advance(1)
    young = w.launch(w.offer())
    w.run_all([old, *young])
    w.s.put_app({"instances": 1}, app_id="/a")
    assert sorted(w.kills()) == sorted(t.task_id for t in young)


@pytest.mark.parametrize("floor,over", [(1.0, 0.0), (0.5, 0.0), (1.0, 1.0), (0.0, 0.0)])
def test_a_rolling_restart_never_drops_below_the_health_floor(floor: float, over: float) -> None:
    w = World()
    n = 4
    w.s.put_app({"id": "/a", "cmd": "x", "instances": n, "cpus": 0.1, "mem": 8,
                 "upgradeStrategy": {"minimumHealthCapacity": floor, "maximumOverCapacity": over}})
    w.run_all(w.launch(w.offer()))
    deployment = w.s.restart_app("/a")
    app = w.s.apps["/a"]
    lowest = n
    for _ in range(20):
        for task_id in w.kills():  # kills take effect (the floor is checked before they do)
            w.status(task_id, "TASK_KILLED")
        lowest = min(lowest, sum(1 for t in app.tasks.values() if t.running and not t.killing))
        w.run_all(w.launch(w.offer()))
        if deployment.id not in w.s.deployments:
            break
    assert deployment.id not in w.s.deployments
    assert lowest >= int(n * floor + 0.999)
    assert all(t.config_version == app.config_version for t in app.tasks.values()) and len(app.tasks) == n


def test_constraints_spread_instances_and_the_queue_says_why_one_waits() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "instances": 3, "cpus": 0.1, "mem": 8,
                 "constraints": [["hostname", "UNIQUE"], ["rack", "LIKE", "r[12]"]]})
    launched = w.launch(w.offer("h1", rack="r1"), w.offer("h2", rack="r2"), w.offer("h3", rack="r3"))
    assert sorted(t.agent_id for t in launched) == ["agent-h1", "agent-h2"]
    app = w.s.apps["/a"]
    reasons = [o["reason"] for o in app.unused_offers]
    assert ["UnfulfilledConstraint(rack:LIKE:r[12])"] in reasons
    w.launch(w.offer("h1", rack="r1"))
    assert ["UnfulfilledConstraint(hostname:UNIQUE)"] in [o["reason"] for o in app.unused_offers]


def test_an_offer_too_small_is_named_resource_by_resource() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "cpus": 8, "mem": 8, "requirePorts": True,
                 "portDefinitions": [{"port": 80}]})
    w.launch(w.offer())
    assert w.s.apps["/a"].unused_offers[-1]["reason"] == ["InsufficientCpus", "InsufficientPorts"]


def test_a_change_to_a_deploying_app_conflicts_unless_forced() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "instances": 2})
    with pytest.raises(Conflict) as err:
        w.s.put_app({"instances": 3}, app_id="/a")
    assert err.value.deployments
    _, deployment, _ = w.s.put_app({"instances": 3}, app_id="/a", force=True)
    assert list(w.s.deployments) == [deployment.id]


def test_invalid_apps_name_each_field() -> None:
    w = World()
    with pytest.raises(AppInvalid) as err:
        w.s.put_app({"id": "/Bad", "cmd": "x", "mem": "lots", "constraints": [["hostname", "NEAR"]]})
    paths = [d["path"] for d in err.value.details]
    assert paths == ["/id", "/mem", "/constraints(0)"]


def test_a_docker_app_is_launched_with_its_container_and_the_agents_refusal_is_its_failure() -> None:
    w = World()
    w.s.put_app({"id": "/d", "container": {"type": "DOCKER", "docker": {"image": "nginx"}}, "cpus": 0.1, "mem": 8})
    (task,) = w.launch(w.offer())
    assert (task.container.type, task.container.image) == (ContainerType.DOCKER, "nginx")
    assert task.problem() is None  # no cmd: the image's entrypoint
    w.status(task.task_id, "TASK_FAILED", "agent h1 has no docker containerizer: ...")
    assert "no docker containerizer" in w.s.apps["/d"].last_failure["message"]


def test_uris_and_fetch_become_the_tasks_command_uris() -> None:
    w = World()
    w.s.put_app({"id": "/f", "cmd": "./run", "cpus": 0.1, "mem": 8, "uris": ["http://h/site.tgz"],
                 "fetch": [{"uri": "http://h/run", "executable": True, "cache": True, "destPath": "run"}],
                 "container": {"type": "MESOS"}})
    (task,) = w.launch(w.offer())
    assert task.command.uris == (CommandURI("http://h/site.tgz"),
                                 CommandURI("http://h/run", executable=True, cache=True, output_file="run"))
    assert (task.container.type, task.container.image) == (ContainerType.MESOS, "")


def test_fetch_entries_are_checked() -> None:
    w = World()
    with pytest.raises(AppInvalid) as err:
        w.s.put_app({"id": "/f", "cmd": "x", "fetch": [{"uri": "http://h/a", "destPath": "../a", "extract": "yes"}],
                     "container": {"type": "RKT"}})
    assert [d["path"] for d in err.value.details] == ["/fetch(0)/extract", "/fetch(0)/destPath", "/container/type"]


def test_restored_state_keeps_running_tasks_and_adopts_unknown_ones() -> None:
    first = World()
    first.s.put_app({"id": "/a", "cmd": "x", "instances": 2, "cpus": 0.1, "mem": 8})
    tasks = first.launch(first.offer())
    first.run_all(tasks)
    second = World(first.store)
    second.s.restore(first.store.load())
    assert sorted(second.s.apps["/a"].tasks) == sorted(t.task_id for t in tasks)
    second.status(tasks[0].task_id, "TASK_RUNNING")
    second.s.wake()
    assert second.kills() == [] and second.launch(second.offer()) == []
    # a task the store missed (its process died after launching) is adopted, not killed
    second.s.put_app({"instances": 3}, app_id="/a", force=True)
    second.status("a.stray", "TASK_RUNNING")
    assert "a.stray" in second.s.apps["/a"].tasks and second.kills() == []


def test_cancelling_a_deployment_rolls_the_app_back() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 8})
    w.run_all(w.launch(w.offer()))
    _, deployment, _ = w.s.put_app({"instances": 5, "cpus": 100}, app_id="/a")
    rollback = w.s.cancel_deployment(deployment.id, force=False)
    assert rollback is not None and w.s.apps["/a"].definition["instances"] == 1
    assert w.s.apps["/a"].definition["cpus"] == 0.1


def test_an_unhealthy_task_is_killed_and_replaced_and_health_holds_the_floor() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 8,
                 "healthChecks": [{"protocol": "TCP", "maxConsecutiveFailures": 2}]})
    [task] = w.launch(w.offer())
    assert b"healthChecks" in task.data
    w.run_all([task])
    assert w.s.deployments  # running but not yet healthy: the deployment waits
    w.s.on_health({"taskId": task.task_id, "alive": True, "consecutiveFailures": 0})
    assert not w.s.deployments
    w.s.on_health({"taskId": task.task_id, "alive": False, "consecutiveFailures": 1})
    assert w.kills() == []
    w.s.on_health({"taskId": task.task_id, "alive": False, "consecutiveFailures": 2, "lastFailureCause": "refused"})
    assert w.kills() == [task.task_id]
    w.status(task.task_id, "TASK_KILLED")
    assert len(w.launch(w.offer())) == 1
    kinds = [e["eventType"] for e in w.events]
    assert "health_status_changed_event" in kinds and "unhealthy_instance_kill_event" in kinds


def test_a_group_is_deployed_scaled_and_removed_in_one_deployment_each() -> None:
    from actors.frameworks.services import groups

    w = World()
    d = groups.put_group(w.s, {"id": "/prod", "apps": [{"id": "web", "cmd": "x", "instances": 2, "cpus": 0.1,
                                                           "mem": 8}],
                               "groups": [{"id": "db", "apps": [{"id": "pg", "cmd": "y", "cpus": 0.1, "mem": 8}]}]},
                         group_id=None, force=False)
    assert d.affected_apps == ["/prod/db/pg", "/prod/web"]
    w.run_all(w.launch(w.offer()))
    assert not w.s.deployments
    d = groups.put_group(w.s, {"scaleBy": 2}, group_id="/prod", force=False)
    assert w.s.apps["/prod/web"].definition["instances"] == 4 and w.s.apps["/prod/db/pg"].definition["instances"] == 2
    w.run_all(w.launch(w.offer()))
    assert not w.s.deployments
    d = groups.delete_group(w.s, "/prod", force=False)
    assert d.affected_apps == ["/prod/db/pg", "/prod/web"] and not w.s.apps
    assert len(w.kills()) == 6


def test_offers_during_a_backoff_are_refused_briefly_not_for_minutes() -> None:
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "cpus": 0.1, "mem": 8, "backoffSeconds": 3})
    [task] = w.launch(w.offer())
    w.status(task.task_id, "TASK_FAILED")
    w.s.on_offers([w.offer()])
    [decline] = [a for a in w.s.actions if a[0] == "decline"]
    assert decline[2] <= 5.0


def test_check_results_count_only_from_the_agent_the_task_runs_on() -> None:
    """The master checks that an executor's message came through the agent it names;
    a result about a task on another agent is that agent's executor speaking out of turn."""
    w = World()
    w.s.put_app({"id": "/a", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 8,
                 "healthChecks": [{"protocol": "TCP", "maxConsecutiveFailures": 1}]})
    [task] = w.launch(w.offer("h1"))
    w.run_all([task])
    w.s.on_health({"taskId": task.task_id, "alive": True, "consecutiveFailures": 0}, "agent-h2")
    assert w.s.deployments  # not healthy on the word of another agent
    w.s.on_health({"taskId": task.task_id, "alive": True, "consecutiveFailures": 0}, "agent-h1")
    assert not w.s.deployments
    w.s.on_health({"taskId": task.task_id, "alive": False, "consecutiveFailures": 5}, "agent-h2")
    assert w.kills() == []
    w.s.on_health({"taskId": task.task_id, "alive": False, "consecutiveFailures": 1}, "agent-h1")
    assert w.kills() == [task.task_id]


def test_the_launch_delay_stays_at_its_cap_however_many_failures() -> None:
    """backoffFactor ** failures overflowed a float (OverflowError in the status handler):
    after ~5,100 failures at Marathon's defaults, after a few with a large factor."""
    from actors.frameworks.services.model import LaunchDelay

    app = {"backoffSeconds": 1.0, "backoffFactor": 1.15, "maxLaunchDelaySeconds": 3600.0}
    assert LaunchDelay(failures=10_000).delay_for(app) == 3600.0
    assert LaunchDelay(failures=4).delay_for(dict(app, backoffFactor=1e200)) == 3600.0
    assert LaunchDelay(failures=4).delay_for(dict(app, backoffSeconds=0.0, backoffFactor=1e200)) == 0.0
    assert LaunchDelay(failures=2).delay_for(app) == 1.15
