"""The status update manager on its own: order, one in flight, backoff, duplicates."""

from __future__ import annotations

from actors.agent.status_updates import Added, Stream, StatusUpdateManager
from messages import StatusUpdate, TaskState, TaskStatus

S = TaskState


def upd(uuid: str, state: TaskState, task_id: str = "t1", framework_id: str = "f1") -> StatusUpdate:
    return StatusUpdate(framework_id, "e1", "a1", TaskStatus(task_id, state, uuid=uuid), 0.0, uuid)


def test_only_the_head_of_a_stream_is_forwarded():
    m = StatusUpdateManager()
    assert m.add(upd("u1", S.TASK_STARTING)) is Added.FORWARD
    assert m.add(upd("u2", S.TASK_RUNNING)) is Added.QUEUED
    assert m.add(upd("u3", S.TASK_FINISHED)) is Added.QUEUED
    assert m.next_to_send("f1", "t1").uuid == "u1"


def test_updates_are_released_in_order_as_they_are_acknowledged():
    m = StatusUpdateManager()
    for uuid, state in (("u1", S.TASK_STARTING), ("u2", S.TASK_RUNNING), ("u3", S.TASK_FINISHED)):
        m.add(upd(uuid, state))
    order = []
    head = m.next_to_send("f1", "t1")
    while head is not None:
        order.append(head.uuid)
        _, head = m.acknowledge("f1", "t1", head.uuid)
    assert order == ["u1", "u2", "u3"]
    assert m.stream("f1", "t1") is None  # finished: terminal update acknowledged


def test_streams_of_different_tasks_are_independent():
    m = StatusUpdateManager()
    assert m.add(upd("a1", S.TASK_RUNNING, task_id="a")) is Added.FORWARD
    assert m.add(upd("b1", S.TASK_RUNNING, task_id="b")) is Added.FORWARD
    assert {u.uuid for u in m.heads()} == {"a1", "b1"}


def test_forwarded_head_carries_the_latest_known_state():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING))
    m.add(upd("u2", S.TASK_FAILED))
    head = m.next_to_send("f1", "t1")
    assert head.status.state is S.TASK_RUNNING and head.latest_state == "TASK_FAILED"


def test_duplicate_of_an_unacknowledged_update_is_dropped():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING))
    assert m.add(upd("u1", S.TASK_RUNNING)) is Added.DUPLICATE
    assert m.unacknowledged("f1", "t1") == 1


def test_duplicate_of_an_acknowledged_update_is_reported_for_a_new_executor_ack():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING))
    m.acknowledge("f1", "t1", "u1")
    assert m.add(upd("u1", S.TASK_RUNNING)) is Added.ACKNOWLEDGED


def test_duplicate_after_the_stream_finished_is_still_recognised():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_FINISHED))
    m.acknowledge("f1", "t1", "u1")
    assert m.add(upd("u1", S.TASK_FINISHED)) is Added.ACKNOWLEDGED
    assert m.add(upd("u9", S.TASK_RUNNING)) is Added.REJECTED


def test_update_after_a_terminal_one_is_rejected():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_FINISHED))
    assert m.add(upd("u2", S.TASK_FAILED)) is Added.REJECTED
    assert m.unacknowledged("f1", "t1") == 1


def test_retry_delay_starts_at_10s_and_doubles_up_to_10_minutes():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING))
    delays = [m.retry_delay("f1", "t1", "u1") for _ in range(10)]
    assert delays == [10, 20, 40, 80, 160, 320, 600, 600, 600, 600]


def test_backoff_restarts_for_the_next_head():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING))
    m.add(upd("u2", S.TASK_FINISHED))
    for _ in range(4):
        m.retry_delay("f1", "t1", "u1")
    m.acknowledge("f1", "t1", "u1")
    assert m.retry_delay("f1", "t1", "u2") == 10


def test_acknowledgement_of_anything_but_the_head_changes_nothing():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING))
    m.add(upd("u2", S.TASK_FINISHED))
    assert m.acknowledge("f1", "t1", "u2") == (None, None)
    assert m.acknowledge("f1", "nope", "u1") == (None, None)
    assert m.next_to_send("f1", "t1").uuid == "u1"


def test_no_retry_once_the_head_was_acknowledged():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING))
    m.acknowledge("f1", "t1", "u1")
    assert m.retry_delay("f1", "t1", "u1") is None


def test_restored_stream_resumes_where_it_was():
    m = StatusUpdateManager()
    m.restore(Stream("f1", "t1", pending=[upd("u2", S.TASK_FINISHED)], acked=["u1"], terminal_seen=True))
    assert m.add(upd("u1", S.TASK_RUNNING)) is Added.ACKNOWLEDGED
    assert m.add(upd("u2", S.TASK_FINISHED)) is Added.DUPLICATE
    assert m.next_to_send("f1", "t1").uuid == "u2"


def test_forgetting_a_framework_drops_its_streams_only():
    m = StatusUpdateManager()
    m.add(upd("u1", S.TASK_RUNNING, framework_id="f1"))
    m.add(upd("u2", S.TASK_RUNNING, framework_id="f2"))
    assert [s.framework_id for s in m.forget_framework("f1")] == ["f1"]
    assert [u.framework_id for u in m.heads()] == ["f2"]
