"""Accept: offer validation, task validation (protocol order), launching, reservations."""

from __future__ import annotations

import pytest

from messages import (
    Accept,
    AllocationUpdated,
    CommandInfo,
    ExecutorInfo,
    Filters,
    Operation,
    OperationType,
    Resources,
    ResourcesRecovered,
    RunTask,
    StatusReason,
    StatusSource,
    TaskInfo,
    TaskState,
)


def task(task_id="t1", agent_id="a1", resources="cpus:1;mem:128", executor=None):
    command = None if executor is not None else CommandInfo("sleep 100")
    return TaskInfo(task_id, task_id, agent_id, Resources.parse(resources), command=command, executor=executor)


def launch(*tasks):
    return Operation(OperationType.LAUNCH, tuple(tasks))


@pytest.fixture
def fw(cluster):
    return cluster.framework("f1")


@pytest.fixture
def agent(cluster):
    return cluster.agent("a1", "cpus:4;mem:4096")


def recovered(cluster):
    return cluster.allocator_got(ResourcesRecovered)


def test_valid_launch_runs_the_task_and_recovers_the_rest_with_the_filters(cluster, fw, agent):
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    t = task()
    fw.send(Accept("f1", (offer.offer_id,), (launch(t),), Filters(refuse_seconds=30)))
    assert agent.last(RunTask) == RunTask(fw.info, t, launch_executor=True)
    assert recovered(cluster) == [ResourcesRecovered("f1", "a1", "*", Resources.parse("cpus:3;mem:3968"), 30.0)]
    state = cluster.state()
    assert [(x["id"], x["state"]) for x in state["tasks"]] == [("t1", "TASK_STAGING")]
    assert state["offers"] == [] and state["metrics"]["master/cpus_used"] == 1


def test_second_command_task_reuses_the_command_executor(cluster, fw, agent):
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.send(Accept("f1", (offer.offer_id,), (launch(task("t1"), task("t2")),)))
    assert [r.launch_executor for r in agent.got(RunTask)] == [True, False]


def test_two_offers_on_one_agent_are_used_together(cluster, fw, agent):
    o1 = cluster.offer("f1", "a1", "cpus:2;mem:2048")
    o2 = cluster.offer("f1", "a1", "cpus:2;mem:2048")
    fw.send(Accept("f1", (o1.offer_id, o2.offer_id), (launch(task(resources="cpus:3;mem:3000")),)))
    assert agent.last(RunTask).task.task_id == "t1"
    assert recovered(cluster)[-1].resources == Resources.parse("cpus:1;mem:1096")


def test_accept_without_operations_declines_everything_with_the_filters(cluster, fw, agent):
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.send(Accept("f1", (offer.offer_id,), (), Filters(refuse_seconds=7)))
    assert recovered(cluster) == [ResourcesRecovered("f1", "a1", "*", offer.resources, 7.0)]


# --- invalid offers ----------------------------------------------------------------------


def assert_invalid_offers(fw, reason_part, state=TaskState.TASK_LOST):
    status = fw.statuses()[-1]
    assert status.state is state
    assert status.reason is StatusReason.REASON_INVALID_OFFERS
    assert status.source is StatusSource.SOURCE_MASTER
    assert reason_part in status.message


def test_offers_on_two_agents_lose_the_tasks_and_return_the_offers(cluster, fw, agent):
    cluster.agent("a2")
    o1 = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    o2 = cluster.offer("f1", "a2", "cpus:4;mem:4096")
    fw.send(Accept("f1", (o1.offer_id, o2.offer_id), (launch(task()),), Filters(60)))
    assert_invalid_offers(fw, "more than one agent")
    assert agent.got(RunTask) == []
    assert [(r.agent_id, r.refuse_seconds) for r in recovered(cluster)] == [("a1", None), ("a2", None)]
    assert cluster.state()["offers"] == []


def test_partition_aware_framework_gets_task_dropped_for_invalid_offers(cluster, agent):
    fw = cluster.framework("pa", capabilities=("PARTITION_AWARE",))
    fw.send(Accept("pa", ("nope",), (launch(task()),)))
    assert_invalid_offers(fw, "not outstanding", TaskState.TASK_DROPPED)


def test_offer_of_another_framework_is_refused_and_left_alone(cluster, fw, agent):
    cluster.framework("f2")
    theirs = cluster.offer("f2", "a1", "cpus:4;mem:4096")
    fw.send(Accept("f1", (theirs.offer_id,), (launch(task()),)))
    assert_invalid_offers(fw, "belongs to another framework")
    assert recovered(cluster) == []
    assert [o["id"] for o in cluster.state()["offers"]] == [theirs.offer_id]


def test_unknown_offer_recovers_the_valid_named_ones(cluster, fw, agent):
    good = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.send(Accept("f1", (good.offer_id, "gone"), (launch(task()),)))
    assert_invalid_offers(fw, "'gone' is not outstanding")
    assert recovered(cluster) == [ResourcesRecovered("f1", "a1", "*", good.resources, None)]


def test_offer_named_twice_is_invalid(cluster, fw, agent):
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.send(Accept("f1", (offer.offer_id, offer.offer_id), (launch(task()),)))
    assert_invalid_offers(fw, "named twice")


def test_offers_for_two_roles_are_invalid(cluster, agent):
    fw = cluster.framework("f1", roles=("a", "b"))
    o1 = cluster.offer("f1", "a1", "cpus:2", role="a")
    o2 = cluster.offer("f1", "a1", "cpus:2", role="b")
    fw.send(Accept("f1", (o1.offer_id, o2.offer_id), (launch(task(resources="cpus:1")),)))
    assert_invalid_offers(fw, "more than one role")


def test_used_offer_cannot_be_accepted_again(cluster, fw, agent):
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.send(Accept("f1", (offer.offer_id,), (launch(task("t1")),)))
    fw.send(Accept("f1", (offer.offer_id,), (launch(task("t2")),)))
    assert_invalid_offers(fw, "not outstanding")
    assert len(agent.got(RunTask)) == 1


# --- invalid tasks -----------------------------------------------------------------------


def task_error(cluster, fw, agent, *tasks, offer_resources="cpus:4;mem:4096"):
    offer = cluster.offer("f1", "a1", offer_resources)
    fw.send(Accept("f1", (offer.offer_id,), (launch(*tasks),)))
    errors = [s for s in fw.statuses() if s.state is TaskState.TASK_ERROR]
    assert all(s.reason is StatusReason.REASON_TASK_INVALID for s in errors)
    return errors


@pytest.mark.parametrize(
    "bad, message",
    [
        (task("../x"), "must not contain '/'"),
        (task(""), "task id must not be empty"),
        (task(agent_id="a2"), "is not the offers' agent 'a1'"),
        (task(resources=""), "task resources are empty"),
        (task(resources="cpus:5"), "task resources cpus:5 are not contained in what remains"),
        (task(resources="gpus:1"), "not contained"),
        (
            task(executor=ExecutorInfo("e1", CommandInfo("x"), framework_id="other")),
            "executor framework_id 'other' is not this framework",
        ),
        (task(executor=ExecutorInfo("mesobus-command", CommandInfo("x"))), "reserved for the command executor"),
        (TaskInfo("t1", "t1", "a1", Resources.parse("cpus:1")), "exactly one of command or executor"),
        (
            TaskInfo("t1", "t1", "a1", Resources.parse("cpus:1"), command=CommandInfo("")),
            "a shell command needs a value",
        ),
        (
            task(executor=ExecutorInfo("e1", CommandInfo("x"), resources=Resources.parse("cpus:4"))),
            "task and new executor resources",
        ),
    ],
)
def test_invalid_task_gets_task_error_naming_the_problem(cluster, fw, agent, bad, message):
    errors = task_error(cluster, fw, agent, bad)
    assert len(errors) == 1 and message in errors[0].message
    assert agent.got(RunTask) == []
    assert recovered(cluster)[-1].resources == Resources.parse("cpus:4;mem:4096")  # nothing consumed


def test_task_id_of_a_live_task_is_refused(cluster, fw, agent):
    task_error(cluster, fw, agent, task("t1"))
    errors = task_error(cluster, fw, agent, task("t1"))
    assert "already used by a live task" in errors[0].message


def test_task_id_twice_in_one_accept_launches_only_the_first(cluster, fw, agent):
    errors = task_error(cluster, fw, agent, task("t1"), task("t1"))
    assert "appears more than once" in errors[0].message
    assert len(agent.got(RunTask)) == 1


def test_tasks_that_fit_together_launch_and_the_one_too_many_is_refused(cluster, fw, agent):
    tasks = [task(f"t{i}", resources="cpus:2") for i in range(3)]
    errors = task_error(cluster, fw, agent, *tasks, offer_resources="cpus:4;mem:4096")
    assert [r.task.task_id for r in agent.got(RunTask)] == ["t0", "t1"]
    assert [e.task_id for e in errors] == ["t2"]


def test_executor_with_a_different_info_on_the_same_agent_is_refused(cluster, fw, agent):
    e1 = ExecutorInfo("e1", CommandInfo("run-a"))
    e1_other = ExecutorInfo("e1", CommandInfo("run-b"))
    errors = task_error(cluster, fw, agent, task("t1", executor=e1), task("t2", executor=e1_other))
    assert "different ExecutorInfo" in errors[0].message


def test_custom_executor_resources_are_consumed_once(cluster, fw, agent):
    e1 = ExecutorInfo("e1", CommandInfo("run"), resources=Resources.parse("cpus:0.5;mem:64"))
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.send(Accept("f1", (offer.offer_id,), (launch(task("t1", executor=e1), task("t2", executor=e1)),)))
    assert [r.launch_executor for r in agent.got(RunTask)] == [True, False]
    assert recovered(cluster)[-1].resources == Resources.parse("cpus:1.5;mem:3776")
    assert cluster.state()["metrics"]["master/cpus_used"] == 2.5


# --- reservations ------------------------------------------------------------------------


@pytest.fixture
def web(cluster, agent):
    return cluster.framework("w1", roles=("web",))


def accept(fw, offer, *ops):
    fw.send(Accept(fw.id, (offer.offer_id,), tuple(ops), Filters(0)))


def test_reserve_converts_resources_and_tells_the_allocator(cluster, web, agent):
    offer = cluster.offer("w1", "a1", "cpus:4;mem:4096", role="web")
    accept(web, offer, Operation(OperationType.RESERVE, resources=Resources.parse("cpus(web):2")))
    assert cluster.allocator_got(AllocationUpdated) == [
        AllocationUpdated("w1", "a1", "web", Resources.parse("cpus:2"), Resources.parse("cpus(web):2"))
    ]
    assert recovered(cluster)[-1].resources == Resources.parse("cpus:2;mem:4096;cpus(web):2")
    agent_state = cluster.state()["agents"][0]
    assert agent_state["resources"] == "cpus:2;mem:4096;cpus(web):2"
    assert agent_state["reserved_resources"] == "cpus(web):2"


def test_launch_after_reserve_in_one_accept_uses_the_reservation(cluster, web, agent):
    offer = cluster.offer("w1", "a1", "cpus:4;mem:4096", role="web")
    t = task(resources="cpus(web):1;mem:128")
    accept(web, offer, Operation(OperationType.RESERVE, resources=Resources.parse("cpus(web):2")), launch(t))
    assert agent.last(RunTask).task == t
    assert recovered(cluster)[-1].resources == Resources.parse("cpus:2;mem:3968;cpus(web):1")


def test_unreserve_gives_a_dynamic_reservation_back(cluster, web, agent):
    offer = cluster.offer("w1", "a1", "cpus:4;mem:4096", role="web")
    accept(web, offer, Operation(OperationType.RESERVE, resources=Resources.parse("cpus(web):2")))
    offer = cluster.offer("w1", "a1", "cpus:2;mem:4096;cpus(web):2", role="web")
    accept(web, offer, Operation(OperationType.UNRESERVE, resources=Resources.parse("cpus(web):2")))
    assert cluster.allocator_got(AllocationUpdated)[-1].new == Resources.parse("cpus:2")
    assert cluster.state()["agents"][0]["resources"] == "cpus:4;mem:4096"


@pytest.mark.parametrize(
    "op, resources, role",
    [
        (OperationType.RESERVE, "cpus(web):8", "web"),  # more than offered
        (OperationType.RESERVE, "cpus(other):1", "web"),  # another role
        (OperationType.RESERVE, "cpus:1", "web"),  # not a reservation
        (OperationType.RESERVE, "", "web"),
        (OperationType.UNRESERVE, "cpus(web):1", "web"),  # nothing reserved
        (OperationType.RESERVE, "cpus(*):1", "*"),
    ],
)
def test_invalid_reservation_is_skipped_and_counted(cluster, agent, op, resources, role):
    fw = cluster.framework("w1", roles=(role,))
    offer = cluster.offer("w1", "a1", "cpus:4;mem:4096", role=role)
    accept(fw, offer, Operation(op, resources=Resources.parse(resources)))
    assert cluster.allocator_got(AllocationUpdated) == []
    assert recovered(cluster)[-1].resources == Resources.parse("cpus:4;mem:4096")
    assert cluster.state()["metrics"]["master/invalid_operations"] == 1


def test_static_reservation_cannot_be_unreserved(cluster, web):
    cluster.agent("a2", "cpus:2;cpus(web):2")
    offer = cluster.offer("w1", "a2", "cpus:2;cpus(web):2", role="web")
    accept(web, offer, Operation(OperationType.UNRESERVE, resources=Resources.parse("cpus(web):2")))
    assert cluster.allocator_got(AllocationUpdated) == []
    assert cluster.state()["metrics"]["master/invalid_operations"] == 1
