"""unreachableStrategy on a virtual clock: a task whose agent is unreachable is replaced
after inactiveAfterSeconds, expunged after expungeAfterSeconds, kept if its agent comes
back before (the spare goes by killSelection); "disabled" waits for the agent."""

from __future__ import annotations

import pytest

from actors.frameworks.services.appdef import AppInvalid, normalize
from tests.unit.frameworks.services_world import World

APP = {"id": "/a", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 8}


def started(w: World, **fields) -> str:
    w.s.put_app(dict(APP, **fields))
    [task] = w.launch(w.offer("h1"))
    w.status(task.task_id, "TASK_RUNNING")
    return task.task_id


def test_marathons_defaults_and_checks() -> None:
    assert normalize(APP)["unreachableStrategy"] == {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600}
    assert normalize(dict(APP, unreachableStrategy="disabled"))["unreachableStrategy"] == "disabled"
    with pytest.raises(AppInvalid) as err:
        normalize(dict(APP, unreachableStrategy={"inactiveAfterSeconds": 60, "expungeAfterSeconds": 30}))
    assert err.value.details[0]["path"] == "/unreachableStrategy/expungeAfterSeconds"
    with pytest.raises(AppInvalid):
        normalize(dict(APP, unreachableStrategy={"inactiveAfterSeconds": -1}))


def test_an_unreachable_task_is_replaced_after_inactive_after_seconds_then_expunged() -> None:
    w = World()
    old = started(w, unreachableStrategy={"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120})
    w.status(old, "TASK_UNREACHABLE", "agent unreachable")
    w.clock.advance(59)
    w.s.wake()
    assert w.launch(w.offer("h2")) == []  # still counts as the instance
    w.clock.advance(2)
    w.s.wake()
    [spare] = w.launch(w.offer("h2"))
    w.status(spare.task_id, "TASK_RUNNING")
    assert old in w.s.apps["/a"].tasks and w.s.apps["/a"].tasks[old].inactive
    assert not w.s.deployments  # an inactive task holds no deployment up
    w.clock.advance(60)
    w.s.wake()
    assert old not in w.s.apps["/a"].tasks and f"task:{old}" not in w.store.data
    assert w.kills() == [old]  # the master keeps the kill for when the agent comes back
    w.s.on_status(_running(old))  # ... and should it come back all the same, killed again
    assert w.kills() == [old] and old not in w.s.apps["/a"].tasks


def test_a_task_whose_agent_comes_back_is_kept_and_the_spare_killed() -> None:
    w = World()
    old = started(w, unreachableStrategy={"inactiveAfterSeconds": 0, "expungeAfterSeconds": 600})
    w.clock.advance(1)
    w.status(old, "TASK_UNREACHABLE")
    [spare] = w.launch(w.offer("h2"))  # inactiveAfterSeconds 0: replaced at once
    w.status(spare.task_id, "TASK_RUNNING")
    w.clock.advance(30)
    w.status(old, "TASK_RUNNING")  # the agent is back (a reconciliation says so)
    assert w.kills() == [spare.task_id]  # killSelection YOUNGEST_FIRST: the spare goes
    assert not w.s.apps["/a"].tasks[old].inactive


def test_oldest_first_keeps_the_spare() -> None:
    w = World()
    old = started(w, killSelection="OLDEST_FIRST",
                  unreachableStrategy={"inactiveAfterSeconds": 0, "expungeAfterSeconds": 600})
    w.clock.advance(1)
    w.status(old, "TASK_UNREACHABLE")
    [spare] = w.launch(w.offer("h2"))
    w.status(spare.task_id, "TASK_RUNNING")
    w.clock.advance(1)
    w.status(old, "TASK_RUNNING")
    assert w.kills() == [old]


def test_disabled_waits_for_the_agent_however_long() -> None:
    w = World()
    old = started(w, unreachableStrategy="disabled")
    w.status(old, "TASK_UNREACHABLE")
    w.clock.advance(86400)
    w.s.wake()
    assert w.launch(w.offer("h2")) == [] and old in w.s.apps["/a"].tasks


def test_unreachable_since_survives_a_restart() -> None:
    w = World()
    old = started(w, unreachableStrategy={"inactiveAfterSeconds": 60, "expungeAfterSeconds": 600})
    w.status(old, "TASK_UNREACHABLE")
    second = World(w.store)
    second.clock = w.clock
    second.s.now = w.clock.now
    second.s.restore(w.store.load())
    assert second.s.unreachable_tasks() == [(old, "agent-h1")]  # asked about at the next tick
    w.clock.advance(61)
    second.s.wake()
    assert len(second.launch(second.offer("h2"))) == 1


def _running(task_id: str):
    from messages import TaskState, TaskStatus

    return TaskStatus(task_id, TaskState("TASK_RUNNING"), "", agent_id="agent-h1")


def test_removing_an_app_expunges_its_unreachable_tasks_at_once() -> None:
    w = World()
    old = started(w)
    w.status(old, "TASK_UNREACHABLE")
    deployment = w.s.delete_app("/a")
    assert w.kills() == [old]  # asked of the master all the same, for when the agent comes back
    assert not w.s.stopping and deployment.id not in w.s.deployments


def test_a_task_being_killed_whose_agent_goes_is_expunged() -> None:
    w = World()
    old = started(w)
    w.s.delete_app("/a")
    assert w.kills() == [old]
    w.status(old, "TASK_UNREACHABLE")  # before the kill got there
    assert w.kills() == [old] and not w.s.stopping and not w.s.deployments
