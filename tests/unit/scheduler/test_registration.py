"""Registration, heartbeats and master loss: the driver part of the Scheduler."""

from __future__ import annotations

from actors.scheduler.idfile import IdFile
from messages import (
    FrameworkHeartbeat,
    FrameworkRegistered,
    FrameworkReregistered,
    MasterHeartbeat,
    MasterInfo,
    RegisterFramework,
    ReregisterFramework,
)

from .conftest import tell


def test_new_framework_registers_with_its_own_id_and_gets_registered(start, master) -> None:
    handle, sched = start(name="hello", roles=("web",), failover_timeout=30)
    [request] = master.of(RegisterFramework)
    assert request.framework.framework_id == handle.framework_id != ""
    assert (request.framework.name, request.framework.roles, request.framework.user) == ("hello", ("web",), "tester")
    assert request.framework.failover_timeout == 30
    assert sched.names() == ["registered"] and sched.calls[0][1] == handle.framework_id
    assert sched.connected and sched.address == f"framework.{handle.framework_id}"


def test_registration_is_retried_with_backoff_until_the_master_answers(start, master, clock, transport) -> None:
    master.answering = False
    _, sched = start()
    for _ in range(7):
        clock.advance(70)  # more than the longest backoff: exactly one retry each time
        transport.settle()
    assert len(master.of(RegisterFramework)) == 8
    master.got.clear()
    clock.advance(1.9)
    transport.settle()
    assert master.of(RegisterFramework) == []  # backoff capped at 60 s, not below 2 s
    assert sched.names() == []
    master.answering = True
    clock.advance(60)
    transport.settle()
    assert sched.names() == ["registered"]  # it never gave up


def test_backoff_doubles_from_two_seconds(start, master, clock, transport) -> None:
    master.answering = False
    start()
    times = []
    for _ in range(64):
        clock.advance(1)
        transport.settle()
        if len(master.of(RegisterFramework)) > len(times) + 1:
            times.append(clock.now())
    start_time = times[0] - 2
    assert [t - start_time for t in times] == [2, 6, 14, 30, 62]


def test_late_duplicate_registration_answer_is_ignored(start, master, transport) -> None:
    handle, sched = start()
    tell(transport, sched.address, FrameworkRegistered(handle.framework_id, MasterInfo("m1")))
    assert sched.names() == ["registered"]


def test_heartbeat_is_sent_every_five_seconds_while_registered(start, master, clock, transport) -> None:
    handle, _ = start()
    for _ in range(3):
        clock.advance(5)
        transport.settle()
    assert master.of(FrameworkHeartbeat) == [FrameworkHeartbeat(handle.framework_id)] * 3


def test_silent_master_means_disconnected_then_reregistered_when_it_is_back(start, master, clock, transport) -> None:
    _, sched = start()
    master.answering = False
    for _ in range(3):
        clock.advance(5)
        transport.settle()
    assert sched.names() == ["registered", "disconnected"] and not sched.connected
    [again] = master.of(ReregisterFramework)
    assert again.failover is False
    master.answering = True
    clock.advance(2)
    transport.settle()
    assert sched.names() == ["registered", "disconnected", "reregistered"] and sched.connected


def test_master_that_does_not_know_the_framework_makes_it_reregister(start, master, transport) -> None:
    handle, sched = start()
    tell(transport, sched.address, MasterHeartbeat("m1", known=False))
    assert sched.names() == ["registered", "disconnected", "reregistered"]
    assert master.of(ReregisterFramework)[0].framework.framework_id == handle.framework_id


def test_a_new_masters_call_to_all_frameworks_makes_it_reregister(start, master, transport) -> None:
    _, sched = start()
    master.master_id = "m2"
    tell(transport, "group.master.frameworks", MasterHeartbeat("m2", known=False))  # as on a master's start
    assert sched.names() == ["registered", "disconnected", "reregistered"]


def test_new_master_id_makes_it_reregister(start, master, transport) -> None:
    _, sched = start()
    master.master_id = "m2"
    tell(transport, sched.address, MasterHeartbeat("m2"))
    assert sched.names() == ["registered", "disconnected", "reregistered"]
    assert sched.master_info.master_id == "m2"


def test_restarted_process_with_an_id_file_fails_over_with_the_same_id(start, master, tmp_path) -> None:
    id_file = tmp_path / "fw.id"
    first, sched = start(id_file=id_file)
    assert IdFile(id_file).load() == first.framework_id
    first.stop(failover=True)
    second, sched2 = start(id_file=id_file)
    [again] = master.of(ReregisterFramework)
    assert again.failover is True and again.framework.framework_id == first.framework_id
    assert second.framework_id == first.framework_id
    assert sched2.names() == ["registered"]  # a failed-over process starts with registered()


def test_given_framework_id_is_used_and_reregistered(start, master) -> None:
    handle, _ = start(framework_id="my-framework")
    [again] = master.of(ReregisterFramework)
    assert handle.framework_id == "my-framework" == again.framework.framework_id
    assert master.of(RegisterFramework) == []


def test_reregistered_reply_to_a_first_registration_still_calls_registered(start, master, transport, clock) -> None:
    master.answering = False
    handle, sched = start()
    tell(transport, sched.address, FrameworkReregistered(handle.framework_id, MasterInfo("m1")))
    assert sched.names() == ["registered"]


def test_no_master_is_warned_once_then_every_five_minutes_not_on_every_retry(start, master, clock, transport,
                                                                              caplog) -> None:
    import logging

    master.answering = False
    start()
    with caplog.at_level(logging.INFO, logger="actors.scheduler.session"):
        for _ in range(20 * 60):  # twenty minutes, a second at a time
            clock.advance(1)
            transport.settle()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(master.of(RegisterFramework)) > 20
    assert len(warnings) == 4, warnings  # at the first retry, then every 300 s
    assert "no answer from the master (master) after 2s; still registering" in warnings[0]
