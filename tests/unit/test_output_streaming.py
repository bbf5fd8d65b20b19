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
