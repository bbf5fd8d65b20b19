"""A task's output streamed to ExecuteScheduler end to end on an embedded cluster (the
command executor is then an actor on the memory transport, the task a real process):
whole, in order, each stream ended, and the scheduler stops only once it has it all."""

from __future__ import annotations

from actors.cluster import LocalCluster
from actors.frameworks.execute import ExecuteScheduler


def test_the_whole_output_reaches_the_scheduler_in_order() -> None:
    got: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    with LocalCluster(agents=1) as cluster:
        handle = ExecuteScheduler.run(
            cluster, command="seq 1 30000; echo done >&2", cpus=0.1, mem=32,
            on_output=lambda stream, data: got[stream].extend(data),
        )
        assert handle.join(60)
    sched = handle.scheduler
    assert bytes(got["stdout"]) == "".join(f"{i}\n" for i in range(1, 30001)).encode()
    assert bytes(got["stderr"]) == b"done\n"
    assert sched.output_ended == {"stdout", "stderr"} and not sched.output_cut


def test_without_on_output_nothing_is_streamed() -> None:
    with LocalCluster(agents=1) as cluster:
        handle = ExecuteScheduler.run(cluster, command="echo hi", cpus=0.1, mem=32)
        assert handle.join(60)
    assert not handle.scheduler.output_seen and handle.scheduler.exit_code() == 0


def test_across_principals_the_output_goes_through_the_master(tmp_path) -> None:
    """The agent (and so its executor) and the framework are different principals: the
    executor sends the output to the master, which relays it; acknowledgements come back
    through the agent (actors/master/output_relay.py)."""
    import time

    from actors.agent import AgentConfig, start_agent
    from actors.master import MasterConfig, start_master
    from actors.runtime import MemoryTransport
    from messages import Resources

    transport = MemoryTransport(user="boss")
    master, allocator = start_master(transport, MasterConfig(master_id="m1"))
    agent = start_agent(transport.as_user("agents"), AgentConfig(
        resources=Resources.parse("cpus:2;mem:512"), work_dir=tmp_path / "agent", master_principal="boss",
        checkpoint=False, limits="none"))
    got: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    try:
        deadline = time.monotonic() + 10
        while not master.proxy().state().get()["agents"] and time.monotonic() < deadline:
            time.sleep(0.01)
        handle = ExecuteScheduler.run(
            transport.as_user("alice"), master_principal="boss", command="seq 1 30000; echo done >&2",
            cpus=0.1, mem=32, on_output=lambda stream, data: got[stream].extend(data),
        )
        assert handle.join(60)
        metrics = master.proxy().state().get()["metrics"]
    finally:
        for ref in (agent, master, allocator):
            ref.stop()
        transport.close()
    sched = handle.scheduler
    stdout = "".join(f"{i}\n" for i in range(1, 30001)).encode()
    assert bytes(got["stdout"]) == stdout and bytes(got["stderr"]) == b"done\n"
    assert sched.output_ended == {"stdout", "stderr"} and not sched.output_cut
    assert metrics["master/output_relayed_bytes"] == len(stdout) + len(b"done\n")
    assert metrics["master/output_streams"] == 0 and metrics.get("master/messages_refused", 0) == 0
