"""The master, the agent and a scheduler apply the same id rules (messages/ids.py): an id
one of them takes, the others take; one that one refuses, all refuse."""

import pytest

from actors.agent.validation import run_task_problem
from actors.master.agents import agent_info_problem
from actors.master.frameworks import info_problem
from actors.scheduler.run import _check_id
from messages import AgentInfo, CommandInfo, FrameworkInfo, Resources, RunTask, TaskInfo
from messages.limits import MAX_ID_BYTES

IDS = [
    "alice-3f2a", "f_1", "é" * (MAX_ID_BYTES // 2),  # taken
    "a.b", "a*", "#", "a/b", "a b", "..", "", "x" * (MAX_ID_BYTES + 1), "é" * (MAX_ID_BYTES // 2 + 1),  # refused
]


def scheduler_takes(framework_id: str) -> bool:
    try:
        _check_id(framework_id)
    except ValueError:
        return False
    return True


def agent_takes(framework_id: str) -> bool:
    fw = FrameworkInfo(user="u", name="fw", framework_id=framework_id)
    task = TaskInfo("t1", "t", "a1", Resources.parse("cpus:1"), command=CommandInfo("true"))
    return run_task_problem(RunTask(fw, task), "a1", Resources.parse("cpus:4")) is None


def master_takes(framework_id: str) -> bool:
    return info_problem(FrameworkInfo(user="u", name="fw", framework_id=framework_id, roles=("*",))) is None


@pytest.mark.parametrize("framework_id", IDS)
def test_master_agent_and_scheduler_agree_on_a_framework_id(framework_id):
    answers = {"master": master_takes(framework_id), "agent": agent_takes(framework_id),
               "scheduler": scheduler_takes(framework_id)}
    assert len(set(answers.values())) == 1, answers


@pytest.mark.parametrize("agent_id", IDS)
def test_the_master_takes_an_agent_id_as_it_takes_a_framework_id(agent_id):
    info = AgentInfo(hostname="h", resources=Resources.parse("cpus:1"), agent_id=agent_id)
    assert (agent_info_problem(info) is None) == master_takes(agent_id)
