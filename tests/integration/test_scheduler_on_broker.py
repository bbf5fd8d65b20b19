"""A Scheduler subclass on the real broker: a cluster on its own addresses runs a command
task in an executor process, and the framework gets its status and exit code."""

from __future__ import annotations

import pytest

from actors.cluster import LocalCluster
from actors.frameworks.execute import ExecuteScheduler
from actors.master import MasterConfig
from messages import TaskState
from messages.addresses import executor_address
from rabbitmq.topology import queue_name
from tests.support.amqp import delete_queues, unique_prefix

pytestmark = pytest.mark.broker


def test_command_task_runs_in_an_executor_process_and_reports_its_exit_code(broker_url: str) -> None:
    prefix = unique_prefix("sched")
    config = MasterConfig(address=f"{prefix}.master", allocator_address=f"{prefix}.allocator")
    addresses = [config.address, config.allocator_address]
    try:
        with LocalCluster(agents=1, transport=broker_url, master_config=config) as cluster:
            agent_ids = [a["id"] for a in cluster.state()["agents"]]
            addresses += [f"agent.{a}" for a in agent_ids]
            seen = []
            handle = ExecuteScheduler.run(cluster, command="echo hi; exit 3", on_status=seen.append)
            fid = handle.framework_id
            addresses += [f"framework.{fid}"] + [executor_address(a, fid, "mesobus-command") for a in agent_ids]
            assert handle.join(60), "the task did not end within 60 s"
            sched = handle.scheduler
            [sandbox] = cluster.sandboxes(fid, sched.task_id)
            stdout = (sandbox / "stdout").read_text()
    finally:
        delete_queues(broker_url, *(queue_name(a) for a in addresses))
    assert [s.state for s in seen][-1] is TaskState.TASK_FAILED
    assert sched.exit_code() == 3 and stdout == "hi\n"
